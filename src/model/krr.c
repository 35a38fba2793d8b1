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
#include "kmill/metrics.h"
#include "kmill/progress.h"
#include "kmill/rfm.h"
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
    o->rfm_iters = 5;
    o->agop_samples = 20000;
    o->val_frac = -1;
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

/* Move the labelled rows (y not NaN) to the front; their count. */
static size_t drop_unlabelled(float *X, float *y, size_t N, size_t d)
{
    size_t n = 0;
    for (size_t i = 0; i < N; i++)
        if (!isnan(y[i])) {
            if (n != i) {
                memmove(X + n * d, X + i * d, d * sizeof *X);
                y[n] = y[i];
            }
            n++;
        }
    return n;
}

/* The rows of a dataset as features (f fitted already) and targets, the
 * unlabelled ones dropped. */
static int dataset_rows(km_ctx *ctx, km_pool *pool, km_kmx *data, const char *name,
                        const km_features *f, float **Xo, float **yo, size_t *no,
                        uint64_t *unseen)
{
    const km_schema *s = km_kmx_schema(data);
    size_t N = (size_t)km_kmx_rows(data), d = f->d;
    km_featbind b = {0};
    float *raw = NULL, *X = NULL, *y = NULL;
    int rc = km_features_bind(ctx, f, s, 1, &b);
    if (rc || (rc = load_rows(ctx, pool, data, &raw)))
        goto out;
    X = malloc(N * d * sizeof *X + 1);
    y = malloc(N * sizeof *y + 1);
    if (!X || !y) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    km_features_apply(f, &b, raw, s->ncols, N, X, y, unseen);
    *no = drop_unlabelled(X, y, N, d);
    if (!*no) {
        rc = km_seterr(&ctx->err, KM_EDATA, "no row of %s has a label '%s' seen in training",
                       name ? name : km_kmx_path(data), f->label);
        goto out;
    }
    *Xo = X;
    *yo = y;
    X = y = NULL;
out:
    km_featbind_free(&b);
    free(raw);
    free(X);
    free(y);
    return rc;
}

/* A validation file must have the training data's columns, no more, no
 * fewer (in any order): anything else is a mix-up, not data to impute. */
static int same_columns(km_ctx *ctx, const km_schema *t, km_kmx *val, const char *name)
{
    const km_schema *v = km_kmx_schema(val);
    for (int pass = 0; pass < 2; pass++) {
        const km_schema *a = pass ? v : t, *b = pass ? t : v;
        for (uint32_t i = 0; i < a->ncols; i++) {
            uint32_t j = 0;
            while (j < b->ncols && strcmp(a->cols[i].name, b->cols[j].name))
                j++;
            if (j == b->ncols)
                return km_seterr(&ctx->err, KM_EINVAL,
                                 "the validation data %s %s column '%s'",
                                 name ? name : km_kmx_path(val),
                                 pass ? "has an extra" : "lacks the training data's",
                                 a->cols[i].name);
        }
    }
    return 0;
}

static float *targets(const float *y, size_t n, size_t c, int classify)
{
    float *Y = calloc(n * c + 1, sizeof *Y);
    if (Y)
        for (size_t i = 0; i < n; i++) {
            if (classify) /* one-hot */
                Y[i * c + (size_t)y[i]] = 1;
            else
                Y[i] = y[i];
        }
    return Y;
}

/* One solve on X (n x d, before the metric) with the kernel of o: the
 * coefficients (*A, n x c) and the training metric. */
static int solve_rows(km_ctx *ctx, km_pool *pool, const km_train_opts *o, const float *X, size_t n,
                      size_t d, const float *y, size_t c, int classify, float **Ao,
                      km_train_result *res)
{
    float *Y = targets(y, n, c, classify), *A = malloc(n * c * sizeof *A + 1);
    float *F = malloc(n * c * sizeof *F + 1), *Xm = NULL, *S = NULL;
    int rc = 0;
    if (!Y || !A || !F)
        goto oom;
    const float *Xs = X;
    if (o->metric != KM_METRIC_NONE) {
        S = malloc((o->metric == KM_METRIC_FULL ? d * d : d) * sizeof *S);
        Xm = malloc(n * d * sizeof *Xm);
        if (!S || !Xm)
            goto oom;
        if ((rc = km_metric_root(o->M, d, o->metric, S, &ctx->err)))
            goto out;
        km_metric_rows(X, n, d, S, o->metric, Xm);
        Xs = Xm;
    }
    km_verbose(ctx, "training on %zu rows, %zu features, %zu outputs", n, d, c);
    if ((rc = km_krr_solve(ctx, pool, Xs, n, d, Y, c, o, A, F, res)))
        goto out;
    res->train_metric = km_score_metric(classify, F, y, n, c);
    if (!classify)
        res->train_metric = sqrt(res->train_metric);
    *Ao = A;
    A = NULL;
    goto out;
oom:
    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
out:
    free(Y);
    free(A);
    free(F);
    free(Xm);
    free(S);
    return rc;
}

/* Hold nv rows out of X (n x d) and y: drawn uniformly (seeded), moved
 * to the end in their order, the training rows kept in theirs. */
static int split_rows(km_ctx *ctx, float *X, float *y, size_t n, size_t d, size_t nv,
                      uint64_t seed)
{
    uint64_t *idx = malloc(nv * sizeof *idx);
    float *Xv = malloc(nv * d * sizeof *Xv), *yv = malloc(nv * sizeof *yv);
    if (!idx || !Xv || !yv || km_sample_indices(n, nv, seed ^ 0x5eed5eedu, idx)) {
        free(idx);
        free(Xv);
        free(yv);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    size_t k = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        if (k < nv && idx[k] == i) {
            memcpy(Xv + k * d, X + i * d, d * sizeof *X);
            yv[k++] = y[i];
            continue;
        }
        if (w != i) {
            memmove(X + w * d, X + i * d, d * sizeof *X);
            y[w] = y[i];
        }
        w++;
    }
    memcpy(X + w * d, Xv, nv * d * sizeof *X);
    memcpy(y + w, yv, nv * sizeof *y);
    free(idx);
    free(Xv);
    free(yv);
    return 0;
}

int km_train(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_train_opts *o, km_model *m,
             km_train_result *res)
{
    memset(m, 0, sizeof *m);
    memset(res, 0, sizeof *res);
    res->val_metric = NAN;
    double t0 = km_now();
    const km_schema *s = km_kmx_schema(data);
    size_t N = (size_t)km_kmx_rows(data);
    uint32_t lc;
    int rc = km_features_label(ctx, s, o->feat.label, &lc);
    if (rc)
        return rc;
    if (!N)
        return km_seterr(&ctx->err, KM_EDATA, "%s has no rows to train on", km_kmx_path(data));
    if (o->val && (rc = same_columns(ctx, s, o->val, o->val_name)))
        return rc;
    float *raw = NULL, *X = NULL, *y = NULL, *A = NULL, *Xv = NULL, *yv = NULL;
    km_featbind b = {0};
    km_rfm_best best = {0};
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
    size_t n = drop_unlabelled(X, y, N, d);
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
    int classify = m->feat.task == KM_TASK_CLASSIFY;
    size_t c = classify ? m->feat.nclasses : 1;

    /* validation: a file, or a share held out when there is a choice */
    int choosing = o->rfm || (o->bandwidths && o->nbandwidths > 1) || (o->regs && o->nregs > 1);
    double frac = o->val_frac >= 0 ? o->val_frac : choosing && !o->val ? 0.1 : 0;
    size_t ntr = n, nv = 0;
    if (o->val) {
        uint64_t unseen = 0;
        if ((rc = dataset_rows(ctx, pool, o->val, o->val_name, &m->feat, &Xv, &yv, &nv, &unseen)))
            goto out;
        if (unseen)
            km_warn(ctx, "%llu categorical values of the validation data unseen in training",
                    (unsigned long long)unseen);
    } else if (frac > 0) {
        nv = (size_t)llround(frac * (double)n);
        nv = nv < 1 ? 1 : nv;
        if (nv >= n) {
            rc = km_seterr(&ctx->err, KM_EDATA,
                           "%zu labelled rows are too few to hold %g of them out for validation",
                           n, frac);
            goto out;
        }
        if ((rc = split_rows(ctx, X, y, n, d, nv, o->seed)))
            goto out;
        ntr = n - nv;
    }
    res->train_rows = ntr;
    res->val_rows = nv;

    km_train_opts fo = *o; /* the final solve's options */
    size_t nc = ntr;       /* centres of the model */
    if (!nv) {
        if ((rc = solve_rows(ctx, pool, &fo, X, ntr, d, y, c, classify, &A, res)))
            goto out;
        m->metric = o->metric;
        if (o->metric != KM_METRIC_NONE) {
            size_t ms = o->metric == KM_METRIC_FULL ? d * d : d;
            if (!(m->M = malloc(ms * sizeof *m->M)))
                goto oom;
            memcpy(m->M, o->M, ms * sizeof *m->M);
        }
    } else {
        const float *Xval = Xv ? Xv : X + ntr * d, *yval = yv ? yv : y + ntr;
        float *Y = targets(y, ntr, c, classify);
        if (!Y)
            goto oom;
        rc = km_rfm_search(ctx, pool, o, classify, X, Y, y, ntr, d, c, Xval, yval, nv, &best);
        free(Y);
        if (rc)
            goto out;
        fo.kernel.bandwidth = best.bandwidth;
        fo.reg = best.reg;
        fo.metric = best.metric;
        fo.M = best.M;
        res->val_metric = best.val_metric;
        res->best_iter = best.iter;
        res->solve_seconds = best.solve_seconds;
        res->agop_seconds = best.agop_seconds;
        res->steps = best.steps;
        m->metric = best.metric;
        m->M = best.M;
        best.M = NULL;
        if (o->refit) {
            if (Xv) { /* the validation file's rows join the training rows */
                float *X2 = realloc(X, (ntr + nv) * d * sizeof *X), *y2;
                if (X2)
                    X = X2;
                y2 = X2 ? realloc(y, (ntr + nv) * sizeof *y) : NULL;
                if (!y2)
                    goto oom;
                y = y2;
                memcpy(X + ntr * d, Xv, nv * d * sizeof *X);
                memcpy(y + ntr, yv, nv * sizeof *y);
            }
            nc = ntr + nv;
            fo.metric = m->metric;
            fo.M = m->M;
            if ((rc = solve_rows(ctx, pool, &fo, X, nc, d, y, c, classify, &A, res)))
                goto out;
        } else {
            A = best.A;
            best.A = NULL;
            res->solver = best.solve.solver;
            res->iters = best.solve.iters;
            res->rel_residual = best.solve.rel_residual;
            res->rank = best.solve.rank;
            res->tiles = best.solve.tiles;
            res->train_metric = best.solve.train_metric;
        }
    }
    m->kernel = fo.kernel;
    m->reg = fo.reg;
    m->n = nc;
    m->d = (uint32_t)d;
    m->c = (uint32_t)c;
    m->centres = realloc(X, nc * d * sizeof *X);
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
    if (nv) {
        m->sel = 1;
        m->rfm_iters = o->rfm ? (uint32_t)o->rfm_iters : 0;
        m->best_iter = (uint32_t)res->best_iter;
        m->rfm_diag = o->rfm && o->rfm_diag;
        m->center_grads = o->rfm && o->center_grads;
        m->agop_samples = o->rfm ? (o->agop_samples < ntr ? o->agop_samples : ntr) : 0;
        m->train_rows = ntr;
        m->val_rows = nv;
        m->val_metric = res->val_metric;
        m->refit = o->refit;
    }
    res->seconds = km_now() - t0;
    goto out;
oom:
    rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
out:
    km_featbind_free(&b);
    km_rfm_best_free(&best);
    free(raw);
    free(X);
    free(y);
    free(A);
    free(Xv);
    free(yv);
    if (rc)
        km_model_free(m);
    return rc;
}
