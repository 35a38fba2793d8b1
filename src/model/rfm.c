/* rfm.c - the search over bandwidths, ridges and RFM iterations
 * (kmill/rfm.h). Each step is one solve through km_krr_solve (so every
 * solver and the tile store serve the RFM unchanged: the rows are
 * transformed by M^(1/2) and the tiles are the plain kernel's), one
 * scoring of the validation rows through a model view, and, between
 * iterations, one AGOP pass (src/rfm/agop.c). Lives beside krr.c rather
 * than in src/rfm/ because it drives the solver (DESIGN.md's layering:
 * rfm below model). */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/agop.h"
#include "kmill/log.h"
#include "kmill/metrics.h"
#include "kmill/model.h"
#include "kmill/progress.h"
#include "kmill/rfm.h"
#include "kmill/rng.h"
#include "kmill/size.h"

/* what the allocator and BLAS hold beside our arrays (as krr.c) */
#define SLACK ((uint64_t)128 << 20)

void km_rfm_best_free(km_rfm_best *b)
{
    free(b->M);
    free(b->A);
    b->M = NULL;
    b->A = NULL;
}

/* a better than b: higher accuracy or lower MSE; anything beats NaN */
static int better(int classify, double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    return classify ? a > b : a < b;
}

static void report(km_ctx *ctx, const km_select_step *s, int T)
{
    const char *what = s->classify ? "accuracy" : "MSE";
    char val[64] = "";
    if (!isnan(s->val_metric))
        snprintf(val, sizeof val, "validation %s %.6g, ", what, s->val_metric);
    char agop[48] = "";
    if (s->agop_seconds > 0)
        snprintf(agop, sizeof agop, ", AGOP %.1fs", s->agop_seconds);
    if (T)
        km_info(ctx, "L=%g reg=%g iteration %d/%d: %strain %s %.6g (solve %.1fs, %d iterations%s)",
                s->bandwidth, s->reg, s->iter, T, val, s->classify ? "accuracy" : "RMSE",
                s->train_metric, s->solve_seconds, s->pcg_iters, agop);
    else
        km_info(ctx, "L=%g reg=%g: %strain %s %.6g (solve %.1fs, %d iterations)", s->bandwidth,
                s->reg, val, s->classify ? "accuracy" : "RMSE", s->train_metric, s->solve_seconds,
                s->pcg_iters);
}

int km_rfm_search(km_ctx *ctx, km_pool *pool, const km_train_opts *o, int classify,
                  const float *X, const float *Y, const float *y, size_t n, size_t d, size_t c,
                  const float *Xv, const float *yv, size_t nv, km_rfm_best *best)
{
    memset(best, 0, sizeof *best);
    best->val_metric = NAN;
    int gb = o->nbandwidths && o->bandwidths, gr = o->nregs && o->regs;
    size_t nbw = gb ? o->nbandwidths : 1, nrg = gr ? o->nregs : 1;
    const double *bws = gb ? o->bandwidths : &o->kernel.bandwidth;
    const double *rgs = gr ? o->regs : &o->reg;
    int T = o->rfm ? o->rfm_iters : 0, diag = o->rfm_diag;
    size_t ms = diag ? d : d * d;
    size_t m = o->agop_samples ? o->agop_samples : 20000;
    if (m > n)
        m = n;
    uint64_t mem = ctx->mem_budget;
    float *Xm = NULL, *Vm = NULL, *A = malloc(n * c * sizeof *A), *F = malloc(n * c * sizeof *F);
    float *Mcur = NULL, *Mnext = NULL, *S = NULL, *sv = malloc((nv ? nv : 1) * c * sizeof *sv);
    double *G = NULL;
    uint64_t *idx = NULL;
    int rc = 0;
    if (!A || !F || !sv)
        goto oom;
    if (T) {
        Xm = malloc(n * d * sizeof *Xm);
        Vm = malloc(nv * d * sizeof *Vm + 1);
        Mcur = malloc(ms * sizeof *Mcur);
        Mnext = malloc(ms * sizeof *Mnext);
        S = malloc(ms * sizeof *S);
        G = malloc(ms * sizeof *G);
        idx = malloc(m * sizeof *idx);
        if (!Xm || !Vm || !Mcur || !Mnext || !S || !G || !idx || km_sample_indices(n, m, o->seed, idx))
            goto oom;
    }
    /* held beside what km_krr_solve counts: the transformed rows (training
     * and validation), the best coefficients, the validation scores */
    uint64_t extra = (T ? (uint64_t)(n + nv) * d * 4 : 0) + (uint64_t)n * c * 4 +
                     (uint64_t)nv * c * 4;
    /* and the metrics: M_t, M_t+1, S, G, and the float64 work of the root
     * and of S G S (three d x d) */
    if (T)
        extra += (uint64_t)ms * 20 + (uint64_t)d * d * 8 * 3;
    if (extra + SLACK >= mem) {
        char b1[32], b2[32];
        rc = km_seterr(&ctx->err, KM_ENOMEM,
                       "--mem %s is too small: the model search holds %s beside the solver",
                       km_format_size(mem, b1, sizeof b1),
                       km_format_size(extra + SLACK, b2, sizeof b2));
        goto out;
    }

    for (size_t bi = 0; bi < nbw && !rc; bi++)
        for (size_t ri = 0; ri < nrg && !rc; ri++) {
            km_train_opts so = *o;
            so.kernel.bandwidth = bws[bi];
            so.reg = rgs[ri];
            so.metric = KM_METRIC_NONE;
            int metric = KM_METRIC_NONE;
            for (int t = 0; t <= T && !rc; t++) {
                km_select_step st = {bws[bi], rgs[ri], t, classify, NAN, 0, 0, 0, 0};
                const float *Xs = X;
                if (metric != KM_METRIC_NONE) {
                    if ((rc = km_metric_root(Mcur, d, metric, S, &ctx->err)))
                        break;
                    km_metric_rows(X, n, d, S, metric, Xm);
                    Xs = Xm;
                }
                km_train_result sr;
                memset(&sr, 0, sizeof sr);
                ctx->mem_budget = mem - extra;
                rc = km_krr_solve(ctx, pool, Xs, n, d, Y, c, &so, A, F, &sr);
                ctx->mem_budget = mem;
                if (rc)
                    break;
                st.solve_seconds = sr.seconds;
                st.pcg_iters = sr.iters;
                st.train_metric = km_score_metric(classify, F, y, n, c);
                if (!classify)
                    st.train_metric = sqrt(st.train_metric);
                if (nv) {
                    /* the centres as the solve saw them; the validation
                     * rows through the same S */
                    const float *Vs = Xv;
                    if (metric != KM_METRIC_NONE) {
                        km_metric_rows(Xv, nv, d, S, metric, Vm);
                        Vs = Vm;
                    }
                    km_model view;
                    memset(&view, 0, sizeof view);
                    view.kernel = so.kernel;
                    view.metric = KM_METRIC_NONE;
                    view.n = n;
                    view.d = (uint32_t)d;
                    view.c = (uint32_t)c;
                    view.centres = (float *)Xs;
                    view.alpha = A;
                    if ((rc = km_model_scores(ctx, pool, &view, Vs, nv, (mem - extra) / 4, sv)))
                        break;
                    st.val_metric = km_score_metric(classify, sv, yv, nv, c);
                }
                best->solve_seconds += st.solve_seconds;
                best->steps++;
                if (!best->A || !nv || better(classify, st.val_metric, best->val_metric)) {
                    if (!best->A && !(best->A = malloc(n * c * sizeof *best->A)))
                        goto oom;
                    memcpy(best->A, A, n * c * sizeof *A);
                    free(best->M);
                    best->M = NULL;
                    if (metric != KM_METRIC_NONE) {
                        if (!(best->M = malloc(ms * sizeof *best->M)))
                            goto oom;
                        memcpy(best->M, Mcur, ms * sizeof *Mcur);
                    }
                    best->metric = metric;
                    best->bandwidth = bws[bi];
                    best->reg = rgs[ri];
                    best->iter = t;
                    best->val_metric = st.val_metric;
                    best->solve = sr;
                    best->solve.train_metric = st.train_metric;
                }
                if (t < T) {
                    double t1 = km_now();
                    float *B = malloc(m * d * sizeof *B);
                    if (!B)
                        goto oom;
                    for (size_t i = 0; i < m; i++)
                        memcpy(B + i * d, Xs + idx[i] * d, d * sizeof *B);
                    /* resident now: rows, transformed rows, Y, A, F, best A, samples */
                    uint64_t held = SLACK + extra + (uint64_t)n * d * 4 + (uint64_t)n * c * 12 +
                                    (uint64_t)m * d * 4 + (uint64_t)nv * d * 4;
                    km_agop_opts ao = {diag, o->center_grads, held < mem ? mem - held : 1, 0, 0};
                    rc = km_agop(ctx, pool, &so.kernel, Xs, n, d, A, c, B, idx, m, &ao, G);
                    free(B);
                    if (!rc)
                        rc = km_agop_metric(ctx, G, d, diag, metric == KM_METRIC_NONE ? NULL : S,
                                            metric, Mnext);
                    if (rc) { /* the step was solved and scored: show it */
                        st.agop_seconds = km_now() - t1;
                        report(ctx, &st, T);
                        if (o->log)
                            o->log(o->log_arg, &st);
                        break;
                    }
                    float *tmp = Mcur;
                    Mcur = Mnext;
                    Mnext = tmp;
                    metric = diag ? KM_METRIC_DIAG : KM_METRIC_FULL;
                    st.agop_seconds = km_now() - t1;
                    best->agop_seconds += st.agop_seconds;
                }
                report(ctx, &st, T);
                if (o->log)
                    o->log(o->log_arg, &st);
            }
        }
    goto out;
oom:
    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
out:
    ctx->mem_budget = mem;
    free(Xm);
    free(Vm);
    free(A);
    free(F);
    free(Mcur);
    free(Mnext);
    free(S);
    free(sv);
    free(G);
    free(idx);
    if (rc)
        km_rfm_best_free(best);
    return rc;
}
