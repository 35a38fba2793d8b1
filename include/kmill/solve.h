/* solve.h - linear solvers for kernel ridge regression, (K + reg I) A = Y.
 *
 * Direct: Cholesky through LAPACKE, in float64, when the n x n matrix fits
 * the memory budget; the reference every iterative path is checked against.
 * Iterative: block preconditioned conjugate gradients (kmill-algorithms(7), SOLVERS); the c
 * right-hand sides share each product with the matrix, which the caller
 * supplies as a callback (kernel tiles in RAM, spilled or recomputed), and
 * an optional preconditioner, e.g. the randomized Nyström one below.
 * Vectors are float32, every inner product and scalar float64. */
#ifndef KMILL_SOLVE_H
#define KMILL_SOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

/* K: n x n row-major (only the upper triangle, i <= j, is read), Y and A:
 * n x c row-major. KM_ENUMERIC with a message suggesting a larger --reg
 * when K + reg I is not numerically positive definite. */
int km_solve_direct(km_ctx *ctx, const float *K, size_t n, double reg, const float *Y, size_t c,
                    float *A);
/* Bytes of a direct solve of n rows (kmill/plan.h): the float32 kernel the
 * caller builds and km_solve_direct's float64 copy, 12 n^2. */
uint64_t km_direct_estimate(size_t n);

/* out (n x c) = M in (n x c), both row-major with leading dimension c. */
typedef struct km_linop {
    int (*apply)(void *arg, const float *in, float *out, size_t c);
    void *arg;
} km_linop;

typedef struct km_pcg_opts {
    double tol;          /* stop when ||r_j|| <= tol ||y_j|| for every column j */
    int max_iter;
    int recompute_every; /* true residual y - M x every so many iterations (0: 10) */
} km_pcg_opts;

typedef struct km_pcg_result {
    int iters;
    double rel_residual; /* largest over the columns, of the true residual */
} km_pcg_result;

/* Solve M X = Y, M symmetric positive definite (given with the ridge
 * included). X holds the initial guess on entry. P may be NULL. Progress
 * (iteration, residual) is logged at -v. Returns 0 also when max_iter is
 * reached (res says how far it got), KM_EINTR when interrupted. */
int km_pcg(km_ctx *ctx, const km_linop *M, const km_linop *P, size_t n, size_t c, const float *Y,
           float *X, const km_pcg_opts *o, km_pcg_result *res);
/* Bytes of km_pcg's own vectors for n x c unknowns: R, Z, D, Q and the best
 * iterate, plus one n x c block of the caller's (the solution's
 * workspace), 6 n c floats. */
uint64_t km_pcg_estimate(size_t n, size_t c);

/* The randomized Nyström preconditioner (Frangella, Tropp, Udell 2021) for
 * K + mu I, from r landmark columns: Cs = K[:, S] (n x r, row-major) and
 * W = K[S, S] (r x r). P^-1 v = (l_r + mu) U (L + mu I)^-1 U^T v + (I - U U^T) v
 * with K ~ U L U^T. Its apply never fails (a km_linop returning 0). */
typedef struct km_nystrom km_nystrom;
int km_nystrom_build(km_ctx *ctx, const float *Cs, size_t n, size_t r, const float *W, double mu,
                     km_nystrom **out);
int km_nystrom_apply(void *nystrom, const float *in, float *out, size_t c);
size_t km_nystrom_rank(const km_nystrom *p);
/* Bytes of a rank-r preconditioner for n rows while it is built: the
 * landmark columns Cs, the scaled columns B and the basis U, 3 n r floats
 * (U alone, n r, stays). */
uint64_t km_nystrom_estimate(size_t n, size_t r); /* r, less the directions dropped as null */
void km_nystrom_free(km_nystrom *p);

#endif
