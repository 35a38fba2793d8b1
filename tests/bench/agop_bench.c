/* agop_bench.c - driver for tests/bench/rfm.sh: the AGOP pass (km_agop)
 * against plain cblas_sgemm in the same process. Prints the sgemm rate
 * (one n x n x d product on every thread, best of 3), the AGOP pass's
 * rate counted as kmill-algorithms(7), AGOP AND THE RFM does, b n d (2 + 2c) flops for the products
 * plus c m d^2 for the SYRKs, and their ratio.
 * Usage: agop_bench N D C M [THREADS] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kmill/agop.h"
#include "kmill/blas.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: agop_bench N D C M [THREADS]\n");
        return 2;
    }
    size_t n = strtoul(argv[1], 0, 10), d = strtoul(argv[2], 0, 10), c = strtoul(argv[3], 0, 10),
           m = strtoul(argv[4], 0, 10);
    int threads = argc > 5 ? atoi(argv[5]) : 2;
    float *X = malloc(n * d * sizeof *X), *A = malloc(n * c * sizeof *A);
    double *G = malloc(d * d * sizeof *G);
    uint64_t *self = malloc(m * sizeof *self);
    srand(1);
    for (size_t i = 0; i < n * d; i++)
        X[i] = (float)rand() / RAND_MAX;
    for (size_t i = 0; i < n * c; i++)
        A[i] = (float)rand() / RAND_MAX - 0.5f;
    for (size_t i = 0; i < m; i++)
        self[i] = i * (n / m);
    float *B = malloc(m * d * sizeof *B);
    for (size_t i = 0; i < m; i++)
        for (size_t k = 0; k < d; k++)
            B[i * d + k] = X[self[i] * d + k];

    /* reference: sgemm of the AGOP's main product shape, 4096 x 4096 x d */
    size_t s = 4096;
    float *P = malloc(s * s * sizeof *P), *Q = malloc(s * (c * d) * sizeof *Q),
          *R = malloc(s * (c * d) * sizeof *R);
    for (size_t i = 0; i < s * s; i++)
        P[i] = (float)rand() / RAND_MAX;
    for (size_t i = 0; i < s * c * d; i++)
        Q[i] = (float)rand() / RAND_MAX;
    km_blas_threads(threads);
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s, (int)(c * d), (int)s, 1.0f,
                    P, (int)s, Q, (int)(c * d), 0.0f, R, (int)(c * d));
        double t = now() - t0;
        best = t < best ? t : best;
    }
    double sg = 2.0 * s * s * c * d / best;
    printf("sgemm %zux%zux%zu, %d threads: %.1f GFLOP/s\n", s, c * d, s, threads, sg / 1e9);

    km_ctx ctx;
    km_ctx_init(&ctx, "agop_bench");
    ctx.threads = threads;
    km_pool *pool;
    km_pool_create(&pool, threads - 1, &ctx.err);
    km_kernel k = {KM_KERNEL_LAPLACE, 10.0};
    for (int diag = 0; diag < 2; diag++) {
        km_agop_opts o = {diag, 0, (uint64_t)1 << 30, 0, 0};
        double t0 = now();
        if (km_agop(&ctx, pool, &k, X, n, d, A, c, B, self, m, &o, G)) {
            fprintf(stderr, "%s\n", ctx.err.msg);
            return 1;
        }
        double t = now() - t0;
        double fl = (double)m * n * d * (2 + 2 * c) + (diag ? 0 : (double)c * m * d * d);
        printf("AGOP%s n=%zu d=%zu c=%zu m=%zu: %.2f s, %.1f GFLOP/s, %.2f of sgemm\n",
               diag ? " (diagonal)" : "", n, d, c, m, t, fl / t / 1e9, fl / t / sg);
    }
    km_pool_destroy(pool);
    return 0;
}
