/* scores.c - a kernel machine's scores for blocks of rows (see
 * include/kmill/kscores.h). */
#include "config.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/kscores.h"

size_t km_kscorer_block(size_t n, uint64_t mem)
{
    uint64_t b = mem / 4 / (n ? n : 1);
    return b < 16 ? 16 : b > 2048 ? 2048 : (size_t)b;
}

uint64_t km_kscorer_estimate(size_t n, size_t d, int metric, size_t block)
{
    uint64_t f = sizeof(float);
    uint64_t b = (uint64_t)block * n * f + (uint64_t)block * (d + 1) * f + (uint64_t)n * f;
    if (metric != KM_METRIC_NONE)
        b += (uint64_t)n * d * f + (metric == KM_METRIC_FULL ? (uint64_t)d * d : d) * f;
    return b;
}

void km_kscorer_free(km_kscorer *s)
{
    free(s->Cown);
    free(s->cn);
    free(s->S);
    free(s->Xt);
    free(s->xn);
    free(s->K);
    memset(s, 0, sizeof *s);
}

int km_kscorer_init(km_ctx *ctx, km_kscorer *s, const km_kernel *k, int metric, const float *M,
                    const float *centres, size_t n, size_t d, const float *alpha, size_t c,
                    uint64_t mem)
{
    memset(s, 0, sizeof *s);
    s->ctx = ctx;
    s->kernel = *k;
    s->metric = metric;
    s->n = n;
    s->d = d;
    s->c = c;
    s->alpha = alpha;
    s->C = centres;
    s->block = km_kscorer_block(n, mem);
    s->cn = malloc(n * sizeof *s->cn + 1);
    s->xn = malloc(s->block * sizeof *s->xn);
    s->K = malloc(s->block * n * sizeof *s->K + 1);
    s->Xt = malloc(s->block * d * sizeof *s->Xt);
    if (!s->cn || !s->xn || !s->K || !s->Xt)
        goto oom;
    if (metric != KM_METRIC_NONE) {
        s->S = malloc((metric == KM_METRIC_FULL ? d * d : d) * sizeof *s->S);
        s->Cown = malloc(n * d * sizeof *s->Cown + 1);
        if (!s->S || !s->Cown)
            goto oom;
        int rc = km_metric_root(M, d, metric, s->S, &ctx->err);
        if (rc) {
            km_kscorer_free(s);
            return rc;
        }
        km_metric_rows(centres, n, d, s->S, metric, s->Cown);
        s->C = s->Cown;
    }
    km_row_sqnorms(s->C, n, d, s->cn);
    return 0;
oom:
    km_kscorer_free(s);
    return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for prediction");
}

int km_kscorer_run(km_kscorer *s, km_pool *pool, const float *X, size_t nx, float *scores)
{
    size_t d = s->d, n = s->n, c = s->c;
    for (size_t r0 = 0; r0 < nx; r0 += s->block) {
        size_t b = nx - r0 < s->block ? nx - r0 : s->block;
        const float *Xb = X + r0 * d;
        if (s->metric != KM_METRIC_NONE) {
            km_metric_rows(Xb, b, d, s->S, s->metric, s->Xt);
            Xb = s->Xt;
        }
        km_row_sqnorms(Xb, b, d, s->xn);
        km_kernel_matrix(pool, &s->kernel, Xb, b, s->xn, s->C, n, s->cn, d, s->K, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)b, (int)c, (int)n, 1.0f,
                    s->K, (int)n, s->alpha, (int)c, 0.0f, scores + r0 * c, (int)c);
        if (km_check_interrupt(s->ctx))
            return KM_EINTR;
        if (s->prog)
            km_progress_update(s->prog, s->prog_base + r0 + b);
    }
    return 0;
}
