/* test_falkon.c - the streamed Nystrom solver against independent
 * computations: exact kernel ridge regression when the centres are all the
 * rows, the Nystrom system written out and solved in float64 here, CG
 * against GRAM, the same bits whatever the source's blocks and the thread
 * count, a metric against rows transformed first, scores against their
 * definition, and the errors of a source, an interrupt and a bad class. */
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/falkon.h"
#include "kmill/rng.h"
#include "kmill/solve.h"



/* n x d rows in 5 clusters along the diagonal; targets: a smooth function
 * plus noise (c = 1) or the cluster's class mod 3 with some flipped. */
static float *rows(size_t n, size_t d, uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    float *X = malloc(n * d * sizeof *X);
    for (size_t i = 0; i < n * d; i++)
        X[i] = (float)(km_rng_uniform(&r) * 2 - 1) + (float)(i / d % 5) * 0.7f;
    return X;
}

static float *targets(const float *X, size_t n, size_t d, int classify, uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    float *y = malloc(n * sizeof *y);
    for (size_t i = 0; i < n; i++) {
        if (classify)
            y[i] = (float)(km_rng_uniform(&r) < 0.8 ? i % 5 % 3 : km_rng_below(&r, 3));
        else
            y[i] = (float)(sin(X[i * d]) + X[i * d + 1] * 0.5 + 0.1 * km_rng_uniform(&r));
    }
    return y;
}

static double kdef(const km_kernel *k, const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t j = 0; j < d; j++)
        s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
    double L = k->bandwidth;
    return k->type == KM_KERNEL_LAPLACE ? exp(-sqrt(s) / L) : exp(-s / (2 * L * L));
}

static void quiet(km_ctx *ctx)
{
    km_ctx_init(ctx, "t");
    ctx->verbosity = KM_QUIET;
    ctx->progress = KM_PROGRESS_OFF;
}

static double rel_diff(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / den);
}

static void opts(km_falkon_opts *o, int type, double L, const double *reg, int mode)
{
    o->kernel = (km_kernel){.type = type, .bandwidth = L};
    km_falkon_defaults(o);
    o->regs = reg;
    o->nregs = 1;
    o->mode = mode;
    o->tol = 1e-9;
    o->max_iter = 300;
}

/* alpha (m x c) of a problem in the given mode, source blocks and pool. */
static int solve(const km_falkon_opts *o, km_pool *pool, const float *X, const float *y, size_t n,
                 size_t d, size_t sblock, int classify, const float *C, size_t m, size_t c,
                 float *alpha, km_falkon_result *res)
{
    km_ctx ctx;
    quiet(&ctx);
    km_rowsrc src;
    km_memsrc ms;
    km_memsrc_init(&src, &ms, X, y, n, d, sblock);
    return km_falkon(&ctx, pool, o, &src, classify, C, m, d, c, alpha, res);
}

/* The Nystrom solution in float64 from its definition:
 * (K_nm' K_nm + lambda n K_mm) alpha = K_nm' Y. */
static double *reference(const km_kernel *k, const float *X, const float *y, size_t n, size_t d,
                         int classify, const float *C, size_t m, size_t c, double lambda)
{
    double *Knm = malloc(n * m * sizeof *Knm), *H = malloc(m * m * sizeof *H);
    double *r = calloc(m * c, sizeof *r);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < m; j++)
            Knm[i * m + j] = kdef(k, X + i * d, C + j * d, d);
    for (size_t a = 0; a < m; a++) {
        for (size_t b = 0; b < m; b++) {
            double s = 0;
            for (size_t i = 0; i < n; i++)
                s += Knm[i * m + a] * Knm[i * m + b];
            H[a * m + b] = s + lambda * (double)n * kdef(k, C + a * d, C + b * d, d);
        }
        for (size_t i = 0; i < n; i++) {
            if (classify)
                r[a * c + (size_t)y[i]] += Knm[i * m + a];
            else
                r[a] += Knm[i * m + a] * y[i];
        }
    }
    cr_assert_eq(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, (lapack_int)c, H,
                               (lapack_int)m, r, (lapack_int)c), 0);
    free(Knm);
    free(H);
    return r;
}

/* Centres all the rows: the Nystrom model is exact KRR, alpha =
 * (K + lambda n I)^-1 Y; its predictions K alpha against km_solve_direct's
 * on K written out from the definition. */
Test(falkon, all_rows_as_centres_is_exact_krr)
{
    const size_t n = 300, d = 5;
    const double lambda = 1e-2;
    float *X = rows(n, d, 1), *y = targets(X, n, d, 0, 2);
    float *K = malloc(n * n * sizeof *K), *a = malloc(n * sizeof *a), *ad = malloc(n * sizeof *ad);
    double *p = malloc(n * sizeof *p);
    for (int type = 0; type < 2; type++) {
        km_kernel k = {.type = type, .bandwidth = 2.0};
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                K[i * n + j] = (float)kdef(&k, X + i * d, X + j * d, d);
        km_ctx ctx;
        quiet(&ctx);
        cr_assert_eq(km_solve_direct(&ctx, K, n, lambda * n, y, 1, ad), 0);
        for (size_t i = 0; i < n; i++) {
            p[i] = 0;
            for (size_t j = 0; j < n; j++)
                p[i] += (double)K[i * n + j] * ad[j];
        }
        for (int mode = KM_FALKON_CG; mode <= KM_FALKON_GRAM; mode++) {
            km_falkon_opts o;
            km_falkon_result res;
            opts(&o, type, 2.0, &lambda, mode);
            cr_assert_eq(solve(&o, NULL, X, y, n, d, 0, 0, X, n, 1, a, &res), 0);
            cr_assert_eq(res.mode, mode);
            float *pf = malloc(n * sizeof *pf);
            for (size_t i = 0; i < n; i++) {
                double s = 0;
                for (size_t j = 0; j < n; j++)
                    s += (double)K[i * n + j] * a[j];
                pf[i] = (float)s;
            }
            double e = rel_diff(pf, p, n);
            cr_assert_lt(e, 1e-4, "kernel %d mode %d: predictions differ by %g", type, mode, e);
            free(pf);
        }
    }
    free(X);
    free(y);
    free(K);
    free(a);
    free(ad);
    free(p);
}

/* CG and GRAM against the float64 Nystrom solution, regression (Laplace)
 * and 3 classes (Gaussian), m < n. */
Test(falkon, cg_and_gram_match_float64_nystrom)
{
    const size_t n = 1200, d = 6, m = 120;
    const double lambda = 1e-3;
    for (int classify = 0; classify < 2; classify++) {
        size_t c = classify ? 3 : 1;
        int type = classify ? KM_KERNEL_GAUSSIAN : KM_KERNEL_LAPLACE;
        km_kernel k = {.type = type, .bandwidth = 0.7};
        float *X = rows(n, d, 3 + classify), *y = targets(X, n, d, classify, 5);
        float *C = rows(m, d, 7);
        double *ref = reference(&k, X, y, n, d, classify, C, m, c, lambda);
        float *a[2];
        for (int mode = KM_FALKON_CG; mode <= KM_FALKON_GRAM; mode++) {
            km_falkon_opts o;
            km_falkon_result res;
            opts(&o, type, 0.7, &lambda, mode);
            o.block = 256;
            a[mode - 1] = malloc(m * c * sizeof *a[0]);
            cr_assert_eq(solve(&o, NULL, X, y, n, d, 100, classify, C, m, c, a[mode - 1], &res),
                         0);
            cr_assert_eq(res.rows, n);
            double e = rel_diff(a[mode - 1], ref, m * c);
            cr_assert_lt(e, 1e-4, "classify %d mode %d: alpha off by %g (%d iterations)",
                         classify, mode, e, res.iters);
        }
        double *a1 = malloc(m * c * sizeof *a1);
        for (size_t i = 0; i < m * c; i++)
            a1[i] = a[1][i];
        cr_assert_lt(rel_diff(a[0], a1, m * c), 1e-4);
        free(a1);
        free(a[0]);
        free(a[1]);
        free(ref);
        free(X);
        free(y);
        free(C);
    }
}

/* The same bits of alpha whatever the source's blocks (all at once, 1, 7,
 * 1000 rows), the pool (none, 1 or 2 workers) and BLAS's threads. */
Test(falkon, alpha_is_bit_identical_across_blocks_and_threads)
{
    const size_t n = 1100, d = 6, m = 90;
    const double lambda = 1e-3;
    const size_t sblocks[] = {0, 1, 7, 1000};
    km_pool *pools[3] = {NULL};
    km_err e;
    cr_assert_eq(km_pool_create(&pools[1], 1, &e), 0);
    cr_assert_eq(km_pool_create(&pools[2], 2, &e), 0);
    for (int cls = 0; cls < 2; cls++) {
        size_t c = cls ? 3 : 1;
        float *X = rows(n, d, 11), *y = targets(X, n, d, cls, 12), *C = rows(m, d, 13);
        for (int mode = KM_FALKON_CG; mode <= KM_FALKON_GRAM; mode++) {
            km_falkon_opts o;
            km_falkon_result res;
            opts(&o, KM_KERNEL_LAPLACE, 1.0, &lambda, mode);
            o.block = 256;
            o.max_iter = 8;
            float *ref = malloc(m * c * sizeof *ref), *a = malloc(m * c * sizeof *a);
            int blas = km_blas_threads(1);
            cr_assert_eq(solve(&o, NULL, X, y, n, d, 0, cls, C, m, c, ref, &res), 0);
            cr_assert_eq(res.passes, mode == KM_FALKON_CG ? 9 : 1);
            for (int t = 1; t <= 2; t++) {
                km_blas_threads(t);
                for (size_t b = 0; b < 4; b++) {
                    cr_assert_eq(solve(&o, pools[t], X, y, n, d, sblocks[b], cls, C, m, c, a,
                                       &res), 0);
                    cr_assert(!memcmp(a, ref, m * c * sizeof *a),
                              "mode %d c %zu: threads %d, source blocks of %zu differ", mode, c,
                              t, sblocks[b]);
                }
            }
            km_blas_threads(blas);
            free(ref);
            free(a);
        }
        free(X);
        free(y);
        free(C);
    }
    km_pool_destroy(pools[1]);
    km_pool_destroy(pools[2]);
}

/* A source that fails (its own error, message set) or raises the
 * interrupt flag after `after` rows of pass `at`. */
struct badsrc {
    km_memsrc ms;
    km_ctx *ctx;
    int passes, at, interrupt;
    size_t after;
    volatile sig_atomic_t flag;
};

static int bad_pass(void *arg, km_block_fn fn, void *fnarg)
{
    struct badsrc *b = arg;
    b->passes++;
    for (size_t r0 = 0; r0 < b->ms.n; r0 += 50) {
        if (b->passes == b->at && r0 == b->after) {
            if (b->interrupt)
                b->flag = 15;
            else
                return km_seterr(&b->ctx->err, KM_ECORRUPT, "x.kmx: chunk 3: checksum mismatch");
        }
        size_t nb = b->ms.n - r0 < 50 ? b->ms.n - r0 : 50;
        int rc = fn(fnarg, b->ms.X + r0 * b->ms.d, b->ms.y + r0, nb);
        if (rc)
            return rc;
    }
    return 0;
}

static int run_bad(struct badsrc *b, int mode, int at, int interrupt, const float *X,
                   const float *y, size_t n, size_t d, const float *C, size_t m, float *alpha)
{
    static const double lambda = 1e-3;
    km_ctx *ctx = b->ctx;
    km_rowsrc src;
    km_memsrc_init(&src, &b->ms, X, y, n, d, 0);
    src.pass = bad_pass;
    src.arg = b;
    b->passes = 0;
    b->at = at;
    b->after = 300;
    b->interrupt = interrupt;
    b->flag = 0;
    ctx->interrupted = &b->flag;
    km_falkon_opts o;
    km_falkon_result res;
    opts(&o, KM_KERNEL_GAUSSIAN, 1.0, &lambda, mode);
    o.block = 128;
    o.max_iter = 5;
    return km_falkon(ctx, NULL, &o, &src, 0, C, m, d, 1, alpha, &res);
}

Test(falkon, errors_of_the_source_and_interrupts_are_returned)
{
    const size_t n = 700, d = 4, m = 40;
    float *X = rows(n, d, 21), *y = targets(X, n, d, 0, 22), *C = rows(m, d, 23);
    float *a = malloc(m * sizeof *a);
    km_ctx ctx;
    quiet(&ctx);
    struct badsrc b = {.ctx = &ctx};
    for (int mode = KM_FALKON_CG; mode <= KM_FALKON_GRAM; mode++)
        for (int at = 1; at <= (mode == KM_FALKON_CG ? 3 : 1); at++) {
            cr_assert_eq(run_bad(&b, mode, at, 0, X, y, n, d, C, m, a), KM_ECORRUPT);
            cr_assert_str_eq(ctx.err.msg, "x.kmx: chunk 3: checksum mismatch");
            cr_assert_eq(b.passes, at);
            cr_assert_eq(run_bad(&b, mode, at, 1, X, y, n, d, C, m, a), KM_EINTR);
            cr_assert_eq(b.passes, at);
        }
    /* a class outside 0..c-1, and a pass shorter than announced */
    km_rowsrc src;
    km_memsrc ms;
    km_falkon_opts o;
    km_falkon_result res;
    static const double lambda = 1e-3;
    opts(&o, KM_KERNEL_GAUSSIAN, 1.0, &lambda, KM_FALKON_GRAM);
    float *yc = malloc(n * sizeof *yc);
    for (size_t i = 0; i < n; i++)
        yc[i] = (float)(i % 3);
    yc[401] = 3;
    ctx.interrupted = NULL;
    km_memsrc_init(&src, &ms, X, yc, n, d, 0);
    float *a3 = malloc(3 * m * sizeof *a3);
    cr_assert_eq(km_falkon(&ctx, NULL, &o, &src, 1, C, m, d, 3, a3, &res), KM_EDATA);
    cr_assert_str_eq(ctx.err.msg, "Nystrom solver: row 402 has class 3, not one of 0..2");
    km_memsrc_init(&src, &ms, X, y, n, d, 0);
    src.n = n + 1;
    cr_assert_eq(km_falkon(&ctx, NULL, &o, &src, 0, C, m, d, 1, a, &res), KM_ECORRUPT);
    cr_assert_str_eq(ctx.err.msg, "the rows changed: a pass delivered 700 rows of the 701 "
                                  "announced");
    free(X);
    free(y);
    free(yc);
    free(C);
    free(a);
    free(a3);
}

/* A metric given by its root (diagonal and full) against rows and centres
 * transformed first. */
Test(falkon, metric_equals_transformed_rows)
{
    const size_t n = 600, d = 5, m = 60;
    const double lambda = 1e-3;
    float *X = rows(n, d, 31), *y = targets(X, n, d, 1, 32), *C = rows(m, d, 33);
    float *S = rows(d, d, 34), *Xs = malloc(n * d * sizeof *Xs), *Cs = malloc(m * d * sizeof *Cs);
    float *a = malloc(m * 3 * sizeof *a), *b = malloc(m * 3 * sizeof *b);
    double *bd = malloc(m * 3 * sizeof *bd);
    for (size_t i = 0; i < d * d; i++)
        S[i] = S[i] * 0.3f + (i % (d + 1) == 0 ? 1.0f : 0.0f);
    for (int metric = KM_METRIC_DIAG; metric <= KM_METRIC_FULL; metric++)
        for (int mode = KM_FALKON_CG; mode <= KM_FALKON_GRAM; mode++) {
            km_falkon_opts o;
            km_falkon_result res;
            opts(&o, KM_KERNEL_GAUSSIAN, 1.0, &lambda, mode);
            km_metric_rows(X, n, d, S, metric, Xs);
            km_metric_rows(C, m, d, S, metric, Cs);
            cr_assert_eq(solve(&o, NULL, Xs, y, n, d, 0, 1, Cs, m, 3, b, &res), 0);
            o.metric = metric;
            o.S = S;
            cr_assert_eq(solve(&o, NULL, X, y, n, d, 0, 1, C, m, 3, a, &res), 0);
            for (size_t i = 0; i < m * 3; i++)
                bd[i] = b[i];
            cr_assert_lt(rel_diff(a, bd, m * 3), 1e-5, "metric %d mode %d", metric, mode);
        }
    free(X);
    free(y);
    free(C);
    free(S);
    free(Xs);
    free(Cs);
    free(a);
    free(b);
    free(bd);
}

/* Accuracy and mean squared error of two coefficient sets on held-out
 * rows against predictions from the kernel's definition in float64. */
Test(falkon, score_matches_definition)
{
    const size_t n = 800, nt = 500, d = 4, m = 70;
    const double lambda = 1e-3;
    km_kernel k = {.type = KM_KERNEL_GAUSSIAN, .bandwidth = 1.0};
    for (int cls = 0; cls < 2; cls++) {
        size_t c = cls ? 3 : 1;
        float *X = rows(n, d, 41), *y = targets(X, n, d, cls, 42), *C = rows(m, d, 43);
        float *Xt = rows(nt, d, 44), *yt = targets(Xt, nt, d, cls, 45);
        float *a = malloc(2 * m * c * sizeof *a);
        km_falkon_opts o;
        km_falkon_result res;
        opts(&o, k.type, k.bandwidth, &lambda, KM_FALKON_AUTO);
        cr_assert_eq(solve(&o, NULL, X, y, n, d, 0, cls, C, m, c, a, &res), 0);
        cr_assert_eq(res.mode, KM_FALKON_GRAM); /* m = 70, far below (i + 1)(2d + 4c + 10) */
        for (size_t i = 0; i < m * c; i++)
            a[m * c + i] = a[i] * (float)(i % 2 ? 0.5 : -1.0);
        double out[2], want[2] = {0, 0};
        km_ctx ctx;
        quiet(&ctx);
        km_rowsrc src;
        km_memsrc ms;
        km_memsrc_init(&src, &ms, Xt, yt, nt, d, 33);
        o.block = 64;
        cr_assert_eq(km_falkon_score(&ctx, NULL, &o, &src, cls, C, m, d, c, a, 2, out), 0);
        for (size_t s = 0; s < 2; s++) {
            for (size_t i = 0; i < nt; i++) {
                double p[3] = {0, 0, 0};
                for (size_t j = 0; j < m; j++)
                    for (size_t q = 0; q < c; q++)
                        p[q] += kdef(&k, Xt + i * d, C + j * d, d) * a[s * m * c + j * c + q];
                size_t best = p[1] > p[0] ? 1 : 0;
                best = cls && p[2] > p[best] ? 2 : best;
                want[s] += cls ? (double)(best == (size_t)yt[i]) : (yt[i] - p[0]) * (yt[i] - p[0]);
            }
            want[s] /= (double)nt;
            if (cls)
                cr_assert_leq(fabs(out[s] - want[s]), 1.0 / nt, "set %zu: %g, %g", s, out[s],
                              want[s]);
            else
                cr_assert_lt(fabs(out[s] - want[s]), 1e-4 * want[s], "set %zu: %g, %g", s,
                             out[s], want[s]);
        }
        free(X);
        free(y);
        free(C);
        free(Xt);
        free(yt);
        free(a);
    }
}

/* A smooth kernel on many centres with a tiny ridge: K_mm is numerically
 * singular. Both modes must still solve the same jittered system: CG
 * converges (an operator made indefinite by rounding would not) and GRAM
 * factors with no jitter beyond CG's (a Gram matrix summed in float32
 * would not); their predictions agree to the precision of the data. */
Test(falkon, near_singular_centres_stay_solvable)
{
    const size_t n = 2000, d = 3, m = 200;
    const double lambda = 1e-6;
    km_kernel k = {.type = KM_KERNEL_GAUSSIAN, .bandwidth = 3.0};
    float *X = rows(n, d, 51), *y = targets(X, n, d, 0, 52), *a[2];
    double *p[2];
    km_falkon_result res[2];
    for (int mode = KM_FALKON_CG; mode <= KM_FALKON_GRAM; mode++) {
        km_falkon_opts o;
        opts(&o, k.type, k.bandwidth, &lambda, mode);
        o.tol = 1e-8;
        a[mode - 1] = malloc(m * sizeof *a[0]);
        cr_assert_eq(solve(&o, NULL, X, y, n, d, 0, 0, X, m, 1, a[mode - 1], &res[mode - 1]), 0);
        p[mode - 1] = calloc(n, sizeof *p[0]);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++)
                p[mode - 1][i] += kdef(&k, X + i * d, X + j * d, d) * a[mode - 1][j];
    }
    cr_assert_lt(res[0].rel_residual, 1e-8);
    cr_assert_gt(res[0].jitter, 0);
    cr_assert_eq(res[1].jitter, res[0].jitter);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (p[0][i] - p[1][i]) * (p[0][i] - p[1][i]);
        den += p[1][i] * p[1][i];
    }
    cr_assert_lt(sqrt(num / den), 0.05, "predictions differ by %g", sqrt(num / den));
    for (int i = 0; i < 2; i++) {
        free(a[i]);
        free(p[i]);
    }
    free(X);
    free(y);
}
