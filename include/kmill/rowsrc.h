/* rowsrc.h - a dataset's rows as a source for the streamed solvers
 * (kmill/falkon.h): each pass one scan of the .kmx file (the io_uring
 * reader reading ahead while the pool decompresses), every chunk turned
 * into features (kmill/features.h), the unlabelled rows and those of the
 * other subset skipped.
 *
 * The validation split needs no rows held: row r (numbered from 0 in the
 * file) is a validation row when a hash of (seed, r) falls below
 * frac * 2^64 (km_rowsrc_is_val), the same on every pass and whatever the
 * chunking, so the training passes skip exactly the rows the validation
 * passes score. */
#ifndef KMILL_ROWSRC_H
#define KMILL_ROWSRC_H
#include <stddef.h>
#include <stdint.h>
#include "kmill/ctx.h"
#include "kmill/falkon.h"
#include "kmill/features.h"
#include "kmill/kmx.h"
#include "kmill/pool.h"

enum { KM_ROWS_ALL = 0, KM_ROWS_TRAIN = 1, KM_ROWS_VAL = 2 };

typedef struct km_kmxsrc km_kmxsrc;

/* The threshold of a validation share frac (0 <= frac < 1) for
 * km_rowsrc_is_val. */
uint64_t km_rowsrc_val_cut(double frac);
/* Whether row r is a validation row under (seed, cut). */
int km_rowsrc_is_val(uint64_t seed, uint64_t cut, uint64_t r);

/* A source over data's labelled rows of a subset (KM_ROWS_*; the split by
 * seed and cut), bound to the features f (KM_EINVAL naming a missing
 * column). n: the rows a pass delivers (0: not known, to be counted by
 * the first pass). src is filled in; km_kmxsrc_free releases it. */
int km_kmxsrc_open(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_features *f, int subset,
                   uint64_t seed, uint64_t cut, uint64_t n, km_rowsrc *src, km_kmxsrc **out);
void km_kmxsrc_free(km_kmxsrc *s);
/* Categorical values unseen in training met by the passes so far. */
uint64_t km_kmxsrc_unseen(const km_kmxsrc *s);
/* Bytes a source over data holds for d features with `tasks` decoding
 * tasks: the scan and a chunk's features and targets (kmill/plan.h). */
uint64_t km_kmxsrc_estimate(const km_kmx *data, size_t d, int tasks);

/* Two sources one after the other (a refit on training and validation
 * rows): fills src from a and b, which must outlive it. */
typedef struct km_catsrc {
    const km_rowsrc *a, *b;
} km_catsrc;
void km_catsrc_init(km_rowsrc *src, km_catsrc *cs, const km_rowsrc *a, const km_rowsrc *b);
#endif
