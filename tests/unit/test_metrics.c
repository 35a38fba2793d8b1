/* test_metrics.c - the evaluation metrics accumulator against figures
 * worked out by hand: a confusion matrix over blocks, with a tie, a
 * skipped row and a class never seen or predicted; regression errors and
 * R^2, undefined for constant targets; km_score_metric agreeing. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kmill/metrics.h"

#define C 4
/* rows: scores of classes 0..3, the true class (NaN: skipped) */
static const float S[7][C] = {
    {0.9f, 0.1f, 0.0f, -1}, /* true 0, predicted 0 */
    {0.2f, 0.7f, 0.1f, -1}, /* true 1, predicted 1 */
    {0.5f, 0.5f, 0.0f, -1}, /* true 1, a tie: predicted 0, the first */
    {0.0f, 0.0f, 1.0f, -1}, /* true 2, predicted 2 */
    {0.1f, 0.8f, 0.1f, -1}, /* true 2, predicted 1 */
    {0.0f, 0.0f, 0.0f, 9},  /* no label: skipped */
    {0.6f, 0.3f, 0.1f, -1}, /* true 0, predicted 0 */
};
static const float Y[7] = {0, 1, 1, 2, 2, NAN, 0};

Test(metrics, argmax_first_on_ties)
{
    const float s[] = {1, 3, 3, 2};
    cr_assert_eq(km_argmax(s, 4), 1);
    cr_assert_eq(km_argmax(s, 1), 0);
}

Test(metrics, classification_by_hand)
{
    km_err e = {0};
    km_metrics_acc a;
    km_metrics r;
    cr_assert_eq(km_metrics_init(&a, 1, C, &e), 0);
    /* two blocks, as km_model_stream would hand them over */
    km_metrics_add(&a, &S[0][0], Y, 3);
    km_metrics_add(&a, &S[3][0], Y + 3, 4);
    cr_assert_eq(km_metrics_finish(&a, &r, &e), 0);
    km_metrics_acc_free(&a);
    cr_assert_eq(r.rows, 6);
    cr_assert_eq(r.skipped, 1);
    cr_assert_float_eq(r.accuracy, 4.0 / 6, 1e-15);
    /* true rows x predicted columns */
    static const uint64_t conf[C * C] = {2, 0, 0, 0, /* */ 1, 1, 0, 0, /* */ 0, 1, 1, 0,
                                         /* */ 0, 0, 0, 0};
    cr_assert_arr_eq(r.confusion, conf, sizeof conf);
    /* class 0: predicted 3 times, right twice, 2 rows */
    cr_assert_float_eq(r.per_class[0].precision, 2.0 / 3, 1e-15);
    cr_assert_float_eq(r.per_class[0].recall, 1.0, 1e-15);
    cr_assert_eq(r.per_class[0].support, 2);
    cr_assert_float_eq(r.per_class[1].precision, 0.5, 1e-15);
    cr_assert_float_eq(r.per_class[1].recall, 0.5, 1e-15);
    cr_assert_float_eq(r.per_class[2].precision, 1.0, 1e-15);
    cr_assert_float_eq(r.per_class[2].recall, 0.5, 1e-15);
    /* never predicted, no rows: 0, not NaN */
    cr_assert_eq(r.per_class[3].precision, 0);
    cr_assert_eq(r.per_class[3].recall, 0);
    cr_assert_eq(r.per_class[3].support, 0);
    km_metrics_free(&r);
    cr_assert_float_eq(km_score_metric(1, &S[0][0], Y, 7, C), 4.0 / 6, 1e-15);
}

Test(metrics, regression_by_hand)
{
    km_err e = {0};
    km_metrics_acc a;
    km_metrics r;
    /* errors 0.5, 0, -1, 1 (and a skipped row): squared 2.25, absolute 2.5
     * over 4; targets mean 2.5, mean square 7.5, variance 1.25 */
    const float s[] = {1.5f, 2, 7, 2, 5};
    const float y[] = {1, 2, NAN, 3, 4};
    cr_assert_eq(km_metrics_init(&a, 0, 1, &e), 0);
    km_metrics_add(&a, s, y, 2);
    km_metrics_add(&a, s + 2, y + 2, 3);
    cr_assert_eq(km_metrics_finish(&a, &r, &e), 0);
    cr_assert_eq(r.rows, 4);
    cr_assert_eq(r.skipped, 1);
    cr_assert_float_eq(r.mse, 0.5625, 1e-15);
    cr_assert_float_eq(r.rmse, 0.75, 1e-15);
    cr_assert_float_eq(r.mae, 0.625, 1e-15);
    cr_assert_float_eq(r.r2, 1 - 0.5625 / 1.25, 1e-14);
    km_metrics_free(&r);
    km_metrics_acc_free(&a);
    cr_assert_float_eq(km_score_metric(0, s, y, 5, 1), 0.5625, 1e-15);
}

Test(metrics, constant_targets_and_no_rows)
{
    km_err e = {0};
    km_metrics_acc a;
    km_metrics r;
    const float s[] = {1, 3}, y[] = {2, 2};
    cr_assert_eq(km_metrics_init(&a, 0, 1, &e), 0);
    km_metrics_add(&a, s, y, 2);
    cr_assert_eq(km_metrics_finish(&a, &r, &e), 0);
    cr_assert_float_eq(r.mse, 1.0, 1e-15);
    cr_assert(isnan(r.r2), "R^2 of constant targets: %g", r.r2);
    km_metrics_free(&r);
    const float none[] = {NAN};
    cr_assert(isnan(km_score_metric(0, s, none, 1, 1)));
    cr_assert(isnan(km_score_metric(1, s, none, 1, 2)));
}

/* A class index outside 0 .. c-1 or not an integer (a caller's bug; the
 * feature transform gives NaN instead) is skipped, never converted or used
 * to index the confusion matrix. */
Test(metrics, class_index_out_of_range_skipped)
{
    km_err e = {0};
    km_metrics_acc a;
    km_metrics r;
    const float s[5 * 2] = {1, 0, 1, 0, 0, 1, 1, 0, 0, 1};
    const float y[5] = {-1, 2, 0.5f, 4294967296.0f, 1};
    cr_assert_eq(km_metrics_init(&a, 1, 2, &e), 0);
    km_metrics_add(&a, s, y, 5);
    cr_assert_eq(km_metrics_finish(&a, &r, &e), 0);
    cr_assert_eq(r.rows, 1);
    cr_assert_eq(r.skipped, 4);
    cr_assert_eq(r.confusion[1 * 2 + 1], 1);
    cr_assert_float_eq(r.accuracy, 1, 0);
    km_metrics_free(&r);
    km_metrics_acc_free(&a);
    cr_assert_float_eq(km_score_metric(1, s, y, 5, 2), 1, 0);
}
