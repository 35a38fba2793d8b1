/* metrics.h - how good a model's scores are against the true targets:
 * accuracy, per-class precision and recall and the confusion matrix for
 * classification; MSE, RMSE, MAE and R^2 for regression.
 *
 * An accumulator takes the scores and targets block by block (as
 * km_model_stream hands them over), so a dataset of any size is evaluated
 * in one pass; km_metrics_finish turns the sums into the figures. Rows
 * whose target is NaN (a missing label, a class unseen in training) are
 * counted as skipped and enter no figure. The model search's single
 * figure (km_score_metric) is summed by the same code. */
#ifndef KMILL_METRICS_H
#define KMILL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/error.h"

typedef struct km_metrics_acc {
    int classify;            /* else regression (c = 1) */
    uint32_t c;              /* classes */
    uint64_t n, skipped;     /* rows counted, rows with a NaN target */
    uint64_t right;          /* classification: argmax == target */
    uint64_t *conf;          /* c x c, true class row, predicted column
                              * (NULL: not kept, km_score_metric) */
    double se, ae, sy, syy;  /* regression: sums of squared and absolute
                              * errors, of the targets and their squares */
} km_metrics_acc;

typedef struct km_class_metrics {
    double precision;        /* 0 when the class was never predicted */
    double recall;           /* 0 when the class has no rows */
    uint64_t support;        /* rows of the class */
} km_class_metrics;

typedef struct km_metrics {
    int classify;
    uint32_t c;
    uint64_t rows, skipped;
    /* classification */
    double accuracy;              /* 0 without rows */
    km_class_metrics *per_class;  /* c entries, malloc'd */
    uint64_t *confusion;          /* c x c as in the accumulator, malloc'd */
    /* regression (NaN without rows) */
    double mse, rmse, mae;
    double r2;                    /* NaN when the targets are all equal */
} km_metrics;

/* An empty accumulator for c classes (classify), or for values (c is then
 * 1). KM_ENOMEM when the confusion matrix cannot be allocated. */
int km_metrics_init(km_metrics_acc *a, int classify, uint32_t c, km_err *e);
/* Add n rows: scores (n x c) and targets y (class index or value, NaN:
 * skipped). A class index that is not an integer in [0, c), which
 * km_features_apply never gives, is skipped like NaN: it is never
 * converted to an integer or used as an index. */
void km_metrics_add(km_metrics_acc *a, const float *scores, const float *y, size_t n);
/* The figures; the confusion matrix passes from a to r (a may then only
 * be freed). */
int km_metrics_finish(km_metrics_acc *a, km_metrics *r, km_err *e);
void km_metrics_acc_free(km_metrics_acc *a);
void km_metrics_free(km_metrics *r);

/* The class of a row of scores (largest, first on ties). */
uint32_t km_argmax(const float *s, size_t c);

/* accuracy (classify) or MSE of scores (n x c) against y; rows whose y is
 * NaN do not count */
double km_score_metric(int classify, const float *scores, const float *y, size_t n, size_t c);

#endif
