/* ntk_gram.c - the analytic NTK Gram matrix against sgemm (run by
 * tests/bench/ntk_gram.sh): N x N over d features, depth D, computed in
 * row strips of S rows (so the output fits in RAM), once through
 * km_kernel_matrix (the tile store's path: a pool of T threads, BLAS at
 * one thread each) and once as the bare product A A^T by cblas_sgemm on T
 * BLAS threads over the same strips. Prints both rates in GFLOP/s of the
 * product (2 N^2 d) and their ratio, each the best of R runs.
 * Usage: ntk_gram N D T [R] */
#include "config.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kmill/blas.h"
#include "kmill/kernel.h"
#include "kmill/pool.h"
#include "kmill/rng.h"

#define DIM 784
#define STRIP 2000

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: ntk_gram N DEPTH THREADS [REPEATS]\n");
        return 2;
    }
    size_t n = (size_t)atol(argv[1]), d = DIM;
    int depth = atoi(argv[2]), threads = atoi(argv[3]), reps = argc > 4 ? atoi(argv[4]) : 2;
    float *X = malloc(n * d * sizeof *X), *xn = malloc(n * sizeof *xn);
    float *K = malloc((size_t)STRIP * n * sizeof *K);
    if (!X || !xn || !K || depth < 1 || depth > KM_KERNEL_MAX_DEPTH || threads < 1)
        return 1;
    km_rng r;
    km_rng_seed(&r, 1);
    for (size_t i = 0; i < n * d; i++) /* pixel-like: many zeros, the rest in [0, 1] */
        X[i] = km_rng_uniform(&r) < 0.5 ? 0.0f : (float)km_rng_uniform(&r);
    km_row_sqnorms(X, n, d, xn);
    km_err e;
    km_pool *pool = NULL;
    if (km_pool_create(&pool, threads - 1, &e))
        return 1;
    km_kernel k = {.type = KM_KERNEL_NTK, .depth = depth, .sw2 = 2, .sb2 = 0.1};
    double flops = 2.0 * (double)n * (double)n * (double)d, best_g = 1e300, best_k = 1e300;
    for (int rep = 0; rep < reps; rep++) {
        km_blas_threads(threads);
        double t0 = now();
        for (size_t r0 = 0; r0 < n; r0 += STRIP) {
            size_t rs = n - r0 < STRIP ? n - r0 : STRIP;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rs, (int)n, (int)d, 1.0f,
                        X + r0 * d, (int)d, X, (int)d, 0.0f, K, (int)n);
        }
        double tg = now() - t0;
        t0 = now();
        for (size_t r0 = 0; r0 < n; r0 += STRIP) {
            size_t rs = n - r0 < STRIP ? n - r0 : STRIP;
            km_kernel_matrix(pool, &k, X + r0 * d, rs, xn + r0, X, n, xn, d, K, n);
        }
        double tk = now() - t0;
        best_g = tg < best_g ? tg : best_g;
        best_k = tk < best_k ? tk : best_k;
    }
    printf("N=%zu d=%zu depth=%d threads=%d\n", n, d, depth, threads);
    printf("sgemm A A^T:          %.2f s, %.1f GFLOP/s\n", best_g, flops / best_g * 1e-9);
    printf("analytic NTK Gram:    %.2f s, %.1f GFLOP/s of the product\n", best_k,
           flops / best_k * 1e-9);
    printf("ratio NTK / sgemm:    %.2f (target >= 0.50)\n", best_g / best_k);
    km_pool_destroy(pool);
    free(X);
    free(xn);
    free(K);
    return 0;
}
