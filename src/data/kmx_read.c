/* kmx_read.c - the .kmx reader: validation, random access, ordered scans and
 * row sampling (see include/kmill/kmx.h, formats/kmx.md).
 *
 * Opening reads the header, the footer, the metadata and the index, and
 * checks every checksum and bound, so later reads can trust offsets. A scan
 * keeps one batch of chunk reads in flight in the I/O backend while the
 * pool decompresses the batch before it, beside the caller's work on the
 * one before that. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "kmill/crc32c.h"
#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/rng.h"
#include "kmx_format.h"

#define KMX_CHECK_BLOCK 16384 /* values undone and checked at a time: 64 KiB */

struct km_kmx {
    km_ctx *ctx;
    char *path;
    int fd;
    km_io *io;
    uint64_t size, nrows, nchunks, meta_off;
    uint32_t ncols, rpc;
    int minor;
    km_schema schema;
    km_kmx_chunk *index;
    km_kmx_source src;
    char *src_name;
    uint32_t ncat;       /* categorical columns: their numbers and level counts */
    uint32_t *cat;
    float *cat_nl;
    float *lim;          /* per column its level count, -1 if numeric (code_ok), */
    uint32_t block_rows; /* repeated for this many rows: a block of unfilter */
    ZSTD_DCtx *dctx;     /* for km_kmx_read_chunk */
    km_kmx_scan *spare;  /* the last scan closed, its buffers kept for the next */
    int holds;           /* km_kmx_hold minus km_kmx_release: a spare is kept while > 0 */
};

static int corrupt(km_kmx *d, const char *what)
{
    return km_seterr(&d->ctx->err, KM_ECORRUPT, "%s: %s", d->path, what);
}

static int pread_full(km_kmx *d, void *buf, size_t len, uint64_t off)
{
    size_t got;
    int e = km_pread_full(d->fd, buf, len, off, &got);
    if (e)
        return km_seterr(&d->ctx->err, km_errno_code(e), "%s: read error: %s", d->path,
                         strerror(e));
    return got < len ? corrupt(d, "truncated file") : 0;
}

/* A str field of the metadata: its length checked against the bytes left
 * in the section. what names the field in the message. */
static int meta_str(km_kmx *d, km_cur *c, const char *what, char **s, uint32_t *len)
{
    size_t left = (size_t)(c->end - c->p);
    uint32_t n = left >= 4 ? get_u32(c->p) : 0;
    if (left < 4 || n > left - 4)
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: %s: length %u exceeds the %zu bytes left in the section",
                         d->path, what, n, left >= 4 ? left - 4 : 0);
    if (!(*s = km_cur_str(c, len)))
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

/* A column's levels: their count against the column type, kmill's limit
 * and the bytes left (each level takes at least 4), each length against
 * the bytes left. */
static int meta_levels(km_kmx *d, km_cur *c, km_column *col)
{
    uint32_t nl = km_cur_u32(c);
    size_t left = (size_t)(c->end - c->p);
    if (c->bad)
        return 1;
    if (col->type == KM_COL_NUMERIC && nl)
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: numeric column '%s' has %u levels (should be 0)", d->path,
                         col->name, nl);
    if (nl > KMX_MAX_LEVELS)
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: column '%s': %u levels exceed kmill's limit of %u",
                         d->path, col->name, nl, KMX_MAX_LEVELS);
    if (nl > left / 4) /* each level takes at least its 4-byte length */
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: column '%s': %u levels do not fit in the %zu bytes left in "
                         "the section", d->path, col->name, nl, left);
    if (nl) {
        col->levels = calloc(nl, sizeof *col->levels);
        col->level_len = calloc(nl, sizeof *col->level_len);
        if (!col->levels || !col->level_len)
            return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    }
    for (uint32_t k = 0; k < nl; k++) {
        char what[KM_ERRMSG_MAX / 2];
        snprintf(what, sizeof what, "column '%s' level %u", col->name, k);
        int rc = meta_str(d, c, what, &col->levels[k], &col->level_len[k]);
        if (rc)
            return rc;
        col->nlevels = k + 1;
    }
    return 0;
}

/* A column's whole-file statistics: counts adding up to the rows and, for
 * a numeric column with values (features scale by them), finite values
 * in order. */
static int meta_stats(km_kmx *d, km_cur *c, km_column *col)
{
    km_colstats *t = &col->stats;
    t->min = km_cur_f64(c);
    t->max = km_cur_f64(c);
    t->sum = km_cur_f64(c);
    t->sumsq = km_cur_f64(c);
    t->count = km_cur_u64(c);
    t->missing = km_cur_u64(c);
    if (c->bad)
        return 1;
    if (t->count > d->nrows || t->missing != d->nrows - t->count)
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: column '%s': statistics count %llu + missing %llu is not "
                         "the %llu rows", d->path, col->name, (unsigned long long)t->count,
                         (unsigned long long)t->missing, (unsigned long long)d->nrows);
    if (col->type == KM_COL_NUMERIC && t->count &&
        !(isfinite(t->min) && isfinite(t->max) && t->min <= t->max && isfinite(t->sum) &&
          isfinite(t->sumsq) && t->sumsq >= 0))
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: column '%s': statistics out of range (min %g, max %g, "
                         "sum %g, sum of squares %g)", d->path, col->name, t->min, t->max, t->sum,
                         t->sumsq);
    return 0;
}

/* One column record; 1 when the section ends inside it. */
static int meta_column(km_kmx *d, km_cur *c, uint32_t j)
{
    km_column *col = &d->schema.cols[j];
    char what[48];
    uint32_t type = km_cur_u32(c);
    if (c->bad)
        return 1;
    if (type != KM_COL_NUMERIC && type != KM_COL_CATEGORICAL)
        return km_seterr(&d->ctx->err, KM_ECORRUPT,
                         "%s: metadata: column %u: unknown type %u (0 numeric, 1 categorical)",
                         d->path, j + 1, type);
    col->type = (int)type;
    snprintf(what, sizeof what, "column %u's name", j + 1);
    int rc = meta_str(d, c, what, &col->name, NULL);
    if (!rc)
        rc = meta_levels(d, c, col);
    if (!rc)
        rc = meta_stats(d, c, col);
    return rc;
}

/* The categorical columns, for the check of every decoded chunk's codes:
 * their numbers and level counts, and every column's (code_ok's lim)
 * repeated for a block of rows. */
static int list_categorical(km_kmx *d)
{
    d->block_rows = KMX_CHECK_BLOCK / d->ncols ? KMX_CHECK_BLOCK / d->ncols : 1;
    d->cat = malloc(d->ncols * sizeof *d->cat);
    d->cat_nl = malloc(d->ncols * sizeof *d->cat_nl);
    d->lim = malloc((size_t)d->block_rows * d->ncols * sizeof *d->lim);
    if (!d->cat || !d->cat_nl || !d->lim)
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    for (uint32_t j = 0; j < d->ncols; j++) {
        int cat = d->schema.cols[j].type == KM_COL_CATEGORICAL;
        d->lim[j] = cat ? (float)d->schema.cols[j].nlevels : -1.0f;
        if (!cat)
            continue;
        d->cat[d->ncat] = j;
        d->cat_nl[d->ncat++] = (float)d->schema.cols[j].nlevels;
    }
    for (uint32_t r = 1; r < d->block_rows; r++)
        memcpy(d->lim + (size_t)r * d->ncols, d->lim, d->ncols * sizeof *d->lim);
    return 0;
}

static int parse_meta(km_kmx *d, const unsigned char *m, size_t len)
{
    km_cur c = {m, m + len, 0};
    if (km_cur_u32(&c) != KMX_META_TAG)
        return corrupt(d, "metadata section is damaged");
    if (km_cur_u32(&c) != d->ncols)
        return corrupt(d, "metadata disagrees with the header (column count)");
    if (km_cur_u64(&c) != d->nrows)
        return corrupt(d, "metadata disagrees with the footer (row count)");
    d->src.size = km_cur_u64(&c);
    d->src.mtime = (int64_t)km_cur_u64(&c);
    d->src.head_crc = km_cur_u32(&c);
    if (c.bad)
        return corrupt(d, "metadata section is malformed");
    int rc = meta_str(d, &c, "source name", &d->src_name, NULL);
    if (rc)
        return rc;
    d->src.name = d->src_name;
    d->schema.cols = calloc(d->ncols, sizeof *d->schema.cols);
    if (!d->schema.cols)
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    d->schema.ncols = d->ncols;
    for (uint32_t j = 0; j < d->ncols; j++) {
        if ((rc = meta_column(d, &c, j)) < 0)
            return rc;
        if (rc)
            return km_seterr(&d->ctx->err, KM_ECORRUPT,
                             "%s: metadata: the section ends inside column %u's record", d->path,
                             j + 1);
    }
    return list_categorical(d);
}

/* One index entry against the rules of formats/kmx.md (Index): where its
 * chunk lies, which rows it holds, its sizes and filter. row and prev_end
 * are the rows and the end of the chunks before it. */
static int check_entry(km_kmx *d, uint64_t k, const km_kmx_chunk *e, uint64_t row,
                       uint64_t prev_end)
{
    unsigned long long kk = k, off = e->offset;
    uint64_t span = (uint64_t)KMX_CHUNK_HEADER_SIZE + e->comp_len + (uint64_t)d->ncols * KMX_CHUNK_STAT_SIZE;
    uint64_t raw = (uint64_t)e->nrows * d->ncols * 4;
    km_err *err = &d->ctx->err;
    if (off % KMX_ALIGN)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: offset %llu is not a "
                         "multiple of 4096", d->path, kk, off);
    if (off < prev_end && k == 0)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk 0: offset %llu is inside the "
                         "file header (chunks start at 4096)", d->path, off);
    if (off < prev_end)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: offset %llu overlaps "
                         "chunk %llu, which ends at %llu", d->path, kk, off, kk - 1,
                         (unsigned long long)prev_end);
    if (off > d->meta_off || span > d->meta_off - off)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: %llu bytes at offset "
                         "%llu run past the metadata (at %llu)", d->path, kk,
                         (unsigned long long)span, off, (unsigned long long)d->meta_off);
    if (e->first_row != row)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: first row %llu, should "
                         "be %llu", d->path, kk, (unsigned long long)e->first_row,
                         (unsigned long long)row);
    if (e->nrows == 0 || e->nrows > d->rpc)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: %u rows, outside 1..%u "
                         "(rows per chunk)", d->path, kk, e->nrows, d->rpc);
    if (e->raw_len != raw)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: decoded size %u, should "
                         "be %llu (rows x columns x 4)", d->path, kk, e->raw_len,
                         (unsigned long long)raw);
    if (e->filter > KMX_FILTER_I16)
        return km_seterr(err, KM_ECORRUPT, "%s: chunk index: chunk %llu: unknown filter %u",
                         d->path, kk, e->filter);
    return 0;
}

static int parse_index(km_kmx *d, const unsigned char *ix)
{
    d->index = calloc(d->nchunks ? d->nchunks : 1, sizeof *d->index);
    if (!d->index)
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    uint64_t row = 0, prev_end = KMX_ALIGN;
    for (uint64_t k = 0; k < d->nchunks; k++) {
        const unsigned char *p = ix + k * KMX_INDEX_ENTRY_SIZE;
        km_kmx_chunk *e = &d->index[k];
        e->offset = get_u64(p + KMX_IX_OFFSET);
        e->first_row = get_u64(p + KMX_IX_FIRST_ROW);
        e->nrows = get_u32(p + KMX_IX_NROWS);
        e->raw_len = get_u32(p + KMX_IX_RAW_LEN);
        e->comp_len = get_u32(p + KMX_IX_COMP_LEN);
        e->crc = get_u32(p + KMX_IX_PAYLOAD_CRC);
        e->stats_crc = get_u32(p + KMX_IX_STATS_CRC);
        e->filter = p[KMX_IX_FILTER];
        int rc = check_entry(d, k, e, row, prev_end);
        if (rc)
            return rc;
        row += e->nrows;
        prev_end = e->offset + KMX_CHUNK_HEADER_SIZE + e->comp_len +
                   (uint64_t)d->ncols * KMX_CHUNK_STAT_SIZE;
    }
    if (row != d->nrows)
        return km_seterr(&d->ctx->err, KM_ECORRUPT, "%s: chunk index: the chunks hold %llu rows, "
                         "the footer says %llu", d->path, (unsigned long long)row,
                         (unsigned long long)d->nrows);
    return 0;
}

/* The header: signature, version, required features, checksum and the
 * fields the reader relies on. */
static int read_header(km_kmx *d)
{
    const char *path = d->path;
    unsigned char h[KMX_HEADER_SIZE];
    if (d->size < 8)
        return km_seterr(&d->ctx->err, KM_EFORMAT, "%s: not a kmill dataset (too short)", path);
    size_t hn = d->size < KMX_HEADER_SIZE ? (size_t)d->size : KMX_HEADER_SIZE;
    int rc = pread_full(d, h, hn, 0);
    if (rc)
        return rc;
    if (memcmp(h + KMX_HDR_SIGNATURE, KMX_SIGNATURE, KMX_MAGIC_LEN) != 0)
        return km_seterr(&d->ctx->err, KM_EFORMAT, "%s: not a kmill dataset (bad signature)",
                         path);
    if (hn < KMX_HEADER_SIZE)
        return corrupt(d, "truncated file (incomplete header)");
    unsigned major = get_u16(h + KMX_HDR_MAJOR);
    d->minor = get_u16(h + KMX_HDR_MINOR);
    if (major != KMX_MAJOR)
        return km_seterr(&d->ctx->err, KM_EFORMAT,
                         "%s: dataset format version %u.%d is not supported (this kmill reads "
                         "%d.x); convert the CSV again with this kmill",
                         path, major, d->minor, KMX_MAJOR);
    if (get_u32(h + KMX_HDR_CRC) != km_crc32c(0, h, KMX_HDR_CRC))
        return corrupt(d, "header checksum mismatch");
    uint32_t req = get_u32(h + KMX_HDR_REQUIRED);
    if (req & ~KMX_KNOWN_REQUIRED)
        return km_seterr(&d->ctx->err, KM_EFORMAT,
                         "%s: the file needs format features this kmill does not have (0x%x)",
                         path, req & ~KMX_KNOWN_REQUIRED);
    d->ncols = get_u32(h + KMX_HDR_NCOLS);
    d->rpc = get_u32(h + KMX_HDR_ROWS_PER_CHUNK);
    if (h[KMX_HDR_DTYPE] != KMX_DTYPE_F32 || get_u32(h + KMX_HDR_SIZE) < KMX_HEADER_SIZE ||
        get_u32(h + KMX_HDR_ALIGN) != KMX_ALIGN || d->ncols == 0 || d->rpc == 0 ||
        (uint64_t)d->rpc * d->ncols * 4 > KMX_MAX_CHUNK_RAW)
        return corrupt(d, "header fields out of range");
    return 0;
}

int km_kmx_open(km_ctx *ctx, const char *path, int io_kind, km_kmx **out)
{
    km_kmx *d = calloc(1, sizeof *d);
    if (!d || !(d->path = strdup(path))) {
        free(d);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    d->ctx = ctx;
    d->fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = 0;
    unsigned char *meta = NULL, *ix = NULL;
    if (d->fd < 0) {
        rc = km_seterr(&ctx->err, KM_EIO, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(d->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = km_seterr(&ctx->err, KM_EFORMAT, "%s: not a regular file", path);
        goto fail;
    }
    d->size = (uint64_t)st.st_size;
    if ((rc = read_header(d)))
        goto fail;
    unsigned char f[KMX_FOOTER_SIZE];
    if (d->size < KMX_ALIGN + KMX_FOOTER_SIZE ||
        (rc = pread_full(d, f, sizeof f, d->size - KMX_FOOTER_SIZE)) ||
        memcmp(f + KMX_FTR_END_MAGIC, KMX_END_MAGIC, KMX_MAGIC_LEN) != 0) {
        rc = corrupt(d, "truncated or incomplete (no footer; was the conversion interrupted?)");
        goto fail;
    }
    if (get_u32(f + KMX_FTR_CRC) != km_crc32c(0, f, KMX_FTR_CRC)) {
        rc = corrupt(d, "footer checksum mismatch");
        goto fail;
    }
    d->meta_off = get_u64(f + KMX_FTR_META_OFF);
    uint64_t meta_len = get_u64(f + KMX_FTR_META_LEN), ix_off = get_u64(f + KMX_FTR_IX_OFF);
    d->nchunks = get_u64(f + KMX_FTR_NCHUNKS);
    d->nrows = get_u64(f + KMX_FTR_NROWS);
    uint64_t body_end = d->size - KMX_FOOTER_SIZE;
    if (d->meta_off < KMX_ALIGN || meta_len > body_end || d->meta_off > body_end - meta_len ||
        ix_off != d->meta_off + meta_len || d->nchunks > (body_end - ix_off) / KMX_INDEX_ENTRY_SIZE ||
        ix_off + d->nchunks * KMX_INDEX_ENTRY_SIZE != body_end) {
        rc = corrupt(d, "footer offsets out of range");
        goto fail;
    }
    meta = malloc(meta_len ? meta_len : 1);
    ix = malloc(d->nchunks ? d->nchunks * KMX_INDEX_ENTRY_SIZE : 1);
    if (!meta || !ix) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = pread_full(d, meta, meta_len, d->meta_off)) ||
        (rc = pread_full(d, ix, d->nchunks * KMX_INDEX_ENTRY_SIZE, ix_off)))
        goto fail;
    if (get_u32(f + KMX_FTR_META_CRC) != km_crc32c(0, meta, meta_len)) {
        rc = corrupt(d, "metadata checksum mismatch");
        goto fail;
    }
    if (get_u32(f + KMX_FTR_IX_CRC) != km_crc32c(0, ix, d->nchunks * KMX_INDEX_ENTRY_SIZE)) {
        rc = corrupt(d, "index checksum mismatch");
        goto fail;
    }
    if ((rc = parse_meta(d, meta, meta_len)) || (rc = parse_index(d, ix)))
        goto fail;
    free(meta);
    free(ix);
    meta = ix = NULL;
    d->dctx = ZSTD_createDCtx();
    if (!d->dctx) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = km_io_open(ctx, d->fd, io_kind, 16, &d->io)))
        goto fail;
    *out = d;
    return 0;
fail:
    free(meta);
    free(ix);
    km_kmx_close(d);
    return rc;
}

static void scan_free(km_kmx_scan *s);

void km_kmx_close(km_kmx *d)
{
    if (!d)
        return;
    scan_free(d->spare);
    if (d->io)
        km_io_close(d->io);
    if (d->fd >= 0)
        close(d->fd);
    km_schema_free(&d->schema);
    ZSTD_freeDCtx(d->dctx);
    free(d->index);
    free(d->cat);
    free(d->cat_nl);
    free(d->lim);
    free(d->src_name);
    free(d->path);
    free(d);
}

const km_schema *km_kmx_schema(const km_kmx *d) { return &d->schema; }
const char *km_kmx_path(const km_kmx *d) { return d->path; }

int km_kmx_set_name(km_kmx *d, const char *name)
{
    char *p = strdup(name);
    if (!p)
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    free(d->path);
    d->path = p;
    return 0;
}

uint64_t km_kmx_rows(const km_kmx *d) { return d->nrows; }
uint64_t km_kmx_nchunks(const km_kmx *d) { return d->nchunks; }
const km_kmx_chunk *km_kmx_chunk_info(const km_kmx *d, uint64_t k) { return &d->index[k]; }
uint64_t km_kmx_file_size(const km_kmx *d) { return d->size; }
uint32_t km_kmx_rows_per_chunk(const km_kmx *d) { return d->rpc; }
const km_kmx_source *km_kmx_source_info(const km_kmx *d) { return &d->src; }
const char *km_kmx_io_name(const km_kmx *d) { return km_io_name(d->io); }
int km_kmx_version(const km_kmx *d, int *minor)
{
    if (minor)
        *minor = d->minor;
    return KMX_MAJOR;
}

static size_t region_len(const km_kmx *d, const km_kmx_chunk *e)
{
    return KMX_CHUNK_HEADER_SIZE + e->comp_len + (size_t)d->ncols * KMX_CHUNK_STAT_SIZE;
}

/* Narrowed chunks back to floats. Unvectorised (GCC -O2 would not, for
 * fear the two buffers overlap), the byte loop took 28% of an info
 * --verify of Fashion-MNIST. */
KMX_HOT static void widen_u8(const unsigned char *restrict s, size_t n, float *restrict out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)s[i];
}

KMX_HOT static void widen_i16(const unsigned char *restrict s, size_t n, float *restrict out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)(int16_t)(uint16_t)(s[2 * i] | s[2 * i + 1] << 8);
}

/* Whether a column whose level count is lim may hold x: any value when lim
 * is negative (a numeric column), else NaN (missing) or a whole number in
 * [0, lim). Whole: at or above 2^23 every float is; below, adding and
 * taking away 2^23 rounds any fraction away. No branch and no conversion
 * to an integer (which GCC will not if-convert), so the loops below
 * vectorise. */
static inline int code_ok(float x, float lim)
{
    float r = (float)((float)(x + 0x1p23f) - 0x1p23f);
    return (x != x) | (lim < 0) | ((x >= 0) & (x < lim) & ((x >= 0x1p23f) | (r == x)));
}

/* n values of a decoded chunk, whole rows, against lim tiled to match
 * (see code_ok): for chunks with many categorical columns, one flat pass. */
KMX_HOT static int codes_ok_dense(const float *restrict v, size_t n, const float *restrict lim)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= !code_ok(v[i], lim[i]);
    return !bad;
}

/* widen_u8 and widen_i16 that also check the codes against lim tiled to
 * match (see code_ok), for chunks with many categorical columns: values
 * stored as integers are whole and never NaN, so only the range is left,
 * tested on the value as it is written. */
KMX_HOT static int widen_u8_codes(const unsigned char *restrict s, size_t n, float *restrict out,
                                  const float *restrict lim)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float x = (float)s[i];
        out[i] = x;
        bad |= (x >= lim[i]) & (lim[i] >= 0);
    }
    return !bad;
}

KMX_HOT static int widen_i16_codes(const unsigned char *restrict s, size_t n, float *restrict out,
                                   const float *restrict lim)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float x = (float)(int16_t)(uint16_t)(s[2 * i] | s[2 * i + 1] << 8);
        out[i] = x;
        bad |= ((x < 0) | (x >= lim[i])) & (lim[i] >= 0);
    }
    return !bad;
}

/* The same over the ncat categorical columns only (numbers cat, level
 * counts nl): for chunks with few of them among many columns. */
KMX_HOT static int codes_ok_sparse(const float *restrict v, size_t nrows, size_t ncols,
                                   const uint32_t *restrict cat, const float *restrict nl,
                                   uint32_t ncat)
{
    int bad = 0;
    for (size_t r = 0; r < nrows; r++)
        for (uint32_t k = 0; k < ncat; k++)
            bad |= !code_ok(v[r * ncols + cat[k]], nl[k]);
    return !bad;
}

/* Whether a chunk has many categorical columns, at least one in eight:
 * then checked in one flat pass, else column by column. */
static int dense_codes(const km_kmx *d)
{
    return d->ncat && (uint64_t)d->ncat * 8 >= d->ncols;
}

/* Whether every categorical value of nrows decoded rows (at most
 * d->block_rows) is missing or a code of its column; the message comes
 * from bad_code. */
static int codes_ok(const km_kmx *d, const float *v, size_t nrows)
{
    if (!d->ncat)
        return 1;
    if (dense_codes(d))
        return codes_ok_dense(v, nrows * d->ncols, d->lim);
    return codes_ok_sparse(v, nrows, d->ncols, d->cat, d->cat_nl, d->ncat);
}

/* The message for the first value codes_ok refused. */
static void bad_code(const km_kmx *d, uint64_t k, const float *v, char *err, size_t errlen)
{
    const km_kmx_chunk *e = &d->index[k];
    for (uint32_t r = 0; r < e->nrows; r++) {
        for (uint32_t q = 0; q < d->ncat; q++) {
            const km_column *c = &d->schema.cols[d->cat[q]];
            float x = v[(size_t)r * d->ncols + d->cat[q]];
            if (code_ok(x, d->cat_nl[q]))
                continue;
            int n = snprintf(err, errlen, "%s: chunk %llu: row %llu, column '%s': category code %g",
                             d->path, (unsigned long long)k,
                             (unsigned long long)(e->first_row + r), c->name, (double)x);
            if (n >= 0 && (size_t)n < errlen && floorf(x) == x)
                snprintf(err + n, errlen - (size_t)n, " outside its %u levels", c->nlevels);
            else if (n >= 0 && (size_t)n < errlen)
                snprintf(err + n, errlen - (size_t)n, " is not a whole number");
            return;
        }
    }
}

/* Undo a chunk's filter from scratch into out and, when codes is set,
 * check its categorical codes (codes_ok): a block of rows at a time, each
 * checked while it is still in cache (a second pass over a whole chunk
 * would read it back from memory). 0 when a code is refused. */
static int unfilter(const km_kmx *d, const km_kmx_chunk *e, const unsigned char *scratch,
                    float *out, int codes)
{
    size_t nc = d->ncols, n = e->raw_len / 4, step = d->block_rows;
    int ok = 1, fused = codes && dense_codes(d);
    for (size_t r = 0; r < e->nrows; r += step) {
        size_t nb = e->nrows - r < step ? e->nrows - r : step, i0 = r * nc, m = nb * nc;
        if (e->filter == KMX_FILTER_U8 && fused) {
            ok &= widen_u8_codes(scratch + i0, m, out + i0, d->lim);
            continue;
        }
        if (e->filter == KMX_FILTER_I16 && fused) {
            ok &= widen_i16_codes(scratch + 2 * i0, m, out + i0, d->lim);
            continue;
        }
        if (e->filter == KMX_FILTER_SHUFFLE)
            kmx_unshuffle_range((unsigned char *)out, scratch, n, i0, m);
        else if (e->filter == KMX_FILTER_U8)
            widen_u8(scratch + i0, m, out + i0);
        else if (e->filter == KMX_FILTER_I16)
            widen_i16(scratch + 2 * i0, m, out + i0);
        if (codes)
            ok &= codes_ok(d, out + i0, nb);
    }
    return ok;
}

/* Check and decode one chunk's region (header, payload, stats) into out.
 * scratch holds raw_len bytes unless the chunk is stored unfiltered. Thread-safe given
 * its own dctx. Writes a message into err (not ctx) on failure. */
static int decode_region(const km_kmx *d, uint64_t k, const unsigned char *reg, float *out,
                         unsigned char *scratch, ZSTD_DCtx *dctx, int codes, char *err,
                         size_t errlen)
{
    const km_kmx_chunk *e = &d->index[k];
    const unsigned char *payload = reg + KMX_CHUNK_HEADER_SIZE;
    if (get_u32(reg + KMX_CHDR_TAG) != KMX_CHUNK_TAG ||
        get_u32(reg + KMX_CHDR_CRC) != km_crc32c(0, reg, KMX_CHDR_CRC) ||
        get_u32(reg + KMX_CHDR_NROWS) != e->nrows ||
        get_u64(reg + KMX_CHDR_FIRST_ROW) != e->first_row ||
        get_u32(reg + KMX_CHDR_RAW_LEN) != e->raw_len ||
        get_u32(reg + KMX_CHDR_STATS_CRC) != e->stats_crc ||
        get_u32(reg + KMX_CHDR_COMP_LEN) != e->comp_len ||
        get_u32(reg + KMX_CHDR_PAYLOAD_CRC) != e->crc || reg[KMX_CHDR_FILTER] != e->filter) {
        snprintf(err, errlen, "%s: chunk %llu: header damaged", d->path, (unsigned long long)k);
        return KM_ECORRUPT;
    }
    if (km_crc32c(0, payload, e->comp_len) != e->crc ||
        km_crc32c(0, payload + e->comp_len, (size_t)d->ncols * KMX_CHUNK_STAT_SIZE) != e->stats_crc) {
        snprintf(err, errlen, "%s: chunk %llu: checksum mismatch", d->path, (unsigned long long)k);
        return KM_ECORRUPT;
    }
    size_t n = e->raw_len / 4;
    size_t want = e->filter == KMX_FILTER_U8 ? n : e->filter == KMX_FILTER_I16 ? 2 * n : e->raw_len;
    void *dst = e->filter == KMX_FILTER_NONE ? (void *)out : (void *)scratch;
    size_t r = ZSTD_decompressDCtx(dctx, dst, want, payload, e->comp_len);
    if (ZSTD_isError(r) || r != want) {
        snprintf(err, errlen, "%s: chunk %llu: cannot decompress (%s)", d->path,
                 (unsigned long long)k, ZSTD_isError(r) ? ZSTD_getErrorName(r) : "wrong size");
        return KM_ECORRUPT;
    }
    if (!unfilter(d, e, scratch, out, codes)) {
        bad_code(d, k, out, err, errlen);
        return KM_ECORRUPT;
    }
    return 0;
}

/* km_kmx_read_chunk, and with codes 0 km_kmx_read_chunk_raw. */
static int read_chunk(km_kmx *d, uint64_t k, float *out, int codes)
{
    if (k >= d->nchunks)
        return km_seterr(&d->ctx->err, KM_EINVAL, "%s: no chunk %llu", d->path, (unsigned long long)k);
    const km_kmx_chunk *e = &d->index[k];
    size_t len = region_len(d, e);
    unsigned char *reg = malloc(len);
    unsigned char *scratch = e->filter != KMX_FILTER_NONE ? malloc(e->raw_len) : NULL;
    int rc;
    if (!reg || (e->filter != KMX_FILTER_NONE && !scratch)) {
        rc = km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    } else if (!(rc = pread_full(d, reg, len, e->offset))) {
        char err[KM_ERRMSG_MAX];
        rc = decode_region(d, k, reg, out, scratch, d->dctx, codes, err, sizeof err);
        if (rc)
            km_seterr(&d->ctx->err, rc, "%s", err);
    }
    free(reg);
    free(scratch);
    return rc;
}

int km_kmx_read_chunk(km_kmx *d, uint64_t k, float *out)
{
    return read_chunk(d, k, out, 1);
}

int km_kmx_read_chunk_raw(km_kmx *d, uint64_t k, float *out)
{
    return read_chunk(d, k, out, 0);
}

/* ---- scans ------------------------------------------------------------ */

/* A scan is a three-stage pipeline over batches of chunks: one batch
 * reads in the I/O backend, the one before it decodes as a pool job, and
 * the one before that is served to the caller. The decode job is
 * submitted, not run: its items fill the cores whenever the caller's own
 * work (the kernel products of a pass, features applied on its thread)
 * leaves one idle, instead of stopping that work at a barrier for every
 * batch. */

struct sbuf {
    uint64_t chunk;
    unsigned char *reg;
    size_t reg_cap;
    float *rows;
    size_t rows_cap;
    int rc;
    char err[KM_ERRMSG_MAX];
};

struct batch {
    km_kmx_scan *s;
    struct sbuf *b;
    size_t n;
    km_ioreq *req;
    km_job *job; /* its decode job, until waited for */
};

enum { SERVE, DECODE, READ }; /* the roles of the three batches */

struct km_kmx_scan {
    km_kmx *d;
    km_pool *pool;
    uint64_t *list;
    uint64_t n, pos;
    size_t bsize;
    struct batch bat[3];
    struct batch *at[3]; /* bat by role */
    int inflight;        /* at[READ] has reads in the backend */
    size_t serve;
    ZSTD_DCtx **dctx;          /* one a task, by worker index */
    unsigned char **scratch;   /* a filter's scratch, one a task */
    size_t *scratch_cap;
    int ndctx;
    int failed; /* the error returned, returned again by every later call */
};

/* *p holds need bytes: 0, or KM_ENOMEM with no message (a decode job, on
 * a worker, calls it too): the caller words it. */
static int ensure(void **p, size_t *cap, size_t need)
{
    if (*cap >= need)
        return 0;
    void *np = realloc(*p, need);
    if (!np)
        return KM_ENOMEM;
    *p = np;
    *cap = need;
    return 0;
}

/* The next chunks' reads into at[READ]. */
static int submit_batch(km_kmx_scan *s)
{
    km_kmx *d = s->d;
    struct batch *b = s->at[READ];
    b->n = 0;
    while (b->n < s->bsize && s->pos < s->n) {
        struct sbuf *sb = &b->b[b->n];
        sb->chunk = s->list ? s->list[s->pos] : s->pos;
        if (sb->chunk >= d->nchunks)
            return km_seterr(&d->ctx->err, KM_EINVAL, "%s: no chunk %llu", d->path,
                             (unsigned long long)sb->chunk);
        const km_kmx_chunk *e = &d->index[sb->chunk];
        size_t len = region_len(d, e);
        if (ensure((void **)&sb->reg, &sb->reg_cap, len))
            return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
        b->req[b->n].off = e->offset;
        b->req[b->n].buf = sb->reg;
        b->req[b->n].len = len;
        b->req[b->n].got = 0;
        b->n++;
        s->pos++;
    }
    if (!b->n)
        return 0;
    int rc = km_io_submit(d->io, b->req, b->n);
    if (rc)
        return rc;
    s->inflight = 1;
    return 0;
}

static void decode_job(void *arg, size_t i, int worker)
{
    struct batch *b = arg;
    km_kmx_scan *s = b->s;
    km_kmx *d = s->d;
    struct sbuf *sb = &b->b[i];
    const km_kmx_chunk *e = &d->index[sb->chunk];
    sb->rc = 0;
    if (b->req[i].got < b->req[i].len) {
        snprintf(sb->err, sizeof sb->err, "%s: chunk %llu: truncated file", d->path,
                 (unsigned long long)sb->chunk);
        sb->rc = KM_ECORRUPT;
        return;
    }
    if (ensure((void **)&sb->rows, &sb->rows_cap, e->raw_len) ||
        (e->filter != KMX_FILTER_NONE &&
         ensure((void **)&s->scratch[worker], &s->scratch_cap[worker], e->raw_len))) {
        snprintf(sb->err, sizeof sb->err, "out of memory");
        sb->rc = KM_ENOMEM;
        return;
    }
    sb->rc = decode_region(d, sb->chunk, sb->reg, sb->rows, s->scratch[worker], s->dctx[worker],
                           1, sb->err, sizeof sb->err);
}

/* A new scan's buffers: the file's spare when it was made for a pool of
 * this size (another is freed), else allocated; NULL when out of memory. */
static km_kmx_scan *scan_buffers(km_kmx *d, km_pool *pool)
{
    km_kmx_scan *s = d->spare;
    d->spare = NULL;
    if (s && s->ndctx == km_pool_workers(pool) + 1)
        return s;
    scan_free(s);
    if (!(s = calloc(1, sizeof *s)))
        return NULL;
    s->d = d;
    s->ndctx = km_pool_workers(pool) + 1;
    s->bsize = (size_t)s->ndctx;
    s->dctx = calloc((size_t)s->ndctx, sizeof *s->dctx);
    s->scratch = calloc((size_t)s->ndctx, sizeof *s->scratch);
    s->scratch_cap = calloc((size_t)s->ndctx, sizeof *s->scratch_cap);
    int bad = !s->dctx || !s->scratch || !s->scratch_cap;
    for (int k = 0; k < 3; k++) {
        s->bat[k].s = s;
        s->bat[k].b = calloc(s->bsize, sizeof(struct sbuf));
        s->bat[k].req = calloc(s->bsize, sizeof(km_ioreq));
        bad |= !s->bat[k].b || !s->bat[k].req;
    }
    for (int i = 0; i < s->ndctx && !bad; i++)
        bad = !(s->dctx[i] = ZSTD_createDCtx());
    if (bad) {
        scan_free(s);
        return NULL;
    }
    return s;
}

int km_kmx_scan_open(km_kmx *d, km_pool *pool, const uint64_t *list, uint64_t n, km_kmx_scan **out)
{
    km_kmx_scan *s = scan_buffers(d, pool);
    if (!s)
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
    s->pool = pool;
    s->n = list ? n : d->nchunks;
    s->list = NULL;
    if (list) {
        s->list = malloc((n ? n : 1) * sizeof *s->list);
        if (!s->list) {
            scan_free(s);
            return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory");
        }
        memcpy(s->list, list, n * sizeof *list);
    }
    s->pos = s->serve = 0;
    s->failed = 0;
    for (int k = 0; k < 3; k++) {
        s->at[k] = &s->bat[k];
        s->bat[k].n = 0;
    }
    *out = s;
    return 0;
}

/* Fault injection (km_ctx): the chunk of the batch just read that is the
 * process's fault_read_after-th fails. */
static int inject_fault(km_kmx_scan *s, struct batch *b)
{
    km_ctx *ctx = s->d->ctx;
    for (size_t i = 0; i < b->n; i++) {
        if (++ctx->fault_reads != ctx->fault_read_after)
            continue;
        if (ctx->fault_read_kind == KM_FAULT_EIO)
            return km_seterr(&ctx->err, KM_EIO, "%s: chunk %llu: read failed: Input/output error",
                             s->d->path, (unsigned long long)b->b[i].chunk);
        if (ctx->fault_read_kind == KM_FAULT_CORRUPT)
            b->b[i].reg[b->req[i].len / 2] ^= 0x40;
        else
            b->req[i].got = b->req[i].len / 2;
    }
    return 0;
}

/* Move the batch read (if any) to decoding, its decode job queued, and
 * start the next reads into the buffers the served batch has left. */
static int advance(km_kmx_scan *s)
{
    int rc;
    if (!s->inflight)
        return 0;
    if ((rc = km_io_wait(s->d->io)))
        return rc;
    s->inflight = 0;
    struct batch *read = s->at[READ];
    if (s->d->ctx->fault_read_after && (rc = inject_fault(s, read)))
        return rc;
    s->at[READ] = s->at[SERVE];
    s->at[SERVE] = s->at[DECODE];
    s->at[DECODE] = read;
    read->job = km_pool_submit(s->pool, read->n, decode_job, read);
    if (!read->job)
        return km_seterr(&s->d->ctx->err, KM_ENOMEM, "out of memory");
    s->at[READ]->n = 0;
    return submit_batch(s);
}

int km_kmx_scan_next(km_kmx_scan *s, const float **rows, uint32_t *nrows, uint64_t *first_row)
{
    km_kmx *d = s->d;
    int rc;
    if (s->serve >= s->at[SERVE]->n) {
        if (s->failed)
            return s->failed;
        if (!s->at[DECODE]->job) { /* the first call: fill the pipeline */
            if ((rc = submit_batch(s)) || (rc = advance(s)))
                return s->failed = rc;
            if (!s->at[DECODE]->job)
                return 0;
        }
        struct batch *b = s->at[DECODE];
        km_pool_wait(s->pool, b->job);
        b->job = NULL;
        for (size_t i = 0; i < b->n; i++)
            if (b->b[i].rc)
                return s->failed = km_seterr(&d->ctx->err, b->b[i].rc, "%s", b->b[i].err);
        if (km_check_interrupt(d->ctx))
            return s->failed = KM_EINTR;
        /* a read that failed is reported after b, whose chunks come first */
        s->failed = advance(s);
        if (s->at[DECODE] == b) { /* nothing was read beyond b: b is served */
            s->at[DECODE] = s->at[SERVE];
            s->at[SERVE] = b;
            s->at[DECODE]->n = 0;
        }
        s->serve = 0;
    }
    struct sbuf *sb = &s->at[SERVE]->b[s->serve++];
    const km_kmx_chunk *e = &d->index[sb->chunk];
    *rows = sb->rows;
    *nrows = e->nrows;
    *first_row = e->first_row;
    return 1;
}

int km_kmx_each(km_kmx *d, km_pool *pool, km_kmx_rows_fn fn, void *arg)
{
    return km_kmx_each_of(d, pool, NULL, 0, fn, arg);
}

int km_kmx_each_of(km_kmx *d, km_pool *pool, const uint64_t *list, uint64_t n, km_kmx_rows_fn fn,
                   void *arg)
{
    km_kmx_scan *scan = NULL;
    int rc = km_kmx_scan_open(d, pool, list, n, &scan);
    while (!rc) {
        const float *rows;
        uint32_t nr;
        uint64_t first;
        int r = km_kmx_scan_next(scan, &rows, &nr, &first);
        if (r <= 0) {
            rc = r;
            break;
        }
        rc = fn(arg, rows, nr, first);
    }
    km_kmx_scan_close(scan);
    return rc;
}

/* Wait for what a scan has in flight: its buffers must outlive the reads
 * and the decoding. */
static void scan_quiesce(km_kmx_scan *s)
{
    if (s->inflight)
        km_io_wait(s->d->io);
    s->inflight = 0;
    for (int k = 0; k < 3; k++)
        if (s->bat[k].job) {
            km_pool_wait(s->pool, s->bat[k].job);
            s->bat[k].job = NULL;
        }
}

static void scan_free(km_kmx_scan *s)
{
    if (!s)
        return;
    for (int k = 0; k < 3; k++) {
        struct batch *b = &s->bat[k];
        for (size_t i = 0; b->b && i < s->bsize; i++) {
            free(b->b[i].reg);
            free(b->b[i].rows);
        }
        free(b->b);
        free(b->req);
    }
    for (int i = 0; i < s->ndctx; i++) {
        if (s->dctx)
            ZSTD_freeDCtx(s->dctx[i]);
        if (s->scratch)
            free(s->scratch[i]);
    }
    free(s->dctx);
    free(s->scratch);
    free(s->scratch_cap);
    free(s->list);
    free(s);
}

/* While the file is held, the scan is kept as its spare: a pass made
 * again (each iteration of a solver is one) finds its buffers mapped,
 * instead of faulting in and zeroing a fresh set of pages every pass. */
void km_kmx_scan_close(km_kmx_scan *s)
{
    if (!s)
        return;
    scan_quiesce(s);
    free(s->list);
    s->list = NULL;
    km_kmx *d = s->d;
    if (d->spare || d->holds <= 0) {
        scan_free(s);
        return;
    }
    d->spare = s;
}

void km_kmx_hold(km_kmx *d)
{
    d->holds++;
}

void km_kmx_release(km_kmx *d)
{
    if (--d->holds > 0)
        return;
    scan_free(d->spare);
    d->spare = NULL;
}

/* ---- sampling --------------------------------------------------------- */

int km_kmx_sample(km_kmx *d, uint64_t n, uint64_t seed, uint64_t *rows)
{
    if (n > d->nrows)
        return km_seterr(&d->ctx->err, KM_EINVAL, "cannot sample %llu rows from %llu",
                         (unsigned long long)n, (unsigned long long)d->nrows);
    if (km_sample_indices(d->nrows, n, seed, rows))
        return km_seterr(&d->ctx->err, KM_ENOMEM, "out of memory sampling %llu rows",
                         (unsigned long long)n);
    return 0;
}

int km_kmx_probe(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    unsigned char h[KMX_MAGIC_LEN];
    int yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
              pread(fd, h, KMX_MAGIC_LEN, KMX_HDR_SIGNATURE) == KMX_MAGIC_LEN &&
              memcmp(h, KMX_SIGNATURE, KMX_MAGIC_LEN) == 0;
    close(fd);
    return yes;
}

uint64_t km_kmx_scan_estimate(const km_kmx *d, int tasks)
{
    /* three batches of `tasks` chunks (reading, decoding, served), each
     * holding its region as read and its rows, sized by the largest chunk;
     * a filter's scratch and a decompression context per task (about 160
     * KiB: zstd's own estimate is in its static-linking-only API) */
    uint64_t big = 0, raw = 0;
    for (uint64_t k = 0; k < d->nchunks; k++) {
        const km_kmx_chunk *e = &d->index[k];
        uint64_t b = region_len(d, e) + e->raw_len;
        big = b > big ? b : big;
        raw = e->filter && e->raw_len > raw ? e->raw_len : raw;
    }
    uint64_t held = 3 * (uint64_t)tasks < d->nchunks ? 3 * (uint64_t)tasks : d->nchunks;
    return held * big + (uint64_t)tasks * (raw + (160u << 10));
}

void km_kmx_summarize(const km_kmx *d, km_kmx_summary *s)
{
    memset(s, 0, sizeof *s);
    s->major = km_kmx_version(d, &s->minor);
    for (uint64_t k = 0; k < d->nchunks; k++) {
        const km_kmx_chunk *e = &d->index[k];
        s->comp_bytes += e->comp_len;
        s->raw_bytes += e->raw_len;
        s->filters[e->filter <= KMX_FILTER_I16 ? e->filter : 0]++;
    }
    const km_schema *sc = km_kmx_schema(d);
    for (uint32_t j = 0; j < sc->ncols; j++)
        s->categorical += sc->cols[j].type == KM_COL_CATEGORICAL;
    s->ratio = s->comp_bytes ? (double)s->raw_bytes / (double)s->comp_bytes : 0;
}
