/* test_numparse.c - unit tests of decimal <-> float32 conversion: exact
 * cases, millions of generated strings against glibc strtof, and the
 * shortest round trip of km_format_f32.
 *
 * The reference is strtof in the process locale; this program never calls
 * setlocale, so that is the "C" locale, as in kmill itself. */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/numparse.h"

static km_numparse *np;

static void setup(void)
{
    cr_assert_eq(km_numparse_init(&np), 0);
}

static void teardown(void)
{
    km_numparse_free(np);
}

TestSuite(numparse, .init = setup, .fini = teardown);

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float u2f(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Parse s[0..len) from a heap block of exactly len bytes with no NUL after
 * it, so that under AddressSanitizer any read past len is caught. */
static int parse_exact(const char *s, size_t len, float *out)
{
    char *copy = malloc(len ? len : 1);
    cr_assert_not_null(copy);
    memcpy(copy, s, len);
    int rc = km_parse_f32(np, copy, len, out);
    free(copy);
    return rc;
}

/* ---- exact cases --------------------------------------------------------- */

/* The expected values are C float literals: GCC converts those with MPFR,
 * correctly rounded, which makes them an independent oracle. */
static const struct {
    const char *s;
    float v;
} good[] = {
    {"0", 0.0f},
    {"-0", -0.0f},
    {"+0", 0.0f},
    {"-0.0", -0.0f},
    {"0.000", 0.0f},
    {"0e999999999999999999", 0.0f},
    {"-0e-5", -0.0f},
    {"255", 255.0f},
    {"-3", -3.0f},
    {"+17", 17.0f},
    {"007", 7.0f},
    {"000000000000000000000000000001", 1.0f},
    {"4294967296", 4294967296.0f},
    {"18446744073709551617", 18446744073709551617.0f}, /* 20 digits: w would wrap */
    {"99999999999999999999", 99999999999999999999.0f},
    {"-9999999999999999999.5", -9999999999999999999.5f},
    {"  12.5", 12.5f},
    {"12.5\t", 12.5f},
    {" \t 12.5 \t ", 12.5f},
    {".5", 0.5f},
    {"-.5", -0.5f},
    {"5.", 5.0f},
    {"-5.e1", -50.0f},
    {"1e3", 1000.0f},
    {"1E3", 1000.0f},
    {"1e+3", 1000.0f},
    {"1e-3", 1e-3f},
    {"2.5E-003", 2.5e-3f},
    {"1e0000000000000000000000000000000010", 1e10f},
    {"0.1", 0.1f},
    {"-0.1234567", -0.1234567f},
    {"12.34567", 12.34567f},
    {"0.000001234", 0.000001234f},
    {"12.5000000000000000000000000000", 12.5f},
    {"1000000000000000000000000000000", 1e30f},
    {"123456789012345678901234567890", 123456789012345678901234567890.0f},
    {"0.30000001192092896", 0.30000001192092896f},
    {"16777216", 16777216.0f},
    {"16777217", 16777216.0f},           /* midpoint: to even (down) */
    {"16777219", 16777220.0f},           /* midpoint: to even (up) */
    {"16777217.000000001", 16777218.0f}, /* just above the midpoint */
    {"16777216.999999999", 16777216.0f}, /* just below */
    {"8388608.5", 8388608.0f},           /* midpoint below 2^24, to even */
    {"8388609.5", 8388610.0f},
    {"1.000000059604644775390625", 1.0f}, /* 1 + 2^-24: midpoint, to even */
    {"1.00000005960464477539", 1.0f},     /* a little below it */
    {"1.0000000596046448", 1.00000012f},  /* a little above it */
    {"1.000000178813934326171875", 1.00000024f}, /* 1 + 3*2^-24: to even, up */
    {"1.17549435e-38", FLT_MIN},
    {"3.4028235e38", FLT_MAX},
    {"3.40282356779733661637539395458142568447e38", FLT_MAX}, /* under the overflow threshold */
    {"-3.4028235e38", -FLT_MAX},
    {"1e-45", 0x1p-149f},  /* the smallest subnormal */
    {"1.4e-45", 0x1p-149f},
    {"7.1e-46", 0x1p-149f},
    {"7e-46", 0.0f},       /* below 2^-150: to zero */
    {"7.00649232162408535461864791644958065640130970938257885878534141944895541342930300743319094181060791015625e-46",
     0.0f},                /* exactly 2^-150: tie, to even (zero) */
    {"1e-50", 0.0f},
    {"1e-18446744073709551617", 0.0f}, /* exponents far beyond int64 */
    {"0.0000000000000000000000000000000000000000000000000001e60", 1e8f},
    {"-1e-50", -0.0f},
    {"1.1754942e-38", 0x1.fffffcp-127f}, /* the largest subnormal */
};

Test(numparse, exact_values)
{
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        float v = 12345.0f;
        int rc = parse_exact(good[i].s, strlen(good[i].s), &v);
        cr_assert_eq(rc, 0, "'%s' refused (%d)", good[i].s, rc);
        cr_assert_eq(f2u(v), f2u(good[i].v), "'%s' -> %a, expected %a", good[i].s,
                     (double)v, (double)good[i].v);
    }
}

Test(numparse, rejects)
{
    static const char *const bad[] = {
        "", " ", "\t", ".", "-", "+", "-.", "+.", ".e1", "e5", "1e", "1e+", "1E-",
        "1,5", "1 2", "1. 5", "- 1", "+-1", "--1", "-+1", "1-", "inf", "-inf",
        "INF", "infinity", "nan", "NaN", "-nan", "0x1p3", "0x10", "1.2.3",
        "1e5.5", "1e5e5", "1ee5", "1.5f", "1_000", "\n1", "1\n", "\r1", "1\r",
        "\v1", "1\f", "++1", "1e--5", "e", "E", "0x", "3.5e38", "-3.5e38",
        "1e39", "340282356779733661637539395458142568448", /* exactly the threshold */
        "1e999999999999999999999", "1e18446744073709551617", "1" "00000000000000000000000000000000000000000",
        "\xc2\xa0" "1", "\xef\xbc\x91",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        float v = 12345.0f;
        cr_assert_eq(parse_exact(bad[i], strlen(bad[i]), &v), -1, "accepted '%s'", bad[i]);
        cr_assert_eq(v, 12345.0f, "output written for '%s'", bad[i]);
    }
    /* embedded NUL bytes, which a length-based parser must not stop at */
    static const struct {
        const char *s;
        size_t len;
    } nul[] = {{"\0", 1}, {"1\0", 2}, {"\0" "1", 2}, {"1\0" "2", 3}, {"1 \0", 3}, {"1e\0" "5", 4}};
    for (size_t i = 0; i < sizeof nul / sizeof nul[0]; i++) {
        float v = 12345.0f;
        cr_assert_eq(parse_exact(nul[i].s, nul[i].len, &v), -1, "accepted NUL case %zu", i);
        cr_assert_eq(v, 12345.0f);
    }
}

Test(numparse, reads_only_len_bytes)
{
    float v;
    const char *s = "1234e5";
    cr_assert_eq(km_parse_f32(np, s, 1, &v), 0);
    cr_assert_eq(v, 1.0f);
    cr_assert_eq(km_parse_f32(np, s, 4, &v), 0);
    cr_assert_eq(v, 1234.0f);
    cr_assert_eq(km_parse_f32(np, s, 5, &v), -1, "\"1234e\" is not a number");
    cr_assert_eq(km_parse_f32(np, "7,8", 1, &v), 0);
    cr_assert_eq(v, 7.0f);
    /* a field in the middle of a record, as the CSV reader hands it over */
    const char *rec = "a,-2.5e-1,b";
    cr_assert_eq(km_parse_f32(np, rec + 2, 7, &v), 0);
    cr_assert_eq(v, -0.25f);
}

Test(numparse, context_and_errno)
{
    km_numparse_free(NULL);
    km_numparse *other;
    cr_assert_eq(km_numparse_init(&other), 0);
    float v;
    errno = 0; /* underflow and overflow make strtof set ERANGE */
    cr_assert_eq(km_parse_f32(other, "1e-50", 5, &v), 0);
    cr_assert_eq(km_parse_f32(other, "1e50", 4, &v), -1);
    cr_assert_eq(errno, 0, "errno leaked: %d", errno);
    km_numparse_free(other);
}

Test(numparse, long_numbers_take_the_heap_path)
{
    /* 1 followed by many zeros, then a 1 far to the right: longer than the
     * slow path's stack buffer and with every digit mattering for rounding */
    char s[1200];
    for (int n = 100; n < 1100; n += 77) {
        size_t len = 0;
        s[len++] = '1';
        s[len++] = '.';
        for (int i = 0; i < n; i++)
            s[len++] = i == n - 1 ? '1' : '0';
        s[len] = '\0';
        float v, ref = strtof(s, NULL);
        cr_assert_eq(parse_exact(s, len, &v), 0, "length %zu", len);
        cr_assert_eq(f2u(v), f2u(ref), "length %zu", len);
        /* exactly the midpoint 1 + 2^-24, written out, then a tail of
         * zeros and a final 1: just above the midpoint, so it rounds up */
        len = (size_t)sprintf(s, "1.000000059604644775390625");
        for (int i = 0; i < n; i++)
            s[len++] = i == n - 1 ? '1' : '0';
        s[len] = '\0';
        cr_assert_eq(parse_exact(s, len, &v), 0);
        cr_assert_eq(v, 0x1.000002p0f, "midpoint + 10^-%d read as %a", 26 + n, (double)v);
        s[len - 1] = '0'; /* now exactly the midpoint: to even */
        cr_assert_eq(parse_exact(s, len, &v), 0);
        cr_assert_eq(v, 1.0f);
    }
    /* many leading zeros, and an exponent that cancels a long run of
     * zeros after the point: 0.(998 zeros)5e1000 = 50 */
    float v;
    memset(s, '0', 1000);
    s[1000] = '5';
    cr_assert_eq(parse_exact(s, 1001, &v), 0);
    cr_assert_eq(v, 5.0f);
    size_t len = (size_t)sprintf(s, "0.");
    memset(s + len, '0', 998);
    len += 998;
    len += (size_t)sprintf(s + len, "5e1000");
    cr_assert_eq(parse_exact(s, len, &v), 0);
    cr_assert_eq(v, 50.0f);
}

/* ---- generated strings against strtof ------------------------------------ */

/* splitmix64: a fixed seed makes every run test the same strings */
static uint64_t rnd_state;

static uint64_t rnd(void)
{
    uint64_t z = (rnd_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int below(int n)
{
    return (int)(rnd() % (uint64_t)n);
}

/* n random digits, the first nonzero */
static int random_digits(char *dig, int n)
{
    for (int i = 0; i < n; i++)
        dig[i] = (char)('0' + (i == 0 ? 1 + below(9) : below(10)));
    return n;
}

/* x rounded to prec + 1 significant digits by printf (exact when that is
 * enough digits), as an integer of digits dig (trailing zeros dropped)
 * times 10^*e10. Returns the digit count. */
static int decimal_of(double x, int prec, char *dig, int *e10)
{
    char t[256];
    snprintf(t, sizeof t, "%.*e", prec, x);
    int n = 0;
    const char *q = t;
    for (; *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            dig[n++] = *q;
    int x10 = atoi(q + 1);
    while (n > 1 && dig[n - 1] == '0')
        n--;
    *e10 = x10 - (n - 1);
    return n;
}

/* Write [sign] D * 10^E, D the n digits dig, in a random layout accepted
 * by the grammar: zeros before and after the digits, the point anywhere or
 * absent, an exponent chosen to match ("e"/"E", "+", leading zeros), and
 * plain fixed notation (no exponent) when |E| is moderate. */
static size_t layout(char *out, const char *dig, int n, int E, int neg)
{
    size_t len = 0;
    if (neg)
        out[len++] = '-';
    else if (below(8) == 0)
        out[len++] = '+';
    int a = below(4) == 0 ? below(4) : 0; /* leading zeros */
    int b = below(4) == 0 ? below(4) : 0; /* trailing zeros */
    int i, x;                             /* point position, exponent */
    int fixed = E >= -60 && E <= 60 && below(2);
    if (fixed) { /* x = 0: the point goes after digit a + n + E */
        if (b < E)
            b = E; /* the zeros of an integer */
        if (a < -E - n)
            a = -E - n; /* the zeros of 0.000ddd */
        i = a + n + E;
        x = 0;
    } else {
        i = below(a + n + b + 1);
        x = E - b + (a + n + b - i);
    }
    int L = a + n + b;
    if (i == 0 && below(2))
        out[len++] = '0';
    for (int j = 0; j < L; j++) {
        if (j == i)
            out[len++] = '.';
        out[len++] = j < a || j >= a + n ? '0' : dig[j - a];
    }
    if (i == L && below(4) == 0)
        out[len++] = '.';
    if (x != 0 || below(8) == 0) {
        out[len++] = below(2) ? 'e' : 'E';
        if (x < 0)
            out[len++] = '-';
        else if (below(4) == 0)
            out[len++] = '+';
        if (below(8) == 0)
            out[len++] = '0';
        len += (size_t)sprintf(out + len, "%d", x < 0 ? -x : x);
    }
    out[len] = '\0';
    return len;
}

/* A random positive finite float whose decimal midpoint with its successor
 * is interesting: anywhere, in 1..2^53 (where the midpoints are short
 * enough for the double fast path), near the subnormals, near FLT_MAX. */
static float midpoint_base(void)
{
    uint32_t m = (uint32_t)rnd() & 0x7fffff, ex;
    switch (below(8)) {
    case 4:
    case 5:
        ex = 127 + (uint32_t)below(54);
        break;
    case 6:
        ex = (uint32_t)below(3);
        break;
    case 7:
        ex = 250 + (uint32_t)below(5);
        if (below(4) == 0)
            m = 0x7fffff; /* FLT_MAX: its "successor" is 2^128 */
        break;
    default:
        ex = (uint32_t)below(255);
    }
    return u2f(ex << 23 | m);
}

/* One generated number text into out (NUL-terminated); returns its length. */
static size_t gen_number(char *out)
{
    char dig[200];
    int n, E, neg = below(2);
    switch (below(16)) {
    case 0:
    case 1:
    case 2: { /* integers 0..2^32 */
        uint64_t u = rnd() % ((1ull << 32) + 1);
        if (below(4) == 0)
            u &= 255; /* pixels */
        n = sprintf(dig, "%llu", (unsigned long long)u);
        E = 0;
        break;
    }
    case 3:
    case 4:
    case 5: /* 1-9 significant digits, decimal exponent -45..39 */
        n = random_digits(dig, 1 + below(9));
        E = -45 + below(85) - (n - 1);
        break;
    case 6:
    case 7: /* 7 significant digits, the usual exported feature */
        n = random_digits(dig, 7);
        E = -8 + below(15) - 6;
        break;
    case 8: /* 20-30 digits: beyond the 19 the fast path can hold */
        n = random_digits(dig, 20 + below(11));
        E = -50 + below(91) - (n - 1);
        break;
    case 9:
    case 10:
    case 11: { /* exact float midpoints, nudged, or rounded near them */
        float f = midpoint_base();
        double lo = f, hi = f == FLT_MAX ? 0x1p128 : (double)nextafterf(f, INFINITY);
        double mid = (lo + hi) / 2; /* exact: 25 bits */
        int kind = below(6);
        if (kind >= 4) { /* 8..19 significant digits: close to, not on */
            n = decimal_of(mid, 7 + below(13), dig, &E);
            break;
        }
        n = decimal_of(mid, 120, dig, &E); /* exact: at most 113 digits */
        if (kind == 1 && dig[n - 1] != '9') {
            dig[n - 1]++;
        } else if (kind == 2) {
            dig[n - 1]--; /* never '0' before: trailing zeros were dropped */
        } else if (kind == 3) { /* + 10^-k far beyond the last digit */
            int z = 1 + below(40);
            for (int j = 0; j < z; j++)
                dig[n++] = j == z - 1 ? '1' : '0';
            E -= z;
        }
        break;
    }
    case 12:
    case 13: /* 8-16 digits, moderate exponents: the double fast path */
        n = random_digits(dig, 8 + below(9));
        E = -15 + below(36) - (n - 1);
        break;
    case 14: /* zero, written in many ways */
        dig[0] = '0';
        n = 1;
        E = -50 + below(101);
        break;
    default: { /* a float printed as exporters print it */
        float f = u2f(((uint32_t)(107 + below(40)) << 23) | ((uint32_t)rnd() & 0x7fffff));
        return (size_t)sprintf(out, below(2) ? "%s%.7g" : "%s%.6f", neg ? "-" : "", (double)f);
    }
    }
    return layout(out, dig, n, E, neg);
}

static void check_random(uint64_t seed, long count)
{
    rnd_state = seed;
    char buf[600];
    char first[600] = "";
    long bad = 0, generator_bad = 0;
    float first_ref = 0, first_got = 0;
    int first_rc = 0;
    for (long it = 0; it < count; it++) {
        char *core = buf + 8; /* room for leading blanks */
        size_t len = gen_number(core);
        char *end;
        float ref = strtof(core, &end);
        if (end != core + len) { /* not our grammar: a bug of this test */
            if (!generator_bad++)
                cr_log_error("generated non-number '%s'", core);
            continue;
        }
        char *s = core;
        if (below(16) == 0) { /* blanks around it */
            int pre = below(3), post = below(3);
            for (int j = 0; j < pre; j++)
                *--s = below(2) ? ' ' : '\t';
            for (int j = 0; j < post; j++)
                core[len++] = below(2) ? ' ' : '\t';
            len += (size_t)pre;
        }
        float got = -12345.0f;
        int rc = km_parse_f32(np, s, len, &got);
        int ok = isinf(ref) ? rc == -1 && got == -12345.0f : rc == 0 && f2u(got) == f2u(ref);
        if (!ok && !bad++) {
            snprintf(first, sizeof first, "%.*s", (int)len, s);
            first_ref = ref;
            first_got = got;
            first_rc = rc;
        }
    }
    cr_assert_eq(generator_bad, 0, "%ld generated strings outside the grammar", generator_bad);
    cr_assert_eq(bad, 0, "%ld of %ld differ from strtof; first '%s': rc %d, %a, strtof %a",
                 bad, count, first, first_rc, (double)first_got, (double)first_ref);
}

/* 4 x 500k strings, in four tests so that Criterion can run them in
 * parallel. */
Test(numparse, random_vs_strtof_1) { check_random(1, 500000); }
Test(numparse, random_vs_strtof_2) { check_random(2, 500000); }
Test(numparse, random_vs_strtof_3) { check_random(3, 500000); }
Test(numparse, random_vs_strtof_4) { check_random(4, 500000); }

/* km_numparse_plain: whatever it accepts reads exactly as strtof reads
 * it, and it accepts every plain decimal of up to 7 digits (w < 2^24)
 * with at most 10 after the point, whatever follows the field in the
 * buffer (here more digits, a point, the delimiter or zeros: the reader
 * hands it the 32 bytes after). Everything else is left to km_parse_f32:
 * the generator's exponents, blanks and long digit strings, and the
 * rejects above. */
static size_t gen_plain(char *out)
{
    char *o = out;
    if (below(2))
        *o++ = '-';
    int ni = below(8), nf = below(8);
    if (ni + nf > 7)
        nf = 7 - ni;
    if (ni + nf == 0)
        ni = 1;
    int zeros = ni == 0 ? below(4) : 0; /* leading zeros after the point: up to 10 places */
    for (int j = 0; j < ni; j++)
        *o++ = (char)('0' + below(10));
    if (nf + zeros > 0 || below(8) == 0) {
        *o++ = '.';
        for (int j = 0; j < zeros; j++)
            *o++ = '0';
        for (int j = 0; j < nf; j++)
            *o++ = (char)('0' + below(10));
    }
    return (size_t)(o - out);
}

Test(numparse, plain_vs_strtof)
{
    km_plain_fn plain = km_numparse_plain(np);
    static const char tails[] = "9.,\0";
    char buf[700]; /* gen_number writes up to 600 bytes */
    long accepted = 0;
    rnd_state = 77;
    for (long it = 0; it < 1000000; it++) {
        memset(buf, 0, sizeof buf);
        int kind = below(3);
        size_t len = kind ? gen_plain(buf) : gen_number(buf);
        if (len > 60)
            continue;
        char t = tails[below(4)];
        memset(buf + len, t, 8);
        char save = buf[len];
        buf[len] = 0;
        float ref = strtof(buf, NULL);
        buf[len] = save;
        float got = -12345.0f;
        int ok = plain(buf, len, &got);
        if (ok) {
            accepted++;
            cr_assert_eq(f2u(got), f2u(ref), "'%.*s': %a, strtof %a", (int)len, buf, (double)got,
                         (double)ref);
        } else {
            cr_assert(kind == 0, "plain decimal '%.*s' refused", (int)len, buf);
            cr_assert_eq(got, -12345.0f, "output written for refused '%.*s'", (int)len, buf);
        }
    }
    cr_assert_gt(accepted, 600000, "only %ld accepted", accepted);
    static const char *const bad[] = {"", ".", "-", "-.", "+1", " 1", "1 ", "1e5", "1.2.3",
                                      "1,5", "--1", "12345678901234567", "0.00000000001",
                                      "16777217", "99999999", "nan", "inf", "1-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(buf, 0, sizeof buf);
        memcpy(buf, bad[i], strlen(bad[i]));
        float v = 12345.0f;
        cr_assert_eq(plain(buf, strlen(bad[i]), &v), 0, "accepted '%s'", bad[i]);
        cr_assert_eq(v, 12345.0f);
    }
}

/* ---- formatting ---------------------------------------------------------- */

Test(numparse, format_examples)
{
    static const struct {
        float v;
        const char *s;
    } ex[] = {
        {0.0f, "0"},
        {-0.0f, "-0"},
        {255.0f, "255"},
        {-3.0f, "-3"},
        {1000000.0f, "1000000"},
        {16777215.0f, "16777215"},
        {16777216.0f, "16777216"},
        {1e10f, "1e10"},
        {0.1f, "0.1"},
        {-0.1234567f, "-0.1234567"},
        {12.34567f, "12.34567"},
        {0.3f, "0.3"},
        {0.5f, "0.5"},
        {0.0001f, "0.0001"},
        {0.00001f, "1e-5"},
        {1.5e-7f, "1.5e-7"},
        {123456.7f, "123456.7"},
        {FLT_MAX, "3.4028235e38"},
        {-FLT_MAX, "-3.4028235e38"},
        {FLT_MIN, "1.1754944e-38"},
        {0x1p-149f, "1e-45"},
        {INFINITY, "inf"},
        {-INFINITY, "-inf"},
    };
    for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
        char buf[KM_F32_BUFSZ];
        int n = km_format_f32(ex[i].v, buf);
        cr_assert_str_eq(buf, ex[i].s, "%a printed as '%s'", (double)ex[i].v, buf);
        cr_assert_eq(n, (int)strlen(ex[i].s));
    }
    char buf[KM_F32_BUFSZ] = "junk";
    cr_assert_eq(km_format_f32(NAN, buf), 0);
    cr_assert_str_eq(buf, "");
}

/* Significant digits of a km_format_f32 text (exponent excluded). */
static int sig_digits(const char *s)
{
    int n = 0, started = 0, zeros = 0;
    for (; *s && *s != 'e'; s++) {
        if (*s < '0' || *s > '9')
            continue;
        if (*s == '0') {
            if (started)
                zeros++;
            continue;
        }
        started = 1;
        n += zeros + 1;
        zeros = 0;
    }
    return n;
}

/* Does any decimal with q significant digits read back as v? Its nearest
 * q-digit decimal and the two around it settle this: the rounding interval
 * of v is narrower than the gap between q-digit decimals whenever the
 * nearest one misses it, so any other one inside would have to be a
 * neighbour. */
static int some_q_digit_fits(float v, int q)
{
    char t[64];
    snprintf(t, sizeof t, "%.*e", q - 1, (double)v);
    uint64_t m = 0;
    const char *p = t;
    for (; *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            m = m * 10 + (uint64_t)(*p - '0');
    int x = atoi(p + 1) - (q - 1);
    for (int d = -1; d <= 1; d++) {
        snprintf(t, sizeof t, "%s%llue%d", v < 0 ? "-" : "", (unsigned long long)(m + (uint64_t)d), x);
        if (strtof(t, NULL) == v)
            return 1;
    }
    return 0;
}

static void check_round_trip(float v, int check_shortest)
{
    char buf[KM_F32_BUFSZ + 8];
    memset(buf, 'x', sizeof buf);
    int n = km_format_f32(v, buf);
    cr_assert(n > 0 && n <= 15 && buf[n] == '\0' && (int)strlen(buf) == n,
              "%a: length %d", (double)v, n);
    float back = -1;
    int rc = km_parse_f32(np, buf, (size_t)n, &back);
    cr_assert(rc == 0 && f2u(back) == f2u(v), "%a printed as '%s' reads back as %a (%d)",
              (double)v, buf, (double)back, rc);
    if (!check_shortest)
        return;
    cr_assert_eq(f2u(strtof(buf, NULL)), f2u(v), "'%s': strtof disagrees", buf);
    if (!(fabsf(v) < 0x1p24f && v == truncf(v))) { /* integers are exempt */
        int p = sig_digits(buf);
        for (int q = 1; q < p; q++)
            cr_assert(!some_q_digit_fits(v, q), "%a printed as '%s' but %d digits suffice",
                      (double)v, buf, q);
    }
}

Test(numparse, format_round_trip_random_bits)
{
    rnd_state = 99;
    for (long i = 0; i < 1000000;) {
        uint32_t u = (uint32_t)rnd();
        if (((u >> 23) & 0xff) == 0xff) /* inf or NaN */
            continue;
        check_round_trip(u2f(u), i++ % 64 == 0);
    }
}

Test(numparse, format_shortest_at_powers_of_two)
{
    /* the one place where the rounding interval is lopsided (the gap below
     * 2^k is half the gap above), and the values around them */
    for (uint32_t ex = 0; ex < 255; ex++)
        for (uint32_t m = 0; m < 3; m++) {
            uint32_t u = ex << 23 | (m == 2 ? 0x7fffff : m);
            check_round_trip(u2f(u), 1);
            check_round_trip(-u2f(u), 1);
        }
    /* short decimals, as a CSV round trip would meet them */
    rnd_state = 7;
    for (int i = 0; i < 50000; i++) {
        char t[32];
        snprintf(t, sizeof t, "%de%d", below(20000) - 10000, below(20) - 10);
        check_round_trip(strtof(t, NULL), 1);
    }
}
