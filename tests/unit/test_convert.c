/* test_convert.c - km_convert's numbers: whatever path parses a value (the
 * one-pass fast path for plain decimals or the general one), the stored
 * float is the one km_parse_f32 gives, which test_numparse checks against
 * strtof. Also the fast path's refusals: values it must leave alone. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/convert.h"
#include "kmill/kmx.h"
#include "kmill/numparse.h"
#include "kmill/rng.h"

#define MAXCOL 40

/* any: every shape; otherwise only shapes of plain decimals, so that whole
 * records take the fast path */
static void random_number(km_rng *r, char *buf, int any)
{
    static const int plain[] = {1, 2, 6, 7, 8, 9};
    switch (any ? km_rng_below(r, 10) : (uint64_t)plain[km_rng_below(r, 6)]) {
    case 0: /* integers around the 2^24 limit of the exact path */
        sprintf(buf, "%llu", (unsigned long long)(16777216 - 50 + km_rng_below(r, 100)));
        break;
    case 1: /* pixel-like */
        sprintf(buf, "%u", (unsigned)km_rng_below(r, 256));
        break;
    case 2: { /* decimals with 0..12 fraction digits and leading zeros */
        int nf = (int)km_rng_below(r, any ? 13 : 5), nz = (int)km_rng_below(r, 5);
        int n = sprintf(buf, "%s%u.", km_rng_below(r, 2) ? "-" : "", (unsigned)km_rng_below(r, 1000));
        for (int i = 0; i < nz; i++)
            buf[n++] = '0';
        for (int i = 0; i < nf; i++)
            buf[n++] = (char)('0' + km_rng_below(r, 10));
        buf[n] = '\0';
        break;
    }
    case 3: /* 7 significant digits, as %.7g writes them */
        sprintf(buf, "%.7g", (km_rng_uniform(r) - 0.5) * pow(10, (int)km_rng_below(r, 16) - 8));
        break;
    case 4: /* 8 to 11 digit integers */
        sprintf(buf, "%llu", (unsigned long long)(km_rng_below(r, 100000000000ull)));
        break;
    case 5: /* shapes at the edges */ {
        static const char *e[] = {"0", "-0", "0.", ".5", "-.5", "5.", "00012", "0.000",
                                  "1e3", "+4", "16777217", "0.1", "99999999", "1.00000005",
                                  "-16777216", "0.0000000001", "3.4028235e38"};
        strcpy(buf, e[km_rng_below(r, sizeof e / sizeof e[0])]);
        break;
    }
    default: /* plain decimals, exact in the fast path when short */
        if (any)
            sprintf(buf, "%u.%u", (unsigned)km_rng_below(r, 100000), (unsigned)km_rng_below(r, 100000));
        else
            sprintf(buf, "%u.%0*u", (unsigned)km_rng_below(r, 1000), (int)km_rng_below(r, 4) + 1,
                    (unsigned)km_rng_below(r, 10));
    }
}

/* mostly unsigned integers of 1 to 4 digits (int_record512's records),
 * sometimes a shape it must refuse so that fast_record takes the record */
static void random_integer(km_rng *r, char *buf, int any)
{
    static const char *e[] = {"99999", "10000", "-3", "7.5", "+1", "1e2", "12345678"};
    if (any && km_rng_below(r, 50) == 0)
        strcpy(buf, e[km_rng_below(r, sizeof e / sizeof e[0])]);
    else
        sprintf(buf, "%u", (unsigned)km_rng_below(r, (uint64_t)10 << (3 * km_rng_below(r, 4))));
}

/* mostly plain decimals of up to 15 bytes (dec_record512's records): a
 * sign, 1 to 8 digits with leading zeros now and then, a point anywhere or
 * none; sometimes a shape it must leave to fast_record (an exponent, more
 * than 8 significant digits, 11 decimals, 16 bytes, a plus sign) */
static void random_decimal(km_rng *r, char *buf, int any)
{
    static const char *e[] = {"1.5e-05", "-2E+3", "123456789", "0.12345678901", "+1.5",
                              "-0.000000000000001", "16777217", "16777216", "-16777216.",
                              "1677721.7", "0.0000000001", "-.5", "5.", "-0", ".0",
                              "-1234567.0000000", "0.000000000012345", "0.00000000001",
                              "-.000000000005"};
    if (any && km_rng_below(r, 20) == 0) {
        strcpy(buf, e[km_rng_below(r, sizeof e / sizeof e[0])]);
        return;
    }
    int n = 0, k = 1 + (int)km_rng_below(r, 8), pt = (int)km_rng_below(r, (uint64_t)k + 2);
    if (km_rng_below(r, 2))
        buf[n++] = '-';
    for (int z = km_rng_below(r, 4) ? 0 : (int)km_rng_below(r, 6); z > 0; z--)
        buf[n++] = '0';
    for (int i = 0; i < k; i++) {
        if (i == pt)
            buf[n++] = '.';
        buf[n++] = (char)('0' + km_rng_below(r, 10));
    }
    if (pt == k)
        buf[n++] = '.';
    buf[n] = '\0';
}

/* ncol columns, nrows rows from gen (every other row with any shape),
 * converted by the fast paths and by the general path alone; each stored
 * value must equal km_parse_f32's */
static void check_convert(int ncol, uint64_t nrows, void (*gen)(km_rng *, char *, int))
{
    char in[] = "/tmp/kmill-conv-XXXXXX", out[64];
    int fd = mkstemp(in);
    FILE *f = fdopen(fd, "w");
    km_rng r;
    km_rng_seed(&r, 11);
    char (*txt)[40] = malloc(nrows * ncol * sizeof *txt);
    for (int j = 0; j < ncol; j++)
        fprintf(f, "c%d%c", j, j + 1 < ncol ? ',' : '\n');
    for (uint64_t i = 0; i < nrows; i++) {
        for (int j = 0; j < ncol; j++) {
            gen(&r, txt[i * ncol + j], i % 2);
            fprintf(f, "%s%c", txt[i * ncol + j], j + 1 < ncol ? ',' : '\n');
        }
        if (i % 1000 == 999) /* some CRLF records too */
            fseek(f, -1, SEEK_CUR), fprintf(f, "\r\n");
    }
    fclose(f);
    snprintf(out, sizeof out, "%s.kmx", in);
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 1, &ctx.err), 0);
    km_numparse *np;
    km_numparse_init(&np);
    /* the fast paths, then the general path alone (a numeric NA token
     * turns the fast ones off) */
    for (int general = 0; general < 2; general++) {
        km_convert_opts o = {0};
        o.input = in;
        o.output = out;
        o.level = 1;
        o.shuffle = KMX_SHUFFLE_AUTO;
        o.pool = pool;
        if (general)
            o.na_values = KM_DEFAULT_NA ",-987654.5";
        km_convert_result res;
        cr_assert_eq(km_convert(&ctx, &o, &res), 0, "%s", ctx.err.msg);
        cr_assert_eq(res.rows, nrows);
        cr_assert_eq(res.ncategorical, 0);
        km_kmx *d;
        cr_assert_eq(km_kmx_open(&ctx, out, 0, &d), 0, "%s", ctx.err.msg);
        float *rows = malloc(km_kmx_rows_per_chunk(d) * ncol * sizeof *rows);
        uint64_t bad = 0;
        for (uint64_t k = 0; k < km_kmx_nchunks(d); k++) {
            const km_kmx_chunk *e = km_kmx_chunk_info(d, k);
            cr_assert_eq(km_kmx_read_chunk(d, k, rows), 0);
            for (uint32_t i = 0; i < e->nrows; i++)
                for (int j = 0; j < ncol; j++) {
                    const char *t = txt[(e->first_row + i) * ncol + j];
                    float want, got = rows[i * ncol + j];
                    cr_assert_eq(km_parse_f32(np, t, strlen(t), &want), 0, "'%s'", t);
                    if (memcmp(&want, &got, 4) != 0 && bad++ < 5)
                        cr_log_error("'%s': stored %.9g, want %.9g", t, (double)got, (double)want);
                }
        }
        cr_assert_eq(bad, 0, "%llu values differ (%s path)", (unsigned long long)bad,
                     general ? "general" : "fast");
        km_kmx_close(d);
        free(rows);
    }
    km_numparse_free(np);
    km_pool_destroy(pool);
    free(txt);
    unlink(in);
    unlink(out);
}

Test(convert, stored_values_equal_km_parse_f32, .timeout = 60)
{
    check_convert(8, 40000, random_number);
}

/* 1, 3 and 40 columns: records inside one 64-byte window and across
 * several, for the integer records' window arithmetic */
Test(convert, integer_records_equal_km_parse_f32, .timeout = 60)
{
    check_convert(1, 20000, random_integer);
    check_convert(3, 20000, random_integer);
    check_convert(MAXCOL, 20000, random_integer);
}

/* 1, 3, 5, 16, 17 and 40 columns: groups of four fields, a short last
 * group, the lengths' blocks of 16 fields (17: a block of one), and
 * records across several 64-byte windows */
Test(convert, decimal_records_equal_km_parse_f32, .timeout = 60)
{
    check_convert(1, 20000, random_decimal);
    check_convert(3, 20000, random_decimal);
    check_convert(5, 20000, random_decimal);
    check_convert(16, 5000, random_decimal);
    check_convert(17, 5000, random_decimal);
    check_convert(MAXCOL, 20000, random_decimal);
}

/* Text that looks almost like a plain decimal, in one cell of a file of
 * decimals (4 columns: one group of dec_record512's, 9: a short last
 * group): every fast path must refuse it, so it is a bad value of its
 * column (read as missing here) and no other value is. */
Test(convert, near_numbers_are_text, .timeout = 60)
{
    static const char *t[] = {"1.2.3", "1-2", "--1", "-+1", "1.5x", "-", ".", "-.", "1e",
                              "1e+", "0x10", "1 2", "12,5"};
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 1, &ctx.err), 0);
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++)
        for (int ncol = 4; ncol <= 9; ncol += 5) {
            char in[] = "/tmp/kmill-near-XXXXXX", out[64];
            int fd = mkstemp(in);
            FILE *f = fdopen(fd, "w");
            for (int j = 0; j < ncol; j++)
                fprintf(f, "c%d%c", j, j + 1 < ncol ? ',' : '\n');
            for (int i = 0; i < 300; i++)
                for (int j = 0; j < ncol; j++) {
                    if (i == 200 && j == 2)
                        fprintf(f, strchr(t[k], ',') ? "\"%s\"" : "%s", t[k]);
                    else
                        fprintf(f, "%d.%d", i, j);
                    fputc(j + 1 < ncol ? ',' : '\n', f);
                }
            fclose(f);
            snprintf(out, sizeof out, "%s.kmx", in);
            km_convert_opts o = {0};
            o.input = in;
            o.output = out;
            o.level = 1;
            o.pool = pool;
            o.bad_values = KM_BAD_MISSING;
            km_convert_result res;
            cr_assert_eq(km_convert(&ctx, &o, &res), 0, "%s", ctx.err.msg);
            cr_assert_eq(res.rows, 300);
            cr_assert_eq(res.ncategorical, 0);
            cr_assert_eq(res.bad_values, 1, "'%s' read as a number", t[k]);
            unlink(in);
            unlink(out);
        }
    km_pool_destroy(pool);
}

/* Converts in to out with o (input and output set here); the dataset open. */
static km_kmx *convert_open(km_ctx *ctx, km_convert_opts o, const char *in, const char *out)
{
    o.input = in;
    o.output = out;
    km_convert_result res;
    cr_assert_eq(km_convert(ctx, &o, &res), 0, "%s", ctx->err.msg);
    km_kmx *d;
    cr_assert_eq(km_kmx_open(ctx, out, 0, &d), 0, "%s", ctx->err.msg);
    return d;
}

/* Records with text, NA and missing values take the fast paths (text
 * through text_field) unless an NA token reads as a number, which turns
 * them off for the general path. Both must give the same dataset: the same
 * floats bit for bit, the same column types, the same categories in the
 * same order. Column 0 holds ids, some of them numbers; column 3 turns
 * categorical late, after chunks of numbers; the others hold decimals with
 * empty cells, NA, nan and ?. Quoted fields: in the second half every
 * value of column 1, and now and then a number, an id, or an id with a
 * comma or a doubled quote (which only the general path reads). With a column forced categorical and one
 * dropped, records go through fast_record instead of dec_record512. */
Test(convert, fast_paths_equal_general_path_on_text_and_na, .timeout = 60)
{
    static const char *na[] = {"", "NA", "nan", "?", "\"2.5\"", "NaN", "null", "N/A"};
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_pool *pool;
    cr_assert_eq(km_pool_create(&pool, 1, &ctx.err), 0);
    for (int ncol = 6; ncol <= 37; ncol += 31) {
        char in[] = "/tmp/kmill-text-XXXXXX";
        FILE *f = fdopen(mkstemp(in), "w");
        km_rng r;
        km_rng_seed(&r, 5);
        for (int j = 0; j < ncol; j++)
            fprintf(f, "c%d%c", j, j + 1 < ncol ? ',' : '\n');
        for (int i = 0; i < 60000; i++)
            for (int j = 0; j < ncol; j++) {
                char buf[40];
                uint64_t u = km_rng_below(&r, 100);
                if (j == 0)
                    sprintf(buf,
                            u < 10   ? "%u"
                            : u < 12 ? "\"id,%u\""
                            : u < 13 ? "\"i\"\"d%u\""
                            : u < 14 ? "\",id%u\""
                            : u < 20 ? "\"id%u\""
                                     : "id%u",
                            (unsigned)km_rng_below(&r, 300));
                else if (j == 3 && i > 50000 && u < 40) /* (over 1 in 20: categorical) */
                    strcpy(buf, u < 20 ? "x" : "yes");
                else if (u < 8)
                    strcpy(buf, na[u]);
                else
                    random_decimal(&r, buf, 1);
                /* column 1 quoted in the second half: records with quotes */
                fprintf(f, j == 1 && i >= 30000 && !strchr(buf, '"') ? "\"%s\"%c" : "%s%c", buf,
                        j + 1 < ncol ? ',' : '\n');
            }
        fclose(f);
        for (int forced = 0; forced < 2; forced++) {
            km_convert_opts o = {0};
            o.level = 1;
            o.pool = pool;
            o.max_levels = 1u << 20; /* c3's numbers all become categories */
            if (forced) {
                o.categorical = "c2";
                o.drop = "c4";
            }
            char out1[64], out2[64];
            snprintf(out1, sizeof out1, "%s.fast.kmx", in);
            snprintf(out2, sizeof out2, "%s.general.kmx", in);
            km_kmx *a = convert_open(&ctx, o, in, out1);
            o.na_values = KM_DEFAULT_NA ",-987654.5";
            km_kmx *b = convert_open(&ctx, o, in, out2);
            const km_schema *sa = km_kmx_schema(a), *sb = km_kmx_schema(b);
            cr_assert_eq(sa->ncols, (uint32_t)ncol - forced);
            cr_assert_eq(sb->ncols, sa->ncols);
            uint32_t ncat = 0;
            for (uint32_t j = 0; j < sa->ncols; j++) {
                const km_column *x = &sa->cols[j], *y = &sb->cols[j];
                cr_assert_eq(x->type, y->type, "column %u", j);
                cr_assert_eq(x->nlevels, y->nlevels, "column %u", j);
                ncat += x->type == KM_COL_CATEGORICAL;
                for (uint32_t k = 0; k < x->nlevels; k++)
                    cr_assert(x->level_len[k] == y->level_len[k] &&
                                  memcmp(x->levels[k], y->levels[k], x->level_len[k]) == 0,
                              "column %u level %u: '%.*s' and '%.*s'", j, k,
                              (int)x->level_len[k], x->levels[k], (int)y->level_len[k],
                              y->levels[k]);
            }
            cr_assert_eq(ncat, 2u + (uint32_t)forced); /* c0, c3 and the forced c2 */
            cr_assert_eq(km_kmx_rows(a), 60000);
            cr_assert_eq(km_kmx_rows(b), 60000);
            float *ra = malloc(km_kmx_rows_per_chunk(a) * sa->ncols * sizeof *ra);
            float *rb = malloc(km_kmx_rows_per_chunk(b) * sa->ncols * sizeof *rb);
            cr_assert_eq(km_kmx_nchunks(a), km_kmx_nchunks(b));
            for (uint64_t k = 0; k < km_kmx_nchunks(a); k++) {
                uint32_t n = km_kmx_chunk_info(a, k)->nrows;
                cr_assert_eq(km_kmx_read_chunk(a, k, ra), 0);
                cr_assert_eq(km_kmx_read_chunk(b, k, rb), 0);
                for (size_t i = 0; i < (size_t)n * sa->ncols; i++)
                    cr_assert(memcmp(&ra[i], &rb[i], 4) == 0, "chunk %llu value %zu: %g and %g",
                              (unsigned long long)k, i, (double)ra[i], (double)rb[i]);
            }
            free(ra);
            free(rb);
            km_kmx_close(a);
            km_kmx_close(b);
            unlink(out1);
            unlink(out2);
        }
        unlink(in);
    }
    km_pool_destroy(pool);
}

/* The estimate is the -v plan line's total: its defaults are km_convert's
 * (2 workers + 2 blocks of 2 MiB, chunks of about 4 MiB of floats), and
 * each part scales as documented in convert.h. */
Test(convert, estimate_counts_blocks_and_chunk_slots)
{
    uint64_t chunk30 = (uint64_t)(4194304 / 120) * 120; /* 34952 rows of 30 floats */
    cr_assert_eq(km_convert_estimate(30, 1, 0, 0, 0),
                 KM_CONVERT_FIXED + 4 * 3 * ((uint64_t)2 << 20) + 3 * 3 * chunk30);
    cr_assert_eq(km_convert_estimate(30, 1, 4, 2u << 20, 34952),
                 km_convert_estimate(30, 1, 0, 0, 0));
    cr_assert_eq(km_convert_estimate(10, 2, 2, 1000, 100),
                 KM_CONVERT_FIXED + 2 * 3 * 1000 + 4 * 3 * 100 * 40);
    /* more workers than the default's 32 blocks allow */
    cr_assert_eq(km_convert_estimate(1, 100, 0, 1, 1), KM_CONVERT_FIXED + 32 * 3 + 102 * 3 * 4);
}
