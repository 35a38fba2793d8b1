/* convert_parse.c - stage 2 of km_convert: a text block into float rows.
 *
 * What it does: parse_block, a pool job, turns one block of whole records
 * into rows of floats (one per output column) and keeps each text value
 * aside as a cell (row, column, code in a block-local dictionary), for
 * stage 3 to give global codes in input order. Each record is tried on the
 * fast paths of convert_fast.c first, then on the general path here: the
 * CSV parser (quotes, escapes, ragged rows, blank lines) and one field at
 * a time through km_parse_f32, NA tokens and the forced column types.
 *
 * What it promises: the rows do not depend on which path read a record,
 * nor on the block boundaries or the thread; a block's failure is kept in
 * the block (rc, err) with the input line in its message, for merge_block
 * to report in input order.
 *
 * What it needs: a block from stage 1 (whole records, TEXT_PAD zero bytes
 * after them) and the columns set up from the header (setup_columns). It
 * writes only its own block: a job never touches the conversion's shared
 * state, so blocks parse in parallel. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/csv.h"
#include "kmill/numparse.h"
#include "kmill/strtab.h"
#include "data/convert_impl.h"
#include "data/plain.h"

/* The general path's number: km_parse_f32's, with the SSE4.1 parser of
 * plain decimals tried first (sse) as on the fast paths (on a file whose
 * records all take this path, half the time); 1 for a number. The field
 * lies in the block's text, so the 16-byte load stays within its padding. */
static int general_number(const struct conv *c, int sse, const char *s, size_t len, float *v)
{
    const km_numparse *np = c->np;
    if (c->decimal == ',') {
        /* "1.234" is a thousand or a fraction: neither, here (text) */
        char buf[64];
        if (len >= sizeof buf || memchr(s, '.', len))
            return 0;
        memcpy(buf, s, len);
        char *comma = memchr(buf, ',', len);
        if (comma)
            *comma = '.';
        return km_parse_f32(np, buf, len, v) == 0;
    }
#ifdef KM_PLAIN_SSE41
    if (sse && km_plain_sse41(s, len, v))
        return 1;
#else
    (void)sse;
#endif
    return km_parse_f32(np, s, len, v) == 0;
}

/* Which paths parse_block tries on its block, chosen once per block: the
 * CPU's features and the file's shape decide. ints and decs count down the
 * records in a row the AVX-512 paths could not take. */
struct paths {
    int fast;             /* the fast paths at all */
    int sse;              /* SSE4.1 plain-decimal parser */
    int ints, decs;       /* int_record512, dec_record512: tries left */
    km_plain_fn plain;
};

static int choose_paths(struct block *b, struct paths *pp)
{
    struct conv *c = b->c;
    /* numeric-looking NA tokens (e.g. -999) must be seen before numbers;
     * the fast paths know no decimal comma */
    pp->fast = !c->na.numeric && c->decimal == '.';
    pp->plain = km_numparse_plain(c->np);
#ifdef KM_PLAIN_SSE41
    pp->sse = __builtin_cpu_supports("sse4.1");
#else
    pp->sse = 0;
#endif
    pp->ints = pp->decs = 0;
#ifdef INT_RECORD512
    pp->ints = c->dense && __builtin_cpu_supports("avx512bw") ? 8 : 0;
    pp->decs = c->dense && __builtin_cpu_supports("avx512bw") &&
                       __builtin_cpu_supports("avx512cd")
                   ? 8 : 0;
    if (pp->decs && !b->pos &&
        !(b->pos = malloc(((size_t)c->nin + DEC_POS_SLACK) * sizeof *b->pos)))
        return block_fail(b, KM_ENOMEM, "out of memory");
#endif
    return 0;
}

/* The record at the csv's rest through the fast paths, into row: its
 * length, or 0 to leave it to the general path (text cells added for it
 * are dropped then). */
static inline size_t fast_row(struct block *b, struct paths *pp, float *row)
{
    struct conv *c = b->c;
    size_t avail, n = 0;
    const char *rest = km_csv_rest(b->csv, &avail);
    size_t cells = b->ncells; /* a record left to the next path drops its cells */
    b->nqpend = 0;            /* and its quoted values */
#ifdef INT_RECORD512
    /* after 8 records in a row it cannot take, leave the block to
     * fast_record: a float file would only pay for the tries */
    if (pp->ints && avail) {
        n = int_record512(c->nin, c->delim, rest, row);
        pp->ints = n ? 8 : pp->ints - 1;
    }
    /* the same for decimals; it reads 15 bytes before the record */
    if (pp->decs && !n && avail && rest - b->lo >= 15) {
        n = dec_record512(b, c->nin, c->delim, rest, row, b->pos);
        pp->decs = n ? 8 : pp->decs - 1;
        if (!n)
            b->ncells = cells;
    }
#endif
    if (!n && avail) {
#ifdef KM_PLAIN_SSE41
        if (pp->sse)
            n = fast_record_sse41(b, c->fast_dst, c->nin, c->delim, rest, row);
        else
#endif
            n = fast_record(b, pp->plain, c->fast_dst, c->nin, c->delim, rest, row);
    }
    if (n && n <= c->max_line) { /* (the general path words the error) */
        for (uint32_t k = 0; k < b->nqpend; k++)
            b->nquoted[b->qpend[k]]++;
        return n;
    }
    b->ncells = cells;
    return 0;
}

/* A record of nf fields from the general parser, at line: a row, or
 * skipped (blank, --ragged=skip). 0, or a negative code with the block's
 * error set. */
static int general_row(struct block *b, int sse, const km_csv_field *f, size_t nf,
                       uint64_t line)
{
    struct conv *c = b->c;
    const km_convert_opts *o = c->o;
    uint32_t ncols = c->schema.ncols, nin = c->nin;
    if (nf != nin) {
        if (nf == 1 && f[0].len == 0 && !f[0].quoted) {
            b->blank++;
            return 0;
        }
        if (o->ragged == KM_RAGGED_SKIP || (o->ragged == KM_RAGGED_FILL && nf < nin)) {
            b->ragged++;
            if (o->ragged == KM_RAGGED_SKIP)
                return 0;
        } else {
            return block_fail(b, KM_EPARSE, "%s:%llu:%zu: %zu fields, expected %u as in the %s (%s)",
                              c->name, (unsigned long long)line, (nf < nin ? nf : nin) + 1, nf, nin,
                              o->no_header ? "first row" : "header",
                              nf < nin ? "--ragged=fill or skip to accept" : "--ragged=skip to drop such rows");
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
            general_number(c, sse, fj->p, fj->len, &out[oj])) {
            b->nquoted[oj] += fj->quoted;
            continue;
        }
        out[oj] = NAN;
        if (is_na(&c->na, fj))
            continue;
        if (c->forced[oj] == 1 && o->bad_values != KM_BAD_MISSING)
            return block_fail(b, KM_EPARSE, "%s:%llu:%u: expected a number, got \"%.*s\"", c->name,
                              (unsigned long long)line, j + 1, (int)(fj->len > 40 ? 40 : fj->len),
                              fj->p);
        b->nquoted[oj] += fj->quoted;
        int rc = add_cell(b, b->nrows, (uint32_t)oj, fj, line, j + 1);
        if (rc)
            return rc;
    }
    b->nrows++;
    return 0;
}

/* The block's counts per column, zero: its non-missing numbers (counted
 * at the end, count_numbers) and quoted values (counted by general_row). */
static int counts_reset(struct block *b)
{
    uint32_t ncols = b->c->schema.ncols;
    if (!b->nnum && !(b->nnum = malloc(ncols * sizeof *b->nnum)))
        return block_fail(b, KM_ENOMEM, "out of memory");
    if (!b->nquoted && !(b->nquoted = malloc(ncols * sizeof *b->nquoted)))
        return block_fail(b, KM_ENOMEM, "out of memory");
    if (!b->qpend && !(b->qpend = malloc(ncols * sizeof *b->qpend)))
        return block_fail(b, KM_ENOMEM, "out of memory");
    if (!b->qr && !(b->qr = malloc(ncols * sizeof *b->qr)))
        return block_fail(b, KM_ENOMEM, "out of memory");
    b->nqpend = 0;
    memset(b->nnum, 0, ncols * sizeof *b->nnum);
    memset(b->nquoted, 0, ncols * sizeof *b->nquoted);
    return 0;
}

/* The block's non-missing numbers per column (text and NA are NaN in the
 * rows), for stage 3's decision between categorical and numeric with
 * stray values: counted here, on the pool, as the rows are still warm. */
static void count_numbers(struct block *b)
{
    uint32_t ncols = b->c->schema.ncols;
    for (uint32_t r = 0; r < b->nrows; r++) {
        const float *row = b->rows + (size_t)r * ncols;
        for (uint32_t j = 0; j < ncols; j++)
            b->nnum[j] += row[j] == row[j];
    }
    /* the range of the columns with quoted values, which may turn out
     * categorical (quoted_columns in convert.c): whether their levels fit */
    for (uint32_t j = 0; j < ncols; j++) {
        if (!b->nquoted[j])
            continue;
        struct qrange q = {INFINITY, -INFINITY, 1};
        for (uint32_t r = 0; r < b->nrows; r++) {
            float v = b->rows[(size_t)r * ncols + j];
            if (v != v)
                continue;
            q.lo = v < q.lo ? v : q.lo;
            q.hi = v > q.hi ? v : q.hi;
            q.ints &= v == floorf(v);
        }
        b->qr[j] = q;
    }
}

void parse_block(void *arg, size_t item, int worker)
{
    struct block *b = arg;
    struct conv *c = b->c;
    uint32_t ncols = c->schema.ncols;
    km_csv_field *f;
    size_t nf;
    int rc;
    struct paths pp;
    (void)item;
    (void)worker;
    if (choose_paths(b, &pp) || counts_reset(b))
        return;

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
        size_t n;
        if (pp.fast && (n = fast_row(b, &pp, b->rows + (size_t)b->nrows * ncols))) {
            b->lines[b->nrows++] = km_csv_skip_record(b->csv, n);
            continue;
        }
        if ((rc = km_csv_next(b->csv, &f, &nf)) != 1)
            break;
        if (general_row(b, pp.sse, f, nf, km_csv_line(b->csv)))
            return;
    }
    if (rc < 0)
        block_fail(b, rc, "%s", b->wctx.err.msg);
    else
        count_numbers(b);
}
