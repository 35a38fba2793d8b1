/* sample.h - a uniform sample of a dataset's rows as features and
 * targets, for the analyses that work on subsets (kmill mlp, ntk,
 * spectrum; kmill-algorithms(7)).
 *
 * The rows are drawn through the chunk index: n distinct row numbers
 * uniformly at random (seeded), then only the chunks that hold them are
 * read, so a sample of a few thousand rows of a file larger than RAM
 * costs a few thousand chunk reads at most, not a pass. Sampled rows
 * without a label are dropped and counted (the sample is then smaller
 * than asked). The feature transform is fitted as train fits it (the
 * schema's whole-file statistics, the sampled labels' values), so a
 * model made from the sample applies to any dataset with those columns.
 *
 * Validation rows: with val_frac > 0, a sampled row is held out when the
 * hash of its row number says so (km_rowsrc_is_val with the seed: the
 * same rows a streamed training run would hold out); with a validation
 * dataset, val_rows rows of it are drawn the same way (all when 0). */
#ifndef KMILL_SAMPLE_H
#define KMILL_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/features.h"
#include "kmill/kmx.h"
#include "kmill/pool.h"

typedef struct km_sample_opts {
    km_feat_opts feat;
    uint64_t rows;        /* rows to draw; 0, or at least the dataset's rows: all */
    uint64_t seed;
    double val_frac;      /* share of the sample held out; 0: none */
    km_kmx *val;          /* a validation dataset instead, or NULL */
    const char *val_name; /* its name in messages (NULL: its path) */
    uint64_t val_rows;    /* rows drawn from val; 0: all */
} km_sample_opts;

typedef struct km_sample {
    km_features feat;     /* fitted */
    size_t d, c;          /* features; outputs: classes, or 1 for a regression */
    int classify;
    size_t n, nv;         /* training and validation rows */
    float *X, *y;         /* n x d features, n targets (class index or value) */
    float *Xv, *yv;       /* nv x d, nv */
    uint64_t drawn;       /* rows drawn from the dataset */
    uint64_t unlabelled;  /* of those, dropped for a missing label */
    uint64_t unseen;      /* categorical values not seen when fitting (validation file) */
    int all;              /* the draw took every row of the dataset */
} km_sample;

void km_sample_defaults(km_sample_opts *o);

/* Draw, read, fit and split. When opts->rows exceeds the dataset's rows,
 * every row is used and an info line says so. KM_EDATA when no drawn row
 * has a label or the data have no feature column. */
int km_sample_load(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_sample_opts *o,
                   km_sample *s);
void km_sample_free(km_sample *s);

/* Bytes km_sample_load holds at its peak for `rows` rows of data with d
 * features (the planner's figure; kmill/plan.h). */
uint64_t km_sample_estimate(const km_kmx *data, uint64_t rows, size_t d, int tasks);

#endif
