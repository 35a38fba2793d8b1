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
    o->kernel = (km_kernel){type, L};
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
        km_kernel k = {type, 2.0};
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
        km_kernel k = {type, 0.7};
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
