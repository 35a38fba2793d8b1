/* progress.h - progress of a long job on the context's log stream.
 *
 * On a terminal: one line redrawn with '\r', at most ~6 times a second.
 * Otherwise (a log file of an overnight job): a plain line after 10 s, then
 * at doubling intervals capped at 10 minutes, so the log stays readable.
 * Silent under -q or --no-progress; --progress forces the terminal style. */
#ifndef KMILL_PROGRESS_H
#define KMILL_PROGRESS_H

#include <stdint.h>

#include "kmill/ctx.h"

typedef struct km_progress {
    km_ctx *ctx;
    const char *label;   /* "converting" */
    const char *unit;    /* "B" formats as sizes, anything else as a count */
    uint64_t total;      /* 0 when unknown (stdin) */
    uint64_t done;
    int mode;            /* 0 off, 1 terminal line, 2 log lines */
    double t0, t_next, interval;
    int drawn;           /* a '\r' line is on screen */
    double (*clock)(void); /* seconds; replaceable by tests */
} km_progress;

void km_progress_start(km_progress *p, km_ctx *ctx, const char *label,
                       uint64_t total, const char *unit);
void km_progress_update(km_progress *p, uint64_t done);
/* Clear the terminal line (if any); no final line is printed. */
void km_progress_end(km_progress *p);

double km_now(void); /* monotonic seconds */

#endif
