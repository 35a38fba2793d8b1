/* calib.h - class probabilities from a classifier's scores, calibrated by
 * one number.
 *
 * A kernel machine's classification scores are a ridge regression on
 * one-hot targets: they rank the classes but are not probabilities (they
 * need not lie in [0, 1] nor sum to 1). Temperature scaling turns them
 * into some: p = softmax(scores / T), with the single T > 0 that
 * minimises the mean log-loss on rows the model did not train on (the
 * validation rows). One parameter cannot overfit much, keeps the ranking
 * (the argmax is the prediction), and is only as good as those rows are
 * like the data predicted on. */
#ifndef KMILL_CALIB_H
#define KMILL_CALIB_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/model.h"
#include "kmill/pool.h"

/* The range searched for T: scores of one-hot regressions are of order
 * 1, so a T outside it would mean the scores carry no information (T
 * large: uniform) or that the validation rows are all separated by a
 * margin (T small: certainty), where the bound stops the search. */
#define KM_TEMP_MIN 1e-3
#define KM_TEMP_MAX 1e3

/* p = softmax(s / T) over c classes, computed stably (the largest score
 * subtracted first). */
void km_softmax(const float *s, uint32_t c, double T, float *p);

/* The mean log-loss -log softmax(s_i / T)[y_i] over the n rows of scores
 * (n x c) whose label y_i is a class index (others skipped: *used counts
 * those that were not; NaN when none). */
double km_temp_nll(const float *scores, const float *y, size_t n, uint32_t c, double T,
                   size_t *used);

/* The T in [KM_TEMP_MIN, KM_TEMP_MAX] minimising km_temp_nll: a golden-
 * section search on log T. The log-loss is convex in 1/T, so unimodal in
 * log T, and the search finds its minimum to a relative 1e-6. Returns the
 * labelled rows used (0: none, *T and *nll NaN). */
size_t km_temp_fit(const float *scores, const float *y, size_t n, uint32_t c, double *T,
                   double *nll);

/* Fit m's temperature on nv validation rows Xv (features, nv x m->d)
 * with class indices yv, into *cal (rows 0 when none is labelled). A
 * classification model only. */
int km_model_calibrate(km_ctx *ctx, km_pool *pool, const km_model *m, const float *Xv,
                       const float *yv, size_t nv, km_calib *cal);

#endif
