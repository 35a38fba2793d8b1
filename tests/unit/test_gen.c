/* test_gen.c - synthetic datasets (kmill/gen.h): determinism, the prefix
 * property, parallel and chunked output equal to serial rows, and each
 * preset's label against its definition computed here from the row's x
 * (class balance, orthonormal directions, a label that ignores x off the
 * subspace, the lowrank formula, the noise's size). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/gen.h"
#include "kmill/kmx.h"
#include "kmill/numparse.h"

static km_gen_opts opts(int preset, uint32_t d, uint64_t seed)
{
    km_gen_opts o;
    memset(&o, 0, sizeof o);
    o.preset = preset;
    o.cols = d;
    o.seed = seed;
    o.task = KM_GEN_TASK_DEFAULT;
    o.separation = -1;
    o.level = 1;
    return o;
}

static km_gen *make(km_ctx *ctx, km_gen_opts *o)
{
    km_gen *g;
    cr_assert_eq(km_gen_check(o, &ctx->err), 0, "%s", ctx->err.msg);
    cr_assert_eq(km_gen_new(ctx, o, &g), 0, "%s", ctx->err.msg);
    return g;
}

static float *rows_of(km_ctx *ctx, km_gen_opts o, uint64_t n)
{
    km_gen *g = make(ctx, &o);
    float *x = malloc(n * km_gen_ncols(g) * sizeof *x);
    km_gen_rows(g, 0, (uint32_t)n, x);
    km_gen_free(g);
    return x;
}

/* The CSV km_gen_run writes to a memory stream, NUL-terminated. */
static char *run_csv(km_ctx *ctx, km_gen_opts o, uint64_t n, int workers)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, workers, &ctx->err), 0);
    o.rows = n;
    o.stream = f;
    o.pool = pool;
    km_gen_result r;
    cr_assert_eq(km_gen_run(ctx, &o, &r), 0, "%s", ctx->err.msg);
    cr_assert_eq(r.rows, n);
    km_pool_destroy(pool);
    fclose(f);
    return buf;
}

Test(gen, shorter_run_is_prefix_of_longer_and_seeds_differ)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    ctx.progress = KM_PROGRESS_OFF;
    for (int p = 0; p < KM_GEN_NPRESETS; p++) {
        km_gen_opts o = opts(p, 8, 42);
        char *a = run_csv(&ctx, o, 1000, 1), *b = run_csv(&ctx, o, 300, 0);
        cr_assert_eq(strncmp(a, b, strlen(b)), 0, "preset %d: 300 rows not a prefix", p);
        size_t lines = 0;
        for (const char *q = b; *q; q++)
            lines += *q == '\n';
        cr_assert_eq(lines, 301);
        o.seed = 43;
        char *c = run_csv(&ctx, o, 300, 0);
        const char *body_b = strchr(b, '\n') + 1, *body_c = strchr(c, '\n') + 1;
        cr_assert_eq(strncmp(b, c, (size_t)(body_b - b)), 0, "the header depends on the seed");
        cr_assert_neq(strcmp(body_b, body_c), 0, "preset %d: seeds 42 and 43 gave the same rows", p);
        free(a);
        free(b);
        free(c);
    }
}

Test(gen, parallel_csv_equals_serial_rows_formatted)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    ctx.progress = KM_PROGRESS_OFF;
    km_gen_opts o = opts(KM_GEN_SUBSPACE, 5, 3);
    uint64_t n = 20000; /* several blocks and batches */
    float *x = rows_of(&ctx, o, n);
    char *csv = run_csv(&ctx, o, n, 2);
    size_t cap = n * 6 * KM_F32_BUFSZ + 64, len = 0;
    char *want = malloc(cap);
    len += (size_t)sprintf(want, "x0,x1,x2,x3,x4,label\n");
    for (uint64_t i = 0; i < n * 6; i++) {
        len += (size_t)km_format_f32(x[i], want + len);
        want[len++] = i % 6 == 5 ? '\n' : ',';
    }
    want[len] = '\0';
    cr_assert_eq(strcmp(csv, want), 0, "parallel CSV differs from the serial rows");
    free(x);
    free(csv);
    free(want);
}

Test(gen, kmx_in_odd_chunks_equals_rows_made_in_odd_pieces)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    ctx.progress = KM_PROGRESS_OFF;
    char path[] = "/tmp/kmill-gen-XXXXXX.kmx";
    int fd = mkstemps(path, 4);
    close(fd);
    km_gen_opts o = opts(KM_GEN_MIXTURE, 7, 11);
    o.classes = 3;
    uint64_t n = 5000;
    /* serial rows, made in pieces of 37 starting anywhere */
    km_gen *g = make(&ctx, &o);
    float *x = malloc(n * 8 * sizeof *x);
    for (uint64_t i = 0; i < n; i += 37)
        km_gen_rows(g, i, (uint32_t)(n - i < 37 ? n - i : 37), x + i * 8);
    km_gen_free(g);
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 2, &ctx.err), 0);
    o.rows = n;
    o.output = path;
    o.chunk_rows = 97;
    o.pool = pool;
    km_gen_result r;
    cr_assert_eq(km_gen_run(&ctx, &o, &r), 0, "%s", ctx.err.msg);
    km_pool_destroy(pool);
    km_kmx *d;
    cr_assert_eq(km_kmx_open(&ctx, path, 0, &d), 0, "%s", ctx.err.msg);
    cr_assert_eq(km_kmx_rows(d), n);
    cr_assert_str_eq(km_kmx_schema(d)->cols[7].name, "label");
    cr_assert_str_eq(km_kmx_schema(d)->cols[0].name, "x0");
    float *y = malloc(97 * 8 * sizeof *y);
    for (uint64_t k = 0; k < km_kmx_nchunks(d); k++) {
        const km_kmx_chunk *c = km_kmx_chunk_info(d, k);
        cr_assert_eq(km_kmx_read_chunk(d, k, y), 0, "%s", ctx.err.msg);
        cr_assert_eq(memcmp(y, x + c->first_row * 8, (size_t)c->nrows * 8 * sizeof *y), 0,
                     "chunk %llu differs", (unsigned long long)k);
    }
    km_kmx_close(d);
    unlink(path);
    free(x);
    free(y);
}

Test(gen, mixture_classes_balanced_and_means_apart)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    km_gen_opts o = opts(KM_GEN_MIXTURE, 6, 5);
    o.classes = 3;
    o.separation = 4;
    uint64_t n = 30000;
    float *x = rows_of(&ctx, o, n);
    double cnt[3] = {0}, mean[3][6] = {{0}};
    for (uint64_t i = 0; i < n; i++) {
        float c = x[i * 7 + 6];
        cr_assert(c == 0 || c == 1 || c == 2, "class %g", (double)c);
        cnt[(int)c]++;
        for (int j = 0; j < 6; j++)
            mean[(int)c][j] += x[i * 7 + j];
    }
    /* each count within 5 standard deviations of n/3 */
    double sd = sqrt(n * (1.0 / 3) * (2.0 / 3));
    for (int c = 0; c < 3; c++) {
        cr_assert(fabs(cnt[c] - n / 3.0) < 5 * sd, "class %d: %g rows of %llu", c, cnt[c],
                  (unsigned long long)n);
        for (int j = 0; j < 6; j++)
            mean[c][j] /= cnt[c];
    }
    /* the sample means lie S apart, up to sampling error (sd 1/sqrt(10000) a coordinate) */
    for (int a = 0; a < 3; a++)
        for (int b = a + 1; b < 3; b++) {
            double d2 = 0;
            for (int j = 0; j < 6; j++)
                d2 += (mean[a][j] - mean[b][j]) * (mean[a][j] - mean[b][j]);
            cr_assert(fabs(sqrt(d2) - 4) < 0.15, "means %d, %d are %g apart", a, b, sqrt(d2));
        }
    free(x);
}

Test(gen, subspace_directions_orthonormal_and_label_ignores_the_rest)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    km_gen_opts o = opts(KM_GEN_SUBSPACE, 12, 9);
    o.intrinsic = 4;
    o.degree = 3;
    km_gen *g = make(&ctx, &o);
    uint32_t k;
    const double *U = km_gen_directions(g, &k);
    cr_assert_eq(k, 4);
    for (uint32_t a = 0; a < k; a++)
        for (uint32_t b = 0; b < k; b++) {
            double dot = 0;
            for (int j = 0; j < 12; j++)
                dot += U[a * 12 + j] * U[b * 12 + j];
            cr_assert(fabs(dot - (a == b)) < 1e-12, "U^T U [%u][%u] = %g", a, b, dot);
        }
    uint64_t n = 200;
    float *x = malloc(n * 13 * sizeof *x);
    km_gen_rows(g, 0, (uint32_t)n, x);
    int moved = 0;
    for (uint64_t i = 0; i < n; i++) {
        double xi[12], w[12], along[12];
        for (int j = 0; j < 12; j++) {
            xi[j] = x[i * 13 + j];
            w[j] = sin(7.0 * (double)i + j); /* any vector */
        }
        double y = km_gen_target(g, xi);
        cr_assert_eq((float)y, x[i * 13 + 12], "row %llu: label is not the target of x",
                     (unsigned long long)i);
        /* w minus its projection on the subspace: orthogonal to every u */
        for (uint32_t a = 0; a < k; a++) {
            double dot = 0;
            for (int j = 0; j < 12; j++)
                dot += U[a * 12 + j] * w[j];
            for (int j = 0; j < 12; j++)
                w[j] -= dot * U[a * 12 + j];
        }
        for (int j = 0; j < 12; j++) {
            along[j] = xi[j] + 0.5 * U[j];
            xi[j] += 3 * w[j];
        }
        cr_assert(fabs(km_gen_target(g, xi) - y) < 1e-9 * (1 + fabs(y)), "row %llu moved",
                  (unsigned long long)i);
        moved += fabs(km_gen_target(g, along) - y) > 1e-6;
    }
    cr_assert(moved > (int)n / 2, "a step along u0 changed only %d targets of %llu", moved,
              (unsigned long long)n);
    free(x);
    km_gen_free(g);
}

Test(gen, subspace_target_has_mean_0_variance_1_and_classes_split_at_median)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    km_gen_opts o = opts(KM_GEN_SUBSPACE, 10, 2);
    o.intrinsic = 3;
    o.degree = 2;
    uint64_t n = 40000;
    km_gen *g = make(&ctx, &o);
    float *x = malloc(n * 11 * sizeof *x);
    km_gen_rows(g, 0, (uint32_t)n, x);
    double s = 0, ss = 0;
    for (uint64_t i = 0; i < n; i++) {
        s += x[i * 11 + 10];
        ss += (double)x[i * 11 + 10] * x[i * 11 + 10];
    }
    double mean = s / n, var = ss / n - mean * mean;
    cr_assert(fabs(mean) < 0.05, "mean %g", mean);
    cr_assert(fabs(var - 1) < 0.1, "variance %g", var);
    km_gen_free(g);
    o.task = KM_GEN_CLASSIFY;
    float *c = rows_of(&ctx, o, n);
    double ones = 0;
    for (uint64_t i = 0; i < n; i++) {
        cr_assert(c[i * 11 + 10] == 0 || c[i * 11 + 10] == 1);
        ones += c[i * 11 + 10];
        /* the same x as the regression, the label its target thresholded */
        cr_assert_eq(memcmp(c + i * 11, x + i * 11, 10 * sizeof *x), 0);
    }
    cr_assert(fabs(ones / n - 0.5) < 0.02, "class 1 is %g of the rows", ones / n);
    free(x);
    free(c);
}

Test(gen, lowrank_label_is_its_formula)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    km_gen_opts o = opts(KM_GEN_LOWRANK, 7, 1);
    uint64_t n = 500;
    float *x = rows_of(&ctx, o, n), *c;
    o.task = KM_GEN_CLASSIFY;
    c = rows_of(&ctx, o, n);
    int pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        const float *r = x + i * 8;
        double y = r[5] > 0 ? (double)r[0] * r[1] : 0;
        cr_assert_eq(r[7], (float)y, "row %llu", (unsigned long long)i);
        cr_assert_eq(c[i * 8 + 7], y > 0 ? 1.0f : 0.0f, "row %llu", (unsigned long long)i);
        pos += r[5] > 0;
    }
    cr_assert(pos > 200 && pos < 300, "x5 > 0 in %d rows of 500", pos);
    free(x);
    free(c);
}

Test(gen, noise_has_its_size)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    uint64_t n = 40000;
    km_gen_opts o = opts(KM_GEN_LOWRANK, 6, 3);
    float *clean = rows_of(&ctx, o, n);
    o.noise = 0.5;
    float *noisy = rows_of(&ctx, o, n);
    double ss = 0;
    for (uint64_t i = 0; i < n; i++) {
        double e = (double)noisy[i * 7 + 6] - clean[i * 7 + 6];
        ss += e * e;
    }
    cr_assert(fabs(sqrt(ss / n) - 0.5) < 0.01, "noise sd %g", sqrt(ss / n));
    free(clean);
    free(noisy);
    /* classes: a share 0.2 replaced by another class */
    o = opts(KM_GEN_MIXTURE, 4, 3);
    o.classes = 4;
    clean = rows_of(&ctx, o, n);
    o.noise = 0.2;
    noisy = rows_of(&ctx, o, n);
    double flipped = 0;
    for (uint64_t i = 0; i < n; i++) {
        cr_assert_eq(memcmp(clean + i * 5, noisy + i * 5, 4 * sizeof *clean), 0);
        flipped += noisy[i * 5 + 4] != clean[i * 5 + 4];
    }
    cr_assert(fabs(flipped / n - 0.2) < 0.01, "%g of the classes changed", flipped / n);
    free(clean);
    free(noisy);
}

Test(gen, check_refuses_bad_options)
{
    km_err e;
    km_gen_opts o = opts(KM_GEN_LOWRANK, 5, 1);
    cr_assert_eq(km_gen_check(&o, &e), KM_EINVAL);
    cr_assert_str_eq(e.msg, "lowrank needs -d 6 or more (its target reads x5), got 5");
    o = opts(KM_GEN_SUBSPACE, 4, 1);
    o.intrinsic = 5;
    cr_assert_eq(km_gen_check(&o, &e), KM_EINVAL);
    cr_assert_str_eq(e.msg, "--intrinsic 5 is more than the 4 columns (-d)");
    o = opts(KM_GEN_LOWRANK, 0, 1);
    o.classes = 3;
    cr_assert_eq(km_gen_check(&o, &e), KM_EINVAL);
    cr_assert_str_eq(e.msg, "--classes is an option of mixture, not of lowrank");
    o = opts(KM_GEN_MIXTURE, 0, 1);
    o.task = KM_GEN_REGRESS;
    cr_assert_eq(km_gen_check(&o, &e), KM_EINVAL);
    o = opts(KM_GEN_MIXTURE, 0, 1);
    o.noise = 1.5;
    cr_assert_eq(km_gen_check(&o, &e), KM_EINVAL);
    o = opts(KM_GEN_MIXTURE, 0, 1);
    cr_assert_eq(km_gen_check(&o, &e), 0);
    cr_assert_eq(o.cols, 10);
    cr_assert_eq(o.classes, 2);
    cr_assert_eq(o.task, KM_GEN_CLASSIFY);
    cr_assert_str_eq(km_gen_near_preset("subspce"), "subspace");
    cr_assert_eq(km_gen_preset("mixture"), KM_GEN_MIXTURE);
    cr_assert_eq(km_gen_preset("nope"), -1);
}
