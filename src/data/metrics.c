/* metrics.c - evaluation metrics of scores against targets (see
 * include/kmill/metrics.h). */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/metrics.h"

uint32_t km_argmax(const float *s, size_t c)
{
    size_t b = 0;
    for (size_t j = 1; j < c; j++)
        if (s[j] > s[b])
            b = j;
    return (uint32_t)b;
}

int km_metrics_init(km_metrics_acc *a, int classify, uint32_t c, km_err *e)
{
    memset(a, 0, sizeof *a);
    a->classify = classify;
    a->c = classify ? c : 1;
    if (classify && !(a->conf = calloc((size_t)c * c + 1, sizeof *a->conf)))
        return km_seterr(e, KM_ENOMEM, "out of memory");
    return 0;
}

void km_metrics_add(km_metrics_acc *a, const float *scores, const float *y, size_t n)
{
    uint32_t c = a->c;
    for (size_t i = 0; i < n; i++) {
        /* a class index must be an integer in [0, c) before it is
         * converted and indexes the confusion matrix */
        if (isnan(y[i]) || (a->classify && !(y[i] >= 0 && (double)y[i] < c && y[i] == floorf(y[i])))) {
            a->skipped++;
            continue;
        }
        a->n++;
        if (a->classify) {
            uint32_t k = km_argmax(scores + i * c, c), t = (uint32_t)y[i];
            a->right += k == t;
            if (a->conf)
                a->conf[(size_t)t * c + k]++;
        } else {
            double r = (double)scores[i] - y[i];
            a->se += r * r;
            a->ae += fabs(r);
            a->sy += y[i];
            a->syy += (double)y[i] * y[i];
        }
    }
}

int km_metrics_finish(km_metrics_acc *a, km_metrics *r, km_err *e)
{
    memset(r, 0, sizeof *r);
    r->classify = a->classify;
    r->c = a->c;
    r->rows = a->n;
    r->skipped = a->skipped;
    if (!a->classify) {
        double n = (double)a->n, mse = a->se / n, var = a->syy / n - (a->sy / n) * (a->sy / n);
        r->mse = mse;
        r->rmse = sqrt(mse);
        r->mae = a->ae / n;
        r->r2 = var > 0 ? 1 - mse / var : NAN;
        return 0;
    }
    uint32_t c = a->c;
    r->accuracy = a->n ? (double)a->right / (double)a->n : 0;
    if (!(r->per_class = calloc((size_t)c + 1, sizeof *r->per_class)))
        return km_seterr(e, KM_ENOMEM, "out of memory");
    r->confusion = a->conf;
    a->conf = NULL;
    for (uint32_t k = 0; k < c; k++) {
        uint64_t tp = r->confusion[(size_t)k * c + k], pred = 0, sup = 0;
        for (uint32_t j = 0; j < c; j++) {
            pred += r->confusion[(size_t)j * c + k];
            sup += r->confusion[(size_t)k * c + j];
        }
        km_class_metrics *m = &r->per_class[k];
        m->precision = pred ? (double)tp / (double)pred : 0;
        m->recall = sup ? (double)tp / (double)sup : 0;
        m->support = sup;
    }
    return 0;
}

void km_metrics_acc_free(km_metrics_acc *a)
{
    free(a->conf);
    a->conf = NULL;
}

void km_metrics_free(km_metrics *r)
{
    free(r->per_class);
    free(r->confusion);
    r->per_class = NULL;
    r->confusion = NULL;
}

/* The accumulator without a confusion matrix: nothing to allocate, so no
 * error to return. */
double km_score_metric(int classify, const float *scores, const float *y, size_t n, size_t c)
{
    km_metrics_acc a;
    memset(&a, 0, sizeof a);
    a.classify = classify;
    a.c = classify ? (uint32_t)c : 1;
    km_metrics_add(&a, scores, y, n);
    if (!a.n)
        return NAN;
    return (classify ? (double)a.right : a.se) / (double)a.n;
}
