/* convert_read.c - stage 1 of km_convert: the input, its header, its text
 * blocks.
 *
 * What it does: opens the input (a file, or a pipe on standard input) and
 * fingerprints a regular file for the metadata; reads the header record,
 * detects the delimiter and sets the columns up from it; then cuts the
 * rest of the input into text blocks of about c->block_text bytes, each
 * ending at a record end (km_csv_split). A regular file is mapped block by
 * block (map_block), anything else read, with the text after the last
 * complete record carried into the next block.
 *
 * What it promises: blocks hold whole records, in input order, with the
 * line number each starts at, and are readable TEXT_PAD bytes past their
 * text (zero bytes, or the rest of a mapped page), as the fast paths of
 * convert_fast.c need. A record longer than --max-line is refused with its
 * line number. The input file is never written: mappings are private.
 *
 * What it needs: c->o, c->name and c->max_line set (km_convert), and,
 * for blocks, c->block_text from plan_memory. Runs on the caller's thread
 * only. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/crc32c.h"
#include "kmill/csv.h"
#include "kmill/log.h"
#include "kmill/numparse.h"
#include "kmill/schema.h"
#include "kmill/strtab.h"
#include "data/convert_impl.h"

/* keep (a model's columns): every other column dropped, these typed as
 * given; names is the header's names, interned in column order. cat[j]
 * becomes 3 for keep type 3: categorical from the start, yet its numbers
 * read as numbers and stored as the categories of their text, as a
 * column inferred categorical is (forced 3: never numeric with bad
 * values); 4 for keep type 4, an identifier (forced categorical, its
 * levels bounded by KM_ID_LEVELS). */
static int keep_columns(struct conv *c, km_strtab *names, unsigned char *drop, unsigned char *cat,
                        unsigned char *num)
{
    const km_convert_opts *o = c->o;
    unsigned char *keep = calloc(c->nin, 1);
    if (!keep)
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    uint32_t found = 0;
    for (uint32_t k = 0; k < o->nkeep; k++) {
        uint32_t j;
        int rc = km_strtab_intern(names, o->keep[k], (uint32_t)strlen(o->keep[k]), c->nin, &j);
        if (rc < 0) {
            free(keep);
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        }
        if (rc > 0)
            continue; /* not in the input */
        found += !keep[j];
        keep[j] = 1;
        if (o->keep_type[k] == 3 && !cat[j])
            cat[j] = 3; /* categorical, numbers as their text (see convert.h) */
        cat[j] |= o->keep_type[k] == 2;
        if (o->keep_type[k] == 4)
            cat[j] = 4;
        num[j] |= o->keep_type[k] == 1;
    }
    /* none there (another file, or the wrong delimiter): all kept, for the
     * caller's binding to name what is missing */
    for (uint32_t j = 0; found && j < c->nin; j++)
        drop[j] |= !keep[j];
    free(keep);
    return 0;
}

/* The columns from the header's nf fields: names (col1.. with --no-header),
 * the --drop, --categorical and --numeric lists resolved against them, and
 * the tables the parsers read (map, forced, fast_dst, dense). */
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
        if (!(in.cols[j].name = km_memdup(nm, len))) {
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
        (o->numeric && (rc = km_schema_select(&in, o->numeric, "--numeric", num, &c->ctx->err))) ||
        (o->nkeep && (rc = keep_columns(c, &names, drop, cat, num))))
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
    c->cs = calloc(nout, sizeof *c->cs);
    if (!c->schema.cols || !c->dicts || !c->forced || !c->field_of || !c->fast_dst || !c->late_row ||
        !c->cs) {
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
        c->forced[c->map[j]] = cat[j] == 3 ? 3 : cat[j] ? 2 : num[j] ? 1 : 0;
        c->field_of[c->map[j]] = j + 1;
        c->late_row[c->map[j]] = UINT64_MAX;
        /* forced numeric with --bad-values missing: text is missing from
         * the start, no row holds a code */
        c->cs[c->map[j]].demoted = num[j] && c->o->bad_values == KM_BAD_MISSING;
        c->cs[c->map[j]].demote_row = c->cs[c->map[j]].demoted ? 0 : UINT64_MAX;
        c->fast_dst[j] = cat[j] && cat[j] != 3 ? -2 : (int32_t)c->map[j];
        c->cs[c->map[j]].max_levels = cat[j] == 4 ? KM_ID_LEVELS : 0;
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

int input_open(struct conv *c)
{
    km_ctx *ctx = c->ctx;
    const char *path = c->o->input;
    int *fd = &c->in.fd;
    km_kmx_source *src = &c->in.src;
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
        c->in.regular = S_ISREG(st.st_mode);
        if (S_ISDIR(st.st_mode))
            return km_seterr(&ctx->err, KM_EIO, "%s: is a directory", path);
        if (S_ISREG(st.st_mode)) {
            src->size = (uint64_t)st.st_size;
            src->mtime = (int64_t)st.st_mtime;
            /* fingerprint: CRC of the first MiB, read without moving the offset */
            size_t n = st.st_size < (1 << 20) ? (size_t)st.st_size : (1 << 20);
            unsigned char *head = malloc(n ? n : 1);
            ssize_t got = head ? pread(*fd, head, n, 0) : -1;
            if (got > 0)
                src->head_crc = km_crc32c(0, head, (size_t)got);
            free(head);
        }
    }
    return 0;
}

/* ---- what the input is, from its first bytes ---------------------------- */

/* The compressors whose output is refused (kmill reads text only), with
 * the tool that decompresses to standard output and the file suffix. */
static const struct packer {
    const char *name, *cat, *suffix;
} packers[] = {
    {"gzip", "zcat", ".gz"},
    {"bzip2", "bzcat", ".bz2"},
    {"xz", "xzcat", ".xz"},
    {"zstd", "zstdcat", ".zst"},
};

/* Whether p[0..n) is compressed data, by the compressor's magic number:
 * 2 when the bytes leave no doubt (gzip's header with the deflate method
 * and sane flags, bzip2's with the block or end-of-stream magic, xz's and
 * zstd's magic numbers), 1 when they only begin like it (gzip's two
 * bytes, bzip2's "BZh"), and the name must say so too, 0 otherwise; *k
 * the compressor in packers[]. */
static int magic_of(const unsigned char *p, size_t n, int *k)
{
    if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b) {
        *k = 0;
        return n >= 10 && p[2] == 8 && !(p[3] & 0xe0) && (p[8] == 0 || p[8] == 2 || p[8] == 4) &&
                       (p[9] <= 13 || p[9] == 255)
                   ? 2 : 1;
    }
    if (n >= 3 && memcmp(p, "BZh", 3) == 0) {
        *k = 1;
        return n >= 10 && p[3] >= '1' && p[3] <= '9' &&
                       (memcmp(p + 4, "\x31\x41\x59\x26\x53\x59", 6) == 0 ||
                        memcmp(p + 4, "\x17\x72\x45\x38\x50\x90", 6) == 0)
                   ? 2 : 1;
    }
    if (n >= 6 && memcmp(p, "\xfd" "7zXZ\0", 6) == 0) {
        *k = 2;
        return 2;
    }
    if (n >= 4 && memcmp(p, "\x28\xb5\x2f\xfd", 4) == 0) {
        *k = 3;
        return 2;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

/* Refuse input that is not CSV text, the same way from a file or a pipe:
 * compressed data (by its magic number, or by a magic number's start and
 * the name), and kmill's own files (a dataset sent through a pipe, which
 * its reader cannot seek in, or a model). */
static int sniff_head(struct conv *c, const unsigned char *p, size_t n)
{
    const char *in = c->o->input;
    int piped = strcmp(in, "-") == 0, k = 0;
    int m = magic_of(p, n, &k);
    if (m == 2 || (m == 1 && !piped && ends_with(in, packers[k].suffix))) {
        if (piped)
            return km_seterr(&c->ctx->err, KM_EFORMAT,
                             "%s: %s-compressed; decompress it first, e.g. "
                             "'... | %s | kmill convert - -o OUT.kmx'",
                             c->name, packers[k].name, packers[k].cat);
        return km_seterr(&c->ctx->err, KM_EFORMAT,
                         "%s: %s-compressed; decompress it first, e.g. "
                         "'%s %s | kmill convert - -o OUT.kmx'",
                         c->name, packers[k].name, packers[k].cat, in);
    }
    if (n >= 8 && memcmp(p, "\x89KMX\r\n\x1a\n", 8) == 0)
        return km_seterr(&c->ctx->err, KM_EFORMAT,
                         c->in.regular && !piped
                             ? "%s: a kmill dataset (.kmx), not CSV"
                             : "%s: a kmill dataset (.kmx) cannot be read from a pipe or standard "
                               "input; give its file name",
                         c->name);
    if (n >= 8 && memcmp(p, "\x89KMM\r\n\x1a\n", 8) == 0)
        return km_seterr(&c->ctx->err, KM_EFORMAT, "%s: a kmill model (.kmm), not CSV", c->name);
    return 0;
}

int km_convert_probe(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    unsigned char p[4096];
    ssize_t n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? pread(fd, p, sizeof p, 0) : -1;
    close(fd);
    int k;
    if (n <= 0 || magic_of(p, (size_t)n, &k) || !memchr(p, '\n', (size_t)n))
        return 0;
    /* text: no control byte but tab, CR and LF (which also rules out
     * kmill's own signatures, holding 0x1a, even cut short) */
    for (ssize_t i = 0; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') || p[i] == 0x7f)
            return 0;
    return 1;
}

/* Refuse text p[0..n), which starts at line `line` and at a record's
 * start, if it holds a NUL byte: binary data, named by the line and
 * field the parser would name (quotes followed, as km_csv_split does).
 * Run on the first block and on a block that grows for want of a record
 * end, so that binary input is refused at once rather than after
 * --max-line bytes. */
static int refuse_nul(struct conv *c, const char *p, size_t n, uint64_t line)
{
    const char *z = memchr(p, '\0', n);
    if (!z)
        return 0;
    unsigned field = 1;
    int inq = 0, fstart = 1;
    for (const char *q = p; q < z; q++) {
        int eol = *q == '\n' || (*q == '\r' && !(q + 1 < z && q[1] == '\n'));
        if (inq) {
            if (*q == '"' && q + 1 < z && q[1] == '"')
                q++;
            else if (*q == '"')
                inq = 0;
            line += eol;
            continue;
        }
        if (*q == '"' && fstart)
            inq = 1;
        fstart = *q == c->delim || eol || (*q == '\r' && !eol);
        field = *q == c->delim ? field + 1 : eol ? 1 : field;
        line += eol;
    }
    return km_seterr(&c->ctx->err, KM_EPARSE,
                     "%s:%llu:%u: binary data (NUL byte); is this a CSV file?", c->name,
                     (unsigned long long)line, field);
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
 * a page is copied, the file never changes. Leaves *end 0 when no record
 * ends in a window that still fits the file (or mmap fails): the caller
 * reads the rest. */
#define MAP_SLACK 4096u

static int map_block(struct conv *c, struct block *b, size_t *end, uint64_t *lines)
{
    int fd = c->in.fd;
    uint64_t pos = c->in.pos, size = c->in.src.size, line = c->in.next_line;
    size_t max_line = c->max_line;
    uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE), base = pos - pos % pg;
    *end = 0;
    if (km_check_interrupt(c->ctx))
        return KM_EINTR;
    for (size_t want = c->block_text; pos + want + MAP_SLACK <= size; want *= 2) {
        size_t len = (size_t)(pos - base) + want + MAP_SLACK;
        void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, (off_t)base);
        if (m == MAP_FAILED)
            return 0; /* (a file system without mmap) the read path will do */
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
        int rc = refuse_nul(c, text, want, line);
        munmap(m, len);
        if (rc)
            return rc;
        if (want >= max_line)
            return km_seterr(&c->ctx->err, KM_ELIMIT,
                             "%s:%llu: record longer than %zu bytes (raise --max-line)", c->name,
                             (unsigned long long)line, max_line);
    }
    *end = 0;
    return 0;
}

void unmap_block(struct block *b)
{
    if (b->map) {
        munmap(b->map, b->maplen);
        b->map = NULL;
    }
}

/* Read up to the end of the header record into c->in.carry: the first 64
 * KiB at once (enough to detect the delimiter), then more as long as the
 * first record has not ended. *skip is the BOM's length, *hend the header
 * record's, *lines its lines. */
static int read_first_record(struct conv *c, size_t *skip, size_t *hend, uint64_t *lines)
{
    struct input *in = &c->in;
    in->carry_cap = BLOCK_TEXT;
    if (!(in->carry = malloc(in->carry_cap)))
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    size_t clen = 0;
    int rc = read_more(c->ctx, in->fd, c->name, in->carry, &clen, 65536, &in->eof);
    if (rc || (rc = sniff_head(c, (const unsigned char *)in->carry, clen)))
        return rc;
    *skip = clen >= 3 && memcmp(in->carry, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    c->delim = c->o->delim ? c->o->delim : km_csv_detect_delim(in->carry + *skip, clen - *skip);
    for (;;) { /* find the end of the header record */
        if ((rc = refuse_nul(c, in->carry + *skip, clen - *skip, 1)))
            return rc;
        *hend = km_csv_split(in->carry + *skip, clen - *skip, c->delim, in->eof, 1, lines);
        if (*hend || in->eof)
            break;
        if (clen >= c->max_line)
            return km_seterr(&c->ctx->err, KM_ELIMIT,
                             "%s:1: record longer than %zu bytes (raise --max-line)", c->name,
                             c->max_line);
        if (clen == in->carry_cap) {
            char *nc = realloc(in->carry, in->carry_cap * 2);
            if (!nc)
                return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
            in->carry = nc;
            in->carry_cap *= 2;
        }
        if ((rc = read_more(c->ctx, in->fd, c->name, in->carry, &clen, in->carry_cap, &in->eof)))
            return rc;
    }
    in->carry_len = clen;
    return 0;
}

/* Whether an unquoted field is a number with a decimal comma: digits, one
 * ',' and digits, a sign first at most ("14,4383", "-0,5"). */
static int comma_decimal(const char *p, size_t n)
{
    size_t i = n && (p[0] == '-' || p[0] == '+');
    size_t comma = 0, digits = 0;
    for (; i < n; i++) {
        if (p[i] == ',' && !comma && digits)
            comma = i;
        else if (p[i] >= '0' && p[i] <= '9')
            digits++;
        else
            return 0;
    }
    return comma && comma + 1 < n;
}

/* The decimal mark: the option's, else ',' for a ';'-separated file whose
 * first data (the text read with the header, text) holds fields such as
 * "14,4383" and no number with a '.': how spreadsheets in much of Europe
 * write CSV, which read with '.' would make every such column categorical.
 * Said on the log, so that a wrong guess is seen (--decimal . undoes it). */
static int choose_decimal(struct conv *c, const char *text, size_t len)
{
    c->decimal = c->o->decimal ? c->o->decimal : '.';
    if (c->decimal == ',' && c->delim == ',')
        return km_seterr(&c->ctx->err, KM_EINVAL,
                         "--decimal , needs another delimiter than ',' (--delimiter ';')");
    if (c->o->decimal || c->delim != ';')
        return 0;
    uint64_t commas = 0, dots = 0;
    const char *first = NULL;
    size_t flen = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != ';' && text[e] != '\n' && text[e] != '\r')
            e++;
        float v;
        if (comma_decimal(text + i, e - i)) {
            if (!commas++) {
                first = text + i;
                flen = e - i;
            }
        } else if (memchr(text + i, '.', e - i) && km_parse_f32(c->np, text + i, e - i, &v) == 0) {
            dots++;
        }
        i = e + 1;
    }
    if (!commas && !dots && c->o->decimal_hint) {
        c->decimal = c->o->decimal_hint; /* nothing to go by: as in training */
        return 0;
    }
    if (!commas || dots)
        return 0;
    c->decimal = ',';
    km_info(c->ctx, "%s: ';'-separated with decimal commas (\"%.*s\"): reading ',' as the decimal "
            "mark (--decimal . to read it as text)", c->name, (int)(flen > 24 ? 24 : flen), first);
    return 0;
}

int read_header(struct conv *c)
{
    struct input *in = &c->in;
    size_t skip = 0, hend = 0;
    uint64_t lines = 0;
    int rc = read_first_record(c, &skip, &hend, &lines);
    if (rc)
        return rc;
    in->co = (km_csv_opts){c->delim, c->o->lazy_quotes, c->max_line, c->name};
    /* parse a copy: parsing unescapes in place, and with --no-header the
     * same bytes are parsed again as data */
    km_csv *hcsv = NULL;
    char *htext = malloc(hend ? hend : 1);
    if (!htext)
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    if ((rc = km_csv_open_mem(c->ctx, &in->co, &hcsv))) {
        free(htext);
        return rc;
    }
    memcpy(htext, in->carry + skip, hend);
    km_csv_reset_mem(hcsv, htext, hend, 1);
    km_csv_field *f;
    size_t nf;
    rc = km_csv_next(hcsv, &f, &nf);
    if (rc == 0)
        rc = km_seterr(&c->ctx->err, KM_EPARSE, "%s: empty input (no header, no data)", c->name);
    if (rc > 0)
        rc = setup_columns(c, f, nf, 1);
    free(htext);
    km_csv_close(hcsv);
    if (rc)
        return rc;
    in->next_line = 1;
    if (!c->o->no_header) {
        in->next_line += lines;
        skip += hend;
    }
    if ((rc = choose_decimal(c, in->carry + skip, in->carry_len - skip)))
        return rc;
    memmove(in->carry, in->carry + skip, in->carry_len - skip);
    in->carry_len -= skip;
    c->bytes_in = skip;
    /* a regular file not read to its end yet is mapped from here on
     * (map_block); what was read past the header is read again there */
    in->pos = skip;
    in->mapped = in->fd > STDIN_FILENO && !in->eof && in->src.size > skip;
    if (in->mapped)
        in->carry_len = 0;
    return 0;
}

/* The next block read into b's buffer: the carried text, then more until
 * a record ends in it (growing it up to --max-line), and what follows the
 * last complete record carried to the next block; TEXT_PAD zero bytes
 * after the text. */
static int read_text_block(struct conv *c, struct block *b, size_t *end, uint64_t *lines)
{
    struct input *in = &c->in;
    int rc = grow_text(c->ctx, b, in->carry_len > c->block_text ? in->carry_len : c->block_text);
    if (rc)
        return rc;
    b->text = b->buf;
    b->lo = b->buf;
    memcpy(b->text, in->carry, in->carry_len);
    b->len = in->carry_len;
    for (;;) {
        if ((rc = read_more(c->ctx, in->fd, c->name, b->text, &b->len, b->cap, &in->eof)))
            return rc;
        *end = km_csv_split(b->text, b->len, c->delim, in->eof, 0, lines);
        if (*end > 0 || in->eof)
            break;
        if ((rc = refuse_nul(c, b->text, b->len, in->next_line)))
            return rc;
        if (b->len > c->max_line)
            return km_seterr(&c->ctx->err, KM_ELIMIT,
                             "%s:%llu: record longer than %zu bytes (raise --max-line)", c->name,
                             (unsigned long long)in->next_line, c->max_line);
        if ((rc = grow_text(c->ctx, b, b->cap * 2)))
            return rc;
        b->text = b->buf;
        b->lo = b->buf;
    }
    /* what follows the last complete record waits for the next block */
    in->carry_len = b->len - *end;
    if (in->carry_len > in->carry_cap) {
        char *nc = realloc(in->carry, in->carry_len);
        if (!nc)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
        in->carry = nc;
        in->carry_cap = in->carry_len;
    }
    memcpy(in->carry, b->text + *end, in->carry_len);
    b->len = *end;
    memset(b->text + *end, 0, TEXT_PAD);
    return 0;
}

int read_block(struct conv *c, struct block *b)
{
    struct input *in = &c->in;
    size_t end = 0;
    uint64_t lines;
    int rc;
    if (in->mapped) {
        if ((rc = map_block(c, b, &end, &lines)))
            return rc;
        if (end) {
            in->pos += end;
        } else { /* the file's last block or two: read them */
            in->mapped = 0;
            if (lseek(in->fd, (off_t)in->pos, SEEK_SET) < 0)
                return km_seterr(&c->ctx->err, km_errno_code(errno), "%s: seek error: %s",
                                 c->name, strerror(errno));
        }
    }
    if (!end && (rc = read_text_block(c, b, &end, &lines)))
        return rc;
    b->first_line = in->next_line;
    in->next_line += lines;
    c->bytes_in += end;
    return 0;
}
