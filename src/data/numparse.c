/* numparse.c - correctly rounded decimal -> float32 parsing with fast
 * paths, and shortest round-trip float32 -> decimal formatting (see
 * kmill/numparse.h for the grammar and why the fast paths are exact).
 *
 * Parsing has three layers: km_parse_f32 itself reads the shapes CSV files
 * are made of ("255", "-0.1234567") with a minimal loop; parse_general
 * reads the whole grammar (blanks, "+", exponents, any length); either
 * hands what the fast paths cannot do exactly to parse_slow (strtof_l).
 * In front of them the CSV importer calls km_numparse_plain's parser for
 * the plainest decimals ("-0.1234567"): SIMD where the CPU has it.
 * Formatting searches for the fewest digits that read back, checking
 * candidates with the same fast paths, so it needs no printf of floats. */
#include "config.h"
#include <errno.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/numparse.h"
#include "data/plain.h"

struct km_numparse {
    locale_t c;        /* the "C" locale, for strtof_l on the slow path */
    km_plain_fn plain; /* km_numparse_plain's answer for this CPU */
};

static km_plain_fn pick_plain(void);

int km_numparse_init(km_numparse **np)
{
    *np = NULL;
    km_numparse *n = malloc(sizeof *n);
    if (!n)
        return KM_ENOMEM;
    n->c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (n->c == (locale_t)0) {
        free(n);
        return KM_ENOMEM;
    }
    n->plain = pick_plain();
    *np = n;
    return 0;
}

km_plain_fn km_numparse_plain(const km_numparse *np)
{
    return np->plain;
}

void km_numparse_free(km_numparse *np)
{
    if (np) {
        freelocale(np->c);
        free(np);
    }
}

/* The fast paths rely on each float/double operation being rounded once,
 * to its own type; with excess precision (x87) they would round twice. */
#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD == 0
#define FAST_PATHS 1
#else
#define FAST_PATHS 0
#endif

/* Exact powers of ten: 10^n = 2^n * 5^n is exact in a binary format while
 * 5^n fits the significand (5^10 < 2^24, 5^22 < 2^53). */
static const double pow10_f64[23] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define MAX_SIG 19 /* 10^19 - 1 < 2^64: the digits w can hold */

/* Paths (a) and (b): *f = w * 10^e10 correctly rounded to float, if that
 * can be had cheaply and provably; 0 when the caller must use strtof. */
static inline int fast_f32(uint64_t w, int64_t e10, float *f)
{
    if (!FAST_PATHS)
        return 0;
    if (w <= (1u << 24) && e10 >= -10 && e10 <= 10) {
        /* (a): exact operands, one rounding */
        float v = (float)(int64_t)w; /* signed converts faster */
        *f = e10 < 0 ? v / km_plain_pow10[-e10] : v * km_plain_pow10[e10];
        return 1;
    }
    if (w <= (1ull << 53) && e10 >= -22 && e10 <= 22) {
        /* (b): d is w * 10^e10 correctly rounded to double */
        double d = (double)(int64_t)w;
        d = e10 < 0 ? d / pow10_f64[-e10] : d * pow10_f64[e10];
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        unsigned bexp = (unsigned)(bits >> 52) & 0x7ff;
        /* For a double in the float normal range the float's 23 fraction
         * bits are the top 23 of the double's 52, so the 29 bits below them
         * are 1000...0 exactly on a float midpoint. The range test
         * (2^-126 <= d < 2^127; the bounds of (b) keep a nonzero d within
         * about 2^-73..2^126 anyway) rules out subnormal floats, whose
         * rounding position differs, overflow, and d = 0. */
        if ((bits & ((1ull << 29) - 1)) != (1ull << 28) &&
            bexp >= 1023 - 126 && bexp < 1023 + 127) {
            *f = (float)d;
            return 1;
        }
    }
    return 0;
}

/* The slow path: strtof_l on a NUL-terminated copy of the (already
 * validated, blank-trimmed) number text. */
static __attribute__((noinline)) int parse_slow(const km_numparse *np, const char *s,
                                                size_t n, float *out)
{
    char stackbuf[128];
    char *buf = stackbuf;
    int saved = errno; /* strtof reports ERANGE, malloc ENOMEM: not ours to leak */
    if (n >= sizeof stackbuf) {
        buf = malloc(n + 1);
        if (!buf) {
            errno = saved;
            return KM_ENOMEM;
        }
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    float f = strtof_l(buf, NULL, np->c);
    if (buf != stackbuf)
        free(buf);
    errno = saved;
    if (isinf(f)) /* overflow: refused, see numparse.h */
        return -1;
    *out = f;
    return 0;
}

/* The general reader: the whole grammar, any length. */
static __attribute__((noinline)) int parse_general(const km_numparse *np, const char *s,
                                                   size_t len, float *out)
{
    const char *p = s, *end = s + len;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    const char *num = p; /* the number text, for the slow path */

    int neg = 0;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }

    /* The significant digits, from the first nonzero one, go into w, at
     * most 19 of them; value = w * 10^e10. Leading zeros are skipped, so
     * they cost nothing; digits past the 19th only matter if nonzero
     * (many), and trailing zeros are stripped from w further down. The
     * loops stop at the 19-digit limit instead of counting per digit. */
    uint64_t w = 0;
    int64_t e10 = 0;
    unsigned many = 0; /* a nonzero digit beyond the 19th: w is inexact */
    const char *start = p;
    while (p < end && *p == '0')
        p++;
    const char *sig = p;
    const char *lim = end - p > MAX_SIG ? p + MAX_SIG : end;
    for (; p < lim; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9)
            break;
        w = w * 10 + d;
    }
    int nsig = (int)(p - sig); /* digits in w */
    if (p == lim) {
        const char *drop = p;
        for (; p < end; p++) {
            unsigned d = (unsigned)(unsigned char)*p - '0';
            if (d > 9)
                break;
            many |= d;
        }
        e10 = p - drop; /* integer digits not in w */
    }
    int digits = p > start;
    if (p < end && *p == '.') {
        p++;
        const char *frac = p;
        if (w == 0) { /* 0.000ddd: the zeros only shift the exponent */
            while (p < end && *p == '0')
                p++;
            e10 -= p - frac;
        }
        const char *fsig = p;
        lim = end - p > MAX_SIG - nsig ? p + (MAX_SIG - nsig) : end;
        for (; p < lim; p++) {
            unsigned d = (unsigned)(unsigned char)*p - '0';
            if (d > 9)
                break;
            w = w * 10 + d;
        }
        e10 -= p - fsig;
        if (p == lim)
            for (; p < end; p++) {
                unsigned d = (unsigned)(unsigned char)*p - '0';
                if (d > 9)
                    break;
                many |= d;
            }
        digits |= p > frac;
    }
    if (!digits) /* "", "-", ".", "e5" */
        return -1;

    int ebig = 0; /* exponent saturated: leave it to strtof */
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0;
        if (p < end && (*p == '-' || *p == '+')) {
            eneg = *p == '-';
            p++;
        }
        const char *edigits = p;
        int64_t ex = 0;
        for (; p < end; p++) {
            unsigned d = (unsigned)(unsigned char)*p - '0';
            if (d > 9)
                break;
            if (ex < 100000000)
                ex = ex * 10 + d;
            else
                ebig = 1;
        }
        if (p == edigits)
            return -1;
        e10 += eneg ? -ex : ex;
    }
    if (p != end) /* trailing junk, inner blank, NUL, second sign... */
        return -1;

    if (w == 0) { /* all digits zero: zero whatever the exponent */
        *out = neg ? -0.0f : 0.0f;
        return 0;
    }
    if (w > (1u << 24) || e10 < -10) /* "2.50000", "1.0e-20": drop zeros */
        while (w % 10 == 0) {
            w /= 10;
            e10++;
        }
    float f;
    if (!many && !ebig && fast_f32(w, e10, &f)) {
        *out = neg ? -f : f;
        return 0;
    }
    return parse_slow(np, num, (size_t)(end - num), out);
}

int km_parse_f32(const km_numparse *np, const char *s, size_t len, float *out)
{
    /* What CSV files are mostly made of: [-]digits[.digits], perhaps an
     * exponent of up to 3 digits, no blanks, at most 19 digits in all,
     * w * 10^(exponent - fraction digits) on a fast path. Anything else
     * (or a miss) is read again, in full, by parse_general: the short loop here has few branches and registers,
     * which makes it about twice as fast on pixel and 7-digit fields. */
    if (len == 1 && (unsigned)(unsigned char)s[0] - '0' <= 9) {
        /* one digit, the most common field of all in image data ("0") */
        *out = (float)(s[0] - '0');
        return 0;
    }
    if (len - 1 < 20) { /* 1..20 bytes; len = 0 wraps and is excluded */
        const char *p = s, *end = s + len;
        int neg = *p == '-';
        p += neg;
        const char *digits = p;
        uint64_t w = 0; /* 20 digits may wrap it: excluded below */
        for (; p < end; p++) {
            unsigned d = (unsigned)(unsigned char)*p - '0';
            if (d > 9)
                break;
            w = w * 10 + d;
        }
        int ndig = (int)(p - digits), nfrac = 0;
        if (p < end && *p == '.') {
            const char *frac = ++p;
            for (; p < end; p++) {
                unsigned d = (unsigned)(unsigned char)*p - '0';
                if (d > 9)
                    break;
                w = w * 10 + d;
            }
            nfrac = (int)(p - frac);
            ndig += nfrac;
        }
        int ex = 0;
        if (p + 1 < end && (*p | 0x20) == 'e') {
            /* an exponent of 1..3 digits ("1.234567e-05", as %g writes
             * small values); anything else is parse_general's */
            int eneg = p[1] == '-';
            const char *q = p + 1 + (eneg || p[1] == '+'), *ed = q;
            for (; q < end && q < ed + 3; q++) {
                unsigned d = (unsigned)(unsigned char)*q - '0';
                if (d > 9)
                    break;
                ex = ex * 10 + (int)d;
            }
            if (q > ed) {
                p = q;
                ex = eneg ? -ex : ex;
            }
        }
        float f;
        /* all bytes used, 1..19 digits ("-" and "." have none; 19 keep w
         * exact) */
        if (p == end && (unsigned)ndig - 1 < MAX_SIG && fast_f32(w, ex - nfrac, &f)) {
            *out = neg ? -f : f;
            return 0;
        }
    }
    return parse_general(np, s, len, out);
}

/* ---- formatting ---------------------------------------------------------- */

/* 10^-53 .. 10^53 as doubles, index 53 + n for 10^n: enough to scale any
 * float's leading 1..9 digits in front of the point and back. Beyond
 * 10^22 they are not exact, but each is within half an ulp (the compiler
 * rounds decimal literals correctly), which is all that is asked of them
 * below. */
static const double pow10_tab[107] = {
    1e-53, 1e-52, 1e-51, 1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45,
    1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36,
    1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27,
    1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18,
    1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8,
    1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4,
    1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27,
    1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38,
    1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49,
    1e50, 1e51, 1e52, 1e53};

/* The smallest float >= 10^n, index 45 + n for n = -45..39 (generated by
 * strtof rounding upward): a float a has a >= 10^n exactly when
 * a >= pow10_ceil_f32[45 + n], so the decimal exponent comes out exact. */
static const float pow10_ceil_f32[85] = {
    0x1p-149f, 0x1p-146f, 0x1.2p-143f, 0x1.65p-140f,
    0x1.be1p-137f, 0x1.16c3p-133f, 0x1.5c73p-130f, 0x1.b38fbcp-127f,
    0x1.1039d6p-123f, 0x1.54484ap-120f, 0x1.a95a5cp-117f, 0x1.09d87ap-113f,
    0x1.4c4e98p-110f, 0x1.9f623ep-107f, 0x1.039d68p-103f, 0x1.4484cp-100f,
    0x1.95a5fp-97f, 0x1.fb0f6cp-94f, 0x1.3ce9a4p-90f, 0x1.8c240ep-87f,
    0x1.ef2d1p-84f, 0x1.357c2ap-80f, 0x1.82db36p-77f, 0x1.e39202p-74f,
    0x1.2e3b42p-70f, 0x1.79ca12p-67f, 0x1.d83c96p-64f, 0x1.2725dep-60f,
    0x1.70ef56p-57f, 0x1.cd2b2ap-54f, 0x1.203afap-50f, 0x1.6849bap-47f,
    0x1.c25c28p-44f, 0x1.19799ap-40f, 0x1.5fd8p-37f, 0x1.b7cdfep-34f,
    0x1.12e0cp-30f, 0x1.5798fp-27f, 0x1.ad7f2ap-24f, 0x1.0c6f7cp-20f,
    0x1.4f8b5ap-17f, 0x1.a36e3p-14f, 0x1.0624dep-10f, 0x1.47ae16p-7f,
    0x1.99999ap-4f, 0x1p+0f, 0x1.4p+3f, 0x1.9p+6f,
    0x1.f4p+9f, 0x1.388p+13f, 0x1.86ap+16f, 0x1.e848p+19f,
    0x1.312dp+23f, 0x1.7d784p+26f, 0x1.dcd65p+29f, 0x1.2a05f2p+33f,
    0x1.74877p+36f, 0x1.d1a94cp+39f, 0x1.2309dp+43f, 0x1.6bcc42p+46f,
    0x1.c6bf54p+49f, 0x1.1c3794p+53f, 0x1.63457ap+56f, 0x1.bc16d8p+59f,
    0x1.158e48p+63f, 0x1.5af1d8p+66f, 0x1.b1ae4ep+69f, 0x1.0f0cf2p+73f,
    0x1.52d02ep+76f, 0x1.a78438p+79f, 0x1.08b2a4p+83f, 0x1.4adf4cp+86f,
    0x1.9d972p+89f, 0x1.027e74p+93f, 0x1.431e1p+96f, 0x1.93e594p+99f,
    0x1.f8defap+102f, 0x1.3b8b5cp+106f, 0x1.8a6e34p+109f, 0x1.ed09cp+112f,
    0x1.342618p+116f, 0x1.812f9ep+119f, 0x1.e17b86p+122f, 0x1.2ced34p+126f,
    INFINITY,
};

/* Does c * 10^e10 read back as a (c < 2^53)? lo and hi are the midpoints
 * between a and its neighbours, exact in double. Outside the fast paths q,
 * the product in double, is within a relative 2^-52 of the true value (two
 * roundings), so unless q is within 2^-50 of a midpoint its side of them
 * settles the question; only those rare near-ties go to strtof, on text
 * without a decimal point, which the locale cannot affect. */
static int reads_as(uint64_t c, int e10, float a, double lo, double hi)
{
    float f;
    if (fast_f32(c, e10, &f))
        return f == a;
    double q = (double)c * pow10_tab[53 + e10];
    if (q < lo - lo * 0x1p-50 || q > hi + hi * 0x1p-50)
        return 0;
    if (q > lo + lo * 0x1p-50 && q < hi - hi * 0x1p-50)
        return 1;
    char t[48];
    snprintf(t, sizeof t, "%llue%d", (unsigned long long)c, e10);
    return strtof(t, NULL) == a;
}

/* Is there a decimal with at most p significant digits that reads back as
 * a (a > 0 finite, 10^x <= a < 10^(x+1))? Those decimals in
 * [10^x, 10^(x+1)] are the multiples of u = 10^(x-p+1); if any lies in
 * a's rounding interval, so does one of the two next to a (the interval
 * contains a), and a multiple in another decade could only be in it if
 * 10^x or 10^(x+1), themselves multiples, were too. The pair next to a is
 * among r-1, r, r+1 for r = a/u rounded: a/u is computed in double with a
 * relative error below 2^-51, i.e. far under one unit for a/u < 10^9. r is
 * tried first, so the nearest fit wins; if r does not fit, at most one of
 * r-1, r+1 can. On success *c holds the multiple. */
static int fits(float a, double ad, double lo, double hi, int x, int p, uint64_t *c)
{
    int e10 = x - (p - 1);
    uint64_t r = (uint64_t)(ad * pow10_tab[53 - e10] + 0.5);
    if (reads_as(r, e10, a, lo, hi)) {
        *c = r;
        return 1;
    }
    if (r > 0 && reads_as(r - 1, e10, a, lo, hi)) {
        *c = r - 1;
        return 1;
    }
    if (reads_as(r + 1, e10, a, lo, hi)) {
        *c = r + 1;
        return 1;
    }
    return 0;
}

/* |v| < 2^24, integral: plain digits. */
static int format_int(int32_t i, char *buf)
{
    char tmp[12];
    int n = 0, len = 0;
    uint32_t u = i < 0 ? (uint32_t)-(int64_t)i : (uint32_t)i;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (i < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    buf[len] = '\0';
    return len;
}

int km_format_f32(float v, char *buf)
{
    if (isnan(v)) {
        buf[0] = '\0';
        return 0;
    }
    if (isinf(v)) {
        strcpy(buf, v < 0 ? "-inf" : "inf");
        return v < 0 ? 4 : 3;
    }
    if (v == 0) {
        strcpy(buf, signbit(v) ? "-0" : "0");
        return signbit(v) ? 2 : 1;
    }
    if (fabsf(v) < 16777216.0f && v == truncf(v))
        return format_int((int32_t)v, buf);

    /* x = floor(log10 |v|): first floor(e2 * log10 2) from the binary
     * exponent (78913 / 2^18 is log10 2 closely enough to be exact for
     * every |e2| <= 1100), which is x or x - 1, then an exact compare. */
    float a = fabsf(v);
    double ad = a;
    uint64_t bits;
    memcpy(&bits, &ad, sizeof bits);
    int e2 = (int)(bits >> 52 & 0x7ff) - 1023; /* ad is a normal double */
    int x = (e2 * 78913) >> 18;                /* arithmetic shift: floor */
    if (a >= pow10_ceil_f32[45 + x + 1])
        x++;
    /* the midpoints to the neighbours; FLT_MAX's upper one is 2^128 */
    uint32_t ua;
    memcpy(&ua, &a, sizeof ua);
    float below, above;
    ua--;
    memcpy(&below, &ua, sizeof below);
    ua += 2;
    memcpy(&above, &ua, sizeof above);
    double mlo = (ad + below) / 2;
    double mhi = a == FLT_MAX ? (ad + 0x1p128) / 2 : (ad + above) / 2;

    /* The smallest p for which some p-digit decimal reads back as v (9
     * always does for float32). "Some p-digit decimal fits" is monotone in
     * p, since every p-digit decimal is also a (p+1)-digit one, so a binary
     * search needs 3 or 4 tries. */
    uint64_t c = 0, best = 0;
    int lo = 1, hi = 9, found = 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (fits(a, ad, mlo, mhi, x, mid, &c)) {
            hi = mid;
            best = c;
            found = 1;
        } else {
            lo = mid + 1;
        }
    }
    if (!found && !fits(a, ad, mlo, mhi, x, 9, &best)) /* cannot happen */
        return snprintf(buf, KM_F32_BUFSZ, "%.9g", (double)v);
    int p = hi;

    /* best * 10^(x-p+1): its digits without trailing zeros, laid out as
     * printf %.{p}g would (fixed for decimal exponents -4..p-1, else
     * scientific) but with the exponent's "+" and leading zeros dropped. */
    char dig[24];
    int nd = 0, len = 0;
    int e10 = x - (p - 1);
    while (best % 10 == 0) {
        best /= 10;
        e10++;
    }
    char tmp[24];
    do {
        tmp[nd++] = (char)('0' + best % 10);
        best /= 10;
    } while (best);
    for (int i = 0; i < nd; i++)
        dig[i] = tmp[nd - 1 - i];
    int xe = e10 + nd - 1; /* value = d.ddd * 10^xe */
    if (v < 0)
        buf[len++] = '-';
    if (xe >= -4 && xe < p) {
        if (xe < 0) {
            buf[len++] = '0';
            buf[len++] = '.';
            for (int i = -1; i > xe; i--)
                buf[len++] = '0';
            for (int i = 0; i < nd; i++)
                buf[len++] = dig[i];
        } else {
            for (int i = 0; i <= xe; i++)
                buf[len++] = i < nd ? dig[i] : '0';
            if (nd > xe + 1) {
                buf[len++] = '.';
                for (int i = xe + 1; i < nd; i++)
                    buf[len++] = dig[i];
            }
        }
    } else {
        buf[len++] = dig[0];
        if (nd > 1) {
            buf[len++] = '.';
            for (int i = 1; i < nd; i++)
                buf[len++] = dig[i];
        }
        len += snprintf(buf + len, (size_t)(KM_F32_BUFSZ - len), "e%d", xe);
    }
    buf[len] = '\0';
    return len;
}

/* ---- plain decimals (km_numparse_plain) --------------------------------
 * Both versions gather the digits into w and count nf after the point,
 * then return (float)w / 10^nf: path (a), exact for w <= 2^24, nf <= 10.
 *
 * The portable one: SWAR, 8 digits as one 64-bit word (digits8). */
static inline uint32_t digits8(const char *s, size_t max, unsigned *n)
{
    uint64_t d = km_swar_load(s), bad = km_swar_nondigits(d);
    unsigned len = bad ? (unsigned)__builtin_ctzll(bad) >> 3 : 8;
    if (len > max) /* digits past the field's end are not its own */
        len = (unsigned)max;
    *n = len;
    return len ? km_swar_value(d, len) : 0;
}

static const uint64_t pow10_u64[11] = {1,       10,       100,       1000,       10000,      100000,
                                       1000000, 10000000, 100000000, 1000000000, 10000000000};

static int plain_swar(const char *s, size_t len, float *out)
{
    if (!FAST_PATHS || len == 0)
        return 0;
    const char *e = s + len;
    int neg = *s == '-';
    s += neg;
    unsigned ni, nf = 0;
    uint64_t w = digits8(s, (size_t)(e - s), &ni);
    s += ni;
    if (s < e && *s == '.') {
        const char *z = ++s;
        while (s < e && *s == '0') /* zeros after the point cost no significant digits */
            s++;
        unsigned nz = (unsigned)(s - z);
        uint32_t f = digits8(s, (size_t)(e - s), &nf);
        s += nf;
        nf += nz;
        if (ni + nf == 0 || nf > 10) /* "." is no number */
            return 0;
        w = w * pow10_u64[nf] + f;
    } else if (ni == 0) {
        return 0;
    }
    if (s != e || w > (1u << 24))
        return 0;
    float x = (float)w;
    if (nf)
        x /= km_plain_pow10[nf];
    *out = km_with_sign(x, neg);
    return 1;
}

#ifdef KM_PLAIN_SSE41
static int plain_sse41(const char *s, size_t len, float *out)
{
    return km_plain_sse41(s, len, out);
}
#endif

static km_plain_fn pick_plain(void)
{
#ifdef KM_PLAIN_SSE41
    if (FAST_PATHS && __builtin_cpu_supports("sse4.1"))
        return plain_sse41;
#endif
    return plain_swar;
}
