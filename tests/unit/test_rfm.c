/* test_rfm.c - the AGOP against central finite differences of the
 * predictor written out in float64 from the kernel's definition (both
 * kernels, full and diagonal, one block and many, samples that are
 * centres and samples that are not, centred or not, with a Mahalanobis
 * metric), the next metric's normalisation, the zero-AGOP error, and the
 * RFM loop on the low-rank task of the RFM authors' example. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/agop.h"
#include "kmill/krr.h"
#include "kmill/rfm.h"
#include "kmill/rng.h"

static float *rows(size_t n, size_t d, double scale, uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    float *X = malloc(n * d * sizeof *X);
    for (size_t i = 0; i < n * d; i++)
        X[i] = (float)((km_rng_uniform(&r) * 2 - 1) * scale);
    return X;
}

/* f_c(x) = sum_j alpha_jc k_M(x, x_j) in float64; M NULL: identity, diag:
 * M holds the diagonal */
static void fdef(int type, double L, const float *X, size_t n, size_t d, const float *alpha,
                 size_t c, const float *M, int diag, const double *x, double *f)
{
    double *v = malloc(d * sizeof *v);
    for (size_t o = 0; o < c; o++)
        f[o] = 0;
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < d; k++)
            v[k] = x[k] - X[j * d + k];
        double s = 0;
        for (size_t p = 0; p < d; p++) {
            if (!M) {
                s += v[p] * v[p];
            } else if (diag) {
                s += M[p] * v[p] * v[p];
            } else {
                for (size_t q = 0; q < d; q++)
                    s += v[p] * M[p * d + q] * v[q];
            }
        }
        double kv = type == KM_KERNEL_LAPLACE ? exp(-sqrt(s) / L) : exp(-s / (2 * L * L));
        for (size_t o = 0; o < c; o++)
            f[o] += alpha[j * c + o] * kv;
    }
    free(v);
}

/* (1/m) sum_x sum_c g g^T with g by central differences, optionally centred */
static double *fd_agop(int type, double L, const float *X, size_t n, size_t d, const float *alpha,
                       size_t c, const float *M, int diag, const float *B, size_t m, int center)
{
    double *A = calloc(d * d, sizeof *A), *g = malloc(m * c * d * sizeof *g);
    double *x = malloc(d * sizeof *x), *fp = malloc(c * sizeof *fp), *fm = malloc(c * sizeof *fm);
    double h = 1e-5 * L;
    for (size_t i = 0; i < m; i++)
        for (size_t k = 0; k < d; k++) {
            for (size_t q = 0; q < d; q++)
                x[q] = B[i * d + q];
            x[k] += h;
            fdef(type, L, X, n, d, alpha, c, M, diag, x, fp);
            x[k] -= 2 * h;
            fdef(type, L, X, n, d, alpha, c, M, diag, x, fm);
            for (size_t o = 0; o < c; o++)
                g[(i * c + o) * d + k] = (fp[o] - fm[o]) / (2 * h);
        }
    if (center)
        for (size_t o = 0; o < c; o++)
            for (size_t k = 0; k < d; k++) {
                double s = 0;
                for (size_t i = 0; i < m; i++)
                    s += g[(i * c + o) * d + k];
                for (size_t i = 0; i < m; i++)
                    g[(i * c + o) * d + k] -= s / m;
            }
    for (size_t i = 0; i < m; i++)
        for (size_t o = 0; o < c; o++)
            for (size_t p = 0; p < d; p++)
                for (size_t q = 0; q < d; q++)
                    A[p * d + q] += g[(i * c + o) * d + p] * g[(i * c + o) * d + q] / m;
    free(g);
    free(x);
    free(fp);
    free(fm);
    return A;
}

static double rel_diff(const double *a, const double *b, size_t len)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < len; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

/* Both kernels, full and diagonal, one block and blocks of 7 samples
 * (against one tile of centres, and tiles of 50: the last one partial),
 * off the centres and samples that are centres (self-pairs dropped;
 * central differences cancel the self-term's kink), centred or not. */
Test(agop, matches_finite_differences)
{
    const size_t n = 240, d = 6, c = 3, m = 40;
    float *X = rows(n, d, 1.0, 1), *alpha = rows(n, c, 1.0, 2), *Boff = rows(m, d, 1.0, 3);
    float *Bon = malloc(m * d * sizeof *Bon);
    uint64_t self[40];
    for (size_t i = 0; i < m; i++) {
        self[i] = i * 5 + 1;
        memcpy(Bon + i * d, X + self[i] * d, d * sizeof *Bon);
    }
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 1, &ctx.err), 0);
    double G[36];
    for (int type = 0; type < 2; type++)
        for (int on = 0; on < 2; on++)
            for (int center = 0; center < 2; center++) {
                km_kernel k = {type, type == KM_KERNEL_LAPLACE ? 2.0 : 1.5};
                const float *B = on ? Bon : Boff;
                double *ref = fd_agop(type, k.bandwidth, X, n, d, alpha, c, NULL, 0, B, m, center);
                for (int diag = 0; diag < 2; diag++)
                    for (size_t batch = 0; batch <= 7; batch += 7) {
                        km_agop_opts o = {diag, center, 0, batch, batch ? 50 : 0};
                        cr_assert_eq(km_agop(&ctx, pool, &k, X, n, d, alpha, c, B,
                                             on ? self : NULL, m, &o, G),
                                     0, "%s", ctx.err.msg);
                        double r;
                        if (diag) {
                            double rd[6];
                            for (size_t p = 0; p < d; p++)
                                rd[p] = ref[p * d + p];
                            r = rel_diff(G, rd, d);
                        } else {
                            r = rel_diff(G, ref, d * d);
                        }
                        cr_expect_leq(r, 1e-3,
                                      "kernel %d samples %s centred %d diag %d batch %zu: "
                                      "relative error %g",
                                      type, on ? "on centres" : "off centres", center, diag, batch,
                                      r);
                    }
                free(ref);
            }
    km_pool_destroy(pool);
    free(X);
    free(alpha);
    free(Boff);
    free(Bon);
}

/* With a Mahalanobis metric: the AGOP pass runs on rows times S =
 * M^(1/2) and km_agop_metric maps it back (S G S) and normalises; against
 * finite differences of f_M in the original coordinates, normalised by
 * its largest entry. Full and diagonal M. */
Test(agop, mahalanobis_metric_matches_finite_differences)
{
    const size_t n = 200, d = 5, c = 2, m = 30;
    float *X = rows(n, d, 1.0, 11), *alpha = rows(n, c, 1.0, 12), *B = rows(m, d, 1.0, 13);
    float *R = rows(d, d, 1.0, 14);
    float M[25], S[25], Md[5], Sd[5], Z[200 * 5], ZB[30 * 5], out[25];
    for (size_t p = 0; p < d; p++)
        for (size_t q = 0; q < d; q++) {
            double s = p == q ? 0.3 : 0;
            for (size_t k = 0; k < d; k++)
                s += R[p * d + k] * R[q * d + k];
            M[p * d + q] = (float)s;
        }
    for (size_t p = 0; p < d; p++)
        Md[p] = 0.2f + (float)p * 0.4f;
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    double G[25];
    for (int type = 0; type < 2; type++)
        for (int diag = 0; diag < 2; diag++) {
            km_kernel k = {type, 2.0};
            int metric = diag ? KM_METRIC_DIAG : KM_METRIC_FULL;
            cr_assert_eq(km_metric_root(diag ? Md : M, d, metric, diag ? Sd : S, &ctx.err), 0);
            km_metric_rows(X, n, d, diag ? Sd : S, metric, Z);
            km_metric_rows(B, m, d, diag ? Sd : S, metric, ZB);
            km_agop_opts o = {diag, 0, 0, 0, 0};
            cr_assert_eq(km_agop(&ctx, NULL, &k, Z, n, d, alpha, c, ZB, NULL, m, &o, G), 0);
            cr_assert_eq(km_agop_metric(&ctx, G, d, diag, diag ? Sd : S, metric, out), 0);
            double *ref = fd_agop(type, 2.0, X, n, d, alpha, c, diag ? Md : M, diag, B, m, 0);
            size_t len = diag ? d : d * d;
            double got[25], want[25], mx = 0;
            for (size_t i = 0; i < len; i++) {
                want[i] = diag ? ref[i * d + i] : ref[i];
                mx = want[i] > mx ? want[i] : mx;
                got[i] = out[i];
            }
            for (size_t i = 0; i < len; i++)
                want[i] /= mx;
            double r = rel_diff(got, want, len);
            cr_expect_leq(r, 1e-3, "kernel %d diag %d: relative error %g", type, diag, r);
            free(ref);
        }
    free(X);
    free(alpha);
    free(B);
    free(R);
}

Test(agop, zero_coefficients_are_an_error_not_a_nan_metric)
{
    const size_t n = 50, d = 4, c = 1;
    float *X = rows(n, d, 1.0, 21), *alpha = calloc(n * c, sizeof *alpha), M[16];
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_kernel k = {KM_KERNEL_LAPLACE, 1.0};
    double G[16];
    km_agop_opts o = {0, 0, 0, 0, 0};
    cr_assert_eq(km_agop(&ctx, NULL, &k, X, n, d, alpha, c, X, NULL, n, &o, G), 0);
    cr_assert_eq(km_agop_metric(&ctx, G, d, 0, NULL, KM_METRIC_NONE, M), KM_ENUMERIC);
    cr_assert(strstr(ctx.err.msg, "AGOP is zero"), "%s", ctx.err.msg);
    free(X);
    free(alpha);
}

struct steps {
    double mse[16];
    int n;
};

static void collect(void *arg, const km_select_step *s)
{
    struct steps *st = arg;
    st->mse[st->n++] = s->val_metric;
}

static void lowrank(size_t n, size_t d, uint64_t seed, float *X, float *y)
{
    km_rng r;
    km_rng_seed(&r, seed);
    for (size_t i = 0; i < n * d; i++) { /* N(0, 0.25): Box-Muller, sd 0.5 */
        double u1 = km_rng_uniform(&r), u2 = km_rng_uniform(&r);
        X[i] = (float)(0.5 * sqrt(-2 * log(1 - u1)) * cos(2 * M_PI * u2));
    }
    for (size_t i = 0; i < n; i++)
        y[i] = X[i * d] * X[i * d + 1] * (X[i * d + 5] > 0);
}

/* The RFM authors' low-rank example: y = x0 x1 1[x5 > 0] in d = 20,
 * 4,000 rows to train and 4,000 to test, Laplace L = 10, reg 1e-3. The
 * test MSE (the validation metric here) falls below 0.3 of iteration 0's,
 * and M's diagonal puts 90% of its trace on coordinates 0, 1 and 5. */
Test(rfm, lowrank_task_learns_its_coordinates)
{
    const size_t n = 4000, d = 20;
    float *X = malloc(n * d * sizeof *X), *y = malloc(n * sizeof *y);
    float *Xt = malloc(n * d * sizeof *Xt), *yt = malloc(n * sizeof *yt);
    lowrank(n, d, 1, X, y);
    lowrank(n, d, 2, Xt, yt);
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET;
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 1, &ctx.err), 0);
    km_search_opts o;
    km_search_defaults(&o);
    o.solve.kernel.bandwidth = 10;
    o.solve.reg = 1e-3;
    o.rfm = 1;
    o.rfm_iters = 5;
    struct steps st = {{0}, 0};
    o.log = collect;
    o.log_arg = &st;
    km_rfm_best best;
    cr_assert_eq(km_rfm_search(&ctx, pool, &o, NULL, 0, X, y, y, n, d, 1, Xt, yt, n, &best), 0, "%s",
                 ctx.err.msg);
    cr_assert_eq(st.n, 6);
    for (int i = 0; i < 6; i++)
        cr_log_info("iteration %d: test MSE %g", i, st.mse[i]);
    cr_expect_lt(best.val_metric, 0.3 * st.mse[0], "iteration 0 MSE %g, best %g (iteration %d)",
                 st.mse[0], best.val_metric, best.iter);
    cr_expect_lt(st.mse[5], 0.3 * st.mse[0], "iteration 0 MSE %g, last %g", st.mse[0], st.mse[5]);
    cr_assert_eq(best.metric, KM_METRIC_FULL);
    double tr = 0, top = 0;
    for (size_t k = 0; k < d; k++) {
        double v = best.M[k * d + k];
        tr += v;
        top += k == 0 || k == 1 || k == 5 ? v : 0;
    }
    cr_expect_geq(top / tr, 0.9, "share of trace on 0, 1, 5: %g", top / tr);
    km_rfm_best_free(&best);
    km_pool_destroy(pool);
    free(X);
    free(y);
    free(Xt);
    free(yt);
}
