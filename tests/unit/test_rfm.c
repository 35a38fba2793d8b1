/* test_rfm.c - the AGOP against central finite differences of the
 * predictor written out in float64 from the kernel's definition (both
 * kernels, full and diagonal, one block and many, samples that are
 * centres and samples that are not, centred or not, with a Mahalanobis
 * metric), the next metric's normalisation, the zero-AGOP error, the
 * RFM loop on the low-rank task of the RFM authors' example, and model
 * selection: the cross-validation folds, the median distance and the
 * default bandwidths against closed forms, and km_rfm_cv against the
 * searches it is made of. */
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
                km_kernel k = {.type = type, .bandwidth = type == KM_KERNEL_LAPLACE ? 2.0 : 1.5};
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
            km_kernel k = {.type = type, .bandwidth = 2.0};
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
    km_kernel k = {.type = KM_KERNEL_LAPLACE, .bandwidth = 1.0};
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

/* Folds: every row in exactly one of the K, whose sizes differ by at
 * most one; the same seed deals the same folds, another seed others. */
Test(cv, folds_partition_the_rows_evenly)
{
    const size_t ns[] = {2, 5, 103, 1000};
    const int Ks[] = {2, 3, 5, 10, 100};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t b = 0; b < sizeof Ks / sizeof *Ks; b++) {
            size_t n = ns[a];
            int K = Ks[b];
            if ((size_t)K > n)
                continue;
            uint32_t *f = malloc(n * sizeof *f), *g = malloc(n * sizeof *g);
            size_t *count = calloc((size_t)K, sizeof *count);
            cr_assert_eq(km_cv_folds(n, K, 7, f), 0);
            for (size_t i = 0; i < n; i++) {
                cr_assert_lt(f[i], (uint32_t)K, "n=%zu K=%d row %zu in fold %u", n, K, i, f[i]);
                count[f[i]]++;
            }
            size_t lo = n, hi = 0, sum = 0;
            for (int k = 0; k < K; k++) {
                lo = count[k] < lo ? count[k] : lo;
                hi = count[k] > hi ? count[k] : hi;
                sum += count[k];
            }
            cr_expect_eq(sum, n);
            cr_expect_leq(hi - lo, 1, "n=%zu K=%d: folds of %zu to %zu rows", n, K, lo, hi);
            cr_expect_eq(lo, n / (size_t)K);
            cr_assert_eq(km_cv_folds(n, K, 7, g), 0);
            cr_expect_eq(memcmp(f, g, n * sizeof *f), 0, "the same seed dealt other folds");
            if (n >= 100) {
                cr_assert_eq(km_cv_folds(n, K, 8, g), 0);
                cr_expect_neq(memcmp(f, g, n * sizeof *f), 0, "another seed dealt the same folds");
            }
            free(f);
            free(g);
            free(count);
        }
}

/* The median distance of 0, 1, 3, 7 on a line: pairs 1 2 3 4 6 7, median
 * (3 + 4) / 2; of 0, 3, 7 (and the same three in the plane): 3 4 7, 4. */
Test(cv, median_distance_of_small_sets)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    const float line4[] = {0, 1, 3, 7}, line3[] = {7, 0, 3}, plane[] = {0, 0, 0, 3, 0, 7};
    double med;
    cr_assert_eq(km_median_distance(&ctx, line4, 4, 1, 1000, 1, NULL, &med), 0);
    cr_expect_float_eq(med, 3.5, 1e-12);
    cr_assert_eq(km_median_distance(&ctx, line3, 3, 1, 1000, 1, NULL, &med), 0);
    cr_expect_float_eq(med, 4, 1e-12);
    cr_assert_eq(km_median_distance(&ctx, plane, 3, 2, 1000, 1, NULL, &med), 0);
    cr_expect_float_eq(med, 4, 1e-12);
    cr_assert_eq(km_median_distance(&ctx, plane, 1, 2, 1000, 1, NULL, &med), 0);
    cr_expect_eq(med, 0, "one row has no pairs");
    /* a sample of 11 of 60 rows: the pairs of km_sample_indices' rows */
    float *X = rows(60, 3, 1, 5);
    uint64_t idx[11];
    cr_assert_eq(km_sample_indices(60, 11, 9, idx), 0);
    double dist[55];
    size_t k = 0;
    for (size_t i = 0; i < 11; i++)
        for (size_t j = i + 1; j < 11; j++) {
            double s = 0;
            for (size_t l = 0; l < 3; l++) {
                double e = (double)X[idx[i] * 3 + l] - X[idx[j] * 3 + l];
                s += e * e;
            }
            dist[k++] = sqrt(s);
        }
    size_t below = 0; /* 55 pairs: the median has 27 below it and 27 above */
    cr_assert_eq(km_median_distance(&ctx, X, 60, 3, 11, 9, NULL, &med), 0);
    for (k = 0; k < 55; k++)
        below += dist[k] < med;
    cr_expect_eq(below, 27, "median %g has %zu of 55 pairs below it", med, below);
    int found = 0;
    for (k = 0; k < 55; k++)
        found |= dist[k] == med;
    cr_expect(found, "the median %g is not a pair's distance", med);
    free(X);
}

/* The grid: the plain bandwidth first, then 0.5, 1, 2, 4 x the median,
 * repeats and non-positive values left out. */
Test(cv, scale_bandwidths)
{
    double g[5];
    cr_assert_eq(km_scale_bandwidths(3.5, 10, g), 5);
    const double want[] = {10, 1.75, 3.5, 7, 14};
    for (int i = 0; i < 5; i++)
        cr_expect_float_eq(g[i], want[i], 1e-12, "%d: %g", i, g[i]);
    cr_assert_eq(km_scale_bandwidths(5, 10, g), 4); /* 2 x 5 is the default */
    cr_expect(g[0] == 10 && g[1] == 2.5 && g[2] == 5 && g[3] == 20);
    cr_assert_eq(km_scale_bandwidths(0, 10, g), 1); /* every row the same */
    cr_assert_eq(km_scale_bandwidths(NAN, 10, g), 1);
}

struct fold_steps {
    double sum[1][4]; /* per step index: the metric summed over the folds */
    int count[4];
};

static void fold_collect(void *arg, const km_select_step *s)
{
    struct fold_steps *t = arg;
    cr_assert_lt(s->index, 4);
    cr_assert(s->fold >= 1 && s->fold <= 3, "fold %d", s->fold);
    t->sum[0][s->index] += s->val_metric;
    t->count[s->index]++;
}

/* A search of one bandwidth and ridge, seeded as the cross-validation's. */
static void one_pair(km_search_opts *p, double bw, double reg)
{
    km_search_defaults(p);
    p->solve.seed = 4;
    p->solve.kernel.bandwidth = bw;
    p->solve.reg = reg;
}

/* Cross-validation against the searches it is made of: a 2 x 2 grid on a
 * regression task, 3 folds. Its mean is the mean of the per-fold
 * searches of the same grid on the folds of km_cv_folds, its choice the
 * step of the lowest mean, and its model the plain search of that step on
 * all rows. */
Test(cv, mean_over_folds_and_refit)
{
    const size_t n = 90, d = 3;
    float *X = rows(n, d, 1, 3), *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++)
        y[i] = X[i * d] + X[i * d + 1] * X[i * d + 1];
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET;
    km_search_opts o;
    km_search_defaults(&o);
    const double bws[] = {0.3, 3}, regs[] = {1e-3, 1};
    o.bandwidths = bws;
    o.nbandwidths = 2;
    o.regs = regs;
    o.nregs = 2;
    o.solve.seed = 4;
    struct fold_steps t;
    memset(&t, 0, sizeof t);
    o.log = fold_collect;
    o.log_arg = &t;
    km_rfm_best cvb;
    cr_assert_eq(km_rfm_cv(&ctx, NULL, &o, NULL, 0, X, y, y, n, d, 1, 3, &cvb), 0, "%s",
                 ctx.err.msg);
    /* the same folds by hand */
    uint32_t f[90];
    cr_assert_eq(km_cv_folds(n, 3, 4, f), 0);
    double mean[4] = {0};
    for (uint32_t k = 0; k < 3; k++) {
        float *Xt = malloc(n * d * sizeof *Xt), *yt = malloc(n * sizeof *yt);
        float *Xv = malloc(n * d * sizeof *Xv), *yv = malloc(n * sizeof *yv);
        size_t a = 0, b = 0;
        for (size_t i = 0; i < n; i++) {
            if (f[i] == k) {
                memcpy(Xv + b * d, X + i * d, d * sizeof *X);
                yv[b++] = y[i];
            } else {
                memcpy(Xt + a * d, X + i * d, d * sizeof *X);
                yt[a++] = y[i];
            }
        }
        for (size_t s = 0; s < 4; s++) {
            km_search_opts p;
            one_pair(&p, bws[s / 2], regs[s % 2]);
            km_rfm_best b1;
            cr_assert_eq(km_rfm_search(&ctx, NULL, &p, NULL, 0, Xt, yt, yt, a, d, 1, Xv, yv, b, &b1),
                         0, "%s", ctx.err.msg);
            mean[s] += b1.val_metric / 3;
            km_rfm_best_free(&b1);
        }
        free(Xt);
        free(yt);
        free(Xv);
        free(yv);
    }
    size_t pick = 0;
    for (size_t s = 0; s < 4; s++) {
        cr_expect_eq(t.count[s], 3);
        cr_expect_float_eq(t.sum[0][s] / 3, mean[s], 1e-9 * mean[s], "step %zu", s);
        if (mean[s] < mean[pick])
            pick = s;
    }
    cr_expect_eq(cvb.bandwidth, bws[pick / 2]);
    cr_expect_eq(cvb.reg, regs[pick % 2]);
    cr_expect_float_eq(cvb.val_metric, mean[pick], 1e-9 * mean[pick]);
    cr_expect_eq(cvb.steps, 13, "12 steps in the folds and the refit: %d", cvb.steps);
    /* the refit: the chosen step solved on all rows */
    km_search_opts p;
    one_pair(&p, bws[pick / 2], regs[pick % 2]);
    km_rfm_best all;
    cr_assert_eq(km_rfm_search(&ctx, NULL, &p, NULL, 0, X, y, y, n, d, 1, NULL, NULL, 0, &all), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert_float_eq(cvb.A[i], all.A[i], 1e-6 * (1 + fabsf(all.A[i])), "alpha %zu", i);
    cr_expect(cvb.metric == KM_METRIC_NONE && !cvb.M);
    km_rfm_best_free(&cvb);
    km_rfm_best_free(&all);
    free(X);
    free(y);
}
