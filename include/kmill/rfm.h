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
 * step is kept.
 *
 * K-fold cross-validation (km_rfm_cv) runs that search once per fold and
 * averages every step's metric over the folds; the data's scale gives a
 * default bandwidth grid (km_scale_bandwidths). */
#ifndef KMILL_RFM_H
#define KMILL_RFM_H

#include <stddef.h>

#include "kmill/falkon.h"
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
    size_t index;  /* its place in the grid: (bandwidth * nregs + reg) * (T + 1) + iter */
    int unsolved;  /* its conjugate gradients stopped far above the tolerance */
    int fold;      /* the cross-validation fold (from 1) it belongs to; 0: none */
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
    int fold;                  /* set by km_rfm_cv: the fold (from 1) this search is, else 0 */
    const char *phase;         /* a prefix of the progress stage and step lines, or NULL */
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

/* K-fold cross-validation of the same grid over the rows X (n x d), Y
 * (n x c) and y: the rows are shuffled with o->solve.seed and dealt into
 * K folds (km_cv_folds); each fold runs km_rfm_search on the other K - 1
 * folds, scored on its own (so the RFM learns its M per fold), and every
 * step (bandwidth, reg, iteration t) gets its metric averaged over the
 * folds. The best one by that mean (a step whose solve failed in any fold
 * only when every step failed somewhere; the earliest on ties) is solved
 * again on all n rows, the RFM re-run to its iteration t: best holds that
 * refit, with val_metric the cross-validated mean and steps and seconds
 * summed over the folds and the refit. 2 <= K <= n. */
int km_rfm_cv(km_ctx *ctx, km_pool *pool, const km_search_opts *o, const km_plan *held,
              int classify, const float *X, const float *Y, const float *y, size_t n, size_t d,
              size_t c, int K, km_rfm_best *best);

/* The fold (0 .. K-1) of each of n rows: a shuffle seeded by seed dealt
 * round-robin, so that every fold has n / K or n / K + 1 rows. 0, or
 * KM_ENOMEM (no message: the caller words it). */
int km_cv_folds(size_t n, int K, uint64_t seed, uint32_t *fold);

/* The median Euclidean distance between the pairs of a uniform sample of
 * at most max_rows of the n rows X (n x d), drawn with seed (all rows
 * when n <= max_rows); 0 with fewer than two rows. held: what the caller
 * keeps resident beside the distances (kmill/plan.h; NULL: nothing). */
int km_median_distance(km_ctx *ctx, const float *X, size_t n, size_t d, size_t max_rows,
                       uint64_t seed, const km_plan *held, double *median);

/* The default bandwidth grid of a search: plain (the bandwidth without a
 * search) first, so that a tie keeps it, then 0.5, 1, 2 and 4 times the
 * median distance (any that is not a positive finite number, or equals
 * one already listed, left out) into out[5]; the count. */
size_t km_scale_bandwidths(double median, double plain, double *out);

/* Accuracy (classify) or RMSE of fitted values F (n x c) against y: the
 * training figure every solve reports. */
double km_train_metric(int classify, const float *F, const float *y, size_t n, size_t c);

/* 1 when validation figure a is better than b: a higher accuracy
 * (classify) or a lower MSE; any number beats NaN. */
int km_val_better(int classify, double a, double b);

/* What the streamed search works on: the training rows (and validation
 * rows, or NULL) as sources (kmill/falkon.h), the m centres C (m x d,
 * features before any metric), a sample of nb training rows B (nb x d) with
 * their targets yB held in RAM for the AGOP and the training figure, and
 * a given metric (metric, M; KM_METRIC_NONE) the search starts from. */
typedef struct km_stream_data {
    const km_rowsrc *train, *val;
    const float *C;
    size_t m;
    const float *B, *yB;
    size_t nb;
    int metric;
    const float *M;
} km_stream_data;

/* Sample rows an AGOP block of the streamed search takes: its memory is
 * km_agop_estimate(m, d, c, o, KM_STREAM_AGOP_BATCH), for the caller's plan. */
#define KM_STREAM_AGOP_BATCH 256

/* km_rfm_search with the rows streamed: every solve a Nystrom solve on the
 * centres (fo: mode, tolerance, iterations, block; kernel, ridges and
 * metric are the step's), every scoring a pass over sd->val, every AGOP
 * over the sample rows from the Nystrom predictor's gradients. The ridge
 * reg of the grid is the exact solver's: lambda = reg / n (with every row
 * a centre the model is the exact one). Without the RFM, a bandwidth's
 * ridges are solved together (the Gram mode's one pass serves them all)
 * and scored in one pass. best->A is m x c; best->solve.solver is
 * KM_SOLVER_NYSTROM, its rank m; best->train_metric is taken on the
 * sample rows. *passes counts the passes over the rows. */
int km_rfm_stream_search(km_ctx *ctx, km_pool *pool, const km_search_opts *o,
                         const km_falkon_opts *fo, const km_stream_data *sd, int classify,
                         size_t d, size_t c, km_rfm_best *best, int *passes);
#endif
