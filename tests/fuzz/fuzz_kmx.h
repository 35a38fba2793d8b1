/* fuzz_kmx.h - exercise every reading path of an open .kmx dataset (the
 * chunk index, every chunk read directly, an ordered scan of all chunks and
 * of a subset, the summary, the statistics, sampling and the CSV export)
 * and check what the reader promises about what it hands out: the chunk
 * index tiles the rows, and a categorical cell is missing (NaN) or a code
 * within its column's dictionary. Shared by the CSV and .kmx harnesses. */
#ifndef KMILL_FUZZ_KMX_H
#define KMILL_FUZZ_KMX_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "kmill/export.h"
#include "kmill/kmx.h"
#include "kmill/model.h"
#include "kmill/pool.h"
#include "kmill/schema.h"

/* Chunks larger than this (floats) are not decoded by the harness: a file
 * may honestly describe a chunk too big for a fuzzing run. */
#define FUZZ_MAX_FLOATS ((uint64_t)1 << 22)

static void fuzz_check_rows(const km_schema *s, const float *rows, uint64_t nrows, uint64_t first)
{
    for (uint64_t r = 0; r < nrows; r++)
        for (uint32_t j = 0; j < s->ncols; j++) {
            float v = rows[r * s->ncols + j];
            const km_column *c = &s->cols[j];
            if (c->type != KM_COL_CATEGORICAL || isnan(v))
                continue;
            if (!(v >= 0 && v < (float)c->nlevels && v == floorf(v)))
                FUZZ_FAIL("row %llu column %u (%s): code %g outside its dictionary of %u levels",
                          (unsigned long long)(first + r), j + 1, c->name ? c->name : "?", v,
                          c->nlevels);
        }
}

static void fuzz_scan(km_ctx *ctx, km_kmx *d, km_pool *pool, const uint64_t *list, uint64_t n)
{
    const km_schema *s = km_kmx_schema(d);
    km_kmx_scan *scan = NULL;
    if (km_kmx_scan_open(d, pool, list, n, &scan))
        return;
    const float *rows;
    uint32_t nrows;
    uint64_t first;
    uint64_t k = 0;
    while (km_kmx_scan_next(scan, &rows, &nrows, &first) > 0) {
        uint64_t idx = list ? list[k] : k;
        const km_kmx_chunk *ci = km_kmx_chunk_info(d, idx);
        if (ci && (first != ci->first_row || nrows != ci->nrows))
            FUZZ_FAIL("scan block %llu: rows %llu+%u, the index says %llu+%u",
                      (unsigned long long)k, (unsigned long long)first, nrows,
                      (unsigned long long)ci->first_row, ci->nrows);
        fuzz_check_rows(s, rows, nrows, first);
        k++;
    }
    km_kmx_scan_close(scan);
}

static void fuzz_export(km_ctx *ctx, km_kmx *d, km_pool *pool, int sample)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        abort();
    km_export_opts eo = {0};
    eo.to = UINT64_MAX;
    eo.pool = pool;
    if (sample) {
        eo.sample = 1;
        eo.nsample = 3;
        eo.seed = 7;
    }
    km_export_csv(ctx, d, f, &eo);
    fclose(f);
    free(buf);
}

/* Everything a reader of d can do; d stays open. */
static void fuzz_exercise_kmx(km_ctx *ctx, km_kmx *d)
{
    const km_schema *s = km_kmx_schema(d);
    uint64_t rows = km_kmx_rows(d), nchunks = km_kmx_nchunks(d), total = 0;
    int minor;
    (void)km_kmx_version(d, &minor);
    (void)km_kmx_file_size(d);
    (void)km_kmx_rows_per_chunk(d);
    (void)km_kmx_io_name(d);
    (void)km_kmx_scan_estimate(d, 1);
    (void)km_kmx_checksum(d);
    const km_kmx_source *src = km_kmx_source_info(d);
    if (src && src->name)
        (void)strlen(src->name);
    km_kmx_summary su;
    km_kmx_summarize(d, &su);
    for (uint32_t j = 0; j < s->ncols; j++) {
        double mean, sd;
        km_colstats_moments(&s->cols[j].stats, &mean, &sd);
        (void)strlen(s->cols[j].name);
        for (uint32_t l = 0; l < s->cols[j].nlevels; l++)
            if (s->cols[j].level_len[l])
                (void)*(volatile char *)&s->cols[j].levels[l][s->cols[j].level_len[l] - 1];
    }
    /* the chunk index tiles [0, rows) in order */
    for (uint64_t k = 0; k < nchunks; k++) {
        const km_kmx_chunk *ci = km_kmx_chunk_info(d, k);
        if (!ci)
            FUZZ_FAIL("chunk %llu of %llu has no index entry", (unsigned long long)k,
                      (unsigned long long)nchunks);
        if (ci->first_row != total)
            FUZZ_FAIL("chunk %llu starts at row %llu, after %llu rows", (unsigned long long)k,
                      (unsigned long long)ci->first_row, (unsigned long long)total);
        total += ci->nrows;
    }
    if (total != rows)
        FUZZ_FAIL("the chunks hold %llu rows, the file says %llu", (unsigned long long)total,
                  (unsigned long long)rows);
    if ((uint64_t)s->ncols * rows > 4 * FUZZ_MAX_FLOATS)
        return; /* honest but too big to decode here */

    /* every chunk, directly */
    for (uint64_t k = 0; k < nchunks; k++) {
        const km_kmx_chunk *ci = km_kmx_chunk_info(d, k);
        uint64_t n = (uint64_t)ci->nrows * s->ncols;
        if (n > FUZZ_MAX_FLOATS)
            continue;
        float *buf = malloc((n ? n : 1) * sizeof *buf);
        if (!buf)
            abort();
        if (km_kmx_read_chunk(d, k, buf) == 0)
            fuzz_check_rows(s, buf, ci->nrows, ci->first_row);
        free(buf);
    }

    km_pool *pool = NULL;
    if (km_pool_create(&pool, 0, &ctx->err))
        abort();
    fuzz_scan(ctx, d, pool, NULL, 0);
    if (nchunks >= 2) { /* every other chunk, from the second */
        uint64_t list[64], n = 0;
        for (uint64_t k = 1; k < nchunks && n < 64; k += 2)
            list[n++] = k;
        fuzz_scan(ctx, d, pool, list, n);
    }

    /* sampling: distinct rows, ascending, within the dataset */
    uint64_t want = rows < 7 ? rows : 7, got[7];
    if (km_kmx_sample(d, want, 42, got) == 0)
        for (uint64_t i = 0; i < want; i++)
            if (got[i] >= rows || (i && got[i] <= got[i - 1]))
                FUZZ_FAIL("km_kmx_sample: row %llu (#%llu of %llu) in a dataset of %llu rows",
                          (unsigned long long)got[i], (unsigned long long)i,
                          (unsigned long long)want, (unsigned long long)rows);

    fuzz_export(ctx, d, pool, 0);
    fuzz_export(ctx, d, pool, 1);
    km_pool_destroy(pool);
}

#endif
