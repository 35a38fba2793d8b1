/* kernel.h - kernel tiles for kernel ridge regression
 * (kmill-algorithms(7), KERNELS).
 *
 * A tile is the block K[i][j] = k(A_i, B_j) of the kernel matrix between
 * rows A (na x d) and rows B (nb x d). The solvers (kmill/solve.h) take
 * K through a callback, so K is built, kept or recomputed tile by tile,
 * in parallel over tiles (the tile store, kmill-algorithms(7), TILE STORE). Each tile is one
 * GEMM through the expansion ||a - b||^2 = ||a||^2 + ||b||^2 - 2 a.b, then
 * one vectorised pass for the distance and the exponential, written over
 * the GEMM's output in place.
 *
 * Precision: float32, the row norms accumulated in float64. The
 * expansion cancels: a squared distance is known only to about
 * eps (||a||^2 + ||b||^2) (times a factor growing with d), so a
 * self-distance comes out as rounding noise rather than 0. For the
 * Gaussian kernel that costs little (with L the typical distance, a
 * symmetric tile's diagonal is 1 - 1e-6 at d = 784, not 1); the Laplace
 * kernel's square root would magnify it to 1e-3, so its near pairs (squared distance under 2^-10 of the norms'
 * sum) are recomputed from the rows in float64, and equal rows give
 * exactly 1. Data far from the origin compared with its spread loses
 * more: centre the columns first. Callers that need the exact self-pair
 * of a Gaussian tile drop it by index (kmill-algorithms(7), KERNELS).
 *
 * The dot-product kernels (NTK, NNGP; dotk.c) take the same GEMM, scaled
 * by sw2 / d, and the row norms; their error is stated at km_kernel_tile. */
#ifndef KMILL_KERNEL_H
#define KMILL_KERNEL_H

#include <stddef.h>

#include "kmill/error.h"
#include "kmill/pool.h"

enum { KM_KERNEL_LAPLACE = 0, KM_KERNEL_GAUSSIAN = 1, KM_KERNEL_NTK = 2, KM_KERNEL_NNGP = 3 };

/* The deepest NTK or NNGP (hidden layers): a tile keeps one float per
 * layer per column of a 256-column chunk on the stack. */
#define KM_KERNEL_MAX_DEPTH 64

/* Radial kernels, of ||a - b|| alone (k(x, x) = 1):
 * Laplace: exp(-||a-b|| / L). Gaussian: exp(-||a-b||^2 / (2 L^2)).
 * bandwidth L > 0; depth, sw2, sb2 unused (0).
 * Dot-product kernels, the infinite-width limits of a fully connected
 * ReLU network with depth hidden layers in the NTK parameterisation,
 * weight variance sw2 > 0 and bias variance sb2 >= 0 (kmill-algorithms(7),
 * ANALYTIC NTK AND NNGP), functions of a.b, ||a||, ||b|| and d: with
 * K^0 = a.b / d, T^0 = 0, for l = 1 .. depth + 1
 *     S^l = sw2 K^(l-1) + sb2,   Q^l = S^l + sw2 T^(l-1),
 * and for l <= depth, with q, q' the S^l of (a, a) and (b, b),
 *     r = sqrt(max(q q' - S^2, 0)),  theta = atan2(r, S),
 *     K^l = (r + (pi - theta) S) / (2 pi),  T^l = Q^l (pi - theta) / (2 pi);
 * NNGP: S^(depth+1), NTK: Q^(depth+1). bandwidth unused (0). */
typedef struct km_kernel {
    int type;
    double bandwidth;
    int depth;
    double sw2, sb2;
} km_kernel;

/* Whether k is radial (Laplace, Gaussian: a bandwidth, k(x, x) = 1, a
 * gradient of the form km_kernel_grad_tile computes) rather than a
 * dot-product kernel (NTK, NNGP). */
int km_kernel_radial(const km_kernel *k);

/* k(x, x) for a row of squared norm sqnorm in d features, in float64: 1
 * for a radial kernel, the diagonal recursion for a dot-product one
 * (S^l(x, x) = sw2 K^(l-1) + sb2, K^l(x, x) = S^l(x, x) / 2, the angle
 * being 0). */
double km_kernel_self(const km_kernel *k, double sqnorm, size_t d);

/* k's name and parameters for people: "laplace, bandwidth 10" or
 * "ntk, depth 3, sw2 2, sb2 0.1" (%g), truncated to n bytes. */
void km_kernel_describe(const km_kernel *k, char *buf, size_t n);

/* The name of k->type: "laplace", "gaussian", "ntk" or "nngp". */
const char *km_kernel_name(int type);

/* Squared Euclidean norms of the n rows of X (n x d, row-major),
 * accumulated in float64, stored as float. */
void km_row_sqnorms(const float *X, size_t n, size_t d, float *out);

/* The tile K[i*ldk + j] = k(A_i, B_j) for i < na, j < nb (A: na x d, B:
 * nb x d, both row-major and dense; ldk >= nb; na, nb, d, ldk below
 * INT_MAX, the BLAS index type). an, bn: the rows' squared norms from
 * km_row_sqnorms. A and B may be the same rows (a symmetric tile).
 * One cblas_sgemm (A B^T) then a fused pass: D2 = an[i] + bn[j] - 2 G,
 * clamped at 0, then the square root (Laplace) and the exponential.
 * Laplace: near pairs fixed up from the rows (above). Single-threaded
 * apart from the BLAS itself: the caller parallelises over tiles and sets
 * the BLAS thread count. Allocates nothing. At small d the pass costs
 * about as much as the GEMM and rereads its output: a tile that fits the
 * L2 cache (na * ldk * 4 bytes, e.g. 64 x 4096) keeps that reread cheap.
 * A NaN in the data gives NaN entries. Values below about 1e-38 are 0
 * (km_vexp).
 * NTK and NNGP: the GEMM gives sw2 K^0, the recursion runs elementwise
 * over the tile in float32 with each row's and column's diagonal terms
 * (q, q' of every layer) from their norms in float64. Its error is
 * dominated by the angle, known to about eps / theta from q q' - S^2;
 * pairs whose angle at some layer is under about 0.03 (q q' - S^2 under
 * 2^-10 q q') are recomputed from the rows in float64, equal rows
 * giving the float64 k(x, x). Elsewhere the values are within about
 * 1e-6 of the pair's scale sqrt(k(a, a) k(b, b)) from the float64
 * recursion (tests/unit/test_dotk.c checks 2e-6 at depths 1 and 3, d = 5
 * and 784): relative to the value itself wherever it is not far below
 * that scale, as it is only for nearly opposite rows without biases. */
void km_kernel_tile(const km_kernel *k, const float *A, size_t na, const float *an,
                    const float *B, size_t nb, const float *bn, size_t d, float *K, size_t ldk);

/* The weights of the kernel's gradient (kmill-algorithms(7), KERNELS), same arguments as
 * km_kernel_tile, for a radial kernel only (the dot-product kernels'
 * gradients have another form, which the RFM does not take):
 * grad_a k(a, b) = W (b - a) / L^q with
 * Laplace: W = k(a, b) / ||a - b|| (q = 1), 0 for pairs closer than
 * float32 resolves (about 2^-20 of the rows' norms), where k has no
 * gradient; Gaussian: W = k(a, b) (q = 2). */
void km_kernel_grad_tile(const km_kernel *k, const float *A, size_t na, const float *an,
                         const float *B, size_t nb, const float *bn, size_t d, float *W,
                         size_t ldw);

/* y[i] = exp(x[i]) for x[i] <= 0, within 4 ulp where the result is at
 * least FLT_MIN; results below about 1e-38 (x < -87.5) are flushed to 0:
 * a kernel value that small is 0 to every use of it. exp(0) = 1 exactly,
 * exp(-inf) = 0, NaN stays NaN. x > 0 is outside the contract. x and y may
 * be the same array. */
void km_vexp(const float *x, float *y, size_t n);

/* Mahalanobis kernels (the RFM's k_M, kmill-algorithms(7), KERNELS): k evaluated at
 * ||a - b||_M = sqrt((a-b)^T M (a-b)), M symmetric positive semi-definite.
 * They are the plain kernels on the rows x S with S = M^(1/2), so the tiles
 * above serve them unchanged once the rows are transformed: the root is
 * taken once (an eigendecomposition in float64, negative eigenvalues from
 * rounding clamped to 0), each row costs one product with S.
 * Diagonal M: m holds the d diagonal entries and S their square roots. */
enum { KM_METRIC_NONE = 0, KM_METRIC_DIAG = 1, KM_METRIC_FULL = 2 };

/* S (d x d, or d for KM_METRIC_DIAG) from M. KM_EINVAL when M has a NaN or
 * a negative diagonal entry, KM_ENUMERIC when the eigensolver fails. */
int km_metric_root(const float *M, size_t d, int metric, float *S, km_err *e);
/* out (n x d) = X S; out may be X for the diagonal metric only. */
void km_metric_rows(const float *X, size_t n, size_t d, const float *S, int metric, float *out);

/* K = k(A, B) (na x nb, leading dimension ldk) computed in parallel over
 * row strips of A; an, bn as for km_kernel_tile. pool may be NULL. */
void km_kernel_matrix(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                      const float *an, const float *B, size_t nb, const float *bn, size_t d,
                      float *K, size_t ldk);
/* The same for km_kernel_grad_tile's gradient weights (the AGOP). */
void km_kernel_grad_matrix(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                           const float *an, const float *B, size_t nb, const float *bn, size_t d,
                           float *W, size_t ldw);

#endif
