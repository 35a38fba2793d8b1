/* convert_fast.c - stage 2 of km_convert, the vectorised record parsers.
 *
 * What it does: reads one whole record of the common shapes (unquoted or
 * simply quoted fields, LF or CRLF ends) into a float row in the pass that
 * finds its fields, without the general CSV parser: fast_record with SWAR
 * and plain decimal parsing (fast_record_sse41 with the SSE4.1 parser
 * inlined), int_record512 for short unsigned integers and dec_record512
 * for plain decimals with AVX-512, the last two chosen at run time by
 * parse_block (target attributes: the binary runs on any x86-64).
 *
 * What it promises: a record it takes gives the same row and the same text
 * cells as the general path of convert_parse.c would (numbers through
 * km_parse_f32's rounding, NA and text through text_field); anything else
 * (other quoting, a wrong field count, text in a column forced numeric)
 * returns 0 and the record is left to the next path, with nothing kept.
 *
 * What it needs: the block's text followed by TEXT_PAD zero bytes (or a
 * mapping's slack), since loads run up to 64 bytes past the record; room
 * for the row plus 16 floats (block_row_room); dec_record512 also 15
 * readable bytes before the record and its pos scratch. */
#include "config.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kmill/numparse.h"
#include "data/convert_impl.h"
#include "data/plain.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The separators (delimiter, CR, LF, and NUL, which ends the text) among
 * the 64 bytes at p, as a bit mask: bit i for p[i]. */
static inline uint64_t separators(const char *p, char delim)
{
#if defined(__SSE2__)
    const __m128i d = _mm_set1_epi8(delim), lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    const __m128i nul = _mm_setzero_si128();
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * k));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, d), _mm_cmpeq_epi8(v, nul)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, lf), _mm_cmpeq_epi8(v, cr)));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(hit) << (16 * k);
    }
    return m;
#else
    uint64_t m = 0;
    for (int i = 0; i < 64; i++)
        m |= (uint64_t)(p[i] == delim || p[i] == '\n' || p[i] == '\r' || p[i] == 0) << i;
    return m;
#endif
}

/* Any other number, through km_parse_f32; NaN if the field is none. Kept
 * out of line so the fast loop's values stay in registers. */
static __attribute__((noinline)) float other_number(const km_numparse *np, const char *s,
                                                    size_t len)
{
    float v;
    return km_parse_f32(np, s, len, &v) == 0 ? v : NAN;
}

/* One record ending in LF or CRLF whose fields are unquoted or simply
 * quoted ("..." with no quote inside, so no delimiter or line end either),
 * parsed in the pass that splits it: the bulk of CSV. Returns the record's
 * length with the row in out, or 0 when it needs the general path (other
 * quotes, text in a column forced numeric, a wrong field count). Numbers other than plain
 * decimals (exponents, long digit strings) go through km_parse_f32 one by
 * one, NA and text through text_field. Field ends come from separator bit
 * masks 64 bytes at a time, so each field is converted independently of
 * the one before: the common short integers in one 8-byte SWAR step,
 * other plain decimals through plain (km_numparse_plain); with sse set
 * (fast_record_sse41), every field through the SSE4.1 parser inlined.
 * dst[j] is field j's output column, -1 to drop it, -2 for a column forced
 * categorical. The text is followed by TEXT_PAD zero bytes, so loads past its
 * end are safe. */
static inline __attribute__((always_inline)) size_t
fast_record_impl(struct block *b, km_plain_fn plain, int sse, const int32_t *dst,
                 uint32_t nin, char delim, const char *p, float *out)
{
    const km_numparse *np = b->c->np;
    const char *s = p, *base = p, *e;
    uint64_t m = separators(base, delim);
    for (uint32_t j = 0;; j++) {
        while (!m) {
            base += 64;
            m = separators(base, delim);
        }
        e = base + __builtin_ctzll(m);
        m &= m - 1;
        const char *f = s; /* the field's text */
        size_t len = (size_t)(e - s);
        int quoted = *s == '"';
        if (quoted) {
            /* a field's pieces between separators are fields only when
             * each quoted one closes at its end: a delimiter or line end
             * inside quotes leaves a piece with an unclosed quote */
            if (len < 2 || s[len - 1] != '"' || memchr(s + 1, '"', len - 2))
                return 0;
            f = s + 1;
            len -= 2;
        }
        float v;
        uint64_t d = km_swar_load(f);
        if (sse) {
#ifdef KM_PLAIN_SSE41
            /* inlined: no call, and the value stays in a register */
            if (!km_plain_sse41(f, len, &v))
                v = other_number(np, f, len);
#endif
        } else if (len - 1 < 8 && !(km_swar_nondigits(d) & (~0ull >> (64 - 8 * len)))) {
            /* 1 to 8 digits: numparse.c's digits8, length known */
            uint32_t w = km_swar_value(d, (unsigned)len);
            v = w > (1u << 24) ? other_number(np, f, len) : (float)w;
        } else if (!plain(f, len, &v)) {
            v = other_number(np, f, len);
        }
        int32_t oj = dst[j];
        if (isnan(v) || oj == -2) { /* (NaN: not a number, or "nan") */
            size_t nc = b->ncells;
            if (text_field(b, j, f, len, out))
                return 0;
            if (quoted && b->ncells > nc)
                b->qpend[b->nqpend++] = b->cells[nc].col;
        } else if (oj >= 0) {
            out[oj] = v;
            if (quoted)
                b->qpend[b->nqpend++] = (uint32_t)oj;
        }
        if (j + 1 == nin)
            break;
        if (*e != delim)
            return 0;
        s = e + 1;
    }
    if (*e == '\n')
        return (size_t)(e + 1 - p);
    if (e[0] == '\r' && e[1] == '\n')
        return (size_t)(e + 2 - p);
    return 0;
}

size_t fast_record(struct block *b, km_plain_fn plain, const int32_t *dst,
                          uint32_t nin, char delim, const char *p, float *out)
{
    return fast_record_impl(b, plain, 0, dst, nin, delim, p, out);
}

#ifdef KM_PLAIN_SSE41
/* the same with the SSE4.1 parser inlined, for every field */
__attribute__((target("sse4.1"))) size_t
fast_record_sse41(struct block *b, const int32_t *dst, uint32_t nin, char delim,
                  const char *p, float *out)
{
    return fast_record_impl(b, NULL, 1, dst, nin, delim, p, out);
}
#endif

#ifdef INT_RECORD512
#include <immintrin.h>

/* The digits d (one per byte, as loaded) of the half h of a window, as 32
 * 16-bit lanes. */
static inline __attribute__((always_inline)) AVX512BW __m512i half16(__m512i d, int h)
{
    return _mm512_cvtepu8_epi16(h ? _mm512_extracti64x4_epi64(d, 1)
                                  : _mm512_castsi512_si256(d));
}

/* A record of unsigned integers of 1 to 4 digits (pixels, counts, codes,
 * one-hot flags) ending in LF or CRLF, every field kept in its own order
 * (fast_dst is the identity): fast_record's job, done 64 bytes at a time
 * with AVX-512BW. Per window, compare masks give the digits and the
 * separators; the bytes 1 to 5 before each position come from five more
 * loads, so the value of the field that ends at a separator is
 * d1 + 10 d2 + 100 d3 + 1000 d4 over its contiguous digits, computed at
 * every position in 16-bit lanes and then picked at the separators by a
 * compress: no work per field outside vector instructions. fast_record's
 * loop spends some 35 instructions on each field. Anything else (a sign,
 * a point, an empty field, five digits, a quote, a wrong field count)
 * returns 0 and the record goes to fast_record, which is what tells them
 * apart. Writes up to 15 floats past the row (block_row_room keeps room);
 * reads as fast_record does: the text is followed by TEXT_PAD zero bytes. */
AVX512BW size_t int_record512(uint32_t nin, char delim, const char *p, float *out)
{
    const __m512i c0 = _mm512_set1_epi8('0'), nine = _mm512_set1_epi8(9);
    const __m512i vd = _mm512_set1_epi8(delim), vn = _mm512_set1_epi8('\n');
    const __m512i vr = _mm512_set1_epi8('\r');
    const __m512i ten = _mm512_set1_epi16(10), hundred = _mm512_set1_epi16(100);
    const __m512i thousand = _mm512_set1_epi16(1000);
    uint32_t nf = 0;
    const char *q = p;
    for (int first = 1;; first = 0) {
        /* bytes before p are not the record's (nor always the buffer's):
         * masked out of the first window's shifted loads */
        __m512i v = _mm512_loadu_si512(q), dk[6];
        __mmask64 g[6];
        dk[0] = _mm512_sub_epi8(v, c0);
        g[0] = _mm512_cmple_epu8_mask(dk[0], nine);
        for (int k = 1; k <= 5; k++) {
            __mmask64 in = first ? ~((1ull << k) - 1) : ~0ull;
            /* the address through uintptr_t: q - k may lie before the
             * buffer, where the mask keeps the load from going */
            const void *at = (const void *)((uintptr_t)q - (uintptr_t)k);
            dk[k] = _mm512_sub_epi8(_mm512_maskz_loadu_epi8(in, at), c0);
            g[k] = _mm512_mask_cmple_epu8_mask(in, dk[k], nine);
        }
        uint64_t sd = _mm512_cmpeq_epi8_mask(v, vd);
        uint64_t sn = _mm512_cmpeq_epi8_mask(v, vn) | _mm512_cmpeq_epi8_mask(v, vr);
        uint64_t endbit = sn & -sn, lim = sn ? endbit - 1 : ~0ull;
        if (((g[0] | sd) & lim) != lim)
            return 0; /* a byte that is neither digit nor delimiter */
        uint64_t ends = (sd & lim) | endbit;
        uint64_t c2 = g[1] & g[2], c3 = c2 & g[3], c4 = c3 & g[4];
        if ((ends & ~g[1]) || (ends & c4 & g[5]))
            return 0; /* an empty field, or one of five digits or more */
        nf += (uint32_t)__builtin_popcountll(ends);
        if (nf > nin || (endbit && nf != nin))
            return 0;
        for (int h = 0; h < 2 && ends >> (32 * h); h++) {
            __m512i n = half16(dk[1], h);
            n = _mm512_mask_add_epi16(n, (__mmask32)(c2 >> 32 * h), n,
                                      _mm512_mullo_epi16(half16(dk[2], h), ten));
            n = _mm512_mask_add_epi16(n, (__mmask32)(c3 >> 32 * h), n,
                                      _mm512_mullo_epi16(half16(dk[3], h), hundred));
            n = _mm512_mask_add_epi16(n, (__mmask32)(c4 >> 32 * h), n,
                                      _mm512_mullo_epi16(half16(dk[4], h), thousand));
            for (int k = 0; k < 2; k++) {
                __mmask16 e = (__mmask16)(ends >> (32 * h + 16 * k));
                if (!e)
                    continue;
                __m256i n16 = k ? _mm512_extracti64x4_epi64(n, 1) : _mm512_castsi512_si256(n);
                __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu16_epi32(n16));
                _mm512_storeu_ps(out, _mm512_maskz_compress_ps(e, f));
                out += __builtin_popcount(e);
            }
        }
        if (endbit) {
            const char *e = q + __builtin_ctzll(endbit);
            if (*e == '\n')
                return (size_t)(e + 1 - p);
            return e[1] == '\n' ? (size_t)(e + 2 - p) : 0;
        }
        q += 64;
    }
}

/* dec_record512's per-lane masks: bit 15 of each 16-bit lane, and bits 0-14 */
#define DEC_TOPS 0x8000800080008000ull
#define DEC_LOW15 0x7FFF7FFF7FFF7FFFull

/* 10^n for dec_record512's lookup by lane; past 10 unused (refused first) */
static const float dec_pow10[16] = {1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f,
                                    1e8f, 1e9f, 1e10f, 1, 1, 1, 1, 1};

/* Per lane of a 4-lane mask (fields within bits 0-14): bit 15 set when the
 * lane has any bit. */
static inline uint64_t dec_any(uint64_t m)
{
    return (m + DEC_LOW15) & DEC_TOPS;
}

/* A mask of four 16-bit lanes as four 32-bit integers. */
static inline __attribute__((always_inline)) AVX512DEC __m128i dec_lanes(uint64_t m)
{
    return _mm_cvtepu16_epi32(_mm_cvtsi64_si128((long long)m));
}

/* Byte i of 128-bit lane l: l (dec_record512's field of each lane). */
static inline __attribute__((always_inline)) AVX512DEC __m512i dec_lane_ids(void)
{
    return _mm512_set_epi32(0x03030303, 0x03030303, 0x03030303, 0x03030303, 0x02020202,
                            0x02020202, 0x02020202, 0x02020202, 0x01010101, 0x01010101,
                            0x01010101, 0x01010101, 0, 0, 0, 0);
}

/* A record of plain decimals ([-]digits[.digits], up to 15 bytes) ending
 * in LF or CRLF, every field kept in its own order: fast_record's job on
 * float files, four fields at a time with AVX-512. fast_record_sse41
 * spends about 100 instructions on a field, one at a time.
 *
 * First the record's separators: per 64-byte window, the delimiters up to
 * the first line end (LF, CR or the text's NUL), their offsets packed by
 * vpcompressd into pos[1..nin] (pos[0] = -1, the byte before the record).
 * A wrong count ends it there. Walking the separator bits one by one
 * instead (tzcnt, and a refill per window that mispredicts) cost a third
 * of the time.
 *
 * Then four fields at a time: the 16 bytes ending at each field's
 * separator go into one 128-bit lane of a zmm, the fields' lengths, 16 at
 * once from pos, give each lane's byte mask R, and compare masks check the
 * form (in a 64-bit register: sign only first, digits, at most one point,
 * at least one digit). A blend drops the point and right-aligns the
 * digits, the same multiply-add steps as km_plain_sse41 make the integer,
 * and one division by an exact power of ten gives path (a)'s value,
 * identical to km_parse_f32's. Each field refused (an exponent, more than
 * 8 significant digits, 16 bytes or more) is read again alone by
 * km_parse_f32, and NA or text goes to text_field, as in fast_record; a
 * record with a quote (fast_record's) or the wrong field count returns 0.
 * pos holds nin + DEC_POS_SLACK entries. Reads up to 15 bytes before p
 * (the caller checks they are the buffer's) and, as fast_record does, past
 * the text into its zero padding or the mapping's slack.
 *
 * The first pass is dec_separators, inlined: P (pos + 1) gets the
 * separators' offsets, and the record's line end comes back, or NULL for
 * a quote, a wrong field count or no LF / CRLF at the end. */
static inline __attribute__((always_inline)) AVX512DEC const char *
dec_separators(uint32_t nin, char delim, const char *p, int32_t *P)
{
    const __m512i vd = _mm512_set1_epi8(delim);
    const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint32_t k = 0;
    P[-1] = -1;
    for (uint32_t off = 0;; off += 64) {
        __m512i v = _mm512_loadu_si512(p + off);
        uint64_t ml = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\n')) |
                      _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\r')) |
                      _mm512_testn_epi8_mask(v, v);
        uint64_t m = _mm512_cmpeq_epi8_mask(v, vd) | ml;
        uint64_t q = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"'));
        if (ml) {
            m &= ml ^ (ml - 1); /* up to the line end, itself included */
            q &= ml - 1;
        }
        if (q)
            return NULL; /* quoted fields: fast_record's */
        __m512i at = _mm512_add_epi32(iota, _mm512_set1_epi32((int)off));
        for (int h = 0; h < 4; h++) {
            __mmask16 mh = (__mmask16)(m >> (16 * h));
            __m512i x = _mm512_add_epi32(at, _mm512_set1_epi32(16 * h));
            _mm512_storeu_si512(P + k, _mm512_maskz_compress_epi32(mh, x));
            k += (uint32_t)__builtin_popcount(mh);
        }
        if (ml)
            break;
        if (k > nin)
            return NULL; /* (k <= nin before a window: P[nin + 63] at most) */
    }
    if (k != nin)
        return NULL;
    const int32_t last = P[nin - 1];
    const char *end = p + last;
    if (!(*end == '\n' || (end[0] == '\r' && end[1] == '\n')))
        return NULL;
    /* the lanes past the last field: length -1, no bytes */
    for (int i = 0; i < 16; i++)
        P[nin + i] = last;
    return end;
}

AVX512DEC size_t dec_record512(struct block *b, uint32_t nin, char delim, const char *p,
                               float *out, int32_t *pos)
{
    int32_t *P = pos + 1; /* P[k]: the offset of field k's separator */
    const char *end = dec_separators(nin, delim, p, P);
    if (!end)
        return 0;
    const __m512i c0 = _mm512_set1_epi8('0'), c9 = _mm512_set1_epi8(9);
    const __m512i cp = _mm512_set1_epi8('.'), cm = _mm512_set1_epi8('-');
    /* maddubs: 10 a + b over byte pairs; madd: 100 a + b, 10000 a + b */
    const __m512i w1 = _mm512_set1_epi16(0x010A), w2 = _mm512_set1_epi32(0x00010064);
    const __m512i w3 = _mm512_set1_epi32(0x00012710);
    /* per lane [high 8 digits, low 8 digits, copies]: high must be 0 and
     * low at most 2^24 for path (a) */
    const __m512i lim = _mm512_set4_epi32(1 << 24, 0, 1 << 24, 0);
    const __m512i pick = _mm512_setr_epi32(1, 5, 9, 13, 1, 5, 9, 13, 1, 5, 9, 13, 1, 5, 9, 13);
    const __m512 p10 = _mm512_loadu_ps(dec_pow10);
    const __m512i bytes = _mm512_set4_epi32(0x0F0E0D0C, 0x0B0A0908, 0x07060504, 0x03020100);
    for (uint32_t j0 = 0; j0 < nin; j0 += 16) {
        /* 16 fields' lengths; a lane's bytes are 15 - L to 14 */
        __m512i L = _mm512_sub_epi32(_mm512_loadu_si512(P + j0), _mm512_loadu_si512(P + j0 - 1));
        L = _mm512_sub_epi32(L, _mm512_set1_epi32(1));
        uint32_t lbad = _mm512_cmpgt_epi32_mask(L, _mm512_set1_epi32(15));
        __m512i first = _mm512_broadcast_i32x4(
            _mm512_cvtepi32_epi8(_mm512_sub_epi32(_mm512_set1_epi32(15), L)));
        for (uint32_t j = j0; j < nin && j < j0 + 16; j += 4) {
            uint32_t cnt = nin - j < 4 ? nin - j : 4;
            /* lane i: field j + i's first byte, broadcast */
            __m512i f4 = _mm512_shuffle_epi8(
                first, _mm512_add_epi8(_mm512_set1_epi8((char)(j - j0)), dec_lane_ids()));
            uint64_t R = _mm512_mask_cmpge_epu8_mask(DEC_LOW15, bytes, f4);
            __m512i w = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + P[j] - 15)));
            w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(p + P[j + 1] - 15)), 1);
            w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(p + P[j + 2] - 15)), 2);
            w = _mm512_inserti32x4(w, _mm_loadu_si128((const __m128i *)(p + P[j + 3] - 15)), 3);
            uint64_t act = DEC_TOPS >> (16 * (4 - cnt));
            __m512i d = _mm512_sub_epi8(w, c0);
            uint64_t D = _mm512_cmple_epu8_mask(d, c9);
            uint64_t PT = _mm512_cmpeq_epi8_mask(w, cp) & R;
            uint64_t MI = _mm512_cmpeq_epi8_mask(w, cm) & R;
            uint64_t F1 = R & ~(R << 1); /* each field's first byte */
            uint64_t neg = MI & F1, DR = R & ~neg, Dg = DR & ~PT;
            /* bad: a bit in the lane of each field refused; a minus elsewhere
             * than first is in DR, and no digit or point */
            uint64_t bad = _pdep_u64(lbad >> (j - j0), DEC_TOPS) | (DR & ~(D | PT)) |
                           (dec_any(Dg) ^ act);
            /* from each lane's point to its end: for a lane with a point at q,
             * 2^16 - 2^q; a second point leaves a hole there */
            uint64_t tp = dec_any(PT), PP = (tp << 1) - PT;
            bad |= (PT & ~PP) | (PT & 0x000F000F000F000Full); /* two points; > 10 decimals */
            /* digits after the point move one byte up, those before it two
             * (over the point and the separator); without a point, all one */
            uint64_t nop = ~tp & DEC_TOPS;
            uint64_t up1 = ((PP << 2) & 0xFFFCFFFCFFFCFFFCull) | ((nop << 1) - (nop >> 15));
            __m512i dd = _mm512_maskz_mov_epi8(Dg, d);
            __m512i x = _mm512_mask_blend_epi8(up1, _mm512_bslli_epi128(dd, 2),
                                               _mm512_bslli_epi128(dd, 1));
            x = _mm512_maddubs_epi16(x, w1);
            x = _mm512_madd_epi16(x, w2);
            x = _mm512_packus_epi32(x, x);
            x = _mm512_madd_epi16(x, w3);
            bad |= _pdep_u64(_mm512_cmpgt_epu32_mask(x, lim), 0x000F000F000F000Full);
            __m128i lo = _mm512_castsi512_si128(_mm512_permutexvar_epi32(pick, x));
            /* decimals 14 - q = lzcnt(2^q) - 17; 15 (a factor 1) without a point */
            __m128i nf = _mm_sub_epi32(_mm_lzcnt_epi32(dec_lanes(PT)), _mm_set1_epi32(17));
            __m128 div = _mm512_castps512_ps128(_mm512_permutexvar_ps(_mm512_castsi128_si512(nf), p10));
            __m128 f = _mm_div_ps(_mm_cvtepi32_ps(lo), div);
            __m128i fi = _mm_castps_si128(f);
            fi = _mm_mask_xor_epi32(fi, _mm_test_epi32_mask(dec_lanes(neg), dec_lanes(neg)), fi,
                                    _mm_set1_epi32((int)0x80000000u));
            _mm_mask_storeu_epi32(out + j, (__mmask8)((1u << cnt) - 1), fi);
            if (__builtin_expect(bad != 0, 0)) {
                /* fields that are no plain decimal of up to 8 digits (an
                 * exponent, most often), each alone */
                for (uint32_t i = 0; i < cnt; i++) {
                    if (!(bad >> (16 * i) & 0xFFFF))
                        continue;
                    const char *s = p + P[(int32_t)(j + i) - 1] + 1;
                    size_t len = (size_t)(P[j + i] - P[(int32_t)(j + i) - 1] - 1);
                    float fv = other_number(b->c->np, s, len);
                    if (!isnan(fv))
                        out[j + i] = fv;
                    else if (text_field(b, j + i, s, len, out))
                        return 0;
                }
            }
        }
    }
    return (size_t)(end + (*end == '\n' ? 1 : 2) - p);
}
#endif
