/* test_nnmetrics.c - the network metrics (kmill/nnmetrics.h) against
 * independent computations: CKA and alignment from the n x n centred Gram
 * matrices, the AGOP from finite differences of the network's outputs in
 * float64, the weight change from a network scaled by a known factor. */
#include "config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/kernel.h"
#include "kmill/nnmetrics.h"

static km_ctx ctx;

static void setup(void)
{
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET;
    ctx.threads = 1;
}

TestSuite(nnmetrics, .init = setup);

/* HSIC-style <HKH, HLH> with K = A A^T, L = B B^T, H the centring matrix. */
static double hsic(const float *A, size_t p, const float *B, size_t q, size_t n)
{
    double *K = malloc(n * n * sizeof *K), *L = malloc(n * n * sizeof *L);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double k = 0, l = 0;
            for (size_t t = 0; t < p; t++)
                k += (double)A[i * p + t] * A[j * p + t];
            for (size_t t = 0; t < q; t++)
                l += (double)B[i * q + t] * B[j * q + t];
            K[i * n + j] = k;
            L[i * n + j] = l;
        }
    for (int pass = 0; pass < 2; pass++) { /* centre rows and columns of both */
        double *M = pass ? L : K;
        for (size_t i = 0; i < n; i++) {
            double m = 0;
            for (size_t j = 0; j < n; j++)
                m += M[i * n + j];
            for (size_t j = 0; j < n; j++)
                M[i * n + j] -= m / n;
        }
        for (size_t j = 0; j < n; j++) {
            double m = 0;
            for (size_t i = 0; i < n; i++)
                m += M[i * n + j];
            for (size_t i = 0; i < n; i++)
                M[i * n + j] -= m / n;
        }
    }
    double s = 0;
    for (size_t i = 0; i < n * n; i++)
        s += K[i] * L[i];
    free(K);
    free(L);
    return s;
}

Test(nnmetrics, cka_against_gram)
{
    enum { N = 23, P = 5, Q = 3 };
    float A[N * P], B[N * Q];
    for (int i = 0; i < N * P; i++)
        A[i] = (float)sin(0.37 * i * i + 1);
    for (int i = 0; i < N * Q; i++)
        B[i] = (float)cos(0.11 * i * i) + (float)A[(i / Q) * P] * 0.5f;
    double cka;
    cr_assert_eq(km_cka_linear(&ctx, A, P, B, Q, N, &cka), 0);
    double want = hsic(A, P, B, Q, N) / sqrt(hsic(A, P, A, P, N) * hsic(B, Q, B, Q, N));
    cr_assert_float_eq(cka, want, 1e-9);
    cr_assert(cka > 0 && cka < 1);
    /* invariant to a rotation and a scaling: CKA(A, 3 A R) = 1 */
    float C[N * 2];
    for (int i = 0; i < N; i++) {
        C[i * 2] = 3 * (0.6f * A[i * P] + 0.8f * A[i * P + 1]);
        C[i * 2 + 1] = 3 * (-0.8f * A[i * P] + 0.6f * A[i * P + 1]);
    }
    float A2[N * 2];
    for (int i = 0; i < N; i++) {
        A2[i * 2] = A[i * P];
        A2[i * 2 + 1] = A[i * P + 1];
    }
    cr_assert_eq(km_cka_linear(&ctx, A2, 2, C, 2, N, &cka), 0);
    cr_assert_float_eq(cka, 1.0, 1e-6);
}

Test(nnmetrics, kta_against_gram)
{
    enum { N = 30, P = 4, C = 3 };
    float H[N * P], y[N], T[N * C], yr[N];
    memset(T, 0, sizeof T);
    for (int i = 0; i < N; i++) {
        y[i] = (float)(i % C);
        T[i * C + i % C] = 1;
        yr[i] = (float)sin(i);
        for (int j = 0; j < P; j++)
            H[i * P + j] = (float)cos(0.3 * i * (j + 1)) + (j == 0 ? y[i] : 0);
    }
    double kta;
    cr_assert_eq(km_kta(&ctx, H, P, y, N, C, 1, &kta), 0);
    double want = hsic(H, P, T, C, N) / sqrt(hsic(H, P, H, P, N) * hsic(T, C, T, C, N));
    cr_assert_float_eq(kta, want, 1e-9);
    cr_assert_eq(km_kta(&ctx, H, P, yr, N, 1, 0, &kta), 0);
    want = hsic(H, P, yr, 1, N) / sqrt(hsic(H, P, H, P, N) * hsic(yr, 1, yr, 1, N));
    cr_assert_float_eq(kta, want, 1e-9);
}

Test(nnmetrics, weight_change)
{
    uint32_t width[] = {3, 8, 2};
    km_mlp a, b;
    cr_assert_eq(km_mlp_init(&ctx, &a, 1, width, KM_PARAM_NTK, 2, 0.1, 1, 5), 0);
    cr_assert_eq(km_mlp_copy(&ctx, &b, &a), 0);
    for (int i = 0; i < 24; i++)
        b.W[0][i] *= 1.5f;
    for (int i = 0; i < 16; i++)
        b.W[1][i] *= -1.0f;
    double ch[2];
    km_mlp_weight_change(&a, &b, ch);
    cr_assert_float_eq(ch[0], 0.5, 1e-6);
    cr_assert_float_eq(ch[1], 2.0, 1e-6);
    km_mlp_free(&a);
    km_mlp_free(&b);
}

/* f(x) in float64 (the header's formulas). */
static void f64(const km_mlp *net, const double *x, double *f)
{
    double h[64], z[64];
    for (size_t j = 0; j < net->width[0]; j++)
        h[j] = x[j];
    for (size_t l = 1; l <= net->depth + 1; l++) {
        size_t wi = net->width[l - 1], wo = net->width[l];
        double ws = net->param == KM_PARAM_NTK ? sqrt(net->sw2 / wi) : 1;
        double bs = net->param == KM_PARAM_NTK ? sqrt(net->sb2) : 1;
        for (size_t o = 0; o < wo; o++) {
            double s = 0;
            for (size_t i = 0; i < wi; i++)
                s += net->W[l - 1][o * wi + i] * h[i];
            z[o] = ws * s + bs * net->b[l - 1][o];
        }
        for (size_t o = 0; o < wo; o++)
            h[o] = l <= net->depth ? (z[o] > 0 ? z[o] : 0) : net->alpha * z[o];
    }
    memcpy(f, h, net->width[net->depth + 1] * sizeof *f);
}

/* The AGOP by central differences of f at every row. */
static void agop_fd(const km_mlp *net, const float *X, size_t n, double *G)
{
    size_t d = net->width[0], c = net->width[net->depth + 1];
    memset(G, 0, d * d * sizeof *G);
    for (size_t r = 0; r < n; r++) {
        double x[16], fp[8], fm[8], J[8][16];
        for (size_t j = 0; j < d; j++)
            x[j] = X[r * d + j];
        for (size_t j = 0; j < d; j++) {
            double keep = x[j];
            x[j] = keep + 1e-6;
            f64(net, x, fp);
            x[j] = keep - 1e-6;
            f64(net, x, fm);
            x[j] = keep;
            for (size_t k = 0; k < c; k++)
                J[k][j] = (fp[k] - fm[k]) / 2e-6;
        }
        for (size_t k = 0; k < c; k++)
            for (size_t i = 0; i < d; i++)
                for (size_t j = 0; j < d; j++)
                    G[i * d + j] += J[k][i] * J[k][j] / (double)n;
    }
}

static void check_agop(int param, double alpha)
{
    uint32_t width[] = {5, 9, 7, 3};
    km_mlp net;
    cr_assert_eq(km_mlp_init(&ctx, &net, 2, width, param, 2, 0.2, alpha, 8), 0);
    enum { N = 300 }; /* more than one block of rows */
    static float X[N * 5];
    for (int i = 0; i < N * 5; i++)
        X[i] = (float)sin(0.71 * i + 0.5 * (i % 5));
    double G[25], F[25];
    cr_assert_eq(km_mlp_agop(&ctx, &net, X, N, G), 0);
    agop_fd(&net, X, N, F);
    for (int i = 0; i < 25; i++)
        cr_assert(fabs(G[i] - F[i]) <= 1e-4 * (1 + fabs(F[i])), "entry %d: %g, want %g", i, G[i],
                  F[i]);
    /* the ansatz: Pearson of W1^T W1 with the root of that AGOP */
    float M[25], S[25];
    for (int i = 0; i < 25; i++)
        M[i] = (float)F[i];
    cr_assert_eq(km_metric_root(M, 5, KM_METRIC_FULL, S, &ctx.err), 0);
    double gram[25] = {0}, root[25];
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) {
            for (int k = 0; k < 9; k++)
                gram[i * 5 + j] += (double)net.W[0][k * 5 + i] * net.W[0][k * 5 + j];
            root[i * 5 + j] = S[i * 5 + j];
        }
    double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
    for (int i = 0; i < 25; i++) {
        ma += gram[i] / 25;
        mb += root[i] / 25;
    }
    for (int i = 0; i < 25; i++) {
        sab += (gram[i] - ma) * (root[i] - mb);
        saa += (gram[i] - ma) * (gram[i] - ma);
        sbb += (root[i] - mb) * (root[i] - mb);
    }
    double nfa, nfad, diag[5];
    cr_assert_eq(km_mlp_nfa(&ctx, &net, &net, X, N, &nfa, &nfad, diag), 0);
    cr_assert_float_eq(nfa, sab / sqrt(saa * sbb), 1e-4);
    cr_assert(isnan(nfad)); /* no change: dW = 0 */
    for (int i = 0; i < 5; i++)
        cr_assert_float_eq(diag[i], F[i * 6], 1e-4 * (1 + F[i * 6]));
    km_mlp_free(&net);
}

Test(nnmetrics, agop_ntk) { check_agop(KM_PARAM_NTK, 1.0); }
Test(nnmetrics, agop_standard_alpha) { check_agop(KM_PARAM_STANDARD, 0.4); }

Test(nnmetrics, pearson)
{
    double a[] = {1, 2, 3, 4}, b[] = {2, 4, 6, 8.5}, c[] = {1, 1, 1, 1};
    /* by hand: means 2.5 and 5.125 */
    double sab = 1.5 * 3.125 + 0.5 * 1.125 + 0.5 * 0.875 + 1.5 * 3.375;
    double saa = 5, sbb = 3.125 * 3.125 + 1.125 * 1.125 + 0.875 * 0.875 + 3.375 * 3.375;
    cr_assert_float_eq(km_pearson(a, b, 4), sab / sqrt(saa * sbb), 1e-12);
    cr_assert(isnan(km_pearson(a, c, 4)));
}
