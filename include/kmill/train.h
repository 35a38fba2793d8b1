/* train.h - training a kernel machine on a dataset: the rows read into
 * RAM as features (kmill/features.h), the validation rows split off or
 * read, one solve (kmill/krr.h) or the model search and RFM
 * (kmill/rfm.h), and the model that results (kmill/model.h).
 *
 * Classification regresses on one-hot class indicators (c = classes) and
 * predicts the largest score; regression has c = 1. Rows whose label is
 * missing are dropped and counted. The rows themselves are held in RAM as
 * float32 features (n x d); the n x n kernel is what may exceed it, held
 * by the tile store for the iterative solver. */
#ifndef KMILL_TRAIN_H
#define KMILL_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/features.h"
#include "kmill/kmx.h"
#include "kmill/krr.h"
#include "kmill/model.h"
#include "kmill/pool.h"
#include "kmill/rfm.h"

typedef struct km_train_opts {
    km_feat_opts feat;
    km_search_opts search;     /* the solver, and the grids and RFM */
    int metric;                /* KM_METRIC_*: a given M, in features' order */
    const float *M;
    double val_frac;           /* held-out share; < 0: 0.1 when there is a choice to make */
    km_kmx *val;               /* validation dataset instead of a split, or NULL */
    const char *val_name;      /* its name in messages (NULL: its path) */
    int refit;                 /* re-solve on train + validation with the choice (default 1) */
    int cv;                    /* K-fold cross-validation (km_rfm_cv) instead of a hold-out;
                                * 0: none. Excludes val and val_frac > 0 */
    int auto_bandwidth;        /* without a search.bandwidths grid, a search (RFM, a regs grid
                                * or cv) tries km_scale_bandwidths of the training rows (a
                                * sample of 1000) around search.solve.kernel.bandwidth */
    /* the Nystrom solver (search.solve.solver KM_SOLVER_NYSTROM, or chosen
     * by KM_SOLVER_AUTO when the rows do not suit an exact solve) */
    size_t centers;            /* m; 0: km_train_auto_centres */
    int nystrom_mode;          /* KM_FALKON_* */
    int nystrom_iters;         /* conjugate gradient passes a solve at most; 0: 20 */
    int nystrom_patience;      /* stop conjugate gradients once this many iterations in a
                                * row have not raised the training figure on the sampled
                                * rows by KM_TRAIN_STOP_GAIN of itself; 0: never (the
                                * residual and --passes alone). Default 2 */
} km_train_opts;

/* The early stop's least gain (relative), a tenth of a point at 100%
 * accuracy: below the noise of a figure on 20,000 sampled rows. */
#define KM_TRAIN_STOP_GAIN 1e-3

/* Defaults: standard scaling, automatic task, km_search_defaults, no M,
 * automatic validation share, refit, no cross-validation, no bandwidths
 * from the data's scale. */
void km_train_defaults(km_train_opts *o);

typedef struct km_train_result {
    uint64_t rows, dropped;   /* rows read, rows dropped for a missing label */
    uint64_t unseen;
    km_krr_result solve;      /* the final model's solve */
    double seconds;
    double train_metric;      /* training accuracy, or RMSE */
    /* model selection */
    uint64_t train_rows, val_rows; /* the split (val_rows 0: none) */
    double val_metric;        /* of the chosen model: accuracy or MSE; NaN without */
    int best_iter;            /* RFM iteration chosen */
    double solve_seconds, agop_seconds; /* summed over the search */
    int steps;                /* solves in the search */
    int folds;                /* of the cross-validation (val_metric its mean); 0: none */
    size_t nbandwidths;       /* the bandwidths tried; with auto_bandwidth, those chosen */
    double bandwidths[5];     /* from the data's scale (nbandwidths of them), if any */
    double median_distance;   /* that they came from; 0: none */
    /* the Nystrom solver */
    size_t centres;           /* 0: an exact solve */
    int passes;               /* over the dataset, the survey included */
} km_train_result;

/* Largest number of rows KM_SOLVER_AUTO trains on exactly (beyond it the
 * n x n kernel's products outweigh a Nystrom model's: at 60,000 rows of
 * 784 features an exact solve takes minutes, at 10 times that hours). */
#define KM_EXACT_AUTO_MAX 100000

/* The centres of an automatic Nystrom model of n rows: 2 sqrt(n) (enough
 * for the learning rate of the exact model, Rudi et al.), at least 1000 and
 * at most 10,000, and at most n. */
size_t km_train_auto_centres(uint64_t n);

/* Read every row of data, fit the features, solve, fill m (provenance left
 * to the caller except data_checksum and the solver summary). Solver
 * KM_SOLVER_NYSTROM, or KM_SOLVER_AUTO with more than KM_EXACT_AUTO_MAX
 * rows or rows an exact solve cannot hold within --mem, streams: see
 * km_train_stream. */
int km_train(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o, km_model *m,
             km_train_result *res);

/* The regression targets of n rows (n x c, malloc'd, NULL when out of
 * memory): one-hot class indicators, or the values (c = 1). */
float *km_train_targets(const float *y, size_t n, size_t c, int classify);

/* Whether km_train streams (1) or solves exactly (0) with o on data. */
int km_train_streams(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o);

/* Training with the rows streamed: m Nystrom centres (kmill/falkon.h) and
 * passes over data (kmill/rowsrc.h), the validation share split off by a
 * hash of the row number; memory independent of the rows
 * (kmill-train(1), LARGER THAN MEMORY). No cross-validation. */
int km_train_stream(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o,
                    km_model *m, km_train_result *res);
#endif
