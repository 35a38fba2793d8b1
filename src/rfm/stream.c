/* stream.c - the model search with the rows streamed (kmill/rfm.h,
 * km_rfm_stream_search): the same grid of bandwidths, ridges and RFM
 * iterations as km_rfm_search, but every solve is a Nystrom solve on m
 * centres whose passes stream the training rows (kmill/falkon.h), every
 * scoring one pass over the validation rows, and every AGOP taken over
 * a sample of training rows held in RAM, from the gradients of the
 * Nystrom predictor (a sum over the centres).
 *
 * The ridge means what it means to the exact solver: the Nystrom system
 * (K_nm^T K_nm + lambda n K_mm) alpha = K_nm^T Y with lambda = reg / n is,
 * with every row a centre, (K + reg I) alpha = Y. Without the RFM each
 * bandwidth solves all its ridges at once (one pass with the Gram mode)
 * and scores them in one validation pass; with it, each (bandwidth, reg)
 * pair runs its own T + 1 steps as in the exact search. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/agop.h"
#include "kmill/kscores.h"
#include "kmill/log.h"
#include "kmill/metrics.h"
#include "kmill/progress.h"
#include "kmill/rfm.h"

typedef struct sstate {
    km_ctx *ctx;
    km_pool *pool;
    const km_search_opts *o;
    const km_falkon_opts *fo;
    const km_stream_data *sd;
    int classify, T, diag;
    size_t d, c, m, ms, nregs;
    size_t step, steps;
    float *A;          /* nregs x m x c */
    double *val;       /* nregs */
    float *Mcur, *Mnext, *S, *Cs, *Bs, *F;
    double *G, *lambda;
    int *iters;        /* nregs: each ridge's conjugate gradient iterations (0: Gram) */
    int metric;
} sstate;

static void sstate_free(sstate *s)
{
    free(s->A);
    free(s->val);
    free(s->Mcur);
    free(s->Mnext);
    free(s->S);
    free(s->Cs);
    free(s->Bs);
    free(s->F);
    free(s->G);
    free(s->lambda);
    free(s->iters);
}

/* Scores F (nb x c) of the sample rows under coefficients A (m x c), in
 * the current metric (Cs and Bs hold centres and samples through S), by
 * the kernel scorer in blocks of 256 rows. NaN when it cannot be had: the
 * training figure is not worth failing the search for. */
static void sample_scores(sstate *s, const km_kernel *k, const float *A)
{
    const km_stream_data *sd = s->sd;
    size_t m = s->m, nb = sd->nb;
    const float *C = s->metric == KM_METRIC_NONE ? sd->C : s->Cs;
    const float *B = s->metric == KM_METRIC_NONE ? sd->B : s->Bs;
    km_kscorer sc;
    km_err saved = s->ctx->err;
    int rc = km_kscorer_init(s->ctx, &sc, k, KM_METRIC_NONE, NULL, C, m, s->d, A, s->c,
                             (uint64_t)256 * m * sizeof(float));
    if (!rc)
        rc = km_kscorer_run(&sc, s->pool, B, nb, s->F);
    km_kscorer_free(&sc);
    if (rc) {
        s->ctx->err = saved;
        for (size_t i = 0; i < nb * s->c; i++)
            s->F[i] = NAN;
    }
}

/* Conjugate gradients' early-stop figure (km_falkon_opts.watch): the
 * training accuracy, or minus the RMSE, of coefficients A on the sampled
 * rows, at the bandwidth being solved. */
typedef struct watcher {
    sstate *s;
    km_kernel k;
} watcher;

static double watch_figure(void *arg, const float *A)
{
    watcher *w = arg;
    sstate *s = w->s;
    if (!s->sd->nb)
        return NAN;
    sample_scores(s, &w->k, A);
    double f = km_train_metric(s->classify, s->F, s->sd->yB, s->sd->nb, s->c);
    return s->classify ? f : -f;
}

/* The current metric's root, and centres and samples through it. */
static int apply_metric(sstate *s)
{
    if (s->metric == KM_METRIC_NONE)
        return 0;
    int rc = km_metric_root(s->Mcur, s->d, s->metric, s->S, &s->ctx->err);
    if (rc)
        return rc;
    km_metric_rows(s->sd->C, s->m, s->d, s->S, s->metric, s->Cs);
    if (s->sd->nb)
        km_metric_rows(s->sd->B, s->sd->nb, s->d, s->S, s->metric, s->Bs);
    return 0;
}

/* Solve for the ridges regs[0..nr) at bandwidth bw in the current metric,
 * then score them on the validation rows: A and val hold one entry each. */
static int solve_regs(sstate *s, double bw, const double *regs, size_t nr, km_falkon_result *fr)
{
    const km_stream_data *sd = s->sd;
    km_falkon_opts fo = *s->fo;
    fo.kernel.bandwidth = bw;
    fo.metric = s->metric;
    fo.S = s->metric == KM_METRIC_NONE ? NULL : s->S;
    watcher w = {s, fo.kernel};
    fo.watch = watch_figure;
    fo.watch_arg = &w;
    double n = (double)sd->train->n;
    for (size_t r = 0; r < nr; r++)
        s->lambda[r] = regs[r] / n;
    int rc = 0;
    int gram = fo.mode == KM_FALKON_GRAM;
    memset(fr, 0, sizeof *fr);
    for (size_t r = 0; r < nr && !rc; r += gram ? nr : 1) {
        fo.regs = s->lambda + r;
        fo.nregs = gram ? nr : 1;
        km_falkon_result one;
        rc = km_falkon(s->ctx, s->pool, &fo, sd->train, s->classify, sd->C, s->m, s->d, s->c,
                       s->A + r * s->m * s->c, &one);
        if (!rc) {
            s->iters[r] = one.iters;
            fr->mode = one.mode, fr->rows = one.rows;
            fr->iters += one.iters, fr->passes += one.passes, fr->seconds += one.seconds;
            fr->rel_residual = fmax(fr->rel_residual, one.rel_residual);
        }
    }
    for (size_t r = 0; r < nr; r++)
        s->val[r] = NAN;
    if (rc || !sd->val)
        return rc;
    rc = km_falkon_score(s->ctx, s->pool, &fo, sd->val, s->classify, sd->C, s->m, s->d, s->c,
                         s->A, nr, s->val);
    fr->passes++;
    return rc;
}

static void report(sstate *s, const km_select_step *st)
{
    const char *what = st->classify ? "accuracy" : "MSE";
    char val[64] = "", it[32] = "";
    if (!isnan(st->val_metric))
        snprintf(val, sizeof val, "validation %s %.6g, ", what, st->val_metric);
    if (s->T)
        snprintf(it, sizeof it, " iteration %d/%d", st->iter, s->T);
    char bw[40] = ""; /* a dot-product kernel has none */
    if (km_kernel_radial(&s->fo->kernel))
        snprintf(bw, sizeof bw, "L=%g ", st->bandwidth);
    km_info(s->ctx, "%sreg=%g%s: %strain %s %.6g on %zu sampled rows (solve %.1fs, %d "
            "iterations)", bw, st->reg, it, val,
            st->classify ? "accuracy" : "RMSE", st->train_metric, s->sd->nb, st->solve_seconds,
            st->pcg_iters);
    if (s->o->log)
        s->o->log(s->o->log_arg, st);
}

/* Keep ridge r of the step just solved as the best. */
static int keep(sstate *s, km_rfm_best *best, const km_select_step *st, size_t r,
                const km_falkon_result *fr)
{
    size_t mc = s->m * s->c;
    if (!best->A && !(best->A = malloc(mc * sizeof *best->A)))
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
    memcpy(best->A, s->A + r * mc, mc * sizeof *best->A);
    free(best->M);
    best->M = NULL;
    if (s->metric != KM_METRIC_NONE) {
        if (!(best->M = malloc(s->ms * sizeof *best->M)))
            return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
        memcpy(best->M, s->Mcur, s->ms * sizeof *best->M);
    }
    best->metric = s->metric;
    best->bandwidth = st->bandwidth;
    best->reg = st->reg;
    best->iter = st->iter;
    best->val_metric = st->val_metric;
    best->train_metric = st->train_metric;
    memset(&best->solve, 0, sizeof best->solve);
    best->solve.solver = KM_SOLVER_NYSTROM;
    best->solve.iters = s->iters[r]; /* this ridge's own (the refit's bound) */
    best->solve.rel_residual = fr->rel_residual;
    best->solve.rank = s->m;
    best->solve.seconds = fr->seconds;
    return 0;
}

/* Report and weigh each ridge of a step just solved: returns the index of
 * the best of them in *rb. */
static int weigh(sstate *s, km_rfm_best *best, double bw, const double *regs, size_t nr, int t,
                 size_t index, const km_falkon_result *fr, size_t *rb)
{
    *rb = 0;
    for (size_t r = 0; r < nr; r++) {
        km_select_step st = {bw, regs[r], t, s->classify, s->val[r], NAN, fr->seconds / nr, 0,
                             fr->iters, index + r * (size_t)(s->T + 1), 0, s->o->fold};
        km_kernel k = s->fo->kernel;
        k.bandwidth = bw;
        if (s->sd->nb) {
            sample_scores(s, &k, s->A + r * s->m * s->c);
            st.train_metric = km_train_metric(s->classify, s->F, s->sd->yB, s->sd->nb, s->c);
        }
        if (r && km_val_better(s->classify, s->val[r], s->val[*rb]))
            *rb = r;
        best->steps++;
        best->solve_seconds += st.solve_seconds;
        int rc;
        int wins = !s->sd->val || km_val_better(s->classify, st.val_metric, best->val_metric);
        if ((!best->A || wins) && (rc = keep(s, best, &st, r, fr)))
            return rc;
        report(s, &st);
    }
    return 0;
}

/* M_next from the AGOP of coefficients A over the sample rows. */
static int agop_step(sstate *s, double bw, const float *A, double *secs)
{
    double t0 = km_now();
    km_kernel k = s->fo->kernel;
    k.bandwidth = bw;
    const float *C = s->metric == KM_METRIC_NONE ? s->sd->C : s->Cs;
    const float *B = s->metric == KM_METRIC_NONE ? s->sd->B : s->Bs;
    /* the blocks of KM_STREAM_AGOP_BATCH sample rows the caller's plan holds */
    km_agop_opts ao = {s->diag, s->o->center_grads, 0, KM_STREAM_AGOP_BATCH, 0};
    ao.mem = km_agop_estimate(s->m, s->d, s->c, &ao, KM_STREAM_AGOP_BATCH);
    int rc = km_agop(s->ctx, s->pool, &k, C, s->m, s->d, A, s->c, B, NULL, s->sd->nb, &ao, s->G);
    if (!rc)
        rc = km_agop_metric(s->ctx, s->G, s->d, s->diag,
                            s->metric == KM_METRIC_NONE ? NULL : s->S, s->metric, s->Mnext);
    if (!rc) {
        float *tmp = s->Mcur;
        s->Mcur = s->Mnext;
        s->Mnext = tmp;
        s->metric = s->diag ? KM_METRIC_DIAG : KM_METRIC_FULL;
    }
    *secs = km_now() - t0;
    return rc;
}

/* The steps of bandwidth bw and ridges regs[0..nr): T + 1 of them (the
 * RFM, nr = 1) or one solving every ridge. */
static int search_steps(sstate *s, double bw, const double *regs, size_t nr, size_t index,
                        km_rfm_best *best, int *passes)
{
    const km_stream_data *sd = s->sd;
    s->metric = sd->metric;
    if (s->metric != KM_METRIC_NONE)
        memcpy(s->Mcur, sd->M, s->ms * sizeof *s->Mcur);
    int rc = 0;
    for (int t = 0; t <= s->T && !rc; t++) {
        if (s->steps > 1) /* the progress lines say which step they belong to */
            snprintf(s->ctx->stage, sizeof s->ctx->stage, "step %zu of %zu", ++s->step,
                     s->steps);
        km_falkon_result fr;
        size_t rb;
        if ((rc = apply_metric(s)) || (rc = solve_regs(s, bw, regs, nr, &fr)))
            break;
        *passes += fr.passes;
        if ((rc = weigh(s, best, bw, regs, nr, t, index + (size_t)t, &fr, &rb)))
            break;
        if (t < s->T) {
            double secs;
            rc = agop_step(s, bw, s->A + rb * s->m * s->c, &secs);
            best->agop_seconds += secs;
        }
    }
    return rc;
}

static int sstate_init(sstate *s, size_t nr)
{
    size_t m = s->m, d = s->d, c = s->c, nb = s->sd->nb;
    s->ms = s->diag ? d : d * d;
    s->A = malloc(nr * m * c * sizeof *s->A);
    s->val = malloc(nr * sizeof *s->val);
    s->lambda = malloc(nr * sizeof *s->lambda);
    s->iters = calloc(nr, sizeof *s->iters);
    s->Mcur = malloc(s->ms * sizeof *s->Mcur);
    s->Mnext = malloc(s->ms * sizeof *s->Mnext);
    s->S = malloc(d * d * sizeof *s->S);
    s->G = malloc(d * d * sizeof *s->G);
    s->Cs = malloc(m * d * sizeof *s->Cs);
    s->Bs = malloc((nb ? nb : 1) * d * sizeof *s->Bs);
    s->F = malloc((nb ? nb : 1) * c * sizeof *s->F);
    if (!s->A || !s->val || !s->lambda || !s->iters || !s->Mcur || !s->Mnext || !s->S || !s->G ||
        !s->Cs || !s->Bs || !s->F)
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

int km_rfm_stream_search(km_ctx *ctx, km_pool *pool, const km_search_opts *o,
                         const km_falkon_opts *fo, const km_stream_data *sd, int classify,
                         size_t d, size_t c, km_rfm_best *best, int *passes)
{
    memset(best, 0, sizeof *best);
    best->val_metric = NAN;
    *passes = 0;
    if (o->rfm && !km_kernel_radial(&fo->kernel))
        return km_seterr(&ctx->err, KM_EINVAL, "the RFM needs a radial kernel (laplace or "
                         "gaussian), not %s", km_kernel_name(fo->kernel.type));
    sstate s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx, s.pool = pool, s.o = o, s.fo = fo, s.sd = sd;
    s.classify = classify, s.d = d, s.c = c, s.m = sd->m;
    s.T = o->rfm ? o->rfm_iters : 0;
    s.diag = o->rfm_diag || (sd->metric == KM_METRIC_DIAG && !o->rfm);
    if (sd->metric == KM_METRIC_FULL)
        s.diag = 0;
    int gb = o->nbandwidths && o->bandwidths, gr = o->nregs && o->regs;
    size_t nbw = gb ? o->nbandwidths : 1, nrg = gr ? o->nregs : 1;
    const double *bws = gb ? o->bandwidths : &o->solve.kernel.bandwidth;
    const double *rgs = gr ? o->regs : &o->solve.reg;
    s.steps = nbw * (s.T ? nrg * (size_t)(s.T + 1) : 1);
    int rc = sstate_init(&s, nrg);
    for (size_t bi = 0; bi < nbw && !rc; bi++) {
        size_t base = bi * nrg * (size_t)(s.T + 1);
        if (s.T) /* each pair its own RFM */
            for (size_t ri = 0; ri < nrg && !rc; ri++)
                rc = search_steps(&s, bws[bi], rgs + ri, 1, base + ri * (size_t)(s.T + 1), best,
                                  passes);
        else
            rc = search_steps(&s, bws[bi], rgs, nrg, base, best, passes);
    }
    ctx->stage[0] = 0;
    sstate_free(&s);
    if (rc)
        km_rfm_best_free(best);
    return rc;
}
