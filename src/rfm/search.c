/* search.c - the search over bandwidths, ridges and RFM iterations
 * (kmill/rfm.h). Each step is one solve through km_krr_solve (so every
 * solver and the tile store serve the RFM unchanged: the rows are
 * transformed by M^(1/2) and the tiles are the plain kernel's), one
 * scoring of the validation rows through a kernel scorer
 * (kmill/kscores.h), and, between iterations, one AGOP pass (agop.c).
 * Memory: the search's own arrays join the caller's plan, and what is left
 * goes to each solve and AGOP pass (kmill/plan.h). */
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
#include "kmill/rng.h"

void km_search_defaults(km_search_opts *o)
{
    memset(o, 0, sizeof *o);
    km_krr_defaults(&o->solve);
    o->rfm_iters = 5;
    o->agop_samples = 20000;
}

void km_rfm_best_free(km_rfm_best *b)
{
    free(b->M);
    free(b->A);
    b->M = NULL;
    b->A = NULL;
}

double km_train_metric(int classify, const float *F, const float *y, size_t n, size_t c)
{
    double m = km_score_metric(classify, F, y, n, c);
    return classify ? m : sqrt(m);
}

int km_val_better(int classify, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    return classify ? a > b : a < b;
}

static void report(km_ctx *ctx, const km_search_opts *o, const km_select_step *s, int T)
{
    const char *what = s->classify ? "accuracy" : "MSE";
    char val[64] = "";
    if (!isnan(s->val_metric))
        snprintf(val, sizeof val, "validation %s %.6g, ", what, s->val_metric);
    char agop[48] = "", phase[40] = "", it[32] = "";
    if (s->agop_seconds > 0)
        snprintf(agop, sizeof agop, ", AGOP %.1fs", s->agop_seconds);
    if (o->phase)
        snprintf(phase, sizeof phase, "%s: ", o->phase);
    if (T)
        snprintf(it, sizeof it, " iteration %d/%d", s->iter, T);
    char bw[40] = ""; /* a dot-product kernel has none */
    if (km_kernel_radial(&o->solve.kernel))
        snprintf(bw, sizeof bw, "L=%g ", s->bandwidth);
    km_info(ctx, "%s%sreg=%g%s: %strain %s %.6g (solve %.1fs, %d iterations%s)", phase, bw,
            s->reg, it, val, s->classify ? "accuracy" : "RMSE", s->train_metric,
            s->solve_seconds, s->pcg_iters, agop);
    if (o->log)
        o->log(o->log_arg, s);
}

/* The search's state: its inputs, its arrays and its memory plans. */
typedef struct search {
    km_ctx *ctx;
    km_pool *pool;
    const km_search_opts *o;
    int classify, T, diag;
    size_t step, steps; /* the step under way (from 1) of the search's */
    const float *X, *Y, *y, *Xv, *yv;
    size_t n, d, c, nv, ms, m;
    float *Xm, *Vm, *A, *F, *Mcur, *Mnext, *S, *sv, *B;
    double *G;
    uint64_t *idx;
    km_plan held; /* the caller's, the search's arrays, the solve's arguments */
    km_plan agop; /* and, during an AGOP pass, its sample and validation rows */
} search;

static void search_free(search *s)
{
    free(s->Xm);
    free(s->Vm);
    free(s->A);
    free(s->F);
    free(s->Mcur);
    free(s->Mnext);
    free(s->S);
    free(s->sv);
    free(s->B);
    free(s->G);
    free(s->idx);
}

/* The search's plan and arrays. */
static int search_init(search *s, const km_plan *held)
{
    size_t n = s->n, d = s->d, c = s->c, nv = s->nv, ms = s->ms, m = s->m;
    if (held)
        s->held = *held;
    else
        km_plan_init(&s->held);
    if (s->T) {
        km_plan_add(&s->held, "rows in the metric", (uint64_t)(n + nv) * d * 4);
        /* M_t, M_t+1, S, G, and the float64 work of the root and of S G S */
        km_plan_add(&s->held, "feature matrices", (uint64_t)ms * 20 + (uint64_t)d * d * 8 * 3);
    }
    km_plan_add(&s->held, "best coefficients", (uint64_t)n * c * 4);
    km_plan_add(&s->held, "validation scores", (uint64_t)nv * c * 4);
    int rc = km_plan_check(s->ctx, &s->held, "the model search");
    if (rc)
        return rc;
    km_krr_plan_args(&s->held, n, d, c);
    s->agop = s->held;
    km_plan_add(&s->agop, "BLAS buffers", KM_MEM_BLAS);
    km_plan_add(&s->agop, "AGOP sample rows", (uint64_t)m * d * 4);
    km_plan_add(&s->agop, "validation rows", (uint64_t)nv * d * 4);
    s->A = malloc(n * c * sizeof *s->A);
    s->F = malloc(n * c * sizeof *s->F);
    s->sv = malloc((nv ? nv : 1) * c * sizeof *s->sv);
    if (!s->A || !s->F || !s->sv)
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
    if (!s->T)
        return 0;
    s->Xm = malloc(n * d * sizeof *s->Xm);
    s->Vm = malloc(nv * d * sizeof *s->Vm + 1);
    s->Mcur = malloc(ms * sizeof *s->Mcur);
    s->Mnext = malloc(ms * sizeof *s->Mnext);
    s->S = malloc(ms * sizeof *s->S);
    s->G = malloc(ms * sizeof *s->G);
    s->idx = malloc(m * sizeof *s->idx);
    if (!s->Xm || !s->Vm || !s->Mcur || !s->Mnext || !s->S || !s->G || !s->idx ||
        km_sample_indices(n, m, s->o->solve.seed, s->idx))
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

/* Solve with so's kernel on the rows Xs (X in the metric), score the
 * training and validation rows into st. */
static int solve_step(search *s, const km_krr_opts *so, int metric, const float *Xs,
                      km_select_step *st, km_krr_result *sr)
{
    int rc = km_krr_solve(s->ctx, s->pool, Xs, s->n, s->d, s->Y, s->c, so, &s->held, s->A, s->F,
                          sr);
    if (rc)
        return rc;
    st->solve_seconds = sr->seconds;
    st->pcg_iters = sr->iters;
    st->train_metric = km_train_metric(s->classify, s->F, s->y, s->n, s->c);
    if (!s->nv)
        return 0;
    /* the centres as the solve saw them; the validation rows through S */
    const float *Vs = s->Xv;
    if (metric != KM_METRIC_NONE) {
        km_metric_rows(s->Xv, s->nv, s->d, s->S, metric, s->Vm);
        Vs = s->Vm;
    }
    uint64_t mem = s->ctx->mem_budget;
    uint64_t left = mem > s->held.total ? mem - s->held.total : 0;
    km_kscorer sc;
    if ((rc = km_kscorer_init(s->ctx, &sc, &so->kernel, KM_METRIC_NONE, NULL, Xs, s->n, s->d,
                              s->A, s->c, left / 4)))
        return rc;
    km_progress prog;
    km_progress_start(&prog, s->ctx, "validation scores", s->nv, "rows");
    sc.prog = &prog;
    rc = km_kscorer_run(&sc, s->pool, Vs, s->nv, s->sv);
    km_progress_end(&prog);
    km_kscorer_free(&sc);
    if (rc)
        return rc;
    st->val_metric = km_score_metric(s->classify, s->sv, s->yv, s->nv, s->c);
    return 0;
}

/* Keep the step just solved as the best one. */
static int keep(search *s, km_rfm_best *best, const km_select_step *st, int metric,
                const km_krr_result *sr)
{
    if (!best->A && !(best->A = malloc(s->n * s->c * sizeof *best->A)))
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
    memcpy(best->A, s->A, s->n * s->c * sizeof *s->A);
    free(best->M);
    best->M = NULL;
    if (metric != KM_METRIC_NONE) {
        if (!(best->M = malloc(s->ms * sizeof *best->M)))
            return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
        memcpy(best->M, s->Mcur, s->ms * sizeof *s->Mcur);
    }
    best->metric = metric;
    best->bandwidth = st->bandwidth;
    best->reg = st->reg;
    best->iter = st->iter;
    best->val_metric = st->val_metric;
    best->solve = *sr;
    best->train_metric = st->train_metric;
    return 0;
}

/* Whether the step just solved (failed: km_krr_unsolved, val: its
 * validation metric) should replace the best so far: a failed step only
 * when no step solved. */
static int preferred(const search *s, const km_rfm_best *best, const km_krr_opts *so, int failed,
                     double val)
{
    if (!best->A)
        return 1;
    int best_failed = km_krr_unsolved(so, &best->solve);
    if (failed != best_failed)
        return best_failed;
    return !s->nv || km_val_better(s->classify, val, best->val_metric);
}

/* M_next from the AGOP of the step just solved on Xs (metric: M_cur's). */
static int agop_step(search *s, const km_kernel *k, int metric, const float *Xs)
{
    size_t d = s->d, m = s->m;
    if (!(s->B = malloc(m * d * sizeof *s->B)))
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory");
    for (size_t i = 0; i < m; i++)
        memcpy(s->B + i * d, Xs + s->idx[i] * d, d * sizeof *s->B);
    uint64_t mem = s->ctx->mem_budget;
    km_agop_opts ao = {s->diag, s->o->center_grads,
                       s->agop.total < mem ? mem - s->agop.total : 1, 0, 0};
    km_plan p = s->agop;
    km_plan_add(&p, "AGOP blocks",
                km_agop_estimate(s->n, d, s->c, &ao, km_agop_batch(s->n, d, s->c, &ao, m)));
    km_plan_log(s->ctx, &p, "AGOP");
    int rc = km_agop(s->ctx, s->pool, k, Xs, s->n, d, s->A, s->c, s->B, s->idx, m, &ao, s->G);
    free(s->B);
    s->B = NULL;
    if (!rc)
        rc = km_agop_metric(s->ctx, s->G, d, s->diag, metric == KM_METRIC_NONE ? NULL : s->S,
                            metric, s->Mnext);
    return rc;
}

/* The T + 1 steps of one (bandwidth, reg) pair, the first of them the
 * index-th of the grid. */
static int search_pair(search *s, double bw, double reg, size_t index, km_rfm_best *best)
{
    km_krr_opts so = s->o->solve;
    so.kernel.bandwidth = bw;
    so.reg = reg;
    int metric = KM_METRIC_NONE, rc = 0;
    for (int t = 0; t <= s->T && !rc; t++) {
        km_select_step st = {bw, reg, t, s->classify, NAN, 0, 0, 0, 0, index + (size_t)t, 0,
                             s->o->fold};
        /* the progress lines of its solve and AGOP say which step this is */
        snprintf(s->ctx->stage, sizeof s->ctx->stage, "%s%sstep %zu of %zu",
                 s->o->phase ? s->o->phase : "", s->o->phase ? ", " : "", ++s->step, s->steps);
        const float *Xs = s->X;
        if (metric != KM_METRIC_NONE) {
            if ((rc = km_metric_root(s->Mcur, s->d, metric, s->S, &s->ctx->err)))
                break;
            km_metric_rows(s->X, s->n, s->d, s->S, metric, s->Xm);
            Xs = s->Xm;
        }
        km_krr_result sr;
        if ((rc = solve_step(s, &so, metric, Xs, &st, &sr)))
            break;
        best->solve_seconds += st.solve_seconds;
        best->steps++;
        int failed = st.unsolved = km_krr_unsolved(&so, &sr);
        if (preferred(s, best, &so, failed, st.val_metric) && (rc = keep(s, best, &st, metric, &sr)))
            break;
        if (failed && t < s->T) {
            /* an AGOP of coefficients that solve nothing is noise */
            km_warn(s->ctx, "L=%g reg=%g: the RFM stops at iteration %d, whose solve did not "
                    "converge", bw, reg, t);
            report(s->ctx, s->o, &st, s->T);
            break;
        }
        if (t < s->T) {
            double t1 = km_now();
            rc = agop_step(s, &so.kernel, metric, Xs);
            st.agop_seconds = km_now() - t1;
            if (!rc) {
                float *tmp = s->Mcur;
                s->Mcur = s->Mnext;
                s->Mnext = tmp;
                metric = s->diag ? KM_METRIC_DIAG : KM_METRIC_FULL;
                best->agop_seconds += st.agop_seconds;
            }
        }
        report(s->ctx, s->o, &st, s->T); /* solved and scored: shown even if the AGOP failed */
    }
    return rc;
}

int km_rfm_search(km_ctx *ctx, km_pool *pool, const km_search_opts *o, const km_plan *held,
                  int classify, const float *X, const float *Y, const float *y, size_t n, size_t d,
                  size_t c, const float *Xv, const float *yv, size_t nv, km_rfm_best *best)
{
    memset(best, 0, sizeof *best);
    best->val_metric = NAN;
    if (o->rfm && !km_kernel_radial(&o->solve.kernel))
        return km_seterr(&ctx->err, KM_EINVAL, "the RFM needs a radial kernel (laplace or "
                         "gaussian), not %s", km_kernel_name(o->solve.kernel.type));
    search s;
    memset(&s, 0, sizeof s);
    s.ctx = ctx;
    s.pool = pool;
    s.o = o;
    s.classify = classify;
    s.T = o->rfm ? o->rfm_iters : 0;
    s.diag = o->rfm_diag;
    s.X = X, s.Y = Y, s.y = y, s.Xv = Xv, s.yv = yv;
    s.n = n, s.d = d, s.c = c, s.nv = nv;
    s.ms = s.diag ? d : d * d;
    s.m = o->agop_samples ? o->agop_samples : 20000;
    s.m = s.m > n ? n : s.m;
    int gb = o->nbandwidths && o->bandwidths, gr = o->nregs && o->regs;
    size_t nbw = gb ? o->nbandwidths : 1, nrg = gr ? o->nregs : 1;
    const double *bws = gb ? o->bandwidths : &o->solve.kernel.bandwidth;
    const double *rgs = gr ? o->regs : &o->solve.reg;
    s.steps = nbw * nrg * (size_t)(s.T + 1);
    int rc = search_init(&s, held);
    for (size_t bi = 0; bi < nbw && !rc; bi++)
        for (size_t ri = 0; ri < nrg && !rc; ri++)
            rc = search_pair(&s, bws[bi], rgs[ri], (bi * nrg + ri) * (size_t)(s.T + 1), best);
    ctx->stage[0] = 0;
    search_free(&s);
    if (rc)
        km_rfm_best_free(best);
    return rc;
}
