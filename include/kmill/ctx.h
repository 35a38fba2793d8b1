/* ctx.h - the context every long-running library call receives.
 *
 * It is the only mutable state shared across the library: the error record,
 * verbosity, where diagnostics go, the memory budget, the thread count, a
 * flag the front end raises on SIGINT/SIGTERM, and fault-injection settings
 * used by the tests to reach error paths (e.g. a disk that fills up). */
#ifndef KMILL_CTX_H
#define KMILL_CTX_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "kmill/error.h"

enum { KM_QUIET = -1, KM_NORMAL = 0, KM_VERBOSE = 1, KM_DEBUG = 2 };
enum { KM_PROGRESS_AUTO = -1, KM_PROGRESS_OFF = 0, KM_PROGRESS_ON = 1 };

typedef struct km_ctx {
    km_err err;
    int verbosity;           /* KM_QUIET .. KM_DEBUG */
    int progress;            /* KM_PROGRESS_* */
    const char *prog;        /* prefix of diagnostics, e.g. "kmill convert" */
    FILE *log;               /* diagnostics stream, normally stderr */
    uint64_t mem_budget;     /* bytes the job may keep resident */
    int threads;             /* worker threads, >= 1 */
    volatile sig_atomic_t *interrupted; /* non-zero (the number of the signal
                                          * received): stop at the next safe point */
    /* the step of a longer job that progress lines belong to ("step 2 of
     * 6"), set by the job and shown before each line's label; "" for none */
    char stage[48];
    /* columns of a progress line on the terminal (0: none), which a
     * diagnostic line clears before it is printed */
    int progress_cols;
    /* fault injection (tests only): writes through km_file fail with ENOSPC
     * once this many bytes have been written in total; 0 disables it. */
    uint64_t fault_enospc_after;
    uint64_t fault_written;
    /* fault injection (tests only): output files act as on a file system
     * without O_TMPFILE (named temporaries from the start) */
    int fault_no_tmpfile;
    /* fault injection (tests only): the fault_read_after-th chunk a dataset
     * scan reads (counting every scan of the process, from 1) fails as
     * fault_read_kind says: KM_FAULT_EIO a read error, KM_FAULT_CORRUPT a
     * flipped byte, KM_FAULT_SHORT a file cut short; 0 disables it. */
    uint64_t fault_read_after;
    int fault_read_kind;
    uint64_t fault_reads;
    /* benchmarks only: streamed training reads its training rows into RAM
     * first and passes over them there (the reference a pass over the
     * dataset file is timed against, tests/bench/stream.sh) */
    int bench_rows_in_ram;
} km_ctx;

enum { KM_FAULT_EIO = 1, KM_FAULT_CORRUPT = 2, KM_FAULT_SHORT = 3 };

/* Defaults: normal verbosity, automatic progress, stderr, the default memory
 * budget (km_default_mem), one thread per online CPU. */
void km_ctx_init(km_ctx *ctx, const char *prog);

/* Non-zero when the job should stop; sets KM_EINTR in ctx->err. */
int km_check_interrupt(km_ctx *ctx);

#endif
