/* test_spectrum.c - eigenpairs and the spectral diagnostics of kernel
 * ridge regression (kmill/spectrum.h), each against an independent
 * computation written here in float64: eigenvalues against the closed form
 * of a matrix with a known spectrum; the effective dimension, GCV and the
 * trace heuristic against the hat matrix formed with a direct inverse;
 * leave-one-out against explicit refits without each row. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/rng.h"
#include "kmill/spectrum.h"

/* tridiag(-1, 2, -1) of order n: eigenvalues 2 - 2 cos(j pi / (n + 1)),
 * eigenvectors sin(i j pi / (n + 1)). */
static void laplacian(double *A, size_t n)
{
    memset(A, 0, n * n * sizeof *A);
    for (size_t i = 0; i < n; i++) {
        A[i * n + i] = 2;
        if (i)
            A[i * n + i - 1] = A[(i - 1) * n + i] = -1;
    }
}

static double lap_value(size_t j, size_t n) /* j-th largest, from 0 */
{
    return 2 - 2 * cos((double)(n - j) * M_PI / (double)(n + 1));
}

Test(spectrum, eigenvalues_closed_form)
{
    enum { N = 30, K = 7 };
    double A[N * N], w[N], V[N * N], A0[N * N];
    km_err e = {0};
    laplacian(A0, N);
    /* top K by the index range, values only */
    memcpy(A, A0, sizeof A);
    cr_assert_eq(km_eig_top(&e, "t", A, N, K, w, NULL), 0, "%s", e.msg);
    for (size_t j = 0; j < K; j++)
        cr_assert_float_eq(w[j], lap_value(j, N), 1e-12, "value %zu: %.17g", j, w[j]);
    /* all of them with vectors: A v = w v, unit, and the sine shape */
    memcpy(A, A0, sizeof A);
    cr_assert_eq(km_eig_top(&e, "t", A, N, N, w, V), 0, "%s", e.msg);
    for (size_t j = 0; j < N; j++) {
        cr_assert_float_eq(w[j], lap_value(j, N), 1e-12);
        const double *v = V + j * N;
        double nn = 0, dot = 0, sn = 0;
        for (size_t i = 0; i < N; i++) {
            double av = 0;
            for (size_t l = 0; l < N; l++)
                av += A0[i * N + l] * v[l];
            cr_assert_float_eq(av, w[j] * v[i], 1e-12);
            nn += v[i] * v[i];
            double s = sin((double)((i + 1) * (N - j)) * M_PI / (N + 1));
            dot += s * v[i];
            sn += s * s;
        }
        cr_assert_float_eq(nn, 1, 1e-12);
        cr_assert_float_eq(fabs(dot) / sqrt(sn), 1, 1e-10, "vector %zu", j);
    }
    /* the top 3 with vectors, as the first 3 of the full set (up to sign) */
    double W3[3], V3[3 * N];
    memcpy(A, A0, sizeof A);
    cr_assert_eq(km_eig_top(&e, "t", A, N, 3, W3, V3), 0, "%s", e.msg);
    for (size_t j = 0; j < 3; j++) {
        double dot = 0;
        for (size_t i = 0; i < N; i++)
            dot += V3[j * N + i] * V[j * N + i];
        cr_assert_float_eq(fabs(dot), 1, 1e-10);
    }
}

/* ---- a small kernel ridge regression, worked out directly ------------ */

enum { N = 24, D = 3, C = 3 };

typedef struct prob {
    double K[N * N];
    float y[N];    /* classes, or values */
    double Y[N * C]; /* targets as the regression sees them */
    size_t c;
    int classify;
} prob;

static void problem(prob *p, int classify, uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    double X[N * D];
    for (size_t i = 0; i < N * D; i++)
        X[i] = km_rng_uniform(&r);
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < N; j++) {
            double d2 = 0;
            for (size_t l = 0; l < D; l++)
                d2 += (X[i * D + l] - X[j * D + l]) * (X[i * D + l] - X[j * D + l]);
            p->K[i * N + j] = exp(-sqrt(d2) / 0.7); /* Laplace */
        }
    p->classify = classify;
    p->c = classify ? C : 1;
    memset(p->Y, 0, sizeof p->Y);
    for (size_t i = 0; i < N; i++) {
        double t = X[i * D] + 0.5 * X[i * D + 1] + 0.3 * km_rng_uniform(&r);
        if (classify) {
            p->y[i] = (float)(t < 0.6 ? 0 : t < 1.0 ? 1 : 2);
            p->Y[i * C + (size_t)p->y[i]] = 1;
        } else {
            p->y[i] = (float)t;
            p->Y[i] = p->y[i];
        }
    }
}

/* Inverse of the m x m matrix A (destroyed) by Gauss-Jordan with partial
 * pivoting. */
static void inverse(double *A, size_t m, double *Inv)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < m; j++)
            Inv[i * m + j] = i == j;
    for (size_t col = 0; col < m; col++) {
        size_t piv = col;
        for (size_t i = col + 1; i < m; i++)
            if (fabs(A[i * m + col]) > fabs(A[piv * m + col]))
                piv = i;
        for (size_t j = 0; j < m; j++) {
            double t = A[col * m + j];
            A[col * m + j] = A[piv * m + j];
            A[piv * m + j] = t;
            t = Inv[col * m + j];
            Inv[col * m + j] = Inv[piv * m + j];
            Inv[piv * m + j] = t;
        }
        double d = A[col * m + col];
        for (size_t j = 0; j < m; j++) {
            A[col * m + j] /= d;
            Inv[col * m + j] /= d;
        }
        for (size_t i = 0; i < m; i++) {
            if (i == col)
                continue;
            double f = A[i * m + col];
            for (size_t j = 0; j < m; j++) {
                A[i * m + j] -= f * A[col * m + j];
                Inv[i * m + j] -= f * Inv[col * m + j];
            }
        }
    }
}

static void decompose(const prob *p, double *s, double *V)
{
    double A[N * N];
    memcpy(A, p->K, sizeof A);
    km_err e = {0};
    cr_assert_eq(km_eig_top(&e, "K", A, N, N, s, V), 0, "%s", e.msg);
}

static void fits(const prob *p, const double *regs, size_t nr, km_spectral_fit *f)
{
    double s[N], V[N * N];
    decompose(p, s, V);
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    cr_assert_eq(km_spectral_fits(&ctx, s, V, N, p->y, p->c, p->classify, regs, nr, f), 0, "%s",
                 ctx.err.msg);
}

/* H = K (K + reg I)^-1 by the direct inverse; also tr((K + reg I)^-1). */
static void hat(const prob *p, double reg, double *H, double *trinv)
{
    double A[N * N], Inv[N * N];
    memcpy(A, p->K, sizeof A);
    for (size_t i = 0; i < N; i++)
        A[i * N + i] += reg;
    inverse(A, N, Inv);
    *trinv = 0;
    for (size_t i = 0; i < N; i++) {
        *trinv += Inv[i * N + i];
        for (size_t j = 0; j < N; j++) {
            double h = 0;
            for (size_t l = 0; l < N; l++)
                h += p->K[i * N + l] * Inv[l * N + j];
            H[i * N + j] = h;
        }
    }
}

Test(spectrum, dof_gcv_heuristic_against_the_hat_matrix)
{
    const double regs[] = {1e-3, 0.05, 2};
    for (int classify = 0; classify < 2; classify++) {
        prob p;
        problem(&p, classify, 7 + (uint64_t)classify);
        km_spectral_fit f[3];
        fits(&p, regs, 3, f);
        for (size_t r = 0; r < 3; r++) {
            double H[N * N], trinv, tr = 0, se = 0;
            hat(&p, regs[r], H, &trinv);
            for (size_t i = 0; i < N; i++) {
                tr += H[i * N + i];
                for (size_t j = 0; j < p.c; j++) {
                    double fi = 0;
                    for (size_t l = 0; l < N; l++)
                        fi += H[i * N + l] * p.Y[l * p.c + j];
                    se += (p.Y[i * p.c + j] - fi) * (p.Y[i * p.c + j] - fi);
                }
            }
            double gcv = (se / N) / ((1 - tr / N) * (1 - tr / N));
            cr_assert_eq(f[r].reg, regs[r]);
            cr_assert_float_eq(f[r].dof, tr, 1e-9 * N, "dof %g vs %g", f[r].dof, tr);
            cr_assert_float_eq(f[r].train_mse, se / N, 1e-9 + 1e-7 * se / N);
            cr_assert_float_eq(f[r].gcv, gcv, 1e-7 * gcv, "gcv %g vs %g", f[r].gcv, gcv);
            cr_assert_float_eq(f[r].heuristic, trinv / N, 1e-7 * trinv / N);
        }
    }
}

/* Leave row i out: Cholesky of K_{-i} + reg I, solve, predict row i. The
 * residuals e (N x c) and the share of rows whose prediction's argmax is
 * their class. */
static void refits(const prob *p, double reg, double *e, double *acc)
{
    size_t m = N - 1, c = p->c, right = 0;
    for (size_t out = 0; out < N; out++) {
        size_t idx[N], k = 0;
        for (size_t i = 0; i < N; i++)
            if (i != out)
                idx[k++] = i;
        double L[N * N] = {0}, A[N * C];
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j <= i; j++) {
                double v = p->K[idx[i] * N + idx[j]] + (i == j ? reg : 0);
                for (size_t l = 0; l < j; l++)
                    v -= L[i * m + l] * L[j * m + l];
                L[i * m + j] = i == j ? sqrt(v) : v / L[j * m + j];
            }
        for (size_t col = 0; col < c; col++) { /* L L^T a = y */
            double z[N];
            for (size_t i = 0; i < m; i++) {
                double v = p->Y[idx[i] * c + col];
                for (size_t l = 0; l < i; l++)
                    v -= L[i * m + l] * z[l];
                z[i] = v / L[i * m + i];
            }
            for (size_t i = m; i-- > 0;) {
                double v = z[i];
                for (size_t l = i + 1; l < m; l++)
                    v -= L[l * m + i] * A[l * c + col];
                A[i * c + col] = v / L[i * m + i];
            }
        }
        double f[C], best = -INFINITY;
        size_t arg = 0;
        for (size_t col = 0; col < c; col++) {
            f[col] = 0;
            for (size_t i = 0; i < m; i++)
                f[col] += p->K[out * N + idx[i]] * A[i * c + col];
            e[out * c + col] = p->Y[out * c + col] - f[col];
            if (f[col] > best) {
                best = f[col];
                arg = col;
            }
        }
        right += p->classify && p->Y[out * c + arg] == 1;
    }
    *acc = (double)right / N;
}

Test(spectrum, loo_against_refits)
{
    const double regs[] = {1e-2, 0.3};
    for (int classify = 0; classify < 2; classify++) {
        prob p;
        problem(&p, classify, 11 + (uint64_t)classify);
        km_spectral_fit f[2];
        fits(&p, regs, 2, f);
        for (size_t r = 0; r < 2; r++) {
            double e[N * C], acc, mse = 0;
            refits(&p, regs[r], e, &acc);
            for (size_t i = 0; i < N * p.c; i++)
                mse += e[i] * e[i];
            mse /= N;
            cr_assert_float_eq(f[r].loo_mse, mse, 1e-8 * mse, "LOO MSE %.12g vs %.12g",
                               f[r].loo_mse, mse);
            if (classify) {
                cr_assert_float_eq(f[r].loo_acc, acc, 1e-12, "LOO accuracy %g vs %g",
                                   f[r].loo_acc, acc);
                cr_assert(acc > 0.3 && acc < 1, "a test that can tell: accuracy %g", acc);
            } else
                cr_assert(isnan(f[r].loo_acc));
        }
        cr_assert(f[0].loo_mse != f[1].loo_mse);
    }
}

Test(spectrum, bad_targets_and_ridge)
{
    prob p;
    problem(&p, 1, 3);
    double s[N], V[N * N];
    decompose(&p, s, V);
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    km_spectral_fit f;
    double reg = 0.1;
    p.y[5] = 3; /* not one of 3 classes */
    cr_assert_eq(km_spectral_fits(&ctx, s, V, N, p.y, C, 1, &reg, 1, &f), KM_EINVAL);
    cr_assert_str_eq(ctx.err.msg, "row 5: class 3 is not one of the 3 classes");
    p.y[5] = 1;
    s[N - 1] = -0.5; /* a negative eigenvalue beyond the ridge */
    cr_assert_eq(km_spectral_fits(&ctx, s, V, N, p.y, C, 1, &reg, 1, &f), KM_ENUMERIC);
}
