/* rowsrc.c - a dataset's labelled rows, one subset of them, as a source of
 * streamed passes (kmill/rowsrc.h). */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/rng.h"
#include "kmill/rowsrc.h"

struct km_kmxsrc {
    km_ctx *ctx;
    km_pool *pool;
    km_kmx *data;
    const km_features *f;
    km_featbind b;
    int subset;
    uint64_t seed, cut;
    float *X, *y;        /* a chunk's features and targets */
    size_t cap;          /* rows they hold */
    uint64_t unseen;
    km_rowsrc *src;
};

uint64_t km_rowsrc_val_cut(double frac)
{
    if (!(frac > 0))
        return 0;
    if (frac >= 1)
        return UINT64_MAX;
    return (uint64_t)ldexp(frac, 64);
}

int km_rowsrc_is_val(uint64_t seed, uint64_t cut, uint64_t r)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull ^ r;
    return km_splitmix64(&x) < cut;
}

/* Keep the rows of the subset that have a label, in order; their count. */
static size_t keep_rows(const km_kmxsrc *s, float *X, float *y, size_t n, size_t d,
                        uint64_t first)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(y[i]))
            continue;
        if (s->subset != KM_ROWS_ALL &&
            km_rowsrc_is_val(s->seed, s->cut, first + i) != (s->subset == KM_ROWS_VAL))
            continue;
        if (w != i) {
            memcpy(X + w * d, X + i * d, d * sizeof *X);
            y[w] = y[i];
        }
        w++;
    }
    return w;
}

/* A pass's state: the source, its consumer, the rows delivered. */
typedef struct passing {
    km_kmxsrc *s;
    km_block_fn fn;
    void *fnarg;
    uint64_t total;
} passing;

static int chunk_rows(void *arg, const float *rows, uint32_t nr, uint64_t first)
{
    passing *p = arg;
    km_kmxsrc *s = p->s;
    size_t d = s->f->d;
    if (nr > s->cap) { /* the chunk size is the file's: one allocation */
        free(s->X);
        free(s->y);
        s->X = malloc((size_t)nr * d * sizeof *s->X);
        s->y = malloc((size_t)nr * sizeof *s->y);
        s->cap = nr;
        if (!s->X || !s->y) {
            s->cap = 0;
            return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
        }
    }
    km_features_apply(s->f, &s->b, rows, km_kmx_schema(s->data)->ncols, nr, s->X, s->y,
                      &s->unseen);
    size_t k = keep_rows(s, s->X, s->y, nr, d, first);
    p->total += k;
    return k ? p->fn(p->fnarg, s->X, s->y, k) : 0;
}

static int kmx_pass(void *arg, km_block_fn fn, void *fnarg)
{
    passing p = {arg, fn, fnarg, 0};
    int rc = km_kmx_each(p.s->data, p.s->pool, chunk_rows, &p);
    if (!rc && !p.s->src->n)
        p.s->src->n = p.total;
    return rc;
}

int km_kmxsrc_open(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_features *f, int subset,
                   uint64_t seed, uint64_t cut, uint64_t n, km_rowsrc *src, km_kmxsrc **out)
{
    km_kmxsrc *s = calloc(1, sizeof *s);
    if (!s)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    s->ctx = ctx, s->pool = pool, s->data = data, s->f = f;
    s->subset = subset, s->seed = seed, s->cut = cut, s->src = src;
    int rc = km_features_bind(ctx, f, km_kmx_schema(data), 1, &s->b);
    if (rc) {
        free(s);
        return rc;
    }
    km_kmx_hold(data); /* each pass finds the last one's buffers */
    src->pass = kmx_pass;
    src->arg = s;
    src->n = n;
    src->d = f->d;
    *out = s;
    return 0;
}

void km_kmxsrc_free(km_kmxsrc *s)
{
    if (!s)
        return;
    km_kmx_release(s->data);
    km_featbind_free(&s->b);
    free(s->X);
    free(s->y);
    free(s);
}

uint64_t km_kmxsrc_unseen(const km_kmxsrc *s)
{
    return s->unseen;
}

uint64_t km_kmxsrc_estimate(const km_kmx *data, size_t d, int tasks)
{
    return km_kmx_scan_estimate(data, tasks) + (uint64_t)km_kmx_rows_per_chunk(data) * (d + 1) * 4;
}

static int cat_pass(void *arg, km_block_fn fn, void *fnarg)
{
    km_catsrc *cs = arg;
    int rc = cs->a->pass(cs->a->arg, fn, fnarg);
    return rc ? rc : cs->b->pass(cs->b->arg, fn, fnarg);
}

void km_catsrc_init(km_rowsrc *src, km_catsrc *cs, const km_rowsrc *a, const km_rowsrc *b)
{
    cs->a = a, cs->b = b;
    src->pass = cat_pass;
    src->arg = cs;
    src->n = a->n + b->n;
    src->d = a->d;
}
