/* schema.h - the columns of a dataset: names, types, category dictionaries
 * and whole-file statistics. Shared by the CSV importer, the dataset file
 * and every consumer that maps columns to features. */
#ifndef KMILL_SCHEMA_H
#define KMILL_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/error.h"

enum { KM_COL_NUMERIC = 0, KM_COL_CATEGORICAL = 1 };

/* Statistics over the non-missing values (for a categorical column: over
 * the codes, so only count and missing are meaningful). */
typedef struct km_colstats {
    double min, max, sum, sumsq;
    uint64_t count;   /* non-missing values */
    uint64_t missing; /* NaN / NA values */
} km_colstats;

typedef struct km_column {
    char *name;
    int type;            /* KM_COL_* */
    char **levels;       /* categorical: code i <-> levels[i] */
    uint32_t *level_len; /* byte lengths (levels may hold any bytes) */
    uint32_t nlevels;
    km_colstats stats;
} km_column;

typedef struct km_schema {
    uint32_t ncols;
    km_column *cols;
} km_schema;

void km_schema_free(km_schema *s);
void km_colstats_init(km_colstats *st);
void km_colstats_merge(km_colstats *into, const km_colstats *from);
/* Mean and standard deviation of the non-missing values, from the sums:
 * the population variance sumsq/count - mean^2, taken as 0 when rounding
 * makes it negative. Returns 1; 0 with both NaN when there are no values
 * (NaN sums, which a dataset's writer cannot produce, give NaN too). */
int km_colstats_moments(const km_colstats *st, double *mean, double *sd);
/* Index of the column named name, or -1. */
long km_schema_find(const km_schema *s, const char *name);

/* The one column name designates (for option opt, named in messages):
 * the column of that name; else the only one whose name equals it but for
 * ASCII case; else the 1-based number. KM_EINVAL when two columns equal
 * it but for case (naming both) or none matches (suggesting a close name,
 * kmill/suggest.h). */
int km_schema_column(const km_schema *s, const char *name, const char *opt, uint32_t *col,
                     km_err *e);

/* Resolve a column list ("a,b,3,5-7": names first, then 1-based numbers and
 * ranges) into flags[ncols] (set to 1). Fails with KM_EINVAL naming an
 * unknown column (and a close name, kmill/suggest.h); opt is the option
 * name used in messages. */
int km_schema_select(const km_schema *s, const char *list, const char *opt, unsigned char *flags,
                     km_err *e);
/* The same for an ordered selection: writes column indices in the order
 * given (duplicates kept) into *idx (malloc'd), their count into *n. */
int km_schema_select_list(const km_schema *s, const char *list, const char *opt, uint32_t **idx,
                          uint32_t *n, km_err *e);

/* A validation dataset (schema v, called name in the message) must have
 * the training data's columns (schema t), no more, no fewer, in any
 * order: anything else is a mix-up, not data to impute. KM_EINVAL naming
 * the first column one lacks. */
int km_schema_same_columns(const km_schema *t, const km_schema *v, const char *name, km_err *e);

#endif
