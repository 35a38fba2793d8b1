/* test_krr.c - the tile store, the Mahalanobis metric, training and the
 * model file, each against an independent computation: products with the
 * kernel written out in float64 from its definition, the direct solve,
 * M^(1/2) squared, scores before and after a save and reload. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/convert.h"
#include "kmill/krr.h"
#include "kmill/metrics.h"
#include "kmill/train.h"
#include "kmill/model.h"
#include "kmill/rng.h"
#include "kmill/tiles.h"

static float *random_rows(size_t n, size_t d, uint64_t seed)
{
    km_rng r;
    km_rng_seed(&r, seed);
    float *X = malloc(n * d * sizeof *X);
    for (size_t i = 0; i < n * d; i++)
        X[i] = (float)(km_rng_uniform(&r) * 2 - 1) + (float)(i / d % 5);
    return X;
}

static double kdef(int type, double L, const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++)
        s += ((double)a[k] - b[k]) * ((double)a[k] - b[k]);
    return type == KM_KERNEL_LAPLACE ? exp(-sqrt(s) / L) : exp(-s / (2 * L * L));
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* (K + reg I) P from tiles in RAM, spilled and recomputed, against the
 * definition in float64; and the three give the same bits. */
Test(tiles, products_match_definition_in_every_store)
{
    const size_t n = 301, d = 7, c = 3, T = 64;
    float *X = random_rows(n, d, 3), *P = random_rows(n, c, 4);
    float *out[4];
    char dir[] = "/tmp/kmill-tiles-XXXXXX";
    cr_assert(mkdtemp(dir));
    for (int type = 0; type < 2; type++) {
        /* all in RAM; partly spilled; all spilled; all recomputed */
        uint64_t ram[4] = {UINT64_MAX, 5 * T * T * 4, 0, 0};
        int store[4] = {KM_STORE_AUTO, KM_STORE_SPILL, KM_STORE_SPILL, KM_STORE_RECOMPUTE};
        for (int m = 0; m < 4; m++) {
            km_ctx ctx;
            km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET; /* the expected warnings (PCG at its float32 floor) */
            km_pool *pool;
            cr_assert_eq(km_pool_create(&pool, 2, &ctx.err), 0);
            km_tiles_opts o = {{.type = type, .bandwidth = 1.5}, T, ram[m], dir, store[m]};
            km_tiles *t;
            cr_assert_eq(km_tiles_build(&ctx, pool, X, n, d, &o, &t), 0, "%s", ctx.err.msg);
            km_tiles_stats st;
            km_tiles_get_stats(t, &st);
            cr_assert_eq(st.tiles, 15); /* 5 x 5 grid, upper triangle */
            if (m == 1)
                cr_assert(st.in_ram == 5 && st.spilled == 10);
            if (m == 2)
                cr_assert(st.in_ram == 0 && st.spilled == 15);
            cr_assert_eq(count_entries(dir), 0, "the spill file is unlinked at once");
            km_tiles_set_reg(t, 0.25);
            out[m] = malloc(n * c * sizeof(float));
            for (int rep = 0; rep < 2; rep++) /* the second product follows the measurement */
                cr_assert_eq(km_tiles_apply(t, P, out[m], c), 0);
            km_tiles_free(t);
            km_pool_destroy(pool);
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < c; j++) {
                double s = 0.25 * P[i * c + j];
                for (size_t k = 0; k < n; k++)
                    s += kdef(type, 1.5, X + i * d, X + k * d, d) * P[k * c + j];
                cr_assert(fabs(out[0][i * c + j] - s) <= 2e-5 * (1 + fabs(s)),
                          "type %d row %zu: %g vs %g", type, i, out[0][i * c + j], s);
            }
        for (int m = 1; m < 4; m++)
            cr_assert_eq(memcmp(out[0], out[m], n * c * sizeof(float)), 0,
                         "store %d gives other bits", m);
        for (int m = 0; m < 4; m++)
            free(out[m]);
    }
    rmdir(dir);
    free(X);
    free(P);
}

Test(tiles, disk_full_while_spilling_is_an_error_and_leaves_nothing)
{
    const size_t n = 300, d = 4;
    float *X = random_rows(n, d, 5);
    char dir[] = "/tmp/kmill-tiles-XXXXXX";
    cr_assert(mkdtemp(dir));
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET; /* the expected warnings (PCG at its float32 floor) */
    ctx.fault_enospc_after = 40000;
    km_tiles_opts o = {{.type = KM_KERNEL_LAPLACE, .bandwidth = 1}, 64, 0, dir, KM_STORE_SPILL};
    km_tiles *t = NULL;
    cr_assert_eq(km_tiles_build(&ctx, NULL, X, n, d, &o, &t), KM_ENOSPC);
    cr_assert_null(t);
    cr_assert(strstr(ctx.err.msg, "spill") && strstr(ctx.err.msg, "No space"), "%s", ctx.err.msg);
    cr_assert_eq(count_entries(dir), 0);
    rmdir(dir);
    free(X);
}

Test(metric, root_squares_back_and_gives_the_mahalanobis_kernel)
{
    const size_t d = 6, n = 20;
    km_rng r;
    km_rng_seed(&r, 9);
    float B[36], M[36], S[36];
    for (size_t i = 0; i < d * d; i++)
        B[i] = (float)(km_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < d; i++) /* M = B B^T, rank 5: one zero eigenvalue */
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t k = 0; k < d - 1; k++)
                s += (double)B[i * d + k] * B[j * d + k];
            M[i * d + j] = (float)s;
        }
    km_err e = {0};
    cr_assert_eq(km_metric_root(M, d, KM_METRIC_FULL, S, &e), 0, "%s", e.msg);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double s = 0;
            for (size_t k = 0; k < d; k++)
                s += (double)S[i * d + k] * S[k * d + j];
            cr_assert(fabs(s - M[i * d + j]) < 1e-5, "(S S)[%zu][%zu] = %g, M = %g", i, j, s,
                      M[i * d + j]);
        }
    float *X = random_rows(n, d, 10), *Xt = malloc(n * d * sizeof *Xt), xn[20], K[400];
    km_metric_rows(X, n, d, S, KM_METRIC_FULL, Xt);
    km_row_sqnorms(Xt, n, d, xn);
    km_kernel k = {.type = KM_KERNEL_GAUSSIAN, .bandwidth = 2};
    km_kernel_tile(&k, Xt, n, xn, Xt, n, xn, d, K, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double q = 0;
            for (size_t a = 0; a < d; a++)
                for (size_t b = 0; b < d; b++)
                    q += ((double)X[i * d + a] - X[j * d + a]) * M[a * d + b] *
                         ((double)X[i * d + b] - X[j * d + b]);
            cr_assert(fabs(K[i * n + j] - exp(-q / 8)) < 1e-4, "%zu %zu", i, j);
        }
    float Md[6] = {1, 0, 4, 0.25f, 2, 9}, Sd[6];
    cr_assert_eq(km_metric_root(Md, d, KM_METRIC_DIAG, Sd, &e), 0);
    cr_assert(Sd[2] == 2 && Sd[3] == 0.5f && Sd[1] == 0);
    Md[4] = -1;
    cr_assert_eq(km_metric_root(Md, d, KM_METRIC_DIAG, Sd, &e), KM_EINVAL);
    free(X);
    free(Xt);
}

/* PCG (preconditioned or not, kernel in RAM or spilled) against the direct
 * solve: coefficients to 1e-4 relative, the same predicted classes. */
Test(krr, pcg_agrees_with_direct)
{
    const size_t n = 500, d = 5, c = 3;
    float *X = random_rows(n, d, 21), *Y = calloc(n * c, sizeof(float));
    for (size_t i = 0; i < n; i++)
        Y[i * c + (i * 7 + (size_t)(X[i * d] > 2)) % c] = 1;
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET; /* the expected warnings (PCG at its float32 floor) */
    ctx.mem_budget = (uint64_t)1 << 30;
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 1, &ctx.err), 0);
    km_krr_opts o;
    km_krr_defaults(&o);
    o.kernel.bandwidth = 2;
    o.reg = 0.05;
    o.tol = 1e-6;
    o.tile = 128;
    float *A0 = malloc(n * c * sizeof(float)), *F0 = malloc(n * c * sizeof(float));
    float *A = malloc(n * c * sizeof(float)), *F = malloc(n * c * sizeof(float));
    km_krr_result r;
    o.solver = KM_SOLVER_DIRECT;
    cr_assert_eq(km_krr_solve(&ctx, pool, X, n, d, Y, c, &o, NULL, A0, F0, &r), 0, "%s", ctx.err.msg);
    cr_assert(r.rel_residual < 1e-5, "%g", r.rel_residual);
    for (int v = 0; v < 3; v++) {
        o.solver = KM_SOLVER_PCG;
        o.precond = v == 1 ? KM_PRECOND_NONE : KM_PRECOND_NYSTROM;
        o.rank = 50;
        if (v == 2) { /* everything beyond the solver's own needs spilled */
            o.store = KM_STORE_SPILL;
            o.tmpdir = "/tmp";
            ctx.mem_budget = KM_MEM_SLACK + KM_MEM_BLAS + 600000; /* a few tiles */
        }
        cr_assert_eq(km_krr_solve(&ctx, pool, X, n, d, Y, c, &o, NULL, A, F, &r), 0, "%s", ctx.err.msg);
        if (v == 2)
            cr_assert_gt(r.tiles.spilled, 0);
        double dd = 0, nn = 0;
        for (size_t i = 0; i < n * c; i++) {
            dd += ((double)A[i] - A0[i]) * ((double)A[i] - A0[i]);
            nn += (double)A0[i] * A0[i];
        }
        cr_assert(sqrt(dd / nn) < 1e-4, "variant %d: relative difference %g after %d iterations", v,
                  sqrt(dd / nn), r.iters);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(km_argmax(F + i * c, c), km_argmax(F0 + i * c, c));
    }
    km_pool_destroy(pool);
    free(X);
    free(Y);
    free(A0);
    free(F0);
    free(A);
    free(F);
}

Test(krr, too_small_budget_states_the_minimum)
{
    const size_t n = 3000, d = 4;
    float *X = random_rows(n, d, 2), *Y = calloc(n, sizeof(float)), *A = malloc(n * sizeof(float));
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET; /* the expected warnings (PCG at its float32 floor) */
    ctx.mem_budget = 40u << 20;
    km_krr_opts o;
    km_krr_defaults(&o);
    o.solver = KM_SOLVER_PCG;
    km_krr_result r;
    cr_assert_eq(km_krr_solve(&ctx, NULL, X, n, d, Y, 1, &o, NULL, A, NULL, &r), KM_ENOMEM);
    cr_assert(strstr(ctx.err.msg, "too small") && strstr(ctx.err.msg, "at least"), "%s",
              ctx.err.msg);
    free(X);
    free(Y);
    free(A);
}

/* Train on a CSV written here, save, reload: the same scores, bit for bit;
 * a flipped byte and a truncation are detected. */
Test(model, save_reload_gives_the_same_predictions)
{
    char dir[] = "/tmp/kmill-model-XXXXXX";
    cr_assert(mkdtemp(dir));
    char csv[128], kmx[128], kmm[128];
    snprintf(csv, sizeof csv, "%s/d.csv", dir);
    snprintf(kmx, sizeof kmx, "%s/d.kmx", dir);
    snprintf(kmm, sizeof kmm, "%s/m.kmm", dir);
    FILE *f = fopen(csv, "w");
    fprintf(f, "a,b,colour,label\n");
    km_rng r;
    km_rng_seed(&r, 4);
    const char *col[3] = {"red", "green", "blue"};
    for (int i = 0; i < 400; i++) {
        double a = km_rng_uniform(&r), b = km_rng_uniform(&r);
        int k = (int)km_rng_below(&r, 3);
        if (i % 50)
            fprintf(f, "%.4f,%.4f,%s,%s\n", a, b, col[k], a + 0.3 * k > 0.8 ? "yes" : "no");
        else /* a missing value, imputed */
            fprintf(f, "%.4f,NA,%s,%s\n", a, col[k], a + 0.3 * k > 0.8 ? "yes" : "no");
    }
    fclose(f);
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET; /* the expected warnings (PCG at its float32 floor) */
    km_convert_opts co = {.input = csv, .output = kmx};
    km_convert_result cres;
    cr_assert_eq(km_convert(&ctx, &co, &cres), 0, "%s", ctx.err.msg);
    km_kmx *d;
    cr_assert_eq(km_kmx_open(&ctx, kmx, 0, &d), 0);
    for (int metric = 0; metric < 2; metric++) {
        km_train_opts o;
        km_train_defaults(&o);
        o.search.solve.kernel.bandwidth = 1;
        float Mdiag[5] = {1, 0.5f, 2, 1, 1};
        if (metric) {
            o.metric = KM_METRIC_DIAG;
            o.M = Mdiag;
        }
        km_model m, m2;
        km_train_result tr;
        cr_assert_eq(km_train(&ctx, NULL, d, &o, &m, &tr), 0, "%s", ctx.err.msg);
        cr_assert_eq(m.c, 2);
        cr_assert_eq(m.d, 5); /* a, b, three colours */
        cr_assert_gt(tr.train_metric, 0.9);
        cr_assert_eq(km_model_save(&ctx, &m, kmm), 0, "%s", ctx.err.msg);
        cr_assert_eq(km_model_load(&ctx, kmm, &m2), 0, "%s", ctx.err.msg);
        float *X = random_rows(50, 5, 8), *s1 = malloc(100 * sizeof(float)),
              *s2 = malloc(100 * sizeof(float));
        cr_assert_eq(km_model_scores(&ctx, NULL, &m, X, 50, 1 << 20, s1), 0);
        cr_assert_eq(km_model_scores(&ctx, NULL, &m2, X, 50, 1 << 20, s2), 0);
        cr_assert_eq(memcmp(s1, s2, 100 * sizeof(float)), 0);
        cr_assert_eq(m2.metric, metric ? KM_METRIC_DIAG : KM_METRIC_NONE);
        cr_assert_str_eq(m2.feat.classes[0], m.feat.classes[0]);
        free(X);
        free(s1);
        free(s2);
        km_model_free(&m);
        km_model_free(&m2);
    }
    km_kmx_close(d);
    /* damage: one flipped byte in the centres, then a truncation */
    FILE *g = fopen(kmm, "r+b");
    fseek(g, 0, SEEK_END);
    long size = ftell(g);
    fseek(g, size - 300, SEEK_SET);
    int ch = fgetc(g);
    fseek(g, size - 300, SEEK_SET);
    fputc(ch ^ 0x10, g);
    fclose(g);
    km_model m3;
    cr_assert_eq(km_model_load(&ctx, kmm, &m3), KM_ECORRUPT);
    cr_assert(strstr(ctx.err.msg, "checksum"), "%s", ctx.err.msg);
    cr_assert_eq(truncate(kmm, size / 2), 0);
    cr_assert_eq(km_model_load(&ctx, kmm, &m3), KM_ECORRUPT);
    cr_assert(strstr(ctx.err.msg, "truncated"), "%s", ctx.err.msg);
    cr_assert_eq(truncate(kmm, 10), 0);
    cr_assert_eq(km_model_load(&ctx, kmm, &m3), KM_EFORMAT);
    unlink(kmm);
    unlink(kmx);
    unlink(csv);
    rmdir(dir);
}
