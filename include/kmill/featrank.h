/* featrank.h - what a Recursive Feature Machine's feature matrix M says
 * about the inputs: diag(M) per source column (the one-hot features of a
 * categorical column summed back to that column), ranked, and the top
 * eigenvalues and eigenvectors of M (in float64).
 *
 * The diagonal entry M_ii weighs feature i in the learned distance, so a
 * column's importance is the sum of its features' entries and its share
 * is that sum over the trace. The eigenvectors are the directions of
 * input space M stretches most: combinations of features where the
 * diagonal sees single ones. */
#ifndef KMILL_FEATRANK_H
#define KMILL_FEATRANK_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/error.h"
#include "kmill/features.h"

/* Loadings kept per eigenvector (the largest in magnitude). */
#define KM_FEATRANK_LEAD 5

typedef struct km_featrank_col {
    uint32_t col;          /* index into the features' cols */
    double importance;     /* sum of diag(M) over the column's features */
    double share;          /* importance / trace (NaN when the trace is not > 0) */
} km_featrank_col;

typedef struct km_featrank {
    size_t d;              /* features */
    char **names;          /* d: "column", or "column=level" for a one-hot feature */
    double *M;             /* d x d, row-major (a diagonal M written out in full) */
    double trace;
    size_t ncols;          /* columns ranked: min(top, all) */
    km_featrank_col *cols; /* largest importance first (ties: column order) */
    size_t neig;           /* eigenpairs: min(top, d); 0 without them */
    double *values;        /* neig eigenvalues, largest first */
    double *shares;        /* neig: value / trace (NaN when the trace is not > 0) */
    double *vectors;       /* neig x d: vectors[r * d + j] is feature j's loading */
    uint32_t *lead;        /* neig x KM_FEATRANK_LEAD: the features of largest
                            * |loading|, largest first (ties: feature order);
                            * min(d, KM_FEATRANK_LEAD) of them */
} km_featrank;

/* Rank for M (d x d for KM_METRIC_FULL, d for KM_METRIC_DIAG; d = F->d)
 * and the feature transform F the model was trained with. top: columns
 * and eigenpairs kept (0: all); eigen: 0 skips the eigendecomposition.
 * name is the model's, for messages. KM_ENOMEM, or KM_ENUMERIC when the
 * eigensolver fails. r is to be freed with km_featrank_free, also after
 * a failure. */
int km_featrank_compute(km_err *e, const char *name, const float *M, int metric,
                        const km_features *F, size_t top, int eigen, km_featrank *r);
void km_featrank_free(km_featrank *r);

#endif
