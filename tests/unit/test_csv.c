/* test_csv.c - the CSV reader: dialect corner cases, and that records split
 * across reads at every possible byte give the same fields as one read;
 * the writers' field quoter, and that the reader gives its fields back. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/csv.h"
#include "kmill/rng.h"

/* Serialise every record as fields joined by '|' and records by '\n'. */
static char *parse_all(const char *text, size_t len, size_t piece, char delim, int *rc_out,
                       km_ctx *ctx)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) { /* writer: `piece` bytes at a time */
        close(fds[0]);
        for (size_t i = 0; i < len; i += piece) {
            size_t n = len - i < piece ? len - i : piece;
            if (write(fds[1], text + i, n) != (ssize_t)n)
                _exit(1);
            if (piece < 16)
                usleep(1);
        }
        _exit(0);
    }
    close(fds[1]);
    km_csv *c;
    km_csv_opts o = {delim, 0, 0, "t.csv"};
    cr_assert_eq(km_csv_open(ctx, fds[0], &o, &c), 0);
    size_t cap = len * 2 + 64, n = 0;
    char *out = malloc(cap);
    km_csv_field *f;
    size_t nf;
    int rc;
    while ((rc = km_csv_next(c, &f, &nf)) == 1) {
        for (size_t k = 0; k < nf; k++) {
            if (n + f[k].len + 8 > cap)
                out = realloc(out, cap *= 2);
            memcpy(out + n, f[k].p, f[k].len);
            n += f[k].len;
            out[n++] = k + 1 < nf ? '|' : '\n';
        }
    }
    out[n] = '\0';
    *rc_out = rc;
    km_csv_close(c);
    close(fds[0]);
    waitpid(pid, NULL, 0);
    return out;
}

static void expect(const char *text, char delim, const char *want)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    int rc;
    char *got = parse_all(text, strlen(text), 1 << 20, delim, &rc, &ctx);
    cr_assert_eq(rc, 0, "error: %s", ctx.err.msg);
    cr_assert_str_eq(got, want, "input [%s]", text);
    free(got);
}

static void expect_error(const char *text, const char *msg)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    int rc;
    free(parse_all(text, strlen(text), 1 << 20, 0, &rc, &ctx));
    cr_assert_lt(rc, 0, "no error for [%s]", text);
    cr_assert_str_eq(ctx.err.msg, msg);
}

Test(csv, dialect)
{
    expect("a,b\n1,2\n", 0, "a|b\n1|2\n");
    expect("a,b\r\n1,2\r\n", 0, "a|b\n1|2\n");
    expect("a,b\r1,2\r", 0, "a|b\n1|2\n");
    expect("a,b\n1,2", 0, "a|b\n1|2\n");                      /* no final newline */
    expect("\xEF\xBB\xBF" "a,b\n", 0, "a|b\n");                /* BOM */
    expect("\"a,1\",\"b\"\"c\"\n", ',', "a,1|b\"c\n");         /* quoting */
    expect("\"x\ny\",z\n", ',', "x\ny|z\n");                   /* newline in quotes */
    expect("\"\",,\n", ',', "||\n");                           /* empty fields */
    expect("a,b,\n", ',', "a|b|\n");                           /* trailing delimiter */
    expect(" a , b \n", ',', " a | b \n");                     /* spaces kept */
    expect("a\n\nb\n", ',', "a\n\nb\n");                       /* blank line = one empty field */
    expect("a;b;c\n1;2;3\n", 0, "a|b|c\n1|2|3\n");
    expect("a\tb\n1\t2\n", 0, "a|b\n1|2\n");
    expect("a|b\n", 0, "a|b\n");
    expect("x,y;z\n1,2;3\n", ';', "x,y|z\n1,2|3\n");
    /* detection prefers the delimiter that splits every line the same way */
    expect("a;b;c\n1,5;2;3\n4;5,5;6\n", 0, "a|b|c\n1,5|2|3\n4|5,5|6\n");
    expect("\"x;y\",b\n1,2\n", 0, "x;y|b\n1|2\n"); /* quoted delimiters do not count */
}

static void expect_quoted(const char *field, size_t n, const char *want, size_t wn)
{
    char out[64];
    cr_assert_leq(KM_CSV_QUOTED_MAX(n), sizeof out);
    size_t k = km_csv_quote(out, field, n);
    cr_assert(k == wn && memcmp(out, want, wn) == 0, "[%.*s] quoted as [%.*s]", (int)n, field,
              (int)k, out);
    cr_assert_leq(k, KM_CSV_QUOTED_MAX(n));
    km_buf b = {0};
    km_buf_raw(&b, "x,", 2);
    km_csv_put_field(&b, field, n);
    cr_assert(b.len == 2 + wn && memcmp(b.p + 2, want, wn) == 0);
    free(b.p);
}

Test(csv, quote_fields)
{
#define Q(f, w) expect_quoted(f, sizeof f - 1, w, sizeof w - 1)
    Q("plain", "plain");
    Q("a b;c\t", "a b;c\t");         /* only , " CR LF call for quotes */
    Q("", "\"\"");                     /* empty: not a missing value */
    Q("a,b", "\"a,b\"");
    Q("say \"hi\"", "\"say \"\"hi\"\"\"");
    Q("\"", "\"\"\"\"");                /* the worst case, 2n + 2 */
    Q("two\nlines", "\"two\nlines\"");
    Q("cr\r", "\"cr\r\"");
    Q("n\0ul", "n\0ul");              /* any bytes */
#undef Q
}

/* What the quoter writes, the reader reads back as the same bytes. */
Test(csv, quote_reads_back)
{
    static const char *fields[] = {"plain", "a,b", "say \"hi\"", "\"\"", "two\r\nlines", ",", " "};
    size_t nf = sizeof fields / sizeof fields[0];
    km_buf b = {0};
    for (size_t k = 0; k < nf; k++) {
        if (k)
            km_buf_raw(&b, ",", 1);
        km_csv_put_field(&b, fields[k], strlen(fields[k]));
    }
    km_buf_raw(&b, "\n", 1);
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_csv_opts o = {',', 0, 0, "t.csv"};
    km_csv *c;
    cr_assert_eq(km_csv_open_mem(&ctx, &o, &c), 0);
    km_csv_reset_mem(c, (char *)b.p, b.len, 1);
    km_csv_field *f;
    size_t n;
    cr_assert_eq(km_csv_next(c, &f, &n), 1, "%s", ctx.err.msg);
    cr_assert_eq(n, nf);
    for (size_t k = 0; k < nf; k++)
        cr_assert(f[k].len == strlen(fields[k]) && memcmp(f[k].p, fields[k], f[k].len) == 0,
                  "field %zu: [%.*s]", k, (int)f[k].len, f[k].p);
    km_csv_close(c);
    free(b.p);
}

Test(csv, errors_name_line_and_field)
{
    expect_error("a,b\n1,\"x\n", "t.csv:2:2: unterminated quoted field");
    expect_error("a,b\n\"x\ny\",\"q\"r\n",
                 "t.csv:3:2: text after the closing quote of a quoted field (use --lazy-quotes to accept it)");
    expect_error("a,b\n1,x\"y\n",
                 "t.csv:2:2: quote inside an unquoted field (quote the field, or use --lazy-quotes)");
    char nul[] = "a,b\n1,2\n3,x\0y\n";
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    int rc;
    free(parse_all(nul, sizeof nul - 1, 1 << 20, 0, &rc, &ctx));
    cr_assert_str_eq(ctx.err.msg, "t.csv:3:2: binary data (NUL byte); is this a CSV file?");
}

/* A NUL byte is refused wherever it stands, with and without
 * --lazy-quotes: after a lazy closing quote it used to enter the field
 * (issue 15, finding 1). */
Test(csv, nul_is_binary_data_everywhere)
{
    static const struct {
        const char *text;
        size_t len;
        int lazy;
        const char *msg;
    } cases[] = {
        {"a\n\"x\"\0yz\n", 10, 1, "t.csv:2:1: binary data (NUL byte); is this a CSV file?"},
        {"a\n\"x\"\0yz\n", 10, 0, "t.csv:2:1: binary data (NUL byte); is this a CSV file?"},
        {"a,b\n1,\"x\"y\0\n", 12, 1, "t.csv:2:2: binary data (NUL byte); is this a CSV file?"},
        {"a,b\n1,x\"y\0z\n", 12, 1, "t.csv:2:2: binary data (NUL byte); is this a CSV file?"},
        {"a,b\n\"x\0\",1\n", 11, 0, "t.csv:2:1: binary data (NUL byte); is this a CSV file?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        km_ctx ctx;
        km_ctx_init(&ctx, "t");
        km_csv_opts o = {',', cases[i].lazy, 0, "t.csv"};
        km_csv *c;
        cr_assert_eq(km_csv_open_mem(&ctx, &o, &c), 0);
        char *buf = malloc(cases[i].len); /* exactly: ASan sees a read past it */
        memcpy(buf, cases[i].text, cases[i].len);
        km_csv_reset_mem(c, buf, cases[i].len, 1);
        km_csv_field *f;
        size_t nf;
        int rc;
        while ((rc = km_csv_next(c, &f, &nf)) == 1)
            ;
        cr_assert_eq(rc, KM_EPARSE, "case %zu: rc %d", i, rc);
        cr_assert_str_eq(ctx.err.msg, cases[i].msg, "case %zu", i);
        km_csv_close(c);
        free(buf);
    }
}

/* Random CSV with every construct, read whole and in tiny pieces. */
Test(csv, split_reads_give_the_same_records, .timeout = 60)
{
    km_rng r;
    km_rng_seed(&r, 42);
    static const char *atoms[] = {"1", "-2.5", "abc", "\"q,q\"", "\"a\"\"b\"", "\"l1\nl2\"",
                                  "\"l1\r\nl2\"", "", "\"\"", "x y"};
    static const char *ends[] = {"\n", "\r\n", "\r"};
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    for (int rec = 0; rec < 400; rec++) {
        int nf = 1 + (int)km_rng_below(&r, 6);
        for (int k = 0; k < nf; k++) {
            const char *a = atoms[km_rng_below(&r, 10)];
            n += (size_t)sprintf(text + n, "%s%s", a, k + 1 < nf ? "," : "");
        }
        n += (size_t)sprintf(text + n, "%s", ends[km_rng_below(&r, 3)]);
    }
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    int rc1, rc2, rc3;
    char *whole = parse_all(text, n, 1 << 20, ',', &rc1, &ctx);
    cr_assert_eq(rc1, 0, "%s", ctx.err.msg);
    char *bytes = parse_all(text, n, 1, ',', &rc2, &ctx);
    cr_assert_eq(rc2, 0, "%s", ctx.err.msg);
    char *odd = parse_all(text, n, 7, ',', &rc3, &ctx);
    cr_assert_eq(rc3, 0, "%s", ctx.err.msg);
    cr_assert_str_eq(bytes, whole);
    cr_assert_str_eq(odd, whole);
    free(whole);
    free(bytes);
    free(odd);
    free(text);
}

/* The rule km_csv_split documents, walked byte by byte: a quote opens a
 * quoted field only at a field's start, "" inside is a quote, and a record
 * ends at an LF or a CR outside quotes (a CR before an LF ends nothing of
 * its own; a CR or quote that is the last byte is undecided unless at_eof).
 * The lines are the LFs and lone CRs before the end. */
static size_t split_ref(const char *p, size_t len, char delim, int at_eof, uint64_t *lines)
{
    size_t last = 0;
    int inq = 0, fstart = 1;
    for (size_t i = 0; i < len; i++) {
        char ch = p[i];
        if (inq) {
            if (ch == '"') {
                if (i + 1 == len && !at_eof)
                    break;
                if (i + 1 < len && p[i + 1] == '"')
                    i++;
                else
                    inq = 0;
            }
        } else if (ch == '"' && fstart) {
            inq = 1;
            fstart = 0;
        } else if (ch == delim || ch == '\n') {
            fstart = 1;
            if (ch == '\n')
                last = i + 1;
        } else if (ch == '\r') {
            if (i + 1 == len && !at_eof)
                break;
            if (i + 1 == len || p[i + 1] != '\n')
                last = i + 1;
            fstart = 1;
        } else {
            fstart = 0;
        }
    }
    if (at_eof)
        last = len;
    uint64_t n = 0;
    for (size_t i = 0; i < last; i++)
        n += p[i] == '\n' || (p[i] == '\r' && (i + 1 == last || p[i + 1] != '\n'));
    *lines = n;
    return last;
}

/* km_csv_split on blocks of quoted fields (with delimiters, doubled
 * quotes, CR, LF and CRLF inside), CRLF, LF and lone CR records, and now
 * and then a stray quote inside an unquoted field, cut at every length
 * around the 64-byte steps of the vector splitter and at random ones,
 * with and without at_eof: the same end and line count as split_ref. */
Test(csv, split_finds_the_record_ends_of_the_state_machine, .timeout = 60)
{
    static const char *atoms[] = {"1", "-2.5", "abc", "\"q,q\"", "\"a\"\"b\"", "\"l1\nl2\"",
                                  "\"l1\r\nl2\"", "", "\"\"", "x y", "\"\r\"", "\"\"\"\"",
                                  "a\"b", "\"a\"b", "\"\n\n\"", "\";\t|\""};
    static const char *ends[] = {"\n", "\r\n", "\r"};
    km_rng r;
    km_rng_seed(&r, 7);
    size_t cap = 1 << 14;
    char *text = malloc(cap);
    uint64_t checked = 0;
    for (int round = 0; round < 60; round++) {
        size_t n = 0;
        /* a third of the rounds without stray quotes, so the vector path
         * decides; the others mostly fall back to the walk */
        int stray = round % 3 == 0;
        char delim = ",;\t|"[round % 4];
        while (n < cap - 256) {
            int nf = 1 + (int)km_rng_below(&r, 6);
            for (int k = 0; k < nf; k++) {
                const char *a = atoms[km_rng_below(&r, stray ? 16 : 12)];
                n += (size_t)sprintf(text + n, "%s", a);
                if (k + 1 < nf)
                    text[n++] = delim;
            }
            n += (size_t)sprintf(text + n, "%s", ends[km_rng_below(&r, 3)]);
        }
        for (size_t len = 0; len <= n; len += len < 300 ? 1 : 1 + km_rng_below(&r, 251))
            for (int eof = 0; eof < 2; eof++) {
                uint64_t lw = 0, lg = 0;
                size_t want = split_ref(text, len, delim, eof, &lw);
                size_t got = km_csv_split(text, len, delim, eof, 0, &lg);
                cr_assert_eq(got, want, "round %d, %zu bytes, at_eof %d: end %zu, want %zu", round,
                             len, eof, got, want);
                cr_assert_eq(lg, lw, "round %d, %zu bytes, at_eof %d: %llu lines, want %llu",
                             round, len, eof, (unsigned long long)lg, (unsigned long long)lw);
                checked++;
            }
    }
    cr_assert_gt(checked, 10000);
    free(text);
}
