/* rfm.h - model selection over a grid of bandwidths and ridges, and the
 * Recursive Feature Machine loop inside it (kmill-algorithms(7), AGOP AND
 * THE RFM).
 *
 * For each (L, reg) of the grid: M_0 = I; for t = 0..T solve with the
 * kernel k_{M_t} (kmill/krr.h: any solver), score the validation rows
 * (kmill/kscores.h), then (t < T, RFM only) M_{t+1} = AGOP / max entry over
 * a uniform sample of the training rows (kmill/agop.h). The best step by
 * validation metric (highest accuracy, lowest MSE; the earliest on ties)
 * is kept. Without validation rows there is nothing to compare: the last
 * step is kept. */
#ifndef KMILL_RFM_H
#define KMILL_RFM_H

#include <stddef.h>

#include "kmill/krr.h"

/* One solve of the search: a (bandwidth, reg) pair at RFM iteration iter
 * (0: the plain kernel), its validation metric (accuracy, or MSE for
 * regression; NaN without validation rows) and its costs. */
typedef struct km_select_step {
    double bandwidth, reg;
    int iter;
    int classify;
    double val_metric, train_metric; /* train: accuracy or RMSE */
    double solve_seconds, agop_seconds;
    int pcg_iters;
} km_select_step;

typedef struct km_search_opts {
    km_krr_opts solve;         /* kernel.bandwidth and reg: the values without a grid */
    const double *bandwidths;  /* grid; nbandwidths = 0: solve.kernel.bandwidth alone */
    size_t nbandwidths;
    const double *regs;        /* grid; nregs = 0: solve.reg alone */
    size_t nregs;
    int rfm;                   /* learn M by the RFM loop */
    int rfm_iters;             /* T: AGOP updates after the plain kernel (default 5) */
    int rfm_diag;              /* diagonal M */
    int center_grads;          /* centre the gradients before their outer products */
    size_t agop_samples;       /* rows the AGOP averages over (default 20,000); drawn with solve.seed */
    void (*log)(void *arg, const km_select_step *s); /* each step, or NULL */
    void *log_arg;
} km_search_opts;

/* km_krr_defaults; no grids, RFM off with 5 iterations and 20,000 AGOP
 * samples should it be turned on. */
void km_search_defaults(km_search_opts *o);

typedef struct km_rfm_best {
    double bandwidth, reg;
    int iter;
    double val_metric;
    int metric;              /* KM_METRIC_*; M malloc'd, or NULL */
    float *M;
    float *A;                /* n x c coefficients of the best step, malloc'd */
    km_krr_result solve;     /* that step's solve */
    double train_metric;     /* and its training accuracy or RMSE */
    int steps;
    double solve_seconds, agop_seconds; /* summed over every step */
} km_rfm_best;

void km_rfm_best_free(km_rfm_best *b);

/* The search over training rows X (n x d, features before any metric),
 * targets Y (n x c: one-hot, or values) and y (class index or value),
 * validation rows Xv (nv x d) with yv; nv may be 0. held: what the caller
 * keeps resident beside (kmill/plan.h; NULL: nothing but the process).
 * Steps go to o->log and to the context's log (km_info) as they finish. */
int km_rfm_search(km_ctx *ctx, km_pool *pool, const km_search_opts *o, const km_plan *held,
                  int classify, const float *X, const float *Y, const float *y, size_t n, size_t d,
                  size_t c, const float *Xv, const float *yv, size_t nv, km_rfm_best *best);

/* Accuracy (classify) or RMSE of fitted values F (n x c) against y: the
 * training figure every solve reports. */
double km_train_metric(int classify, const float *F, const float *y, size_t n, size_t c);

#endif
