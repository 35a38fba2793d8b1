/* entk.c - the empirical NTK of a network by the layer identity, in
 * float32 and float64 (kmill/entk.h), and the distances between kernels
 * that compare it with the analytic NTK and with itself after training.
 * The block code is src/nn/entk_impl.h, instantiated here once per type. */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/entk.h"

/* The parameterisation's multipliers (kmill/entk.h): w[l-1] = m_l for
 * l = 1..D+1, beta, alpha. */
typedef struct entk_mult {
    double *w;
    double beta, alpha;
} entk_mult;

static int mult_make(const km_mlp *net, entk_mult *m)
{
    uint32_t D = net->depth;
    m->w = malloc((D + 1) * sizeof *m->w);
    if (!m->w)
        return -1;
    float ws, bs = 1;
    for (uint32_t l = 1; l <= D + 1; l++) {
        km_mlp_scales(net, l, &ws, &bs); /* the forward pass's own factors */
        m->w[l - 1] = ws;
    }
    m->beta = bs;
    m->alpha = net->alpha;
    return 0;
}

#define REAL float
#define SFX(name) name##_f32
#define GEMM cblas_sgemm
#include "nn/entk_impl.h"
#undef REAL
#undef SFX
#undef GEMM

#define REAL double
#define SFX(name) name##_f64
#define GEMM cblas_dgemm
#include "nn/entk_impl.h"
#undef REAL
#undef SFX
#undef GEMM

static uint64_t net_params(const km_mlp *net)
{
    uint64_t p = 0;
    for (uint32_t l = 1; l <= net->depth + 1; l++)
        p += (uint64_t)net->width[l] * (net->width[l - 1] + 1);
    return p;
}

uint64_t km_entk_estimate(const km_mlp *net, size_t block, int mode, size_t real)
{
    uint32_t D = net->depth;
    uint64_t c = net->width[D + 1], row = 0, r = block;
    for (uint32_t l = 1; l <= D + 1; l++)
        row += (l <= D ? net->width[l] : 0) + c * net->width[l];
    uint64_t cm = mode == KM_ENTK_FULL ? c : 1;
    uint64_t bytes = (2 * r * row + r * r * (1 + cm * cm)) * real;
    if (real == sizeof(double))
        bytes += net_params(net) * real; /* the widened weights */
    return bytes;
}

static void entk_plan(km_plan *p, const km_mlp *net, size_t bs, int mode, size_t real,
                      const km_plan *held)
{
    if (held) /* it counts the process already */
        *p = *held;
    else
        km_plan_init(p);
    km_plan_add(p, "empirical NTK blocks", km_entk_estimate(net, bs, mode, real));
    km_plan_add(p, "BLAS buffers", KM_MEM_BLAS);
}

int km_entk_block(km_ctx *ctx, const km_mlp *net, size_t na, size_t nb, int mode, size_t real,
                  const km_plan *held, size_t *block)
{
    size_t bs = na > nb ? na : nb;
    km_plan p;
    for (;;) {
        entk_plan(&p, net, bs, mode, real, held);
        if (p.total <= ctx->mem_budget || bs <= 1)
            break;
        bs = (bs + 1) / 2;
    }
    int rc = km_plan_check(ctx, &p, "the empirical NTK");
    if (rc < 0)
        return rc;
    km_plan_log(ctx, &p, "the empirical NTK");
    *block = bs ? bs : 1;
    return 0;
}

int km_entk_gram(km_ctx *ctx, const km_mlp *net, const float *A, size_t na, const float *B,
                 size_t nb, int mode, const km_plan *held, float *K)
{
    size_t bs;
    entk_mult m;
    int rc = km_entk_block(ctx, net, na, nb, mode, sizeof(float), held, &bs);
    if (rc < 0)
        return rc;
    if (mult_make(net, &m) < 0)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the empirical NTK");
    int blas = km_blas_threads(ctx->threads);
    rc = entk_run_f32(ctx, net, &m, net->W, net->b, A, na, B, nb, mode, bs, K);
    km_blas_threads(blas);
    free(m.w);
    return rc;
}

/* The network's weights and biases widened to float64: 2 (D + 1) arrays,
 * W first. */
static double **widen(const km_mlp *net)
{
    uint32_t L = net->depth + 1;
    double **p = calloc(2 * L, sizeof *p);
    if (!p)
        return NULL;
    for (uint32_t l = 1; l <= L; l++) {
        size_t nw = (size_t)net->width[l] * net->width[l - 1], nbias = net->width[l];
        double *w = p[l - 1] = malloc(nw * sizeof *w), *b = p[L + l - 1] = malloc(nbias * sizeof *b);
        if (!w || !b)
            return p; /* the caller sees the NULL entry */
        for (size_t k = 0; k < nw; k++)
            w[k] = net->W[l - 1][k];
        for (size_t k = 0; k < nbias; k++)
            b[k] = net->b[l - 1][k];
    }
    return p;
}

int km_entk_gram_f64(km_ctx *ctx, const km_mlp *net, const double *A, size_t na,
                     const double *B, size_t nb, int mode, const km_plan *held, double *K)
{
    size_t bs;
    entk_mult m = {0};
    uint32_t L = net->depth + 1;
    int rc = km_entk_block(ctx, net, na, nb, mode, sizeof(double), held, &bs);
    if (rc < 0)
        return rc;
    double **p = widen(net);
    int ok = p && mult_make(net, &m) == 0;
    for (uint32_t k = 0; ok && k < 2 * L; k++)
        ok = p[k] != NULL;
    if (!ok) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the empirical NTK");
    } else {
        int blas = km_blas_threads(ctx->threads);
        rc = entk_run_f64(ctx, net, &m, p, p + L, A, na, B, nb, mode, bs, K);
        km_blas_threads(blas);
    }
    for (uint32_t k = 0; p && k < 2 * L; k++)
        free(p[k]);
    free(p);
    free(m.w);
    return rc;
}

double km_rel_frobenius(const float *K, const float *R, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double e = (double)K[i] - R[i];
        num += e * e;
        den += (double)R[i] * R[i];
    }
    if (den == 0)
        return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}

double km_kernel_distance(const float *K0, const float *K1, size_t n)
{
    double dot = 0, a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (double)K0[i] * K1[i];
        a += (double)K0[i] * K0[i];
        b += (double)K1[i] * K1[i];
    }
    if (a == 0 || b == 0)
        return NAN;
    return 1 - dot / (sqrt(a) * sqrt(b));
}
