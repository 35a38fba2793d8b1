/* ntk_study.c - `kmill ntk`'s computation (kmill/ntkstudy.h): finite
 * networks' empirical NTKs against the analytic NTK and NNGP on a sample,
 * over widths and seeds, before and after training, and kernel regression
 * with the analytic NTK beside the trained networks.
 *
 * The Gram file (--gram) holds the analytic NTK on the sample's training
 * rows: a 64-byte text header "kmill gram ntk depth D n N float32le",
 * space-padded and ending in a newline, then the N x N matrix as
 * little-endian float32, row-major (kmill-ntk(1), GRAM FILE). */
#include "config.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/entk.h"
#include "kmill/kernel.h"
#include "kmill/krr.h"
#include "kmill/log.h"
#include "kmill/metrics.h"
#include "kmill/mlp.h"
#include "kmill/ntkstudy.h"
#include "kmill/outfile.h"
#include "kmill/plan.h"
#include "kmill/train.h"

#define GRAM_HEADER 64

void km_ntk_study_defaults(km_ntk_study_opts *o)
{
    memset(o, 0, sizeof *o);
    km_sample_defaults(&o->sample);
    o->sample.val_frac = 0.2;
    o->sample.seed = 1;
    o->depth = 1;
    o->seeds = 1;
    o->seed = 1;
    o->sw2 = 2;
    o->sb2 = 0.1;
    o->fit.loss = KM_LOSS_MSE;
    o->fit.lr = 0.1;
    o->fit.seed = 1;
    o->reg = 1e-3;
}

double km_loglog_slope(const double *x, const double *y, size_t n)
{
    if (n < 2)
        return NAN;
    double mx = 0, my = 0, sxy = 0, sxx = 0;
    for (size_t i = 0; i < n; i++) {
        mx += log(x[i]) / (double)n;
        my += log(y[i]) / (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        double dx = log(x[i]) - mx;
        sxy += dx * (log(y[i]) - my);
        sxx += dx * dx;
    }
    return sxx > 0 ? sxy / sxx : NAN;
}

static km_ntk_stat stat(const double *v, size_t k)
{
    km_ntk_stat s = {0, 0};
    for (size_t i = 0; i < k; i++)
        s.mean += v[i] / (double)k;
    for (size_t i = 0; k > 1 && i < k; i++)
        s.sd += (v[i] - s.mean) * (v[i] - s.mean) / (double)(k - 1);
    s.sd = sqrt(s.sd);
    return s;
}

static km_kernel dot_kernel(const km_ntk_study_opts *o, int type)
{
    km_kernel k = {type, 0, (int)o->depth, o->sw2, o->sb2};
    return k;
}

/* The network of width w for the sample: d, w (D times), c. */
static uint32_t *net_widths(const km_ntk_study_opts *o, const km_sample *s, uint32_t w)
{
    uint32_t *v = malloc((o->depth + 2) * sizeof *v);
    if (v) {
        v[0] = (uint32_t)s->d;
        for (uint32_t l = 1; l <= o->depth; l++)
            v[l] = w;
        v[o->depth + 1] = (uint32_t)s->c;
    }
    return v;
}

/* Per-seed figures of one width, before they are summarised. */
typedef struct seed_figs {
    double *ntk0, *nngp0, *ntk1, *move, *metric;
} seed_figs;

/* One network: its empirical NTK at initialisation (K0) and after
 * training (K1) against the analytic kernels; figure k of f. */
static int one_net(km_ctx *ctx, km_pool *pool, const km_ntk_study_opts *o, const km_sample *s,
                   const uint32_t *widths, uint64_t seed, const float *const *K, float *K0,
                   float *K1, const km_plan *held, seed_figs *f, size_t k)
{
    km_mlp net;
    size_t n = s->n, nn = n * n;
    int rc = km_mlp_init(ctx, &net, o->depth, widths, KM_PARAM_NTK, o->sw2, o->sb2, 1.0, seed);
    if (rc < 0)
        return rc;
    if ((rc = km_entk_gram(ctx, &net, s->X, n, s->X, n, KM_ENTK_MEAN, held, K0)) < 0)
        goto out;
    f->ntk0[k] = km_rel_frobenius(K0, K[0], nn);
    f->nngp0[k] = km_rel_frobenius(K0, K[1], nn);
    f->ntk1[k] = f->move[k] = f->metric[k] = NAN;
    if (o->fit.epochs == 0)
        goto out;
    km_mlp_fit_opts fo = o->fit;
    fo.classify = s->classify;
    fo.seed = o->fit.seed + k;
    km_mlp_fit_result fr;
    if ((rc = km_mlp_fit(ctx, pool, &net, s->X, s->y, n, s->Xv, s->yv, s->nv, &fo, &fr)) < 0)
        goto out;
    if ((rc = km_entk_gram(ctx, &net, s->X, n, s->X, n, KM_ENTK_MEAN, held, K1)) < 0)
        goto out;
    f->ntk1[k] = km_rel_frobenius(K1, K[0], nn);
    f->move[k] = km_kernel_distance(K0, K1, nn);
    f->metric[k] = fr.val_metric;
out:
    km_mlp_free(&net);
    return rc;
}

/* Every seed of width w into r. */
static int one_width(km_ctx *ctx, km_pool *pool, const km_ntk_study_opts *o, const km_sample *s,
                     uint32_t w, const float *const *K, float *K0, float *K1, const km_plan *held,
                     km_ntk_width *r)
{
    size_t S = o->seeds;
    double *buf = malloc(5 * S * sizeof *buf);
    uint32_t *widths = net_widths(o, s, w);
    int rc = 0;
    if (!buf || !widths) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    seed_figs f = {buf, buf + S, buf + 2 * S, buf + 3 * S, buf + 4 * S};
    for (size_t k = 0; k < S && rc == 0; k++) {
        snprintf(ctx->stage, sizeof ctx->stage, "width %u, network %zu of %zu", w, k + 1, S);
        rc = one_net(ctx, pool, o, s, widths, o->seed + k, K, K0, K1, held, &f, k);
    }
    ctx->stage[0] = 0;
    if (rc < 0)
        goto out;
    r->width = w;
    r->ntk0 = stat(f.ntk0, S);
    r->nngp0 = stat(f.nngp0, S);
    r->ntk1 = stat(f.ntk1, S);
    r->move = stat(f.move, S);
    r->metric = stat(f.metric, S);
    km_verbose(ctx, "width %u: distance to the NTK %.4g +- %.2g at initialisation", w,
               r->ntk0.mean, r->ntk0.sd);
out:
    free(buf);
    free(widths);
    return rc;
}

/* Kernel ridge regression with the analytic NTK on the training rows,
 * scored on the validation rows: the metric, or NaN without them. */
static int ntk_regression(km_ctx *ctx, km_pool *pool, const km_ntk_study_opts *o,
                          const km_sample *s, const km_plan *held, double *metric)
{
    size_t n = s->n, nv = s->nv, d = s->d, c = s->c;
    *metric = NAN;
    if (nv == 0)
        return 0;
    km_krr_opts ko;
    km_krr_defaults(&ko);
    ko.kernel = dot_kernel(o, KM_KERNEL_NTK);
    ko.reg = o->reg;
    km_krr_result res;
    float *Y = km_train_targets(s->y, n, c, s->classify), *A = malloc(n * c * sizeof *A);
    float *Kv = malloc(nv * n * sizeof *Kv), *F = malloc(nv * c * sizeof *F);
    float *xn = malloc(n * sizeof *xn), *vn = malloc(nv * sizeof *vn);
    int rc;
    if (!Y || !A || !Kv || !F || !xn || !vn) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the NTK regression");
        goto out;
    }
    snprintf(ctx->stage, sizeof ctx->stage, "NTK regression");
    rc = km_krr_solve(ctx, pool, s->X, n, d, Y, c, &ko, held, A, NULL, &res);
    ctx->stage[0] = 0;
    if (rc < 0)
        goto out;
    km_row_sqnorms(s->X, n, d, xn);
    km_row_sqnorms(s->Xv, nv, d, vn);
    km_kernel_matrix(pool, &ko.kernel, s->Xv, nv, vn, s->X, n, xn, d, Kv, n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nv, (int)c, (int)n, 1, Kv, (int)n,
                A, (int)c, 0, F, (int)c);
    *metric = km_score_metric(s->classify, F, s->yv, nv, c);
out:
    free(Y), free(A), free(Kv), free(F), free(xn), free(vn);
    return rc;
}

static int gram_write(km_outfile *of, const km_ntk_study_opts *o, const float *K, size_t n)
{
    char h[GRAM_HEADER + 1];
    int len = snprintf(h, sizeof h, "kmill gram ntk depth %u n %zu float32le", o->depth, n);
    memset(h + len, ' ', GRAM_HEADER - (size_t)len);
    h[GRAM_HEADER - 1] = '\n';
    int rc = km_outfile_write(of, h, GRAM_HEADER);
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char row[4096];
        for (size_t j0 = 0; j0 < n && rc == 0; j0 += sizeof row / 4) {
            size_t m = n - j0 < sizeof row / 4 ? n - j0 : sizeof row / 4;
            for (size_t j = 0; j < m; j++) {
                uint32_t b;
                memcpy(&b, K + i * n + j0 + j, 4);
                for (int t = 0; t < 4; t++)
                    row[4 * j + (size_t)t] = (unsigned char)(b >> (8 * t));
            }
            rc = km_outfile_write(of, row, 4 * m);
        }
    }
    return rc < 0 ? rc : km_outfile_commit(of);
}

static int check_opts(km_ctx *ctx, const km_ntk_study_opts *o)
{
    if (o->nwidths == 0 || o->nwidths > KM_NTK_MAX_WIDTHS)
        return km_seterr(&ctx->err, KM_EINVAL, "between 1 and %d widths are needed",
                         KM_NTK_MAX_WIDTHS);
    for (size_t i = 0; i < o->nwidths; i++)
        if (o->widths[i] == 0)
            return km_seterr(&ctx->err, KM_EINVAL, "a width must be at least 1");
    if (o->depth == 0 || o->depth > KM_KERNEL_MAX_DEPTH)
        return km_seterr(&ctx->err, KM_EINVAL, "the depth must be between 1 and %d",
                         KM_KERNEL_MAX_DEPTH);
    if (o->seeds == 0)
        return km_seterr(&ctx->err, KM_EINVAL, "at least one seed is needed");
    return 0;
}

/* What the study holds beside the empirical NTK's blocks: the sample,
 * four n x n kernels, the widest network and its training. */
static int study_plan(km_ctx *ctx, const km_ntk_study_opts *o, const km_sample *s, km_plan *p)
{
    uint32_t wmax = 0;
    for (size_t i = 0; i < o->nwidths; i++)
        wmax = o->widths[i] > wmax ? o->widths[i] : wmax;
    uint32_t *widths = net_widths(o, s, wmax);
    if (!widths)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    km_plan_init(p);
    km_plan_add(p, "sample rows", (uint64_t)(s->n + s->nv) * (s->d + 1) * 4);
    km_plan_add(p, "kernel matrices", (uint64_t)4 * s->n * s->n * 4);
    km_plan_add(p, "network", km_mlp_bytes(o->depth, widths));
    if (o->fit.epochs)
        km_plan_add(p, "training",
                    km_mlp_fit_estimate(o->depth, widths, s->n, o->fit.batch));
    free(widths);
    int rc = km_plan_check(ctx, p, "the study");
    if (rc == 0)
        km_plan_log(ctx, p, "the study");
    return rc;
}

/* The analytic NTK (K[0]) and NNGP (K[1]) on the training rows. */
static int analytic(km_ctx *ctx, km_pool *pool, const km_ntk_study_opts *o, const km_sample *s,
                    float **K)
{
    size_t n = s->n;
    float *xn = malloc(n * sizeof *xn);
    if (!xn)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    km_row_sqnorms(s->X, n, s->d, xn);
    km_kernel kn = dot_kernel(o, KM_KERNEL_NTK), kg = dot_kernel(o, KM_KERNEL_NNGP);
    km_kernel_matrix(pool, &kn, s->X, n, xn, s->X, n, xn, s->d, K[0], n);
    km_kernel_matrix(pool, &kg, s->X, n, xn, s->X, n, xn, s->d, K[1], n);
    free(xn);
    return 0;
}

static void slopes(const km_ntk_study_opts *o, km_ntk_study *r)
{
    double x[KM_NTK_MAX_WIDTHS], y0[KM_NTK_MAX_WIDTHS], y1[KM_NTK_MAX_WIDTHS];
    for (size_t i = 0; i < r->nw; i++) {
        x[i] = r->w[i].width;
        y0[i] = r->w[i].ntk0.mean;
        y1[i] = r->w[i].ntk1.mean;
    }
    r->slope0 = km_loglog_slope(x, y0, r->nw);
    r->slope1 = o->fit.epochs ? km_loglog_slope(x, y1, r->nw) : NAN;
}

int km_ntk_study_run(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_ntk_study_opts *o,
                     km_ntk_study *r)
{
    km_sample s = {0};
    km_outfile of = {0};
    km_plan held;
    float *K[4] = {NULL, NULL, NULL, NULL};
    int rc = check_opts(ctx, o), have_of = 0;
    memset(r, 0, sizeof *r);
    if (rc < 0 || (o->gram && (rc = km_outfile_open(ctx, &of, o->gram)) < 0))
        return rc;
    have_of = o->gram != NULL;
    if ((rc = km_sample_load(ctx, pool, data, &o->sample, &s)) < 0)
        goto out;
    if (s.n < 2) {
        rc = km_seterr(&ctx->err, KM_EDATA, "the sample has %zu training rows: at least 2 are needed",
                       s.n);
        goto out;
    }
    if ((rc = study_plan(ctx, o, &s, &held)) < 0)
        goto out;
    for (int i = 0; i < 4; i++)
        if (!(K[i] = malloc(s.n * s.n * sizeof(float)))) {
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the kernel matrices");
            goto out;
        }
    if ((rc = analytic(ctx, pool, o, &s, K)) < 0)
        goto out;
    for (size_t i = 0; i < o->nwidths && rc == 0; i++)
        rc = one_width(ctx, pool, o, &s, o->widths[i], (const float *const *)K, K[2], K[3],
                       &held, &r->w[r->nw++]);
    if (rc < 0 || (rc = ntk_regression(ctx, pool, o, &s, &held, &r->krr_metric)) < 0)
        goto out;
    slopes(o, r);
    r->n = s.n, r->nv = s.nv, r->d = s.d, r->c = s.c, r->classify = s.classify;
    if (have_of)
        rc = gram_write(&of, o, K[0], s.n);
out:
    if (have_of)
        km_outfile_abort(&of);
    for (int i = 0; i < 4; i++)
        free(K[i]);
    km_sample_free(&s);
    return rc;
}
