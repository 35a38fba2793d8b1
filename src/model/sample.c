/* sample.c - a uniform sample of a dataset's rows through the chunk index
 * (kmill/sample.h). */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/log.h"
#include "kmill/rowsrc.h"
#include "kmill/sample.h"

void km_sample_defaults(km_sample_opts *o)
{
    memset(o, 0, sizeof *o);
    o->feat.scale = KM_SCALE_STANDARD;
    o->feat.task = KM_TASK_AUTO;
}

void km_sample_free(km_sample *s)
{
    km_features_free(&s->feat);
    free(s->X);
    free(s->y);
    free(s->Xv);
    free(s->yv);
    memset(s, 0, sizeof *s);
}

/* The drawn rows as stored, in row order. */
typedef struct draw {
    uint64_t *rows;   /* row numbers, ascending */
    uint64_t n, at;   /* drawn; the next one to copy */
    float *raw;       /* n x ncols */
    uint32_t ncols;
} draw;

static int copy_drawn(void *arg, const float *rows, uint32_t nr, uint64_t first)
{
    draw *w = arg;
    while (w->at < w->n && w->rows[w->at] < first + nr) {
        memcpy(w->raw + w->at * w->ncols, rows + (w->rows[w->at] - first) * w->ncols,
               (size_t)w->ncols * sizeof *rows);
        w->at++;
    }
    return 0;
}

/* The chunk holding row r (the index is in row order). */
static uint64_t chunk_of(const km_kmx *d, uint64_t r)
{
    uint64_t lo = 0, hi = km_kmx_nchunks(d);
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (km_kmx_chunk_info(d, mid)->first_row <= r)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* Draw n rows of d (all when n is 0 or at least its rows) and read the
 * chunks that hold them. */
static int draw_rows(km_ctx *ctx, km_pool *pool, km_kmx *d, uint64_t n, uint64_t seed, draw *w)
{
    uint64_t R = km_kmx_rows(d);
    memset(w, 0, sizeof *w);
    w->n = n && n < R ? n : R;
    w->ncols = km_kmx_schema(d)->ncols;
    w->rows = malloc(w->n * sizeof *w->rows + 1);
    w->raw = malloc(w->n * w->ncols * sizeof *w->raw + 1);
    uint64_t *list = malloc(w->n * sizeof *list + 1), nl = 0;
    int rc = 0;
    if (!w->rows || !w->raw || !list)
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a sample of %llu rows",
                       (unsigned long long)w->n);
    else if (w->n == R)
        for (uint64_t i = 0; i < R; i++)
            w->rows[i] = i;
    else
        rc = km_kmx_sample(d, w->n, seed, w->rows);
    for (uint64_t i = 0; !rc && i < w->n; i++) {
        uint64_t k = chunk_of(d, w->rows[i]);
        if (!nl || list[nl - 1] != k)
            list[nl++] = k;
    }
    if (!rc && w->n)
        rc = km_kmx_each_of(d, pool, list, nl, copy_drawn, w);
    free(list);
    return rc;
}

static void draw_free(draw *w)
{
    free(w->rows);
    free(w->raw);
}

/* The drawn rows as features and targets, the unlabelled ones dropped
 * (their count added to *dropped); row numbers kept beside them. */
static int to_features(km_ctx *ctx, const km_features *f, km_kmx *d, draw *w, float **X,
                       float **y, size_t *n, uint64_t *dropped, uint64_t *unseen)
{
    km_featbind b = {0};
    size_t fd = f->d;
    int rc = km_features_bind(ctx, f, km_kmx_schema(d), 1, &b);
    *X = malloc(w->n * fd * sizeof **X + 1);
    *y = malloc(w->n * sizeof **y + 1);
    if (!rc && (!*X || !*y))
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a sample of %llu rows",
                       (unsigned long long)w->n);
    if (!rc) {
        km_features_apply(f, &b, w->raw, w->ncols, w->n, *X, *y, unseen);
        size_t k = 0;
        for (size_t i = 0; i < w->n; i++) {
            if (isnan((*y)[i]))
                continue;
            memmove(*X + k * fd, *X + i * fd, fd * sizeof **X);
            (*y)[k] = (*y)[i];
            w->rows[k++] = w->rows[i];
        }
        *dropped += w->n - k;
        *n = k;
    }
    km_featbind_free(&b);
    return rc;
}

/* Move the rows the hash holds out to Xv, yv. */
static int split(km_ctx *ctx, km_sample *s, const uint64_t *rows, uint64_t seed, double frac)
{
    uint64_t cut = km_rowsrc_val_cut(frac);
    size_t d = s->d, nt = 0, nv = 0;
    s->Xv = malloc(s->n * d * sizeof *s->Xv + 1);
    s->yv = malloc(s->n * sizeof *s->yv + 1);
    if (!s->Xv || !s->yv)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the validation rows");
    for (size_t i = 0; i < s->n; i++) {
        int v = km_rowsrc_is_val(seed, cut, rows[i]);
        float *X = v ? s->Xv : s->X, *y = v ? s->yv : s->y;
        size_t *k = v ? &nv : &nt;
        memmove(X + *k * d, s->X + i * d, d * sizeof *X);
        y[*k] = s->y[i];
        (*k)++;
    }
    s->n = nt;
    s->nv = nv;
    return 0;
}

/* Fit the features on the schema and the drawn labels. */
static int fit(km_ctx *ctx, km_kmx *data, const km_sample_opts *o, const draw *w, km_sample *s)
{
    uint32_t lc;
    int rc = km_features_label(ctx, km_kmx_schema(data), o->feat.label, &lc);
    if (rc)
        return rc;
    float *lab = malloc(w->n * sizeof *lab + 1);
    if (!lab)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < w->n; i++)
        lab[i] = w->raw[i * w->ncols + lc];
    rc = km_features_fit(ctx, km_kmx_schema(data), lc, lab, w->n, &o->feat, &s->feat);
    free(lab);
    if (rc)
        return rc;
    if (!s->feat.d)
        return km_seterr(&ctx->err, KM_EDATA, "%s has no feature columns besides the label '%s'",
                         km_kmx_path(data), s->feat.label);
    s->d = s->feat.d;
    s->classify = s->feat.task == KM_TASK_CLASSIFY;
    s->c = s->classify ? s->feat.nclasses : 1;
    return 0;
}

int km_sample_load(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_sample_opts *o,
                   km_sample *s)
{
    memset(s, 0, sizeof *s);
    uint64_t R = km_kmx_rows(data);
    if (o->rows > R)
        km_info(ctx, "%s has %llu rows, fewer than the %llu asked for: using all of them",
                km_kmx_path(data), (unsigned long long)R, (unsigned long long)o->rows);
    draw w, wv = {0};
    int rc = draw_rows(ctx, pool, data, o->rows, o->seed, &w);
    s->drawn = w.n;
    s->all = w.n == R;
    if (!rc)
        rc = fit(ctx, data, o, &w, s);
    if (!rc)
        rc = to_features(ctx, &s->feat, data, &w, &s->X, &s->y, &s->n, &s->unlabelled, &s->unseen);
    if (!rc && !s->n)
        rc = km_seterr(&ctx->err, KM_EDATA, "no sampled row of %s has the label '%s'",
                       km_kmx_path(data), s->feat.label);
    if (!rc && o->val) {
        uint64_t ignored = 0;
        rc = km_schema_same_columns(km_kmx_schema(data), km_kmx_schema(o->val),
                                    o->val_name ? o->val_name : km_kmx_path(o->val), &ctx->err);
        if (!rc)
            rc = draw_rows(ctx, pool, o->val, o->val_rows, o->seed ^ 0x5eed5eedu, &wv);
        if (!rc)
            rc = to_features(ctx, &s->feat, o->val, &wv, &s->Xv, &s->yv, &s->nv, &ignored,
                             &s->unseen);
    } else if (!rc && o->val_frac > 0)
        rc = split(ctx, s, w.rows, o->seed, o->val_frac);
    draw_free(&w);
    draw_free(&wv);
    if (rc)
        km_sample_free(s);
    return rc;
}

uint64_t km_sample_estimate(const km_kmx *data, uint64_t rows, size_t d, int tasks)
{
    uint64_t R = km_kmx_rows(data), n = rows && rows < R ? rows : R;
    uint64_t ncols = km_kmx_schema(data)->ncols;
    /* the rows as read, their numbers and chunk list, then features,
     * targets and the validation copy while the rows are still held */
    return n * (ncols * 4 + 16) + 2 * n * (d + 1) * 4 + km_kmx_scan_estimate(data, tasks);
}
