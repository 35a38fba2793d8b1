/* metrics.c - what training did to a ReLU network (kmill/nnmetrics.h).
 * The representation metrics work on p x q cross products of centred
 * columns rather than n x n Gram matrices (||A^T B||_F^2 = <AA^T, BB^T>),
 * in float64: CKA near 1 is a difference of nearly equal sums. The AGOP
 * runs the backward pass once per output over blocks of rows, each
 * layer one sgemm, and sums the gradients' products with another. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/kernel.h"
#include "kmill/mlpfit.h"
#include "kmill/nnmetrics.h"

void km_mlp_weight_change(const km_mlp *w0, const km_mlp *wt, double *out)
{
    for (size_t l = 1; l <= w0->depth + 1; l++) {
        size_t nw = (size_t)w0->width[l] * w0->width[l - 1];
        double num = 0, den = 0;
        for (size_t i = 0; i < nw; i++) {
            double a = w0->W[l - 1][i], e = (double)wt->W[l - 1][i] - a;
            num += e * e;
            den += a * a;
        }
        out[l - 1] = den > 0 ? sqrt(num / den) : NAN;
    }
}

/* A (n x p) as float64 with its columns' means subtracted. */
static double *centred(const float *A, size_t n, size_t p)
{
    double *C = malloc((n * p + 1) * sizeof *C), *m = calloc(p ? p : 1, sizeof *m);
    if (!C || !m) {
        free(C);
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            m[j] += A[i * p + j];
    for (size_t j = 0; j < p; j++)
        m[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            C[i * p + j] = A[i * p + j] - m[j];
    free(m);
    return C;
}

/* ||A^T B||_F^2 for A (n x p), B (n x q). */
static double cross2(const double *A, size_t p, const double *B, size_t q, size_t n, double *M)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)q, (int)n, 1.0, A, (int)p, B,
                (int)q, 0.0, M, (int)q);
    double s = 0;
    for (size_t i = 0; i < p * q; i++)
        s += M[i] * M[i];
    return s;
}

int km_cka_linear(km_ctx *ctx, const float *A, size_t p, const float *B, size_t q, size_t n,
                  double *cka)
{
    size_t m = p > q ? p : q;
    double *Ac = centred(A, n, p), *Bc = centred(B, n, q), *M = malloc(m * m * sizeof *M);
    int rc = 0;
    if (!Ac || !Bc || !M) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for CKA (%zu rows)", n);
    } else {
        double ab = cross2(Ac, p, Bc, q, n, M), aa = cross2(Ac, p, Ac, p, n, M),
               bb = cross2(Bc, q, Bc, q, n, M);
        *cka = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : NAN;
    }
    free(Ac);
    free(Bc);
    free(M);
    return rc;
}

int km_kta(km_ctx *ctx, const float *H, size_t p, const float *y, size_t n, size_t c, int classify,
           double *kta)
{
    size_t k = classify ? c : 1;
    float *T = calloc(n * k + 1, sizeof *T);
    if (!T)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the alignment (%zu rows)", n);
    for (size_t i = 0; i < n; i++) {
        if (classify)
            T[i * k + (size_t)y[i]] = 1;
        else
            T[i] = y[i];
    }
    int rc = km_cka_linear(ctx, H, p, T, k, n, kta);
    free(T);
    return rc;
}

int km_mlp_hidden(km_ctx *ctx, const km_mlp *net, const float *X, size_t n, float *H)
{
    km_mlp_cache cache = {0};
    float *out = malloc((n ? n : 1) * net->width[net->depth + 1] * sizeof *out);
    int rc = out ? km_mlp_forward(ctx, NULL, net, X, n, &cache, out)
                 : km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the network's outputs");
    if (!rc)
        memcpy(H, cache.h[net->depth - 1], n * net->width[net->depth] * sizeof *H);
    km_mlp_cache_free(&cache);
    free(out);
    return rc;
}

#define AGOP_BLOCK 256

/* The gradients grad_x f_c (nb x d) of the rows in the cache. */
static void input_grads(const km_mlp *net, const km_mlp_cache *cache, size_t nb, size_t c,
                        float *D0, float *D1, float *grad)
{
    size_t L = net->depth + 1, C = net->width[L];
    memset(D0, 0, nb * C * sizeof *D0);
    for (size_t i = 0; i < nb; i++)
        D0[i * C + c] = (float)net->alpha;
    for (size_t l = L; l >= 2; l--) {
        km_mlp_delta_down(net, cache, (uint32_t)l, nb, D0, D1);
        float *t = D0;
        D0 = D1;
        D1 = t;
    }
    float ws, bs;
    km_mlp_scales(net, 1, &ws, &bs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)net->width[0],
                (int)net->width[1], ws, D0, (int)net->width[1], net->W[0], (int)net->width[0],
                0.0f, grad, (int)net->width[0]);
}

int km_mlp_agop(km_ctx *ctx, const km_mlp *net, const float *X, size_t n, double *G)
{
    size_t d = net->width[0], C = net->width[net->depth + 1], mw = d;
    for (size_t l = 1; l <= net->depth + 1; l++)
        mw = net->width[l] > mw ? net->width[l] : mw;
    size_t b = n < AGOP_BLOCK ? (n ? n : 1) : AGOP_BLOCK;
    float *D0 = malloc(b * mw * sizeof *D0), *D1 = malloc(b * mw * sizeof *D1);
    float *grad = malloc(b * d * sizeof *grad), *Gf = malloc(d * d * sizeof *Gf);
    float *out = malloc(b * C * sizeof *out);
    km_mlp_cache cache = {0};
    int rc = 0;
    if (!D0 || !D1 || !grad || !Gf || !out)
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the network's AGOP");
    memset(G, 0, d * d * sizeof *G);
    int blas = km_blas_threads(ctx->threads);
    for (size_t i0 = 0; i0 < n && !rc; i0 += b) {
        size_t nb = n - i0 < b ? n - i0 : b;
        if ((rc = km_mlp_forward(ctx, NULL, net, X + i0 * d, nb, &cache, out)))
            break;
        for (size_t c = 0; c < C; c++) {
            input_grads(net, &cache, nb, c, D0, D1, grad);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)nb, 1.0f,
                        grad, (int)d, grad, (int)d, 0.0f, Gf, (int)d);
            for (size_t k = 0; k < d * d; k++)
                G[k] += Gf[k];
        }
    }
    km_blas_threads(blas);
    for (size_t k = 0; k < d * d && n; k++)
        G[k] /= (double)n;
    km_mlp_cache_free(&cache);
    free(D0);
    free(D1);
    free(grad);
    free(Gf);
    free(out);
    return rc;
}

double km_pearson(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        sab += (a[i] - ma) * (b[i] - mb);
        saa += (a[i] - ma) * (a[i] - ma);
        sbb += (b[i] - mb) * (b[i] - mb);
    }
    return saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : NAN;
}

/* out (d x d) = A^T A for A (w x d) (sgemm into tmp, widened). */
static void gram_cols(const float *A, size_t w, size_t d, float *tmp, double *out)
{
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)d, (int)w, 1.0f, A, (int)d,
                A, (int)d, 0.0f, tmp, (int)d);
    for (size_t i = 0; i < d * d; i++)
        out[i] = tmp[i];
}

int km_mlp_nfa(km_ctx *ctx, const km_mlp *net, const km_mlp *w0, const float *X, size_t n,
               double *nfa, double *nfa_delta, double *diag)
{
    size_t d = net->width[0], w = net->width[1], dd = d * d;
    double *G = malloc(dd * sizeof *G), *root = malloc(dd * sizeof *root);
    double *gram = malloc(dd * sizeof *gram);
    float *M = malloc(dd * sizeof *M), *S = malloc(dd * sizeof *S);
    float *dW = w0 ? malloc(w * d * sizeof *dW) : NULL;
    int rc = 0;
    if (!G || !root || !gram || !M || !S || (w0 && !dW))
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the feature ansatz (d = %zu)", d);
    if (!rc)
        rc = km_mlp_agop(ctx, net, X, n, G);
    if (!rc) {
        for (size_t i = 0; i < dd; i++)
            M[i] = (float)G[i];
        rc = km_metric_root(M, d, KM_METRIC_FULL, S, &ctx->err);
    }
    if (!rc) {
        for (size_t i = 0; i < dd; i++)
            root[i] = S[i];
        for (size_t i = 0; diag && i < d; i++)
            diag[i] = G[i * d + i];
        gram_cols(net->W[0], w, d, M, gram);
        *nfa = km_pearson(gram, root, dd);
        if (w0) {
            for (size_t i = 0; i < w * d; i++)
                dW[i] = net->W[0][i] - w0->W[0][i];
            gram_cols(dW, w, d, M, gram);
            *nfa_delta = km_pearson(gram, root, dd);
        }
    }
    free(G);
    free(root);
    free(gram);
    free(M);
    free(S);
    free(dW);
    return rc;
}
