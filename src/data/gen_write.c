/* gen_write.c - writing a synthetic dataset (kmill/gen.h): CSV to a stream
 * or to a file written atomically (kmill/outfile.h), or a .kmx dataset.
 *
 * Rows are made in blocks by the pool's threads; block b of a batch holds
 * rows that only its own (seed, row) streams decide, so the output is the
 * same for any thread count. CSV: two batches of blocks alternate, one
 * formatted by the pool while the caller writes the other, in row order.
 * .kmx: each chunk's buffer is filled by the pool, then handed to the
 * writer, which compresses it in the pool too. Memory: the batches (or
 * the writer's chunk slots), whatever the row count. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen_impl.h"
#include "kmill/kmx.h"
#include "kmill/numparse.h"
#include "kmill/outfile.h"
#include "kmill/progress.h"
#include "kmill/schema.h"

/* values a block holds: its floats (256 KiB) and, for CSV, at most 16
 * bytes of text each */
#define BLOCK_VALUES 65536
/* the longest field km_format_f32 writes, plus its separator */
#define FIELD_MAX 16

struct blk {
    uint64_t first;
    uint32_t n;
    float *vals;
    char *text;
    size_t len;
};

struct batch {
    const km_gen *g;
    struct blk *b;
    uint32_t nb;
    int csv, pending;
    km_job *job;
};

/* Where CSV goes: a stream, or an output file. */
struct sink {
    km_ctx *ctx;
    FILE *f;
    km_outfile of;
    int is_file;
    uint64_t bytes;
};

static uint32_t block_rows(const km_gen *g)
{
    uint32_t w = km_gen_ncols(g);
    return w >= BLOCK_VALUES ? 1 : BLOCK_VALUES / w;
}

static size_t format_rows(const float *v, uint32_t n, uint32_t w, char *out)
{
    char *p = out;
    for (uint32_t r = 0; r < n; r++, v += w)
        for (uint32_t j = 0; j < w; j++) {
            p += km_format_f32(v[j], p);
            *p++ = j + 1 < w ? ',' : '\n';
        }
    return (size_t)(p - out);
}

static void blk_task(void *arg, size_t i, int worker)
{
    (void)worker;
    struct batch *bt = arg;
    struct blk *b = &bt->b[i];
    km_gen_rows(bt->g, b->first, b->n, b->vals);
    if (bt->csv)
        b->len = format_rows(b->vals, b->n, km_gen_ncols(bt->g), b->text);
}

static int sink_write(struct sink *k, const void *p, size_t n)
{
    k->bytes += n;
    if (k->is_file)
        return km_outfile_write(&k->of, p, n);
    if (fwrite(p, 1, n, k->f) == n)
        return 0;
    if (errno == EPIPE)
        return KM_EPIPE;
    return km_seterr(&k->ctx->err, km_errno_code(errno), "error writing output: %s", strerror(errno));
}

static int put_header(struct sink *k, uint32_t d)
{
    char buf[32];
    int rc = 0;
    for (uint32_t j = 0; j < d && !rc; j++) {
        int n = snprintf(buf, sizeof buf, "x%u,", j);
        rc = sink_write(k, buf, (size_t)n);
    }
    return rc ? rc : sink_write(k, "label\n", 6);
}

/* Blocks for the next rows (from *next, at most rows in all) into bt, and
 * their job started. */
static void schedule(struct batch *bt, km_pool *pool, uint64_t *next, uint64_t rows, uint32_t R)
{
    uint32_t nb = 0;
    while (nb < bt->nb && *next < rows) {
        struct blk *b = &bt->b[nb++];
        b->first = *next;
        b->n = rows - *next < R ? (uint32_t)(rows - *next) : R;
        *next += b->n;
    }
    bt->pending = nb > 0;
    bt->job = nb ? km_pool_submit(pool, nb, blk_task, bt) : NULL;
    if (nb && !bt->job) /* no memory for the job: make the rows here */
        for (uint32_t i = 0; i < nb; i++)
            blk_task(bt, i, 0);
    bt->nb = nb;
}

static int alloc_batches(struct batch bt[2], const km_gen *g, uint32_t nb, uint32_t R)
{
    size_t vals = (size_t)R * km_gen_ncols(g);
    for (int h = 0; h < 2; h++) {
        bt[h] = (struct batch){g, calloc(nb, sizeof *bt[h].b), nb, 1, 0, NULL};
        for (uint32_t i = 0; bt[h].b && i < nb; i++) {
            bt[h].b[i].vals = malloc(vals * sizeof(float));
            bt[h].b[i].text = malloc(vals * FIELD_MAX + KM_F32_BUFSZ);
            if (!bt[h].b[i].vals || !bt[h].b[i].text)
                return -1;
        }
        if (!bt[h].b)
            return -1;
    }
    return 0;
}

static void free_batches(struct batch bt[2], uint32_t nb)
{
    for (int h = 0; h < 2; h++) {
        for (uint32_t i = 0; bt[h].b && i < nb; i++) {
            free(bt[h].b[i].vals);
            free(bt[h].b[i].text);
        }
        free(bt[h].b);
    }
}

static int run_csv(km_ctx *ctx, const km_gen *g, const km_gen_opts *o, struct sink *k,
                   km_progress *pr)
{
    uint32_t R = block_rows(g), nb = 2 * (uint32_t)(km_pool_workers(o->pool) + 1);
    struct batch bt[2];
    memset(bt, 0, sizeof bt);
    int rc = put_header(k, g->d);
    if (!rc && alloc_batches(bt, g, nb, R))
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for blocks of rows");
    uint64_t next = 0, done = 0;
    int cur = 0;
    if (!rc)
        schedule(&bt[cur], o->pool, &next, o->rows, R);
    while (!rc && bt[cur].pending) {
        km_pool_wait(o->pool, bt[cur].job);
        bt[cur].job = NULL;
        bt[cur].pending = 0;
        bt[1 - cur].nb = nb;
        schedule(&bt[1 - cur], o->pool, &next, o->rows, R);
        for (uint32_t i = 0; i < bt[cur].nb && !rc; i++) {
            rc = sink_write(k, bt[cur].b[i].text, bt[cur].b[i].len);
            done += bt[cur].b[i].n;
        }
        km_progress_update(pr, done);
        if (!rc && km_check_interrupt(ctx))
            rc = KM_EINTR;
        cur = 1 - cur;
    }
    for (int h = 0; h < 2; h++)
        if (bt[h].job)
            km_pool_wait(o->pool, bt[h].job);
    free_batches(bt, nb);
    return rc;
}

/* The dataset's columns: x0..x{d-1}, label, all numeric. */
static int make_schema(km_ctx *ctx, uint32_t d, km_schema *s)
{
    s->ncols = d + 1;
    s->cols = calloc(d + 1, sizeof *s->cols);
    for (uint32_t j = 0; s->cols && j <= d; j++) {
        char nm[32] = "label";
        if (j < d)
            snprintf(nm, sizeof nm, "x%u", j);
        if (!(s->cols[j].name = strdup(nm)))
            break;
        s->cols[j].type = KM_COL_NUMERIC;
        km_colstats_init(&s->cols[j].stats);
    }
    if (!s->cols || !s->cols[d].name)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

/* Fill and hand over the chunks, then finish the file. */
static int fill_chunks(km_ctx *ctx, const km_gen *g, const km_gen_opts *o, km_kmx_writer *w,
                       km_progress *pr)
{
    uint32_t R = block_rows(g), rpc = km_kmx_chunk_rows(w), maxb = (rpc + R - 1) / R;
    size_t width = km_gen_ncols(g);
    struct batch bt = {g, calloc(maxb, sizeof *bt.b), 0, 0, 0, NULL};
    if (!bt.b)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    int rc = 0;
    for (uint64_t first = 0; first < o->rows && !rc;) {
        uint32_t cnt = o->rows - first < rpc ? (uint32_t)(o->rows - first) : rpc;
        float *buf = km_kmx_buffer(w);
        bt.nb = 0;
        for (uint32_t r = 0; r < cnt; r += R) {
            struct blk *b = &bt.b[bt.nb++];
            b->first = first + r;
            b->n = cnt - r < R ? cnt - r : R;
            b->vals = buf + (size_t)r * width;
        }
        km_pool_run(o->pool, bt.nb, blk_task, &bt);
        rc = km_kmx_put(w, cnt);
        first += cnt;
        km_progress_update(pr, first);
        if (!rc && km_check_interrupt(ctx))
            rc = KM_EINTR;
    }
    free(bt.b);
    return rc;
}

static int run_kmx(km_ctx *ctx, const km_gen *g, const km_gen_opts *o, km_progress *pr,
                   uint64_t *bytes)
{
    km_kmx_wopts wo = {o->level, KMX_SHUFFLE_AUTO, o->chunk_rows, o->pool};
    km_kmx_writer *w;
    km_schema schema = {0};
    int rc = km_kmx_create(ctx, o->output, g->d + 1, &wo, &w);
    if (rc)
        return rc;
    char name[96];
    snprintf(name, sizeof name, "kmill gen %s --seed %llu", km_gen_preset_name(g->preset),
             (unsigned long long)g->seed);
    km_kmx_source src = {name, 0, 0, 0};
    if (!(rc = fill_chunks(ctx, g, o, w, pr)) && !(rc = make_schema(ctx, g->d, &schema)))
        rc = km_kmx_finish(w, &schema, &src);
    *bytes = km_kmx_written(w);
    km_kmx_abort(w);
    km_schema_free(&schema);
    return rc;
}

static int write_rows(km_ctx *ctx, const km_gen *g, const km_gen_opts *o, km_progress *pr,
                      uint64_t *bytes)
{
    if (km_gen_is_kmx(o->output))
        return run_kmx(ctx, g, o, pr, bytes);
    struct sink k = {ctx, o->stream ? o->stream : stdout, {0}, 0, 0};
    k.is_file = o->output && strcmp(o->output, "-") != 0;
    int rc = k.is_file ? km_outfile_open(ctx, &k.of, o->output) : 0;
    if (rc)
        return rc;
    rc = run_csv(ctx, g, o, &k, pr);
    if (!rc && k.is_file)
        rc = km_outfile_commit(&k.of);
    else if (!rc && fflush(k.f) != 0)
        rc = errno == EPIPE ? KM_EPIPE
                            : km_seterr(&ctx->err, km_errno_code(errno), "error writing output: %s",
                                        strerror(errno));
    if (k.is_file)
        km_outfile_abort(&k.of);
    *bytes = k.bytes;
    return rc;
}

int km_gen_run(km_ctx *ctx, km_gen_opts *o, km_gen_result *r)
{
    memset(r, 0, sizeof *r);
    int rc = km_gen_check(o, &ctx->err);
    km_gen *g = NULL;
    if (rc || (rc = km_gen_new(ctx, o, &g)))
        return rc;
    km_progress pr;
    km_progress_start(&pr, ctx, "generating", o->rows, "rows");
    rc = write_rows(ctx, g, o, &pr, &r->bytes);
    km_progress_end(&pr);
    /* the truth last, so that it exists only beside complete data */
    if (!rc && o->truth)
        rc = km_gen_write_truth(ctx, g, o->truth);
    if (!rc) {
        r->rows = o->rows;
        r->ncols = km_gen_ncols(g);
        r->task = g->task;
    }
    km_gen_free(g);
    return rc;
}
