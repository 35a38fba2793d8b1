/* cv.c - K-fold cross-validation of the model search (kmill/rfm.h,
 * km_rfm_cv): the folds, one km_rfm_search per fold on the other folds'
 * rows scored on its own, every step's metric summed over the folds
 * through the search's log, and the refit of the best step on all rows.
 * Memory: the folds' rows (one fold's training and held-out copies at a
 * time) join the caller's plan before the first search, and are freed
 * before the refit. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/log.h"
#include "kmill/rfm.h"
#include "kmill/rng.h"

int km_cv_folds(size_t n, int K, uint64_t seed, uint32_t *fold)
{
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    if (!perm)
        return KM_ENOMEM;
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    km_rng r; /* Fisher-Yates; the seed apart from the hold-out split's */
    km_rng_seed(&r, seed ^ 0xf01d5eedu);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)km_rng_below(&r, i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        fold[perm[i]] = (uint32_t)(i % (size_t)K);
    free(perm);
    return 0;
}

/* Each step's metric summed over the folds that scored it. */
typedef struct tally {
    double *sum;
    int *count, *failed;
    size_t steps;
    const km_search_opts *o; /* the caller's, whose log each step goes on to */
} tally;

static void tally_step(void *arg, const km_select_step *s)
{
    tally *t = arg;
    if (s->index < t->steps && !isnan(s->val_metric)) {
        t->sum[s->index] += s->val_metric;
        t->count[s->index]++;
        t->failed[s->index] += s->unsolved;
    }
    if (t->o->log)
        t->o->log(t->o->log_arg, s);
}

/* The cross-validation's state: the inputs, the folds, one fold's rows. */
typedef struct cv {
    km_ctx *ctx;
    km_pool *pool;
    const km_search_opts *o;
    int classify, K;
    const float *X, *Y, *y;
    size_t n, d, c;
    uint32_t *fold;
    float *Xt, *Yt, *yt, *Xv, *yv; /* a fold's training rows and held-out rows */
    tally t;
} cv;

static void cv_free(cv *v)
{
    free(v->fold);
    free(v->Xt);
    free(v->Yt);
    free(v->yt);
    free(v->Xv);
    free(v->yv);
    free(v->t.sum);
    free(v->t.count);
    free(v->t.failed);
    v->fold = NULL;
    v->Xt = v->Yt = v->yt = v->Xv = v->yv = NULL;
    v->t.sum = NULL;
    v->t.count = v->t.failed = NULL;
}

/* The rows of fold k to the held-out arrays, the others to the training
 * ones; their counts. */
static void gather(cv *v, uint32_t k, size_t *nt, size_t *nv)
{
    size_t d = v->d, c = v->c, a = 0, b = 0;
    for (size_t i = 0; i < v->n; i++)
        if (v->fold[i] == k) {
            memcpy(v->Xv + b * d, v->X + i * d, d * sizeof *v->X);
            v->yv[b++] = v->y[i];
        } else {
            memcpy(v->Xt + a * d, v->X + i * d, d * sizeof *v->X);
            memcpy(v->Yt + a * c, v->Y + i * c, c * sizeof *v->Y);
            v->yt[a++] = v->y[i];
        }
    *nt = a;
    *nv = b;
}

/* The plan with the folds' rows, the folds, and the arrays. */
static int cv_init(cv *v, const km_plan *held, size_t steps, km_plan *p)
{
    size_t n = v->n, d = v->d, c = v->c, K = (size_t)v->K;
    size_t nv = (n + K - 1) / K, nt = n - n / K; /* at most, over the folds */
    if (held)
        *p = *held;
    else
        km_plan_init(p);
    km_plan_add(p, "cross-validation folds",
                (uint64_t)nt * (d + c + 1) * 4 + (uint64_t)nv * (d + 1) * 4 + (uint64_t)n * 4 +
                    (uint64_t)steps * 16);
    int rc = km_plan_check(v->ctx, p, "the cross-validation");
    if (rc)
        return rc;
    v->fold = malloc(n * sizeof *v->fold);
    v->Xt = malloc(nt * d * sizeof *v->Xt);
    v->Yt = malloc(nt * c * sizeof *v->Yt);
    v->yt = malloc(nt * sizeof *v->yt);
    v->Xv = malloc(nv * d * sizeof *v->Xv);
    v->yv = malloc(nv * sizeof *v->yv);
    v->t.sum = calloc(steps, sizeof *v->t.sum);
    v->t.count = calloc(steps, sizeof *v->t.count);
    v->t.failed = calloc(steps, sizeof *v->t.failed);
    v->t.steps = steps;
    v->t.o = v->o;
    if (!v->fold || !v->Xt || !v->Yt || !v->yt || !v->Xv || !v->yv || !v->t.sum ||
        !v->t.count || !v->t.failed || km_cv_folds(n, v->K, v->o->solve.seed, v->fold))
        return km_seterr(&v->ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

/* The step with the best mean over the folds that scored it in all K
 * (one that failed in some fold only if every step did; the earliest on
 * ties), or steps if none. */
static size_t best_step(const cv *v)
{
    size_t pick = v->t.steps;
    double pm = NAN;
    int pf = 1;
    for (size_t i = 0; i < v->t.steps; i++) {
        if (v->t.count[i] != v->K)
            continue;
        double m = v->t.sum[i] / v->K;
        int f = v->t.failed[i] > 0;
        int take = pick == v->t.steps || (f != pf ? !f
                                          : v->classify ? m > pm : m < pm);
        if (take) {
            pick = i;
            pm = m;
            pf = f;
        }
    }
    return pick;
}

/* Run the search on each fold; the best step's (bandwidth, reg, t). */
static int run_folds(cv *v, const km_plan *p, km_rfm_best *best, double *bw, double *reg,
                     int *iter, double *mean)
{
    km_search_opts fo = *v->o;
    fo.log = tally_step;
    fo.log_arg = &v->t;
    char phase[32];
    fo.phase = phase;
    for (int k = 0; k < v->K; k++) {
        size_t nt, nv;
        if (km_check_interrupt(v->ctx))
            return KM_EINTR;
        gather(v, (uint32_t)k, &nt, &nv);
        snprintf(phase, sizeof phase, "fold %d of %d", k + 1, v->K);
        fo.fold = k + 1;
        km_rfm_best b;
        int rc = km_rfm_search(v->ctx, v->pool, &fo, p, v->classify, v->Xt, v->Yt, v->yt, nt,
                               v->d, v->c, v->Xv, v->yv, nv, &b);
        if (rc)
            return rc;
        best->steps += b.steps;
        best->solve_seconds += b.solve_seconds;
        best->agop_seconds += b.agop_seconds;
        km_rfm_best_free(&b);
    }
    size_t i = best_step(v);
    if (i == v->t.steps)
        return km_seterr(&v->ctx->err, KM_EINVAL, "no step of the search was scored in every fold");
    const km_search_opts *o = v->o;
    int T = o->rfm ? o->rfm_iters : 0;
    size_t nrg = o->nregs && o->regs ? o->nregs : 1, pair = i / (size_t)(T + 1);
    *iter = (int)(i % (size_t)(T + 1));
    *bw = o->nbandwidths && o->bandwidths ? o->bandwidths[pair / nrg] : o->solve.kernel.bandwidth;
    *reg = o->nregs && o->regs ? o->regs[pair % nrg] : o->solve.reg;
    *mean = v->t.sum[i] / v->K;
    return 0;
}

int km_rfm_cv(km_ctx *ctx, km_pool *pool, const km_search_opts *o, const km_plan *held,
              int classify, const float *X, const float *Y, const float *y, size_t n, size_t d,
              size_t c, int K, km_rfm_best *best)
{
    memset(best, 0, sizeof *best);
    best->val_metric = NAN;
    if (K < 2 || (size_t)K > n)
        return km_seterr(&ctx->err, KM_EDATA, "%zu labelled rows are too few for %d folds", n, K);
    cv v = {ctx, pool, o, classify, K, X, Y, y, n, d, c, NULL, NULL, NULL, NULL, NULL, NULL,
            {0}};
    size_t nbw = o->nbandwidths && o->bandwidths ? o->nbandwidths : 1;
    size_t nrg = o->nregs && o->regs ? o->nregs : 1;
    size_t steps = nbw * nrg * (size_t)((o->rfm ? o->rfm_iters : 0) + 1);
    km_plan p;
    double bw = 0, reg = 0, mean = NAN;
    int iter = 0, rc = cv_init(&v, held, steps, &p);
    if (!rc)
        rc = run_folds(&v, &p, best, &bw, &reg, &iter, &mean);
    cv_free(&v);
    if (rc)
        return rc;
    /* the refit: the RFM re-run on all rows to the chosen iteration */
    km_search_opts ro = *o;
    ro.bandwidths = ro.regs = NULL;
    ro.nbandwidths = ro.nregs = 0;
    ro.solve.kernel.bandwidth = bw;
    ro.solve.reg = reg;
    ro.rfm = o->rfm && iter > 0;
    ro.rfm_iters = iter;
    ro.log = NULL;
    ro.fold = 0;
    ro.phase = "refit";
    km_rfm_best r;
    if ((rc = km_rfm_search(ctx, pool, &ro, held, classify, X, Y, y, n, d, c, NULL, NULL, 0, &r)))
        return rc;
    if (r.iter != iter) /* (the search keeps no step whose solve failed) */
        km_warn(ctx, "the refit on all rows kept RFM iteration %d, not the %d cross-validation "
                "chose: a later solve did not converge", r.iter, iter);
    r.steps += best->steps;
    r.solve_seconds += best->solve_seconds;
    r.agop_seconds += best->agop_seconds;
    r.val_metric = mean;
    *best = r;
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int km_median_distance(km_ctx *ctx, const float *X, size_t n, size_t d, size_t max_rows,
                       uint64_t seed, const km_plan *held, double *median)
{
    *median = 0;
    size_t m = n < max_rows ? n : max_rows;
    if (m < 2)
        return 0;
    size_t np = m * (m - 1) / 2;
    km_plan p;
    if (held)
        p = *held;
    else
        km_plan_init(&p);
    km_plan_add(&p, "pairwise distances", (uint64_t)np * 8 + (uint64_t)m * 8);
    int rc = km_plan_check(ctx, &p, "the median distance between rows");
    if (rc)
        return rc;
    uint64_t *idx = malloc(m * sizeof *idx);
    double *dist = malloc(np * sizeof *dist);
    if (!idx || !dist || km_sample_indices(n, m, seed, idx)) {
        free(idx);
        free(dist);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < m && !rc; i++) {
        if (km_check_interrupt(ctx))
            rc = KM_EINTR;
        for (size_t j = i + 1; j < m && !rc; j++) {
            const float *a = X + idx[i] * d, *b = X + idx[j] * d;
            double s = 0;
            for (size_t l = 0; l < d; l++)
                s += ((double)a[l] - b[l]) * ((double)a[l] - b[l]);
            dist[k++] = sqrt(s);
        }
    }
    if (!rc) {
        qsort(dist, np, sizeof *dist, cmp_double);
        *median = np % 2 ? dist[np / 2] : 0.5 * (dist[np / 2 - 1] + dist[np / 2]);
    }
    free(idx);
    free(dist);
    return rc;
}

size_t km_scale_bandwidths(double median, double plain, double *out)
{
    static const double mult[] = {0.5, 1, 2, 4};
    size_t k = 0;
    out[k++] = plain;
    for (size_t i = 0; i < sizeof mult / sizeof *mult; i++) {
        double b = mult[i] * median;
        int dup = !(isfinite(b) && b > 0);
        for (size_t j = 0; j < k && !dup; j++)
            dup = out[j] == b;
        if (!dup)
            out[k++] = b;
    }
    return k;
}
