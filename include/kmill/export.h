/* export.h - a .kmx dataset back to CSV: all rows, a range, the first N, or
 * a uniform sample, and any selection of columns. Numbers are printed in
 * the shortest form that reads back as the same float32, categories as
 * their original strings, missing values as empty fields. */
#ifndef KMILL_EXPORT_H
#define KMILL_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "kmill/kmx.h"

typedef struct km_export_opts {
    uint64_t from, to;      /* row range [from, to); to = UINT64_MAX: to the end */
    int sample;             /* draw `nsample` rows uniformly from the range */
    uint64_t nsample, seed;
    const char *columns;    /* column list (kmill/schema.h); NULL: all */
    int no_header;
    km_pool *pool;
} km_export_opts;

/* Write CSV to out. KM_EPIPE when the reader of out went away. */
int km_export_csv(km_ctx *ctx, km_kmx *d, FILE *out, const km_export_opts *o);

#endif
