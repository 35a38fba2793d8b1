/* kernel.c - kernel tiles: one GEMM, then a vectorised distance and
 * exponential pass (see include/kmill/kernel.h; kmill-algorithms(7), KERNELS).
 *
 * At large d the GEMM does nearly all the work and the pass is noise; at
 * small d (tens of features) the GEMM costs a few cycles per entry and the
 * pass as much again, so the pass is written to vectorise: a branch-free
 * exponential and square root of our own (libm's are a call per element,
 * see sqrt_pos for why not even sqrtf), built for AVX-512, AVX2 and the
 * baseline, chosen at run time like the .kmx writer's hot loops. On
 * AVX-512 CPUs the Laplace rows use the hardware's 1/sqrt estimate
 * (intrinsics, chosen at run time), and at d <= 64 the product comes from
 * gram.c and the tile is made in pieces that stay in cache (tile_small). */
#include "config.h"
#include <cblas.h>
#include <lapacke.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/kernel.h"
#include "kern/dotk.h"
#include "kern/gram.h"
#include "kern/vmath.h"

/* The clones: AVX-512 and AVX2 as x86-64-v4 and -v3, because those
 * levels include FMA (-mavx2 does not imply -mfma) and AVX512VL (without
 * it the AVX-512 clone's 256-bit loop epilogue has no FMA and rounds
 * differently from the loop body). So within a clone every part of a
 * loop rounds alike and a kernel value does not depend on its column's
 * place in the tile; the baseline (SSE2) clone has no FMA at all, and its
 * results can differ from the others' in the last bit (its accuracy was
 * checked against the same bounds as the tests'). Dispatch is on CPU
 * features at run time: no -march flag. fp-contract=fast (GNU C's
 * default, not ISO C's) makes the fusing independent of -std.
 * no-trapping-math: an ordered comparison of a NaN raises the invalid
 * flag, so under the default -ftrapping-math GCC will not if-convert the
 * selects below and only the AVX-512 clone (masked) vectorises. Nothing
 * here reads the flags. */
#include "core/hot.h"

/* ---- exponential ---------------------------------------------------------
 * exp(x) = 2^k exp(r), x = k ln2 + r, k = round(x / ln2), |r| <= ln2/2.
 * The magic constant 1.5 * 2^23 rounds x / ln2 to an integer in the low
 * mantissa bits without a float-to-int conversion (which is undefined for
 * NaN and out-of-range values). ln2 is split in two (Cody-Waite): LN2_HI
 * has 9 significant bits, so k * LN2_HI is exact for |k| < 2^15 and
 * x - k LN2_HI loses nothing; LN2_LO carries the rest. exp(r) is
 * 1 + r + r^2 P(r), P of degree 4 (degree 6 in all): minimax for the
 * relative error on [-ln2/2, ln2/2] (a Remez fit, 3.1e-9 there before the
 * coefficients' rounding to float, about 0.05 ulp). 2^k is built by
 * writing k + 127 into the exponent bits of a float and multiplied in;
 * k >= -126 for every x kept, so 2^k is a normal number and results
 * between 2^-126 and the flush limit come out as the correctly rounded
 * subnormal of p 2^k.
 *
 * Below EXP_MIN = -87.5 (exp = 9.9e-39, just under FLT_MIN) the result is
 * 0: a kernel value that small is 0 to every sum it enters, and stopping
 * there keeps 2^k normal. x is clamped at EXP_MIN first so that -inf and
 * huge negatives take the same path (no inf - inf NaN inside); the select
 * at the end writes the 0. NaN fails both comparisons, flows through and
 * stays NaN (NaN times anything). */
#define EXP_MIN (-87.5f)
#define LOG2E 1.44269504088896341f
#define LN2_HI 0.693359375f          /* 0x1.63p-1 */
#define LN2_LO (-2.12194440054690583e-4f) /* ln2 - LN2_HI */
#define ROUND_MAGIC 12582912.0f      /* 0x1.8p23 */
#define ROUND_MAGIC_BITS 0x4B400000u
#define P2 0x1.fffffcp-2f
#define P3 0x1.555492p-3f
#define P4 0x1.5558f2p-5f
#define P5 0x1.123a2p-7f
#define P6 0x1.6a23d0p-10f

static inline __attribute__((always_inline)) float exp_neg(float x)
{
    float xc = x < EXP_MIN ? EXP_MIN : x;
    float m = xc * LOG2E + ROUND_MAGIC;
    uint32_t mb;
    memcpy(&mb, &m, 4);
    float kf = m - ROUND_MAGIC; /* round(x / ln2), exactly */
    float r = (xc - kf * LN2_HI) - kf * LN2_LO;
    float q = P6;
    q = q * r + P5;
    q = q * r + P4;
    q = q * r + P3;
    q = q * r + P2;
    float p = 1.0f + (r + (r * r) * q);
    /* mb - ROUND_MAGIC_BITS = k; unsigned arithmetic stays defined for
     * the garbage bits a NaN brings */
    uint32_t sb = (mb - ROUND_MAGIC_BITS + 127u) << 23;
    float s;
    memcpy(&s, &sb, 4);
    float y = p * s;
    return x < EXP_MIN ? 0.0f : y;
}

/* Two loops so that neither breaks the aliasing rules: restrict lets GCC
 * vectorise without a run-time overlap check, which an in-place call would
 * fail and run scalar. */
KM_HOT static void vexp_copy(const float *restrict x, float *restrict y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = exp_neg(x[i]);
}

KM_HOT static void vexp_inplace(float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        y[i] = exp_neg(y[i]);
}

void km_vexp(const float *x, float *y, size_t n)
{
    if (x == y)
        vexp_inplace(y, n);
    else
        vexp_copy(x, y, n);
}

/* ---- norms and tiles ------------------------------------------------------ */

void km_row_sqnorms(const float *X, size_t n, size_t d, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const float *x = X + i * d;
        /* float64: the norms enter the expansion, where their rounding is
         * amplified by the cancellation; four sums break the dependence
         * chain (the compiler may not reassociate one) */
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        size_t k = 0;
        for (; k + 4 <= d; k += 4) {
            s0 += (double)x[k] * x[k];
            s1 += (double)x[k + 1] * x[k + 1];
            s2 += (double)x[k + 2] * x[k + 2];
            s3 += (double)x[k + 3] * x[k + 3];
        }
        for (; k < d; k++)
            s0 += (double)x[k] * x[k];
        out[i] = (float)((s0 + s1) + (s2 + s3));
    }
}

/* ---- square root: sqrt_pos, kern/vmath.h ---------------------------- */

/* The pass, one row at a time, in place over the row of K, which holds
 * -2 A_i B^T on entry. d2 < 0 ? 0 : d2 rather than fmaxf(d2, 0) so that
 * NaN (from NaN data) survives to the output instead of becoming a
 * distance of 0 and a kernel value of 1. */
KM_HOT static void gaussian_row(float a, const float *restrict bn, float *restrict row, size_t nb,
                                float scale)
{
    for (size_t j = 0; j < nb; j++) {
        float d2 = a + bn[j] + row[j];
        d2 = d2 < 0.0f ? 0.0f : d2;
        row[j] = exp_neg(d2 * scale);
    }
}

/* The expansion knows d2 only to some delta ~ c eps (||a||^2 + ||b||^2)
 * (c grows with d: float sums inside the GEMM), and the Laplace kernel's
 * square root magnifies that near 0 to sqrt(delta) / L: an exact
 * self-pair comes out around 1 - 1e-3 on ordinary data (as large as the
 * default ridge), and at small d, where close pairs are common, errors
 * reach 1e-4. So entries with d2 below NEAR_TAU (||a||^2 + ||b||^2),
 * where d2's relative error can pass c eps / NEAR_TAU, are flagged (the
 * value stored negated, a sign no kernel value has) and recomputed from
 * the rows by fix_row. Above the limit the error in the kernel value is
 * at most about delta / (2 L sqrt(d2)) = c eps sqrt(||a||^2 + ||b||^2)
 * / (2 L sqrt(NEAR_TAU)): 16 c eps times the norms' scale over L, a few
 * 1e-5 at worst for d = 784. The Gaussian kernel has no square root: its
 * error stays delta / (2 L^2), under 1e-6 even on the diagonal at
 * d = 784, so it goes without. On centred data only near-duplicate pairs fall below
 * the limit; on data far from the origin compared with its spread many
 * do (and the expansion is poor for both kernels): centre the columns
 * first. Returns nonzero when the row has a flagged entry. */
#define NEAR_TAU 0x1p-10f

KM_HOT static unsigned laplace_row(float a, const float *restrict bn, float *restrict row, size_t nb,
                                   float scale)
{
    unsigned any = 0;
    for (size_t j = 0; j < nb; j++) {
        float nsum = a + bn[j];
        float d2 = nsum + row[j];
        d2 = d2 < 0.0f ? 0.0f : d2;
        unsigned near = d2 < NEAR_TAU * nsum;
        float v = exp_neg(sqrt_pos(d2) * scale);
        row[j] = near ? -v : v;
        any |= near;
    }
    return any;
}

/* The flagged entries of a row, from the definition: sum (a_k - b_k)^2 in
 * float64, 0 exactly for a pair of equal rows. Rare, so plain code. */
static void fix_row(const float *a, const float *B, size_t d, float *row, size_t nb, double L)
{
    for (size_t j = 0; j < nb; j++) {
        if (!signbit(row[j]) || isnan(row[j]))
            continue;
        const float *b = B + j * d;
        double s = 0;
        for (size_t k = 0; k < d; k++)
            s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
        double v = exp(-sqrt(s) / L);
        row[j] = v < FLT_MIN ? 0.0f : (float)v; /* as exp_neg flushes */
    }
}

/* ---- gradient weights (the AGOP; kmill-algorithms(7), KERNELS) --------------------------
 * The gradient of a Laplace kernel in its first argument is
 * -(k / (L ||a-b||)) (a - b): the weight k / D, with D from the same
 * expansion as the tile, near pairs recomputed from the rows in float64
 * (fix_grad_row). Pairs closer than GRAD_TAU sqrt(||a||^2 + ||b||^2),
 * float32's resolution of the rows (an exact duplicate, or one that
 * rounding made one), get weight 0: the kernel is not differentiable
 * there and 1/D would be rounding noise magnified. A zero distance is
 * flagged (<=, so two zero rows are caught as well). The Gaussian's
 * weight is k itself: km_kernel_tile. */
#define GRAD_TAU2 0x1p-40

KM_HOT static unsigned laplace_grad_row(float a, const float *restrict bn, float *restrict row,
                                        size_t nb, float scale)
{
    unsigned any = 0;
    for (size_t j = 0; j < nb; j++) {
        float nsum = a + bn[j];
        float d2 = nsum + row[j];
        d2 = d2 < 0.0f ? 0.0f : d2;
        unsigned near = d2 <= NEAR_TAU * nsum;
        float s = sqrt_pos(d2);
        float v = exp_neg(s * scale) / (near ? 1.0f : s);
        row[j] = near ? -1.0f : v;
        any |= near;
    }
    return any;
}

static void fix_grad_row(const float *a, double an, const float *B, const float *bn, size_t d,
                         float *row, size_t nb, double L)
{
    for (size_t j = 0; j < nb; j++) {
        if (row[j] != -1.0f)
            continue;
        const float *b = B + j * d;
        double s = 0;
        for (size_t k = 0; k < d; k++)
            s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
        if (s <= GRAD_TAU2 * (an + bn[j])) {
            row[j] = 0.0f;
            continue;
        }
        s = sqrt(s);
        double v = exp(-s / L);
        row[j] = v < FLT_MIN ? 0.0f : (float)(v / s);
    }
}

/* what a tile's pass makes of -2 a.b: kernel values, or gradient weights */
enum { PASS_LAPLACE, PASS_GRAD, PASS_GAUSSIAN };

/* ---- the pass on AVX-512 ----------------------------------------------
 * At small d the Laplace pass cost twice the Gaussian's, and half of it
 * was sqrt_pos's dozen operations. AVX-512 has an estimate of 1/sqrt good
 * to 2^-14 (vrsqrt14ps) that GCC will not emit from portable code without
 * -ffast-math, so on CPUs that have it the pass (both kernels and the
 * gradient weights) is written with intrinsics and chosen at run time,
 * and serves tile_small below: the estimate y, s = x y, one Newton
 * step s (1 + e/2) with e = 1 - x y^2 (relative error about 1.5 2^-28
 * before rounding, the same float rounding as sqrt_pos), and for the
 * gradient 1/s = y (1 + e/2) from the same e instead of a division. d2 is
 * clamped at FLT_MIN instead of 0 (the estimate of 1/sqrt(0) is inf): its
 * kernel value is 1 either way, and such pairs are near and recomputed.
 * The flag for near pairs is a mask register; the exponential is exp_neg
 * step for step but for 2^k, which vscalefps applies. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#include <immintrin.h>
#define ROWS512 1
#define AVX512 __attribute__((target("avx512f")))

static inline __attribute__((always_inline)) AVX512 __m512 exp_neg16(__m512 x)
{
    __m512 m = _mm512_fmadd_ps(x, _mm512_set1_ps(LOG2E), _mm512_set1_ps(ROUND_MAGIC));
    __m512 kf = _mm512_sub_ps(m, _mm512_set1_ps(ROUND_MAGIC));
    __m512 r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(LN2_HI), x);
    r = _mm512_fnmadd_ps(kf, _mm512_set1_ps(LN2_LO), r);
    __m512 q = _mm512_fmadd_ps(_mm512_set1_ps(P6), r, _mm512_set1_ps(P5));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P4));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P3));
    q = _mm512_fmadd_ps(q, r, _mm512_set1_ps(P2));
    __m512 p = _mm512_add_ps(_mm512_set1_ps(1.0f), _mm512_fmadd_ps(_mm512_mul_ps(r, r), q, r));
    /* p 2^k in one instruction, which needs no clamp of x: vscalefps
     * underflows to 0 (or a subnormal) by itself; below EXP_MIN the
     * result is flushed to 0 as exp_neg does, so no subnormal reaches
     * the products. A NaN x gives NaN (not below EXP_MIN). */
    __m512 y = _mm512_scalef_ps(p, kf);
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, _mm512_set1_ps(EXP_MIN), _CMP_LT_OQ),
                              _mm512_setzero_ps());
}

static inline __attribute__((always_inline)) AVX512 __mmask16 tail_mask(size_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}


/* One row of the pass from src (-2 a.b, as the product left it) to dst;
 * kind is a constant in each caller. The Laplace kernel value flags near
 * pairs by negating them, the gradient weight k / D by -1 (as laplace_row
 * and laplace_grad_row do). stream: whole aligned vectors go out with
 * non-temporal stores, for a tile that will not be read soon: it then
 * costs memory one write, without the read-for-ownership of each line. */
static inline __attribute__((always_inline)) AVX512 unsigned
pass512(int kind, float a, const float *bn, const float *src, float *dst, size_t nb, float scale,
        int stream)
{
    __m512 va = _mm512_set1_ps(a), vs = _mm512_set1_ps(scale), tau = _mm512_set1_ps(NEAR_TAU);
    __m512 tiny = _mm512_set1_ps(FLT_MIN), one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
    __m512 half = _mm512_set1_ps(0.5f), hvs = _mm512_set1_ps(0.5f * scale);
    __mmask16 any = 0;
    stream = stream && ((uintptr_t)dst & 63) == 0;
    for (size_t j = 0; j < nb; j += 16) {
        __mmask16 m = tail_mask(nb - j);
        __m512 nsum = _mm512_add_ps(va, _mm512_maskz_loadu_ps(m, bn + j));
        __m512 d2 = _mm512_add_ps(nsum, _mm512_maskz_loadu_ps(m, src + j));
        __m512 v;
        if (kind == PASS_GAUSSIAN) {
            /* max(0, d2) keeps a NaN d2 */
            v = exp_neg16(_mm512_mul_ps(_mm512_max_ps(zero, d2), vs));
        } else {
            /* < for the kernel, <= for the weights */
            __mmask16 near = _mm512_mask_cmp_ps_mask(m, d2, _mm512_mul_ps(tau, nsum),
                                                     kind == PASS_GRAD ? _CMP_LE_OQ : _CMP_LT_OQ);
            d2 = _mm512_max_ps(tiny, d2);
            __m512 y = _mm512_rsqrt14_ps(d2);
            __m512 s = _mm512_mul_ps(d2, y);
            __m512 e = _mm512_fnmadd_ps(s, y, one);
            if (kind == PASS_GRAD) {
                __m512 he = _mm512_mul_ps(half, e);
                __m512 rs = _mm512_fmadd_ps(y, he, y); /* 1/s */
                s = _mm512_fmadd_ps(s, he, s);
                v = _mm512_mul_ps(exp_neg16(_mm512_mul_ps(s, vs)), rs);
                v = _mm512_mask_mov_ps(v, near, _mm512_set1_ps(-1.0f));
            } else {
                /* scale s (1 + e/2) = s (scale + e scale/2): the Newton
                 * step and the multiply by -1/L in two operations */
                v = exp_neg16(_mm512_mul_ps(s, _mm512_fmadd_ps(e, hvs, vs)));
                /* -0 - v: the flag survives v = 0 (0 - 0 would be +0) */
                v = _mm512_mask_sub_ps(v, near, _mm512_set1_ps(-0.0f), v);
            }
            any |= near;
        }
        if (stream && m == 0xffff)
            _mm512_stream_ps(dst + j, v);
        else
            _mm512_mask_storeu_ps(dst + j, m, v);
    }
    return any != 0;
}

static AVX512 unsigned laplace_row512(float a, const float *bn, const float *src, float *dst,
                                      size_t nb, float scale, int stream)
{
    return pass512(PASS_LAPLACE, a, bn, src, dst, nb, scale, stream);
}

static AVX512 unsigned laplace_grad_row512(float a, const float *bn, const float *src, float *dst,
                                           size_t nb, float scale, int stream)
{
    return pass512(PASS_GRAD, a, bn, src, dst, nb, scale, stream);
}

static AVX512 unsigned gaussian_row512(float a, const float *bn, const float *src, float *dst,
                                       size_t nb, float scale, int stream)
{
    return pass512(PASS_GAUSSIAN, a, bn, src, dst, nb, scale, stream);
}

/* A tile at d <= KM_GRAM_MAX_D on AVX-512 (km_gram_fast). At such d a
 * kernel entry costs a few cycles, and two threads writing whole tiles
 * through the caches were found to slow each other down by 1.7x (the L3
 * and memory are shared, with other tenants too). So the tile is made in
 * pieces that stay in L1 and L2: per chunk of 256 columns of B, its panel
 * once (gram.c), then 32 rows at a time the product into a 32 KiB
 * scratch, and the pass from the scratch straight into K, with streaming
 * stores. Near pairs are fixed in K afterwards, as in
 * the plain path. */
#define SMALL_ROWS 32

static AVX512 void tile_small(int kind, const float *A, size_t na, const float *an,
                              const float *B, size_t nb, const float *bn, size_t d, float *K,
                              size_t ldk, double L, float scale)
{
    float Bt[KM_GRAM_MAX_D * KM_GRAM_COLS] __attribute__((aligned(64)));
    float S[SMALL_ROWS * KM_GRAM_COLS] __attribute__((aligned(64)));
    for (size_t c0 = 0; c0 < nb; c0 += KM_GRAM_COLS) {
        size_t cn = nb - c0 < KM_GRAM_COLS ? nb - c0 : KM_GRAM_COLS;
        const float *Bc = B + c0 * d;
        km_gram_panel(Bc, cn, d, Bt);
        for (size_t r0 = 0; r0 < na; r0 += SMALL_ROWS) {
            size_t rn = na - r0 < SMALL_ROWS ? na - r0 : SMALL_ROWS;
            km_gram_rows(A + r0 * d, rn, Bt, cn, d, S, KM_GRAM_COLS);
            for (size_t i = r0; i < r0 + rn; i++) {
                const float *src = S + (i - r0) * KM_GRAM_COLS;
                float *dst = K + i * ldk + c0;
                if (kind == PASS_GAUSSIAN)
                    gaussian_row512(an[i], bn + c0, src, dst, cn, scale, 1);
                else if (kind == PASS_LAPLACE) {
                    if (laplace_row512(an[i], bn + c0, src, dst, cn, scale, 1))
                        fix_row(A + i * d, Bc, d, dst, cn, L);
                } else if (laplace_grad_row512(an[i], bn + c0, src, dst, cn, scale, 1)) {
                    fix_grad_row(A + i * d, an[i], Bc, bn + c0, d, dst, cn, L);
                }
            }
        }
    }
    _mm_sfence(); /* the streamed tile in memory before others read it */
}
#endif

/* the pass for one row of a Laplace tile (1) or of its gradient weights,
 * in place after sgemm */
static unsigned laplace_pass(int grad, float a, const float *bn, float *row, size_t nb,
                             float scale)
{
#ifdef ROWS512
    if (__builtin_cpu_supports("avx512f"))
        return grad ? laplace_grad_row512(a, bn, row, row, nb, scale, 0)
                    : laplace_row512(a, bn, row, row, nb, scale, 0);
#endif
    return grad ? laplace_grad_row(a, bn, row, nb, scale) : laplace_row(a, bn, row, nb, scale);
}

/* The product, then the pass, for a tile of kind (d > 0, na, nb > 0):
 * gram.c's product and tile_small where they serve, else sgemm and the
 * pass row by row in place. */
static void tile(int kind, const float *A, size_t na, const float *an, const float *B, size_t nb,
                 const float *bn, size_t d, float *K, size_t ldk, double L, float scale)
{
#ifdef ROWS512
    if (km_gram_fast(d)) {
        tile_small(kind, A, na, an, B, nb, bn, d, K, ldk, L, scale);
        return;
    }
#endif
    /* alpha = -2 is exact, so K holds -2 G with G's own rounding only */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)d, -2.0f, A,
                (int)d, B, (int)d, 0.0f, K, (int)ldk);
    for (size_t i = 0; i < na; i++) {
        float *row = K + i * ldk;
        if (kind == PASS_GAUSSIAN) {
            gaussian_row(an[i], bn, row, nb, scale);
        } else if (laplace_pass(kind == PASS_GRAD, an[i], bn, row, nb, scale)) {
            if (kind == PASS_GRAD)
                fix_grad_row(A + i * d, an[i], B, bn, d, row, nb, L);
            else
                fix_row(A + i * d, B, d, row, nb, L);
        }
    }
}

int km_kernel_radial(const km_kernel *k)
{
    return k->type == KM_KERNEL_LAPLACE || k->type == KM_KERNEL_GAUSSIAN;
}

double km_kernel_self(const km_kernel *k, double sqnorm, size_t d)
{
    return km_kernel_radial(k) ? 1.0 : km_dotk_self(k, sqnorm, d);
}

const char *km_kernel_name(int type)
{
    static const char *const names[] = {"laplace", "gaussian", "ntk", "nngp"};
    return type >= 0 && type <= KM_KERNEL_NNGP ? names[type] : "unknown";
}

void km_kernel_describe(const km_kernel *k, char *buf, size_t n)
{
    if (km_kernel_radial(k))
        snprintf(buf, n, "%s, bandwidth %g", km_kernel_name(k->type), k->bandwidth);
    else
        snprintf(buf, n, "%s, depth %d, sw2 %g, sb2 %g", km_kernel_name(k->type), k->depth, k->sw2,
                 k->sb2);
}

void km_kernel_tile(const km_kernel *k, const float *A, size_t na, const float *an,
                    const float *B, size_t nb, const float *bn, size_t d, float *K, size_t ldk)
{
    if (na == 0 || nb == 0)
        return;
    if (!km_kernel_radial(k)) {
        km_dotk_tile(k, A, na, an, B, nb, bn, d, K, ldk);
        return;
    }
    int gaussian = k->type == KM_KERNEL_GAUSSIAN;
    double L = k->bandwidth;
    if (d == 0) {
        /* no features: every distance is 0 (and BLAS rejects lda = 0) */
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++)
                K[i * ldk + j] = 1.0f;
        return;
    }
    /* the exponent is -D2 / (2 L^2) or -D / L: one multiply in the pass */
    tile(gaussian ? PASS_GAUSSIAN : PASS_LAPLACE, A, na, an, B, nb, bn, d, K, ldk, L,
         (float)(gaussian ? -1.0 / (2.0 * L * L) : -1.0 / L));
}

void km_kernel_grad_tile(const km_kernel *k, const float *A, size_t na, const float *an,
                         const float *B, size_t nb, const float *bn, size_t d, float *W,
                         size_t ldw)
{
    if (!km_kernel_radial(k)) { /* outside the contract: loudly wrong, not quietly */
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++)
                W[i * ldw + j] = NAN;
        return;
    }
    if (k->type == KM_KERNEL_GAUSSIAN || na == 0 || nb == 0) {
        km_kernel_tile(k, A, na, an, B, nb, bn, d, W, ldw);
        return;
    }
    if (d == 0) { /* every distance is 0: no gradient */
        for (size_t i = 0; i < na; i++)
            memset(W + i * ldw, 0, nb * sizeof *W);
        return;
    }
    tile(PASS_GRAD, A, na, an, B, nb, bn, d, W, ldw, k->bandwidth, (float)(-1.0 / k->bandwidth));
}

int km_metric_root(const float *M, size_t d, int metric, float *S, km_err *e)
{
    if (metric == KM_METRIC_DIAG) {
        for (size_t j = 0; j < d; j++) {
            if (!(M[j] >= 0)) /* also NaN */
                return km_seterr(e, KM_EINVAL, "metric entry %zu is %g, not a non-negative number",
                                 j + 1, (double)M[j]);
            S[j] = sqrtf(M[j]);
        }
        return 0;
    }
    double *A = malloc(d * d * sizeof *A), *w = malloc(d * sizeof *w);
    if (!A || !w) {
        free(A);
        free(w);
        return km_seterr(e, KM_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < d * d; i++) {
        A[i] = 0.5 * ((double)M[i] + (double)M[(i % d) * d + i / d]); /* symmetrise */
        if (isnan(A[i])) {
            free(A);
            free(w);
            return km_seterr(e, KM_EINVAL, "the metric matrix has a NaN entry");
        }
    }
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)d, A, (lapack_int)d, w);
    if (info) {
        free(A);
        free(w);
        return km_seterr(e, KM_ENUMERIC, "eigendecomposition of the metric matrix failed (%d)",
                         (int)info);
    }
    /* S = V diag(sqrt(w)) V^T, columns of A are the eigenvectors */
    for (size_t k = 0; k < d; k++)
        w[k] = w[k] > 0 ? sqrt(w[k]) : 0;
    for (size_t i = 0; i < d; i++)
        for (size_t j = i; j < d; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += A[i * d + k] * w[k] * A[j * d + k];
            S[i * d + j] = S[j * d + i] = (float)s;
        }
    free(A);
    free(w);
    return 0;
}

void km_metric_rows(const float *X, size_t n, size_t d, const float *S, int metric, float *out)
{
    if (metric == KM_METRIC_DIAG) {
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < d; j++)
                out[i * d + j] = X[i * d + j] * S[j];
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)d, (int)d, 1.0f, X, (int)d,
                S, (int)d, 0.0f, out, (int)d);
}
