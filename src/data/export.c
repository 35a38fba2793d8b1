/* export.c - .kmx to CSV (see include/kmill/export.h). */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/csv.h"
#include "kmill/export.h"
#include "kmill/numparse.h"
#include "kmill/rng.h"

struct line {
    char *p;
    size_t len, cap;
};

static int reserve(struct line *l, size_t n)
{
    if (l->len + n <= l->cap)
        return 0;
    size_t ncap = l->cap ? l->cap * 2 : 4096;
    while (ncap < l->len + n)
        ncap *= 2;
    char *np = realloc(l->p, ncap);
    if (!np)
        return -1;
    l->p = np;
    l->cap = ncap;
    return 0;
}

/* Append a string field, quoted as kmill/csv.h says. */
static int put_text(struct line *l, const char *s, size_t n)
{
    if (reserve(l, KM_CSV_QUOTED_MAX(n) + 1))
        return -1;
    l->len += km_csv_quote(l->p + l->len, s, n);
    return 0;
}

static int emit(km_ctx *ctx, FILE *out, struct line *l)
{
    if (fwrite(l->p, 1, l->len, out) != l->len) {
        if (errno == EPIPE)
            return KM_EPIPE;
        return km_seterr(&ctx->err, km_errno_code(errno), "error writing output: %s",
                         strerror(errno));
    }
    l->len = 0;
    return 0;
}

static int put_row(km_ctx *ctx, const char *path, const km_schema *s, const float *row,
                   const uint32_t *cols, uint32_t ncols, struct line *l, uint64_t rowno)
{
    for (uint32_t k = 0; k < ncols; k++) {
        if (k && reserve(l, 1) == 0)
            l->p[l->len++] = ',';
        const km_column *c = &s->cols[cols[k]];
        float v = row[cols[k]];
        if (isnan(v))
            continue;
        if (c->type == KM_COL_CATEGORICAL) {
            if (v < 0 || v >= (float)c->nlevels || v != floorf(v))
                return km_seterr(&ctx->err, KM_ECORRUPT,
                                 "%s: row %llu, column '%s': category code %g out of range",
                                 path, (unsigned long long)rowno, c->name, (double)v);
            uint32_t code = (uint32_t)v;
            if (put_text(l, c->levels[code], c->level_len[code]))
                return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        } else {
            if (reserve(l, KM_F32_BUFSZ))
                return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            l->len += (size_t)km_format_f32(v, l->p + l->len);
        }
    }
    if (reserve(l, 1))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    l->p[l->len++] = '\n';
    return 0;
}

/* The chunks that hold the selected rows: [from, to), or the sorted
 * sample rows (nsel of them) when rows is not NULL. */
static int select_chunks(km_ctx *ctx, km_kmx *d, uint64_t from, uint64_t to,
                         const uint64_t *rows, uint64_t nsel, uint64_t **out, uint64_t *n)
{
    uint64_t nch = km_kmx_nchunks(d), ri = 0;
    uint64_t *chunks = malloc((nch ? nch : 1) * sizeof *chunks);
    if (!chunks)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    *n = 0;
    for (uint64_t k = 0; k < nch && nsel; k++) {
        const km_kmx_chunk *e = km_kmx_chunk_info(d, k);
        uint64_t a = e->first_row, b = a + e->nrows;
        if (b <= from || a >= to)
            continue;
        if (rows) {
            while (ri < nsel && rows[ri] < a)
                ri++;
            if (ri == nsel || rows[ri] >= b)
                continue;
        }
        chunks[(*n)++] = k;
    }
    *out = chunks;
    return 0;
}

/* The header line of the selected columns, written out at once. */
static int put_header(km_ctx *ctx, FILE *out, const km_schema *s, const uint32_t *cols,
                      uint32_t ncols, struct line *l)
{
    for (uint32_t k = 0; k < ncols; k++) {
        if (k && reserve(l, 1) == 0)
            l->p[l->len++] = ',';
        const char *nm = s->cols[cols[k]].name;
        if (put_text(l, nm, strlen(nm)) || reserve(l, 1))
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    l->p[l->len++] = '\n';
    return emit(ctx, out, l);
}

int km_export_csv(km_ctx *ctx, km_kmx *d, FILE *out, const km_export_opts *o)
{
    const km_schema *s = km_kmx_schema(d);
    uint64_t nrows = km_kmx_rows(d);
    uint64_t from = o->from < nrows ? o->from : nrows;
    uint64_t to = o->to < nrows ? o->to : nrows;
    if (to < from)
        to = from;
    uint32_t *cols = NULL, ncols = 0;
    uint64_t *rows = NULL, *chunks = NULL, nchunks = 0;
    struct line l = {0};
    km_kmx_scan *scan = NULL;
    int rc = 0;

    if (o->columns) {
        if ((rc = km_schema_select_list(s, o->columns, "--columns", &cols, &ncols, &ctx->err)))
            goto out;
    } else {
        ncols = s->ncols;
        cols = malloc(ncols * sizeof *cols);
        if (!cols) {
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            goto out;
        }
        for (uint32_t j = 0; j < ncols; j++)
            cols[j] = j;
    }

    /* which rows: a range, or a sorted sample within it */
    uint64_t nsel = to - from;
    if (o->sample) {
        if (o->nsample < nsel)
            nsel = o->nsample;
        rows = malloc((nsel ? nsel : 1) * sizeof *rows);
        if (!rows) {
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a sample of %llu rows",
                           (unsigned long long)nsel);
            goto out;
        }
        if (km_sample_indices(to - from, nsel, o->seed, rows)) {
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a sample of %llu rows",
                           (unsigned long long)nsel);
            goto out;
        }
        for (uint64_t i = 0; i < nsel; i++)
            rows[i] += from;
    }
    if ((rc = select_chunks(ctx, d, from, to, rows, nsel, &chunks, &nchunks)))
        goto out;
    if (!o->no_header && (rc = put_header(ctx, out, s, cols, ncols, &l)))
        goto out;
    if ((rc = km_kmx_scan_open(d, o->pool, chunks, nchunks, &scan)))
        goto out;
    uint64_t ri = 0;
    for (;;) {
        const float *blk;
        uint32_t n;
        uint64_t first;
        rc = km_kmx_scan_next(scan, &blk, &n, &first);
        if (rc <= 0)
            break;
        for (uint32_t r = 0; r < n; r++) {
            uint64_t row = first + r;
            if (row < from || row >= to)
                continue;
            if (rows) {
                while (ri < nsel && rows[ri] < row)
                    ri++;
                if (ri == nsel || rows[ri] != row)
                    continue;
            }
            if ((rc = put_row(ctx, km_kmx_path(d), s, blk + (size_t)r * s->ncols, cols, ncols, &l, row)))
                goto out;
            if (l.len >= (1 << 16) && (rc = emit(ctx, out, &l)))
                goto out;
        }
    }
    if (rc == 0 && l.len)
        rc = emit(ctx, out, &l);
    if (rc == 0 && fflush(out) != 0)
        rc = errno == EPIPE ? KM_EPIPE
                            : km_seterr(&ctx->err, km_errno_code(errno), "error writing output: %s",
                                        strerror(errno));
out:
    km_kmx_scan_close(scan);
    free(l.p);
    free(cols);
    free(rows);
    free(chunks);
    return rc;
}
