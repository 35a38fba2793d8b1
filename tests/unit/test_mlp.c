/* test_mlp.c - the ReLU network (kmill/mlp.h): the initialisation's
 * distributions and the forward pass against a plain float64 loop over
 * the formulas of the header. */
#include "config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/mlp.h"

static km_ctx ctx;

static void setup(void)
{
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET;
    ctx.threads = 1;
}

TestSuite(mlp, .init = setup);

/* f(x) for one row by the header's formulas, in float64. */
static void naive_forward(const km_mlp *net, const float *x, double *f)
{
    size_t D = net->depth;
    double h[64], z[64];
    for (size_t j = 0; j < net->width[0]; j++)
        h[j] = x[j];
    for (size_t l = 1; l <= D + 1; l++) {
        size_t wi = net->width[l - 1], wo = net->width[l];
        double ws = 1, bs = 1;
        if (net->param == KM_PARAM_NTK) {
            ws = sqrt(net->sw2) / sqrt((double)wi);
            bs = sqrt(net->sb2);
        }
        for (size_t o = 0; o < wo; o++) {
            double s = 0;
            for (size_t i = 0; i < wi; i++)
                s += (double)net->W[l - 1][o * wi + i] * h[i];
            z[o] = ws * s + bs * net->b[l - 1][o];
        }
        for (size_t o = 0; o < wo; o++)
            h[o] = l <= D ? (z[o] > 0 ? z[o] : 0) : z[o];
    }
    for (size_t o = 0; o < net->width[D + 1]; o++)
        f[o] = net->alpha * h[o];
}

static void check_forward(int param, double alpha)
{
    uint32_t width[] = {3, 7, 5, 2};
    km_mlp net;
    cr_assert_eq(km_mlp_init(&ctx, &net, 2, width, param, 2.0, 0.1, alpha, 42), 0, "%s",
                 ctx.err.msg);
    enum { N = 9 };
    float X[N * 3], out[N * 2], out2[N * 2];
    for (int i = 0; i < N * 3; i++)
        X[i] = (float)sin(1.7 * i + 0.3);
    km_mlp_cache cache = {0};
    cr_assert_eq(km_mlp_forward(&ctx, NULL, &net, X, N, &cache, out), 0);
    cr_assert_eq(km_mlp_forward(&ctx, NULL, &net, X, N, NULL, out2), 0);
    for (int i = 0; i < N; i++) {
        double f[2];
        naive_forward(&net, X + 3 * i, f);
        for (int c = 0; c < 2; c++) {
            cr_assert_float_eq(out[i * 2 + c], f[c], 1e-5 * (1 + fabs(f[c])), "row %d", i);
            cr_assert_eq(out[i * 2 + c], out2[i * 2 + c]);
            cr_assert_float_eq(cache.z[2][i * 2 + c] * alpha, f[c], 1e-5 * (1 + fabs(f[c])));
        }
        for (int j = 0; j < 7; j++) /* h = relu(z) kept for the first layer */
            cr_assert_eq(cache.h[0][i * 7 + j], cache.z[0][i * 7 + j] > 0 ? cache.z[0][i * 7 + j] : 0);
    }
    /* a smaller batch through the same cache */
    cr_assert_eq(km_mlp_forward(&ctx, NULL, &net, X + 3, 2, &cache, out2), 0);
    cr_assert_eq(cache.n, 2);
    cr_assert_eq(memcmp(out2, out + 2, 4 * sizeof *out), 0);
    km_mlp_cache_free(&cache);
    km_mlp_free(&net);
}

Test(mlp, forward_ntk) { check_forward(KM_PARAM_NTK, 1.0); }
Test(mlp, forward_standard_alpha) { check_forward(KM_PARAM_STANDARD, 0.25); }

/* The parameters' sample moments: N(0, 1) in the NTK parameterisation,
 * N(0, sw2 / fan-in) and N(0, sb2) in the standard one; the same seed
 * gives the same network. */
Test(mlp, init_moments)
{
    uint32_t width[] = {200, 300, 1};
    for (int param = 0; param < 2; param++) {
        km_mlp a, b;
        cr_assert_eq(km_mlp_init(&ctx, &a, 1, width, param, 2.0, 0.5, 1.0, 7), 0);
        cr_assert_eq(km_mlp_init(&ctx, &b, 1, width, param, 2.0, 0.5, 1.0, 7), 0);
        size_t nw = 200 * 300;
        double m = 0, v = 0;
        for (size_t i = 0; i < nw; i++)
            m += a.W[0][i];
        m /= nw;
        for (size_t i = 0; i < nw; i++)
            v += (a.W[0][i] - m) * (a.W[0][i] - m);
        v /= nw - 1;
        double want = param == KM_PARAM_NTK ? 1.0 : 2.0 / 200;
        cr_assert(fabs(m) < 4 * sqrt(want / nw), "mean %g", m);
        cr_assert(fabs(v / want - 1) < 0.03, "variance %g, want %g", v, want);
        double bv = 0;
        for (size_t i = 0; i < 300; i++)
            bv += (double)a.b[0][i] * a.b[0][i];
        bv /= 300;
        want = param == KM_PARAM_NTK ? 1.0 : 0.5;
        cr_assert(fabs(bv / want - 1) < 0.3, "bias variance %g, want %g", bv, want);
        cr_assert_eq(memcmp(a.W[0], b.W[0], nw * sizeof(float)), 0);
        km_mlp_free(&a);
        km_mlp_free(&b);
    }
}

Test(mlp, init_rejects)
{
    uint32_t width[] = {3, 0, 1};
    km_mlp net;
    cr_assert_eq(km_mlp_init(&ctx, &net, 1, width, 0, 2, 0.1, 1, 1), KM_EINVAL);
    cr_assert_str_eq(ctx.err.msg, "layer 1 of the network has width 0");
    cr_assert_eq(km_mlp_init(&ctx, &net, 0, width, 0, 2, 0.1, 1, 1), KM_EINVAL);
}
