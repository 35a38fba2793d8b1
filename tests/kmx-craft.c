/* kmx-craft.c - makes .kmx files that are consistent with their checksums
 * but not with themselves, for the reader's validation tests
 * (tests/cli/kmx-validate.sh). No kmill command writes such a file.
 *
 *   kmx-craft make OUT ROWS [ROW COL VALUE]...
 *       a dataset of ROWS rows in chunks of 16, columns x (numeric), colour (categorical:
 *       red green blue grey) and label (categorical: no yes), written with
 *       the library's writer, with the given cells (COL 0..2) replaced by
 *       VALUE as they are (e.g. the code -1): every checksum is valid.
 *   kmx-craft patch FILE FIELD VALUE
 *       set one field of the metadata or the index, then recompute the
 *       metadata, index and footer checksums. FIELD is meta.srclen,
 *       meta.J.type, meta.J.namelen, meta.J.nlevels, meta.J.levellen (the
 *       first level's length), meta.J.count, meta.J.min (column J from 0),
 *       or ix.K.offset, ix.K.first_row, ix.K.nrows, ix.K.raw_len,
 *       ix.K.filter (chunk K). */
#include "config.h"
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/crc32c.h"
#include "kmill/kmx.h"
#include "data/kmx_format.h"

static int die(const char *what)
{
    fprintf(stderr, "kmx-craft: %s\n", what);
    return 2;
}

static int make(const char *out, uint32_t rows, int argc, char **argv)
{
    static const char *colour[] = {"red", "green", "blue", "grey"}, *label[] = {"no", "yes"};
    km_ctx ctx;
    km_ctx_init(&ctx, "kmx-craft");
    km_kmx_wopts o = {1, KMX_SHUFFLE_AUTO, 16, NULL};
    km_kmx_writer *w;
    float *x = malloc((rows ? rows : 1) * 3 * sizeof *x);
    if (!x || km_kmx_create(&ctx, out, 3, &o, &w))
        return die(ctx.err.msg);
    for (uint32_t r = 0; r < rows; r++) {
        double u = (r * 0.618034) - floor(r * 0.618034);
        x[3 * r] = (float)u;
        x[3 * r + 1] = (float)(r % 4);
        x[3 * r + 2] = u > 0.5 ? 1.0f : 0.0f;
    }
    for (int i = 0; i + 2 < argc; i += 3) {
        uint32_t r = (uint32_t)atoi(argv[i]), c = (uint32_t)atoi(argv[i + 1]);
        if (r >= rows || c > 2)
            return die("cell out of range");
        x[3 * r + c] = strtof(argv[i + 2], NULL);
    }
    km_schema s = {3, calloc(3, sizeof(km_column))};
    s.cols[0].name = strdup("x");
    s.cols[1].name = strdup("colour");
    s.cols[2].name = strdup("label");
    for (int j = 1; j < 3; j++) {
        km_column *c = &s.cols[j];
        c->type = KM_COL_CATEGORICAL;
        c->nlevels = j == 1 ? 4 : 2;
        c->levels = calloc(c->nlevels, sizeof *c->levels);
        c->level_len = calloc(c->nlevels, sizeof *c->level_len);
        for (uint32_t k = 0; k < c->nlevels; k++) {
            c->levels[k] = strdup(j == 1 ? colour[k] : label[k]);
            c->level_len[k] = (uint32_t)strlen(c->levels[k]);
        }
    }
    km_kmx_source src = {"craft", 0, 0, 0};
    int rc = 0;
    for (uint32_t r = 0; r < rows && !rc; r += 16) {
        uint32_t n = rows - r < 16 ? rows - r : 16;
        memcpy(km_kmx_buffer(w), x + 3 * r, n * 3 * sizeof *x);
        rc = km_kmx_put(w, n);
    }
    rc = rc || km_kmx_finish(w, &s, &src);
    free(x);
    km_kmx_abort(w);
    km_schema_free(&s);
    return rc ? die(ctx.err.msg) : 0;
}

/* Offset and width of FIELD inside the metadata (m, len) or the index. */
static long field_at(const unsigned char *m, size_t len, const char *field, int *width, int *in_ix)
{
    unsigned k, j;
    char name[32];
    *in_ix = sscanf(field, "ix.%u.%31s", &k, name) == 2;
    if (*in_ix) {
        static const struct { const char *n; int off, w; } f[] = {
            {"offset", KMX_IX_OFFSET, 8}, {"first_row", KMX_IX_FIRST_ROW, 8},
            {"nrows", KMX_IX_NROWS, 4}, {"raw_len", KMX_IX_RAW_LEN, 4}, {"filter", KMX_IX_FILTER, 1}};
        for (size_t i = 0; i < sizeof f / sizeof *f; i++)
            if (strcmp(name, f[i].n) == 0) {
                *width = f[i].w;
                return (long)k * KMX_INDEX_ENTRY_SIZE + f[i].off;
            }
        return -1;
    }
    km_cur c = {m, m + len, 0};
    km_cur_take(&c, 36);
    *width = 4;
    if (strcmp(field, "meta.srclen") == 0)
        return (long)(c.p - m);
    if (sscanf(field, "meta.%u.%31s", &j, name) != 2)
        return -1;
    *width = strcmp(name, "min") == 0 || strcmp(name, "count") == 0 ? 8 : 4;
    km_cur_take(&c, km_cur_u32(&c)); /* the source name */
    for (unsigned q = 0; q <= j && !c.bad; q++) {
        long at[5]; /* type, namelen, nlevels, levellen, min */
        at[0] = (long)(c.p - m);
        km_cur_take(&c, 4);
        at[1] = (long)(c.p - m);
        km_cur_take(&c, km_cur_u32(&c));
        at[2] = (long)(c.p - m);
        uint32_t nl = km_cur_u32(&c);
        at[3] = (long)(c.p - m);
        for (uint32_t l = 0; l < nl && !c.bad; l++)
            km_cur_take(&c, km_cur_u32(&c));
        at[4] = (long)(c.p - m);
        km_cur_take(&c, 48);
        static const char *names[] = {"type", "namelen", "nlevels", "levellen", "min"};
        for (int i = 0; q == j && i < 5; i++)
            if (strcmp(name, names[i]) == 0)
                return at[i];
        if (q == j && strcmp(name, "count") == 0)
            return at[4] + 32;
    }
    return -1;
}

static int patch(const char *path, const char *field, const char *value)
{
    int fd = open(path, O_RDWR);
    off_t size = fd < 0 ? 0 : lseek(fd, 0, SEEK_END);
    unsigned char f[KMX_FOOTER_SIZE];
    if (size < KMX_FOOTER_SIZE || pread(fd, f, sizeof f, size - KMX_FOOTER_SIZE) != (ssize_t)sizeof f)
        return die("cannot read the footer");
    uint64_t moff = get_u64(f + KMX_FTR_META_OFF), mlen = get_u64(f + KMX_FTR_META_LEN);
    uint64_t ixlen = get_u64(f + KMX_FTR_NCHUNKS) * KMX_INDEX_ENTRY_SIZE;
    unsigned char *m = malloc(mlen + ixlen);
    if (!m || pread(fd, m, mlen + ixlen, (off_t)moff) != (ssize_t)(mlen + ixlen))
        return die("cannot read the metadata");
    int width, in_ix;
    long at = field_at(m, mlen, field, &width, &in_ix);
    unsigned char *p = m + (in_ix ? mlen : 0) + at;
    if (at < 0 || (uint64_t)at + (uint64_t)width > (in_ix ? ixlen : mlen))
        return die("no such field");
    if (strcmp(field + strlen(field) - 4, ".min") == 0)
        put_f64(p, strtod(value, NULL));
    else if (width == 8)
        put_u64(p, strtoull(value, NULL, 0));
    else if (width == 4)
        put_u32(p, (uint32_t)strtoll(value, NULL, 0));
    else
        *p = (unsigned char)strtol(value, NULL, 0);
    put_u32(f + KMX_FTR_META_CRC, km_crc32c(0, m, mlen));
    put_u32(f + KMX_FTR_IX_CRC, km_crc32c(0, m + mlen, ixlen));
    put_u32(f + KMX_FTR_CRC, km_crc32c(0, f, KMX_FTR_CRC));
    if (pwrite(fd, m, mlen + ixlen, (off_t)moff) != (ssize_t)(mlen + ixlen) ||
        pwrite(fd, f, sizeof f, size - KMX_FOOTER_SIZE) != (ssize_t)sizeof f || close(fd))
        return die("cannot write");
    free(m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 4 && strcmp(argv[1], "make") == 0)
        return make(argv[2], (uint32_t)atoi(argv[3]), argc - 4, argv + 4);
    if (argc == 5 && strcmp(argv[1], "patch") == 0)
        return patch(argv[2], argv[3], argv[4]);
    return die("usage: kmx-craft make OUT ROWS [ROW COL VALUE]... | patch FILE FIELD VALUE");
}
