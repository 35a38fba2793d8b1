/* progress.h - progress of a long job on the context's log stream.
 *
 * On a terminal: one line redrawn with '\r', at most ~6 times a second.
 * Otherwise (a log file of an overnight job): a plain line after 10 s, then
 * at doubling intervals capped at 10 minutes, so the log stays readable.
 * Silent under -q or --no-progress; --progress forces the terminal style.
 *
 * A line reads "PROG: [STAGE: ]LABEL: PCT% DONE UNIT, RATE UNIT/s, eta
 * H:MM:SS[, DETAIL]": the stage is ctx->stage (a step of a longer job),
 * the percentage and the ETA appear when the total is known (a phase may
 * revise an estimated total as it learns more, e.g. a solver from its
 * residual's decline), the detail is the phase's own words. A phase with
 * no count (unit NULL: one call that cannot report, such as a matrix
 * factorisation) shows its label and the time it has taken.
 *
 * Not thread-safe: one thread updates a reporter; a parallel phase counts
 * in its workers and reports from the calling thread. */
#ifndef KMILL_PROGRESS_H
#define KMILL_PROGRESS_H

#include <stdint.h>

#include "kmill/ctx.h"

typedef struct km_progress {
    km_ctx *ctx;
    const char *label;   /* "converting" */
    const char *unit;    /* "B" formats as sizes, NULL shows no count,
                          * anything else is a count */
    uint64_t total;      /* 0 when unknown (stdin); may be revised */
    uint64_t done;
    int mode;            /* 0 off, 1 terminal line, 2 log lines */
    double t0, t_next, interval;
    int drawn;           /* a '\r' line of `width` columns is on screen */
    int width;
    char detail[64];     /* shown last; "" for none */
    double (*clock)(void); /* seconds; replaceable by tests */
} km_progress;

void km_progress_start(km_progress *p, km_ctx *ctx, const char *label,
                       uint64_t total, const char *unit);
void km_progress_update(km_progress *p, uint64_t done);
/* The detail shown after the amounts from the next line on. */
void km_progress_detail(km_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Draw the terminal line now, whatever the rate limit: before a call that
 * blocks without reporting (no-op in the other modes). */
void km_progress_show(km_progress *p);
/* Clear the terminal line (if any); no final line is printed. */
void km_progress_end(km_progress *p);

double km_now(void); /* monotonic seconds */

#endif
