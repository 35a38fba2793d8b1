/* test_solve.c - the solvers against independent computations: the direct
 * solve's residual in float64, PCG (with and without the Nyström
 * preconditioner) against the direct solution, and the singular case. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/rng.h"
#include "kmill/solve.h"

#define N 600
#define D 6
#define C 3

static float *K, *Y;

/* A Gaussian kernel matrix on clustered random points, computed in float64
 * by the definition (not by the kernel module). */
static void setup(void)
{
    km_rng r;
    km_rng_seed(&r, 17);
    double *x = malloc(N * D * sizeof *x);
    for (int i = 0; i < N; i++)
        for (int k = 0; k < D; k++)
            x[i * D + k] = (double)(i % 7) + km_rng_uniform(&r) * 2;
    K = malloc((size_t)N * N * sizeof *K);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < D; k++)
                s += (x[i * D + k] - x[j * D + k]) * (x[i * D + k] - x[j * D + k]);
            K[(size_t)i * N + j] = (float)exp(-s / (2 * 2.0 * 2.0));
        }
    Y = malloc(N * C * sizeof *Y);
    for (int i = 0; i < N * C; i++)
        Y[i] = (float)(km_rng_uniform(&r) - 0.5);
    free(x);
}

static void teardown(void)
{
    free(K);
    free(Y);
}

struct op {
    double reg;
};

static int apply_K(void *arg, const float *in, float *out, size_t c)
{
    const struct op *o = arg;
    for (size_t i = 0; i < N; i++)
        for (size_t j = 0; j < c; j++) {
            double s = o->reg * in[i * c + j];
            for (size_t k = 0; k < N; k++)
                s += (double)K[i * N + k] * in[k * c + j];
            out[i * c + j] = (float)s;
        }
    return 0;
}

static double rel_diff(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

TestSuite(solve, .init = setup, .fini = teardown);

Test(solve, direct_residual_is_small)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    float *A = malloc(N * C * sizeof *A);
    double reg = 1e-3;
    cr_assert_eq(km_solve_direct(&ctx, K, N, reg, Y, C, A), 0, "%s", ctx.err.msg);
    double num = 0, den = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) {
            double s = reg * A[i * C + j];
            for (int k = 0; k < N; k++)
                s += (double)K[(size_t)i * N + k] * A[k * C + j];
            num += (s - Y[i * C + j]) * (s - Y[i * C + j]);
            den += (double)Y[i * C + j] * Y[i * C + j];
        }
    cr_assert_lt(sqrt(num / den), 1e-4, "residual %g", sqrt(num / den));
    free(A);
}

Test(solve, pcg_and_nystrom_pcg_agree_with_direct)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    /* float32 vectors and products put a floor near 1e-6 under the residual;
     * with this ridge the system is conditioned well enough (about 1e3) for
     * that floor to mean 1e-4 in the coefficients */
    double reg = 0.5;
    float *A = malloc(N * C * sizeof *A), *X = calloc(N * C, sizeof *X), *Xp = calloc(N * C, sizeof *Xp);
    cr_assert_eq(km_solve_direct(&ctx, K, N, reg, Y, C, A), 0);
    struct op o = {reg};
    km_linop M = {apply_K, &o};
    km_pcg_opts po = {1e-6, 2000, 10};
    km_pcg_result plain, pre;
    cr_assert_eq(km_pcg(&ctx, &M, NULL, N, C, Y, X, &po, &plain), 0, "%s", ctx.err.msg);
    /* the floor: a few times 1e-6 (CG without restarts drifts a little further) */
    cr_assert_lt(plain.rel_residual, 5e-6, "plain residual %g", plain.rel_residual);
    cr_assert_lt(rel_diff(X, A, N * C), 1e-4, "plain PCG vs direct: %g", rel_diff(X, A, N * C));

    /* landmarks: every 10th row */
    size_t r = N / 10;
    float *Cs = malloc(N * r * sizeof *Cs), *W = malloc(r * r * sizeof *W);
    for (size_t i = 0; i < N; i++)
        for (size_t q = 0; q < r; q++)
            Cs[i * r + q] = K[i * N + q * 10];
    for (size_t a = 0; a < r; a++)
        for (size_t b = 0; b < r; b++)
            W[a * r + b] = K[a * 10 * N + b * 10];
    km_nystrom *ny;
    cr_assert_eq(km_nystrom_build(&ctx, Cs, N, r, W, reg, &ny), 0, "%s", ctx.err.msg);
    cr_assert_gt(km_nystrom_rank(ny), 0);
    km_linop P = {km_nystrom_apply, ny};
    cr_assert_eq(km_pcg(&ctx, &M, &P, N, C, Y, Xp, &po, &pre), 0, "%s", ctx.err.msg);
    cr_assert_lt(pre.rel_residual, 2e-6, "preconditioned residual %g", pre.rel_residual);
    cr_assert_lt(rel_diff(Xp, A, N * C), 1e-4, "Nyström PCG vs direct: %g", rel_diff(Xp, A, N * C));
    cr_assert_lt(pre.iters * 3, plain.iters, "iterations: %d with Nyström, %d without", pre.iters,
                 plain.iters);
    cr_log_info("PCG iterations: %d plain, %d with rank-%zu Nyström", plain.iters, pre.iters,
                km_nystrom_rank(ny));
    km_nystrom_free(ny);
    free(Cs);
    free(W);
    free(A);
    free(X);
    free(Xp);
}

Test(solve, singular_kernel_asks_for_a_ridge)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    /* two identical rows make K singular; no ridge */
    float *K2 = malloc(4 * sizeof *K2), y[2] = {1, 2}, a[2];
    K2[0] = K2[1] = K2[2] = K2[3] = 1;
    cr_assert_eq(km_solve_direct(&ctx, K2, 2, 0, y, 1, a), KM_ENUMERIC);
    cr_assert(strstr(ctx.err.msg, "use a larger --reg") != NULL, "%s", ctx.err.msg);
    free(K2);
}
