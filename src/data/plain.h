/* plain.h - the SSE4.1 parser of plain decimals (km_numparse_plain's
 * fastest version), as an inline function: numparse.c hands it out by
 * pointer, and convert.c inlines it into its record loop, where a call
 * through the pointer and the float returned through memory lay on every
 * field's path. Private to the library. */
#ifndef KMILL_PLAIN_H
#define KMILL_PLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* 10^n, exact in float for n <= 10 (5^10 < 2^24) */
static const float km_plain_pow10[11] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f,
                                         1e6f, 1e7f, 1e8f, 1e9f, 1e10f};

/* -x when neg, without a branch: the sign of random data would mispredict
 * half the time (measured: about a third of the SSE4.1 parser's cost) */
static inline float km_with_sign(float x, int neg)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    u ^= (uint32_t)neg << 31;
    memcpy(&x, &u, 4);
    return x;
}

/* SWAR digits, shared by numparse.c's portable parser and convert.c's
 * record loop: the 8 bytes at s, each less '0' (a digit becomes 0..9),
 * byte i of s in byte i of the word. */
static inline uint64_t km_swar_load(const char *s)
{
    uint64_t x;
    memcpy(&x, s, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    x = __builtin_bswap64(x);
#endif
    return x ^ 0x3030303030303030ull;
}

/* Of km_swar_load's word: bit 7 of each byte that is no digit. */
static inline uint64_t km_swar_nondigits(uint64_t d)
{
    return (d | ((d & 0x7f7f7f7f7f7f7f7full) + 0x7676767676767676ull)) & 0x8080808080808080ull;
}

/* The value of the first n (1..8) bytes of km_swar_load's word, digits
 * all: shifted up so that zeros lead, then pairs, quads and the octet
 * summed by multiplies. */
static inline uint32_t km_swar_value(uint64_t d, unsigned n)
{
    d <<= 8 * (8 - n);
    d = d * 10 + (d >> 8);
    d = (((d & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
         (((d >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
    return (uint32_t)d;
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#include <immintrin.h>
#define KM_PLAIN_SSE41 1

/* SSE4.1: the field's 16 bytes after the sign in one register. Masks
 * check the form (digits and at most one point within len); one byte
 * shuffle drops the point and right-aligns the digits with zeros in front;
 * three multiply-add steps make two 8-digit halves (maddubs: pairs, madd:
 * quads, packus + madd: octets). About 20 instructions, no loop and one
 * branch for the form: the SWAR version's digit counting and point
 * handling cost several dependent steps and branches per field. */
static inline __attribute__((target("sse4.1"))) int km_plain_sse41(const char *s, size_t len,
                                                              float *out)
{
    int neg = *s == '-';
    s += neg;
    len -= (size_t)neg;
    if (len - 1 >= 16) /* empty, or more than 16 bytes */
        return 0;
    const __m128i idx = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    __m128i x = _mm_loadu_si128((const __m128i *)s);
    __m128i d = _mm_sub_epi8(x, _mm_set1_epi8('0'));
    __m128i dig = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
    __m128i pt = _mm_cmpeq_epi8(x, _mm_set1_epi8('.'));
    unsigned all = (1u << len) - 1;
    unsigned md = (unsigned)_mm_movemask_epi8(dig) & all, mp = (unsigned)_mm_movemask_epi8(pt) & all;
    if ((md | mp) != all || (mp & (mp - 1)) || !md)
        return 0; /* another byte, two points, or no digit */
    unsigned p = mp ? (unsigned)__builtin_ctz(mp) : (unsigned)len;
    unsigned nf = mp ? (unsigned)len - 1 - p : 0, n = mp ? (unsigned)len - 1 : (unsigned)len;
    if (nf > 10)
        return 0;
    /* byte i of the aligned digits is digit k = i - (16 - n), found at
     * byte k before the point and k + 1 after it; k < 0 gives 0 */
    __m128i k = _mm_sub_epi8(idx, _mm_set1_epi8((char)(16 - n)));
    __m128i src = _mm_sub_epi8(k, _mm_cmpgt_epi8(k, _mm_set1_epi8((char)(p - 1))));
    src = _mm_or_si128(src, _mm_cmplt_epi8(k, _mm_setzero_si128()));
    __m128i t = _mm_shuffle_epi8(d, src);
    t = _mm_maddubs_epi16(t, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));
    t = _mm_madd_epi16(t, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));
    t = _mm_packus_epi32(t, t);
    t = _mm_madd_epi16(t, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));
    uint64_t w = (uint64_t)(uint32_t)_mm_cvtsi128_si32(t) * 100000000u +
                 (uint32_t)_mm_extract_epi32(t, 1);
    if (w > (1u << 24))
        return 0;
    float v = (float)w;
    if (nf)
        v /= km_plain_pow10[nf];
    *out = km_with_sign(v, neg);
    return 1;
}
#endif

#endif
