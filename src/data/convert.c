/* convert.c - CSV to .kmx (see include/kmill/convert.h).
 *
 * A pipeline of three stages. The caller's thread reads the input in text
 * blocks of about 2 MiB cut at record ends (km_csv_split). Pool jobs parse
 * the blocks in parallel into float rows, keeping text values aside with
 * block-local dictionaries. The caller's thread then merges the blocks in
 * input order: it maps local category codes to the global dictionaries (so
 * codes are numbered by first appearance, whatever the thread count), moves
 * the rows into the writer's chunk buffers, and the writer compresses full
 * chunks on the pool. Memory is bounded by the blocks and chunks in flight,
 * the longest record and the dictionaries (bounded by --max-levels).
 *
 * Type inference: a cell that reads as a number is stored as a number; a
 * column holding any other non-NA text becomes categorical, and the numbers
 * seen in it become categories of their shortest text: at once for the
 * chunk in memory, and for chunks already written by a second pass over the
 * output at the end (rewrite_late), so one pass from a pipe suffices. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmill/convert.h"
#include "kmill/crc32c.h"
#include "kmill/csv.h"
#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/log.h"
#include "kmill/numparse.h"
#include "data/plain.h"
#include "kmill/progress.h"
#include "kmill/schema.h"
#include "kmill/size.h"
#include "kmill/strtab.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define DEFAULT_MAX_LEVELS 1000u
#define DEC_POS_SLACK 80  /* dec_record512's separator offsets past nin */
#define TEXT_PAD 128      /* zero bytes after a read block's text, for the
                           * fast paths' loads past it */

struct na_set {
    char **tok;
    uint32_t *len;
    size_t n;
    int empty;              /* "" is NA */
    int numeric;            /* some token reads as a number (e.g. -999) */
    unsigned char first[256]; /* first bytes of the non-empty tokens */
};


struct cell {             /* a text value: row in the block, column, local code */
    uint32_t row, col, code, field;
    uint64_t line;
};

struct block {
    char *text;           /* the block's records: buf, or inside map */
    size_t len;
    char *buf;            /* read mode: text read into this */
    size_t cap;
    void *map;            /* mapped mode (map_block), else NULL */
    size_t maplen;
    const char *lo;       /* the first byte readable: buf or map */
    uint64_t first_line;
    float *rows;
    size_t rows_cap;      /* floats */
    uint64_t *lines;      /* line of each row, for messages */
    size_t lines_cap;
    int32_t *pos;         /* dec_record512's scratch: nin + DEC_POS_SLACK */
    uint32_t nrows;
    struct cell *cells;
    size_t ncells, cells_cap;
    km_strtab *ld;    /* per output column, allocated on first use */
    uint64_t blank, ragged;
    int rc;
    char err[KM_ERRMSG_MAX];
    km_csv *csv;
    km_ctx wctx;          /* the parser's own context: its error record */
    km_job *job;
    struct conv *c;
};

struct conv {
    km_ctx *ctx;
    const km_convert_opts *o;
    km_numparse *np;
    km_kmx_writer *w;
    km_schema schema;     /* output columns */
    km_strtab *dicts; /* per output column: the category dictionaries */
    unsigned char *forced;/* per output column: 1 numeric, 2 categorical */
    long *map;            /* input field -> output column, -1 dropped */
    uint32_t nin;         /* fields per record */
    struct na_set na;
    uint32_t max_levels;
    const char *name;
    char delim;
    struct block *blocks;
    int nblocks;
    float *chunk;         /* the writer's buffer being filled */
    uint32_t chunk_row, rpc;
    uint64_t rows, flushed_rows, bytes_in;
    uint64_t blank, ragged;
    uint32_t *gmap;       /* scratch: local code -> global code + 1 */
    uint32_t gmap_cap;
    size_t *cstart;       /* scratch: cells by column (bucket_cells) */
    uint32_t *cidx;
    size_t cidx_cap;
    uint32_t *field_of;   /* output column -> input field number (1-based) */
    int32_t *fast_dst;    /* input field -> what fast_record does with it */
    int dense;            /* fast_dst is the identity: int_record512 may run */
    size_t max_line;      /* the longest record accepted */
    uint64_t *late_row;   /* per column: rows before this one hold numbers to
                           * turn into categories (UINT64_MAX: none) */
    int any_late;
    size_t block_text;    /* bytes of text per block (plan_memory) */
};


static int na_parse(struct conv *c, const char *list)
{
    struct na_set *na = &c->na;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0) {
            na->empty = 1;
        } else {
            char **nt = realloc(na->tok, (na->n + 1) * sizeof *nt);
            uint32_t *nl = realloc(na->len, (na->n + 1) * sizeof *nl);
            if (nt)
                na->tok = nt;
            if (nl)
                na->len = nl;
            if (!nt || !nl || !(na->tok[na->n] = strndup(p, len)))
                return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
            na->len[na->n] = (uint32_t)len;
            float v;
            if (km_parse_f32(c->np, p, len, &v) == 0)
                na->numeric = 1;
            na->first[(unsigned char)p[0]] = 1;
            na->n++;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

static int is_na(const struct na_set *na, const km_csv_field *f)
{
    if (f->len == 0)
        return na->empty;
    if (!na->first[(unsigned char)f->p[0]])
        return 0;
    for (size_t i = 0; i < na->n; i++)
        if (na->len[i] == f->len && memcmp(na->tok[i], f->p, f->len) == 0)
            return 1;
    return 0;
}

/* Code of the string in column j's dictionary, adding it if new. */
static int dict_code(struct conv *c, uint32_t j, const char *s, size_t len, float *code,
                     uint64_t line, uint32_t field)
{
    uint32_t k;
    int rc = km_strtab_intern(&c->dicts[j], s, (uint32_t)len, c->max_levels, &k);
    if (rc < 0)
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    if (rc > 0 && line == 0) /* the second pass of rewrite_late knows no lines */
        return km_seterr(&c->ctx->err, KM_ELIMIT,
                         "%s: column '%s' has more than %u distinct values; if it is an "
                         "identifier, --drop it; otherwise raise --max-levels",
                         c->name, c->schema.cols[j].name, c->max_levels);
    if (rc > 0)
        return km_seterr(&c->ctx->err, KM_ELIMIT,
                         "%s:%llu:%u: column '%s' has more than %u distinct values; if it is an "
                         "identifier, --drop it; otherwise raise --max-levels",
                         c->name, (unsigned long long)line, field, c->schema.cols[j].name,
                         c->max_levels);
    *code = (float)k;
    return 0;
}

/* The dictionaries become the schema's levels. */
static int dicts_to_schema(struct conv *c)
{
    for (uint32_t j = 0; j < c->schema.ncols; j++) {
        km_column *col = &c->schema.cols[j];
        const km_strtab *t = &c->dicts[j];
        if (!t->n)
            continue;
        col->levels = calloc(t->n, sizeof *col->levels);
        col->level_len = malloc(t->n * sizeof *col->level_len);
        if (!col->levels || !col->level_len)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        for (uint32_t k = 0; k < t->n; k++) {
            if (!(col->levels[k] = strndup(t->arena + t->off[k], t->len[k])))
                return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
            col->level_len[k] = t->len[k];
            col->nlevels = k + 1;
        }
    }
    return 0;
}

static int setup_columns(struct conv *c, km_csv_field *f, size_t nf, uint64_t line)
{
    km_strtab names = {0};
    const km_convert_opts *o = c->o;
    c->nin = (uint32_t)nf;
    /* names of all input columns, to resolve the option lists against */
    km_schema in = {0};
    in.ncols = c->nin;
    in.cols = calloc(c->nin, sizeof *in.cols);
    c->map = calloc(c->nin, sizeof *c->map);
    unsigned char *drop = calloc(c->nin, 1), *cat = calloc(c->nin, 1), *num = calloc(c->nin, 1);
    int rc = 0;
    if (!in.cols || !c->map || !drop || !cat || !num) {
        rc = km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t j = 0; j < c->nin; j++) {
        char buf[32];
        const char *nm = buf;
        size_t len;
        if (o->no_header || f[j].len == 0) {
            snprintf(buf, sizeof buf, "col%u", j + 1);
            len = strlen(buf);
        } else {
            nm = f[j].p;
            len = f[j].len;
        }
        if (memchr(nm, '\0', len)) {
            rc = km_seterr(&c->ctx->err, KM_EPARSE, "%s:%llu:%u: NUL byte in column name", c->name,
                           (unsigned long long)line, j + 1);
            goto out;
        }
        if (!(in.cols[j].name = strndup(nm, len))) {
            rc = km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
            goto out;
        }
        /* a hash of the names: wide files have 10^5 columns and more */
        uint32_t k;
        if (km_strtab_intern(&names, in.cols[j].name, (uint32_t)len, UINT32_MAX, &k) < 0) {
            rc = km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
            goto out;
        }
        if (k != j) {
            rc = km_seterr(&c->ctx->err, KM_EPARSE,
                           "%s:%llu:%u: duplicate column name '%s' (also column %u)", c->name,
                           (unsigned long long)line, j + 1, in.cols[j].name, k + 1);
            goto out;
        }
    }
    if ((o->drop && (rc = km_schema_select(&in, o->drop, "--drop", drop, &c->ctx->err))) ||
        (o->categorical &&
         (rc = km_schema_select(&in, o->categorical, "--categorical", cat, &c->ctx->err))) ||
        (o->numeric && (rc = km_schema_select(&in, o->numeric, "--numeric", num, &c->ctx->err))))
        goto out;
    uint32_t nout = 0;
    for (uint32_t j = 0; j < c->nin; j++) {
        if (cat[j] && num[j]) {
            rc = km_seterr(&c->ctx->err, KM_EINVAL, "column '%s' is both --categorical and --numeric",
                           in.cols[j].name);
            goto out;
        }
        c->map[j] = drop[j] ? -1 : (long)nout++;
    }
    if (nout == 0) {
        rc = km_seterr(&c->ctx->err, KM_EINVAL, "--drop leaves no column");
        goto out;
    }
    c->schema.ncols = nout;
    c->schema.cols = calloc(nout, sizeof *c->schema.cols);
    c->dicts = calloc(nout, sizeof *c->dicts);
    c->forced = calloc(nout, 1);
    c->field_of = calloc(nout, sizeof *c->field_of);
    c->fast_dst = calloc(c->nin, sizeof *c->fast_dst);
    c->late_row = malloc(nout * sizeof *c->late_row);
    if (!c->schema.cols || !c->dicts || !c->forced || !c->field_of || !c->fast_dst || !c->late_row) {
        rc = km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t j = 0; j < c->nin; j++) {
        if (c->map[j] < 0) {
            c->fast_dst[j] = -1;
            continue;
        }
        km_column *col = &c->schema.cols[c->map[j]];
        col->name = in.cols[j].name;
        in.cols[j].name = NULL;
        col->type = cat[j] ? KM_COL_CATEGORICAL : KM_COL_NUMERIC;
        c->forced[c->map[j]] = cat[j] ? 2 : num[j] ? 1 : 0;
        c->field_of[c->map[j]] = j + 1;
        c->late_row[c->map[j]] = UINT64_MAX;
        c->fast_dst[j] = cat[j] ? -2 : (int32_t)c->map[j];
    }
    c->dense = c->nin == c->schema.ncols;
    for (uint32_t j = 0; j < c->nin; j++)
        c->dense &= c->fast_dst[j] == (int32_t)j;
out:
    km_strtab_free(&names);
    km_schema_free(&in);
    free(drop);
    free(cat);
    free(num);
    return rc;
}

static int open_input(km_ctx *ctx, const char *path, int *fd, km_kmx_source *src)
{
    memset(src, 0, sizeof *src);
    src->name = path;
    if (strcmp(path, "-") == 0) {
        *fd = STDIN_FILENO;
    } else {
        *fd = open(path, O_RDONLY | O_CLOEXEC);
        if (*fd < 0)
            return km_seterr(&ctx->err, KM_EIO, "cannot open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(*fd, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return km_seterr(&ctx->err, KM_EIO, "%s: is a directory", path);
        if (S_ISREG(st.st_mode)) {
            src->size = (uint64_t)st.st_size;
            src->mtime = (int64_t)st.st_mtime;
            /* fingerprint: CRC of the first MiB, read without moving the offset */
            size_t n = st.st_size < (1 << 20) ? (size_t)st.st_size : (1 << 20);
            unsigned char *head = malloc(n ? n : 1);
            ssize_t got = head ? pread(*fd, head, n, 0) : -1;
            if (got > 0) {
                src->head_crc = km_crc32c(0, head, (size_t)got);
                if ((got >= 2 && head[0] == 0x1f && head[1] == 0x8b) ||
                    (got >= 4 && memcmp(head, "\x28\xb5\x2f\xfd", 4) == 0) ||
                    (got >= 3 && memcmp(head, "BZh", 3) == 0) ||
                    (got >= 6 && memcmp(head, "\xfd" "7zXZ", 6) == 0)) {
                    free(head);
                    return km_seterr(&ctx->err, KM_EFORMAT,
                                     "%s: looks compressed; decompress it into a pipe, e.g. "
                                     "'zcat %s | kmill convert - -o OUT.kmx'", path, path);
                }
            }
            free(head);
        }
    }
    return 0;
}


/* ---- stage 2: parse a block (pool job) --------------------------------- */

static int block_fail(struct block *b, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int block_fail(struct block *b, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    b->rc = rc;
    return rc;
}

static int add_cell(struct block *b, uint32_t row, uint32_t col, const km_csv_field *f,
                    uint64_t line, uint32_t field)
{
    struct conv *c = b->c;
    if (!b->ld) {
        b->ld = calloc(c->schema.ncols, sizeof *b->ld);
        if (!b->ld)
            return block_fail(b, KM_ENOMEM, "out of memory");
    }
    uint32_t code;
    if (km_strtab_intern(&b->ld[col], f->p, f->len, UINT32_MAX, &code))
        return block_fail(b, KM_ENOMEM, "out of memory");
    if (b->ncells == b->cells_cap) {
        size_t ncap = b->cells_cap ? b->cells_cap * 2 : 256;
        struct cell *nc = realloc(b->cells, ncap * sizeof *nc);
        if (!nc)
            return block_fail(b, KM_ENOMEM, "out of memory");
        b->cells = nc;
        b->cells_cap = ncap;
    }
    b->cells[b->ncells++] = (struct cell){row, col, code, field, line};
    return 0;
}

/* Room for one more row in the block. */
static int block_row_room(struct block *b, uint32_t ncols)
{
    /* + 16: int_record512 stores whole vectors of 16 floats */
    if ((size_t)(b->nrows + 1) * ncols + 16 > b->rows_cap) {
        size_t ncap = b->rows_cap ? b->rows_cap * 2 : (size_t)ncols * 1024;
        float *nr = realloc(b->rows, ncap * sizeof *nr);
        if (!nr)
            return block_fail(b, KM_ENOMEM, "out of memory");
        b->rows = nr;
        b->rows_cap = ncap;
    }
    if (b->nrows == b->lines_cap) {
        size_t ncap = b->lines_cap ? b->lines_cap * 2 : 1024;
        uint64_t *nl = realloc(b->lines, ncap * sizeof *nl);
        if (!nl)
            return block_fail(b, KM_ENOMEM, "out of memory");
        b->lines = nl;
        b->lines_cap = ncap;
    }
    return 0;
}

/* The separators (delimiter, CR, LF, and NUL, which ends the text) among
 * the 64 bytes at p, as a bit mask: bit i for p[i]. */
static inline uint64_t separators(const char *p, char delim)
{
#if defined(__SSE2__)
    const __m128i d = _mm_set1_epi8(delim), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    const __m128i nul = _mm_setzero_si128();
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, nul)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(hit) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int i = 0; i < 64; i++)
        m |= (uint64_t)(p[i] == delim || p[i] == '\n' || p[i] == '\r' || p[i] == 0) << i;
    return m;
#endif
}

/* Any other number, through km_parse_f32; NaN if the field is none. Kept
 * out of line so the fast loop's values stay in registers. */
static __attribute__((noinline)) float other_number(const km_numparse *np, const char *s,
                                                    size_t len)
{
    float v;
    return km_parse_f32(np, s, len, &v) == 0 ? v : NAN;
}

/* A field the fast paths did not read as a number, or any field of a column
 * forced categorical (fast_dst -2): what the general path does with an
 * unquoted field, for row b->nrows of the record at the csv's rest. The
 * value goes to row[its column]: a number, NaN for NA, or NaN and a text
 * cell. -1 leaves the record to the general path: a quote (to unescape,
 * or to refuse), text in a column forced numeric (for its message), or no
 * memory. The caller drops cells added for a record it then leaves. */
static __attribute__((noinline)) int text_field(struct block *b, uint32_t j, const char *s,
                                                size_t len, float *row)
{
    struct conv *c = b->c;
    long oj = c->map[j];
    if (memchr(s, '"', len))
        return -1; /* also in a dropped column: a quoted line end is no record end */
    if (oj < 0)
        return 0;
    float *v = &row[oj];
    if (c->forced[oj] != 2 && km_parse_f32(c->np, s, len, v) == 0)
        return 0;
    *v = NAN;
    km_csv_field f = {s, (uint32_t)len, 0};
    if (is_na(&c->na, &f))
        return 0;
    if (c->forced[oj] == 1)
        return -1;
    return add_cell(b, b->nrows, (uint32_t)oj, &f, km_csv_rest_line(b->csv), j + 1) ? -1 : 0;
}

/* One record ending in LF or CRLF whose fields are unquoted or simply
 * quoted ("..." with no quote inside, so no delimiter or line end either),
 * parsed in the pass that splits it: the bulk of CSV. Returns the record's
 * length with the row in out, or 0 when it needs the general path (other
 * quotes, text in a column forced numeric, a wrong field count). Numbers other than plain
 * decimals (exponents, long digit strings) go through km_parse_f32 one by
 * one, NA and text through text_field. Field ends come from separator bit
 * masks 64 bytes at a time, so each field is converted independently of
 * the one before: the common short integers in one 8-byte SWAR step,
 * other plain decimals through plain (km_numparse_plain); with sse set
 * (fast_record_sse41), every field through the SSE4.1 parser inlined.
 * dst[j] is field j's output column, -1 to drop it, -2 for a column forced
 * categorical. The text is followed by TEXT_PAD zero bytes, so loads past its
 * end are safe. */
static inline __attribute__((always_inline)) size_t
fast_record_impl(struct block *b, km_plain_fn plain, int sse, const int32_t *dst,
                 uint32_t nin, char delim, const char *p, float *out)
{
    const km_numparse *np = b->c->np;
    const char *s = p, *base = p, *e;
    uint64_t m = separators(base, delim);
    for (uint32_t j = 0;; j++) {
        while (!m) {
            base += 64;
            m = separators(base, delim);
        }
        e = base + __builtin_ctzll(m);
        m &= m - 1;
        const char *f = s; /* the field's text */
        size_t len = (size_t)(e - s);
        if (*s == '"') {
            /* a field's pieces between separators are fields only when
             * each quoted one closes at its end: a delimiter or line end
             * inside quotes leaves a piece with an unclosed quote */
            if (len < 2 || s[len - 1] != '"' || memchr(s + 1, '"', len - 2))
                return 0;
            f = s + 1;
            len -= 2;
        }
        float v;
        uint64_t d = km_swar_load(f);
        if (sse) {
#ifdef KM_PLAIN_SSE41
            /* inlined: no call, and the value stays in a register */
            if (!km_plain_sse41(f, len, &v))
                v = other_number(np, f, len);
#endif
        } else if (len - 1 < 8 && !(km_swar_nondigits(d) & (~0ull >> (64 - 8 * len)))) {
            /* 1 to 8 digits: numparse.c's digits8, length known */
            uint32_t w = km_swar_value(d, (unsigned)len);
            v = w > (1u << 24) ? other_number(np, f, len) : (float)w;
        } else if (!plain(f, len, &v)) {
            v = other_number(np, f, len);
        }
        int32_t oj = dst[j];
        if (isnan(v) || oj == -2) { /* (NaN: not a number, or "nan") */
            if (text_field(b, j, f, len, out))
                return 0;
        } else if (oj >= 0) {
            out[oj] = v;
        }
        if (j + 1 == nin)
            break;
        if (*e != delim)
            return 0;
        s = e + 1;
    }
    if (*e == '\n')
        return (size_t)(e + 1 - p);
    if (e[0] == '\r' && e[1] == '\n')
        return (size_t)(e + 2 - p);
    return 0;
}

static size_t fast_record(struct block *b, km_plain_fn plain, const int32_t *dst,
                          uint32_t nin, char delim, const char *p, float *out)
{
    return fast_record_impl(b, plain, 0, dst, nin, delim, p, out);
}

#ifdef KM_PLAIN_SSE41
/* the same with the SSE4.1 parser inlined, for every field */
static __attribute__((target("sse4.1"))) size_t
fast_record_sse41(struct block *b, const int32_t *dst, uint32_t nin, char delim,
                  const char *p, float *out)
{
    return fast_record_impl(b, NULL, 1, dst, nin, delim, p, out);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#include <immintrin.h>
#define INT_RECORD512 1
#define AVX512BW __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,bmi,popcnt")))

/* The digits d (one per byte, as loaded) of the half h of a window, as 32
 * 16-bit lanes. */
static inline __attribute__((always_inline)) AVX512BW __m512i half16(__m512i d, int h)
{
    return _mm512_cvtepu8_epi16(h ? _mm512_extracti64x4_epi64(d, 1)
                                  : _mm512_castsi512_si256(d));
}

/* A record of unsigned integers of 1 to 4 digits (pixels, counts, codes,
 * one-hot flags) ending in LF or CRLF, every field kept in its own order
 * (fast_dst is the identity): fast_record's job, done 64 bytes at a time
 * with AVX-512BW. Per window, compare masks give the digits and the
 * separators; the bytes 1 to 5 before each position come from five more
 * loads, so the value of the field that ends at a separator is
 * d1 + 10 d2 + 100 d3 + 1000 d4 over its contiguous digits, computed at
 * every position in 16-bit lanes and then picked at the separators by a
 * compress: no work per field outside vector instructions. fast_record's
 * loop spends some 35 instructions on each field. Anything else (a sign,
 * a point, an empty field, five digits, a quote, a wrong field count)
 * returns 0 and the record goes to fast_record, which is what tells them
 * apart. Writes up to 15 floats past the row (block_row_room keeps room);
 * reads as fast_record does: the text is followed by TEXT_PAD zero bytes. */
static AVX512BW size_t int_record512(uint32_t nin, char delim, const char *p, float *out)
{
    const __m512i c0 = _mm512_set1_epi8('0'), nine = _mm512_set1_epi8(9);
    const __m512i vd = _mm512_set1_epi8(delim), vn = _mm512_set1_epi8('\n');
    const __m512i vr = _mm512_set1_epi8('\r');
    const __m512i ten = _mm512_set1_epi16(10), hundred = _mm512_set1_epi16(100);
    const __m512i thousand = _mm512_set1_epi16(1000);
    uint32_t nf = 0;
    const char *q = p;
    for (int first = 1;; first = 0) {
        /* bytes before p are not the record's (nor always the buffer's):
         * masked out of the first window's shifted loads */
        __m512i v = _mm512_loadu_si512(q), dk[6];
        __mmask64 g[6];
        dk[0] = _mm512_sub_epi8(v, c0);
        g[0] = _mm512_cmple_epu8_mask(dk[0], nine);
        for (int k = 1; k <= 5; k++) {
            __mmask64 in = first ? ~((1ull << k) - 1) : ~0ull;
            /* the address through uintptr_t: q - k may lie before the
             * buffer, where the mask keeps the load from going */
            const void *at = (const void *)((uintptr_t)q - (uintptr_t)k);
            dk[k] = _mm512_sub_epi8(_mm512_maskz_loadu_epi8(in, at), c0);
            g[k] = _mm512_mask_cmple_epu8_mask(in, dk[k], nine);
        }
        uint64_t sd = _mm512_cmpeq_epi8_mask(v, vd);
        uint64_t sn = _mm512_cmpeq_epi8_mask(v, vn) | _mm512_cmpeq_epi8_mask(v, vr);
        uint64_t endbit = sn & -sn, lim = sn ? endbit - 1 : ~0ull;
        if (((g[0] | sd) & lim) != lim)
            return 0; /* a byte that is neither digit nor delimiter */
        uint64_t ends = (sd & lim) | endbit;
        uint64_t c2 = g[1] & g[2], c3 = c2 & g[3], c4 = c3 & g[4];
        if ((ends & ~g[1]) || (ends & c4 & g[5]))
            return 0; /* an empty field, or one of five digits or more */
        nf += (uint32_t)__builtin_popcountll(ends);
        if (nf > nin || (endbit && nf != nin))
            return 0;
        for (int h = 0; h < 2 && ends >> (32 * h); h++) {
            __m512i n = half16(dk[1], h);
            n = _mm512_mask_add_epi16(n, (__mmask32)(c2 >> 32 * h), n,
                                      _mm512_mullo_epi16(half16(dk[2], h), ten));
            n = _mm512_mask_add_epi16(n, (__mmask32)(c3 >> 32 * h), n,
                                      _mm512_mullo_epi16(half16(dk[3], h), hundred));
            n = _mm512_mask_add_epi16(n, (__mmask32)(c4 >> 32 * h), n,
                                      _mm512_mullo_epi16(half16(dk[4], h), thousand));
            for (int k = 0; k < 2; k++) {
                __mmask16 e = (__mmask16)(ends >> (32 * h + 16 * k));
                if (!e)
                    continue;
                __m256i n16 = k ? _mm512_extracti64x4_epi64(n, 1) : _mm512_castsi512_si256(n);
                __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(n16));
                _mm512_storeu_ps(out, _mm512_maskz_compress_ps(e, f));
                out += __builtin_popcount(e);
            }
        }
        if (endbit) {
            const char *e = q + __builtin_ctzll(endbit);
            if (*e == '\n')
                return (size_t)(e + 1 - p);
            return e[1] == '\n' ? (size_t)(e + 2 - p) : 0;
        }
        q += 64;
    }
}

/* dec_record512's per-lane masks: bit 15 of each 16-bit lane, and bits 0-14 */
#define DEC_TOPS 0x8000800080008000ull
#define DEC_LOW15 0x7FFF7FFF7FFF7FFFull
#define AVX512DEC                                                                          \
    __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd,bmi,bmi2,popcnt")))

/* 10^n for dec_record512's lookup by lane; past 10 unused (refused first) */
static const float dec_pow10[16] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f,
                                    1e8f, 1e9f, 1e10f, 1, 1, 1, 1, 1};

/* Per lane of a 4-lane mask (fields within bits 0-14): bit 15 set when the
 * lane has any bit. */
static inline uint64_t dec_any(uint64_t m)
{
    return (m + DEC_LOW15) & DEC_TOPS;
}

/* A mask of four 16-bit lanes as four 32-bit integers. */
static inline __attribute__((always_inline)) AVX512DEC __m128i dec_lanes(uint64_t m)
{
    return _mm_cvtepu16_epi32(_mm_cvtsi64_si128((long long)m));
}

/* Byte i of 128-bit lane l: l (dec_record512's field of each lane). */
static inline __attribute__((always_inline)) AVX512DEC __m512i dec_lane_ids(void)
{
    return _mm512_set_epi32(0x03030303, 0x03030303, 0x03030303, 0x03030303, 0x02020202,
                            0x02020202, 0x02020202, 0x02020202, 0x01010101, 0x01010101,
                            0x01010101, 0x01010101, 0, 0, 0, 0);
}

/* A record of plain decimals ([-]digits[.digits], up to 15 bytes) ending
 * in LF or CRLF, every field kept in its own order: fast_record's job on
 * float files, four fields at a time with AVX-512. fast_record_sse41
 * spends about 100 instructions on a field, one at a time.
 *
 * First the record's separators: per 64-byte window, the delimiters up to
 * the first line end (LF, CR or the text's NUL), their offsets packed by
 * vpcompressd into pos[1..nin] (pos[0] = -1, the byte before the record).
 * A wrong count ends it there. Walking the separator bits one by one
 * instead (tzcnt, and a refill per window that mispredicts) cost a third
 * of the time.
 *
 * Then four fields at a time: the 16 bytes ending at each field's
 * separator go into one 128-bit lane of a zmm, the fields' lengths, 16 at
 * once from pos, give each lane's byte mask R, and compare masks check the
 * form (in a 64-bit register: sign only first, digits, at most one point,
 * at least one digit). A blend drops the point and right-aligns the
 * digits, the same multiply-add steps as km_plain_sse41 make the integer,
 * and one division by an exact power of ten gives path (a)'s value,
 * identical to km_parse_f32's. Each field refused (an exponent, more than
 * 8 significant digits, 16 bytes or more) is read again alone by
 * km_parse_f32, and NA or text goes to text_field, as in fast_record; a
 * record with a quote (fast_record's) or the wrong field count returns 0.
 * pos holds nin + DEC_POS_SLACK entries. Reads up to 15 bytes before p
 * (the caller checks they are the buffer's) and, as fast_record does, past
 * the text into its zero padding or the mapping's slack. */
static AVX512DEC size_t dec_record512(struct block *b, uint32_t nin, char delim,
                                      const char *p, float *out, int32_t *pos)
{
    const __m512i vd = _mm512_set1_epi8(delim), c0 = _mm512_set1_epi8('0');
    const __m512i c9 = _mm512_set1_epi8(9), cp = _mm512_set1_epi8('.');
    const __m512i cm = _mm512_set1_epi8('-');
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    int32_t *P = pos + 1; /* P[k]: the offset of field k's separator */
    uint32_t k = 0;
    P[-1] = -1;
    for (uint32_t off = 0;; off += 64) {
        __m512i v = _mm512_loadu_si512(p + off);
        uint64_t ml = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')) |
                      _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r')) |
                      _mm512_testn_epi8_mask(v, v);
        uint64_t m = _mm512_cmpeq_epi8_mask(v, vd) | ml;
        uint64_t q = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"'));
        if (ml) {
            m &= ml ^ (ml - 1); /* up to the line end, itself included */
            q &= ml - 1;
        }
        if (q)
            return 0; /* quoted fields: fast_record's */
        __m512i at = _mm512_add_epi32(iota, _mm512_set1_epi32((int)off));
        for (int h = 0; h < 4; h++) {
            __mmask16 mh = (__mmask16)(m >> (16 * h));
            __m512i x = _mm512_add_epi32(at, _mm512_set1_epi32(16 * h));
            _mm512_storeu_si512(P + k, _mm512_maskz_compress_epi32(mh, x));
            k += (uint32_t)__builtin_popcount(mh);
        }
        if (ml)
            break;
        if (k > nin)
            return 0; /* (k <= nin before a window: P[nin + 63] at most) */
    }
    if (k != nin)
        return 0;
    const int32_t last = P[nin - 1];
    const char *end = p + last;
    if (!(*end == '\n' || (end[0] == '\r' && end[1] == '\n')))
        return 0;
    /* the lanes past the last field: length -1, no bytes */
    for (int i = 0; i < 16; i++)
        P[nin + i] = last;

    /* maddubs: 10 a + b over byte pairs; madd: 100 a + b, 10000 a + b */
    const __m512i w1 = _mm512_set1_epi16(0x010A), w2 = _mm512_set1_epi32(0x00010064);
    const __m512i w3 = _mm512_set1_epi32(0x00012710);
    /* per lane [high 8 digits, low 8 digits, copies]: high must be 0 and
     * low at most 2^24 for path (a) */
    const __m512i lim = _mm512_set4_epi32(1 << 24, 0, 1 << 24, 0);
    const __m512i pick = _mm512_setr_epi32(1, 5, 9, 13, 1, 5, 9, 13, 1, 5, 9, 13, 1, 5, 9, 13);
    const __m512 p10 = _mm512_loadu_ps(dec_pow10);
    const __m512i bytes = _mm512_set4_epi32(0x0F0E0D0C, 0x0B0A0908, 0x07060504, 0x03020100);
    for (uint32_t j0 = 0; j0 < nin; j0 += 16) {
        /* 16 fields' lengths; a lane's bytes are 15 - L to 14 */
        __m512i L = _mm512_sub_epi32(_mm512_loadu_si512(P + j0), _mm512_loadu_si512(P + j0 - 1));
        L = _mm512_sub_epi32(L, _mm512_set1_epi32(1));
        uint32_t lbad = _mm512_cmpgt_epi32_mask(L, _mm512_set1_epi32(15));
        __m512i first = _mm512_broadcast_i32x4(
            _mm512_cvtepi32_epi8(_mm512_sub_epi32(_mm512_set1_epi32(15), L)));
        for (uint32_t j = j0; j < nin && j < j0 + 16; j += 4) {
            uint32_t cnt = nin - j < 4 ? nin - j : 4;
            /* lane i: field j + i's first byte, broadcast */
            __m512i f4 = _mm512_shuffle_epi8(
                first, _mm512_add_epi8(_mm512_set1_epi8((char)(j - j0)), dec_lane_ids()));
            uint64_t R = _mm512_mask_cmpge_epu8_mask(DEC_LOW15, bytes, f4);
            __m512i w = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + P[j] - 15)));
            w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(p + P[j + 1] - 15)), 1);
            w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(p + P[j + 2] - 15)), 2);
            w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(p + P[j + 3] - 15)), 3);
            uint64_t act = DEC_TOPS >> (16 * (4 - cnt));
            __m512i d = _mm512_sub_epi8(w, c0);
            uint64_t D = _mm512_cmple_epu8_mask(d, c9);
            uint64_t PT = _mm512_cmpeq_epi8_mask(w, cp) & R;
            uint64_t MI = _mm512_cmpeq_epi8_mask(w, cm) & R;
            uint64_t F1 = R & ~(R << 1); /* each field's first byte */
            uint64_t neg = MI & F1, DR = R & ~neg, Dg = DR & ~PT;
            /* bad: a bit in the lane of each field refused; a minus elsewhere
             * than first is in DR, and no digit or point */
            uint64_t bad = _pdep_u64(lbad >> (j - j0), DEC_TOPS) | (DR & ~(D | PT)) |
                           (dec_any(Dg) ^ act);
            /* from each lane's point to its end: for a lane with a point at q,
             * 2^16 - 2^q; a second point leaves a hole there */
            uint64_t tp = dec_any(PT), PP = (tp << 1) - PT;
            bad |= (PT & ~PP) | (PT & 0x000F000F000F000Full); /* two points; > 10 decimals */
            /* digits after the point move one byte up, those before it two
             * (over the point and the separator); without a point, all one */
            uint64_t nop = ~tp & DEC_TOPS;
            uint64_t up1 = ((PP << 2) & 0xFFFCFFFCFFFCFFFCull) | ((nop << 1) - (nop >> 15));
            __m512i dd = _mm512_maskz_mov_epi8(Dg, d);
            __m512i x = _mm512_mask_blend_epi8(up1, _mm512_bslli_epi128(dd, 2),
                                               _mm512_bslli_epi128(dd, 1));
            x = _mm512_maddubs_epi16(x, w1);
            x = _mm512_madd_epi16(x, w2);
            x = _mm512_packus_epi32(x, x);
            x = _mm512_madd_epi16(x, w3);
            bad |= _pdep_u64(_mm512_cmpgt_epu32_mask(x, lim), 0x000F000F000F000Full);
            __m128i lo = _mm512_castsi512_si128(_mm512_permutexvar_epi32(pick, x));
            /* decimals 14 - q = lzcnt(2^q) - 17; 15 (a factor 1) without a point */
            __m128i nf = _mm_sub_epi32(_mm_lzcnt_epi32(dec_lanes(PT)), _mm_set1_epi32(17));
            __m128 div = _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_castsi128_si512(nf), p10));
            __m128 f = _mm_div_ps(_mm_cvtepi32_ps(lo), div);
            __m128i fi = _mm_castps_si128(f);
            fi = _mm_mask_xor_epi32(fi, _mm_test_epi32_mask(dec_lanes(neg), dec_lanes(neg)), fi,
                                    _mm_set1_epi32((int)0x80000000u));
            _mm_mask_storeu_epi32(out + j, (__mmask8)((1u << cnt) - 1), fi);
            if (__builtin_expect(bad != 0, 0)) {
                /* fields that are no plain decimal of up to 8 digits (an
                 * exponent, most often), each alone */
                for (uint32_t i = 0; i < cnt; i++) {
                    if (!(bad >> (16 * i) & 0xFFFF))
                        continue;
                    const char *s = p + P[(int32_t)(j + i) - 1] + 1;
                    size_t len = (size_t)(P[j + i] - P[(int32_t)(j + i) - 1] - 1);
                    float fv = other_number(b->c->np, s, len);
                    if (!isnan(fv))
                        out[j + i] = fv;
                    else if (text_field(b, j + i, s, len, out))
                        return 0;
                }
            }
        }
    }
    return (size_t)(end + (*end == '\n' ? 1 : 2) - p);
}
#endif

/* The general path's number: km_parse_f32's, with the SSE4.1 parser of
 * plain decimals tried first (sse) as on the fast paths (on a file whose
 * records all take this path, half the time); 1 for a number. The field
 * lies in the block's text, so the 16-byte load stays within its padding. */
static int general_number(const km_numparse *np, int sse, const char *s, size_t len, float *v)
{
#ifdef KM_PLAIN_SSE41
    if (sse && km_plain_sse41(s, len, v))
        return 1;
#else
    (void)sse;
#endif
    return km_parse_f32(np, s, len, v) == 0;
}

static void parse_block(void *arg, size_t item, int worker)
{
    struct block *b = arg;
    struct conv *c = b->c;
    const km_convert_opts *o = c->o;
    uint32_t ncols = c->schema.ncols, nin = c->nin;
    km_csv_field *f;
    size_t nf;
    int rc;
    /* numeric-looking NA tokens (e.g. -999) must be seen before numbers */
    int fast = !c->na.numeric;
    km_plain_fn plain = km_numparse_plain(c->np);
#ifdef KM_PLAIN_SSE41
    int sse = __builtin_cpu_supports("sse4.1");
#else
    int sse = 0;
#endif
#ifdef INT_RECORD512
    int ints = c->dense && __builtin_cpu_supports("avx512bw") ? 8 : 0;
    int decs = c->dense && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512cd")
                   ? 8 : 0;
    if (decs && !b->pos && !(b->pos = malloc(((size_t)nin + DEC_POS_SLACK) * sizeof *b->pos))) {
        block_fail(b, KM_ENOMEM, "out of memory");
        return;
    }
#endif

    b->nrows = 0;
    b->ncells = 0;
    b->blank = b->ragged = 0;
    b->rc = 0;
    for (uint32_t j = 0; b->ld && j < ncols; j++)
        km_strtab_clear(&b->ld[j]);
    km_csv_reset_mem(b->csv, b->text, b->len, b->first_line);
    for (;;) {
        if (block_row_room(b, ncols))
            return;
        if (fast) {
            size_t avail, n = 0;
            const char *rest = km_csv_rest(b->csv, &avail);
            float *row = b->rows + (size_t)b->nrows * ncols;
            size_t cells = b->ncells; /* a record left to the next path drops its cells */
#ifdef INT_RECORD512
            /* after 8 records in a row it cannot take, leave the block to
             * fast_record: a float file would only pay for the tries */
            if (ints && avail) {
                n = int_record512(nin, c->delim, rest, row);
                ints = n ? 8 : ints - 1;
            }
            /* the same for decimals; it reads 15 bytes before the record */
            if (decs && !n && avail && rest - b->lo >= 15) {
                n = dec_record512(b, nin, c->delim, rest, row, b->pos);
                decs = n ? 8 : decs - 1;
                if (!n)
                    b->ncells = cells;
            }
#endif
            if (!n && avail) {
#ifdef KM_PLAIN_SSE41
                if (sse)
                    n = fast_record_sse41(b, c->fast_dst, nin, c->delim, rest, row);
                else
#endif
                    n = fast_record(b, plain, c->fast_dst, nin, c->delim, rest, row);
            }
            if (n && n <= c->max_line) { /* (the general path words the error) */
                b->lines[b->nrows++] = km_csv_skip_record(b->csv, n);
                continue;
            }
            b->ncells = cells;
        }
        if ((rc = km_csv_next(b->csv, &f, &nf)) != 1)
            break;
        uint64_t line = km_csv_line(b->csv);
        if (nf != nin) {
            if (nf == 1 && f[0].len == 0 && !f[0].quoted) {
                b->blank++;
                continue;
            }
            if (o->ragged == KM_RAGGED_SKIP || (o->ragged == KM_RAGGED_FILL && nf < nin)) {
                b->ragged++;
                if (o->ragged == KM_RAGGED_SKIP)
                    continue;
            } else {
                block_fail(b, KM_EPARSE, "%s:%llu:%zu: %zu fields, expected %u as in the %s (%s)",
                           c->name, (unsigned long long)line, (nf < nin ? nf : nin) + 1, nf, nin,
                           o->no_header ? "first row" : "header",
                           nf < nin ? "--ragged=fill or skip to accept" : "--ragged=skip to drop such rows");
                return;
            }
        }
        b->lines[b->nrows] = line;
        float *out = b->rows + (size_t)b->nrows * ncols;
        for (uint32_t j = 0; j < nin; j++) {
            long oj = c->map[j];
            if (oj < 0)
                continue;
            if (j >= nf) { /* --ragged=fill */
                out[oj] = NAN;
                continue;
            }
            const km_csv_field *fj = &f[j];
            if (c->forced[oj] != 2 && !(c->na.numeric && is_na(&c->na, fj)) &&
                general_number(c->np, sse, fj->p, fj->len, &out[oj]))
                continue;
            out[oj] = NAN;
            if (is_na(&c->na, fj))
                continue;
            if (c->forced[oj] == 1) {
                block_fail(b, KM_EPARSE, "%s:%llu:%u: expected a number, got \"%.*s\"", c->name,
                           (unsigned long long)line, j + 1, (int)(fj->len > 40 ? 40 : fj->len),
                           fj->p);
                return;
            }
            if (add_cell(b, b->nrows, (uint32_t)oj, fj, line, j + 1))
                return;
        }
        b->nrows++;
    }
    if (rc < 0) {
        block_fail(b, rc, "%s", b->wctx.err.msg);
        return;
    }
}

/* ---- stage 3: merge blocks in order ------------------------------------ */

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

/* The number v in column j as a category: the code of its shortest text. */
static int number_code(struct conv *c, uint32_t j, float *v, uint64_t line, uint32_t field)
{
    char txt[KM_F32_BUFSZ];
    int n = km_format_f32(*v, txt);
    return dict_code(c, j, txt, (size_t)n, v, line, field);
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

static int merge_block(struct conv *c, struct block *b)
{
    uint32_t ncols = c->schema.ncols;
    int rc;
    if (b->rc)
        return km_seterr(&c->ctx->err, b->rc, "%s", b->err);
    c->blank += b->blank;
    c->ragged += b->ragged;
    /* columns that hold text for the first time turn categorical */
    for (size_t k = 0; k < b->ncells; k++) {
        const struct cell *ce = &b->cells[k];
        km_column *col = &c->schema.cols[ce->col];
        if (col->type == KM_COL_CATEGORICAL)
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
            if (!isnan(*v) && (rc = number_code(c, ce->col, v, ce->line, ce->field)))
                return rc;
        }
    }
    /* Categorical columns: numbers become categories of their shortest
     * text, text values get global codes; both in row order, so levels are
     * numbered by first appearance whatever the block boundaries. */
    if ((rc = bucket_cells(c, b)))
        return rc;
    for (uint32_t j = 0; j < ncols; j++) {
        if (c->schema.cols[j].type != KM_COL_CATEGORICAL)
            continue;
        const km_strtab *d = b->ld ? &b->ld[j] : NULL;
        if (d && d->n)
            memset(c->gmap, 0, d->n * sizeof *c->gmap);
        size_t k = c->cstart[j], kend = c->cstart[j + 1];
        for (uint32_t r = 0; r < b->nrows; r++) {
            float *v = &b->rows[(size_t)r * ncols + j];
            if (k < kend && b->cells[c->cidx[k]].row == r) {
                const struct cell *ce = &b->cells[c->cidx[k++]];
                if (c->gmap[ce->code]) {
                    *v = (float)(c->gmap[ce->code] - 1);
                    continue;
                }
                if ((rc = dict_code(c, j, d->arena + d->off[ce->code], d->len[ce->code], v,
                                    ce->line, ce->field)))
                    return rc;
                c->gmap[ce->code] = (uint32_t)*v + 1;
            } else if (!isnan(*v) &&
                       (rc = number_code(c, j, v, b->lines[r], c->field_of[j]))) {
                return rc;
            }
        }
    }
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
    km_verbose(ctx, "a column turned categorical after its first chunk: rewriting the output");
    if ((rc = km_kmx_open(ctx, tmp, KM_IO_PREAD, &d)) ||
        (rc = km_kmx_create(ctx, c->o->output, ncols, wo, &w2)))
        goto out;
    for (uint64_t k = 0; k < km_kmx_nchunks(d); k++) {
        const km_kmx_chunk *e = km_kmx_chunk_info(d, k);
        float *buf = km_kmx_buffer(w2);
        if ((rc = km_kmx_read_chunk(d, k, buf)))
            goto out;
        for (uint32_t j = 0; j < ncols; j++) {
            if (c->late_row[j] == UINT64_MAX || c->late_row[j] <= e->first_row)
                continue;
            for (uint32_t i = 0; i < e->nrows && e->first_row + i < c->late_row[j]; i++) {
                float *v = &buf[(size_t)i * ncols + j];
                if (!isnan(*v) && (rc = number_code(c, j, v, 0, c->field_of[j])))
                    goto out;
            }
        }
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

/* ---- stage 1: read text blocks ----------------------------------------- */

#define BLOCK_TEXT (2u << 20)
#define CHUNK_BYTES (4u << 20)

/* Fit the pipeline into ctx->mem_budget: each block in flight holds its
 * text and at most twice as many bytes of floats (a 1-digit field and its
 * delimiter become 4 bytes), each chunk slot of the writer three chunk
 * buffers; dictionaries are bounded by --max-levels and small beside them.
 * Fewer blocks in flight first, then smaller blocks, then smaller chunks
 * (which cost compression ratio), then smaller blocks again. */
static int plan_memory(struct conv *c, int workers, km_kmx_wopts *wo)
{
    uint64_t budget = c->ctx->mem_budget, ncols = c->schema.ncols;
    uint64_t row = 4 * ncols, slots = (uint64_t)workers + 2;
    uint64_t chunk = wo->rows_per_chunk ? wo->rows_per_chunk * row
                                        : (CHUNK_BYTES / row ? CHUNK_BYTES / row : 1) * row;
    uint64_t text = BLOCK_TEXT, fixed = 8u << 20; /* code, stacks, stdio, dictionaries */
    for (;;) {
        uint64_t need = fixed + (uint64_t)c->nblocks * 3 * text + slots * 3 * chunk;
        if (need <= budget)
            break;
        if (c->nblocks > 2) {
            c->nblocks--;
        } else if (text > (256u << 10)) {
            text /= 2;
        } else if (!wo->rows_per_chunk && chunk > row && chunk > (64u << 10)) {
            chunk = chunk / 2 / row * row;
            if (chunk < row)
                chunk = row;
        } else if (text > (64u << 10)) {
            text /= 2;
        } else {
            char b1[32], b2[32];
            return km_seterr(&c->ctx->err, KM_ENOMEM,
                             "--mem %s is too small to convert %llu columns; it needs at least %s",
                             km_format_size(budget, b1, sizeof b1), (unsigned long long)ncols,
                             km_format_size(need, b2, sizeof b2));
        }
    }
    if (!wo->rows_per_chunk)
        wo->rows_per_chunk = (uint32_t)(chunk / row);
    c->block_text = (size_t)text;
    km_debug(c->ctx, "memory plan: %d blocks of %llu bytes, chunks of %u rows", c->nblocks,
             (unsigned long long)text, wo->rows_per_chunk);
    return 0;
}

/* Read until buf holds want bytes or the input ends. */
static int read_more(km_ctx *ctx, int fd, const char *name, char *buf, size_t *len, size_t want,
                     int *eof)
{
    while (*len < want && !*eof) {
        if (km_check_interrupt(ctx))
            return KM_EINTR;
        ssize_t n = read(fd, buf + *len, want - *len);
        if (n < 0) {
            if (errno == EINTR)
                continue; /* a signal: the check above decides */
            return km_seterr(&ctx->err, km_errno_code(errno), "%s: read error: %s", name,
                             strerror(errno));
        }
        if (n == 0)
            *eof = 1;
        *len += (size_t)n;
    }
    return 0;
}

static int grow_text(km_ctx *ctx, struct block *b, size_t need)
{
    if (need <= b->cap)
        return 0;
    size_t ncap = b->cap ? b->cap : need;
    while (ncap < need)
        ncap *= 2;
    char *nt = realloc(b->buf, ncap + TEXT_PAD);
    if (!nt)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    b->buf = nt;
    b->cap = ncap;
    return 0;
}

/* Regular files are mapped block by block instead of read: read() would
 * copy every byte from the page cache on the one thread that feeds the
 * parsers (8% of a single-thread run on 7-digit floats, all of it
 * serial). The block at pos of a file of size bytes: up to want bytes
 * holding whole records (km_csv_split, as for read blocks), *end of
 * them. The mapping reaches MAP_SLACK bytes further, still inside the
 * file, for the fast paths' loads past the text (they stop at each
 * record's LF, so what they see there is only read). It is private and
 * writable, because the CSV parser unescapes quoted fields in place: such
 * a page is copied, the file never changes. Returns 1 when no record ends
 * in a window that still fits the file: the caller reads the rest. */
#define MAP_SLACK 4096u

static int map_block(struct conv *c, int fd, uint64_t pos, uint64_t size, size_t max_line,
                     uint64_t line, struct block *b, size_t *end, uint64_t *lines)
{
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), base = pos - pos % pg;
    if (km_check_interrupt(c->ctx))
        return KM_EINTR;
    for (size_t want = c->block_text; pos + want + MAP_SLACK <= size; want *= 2) {
        size_t len = (size_t)(pos - base) + want + MAP_SLACK;
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)base);
        if (m == MAP_FAILED)
            return 1; /* (a file system without mmap) the read path will do */
        char *text = (char *)m + (pos - base);
        *end = km_csv_split(text, want, c->delim, 0, 0, lines);
        if (*end > 0) {
            b->map = m;
            b->maplen = len;
            b->lo = m;
            b->text = text;
            b->len = *end;
            return 0;
        }
        munmap(m, len);
        if (want >= max_line)
            return km_seterr(&c->ctx->err, KM_ELIMIT,
                             "%s:%llu: record longer than %zu bytes (raise --max-line)", c->name,
                             (unsigned long long)line, max_line);
    }
    return 1;
}

static void unmap_block(struct block *b)
{
    if (b->map) {
        munmap(b->map, b->maplen);
        b->map = NULL;
    }
}

int km_convert(km_ctx *ctx, const km_convert_opts *o, km_convert_result *res)
{
    struct conv c;
    memset(&c, 0, sizeof c);
    memset(res, 0, sizeof *res);
    c.ctx = ctx;
    c.o = o;
    c.name = strcmp(o->input, "-") == 0 ? "<stdin>" : o->input;
    c.max_levels = o->max_levels ? o->max_levels : DEFAULT_MAX_LEVELS;
    size_t max_line = o->max_line ? o->max_line : ((size_t)64 << 20);
    c.max_line = max_line;
    int fd = -1, rc, eof = 0;
    km_kmx_source src;
    km_progress prog;
    int prog_on = 0, head = 0, inflight = 0;
    km_csv *hcsv = NULL;
    char *carry = NULL;
    size_t carry_len = 0;

    if ((rc = km_numparse_init(&c.np))) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = na_parse(&c, o->na_values ? o->na_values : KM_DEFAULT_NA)))
        goto out;
    if ((rc = open_input(ctx, o->input, &fd, &src)))
        goto out;

    /* the first text: enough to detect the delimiter and hold the header */
    size_t clen = 0, ccap = BLOCK_TEXT;
    carry = malloc(ccap);
    if (!carry) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = read_more(ctx, fd, c.name, carry, &clen, 65536, &eof)))
        goto out;
    size_t skip = clen >= 3 && memcmp(carry, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    c.delim = o->delim ? o->delim : km_csv_detect_delim(carry + skip, clen - skip);
    uint64_t lines;
    size_t hend;
    for (;;) { /* find the end of the header record */
        hend = km_csv_split(carry + skip, clen - skip, c.delim, eof, 1, &lines);
        if (hend || eof)
            break;
        if (clen >= max_line) {
            rc = km_seterr(&ctx->err, KM_ELIMIT, "%s:1: record longer than %zu bytes (raise --max-line)",
                           c.name, max_line);
            goto out;
        }
        if (clen == ccap) {
            char *nc = realloc(carry, ccap * 2);
            if (!nc) {
                rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
                goto out;
            }
            carry = nc;
            ccap *= 2;
        }
        if ((rc = read_more(ctx, fd, c.name, carry, &clen, ccap, &eof)))
            goto out;
    }
    km_csv_opts co = {c.delim, o->lazy_quotes, max_line, c.name};
    if ((rc = km_csv_open_mem(ctx, &co, &hcsv)))
        goto out;
    /* parse a copy: parsing unescapes in place, and with --no-header the
     * same bytes are parsed again as data */
    char *htext = malloc(hend ? hend : 1);
    if (!htext) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(htext, carry + skip, hend);
    km_csv_reset_mem(hcsv, htext, hend, 1);
    km_csv_field *f;
    size_t nf;
    rc = km_csv_next(hcsv, &f, &nf);
    if (rc == 0)
        rc = km_seterr(&ctx->err, KM_EPARSE, "%s: empty input (no header, no data)", c.name);
    if (rc < 0) {
        free(htext);
        goto out;
    }
    rc = setup_columns(&c, f, nf, 1);
    free(htext);
    if (rc)
        goto out;
    res->delim = c.delim;
    uint64_t next_line = 1;
    if (!o->no_header) {
        next_line += lines;
        skip += hend;
    }
    memmove(carry, carry + skip, clen - skip);
    carry_len = clen - skip;
    c.bytes_in = skip;
    /* a regular file not read to its end yet is mapped from here on
     * (map_block); what was read past the header is read again there */
    uint64_t pos = skip;
    int mapped = fd > STDIN_FILENO && !eof && src.size > skip;
    if (mapped)
        carry_len = 0;

    km_kmx_wopts wo = {o->level, o->shuffle, o->chunk_rows, o->pool};
    int workers = km_pool_workers(o->pool);
    c.nblocks = 2 * workers + 2 > 32 ? 32 : 2 * workers + 2;
    if ((rc = plan_memory(&c, workers, &wo)))
        goto out;
    if ((rc = km_kmx_create(ctx, o->output, c.schema.ncols, &wo, &c.w)))
        goto out;
    c.rpc = km_kmx_chunk_rows(c.w);
    c.chunk = km_kmx_buffer(c.w);
    km_progress_start(&prog, ctx, "converting", src.size, "B");
    prog_on = 1;

    c.blocks = calloc((size_t)c.nblocks, sizeof *c.blocks);
    if (!c.blocks) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < c.nblocks; i++) {
        c.blocks[i].c = &c;
        c.blocks[i].wctx = *ctx;
        if ((rc = km_csv_open_mem(&c.blocks[i].wctx, &co, &c.blocks[i].csv)))
            goto out;
    }

    for (;;) {
        int read_all = eof && carry_len == 0;
        /* merge the oldest block when its slot is needed, or at the end */
        if (inflight && (inflight == c.nblocks || read_all)) {
            struct block *ob = &c.blocks[head];
            km_pool_wait(o->pool, ob->job);
            ob->job = NULL;
            head = (head + 1) % c.nblocks;
            inflight--;
            unmap_block(ob); /* the rows hold all merge_block needs */
            if ((rc = merge_block(&c, ob)))
                goto out;
            km_progress_update(&prog, c.bytes_in);
            continue;
        }
        if (read_all)
            break;
        struct block *b = &c.blocks[(head + inflight) % c.nblocks];
        size_t end;
        if (mapped &&
            (rc = map_block(&c, fd, pos, src.size, max_line, next_line, b, &end, &lines)) <= 0) {
            if (rc < 0)
                goto out;
            pos += end;
        } else {
            if (mapped) { /* the file's last block or two: read them */
                mapped = 0;
                if (lseek(fd, (off_t)pos, SEEK_SET) < 0) {
                    rc = km_seterr(&ctx->err, km_errno_code(errno), "%s: seek error: %s",
                                   c.name, strerror(errno));
                    goto out;
                }
            }
            if ((rc = grow_text(ctx, b, carry_len > c.block_text ? carry_len : c.block_text)))
                goto out;
            b->text = b->buf;
            b->lo = b->buf;
            memcpy(b->text, carry, carry_len);
            b->len = carry_len;
            for (;;) {
                if ((rc = read_more(ctx, fd, c.name, b->text, &b->len, b->cap, &eof)))
                    goto out;
                end = km_csv_split(b->text, b->len, c.delim, eof, 0, &lines);
                if (end > 0 || eof)
                    break;
                if (b->len > max_line) {
                    rc = km_seterr(&ctx->err, KM_ELIMIT,
                                   "%s:%llu: record longer than %zu bytes (raise --max-line)",
                                   c.name, (unsigned long long)next_line, max_line);
                    goto out;
                }
                if ((rc = grow_text(ctx, b, b->cap * 2)))
                    goto out;
                b->text = b->buf;
                b->lo = b->buf;
            }
            /* what follows the last complete record waits for the next block */
            carry_len = b->len - end;
            if (carry_len > ccap) {
                char *nc = realloc(carry, carry_len);
                if (!nc) {
                    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
                    goto out;
                }
                carry = nc;
                ccap = carry_len;
            }
            memcpy(carry, b->text + end, carry_len);
            b->len = end;
            memset(b->text + end, 0, TEXT_PAD);
        }
        b->first_line = next_line;
        next_line += lines;
        c.bytes_in += end;
        b->job = km_pool_submit(o->pool, 1, parse_block, b);
        if (!b->job) {
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            goto out;
        }
        inflight++;
    }
    if (c.rows == 0) {
        rc = km_seterr(&ctx->err, KM_EPARSE, "%s: no data rows%s", c.name,
                       o->no_header ? "" : " (only a header)");
        goto out;
    }
    if (c.chunk_row && (rc = km_kmx_put(c.w, c.chunk_row)))
        goto out;
    if (c.any_late)
        rc = rewrite_late(&c, &src, &wo);
    else if (!(rc = dicts_to_schema(&c)))
        rc = km_kmx_finish(c.w, &c.schema, &src);
    if (rc)
        goto out;
    res->bytes_out = km_kmx_written(c.w);
    res->rows = c.rows;
    res->bytes_in = c.bytes_in;
    res->ncols = c.schema.ncols;
    res->blank_lines = c.blank;
    res->ragged_rows = c.ragged;
    for (uint32_t j = 0; j < c.schema.ncols; j++)
        res->ncategorical += c.schema.cols[j].type == KM_COL_CATEGORICAL;
    rc = 0;
out:
    /* jobs still parsing use the blocks: let them finish first */
    for (int i = 0; i < inflight; i++) {
        struct block *ob = &c.blocks[(head + i) % c.nblocks];
        km_pool_wait(o->pool, ob->job);
    }
    if (prog_on)
        km_progress_end(&prog);
    if (c.w)
        km_kmx_abort(c.w);
    km_csv_close(hcsv);
    for (int i = 0; c.blocks && i < c.nblocks; i++) {
        struct block *b = &c.blocks[i];
        km_csv_close(b->csv);
        unmap_block(b);
        free(b->buf);
        free(b->rows);
        free(b->lines);
        free(b->pos);
        free(b->cells);
        for (uint32_t j = 0; b->ld && j < c.schema.ncols; j++)
            km_strtab_free(&b->ld[j]);
        free(b->ld);
    }
    free(c.blocks);
    free(c.gmap);
    free(c.cstart);
    free(c.cidx);
    free(c.field_of);
    free(c.fast_dst);
    free(c.late_row);
    free(carry);
    if (fd > STDIN_FILENO)
        close(fd);
    km_numparse_free(c.np);
    for (uint32_t j = 0; c.dicts && j < c.schema.ncols; j++)
        km_strtab_free(&c.dicts[j]);
    km_schema_free(&c.schema);
    free(c.dicts);
    free(c.forced);
    free(c.map);
    for (size_t i = 0; i < c.na.n; i++)
        free(c.na.tok[i]);
    free(c.na.tok);
    free(c.na.len);
    return rc;
}
