/* gram.c - the product K = -2 A B^T at the start of every kernel tile
 * (kernel.c), for rows of few features.
 *
 * At d = 784 OpenBLAS's sgemm runs near the machine's peak and this file
 * stays out of the way. At tabular sizes (d of a few tens) it does not:
 * each call packs all of B for a product of only d multiply-adds per
 * entry, and writes the whole na x nb result before the kernel pass reads
 * it back from beyond the L1 cache. Measured on the development machine
 * (one thread, na = 64, nb = 2048, d = 32), sgemm took 1.1-1.6 ns an entry,
 * more than the Laplace pass after it.
 *
 * So for d <= KM_GRAM_MAX_D on CPUs with AVX-512 the product is done here,
 * in column chunks of KM_GRAM_COLS: the chunk of B is transposed once into
 * a d x 256 panel on the stack (64 KiB at most; B^T rows are what the
 * register block loads as vectors), then blocks of 8 rows x 32 columns
 * are accumulated in 16 registers, k by k, each A element broadcast once
 * and used twice. km_kernel_tile keeps one panel for all its rows
 * (km_gram_panel, km_gram_rows) and runs its pass on 32 rows at a time
 * while they are in L1. Other CPUs and larger d keep sgemm (kernel.c).
 *
 * The sum over k is sequential in float32 with fused multiply-adds, so an
 * entry's rounding differs from sgemm's blocked order by a few ulps of the
 * dot product; kernel.c's error analysis (c eps (|a|^2 + |b|^2)) covers
 * both. -2 is applied at the store: exact. */
#include "config.h"
#include <stddef.h>

#include "kern/gram.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#include <immintrin.h>
#define GRAM_X86 1

#define AVX512 __attribute__((target("avx512f")))

/* one block of R <= 8 rows of A (row stride d) against 32 columns of the
 * panel Bt (row stride ldb), the first ncols of them stored into K */
static inline __attribute__((always_inline)) AVX512 void
block(const float *A, size_t d, const float *Bt, size_t ldb, float *K, size_t ldk, size_t ncols,
      int R)
{
    __m512 acc0[8], acc1[8];
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        acc0[r] = _mm512_setzero_ps();
        acc1[r] = _mm512_setzero_ps();
    }
    for (size_t k = 0; k < d; k++) {
        __m512 b0 = _mm512_load_ps(Bt + k * ldb);
        __m512 b1 = _mm512_load_ps(Bt + k * ldb + 16);
#pragma GCC unroll 8
        for (int r = 0; r < R; r++) {
            __m512 a = _mm512_set1_ps(A[(size_t)r * d + k]);
            acc0[r] = _mm512_fmadd_ps(a, b0, acc0[r]);
            acc1[r] = _mm512_fmadd_ps(a, b1, acc1[r]);
        }
    }
    __m512 m2 = _mm512_set1_ps(-2.0f);
    __mmask16 k0 = ncols >= 16 ? 0xffff : (__mmask16)((1u << ncols) - 1);
    __mmask16 k1 = ncols >= 32 ? 0xffff : ncols > 16 ? (__mmask16)((1u << (ncols - 16)) - 1) : 0;
#pragma GCC unroll 8
    for (int r = 0; r < R; r++) {
        _mm512_mask_storeu_ps(K + (size_t)r * ldk, k0, _mm512_mul_ps(acc0[r], m2));
        _mm512_mask_storeu_ps(K + (size_t)r * ldk + 16, k1, _mm512_mul_ps(acc1[r], m2));
    }
}

/* R as a constant in each call, so the unrolled block keeps its
 * accumulators in registers */
static AVX512 void rows_block(const float *A, size_t d, const float *Bt, size_t ldb, float *K,
                              size_t ldk, size_t ncols, size_t R)
{
    switch (R) {
    case 8: block(A, d, Bt, ldb, K, ldk, ncols, 8); break;
    case 7: block(A, d, Bt, ldb, K, ldk, ncols, 7); break;
    case 6: block(A, d, Bt, ldb, K, ldk, ncols, 6); break;
    case 5: block(A, d, Bt, ldb, K, ldk, ncols, 5); break;
    case 4: block(A, d, Bt, ldb, K, ldk, ncols, 4); break;
    case 3: block(A, d, Bt, ldb, K, ldk, ncols, 3); break;
    case 2: block(A, d, Bt, ldb, K, ldk, ncols, 2); break;
    default: block(A, d, Bt, ldb, K, ldk, ncols, 1); break;
    }
}

/* 16 rows of B (d columns, columns k0..k0+15 of them, fewer at the edge
 * through masks) into 16 columns of Bt: a 16 x 16 transpose in registers,
 * so the panel costs a few shuffles per element instead of a scalar load
 * and store each. Rows past nb read as 0. */
static AVX512 void transpose16(const float *B, size_t nrows, size_t d, size_t k0, float *Bt,
                               size_t ldb)
{
    size_t kn = d - k0 < 16 ? d - k0 : 16;
    __mmask16 km = kn == 16 ? 0xffff : (__mmask16)((1u << kn) - 1);
    __m512 r[16], t[16];
    for (size_t i = 0; i < 16; i++)
        r[i] = i < nrows ? _mm512_maskz_loadu_ps(km, B + i * d + k0) : _mm512_setzero_ps();
    /* 4 x 4 blocks of 4 x 4: unpack pairs, then quads, then 128-bit lanes */
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4q + s] now holds, in 128-bit lane l, column 4l + s of rows
     * 4q..4q+3. Gather lanes: first pairs of row quads, then pairs of
     * those. */
    for (int s = 0; s < 4; s++) {
        t[s] = _mm512_shuffle_f32x4(r[s], r[4 + s], 0x88);      /* lanes 0,2 of each */
        t[4 + s] = _mm512_shuffle_f32x4(r[s], r[4 + s], 0xdd);  /* lanes 1,3 */
        t[8 + s] = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0x88);
        t[12 + s] = _mm512_shuffle_f32x4(r[8 + s], r[12 + s], 0xdd);
    }
    for (int s = 0; s < 4; s++) {
        /* column 4l + s, l = 0..3 */
        __m512 c0 = _mm512_shuffle_f32x4(t[s], t[8 + s], 0x88);
        __m512 c2 = _mm512_shuffle_f32x4(t[s], t[8 + s], 0xdd);
        __m512 c1 = _mm512_shuffle_f32x4(t[4 + s], t[12 + s], 0x88);
        __m512 c3 = _mm512_shuffle_f32x4(t[4 + s], t[12 + s], 0xdd);
        if ((size_t)s < kn)
            _mm512_store_ps(Bt + (size_t)s * ldb, c0);
        if ((size_t)(4 + s) < kn)
            _mm512_store_ps(Bt + (size_t)(4 + s) * ldb, c1);
        if ((size_t)(8 + s) < kn)
            _mm512_store_ps(Bt + (size_t)(8 + s) * ldb, c2);
        if ((size_t)(12 + s) < kn)
            _mm512_store_ps(Bt + (size_t)(12 + s) * ldb, c3);
    }
}

static AVX512 void panel_avx512(const float *B, size_t nb, size_t d, float *Bt)
{
    size_t ldb = km_gram_ld(nb);
    for (size_t j = 0; j < ldb; j += 16)
        for (size_t k0 = 0; k0 < d; k0 += 16)
            transpose16(j < nb ? B + j * d : B, j < nb ? nb - j : 0, d, k0, Bt + k0 * ldb + j,
                        ldb);
}

static AVX512 void rows_avx512(const float *A, size_t na, const float *Bt, size_t nb, size_t d,
                               float *K, size_t ldk)
{
    size_t ldb = km_gram_ld(nb);
    for (size_t i = 0; i < na; i += 8) {
        size_t R = na - i < 8 ? na - i : 8;
        for (size_t j = 0; j < nb; j += 32)
            rows_block(A + i * d, d, Bt + j, ldb, K + i * ldk + j, ldk, nb - j, R);
    }
}
#endif

int km_gram_fast(size_t d)
{
#ifdef GRAM_X86
    return d > 0 && d <= KM_GRAM_MAX_D && __builtin_cpu_supports("avx512f");
#else
    (void)d;
    return 0;
#endif
}

void km_gram_panel(const float *B, size_t nb, size_t d, float *Bt)
{
#ifdef GRAM_X86
    panel_avx512(B, nb, d, Bt);
#else
    (void)B, (void)nb, (void)d, (void)Bt;
#endif
}

void km_gram_rows(const float *A, size_t na, const float *Bt, size_t nb, size_t d, float *K,
                  size_t ldk)
{
#ifdef GRAM_X86
    rows_avx512(A, na, Bt, nb, d, K, ldk);
#else
    (void)A, (void)na, (void)Bt, (void)nb, (void)d, (void)K, (void)ldk;
#endif
}
