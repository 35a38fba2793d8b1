/* convert.c - CSV to .kmx (see include/kmill/convert.h): stage 3, the
 * merge into the writer's chunks, and the pipeline that runs all three
 * stages (convert_impl.h lists them and their files).
 *
 * The caller's thread reads the input in text blocks of about 2 MiB cut
 * at record ends (stage 1, convert_read.c). Pool jobs parse the blocks in
 * parallel into float rows, keeping text values aside with block-local
 * dictionaries (stage 2, convert_parse.c and convert_fast.c). The
 * caller's thread then merges the blocks in input order (here): it maps
 * local category codes to the global dictionaries (so codes are numbered
 * by first appearance, whatever the thread count), moves the rows into the
 * writer's chunk buffers, and the writer compresses full chunks on the
 * pool. Memory is bounded by the blocks and chunks in flight, the longest
 * record and the dictionaries (bounded by --max-levels).
 *
 * Type inference: a cell that reads as a number is stored as a number; a
 * column holding any other non-NA text becomes categorical, and the numbers
 * seen in it become categories of their shortest text: at once for the
 * chunk in memory, and for chunks already written by a second pass over the
 * output at the end (rewrite_late), so one pass from a pipe suffices. At
 * the end of the input, from counts of the whole column (decide_columns),
 * a categorical column that is numbers but for at most 1 in
 * KM_STRAY_SHARE values is numeric with bad values instead (an error, or
 * demoted: its codes read back as numbers, text as missing, in the same
 * second pass), and a numeric column quoted throughout in a selectively
 * quoted file is categorical (quoted_columns).
 *
 * What this stage promises: the output depends only on the input and the
 * options (rows per chunk, level, shuffle), never on the thread count or
 * the block boundaries; errors are reported in input order, the first
 * one's message set in ctx. What it needs: blocks parsed by stage 2, each
 * merged exactly once, in order. */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/convert.h"
#include "kmill/csv.h"
#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/log.h"
#include "kmill/numparse.h"
#include "kmill/plan.h"
#include "kmill/progress.h"
#include "kmill/schema.h"
#include "kmill/strtab.h"
#include "data/convert_impl.h"

/* ---- stage 3: merge blocks in order ------------------------------------ */

/* Whether column j, categorical so far, is rather numeric with stray text
 * values (see KM_STRAY_SHARE): mostly numbers, and not forced. */
static int stray_like(const struct conv *c, uint32_t j)
{
    const struct colstate *s = &c->cs[j];
    return !c->forced[j] && s->nnum > 0 && s->ntext > 0 &&
           s->ntext * KM_STRAY_SHARE <= s->nnum + s->ntext;
}

/* --bad-values error: the first stray value of column j, where it is. */
static int stray_error(struct conv *c, uint32_t j)
{
    const struct colstate *s = &c->cs[j];
    const char *name = c->schema.cols[j].name;
    return km_seterr(&c->ctx->err, KM_EPARSE,
                     "%s:%llu:%u: column '%s' holds numbers and text such as \"%.*s\" (%llu of "
                     "%llu values); --bad-values missing reads the text as missing, --na-values "
                     "names missing-value tokens, --categorical '%s' keeps it as categories",
                     c->name, (unsigned long long)s->first_line, s->first_field, name,
                     (int)s->first_len, s->first, (unsigned long long)s->ntext,
                     (unsigned long long)(s->nnum + s->ntext), name);
}

/* A column with more distinct values than its limit (lim); line 0 when
 * the second pass (rewrite_late) found it, which knows no lines. */
static int too_many_levels(struct conv *c, uint32_t j, uint64_t line, uint32_t field)
{
    uint32_t lim = c->cs[j].max_levels ? c->cs[j].max_levels : c->max_levels;
    const char *name = c->schema.cols[j].name;
    if (line == 0)
        return km_seterr(&c->ctx->err, KM_ELIMIT,
                         "%s: column '%s' has more than %u distinct values; if it is an "
                         "identifier, --drop it; otherwise raise --max-levels", c->name, name, lim);
    return km_seterr(&c->ctx->err, KM_ELIMIT,
                     "%s:%llu:%u: column '%s' has more than %u distinct values; if it is an "
                     "identifier, --drop it; otherwise raise --max-levels",
                     c->name, (unsigned long long)line, field, name, lim);
}

/* Column j is numeric with bad values from global row `row` on: rows from
 * late_row (or 0) below it hold codes, read back as numbers (cs.back) by
 * the second pass over the output (rewrite_late). */
static void demote(struct conv *c, uint32_t j, uint64_t row)
{
    c->cs[j].demoted = 1;
    c->cs[j].demote_row = row;
    c->schema.cols[j].type = KM_COL_NUMERIC;
    c->any_late = 1;
}

/* Remember that the new code k of column j stands for the number num
 * (NaN: text), for a column demoted later (a forced one never is). */
static int note_back(struct conv *c, uint32_t j, uint32_t k, float num)
{
    struct colstate *s = &c->cs[j];
    uint32_t n = k + 1; /* codes are given in order */
    if (c->forced[j])
        return 0;
    if ((n & (n - 1)) == 0) { /* grow at powers of two */
        float *nb = realloc(s->back, (size_t)n * 2 * sizeof *nb);
        if (!nb)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        s->back = nb;
    }
    s->back[k] = num;
    return 0;
}

/* Code of the string in column j's dictionary, adding it if new; num is
 * the number it was (NaN for text). When the column has no room for it
 * (its limit of levels): a forced column's error; else 1, with the
 * column demoted at global row `row` (line:field) for the end of the
 * input to decide (decide_columns: mostly numbers, or an error naming
 * this place), so that the outcome depends only on the input, never on
 * where blocks end; the caller stops turning its values into codes. */
static int dict_code(struct conv *c, uint32_t j, const char *s, size_t len, float num,
                     float *code, uint64_t line, uint32_t field, uint64_t row)
{
    uint32_t k, lim = c->cs[j].max_levels ? c->cs[j].max_levels : c->max_levels;
    uint32_t had = c->dicts[j].n;
    int rc = km_strtab_intern(&c->dicts[j], s, (uint32_t)len, lim, &k);
    if (rc < 0)
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    if (rc > 0 && (c->forced[j] || line == 0))
        return too_many_levels(c, j, line, field);
    if (rc > 0) {
        demote(c, j, row);
        c->cs[j].overflowed = 1;
        c->cs[j].over_line = line;
        c->cs[j].over_field = field;
        return 1;
    }
    *code = (float)k;
    return c->dicts[j].n > had ? note_back(c, j, k, num) : 0;
}

/* The dictionaries become the schema's levels. */
static int dicts_to_schema(struct conv *c)
{
    for (uint32_t j = 0; j < c->schema.ncols; j++) {
        km_column *col = &c->schema.cols[j];
        const km_strtab *t = &c->dicts[j];
        if (!t->n || c->cs[j].demoted)
            continue;
        col->levels = calloc(t->n, sizeof *col->levels);
        col->level_len = malloc(t->n * sizeof *col->level_len);
        if (!col->levels || !col->level_len)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < t->n; k++) {
            if (!(col->levels[k] = km_memdup(t->arena + t->off[k], t->len[k])))
                return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
            col->level_len[k] = t->len[k];
            col->nlevels = k + 1;
        }
    }
    return 0;
}

static int put_chunk(struct conv *c)
{
    int rc = km_kmx_put(c->w, c->chunk_row);
    if (rc)
        return rc;
    c->flushed_rows += c->chunk_row;
    c->chunk = km_kmx_buffer(c->w);
    c->chunk_row = 0;
    return km_check_interrupt(c->ctx) ? KM_EINTR : 0;
}

/* The number v in column j as a category: the code of its shortest text
 * (at global row `row`; dict_code says what 1 means). */
static int number_code(struct conv *c, uint32_t j, float *v, uint64_t line, uint32_t field,
                       uint64_t row)
{
    char txt[KM_F32_BUFSZ];
    int n = km_format_f32(*v, txt);
    char *point = c->decimal == ',' ? memchr(txt, '.', (size_t)n) : NULL;
    if (point) /* as the file writes it: "1.5" there is text, not this */
        *point = ',';
    return dict_code(c, j, txt, (size_t)n, *v, v, line, field, row);
}

/* The block's counts (numbers, text cells) into the columns', and each
 * column's first text value, for the messages. */
static void note_cells(struct conv *c, const struct block *b)
{
    for (uint32_t j = 0; b->nnum && j < c->schema.ncols; j++) {
        struct colstate *s = &c->cs[j];
        s->nnum_prev = s->nnum;
        s->nnum += b->nnum[j];
        if (!b->nquoted[j])
            continue;
        if (!s->nquoted)
            s->q = b->qr[j];
        s->nquoted += b->nquoted[j];
        s->q.lo = b->qr[j].lo < s->q.lo ? b->qr[j].lo : s->q.lo;
        s->q.hi = b->qr[j].hi > s->q.hi ? b->qr[j].hi : s->q.hi;
        s->q.ints &= b->qr[j].ints;
    }
    for (size_t k = 0; k < b->ncells; k++) {
        const struct cell *ce = &b->cells[k];
        struct colstate *s = &c->cs[ce->col];
        if (s->ntext++)
            continue;
        const km_strtab *d = &b->ld[ce->col];
        s->first_line = ce->line;
        s->first_field = ce->field;
        s->first_len = d->len[ce->code] < sizeof s->first ? d->len[ce->code] : sizeof s->first - 1;
        memcpy(s->first, d->arena + d->off[ce->code], s->first_len);
    }
}

/* Order the block's text cells by column (counting sort; rows stay in
 * order within a column): c->cidx[c->cstart[j] .. c->cstart[j+1]) are the
 * cells of column j. Also sizes c->gmap for the largest local dictionary. */
static int bucket_cells(struct conv *c, const struct block *b)
{
    uint32_t ncols = c->schema.ncols, maxn = 0;
    if (!c->cstart && !(c->cstart = malloc((ncols + 1) * sizeof *c->cstart)))
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    if (b->ncells > c->cidx_cap) {
        uint32_t *ni = realloc(c->cidx, b->ncells * sizeof *ni);
        if (!ni)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        c->cidx = ni;
        c->cidx_cap = b->ncells;
    }
    memset(c->cstart, 0, (ncols + 1) * sizeof *c->cstart);
    for (size_t k = 0; k < b->ncells; k++)
        c->cstart[b->cells[k].col + 1]++;
    for (uint32_t j = 0; j < ncols; j++) {
        c->cstart[j + 1] += c->cstart[j];
        if (b->ld && b->ld[j].n > maxn)
            maxn = b->ld[j].n;
    }
    for (size_t k = 0; k < b->ncells; k++) /* uses cstart[col] as a cursor... */
        c->cidx[c->cstart[b->cells[k].col]++] = (uint32_t)k;
    for (uint32_t j = ncols; j > 0; j--) /* ...then shifts it back */
        c->cstart[j] = c->cstart[j - 1];
    c->cstart[0] = 0;
    if (maxn > c->gmap_cap) {
        uint32_t *ng = realloc(c->gmap, maxn * sizeof *ng);
        if (!ng)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        c->gmap = ng;
        c->gmap_cap = maxn;
    }
    return 0;
}

/* Categorical column j of block b: text values get global codes, numbers
 * the codes of their shortest text. 1 when the column was demoted on the
 * way (dict_code): the rows left keep their numbers. */
static int codes_of_column(struct conv *c, struct block *b, uint32_t j)
{
    uint32_t ncols = c->schema.ncols;
    const km_strtab *d = b->ld ? &b->ld[j] : NULL;
    int rc;
    if (d && d->n)
        memset(c->gmap, 0, d->n * sizeof *c->gmap);
    size_t k = c->cstart[j], kend = c->cstart[j + 1];
    uint64_t nums = c->cs[j].nnum_prev; /* numbers before row r, exactly */
    for (uint32_t r = 0; r < b->nrows; r++) {
        float *v = &b->rows[(size_t)r * ncols + j];
        if (k < kend && b->cells[c->cidx[k]].row == r) {
            const struct cell *ce = &b->cells[c->cidx[k++]];
            if (c->gmap[ce->code]) {
                *v = (float)(c->gmap[ce->code] - 1);
                continue;
            }
            rc = dict_code(c, j, d->arena + d->off[ce->code], d->len[ce->code], NAN, v,
                           ce->line, ce->field, c->rows + r);
            /* more distinct texts than the limit before any number: an
             * identifier, said at once (no number can make it bad values
             * of a numeric column that a later check would keep) */
            if (rc == 1 && !nums)
                return too_many_levels(c, j, ce->line, ce->field);
            if (rc)
                return rc;
            c->gmap[ce->code] = (uint32_t)*v + 1;
        } else if (!isnan(*v)) {
            nums++;
            if ((rc = number_code(c, j, v, b->lines[r], c->field_of[j], c->rows + r)))
                return rc;
        }
    }
    return 0;
}

static int merge_block(struct conv *c, struct block *b)
{
    uint32_t ncols = c->schema.ncols;
    int rc;
    if (b->rc)
        return km_seterr(&c->ctx->err, b->rc, "%s", b->err);
    c->blank += b->blank;
    c->ragged += b->ragged;
    note_cells(c, b);
    /* columns that hold text for the first time turn categorical (text in
     * a demoted column stays NaN: missing) */
    for (size_t k = 0; k < b->ncells; k++) {
        const struct cell *ce = &b->cells[k];
        km_column *col = &c->schema.cols[ce->col];
        if (col->type == KM_COL_CATEGORICAL || c->cs[ce->col].demoted)
            continue;
        if (c->flushed_rows > 0) {
            /* numbers of this column are in chunks already written: they
             * become categories in a second pass (rewrite_late) */
            c->late_row[ce->col] = c->flushed_rows;
            c->any_late = 1;
        }
        col->type = KM_COL_CATEGORICAL;
        for (uint32_t r = 0; r < c->chunk_row; r++) {
            float *v = &c->chunk[(size_t)r * ncols + ce->col];
            if (!isnan(*v) && (rc = number_code(c, ce->col, v, ce->line, ce->field,
                                                c->flushed_rows + r))) {
                if (rc < 0)
                    return rc;
                break; /* demoted */
            }
        }
    }
    /* Categorical columns: numbers become categories of their shortest
     * text, text values get global codes; both in row order, so levels are
     * numbered by first appearance whatever the block boundaries. */
    if ((rc = bucket_cells(c, b)))
        return rc;
    for (uint32_t j = 0; j < ncols; j++)
        if (c->schema.cols[j].type == KM_COL_CATEGORICAL && (rc = codes_of_column(c, b, j)) < 0)
            return rc;
    /* move the rows into chunks */
    uint32_t r = 0;
    while (r < b->nrows) {
        uint32_t n = b->nrows - r;
        if (n > c->rpc - c->chunk_row)
            n = c->rpc - c->chunk_row;
        memcpy(c->chunk + (size_t)c->chunk_row * ncols, b->rows + (size_t)r * ncols,
               (size_t)n * ncols * sizeof *b->rows);
        c->chunk_row += n;
        c->rows += n;
        r += n;
        if (c->chunk_row == c->rpc && (rc = put_chunk(c)))
            return rc;
    }
    return 0;
}

/* Column j of chunk e (its rows in buf) as it ends: the numbers of a
 * column turned categorical late become categories; the codes of a column
 * demoted become numbers again, NaN for text. */
static int rewrite_column(struct conv *c, uint32_t j, const km_kmx_chunk *e, float *buf)
{
    uint32_t ncols = c->schema.ncols;
    uint64_t late = c->late_row[j];
    const struct colstate *s = &c->cs[j];
    if (s->demoted) {
        uint64_t from = late == UINT64_MAX ? 0 : late;
        for (uint32_t i = 0; i < e->nrows; i++) {
            float *v = &buf[(size_t)i * ncols + j];
            uint64_t row = e->first_row + i;
            if (row >= from && row < s->demote_row && !isnan(*v))
                *v = s->back[(uint32_t)*v];
        }
        return 0;
    }
    if (late == UINT64_MAX)
        return 0;
    for (uint32_t i = 0; i < e->nrows && e->first_row + i < late; i++) {
        float *v = &buf[(size_t)i * ncols + j];
        int rc;
        if (!isnan(*v) && (rc = number_code(c, j, v, 0, c->field_of[j], 0)))
            return rc; /* (line 0: too_many_levels, never a demotion) */
    }
    return 0;
}

/* A column turned categorical after some of its numbers were written: the
 * file is finished under its temporary name, then copied chunk by chunk into
 * the real output with those numbers replaced by the categories of their
 * shortest text. One more pass over the output, only in this case. */
static int rewrite_late(struct conv *c, const km_kmx_source *src, const km_kmx_wopts *wo)
{
    km_ctx *ctx = c->ctx;
    char *tmp = NULL;
    km_kmx *d = NULL;
    km_kmx_writer *w2 = NULL;
    uint32_t ncols = c->schema.ncols;
    int rc = km_kmx_finish_temp(c->w, &c->schema, src, &tmp);
    km_kmx_abort(c->w);
    c->w = NULL;
    if (rc)
        goto out;
    km_verbose(ctx, "a column changed type after its first chunk: rewriting the output");
    /* once open, the temporary needs no name: nothing is left if we die */
    rc = km_kmx_open(ctx, tmp, KM_IO_PREAD, &d);
    unlink(tmp);
    free(tmp);
    tmp = NULL;
    if (rc || (rc = km_kmx_create(ctx, c->o->output, ncols, wo, &w2)))
        goto out;
    for (uint64_t k = 0; k < km_kmx_nchunks(d); k++) {
        const km_kmx_chunk *e = km_kmx_chunk_info(d, k);
        float *buf = km_kmx_buffer(w2);
        if ((rc = km_kmx_read_chunk_raw(d, k, buf))) /* late columns hold numbers */
            goto out;
        for (uint32_t j = 0; j < ncols; j++)
            if ((rc = rewrite_column(c, j, e, buf)))
                goto out;
        if ((rc = km_kmx_put(w2, e->nrows)) || km_check_interrupt(ctx)) {
            rc = rc ? rc : KM_EINTR;
            goto out;
        }
    }
    if ((rc = dicts_to_schema(c)) || (rc = km_kmx_finish(w2, &c->schema, src)))
        goto out;
    c->w = w2; /* committed: the caller reads its size, then frees it */
    w2 = NULL;
out:
    km_kmx_close(d);
    km_kmx_abort(w2);
    if (tmp)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- the memory plan ---------------------------------------------------- */

static int default_blocks(int workers)
{
    return 2 * workers + 2 > 32 ? 32 : 2 * workers + 2;
}

static uint64_t default_chunk_rows(uint64_t ncols)
{
    return km_kmx_default_chunk_rows(ncols);
}

/* The plan's items: the text blocks in flight, the writer's chunk buffers,
 * and KM_CONVERT_FIXED in place of km_plan_init's KM_MEM_SLACK (see
 * convert.h). Their sum is km_convert_estimate. */
static void convert_plan(km_plan *p, uint64_t ncols, int workers, int blocks, uint64_t text,
                         uint64_t chunk_rows)
{
    uint64_t slots = (uint64_t)workers + 2, chunk = chunk_rows * 4 * ncols;
    memset(p, 0, sizeof *p);
    km_plan_add(p, "process and dictionaries", KM_CONVERT_FIXED);
    km_plan_add(p, "text blocks", (uint64_t)blocks * 3 * text);
    km_plan_add(p, "chunk buffers", slots * 3 * chunk);
}

uint64_t km_convert_estimate(uint32_t ncols, int workers, int blocks, size_t block_text,
                             uint32_t rows_per_chunk)
{
    km_plan p;
    convert_plan(&p, ncols, workers, blocks ? blocks : default_blocks(workers),
                 block_text ? block_text : BLOCK_TEXT,
                 rows_per_chunk ? rows_per_chunk : default_chunk_rows(ncols));
    return p.total;
}

/* Fit the pipeline into ctx->mem_budget (km_convert_estimate's items):
 * fewer blocks in flight first, then smaller blocks, then smaller chunks
 * (which cost compression ratio), then smaller blocks again. */
static int plan_memory(struct conv *c, int workers, km_kmx_wopts *wo)
{
    uint64_t ncols = c->schema.ncols, row = 4 * ncols;
    uint64_t rows = wo->rows_per_chunk ? wo->rows_per_chunk : default_chunk_rows(ncols);
    uint64_t text = BLOCK_TEXT;
    char job[64];
    km_plan p;
    for (;;) {
        convert_plan(&p, ncols, workers, c->nblocks, text, rows);
        if (p.total <= c->ctx->mem_budget)
            break;
        if (c->nblocks > 2) {
            c->nblocks--;
        } else if (text > (256u << 10)) {
            text /= 2;
        } else if (!wo->rows_per_chunk && rows > 1 && rows * row > (64u << 10)) {
            rows /= 2; /* (whole rows, at least one) */
        } else if (text > (64u << 10)) {
            text /= 2;
        } else {
            break;
        }
    }
    snprintf(job, sizeof job, "converting %llu columns", (unsigned long long)ncols);
    int rc = km_plan_check(c->ctx, &p, job);
    if (rc)
        return rc;
    km_plan_log(c->ctx, &p, job);
    if (!wo->rows_per_chunk)
        wo->rows_per_chunk = (uint32_t)rows;
    c->block_text = (size_t)text;
    km_debug(c->ctx, "memory plan: %d blocks of %llu bytes, chunks of %u rows", c->nblocks,
             (unsigned long long)text, wo->rows_per_chunk);
    return 0;
}

/* ---- the pipeline ------------------------------------------------------- */

/* The pipeline's parts: the memory plan, the writer, the blocks with their
 * CSV parsers (each with its own error record: wctx). */
static int pipeline_open(struct conv *c, km_kmx_wopts *wo)
{
    const km_convert_opts *o = c->o;
    *wo = (km_kmx_wopts){o->level, o->shuffle, o->chunk_rows, o->pool};
    int workers = km_pool_workers(o->pool), rc;
    c->nblocks = default_blocks(workers);
    if ((rc = plan_memory(c, workers, wo)) ||
        (rc = km_kmx_create(c->ctx, o->output, c->schema.ncols, wo, &c->w)))
        return rc;
    c->rpc = km_kmx_chunk_rows(c->w);
    c->chunk = km_kmx_buffer(c->w);
    c->blocks = calloc((size_t)c->nblocks, sizeof *c->blocks);
    if (!c->blocks)
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    for (int i = 0; i < c->nblocks; i++) {
        c->blocks[i].c = c;
        c->blocks[i].wctx = *c->ctx;
        if ((rc = km_csv_open_mem(&c->blocks[i].wctx, &c->in.co, &c->blocks[i].csv)))
            return rc;
    }
    return 0;
}

/* Wait for the oldest block in flight and merge it. */
static int merge_oldest(struct conv *c, km_progress *prog)
{
    struct block *ob = &c->blocks[c->head];
    km_pool_wait(c->o->pool, ob->job);
    ob->job = NULL;
    c->head = (c->head + 1) % c->nblocks;
    c->inflight--;
    unmap_block(ob); /* the rows hold all merge_block needs */
    int rc = merge_block(c, ob);
    if (rc)
        return rc;
    km_progress_update(prog, c->bytes_in);
    return 0;
}

/* Stage 1 on this thread, stage 2 on the pool, stage 3 on this thread
 * again: read blocks into free slots and submit their parsing, and merge
 * the oldest block when its slot is needed or the input has ended. Up to
 * c->nblocks blocks are in flight, so the parsers stay busy while this
 * thread reads and merges. */
static int pipeline_run(struct conv *c, km_progress *prog)
{
    for (;;) {
        int rc, read_all = c->in.eof && c->in.carry_len == 0;
        if (c->inflight && (c->inflight == c->nblocks || read_all)) {
            if ((rc = merge_oldest(c, prog)))
                return rc;
            continue;
        }
        if (read_all)
            return 0;
        struct block *b = &c->blocks[(c->head + c->inflight) % c->nblocks];
        if ((rc = read_block(c, b)))
            return rc;
        b->job = km_pool_submit(c->o->pool, 1, parse_block, b);
        if (!b->job)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        c->inflight++;
    }
}

/* Numeric columns whose every value was quoted, in a file that leaves
 * some values unquoted, are categorical: R's write.csv quotes factors
 * ("5") and text, never numbers, and Python's QUOTE_NONNUMERIC likewise,
 * so there the quotes say "a label, not a quantity". A file that quotes
 * everything says nothing by it; nor does a column whose numbers might
 * not fit in --max-levels categories (more values than that, not all
 * integers within a range that fits). Their numbers become the categories of
 * their text in the second pass (rewrite_late), as for a column that
 * turned categorical late. */
static void quoted_columns(struct conv *c)
{
    int selective = 0;
    for (uint32_t j = 0; j < c->schema.ncols; j++)
        selective |= c->cs[j].nquoted < c->cs[j].nnum + c->cs[j].ntext;
    for (uint32_t j = 0; selective && j < c->schema.ncols; j++) {
        const struct colstate *s = &c->cs[j];
        if (c->forced[j] || s->demoted || c->schema.cols[j].type != KM_COL_NUMERIC || !s->nnum ||
            s->nquoted != s->nnum)
            continue;
        /* only when its levels surely fit: R quotes its row names too,
         * 1..n, which as categories would pass --max-levels */
        if (s->nnum > c->max_levels &&
            !(s->q.ints && (double)s->q.hi - s->q.lo < (double)c->max_levels))
            continue;
        km_verbose(c->ctx, "%s: column '%s' is quoted throughout, as R writes factors: "
                   "categorical (--numeric %s to read numbers)", c->name,
                   c->schema.cols[j].name, c->schema.cols[j].name);
        c->schema.cols[j].type = KM_COL_CATEGORICAL;
        c->late_row[j] = c->rows;
        c->any_late = 1;
    }
}

/* At the end of the input, each column that turned categorical while
 * mostly numbers is numeric with stray values (KM_STRAY_SHARE): an error,
 * or demoted with --bad-values missing; and numeric columns quoted
 * throughout are categorical (quoted_columns). */
static int decide_columns(struct conv *c)
{
    quoted_columns(c);
    for (uint32_t j = 0; j < c->schema.ncols; j++) {
        const struct colstate *s = &c->cs[j];
        if (s->overflowed && !stray_like(c, j))
            return too_many_levels(c, j, s->over_line, s->over_field);
        int cat = c->schema.cols[j].type == KM_COL_CATEGORICAL;
        if (!(s->overflowed || (cat && !s->demoted)) || !stray_like(c, j))
            continue;
        if (c->o->bad_values != KM_BAD_MISSING)
            return stray_error(c, j);
        if (!s->demoted)
            demote(c, j, c->rows);
    }
    return 0;
}

/* Counted warnings on what the columns turned out to be: text read as
 * missing, and categorical columns with about as many levels as values
 * (an identifier, or numbers written as text), which make poor features. */
static void column_warnings(const struct conv *c)
{
    for (uint32_t j = 0; j < c->schema.ncols; j++) {
        const struct colstate *s = &c->cs[j];
        const km_column *col = &c->schema.cols[j];
        if (s->demoted && s->ntext)
            km_warn(c->ctx, "%s: column '%s': %llu value%s that %s read as missing "
                    "(the first at line %llu, field %u: \"%.*s\")", c->name, col->name,
                    (unsigned long long)s->ntext, s->ntext > 1 ? "s" : "",
                    s->ntext > 1 ? "are not numbers" : "is not a number",
                    (unsigned long long)s->first_line, s->first_field, (int)s->first_len,
                    s->first);
        uint64_t values = s->nnum + s->ntext;
        int cat = col->type == KM_COL_CATEGORICAL && !c->forced[j];
        /* mostly numbers, yet too much text for bad values: the numbers
         * are categories now, which the user may not want */
        if (cat && s->ntext && 5 * s->nnum >= 4 * values) {
            km_warn(c->ctx, "%s:%llu:%u: column '%s' is categorical, though %.0f%% of its "
                    "values are numbers (text such as \"%.*s\"); --numeric %s --bad-values "
                    "missing reads it as numbers", c->name, (unsigned long long)s->first_line,
                    s->first_field, col->name, 100.0 * (double)s->nnum / (double)values,
                    (int)s->first_len, s->first, col->name);
            continue; /* (not an identifier, whatever its levels) */
        }
        if (cat && col->nlevels >= 50 && 2 * (uint64_t)col->nlevels >= values)
            km_warn(c->ctx, "%s: column '%s' has %u distinct values out of %llu, as an "
                    "identifier would; --drop it if it is one", c->name, col->name,
                    col->nlevels, (unsigned long long)values);
    }
}

/* The last chunk, the dictionaries and the trailer (through rewrite_late
 * when a column turned categorical late), and the result's figures. */
static int finish(struct conv *c, const km_kmx_wopts *wo, km_convert_result *res)
{
    int rc;
    if (c->rows == 0)
        return km_seterr(&c->ctx->err, KM_EPARSE, "%s: no data rows%s", c->name,
                         c->o->no_header ? "" : " (only a header)");
    if (c->chunk_row && (rc = km_kmx_put(c->w, c->chunk_row)))
        return rc;
    if ((rc = decide_columns(c)))
        return rc;
    if (c->any_late)
        rc = rewrite_late(c, &c->in.src, wo);
    else if (!(rc = dicts_to_schema(c)))
        rc = km_kmx_finish(c->w, &c->schema, &c->in.src);
    if (rc)
        return rc;
    res->bytes_out = km_kmx_written(c->w);
    res->rows = c->rows;
    res->bytes_in = c->bytes_in;
    res->ncols = c->schema.ncols;
    res->blank_lines = c->blank;
    res->ragged_rows = c->ragged;
    res->decimal = c->decimal;
    for (uint32_t j = 0; j < c->schema.ncols; j++) {
        res->ncategorical += c->schema.cols[j].type == KM_COL_CATEGORICAL;
        if (c->cs[j].demoted)
            res->bad_values += c->cs[j].ntext;
    }
    column_warnings(c);
    if (c->o->want_forced) {
        res->forced = c->forced; /* the caller's now */
        c->forced = NULL;
    }
    return 0;
}

/* Everything the conversion holds, after a success or at any point of a
 * failure; the progress line ends once no job runs. */
static void conv_free(struct conv *c, km_progress *prog)
{
    /* jobs still parsing use the blocks: let them finish first */
    for (int i = 0; i < c->inflight; i++) {
        struct block *ob = &c->blocks[(c->head + i) % c->nblocks];
        km_pool_wait(c->o->pool, ob->job);
    }
    if (prog)
        km_progress_end(prog);
    if (c->w)
        km_kmx_abort(c->w);
    for (int i = 0; c->blocks && i < c->nblocks; i++) {
        struct block *b = &c->blocks[i];
        km_csv_close(b->csv);
        unmap_block(b);
        free(b->buf);
        free(b->rows);
        free(b->lines);
        free(b->pos);
        free(b->cells);
        free(b->nnum);
        free(b->nquoted);
        free(b->qpend);
        free(b->qr);
        for (uint32_t j = 0; b->ld && j < c->schema.ncols; j++)
            km_strtab_free(&b->ld[j]);
        free(b->ld);
    }
    free(c->blocks);
    free(c->gmap);
    free(c->cstart);
    free(c->cidx);
    free(c->field_of);
    free(c->fast_dst);
    free(c->late_row);
    for (uint32_t j = 0; c->cs && j < c->schema.ncols; j++)
        free(c->cs[j].back);
    free(c->cs);
    free(c->in.carry);
    if (c->in.fd > STDIN_FILENO)
        close(c->in.fd);
    km_numparse_free(c->np);
    for (uint32_t j = 0; c->dicts && j < c->schema.ncols; j++)
        km_strtab_free(&c->dicts[j]);
    km_schema_free(&c->schema);
    free(c->dicts);
    free(c->forced);
    free(c->map);
    for (size_t i = 0; i < c->na.n; i++)
        free(c->na.tok[i]);
    free(c->na.tok);
    free(c->na.len);
}

int km_convert(km_ctx *ctx, const km_convert_opts *o, km_convert_result *res)
{
    struct conv c;
    km_kmx_wopts wo;
    km_progress prog;
    int rc, prog_on = 0;
    memset(&c, 0, sizeof c);
    memset(res, 0, sizeof *res);
    c.ctx = ctx;
    c.o = o;
    c.name = strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
    c.max_levels = o->max_levels ? o->max_levels : DEFAULT_MAX_LEVELS;
    c.max_line = o->max_line ? o->max_line : ((size_t)64 << 20);
    c.in.fd = -1;

    if (km_numparse_init(&c.np))
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    else if (!(rc = na_parse(&c, o->na_values ? o->na_values : KM_DEFAULT_NA)) &&
             !(rc = input_open(&c)) && !(rc = read_header(&c))) {
        res->delim = c.delim;
        if (!(rc = pipeline_open(&c, &wo))) {
            km_progress_start(&prog, ctx, "converting", c.in.src.size, "B");
            prog_on = 1;
            if (!(rc = pipeline_run(&c, &prog)))
                rc = finish(&c, &wo, res);
        }
    }
    conv_free(&c, prog_on ? &prog : NULL);
    return rc;
}
