/* plan.h - the memory planner: what a job needs, item by item.
 *
 * Every module that allocates in proportion to the data exposes an
 * estimate of its bytes for given sizes (km_tiles_estimate,
 * km_agop_estimate, km_convert_estimate, ...), in the spirit of zstd's
 * ZSTD_estimate*() functions. A job collects the estimates of what it will
 * hold at its peak into a km_plan, one named item each, and from that one
 * list come the choice between plans (direct or iterative solver, how many
 * tiles stay in RAM), the "--mem is too small" message and the plan line
 * logged at -v. Nothing else does memory arithmetic: a figure that is
 * wrong is wrong in one place. kmill-algorithms(7), MEMORY PLANNER, gives
 * each estimate's formula.
 *
 * A plan starts with KM_MEM_SLACK for what the process holds beside its
 * arrays (the binary, libc, thread stacks); jobs that run large BLAS
 * products add KM_MEM_BLAS. tests/cli/plan.sh holds the plans against the
 * peak RSS of runs of a few hundred MiB. */
#ifndef KMILL_PLAN_H
#define KMILL_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

/* Resident bytes of a kmill process beside its arrays: a train or predict
 * on a 50-row dataset peaks at 7-9 MiB (1 or 2 threads), a prediction
 * with a 156 MiB kernel block 14 MiB beyond it. */
#define KM_MEM_SLACK ((uint64_t)16 << 20)

/* What large level-3 BLAS and LAPACK calls (the direct solve's Cholesky,
 * kernel tiles, the AGOP's products) make OpenBLAS touch of its per-thread
 * buffers: measured as the peak RSS beyond the arrays of a direct solve at
 * n = 5,000 and of PCG at n = 20,000 (1 and 2 threads), 25-40 MiB beside
 * KM_MEM_SLACK. The plans of those jobs add it as "BLAS buffers". */
#define KM_MEM_BLAS ((uint64_t)32 << 20)

#define KM_PLAN_ITEMS 16

typedef struct km_plan_item {
    char what[56]; /* a phrase: "rows", "kernel tiles in RAM" (copied) */
    uint64_t bytes;
} km_plan_item;

typedef struct km_plan {
    km_plan_item item[KM_PLAN_ITEMS];
    int n;
    uint64_t total; /* the items' sum, KM_MEM_SLACK included */
} km_plan;

/* An empty plan holding KM_MEM_SLACK alone ("process"). */
void km_plan_init(km_plan *p);
/* Add an item (a zero-byte one is skipped); items past KM_PLAN_ITEMS are
 * folded into the last. The sum saturates at UINT64_MAX. */
void km_plan_add(km_plan *p, const char *what, uint64_t bytes);
/* Add every item of q to p (a job made of parts). */
void km_plan_merge(km_plan *p, const km_plan *q);
/* The plan's items as "rows 1.2 GiB, solver vectors 80 MiB, ..." */
char *km_plan_format(const km_plan *p, char *buf, size_t len);
/* 0 when the plan fits ctx->mem_budget; else KM_ENOMEM with the message
 * "--mem B is too small: JOB needs at least T (items...)". */
int km_plan_check(km_ctx *ctx, const km_plan *p, const char *job);
/* The plan line at -v: "plan: JOB: T of --mem B (items...)". */
void km_plan_log(km_ctx *ctx, const km_plan *p, const char *job);

#endif
