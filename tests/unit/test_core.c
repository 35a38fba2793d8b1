/* test_core.c - unit tests of the core: errors, sizes, thread pool, progress, string tables. */
#include <criterion/criterion.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/ctx.h"
#include "kmill/error.h"
#include "kmill/log.h"
#include "kmill/pool.h"
#include "kmill/progress.h"
#include "kmill/size.h"
#include "kmill/strtab.h"

Test(error, seterr_returns_code_and_folds_newlines)
{
    km_err e;
    km_clearerr(&e);
    int rc = km_seterr(&e, KM_EPARSE, "bad %s\nvalue", "x");
    cr_assert_eq(rc, KM_EPARSE);
    cr_assert_eq(e.code, KM_EPARSE);
    cr_assert_str_eq(e.msg, "bad x value");
    cr_assert_str_eq(km_strerror(KM_ECORRUPT), "corrupt file");
}

Test(size, units)
{
    km_err e;
    uint64_t v;
    cr_assert_eq(km_parse_size("0", &v, &e), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(km_parse_size("123", &v, &e), 0);
    cr_assert_eq(v, 123);
    cr_assert_eq(km_parse_size("4G", &v, &e), 0);
    cr_assert_eq(v, 4ull << 30);
    cr_assert_eq(km_parse_size("4GiB", &v, &e), 0);
    cr_assert_eq(v, 4ull << 30);
    cr_assert_eq(km_parse_size("512mb", &v, &e), 0);
    cr_assert_eq(v, 512ull << 20);
    cr_assert_eq(km_parse_size("1.5K", &v, &e), 0);
    cr_assert_eq(v, 1536);
    cr_assert_eq(km_parse_size("2T", &v, &e), 0);
    cr_assert_eq(v, 2ull << 40);
    cr_assert_eq(km_parse_size("10B", &v, &e), 0);
    cr_assert_eq(v, 10);
}

Test(size, percent_of_physical_memory)
{
    km_err e;
    uint64_t v, phys = km_physical_mem();
    cr_assert_gt(phys, 0);
    cr_assert_eq(km_parse_size("50%", &v, &e), 0);
    cr_assert_leq(v > phys / 2 ? v - phys / 2 : phys / 2 - v, 1);
    cr_assert_eq(km_parse_size("101%", &v, &e), KM_EINVAL);
    cr_assert_eq(km_default_mem(), phys / 2);
}

Test(size, rejects_garbage)
{
    km_err e;
    uint64_t v = 7;
    const char *bad[] = {"", "G", "-1G", "4Q", "4GG", "inf", "0x10", "1e3", "4 G B", "nan"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        km_clearerr(&e);
        cr_assert_eq(km_parse_size(bad[i], &v, &e), KM_EINVAL, "accepted '%s'", bad[i]);
        cr_assert(strstr(e.msg, "invalid size") != NULL, "message for '%s': %s", bad[i], e.msg);
    }
    cr_assert_eq(v, 7, "output written on failure");
    cr_assert_eq(km_parse_size("99999999999P", &v, &e), KM_EINVAL);
}

Test(size, format)
{
    char b[32];
    cr_assert_str_eq(km_format_size(312, b, sizeof b), "312 B");
    cr_assert_str_eq(km_format_size(1536, b, sizeof b), "1.50 KiB");
    cr_assert_str_eq(km_format_size(4ull << 30, b, sizeof b), "4.00 GiB");
    cr_assert_str_eq(km_format_size(300ull << 20, b, sizeof b), "300 MiB");
}

struct sum_arg {
    atomic_ullong sum;
    atomic_int seen[1000];
};

static void add_item(void *va, size_t i, int worker)
{
    struct sum_arg *a = va;
    atomic_fetch_add(&a->sum, i);
    atomic_fetch_add(&a->seen[i], 1);
}

Test(pool, every_item_exactly_once)
{
    for (int workers = 0; workers <= 3; workers++) {
        km_pool *p = NULL;
        km_err e;
        cr_assert_eq(km_pool_create(&p, workers, &e), 0);
        cr_assert_eq(km_pool_workers(p), workers);
        struct sum_arg *a = calloc(1, sizeof *a);
        km_pool_run(p, 1000, add_item, a);
        cr_assert_eq(atomic_load(&a->sum), 999ull * 1000 / 2);
        for (int i = 0; i < 1000; i++)
            cr_assert_eq(atomic_load(&a->seen[i]), 1, "item %d ran %d times", i, a->seen[i]);
        free(a);
        km_pool_destroy(p);
    }
}

Test(pool, overlapping_jobs_complete_independently)
{
    km_pool *p;
    km_err e;
    cr_assert_eq(km_pool_create(&p, 2, &e), 0);
    struct sum_arg *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    km_job *ja = km_pool_submit(p, 500, add_item, a);
    km_job *jb = km_pool_submit(p, 1000, add_item, b);
    km_pool_wait(p, jb); /* wait out of order */
    km_pool_wait(p, ja);
    cr_assert_eq(atomic_load(&a->sum), 499ull * 500 / 2);
    cr_assert_eq(atomic_load(&b->sum), 999ull * 1000 / 2);
    km_pool_run(p, 0, add_item, a); /* empty job returns */
    free(a);
    free(b);
    km_pool_destroy(p);
}

static double fake_time;
static double fake_clock(void) { return fake_time; }

/* A context "k" whose messages go to a temporary file. */
static void log_ctx(km_ctx *ctx, int progress)
{
    km_ctx_init(ctx, "k");
    ctx->log = tmpfile();
    ctx->progress = progress;
}

static char *read_all(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *s = calloc(1, (size_t)n + 1);
    rewind(f);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    return s;
}

Test(progress, log_lines_double_their_interval)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "kmill test");
    ctx.log = tmpfile();
    km_progress p;
    km_progress_start(&p, &ctx, "reading", 1000, "rows");
    cr_assert_eq(p.mode, 2, "a file is not a terminal: log-line mode");
    p.clock = fake_clock;
    fake_time = p.t0;
    int lines = 0;
    for (int s = 1; s <= 100; s++) { /* 100 s in 1 s steps */
        fake_time = p.t0 + s;
        km_progress_update(&p, (uint64_t)s * 5);
    }
    km_progress_end(&p);
    char *out = read_all(ctx.log);
    for (char *c = out; *c; c++)
        lines += *c == '\n';
    /* at 10 s, 30 s, 70 s: a doubling schedule */
    cr_assert_eq(lines, 3, "got %d lines:\n%s", lines, out);
    const char *first = "kmill test: reading:   5.0% 50 rows, 5 rows/s, eta 0:03:10\n";
    cr_assert(strncmp(out, first, strlen(first)) == 0, "first line: %s", out);
    cr_assert_null(strchr(out, '\r'));
    free(out);
    fclose(ctx.log);
}

Test(progress, terminal_line_is_rate_limited_and_cleared)
{
    km_ctx ctx;
    log_ctx(&ctx, KM_PROGRESS_ON);
    km_progress p;
    km_progress_start(&p, &ctx, "x", 0, "B");
    p.clock = fake_clock;
    int draws = 0;
    for (int i = 1; i <= 1000; i++) { /* 1000 updates over 1 s */
        fake_time = p.t0 + i / 1000.0;
        km_progress_update(&p, (uint64_t)i << 20);
    }
    km_progress_end(&p);
    char *out = read_all(ctx.log);
    for (char *c = out; *c; c++)
        draws += *c == '\r';
    /* at most 6 draws a second, plus the two '\r' of the clearing sequence */
    cr_assert(draws >= 5 + 2 && draws <= 6 + 2, "draws %d", draws);
    cr_assert_null(strchr(out, '\n'));
    cr_assert(strncmp(out, "\rk: x: 167 MiB, 1000 MiB/s", 26) == 0, "%s", out);
    free(out);
    fclose(ctx.log);
}

Test(progress, stage_detail_and_an_estimated_total)
{
    km_ctx ctx;
    log_ctx(&ctx, KM_PROGRESS_AUTO);
    snprintf(ctx.stage, sizeof ctx.stage, "step 2 of 6");
    km_progress p;
    km_progress_start(&p, &ctx, "solving", 0, "iterations");
    cr_assert_eq(p.mode, 2);
    p.clock = fake_clock;
    fake_time = p.t0 + 10;
    p.total = 40; /* revised: an estimate */
    km_progress_detail(&p, "residual %.2g", 0.01);
    km_progress_update(&p, 10);
    fake_time = p.t0 + 30;
    p.total = 15; /* fell short of what is done: 100%, no ETA */
    km_progress_update(&p, 20);
    km_progress_end(&p);
    char *out = read_all(ctx.log);
    const char *want = "k: step 2 of 6: solving:  25.0% 10 iterations, 1 iterations/s, eta 0:00:30, "
                       "residual 0.01\n"
                       "k: step 2 of 6: solving: 100.0% 20 iterations, 0 iterations/s, residual 0.01\n";
    cr_assert_str_eq(out, want);
    free(out);
    fclose(ctx.log);
}

Test(progress, a_phase_without_count_is_shown_at_once_and_a_message_clears_it)
{
    km_ctx ctx;
    log_ctx(&ctx, KM_PROGRESS_ON);
    km_progress p;
    km_progress_start(&p, &ctx, "direct solve", 0, NULL);
    km_progress_detail(&p, "factorising");
    km_progress_show(&p); /* no rate limit: before a call that blocks */
    km_info(&ctx, "hello");
    km_progress_end(&p); /* the message cleared it: nothing more to clear */
    char *out = read_all(ctx.log);
    char want[400];
    snprintf(want, sizeof want, "\rk: %-70s\r%*s\rk: hello\n", "direct solve: factorising",
             70 + 2 + 1, "");
    cr_assert_str_eq(out, want);
    cr_assert_eq(ctx.progress_cols, 0);
    free(out);
    fclose(ctx.log);
}

Test(progress, quiet_prints_nothing)
{
    km_ctx ctx;
    log_ctx(&ctx, KM_PROGRESS_AUTO);
    ctx.verbosity = KM_QUIET;
    ctx.progress = KM_PROGRESS_ON;
    km_progress p;
    km_progress_start(&p, &ctx, "x", 10, "rows");
    p.clock = fake_clock;
    fake_time = p.t0 + 1000;
    km_progress_update(&p, 5);
    km_progress_end(&p);
    cr_assert_eq(ftell(ctx.log), 0);
    km_warn(&ctx, "hidden");
    cr_assert_eq(ftell(ctx.log), 0);
    fclose(ctx.log);
}

Test(log, levels_and_prefix)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "kmill x");
    ctx.log = tmpfile();
    km_info(&ctx, "one %d", 1);
    km_verbose(&ctx, "hidden");
    km_warn(&ctx, "two");
    ctx.verbosity = KM_VERBOSE;
    km_verbose(&ctx, "three");
    char *out = read_all(ctx.log);
    cr_assert_str_eq(out, "kmill x: one 1\nkmill x: warning: two\nkmill x: three\n");
    free(out);
    fclose(ctx.log);
}

/* Issue 15, finding 4: an empty string interned first (an empty category
 * value first in its column) left the arena NULL, and the table then
 * applied offsets to a null pointer (a UBSan report in the sanitizer
 * build). Every string, the empty one included, lies in the arena. */
Test(strtab, empty_string_first)
{
    km_strtab t = {0};
    uint32_t code = 99;
    cr_assert_eq(km_strtab_intern(&t, "", 0, 10, &code), 0);
    cr_assert_eq(code, 0);
    cr_assert_not_null(t.arena);
    cr_assert_eq(km_strtab_intern(&t, "", 0, 10, &code), 0); /* found again */
    cr_assert_eq(code, 0);
    cr_assert_eq(km_strtab_intern(&t, "a", 1, 10, &code), 0);
    cr_assert_eq(code, 1);
    cr_assert_eq(km_strtab_intern(&t, "", 0, 10, &code), 0);
    cr_assert_eq(code, 0);
    cr_assert_eq(t.len[0], 0);
    cr_assert_eq(memcmp(t.arena + t.off[1], "a", 1), 0);
    km_strtab_clear(&t);
    cr_assert_eq(km_strtab_intern(&t, "", 0, 10, &code), 0);
    cr_assert_eq(code, 0);
    km_strtab_free(&t);
}
