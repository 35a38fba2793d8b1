/* mlp_train.c - `kmill mlp` as one library call (kmill/mlptrain.h):
 * plan, sample, initialise, measure, train, measure again, and hand the
 * network over as a model. The metrics work on a seeded subset of the
 * training rows (metric_rows): CKA and the AGOP cost n x width and
 * n x c backward passes, and a few thousand rows settle them. The network
 * at initialisation is kept (a copy) for the weight change, the CKA
 * between the two representations and the ansatz of dW. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/entk.h"
#include "kmill/log.h"
#include "kmill/mlptrain.h"
#include "kmill/nnmetrics.h"
#include "kmill/plan.h"
#include "kmill/rng.h"

void km_mlp_job_defaults(km_mlp_job_opts *o)
{
    memset(o, 0, sizeof *o);
    km_sample_defaults(&o->sample);
    o->width = 256;
    o->depth = 2;
    o->param = KM_PARAM_NTK;
    o->sw2 = 2.0;
    o->sb2 = 0.1;
    o->alpha = 1.0;
    o->fit.loss = KM_LOSS_MSE;
    o->fit.lr = 1.0;
    o->fit.epochs = 20;
    o->fit.batch = 128;
    o->seed = 1;
    o->metric_rows = 2000;
}

void km_mlp_job_result_free(km_mlp_job_result *r)
{
    free(r->change);
    free(r->agop_diag);
    memset(r, 0, sizeof *r);
}

/* Features the data give at most: a numeric column one, a categorical
 * one a feature per level (the label's counted too: an upper bound). */
static size_t max_features(const km_kmx *data)
{
    const km_schema *s = km_kmx_schema(data);
    size_t d = 0;
    for (uint32_t j = 0; j < s->ncols; j++)
        d += s->cols[j].type == KM_COL_CATEGORICAL && s->cols[j].nlevels ? s->cols[j].nlevels : 1;
    return d;
}

/* The least block of rows the kernel distance's NTK is planned for. */
#define NTK_BLOCK 64

/* Outputs at most before the sample: a categorical label's levels, or
 * the most classes a numeric one makes (KM_AUTO_MAX_CLASSES; 1 for a
 * regression); dmax when the label is not found (the sampler says why). */
static size_t max_outputs(km_ctx *ctx, const km_kmx *data, const km_mlp_job_opts *o, size_t dmax)
{
    const km_schema *s = km_kmx_schema(data);
    uint32_t lc;
    km_err saved = ctx->err;
    if (km_features_label(ctx, s, o->sample.feat.label, &lc)) {
        ctx->err = saved;
        return dmax;
    }
    const km_column *col = &s->cols[lc];
    if (col->type == KM_COL_CATEGORICAL && col->nlevels)
        return col->nlevels;
    return o->sample.feat.task == KM_TASK_REGRESS ? 1 : KM_AUTO_MAX_CLASSES;
}

/* The widths of the network for d features and c outputs. */
static uint32_t *widths(const km_mlp_job_opts *o, size_t d, size_t c)
{
    uint32_t *w = malloc((o->depth + 2) * sizeof *w);
    if (!w)
        return NULL;
    w[0] = (uint32_t)d;
    for (uint32_t l = 1; l <= o->depth; l++)
        w[l] = o->width;
    w[o->depth + 1] = (uint32_t)c;
    return w;
}

/* What the job holds at its peak: the sample, two networks (the trained
 * one and its initial copy), training's buffers, the metrics' (the AGOP
 * and its root in float64 and float32, d x d each, the hidden layers of
 * the metric rows at both ends). c is an upper bound before the sample. */
static int plan(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_mlp_job_opts *o, size_t d,
                size_t c, size_t rows)
{
    km_plan p;
    km_plan_init(&p);
    int tasks = pool ? km_pool_workers(pool) + 1 : 1;
    uint32_t *w = widths(o, d, c);
    if (!w)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    uint64_t R = km_kmx_rows(data), n = rows && rows < R ? rows : R;
    uint64_t mr = o->metric_rows < n ? o->metric_rows : n;
    km_plan_add(&p, "sample", km_sample_estimate(data, n, d, tasks));
    km_plan_add(&p, "networks", 2 * km_mlp_bytes(o->depth, w));
    km_plan_add(&p, "training buffers", km_mlp_fit_estimate(o->depth, w, (size_t)n, o->fit.batch));
    km_plan_add(&p, "metrics", (uint64_t)d * d * 24 + mr * (2 * o->width + d) * 4 +
                                   (uint64_t)o->width * o->width * 16);
    /* the kernel distance's two kernels, and blocks of NTK_BLOCK rows at
     * least (km_entk_gram takes larger ones only where they fit) */
    uint64_t kr = mr < KM_MLP_NTK_ROWS ? mr : KM_MLP_NTK_ROWS;
    km_mlp shape = {.depth = o->depth, .width = w}; /* the sizes the estimate reads */
    km_plan_add(&p, "empirical NTK",
                2 * kr * kr * 4 + km_entk_estimate(&shape, kr < NTK_BLOCK ? kr : NTK_BLOCK,
                                                   KM_ENTK_MEAN, sizeof(float)));
    km_plan_add(&p, "BLAS buffers", KM_MEM_BLAS);
    free(w);
    int rc = km_plan_check(ctx, &p, "mlp");
    if (!rc)
        km_plan_log(ctx, &p, "mlp");
    return rc;
}

/* The seeded subset of training rows the metrics use. */
static int metric_rows(km_ctx *ctx, const km_sample *s, const km_mlp_job_opts *o, float **X,
                       float **y, size_t *m)
{
    size_t want = o->metric_rows ? o->metric_rows : 2000;
    *m = s->n < want ? s->n : want;
    uint64_t *idx = malloc((*m + 1) * sizeof *idx);
    *X = malloc((*m * s->d + 1) * sizeof **X);
    *y = malloc((*m + 1) * sizeof **y);
    if (!idx || !*X || !*y || km_sample_indices(s->n, *m, o->seed ^ 0x6d65747269637300ull, idx)) {
        free(idx);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the metrics' rows");
    }
    for (size_t i = 0; i < *m; i++) {
        memcpy(*X + i * s->d, s->X + idx[i] * s->d, s->d * sizeof **X);
        (*y)[i] = s->y[idx[i]];
    }
    free(idx);
    return 0;
}

/* The metrics of net (and, at the end, against w0); H the last hidden
 * layer's activations (m x width) for the CKA, H0 those at initialisation. */
static int measure(km_ctx *ctx, const km_mlp *net, const km_mlp *w0, const float *X,
                   const float *y, size_t m, size_t c, int classify, float *H, const float *H0,
                   km_mlp_job_result *r)
{
    size_t wd = net->width[net->depth];
    int rc = km_mlp_hidden(ctx, net, X, m, H);
    double *kta = w0 ? &r->kta : &r->kta0;
    if (!rc)
        rc = km_kta(ctx, H, wd, y, m, c, classify, kta);
    if (!rc && H0)
        rc = km_cka_linear(ctx, H0, wd, H, wd, m, &r->cka);
    if (!rc)
        rc = km_mlp_nfa(ctx, net, w0, X, m, w0 ? &r->nfa : &r->nfa0, &r->nfa_delta,
                        w0 ? r->agop_diag : NULL);
    if (!rc && w0)
        km_mlp_weight_change(w0, net, r->change);
    return rc;
}

/* The kernel distance of Fort et al. between the empirical NTK of the
 * network at initialisation (w0) and trained (net), class-averaged, on
 * the first KM_MLP_NTK_ROWS metric rows (a seeded subset already). */
static int kernel_distance(km_ctx *ctx, const km_sample *s, const km_mlp *w0, const km_mlp *net,
                           const float *X, size_t m, km_mlp_job_result *r)
{
    size_t k = m < KM_MLP_NTK_ROWS ? m : KM_MLP_NTK_ROWS;
    float *K0 = malloc((k * k + 1) * sizeof *K0), *K1 = malloc((k * k + 1) * sizeof *K1);
    int rc = K0 && K1 ? 0 : km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the NTK");
    km_plan held; /* what the job holds beside the kernel's blocks */
    km_plan_init(&held);
    km_plan_add(&held, "sample", (uint64_t)(s->n + s->nv) * (s->d + 1) * sizeof(float));
    km_plan_add(&held, "networks", 2 * km_mlp_bytes(net->depth, net->width));
    km_plan_add(&held, "the two kernels", 2 * (uint64_t)k * k * sizeof *K0);
    if (!rc)
        rc = km_entk_gram(ctx, w0, X, k, X, k, KM_ENTK_MEAN, &held, K0);
    if (!rc)
        rc = km_entk_gram(ctx, net, X, k, X, k, KM_ENTK_MEAN, &held, K1);
    if (!rc) {
        r->kdist = km_kernel_distance(K0, K1, k * k);
        r->kdist_rows = k;
    }
    free(K0);
    free(K1);
    return rc;
}

/* The model's fields from the trained network (moved into m) and the
 * sample's transform (moved too). */
static void fill_model(km_model *m, km_mlp *net, km_sample *s, const km_mlp_job_opts *o,
                       const km_mlp_job_result *r)
{
    m->kind = KM_MODEL_NET;
    m->net = *net;
    memset(net, 0, sizeof *net);
    m->feat = s->feat;
    memset(&s->feat, 0, sizeof s->feat);
    m->d = (uint32_t)s->d;
    m->c = (uint32_t)s->c;
    m->n = 0;
    m->solver = strdup(o->fit.batch && o->fit.batch < s->n ? "sgd" : "gd");
    m->iters = o->fit.epochs;
    m->residual = r->fit.loss;
    m->train_metric = s->classify ? r->fit.train_metric : sqrt(r->fit.train_metric);
    m->ni = (km_net_info){o->fit.loss, o->fit.lr, o->fit.epochs,
                          o->fit.batch && o->fit.batch < s->n ? o->fit.batch : 0, o->seed,
                          s->n, s->nv, r->fit.val_metric};
}

/* Train and measure on the loaded sample s. */
static int run(km_ctx *ctx, km_pool *pool, km_sample *s, const km_mlp_job_opts *o, km_model *m,
               km_mlp_job_result *r)
{
    km_mlp net = {0}, w0 = {0};
    float *Xm = NULL, *ym = NULL, *H0 = NULL, *H = NULL;
    size_t mr = 0;
    uint32_t *w = widths(o, s->d, s->c);
    int rc = w ? 0 : km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    if (!rc)
        rc = km_mlp_init(ctx, &net, o->depth, w, o->param, o->sw2, o->sb2, o->alpha, o->seed);
    if (!rc)
        rc = km_mlp_copy(ctx, &w0, &net);
    if (!rc)
        rc = metric_rows(ctx, s, o, &Xm, &ym, &mr);
    r->metric_rows = mr;
    r->change = calloc(o->depth + 1, sizeof *r->change);
    r->agop_diag = calloc(s->d, sizeof *r->agop_diag);
    H0 = malloc((mr * o->width + 1) * sizeof *H0);
    H = malloc((mr * o->width + 1) * sizeof *H);
    if (!rc && (!r->change || !r->agop_diag || !H0 || !H))
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the metrics");
    if (!rc)
        rc = measure(ctx, &net, NULL, Xm, ym, mr, s->c, s->classify, H0, NULL, r);
    if (!rc)
        rc = km_mlp_evaluate(ctx, pool, &net, s->X, s->y, s->n, o->fit.loss, s->classify,
                             &r->init_loss, &r->init_metric);
    km_mlp_fit_opts fo = o->fit;
    fo.seed = o->seed;
    fo.classify = s->classify;
    if (!rc)
        rc = km_mlp_fit(ctx, pool, &net, s->X, s->y, s->n, s->Xv, s->yv, s->nv, &fo, &r->fit);
    if (!rc)
        rc = measure(ctx, &net, &w0, Xm, ym, mr, s->c, s->classify, H, H0, r);
    if (!rc)
        rc = kernel_distance(ctx, s, &w0, &net, Xm, mr, r);
    if (!rc)
        fill_model(m, &net, s, o, r);
    km_mlp_free(&net);
    km_mlp_free(&w0);
    free(w);
    free(Xm);
    free(ym);
    free(H0);
    free(H);
    return rc;
}

int km_mlp_train_job(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_mlp_job_opts *o,
                     km_model *m, km_mlp_job_result *r)
{
    memset(r, 0, sizeof *r);
    size_t dmax = max_features(data);
    int rc = plan(ctx, pool, data, o, dmax, max_outputs(ctx, data, o, dmax), o->sample.rows);
    if (rc)
        return rc;
    km_sample_opts so = o->sample;
    so.seed = o->seed;
    km_sample s;
    if ((rc = km_sample_load(ctx, pool, data, &so, &s)))
        return rc;
    r->n = s.n;
    r->nv = s.nv;
    r->d = s.d;
    r->c = s.c;
    r->classify = s.classify;
    r->unlabelled = s.unlabelled;
    if (o->fit.loss == KM_LOSS_XENT && !s.classify)
        rc = km_seterr(&ctx->err, KM_EINVAL, "--loss xent needs a classification label; '%s' is "
                       "a regression target (use --loss mse, or --task classify)", s.feat.label);
    else
        rc = run(ctx, pool, &s, o, m, r);
    km_sample_free(&s);
    return rc;
}
