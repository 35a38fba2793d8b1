/* specjob.c - `kmill spectrum`'s job (see include/kmill/specjob.h): the
 * sample, its kernel matrix, the eigendecomposition and the diagnostics,
 * within the memory plan checked before any of it. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/kscores.h"
#include "kmill/log.h"
#include "kmill/progress.h"
#include "kmill/rng.h"
#include "kmill/size.h"
#include "kmill/specjob.h"

/* Rows of the kernel matrix computed per float32 strip before widening. */
#define STRIP 256
/* Kernel block of the model's scoring when its targets are recovered. */
#define SCORE_MEM ((uint64_t)32 << 20)

/* What the plan is made for: a dataset's sample or a model's centres. */
typedef struct sizes {
    const km_kmx *data;
    const km_model *m;
    size_t d, c;
    int vectors;  /* ridges asked for: all eigenpairs */
    int tasks;
} sizes;

static void job_plan(const sizes *z, size_t n, km_plan *p)
{
    uint64_t f = sizeof(float), N = n, d = z->d;
    km_plan_init(p);
    if (z->data) {
        km_plan_add(p, "sample", km_sample_estimate(z->data, n, z->d, z->tasks));
    } else {
        const km_model *m = z->m;
        uint64_t ms = m->metric == KM_METRIC_FULL ? d * d : m->metric == KM_METRIC_DIAG ? d : 0;
        km_plan_add(p, "model", (m->n * d + m->n * m->c + ms) * f);
        km_plan_add(p, "sampled centres", N * d * f * (m->metric ? 2 : 1) + N * 8);
        if (z->vectors)
            km_plan_add(p, "targets from the coefficients",
                        N * (m->c + 1) * f + km_kscorer_estimate((size_t)m->n, z->d, m->metric,
                                                                 km_kscorer_block((size_t)m->n,
                                                                                  SCORE_MEM)));
    }
    km_plan_add(p, "kernel matrix (float64)", N * N * 8);
    km_plan_add(p, "kernel strip", (STRIP * N + N) * f);
    if (z->vectors) {
        km_plan_add(p, "eigenvectors", N * N * 8);
        km_plan_add(p, "leave-one-out", km_spectral_estimate(n, z->c));
    }
    km_plan_add(p, "eigensolver", km_eig_estimate(n) + N * 8);
    km_plan_add(p, "BLAS buffers", KM_MEM_BLAS);
}

/* The plan of n rows against --mem: on failure the message says how many
 * rows would fit. */
static int check_plan(km_ctx *ctx, const sizes *z, size_t n)
{
    km_plan p;
    job_plan(z, n, &p);
    km_plan_log(ctx, &p, "spectrum");
    if (p.total <= ctx->mem_budget)
        return 0;
    size_t lo = 0, hi = n; /* lo fits (or is 0), hi does not */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        km_plan q;
        job_plan(z, mid, &q);
        if (q.total <= ctx->mem_budget)
            lo = mid;
        else
            hi = mid;
    }
    char items[512], need[32], have[32];
    km_plan_format(&p, items, sizeof items);
    km_format_size(p.total, need, sizeof need);
    km_format_size(ctx->mem_budget, have, sizeof have);
    if (lo < 2)
        return km_seterr(&ctx->err, KM_ENOMEM, "--mem %s is too small: the spectrum of %zu rows "
                         "needs %s (%s); not even 2 rows fit", have, n, need, items);
    return km_seterr(&ctx->err, KM_ENOMEM, "--mem %s is too small: the spectrum of %zu rows "
                     "needs %s (%s); at most %zu rows fit (--sample %zu)", have, n, need, items,
                     lo, lo);
}

/* A = K (lower triangle, float64) for rows X, in strips of rows each
 * against the rows before it; the trace of K into *trace. */
static int build_kernel(km_ctx *ctx, km_pool *pool, const km_kernel *k, const float *X, size_t n,
                        size_t d, double *A, double *trace)
{
    float *xn = malloc((n + 1) * sizeof *xn), *S = malloc((STRIP * n + 1) * sizeof *S);
    if (!xn || !S) {
        free(xn);
        free(S);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    km_row_sqnorms(X, n, d, xn);
    km_progress pr;
    km_progress_start(&pr, ctx, "kernel matrix", (uint64_t)n * (n + 1) / 2, "entries");
    int rc = 0;
    *trace = 0;
    for (size_t i0 = 0; i0 < n && !rc; i0 += STRIP) {
        size_t b = n - i0 < STRIP ? n - i0 : STRIP, w = i0 + b;
        km_kernel_matrix(pool, k, X + i0 * d, b, xn + i0, X, w, xn, d, S, w);
        for (size_t i = 0; i < b; i++) {
            double *row = A + (i0 + i) * n;
            for (size_t j = 0; j <= i0 + i; j++)
                row[j] = S[i * w + j];
            *trace += row[i0 + i];
        }
        km_progress_update(&pr, (uint64_t)w * (w + 1) / 2);
        if (km_check_interrupt(ctx))
            rc = KM_EINTR;
    }
    km_progress_end(&pr);
    free(xn);
    free(S);
    return rc;
}

/* The kernel matrix of rows X (n x d, as the kernel sees them) and its
 * analysis into r; y (n targets) or NULL when none are known. */
static int analyse(km_ctx *ctx, km_pool *pool, const float *X, const float *y,
                   const km_spectrum_opts *o, km_spectrum_result *r)
{
    size_t n = r->n, top = o->top && o->top < n ? o->top : n;
    if (o->top > n)
        km_info(ctx, "--top %zu is more than the %zu rows: all %zu eigenvalues", o->top, n, n);
    int vec = o->nregs > 0;
    size_t k = vec ? n : top;
    double *A = malloc(n * n * sizeof *A + 1), *w = malloc((k + 1) * sizeof *w);
    double *V = vec ? malloc(n * n * sizeof *V + 1) : NULL;
    r->values = malloc((top + 1) * sizeof *r->values);
    r->fits = calloc(o->nregs + 1, sizeof *r->fits);
    int rc = 0;
    if (!A || !w || (vec && !V) || !r->values || !r->fits) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    double t0 = km_now(), trace = 0;
    if ((rc = build_kernel(ctx, pool, &r->kernel, X, n, r->d, A, &trace)))
        goto out;
    double t1 = km_now();
    r->kernel_seconds = t1 - t0;
    km_progress pr;
    km_progress_start(&pr, ctx, vec ? "eigendecomposition" : "top eigenvalues", 0, NULL);
    km_progress_show(&pr);
    rc = km_eig_top(&ctx->err, "the kernel matrix", A, n, k, w, V);
    km_progress_end(&pr);
    r->eigen_seconds = km_now() - t1;
    if (rc || (rc = km_check_interrupt(ctx) ? KM_EINTR : 0))
        goto out;
    km_verbose(ctx, "spectrum: kernel matrix of %zu rows %.2fs, eigen%s %.2fs", n,
               r->kernel_seconds, vec ? "decomposition" : "values", r->eigen_seconds);
    r->top = top;
    r->trace = trace / (double)n;
    for (size_t j = 0; j < top; j++)
        r->values[j] = w[j] / (double)n;
    r->nfits = o->nregs;
    r->loo = y != NULL;
    if (vec && y) {
        rc = km_spectral_fits(ctx, w, V, n, y, r->c, r->classify, o->regs, o->nregs, r->fits);
    } else if (vec) { /* no targets: the figures of the spectrum alone */
        for (size_t q = 0; q < o->nregs; q++) {
            double reg = o->regs[q], dof = 0, tinv = 0;
            for (size_t j = 0; j < n; j++) {
                dof += w[j] / (w[j] + reg);
                tinv += 1 / (w[j] + reg);
            }
            r->fits[q] = (km_spectral_fit){reg, dof, NAN, NAN, NAN, NAN, tinv / (double)n};
        }
    }
out:
    free(A);
    free(w);
    free(V);
    return rc;
}

int km_spectrum_data(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_spectrum_opts *o,
                     km_spectrum_result *r)
{
    memset(r, 0, sizeof *r);
    r->available = km_kmx_rows(data);
    uint64_t want = o->sample.rows && o->sample.rows < r->available ? o->sample.rows
                                                                    : r->available;
    /* the features' count is known once fitted: the schema's columns stand
     * in for it (one-hot levels add a little to the sample alone) */
    sizes z = {data, NULL, km_kmx_schema(data)->ncols, 1, o->nregs > 0, ctx->threads};
    int rc = check_plan(ctx, &z, (size_t)want);
    if (rc)
        return rc;
    km_sample s;
    if ((rc = km_sample_load(ctx, pool, data, &o->sample, &s)))
        return rc;
    r->n = s.n;
    r->d = s.d;
    r->c = s.c;
    r->classify = s.classify;
    r->unlabelled = s.unlabelled;
    r->kernel = o->kernel;
    if (r->n < 2)
        rc = km_seterr(&ctx->err, KM_EDATA, "%s: %zu labelled rows drawn: a spectrum needs "
                       "at least 2", km_kmx_path(data), r->n);
    else
        rc = analyse(ctx, pool, s.X, s.y, o, r);
    km_sample_free(&s);
    return rc;
}

/* A model's targets over the centres drawn: Y = K alpha + reg alpha, the
 * class the largest entry; r->target_error how far from one-hot. */
static int model_targets(km_ctx *ctx, km_pool *pool, const km_model *m, const float *X,
                         const uint64_t *idx, km_spectrum_result *r, float *y)
{
    size_t n = r->n, c = m->c;
    float *F = malloc((n * c + 1) * sizeof *F);
    if (!F)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    int rc = km_model_scores(ctx, pool, m, X, n, SCORE_MEM, F);
    for (size_t i = 0; i < n && !rc; i++) {
        double best = -INFINITY;
        size_t arg = 0;
        for (size_t j = 0; j < c; j++) {
            double v = (double)F[i * c + j] + m->reg * (double)m->alpha[idx[i] * c + j];
            F[i * c + j] = (float)v;
            if (v > best) {
                best = v;
                arg = j;
            }
        }
        y[i] = r->classify ? (float)arg : F[i];
        for (size_t j = 0; r->classify && j < c; j++) {
            double dev = fabs(F[i * c + j] - (j == arg));
            if (dev > r->target_error)
                r->target_error = dev;
        }
    }
    free(F);
    return rc;
}

int km_spectrum_model(km_ctx *ctx, km_pool *pool, const km_model *m, const km_spectrum_opts *o,
                      km_spectrum_result *r)
{
    memset(r, 0, sizeof *r);
    size_t N = (size_t)m->n, d = m->d, n = o->sample.rows && o->sample.rows < N ? o->sample.rows : N;
    if (o->sample.rows > N)
        km_info(ctx, "the model has %zu centres, fewer than the %llu asked for: using all of them",
                N, (unsigned long long)o->sample.rows);
    r->available = N;
    r->n = n;
    r->d = d;
    r->classify = m->feat.task == KM_TASK_CLASSIFY;
    r->c = m->c;
    r->kernel = m->kernel;
    r->metric = m->metric;
    int targets = o->nregs > 0 && !m->nys_rows;
    sizes z = {NULL, m, d, m->c, o->nregs > 0, ctx->threads};
    int rc = check_plan(ctx, &z, n);
    if (rc)
        return rc;
    if (n < 2)
        return km_seterr(&ctx->err, KM_EDATA, "the model has %zu centres: a spectrum needs at "
                         "least 2", n);
    uint64_t *idx = malloc(n * sizeof *idx);
    float *X = malloc(n * d * sizeof *X), *Xm = m->metric ? malloc(n * d * sizeof *Xm) : NULL;
    float *S = m->metric ? malloc((m->metric == KM_METRIC_FULL ? d * d : d) * sizeof *S) : NULL;
    float *y = targets ? malloc(n * sizeof *y) : NULL;
    if (!idx || !X || (m->metric && (!Xm || !S)) || (targets && !y) ||
        km_sample_indices(N, n, o->sample.seed, idx)) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(X + i * d, m->centres + idx[i] * d, d * sizeof *X);
    if (targets && (rc = model_targets(ctx, pool, m, X, idx, r, y)))
        goto out;
    if (m->metric) { /* the learned kernel: the plain one on the rows x M^(1/2) */
        if ((rc = km_metric_root(m->M, d, m->metric, S, &ctx->err)))
            goto out;
        km_metric_rows(X, n, d, S, m->metric, Xm);
    }
    rc = analyse(ctx, pool, m->metric ? Xm : X, y, o, r);
out:
    free(idx);
    free(X);
    free(Xm);
    free(S);
    free(y);
    return rc;
}

void km_spectrum_result_free(km_spectrum_result *r)
{
    free(r->values);
    free(r->fits);
    memset(r, 0, sizeof *r);
}
