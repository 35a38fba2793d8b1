/* progress.c - progress reporting (see include/kmill/progress.h). */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kmill/progress.h"
#include "kmill/size.h"

#define TTY_PERIOD (1.0 / 6)
#define LOG_FIRST 10.0
#define LOG_MAX 600.0

double km_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void km_progress_start(km_progress *p, km_ctx *ctx, const char *label,
                       uint64_t total, const char *unit)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->label = label;
    p->unit = unit;
    p->total = total;
    p->clock = km_now;
    FILE *f = ctx->log ? ctx->log : stderr;
    if (ctx->verbosity < KM_NORMAL || ctx->progress == KM_PROGRESS_OFF)
        p->mode = 0;
    else if (ctx->progress == KM_PROGRESS_ON || isatty(fileno(f)))
        p->mode = 1;
    else
        p->mode = 2;
    p->t0 = p->clock();
    p->interval = LOG_FIRST;
    p->t_next = p->t0 + (p->mode == 1 ? TTY_PERIOD : LOG_FIRST);
}

static void amount(const km_progress *p, uint64_t v, char *buf, size_t len)
{
    if (p->unit && strcmp(p->unit, "B") == 0)
        km_format_size(v, buf, len);
    else
        snprintf(buf, len, "%llu %s", (unsigned long long)v, p->unit ? p->unit : "");
}

static void render(km_progress *p, double now, char *line, size_t len)
{
    char done[32], rate[40] = "", pct[16] = "", eta[32] = "", stage[56] = "", det[72] = "";
    double el = now - p->t0;
    if (p->ctx->stage[0])
        snprintf(stage, sizeof stage, "%s: ", p->ctx->stage);
    if (p->detail[0])
        snprintf(det, sizeof det, "%s%s", p->unit ? ", " : ": ", p->detail);
    if (!p->unit) { /* nothing counted: what it does */
        snprintf(line, len, "%s%s%s", stage, p->label, det);
        return;
    }
    amount(p, p->done, done, sizeof done);
    if (el > 0) {
        char r[32];
        amount(p, (uint64_t)(p->done / el), r, sizeof r);
        snprintf(rate, sizeof rate, ", %s/s", r);
    }
    if (p->total) {
        /* an estimated total may fall short of what is done */
        double f = p->done < p->total ? (double)p->done / (double)p->total : 1.0;
        snprintf(pct, sizeof pct, "%5.1f%% ", 100.0 * f);
        if (p->done && p->done < p->total) {
            double left = el * (double)(p->total - p->done) / (double)p->done;
            unsigned s = (unsigned)(left + 0.5); /* t0 + 10 - t0 may be 9.99... */
            snprintf(eta, sizeof eta, ", eta %u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
        }
    }
    snprintf(line, len, "%s%s: %s%s%s%s%s", stage, p->label, pct, done, rate, eta, det);
}

static void draw(km_progress *p, double now)
{
    char line[240];
    render(p, now, line, sizeof line);
    FILE *f = p->ctx->log ? p->ctx->log : stderr;
    if (p->mode == 1) {
        /* padded over the longest line drawn, so a shorter one hides it */
        int w = (int)strlen(line) > 70 ? (int)strlen(line) : 70;
        if (w < p->width)
            w = p->width;
        fprintf(f, "\r%s: %-*s", p->ctx->prog, w, line);
        fflush(f);
        p->drawn = 1;
        p->width = w;
        p->ctx->progress_cols = w + 2 + (int)strlen(p->ctx->prog);
        p->t_next = now + TTY_PERIOD;
    } else {
        fprintf(f, "%s: %s\n", p->ctx->prog, line);
        fflush(f);
        p->interval = p->interval * 2 > LOG_MAX ? LOG_MAX : p->interval * 2;
        p->t_next = now + p->interval;
    }
}

void km_progress_update(km_progress *p, uint64_t done)
{
    p->done = done;
    if (!p->mode)
        return;
    double now = p->clock();
    if (now >= p->t_next)
        draw(p, now);
}

void km_progress_detail(km_progress *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->detail, sizeof p->detail, fmt, ap);
    va_end(ap);
}

void km_progress_show(km_progress *p)
{
    if (p->mode == 1)
        draw(p, p->clock());
}

void km_progress_end(km_progress *p)
{
    if (p->mode == 1 && p->drawn && p->ctx->progress_cols) { /* not cleared by a message */
        FILE *f = p->ctx->log ? p->ctx->log : stderr;
        fprintf(f, "\r%*s\r", p->width + 2 + (int)strlen(p->ctx->prog), "");
        fflush(f);
        p->ctx->progress_cols = 0;
    }
    p->drawn = 0;
}
