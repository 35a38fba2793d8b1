/* test_kmx.c - the dataset file: write/read round trips through both I/O
 * backends and the thread pool, statistics against a direct computation,
 * corruption detection, and sampling. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/rng.h"
#include "data/kmx_format.h"

#define NC 7

static char path[64];

static float *make_data(uint64_t n)
{
    float *x = malloc(n * NC * sizeof *x);
    km_rng r;
    km_rng_seed(&r, 9);
    for (uint64_t i = 0; i < n * NC; i++) {
        double u = km_rng_uniform(&r);
        x[i] = u < 0.05 ? NAN : (float)((u - 0.5) * 1000);
        if (i % NC == 3)
            x[i] = (float)(i % 5); /* quantised column */
    }
    return x;
}

static void write_file(km_ctx *ctx, const float *x, uint64_t n, uint32_t rpc, int shuffle, int workers)
{
    strcpy(path, "/tmp/kmill-test-XXXXXX");
    int fd = mkstemp(path);
    close(fd);
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, workers, &ctx->err), 0);
    km_kmx_wopts o = {3, shuffle, rpc, pool};
    km_kmx_writer *w;
    cr_assert_eq(km_kmx_create(ctx, path, NC, &o, &w), 0, "%s", ctx->err.msg);
    uint64_t done = 0;
    while (done < n) {
        uint32_t k = n - done < rpc ? (uint32_t)(n - done) : rpc;
        memcpy(km_kmx_buffer(w), x + done * NC, (size_t)k * NC * sizeof *x);
        cr_assert_eq(km_kmx_put(w, k), 0, "%s", ctx->err.msg);
        done += k;
    }
    km_schema s = {NC, calloc(NC, sizeof(km_column))};
    for (int j = 0; j < NC; j++) {
        char nm[8];
        snprintf(nm, sizeof nm, "c%d", j);
        s.cols[j].name = strdup(nm);
    }
    km_kmx_source src = {"test", 0, 0, 0};
    cr_assert_eq(km_kmx_finish(w, &s, &src), 0, "%s", ctx->err.msg);
    km_kmx_abort(w);
    km_schema_free(&s);
    km_pool_destroy(pool);
}

static int same_bits(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(a[i] == b[i] || (isnan(a[i]) && isnan(b[i]))) || signbit(a[i]) != signbit(b[i]))
            return 0;
    return 1;
}

/* A pool job that reads a served chunk's rows while decoding runs ahead. */
struct busy {
    const float *rows;
    uint32_t nr;
    double *sums;
};

static void busy_task(void *arg, size_t i, int worker)
{
    (void)worker;
    struct busy *b = arg;
    for (size_t r = i; r < b->nr; r += 64)
        for (int j = 0; j < NC; j++)
            b->sums[i] += isnan(b->rows[r * NC + j]) ? 0 : b->rows[r * NC + j];
}

Test(kmx, round_trip_every_backend_and_filter)
{
    uint64_t n = 10007;
    float *x = make_data(n);
    int shuffles[] = {KMX_SHUFFLE_OFF, KMX_SHUFFLE_ON, KMX_SHUFFLE_AUTO};
    int ios[] = {KM_IO_PREAD, KM_IO_URING};
    for (int si = 0; si < 3; si++) {
        km_ctx ctx;
        km_ctx_init(&ctx, "t");
        write_file(&ctx, x, n, 1000, shuffles[si], si);
        for (int ii = 0; ii < 2; ii++) {
            km_kmx *d;
            int rc = km_kmx_open(&ctx, path, ios[ii], &d);
            if (rc && ios[ii] == KM_IO_URING)
                continue; /* io_uring refused here; the pread pass covers the reader */
            cr_assert_eq(rc, 0, "%s", ctx.err.msg);
            cr_assert_eq(km_kmx_rows(d), n);
            cr_assert_eq(km_kmx_nchunks(d), 11);
            /* statistics equal a direct computation */
            const km_schema *s = km_kmx_schema(d);
            for (int j = 0; j < NC; j++) {
                double mn = INFINITY, mx = -INFINITY, sum = 0;
                uint64_t miss = 0;
                for (uint64_t i = 0; i < n; i++) {
                    float v = x[i * NC + j];
                    if (isnan(v)) { miss++; continue; }
                    mn = fmin(mn, v); mx = fmax(mx, v); sum += v;
                }
                cr_assert_eq(s->cols[j].stats.missing, miss);
                cr_assert_eq(s->cols[j].stats.min, mn);
                cr_assert_eq(s->cols[j].stats.max, mx);
                cr_assert_float_eq(s->cols[j].stats.sum, sum, 1e-6 * fabs(sum) + 1e-9);
            }
            /* random access */
            float *buf = malloc(1000 * NC * sizeof *buf);
            cr_assert_eq(km_kmx_read_chunk(d, 10, buf), 0, "%s", ctx.err.msg);
            cr_assert(same_bits(buf, x + 10000 * NC, 7 * NC));
            cr_assert_eq(km_kmx_read_chunk(d, 3, buf), 0);
            cr_assert(same_bits(buf, x + 3000 * NC, 1000 * NC));
            free(buf);
            /* ordered scans, with a pool and without */
            for (int workers = 0; workers <= 2; workers += 2) {
                km_pool *pool;
                km_pool_create(&pool, workers, &ctx.err);
                km_kmx_scan *sc;
                cr_assert_eq(km_kmx_scan_open(d, pool, NULL, 0, &sc), 0);
                const float *rows;
                uint32_t nr;
                uint64_t first, expect_first = 0;
                while ((rc = km_kmx_scan_next(sc, &rows, &nr, &first)) == 1) {
                    cr_assert_eq(first, expect_first);
                    cr_assert(same_bits(rows, x + first * NC, (size_t)nr * NC), "rows %llu..",
                              (unsigned long long)first);
                    expect_first += nr;
                }
                cr_assert_eq(rc, 0, "%s", ctx.err.msg);
                cr_assert_eq(expect_first, n);
                km_kmx_scan_close(sc);
                /* a chunk list, out of order and repeated */
                uint64_t list[] = {7, 2, 2, 10};
                cr_assert_eq(km_kmx_scan_open(d, pool, list, 4, &sc), 0);
                for (int k = 0; k < 4; k++) {
                    cr_assert_eq(km_kmx_scan_next(sc, &rows, &nr, &first), 1);
                    cr_assert_eq(first, list[k] * 1000);
                    cr_assert(same_bits(rows, x + first * NC, (size_t)nr * NC));
                }
                cr_assert_eq(km_kmx_scan_next(sc, &rows, &nr, &first), 0);
                km_kmx_scan_close(sc);
                /* the caller's own pool jobs between chunks run beside the
                 * decoding ahead; a scan closed midway waits for it */
                cr_assert_eq(km_kmx_scan_open(d, pool, NULL, 0, &sc), 0);
                for (uint64_t k = 0; k < 5; k++) {
                    cr_assert_eq(km_kmx_scan_next(sc, &rows, &nr, &first), 1);
                    cr_assert_eq(first, k * 1000);
                    double sums[64] = {0};
                    struct busy b = {rows, nr, sums};
                    km_pool_run(pool, 64, busy_task, &b);
                    cr_assert(same_bits(rows, x + first * NC, (size_t)nr * NC));
                }
                km_kmx_scan_close(sc);
                km_pool_destroy(pool);
            }
            km_kmx_close(d);
        }
        unlink(path);
    }
    free(x);
}

/* Integer chunks are narrowed to 8 or 16 bits, and only when exact. */
Test(kmx, integer_narrowing_round_trips)
{
    struct { float a, b; int filter; } cases[] = {
        {0, 255, KMX_FILTER_U8},    {-3, 200, KMX_FILTER_I16}, {0, 256, KMX_FILTER_I16},
        {-32768, 32767, KMX_FILTER_I16}, {0, 32768, -1},       {0, 0.5f, -1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint64_t n = 3000;
        float *x = malloc(n * NC * sizeof *x);
        km_rng r;
        km_rng_seed(&r, c);
        for (uint64_t i = 0; i < n * NC; i++)
            x[i] = cases[c].b == 0.5f ? (float)km_rng_below(&r, 10) + 0.5f
                                      : (float)((int64_t)cases[c].a + (int64_t)km_rng_below(&r, (uint64_t)(cases[c].b - cases[c].a) + 1));
        for (uint64_t k = 0; k < 3; k++) { /* both ends in every chunk */
            x[k * 1000 * NC + 5] = cases[c].a;
            x[k * 1000 * NC + 6] = cases[c].b;
        }
        km_ctx ctx;
        km_ctx_init(&ctx, "t");
        write_file(&ctx, x, n, 1000, KMX_SHUFFLE_AUTO, 1);
        km_kmx *d;
        cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0, "%s", ctx.err.msg);
        float *buf = malloc(1000 * NC * sizeof *buf);
        for (uint64_t k = 0; k < 3; k++) {
            int f = km_kmx_chunk_info(d, k)->filter;
            if (cases[c].filter >= 0)
                cr_assert_eq(f, cases[c].filter, "case %zu chunk %llu: filter %d", c, (unsigned long long)k, f);
            else
                cr_assert(f == KMX_FILTER_NONE || f == KMX_FILTER_SHUFFLE, "case %zu: filter %d", c, f);
            cr_assert_eq(km_kmx_read_chunk(d, k, buf), 0, "%s", ctx.err.msg);
            cr_assert(same_bits(buf, x + k * 1000 * NC, 1000 * NC), "case %zu chunk %llu", c, (unsigned long long)k);
        }
        km_kmx_close(d);
        unlink(path);
        free(buf);
        free(x);
    }
    /* -0 is not an integer to narrow: it must come back as -0 */
    float *x = calloc(1000 * NC, sizeof *x);
    x[3] = -0.0f;
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    write_file(&ctx, x, 1000, 1000, KMX_SHUFFLE_OFF, 0);
    km_kmx *d;
    cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0);
    cr_assert_eq(km_kmx_chunk_info(d, 0)->filter, KMX_FILTER_NONE);
    float *buf = malloc(1000 * NC * sizeof *buf);
    cr_assert_eq(km_kmx_read_chunk(d, 0, buf), 0);
    cr_assert(signbit(buf[3]) && buf[3] == 0);
    km_kmx_close(d);
    unlink(path);
    free(buf);
    free(x);
}

Test(kmx, shuffle_matches_its_definition)
{
    km_rng r;
    km_rng_seed(&r, 3);
    for (size_t n = 0; n < 200; n += 7) {
        unsigned char src[800] = {0}, sh[800], back[800];
        for (size_t i = 0; i < 4 * n; i++)
            src[i] = (unsigned char)km_rng_next(&r);
        kmx_shuffle(sh, src, n);
        for (size_t i = 0; i < n; i++)
            for (int b = 0; b < 4; b++)
                cr_assert_eq(sh[(size_t)b * n + i], src[4 * i + (size_t)b], "n=%zu i=%zu b=%d", n, i, b);
        kmx_unshuffle(back, sh, n);
        cr_assert_eq(memcmp(back, src, 4 * n), 0, "n=%zu", n);
    }
}

/* A scan over every chunk of d: 0 at the end, or the first error. */
static int scan_to_end(km_kmx *d)
{
    km_kmx_scan *sc;
    cr_assert_eq(km_kmx_scan_open(d, NULL, NULL, 0, &sc), 0);
    const float *rows;
    uint32_t nr;
    uint64_t first;
    int rc;
    while ((rc = km_kmx_scan_next(sc, &rows, &nr, &first)) == 1)
        ;
    km_kmx_scan_close(sc);
    return rc;
}

Test(kmx, damaged_chunk_is_reported_by_number)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    float *x = make_data(3000);
    write_file(&ctx, x, 3000, 1000, KMX_SHUFFLE_AUTO, 1);
    km_kmx *d;
    cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0);
    uint64_t off = km_kmx_chunk_info(d, 1)->offset + 48 + 5;
    km_kmx_close(d);
    int fd = open(path, O_RDWR);
    unsigned char b;
    cr_assert_eq(pread(fd, &b, 1, (off_t)off), 1);
    b ^= 0x10;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)off), 1);
    close(fd);
    cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0); /* the index is intact */
    float *buf = malloc(1000 * NC * sizeof *buf);
    cr_assert_eq(km_kmx_read_chunk(d, 0, buf), 0);
    cr_assert_eq(km_kmx_read_chunk(d, 1, buf), KM_ECORRUPT);
    char want[128];
    snprintf(want, sizeof want, "%s: chunk 1: checksum mismatch", path);
    cr_assert_str_eq(ctx.err.msg, want);
    int rc = scan_to_end(d);
    cr_assert_eq(rc, KM_ECORRUPT);
    cr_assert_str_eq(ctx.err.msg, want);
    km_kmx_close(d);
    free(buf);
    free(x);
    unlink(path);
}

Test(sample, distinct_sorted_reproducible_uniform)
{
    uint64_t N = 100000;
    for (uint64_t n = 1; n <= N; n *= 7) { /* both algorithms: n*4 < N and >= N */
        uint64_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        cr_assert_eq(km_sample_indices(N, n, 5, a), 0);
        cr_assert_eq(km_sample_indices(N, n, 5, b), 0);
        cr_assert_eq(memcmp(a, b, n * sizeof *a), 0, "not reproducible");
        for (uint64_t i = 0; i < n; i++) {
            cr_assert_lt(a[i], N);
            if (i)
                cr_assert_lt(a[i - 1], a[i], "not sorted and distinct at %llu", (unsigned long long)i);
        }
        free(a);
        free(b);
    }
    /* uniformity: draw 1000 of 10000 many times; each decile gets ~10% */
    uint64_t counts[10] = {0}, *s = malloc(1000 * sizeof *s);
    for (uint64_t seed = 0; seed < 200; seed++) {
        km_sample_indices(10000, 1000, seed, s);
        for (int i = 0; i < 1000; i++)
            counts[s[i] / 1000]++;
    }
    for (int k = 0; k < 10; k++) /* expected 20000, sd ~ 127 */
        cr_assert(counts[k] > 19300 && counts[k] < 20700, "decile %d: %llu", k,
                  (unsigned long long)counts[k]);
    free(s);
    /* the same for Floyd's branch (n*4 < N) */
    memset(counts, 0, sizeof counts);
    s = malloc(100 * sizeof *s);
    for (uint64_t seed = 0; seed < 2000; seed++) {
        km_sample_indices(10000, 100, seed, s);
        for (int i = 0; i < 100; i++)
            counts[s[i] / 1000]++;
    }
    for (int k = 0; k < 10; k++)
        cr_assert(counts[k] > 19300 && counts[k] < 20700, "decile %d: %llu", k,
                  (unsigned long long)counts[k]);
    free(s);
}

/* Issue 15, finding 10: chunks of wide rows hold at least 64 rows, so that
 * their statistics (32 bytes a column) stay an eighth of their values at
 * most; up to 16384 columns the rule is the 4 MiB one as before. */
Test(kmx, default_chunk_rows_by_bytes_and_columns)
{
    cr_assert_eq(km_kmx_default_chunk_rows(2), 524288);
    cr_assert_eq(km_kmx_default_chunk_rows(785), 1335);
    cr_assert_eq(km_kmx_default_chunk_rows(4096), 256);
    cr_assert_eq(km_kmx_default_chunk_rows(16384), 64);
    cr_assert_eq(km_kmx_default_chunk_rows(16385), 64);
    cr_assert_eq(km_kmx_default_chunk_rows(1000000), 64);
    cr_assert_eq(km_kmx_default_chunk_rows(1048576), 64);
    cr_assert_eq(km_kmx_default_chunk_rows(2000000), 33);   /* 256 MiB of values at most */
    cr_assert_eq(km_kmx_default_chunk_rows(67108864), 1);
    cr_assert_eq(km_kmx_default_chunk_rows(67108865), 1);   /* the writer refuses it */
}

/* A file of ncols columns, the first ncat categorical with 3 levels (a, b,
 * c), 600 rows in chunks of 200, values whole (ints: stored as u8, or i16
 * once a negative value is in the chunk) or not, value bad at (row, col). */
static void write_codes(km_ctx *ctx, uint32_t ncols, uint32_t ncat, int ints, uint32_t row,
                        uint32_t col, float bad)
{
    strcpy(path, "/tmp/kmill-test-XXXXXX");
    close(mkstemp(path));
    km_kmx_wopts o = {1, KMX_SHUFFLE_AUTO, 200, NULL};
    km_kmx_writer *w;
    cr_assert_eq(km_kmx_create(ctx, path, ncols, &o, &w), 0, "%s", ctx->err.msg);
    for (uint32_t r0 = 0; r0 < 600; r0 += 200) {
        float *x = km_kmx_buffer(w);
        for (uint32_t r = r0; r < r0 + 200; r++)
            for (uint32_t j = 0; j < ncols; j++)
                x[(r - r0) * ncols + j] = j < ncat ? (float)((r + j) % 3)
                                        : ints ? (float)((r * j) % 200) : (float)r / 7.0f + (float)j;
        if (row >= r0 && row < r0 + 200)
            x[(row - r0) * ncols + col] = bad;
        cr_assert_eq(km_kmx_put(w, 200), 0, "%s", ctx->err.msg);
    }
    km_schema s = {ncols, calloc(ncols, sizeof(km_column))};
    for (uint32_t j = 0; j < ncols; j++) {
        char nm[16];
        snprintf(nm, sizeof nm, "c%u", j);
        s.cols[j].name = strdup(nm);
        if (j >= ncat)
            continue;
        s.cols[j].type = KM_COL_CATEGORICAL;
        s.cols[j].nlevels = 3;
        s.cols[j].levels = calloc(3, sizeof(char *));
        s.cols[j].level_len = calloc(3, sizeof(uint32_t));
        for (int k = 0; k < 3; k++) {
            s.cols[j].levels[k] = strdup((char[]){(char)('a' + k), 0});
            s.cols[j].level_len[k] = 1;
        }
    }
    km_kmx_source src = {"test", 0, 0, 0};
    cr_assert_eq(km_kmx_finish(w, &s, &src), 0, "%s", ctx->err.msg);
    km_kmx_abort(w);
    km_schema_free(&s);
}

/* Issue 15, finding 3: every decoded chunk's categorical values are NaN or
 * codes of their dictionary, whichever way the chunk is stored and checked
 * (many categorical columns: one pass, fused with widening for integer
 * chunks; few: column by column), through read_chunk and scans alike;
 * read_chunk_raw skips the check. */
Test(kmx, category_codes_checked_in_every_decoded_chunk)
{
    struct { uint32_t ncols, ncat; int ints; float bad; const char *want; uint8_t filter; } cs[] = {
        {4, 2, 1, -1, "category code -1 outside its 3 levels", KMX_FILTER_I16},
        {4, 2, 1, 3, "category code 3 outside its 3 levels", KMX_FILTER_U8},
        {4, 2, 0, 1.5f, "category code 1.5 is not a whole number", 255},
        {4, 2, 0, 16777216.0f, "category code 1.67772e+07 outside its 3 levels", 255},
        {40, 2, 1, -1, "category code -1 outside its 3 levels", KMX_FILTER_I16},
        {40, 2, 1, 200, "category code 200 outside its 3 levels", KMX_FILTER_U8},
        {40, 2, 0, -0.5f, "category code -0.5 is not a whole number", 255},
        {40, 2, 0, INFINITY, "category code inf outside its 3 levels", 255},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        km_ctx ctx;
        km_ctx_init(&ctx, "t");
        write_codes(&ctx, cs[i].ncols, cs[i].ncat, cs[i].ints, 437, 1, cs[i].bad);
        km_kmx *d;
        cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0, "%s", ctx.err.msg);
        if (cs[i].filter != 255)
            cr_assert_eq(km_kmx_chunk_info(d, 2)->filter, cs[i].filter, "case %zu", i);
        float *buf = malloc(200 * cs[i].ncols * sizeof *buf);
        cr_assert_eq(km_kmx_read_chunk(d, 1, buf), 0, "case %zu: %s", i, ctx.err.msg);
        char want[256];
        snprintf(want, sizeof want, "%s: chunk 2: row 437, column 'c1': %s", path, cs[i].want);
        cr_assert_eq(km_kmx_read_chunk(d, 2, buf), KM_ECORRUPT, "case %zu", i);
        cr_assert_str_eq(ctx.err.msg, want, "case %zu", i);
        cr_assert_eq(km_kmx_read_chunk_raw(d, 2, buf), 0, "case %zu", i);
        cr_assert_eq(scan_to_end(d), KM_ECORRUPT, "case %zu", i);
        cr_assert_str_eq(ctx.err.msg, want, "case %zu", i);
        km_kmx_close(d);
        free(buf);
        unlink(path);
    }
}

/* ... and valid codes, NaN among them, pass in every layout. */
Test(kmx, valid_codes_and_missing_values_pass)
{
    uint32_t ncols[] = {2, 4, 40}, ncat[] = {2, 2, 2};
    for (int i = 0; i < 3; i++)
        for (int ints = 0; ints < 2; ints++) {
            km_ctx ctx;
            km_ctx_init(&ctx, "t");
            write_codes(&ctx, ncols[i], ncat[i], ints, 100, 0, ints ? 2.0f : NAN);
            km_kmx *d;
            cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0, "%s", ctx.err.msg);
            float *buf = malloc(200 * ncols[i] * sizeof *buf);
            for (uint64_t k = 0; k < 3; k++)
                cr_assert_eq(km_kmx_read_chunk(d, k, buf), 0, "%s", ctx.err.msg);
            km_kmx_close(d);
            free(buf);
            unlink(path);
        }
}

/* A read that fails mid-scan: the chunks before its batch are served, in
 * order, then the error naming the chunk, and again on every later call. */
Test(kmx, read_error_after_the_chunks_before_it)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    float *x = make_data(10007);
    write_file(&ctx, x, 10007, 1000, KMX_SHUFFLE_AUTO, 1);
    for (int workers = 0; workers <= 2; workers++) {
        km_kmx *d;
        cr_assert_eq(km_kmx_open(&ctx, path, KM_IO_PREAD, &d), 0);
        km_kmx_hold(d); /* a spare kept between the scans */
        km_pool *pool;
        km_pool_create(&pool, workers, &ctx.err);
        ctx.fault_reads = 0;
        ctx.fault_read_after = 7; /* the 7th chunk read: chunk 6 */
        ctx.fault_read_kind = KM_FAULT_EIO;
        km_kmx_scan *sc;
        cr_assert_eq(km_kmx_scan_open(d, pool, NULL, 0, &sc), 0);
        const float *rows;
        uint32_t nr;
        uint64_t first, served = 0;
        int rc;
        while ((rc = km_kmx_scan_next(sc, &rows, &nr, &first)) == 1) {
            cr_assert_eq(first, served * 1000, "%d workers: chunk %llu out of order", workers,
                         (unsigned long long)served);
            cr_assert(same_bits(rows, x + first * NC, (size_t)nr * NC));
            served++;
        }
        cr_assert_eq(rc, KM_EIO, "%d workers: %d after %llu chunks", workers, rc,
                     (unsigned long long)served);
        cr_assert(served >= 6 - (uint64_t)(workers + 1) && served <= 6, "%d workers: %llu chunks",
                  workers, (unsigned long long)served);
        char want[128];
        snprintf(want, sizeof want, "%s: chunk 6: read failed: Input/output error", path);
        cr_assert_str_eq(ctx.err.msg, want);
        cr_assert_eq(km_kmx_scan_next(sc, &rows, &nr, &first), KM_EIO);
        km_kmx_scan_close(sc);
        ctx.fault_read_after = 0;
        /* the file's spare serves the next scan, whole */
        cr_assert_eq(km_kmx_scan_open(d, pool, NULL, 0, &sc), 0);
        served = 0;
        while ((rc = km_kmx_scan_next(sc, &rows, &nr, &first)) == 1) {
            cr_assert(same_bits(rows, x + first * NC, (size_t)nr * NC));
            served++;
        }
        cr_assert_eq(rc, 0);
        cr_assert_eq(served, 11);
        km_kmx_scan_close(sc);
        km_kmx_release(d);
        km_pool_destroy(pool);
        km_kmx_close(d);
    }
    unlink(path);
    free(x);
}
