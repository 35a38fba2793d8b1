/* convert_cells.c - stage 2 of km_convert, what both parsing paths share:
 * a block's NA tokens, its text cells, its room for rows and its failures.
 *
 * What it does: text_field takes a field the fast paths (convert_fast.c)
 * did not read as a number and does what the general path
 * (convert_parse.c) does with an unquoted field; add_cell keeps a text
 * value as a cell (row, column, code in the block's own dictionary) for
 * stage 3 to give its global code in input order.
 *
 * What it promises: the same value and cell whichever path met the
 * field; a failure kept in the block (rc, err), never in the caller's
 * error record, since these run on the pool's workers.
 *
 * What it needs: a block from stage 1 and the columns set up from the
 * header. It sits below both parsers, so that the general path can call
 * the fast ones and the fast ones this file, with no file calling back. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/bytes.h"
#include "kmill/csv.h"
#include "kmill/numparse.h"
#include "kmill/strtab.h"
#include "data/convert_impl.h"

int na_parse(struct conv *c, const char *list)
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
            if (!nt || !nl || !(na->tok[na->n] = km_memdup(p, len)))
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

int block_fail(struct block *b, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err, sizeof b->err, fmt, ap);
    va_end(ap);
    b->rc = rc;
    return rc;
}

int add_cell(struct block *b, uint32_t row, uint32_t col, const km_csv_field *f,
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
int block_row_room(struct block *b, uint32_t ncols)
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

/* A field the fast paths did not read as a number, or any field of a column
 * forced categorical (fast_dst -2): what the general path does with an
 * unquoted field, for row b->nrows of the record at the csv's rest. The
 * value goes to row[its column]: a number, NaN for NA, or NaN and a text
 * cell; 0. 1 (a decision, not an error: no message) leaves the record
 * to the general path: a quote (to unescape, or to refuse), text in a
 * column forced numeric (for its message), or no memory (which the general
 * path meets again and reports). The caller drops cells added for a
 * record it then leaves. */
__attribute__((noinline)) int text_field(struct block *b, uint32_t j, const char *s, size_t len,
                                         float *row)
{
    struct conv *c = b->c;
    long oj = c->map[j];
    if (memchr(s, '"', len))
        return 1; /* also in a dropped column: a quoted line end is no record end */
    if (oj < 0)
        return 0;
    float *v = &row[oj];
    if (c->forced[oj] != 2 && km_parse_f32(c->np, s, len, v) == 0)
        return 0;
    *v = NAN;
    km_csv_field f = {s, (uint32_t)len, 0};
    if (is_na(&c->na, &f))
        return 0;
    if (c->forced[oj] == 1 && c->o->bad_values != KM_BAD_MISSING)
        return 1;
    return add_cell(b, b->nrows, (uint32_t)oj, &f, km_csv_rest_line(b->csv), j + 1) ? 1 : 0;
}
