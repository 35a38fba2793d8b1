/* backprop.c - the loss of a ReLU network and its gradient by
 * backpropagation (kmill/mlpfit.h). For a batch of n rows, with G^l the
 * deltas dJ/dz^l (n x width[l]) and (ws, bs) the layer's scales:
 *   G^{D+1} = (f - t) / (n alpha)             (MSE, J = L / 2 alpha^2)
 *           = (softmax(f) - t) / (n alpha)    (cross-entropy, J = L / alpha^2)
 *   dJ/dW^l = ws G^lT h^{l-1},  dJ/db^l = bs G^lT 1 (column sums),
 *   G^{l-1} = (ws G^l W^l) . 1[z^{l-1} > 0],
 * every product one cblas call over the whole batch. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/mlpfit.h"

void km_mlp_work_free(km_mlp_work *w)
{
    km_mlp_cache_free(&w->cache);
    km_mlp_free(&w->grad);
    free(w->out);
    free(w->ones);
    free(w->G0);
    free(w->G1);
    memset(w, 0, sizeof *w);
}

static size_t max_width(const km_mlp *net)
{
    size_t m = 0;
    for (size_t l = 1; l <= net->depth + 1; l++)
        if (net->width[l] > m)
            m = net->width[l];
    return m;
}

static int work_grow(km_ctx *ctx, const km_mlp *net, km_mlp_work *w, size_t n)
{
    if (!w->grad.width && km_mlp_alloc(ctx, &w->grad, net->depth, net->width))
        return KM_ENOMEM;
    if (n <= w->cap)
        return 0;
    size_t mw = max_width(net), c = net->width[net->depth + 1];
    free(w->out);
    free(w->ones);
    free(w->G0);
    free(w->G1);
    w->out = malloc(n * c * sizeof *w->out);
    w->ones = malloc(n * sizeof *w->ones);
    w->G0 = malloc(n * mw * sizeof *w->G0);
    w->G1 = malloc(n * mw * sizeof *w->G1);
    if (!w->out || !w->ones || !w->G0 || !w->G1) {
        w->cap = 0;
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for backpropagation (%zu rows)", n);
    }
    for (size_t i = 0; i < n; i++)
        w->ones[i] = 1.0f;
    w->cap = n;
    return 0;
}

/* The loss terms of rows f (n x c) against y: the sum over rows of L_i
 * into *sum, the rows classified right into *correct (classification),
 * and with G non-NULL the output deltas scaled by g (1 / (n alpha)). */
static void out_loss(const float *f, const float *y, size_t n, size_t c, int loss, int classify,
                     float g, float *G, double *sum, size_t *correct)
{
    double s = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        const float *fi = f + i * c;
        size_t k = classify ? (size_t)y[i] : 0, arg = 0;
        for (size_t j = 1; j < c; j++)
            if (fi[j] > fi[arg])
                arg = j;
        ok += classify && arg == k;
        if (loss == KM_LOSS_XENT) {
            double m = fi[arg], z = 0;
            for (size_t j = 0; j < c; j++)
                z += exp((double)fi[j] - m);
            s += m + log(z) - fi[k];
            if (G)
                for (size_t j = 0; j < c; j++)
                    G[i * c + j] = g * (float)(exp((double)fi[j] - m) / z - (j == k));
        } else {
            for (size_t j = 0; j < c; j++) {
                double t = classify ? (double)(j == k) : (double)y[i], e = fi[j] - t;
                s += e * e;
                if (G)
                    G[i * c + j] = g * (float)e;
            }
        }
    }
    *sum += s;
    if (correct)
        *correct += ok;
}

void km_mlp_delta_down(const km_mlp *net, const km_mlp_cache *cache, uint32_t l, size_t n,
                       const float *G, float *Gn)
{
    size_t wi = net->width[l - 1], wo = net->width[l];
    float ws, bs;
    km_mlp_scales(net, l, &ws, &bs);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)wi, (int)wo, ws, G,
                (int)wo, net->W[l - 1], (int)wi, 0.0f, Gn, (int)wi);
    const float *z = cache->z[l - 2];
    for (size_t i = 0; i < n * wi; i++)
        if (!(z[i] > 0))
            Gn[i] = 0;
}

int km_mlp_grad(km_ctx *ctx, const km_mlp *net, const float *X, const float *y, size_t n,
                int loss, int classify, km_mlp_work *w, double *L, size_t *correct)
{
    int rc = work_grow(ctx, net, w, n);
    if (!rc)
        rc = km_mlp_forward(ctx, NULL, net, X, n, &w->cache, w->out);
    if (rc)
        return rc;
    size_t D = net->depth, c = net->width[D + 1];
    double sum = 0;
    if (correct)
        *correct = 0;
    out_loss(w->out, y, n, c, loss, classify, (float)(1.0 / ((double)n * net->alpha)), w->G0,
             &sum, correct);
    *L = sum / (double)n;
    int blas = km_blas_threads(ctx->threads);
    float *G = w->G0, *Gn = w->G1;
    for (size_t l = D + 1; l >= 1; l--) {
        size_t wi = net->width[l - 1], wo = net->width[l];
        const float *H = l > 1 ? w->cache.h[l - 2] : X;
        float ws, bs;
        km_mlp_scales(net, (uint32_t)l, &ws, &bs);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)wo, (int)wi, (int)n, ws, G,
                    (int)wo, H, (int)wi, 0.0f, w->grad.W[l - 1], (int)wi);
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)n, (int)wo, bs, G, (int)wo, w->ones, 1, 0.0f,
                    w->grad.b[l - 1], 1);
        if (l == 1)
            break;
        km_mlp_delta_down(net, &w->cache, (uint32_t)l, n, G, Gn);
        float *t = G;
        G = Gn;
        Gn = t;
    }
    km_blas_threads(blas);
    return 0;
}

#define EVAL_BLOCK 2048

int km_mlp_evaluate(km_ctx *ctx, km_pool *pool, const km_mlp *net, const float *X,
                    const float *y, size_t n, int loss, int classify, double *L, double *metric)
{
    size_t d = net->width[0], c = net->width[net->depth + 1];
    size_t b = n < EVAL_BLOCK ? n : EVAL_BLOCK;
    float *out = malloc((b ? b : 1) * c * sizeof *out);
    if (!out)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the network's outputs");
    double sum = 0;
    size_t ok = 0;
    int rc = 0;
    for (size_t i0 = 0; i0 < n && !rc; i0 += b) {
        size_t nb = n - i0 < b ? n - i0 : b;
        if (!(rc = km_mlp_forward(ctx, pool, net, X + i0 * d, nb, NULL, out)))
            out_loss(out, y + i0, nb, c, loss, classify, 0, NULL, &sum, &ok);
    }
    free(out);
    *L = n ? sum / (double)n : NAN;
    if (classify)
        *metric = n ? (double)ok / (double)n : NAN;
    else /* a regression: one output under MSE, the loss is the metric */
        *metric = *L;
    return rc;
}
