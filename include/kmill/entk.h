/* entk.h - the empirical neural tangent kernel of a network (kmill/mlp.h)
 * between two sets of rows, by the layer identity, with no per-example
 * Jacobian (kmill-algorithms(7), NETWORKS).
 *
 * With the layer-l multiplier m_l and bias multiplier beta of the
 * parameterisation (NTK: m_l = sw / sqrt(width[l-1]), beta = sb;
 * standard: m_l = beta = 1), the forward pass is
 * z^l = m_l h^{l-1} W^lT + beta b^l, f = alpha z^{D+1}. The derivative of
 * f_c by the pre-activation z^l of a row is the delta
 *   delta^{D+1}_c = alpha e_c,
 *   delta^l_c = 1[z^l > 0] (.) m_{l+1} W^{l+1}T delta^{l+1}_c,
 * and since df_c/dW^l = delta^l_c (m_l h^{l-1})T, df_c/db^l = beta delta^l_c,
 * the kernel, sum over all parameters p of df_c(x)/dp df_c'(x')/dp, is
 *   Theta_cc'(x, x') = sum_{l=1}^{D+1} (delta^l_c(x) . delta^l_c'(x'))
 *                      (m_l^2 h^{l-1}(x) . h^{l-1}(x') + beta^2),
 * h^0 = x. (The NTK parameterisation's sw^2 h.h'/n_{l-1} + sb^2; the
 * standard one's h.h' + 1; alpha enters as alpha^2 through delta^{D+1}.)
 * Each layer costs two GEMMs over a block of rows: the Gram of the h^{l-1}
 * rows and the Gram of the delta^l rows, multiplied entrywise and summed.
 * The class-averaged kernel (1/c) sum_c Theta_cc, the one compared with
 * the analytic NTK, needs the delta Gram summed over c: the c deltas of a
 * row laid end to end are one row of c width[l] entries, one GEMM.
 *
 * Memory: the rows are taken in blocks; a block's forward values and
 * deltas, sum_l (width[l-1] + c width[l]) numbers a row, are made once per
 * block of A and once per block of B and A (all of B once when it fits one
 * block). km_entk_estimate is the planner's figure; the block is the
 * largest that fits --mem beside what the caller holds.
 *
 * Precision: float32 (km_entk_gram) and float64 (km_entk_gram_f64) are the
 * same code, a template instantiated twice (src/nn/entk_impl.h) with
 * sgemm or dgemm: the float64 one is what the unit tests hold to 1e-6
 * against finite-difference Jacobians (float32 differences would be
 * rounding), and since it shares every line with the float32 one, that
 * test checks the float32 algorithm too; the float32 result is then held
 * to the float64 one within float32 accuracy. The float64 path takes the
 * network's float32 weights widened, so both compute the kernel of the
 * same network. */
#ifndef KMILL_ENTK_H
#define KMILL_ENTK_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/mlp.h"
#include "kmill/plan.h"

/* What km_entk_gram computes:
 * KM_ENTK_MEAN: K (na x nb) = (1/c) sum_c Theta_cc(A_i, B_j);
 * KM_ENTK_FULL: K (na c x nb c), K[(i c + a) * nb c + j c + b] =
 *               Theta_ab(A_i, B_j). */
enum { KM_ENTK_MEAN = 0, KM_ENTK_FULL = 1 };

/* Bytes km_entk_gram holds beside K and the rows for blocks of `block`
 * rows, with numbers of `real` bytes (4 or 8; 8 adds the widened
 * weights). */
uint64_t km_entk_estimate(const km_mlp *net, size_t block, int mode, size_t real);

/* The block for na x nb rows: the largest (at most max(na, nb), halved
 * from there) whose estimate fits ctx->mem_budget beside held (a plan of
 * what the caller holds, K included; NULL: nothing). KM_ENOMEM with the
 * plan's items when a block of one row does not fit. */
int km_entk_block(km_ctx *ctx, const km_mlp *net, size_t na, size_t nb, int mode, size_t real,
                  const km_plan *held, size_t *block);

/* K = the empirical NTK between rows A (na x d) and B (nb x d), d =
 * net->width[0], laid out as `mode` says (leading dimension nb or nb c).
 * A and B may be the same array (then each block's values are made
 * once). BLAS runs at ctx->threads. KM_ENOMEM (budget or allocation),
 * KM_EINTR between blocks. */
int km_entk_gram(km_ctx *ctx, const km_mlp *net, const float *A, size_t na, const float *B,
                 size_t nb, int mode, const km_plan *held, float *K);
int km_entk_gram_f64(km_ctx *ctx, const km_mlp *net, const double *A, size_t na,
                     const double *B, size_t nb, int mode, const km_plan *held, double *K);

/* ||K - R||_F / ||R||_F over n entries, in float64 (inf when R is 0 and K
 * is not, 0 when both are). */
double km_rel_frobenius(const float *K, const float *R, size_t n);

/* The kernel distance of Fort et al. (2020),
 * 1 - <K0, K1> / (||K0||_F ||K1||_F): 0 for kernels equal up to scale, at
 * most 2. NaN when either is 0. */
double km_kernel_distance(const float *K0, const float *K1, size_t n);

#endif
