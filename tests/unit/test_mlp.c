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

/* ---- backpropagation against finite differences ---- */

#include "kmill/mlpfit.h"

/* The objective J of kmill/mlpfit.h over n rows, in float64 from double
 * copies of the parameters (P: W^1, b^1, W^2, ... as laid out by
 * flatten). */
static double naive_objective(const km_mlp *net, const double *P, const float *X, const float *y,
                              size_t n, int loss, int classify)
{
    size_t D = net->depth, c = net->width[D + 1];
    double total = 0;
    for (size_t r = 0; r < n; r++) {
        double h[64], z[64];
        const double *p = P;
        for (size_t j = 0; j < net->width[0]; j++)
            h[j] = X[r * net->width[0] + j];
        for (size_t l = 1; l <= D + 1; l++) {
            size_t wi = net->width[l - 1], wo = net->width[l];
            double ws = 1, bs = 1;
            if (net->param == KM_PARAM_NTK) {
                ws = sqrt(net->sw2 / (double)wi);
                bs = sqrt(net->sb2);
            }
            for (size_t o = 0; o < wo; o++) {
                double s = 0;
                for (size_t i = 0; i < wi; i++)
                    s += p[o * wi + i] * h[i];
                z[o] = ws * s + bs * p[wo * wi + o];
            }
            p += wo * wi + wo;
            for (size_t o = 0; o < wo; o++)
                h[o] = l <= D ? (z[o] > 0 ? z[o] : 0) : net->alpha * z[o];
        }
        size_t k = classify ? (size_t)y[r] : 0;
        if (loss == KM_LOSS_XENT) {
            double s = 0;
            for (size_t j = 0; j < c; j++)
                s += exp(h[j]);
            total += log(s) - h[k];
        } else {
            for (size_t j = 0; j < c; j++) {
                double t = classify ? (j == k) : y[r];
                total += (h[j] - t) * (h[j] - t);
            }
        }
    }
    double L = total / (double)n, a2 = net->alpha * net->alpha;
    return loss == KM_LOSS_XENT ? L / a2 : L / (2 * a2);
}

static size_t flatten(const km_mlp *net, double *P)
{
    size_t k = 0;
    for (size_t l = 1; l <= net->depth + 1; l++) {
        for (size_t i = 0; i < (size_t)net->width[l] * net->width[l - 1]; i++)
            P[k++] = net->W[l - 1][i];
        for (size_t i = 0; i < net->width[l]; i++)
            P[k++] = net->b[l - 1][i];
    }
    return k;
}

static void check_grad(int param, int loss, int classify, double alpha)
{
    size_t c = classify ? 3 : 1;
    uint32_t width[] = {4, 6, 5, (uint32_t)c};
    km_mlp net, g;
    cr_assert_eq(km_mlp_init(&ctx, &net, 2, width, param, 2.0, 0.3, alpha, 11), 0);
    enum { N = 7 };
    float X[N * 4], y[N];
    for (int i = 0; i < N * 4; i++)
        X[i] = (float)cos(0.9 * i + 0.2);
    for (int i = 0; i < N; i++)
        y[i] = classify ? (float)(i % 3) : (float)sin(i);
    km_mlp_work w = {0};
    double L;
    size_t right;
    cr_assert_eq(km_mlp_grad(&ctx, &net, X, y, N, loss, classify, &w, &L, &right), 0);
    g = w.grad;
    static double P[512], G[512];
    size_t np = flatten(&net, P);
    cr_assert(np <= 512);
    flatten(&g, G);
    double a2 = alpha * alpha, J = naive_objective(&net, P, X, y, N, loss, classify);
    cr_assert_float_eq(J, loss == KM_LOSS_XENT ? L / a2 : L / (2 * a2), 1e-5 * (1 + J));
    for (size_t k = 0; k < np; k++) {
        double h = 1e-6, keep = P[k];
        P[k] = keep + h;
        double jp = naive_objective(&net, P, X, y, N, loss, classify);
        P[k] = keep - h;
        double jm = naive_objective(&net, P, X, y, N, loss, classify);
        P[k] = keep;
        double fd = (jp - jm) / (2 * h);
        cr_assert(fabs(fd - G[k]) <= 1e-4 + 1e-3 * fabs(fd),
                  "parameter %zu: backprop %g, finite difference %g", k, G[k], fd);
    }
    km_mlp_work_free(&w);
    km_mlp_free(&net);
}

Test(mlp, grad_mse_ntk) { check_grad(KM_PARAM_NTK, KM_LOSS_MSE, 1, 1.0); }
Test(mlp, grad_mse_ntk_alpha) { check_grad(KM_PARAM_NTK, KM_LOSS_MSE, 1, 0.3); }
Test(mlp, grad_mse_standard_regression) { check_grad(KM_PARAM_STANDARD, KM_LOSS_MSE, 0, 2.5); }
Test(mlp, grad_xent_ntk_alpha) { check_grad(KM_PARAM_NTK, KM_LOSS_XENT, 1, 0.5); }
Test(mlp, grad_xent_standard) { check_grad(KM_PARAM_STANDARD, KM_LOSS_XENT, 1, 3.0); }

/* y = x0 - x1 on 64 rows: gradient descent (full batch and minibatches)
 * brings the training loss well below its value at initialisation, every
 * epoch's figures reach the callback, and a seed gives the same weights. */
static int nseen;
static double first_loss, last_loss;
static void seen(void *arg, const km_mlp_epoch *e)
{
    (void)arg;
    if (e->epoch == 0)
        first_loss = e->loss;
    last_loss = e->loss;
    cr_assert_eq(e->epoch, (uint32_t)nseen);
    nseen++;
}

static void fit_once(size_t batch, km_mlp *net, km_mlp_fit_result *r)
{
    enum { N = 64 };
    static float X[N * 2], y[N];
    for (int i = 0; i < N; i++) {
        X[2 * i] = (float)sin(1.3 * i);
        X[2 * i + 1] = (float)cos(0.7 * i);
        y[i] = X[2 * i] - X[2 * i + 1];
    }
    uint32_t width[] = {2, 32, 1};
    cr_assert_eq(km_mlp_init(&ctx, net, 1, width, KM_PARAM_NTK, 2.0, 0.1, 1.0, 3), 0);
    km_mlp_fit_opts o = {.loss = KM_LOSS_MSE, .lr = 0.5, .epochs = 40, .batch = batch,
                         .seed = 9, .on_epoch = seen};
    nseen = 0;
    cr_assert_eq(km_mlp_fit(&ctx, NULL, net, X, y, N, X, y, 8, &o, r), 0, "%s", ctx.err.msg);
    cr_assert_eq(nseen, 41);
}

Test(mlp, descent)
{
    for (size_t batch = 0; batch <= 16; batch += 16) {
        km_mlp a, b;
        km_mlp_fit_result ra, rb;
        fit_once(batch, &a, &ra);
        cr_assert(ra.loss < 0.1 * first_loss, "batch %zu: loss %g from %g", batch, ra.loss,
                  first_loss);
        cr_assert(last_loss < first_loss);
        fit_once(batch, &b, &rb);
        cr_assert_eq(memcmp(a.W[0], b.W[0], 64 * sizeof(float)), 0);
        cr_assert_eq(ra.loss, rb.loss);
        km_mlp_free(&a);
        km_mlp_free(&b);
    }
}

/* A step far too large: the error names the epoch and the step size. */
Test(mlp, diverges)
{
    enum { N = 32 };
    float X[N * 2], y[N];
    for (int i = 0; i < N; i++) {
        X[2 * i] = (float)(3 * sin(1.3 * i));
        X[2 * i + 1] = (float)(3 * cos(0.7 * i));
        y[i] = 10 * X[2 * i];
    }
    uint32_t width[] = {2, 64, 64, 1};
    km_mlp net;
    cr_assert_eq(km_mlp_init(&ctx, &net, 2, width, KM_PARAM_NTK, 2.0, 0.1, 1.0, 3), 0);
    km_mlp_fit_opts o = {.loss = KM_LOSS_MSE, .lr = 1000, .epochs = 100};
    km_mlp_fit_result r;
    cr_assert_eq(km_mlp_fit(&ctx, NULL, &net, X, y, N, NULL, NULL, 0, &o, &r), KM_ENUMERIC);
    cr_assert(strstr(ctx.err.msg, "the loss diverged at epoch ") == ctx.err.msg, "%s", ctx.err.msg);
    cr_assert(strstr(ctx.err.msg, "): try a smaller --lr than 1000"), "%s", ctx.err.msg);
    km_mlp_free(&net);
}
