/* test_entk.c - the empirical NTK by the layer identity (kmill/entk.h)
 * against the definition: Theta_ab(x, x') = sum over every parameter p of
 * df_a(x)/dp df_b(x')/dp, with each derivative a central finite difference
 * of this file's own float64 forward pass (ReLU nets are piecewise linear
 * in each parameter, so central differences are exact up to rounding away
 * from the kinks). Tiny networks in both parameterisations, with an output
 * multiplier, blocks smaller than the rows, and the kernel distances. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/entk.h"
#include "kmill/rng.h"

static double gauss(km_rng *r)
{
    double u = km_rng_uniform(r), v = km_rng_uniform(r);
    return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

/* A network built by hand (the test does not rely on km_mlp_init): W, b
 * standard normal for the NTK parameterisation, scaled for the standard one. */
static void net_make(km_mlp *net, uint32_t D, const uint32_t *w, int param, double alpha,
                     uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    memset(net, 0, sizeof *net);
    net->depth = D;
    net->width = malloc((D + 2) * sizeof *net->width);
    memcpy(net->width, w, (D + 2) * sizeof *w);
    net->param = param;
    net->sw2 = 2;
    net->sb2 = 0.1;
    net->alpha = alpha;
    net->W = calloc(D + 1, sizeof *net->W);
    net->b = calloc(D + 1, sizeof *net->b);
    for (uint32_t l = 1; l <= D + 1; l++) {
        double sw = param == KM_PARAM_NTK ? 1 : sqrt(net->sw2 / w[l - 1]);
        double sb = param == KM_PARAM_NTK ? 1 : sqrt(net->sb2);
        net->W[l - 1] = malloc((size_t)w[l] * w[l - 1] * sizeof(float));
        net->b[l - 1] = malloc(w[l] * sizeof(float));
        for (size_t k = 0; k < (size_t)w[l] * w[l - 1]; k++)
            net->W[l - 1][k] = (float)(sw * gauss(&r));
        for (size_t k = 0; k < w[l]; k++)
            net->b[l - 1][k] = (float)(sb * gauss(&r));
    }
}

static void net_free(km_mlp *net)
{
    for (uint32_t l = 0; l <= net->depth; l++) {
        free(net->W[l]);
        free(net->b[l]);
    }
    free(net->W);
    free(net->b);
    free(net->width);
}

/* The parameters as one float64 vector (W^1, b^1, W^2, ...). */
static double *params(const km_mlp *net, size_t *np)
{
    size_t n = 0;
    for (uint32_t l = 1; l <= net->depth + 1; l++)
        n += (size_t)net->width[l] * (net->width[l - 1] + 1);
    double *p = malloc(n * sizeof *p), *q = p;
    for (uint32_t l = 1; l <= net->depth + 1; l++) {
        size_t nw = (size_t)net->width[l] * net->width[l - 1];
        for (size_t k = 0; k < nw; k++)
            *q++ = net->W[l - 1][k];
        for (size_t k = 0; k < net->width[l]; k++)
            *q++ = net->b[l - 1][k];
    }
    *np = n;
    return p;
}

/* f(x) (c outputs) from the parameter vector p, in float64, from the
 * forward pass's definition in kmill/mlp.h. */
static void forward(const km_mlp *net, const double *p, const double *x, double *f)
{
    double a[64], z[64];
    const uint32_t *w = net->width;
    uint32_t D = net->depth;
    memcpy(a, x, w[0] * sizeof *a);
    for (uint32_t l = 1; l <= D + 1; l++) {
        int ntk = net->param == KM_PARAM_NTK;
        double mw = ntk ? sqrt(net->sw2 / w[l - 1]) : 1, mb = ntk ? sqrt(net->sb2) : 1;
        const double *W = p, *b = p + (size_t)w[l] * w[l - 1];
        for (uint32_t i = 0; i < w[l]; i++) {
            double s = 0;
            for (uint32_t k = 0; k < w[l - 1]; k++)
                s += W[i * w[l - 1] + k] * a[k];
            z[i] = mw * s + mb * b[i];
        }
        p = b + w[l];
        for (uint32_t i = 0; i < w[l]; i++)
            a[i] = l <= D ? fmax(z[i], 0) : net->alpha * z[i];
    }
    memcpy(f, a, w[D + 1] * sizeof *f);
}

/* J (c x np) for the row x by central differences of step 1e-6. */
static void jacobian(const km_mlp *net, const double *x, double *J)
{
    size_t np;
    double *p = params(net, &np), fp[16], fm[16], h = 1e-6;
    size_t c = net->width[net->depth + 1];
    for (size_t k = 0; k < np; k++) {
        double keep = p[k];
        p[k] = keep + h;
        forward(net, p, x, fp);
        p[k] = keep - h;
        forward(net, p, x, fm);
        p[k] = keep;
        for (size_t a = 0; a < c; a++)
            J[a * np + k] = (fp[a] - fm[a]) / (2 * h);
    }
    free(p);
}

/* The full reference (na c x nb c) from the Jacobians' products. */
static double *reference(const km_mlp *net, const double *A, size_t na, const double *B,
                         size_t nb)
{
    size_t np, c = net->width[net->depth + 1], d = net->width[0];
    free(params(net, &np));
    double *JA = malloc(na * c * np * sizeof *JA), *JB = malloc(nb * c * np * sizeof *JB);
    for (size_t i = 0; i < na; i++)
        jacobian(net, A + i * d, JA + i * c * np);
    for (size_t j = 0; j < nb; j++)
        jacobian(net, B + j * d, JB + j * c * np);
    double *R = malloc(na * c * nb * c * sizeof *R);
    for (size_t r = 0; r < na * c; r++)
        for (size_t s = 0; s < nb * c; s++) {
            double t = 0;
            for (size_t k = 0; k < np; k++)
                t += JA[r * np + k] * JB[s * np + k];
            R[r * nb * c + s] = t;
        }
    free(JA);
    free(JB);
    return R;
}

static double *rows(size_t n, size_t d, uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    double *X = malloc(n * d * sizeof *X);
    for (size_t k = 0; k < n * d; k++)
        X[k] = gauss(&r);
    return X;
}

/* Largest |K - R| over the largest |R|. */
static double max_rel(const double *K, const double *R, size_t n)
{
    double e = 0, m = 0;
    for (size_t k = 0; k < n; k++) {
        e = fmax(e, fabs(K[k] - R[k]));
        m = fmax(m, fabs(R[k]));
    }
    return e / m;
}

/* Both modes in float64 (1e-6 against the reference) and float32 (within
 * float32 accuracy of the float64 result), with memory for blocks of
 * `block` rows only when block > 0. */
static void check_net(int param, double alpha, size_t block, int same)
{
    uint32_t w[] = {4, 7, 5, 3};
    km_mlp net;
    net_make(&net, 2, w, param, alpha, 11 + param);
    size_t na = 9, nb = same ? 9 : 6, c = 3, d = 4;
    double *A = rows(na, d, 3), *B = same ? A : rows(nb, d, 4);
    double *R = reference(&net, A, na, B, nb);
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.threads = 1;
    if (block)
        ctx.mem_budget = KM_MEM_SLACK + KM_MEM_BLAS + km_entk_estimate(&net, block, KM_ENTK_FULL, 8);
    double *K = malloc(na * nb * c * c * sizeof *K), *M = malloc(na * nb * sizeof *M);
    cr_assert_eq(km_entk_gram_f64(&ctx, &net, A, na, B, nb, KM_ENTK_FULL, NULL, K), 0, "%s",
                 ctx.err.msg);
    cr_expect_lt(max_rel(K, R, na * nb * c * c), 1e-6, "full: %g", max_rel(K, R, na * nb * c * c));
    cr_assert_eq(km_entk_gram_f64(&ctx, &net, A, na, B, nb, KM_ENTK_MEAN, NULL, M), 0, "%s",
                 ctx.err.msg);
    double *RM = calloc(na * nb, sizeof *RM);
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            for (size_t a = 0; a < c; a++)
                RM[i * nb + j] += R[(i * c + a) * nb * c + j * c + a] / c;
    cr_expect_lt(max_rel(M, RM, na * nb), 1e-6, "mean: %g", max_rel(M, RM, na * nb));
    /* float32: the same network and rows, to float32 accuracy */
    float *Af = malloc(na * d * sizeof *Af), *Bf = malloc(nb * d * sizeof *Bf);
    float *Kf = malloc(na * nb * c * c * sizeof *Kf);
    for (size_t k = 0; k < na * d; k++)
        Af[k] = (float)A[k];
    for (size_t k = 0; k < nb * d; k++)
        Bf[k] = (float)B[k];
    cr_assert_eq(km_entk_gram(&ctx, &net, Af, na, same ? Af : Bf, nb, KM_ENTK_FULL, NULL, Kf), 0,
                 "%s", ctx.err.msg);
    double *Kd = malloc(na * nb * c * c * sizeof *Kd);
    for (size_t k = 0; k < na * nb * c * c; k++)
        Kd[k] = Kf[k];
    cr_expect_lt(max_rel(Kd, R, na * nb * c * c), 1e-5, "float32: %g",
                 max_rel(Kd, R, na * nb * c * c));
    free(Kd), free(Kf), free(Af), free(Bf), free(RM), free(K), free(M), free(R);
    if (!same)
        free(B);
    free(A);
    net_free(&net);
}

Test(entk, ntk_param_matches_finite_differences) { check_net(KM_PARAM_NTK, 1.0, 0, 0); }
Test(entk, standard_param_matches_finite_differences) { check_net(KM_PARAM_STANDARD, 1.0, 0, 0); }
Test(entk, output_multiplier_and_same_rows) { check_net(KM_PARAM_NTK, 2.5, 0, 1); }
Test(entk, small_blocks) { check_net(KM_PARAM_NTK, 1.0, 4, 0); }
Test(entk, small_blocks_same_rows) { check_net(KM_PARAM_STANDARD, 0.5, 2, 1); }

/* A budget below a block of one row is refused with the plan's items. */
Test(entk, budget_too_small)
{
    uint32_t w[] = {4, 7, 5, 3};
    km_mlp net;
    net_make(&net, 2, w, KM_PARAM_NTK, 1, 1);
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET;
    ctx.mem_budget = KM_MEM_SLACK;
    size_t bs;
    cr_expect_eq(km_entk_block(&ctx, &net, 100, 100, KM_ENTK_MEAN, 4, NULL, &bs), KM_ENOMEM);
    cr_expect(strstr(ctx.err.msg, "empirical NTK blocks"), "%s", ctx.err.msg);
    net_free(&net);
}

Test(entk, distances)
{
    float a[4] = {1, 2, 3, 4}, b[4] = {2, 4, 6, 8}, z[4] = {0};
    float e[4] = {1, 2, 3, 5};
    cr_expect_float_eq(km_kernel_distance(a, b, 4), 0.0, 1e-12);
    cr_expect(isnan(km_kernel_distance(a, z, 4)));
    /* <a, e> = 34, ||a|| = sqrt 30, ||e|| = sqrt 39 */
    cr_expect_float_eq(km_kernel_distance(a, e, 4), 1 - 34 / sqrt(30.0 * 39.0), 1e-12);
    cr_expect_float_eq(km_rel_frobenius(e, a, 4), 1 / sqrt(30.0), 1e-12);
    cr_expect_float_eq(km_rel_frobenius(z, z, 4), 0.0, 0);
    cr_expect(isinf(km_rel_frobenius(a, z, 4)));
}
