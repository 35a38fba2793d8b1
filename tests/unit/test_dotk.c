/* test_dotk.c - the analytic NTK and NNGP tiles (kmill/kernel.h) against
 * independent computations in float64: at depth 1 the arc-cosine closed
 * form (Cho and Saul, order 1), at depth 3 a layer recursion written here
 * with acos, and Monte Carlo averages over wide random ReLU networks in
 * the NTK parameterisation (the NNGP as the output covariance over the
 * output layer's weights, given the last hidden layer, the NTK as
 * the inner product of parameter gradients by backpropagation).
 *
 * The closed form at depth 1. The first layer's pre-activation for input
 * x is z = W (sw x / sqrt(d)) + sb b = W' u with u = (sw x / sqrt(d), sb),
 * so z(x), z(x') are jointly Gaussian with variances |u|^2, |u'|^2 and
 * covariance u.u' = sw2 x.x'/d + sb2. With cos t = u.u' / (|u||u'|),
 *     E[relu(z) relu(z')] = |u||u'| (sin t + (pi - t) cos t) / (2 pi),
 *     E[relu'(z) relu'(z')] = (pi - t) / (2 pi);
 * the output f = sw / sqrt(n) w.relu(z) + sb b has covariance
 *     NNGP = sw2 E[relu relu] + sb2,
 * and its parameter gradient's inner product, as n grows, is the output
 * layer's (sw2 E[relu relu] + sb2) plus the first layer's, through the
 * output weights (variance 1, times sw2 / n summed over n units):
 *     NTK = NNGP + sw2 E[relu' relu'] (u.u'). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/kernel.h"
#include "kmill/rng.h"

static void fill_rows(float *X, size_t n, size_t d, uint64_t seed, double scale)
{
    km_rng r;
    km_rng_seed(&r, seed);
    for (size_t i = 0; i < n * d; i++)
        X[i] = (float)(scale * (2 * km_rng_uniform(&r) - 1));
}

static double dot64(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += (double)a[k] * b[k];
    return s;
}

/* the arc-cosine closed form above, for one pair */
static double closed_depth1(int ntk, double sw2, double sb2, const float *a, const float *b,
                            size_t d)
{
    double uu = sw2 * dot64(a, b, d) / d + sb2;
    double na = sqrt(sw2 * dot64(a, a, d) / d + sb2), nb = sqrt(sw2 * dot64(b, b, d) / d + sb2);
    double c = uu / (na * nb);
    c = c > 1 ? 1 : c < -1 ? -1 : c;
    double t = acos(c);
    double relu = na * nb * (sin(t) + (M_PI - t) * cos(t)) / (2 * M_PI);
    double drelu = (M_PI - t) / (2 * M_PI);
    double nngp = sw2 * relu + sb2;
    return ntk ? nngp + sw2 * drelu * uu : nngp;
}

/* the recursion of kmill-algorithms(7) written with acos and the
 * correlation, for any depth */
static double recursion64(int ntk, int depth, double sw2, double sb2, const float *a,
                          const float *b, size_t d)
{
    double k = dot64(a, b, d) / d, ka = dot64(a, a, d) / d, kb = dot64(b, b, d) / d, th = 0;
    for (int l = 0; l < depth; l++) {
        double s = sw2 * k + sb2, sa = sw2 * ka + sb2, sb = sw2 * kb + sb2;
        double q = s + sw2 * th;
        double c = s / sqrt(sa * sb);
        c = c > 1 ? 1 : c < -1 ? -1 : c;
        double t = acos(c);
        k = sqrt(sa * sb) * (sin(t) + (M_PI - t) * c) / (2 * M_PI);
        ka = sa / 2, kb = sb / 2;
        th = q * (M_PI - t) / (2 * M_PI);
    }
    double s = sw2 * k + sb2;
    return ntk ? s + sw2 * th : s;
}

/* The tile k(A, B) against ref for every pair; the worst error relative
 * to sqrt(k(a, a) k(b, b)). */
static double tile_error(const km_kernel *k, const float *A, size_t na, const float *B, size_t nb,
                         size_t d, int use_closed)
{
    float *an = malloc(na * sizeof *an), *bn = malloc(nb * sizeof *bn);
    float *K = malloc(na * nb * sizeof *K);
    km_row_sqnorms(A, na, d, an);
    km_row_sqnorms(B, nb, d, bn);
    km_kernel_tile(k, A, na, an, B, nb, bn, d, K, nb);
    double worst = 0;
    int ntk = k->type == KM_KERNEL_NTK;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++) {
            const float *a = A + i * d, *b = B + j * d;
            double ref = use_closed ? closed_depth1(ntk, k->sw2, k->sb2, a, b, d)
                                    : recursion64(ntk, k->depth, k->sw2, k->sb2, a, b, d);
            /* relative to the pair's scale sqrt(k(a, a) k(b, b)): near
             * antiparallel rows without biases give values far below it,
             * known only to its precision */
            double scale = sqrt(recursion64(ntk, k->depth, k->sw2, k->sb2, a, a, d) *
                                recursion64(ntk, k->depth, k->sw2, k->sb2, b, b, d));
            double e = fabs(K[i * nb + j] - ref) / scale;
            worst = e > worst ? e : worst;
        }
    free(an);
    free(bn);
    free(K);
    return worst;
}

Test(dotk, depth1_closed_form)
{
    /* d = 784 and d = 5; B includes A's rows (self pairs, flagged and
     * recomputed) and near copies of them (small angles) */
    size_t dims[] = {784, 5};
    for (int di = 0; di < 2; di++) {
        size_t d = dims[di], na = 37, nb = 300;
        float *A = malloc(na * d * sizeof *A), *B = malloc(nb * d * sizeof *B);
        fill_rows(A, na, d, 1 + di, 1.0);
        fill_rows(B, nb, d, 7 + di, 1.0);
        memcpy(B, A, na * d * sizeof *A);
        for (size_t i = 0; i < na; i++)
            for (size_t t = 0; t < d; t++)
                B[(na + i) * d + t] = A[i * d + t] * (1.0f + 1e-3f * (float)(t % 3));
        for (int type = KM_KERNEL_NTK; type <= KM_KERNEL_NNGP; type++) {
            km_kernel k = {type, 0, 1, 2.0, 0.1};
            double e = tile_error(&k, A, na, B, nb, d, 1);
            cr_expect(e < 2e-6, "type %d d %zu: relative error %g", type, d, e);
            km_kernel k2 = {type, 0, 1, 1.3, 0.0};
            e = tile_error(&k2, A, na, B, nb, d, 1);
            cr_expect(e < 2e-6, "type %d d %zu sb2 0: relative error %g", type, d, e);
        }
        free(A);
        free(B);
    }
}

Test(dotk, depth3_recursion_and_self)
{
    size_t d = 784, na = 64, nb = 700;
    float *A = malloc(na * d * sizeof *A), *B = malloc(nb * d * sizeof *B);
    fill_rows(A, na, d, 3, 2.0);
    fill_rows(B, nb, d, 4, 2.0);
    memcpy(B + 5 * d, A, na * d * sizeof *A);
    for (int type = KM_KERNEL_NTK; type <= KM_KERNEL_NNGP; type++) {
        km_kernel k = {type, 0, 3, 2.0, 0.1};
        double e = tile_error(&k, A, na, B, nb, d, 0);
        cr_expect(e < 2e-6, "type %d: relative error %g", type, e);
        /* a symmetric tile's diagonal is k(x, x) from the norm */
        float an[64], K[64 * 64];
        km_row_sqnorms(A, na, d, an);
        km_kernel_tile(&k, A, na, an, A, na, an, d, K, na);
        for (size_t i = 0; i < na; i++) {
            double self = km_kernel_self(&k, dot64(A + i * d, A + i * d, d), d);
            double ref = recursion64(type == KM_KERNEL_NTK, 3, 2.0, 0.1, A + i * d, A + i * d, d);
            cr_expect(fabs(self - ref) < 1e-7 * ref, /* acos near 1 */ "self %g, recursion %g", self, ref);
            cr_expect(fabs(K[i * na + i] - self) <= 1e-7 * self, "diagonal %g, self %g",
                      (double)K[i * na + i], self);
        }
    }
    free(A);
    free(B);
}

Test(dotk, nan_and_no_features)
{
    float A[4] = {1, NAN, 0.5f, 0.25f}, an[2], K[4];
    km_row_sqnorms(A, 2, 2, an);
    km_kernel k = {KM_KERNEL_NTK, 0, 2, 2.0, 0.1};
    km_kernel_tile(&k, A, 2, an, A, 2, an, 2, K, 2);
    cr_expect(isnan(K[0]) && isnan(K[1]) && isnan(K[2]));
    cr_expect(!isnan(K[3]));
    /* d = 0: every input is the empty vector, k = k(0, 0) */
    km_kernel_tile(&k, A, 2, an, A, 2, an, 0, K, 2);
    double self = km_kernel_self(&k, 0, 0);
    for (int i = 0; i < 4; i++)
        cr_expect(fabs(K[i] - self) <= 1e-7 * self, "%g against %g", (double)K[i], self);
}

/* ---- Monte Carlo over wide random networks ------------------------------ */

/* N(0, 1) by Box and Muller, both of each pair's values used */
typedef struct grng {
    km_rng r;
    double spare;
    int have;
} grng;

static double gauss(grng *g)
{
    if (g->have) {
        g->have = 0;
        return g->spare;
    }
    double u = km_rng_uniform(&g->r), v = km_rng_uniform(&g->r);
    double rad = sqrt(-2 * log(1 - u));
    g->spare = rad * sin(2 * M_PI * v);
    g->have = 1;
    return rad * cos(2 * M_PI * v);
}

#define MC_P 3        /* inputs */
#define MC_D 8        /* features */
#define MC_DEPTH 3
#define MC_N 256     /* width */
#define MC_NETS 2000 /* one net's estimates have a relative sd of about 0.24 at
                      * this width (each layer's average of relu^2 over 256
                      * units: 2.2 / 16), so the mean's is about 0.5% */

/* One random network of MC_DEPTH hidden layers of width MC_N (NTK
 * parameterisation: z^l = sw/sqrt(n_(l-1)) W^l h^(l-1) + sb b^l, h^l =
 * relu(z^l), all weights N(0, 1), the output a single unit): adds its
 * output covariance given its last hidden layer, E_w[f(x_p) f(x_q)] =
 * sw2 h^D(x_p).h^D(x_q) / n + sb2, to nngp and its parameter gradients' inner products to ntk
 * (both MC_P x MC_P). */
static void one_net(grng *r, const double *X, double sw2, double sb2, double *nngp, double *ntk)
{
    enum { L = MC_DEPTH + 1 };
    size_t nin[L + 1] = {MC_D};
    for (int l = 1; l <= MC_DEPTH; l++)
        nin[l] = MC_N;
    nin[L] = 1;
    static double h[L + 1][MC_P][MC_N], z[L + 1][MC_P][MC_N], delta[L + 1][MC_P][MC_N];
    double *W[L + 1] = {0};
    double sw = sqrt(sw2), sb = sqrt(sb2);
    for (int p = 0; p < MC_P; p++)
        memcpy(h[0][p], X + p * MC_D, MC_D * sizeof(double));
    for (int l = 1; l <= L; l++) { /* forward */
        size_t ni = nin[l - 1], no = nin[l];
        W[l] = malloc(no * ni * sizeof(double));
        double bias[MC_N];
        for (size_t t = 0; t < no * ni; t++)
            W[l][t] = gauss(r);
        for (size_t o = 0; o < no; o++)
            bias[o] = gauss(r);
        for (int p = 0; p < MC_P; p++)
            for (size_t o = 0; o < no; o++) {
                double s = 0;
                for (size_t i = 0; i < ni; i++)
                    s += W[l][o * ni + i] * h[l - 1][p][i];
                z[l][p][o] = sw / sqrt((double)ni) * s + sb * bias[o];
                h[l][p][o] = z[l][p][o] > 0 ? z[l][p][o] : 0;
            }
    }
    for (int p = 0; p < MC_P; p++) { /* backward: delta^l = df/dz^l */
        delta[L][p][0] = 1;
        for (int l = L; l > 1; l--) {
            size_t ni = nin[l - 1], no = nin[l];
            for (size_t i = 0; i < ni; i++) {
                double s = 0;
                for (size_t o = 0; o < no; o++)
                    s += W[l][o * ni + i] * delta[l][p][o];
                delta[l - 1][p][i] = z[l - 1][p][i] > 0 ? sw / sqrt((double)ni) * s : 0;
            }
        }
    }
    for (int p = 0; p < MC_P; p++)
        for (int q = 0; q < MC_P; q++) {
            double t = 0, last = 0;
            for (int l = 1; l <= L; l++) {
                /* df/dW^l_oi = delta_o sw/sqrt(n_i) h_i, df/db^l_o = sb delta_o */
                double dd = 0, hh = 0;
                for (size_t o = 0; o < nin[l]; o++)
                    dd += delta[l][p][o] * delta[l][q][o];
                for (size_t i = 0; i < nin[l - 1]; i++)
                    hh += h[l - 1][p][i] * h[l - 1][q][i];
                t += dd * (sw2 / (double)nin[l - 1] * hh + sb2);
                last = sw2 / (double)nin[l - 1] * hh + sb2;
            }
            nngp[p * MC_P + q] += last;
            ntk[p * MC_P + q] += t;
        }
    for (int l = 1; l <= L; l++)
        free(W[l]);
}

Test(dotk, depth3_monte_carlo, .timeout = 120)
{
    /* three inputs at angles of about 0, 60 and 100 degrees */
    double X[MC_P * MC_D];
    grng r = {0};
    km_rng_seed(&r.r, 42);
    for (int t = 0; t < MC_D; t++) {
        X[t] = gauss(&r);
        X[MC_D + t] = 0.5 * X[t] + 0.9 * gauss(&r);
        X[2 * MC_D + t] = -0.3 * X[t] + gauss(&r);
    }
    double nngp[MC_P * MC_P] = {0}, ntk[MC_P * MC_P] = {0}, sw2 = 2.0, sb2 = 0.1;
    for (int s = 0; s < MC_NETS; s++)
        one_net(&r, X, sw2, sb2, nngp, ntk);
    float Xf[MC_P * MC_D], n2[MC_P], K[MC_P * MC_P];
    for (int t = 0; t < MC_P * MC_D; t++)
        Xf[t] = (float)X[t];
    km_row_sqnorms(Xf, MC_P, MC_D, n2);
    for (int type = KM_KERNEL_NTK; type <= KM_KERNEL_NNGP; type++) {
        km_kernel k = {type, 0, MC_DEPTH, sw2, sb2};
        km_kernel_tile(&k, Xf, MC_P, n2, Xf, MC_P, n2, MC_D, K, MC_P);
        const double *mc = type == KM_KERNEL_NTK ? ntk : nngp;
        for (int i = 0; i < MC_P * MC_P; i++) {
            double e = fabs(mc[i] / MC_NETS - K[i]) / K[i];
            cr_expect(e < 0.02, "%s entry %d: Monte Carlo %g, analytic %g (%.3g relative)",
                      km_kernel_name(type), i, mc[i] / MC_NETS, (double)K[i], e);
        }
    }
}
