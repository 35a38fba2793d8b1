/* calib.c - temperature scaling of a classifier's scores (kmill/calib.h):
 * the softmax, the validation log-loss as a function of the temperature,
 * and its minimum by golden-section search. */
#include "config.h"
#include <math.h>
#include <stdlib.h>

#include "kmill/calib.h"
#include "kmill/log.h"

/* log sum_k exp((s_k - mx) / T), with mx the largest score (so that no
 * term overflows and one is 1). */
static double log_norm(const float *s, uint32_t c, double T, double *mx)
{
    double m = -INFINITY, sum = 0;
    for (uint32_t k = 0; k < c; k++)
        m = s[k] > m ? s[k] : m;
    for (uint32_t k = 0; k < c; k++)
        sum += exp(((double)s[k] - m) / T);
    *mx = m;
    return log(sum);
}

void km_softmax(const float *s, uint32_t c, double T, float *p)
{
    double mx, ln = log_norm(s, c, T, &mx);
    for (uint32_t k = 0; k < c; k++)
        p[k] = (float)exp(((double)s[k] - mx) / T - ln);
}

double km_temp_nll(const float *scores, const float *y, size_t n, uint32_t c, double T,
                   size_t *used)
{
    double total = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] >= 0 && y[i] < (float)c)) /* NaN: unlabelled */
            continue;
        const float *s = scores + i * c;
        double mx, ln = log_norm(s, c, T, &mx);
        total += ln - ((double)s[(uint32_t)y[i]] - mx) / T; /* -log p_y */
        m++;
    }
    *used = m;
    return m ? total / (double)m : NAN;
}

size_t km_temp_fit(const float *scores, const float *y, size_t n, uint32_t c, double *T,
                   double *nll)
{
    const double g = 0.6180339887498949; /* (sqrt 5 - 1) / 2 */
    size_t used;
    double a = log(KM_TEMP_MIN), b = log(KM_TEMP_MAX);
    double u1 = b - g * (b - a), u2 = a + g * (b - a);
    double f1 = km_temp_nll(scores, y, n, c, exp(u1), &used);
    double f2 = km_temp_nll(scores, y, n, c, exp(u2), &used);
    if (!used) {
        *T = *nll = NAN;
        return 0;
    }
    /* the bracket shrinks by g a step: 1e-6 of log T in about 45 steps */
    while (b - a > 1e-6) {
        if (f1 <= f2) {
            b = u2, u2 = u1, f2 = f1;
            u1 = b - g * (b - a);
            f1 = km_temp_nll(scores, y, n, c, exp(u1), &used);
        } else {
            a = u1, u1 = u2, f1 = f2;
            u2 = a + g * (b - a);
            f2 = km_temp_nll(scores, y, n, c, exp(u2), &used);
        }
    }
    *T = exp((a + b) / 2);
    *nll = km_temp_nll(scores, y, n, c, *T, &used);
    return used;
}

int km_model_calibrate(km_ctx *ctx, km_pool *pool, const km_model *m, const float *Xv,
                       const float *yv, size_t nv, km_calib *cal)
{
    cal->T = cal->nll = 0;
    cal->rows = 0;
    float *sc = malloc((nv * m->c + 1) * sizeof *sc);
    if (!sc)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    int rc = km_model_scores(ctx, pool, m, Xv, nv, ctx->mem_budget / 4, sc);
    if (!rc)
        cal->rows = km_temp_fit(sc, yv, nv, m->c, &cal->T, &cal->nll);
    free(sc);
    if (!rc && cal->rows)
        km_verbose(ctx, "probabilities: temperature %.6g, validation log-loss %.6g on %llu rows",
                   cal->T, cal->nll, (unsigned long long)cal->rows);
    /* every validation row right by a margin: the log-loss falls as T
     * does, down to the search's bound, and says nothing of errors to come */
    if (!rc && cal->rows && cal->T < 1.01 * KM_TEMP_MIN)
        km_warn(ctx, "the %llu validation rows are all classified right: the softmax "
                "temperature is at its bound, %g, and --proba's probabilities will be "
                "overconfident (a larger --val-frac may give a better one)",
                (unsigned long long)cal->rows, cal->T);
    if (!cal->rows)
        cal->T = cal->nll = 0;
    return rc;
}
