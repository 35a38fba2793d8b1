/* entk_bench.c - the empirical NTK Gram (km_entk_gram, class-averaged) of
 * a random network on random rows, timed, with the rows, the parameters
 * and the Gram written as raw little-endian float32 for
 * tests/bench/entk_torch.py to recompute and compare.
 * Usage: entk_bench N D WIDTH DEPTH C THREADS DIR
 * Writes DIR/X.f32 (N x D), DIR/W<l>.f32 and DIR/b<l>.f32 (l = 1..DEPTH+1,
 * W row-major width[l] x width[l-1]), DIR/K.f32 (N x N); prints
 * "kmill_seconds=S" (best of two). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "kmill/entk.h"
#include "kmill/progress.h"
#include "kmill/rng.h"

static void put(const char *dir, const char *name, const float *v, size_t n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f || fwrite(v, sizeof *v, n, f) != n || fclose(f)) {
        perror(p);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: entk_bench N D WIDTH DEPTH C THREADS DIR\n");
        return 2;
    }
    size_t N = strtoul(argv[1], NULL, 10), d = strtoul(argv[2], NULL, 10);
    uint32_t w = (uint32_t)atoi(argv[3]), D = (uint32_t)atoi(argv[4]), c = (uint32_t)atoi(argv[5]);
    const char *dir = argv[7];
    km_ctx ctx;
    km_ctx_init(&ctx, "entk_bench");
    ctx.threads = atoi(argv[6]);
    uint32_t width[66];
    width[0] = (uint32_t)d;
    for (uint32_t l = 1; l <= D; l++)
        width[l] = w;
    width[D + 1] = c;
    km_mlp net;
    if (km_mlp_init(&ctx, &net, D, width, KM_PARAM_NTK, 2, 0.1, 1, 1)) {
        fprintf(stderr, "%s\n", ctx.err.msg);
        return 1;
    }
    float *X = malloc(N * d * sizeof *X), *K = malloc(N * N * sizeof *K);
    km_rng r;
    km_rng_seed(&r, 7);
    for (size_t k = 0; k < N * d; k++) /* uniform, unit variance */
        X[k] = (float)((km_rng_uniform(&r) - 0.5) * sqrt(12.0));
    double best = 1e30;
    for (int rep = 0; rep < 2; rep++) {
        double t0 = km_now();
        if (km_entk_gram(&ctx, &net, X, N, X, N, KM_ENTK_MEAN, NULL, K)) {
            fprintf(stderr, "%s\n", ctx.err.msg);
            return 1;
        }
        double t = km_now() - t0;
        best = t < best ? t : best;
    }
    put(dir, "X.f32", X, N * d);
    for (uint32_t l = 1; l <= D + 1; l++) {
        char name[32];
        snprintf(name, sizeof name, "W%u.f32", l);
        put(dir, name, net.W[l - 1], (size_t)width[l] * width[l - 1]);
        snprintf(name, sizeof name, "b%u.f32", l);
        put(dir, name, net.b[l - 1], width[l]);
    }
    put(dir, "K.f32", K, N * N);
    printf("kmill_seconds=%.3f\n", best);
    km_mlp_free(&net);
    free(X);
    free(K);
    return 0;
}
