/* spectrum.c - eigenpairs of symmetric matrices and the spectral
 * diagnostics of kernel ridge regression (see include/kmill/spectrum.h).
 * Both in float64: the header says why. */
#include "config.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/spectrum.h"

int km_eig_top(km_err *e, const char *what, double *A, size_t n, size_t k, double *w,
               double *V)
{
    /* A row-major lower triangle is a column-major upper one: LAPACK reads
     * it in place, where the row-major interface would copy all n^2. */
    double *wa = malloc((n + 1) * sizeof *wa); /* dsyevr writes up to n values */
    lapack_int *supp = malloc((2 * k + 2) * sizeof *supp);
    if (!wa || !supp) {
        free(wa);
        free(supp);
        return km_seterr(e, KM_ENOMEM, "out of memory");
    }
    lapack_int m = 0, nn = (lapack_int)n;
    double dummy = 0;
    lapack_int info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, V ? 'V' : 'N', k < n ? 'I' : 'A', 'U', nn,
                                     A, nn, 0, 0, nn - (lapack_int)k + 1, nn,
                                     LAPACKE_dlamch('S'), &m, wa, V ? V : &dummy, V ? nn : 1,
                                     supp);
    int rc = 0;
    if (info == LAPACK_WORK_MEMORY_ERROR) {
        rc = km_seterr(e, KM_ENOMEM, "out of memory");
    } else if (info || (size_t)m != k) {
        rc = km_seterr(e, KM_ENUMERIC, "%s: the eigendecomposition failed (LAPACK dsyevr: %d, "
                       "%d of %zu eigenvalues)", what, (int)info, (int)m, k);
    }
    if (rc)
        goto out;
    /* ascending from LAPACK; largest first here. The vectors are the
     * columns of a column-major n x k array, that is rows of a row-major
     * one: reverse their order. */
    for (size_t r = 0; r < k; r++)
        w[r] = wa[k - 1 - r];
    if (V)
        for (size_t r = 0; r < k / 2; r++) {
            double *a = V + r * n, *b = V + (k - 1 - r) * n;
            for (size_t i = 0; i < n; i++) {
                double t = a[i];
                a[i] = b[i];
                b[i] = t;
            }
        }
out:
    free(wa);
    free(supp);
    return rc;
}

uint64_t km_eig_estimate(size_t n)
{
    /* dsyevr's optimal workspace: 26 n doubles and 10 n integers, beside
     * our n values and 2 n support indices */
    return (uint64_t)n * (27 * sizeof(double) + 12 * sizeof(lapack_int));
}

uint64_t km_spectral_estimate(size_t n, size_t c)
{
    return ((uint64_t)n * c * 4 + 2 * (uint64_t)n) * sizeof(double);
}

/* The targets as an n x c float64 matrix: one-hot rows for classes. */
static int targets(km_err *e, const float *y, size_t n, size_t c, int classify, double *Y)
{
    memset(Y, 0, n * c * sizeof *Y);
    for (size_t i = 0; i < n; i++) {
        double v = y[i];
        if (!classify) {
            if (!isfinite(v))
                return km_seterr(e, KM_EINVAL, "row %zu: target %g is not a number", i, v);
            Y[i] = v;
        } else if (!(v >= 0 && v < (double)c && v == floor(v)))
            return km_seterr(e, KM_EINVAL, "row %zu: class %g is not one of the %zu classes",
                             i, v, c);
        else
            Y[i * c + (size_t)v] = 1;
    }
    return 0;
}

/* The index of the largest of x[0..c), the first of ties. */
static size_t argmax(const double *x, size_t c)
{
    size_t b = 0;
    for (size_t j = 1; j < c; j++)
        if (x[j] > x[b])
            b = j;
    return b;
}

typedef struct work {
    const double *s, *V, *Y, *B; /* eigenpairs, targets, B = V Y */
    size_t n, c;
    int classify;
    double *G, *R, *g, *D;
} work;

/* One ridge: g = reg / (s + reg), R = V^T diag(g) B = (I - H) Y,
 * D = diag(I - H), then the figures. */
static int one_ridge(km_err *e, work *w, double reg, km_spectral_fit *f)
{
    size_t n = w->n, c = w->c;
    memset(f, 0, sizeof *f);
    f->reg = reg;
    double dof = 0, tinv = 0;
    for (size_t k = 0; k < n; k++) {
        double den = w->s[k] + reg;
        if (!(den > 0))
            return km_seterr(e, KM_ENUMERIC, "ridge %g is below minus the kernel matrix's "
                             "smallest eigenvalue %g (rounding): K + ridge I is not positive "
                             "definite; use a larger --reg", reg, w->s[k]);
        w->g[k] = reg / den;
        dof += w->s[k] / den;
        tinv += 1 / den;
        for (size_t j = 0; j < c; j++)
            w->G[k * c + j] = w->g[k] * w->B[k * c + j];
    }
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)n, (int)c, (int)n, 1, w->V, (int)n,
                w->G, (int)c, 0, w->R, (int)c);
    memset(w->D, 0, n * sizeof *w->D);
    for (size_t k = 0; k < n; k++) {
        const double *v = w->V + k * n;
        double gk = w->g[k];
        for (size_t i = 0; i < n; i++)
            w->D[i] += gk * v[i] * v[i];
    }
    double se = 0, le = 0;
    size_t right = 0;
    double *loo = w->G; /* G is spent: the leave-one-out scores of a row */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < c; j++) {
            double r = w->R[i * c + j], ei = r / w->D[i];
            se += r * r;
            le += ei * ei;
            loo[j] = w->Y[i * c + j] - ei;
        }
        if (w->classify)
            right += w->Y[i * c + argmax(loo, c)] == 1;
    }
    f->dof = dof;
    f->train_mse = se / (double)n;
    f->loo_mse = le / (double)n;
    f->loo_acc = w->classify ? (double)right / (double)n : NAN;
    double q = 1 - dof / (double)n;
    f->gcv = q > 0 ? f->train_mse / (q * q) : NAN;
    f->heuristic = tinv / (double)n;
    return 0;
}

int km_spectral_fits(km_ctx *ctx, const double *s, const double *V, size_t n, const float *y,
                     size_t c, int classify, const double *regs, size_t nregs,
                     km_spectral_fit *out)
{
    if (!classify)
        c = 1;
    double *Y = malloc((n * c + 1) * sizeof *Y), *B = malloc((n * c + 1) * sizeof *B);
    work w = {s, V, Y, B, n, c, classify, malloc((n * c + 1) * sizeof(double)),
              malloc((n * c + 1) * sizeof(double)), malloc((n + 1) * sizeof(double)),
              malloc((n + 1) * sizeof(double))};
    int rc = 0;
    if (!Y || !B || !w.G || !w.R || !w.g || !w.D) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = targets(&ctx->err, y, n, c, classify, Y)))
        goto out;
    /* B = V Y: the targets in the eigenbasis, shared by every ridge */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c, (int)n, 1, V, (int)n,
                Y, (int)c, 0, B, (int)c);
    for (size_t r = 0; r < nregs && !rc; r++) {
        if (km_check_interrupt(ctx))
            rc = KM_EINTR;
        else
            rc = one_ridge(&ctx->err, &w, regs[r], &out[r]);
    }
out:
    free(Y);
    free(B);
    free(w.G);
    free(w.R);
    free(w.g);
    free(w.D);
    return rc;
}
