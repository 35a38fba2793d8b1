/* mlp.c - a fully connected ReLU network's parameters, initialisation and
 * forward pass (kmill/mlp.h). Each layer is one cblas_sgemm over all the
 * rows (h W^T, W row-major width[l] x width[l-1]) followed by one pass
 * adding the bias and applying the ReLU; the BLAS call runs at
 * ctx->threads. The parameterisation only changes the two scale factors
 * of a layer (km_mlp_scales): the NTK one keeps N(0, 1) parameters and
 * multiplies in the forward pass, the standard one draws the parameters
 * at those scales and multiplies by 1. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/mlp.h"
#include "kmill/rng.h"

void km_mlp_scales(const km_mlp *net, uint32_t l, float *ws, float *bs)
{
    if (net->param == KM_PARAM_STANDARD) {
        *ws = 1.0f;
        *bs = 1.0f;
    } else {
        *ws = (float)sqrt(net->sw2 / net->width[l - 1]);
        *bs = (float)sqrt(net->sb2);
    }
}

/* A standard normal draw (Box-Muller; the second value is dropped so a
 * parameter's value depends only on its position in the stream). */
static double normal(km_rng *r)
{
    double u = 1.0 - km_rng_uniform(r), v = km_rng_uniform(r); /* u in (0, 1] */
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void km_mlp_free(km_mlp *net)
{
    if (net->W)
        for (uint32_t l = 0; l <= net->depth; l++)
            free(net->W[l]);
    if (net->b)
        for (uint32_t l = 0; l <= net->depth; l++)
            free(net->b[l]);
    free(net->W);
    free(net->b);
    free(net->width);
    memset(net, 0, sizeof *net);
}

int km_mlp_alloc(km_ctx *ctx, km_mlp *net, uint32_t depth, const uint32_t *width)
{
    memset(net, 0, sizeof *net);
    net->depth = depth;
    net->width = malloc((depth + 2) * sizeof *net->width);
    net->W = calloc(depth + 1, sizeof *net->W);
    net->b = calloc(depth + 1, sizeof *net->b);
    int ok = net->width && net->W && net->b;
    for (uint32_t l = 1; ok && l <= depth + 1; l++) {
        net->W[l - 1] = malloc((size_t)width[l] * width[l - 1] * sizeof(float));
        net->b[l - 1] = malloc((size_t)width[l] * sizeof(float));
        ok = net->W[l - 1] && net->b[l - 1];
    }
    if (!ok) {
        km_mlp_free(net);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a network of depth %u",
                         (unsigned)depth);
    }
    memcpy(net->width, width, (depth + 2) * sizeof *width);
    return 0;
}

int km_mlp_init(km_ctx *ctx, km_mlp *net, uint32_t depth, const uint32_t *width, int param,
                double sw2, double sb2, double alpha, uint64_t seed)
{
    if (depth < 1)
        return km_seterr(&ctx->err, KM_EINVAL, "a network needs at least one hidden layer");
    for (uint32_t l = 0; l < depth + 2; l++)
        if (width[l] < 1)
            return km_seterr(&ctx->err, KM_EINVAL, "layer %u of the network has width 0",
                             (unsigned)l);
    int rc = km_mlp_alloc(ctx, net, depth, width);
    if (rc)
        return rc;
    net->param = param;
    net->sw2 = sw2;
    net->sb2 = sb2;
    net->alpha = alpha;
    km_rng r;
    km_rng_seed(&r, seed);
    for (uint32_t l = 1; l <= depth + 1; l++) {
        double wsd = 1.0, bsd = 1.0;
        if (param == KM_PARAM_STANDARD) {
            wsd = sqrt(sw2 / width[l - 1]);
            bsd = sqrt(sb2);
        }
        size_t nw = (size_t)width[l] * width[l - 1];
        for (size_t i = 0; i < nw; i++)
            net->W[l - 1][i] = (float)(wsd * normal(&r));
        for (size_t i = 0; i < width[l]; i++)
            net->b[l - 1][i] = (float)(bsd * normal(&r));
    }
    return 0;
}

int km_mlp_copy(km_ctx *ctx, km_mlp *dst, const km_mlp *src)
{
    int rc = km_mlp_alloc(ctx, dst, src->depth, src->width);
    if (rc)
        return rc;
    dst->param = src->param;
    dst->sw2 = src->sw2;
    dst->sb2 = src->sb2;
    dst->alpha = src->alpha;
    for (uint32_t l = 1; l <= src->depth + 1; l++) {
        memcpy(dst->W[l - 1], src->W[l - 1],
               (size_t)src->width[l] * src->width[l - 1] * sizeof(float));
        memcpy(dst->b[l - 1], src->b[l - 1], (size_t)src->width[l] * sizeof(float));
    }
    return 0;
}

void km_mlp_cache_free(km_mlp_cache *c)
{
    if (c->z)
        for (size_t l = 0; l < c->layers; l++)
            free(c->z[l]);
    if (c->h)
        for (size_t l = 0; l < c->layers; l++)
            free(c->h[l]);
    free(c->z);
    free(c->h);
    memset(c, 0, sizeof *c);
}

/* Room for n rows in every layer of c (a cache sized for another network
 * is reallocated). */
static int cache_grow(km_ctx *ctx, const km_mlp *net, km_mlp_cache *c, size_t n)
{
    size_t L = net->depth + 1;
    if (c->layers != L) {
        km_mlp_cache_free(c);
        c->z = calloc(L, sizeof *c->z);
        c->h = calloc(L, sizeof *c->h);
        if (!c->z || !c->h)
            goto nomem;
        c->layers = L;
    }
    if (n > c->cap) {
        for (size_t l = 0; l < L; l++) {
            free(c->z[l]);
            free(c->h[l]);
            c->z[l] = malloc(n * net->width[l + 1] * sizeof(float));
            c->h[l] = l < net->depth ? malloc(n * net->width[l + 1] * sizeof(float)) : NULL;
            if (!c->z[l] || (l < net->depth && !c->h[l]))
                goto nomem;
        }
        c->cap = n;
    }
    c->n = n;
    return 0;
nomem:
    km_mlp_cache_free(c);
    return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the network's activations (%zu rows)",
                     n);
}

/* Z (n x wo) = ws H W^T + bs b; then, if Hn, Hn = relu(Z). */
static void layer(const float *H, size_t n, size_t wi, const float *W, const float *b, size_t wo,
                  float ws, float bs, float *Z, float *Hn)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)wo, (int)wi, ws, H, (int)wi,
                W, (int)wi, 0.0f, Z, (int)wo);
    for (size_t i = 0; i < n; i++) {
        float *z = Z + i * wo;
        for (size_t j = 0; j < wo; j++)
            z[j] += bs * b[j];
        if (Hn) {
            float *h = Hn + i * wo;
            for (size_t j = 0; j < wo; j++)
                h[j] = z[j] > 0 ? z[j] : 0;
        }
    }
}

int km_mlp_forward(km_ctx *ctx, km_pool *pool, const km_mlp *net, const float *X, size_t n,
                   km_mlp_cache *cache, float *out)
{
    (void)pool; /* the parallelism is the BLAS call's */
    size_t D = net->depth, maxw = 0;
    float *buf = NULL;
    if (cache) {
        int rc = cache_grow(ctx, net, cache, n);
        if (rc)
            return rc;
    } else {
        for (size_t l = 1; l <= D; l++)
            if (net->width[l] > maxw)
                maxw = net->width[l];
        /* two activations and one pre-activation, reused layer by layer */
        buf = malloc(3 * n * maxw * sizeof *buf);
        if (n && !buf)
            return km_seterr(&ctx->err, KM_ENOMEM,
                             "out of memory for the network's activations (%zu rows)", n);
    }
    int blas = km_blas_threads(ctx->threads);
    const float *H = X;
    for (size_t l = 1; l <= D + 1; l++) {
        float ws, bs;
        km_mlp_scales(net, (uint32_t)l, &ws, &bs);
        float *Z, *Hn;
        if (cache) {
            Z = cache->z[l - 1];
            Hn = l <= D ? cache->h[l - 1] : NULL;
        } else {
            Z = l <= D ? buf + 2 * n * maxw : out;
            Hn = l <= D ? buf + (l % 2) * n * maxw : NULL;
        }
        layer(H, n, net->width[l - 1], net->W[l - 1], net->b[l - 1], net->width[l], ws, bs, Z, Hn);
        H = Hn;
    }
    km_blas_threads(blas);
    size_t nc = n * net->width[D + 1];
    const float *zo = cache ? cache->z[D] : out;
    for (size_t i = 0; i < nc; i++)
        out[i] = (float)net->alpha * zo[i];
    free(buf);
    return 0;
}
