/* krr.h - one kernel ridge regression solve, (K + reg I) A = Y, on rows
 * held in RAM, by the solver the memory planner picks for n, c and the
 * budget (kmill-algorithms(7), KERNEL RIDGE REGRESSION and SOLVERS).
 *
 * Direct: the n x n kernel built whole and factored in float64 (the
 * reference every iterative path is checked against). PCG: block
 * conjugate gradients over the tile store (kmill/tiles.h), preconditioned
 * by randomized Nystrom from `rank` landmark rows; the tiles the budget
 * leaves no room for are spilled or recomputed. The rows are taken as the
 * kernel sees them: a Mahalanobis metric is applied by the caller. */
#ifndef KMILL_KRR_H
#define KMILL_KRR_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kernel.h"
#include "kmill/plan.h"
#include "kmill/pool.h"
#include "kmill/tiles.h"

/* KM_SOLVER_NYSTROM: m centres, the rows streamed (kmill/falkon.h), chosen
 * by training (kmill/train.h); km_krr_solve itself takes the other two. */
enum { KM_SOLVER_AUTO = 0, KM_SOLVER_DIRECT = 1, KM_SOLVER_PCG = 2, KM_SOLVER_NYSTROM = 3 };
enum { KM_PRECOND_NYSTROM = 0, KM_PRECOND_NONE = 1 };

/* Largest n the automatic choice solves directly (float64 Cholesky, n^3/3
 * flops: about 10 s at this size on two cores); above it PCG wins. */
#define KM_DIRECT_AUTO_MAX 6000

typedef struct km_krr_opts {
    km_kernel kernel;
    double reg;
    int solver;           /* KM_SOLVER_* */
    int precond;          /* KM_PRECOND_* */
    size_t rank;          /* Nystrom landmarks; 0: min(n, 1000) */
    double tol;           /* PCG relative residual per column */
    int max_iter;
    uint64_t seed;        /* landmarks */
    const char *tmpdir;   /* tile spill directory */
    int store;            /* KM_STORE_* */
    size_t tile;          /* tile rows; 0: 2048 */
} km_krr_opts;

/* Laplace, bandwidth 10, reg 1e-3, auto solver, Nystrom of automatic rank,
 * tol 1e-4, 1000 iterations, seed 1, automatic store. */
void km_krr_defaults(km_krr_opts *o);

typedef struct km_krr_result {
    int solver;           /* the one used */
    int iters;
    double rel_residual;  /* largest over the columns */
    size_t rank;          /* preconditioner rank kept (0: none) */
    km_tiles_stats tiles;
    double seconds;
} km_krr_result;

/* Whether a solve failed: conjugate gradients stopped an order of
 * magnitude above o->tol (km_krr_solve warns of it). Its coefficients fit
 * nothing, whatever they happen to score. A direct solve has no tolerance:
 * its residual is float32 rounding, which grows with n, and never fails. */
int km_krr_unsolved(const km_krr_opts *o, const km_krr_result *r);

/* The planner's decision for a solve (kmill/plan.h). */
typedef struct km_krr_plan {
    int solver;           /* KM_SOLVER_DIRECT or KM_SOLVER_PCG */
    size_t rank;          /* landmarks of the preconditioner */
    uint64_t tiles_ram;   /* bytes of tiles the store may keep in RAM */
    km_plan plan;         /* everything resident at the solve's peak */
} km_krr_plan;

/* What a solve's caller holds for n rows, d features and c outputs when it
 * holds just the solve's arguments: the rows, and Y, A and F (n x c each). */
void km_krr_plan_args(km_plan *p, size_t n, size_t d, size_t c);

/* Choose the solver and the tiles' RAM for n x d rows and c outputs with
 * `tasks` product tasks, beside what the caller holds (held: a plan of the
 * caller's arrays; NULL: km_krr_plan_args). KM_ENOMEM, with the plan's
 * items in the message, when even the smallest plan exceeds --mem or the
 * direct solver was asked for and does not fit. */
int km_krr_plan_make(km_ctx *ctx, const km_plan *held, size_t n, size_t d, size_t c, int tasks,
                     const km_krr_opts *o, km_krr_plan *out);

/* A (n x c) = (K + reg I)^-1 Y for rows X (n x d) and targets Y (n x c);
 * F, if not NULL, receives the fitted values K A. held as for
 * km_krr_plan_make. PCG that stops above tol warns and returns 0 (res says
 * how far it got); KM_EINTR when interrupted. */
int km_krr_solve(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d, const float *Y,
                 size_t c, const km_krr_opts *o, const km_plan *held, float *A, float *F,
                 km_krr_result *res);

#endif
