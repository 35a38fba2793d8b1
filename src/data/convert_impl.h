/* convert_impl.h - what the stages of km_convert share (private to src/data).
 *
 * km_convert (include/kmill/convert.h) is a pipeline of three stages, one
 * or two files each, in reading order:
 *   stage 1, convert_read.c:  the input, its header and its text blocks;
 *   stage 2, convert_parse.c: a block's records into float rows (pool
 *            jobs), the general path and the dispatch to
 *            convert_fast.c:  the vectorised record parsers;
 *   stage 3, convert.c:       the blocks merged in input order into the
 *            writer's chunks, the pipeline that drives all three, and
 *            km_convert itself.
 * The structures below are the state the stages hand each other: struct
 * conv for the whole conversion (owned by km_convert), struct block for one
 * text block in flight (read by stage 1, parsed by a stage 2 job, merged
 * by stage 3).
 *
 * Errors: functions return 0 or a negative KM_E* code with the message set
 * in c->ctx where the error arises, except these, on purpose:
 *   - parse_block, a pool job, returns nothing: a worker must not write the
 *     caller's error record, so a block's failure goes into the block (rc,
 *     err, through block_fail; add_cell, block_row_room and choose_paths
 *     too) and merge_block sets it in ctx, in input order;
 *   - the fast paths return the record's length, 0 meaning "not mine" (no
 *     error: the next path takes the record); text_field returns 1 for
 *     the same decision;
 *   - is_na and general_number are predicates (1 or 0).
 * kmx_format.h lists the .kmx reader's and writer's. */
#ifndef KMILL_CONVERT_IMPL_H
#define KMILL_CONVERT_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kmill/convert.h"
#include "kmill/csv.h"
#include "kmill/kmx.h"
#include "kmill/numparse.h"
#include "kmill/schema.h"
#include "kmill/strtab.h"
#include "data/plain.h"

#define DEFAULT_MAX_LEVELS 1000u
#define DEC_POS_SLACK 80  /* dec_record512's separator offsets past nin */
#define TEXT_PAD 128      /* zero bytes after a read block's text, for the
                           * fast paths' loads past it */
#define BLOCK_TEXT (2u << 20) /* bytes of text per block, before plan_memory */

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

/* Per output column: what stage 3 has seen of it, for the decision
 * between a categorical column and a numeric one with stray values
 * (KM_STRAY_SHARE) and for their messages. */
struct colstate {
    uint64_t nnum, ntext;  /* non-missing numbers, text cells */
    uint64_t nquoted;      /* of these, quoted in the CSV */
    struct qrange {        /* the numbers of a column with quoted values: */
        float lo, hi;      /* the smallest and largest, */
        int ints;          /* and whether all are integers */
    } q;
    uint64_t first_line;   /* the first text cell: where, and its text */
    uint32_t first_field, first_len;
    char first[48];
    uint64_t nnum_prev;    /* numbers in the blocks before the one merged */
    int demoted;           /* numeric with bad values: text is missing */
    int overflowed;        /* demoted when its levels passed the limit, at
                            * over_line:over_field; decided at the end */
    uint64_t over_line;
    uint32_t over_field;
    uint64_t demote_row;   /* rows from late_row (or 0) below this hold
                            * codes to read back as numbers (rewrite) */
    float *back;           /* those codes' numbers (NaN: not a number) */
    uint32_t max_levels;   /* 0: the run's; KM_ID_LEVELS for keep type 4 */
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
    uint64_t *nnum;       /* per output column: non-missing numbers */
    uint64_t *nquoted;    /* per output column: non-missing values quoted */
    struct qrange *qr;    /* per output column with quoted values */
    uint32_t *qpend;      /* columns of the quoted values of the record on
                           * a fast path, counted if it takes the record */
    uint32_t nqpend;
    km_strtab *ld;    /* per output column, allocated on first use */
    uint64_t blank, ragged;
    int rc;
    char err[KM_ERRMSG_MAX];
    km_csv *csv;
    km_ctx wctx;          /* the parser's own context: its error record */
    km_job *job;
    struct conv *c;
};

/* Stage 1's reading state: the input and the text read past the last
 * complete record, which starts the next block. */
struct input {
    int fd;               /* -1 until open */
    int eof;
    km_kmx_source src;    /* the input's fingerprint for the metadata */
    km_csv_opts co;       /* the blocks' parser options */
    char *carry;          /* text after the last complete record */
    size_t carry_len, carry_cap;
    uint64_t pos;         /* mapped: the file offset of the next block */
    int mapped;           /* a regular file still read by map_block */
    int regular;          /* the input is a regular file (else a pipe or a device) */
    uint64_t next_line;   /* the line number the next block starts at */
};

struct conv {
    km_ctx *ctx;
    const km_convert_opts *o;
    km_numparse *np;
    km_kmx_writer *w;
    km_schema schema;     /* output columns */
    km_strtab *dicts; /* per output column: the category dictionaries */
    unsigned char *forced;/* per output column: 1 numeric, 2 categorical, 3 categorical
                           * as inferred (keep type 3) */
    long *map;            /* input field -> output column, -1 dropped */
    uint32_t nin;         /* fields per record */
    struct na_set na;
    struct colstate *cs;  /* per output column */
    char decimal;         /* '.' or ',' */
    uint32_t max_levels;
    const char *name;
    char delim;
    struct input in;
    struct block *blocks;
    int nblocks;
    int head, inflight;   /* the oldest block in flight, and how many */
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

/* ---- stage 1: convert_read.c -------------------------------------------- */

/* Open c->o->input (a file, or standard input for "-") into c->in, and
 * fingerprint a regular file; refuses directories and compressed files. */
int input_open(struct conv *c);
/* Read up to the end of the header record, detect the delimiter, set up
 * the columns from the header (or name them col1.. with --no-header) and
 * leave c->in at the first data record. */
int read_header(struct conv *c);
/* Fill b with the next text block of whole records (mapped from a regular
 * file, else read, with TEXT_PAD readable bytes after it) and its first
 * line number; counts its bytes into c->bytes_in. At the end of the input
 * the block may be empty. */
int read_block(struct conv *c, struct block *b);
/* Release a mapped block's mapping (a read block keeps its buffer). */
void unmap_block(struct block *b);

/* ---- stage 2: convert_cells.c, convert_fast.c, convert_parse.c -------- */

/* Parse the NA token list into c->na. */
int na_parse(struct conv *c, const char *list);
/* Whether field f is an NA token (inline: the general path asks it of
 * every field). */
static inline int is_na(const struct na_set *na, const km_csv_field *f)
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
/* Keep a failure in the block (see the exemptions above); returns rc. */
int block_fail(struct block *b, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A text value of row `row`, column col as a cell of the block. */
int add_cell(struct block *b, uint32_t row, uint32_t col, const km_csv_field *f, uint64_t line,
             uint32_t field);
/* Room for one more row in the block. */
int block_row_room(struct block *b, uint32_t ncols);
/* Pool job: parse block arg into rows and text cells; a failure is kept in
 * the block (rc, err) for merge_block to report, since a worker cannot
 * write the caller's error record. */
void parse_block(void *arg, size_t item, int worker);
/* A field the fast paths did not read as a number: see convert_cells.c. */
int text_field(struct block *b, uint32_t j, const char *s, size_t len, float *row);

/* The fast paths (convert_fast.c): each returns the record's length with
 * its row in out, or 0 to leave the record to the next path. */
size_t fast_record(struct block *b, km_plain_fn plain, const int32_t *dst, uint32_t nin,
                   char delim, const char *p, float *out);
#ifdef KM_PLAIN_SSE41
size_t fast_record_sse41(struct block *b, const int32_t *dst, uint32_t nin, char delim,
                         const char *p, float *out) __attribute__((target("sse4.1")));
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define INT_RECORD512 1
#define AVX512BW __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,bmi,popcnt")))
#define AVX512DEC                                                                          \
    __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512cd,bmi,bmi2,popcnt")))
AVX512BW size_t int_record512(uint32_t nin, char delim, const char *p, float *out);
AVX512DEC size_t dec_record512(struct block *b, uint32_t nin, char delim, const char *p,
                               float *out, int32_t *pos);
#endif

#endif
