/* test_kernel.c - the kernel-tile module against independent computations:
 * km_vexp against libm's exp in float64 over its whole range (every float
 * of some sub-ranges, ten million random ones elsewhere) and at the special
 * values; km_kernel_tile against kernels computed in float64 from the
 * definition, sum_k (a_k - b_k)^2, never through the expansion. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kern/gram.h"
#include "kmill/kernel.h"
#include "kmill/rng.h"

/* ---- km_vexp ---------------------------------------------------------------- */

static uint32_t fbits(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static float bitsf(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

struct exp_stats {
    uint32_t max_ulp; /* over results whose true value is >= FLT_MIN */
    float worst_x;
    size_t n;
};

/* Checks y = km_vexp(x) for n values: in ulps against the correctly
 * rounded float of exp((double)x) (both positive: the distance between the
 * bit patterns), and below FLT_MIN either 0 or within a few units of the
 * smallest subnormal of the true value. */
static void check_exp(const float *x, const float *y, size_t n, struct exp_stats *st)
{
    for (size_t i = 0; i < n; i++) {
        double t = exp((double)x[i]);
        if (t >= FLT_MIN) {
            float r = (float)t;
            uint32_t a = fbits(y[i]), b = fbits(r);
            cr_assert(!signbit(y[i]) && isfinite(y[i]), "exp(%a) = %a", x[i], y[i]);
            uint32_t u = a > b ? a - b : b - a;
            if (u > st->max_ulp) {
                st->max_ulp = u;
                st->worst_x = x[i];
            }
        } else {
            cr_assert(y[i] == 0 || fabs(y[i] - t) <= 4 * 0x1p-149,
                      "exp(%a) = %a, true %a (below FLT_MIN: 0 or about right)", x[i], y[i], t);
        }
    }
    st->n += n;
}

#define BATCH (1u << 20)

/* Every float in [lo, hi], lo <= hi <= 0, in batches. */
static void check_every_float(float lo, float hi, struct exp_stats *st)
{
    float *x = malloc(BATCH * sizeof *x), *y = malloc(BATCH * sizeof *y);
    cr_assert(x && y);
    /* negative floats: the bit pattern grows with the magnitude */
    uint32_t b = fbits(hi), end = fbits(lo);
    if (hi == 0)
        b = 0x80000000u; /* -0 */
    for (;;) {
        size_t n = 0;
        while (n < BATCH && b <= end)
            x[n++] = bitsf(b++);
        if (n == 0)
            break;
        km_vexp(x, y, n);
        check_exp(x, y, n, st);
        if (b > end)
            break;
    }
    free(x);
    free(y);
}

Test(vexp, every_float_of_subranges)
{
    struct exp_stats st = {0};
    check_every_float(-0.5f, -0.25f, &st);             /* crosses |r| = ln2/2 at k = 0, -1 */
    check_every_float(-0x1p-23f, -0x1p-25f, &st);       /* results 1 - tiny: rounding at 1 */
    check_every_float(-64.0f, -63.0f, &st);             /* large k */
    check_every_float(-104.0f, -86.0f, &st);            /* FLT_MIN, the flush, beyond */
    cr_log_info("vexp: %zu floats, max %u ulp at %a", st.n, st.max_ulp, (double)st.worst_x);
    cr_assert_leq(st.max_ulp, 4, "max error %u ulp at x = %a", st.max_ulp, (double)st.worst_x);
}

Test(vexp, ten_million_random)
{
    size_t n = 10 * 1000 * 1000;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    cr_assert(x && y);
    km_rng r;
    km_rng_seed(&r, 42);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(-88.0 * km_rng_uniform(&r));
    km_vexp(x, y, n);
    struct exp_stats st = {0};
    check_exp(x, y, n, &st);
    cr_log_info("vexp random: max %u ulp at %a", st.max_ulp, (double)st.worst_x);
    cr_assert_leq(st.max_ulp, 4, "max error %u ulp at x = %a", st.max_ulp, (double)st.worst_x);
    /* and small magnitudes, where uniform values in [-88, 0] hardly go */
    for (size_t i = 0; i < n; i++)
        x[i] = (float)-ldexp(km_rng_uniform(&r), -(int)km_rng_below(&r, 40));
    km_vexp(x, y, n);
    check_exp(x, y, n, &st);
    cr_assert_leq(st.max_ulp, 4, "max error %u ulp at x = %a", st.max_ulp, (double)st.worst_x);
    free(x);
    free(y);
}

Test(vexp, special_values)
{
    float x[] = {0.0f, -0.0f, -INFINITY, NAN, -NAN, -FLT_MAX, -88.0f, -1e30f, -FLT_MIN,
                 -0x1p-149f, bitsf(0x7fa00000u) /* signalling NaN */};
    size_t n = sizeof x / sizeof x[0];
    float y[sizeof x / sizeof x[0]];
    km_vexp(x, y, n);
    cr_assert_eq(fbits(y[0]), fbits(1.0f), "exp(0) = %a", y[0]);
    cr_assert_eq(fbits(y[1]), fbits(1.0f), "exp(-0) = %a", y[1]);
    cr_assert_eq(fbits(y[2]), 0, "exp(-inf) = %a", y[2]);
    cr_assert(isnan(y[3]) && isnan(y[4]), "NaN gave %a, %a", y[3], y[4]);
    cr_assert_eq(y[5], 0.0f);
    cr_assert_eq(y[6], 0.0f); /* 6e-39 < FLT_MIN: flushed */
    cr_assert_eq(y[7], 0.0f);
    cr_assert_eq(y[8], 1.0f);
    cr_assert_eq(y[9], 1.0f);
    cr_assert(isnan(y[10]));
}

/* Every length (the vector loops' tails) and in place, against one value
 * at a time. */
Test(vexp, lengths_and_in_place)
{
    float x[131] = {0}, y[131], z[131], one;
    km_rng r;
    km_rng_seed(&r, 7);
    for (size_t n = 0; n <= 131; n++) {
        for (size_t i = 0; i < n; i++)
            x[i] = z[i] = (float)(-30 * km_rng_uniform(&r));
        km_vexp(x, y, n);
        km_vexp(z, z, n);
        for (size_t i = 0; i < n; i++) {
            km_vexp(&x[i], &one, 1);
            cr_assert_eq(fbits(y[i]), fbits(one), "n %zu i %zu", n, i);
            cr_assert_eq(fbits(z[i]), fbits(one), "in place, n %zu i %zu", n, i);
        }
    }
}

/* ---- tiles ------------------------------------------------------------------ */

static float *random_rows(km_rng *r, size_t n, size_t d)
{
    float *x = malloc((n * d + 1) * sizeof *x);
    cr_assert(x);
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)km_rng_uniform(r);
    return x;
}

static double direct_kernel(int type, double L, const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return type == KM_KERNEL_GAUSSIAN ? exp(-s / (2 * L * L)) : exp(-sqrt(s) / L);
}

Test(kernel, row_sqnorms_in_double)
{
    km_rng r;
    km_rng_seed(&r, 3);
    size_t n = 9, ds[] = {0, 1, 5, 784};
    for (size_t t = 0; t < 4; t++) {
        size_t d = ds[t];
        float *x = random_rows(&r, n, d), out[9];
        km_row_sqnorms(x, n, d, out);
        for (size_t i = 0; i < n; i++) {
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += (double)x[i * d + k] * x[i * d + k];
            cr_assert_leq(fabs(out[i] - s), s * 0x1p-24 * 1.01, "d %zu row %zu", d, i);
        }
        free(x);
    }
}

#define SENTINEL 12345.0f

/* Entries within 1e-4 of the float64 kernel for d from 1 to 784, both
 * kernels, odd sizes and a leading dimension past nb whose padding must
 * stay untouched. Rows are uniform in [0, s)^d with s per row in
 * [0.2, 1], so that distances spread even at d = 784; the bandwidth is the
 * typical distance, sqrt(d / 6), so the values spread over (0, 1) instead
 * of sitting at 0 or 1 where any error hides. Some rows of B are exact
 * copies of rows of A (in other memory) or copies moved by 1e-3: the
 * pairs where the expansion cancels worst. */
Test(kernel, tile_matches_direct)
{
    km_rng r;
    km_rng_seed(&r, 11);
    size_t ds[] = {1, 3, 32, 64, 65, 100, 784};
    size_t na = 37, nb = 301, ldk = 309;
    float *K = malloc(na * ldk * sizeof *K), an[37], bn[301];
    cr_assert(K);
    for (size_t t = 0; t < sizeof ds / sizeof ds[0]; t++) {
        size_t d = ds[t];
        float *A = random_rows(&r, na, d), *B = random_rows(&r, nb, d);
        for (size_t i = 0; i < na; i++) {
            float s = (float)(0.2 + 0.8 * km_rng_uniform(&r));
            for (size_t k = 0; k < d; k++)
                A[i * d + k] *= s;
        }
        for (size_t j = 0; j < nb; j++) {
            float s = (float)(0.2 + 0.8 * km_rng_uniform(&r));
            for (size_t k = 0; k < d; k++)
                B[j * d + k] = j % 5 == 0   ? A[(j * 3 % na) * d + k]
                               : j % 5 == 1 ? A[(j * 3 % na) * d + k] + (k % 3 == 0 ? 1e-3f : 0)
                                            : B[j * d + k] * s;
        }
        km_row_sqnorms(A, na, d, an);
        km_row_sqnorms(B, nb, d, bn);
        for (int type = 0; type < 2; type++) {
            km_kernel k = {.type = type, .bandwidth = sqrt(d / 6.0)};
            for (size_t i = 0; i < na * ldk; i++)
                K[i] = SENTINEL;
            km_kernel_tile(&k, A, na, an, B, nb, bn, d, K, ldk);
            double worst = 0, lo = 1, hi = 0;
            for (size_t i = 0; i < na; i++) {
                for (size_t j = 0; j < nb; j++) {
                    double ref = direct_kernel(type, k.bandwidth, A + i * d, B + j * d, d);
                    double e = fabs(K[i * ldk + j] - ref);
                    worst = e > worst ? e : worst;
                    if (j % 5 >= 2) { /* not a copy */
                        lo = ref < lo ? ref : lo;
                        hi = ref > hi ? ref : hi;
                    }
                    if (ref == 1 && type == KM_KERNEL_LAPLACE) /* recomputed exactly */
                        cr_assert_eq(K[i * ldk + j], 1.0f, "d %zu: equal rows %zu, %zu", d, i, j);
                }
                for (size_t j = nb; j < ldk; j++)
                    cr_assert_eq(K[i * ldk + j], SENTINEL, "padding written, row %zu", i);
            }
            cr_log_info("tile d %zu type %d: max abs error %.3g (other rows' values %.3f..%.3f)", d, type,
                        worst, lo, hi);
            cr_assert_leq(worst, 1e-4, "d %zu kernel %d: max abs error %g", d, type, worst);
            cr_assert(hi - lo > 0.3, "d %zu: values %g..%g do not test much", d, lo, hi);
        }
        free(A);
        free(B);
    }
    free(K);
}

/* gram.c's product (panel, then register blocks; on CPUs with AVX-512,
 * the only ones it runs on: km_gram_fast) against float64 dot products,
 * over the shapes its blocks cut differently: d across the 16-wide
 * transposes up to KM_GRAM_MAX_D, row counts around the 8-row block,
 * column counts around the 16- and 32-wide blocks and the full chunk;
 * padding past nb must stay untouched. The bound is float32 accumulation
 * over d terms. */
Test(kernel, gram_matches_double)
{
    km_rng r;
    km_rng_seed(&r, 17);
    size_t ds[] = {1, 2, 15, 16, 17, 31, 33, 48, 63, 64};
    float *Bt = aligned_alloc(64, KM_GRAM_MAX_D * KM_GRAM_COLS * sizeof *Bt);
    cr_assert(Bt);
    size_t nas[] = {1, 7, 8, 9, 23};
    size_t nbs[] = {1, 15, 16, 17, 31, 32, 33, 200, KM_GRAM_COLS};
    for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++)
        for (size_t b = 0; b < sizeof nas / sizeof nas[0]; b++)
            for (size_t c = 0; c < sizeof nbs / sizeof nbs[0]; c++) {
                size_t d = ds[a], na = nas[b], nb = nbs[c], ldk = nb + 3;
                if (!km_gram_fast(d))
                    continue;
                float *A = random_rows(&r, na, d), *B = random_rows(&r, nb, d);
                float *K = malloc(na * ldk * sizeof *K);
                cr_assert(K);
                for (size_t i = 0; i < na * ldk; i++)
                    K[i] = SENTINEL;
                km_gram_panel(B, nb, d, Bt);
                km_gram_rows(A, na, Bt, nb, d, K, ldk);
                for (size_t i = 0; i < na; i++) {
                    for (size_t j = 0; j < nb; j++) {
                        double dot = 0, mag = 0;
                        for (size_t k = 0; k < d; k++) {
                            dot += (double)A[i * d + k] * B[j * d + k];
                            mag += fabs((double)A[i * d + k] * B[j * d + k]);
                        }
                        cr_assert_leq(fabs(K[i * ldk + j] + 2 * dot), 2 * mag * d * FLT_EPSILON,
                                      "d %zu na %zu nb %zu (%zu, %zu): %g vs %g", d, na, nb, i, j,
                                      K[i * ldk + j], -2 * dot);
                    }
                    for (size_t j = nb; j < ldk; j++)
                        cr_assert_eq(K[i * ldk + j], SENTINEL, "padding written, row %zu", i);
                }
                free(A);
                free(B);
                free(K);
            }
    free(Bt);
}

/* A against itself: the diagonal is 1 up to the expansion's rounding
 * noise (see kernel.h; exactly 1 for Laplace, whose near pairs are
 * recomputed), the tile symmetric up to the same. */
Test(kernel, symmetric_tile_diagonal)
{
    km_rng r;
    km_rng_seed(&r, 5);
    size_t ds[] = {1, 3, 32, 100, 784};
    size_t n = 45;
    float *K = malloc(n * n * sizeof *K), nrm[45];
    cr_assert(K);
    for (size_t t = 0; t < sizeof ds / sizeof ds[0]; t++) {
        size_t d = ds[t];
        float *A = random_rows(&r, n, d);
        km_row_sqnorms(A, n, d, nrm);
        for (int type = 0; type < 2; type++) {
            km_kernel k = {.type = type, .bandwidth = sqrt(d / 6.0)};
            km_kernel_tile(&k, A, n, nrm, A, n, nrm, d, K, n);
            double worst = 0;
            for (size_t i = 0; i < n; i++) {
                double e = fabs(K[i * n + i] - 1.0);
                worst = e > worst ? e : worst;
                for (size_t j = 0; j < i; j++)
                    cr_assert_leq(fabsf(K[i * n + j] - K[j * n + i]), 1e-4, "d %zu (%zu, %zu)", d,
                                  i, j);
            }
            cr_log_info("symmetric d %zu type %d: diagonal within %.3g of 1", d, type, worst);
            cr_assert_leq(worst, 1e-3, "d %zu kernel %d: diagonal off by %g", d, type, worst);
        }
        free(A);
    }
    free(K);
}

/* A kernel value does not depend on its column's place in the tile (the
 * vector body, a narrower epilogue and the scalar tail round alike): at
 * d = 1 the GEMM entry is one exact-scaled product whatever the shape, so
 * a wide tile must equal, bit for bit, the same entries computed one
 * column at a time. */
Test(kernel, entry_independent_of_column_position)
{
    km_rng r;
    km_rng_seed(&r, 13);
    size_t na = 3, nb = 77;
    float *A = random_rows(&r, na, 1), *B = random_rows(&r, nb, 1), an[3], bn[77];
    float K[3 * 77], one[3];
    km_row_sqnorms(A, na, 1, an);
    km_row_sqnorms(B, nb, 1, bn);
    for (int type = 0; type < 2; type++) {
        km_kernel k = {.type = type, .bandwidth = 0.3};
        km_kernel_tile(&k, A, na, an, B, nb, bn, 1, K, nb);
        for (size_t j = 0; j < nb; j++) {
            km_kernel_tile(&k, A, na, an, B + j, 1, bn + j, 1, one, 1);
            for (size_t i = 0; i < na; i++)
                cr_assert_eq(fbits(K[i * nb + j]), fbits(one[i]), "kernel %d (%zu, %zu): %a vs %a",
                             type, i, j, K[i * nb + j], one[i]);
        }
    }
    free(A);
    free(B);
}

/* d = 0 (every distance 0) and NaN in the data (NaN out, not a kernel
 * value of 1 from a distance clamped to 0). */
Test(kernel, edge_cases)
{
    float A[6] = {0, 1, 2, 3, 4, 5}, B[4] = {1, NAN, 0, 0}, K[3 * 2], an[3] = {0},
          bn[2] = {0};
    km_kernel k = {.type = KM_KERNEL_LAPLACE, .bandwidth = 1.0};
    km_kernel_tile(&k, A, 3, an, B, 2, bn, 0, K, 2);
    for (int i = 0; i < 6; i++)
        cr_assert_eq(K[i], 1.0f);
    km_row_sqnorms(A, 3, 2, an);
    km_row_sqnorms(B, 2, 2, bn);
    for (int type = 0; type < 2; type++) {
        k.type = type;
        km_kernel_tile(&k, A, 3, an, B, 2, bn, 2, K, 2);
        for (int i = 0; i < 3; i++) {
            cr_assert(isnan(K[i * 2]), "row %d: %g", i, K[i * 2]);
            double ref = direct_kernel(type, 1.0, A + 2 * i, B + 2, 2);
            cr_assert_leq(fabs(K[i * 2 + 1] - ref), 1e-6, "row %d: %g vs %g", i, K[i * 2 + 1], ref);
        }
    }
}

/* The pass's exponential and square root over the whole range, both
 * kernels: at d = 1 with a = 0 the squared distance is b^2 as the norms
 * hold it, so the reference exp(-sqrt(bn)/L) (or exp(-bn/2L^2)) in
 * float64 leaves only the pass's own error: relative error within a few
 * ulps times (1 + |x|) (x is the exponent, rounded once to float), and
 * exactly 0 past the flush at x = -87.5. */
Test(kernel, pass_accuracy_whole_range)
{
    size_t nb = 4000;
    float A[1] = {0}, an[1] = {0}, *B = malloc(nb * sizeof *B), *bn = malloc(nb * sizeof *bn);
    float *K = malloc(nb * sizeof *K);
    cr_assert(B && bn && K);
    for (int type = 0; type < 2; type++) {
        double L = 0.7;
        for (size_t j = 0; j < nb; j++) /* exponents 0 .. -95 */
            B[j] = (float)(type ? L * sqrt(2.0 * 95.0 * j / nb) : 95.0 * L * j / nb) + 1e-3f;
        km_row_sqnorms(B, nb, 1, bn);
        km_kernel k = {.type = type, .bandwidth = L};
        km_kernel_tile(&k, A, 1, an, B, nb, bn, 1, K, nb);
        double worst = 0;
        for (size_t j = 0; j < nb; j++) {
            double x = type ? -(double)bn[j] / (2 * L * L) : -sqrt((double)bn[j]) / L;
            double ref = exp(x);
            if (x < -87.6) {
                cr_assert_eq(K[j], 0.0f, "x = %g: %g, not flushed", x, K[j]);
                continue;
            }
            if (x < -87.4)
                continue; /* the flush point itself moves with x's rounding */
            double e = fabs(K[j] - ref) / ref / (1 + fabs(x));
            worst = e > worst ? e : worst;
        }
        cr_log_info("pass type %d: worst relative error / (1 + |x|) %.3g", type, worst);
        cr_assert_leq(worst, 4 * FLT_EPSILON, "type %d: %g", type, worst);
    }
    free(B);
    free(bn);
    free(K);
}

/* Identical rows far from the origin with a small bandwidth: the
 * expansion's rounding gives their distance as tens of L, so the pass's
 * value underflows to 0 before the pair is recomputed. The near flag must
 * survive a value of 0 (a negated +0 is still +0), or the pair keeps 0
 * instead of 1. At d = 48 (the own product) and d = 100 (sgemm). */
Test(kernel, near_pairs_fixed_when_the_value_underflows)
{
    km_rng r;
    km_rng_seed(&r, 23);
    size_t ds[] = {48, 100};
    for (size_t t = 0; t < 2; t++) {
        size_t d = ds[t], n = 16;
        float *A = malloc(n * d * sizeof *A), *K = malloc(n * n * sizeof *K), nrm[16];
        cr_assert(A && K);
        for (size_t i = 0; i < n * d; i++)
            A[i] = (float)(3000 + km_rng_uniform(&r));
        km_row_sqnorms(A, n, d, nrm);
        km_kernel k = {.type = KM_KERNEL_LAPLACE, .bandwidth = 0.025};
        km_kernel_tile(&k, A, n, nrm, A, n, nrm, d, K, n);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(K[i * n + i], 1.0f, "d %zu: K(%zu, %zu) = %g", d, i, i, K[i * n + i]);
        free(A);
        free(K);
    }
}
