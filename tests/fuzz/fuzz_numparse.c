/* fuzz_numparse.c - libFuzzer harness of the number parser
 * (include/kmill/numparse.h), differential against glibc's strtof.
 *
 * km_parse_f32 on the input bytes (an exact-size buffer: nothing at or past
 * the end may be read) must accept exactly the header's grammar, and then
 * give strtof's float bit for bit (in the "C" locale, on the text without
 * its blanks), refusing values that round to infinity; it must leave errno
 * and, when refusing, *out alone. The plain parser (km_numparse_plain, on
 * the same bytes followed by 32 readable bytes taken from the input) may
 * accept only plain decimals with at most 10 digits after the point and a
 * digit value <= 2^24, giving km_parse_f32's float, and otherwise must
 * leave *out alone. A float km_parse_f32 accepted must format
 * (km_format_f32) to text both parsers read back as the same bits. */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/numparse.h"

#define FUZZ_FAIL(...)                                                                         \
    do {                                                                                       \
        fprintf(stderr, "kmill fuzz: " __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                                   \
        abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static km_numparse *np;
static locale_t c_locale;

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* The header's grammar: 1 when s[0..len) is a number, with the text between
 * the blanks in [*b, *e). */
static int grammar(const char *s, size_t len, size_t *b, size_t *e)
{
    size_t i = 0, j = len;
    while (i < j && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t'))
        j--;
    *b = i;
    *e = j;
    size_t k = i;
    if (k < j && (s[k] == '+' || s[k] == '-'))
        k++;
    size_t int_digits = 0, frac_digits = 0;
    while (k < j && is_digit(s[k]))
        k++, int_digits++;
    if (k < j && s[k] == '.') {
        k++;
        while (k < j && is_digit(s[k]))
            k++, frac_digits++;
    }
    if (int_digits + frac_digits == 0)
        return 0;
    if (k < j && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < j && (s[k] == '+' || s[k] == '-'))
            k++;
        size_t exp_digits = 0;
        while (k < j && is_digit(s[k]))
            k++, exp_digits++;
        if (!exp_digits)
            return 0;
    }
    return k == j;
}

/* The plain form: [-] digits ["." {digit}] or [-] "." digits, at most 10
 * digits after the point and the value of all digits <= 2^24. */
static int plain_form(const char *s, size_t len)
{
    size_t k = 0, digits = 0, frac = 0;
    uint64_t w = 0;
    int point = 0;
    if (k < len && s[k] == '-')
        k++;
    for (; k < len; k++) {
        if (is_digit(s[k])) {
            digits++;
            frac += point;
            if (w <= ((uint64_t)1 << 24))
                w = w * 10 + (uint64_t)(s[k] - '0');
        } else if (s[k] == '.' && !point) {
            point = 1;
        } else {
            return 0;
        }
    }
    if (!digits || (point && digits == frac && frac == 0))
        return 0;
    return frac <= 10 && w <= ((uint64_t)1 << 24);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static void check_format(float v)
{
    char buf[KM_F32_BUFSZ + 8];
    memset(buf, 'x', sizeof buf);
    int n = km_format_f32(v, buf);
    if (n < 0 || n >= KM_F32_BUFSZ || buf[n] != '\0' || strlen(buf) != (size_t)n)
        FUZZ_FAIL("km_format_f32(%a) wrote %d bytes", (double)v, n);
    float back = 0;
    if (km_parse_f32(np, buf, (size_t)n, &back) || bits(back) != bits(v))
        FUZZ_FAIL("km_format_f32(%a) = \"%s\" does not read back (%a)", (double)v, buf,
                  (double)back);
    float s = strtof_l(buf, NULL, c_locale);
    if (bits(s) != bits(v))
        FUZZ_FAIL("km_format_f32(%a) = \"%s\", which strtof reads as %a", (double)v, buf,
                  (double)s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!np) {
        if (km_numparse_init(&np))
            abort();
        c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!c_locale)
            abort();
    }
    /* the field in a buffer of its own size (ASan sees any read past it) */
    char *s = malloc(size ? size : 1);
    if (!s)
        abort();
    memcpy(s, data, size);

    size_t b, e;
    int want = grammar(s, size, &b, &e);
    float ref = 0;
    if (want) {
        char *t = malloc(e - b + 1);
        if (!t)
            abort();
        memcpy(t, s + b, e - b);
        t[e - b] = '\0';
        ref = strtof_l(t, NULL, c_locale);
        free(t);
        if (isinf(ref))
            want = 0; /* rounds to infinity: refused */
    }
    const float sentinel = -12345.678f;
    float got = sentinel;
    errno = 4242;
    int rc = km_parse_f32(np, s, size, &got);
    if (errno != 4242)
        FUZZ_FAIL("km_parse_f32 changed errno to %d", errno);
    if (rc == KM_ENOMEM && e - b > 127) {
        /* allowed for long numbers off the fast paths */
    } else if (want) {
        if (rc != 0)
            FUZZ_FAIL("km_parse_f32 refused \"%.*s\" (%d), strtof reads %a", (int)size, s, rc,
                      (double)ref);
        if (bits(got) != bits(ref))
            FUZZ_FAIL("km_parse_f32(\"%.*s\") = %a (0x%08x), strtof gives %a (0x%08x)", (int)size,
                      s, (double)got, bits(got), (double)ref, bits(ref));
        check_format(got);
    } else {
        if (rc != -1)
            FUZZ_FAIL("km_parse_f32 accepted \"%.*s\" (%d -> %a), which is not a float32 number",
                      (int)size, s, rc, (double)got);
        if (bits(got) != bits(sentinel))
            FUZZ_FAIL("km_parse_f32 refused \"%.*s\" but wrote *out", (int)size, s);
    }

    /* the plain parser: the field followed by 32 readable bytes */
    char *p = malloc(size + 32);
    if (!p)
        abort();
    memcpy(p, data, size);
    for (size_t i = 0; i < 32; i++)
        p[size + i] = size ? (char)data[i % size] : '5';
    float pv = sentinel;
    int prc = km_numparse_plain(np)(p, size, &pv);
    if (prc == 1) {
        if (!plain_form(s, size))
            FUZZ_FAIL("the plain parser accepted \"%.*s\", not a short plain decimal", (int)size,
                      s);
        if (rc != 0 || bits(pv) != bits(got))
            FUZZ_FAIL("the plain parser gives %a for \"%.*s\", km_parse_f32 %a (%d)", (double)pv,
                      (int)size, s, (double)got, rc);
    } else if (prc != 0) {
        FUZZ_FAIL("the plain parser returned %d for \"%.*s\"", prc, (int)size, s);
    } else if (bits(pv) != bits(sentinel)) {
        FUZZ_FAIL("the plain parser refused \"%.*s\" but wrote *out", (int)size, s);
    }
    free(p);

    /* any float32 (the first 4 bytes) formats to text that reads back */
    if (size >= 4) {
        float v;
        memcpy(&v, data, 4);
        if (isfinite(v))
            check_format(v);
    }
    free(s);
    return 0;
}
