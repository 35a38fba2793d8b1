/* train.c - training on a dataset (kmill/train.h): the rows read and
 * transformed into features, the validation rows split off or read, the
 * default bandwidths from the data's scale, one solve (kmill/krr.h), the
 * model search or its cross-validation (kmill/rfm.h), and the model
 * assembled from the choice. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/log.h"
#include "kmill/plan.h"
#include "kmill/progress.h"
#include "kmill/rng.h"
#include "kmill/train.h"
#include "kmill/calib.h"

void km_train_defaults(km_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->feat.task = KM_TASK_AUTO;
    o->feat.scale = KM_SCALE_MINMAX; /* why: kmill-train(1), "Labels and features" */
    km_search_defaults(&o->search);
    o->val_frac = -1;
    o->refit = 1;
    o->nystrom_patience = 2;
}

/* The validation dataset's name in messages. */
static const char *val_name(const km_train_opts *o)
{
    return o->val_name ? o->val_name : km_kmx_path(o->val);
}

typedef struct rows_in {
    float *raw;
    uint32_t ncols;
} rows_in;

static int copy_chunk(void *arg, const float *rows, uint32_t nr, uint64_t first)
{
    rows_in *r = arg;
    memcpy(r->raw + first * r->ncols, rows, (size_t)nr * r->ncols * sizeof *rows);
    return 0;
}

/* Read every row; the raw rows are freed once transformed. */
static int load_rows(km_ctx *ctx, km_pool *pool, km_kmx *data, float **raw)
{
    const km_schema *s = km_kmx_schema(data);
    uint64_t N = km_kmx_rows(data), bytes = N * s->ncols * 4;
    km_plan p;
    km_plan_init(&p);
    km_plan_add(&p, "rows as read", bytes);
    char job[300];
    snprintf(job, sizeof job, "reading the %llu rows of %s", (unsigned long long)N,
             km_kmx_path(data));
    int rc = km_plan_check(ctx, &p, job);
    if (rc)
        return rc;
    *raw = malloc(bytes ? bytes : 1);
    if (!*raw)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for %llu rows", (unsigned long long)N);
    rows_in r = {*raw, s->ncols};
    if ((rc = km_kmx_each(data, pool, copy_chunk, &r))) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

/* Move the labelled rows (y not NaN) to the front; their count. */
static size_t drop_unlabelled(float *X, float *y, size_t N, size_t d)
{
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (!isnan(y[i])) {
            if (n != i) {
                memmove(X + n * d, X + i * d, d * sizeof *X);
                y[n] = y[i];
            }
            n++;
        }
    return n;
}

/* The rows of a dataset as features (f fitted already) and targets, the
 * unlabelled ones dropped. */
static int dataset_rows(km_ctx *ctx, km_pool *pool, km_kmx *data, const char *name,
                        const km_features *f, float **Xo, float **yo, size_t *no,
                        uint64_t *unseen)
{
    const km_schema *s = km_kmx_schema(data);
    size_t N = (size_t)km_kmx_rows(data), d = f->d;
    km_featbind b = {0};
    float *raw = NULL, *X = NULL, *y = NULL;
    int rc = km_features_bind(ctx, f, s, 1, &b);
    if (rc || (rc = load_rows(ctx, pool, data, &raw)))
        goto out;
    X = malloc(N * d * sizeof *X + 1);
    y = malloc(N * sizeof *y + 1);
    if (!X || !y) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    km_features_apply(f, &b, raw, s->ncols, N, X, y, unseen);
    *no = drop_unlabelled(X, y, N, d);
    if (!*no) {
        rc = km_seterr(&ctx->err, KM_EDATA, "no row of %s has a label '%s' seen in training",
                       name ? name : km_kmx_path(data), f->label);
        goto out;
    }
    *Xo = X;
    *yo = y;
    X = y = NULL;
out:
    km_featbind_free(&b);
    free(raw);
    free(X);
    free(y);
    return rc;
}

float *km_train_targets(const float *y, size_t n, size_t c, int classify)
{
    float *Y = calloc(n * c + 1, sizeof *Y);
    if (Y)
        for (size_t i = 0; i < n; i++) {
            if (classify) /* one-hot */
                Y[i * c + (size_t)y[i]] = 1;
            else
                Y[i] = y[i];
        }
    return Y;
}

/* One solve on X (n x d, before the metric) with the solver of o and the
 * metric (metric, M): the coefficients (*Ao, n x c) and the training
 * metric. */
static int solve_rows(km_ctx *ctx, km_pool *pool, const km_krr_opts *o, int metric,
                      const float *M, const float *X, size_t n, size_t d, const float *y, size_t c,
                      int classify, float **Ao, km_train_result *res)
{
    float *Y = km_train_targets(y, n, c, classify), *A = malloc(n * c * sizeof *A + 1);
    float *F = malloc(n * c * sizeof *F + 1), *Xm = NULL, *S = NULL;
    int rc = 0;
    if (!Y || !A || !F)
        goto oom;
    const float *Xs = X;
    if (metric != KM_METRIC_NONE) {
        S = malloc((metric == KM_METRIC_FULL ? d * d : d) * sizeof *S);
        Xm = malloc(n * d * sizeof *Xm);
        if (!S || !Xm)
            goto oom;
        if ((rc = km_metric_root(M, d, metric, S, &ctx->err)))
            goto out;
        km_metric_rows(X, n, d, S, metric, Xm);
        Xs = Xm;
    }
    km_verbose(ctx, "training on %zu rows, %zu features, %zu outputs", n, d, c);
    km_plan held; /* the rows before the metric beside the rows in it */
    km_plan_init(&held);
    if (Xm)
        km_plan_add(&held, "rows before the metric", (uint64_t)n * d * sizeof *X);
    km_krr_plan_args(&held, n, d, c);
    if ((rc = km_krr_solve(ctx, pool, Xs, n, d, Y, c, o, &held, A, F, &res->solve)))
        goto out;
    res->train_metric = km_train_metric(classify, F, y, n, c);
    *Ao = A;
    A = NULL;
    goto out;
oom:
    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
out:
    free(Y);
    free(A);
    free(F);
    free(Xm);
    free(S);
    return rc;
}

/* Hold nv rows out of X (n x d) and y: drawn uniformly (seeded), moved
 * to the end in their order, the training rows kept in theirs. */
static int split_rows(km_ctx *ctx, float *X, float *y, size_t n, size_t d, size_t nv,
                      uint64_t seed)
{
    uint64_t *idx = malloc(nv * sizeof *idx);
    float *Xv = malloc(nv * d * sizeof *Xv), *yv = malloc(nv * sizeof *yv);
    if (!idx || !Xv || !yv || km_sample_indices(n, nv, seed ^ 0x5eed5eedu, idx)) {
        free(idx);
        free(Xv);
        free(yv);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    size_t k = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < nv && idx[k] == i) {
            memcpy(Xv + k * d, X + i * d, d * sizeof *X);
            yv[k++] = y[i];
            continue;
        }
        if (w != i) {
            memmove(X + w * d, X + i * d, d * sizeof *X);
            y[w] = y[i];
        }
        w++;
    }
    memcpy(X + w * d, Xv, nv * d * sizeof *X);
    memcpy(y + w, yv, nv * sizeof *y);
    free(idx);
    free(Xv);
    free(yv);
    return 0;
}

/* A training job's rows and what is decided about them. */
typedef struct job {
    km_ctx *ctx;
    km_pool *pool;
    km_kmx *data;
    const km_train_opts *o;
    km_model *m;
    km_train_result *res;
    float *X, *y;       /* N rows: training rows first, then held-out ones */
    float *Xv, *yv;     /* the validation file's rows, or NULL */
    float *A;           /* the model's coefficients */
    size_t n, d, c, ntr, nv, nc; /* labelled rows, features, outputs, split, centres */
    int classify;
    km_search_opts search; /* o->search, with the bandwidths from the data's scale */
} job;

/* Read the rows, fit the features on them, keep the labelled ones. */
static int train_rows(job *j)
{
    km_ctx *ctx = j->ctx;
    km_model *m = j->m;
    const km_schema *s = km_kmx_schema(j->data);
    size_t N = (size_t)km_kmx_rows(j->data);
    uint32_t lc;
    int rc = km_features_label(ctx, s, j->o->feat.label, &lc);
    if (rc)
        return rc;
    if (!N)
        return km_seterr(&ctx->err, KM_EDATA, "%s has no rows to train on", km_kmx_path(j->data));
    if (j->o->val && (rc = km_schema_same_columns(s, km_kmx_schema(j->o->val), val_name(j->o),
                                                 &ctx->err)))
        return rc;
    float *raw = NULL;
    km_featbind b = {0};
    if ((rc = load_rows(ctx, j->pool, j->data, &raw)))
        return rc;
    if (!(j->y = malloc(N * sizeof *j->y)))
        goto oom;
    for (size_t i = 0; i < N; i++)
        j->y[i] = raw[i * s->ncols + lc];
    if ((rc = km_features_fit(ctx, s, lc, j->y, N, &j->o->feat, &m->feat)) ||
        (rc = km_features_bind(ctx, &m->feat, s, 1, &b)))
        goto out;
    size_t d = j->d = m->feat.d;
    if (!d) {
        rc = km_seterr(&ctx->err, KM_EDATA, "%s has no feature columns besides the label '%s'",
                       km_kmx_path(j->data), m->feat.label);
        goto out;
    }
    km_plan p; /* the rows as read and as features, side by side */
    km_plan_init(&p);
    km_plan_add(&p, "rows as read", (uint64_t)N * s->ncols * sizeof *raw);
    km_plan_add(&p, "features and labels", (uint64_t)N * (d + 1) * sizeof *raw);
    char what[300];
    snprintf(what, sizeof what, "the %zu rows of %s as features", N, km_kmx_path(j->data));
    if ((rc = km_plan_check(ctx, &p, what)))
        goto out;
    km_plan_log(ctx, &p, "features");
    if (!(j->X = malloc(N * d * sizeof *j->X)))
        goto oom;
    km_features_suspects(ctx, &m->feat, &b, raw, s->ncols, N, N);
    km_features_apply(&m->feat, &b, raw, s->ncols, N, j->X, j->y, &j->res->unseen);
    j->n = drop_unlabelled(j->X, j->y, N, d);
    j->res->rows = N;
    j->res->dropped = N - j->n;
    if (!j->n) {
        rc = km_seterr(&ctx->err, KM_EDATA, "every row of %s lacks the label '%s'",
                       km_kmx_path(j->data), m->feat.label);
        goto out;
    }
    if (j->res->dropped)
        km_warn(ctx, "%llu of %llu rows dropped: their label '%s' is missing",
                (unsigned long long)j->res->dropped, (unsigned long long)N, m->feat.label);
    j->classify = m->feat.task == KM_TASK_CLASSIFY;
    j->c = j->classify ? m->feat.nclasses : 1;
    goto out;
oom:
    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
out:
    km_featbind_free(&b);
    free(raw);
    return rc;
}

/* Validation rows: a file, or a share held out when there is a choice. */
static int validation_rows(job *j)
{
    const km_train_opts *o = j->o;
    const km_search_opts *so = &o->search;
    int choosing = so->rfm || (so->bandwidths && so->nbandwidths > 1) ||
                   (so->regs && so->nregs > 1);
    double frac = o->val_frac >= 0 ? o->val_frac : choosing && !o->val ? 0.1 : 0;
    int rc = 0;
    j->ntr = j->n;
    j->nv = 0;
    if (o->val) {
        uint64_t unseen = 0;
        if ((rc = dataset_rows(j->ctx, j->pool, o->val, o->val_name, &j->m->feat, &j->Xv, &j->yv,
                               &j->nv, &unseen)))
            return rc;
        if (unseen)
            km_warn(j->ctx, "%llu categorical values of the validation data unseen in training",
                    (unsigned long long)unseen);
    } else if (frac > 0) {
        size_t nv = (size_t)llround(frac * (double)j->n);
        nv = nv < 1 ? 1 : nv;
        if (nv >= j->n)
            return km_seterr(&j->ctx->err, KM_EDATA,
                             "%zu labelled rows are too few to hold %g of them out for validation",
                             j->n, frac);
        if ((rc = split_rows(j->ctx, j->X, j->y, j->n, j->d, nv, o->search.solve.seed)))
            return rc;
        j->nv = nv;
        j->ntr = j->n - nv;
    }
    j->res->train_rows = j->ntr;
    j->res->val_rows = j->nv;
    return 0;
}

/* A copy of a metric of d features (NULL for none). */
static int copy_metric(km_ctx *ctx, int metric, const float *M, size_t d, float **out)
{
    *out = NULL;
    if (metric == KM_METRIC_NONE)
        return 0;
    size_t ms = metric == KM_METRIC_FULL ? d * d : d;
    if (!(*out = malloc(ms * sizeof **out)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    memcpy(*out, M, ms * sizeof **out);
    return 0;
}

/* The validation file's rows join the training rows (a refit). */
static int join_validation(job *j)
{
    size_t d = j->d, ntr = j->ntr, nv = j->nv;
    float *X2 = realloc(j->X, (ntr + nv) * d * sizeof *j->X);
    if (X2)
        j->X = X2;
    float *y2 = X2 ? realloc(j->y, (ntr + nv) * sizeof *j->y) : NULL;
    if (!y2)
        return km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    j->y = y2;
    memcpy(j->X + ntr * d, j->Xv, nv * d * sizeof *j->X);
    memcpy(j->y + ntr, j->yv, nv * sizeof *j->y);
    return 0;
}

/* The choice of a search (best) into the final solve's options fo, the
 * model's metric and the result. */
static void take_choice(job *j, km_krr_opts *fo, km_rfm_best *best)
{
    km_train_result *res = j->res;
    fo->kernel.bandwidth = best->bandwidth;
    fo->reg = best->reg;
    res->val_metric = best->val_metric;
    res->best_iter = best->iter;
    res->solve_seconds = best->solve_seconds;
    res->agop_seconds = best->agop_seconds;
    res->steps = best->steps;
    j->m->metric = best->metric;
    j->m->M = best->M;
    best->M = NULL;
}

/* The best step's coefficients as the model's. */
static void take_solution(job *j, km_rfm_best *best)
{
    j->A = best->A;
    best->A = NULL;
    j->res->solve = best->solve;
    j->res->train_metric = best->train_metric;
}

/* What the caller of a search holds: the rows, labels and targets. */
static void rows_plan(const job *j, km_plan *p)
{
    km_plan_init(p);
    size_t rows = j->n + (j->Xv ? j->nv : 0); /* a split's are among the n */
    km_plan_add(p, "rows", (uint64_t)rows * (j->d + 1) * sizeof *j->X);
    km_plan_add(p, "targets", (uint64_t)j->n * j->c * sizeof *j->X);
}

/* The softmax temperature on the validation rows (kmill/calib.h), of the
 * search's choice as it stands before any refit, trained without them
 * (A, on the ntr training rows): a view of the model still in the job.
 * A refit then trains on those rows too and keeps this temperature: it
 * belongs to a model fitted on fewer rows, but one fitted on the rows it
 * is scored on would be overconfident. */
static int calibrate(job *j, const km_krr_opts *fo, const float *A)
{
    if (!j->classify || !j->nv)
        return 0;
    km_model v = *j->m;
    v.kernel = fo->kernel, v.n = j->ntr, v.d = (uint32_t)j->d, v.c = (uint32_t)j->c;
    v.centres = j->X, v.alpha = (float *)A;
    return km_model_calibrate(j->ctx, j->pool, &v, j->Xv ? j->Xv : j->X + j->ntr * j->d,
                              j->yv ? j->yv : j->y + j->ntr, j->nv, &j->m->cal);
}

/* The search on the training rows, scored on the validation rows; the
 * best step's coefficients, or a refit on all rows with its choice. */
static int search_and_fit(job *j, km_krr_opts *fo)
{
    const km_train_opts *o = j->o;
    size_t ntr = j->ntr, nv = j->nv, d = j->d, c = j->c;
    const float *Xval = j->Xv ? j->Xv : j->X + ntr * d, *yval = j->yv ? j->yv : j->y + ntr;
    float *Y = km_train_targets(j->y, ntr, c, j->classify);
    if (!Y)
        return km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    km_rfm_best best;
    int rc = km_rfm_search(j->ctx, j->pool, &j->search, NULL, j->classify, j->X, Y, j->y, ntr, d,
                           c, Xval, yval, nv, &best);
    free(Y);
    if (rc)
        return rc;
    take_choice(j, fo, &best);
    if ((rc = calibrate(j, fo, best.A)))
        goto out;
    if (o->refit) {
        if (j->Xv && (rc = join_validation(j)))
            goto out;
        j->nc = ntr + nv;
        rc = solve_rows(j->ctx, j->pool, fo, j->m->metric, j->m->M, j->X, j->nc, d, j->y, c,
                        j->classify, &j->A, j->res);
    } else
        take_solution(j, &best);
out:
    km_rfm_best_free(&best);
    return rc;
}

/* K-fold cross-validation of the search on all rows, then its refit. */
static int cv_and_fit(job *j, km_krr_opts *fo)
{
    float *Y = km_train_targets(j->y, j->n, j->c, j->classify);
    if (!Y)
        return km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    km_plan held;
    rows_plan(j, &held);
    km_rfm_best best;
    int rc = km_rfm_cv(j->ctx, j->pool, &j->search, &held, j->classify, j->X, Y, j->y, j->n,
                       j->d, j->c, j->o->cv, &best);
    free(Y);
    if (rc)
        return rc;
    take_choice(j, fo, &best);
    take_solution(j, &best);
    j->res->folds = j->o->cv;
    j->nc = j->n;
    km_rfm_best_free(&best);
    return 0;
}

/* Without a bandwidth grid, a search with a radial kernel tries
 * km_scale_bandwidths of the training rows' median distance. */
static int scale_grid(job *j)
{
    const km_train_opts *o = j->o;
    const km_search_opts *so = &o->search;
    j->search = *so;
    int search = so->rfm || (so->regs && so->nregs > 1) || o->cv;
    if (!o->auto_bandwidth || (so->bandwidths && so->nbandwidths) || !search ||
        !km_kernel_radial(&so->solve.kernel)) /* a dot-product kernel: no bandwidth */
        return 0;
    km_plan held;
    rows_plan(j, &held);
    double med;
    int rc = km_median_distance(j->ctx, j->X, j->ntr, j->d, 1000, so->solve.seed, &held, &med);
    if (rc)
        return rc;
    km_train_result *res = j->res;
    res->median_distance = med;
    res->nbandwidths = km_scale_bandwidths(med, so->solve.kernel.bandwidth, res->bandwidths);
    j->search.bandwidths = res->bandwidths;
    j->search.nbandwidths = res->nbandwidths;
    char list[128] = "";
    for (size_t i = 0, len = 0; i < res->nbandwidths && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%.4g", i ? "," : "",
                                res->bandwidths[i]);
    km_info(j->ctx, "bandwidths to try: %s (the default and 0.5, 1, 2, 4 x the median distance "
            "between rows, %.4g)", list, med);
    return 0;
}

/* The model from the job: its kernel, centres, coefficients and summary. */
static void fill_model(job *j, const km_krr_opts *fo)
{
    km_model *m = j->m;
    const km_train_opts *o = j->o;
    const km_search_opts *so = &o->search;
    km_train_result *res = j->res;
    m->kernel = fo->kernel;
    m->reg = fo->reg;
    m->n = j->nc;
    m->d = (uint32_t)j->d;
    m->c = (uint32_t)j->c;
    m->centres = realloc(j->X, j->nc * j->d * sizeof *j->X);
    if (!m->centres)
        m->centres = j->X;
    j->X = NULL;
    m->alpha = j->A;
    j->A = NULL;
    m->data_checksum = km_kmx_checksum(j->data);
    m->solver = strdup(res->solve.solver == KM_SOLVER_DIRECT ? "direct"
                       : res->solve.rank                     ? "pcg+nystrom"
                                                             : "pcg");
    m->iters = res->solve.iters;
    m->residual = res->solve.rel_residual;
    m->train_metric = res->train_metric;
    if (j->nv || o->cv) {
        m->sel = 1;
        m->rfm_iters = so->rfm ? (uint32_t)so->rfm_iters : 0;
        m->best_iter = (uint32_t)res->best_iter;
        m->rfm_diag = so->rfm && so->rfm_diag;
        m->center_grads = so->rfm && so->center_grads;
        m->agop_samples = so->rfm ? (so->agop_samples < j->ntr ? so->agop_samples : j->ntr) : 0;
        m->train_rows = j->ntr;
        m->val_rows = j->nv;
        m->val_metric = res->val_metric;
        m->refit = o->cv || o->refit;
        m->folds = (uint32_t)o->cv;
    }
}

int km_train(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o, km_model *m,
             km_train_result *res)
{
    if (km_train_streams(ctx, pool, data, o))
        return km_train_stream(ctx, pool, data, o, m, res);
    memset(m, 0, sizeof *m);
    memset(res, 0, sizeof *res);
    res->val_metric = NAN;
    double t0 = km_now();
    int rc = 0;
    job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx, j.pool = pool, j.data = data, j.o = o, j.m = m, j.res = res;
    km_krr_opts fo = o->search.solve; /* the final solve's options */
    if (o->cv && (o->val || o->val_frac > 0)) {
        rc = km_seterr(&ctx->err, KM_EINVAL, "cross-validation excludes validation rows");
        goto out;
    }
    if ((rc = train_rows(&j)) || (!o->cv && (rc = validation_rows(&j))))
        goto out;
    if (o->cv) {
        if ((size_t)o->cv > j.n) {
            rc = km_seterr(&ctx->err, KM_EDATA, "%zu labelled rows are too few for %d folds",
                           j.n, o->cv);
            goto out;
        }
        j.ntr = j.n;
        res->train_rows = j.n;
    }
    if ((rc = scale_grid(&j)))
        goto out;
    j.nc = j.ntr; /* centres of the model */
    if (o->cv) {
        if ((rc = cv_and_fit(&j, &fo)))
            goto out;
    } else if (!j.nv) {
        if ((rc = solve_rows(ctx, pool, &fo, o->metric, o->M, j.X, j.ntr, j.d, j.y, j.c,
                             j.classify, &j.A, res)))
            goto out;
        m->metric = o->metric;
        if ((rc = copy_metric(ctx, o->metric, o->M, j.d, &m->M)))
            goto out;
    } else if ((rc = search_and_fit(&j, &fo)))
        goto out;
    fill_model(&j, &fo);
    res->seconds = km_now() - t0;
out:
    free(j.X);
    free(j.y);
    free(j.A);
    free(j.Xv);
    free(j.yv);
    if (rc)
        km_model_free(m);
    return rc;
}
