/* krr.c - kernel ridge training (kmill/krr.h): from a dataset to a model,
 * choosing between the direct solve and block PCG over the tile store,
 * and budgeting memory between the rows, the solver's vectors, the
 * Nystrom preconditioner and the tiles kept in RAM. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/krr.h"
#include "kmill/log.h"
#include "kmill/progress.h"
#include "kmill/rng.h"
#include "kmill/size.h"
#include "kmill/solve.h"

/* What BLAS, the allocator and the program itself hold beside our arrays. */
#define SLACK ((uint64_t)128 << 20)

void km_train_defaults(km_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->feat.task = KM_TASK_AUTO;
    o->feat.scale = KM_SCALE_STANDARD;
    o->kernel.type = KM_KERNEL_LAPLACE;
    o->kernel.bandwidth = 10;
    o->reg = 1e-3;
    o->tol = 1e-4;
    o->max_iter = 1000;
    o->seed = 1;
}

static size_t default_rank(const km_train_opts *o, size_t n)
{
    size_t r = o->rank ? o->rank : 1000;
    return r > n ? n : r;
}

static int solve_direct(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                        const float *Y, size_t c, const km_train_opts *o, float *A, float *F,
                        km_train_result *res)
{
    float *K = malloc(n * n * sizeof *K), *xn = malloc(n * sizeof *xn);
    if (!K || !xn) {
        free(K);
        free(xn);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the %zu x %zu kernel", n, n);
    }
    km_row_sqnorms(X, n, d, xn);
    km_kernel_matrix(pool, &o->kernel, X, n, xn, X, n, xn, d, K, n);
    free(xn);
    int rc = km_solve_direct(ctx, K, n, o->reg, Y, c, A);
    if (!rc) {
        /* F = K A; the true residual of the float32 solution */
        float *G = F ? F : malloc(n * c * sizeof *G);
        if (!G) {
            free(K);
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c, (int)n, 1.0f, K,
                    (int)n, A, (int)c, 0.0f, G, (int)c);
        double worst = 0;
        for (size_t j = 0; j < c; j++) {
            double rr = 0, yy = 0;
            for (size_t i = 0; i < n; i++) {
                double r = Y[i * c + j] - G[i * c + j] - o->reg * A[i * c + j];
                rr += r * r;
                yy += (double)Y[i * c + j] * Y[i * c + j];
            }
            if (yy > 0 && sqrt(rr / yy) > worst)
                worst = sqrt(rr / yy);
        }
        res->rel_residual = worst;
        if (!F)
            free(G);
    }
    free(K);
    return rc;
}

/* The Nystrom preconditioner from r rows drawn uniformly (seeded). */
static int build_nystrom(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                         const km_train_opts *o, size_t r, km_nystrom **out)
{
    uint64_t *S = malloc(r * sizeof *S);
    float *XS = malloc(r * d * sizeof *XS), *Cs = malloc(n * r * sizeof *Cs);
    float *W = malloc(r * r * sizeof *W), *xn = malloc(n * sizeof *xn), *sn = malloc(r * sizeof *sn);
    int rc = 0;
    if (!S || !XS || !Cs || !W || !xn || !sn || km_sample_indices(n, r, o->seed, S)) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the Nystrom preconditioner (rank %zu)", r);
        goto out;
    }
    for (size_t k = 0; k < r; k++)
        memcpy(XS + k * d, X + S[k] * d, d * sizeof *XS);
    km_row_sqnorms(X, n, d, xn);
    for (size_t k = 0; k < r; k++)
        sn[k] = xn[S[k]];
    km_kernel_matrix(pool, &o->kernel, X, n, xn, XS, r, sn, d, Cs, r);
    for (size_t k = 0; k < r; k++)
        memcpy(W + k * r, Cs + S[k] * r, r * sizeof *W);
    rc = km_nystrom_build(ctx, Cs, n, r, W, o->reg, out);
out:
    free(S);
    free(XS);
    free(Cs);
    free(W);
    free(xn);
    free(sn);
    return rc;
}

int km_krr_solve(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d, const float *Y,
                 size_t c, const km_train_opts *o, float *A, float *F, km_train_result *res)
{
    char b1[32], b2[32];
    double t0 = km_now();
    int nw = pool ? km_pool_workers(pool) + 1 : 1;
    uint64_t mem = ctx->mem_budget;
    /* always resident: rows, targets, coefficients, fitted values */
    uint64_t base = SLACK + (uint64_t)n * d * 4 + (uint64_t)n * c * 4 * 3;
    uint64_t direct = base + (uint64_t)n * n * 12;
    int solver = o->solver;
    if (solver == KM_SOLVER_AUTO)
        solver = n <= KM_DIRECT_AUTO_MAX && direct <= mem ? KM_SOLVER_DIRECT : KM_SOLVER_PCG;
    res->solver = solver;
    if (solver == KM_SOLVER_DIRECT) {
        if (direct > mem)
            return km_seterr(&ctx->err, KM_ENOMEM,
                             "the direct solver needs %s for n = %zu, more than --mem %s; use "
                             "--solver pcg or a larger --mem",
                             km_format_size(direct, b1, sizeof b1), n,
                             km_format_size(mem, b2, sizeof b2));
        int rc = solve_direct(ctx, pool, X, n, d, Y, c, o, A, F, res);
        res->seconds = km_now() - t0;
        return rc;
    }

    size_t r = o->precond == KM_PRECOND_NYSTROM ? default_rank(o, n) : 0;
    size_t T = o->tile ? o->tile : 2048;
    /* PCG's vectors and per-worker accumulators; the preconditioner's basis
     * (plus its landmark columns while it is built); a tile per worker */
    uint64_t cp = (c + 15) / 16 * 16;
    uint64_t need = base + (uint64_t)n * c * 4 * 6 + (uint64_t)n * cp * 4 * (nw + 1) +
                    (uint64_t)n * r * 4 * 2 +
                    (uint64_t)nw * km_tiles_worker_bytes(n, T);
    if (need > mem)
        return km_seterr(&ctx->err, KM_ENOMEM,
                         "--mem %s is too small: n = %zu, d = %zu needs at least %s (rows, solver "
                         "vectors, preconditioner of rank %zu, one kernel tile per thread)",
                         km_format_size(mem, b1, sizeof b1), n, d,
                         km_format_size(need, b2, sizeof b2), r);
    km_nystrom *P = NULL;
    km_tiles *tiles = NULL;
    int rc = 0;
    if (r && (rc = build_nystrom(ctx, pool, X, n, d, o, r, &P)))
        return rc;
    km_tiles_opts to = {o->kernel, T, mem - need + (r ? (uint64_t)n * r * 4 : 0), o->tmpdir, o->store};
    if ((rc = km_tiles_build(ctx, pool, X, n, d, &to, &tiles))) {
        km_nystrom_free(P);
        return rc;
    }
    km_tiles_set_reg(tiles, o->reg);
    km_linop M = {km_tiles_linop, tiles}, Pl = {km_nystrom_apply, P};
    km_pcg_opts po = {o->tol, o->max_iter, 0};
    km_pcg_result pr;
    memset(A, 0, n * c * sizeof *A);
    /* our pool runs the products; OpenBLAS's own threads would only spin
     * (sched_yield) between its calls and take the cores from it */
    int blas = km_blas_threads(1);
    rc = km_pcg(ctx, &M, P ? &Pl : NULL, n, c, Y, A, &po, &pr);
    km_blas_threads(blas);
    res->iters = pr.iters;
    res->rel_residual = pr.rel_residual;
    res->rank = P ? km_nystrom_rank(P) : 0;
    if (!rc && F) {
        km_tiles_set_reg(tiles, 0);
        rc = km_tiles_apply(tiles, A, F, c);
    }
    km_tiles_get_stats(tiles, &res->tiles);
    if (!rc && pr.rel_residual > o->tol)
        km_warn(ctx, "conjugate gradients stopped at relative residual %.3g after %d iterations, "
                "above --tol %g", pr.rel_residual, pr.iters, o->tol);
    km_tiles_free(tiles);
    km_nystrom_free(P);
    res->seconds = km_now() - t0;
    return rc;
}

/* Read every row; the raw rows are freed once transformed. */
static int load_rows(km_ctx *ctx, km_pool *pool, km_kmx *data, float **raw)
{
    const km_schema *s = km_kmx_schema(data);
    uint64_t N = km_kmx_rows(data), bytes = N * s->ncols * 4;
    char b1[32], b2[32];
    if (bytes + SLACK > ctx->mem_budget)
        return km_seterr(&ctx->err, KM_ENOMEM,
                         "--mem %s is too small: reading the %llu rows of %s needs at least %s",
                         km_format_size(ctx->mem_budget, b2, sizeof b2), (unsigned long long)N,
                         km_kmx_path(data), km_format_size(bytes + SLACK, b1, sizeof b1));
    *raw = malloc(bytes ? bytes : 1);
    if (!*raw)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for %llu rows", (unsigned long long)N);
    km_kmx_scan *scan;
    int rc = km_kmx_scan_open(data, pool, NULL, 0, &scan);
    while (!rc) {
        const float *rows;
        uint32_t nr;
        uint64_t first;
        int r = km_kmx_scan_next(scan, &rows, &nr, &first);
        if (r <= 0) {
            rc = r;
            break;
        }
        memcpy(*raw + first * s->ncols, rows, (size_t)nr * s->ncols * sizeof **raw);
    }
    km_kmx_scan_close(scan);
    if (rc) {
        free(*raw);
        *raw = NULL;
    }
    return rc;
}

int km_train(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o, km_model *m,
             km_train_result *res)
{
    memset(m, 0, sizeof *m);
    memset(res, 0, sizeof *res);
    double t0 = km_now();
    const km_schema *s = km_kmx_schema(data);
    size_t N = (size_t)km_kmx_rows(data);
    uint32_t lc;
    int rc = km_features_label(ctx, s, o->feat.label, &lc);
    if (rc)
        return rc;
    if (!N)
        return km_seterr(&ctx->err, KM_EDATA, "%s has no rows to train on", km_kmx_path(data));
    float *raw = NULL, *X = NULL, *y = NULL, *Y = NULL, *A = NULL, *F = NULL, *Xm = NULL, *S = NULL;
    km_featbind b = {0};
    if ((rc = load_rows(ctx, pool, data, &raw)))
        return rc;
    y = malloc(N * sizeof *y);
    if (!y)
        goto oom;
    for (size_t i = 0; i < N; i++)
        y[i] = raw[i * s->ncols + lc];
    if ((rc = km_features_fit(ctx, s, lc, y, N, &o->feat, &m->feat)))
        goto out;
    if ((rc = km_features_bind(ctx, &m->feat, s, 1, &b)))
        goto out;
    size_t d = m->feat.d;
    if (!d) {
        rc = km_seterr(&ctx->err, KM_EDATA, "%s has no feature columns besides the label '%s'",
                       km_kmx_path(data), m->feat.label);
        goto out;
    }
    X = malloc(N * d * sizeof *X);
    if (!X)
        goto oom;
    km_features_apply(&m->feat, &b, raw, s->ncols, N, X, y, &res->unseen);
    free(raw);
    raw = NULL;
    /* drop the rows without a label */
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (!isnan(y[i])) {
            if (n != i) {
                memmove(X + n * d, X + i * d, d * sizeof *X);
                y[n] = y[i];
            }
            n++;
        }
    res->rows = N;
    res->dropped = N - n;
    if (!n) {
        rc = km_seterr(&ctx->err, KM_EDATA, "every row of %s lacks the label '%s'",
                       km_kmx_path(data), m->feat.label);
        goto out;
    }
    if (res->dropped)
        km_warn(ctx, "%llu of %llu rows dropped: their label '%s' is missing",
                (unsigned long long)res->dropped, (unsigned long long)N, m->feat.label);
    size_t c = m->feat.task == KM_TASK_CLASSIFY ? m->feat.nclasses : 1;
    Y = calloc(n * c, sizeof *Y);
    A = malloc(n * c * sizeof *A);
    F = malloc(n * c * sizeof *F);
    if (!Y || !A || !F)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        if (m->feat.task == KM_TASK_CLASSIFY) /* one-hot */
            Y[i * c + (size_t)y[i]] = 1;
        else
            Y[i] = y[i];
    }
    const float *Xs = X;
    if (o->metric != KM_METRIC_NONE) {
        size_t ms = o->metric == KM_METRIC_FULL ? d * d : d;
        S = malloc(ms * sizeof *S);
        Xm = malloc(n * d * sizeof *Xm);
        m->M = malloc(ms * sizeof *m->M);
        if (!S || !Xm || !m->M)
            goto oom;
        memcpy(m->M, o->M, ms * sizeof *m->M);
        if ((rc = km_metric_root(o->M, d, o->metric, S, &ctx->err)))
            goto out;
        km_metric_rows(X, n, d, S, o->metric, Xm);
        Xs = Xm;
    }
    km_verbose(ctx, "training on %zu rows, %zu features, %zu outputs", n, d, c);
    if ((rc = km_krr_solve(ctx, pool, Xs, n, d, Y, c, o, A, F, res)))
        goto out;
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->feat.task == KM_TASK_CLASSIFY) {
            acc += km_argmax(F + i * c, c) == (uint32_t)y[i];
        } else {
            double e = F[i] - y[i];
            acc += e * e;
        }
    }
    res->train_metric = m->feat.task == KM_TASK_CLASSIFY ? acc / n : sqrt(acc / n);
    m->kernel = o->kernel;
    m->reg = o->reg;
    m->metric = o->metric;
    m->n = n;
    m->d = (uint32_t)d;
    m->c = (uint32_t)c;
    m->centres = realloc(X, n * d * sizeof *X);
    if (!m->centres)
        m->centres = X;
    X = NULL;
    m->alpha = A;
    A = NULL;
    m->data_checksum = km_kmx_checksum(data);
    m->solver = strdup(res->solver == KM_SOLVER_DIRECT ? "direct"
                       : res->rank                     ? "pcg+nystrom"
                                                       : "pcg");
    m->iters = res->iters;
    m->residual = res->rel_residual;
    m->train_metric = res->train_metric;
    res->seconds = km_now() - t0;
    goto out;
oom:
    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
out:
    km_featbind_free(&b);
    free(raw);
    free(X);
    free(y);
    free(Y);
    free(A);
    free(F);
    free(Xm);
    free(S);
    if (rc)
        km_model_free(m);
    return rc;
}
