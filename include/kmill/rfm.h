/* rfm.h - model selection over a grid of bandwidths and ridges, and the
 * Recursive Feature Machine loop inside it (MATH.md §4).
 *
 * For each (L, reg) of the grid: M_0 = I; for t = 0..T solve with the
 * kernel k_{M_t} (any solver, kmill/krr.h), score the validation rows,
 * then (t < T, RFM only) M_{t+1} = AGOP / max entry over a uniform sample
 * of the training rows (kmill/agop.h). The best step by validation metric
 * (highest accuracy, lowest MSE; the earliest on ties) is kept. Without
 * validation rows there is nothing to compare: the last step is kept. */
#ifndef KMILL_RFM_H
#define KMILL_RFM_H

#include <stddef.h>

#include "kmill/krr.h"

typedef struct km_rfm_best {
    double bandwidth, reg;
    int iter;
    double val_metric;
    int metric;              /* KM_METRIC_*; M malloc'd, or NULL */
    float *M;
    float *A;                /* n x c coefficients of the best step, malloc'd */
    km_train_result solve;   /* that step's solve, with its train_metric */
    int steps;
    double solve_seconds, agop_seconds; /* summed over every step */
} km_rfm_best;

void km_rfm_best_free(km_rfm_best *b);

/* The search over training rows X (n x d, features before any metric),
 * targets Y (n x c: one-hot, or values) and y (class index or value),
 * validation rows Xv (nv x d) with yv; nv may be 0. Steps go to o->log
 * and to stderr (km_info) as they finish. */
int km_rfm_search(km_ctx *ctx, km_pool *pool, const km_train_opts *o, int classify,
                  const float *X, const float *Y, const float *y, size_t n, size_t d, size_t c,
                  const float *Xv, const float *yv, size_t nv, km_rfm_best *best);

#endif
