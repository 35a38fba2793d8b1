/* convert.h - CSV (file or pipe) to a .kmx dataset in one streaming pass.
 *
 * Column types are inferred: a column is numeric unless it holds values
 * that are neither numbers nor NA tokens, then it is categorical and its
 * values are stored as codes into a dictionary of the original strings -
 * unless such values are rare among numbers (KM_STRAY_SHARE), which is a
 * numeric column with bad values (--bad-values). Options force types, drop
 * columns and bound the number of levels. A ';'-separated file whose
 * numbers have decimal commas ("14,4383") is read with ',' as the decimal
 * mark unless told otherwise (decimal). */
#ifndef KMILL_CONVERT_H
#define KMILL_CONVERT_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/pool.h"

enum { KM_RAGGED_ERROR = 0, KM_RAGGED_FILL = 1, KM_RAGGED_SKIP = 2 };
/* --bad-values: what a value that is not a number does in a numeric column
 * (one forced --numeric, or one whose values are mostly numbers: see
 * KM_STRAY_SHARE) */
enum { KM_BAD_ERROR = 0, KM_BAD_MISSING = 1 };

/* A column not forced either way whose non-missing values include text in
 * at most one cell in KM_STRAY_SHARE is numeric with stray values (one
 * "n/a (see notes)" among 500 prices), not categorical: per --bad-values
 * the run stops naming the first, or they become missing with a counted
 * warning. More text than that, and the column is categorical (its numbers
 * become categories of their text), as "2", "4", "more" should be. */
#define KM_STRAY_SHARE 20

/* The most levels of a column kept with keep type 4 (an identifier):
 * category codes are floats, exact up to 2^24. */
#define KM_ID_LEVELS 16777216u

/* The NA tokens used when none are given. */
#define KM_DEFAULT_NA ",NA,NaN,nan,N/A,null,NULL,?"

typedef struct km_convert_opts {
    const char *input;        /* path, or "-" for standard input */
    const char *output;       /* .kmx path */
    char delim;               /* 0: detect */
    int no_header;
    const char *na_values;    /* comma-separated; NULL: KM_DEFAULT_NA */
    const char *categorical;  /* column lists (names or 1-based numbers) */
    const char *numeric;
    const char *drop;
    uint32_t max_levels;      /* 0: 1000 */
    uint32_t chunk_rows;      /* 0: about 4 MiB of floats */
    int level;                /* zstd level */
    int shuffle;              /* KMX_SHUFFLE_* */
    int lazy_quotes;
    int ragged;               /* KM_RAGGED_* */
    int bad_values;           /* KM_BAD_* */
    char decimal;             /* '.' or ','; 0: '.', or ',' when detected */
    char decimal_hint;        /* with decimal 0: the mark of a ';'-separated
                               * file whose first data show neither (only
                               * integers), as the file a model was
                               * trained on had; 0: '.' */
    size_t max_line;          /* 0: 64 MiB */
    /* Only these columns, by name, each typed as keep_type says (0 as
     * inferred, 1 numeric, 2 categorical with the text as written, 3
     * categorical with numbers as their shortest text, as inference makes
     * them, 4 as 2 but bounded by KM_ID_LEVELS instead of max_levels: an
     * identifier carried along, a level per row), besides the lists above;
     * names the input lacks are skipped.
     * How predict and eval read CSV for a model: the columns it binds,
     * typed as in training. nkeep = 0: all. */
    const char *const *keep;
    const unsigned char *keep_type;
    uint32_t nkeep;
    int want_forced;          /* fill km_convert_result.forced */
    km_pool *pool;
} km_convert_opts;

typedef struct km_convert_result {
    uint64_t rows, bytes_in, bytes_out;
    uint64_t blank_lines, ragged_rows;
    uint64_t bad_values;      /* values read as missing (--bad-values missing) */
    uint32_t ncols, ncategorical;
    char delim, decimal;
    /* with want_forced, per output column: 1 forced numeric, 2 forced
     * categorical, 0 as inferred; malloc'd, for the caller to free (NULL
     * after a failure) */
    unsigned char *forced;
} km_convert_result;

int km_convert(km_ctx *ctx, const km_convert_opts *o, km_convert_result *res);

/* Whether the regular file path looks like CSV at first sight: its first
 * 4 KiB hold a line end and no control byte but tab, CR and LF (so no
 * NUL, and not the start of a kmill dataset or model), and do not start
 * as compressed data would. For a message that says "convert it first";
 * km_convert alone decides whether it converts. 0 when it cannot be
 * read. */
int km_convert_probe(const char *path);

/* The bytes km_convert holds at its peak, in the spirit of zstd's
 * ZSTD_estimate*(): for ncols columns and a pool of workers threads, with
 * blocks text blocks of block_text bytes in flight and chunks of
 * rows_per_chunk rows. Each block holds its text and at most twice as
 * many bytes of floats (a 1-digit field and its delimiter become 4
 * bytes); each of the writer's workers + 2 chunk slots holds three chunk
 * buffers; plus KM_CONVERT_FIXED for the code, stacks, stdio and the
 * dictionaries (bounded by --max-levels). 0 for blocks, block_text or
 * rows_per_chunk means km_convert's default before --mem shrinks it
 * (2 workers + 2 blocks up to 32, 2 MiB, about 4 MiB of floats per chunk). */
uint64_t km_convert_estimate(uint32_t ncols, int workers, int blocks, size_t block_text,
                             uint32_t rows_per_chunk);

/* km_convert's own resident bytes beside its blocks and chunks, in place
 * of KM_MEM_SLACK (include/kmill/plan.h): the figure convert has always
 * planned with, kept because under a small --mem a larger one would choose
 * smaller chunks, so other files than earlier versions wrote. */
#define KM_CONVERT_FIXED ((uint64_t)8 << 20)

#endif
