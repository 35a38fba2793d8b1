/* train_stream.c - training with the rows streamed (kmill/train.h,
 * KM_SOLVER_NYSTROM): a kernel machine or RFM on m Nystrom centres whose
 * memory does not grow with the rows.
 *
 * Pass 0 (the survey) reads the dataset once: it counts the rows, collects
 * the label's distinct values (all the feature fit needs of them, with the
 * schema's statistics), and draws by reservoir sampling, uniformly among
 * the labelled training rows, the m centres and a sample of rows for the
 * AGOP and the training figure, and among the validation rows a sample for
 * the softmax temperature. The features are fitted and the samples turned
 * into features; then the search (kmill/rfm.h, km_rfm_stream_search)
 * streams the training rows through each solve and the validation rows
 * through each scoring: a validation share is split off by a hash of the
 * row number (kmill/rowsrc.h), never held. A refit solves once more on
 * every labelled row.
 *
 * Memory: the plan (checked before the survey) holds the samples, the
 * solver's O(m^2) arrays, the dataset reader and a chunk's features; none
 * of it depends on the number of rows. When it does not fit, the message
 * gives the largest number of centres that would. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/agop.h"
#include "kmill/calib.h"
#include "kmill/log.h"
#include "kmill/plan.h"
#include "kmill/progress.h"
#include "kmill/rng.h"
#include "kmill/rowsrc.h"
#include "kmill/size.h"
#include "kmill/train.h"

/* The label's distinct values the survey keeps: far more than the 32 of
 * an automatic classification, so that the fit decides as on every row. */
#define LABELS_MAX 4096
/* Validation rows the temperature is fitted on. */
#define CALIB_ROWS 20000
/* The first rows, in order, that the identifier check looks at (it
 * needs row order to see numbers rise). */
#define HEAD_ROWS 1000

typedef struct reservoir {
    float *rows;       /* cap x ncols, as read */
    size_t cap;
    uint64_t seen;
    km_rng rng;
} reservoir;

typedef struct sjob {
    km_ctx *ctx;
    km_pool *pool;
    km_kmx *data;
    const km_train_opts *o;
    km_model *m;
    km_train_result *res;
    uint32_t lc;
    size_t ncols, d, c, nc;          /* columns as read, features, outputs, centres */
    int classify;
    uint64_t seed, cut;              /* the validation split (cut 0: none) */
    reservoir C, B, V;               /* centres, AGOP sample, calibration sample */
    float labels[LABELS_MAX];
    size_t nlabels;
    float nonint;                    /* a non-integral label met, NaN if none */
    uint64_t N, ntr, nv, unlabelled;
    float *Cf, *yC, *Bf, *yB, *Vf, *yV; /* the samples as features and targets */
    float *head;                     /* the first HEAD_ROWS rows as read */
    size_t nhead;
    int fmode;                       /* KM_FALKON_CG or KM_FALKON_GRAM, or AUTO until the
                                      * fit knows the features and outputs */
} sjob;

static void res_take(reservoir *r, const float *row, size_t ncols)
{
    uint64_t k = r->seen++;
    if (k >= r->cap) {
        k = km_rng_below(&r->rng, k + 1);
        if (k >= r->cap)
            return;
    }
    memcpy(r->rows + k * ncols, row, ncols * sizeof *row);
}

static size_t res_count(const reservoir *r)
{
    return r->seen < r->cap ? (size_t)r->seen : r->cap;
}

/* Insert a label value into the sorted distinct list (while there is room). */
static void note_label(sjob *j, float v)
{
    if (v != floorf(v) && isnan(j->nonint))
        j->nonint = v;
    size_t lo = 0, hi = j->nlabels;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (j->labels[mid] < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    if ((lo < j->nlabels && j->labels[lo] == v) || j->nlabels == LABELS_MAX)
        return;
    memmove(j->labels + lo + 1, j->labels + lo, (j->nlabels - lo) * sizeof *j->labels);
    j->labels[lo] = v;
    j->nlabels++;
}

static void survey_rows(sjob *j, const float *rows, uint32_t nr, uint64_t first, int val_file)
{
    size_t nc = j->ncols;
    for (uint32_t i = 0; i < nr; i++) {
        const float *row = rows + (size_t)i * nc;
        if (!val_file && first + i == j->nhead && j->nhead < HEAD_ROWS)
            memcpy(j->head + j->nhead++ * nc, row, nc * sizeof *row);
        float y = row[j->lc];
        if (isnan(y)) {
            j->unlabelled += !val_file; /* the validation file's are its own affair */
            continue;
        }
        if (!val_file)
            note_label(j, y);
        if (val_file || (j->cut && km_rowsrc_is_val(j->seed, j->cut, first + i))) {
            j->nv++;
            res_take(&j->V, row, nc);
        } else {
            j->ntr++;
            res_take(&j->C, row, nc);
            res_take(&j->B, row, nc);
        }
    }
}

/* The survey's state over one file. */
typedef struct surveying {
    sjob *j;
    int val_file;
    km_progress prog;
    uint64_t done;
} surveying;

static int survey_chunk(void *arg, const float *rows, uint32_t nr, uint64_t first)
{
    surveying *sv = arg;
    survey_rows(sv->j, rows, nr, first, sv->val_file);
    km_progress_update(&sv->prog, sv->done += nr);
    return 0;
}

/* Pass 0 over data (the training file, or the validation file). */
static int survey(sjob *j, km_kmx *data, int val_file)
{
    surveying sv = {j, val_file, {0}, 0};
    km_progress_start(&sv.prog, j->ctx, val_file ? "surveying the validation rows"
                                                  : "surveying the rows",
                      km_kmx_rows(data), "rows");
    int rc = km_kmx_each(data, j->pool, survey_chunk, &sv);
    km_progress_end(&sv.prog);
    j->res->passes++;
    return rc;
}

static int res_init(km_ctx *ctx, reservoir *r, size_t cap, size_t ncols, uint64_t seed)
{
    r->cap = cap;
    km_rng_seed(&r->rng, seed);
    if (!(r->rows = malloc((cap ? cap : 1) * ncols * sizeof *r->rows)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

/* A reservoir's rows as features and targets (bound to data's schema). */
static int to_features(sjob *j, km_kmx *data, const reservoir *r, float **X, float **y)
{
    size_t n = res_count(r), d = j->d;
    km_featbind b = {0};
    int rc = km_features_bind(j->ctx, &j->m->feat, km_kmx_schema(data), 1, &b);
    if (rc)
        return rc;
    *X = malloc((n ? n : 1) * d * sizeof **X);
    *y = malloc((n ? n : 1) * sizeof **y);
    if (!*X || !*y)
        rc = km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    else
        km_features_apply(&j->m->feat, &b, r->rows, km_kmx_schema(data)->ncols, n, *X, *y, NULL);
    km_featbind_free(&b);
    return rc;
}

/* The features from the survey's labels, and the samples in them. */
static int fit(sjob *j)
{
    km_ctx *ctx = j->ctx;
    if (!j->ntr)
        return km_seterr(&ctx->err, KM_EDATA, "every row of %s lacks the label '%s'",
                         km_kmx_path(j->data), km_kmx_schema(j->data)->cols[j->lc].name);
    if (!isnan(j->nonint) && j->nlabels == LABELS_MAX)
        j->labels[LABELS_MAX - 1] = j->nonint; /* the fit must see the label is not integral */
    int rc = km_features_fit(ctx, km_kmx_schema(j->data), j->lc, j->labels, j->nlabels,
                             &j->o->feat, &j->m->feat);
    if (rc)
        return rc;
    j->d = j->m->feat.d;
    km_featbind b = {0};
    if (!km_features_bind(ctx, &j->m->feat, km_kmx_schema(j->data), 1, &b))
        km_features_suspects(ctx, &j->m->feat, &b, j->head, (uint32_t)j->ncols, j->nhead,
                             j->N);
    km_featbind_free(&b);
    if (!j->d)
        return km_seterr(&ctx->err, KM_EDATA, "%s has no feature columns besides the label '%s'",
                         km_kmx_path(j->data), j->m->feat.label);
    j->classify = j->m->feat.task == KM_TASK_CLASSIFY;
    j->c = j->classify ? j->m->feat.nclasses : 1;
    km_kmx *vdata = j->o->val ? j->o->val : j->data;
    if ((rc = to_features(j, j->data, &j->C, &j->Cf, &j->yC)) ||
        (rc = to_features(j, j->data, &j->B, &j->Bf, &j->yB)) ||
        (rc = to_features(j, vdata, &j->V, &j->Vf, &j->yV)))
        return rc;
    j->nc = res_count(&j->C);
    return 0;
}

/* The features and outputs the plan assumes before the fit: every
 * column but the label a feature, a categorical one a feature per level;
 * a categorical label's levels, or 32 classes for a numeric one that may
 * be classes, as outputs. */
static void guess_dims(const sjob *j, size_t *d, size_t *c)
{
    const km_schema *s = km_kmx_schema(j->data);
    *d = 0;
    for (uint32_t i = 0; i < s->ncols; i++)
        if (i != j->lc)
            *d += s->cols[i].type == KM_COL_CATEGORICAL ? s->cols[i].nlevels : 1;
    const km_column *lab = &s->cols[j->lc];
    int regress = j->o->feat.task == KM_TASK_REGRESS;
    *c = regress ? 1 : lab->type == KM_COL_CATEGORICAL ? lab->nlevels : KM_AUTO_MAX_CLASSES;
    if (!*c)
        *c = 1;
}

/* The streamed job's plan for m centres. */
static void stream_plan(const sjob *j, size_t m, size_t d, size_t c, int mode, km_plan *p)
{
    const km_search_opts *so = &j->o->search;
    size_t nregs = so->regs && so->nregs ? so->nregs : 1;
    size_t nb = j->B.cap, nv = j->V.cap, nrow = m + nb + nv;
    int tasks = km_pool_workers(j->pool) + 1;
    km_plan_init(p);
    km_plan_add(p, "BLAS buffers", KM_MEM_BLAS);
    km_plan_add(p, "sampled rows as read", (uint64_t)nrow * j->ncols * 4);
    km_plan_add(p, "sampled rows as features", (uint64_t)nrow * (d + 1) * 4);
    km_plan_add(p, "Nystrom solver", km_falkon_estimate(mode, m, d, c, nregs, 0));
    km_plan_add(p, "coefficients of the search", (uint64_t)(nregs + 2) * m * c * 4);
    km_plan_add(p, "dataset reader", 2 * km_kmxsrc_estimate(j->data, d, tasks));
    if (so->rfm) {
        km_agop_opts ao = {so->rfm_diag, 0, 0, 0, 0};
        km_plan_add(p, "AGOP", km_agop_estimate(m, d, c, &ao, KM_STREAM_AGOP_BATCH) +
                                   (uint64_t)d * d * 40);
    }
}

/* The mode (CG or one Gram pass) by the cost model, logged: once the fit
 * knows d and c (the plan before it may only have ruled the Gram pass
 * out, leaving j->fmode CG). */
static void choose_mode(sjob *j)
{
    const km_train_opts *o = j->o;
    size_t nregs = o->search.regs && o->search.nregs ? o->search.nregs : 1;
    int iters = o->nystrom_iters > 0 ? o->nystrom_iters : 20;
    uint64_t n = j->ntr;
    size_t m = j->nc, d = j->d, c = j->c;
    double cg = km_falkon_cost(KM_FALKON_CG, n, m, d, c, iters, nregs) * (double)nregs;
    double gram = km_falkon_cost(KM_FALKON_GRAM, n, m, d, c, iters, nregs);
    if (j->fmode == KM_FALKON_AUTO)
        j->fmode = gram <= cg ? KM_FALKON_GRAM : KM_FALKON_CG;
    km_info(j->ctx, "Nystrom: %zu centres, %llu rows: conjugate gradients %.3g flops (up to %d "
            "passes a solve), one Gram pass %.3g flops: %s%s", m, (unsigned long long)n, cg,
            iters + 1, gram, j->fmode == KM_FALKON_GRAM ? "Gram" : "conjugate gradients",
            o->nystrom_mode != KM_FALKON_AUTO ? " (as asked)"
            : (j->fmode == KM_FALKON_CG) == (gram <= cg) ? " (the Gram matrix does not fit)"
                                                        : "");
}

/* The largest number of centres below m whose plan in mode fits. */
static size_t largest_fit(const sjob *j, size_t m, size_t d, size_t c, int mode)
{
    size_t lo = 0, hi = m;
    km_plan p;
    while (lo + 1 < hi) {
        size_t mid = lo + (hi - lo) / 2;
        stream_plan(j, mid, d, c, mode, &p);
        if (p.total <= j->ctx->mem_budget)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The plan for the centres asked for (the features and outputs guessed
 * from the schema), or the message with the largest number that fits. An
 * automatic mode whose Gram matrix does not fit is conjugate gradients. */
static int check_plan(sjob *j, size_t m)
{
    size_t d, c;
    guess_dims(j, &d, &c);
    int asked = j->o->nystrom_mode;
    j->fmode = asked;
    km_plan p;
    if (asked == KM_FALKON_AUTO) {
        stream_plan(j, m, d, c, KM_FALKON_GRAM, &p);
        if (p.total > j->ctx->mem_budget)
            j->fmode = KM_FALKON_CG;
    }
    int mode = j->fmode == KM_FALKON_AUTO ? KM_FALKON_GRAM : j->fmode;
    stream_plan(j, m, d, c, mode, &p);
    km_plan_log(j->ctx, &p, "Nystrom training");
    if (p.total <= j->ctx->mem_budget)
        return 0;
    size_t lo = largest_fit(j, m, d, c, mode);
    char items[512], need[32], have[32];
    km_plan_format(&p, items, sizeof items);
    km_format_size(p.total, need, sizeof need);
    km_format_size(j->ctx->mem_budget, have, sizeof have);
    if (!lo)
        return km_seterr(&j->ctx->err, KM_ENOMEM, "--mem %s is too small: %zu Nystrom centres "
                         "need %s (%s); not even one fits", have, m, need, items);
    return km_seterr(&j->ctx->err, KM_ENOMEM, "--mem %s is too small: %zu Nystrom centres need "
                     "%s (%s); at most %zu fit (--centers %zu)", have, m, need, items, lo, lo);
}

/* The sources of the search: training rows, and the validation rows of
 * the split or the file. */
typedef struct sources {
    km_rowsrc tr, va, all;
    km_kmxsrc *trs, *vas, *alls;
    km_catsrc cat;
    km_memsrc mem;      /* the training rows in RAM (ctx->bench_rows_in_ram) */
    float *X, *y;
    size_t n, cap;
} sources;

static void sources_free(sources *s)
{
    free(s->X);
    free(s->y);
    km_kmxsrc_free(s->trs);
    km_kmxsrc_free(s->vas);
    km_kmxsrc_free(s->alls);
}

static int take_rows(void *arg, const float *X, const float *y, size_t n)
{
    sources *s = arg;
    size_t d = s->tr.d;
    if (s->n + n > s->cap)
        return KM_ENOMEM;
    memcpy(s->X + s->n * d, X, n * d * sizeof *X);
    memcpy(s->y + s->n, y, n * sizeof *y);
    s->n += n;
    return 0;
}

/* The benchmark's reference: the training rows read into RAM once, and
 * the passes made over them there. */
static int rows_in_ram(sjob *j, sources *s)
{
    s->cap = j->ntr;
    s->X = malloc((s->cap ? s->cap : 1) * j->d * sizeof *s->X);
    s->y = malloc((s->cap ? s->cap : 1) * sizeof *s->y);
    if (!s->X || !s->y)
        return km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    int rc = s->tr.pass(s->tr.arg, take_rows, s);
    if (rc == KM_ENOMEM)
        rc = km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    if (!rc)
        km_memsrc_init(&s->tr, &s->mem, s->X, s->y, s->n, j->d, km_kmx_rows_per_chunk(j->data));
    return rc;
}

static int sources_open(sjob *j, sources *s)
{
    const km_features *f = &j->m->feat;
    int rc = km_kmxsrc_open(j->ctx, j->pool, j->data, f, j->cut ? KM_ROWS_TRAIN : KM_ROWS_ALL,
                            j->seed, j->cut, j->ntr, &s->tr, &s->trs);
    if (!rc && j->ctx->bench_rows_in_ram)
        rc = rows_in_ram(j, s);
    if (rc || !j->nv)
        return rc;
    if (j->o->val)
        rc = km_kmxsrc_open(j->ctx, j->pool, j->o->val, f, KM_ROWS_ALL, 0, 0, j->nv, &s->va,
                            &s->vas);
    else
        rc = km_kmxsrc_open(j->ctx, j->pool, j->data, f, KM_ROWS_VAL, j->seed, j->cut, j->nv,
                            &s->va, &s->vas);
    if (rc)
        return rc;
    if (j->o->val)
        km_catsrc_init(&s->all, &s->cat, &s->tr, &s->va);
    else
        rc = km_kmxsrc_open(j->ctx, j->pool, j->data, f, KM_ROWS_ALL, 0, 0, j->ntr + j->nv,
                            &s->all, &s->alls);
    return rc;
}

static void falkon_opts(const sjob *j, km_falkon_opts *fo)
{
    const km_train_opts *o = j->o;
    km_falkon_defaults(fo);
    fo->kernel = o->search.solve.kernel;
    fo->mode = j->fmode;
    fo->tol = o->search.solve.tol;
    fo->max_iter = o->nystrom_iters > 0 ? o->nystrom_iters : 20;
    fo->patience = o->nystrom_patience;
    fo->watch_tol = KM_TRAIN_STOP_GAIN;
}

/* The temperature of the search's choice (before any refit) on the
 * sampled validation rows. */
static int calibrate(sjob *j, const km_rfm_best *best)
{
    size_t nv = res_count(&j->V);
    if (!j->classify || !nv)
        return 0;
    km_model v = *j->m;
    v.kernel = j->o->search.solve.kernel;
    v.kernel.bandwidth = best->bandwidth;
    v.metric = best->metric, v.M = best->M;
    v.n = j->nc, v.d = (uint32_t)j->d, v.c = (uint32_t)j->c;
    v.centres = j->Cf, v.alpha = best->A;
    return km_model_calibrate(j->ctx, j->pool, &v, j->Vf, j->yV, nv, &j->m->cal);
}

/* The choice solved again on every labelled row. */
static int refit(sjob *j, sources *s, km_rfm_best *best)
{
    km_falkon_opts fo;
    falkon_opts(j, &fo);
    fo.kernel.bandwidth = best->bandwidth;
    double lambda = best->reg / (double)s->all.n;
    fo.regs = &lambda;
    fo.nregs = 1;
    float *S = NULL;
    int rc = 0;
    if (best->metric != KM_METRIC_NONE) {
        if (!(S = malloc(j->d * j->d * sizeof *S)))
            return km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
        if ((rc = km_metric_root(best->M, j->d, best->metric, S, &j->ctx->err)))
            goto out;
        fo.metric = best->metric, fo.S = S;
    }
    /* no figure to watch on the joined rows: the chosen ridge's own
     * iterations bound the refit */
    if (fo.patience > 0 && best->solve.iters > 0 && best->solve.iters < fo.max_iter)
        fo.max_iter = (int)best->solve.iters;
    snprintf(j->ctx->stage, sizeof j->ctx->stage, "refit");
    km_falkon_result fr;
    rc = km_falkon(j->ctx, j->pool, &fo, &s->all, j->classify, j->Cf, j->nc, j->d, j->c, best->A,
                   &fr);
    j->ctx->stage[0] = 0;
    if (!rc) {
        j->res->passes += fr.passes;
        best->solve.iters = fr.iters;
        best->solve.rel_residual = fr.rel_residual;
        best->solve.seconds += fr.seconds;
    }
out:
    free(S);
    return rc;
}

/* The model from the choice: centres, coefficients, summary. */
static int fill(sjob *j, km_rfm_best *best, int refitted)
{
    km_model *m = j->m;
    const km_search_opts *so = &j->o->search;
    km_train_result *res = j->res;
    m->kernel = so->solve.kernel;
    m->kernel.bandwidth = best->bandwidth;
    m->reg = best->reg;
    m->metric = best->metric;
    m->M = best->M, best->M = NULL;
    m->n = j->nc, m->d = (uint32_t)j->d, m->c = (uint32_t)j->c;
    m->centres = j->Cf, j->Cf = NULL;
    m->alpha = best->A, best->A = NULL;
    m->data_checksum = km_kmx_checksum(j->data);
    m->solver = strdup(j->fmode == KM_FALKON_GRAM ? "nystrom-gram" : "nystrom-cg");
    m->iters = best->solve.iters;
    m->residual = best->solve.rel_residual;
    m->nys_rows = refitted ? j->ntr + j->nv : j->ntr;
    m->nys_passes = (uint32_t)res->passes;
    res->solve = best->solve;
    res->val_metric = best->val_metric;
    res->best_iter = best->iter;
    res->solve_seconds = best->solve_seconds;
    res->agop_seconds = best->agop_seconds;
    res->steps = best->steps;
    res->centres = j->nc;
    size_t nb = res_count(&j->B);
    float *F = malloc((nb ? nb : 1) * j->c * sizeof *F);
    if (!m->solver || !F) {
        free(F);
        return km_seterr(&j->ctx->err, KM_ENOMEM, "out of memory");
    }
    int rc = km_model_scores(j->ctx, j->pool, m, j->Bf, nb, j->ctx->mem_budget / 8, F);
    if (!rc)
        m->train_metric = res->train_metric = km_train_metric(j->classify, F, j->yB, nb, j->c);
    free(F);
    if (j->nv) {
        m->sel = 1;
        m->rfm_iters = so->rfm ? (uint32_t)so->rfm_iters : 0;
        m->best_iter = (uint32_t)best->iter;
        m->rfm_diag = so->rfm && so->rfm_diag;
        m->center_grads = so->rfm && so->center_grads;
        m->agop_samples = so->rfm ? nb : 0;
        m->train_rows = j->ntr;
        m->val_rows = j->nv;
        m->val_metric = best->val_metric;
        m->refit = refitted;
    }
    return rc;
}

/* Search, calibrate, refit, and the model. */
static int solve_all(sjob *j)
{
    sources s;
    memset(&s, 0, sizeof s);
    km_rfm_best best;
    memset(&best, 0, sizeof best);
    int rc = sources_open(j, &s);
    if (rc)
        goto out;
    km_falkon_opts fo;
    falkon_opts(j, &fo);
    km_stream_data sd = {&s.tr, j->nv ? &s.va : NULL, j->Cf, j->nc, j->Bf, j->yB,
                         res_count(&j->B), j->o->metric, j->o->M};
    int passes = 0;
    rc = km_rfm_stream_search(j->ctx, j->pool, &j->o->search, &fo, &sd, j->classify, j->d, j->c,
                              &best, &passes);
    j->res->passes += passes;
    if (rc || (rc = calibrate(j, &best)))
        goto out;
    int refitted = j->nv && j->o->refit;
    if (refitted && (rc = refit(j, &s, &best)))
        goto out;
    rc = fill(j, &best, refitted);
    uint64_t unseen = s.vas ? km_kmxsrc_unseen(s.vas) : 0;
    if (unseen && j->o->val)
        km_warn(j->ctx, "%llu categorical values of the validation data unseen in training",
                (unsigned long long)unseen);
out:
    km_rfm_best_free(&best);
    sources_free(&s);
    return rc;
}

size_t km_train_auto_centres(uint64_t n)
{
    double m = 2 * sqrt((double)n);
    m = m < 1000 ? 1000 : m > 10000 ? 10000 : m;
    return (size_t)(m < (double)n ? m : (double)n);
}

static int stream_job(sjob *j)
{
    const km_train_opts *o = j->o;
    km_ctx *ctx = j->ctx;
    const km_schema *s = km_kmx_schema(j->data);
    int rc = km_features_label(ctx, s, o->feat.label, &j->lc);
    if (rc)
        return rc;
    j->N = km_kmx_rows(j->data);
    j->ncols = s->ncols;
    if (!j->N)
        return km_seterr(&ctx->err, KM_EDATA, "%s has no rows to train on", km_kmx_path(j->data));
    if (o->val && (rc = km_schema_same_columns(s, km_kmx_schema(o->val),
                                               o->val_name ? o->val_name : km_kmx_path(o->val),
                                               &ctx->err)))
        return rc;
    size_t m = o->centers ? o->centers : km_train_auto_centres(j->N);
    if (o->centers > j->N)
        return km_seterr(&ctx->err, KM_EINVAL, "--centers %zu is more than the %llu rows of %s",
                         o->centers, (unsigned long long)j->N, km_kmx_path(j->data));
    const km_search_opts *so = &o->search;
    int choosing = so->rfm || (so->bandwidths && so->nbandwidths > 1) ||
                   (so->regs && so->nregs > 1);
    double frac = o->val_frac >= 0 ? o->val_frac : choosing && !o->val ? 0.1 : 0;
    j->cut = o->val ? 0 : km_rowsrc_val_cut(frac);
    j->seed = so->solve.seed;
    size_t nb = so->rfm ? (so->agop_samples ? so->agop_samples : 20000) : 20000;
    if (!(j->head = malloc(HEAD_ROWS * j->ncols * sizeof *j->head)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    if ((rc = res_init(ctx, &j->C, m, j->ncols, j->seed)) ||
        (rc = res_init(ctx, &j->B, nb, j->ncols, j->seed ^ 0xa909u)) ||
        (rc = res_init(ctx, &j->V, (j->cut || o->val) ? CALIB_ROWS : 0, j->ncols,
                       j->seed ^ 0xca1bu)) ||
        (rc = check_plan(j, m)))
        return rc;
    if ((rc = survey(j, j->data, 0)) || (o->val && (rc = survey(j, o->val, 1))))
        return rc;
    j->res->rows = j->N;
    j->res->dropped = j->unlabelled;
    if (j->unlabelled)
        km_warn(ctx, "%llu of %llu rows dropped: their label '%s' is missing",
                (unsigned long long)j->unlabelled, (unsigned long long)j->N,
                s->cols[j->lc].name);
    if (o->centers && o->centers > j->ntr)
        return km_seterr(&ctx->err, KM_EDATA, "--centers %zu is more than the %llu labelled "
                         "training rows of %s", o->centers, (unsigned long long)j->ntr,
                         km_kmx_path(j->data));
    if (j->cut && !j->nv)
        return km_seterr(&ctx->err, KM_EDATA, "no row of %s fell in the validation share %g",
                         km_kmx_path(j->data), frac);
    j->res->train_rows = j->ntr;
    j->res->val_rows = j->nv;
    if ((rc = fit(j)))
        return rc;
    choose_mode(j);
    return solve_all(j);
}

int km_train_streams(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o)
{
    int solver = o->search.solve.solver;
    if (solver != KM_SOLVER_AUTO || o->cv)
        return solver == KM_SOLVER_NYSTROM;
    uint64_t N = km_kmx_rows(data);
    if (N > KM_EXACT_AUTO_MAX)
        return 1;
    if (km_train_auto_centres(N) >= N)
        return 0; /* as many centres as rows: the exact model is no larger */
    sjob j;
    memset(&j, 0, sizeof j);
    j.data = data, j.o = o;
    km_err saved = ctx->err;
    if (km_features_label(ctx, km_kmx_schema(data), o->feat.label, &j.lc)) {
        ctx->err = saved; /* the exact path words the error */
        return 0;
    }
    size_t d, c, ncols = km_kmx_schema(data)->ncols;
    guess_dims(&j, &d, &c);
    km_plan held; /* the exact path's rows, as read and as features */
    km_plan_init(&held);
    km_plan_add(&held, "rows as read", N * ncols * 4);
    km_plan_add(&held, "features and labels", N * (d + 1) * 4);
    km_krr_plan_args(&held, (size_t)N, d, c);
    km_krr_plan kp;
    int rc = km_krr_plan_make(ctx, &held, (size_t)N, d, c, km_pool_workers(pool) + 1,
                              &o->search.solve, &kp);
    ctx->err = saved;
    if (!rc)
        return 0;
    km_info(ctx, "the %llu rows of %s do not fit an exact solve in --mem: training on Nystrom "
            "centres", (unsigned long long)N, km_kmx_path(data));
    return 1;
}

int km_train_stream(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o,
                    km_model *m, km_train_result *res)
{
    memset(m, 0, sizeof *m);
    memset(res, 0, sizeof *res);
    res->val_metric = NAN;
    double t0 = km_now();
    sjob j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx, j.pool = pool, j.data = data, j.o = o, j.m = m, j.res = res;
    j.nonint = NAN;
    int rc = o->cv ? km_seterr(&ctx->err, KM_EINVAL, "--cv needs the rows in RAM: not with the "
                               "Nystrom solver (use --val-frac)")
                   : stream_job(&j);
    free(j.C.rows), free(j.B.rows), free(j.V.rows), free(j.head);
    free(j.Cf), free(j.yC), free(j.Bf), free(j.yB), free(j.Vf), free(j.yV);
    if (rc)
        km_model_free(m);
    else
        res->seconds = km_now() - t0;
    return rc;
}
