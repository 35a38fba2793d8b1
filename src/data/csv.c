/* csv.c - streaming RFC 4180 reader, and the writers' field quoter (see
 * include/kmill/csv.h).
 *
 * A record is parsed in one pass over the buffer. When the buffer ends in
 * the middle of a record, the partial record is moved to the front, more
 * input is read, and the record is parsed again from its start; doubled
 * quotes are therefore unescaped only once the record is complete, so a
 * re-parse always sees the original bytes. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/csv.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define READ_SIZE (1u << 20)
#define DEFAULT_MAX_RECORD ((size_t)64 << 20)

/* byte classes for the unquoted-field scan */
enum { C_PLAIN = 0, C_DELIM, C_LF, C_CR, C_QUOTE, C_NUL };

struct km_csv {
    km_ctx *ctx;
    int fd;               /* -1 in memory mode */
    int owned;            /* buf is ours */
    km_csv_opts o;
    char *buf;
    size_t cap, beg, end; /* unconsumed input is buf[beg..end) */
    int eof;
    int started;          /* BOM and delimiter handled */
    uint64_t line;        /* line number at buf[beg] */
    uint64_t rec_line;
    uint64_t consumed;
    km_csv_field *f;
    size_t fcap;
    unsigned char cls[256];
};

static char detect_delim(const char *p, size_t n);

int km_csv_open(km_ctx *ctx, int fd, const km_csv_opts *opts, km_csv **out)
{
    km_csv *c = calloc(1, sizeof *c);
    if (!c)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    c->ctx = ctx;
    c->fd = fd;
    c->o = *opts;
    if (!c->o.max_record)
        c->o.max_record = DEFAULT_MAX_RECORD;
    if (!c->o.name)
        c->o.name = "<stdin>";
    c->cap = READ_SIZE * 2;
    c->buf = malloc(c->cap + 1);
    c->fcap = 64;
    c->f = malloc(c->fcap * sizeof *c->f);
    if (!c->buf || !c->f) {
        km_csv_close(c);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    c->owned = 1;
    c->line = 1;
    *out = c;
    return 0;
}

int km_csv_open_mem(km_ctx *ctx, const km_csv_opts *opts, km_csv **out)
{
    km_csv *c = calloc(1, sizeof *c);
    if (!c)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    c->ctx = ctx;
    c->fd = -1;
    c->o = *opts;
    if (!c->o.max_record)
        c->o.max_record = DEFAULT_MAX_RECORD;
    if (!c->o.name)
        c->o.name = "<stdin>";
    c->fcap = 64;
    c->f = malloc(c->fcap * sizeof *c->f);
    if (!c->f) {
        free(c);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    *out = c;
    return 0;
}

void km_csv_reset_mem(km_csv *c, char *buf, size_t len, uint64_t first_line)
{
    c->buf = buf;
    c->cap = len;
    c->beg = 0;
    c->end = len;
    c->eof = 1;
    c->line = first_line;
    c->consumed = 0;
    c->started = 0;
}

const char *km_csv_rest(const km_csv *c, size_t *len)
{
    *len = c->end - c->beg;
    return c->buf + c->beg;
}

uint64_t km_csv_skip_record(km_csv *c, size_t n)
{
    c->beg += n;
    c->consumed += n;
    c->rec_line = c->line++;
    return c->rec_line;
}

void km_csv_close(km_csv *c)
{
    if (!c)
        return;
    if (c->owned)
        free(c->buf);
    free(c->f);
    free(c);
}

uint64_t km_csv_line(const km_csv *c) { return c->rec_line; }
uint64_t km_csv_rest_line(const km_csv *c) { return c->line; }
uint64_t km_csv_bytes(const km_csv *c) { return c->consumed; }
char km_csv_delim(const km_csv *c) { return c->o.delim; }

char km_csv_detect_delim(const char *p, size_t n)
{
    return detect_delim(p, n);
}
const char *km_csv_name(const km_csv *c) { return c->o.name; }

/* Read more input after buf[end]; moves the unconsumed part to the front
 * and grows the buffer when a record fills it. 0 ok (or eof set), <0 error. */
static int fill(km_csv *c)
{
    if (c->beg > 0) {
        memmove(c->buf, c->buf + c->beg, c->end - c->beg);
        c->end -= c->beg;
        c->beg = 0;
    }
    if (c->cap - c->end < READ_SIZE) {
        size_t ncap = c->cap * 2;
        char *nb = realloc(c->buf, ncap + 1);
        if (!nb)
            return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory reading %s", c->o.name);
        c->buf = nb;
        c->cap = ncap;
    }
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->end, c->cap - c->end);
        if (n < 0) {
            if (errno == EINTR && km_check_interrupt(c->ctx))
                return KM_EINTR;
            if (errno == EINTR)
                continue;
            return km_seterr(&c->ctx->err, km_errno_code(errno), "%s: read error: %s",
                             c->o.name, strerror(errno));
        }
        if (n == 0)
            c->eof = 1;
        c->end += (size_t)n;
        return 0;
    }
}

/* Pick the delimiter that splits the first complete lines into the same,
 * largest number of fields (quotes respected). */
static char detect_delim(const char *p, size_t n)
{
    static const char cand[] = ",;\t|";
    enum { NC = 4, NL = 20 };
    unsigned cnt[NL][NC];
    memset(cnt, 0, sizeof cnt);
    int lines = 0, inq = 0;
    for (size_t i = 0; i < n && lines < NL; i++) {
        char ch = p[i];
        if (ch == '"')
            inq = !inq;
        else if (!inq && (ch == '\n' || ch == '\r')) {
            lines++;
            if (ch == '\r' && i + 1 < n && p[i + 1] == '\n')
                i++;
        } else if (!inq) {
            for (int k = 0; k < NC; k++)
                cnt[lines][k] += ch == cand[k];
        }
    }
    int full = lines > 0 ? lines : 1; /* the last, partial line is left out */
    int best = -1;
    unsigned bestn = 0;
    for (int k = 0; k < NC; k++) {
        unsigned first = cnt[0][k];
        int consistent = first > 0;
        for (int l = 1; l < full && consistent; l++)
            consistent = cnt[l][k] == first;
        if (consistent && first > bestn) {
            best = k;
            bestn = first;
        }
    }
    if (best < 0) /* nothing consistent: most frequent on the first line */
        for (int k = 0; k < NC; k++)
            if (cnt[0][k] > bestn) {
                best = k;
                bestn = cnt[0][k];
            }
    return best < 0 ? ',' : cand[best];
}

static int start(km_csv *c)
{
    while (c->fd >= 0 && !c->eof && c->end - c->beg < 65536) {
        int rc = fill(c);
        if (rc)
            return rc;
    }
    if (c->fd >= 0 && c->end - c->beg >= 3 && memcmp(c->buf + c->beg, "\xEF\xBB\xBF", 3) == 0) {
        c->beg += 3;
        c->consumed += 3;
    }
    if (!c->o.delim)
        c->o.delim = detect_delim(c->buf + c->beg, c->end - c->beg);
    memset(c->cls, C_PLAIN, sizeof c->cls);
    c->cls[(unsigned char)c->o.delim] = C_DELIM;
    c->cls['\n'] = C_LF;
    c->cls['\r'] = C_CR;
    c->cls['"'] = C_QUOTE;
    c->cls[0] = C_NUL;
    c->started = 1;
    return 0;
}

static __attribute__((noinline)) int grow_fields(km_csv *c)
{
    size_t ncap = c->fcap * 2;
    km_csv_field *nfld = realloc(c->f, ncap * sizeof *nfld);
    if (!nfld)
        return km_seterr(&c->ctx->err, KM_ENOMEM, "out of memory");
    c->f = nfld;
    c->fcap = ncap;
    return 0;
}

static inline int push_field(km_csv *c, size_t *nf, const char *p, size_t len, int quoted)
{
    if (*nf == c->fcap && grow_fields(c))
        return KM_ENOMEM;
    if (len > UINT32_MAX)
        return km_seterr(&c->ctx->err, KM_ELIMIT, "%s:%llu:%zu: field longer than 4 GiB",
                         c->o.name, (unsigned long long)c->line, *nf + 1);
    c->f[*nf].p = p;
    c->f[*nf].len = (uint32_t)len;
    c->f[*nf].quoted = (uint32_t)quoted;
    (*nf)++;
    return 0;
}

/* Remove the doubled quotes of a quoted field in place. */
static uint32_t unescape(char *p, uint32_t len)
{
    uint32_t w = 0;
    for (uint32_t r = 0; r < len; r++) {
        p[w++] = p[r];
        if (p[r] == '"' && r + 1 < len && p[r + 1] == '"')
            r++;
    }
    return w;
}

/* A NUL byte in field nf + 1 of line: CSV is text, and a NUL is refused
 * wherever it stands (unquoted, quoted, after a lazy closing quote), so no
 * field ever holds one. */
static __attribute__((noinline)) int binary_data(km_csv *c, uint64_t line, size_t nf)
{
    return km_seterr(&c->ctx->err, KM_EPARSE,
                     "%s:%llu:%zu: binary data (NUL byte); is this a CSV file?", c->o.name,
                     (unsigned long long)line, nf + 1);
}

#define NEED_MORE 1

/* Parse one record at buf[beg..end). Returns 0 with the record complete
 * (beg advanced), NEED_MORE when the buffer ends first, or an error. */
static int parse_record(km_csv *c, size_t *nfields, int *escapes)
{
    const unsigned char *cls = c->cls;
    char *buf = c->buf;
    size_t i = c->beg, end = c->end;
    size_t nf = 0;
    uint64_t line = c->line;
    int rc;
    *escapes = 0;

    for (;;) { /* one field per iteration */
        size_t fs = i;
        if (i < end && buf[i] == '"') {
            /* quoted field */
            size_t q = i + 1;
            uint64_t qline = line;
            for (;;) {
                char *hit = memchr(buf + q, '"', end - q);
                if (!hit) {
                    if (c->eof)
                        return km_seterr(&c->ctx->err, KM_EPARSE,
                                         "%s:%llu:%zu: unterminated quoted field", c->o.name,
                                         (unsigned long long)qline, nf + 1);
                    return NEED_MORE;
                }
                size_t h = (size_t)(hit - buf);
                if (h + 1 >= end && !c->eof)
                    return NEED_MORE; /* cannot tell "" from " yet */
                if (h + 1 < end && buf[h + 1] == '"') {
                    *escapes = 1;
                    q = h + 2;
                    continue;
                }
                /* closing quote at h: count the newlines the field spans */
                for (size_t k = i + 1; k < h; k++) {
                    if (buf[k] == '\n' || (buf[k] == '\r' && buf[k + 1] != '\n'))
                        line++;
                    else if (buf[k] == '\0')
                        return binary_data(c, line, nf);
                }
                size_t after = h + 1;
                if (after < end && cls[(unsigned char)buf[after]] != C_DELIM &&
                    buf[after] != '\n' && buf[after] != '\r') {
                    if (buf[after] == '\0')
                        return binary_data(c, line, nf);
                    if (!c->o.lazy_quotes)
                        return km_seterr(&c->ctx->err, KM_EPARSE,
                                         "%s:%llu:%zu: text after the closing quote of a quoted "
                                         "field (use --lazy-quotes to accept it)",
                                         c->o.name, (unsigned long long)line, nf + 1);
                    /* lazy: treat the rest up to the delimiter as part of the field
                     * (a NUL stops it too: binary data, refused as everywhere) */
                    size_t k = after;
                    while (k < end && (cls[(unsigned char)buf[k]] == C_PLAIN ||
                                       cls[(unsigned char)buf[k]] == C_QUOTE))
                        k++;
                    if (k < end && cls[(unsigned char)buf[k]] == C_NUL)
                        return binary_data(c, line, nf);
                    if (k == end && !c->eof)
                        return NEED_MORE;
                    if ((rc = push_field(c, &nf, buf + i, k - i, 0)))
                        return rc;
                    i = k;
                } else {
                    if ((rc = push_field(c, &nf, buf + i + 1, h - i - 1, 1)))
                        return rc;
                    i = after;
                }
                break;
            }
        } else {
            /* unquoted field: scan to the next special byte */
            while (i < end && cls[(unsigned char)buf[i]] == C_PLAIN)
                i++;
            if (i < end && cls[(unsigned char)buf[i]] == C_QUOTE) {
                if (!c->o.lazy_quotes)
                    return km_seterr(&c->ctx->err, KM_EPARSE,
                                     "%s:%llu:%zu: quote inside an unquoted field (quote the "
                                     "field, or use --lazy-quotes)",
                                     c->o.name, (unsigned long long)line, nf + 1);
                while (i < end && (cls[(unsigned char)buf[i]] == C_PLAIN ||
                                   cls[(unsigned char)buf[i]] == C_QUOTE))
                    i++;
            }
            if (i < end && cls[(unsigned char)buf[i]] == C_NUL)
                return binary_data(c, line, nf);
            if (i == end && !c->eof)
                return NEED_MORE;
            if ((rc = push_field(c, &nf, buf + fs, i - fs, 0)))
                return rc;
        }
        /* after a field: delimiter, line end, or end of input */
        if (i == end) {
            if (!c->eof)
                return NEED_MORE;
            break;
        }
        unsigned char k = cls[(unsigned char)buf[i]];
        if (k == C_DELIM) {
            i++;
            continue;
        }
        if (buf[i] == '\r') {
            if (i + 1 == end && !c->eof)
                return NEED_MORE; /* a CRLF may be split across reads */
            i += (i + 1 < end && buf[i + 1] == '\n') ? 2 : 1;
        } else {
            i++;
        }
        line++;
        break;
    }
    c->consumed += i - c->beg;
    c->beg = i;
    c->line = line;
    *nfields = nf;
    return 0;
}

int km_csv_next(km_csv *c, km_csv_field **fields, size_t *nfields)
{
    int rc;
    if (!c->started && (rc = start(c)))
        return rc;
    for (;;) {
        if (c->beg == c->end) {
            if (c->eof)
                return 0;
            if ((rc = fill(c)))
                return rc;
            continue;
        }
        int escapes;
        size_t rec_start = c->beg;
        c->rec_line = c->line;
        rc = parse_record(c, nfields, &escapes);
        if (rc < 0)
            return rc;
        if (rc == 0 && c->beg - rec_start > c->o.max_record)
            return km_seterr(&c->ctx->err, KM_ELIMIT,
                             "%s:%llu: record longer than %zu bytes (raise --max-line)",
                             c->o.name, (unsigned long long)c->rec_line, c->o.max_record);
        if (rc == NEED_MORE) {
            if (c->end - c->beg > c->o.max_record)
                return km_seterr(&c->ctx->err, KM_ELIMIT,
                                 "%s:%llu: record longer than %zu bytes (raise --max-line)",
                                 c->o.name, (unsigned long long)c->line, c->o.max_record);
            if ((rc = fill(c)))
                return rc;
            continue;
        }
        if (escapes)
            for (size_t k = 0; k < *nfields; k++)
                if (c->f[k].quoted)
                    c->f[k].len = unescape((char *)c->f[k].p, c->f[k].len);
        *fields = c->f;
        return 1;
    }
}

/* LF bytes in p[0..n), and in *other whether a quote or a CR occurs: one
 * pass for what the splitter needs to know of a block (three passes of
 * memchr and a count cost the thread that feeds the parsers 6% of a
 * conversion). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#include <immintrin.h>
#define COUNT_LF512 1
/* the same 64 bytes a step: three compares into masks and a popcount */
static __attribute__((target("avx512f,avx512bw,popcnt"))) uint64_t
count_lf512(const char *p, size_t n, int *other)
{
    const __m512i lf = _mm512_set1_epi8('\n'), q = _mm512_set1_epi8('"');
    const __m512i cr = _mm512_set1_epi8('\r');
    uint64_t k = 0, seen = 0;
    for (size_t i = 0; i < n; i += 64) {
        __mmask64 m = n - i >= 64 ? ~0ull : ~0ull >> (64 - (n - i));
        __m512i v = _mm512_maskz_loadu_epi8(m, p + i);
        k += (uint64_t)__builtin_popcountll(_mm512_mask_cmpeq_epi8_mask(m, v, lf));
        seen |= _mm512_mask_cmpeq_epi8_mask(m, v, q) | _mm512_mask_cmpeq_epi8_mask(m, v, cr);
    }
    *other = seen != 0;
    return k;
}
#endif

static uint64_t count_lf(const char *p, size_t n, int *other)
{
#ifdef COUNT_LF512
    if (__builtin_cpu_supports("avx512bw"))
        return count_lf512(p, n, other);
#endif
    uint64_t k = 0;
    size_t i = 0;
    int any = 0;
#if defined(__SSE2__) && defined(__x86_64__)
    /* byte counters (0 - -1 per match), summed every 255 rounds by psadbw */
    const __m128i lf = _mm_set1_epi8('\n'), q = _mm_set1_epi8('"'), cr = _mm_set1_epi8('\r');
    const __m128i zero = _mm_setzero_si128();
    __m128i seen = zero;
    while (i + 16 <= n) {
        __m128i acc = zero;
        for (int r = 0; r < 255 && i + 16 <= n; r++, i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(v, lf));
            seen = _mm_or_si128(seen, _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, cr)));
        }
        __m128i s = _mm_sad_epu8(acc, zero);
        k += (uint64_t)_mm_cvtsi128_si64(s) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(s, s));
    }
    any = _mm_movemask_epi8(seen) != 0;
#endif
    for (; i < n; i++) {
        k += p[i] == '\n';
        any |= p[i] == '"' || p[i] == '\r';
    }
    *other = any;
    return k;
}

#ifdef COUNT_LF512
/* km_csv_split's work on a block with quotes or CRs, 64 bytes a step: the
 * quote mask's prefix XOR (a carry-less multiply by all ones) marks the
 * bytes inside quotes, as in simdjson, and the record ends are the LFs and
 * lone CRs outside them. A doubled quote toggles twice, so it needs no
 * care; what the prefix XOR cannot see is the state machine's rule that a
 * quote opens a field only at its start: a quote that opens (by the
 * parity) after anything but a delimiter, a line end, the start or a
 * closing quote returns -1, and the caller walks the state machine. Else
 * 0, with the length of the complete records in *last and their lines
 * (LFs and lone CRs, in quotes too) in *lines. A CR that is the last byte
 * ends a record only at_eof: an LF may follow in the next read. */
static __attribute__((target("avx512f,avx512bw,pclmul,popcnt,lzcnt"))) int
split512(const char *p, size_t len, char delim, int at_eof, size_t *last, uint64_t *lines)
{
    const __m512i vq = _mm512_set1_epi8('"'), vl = _mm512_set1_epi8('\n');
    const __m512i vc = _mm512_set1_epi8('\r'), vd = _mm512_set1_epi8(delim);
    uint64_t in_carry = 0, sep_carry = 1, q_carry = 0, odd = 0;
    uint64_t breaks = 0, breaks_at_end = 0;
    size_t end = 0;
    for (size_t i = 0; i < len; i += 64) {
        __mmask64 m = len - i >= 64 ? ~0ull : ~0ull >> (64 - (len - i));
        __m512i v = _mm512_maskz_loadu_epi8(m, p + i);
        uint64_t Q = _mm512_mask_cmpeq_epi8_mask(m, v, vq);
        uint64_t L = _mm512_mask_cmpeq_epi8_mask(m, v, vl);
        uint64_t C = _mm512_mask_cmpeq_epi8_mask(m, v, vc);
        uint64_t D = _mm512_mask_cmpeq_epi8_mask(m, v, vd);
        uint64_t in = (uint64_t)_mm_cvtsi128_si64(
                          _mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)Q), _mm_set1_epi8(-1), 0)) ^
                      in_carry;
        uint64_t seps = D | L | C;
        odd |= Q & in & ~((seps << 1) | sep_carry) & ~((Q << 1) | q_carry);
        in_carry = (uint64_t)((int64_t)in >> 63);
        sep_carry = seps >> 63;
        q_carry = Q >> 63;
        /* a CR followed by an LF is no line end of its own */
        uint64_t lf_next = (L >> 1) | (uint64_t)(i + 64 < len && p[i + 64] == '\n') << 63;
        uint64_t lone = C & ~lf_next;
        if (!at_eof && len - i <= 64)
            lone &= ~(1ull << (len - i - 1)); /* the last byte: not known yet */
        uint64_t B = L | lone, E = B & ~in;
        if (E) {
            unsigned hi = 63u - (unsigned)__builtin_clzll(E);
            end = i + hi + 1;
            breaks_at_end = breaks + (uint64_t)__builtin_popcountll(B & (~0ull >> (63 - hi)));
        }
        breaks += (uint64_t)__builtin_popcountll(B);
    }
    if (odd)
        return -1;
    if (at_eof) {
        *last = len;
        *lines = breaks;
    } else {
        *last = end;
        *lines = breaks_at_end;
    }
    return 0;
}
#endif

/* The splitter walks the quoting state machine of parse_record (a quote
 * opens a quoted field only at the start of a field; "" inside is an
 * escaped quote), so it finds the same record ends as the parser, also
 * with --lazy-quotes. Input without any quote takes a memrchr. */
size_t km_csv_split(const char *p, size_t len, char delim, int at_eof, int first_only,
                    uint64_t *lines)
{
    size_t last = 0;
    int other;
    uint64_t nl = first_only ? 0 : count_lf(p, len, &other);
    if (!first_only && !other) {
        /* no quote, no CR: the last LF ends the last whole record, and
         * the lines are the LFs before it */
        const char *e = memrchr(p, '\n', len);
        last = e ? (size_t)(e - p) + 1 : 0;
        if (at_eof)
            last = len;
        *lines = nl;
        return last;
    }
#ifdef COUNT_LF512
    if (!first_only && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("pclmul") &&
        split512(p, len, delim, at_eof, &last, lines) == 0)
        return last;
#endif
    if (!first_only && !memchr(p, '"', len)) {
        for (size_t i = len; i > 0; i--) {
            char ch = p[i - 1];
            if (ch == '\n' || (ch == '\r' && (i < len || at_eof))) {
                last = i;
                break;
            }
        }
    } else {
        int inq = 0, fstart = 1;
        for (size_t i = 0; i < len; i++) {
            char ch = p[i];
            if (inq) {
                if (ch == '"') {
                    if (i + 1 == len && !at_eof)
                        break; /* "" or a closing quote: not known yet */
                    if (i + 1 < len && p[i + 1] == '"')
                        i++;
                    else
                        inq = 0;
                }
                continue;
            }
            if (ch == '"' && fstart) {
                inq = 1;
                fstart = 0;
            } else if (ch == delim) {
                fstart = 1;
            } else if (ch == '\n') {
                last = i + 1;
                fstart = 1;
                if (first_only)
                    break;
            } else if (ch == '\r') {
                if (i + 1 == len && !at_eof)
                    break; /* a CRLF may continue in the next read */
                if (i + 1 == len || p[i + 1] != '\n') {
                    last = i + 1;
                    if (first_only)
                        break;
                }
                fstart = 1;
            } else {
                fstart = 0;
            }
        }
    }
    if (at_eof && !(first_only && last))
        last = len;
    uint64_t n = count_lf(p, last, &other);
    if (memchr(p, '\r', last))
        for (size_t i = 0; i < last; i++)
            n += p[i] == '\r' && (i + 1 == last || p[i + 1] != '\n');
    *lines = n;
    return last;
}

size_t km_csv_quote(char *dst, const char *s, size_t n)
{
    int quote = n == 0;
    for (size_t i = 0; i < n && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
    if (!quote) {
        memcpy(dst, s, n);
        return n;
    }
    size_t k = 0;
    dst[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            dst[k++] = '"';
        dst[k++] = s[i];
    }
    dst[k++] = '"';
    return k;
}

void km_csv_put_field(km_buf *b, const char *s, size_t n)
{
    size_t max = KM_CSV_QUOTED_MAX(n);
    unsigned char *p = km_buf_grow(b, max);
    if (p)
        b->len -= max - km_csv_quote((char *)p, s, n);
}
