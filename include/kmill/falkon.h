/* falkon.h - kernel ridge regression on m Nystrom centres with the rows
 * streamed, never held (kmill-algorithms(7), NYSTROM CENTRES; Rudi,
 * Carratino and Rosasco's Falkon).
 *
 * The model is f(x) = sum_j alpha_j k(x, c_j) over centres C (m x d); its
 * coefficients solve
 *     (K_nm^T K_nm + lambda n K_mm) alpha = K_nm^T Y
 * (K_mm with a jitter of float32's order, km_falkon) where K_nm = k(X, C)
 * over the n training rows X, which come from a row source (km_rowsrc):
 * each pass over it delivers every row once, in the same order, in blocks
 * of any size. Two ways to solve:
 *   KM_FALKON_CG: Falkon's preconditioned conjugate gradients, each
 *     iteration one pass computing K_nm^T (K_nm v) for all c outputs at
 *     once; memory O(m^2 + a block), independent of n.
 *   KM_FALKON_GRAM: one pass accumulating K_nm^T K_nm (m x m) and
 *     K_nm^T Y, then a dense float64 solve per ridge: exact for the
 *     Nystrom model, cheaper when m is small, and every ridge of a grid
 *     costs no further pass.
 * The rows are re-blocked into fixed groups of `block` rows counted from
 * the first row a pass delivers, and each group's products are added into
 * float64 sums in row order: the source's block sizes (a dataset's
 * chunks) and the thread count do not change a bit of the result.
 *
 * A Mahalanobis metric (the RFM's, kmill/kernel.h) is given by its root S:
 * rows and centres are multiplied by S before the kernel sees them. */
#ifndef KMILL_FALKON_H
#define KMILL_FALKON_H
#include <stddef.h>
#include <stdint.h>
#include "kmill/ctx.h"
#include "kmill/kernel.h"
#include "kmill/pool.h"

/* Called for each block of a pass: n rows X (n x d, features before the
 * metric) and their targets y (class index as a float, or the value;
 * never NaN: the source skips unlabelled rows). Non-zero stops the pass
 * and is returned by it. */
typedef int (*km_block_fn)(void *arg, const float *X, const float *y, size_t n);

/* A source of rows: pass(arg, fn, fnarg) calls fn for every block, in the
 * same order every time, and returns 0 at the end, fn's non-zero value,
 * or a negative error of its own (a dataset read error, with the message
 * set: KM_ECORRUPT naming the chunk). n: the rows a pass delivers. */
typedef struct km_rowsrc {
    int (*pass)(void *arg, km_block_fn fn, void *fnarg);
    void *arg;
    uint64_t n;
    size_t d;
} km_rowsrc;

/* A source over rows in RAM (X n x d, y n), delivered in blocks of at
 * most `block` rows (0: all at once): for tests, and the reference the
 * streaming bench compares the dataset source with. */
typedef struct km_memsrc {
    const float *X, *y;
    size_t n, d, block;
} km_memsrc;
void km_memsrc_init(km_rowsrc *src, km_memsrc *ms, const float *X, const float *y, size_t n,
                    size_t d, size_t block);

enum { KM_FALKON_AUTO = 0, KM_FALKON_CG = 1, KM_FALKON_GRAM = 2 };

typedef struct km_falkon_opts {
    km_kernel kernel;
    const double *regs;   /* ridges lambda > 0; CG solves regs[0] alone */
    size_t nregs;
    int mode;             /* KM_FALKON_*: AUTO takes the cheaper by km_falkon_cost */
    double tol;           /* CG: stop when the preconditioned residual of every
                           * output is below tol times its right-hand side's */
    int max_iter;         /* CG iterations (passes beyond the first) */
    int metric;           /* KM_METRIC_*; S its root (km_metric_root), or NULL */
    const float *S;
    size_t block;         /* rows per product group; 0: 1024 */
    /* CG's early stop: after each iteration watch(watch_arg, alpha) gives
     * a figure to raise (an accuracy, or minus an error) of the current
     * coefficients alpha (m x c) on rows of the caller's choosing, NaN
     * for none; the iterations stop once `patience` of them in a row have
     * not raised the best figure by more than watch_tol times its size
     * (relative: 1e-3 is a tenth of a point at 100% accuracy). patience 0 or
     * watch NULL: no such stop. */
    double (*watch)(void *arg, const float *alpha);
    void *watch_arg;
    int patience;
    double watch_tol;
    const char *phase;    /* a prefix of the progress label, or NULL */
} km_falkon_opts;

/* Gaussian or Laplace as given, ridge 1e-6, automatic mode, tol 1e-4, 20
 * iterations, no metric, block 1024. */
void km_falkon_defaults(km_falkon_opts *o);

typedef struct km_falkon_result {
    int mode;             /* KM_FALKON_CG or KM_FALKON_GRAM, the one used */
    int iters;            /* CG iterations (0 for GRAM) */
    int passes;           /* over the rows */
    double rel_residual;  /* CG: the largest over the outputs; GRAM: 0 */
    int watch_stop;       /* CG stopped on the watched figure */
    double seconds, pass_seconds; /* in all, and the mean pass */
    uint64_t rows;        /* rows a pass delivered */
    double jitter;        /* eps m added to K_mm's diagonal (GRAM: the
                           * largest over the ridges) */
} km_falkon_result;

/* The flops of each way for n rows, m centres, d features, c outputs and
 * `iters` CG iterations (the planner prints both and AUTO takes the
 * cheaper): CG about (iters + 1) n m (2d + 4c + 10) + m^3, GRAM about
 * n m (2d + 2m + 10) + nregs m^3 / 3 (its n m^2 sums are float64, at
 * half the float32 rate: measured 43 against 78 Gflop/s). */
double km_falkon_cost(int mode, uint64_t n, size_t m, size_t d, size_t c, int iters,
                      size_t nregs);

/* Bytes km_falkon holds (kmill/plan.h) for m centres, d features, c
 * outputs and nregs ridges in the given mode (not AUTO): the centres
 * and their norms, K_mm and its factors in float64, the solver's
 * vectors or the m x m Gram sums, one block's kernel, and the staging
 * block of rows. */
uint64_t km_falkon_estimate(int mode, size_t m, size_t d, size_t c, size_t nregs, size_t block);

/* alpha (nregs x m x c: one m x c block per ridge; CG: nregs = 1) for
 * centres C (m x d, features before the metric), c outputs: the one-hot
 * class indicators of y (classify) or y itself (c = 1). Both modes solve
 * the system with K_mm + eps m I in place of K_mm (Falkon's own), eps =
 * 2^-23 raised tenfold until that is positive definite; GRAM raises it
 * further for a ridge whose system does not factor. The classes of y
 * must be 0..c-1 (KM_EDATA names the row otherwise); a pass delivering
 * other than src->n rows is KM_ECORRUPT.
 * KM_EINTR when interrupted (checked after every group of rows),
 * KM_ENUMERIC when the system cannot be factored, the source's errors as
 * they are. Progress per pass: rows/s and an ETA. */
int km_falkon(km_ctx *ctx, km_pool *pool, const km_falkon_opts *o, const km_rowsrc *src,
              int classify, const float *C, size_t m, size_t d, size_t c, float *alpha,
              km_falkon_result *res);

/* Score nsets coefficient sets (alpha: nsets x m x c) on the rows of a
 * source in one pass: out[s] = accuracy (classify) or mean squared error
 * of set s. Same kernel, metric and block as o. */
int km_falkon_score(km_ctx *ctx, km_pool *pool, const km_falkon_opts *o, const km_rowsrc *src,
                    int classify, const float *C, size_t m, size_t d, size_t c,
                    const float *alpha, size_t nsets, double *out);
#endif
