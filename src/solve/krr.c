/* krr.c - one kernel ridge regression solve (kmill/krr.h): the planner's
 * choice between the direct solve and block PCG over the tile store, and
 * the budget split between the caller's arrays, the solver's vectors, the
 * Nystrom preconditioner and the tiles kept in RAM (kmill-algorithms(7),
 * MEMORY PLANNER). */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/krr.h"
#include "kmill/log.h"
#include "kmill/progress.h"
#include "kmill/rng.h"
#include "kmill/size.h"
#include "kmill/solve.h"

void km_krr_defaults(km_krr_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kernel.type = KM_KERNEL_LAPLACE;
    o->kernel.bandwidth = 10;
    o->reg = 1e-3;
    o->tol = 1e-4;
    o->max_iter = 1000;
    o->seed = 1;
}

void km_krr_plan_args(km_plan *p, size_t n, size_t d, size_t c)
{
    km_plan_add(p, "rows", (uint64_t)n * d * sizeof(float));
    km_plan_add(p, "targets, coefficients, fitted values", (uint64_t)n * c * sizeof(float) * 3);
}

int km_krr_plan_make(km_ctx *ctx, const km_plan *held, size_t n, size_t d, size_t c, int tasks,
                     const km_krr_opts *o, km_krr_plan *out)
{
    char b1[32], b2[32], items[320];
    uint64_t mem = ctx->mem_budget;
    km_plan base;
    if (held)
        base = *held;
    else {
        km_plan_init(&base);
        km_krr_plan_args(&base, n, d, c);
    }
    memset(out, 0, sizeof *out);
    km_plan_add(&base, "BLAS buffers", KM_MEM_BLAS);
    km_plan direct = base;
    km_plan_add(&direct, "kernel for the direct solve", km_direct_estimate(n));
    int solver = o->solver;
    if (solver == KM_SOLVER_AUTO)
        solver = n <= KM_DIRECT_AUTO_MAX && direct.total <= mem ? KM_SOLVER_DIRECT : KM_SOLVER_PCG;
    out->solver = solver;
    if (solver == KM_SOLVER_DIRECT) {
        out->plan = direct;
        if (direct.total > mem)
            return km_seterr(&ctx->err, KM_ENOMEM,
                             "the direct solver needs %s for n = %zu, more than --mem %s (%s); "
                             "use --solver pcg or a larger --mem",
                             km_format_size(direct.total, b1, sizeof b1), n,
                             km_format_size(mem, b2, sizeof b2),
                             km_plan_format(&direct, items, sizeof items));
        return 0;
    }
    size_t r = 0;
    if (o->precond == KM_PRECOND_NYSTROM) {
        r = o->rank ? o->rank : 1000;
        r = r > n ? n : r;
    }
    out->rank = r;
    /* the least PCG can run in: no tile kept, and the preconditioner as
     * its build holds it (counted beside the solver's vectors, which come
     * later: a little over, and one check) */
    km_plan need = base;
    km_plan_add(&need, "solver vectors", km_pcg_estimate(n, c));
    km_plan_add(&need, "product accumulators and a kernel tile per thread",
                km_tiles_estimate(n, c, o->tile, tasks));
    char pre[64];
    snprintf(pre, sizeof pre, "preconditioner of rank %zu", r);
    out->plan = need;
    km_plan_add(&need, pre, km_nystrom_estimate(n, r));
    char job[64];
    snprintf(job, sizeof job, "n = %zu, d = %zu", n, d);
    int rc = km_plan_check(ctx, &need, job);
    if (rc)
        return rc;
    /* once built, the preconditioner keeps a third of that; the tiles take
     * the rest of the budget */
    uint64_t kept = km_nystrom_estimate(n, r) / 3;
    out->tiles_ram = mem - need.total + km_nystrom_estimate(n, r) - kept;
    uint64_t all = km_tiles_bytes(n, o->tile);
    km_plan_add(&out->plan, pre, kept);
    km_plan_add(&out->plan, "kernel tiles in RAM", all < out->tiles_ram ? all : out->tiles_ram);
    return 0;
}

/* K (na x nb, leading dimension nb) = k(A, B), in blocks of rows that
 * take a fraction of a second, so an interrupt is seen in time and the
 * progress line (label) moves. */
static int kernel_rows(km_ctx *ctx, km_pool *pool, const char *label, const km_kernel *k,
                       const float *A, size_t na, const float *an, const float *B, size_t nb,
                       const float *bn, size_t d, float *K)
{
    size_t step = ((size_t)1 << 31) / (nb * d + 1);
    step = step < 256 ? 256 : step;
    km_progress p;
    km_progress_start(&p, ctx, label, na, "rows");
    int rc = 0;
    for (size_t r0 = 0; r0 < na && !rc; r0 += step) {
        size_t b = na - r0 < step ? na - r0 : step;
        km_kernel_matrix(pool, k, A + r0 * d, b, an + r0, B, nb, bn, d, K + r0 * nb, nb);
        if (km_check_interrupt(ctx))
            rc = KM_EINTR;
        km_progress_update(&p, r0 + b);
    }
    km_progress_end(&p);
    return rc;
}

/* The factorisation, a LAPACK call that cannot be interrupted: the
 * interrupt is checked before and after it, and its line says what the
 * wait is for. */
static int factor_and_solve(km_ctx *ctx, const float *K, size_t n, double reg, const float *Y,
                            size_t c, float *A)
{
    if (km_check_interrupt(ctx))
        return KM_EINTR;
    km_progress p;
    km_progress_start(&p, ctx, "direct solve", 0, NULL);
    km_progress_detail(&p, "Cholesky factorisation of the %zu x %zu kernel matrix", n, n);
    km_progress_show(&p);
    int rc = km_solve_direct(ctx, K, n, reg, Y, c, A);
    km_progress_end(&p);
    if (!rc && km_check_interrupt(ctx))
        rc = KM_EINTR;
    return rc;
}

/* The direct solve, and the true residual of its float32 solution. */
static int solve_direct(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                        const float *Y, size_t c, const km_krr_opts *o, float *A, float *F,
                        km_krr_result *res)
{
    float *K = malloc(n * n * sizeof *K), *xn = malloc(n * sizeof *xn);
    if (!K || !xn) {
        free(K);
        free(xn);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the %zu x %zu kernel", n, n);
    }
    km_row_sqnorms(X, n, d, xn);
    int rc = kernel_rows(ctx, pool, "kernel matrix", &o->kernel, X, n, xn, X, n, xn, d, K);
    free(xn);
    if (!rc)
        rc = factor_and_solve(ctx, K, n, o->reg, Y, c, A);
    if (!rc) {
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
                         const km_krr_opts *o, size_t r, km_nystrom **out)
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
    if ((rc = kernel_rows(ctx, pool, "preconditioner kernel", &o->kernel, X, n, xn, XS, r, sn, d,
                          Cs)))
        goto out;
    for (size_t k = 0; k < r; k++)
        memcpy(W + k * r, Cs + S[k] * r, r * sizeof *W);
    /* LAPACK inside cannot be interrupted: checked after */
    km_progress p;
    km_progress_start(&p, ctx, "preconditioner", 0, NULL);
    km_progress_detail(&p, "eigendecomposition of rank %zu", r);
    km_progress_show(&p);
    rc = km_nystrom_build(ctx, Cs, n, r, W, o->reg, out);
    km_progress_end(&p);
    if (!rc && km_check_interrupt(ctx)) {
        km_nystrom_free(*out);
        *out = NULL;
        rc = KM_EINTR;
    }
out:
    free(S);
    free(XS);
    free(Cs);
    free(W);
    free(xn);
    free(sn);
    return rc;
}

/* Block PCG over the tile store, as planned in p. */
static int solve_pcg(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                     const float *Y, size_t c, const km_krr_opts *o, const km_krr_plan *p,
                     float *A, float *F, km_krr_result *res)
{
    km_nystrom *P = NULL;
    km_tiles *tiles = NULL;
    int rc = 0;
    if (p->rank && (rc = build_nystrom(ctx, pool, X, n, d, o, p->rank, &P)))
        return rc;
    km_tiles_opts to = {o->kernel, o->tile, p->tiles_ram, o->tmpdir, o->store};
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
                "above --tol %g: the fit is %s; a larger --reg, --solver direct (when the "
                "kernel matrix fits in --mem), a larger --rank or --max-iter may converge",
                pr.rel_residual, pr.iters, o->tol,
                pr.rel_residual > 10 * o->tol ? "unreliable" : "close");
    km_tiles_free(tiles);
    km_nystrom_free(P);
    return rc;
}

int km_krr_unsolved(const km_krr_opts *o, const km_krr_result *r)
{
    return r->solver == KM_SOLVER_PCG && r->rel_residual > 10 * o->tol;
}

int km_krr_solve(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d, const float *Y,
                 size_t c, const km_krr_opts *o, const km_plan *held, float *A, float *F,
                 km_krr_result *res)
{
    double t0 = km_now();
    memset(res, 0, sizeof *res);
    int tasks = pool ? km_pool_workers(pool) + 1 : 1;
    km_krr_plan p;
    int rc = km_krr_plan_make(ctx, held, n, d, c, tasks, o, &p);
    res->solver = p.solver;
    if (rc)
        return rc;
    km_plan_log(ctx, &p.plan, p.solver == KM_SOLVER_DIRECT ? "direct solve" : "conjugate gradients");
    if (p.solver == KM_SOLVER_DIRECT)
        rc = solve_direct(ctx, pool, X, n, d, Y, c, o, A, F, res);
    else
        rc = solve_pcg(ctx, pool, X, n, d, Y, c, o, &p, A, F, res);
    res->seconds = km_now() - t0;
    return rc;
}
