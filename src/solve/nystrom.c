/* nystrom.c - the randomized Nyström preconditioner for K + mu I
 * (Frangella, Tropp, Udell 2021; see kmill/solve.h; kmill-algorithms(7), SOLVERS).
 *
 * From r landmark columns Cs = K[:,S] and W = K[S,S]: W + eps I = L L^T,
 * B = Cs L^-T, the eigenpairs of B^T B give the thin SVD B = U Sigma V^T,
 * and K ~ U Lambda U^T with Lambda = Sigma^2 - eps. Preconditioning then
 * flattens the top of the spectrum, where CG spends its iterations. The
 * eigen decomposition of the r x r Gram matrix stands in for an SVD of the
 * n x r B: r is small, and the preconditioner needs no more accuracy. */
#include "config.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/solve.h"

struct km_nystrom {
    size_t n, r;      /* r: directions kept */
    float *U;         /* n x r, row-major */
    float *coef;      /* (l_r + mu) / (l_k + mu) - 1 */
    float *T;         /* r x c scratch, grown as needed */
    size_t tcap;
};

void km_nystrom_free(km_nystrom *p)
{
    if (!p)
        return;
    free(p->U);
    free(p->coef);
    free(p->T);
    free(p);
}

size_t km_nystrom_rank(const km_nystrom *p)
{
    return p->r;
}

int km_nystrom_build(km_ctx *ctx, const float *Cs, size_t n, size_t r, const float *W, double mu,
                     km_nystrom **out)
{
    float *L = malloc(r * r * sizeof *L), *B = malloc(n * r * sizeof *B);
    double *G = malloc(r * r * sizeof *G), *ev = malloc(r * sizeof *ev);
    km_nystrom *p = calloc(1, sizeof *p);
    int rc = 0;
    if (!L || !B || !G || !ev || !p) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a rank-%zu Nyström preconditioner", r);
        goto out;
    }
    /* Cholesky of W + eps I, with eps raised until it succeeds (landmarks
     * that repeat make W singular) */
    double wmax = 0;
    for (size_t i = 0; i < r; i++)
        wmax = fmax(wmax, W[i * r + i]);
    double eps = 1e-6 * (wmax > 0 ? wmax : 1);
    lapack_int info = 1;
    for (int tries = 0; tries < 8 && info != 0; tries++, eps *= 10) {
        for (size_t i = 0; i < r * r; i++)
            G[i] = W[i];
        for (size_t i = 0; i < r; i++)
            G[i * r + i] += eps;
        info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', (lapack_int)r, G, (lapack_int)r);
    }
    if (info != 0) {
        rc = km_seterr(&ctx->err, KM_ENUMERIC, "Nyström preconditioner: landmark matrix not positive definite");
        goto out;
    }
    eps /= 10;
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++)
            L[i * r + j] = j <= i ? (float)G[i * r + j] : 0.0f;
    /* B = Cs L^-T, then G = B^T B */
    memcpy(B, Cs, n * r * sizeof *B);
    cblas_strsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)n, (int)r,
                1.0f, L, (int)r, B, (int)r);
    float *Gf = L; /* reuse: r x r */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)r, (int)n, 1.0f, B, (int)r, 0.0f, Gf,
                (int)r);
    for (size_t i = 0; i < r; i++)
        for (size_t j = 0; j < r; j++)
            G[i * r + j] = j >= i ? Gf[i * r + j] : Gf[j * r + i];
    info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)r, G, (lapack_int)r, ev);
    if (info != 0) {
        rc = km_seterr(&ctx->err, KM_ENUMERIC, "Nyström preconditioner: eigen decomposition failed (%d)",
                       (int)info);
        goto out;
    }
    /* keep the directions well above rounding (ev ascending) */
    double top = ev[r - 1];
    size_t first = 0;
    while (first < r && ev[first] <= top * 1e-7)
        first++;
    size_t k = r - first;
    if (k == 0) {
        rc = km_seterr(&ctx->err, KM_ENUMERIC, "Nyström preconditioner: the landmarks span nothing");
        goto out;
    }
    /* U = B V Sigma^-1 over the kept directions, largest first */
    float *V = malloc(r * k * sizeof *V);
    p->U = malloc(n * k * sizeof *p->U);
    p->coef = malloc(k * sizeof *p->coef);
    if (!V || !p->U || !p->coef) {
        free(V);
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a rank-%zu Nyström preconditioner", r);
        goto out;
    }
    double lmin = fmax(ev[first] - eps, 0);
    for (size_t q = 0; q < k; q++) {
        size_t e = r - 1 - q;
        double lam = fmax(ev[e] - eps, 0), s = sqrt(ev[e]);
        for (size_t i = 0; i < r; i++)
            V[i * k + q] = (float)(G[i * r + e] / s);
        p->coef[q] = (float)((lmin + mu) / (lam + mu) - 1);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)k, (int)r, 1.0f, B, (int)r,
                V, (int)k, 0.0f, p->U, (int)k);
    free(V);
    p->n = n;
    p->r = k;
    *out = p;
    p = NULL;
out:
    km_nystrom_free(p);
    free(L);
    free(B);
    free(G);
    free(ev);
    return rc;
}

int km_nystrom_apply(void *arg, const float *in, float *out, size_t c)
{
    km_nystrom *p = arg;
    size_t n = p->n, r = p->r;
    if (r * c > p->tcap) {
        float *nt = realloc(p->T, r * c * sizeof *nt);
        if (!nt)
            return KM_ENOMEM;
        p->T = nt;
        p->tcap = r * c;
    }
    /* out = in + U diag(coef) U^T in */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)r, (int)c, (int)n, 1.0f, p->U, (int)r,
                in, (int)c, 0.0f, p->T, (int)c);
    for (size_t q = 0; q < r; q++)
        for (size_t j = 0; j < c; j++)
            p->T[q * c + j] *= p->coef[q];
    if (out != in)
        memcpy(out, in, n * c * sizeof *out);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c, (int)r, 1.0f, p->U, (int)r,
                p->T, (int)c, 1.0f, out, (int)c);
    return 0;
}

uint64_t km_nystrom_estimate(size_t n, size_t r)
{
    return (uint64_t)n * r * sizeof(float) * 3;
}
