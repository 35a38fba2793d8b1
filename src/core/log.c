/* log.c - diagnostics (see include/kmill/log.h). */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>

#include "kmill/log.h"

static void vline(km_ctx *ctx, const char *tag, const char *fmt, va_list ap)
{
    FILE *f = ctx->log ? ctx->log : stderr;
    /* one fprintf per line keeps lines from different threads whole */
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    int cols = ctx->progress_cols; /* the reporter redraws its line at its next update */
    fprintf(f, "%s%*s%s%s: %s%s\n", cols ? "\r" : "", cols, "", cols ? "\r" : "",
            ctx->prog ? ctx->prog : "kmill", tag, buf);
    ctx->progress_cols = 0;
}

void km_log(km_ctx *ctx, int level, const char *fmt, ...)
{
    if (level > ctx->verbosity)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(ctx, "", fmt, ap);
    va_end(ap);
}

void km_warn(km_ctx *ctx, const char *fmt, ...)
{
    if (ctx->verbosity < KM_NORMAL)
        return;
    va_list ap;
    va_start(ap, fmt);
    vline(ctx, "warning: ", fmt, ap);
    va_end(ap);
}
