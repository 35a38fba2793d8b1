/* krr.h - training a kernel machine (kernel ridge regression, MATH.md §1-3)
 * on a dataset: features, targets, the solver chosen for n, c and the
 * memory budget, and the model that results (kmill/model.h).
 *
 * Classification regresses on one-hot class indicators (c = classes) and
 * predicts the largest score; regression has c = 1. Rows whose label is
 * missing are dropped and counted. The rows themselves are held in RAM as
 * float32 features (n x d); the n x n kernel is what may exceed it, held
 * by the tile store (kmill/tiles.h) for the iterative solver. */
#ifndef KMILL_KRR_H
#define KMILL_KRR_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/features.h"
#include "kmill/kmx.h"
#include "kmill/model.h"
#include "kmill/pool.h"
#include "kmill/tiles.h"

enum { KM_SOLVER_AUTO = 0, KM_SOLVER_DIRECT = 1, KM_SOLVER_PCG = 2 };
enum { KM_PRECOND_NYSTROM = 0, KM_PRECOND_NONE = 1 };

/* Largest n the automatic choice solves directly (float64 Cholesky, n^3/3
 * flops: about 10 s at this size on two cores); above it PCG wins. */
#define KM_DIRECT_AUTO_MAX 6000

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

typedef struct km_train_opts {
    km_feat_opts feat;
    km_kernel kernel;
    double reg;
    int solver;           /* KM_SOLVER_* */
    int precond;          /* KM_PRECOND_* */
    size_t rank;          /* Nystrom landmarks; 0: min(n, 1000) */
    double tol;           /* PCG relative residual per column */
    int max_iter;
    uint64_t seed;
    const char *tmpdir;
    int store;            /* KM_STORE_* */
    size_t tile;          /* 0: default */
    int metric;           /* KM_METRIC_*, M given in features' order */
    const float *M;

    /* model selection and the RFM (kmill/rfm.h) */
    const double *bandwidths;  /* grid; nbandwidths = 0: kernel.bandwidth alone */
    size_t nbandwidths;
    const double *regs;        /* grid; nregs = 0: reg alone */
    size_t nregs;
    int rfm;                   /* learn M by the RFM loop */
    int rfm_iters;             /* T: AGOP updates after the plain kernel (default 5) */
    int rfm_diag;              /* diagonal M */
    int center_grads;          /* centre the gradients before their outer products */
    size_t agop_samples;       /* rows the AGOP averages over (default 20,000) */
    double val_frac;           /* held-out share; < 0: 0.1 when there is a choice to make */
    km_kmx *val;               /* validation dataset instead of a split, or NULL */
    const char *val_name;      /* its name in messages (NULL: its path) */
    int refit;                 /* re-solve on train + validation with the choice */
    void (*log)(void *arg, const struct km_select_step *s); /* each step, or NULL */
    void *log_arg;
} km_train_opts;


/* Defaults: Laplace, bandwidth 10, reg 1e-3, auto solver, Nystrom of rank
 * 0 (auto), tol 1e-4, 1000 iterations, seed 1; RFM off, 5 iterations,
 * 20,000 AGOP samples, automatic validation share. */
void km_train_defaults(km_train_opts *o);

typedef struct km_train_result {
    uint64_t rows, dropped;   /* rows read, rows dropped for a missing label */
    uint64_t unseen;
    int solver;               /* the one used */
    int iters;
    double rel_residual;
    size_t rank;
    km_tiles_stats tiles;
    double seconds;
    double train_metric;      /* training accuracy, or RMSE */
    /* model selection */
    uint64_t train_rows, val_rows; /* the split (val_rows 0: none) */
    double val_metric;        /* of the chosen model: accuracy or MSE; NaN without */
    int best_iter;            /* RFM iteration chosen */
    double solve_seconds, agop_seconds; /* summed over the search */
    int steps;                /* solves in the search */
} km_train_result;

/* Read every row of data, fit the features, solve, fill m (provenance left
 * to the caller except data_checksum and the solver summary). */
int km_train(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o, km_model *m,
             km_train_result *res);

/* The solve alone, on features X (n x d, already in the kernel's metric)
 * and targets Y (n x c): A (n x c) = (K + reg I)^-1 Y, by the solver named
 * in o (AUTO decided here). F, if not NULL, receives the fitted values
 * K A (n x c). Used by km_train and by the RFM. */
int km_krr_solve(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d, const float *Y,
                 size_t c, const km_train_opts *o, float *A, float *F, km_train_result *res);

#endif
