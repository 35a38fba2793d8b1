/* features.h - from dataset columns to the feature vectors and targets a
 * kernel machine trains on, and back from class indices to labels.
 *
 * Fitted once on the training data's schema and whole-file statistics (no
 * extra pass over the data): the label column, the task, one-hot blocks for
 * categorical columns, missing values imputed with the training mean, and
 * min-max or standard scaling. The fitted transform is stored in the model,
 * and applied by column *name* to any dataset (prediction data may order
 * its columns differently, have extra ones, and number its categories
 * differently: categories are matched by their strings). */
#ifndef KMILL_FEATURES_H
#define KMILL_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/schema.h"

enum { KM_TASK_AUTO = 0, KM_TASK_CLASSIFY = 1, KM_TASK_REGRESS = 2 };
enum { KM_SCALE_STANDARD = 0, KM_SCALE_MINMAX = 1, KM_SCALE_NONE = 2 };

/* Numeric labels with at most this many distinct integer values are classes
 * under --task auto. */
#define KM_AUTO_MAX_CLASSES 32

typedef struct km_featcol {
    char *name;            /* source column */
    int type;              /* KM_COL_* */
    uint32_t first;        /* index of its first feature */
    float fill;            /* numeric: stands for a missing value (training mean) */
    float shift, scale;    /* numeric: feature = (x - shift) * scale */
    uint32_t nlevels;      /* categorical: one feature per level (one-hot) */
    char **levels;
    uint32_t *level_len;
} km_featcol;

typedef struct km_features {
    uint32_t ncols;        /* source columns used, in feature order */
    km_featcol *cols;
    uint32_t d;            /* number of features */
    int task;              /* KM_TASK_CLASSIFY or KM_TASK_REGRESS */
    int scale;             /* KM_SCALE_* */
    char *label;           /* label column name */
    uint32_t nclasses;     /* classification: class i is classes[i] */
    char **classes;
    uint32_t *class_len;
} km_features;

typedef struct km_feat_opts {
    const char *label;     /* a name or number; NULL: a column named label, target, class
                            * or y (any case) */
    int task;
    int scale;
    const char *drop;      /* columns left out (kmill/schema.h lists); NULL: none */
} km_feat_opts;

/* The label column of s (index): the column label designates as
 * km_schema_column resolves it (a name, exactly or but for case, or a
 * 1-based number; KM_EINVAL when it designates none or is ambiguous); with
 * no label, the first column called label, target, class or y in any case,
 * or KM_EDATA with a message listing the columns. */
int km_features_label(km_ctx *ctx, const km_schema *s, const char *label, uint32_t *col);

/* Fit on the schema (with statistics) and the label column's values y[0..n)
 * (as stored: codes for a categorical label; NaN for missing). */
int km_features_fit(km_ctx *ctx, const km_schema *s, uint32_t label_col, const float *y, size_t n,
                    const km_feat_opts *o, km_features *f);
void km_features_free(km_features *f);

/* A level named by a number: the float32 its text is the shortest form of
 * (km_format_f32), by bit pattern, and the level's index. */
typedef struct km_numlevel {
    uint32_t bits;
    int32_t level;
} km_numlevel;

/* Where each feature column sits in a dataset's schema, and how its codes
 * map to the fitted levels and classes. */
typedef struct km_featbind {
    uint32_t ncols;        /* = f->ncols */
    uint32_t *src;         /* source column index in the dataset */
    int32_t **code;        /* categorical: dataset code -> level index, -1 unseen */
    uint32_t *ncode;
    km_numlevel **num;     /* categorical meeting numbers: levels sorted by bits */
    uint32_t *nnum;
    long label_src;        /* -1: the dataset has no label column */
    int32_t *class_code;   /* classification with a categorical label: code -> class */
    uint32_t nclass_code;
    km_numlevel *class_num; /* classification with a numeric label: its classes so */
    uint32_t nclass_num;
    int label_numeric;
} km_featbind;

/* KM_EINVAL naming the first missing column. need_label: the label column
 * must be there too (training, eval). */
int km_features_bind(km_ctx *ctx, const km_features *f, const km_schema *s, int need_label,
                     km_featbind *b);
void km_featbind_free(km_featbind *b);

/* Warn of the feature columns that look like identifiers, which a kernel
 * machine can only overfit: a categorical column with a level for
 * nearly every row (9 in 10 of the `total` rows its levels were counted
 * over), or a numeric one holding a different integer in every one of
 * the n rows given, when these rise in row order (row numbers) or the
 * column is named like an identifier (Id, patient_id, key, no ...); rows
 * (n x ncols, as in the dataset, consecutive: the first n rows or all)
 * bound by b. Nothing below 20 rows. */
void km_features_suspects(km_ctx *ctx, const km_features *f, const km_featbind *b,
                          const float *rows, uint32_t ncols, size_t n, uint64_t total);

/* Rows (n x ncols_src, row-major, as in the dataset) to X (n x d) and, if
 * y is not NULL, targets: class index (as float) or value; NaN when the
 * label is missing or is a class never seen in training. *unseen counts
 * categorical values not seen in training (their one-hot block is zero).
 * A column whose type is not KM_COL_CATEGORICAL is numeric (one feature),
 * as for the model reader's check that the columns tile 0 .. d-1.
 * Category codes are not trusted: a code in the rows that is not an
 * integer in [0, the dataset's dictionary size) -- negative, fractional,
 * too large, infinite -- which the dataset reader refuses, is never
 * converted or used as an index here: as a feature it counts as an unseen
 * category (zero block, counted in *unseen), as a categorical label it
 * gives the target NaN (the row is skipped by the metrics). */
void km_features_apply(const km_features *f, const km_featbind *b, const float *rows,
                       uint32_t ncols_src, size_t n, float *X, float *y, uint64_t *unseen);

#endif
