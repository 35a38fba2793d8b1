/* test_sample.c - km_sample_load: a uniform draw through the chunk index,
 * checked against the row numbers the data carry in a column. */
#include "config.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/io.h"
#include "kmill/rowsrc.h"
#include "kmill/sample.h"

#define NR 1000

static char dir[64], dpath[96];
static km_ctx ctx;

static char *dup_str(const char *s)
{
    char *p = malloc(strlen(s) + 1);
    return strcpy(p, s);
}

/* Columns: r (the row number), label (r mod 3; missing when r mod 10 is
 * 0), x (r / 100). Chunks of 64 rows. */
static void setup(void)
{
    strcpy(dir, "/tmp/kmill-sample-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(dpath, sizeof dpath, "%s/d.kmx", dir);
    km_ctx_init(&ctx, "t");
    ctx.verbosity = KM_QUIET;
    km_kmx_wopts o = {1, KMX_SHUFFLE_AUTO, 64, NULL};
    km_kmx_writer *w;
    cr_assert_eq(km_kmx_create(&ctx, dpath, 3, &o, &w), 0, "%s", ctx.err.msg);
    for (int r0 = 0; r0 < NR; r0 += 64) {
        int k = NR - r0 < 64 ? NR - r0 : 64;
        float *b = km_kmx_buffer(w);
        for (int i = 0; i < k; i++) {
            int r = r0 + i;
            b[i * 3] = (float)r;
            b[i * 3 + 1] = r % 10 == 0 ? NAN : (float)(r % 3);
            b[i * 3 + 2] = (float)r / 100.0f;
        }
        cr_assert_eq(km_kmx_put(w, (uint32_t)k), 0, "%s", ctx.err.msg);
    }
    km_schema s = {3, calloc(3, sizeof(km_column))};
    const char *names[] = {"r", "label", "x"};
    for (int j = 0; j < 3; j++)
        s.cols[j].name = dup_str(names[j]);
    km_kmx_source src = {"test", 0, 0, 0};
    cr_assert_eq(km_kmx_finish(w, &s, &src), 0, "%s", ctx.err.msg);
    km_kmx_abort(w);
    km_schema_free(&s);
}

static void teardown(void)
{
    unlink(dpath);
    rmdir(dir);
}

TestSuite(sample, .init = setup, .fini = teardown);

static void load(uint64_t rows, uint64_t seed, double frac, km_sample *s)
{
    km_kmx *d;
    cr_assert_eq(km_kmx_open(&ctx, dpath, KM_IO_PREAD, &d), 0, "%s", ctx.err.msg);
    km_sample_opts o;
    km_sample_defaults(&o);
    o.feat.scale = KM_SCALE_NONE;
    o.rows = rows;
    o.seed = seed;
    o.val_frac = frac;
    cr_assert_eq(km_sample_load(&ctx, NULL, d, &o, s), 0, "%s", ctx.err.msg);
    km_kmx_close(d);
}

/* Each kept row is the dataset's row r, whole: its label r mod 3 and x =
 * r / 100; rows ascend; the unlabelled ones were counted. */
static void check_rows(const float *X, const float *y, size_t n, uint64_t *prev)
{
    for (size_t i = 0; i < n; i++) {
        int r = (int)X[i * 2];
        cr_assert_eq(X[i * 2], (float)r);
        cr_assert(r >= 0 && r < NR && r % 10 != 0, "row %d", r);
        cr_assert(prev == NULL || (uint64_t)r > *prev || i == 0);
        if (prev)
            *prev = (uint64_t)r;
        cr_assert_eq(y[i], (float)(r % 3), "row %d label %g", r, y[i]);
        cr_assert_eq(X[i * 2 + 1], (float)r / 100.0f);
    }
}

Test(sample, draws_distinct_rows_and_counts_the_unlabelled)
{
    km_sample s;
    load(200, 7, 0, &s);
    cr_assert_eq(s.d, 2);
    cr_assert_eq(s.c, 3);
    cr_assert(s.classify);
    cr_assert_eq(s.drawn, 200);
    cr_assert_eq(s.n + s.unlabelled, 200);
    cr_assert(s.unlabelled > 5 && s.unlabelled < 40, "%llu", (unsigned long long)s.unlabelled);
    uint64_t prev = 0;
    check_rows(s.X, s.y, s.n, &prev);
    /* spread over the file, not the first chunks */
    cr_assert(s.X[0] < 100 && s.X[(s.n - 1) * 2] > 900);
    km_sample_free(&s);
}

Test(sample, same_seed_same_rows_other_seed_others)
{
    km_sample a, b, c;
    load(100, 3, 0, &a);
    load(100, 3, 0, &b);
    load(100, 4, 0, &c);
    cr_assert_eq(a.n, b.n);
    cr_assert_eq(memcmp(a.X, b.X, a.n * 2 * sizeof *a.X), 0);
    cr_assert(a.n != c.n || memcmp(a.X, c.X, a.n * 2 * sizeof *a.X) != 0);
    km_sample_free(&a);
    km_sample_free(&b);
    km_sample_free(&c);
}

Test(sample, more_than_the_rows_is_all_of_them)
{
    km_sample s;
    load(5000, 1, 0, &s);
    cr_assert(s.all);
    cr_assert_eq(s.drawn, NR);
    cr_assert_eq(s.n, NR - NR / 10);
    uint64_t prev = 0;
    check_rows(s.X, s.y, s.n, &prev);
    km_sample_free(&s);
}

Test(sample, validation_rows_are_the_hashed_ones)
{
    km_sample s;
    load(0, 11, 0.25, &s);
    uint64_t cut = km_rowsrc_val_cut(0.25);
    cr_assert_eq(s.n + s.nv, NR - NR / 10);
    cr_assert(s.nv > 150 && s.nv < 300, "%zu", s.nv);
    check_rows(s.X, s.y, s.n, NULL);
    check_rows(s.Xv, s.yv, s.nv, NULL);
    for (size_t i = 0; i < s.n; i++)
        cr_assert(!km_rowsrc_is_val(11, cut, (uint64_t)s.X[i * 2]));
    for (size_t i = 0; i < s.nv; i++)
        cr_assert(km_rowsrc_is_val(11, cut, (uint64_t)s.Xv[i * 2]));
    km_sample_free(&s);
}
