/* test_calib.c - temperature scaling (kmill/calib.h): the softmax, the
 * log-loss, and the fitted temperature checked against a brute-force
 * minimum of an independently computed log-loss over a fine grid. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "kmill/calib.h"
#include "kmill/rng.h"

enum { N = 300, C = 3 };

/* Scores like a one-hot regression's: near 1 for a row's class, near 0
 * for the others, with noise; a share of labels flipped, so that the
 * best temperature is inside the range searched. */
static void synth(float *s, float *y, uint64_t seed, double noise, int flip_every)
{
    km_rng r;
    km_rng_seed(&r, seed);
    for (int i = 0; i < N; i++) {
        int k = (int)km_rng_below(&r, C);
        for (int j = 0; j < C; j++)
            s[i * C + j] = (float)((j == k) + noise * (km_rng_uniform(&r) * 2 - 1));
        y[i] = (float)(i % flip_every == 0 ? (k + 1) % C : k);
    }
}

/* The log-loss written out plainly (no shift by the largest score: the
 * scores are below 2 and T >= 0.01 keeps exp finite). */
static double naive_nll(const float *s, const float *y, int n, double T)
{
    double total = 0;
    for (int i = 0; i < n; i++) {
        double z = 0;
        for (int j = 0; j < C; j++)
            z += exp(s[i * C + j] / T);
        total -= log(exp(s[i * C + (int)y[i]] / T) / z);
    }
    return total / n;
}

static void fit_matches_grid(uint64_t seed, double noise, int flip_every)
{
    static float s[N * C], y[N];
    synth(s, y, seed, noise, flip_every);
    double T, nll;
    cr_assert_eq(km_temp_fit(s, y, N, C, &T, &nll), N);
    /* brute force: log T over [log 0.01, log 100] in 10000 steps */
    const int G = 10000;
    double lo = log(0.01), hi = log(100), best = INFINITY, bestu = 0;
    for (int g = 0; g <= G; g++) {
        double u = lo + (hi - lo) * g / G, f = naive_nll(s, y, N, exp(u));
        if (f < best)
            best = f, bestu = u;
    }
    double step = (hi - lo) / G;
    cr_assert(bestu > lo + step && bestu < hi - step, "the minimum is inside the grid");
    cr_assert(fabs(log(T) - bestu) <= step, "T %g, grid minimum at %g", T, exp(bestu));
    cr_assert(nll <= best + 1e-9, "log-loss %.12g at T, %.12g on the grid", nll, best);
    cr_assert(fabs(nll - naive_nll(s, y, N, T)) < 1e-9, "log-loss %.12g, plainly %.12g", nll,
              naive_nll(s, y, N, T));
}

Test(calib, fit_is_the_grid_minimum)
{
    fit_matches_grid(1, 0.3, 7);
    fit_matches_grid(2, 0.6, 4);
    fit_matches_grid(3, 0.1, 20);
}

Test(calib, softmax_sums_to_one_and_keeps_the_order)
{
    const float s[4] = {0.2f, -1.5f, 0.9f, 0.9f};
    float p[4];
    km_softmax(s, 4, 0.25, p);
    double z = exp(0.2 / 0.25) + exp(-1.5 / 0.25) + 2 * exp(0.9 / 0.25);
    cr_assert(fabs(p[0] - exp(0.2 / 0.25) / z) < 1e-7);
    cr_assert(fabs(p[1] - exp(-1.5 / 0.25) / z) < 1e-7);
    cr_assert(fabs(p[2] - exp(0.9 / 0.25) / z) < 1e-7 && p[2] == p[3]);
    /* large scores over a small T: no overflow */
    const float big[2] = {1000, 999};
    km_softmax(big, 2, KM_TEMP_MIN, p);
    cr_assert(p[0] == 1.0f && p[1] >= 0 && p[1] < 1e-30f);
}

/* Unlabelled rows are skipped; a separable set gives the smallest T; no
 * labelled row gives none. */
Test(calib, edges)
{
    float s[3 * C] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, y[3] = {0, NAN, 2};
    size_t used;
    double want = (naive_nll(s, (float[]){0}, 1, 0.5) + naive_nll(s + 6, (float[]){2}, 1, 0.5)) / 2;
    cr_assert(fabs(km_temp_nll(s, y, 3, C, 0.5, &used) - want) < 1e-12 && used == 2);
    double T, nll;
    cr_assert_eq(km_temp_fit(s, y, 3, C, &T, &nll), 2);
    cr_assert(fabs(T - KM_TEMP_MIN) < 1e-5, "separable: T %g", T);
    float none[3] = {NAN, -1, 3};
    cr_assert_eq(km_temp_fit(s, none, 3, C, &T, &nll), 0);
    cr_assert(isnan(T) && isnan(nll));
}
