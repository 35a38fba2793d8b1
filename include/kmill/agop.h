/* agop.h - the average gradient outer product of a kernel machine
 * (kmill-algorithms(7), AGOP AND THE RFM), streamed in blocks of sample rows against blocks of
 * centres, every block product a GEMM.
 *
 * The predictor is f(z) = sum_j alpha_j k(z, z_j) over centres z_j (n x d)
 * with coefficients alpha (n x c), in the coordinates the kernel sees: for
 * a Mahalanobis kernel k_M the rows already multiplied by S = M^(1/2)
 * (kmill/kernel.h). Its gradient there is
 *     grad f_c(z) = (1/L^q) sum_j W(z, z_j) alpha_jc (z_j - z)
 * (km_kernel_grad_tile gives W and q), and the AGOP over sample rows B
 * (m x d) is G = (1/m) sum_x sum_c grad f_c(x) grad f_c(x)^T, accumulated
 * in float64. In the original coordinates the AGOP is S G S: see
 * km_agop_metric. */
#ifndef KMILL_AGOP_H
#define KMILL_AGOP_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kernel.h"
#include "kmill/pool.h"

typedef struct km_agop_opts {
    int diag;       /* only the diagonal of G (d values) */
    int center;     /* subtract each output's mean gradient over the samples */
    uint64_t mem;   /* working memory, bytes; 0: 256 MiB */
    size_t batch;   /* sample rows per block; 0: chosen from mem */
    size_t tile;    /* centres per block; 0: 2048 */
} km_agop_opts;

/* Bytes of km_agop's blocks for n centres, d features, c outputs and
 * batches of `rows` sample rows (kmill/plan.h): a block of centres and its
 * products, plus per sample row its kernel weights, gradients and the
 * row. km_agop takes the largest batch its mem allows. */
uint64_t km_agop_estimate(size_t n, size_t d, size_t c, const km_agop_opts *o, size_t rows);

/* The batch of sample rows km_agop takes for m samples and o's memory. */
size_t km_agop_batch(size_t n, size_t d, size_t c, const km_agop_opts *o, size_t m);

/* G (d x d, row-major, or d for diag) for the m sample rows B; self[i] is
 * the index among the centres of the row B_i is (its pair is dropped:
 * the kernel's self-term has no gradient), or UINT64_MAX; self may be
 * NULL. The BLAS calls use ctx->threads. KM_ENOMEM when mem cannot hold
 * the blocks for one sample row; KM_EINTR when interrupted (checked after
 * each tile of centres). Shows an "AGOP" progress line. */
int km_agop(km_ctx *ctx, km_pool *pool, const km_kernel *k, const float *Z, size_t n, size_t d,
            const float *alpha, size_t c, const float *B, const uint64_t *self, size_t m,
            const km_agop_opts *o, double *G);

/* The next RFM metric from G: M = S G S / max_ij (S G S), S from
 * km_metric_root of the current metric (metric KM_METRIC_NONE: S = I).
 * diag: G and M hold d diagonal entries. KM_ENUMERIC when the AGOP is
 * zero or not finite (a constant predictor has no gradient to learn
 * features from). */
int km_agop_metric(km_ctx *ctx, const double *G, size_t d, int diag, const float *S, int metric,
                   float *M);

#endif
