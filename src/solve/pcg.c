/* pcg.c - block preconditioned conjugate gradients (see kmill/solve.h and
 * kmill-algorithms(7), SOLVERS). The c right-hand sides run in lock step so each product with
 * the matrix serves all of them; each column keeps its own step sizes (in
 * float64) and stops updating once it has converged. Float32 recurrences
 * drift, so the true residual is recomputed every few iterations and
 * replaces the recurrence's; the directions carry on (restarting them
 * there, as an earlier version did, threw away the Krylov space and cost
 * 3-4x the iterations on Fashion-MNIST). Below about 1e-6 (relative) float32 products
 * cannot take the residual: when three recomputations in a row bring no
 * improvement the solve stops, with the best iterate seen. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/log.h"
#include "kmill/progress.h"
#include "kmill/solve.h"

/* R = Y - M X */
static int residual(const km_linop *M, size_t n, size_t c, const float *Y, const float *X,
                    float *R)
{
    int rc = M->apply(M->arg, X, R, c);
    if (rc)
        return rc;
    for (size_t i = 0; i < n * c; i++)
        R[i] = Y[i] - R[i];
    return 0;
}

/* Per-column inner products <A_j, B_j> in float64. */
static void col_dots(size_t n, size_t c, const float *A, const float *B, double *out)
{
    for (size_t j = 0; j < c; j++)
        out[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++)
            out[j] += (double)A[i * c + j] * B[i * c + j];
}

/* The largest relative residual over the columns still active; marks the
 * converged ones inactive. */
static double check(size_t n, size_t c, const float *R, const double *ynorm, double tol,
                    unsigned char *active, double *scratch)
{
    col_dots(n, c, R, R, scratch);
    double worst = 0;
    for (size_t j = 0; j < c; j++) {
        double rel = ynorm[j] > 0 ? sqrt(scratch[j]) / ynorm[j] : 0;
        if (rel > worst)
            worst = rel;
        if (rel <= tol)
            active[j] = 0;
    }
    return worst;
}

/* The progress line: iterations, with a total estimated from the decline
 * of the residual so far (the lowest seen, *low, from r0 at the start:
 * the recurrence's residual is not monotone) as if it went on at that
 * rate to the tolerance; at most max_iter; unknown before it declines. */
static void show(km_progress *p, int it, double r0, double worst, double *low,
                 const km_pcg_opts *o)
{
    uint64_t total = 0;
    if (worst < *low)
        *low = worst;
    if (it > 0 && *low > 0 && *low < r0 && r0 > 0) {
        double per = log(*low / r0) / it; /* negative */
        double left = *low > o->tol ? log(o->tol / *low) / per : 0;
        total = (uint64_t)it + (uint64_t)ceil(left);
        if (total > (uint64_t)o->max_iter)
            total = (uint64_t)o->max_iter;
        if (total <= (uint64_t)it)
            total = (uint64_t)it + 1;
    }
    p->total = total;
    km_progress_detail(p, "residual %.2g, target %.2g", worst, o->tol);
    km_progress_update(p, (uint64_t)it);
}

int km_pcg(km_ctx *ctx, const km_linop *M, const km_linop *P, size_t n, size_t c, const float *Y,
           float *X, const km_pcg_opts *o, km_pcg_result *res)
{
    size_t nc = n * c;
    float *R = malloc(nc * sizeof *R), *Z = malloc(nc * sizeof *Z);
    float *D = malloc(nc * sizeof *D), *Q = malloc(nc * sizeof *Q);
    double *rz = malloc(c * sizeof *rz), *ynorm = malloc(c * sizeof *ynorm);
    double *tmp = malloc(c * sizeof *tmp), *step = malloc(c * sizeof *step);
    unsigned char *active = malloc(c);
    float *Xbest = malloc(nc * sizeof *Xbest);
    int rc = 0, every = o->recompute_every > 0 ? o->recompute_every : 10, stalls = 0;
    double best = INFINITY;
    km_progress prog;
    km_progress_start(&prog, ctx, "conjugate gradients", 0, "iterations");
    memset(res, 0, sizeof *res);
    if (!R || !Z || !D || !Q || !rz || !ynorm || !tmp || !step || !active || !Xbest) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for conjugate gradients (n = %zu)", n);
        goto out;
    }
    col_dots(n, c, Y, Y, ynorm);
    for (size_t j = 0; j < c; j++) {
        ynorm[j] = sqrt(ynorm[j]);
        active[j] = 1;
    }
    if ((rc = residual(M, n, c, Y, X, R)))
        goto out;
    double worst = check(n, c, R, ynorm, o->tol, active, tmp), r0 = worst, low = worst;
    show(&prog, 0, r0, worst, &low, o);
    if (P) {
        if ((rc = P->apply(P->arg, R, Z, c)))
            goto out;
    } else {
        memcpy(Z, R, nc * sizeof *Z);
    }
    memcpy(D, Z, nc * sizeof *D);
    col_dots(n, c, R, Z, rz);

    int it = 0;
    while (it < o->max_iter && memchr(active, 1, c)) {
        it++;
        if ((rc = M->apply(M->arg, D, Q, c)))
            goto out;
        col_dots(n, c, D, Q, tmp);
        for (size_t j = 0; j < c; j++)
            step[j] = active[j] && tmp[j] > 0 ? rz[j] / tmp[j] : 0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < c; j++) {
                X[i * c + j] += (float)(step[j] * D[i * c + j]);
                R[i * c + j] -= (float)(step[j] * Q[i * c + j]);
            }
        int restart = it % every == 0;
        if (restart && (rc = residual(M, n, c, Y, X, R)))
            goto out;
        worst = check(n, c, R, ynorm, o->tol, active, tmp);
        if (restart) {
            if (worst < 0.9 * best) {
                best = worst;
                memcpy(Xbest, X, nc * sizeof *X);
                stalls = 0;
            } else if (++stalls == 3) {
                km_verbose(ctx, "pcg: no progress below %.3g (float32 precision): stopping", best);
                memcpy(X, Xbest, nc * sizeof *X);
                break;
            }
        }
        km_verbose(ctx, "pcg: iteration %d, largest relative residual %.3g", it, worst);
        show(&prog, it, r0, worst, &low, o);
        if (km_check_interrupt(ctx)) {
            rc = KM_EINTR;
            goto out;
        }
        if (P) {
            if ((rc = P->apply(P->arg, R, Z, c)))
                goto out;
        } else {
            memcpy(Z, R, nc * sizeof *Z);
        }
        col_dots(n, c, R, Z, tmp);
        for (size_t j = 0; j < c; j++) {
            step[j] = active[j] && rz[j] > 0 ? tmp[j] / rz[j] : 0;
            rz[j] = tmp[j];
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < c; j++)
                if (active[j])
                    D[i * c + j] = Z[i * c + j] + (float)(step[j] * D[i * c + j]);
    }
    /* report the true residual, not the recurrence's */
    if ((rc = residual(M, n, c, Y, X, R)))
        goto out;
    memset(active, 1, c);
    res->rel_residual = check(n, c, R, ynorm, 0, active, tmp);
    res->iters = it;
out:
    km_progress_end(&prog);
    free(R);
    free(Z);
    free(D);
    free(Q);
    free(rz);
    free(ynorm);
    free(tmp);
    free(step);
    free(active);
    free(Xbest);
    return rc;
}

uint64_t km_pcg_estimate(size_t n, size_t c)
{
    return (uint64_t)n * c * sizeof(float) * 6;
}
