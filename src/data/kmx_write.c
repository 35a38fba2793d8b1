/* kmx_write.c - the .kmx writer (see include/kmill/kmx.h, formats/kmx.md).
 *
 * The caller fills a chunk buffer and hands it over; a pool job computes the
 * chunk's column statistics, picks the filter, compresses and checksums it,
 * while the caller fills the next buffer. Finished chunks are written in
 * order by the caller's thread, so the file is laid out sequentially and
 * memory stays at a few chunks whatever the input size. */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "kmill/crc32c.h"
#include "kmill/kmx.h"
#include "kmill/outfile.h"
#include "kmx_format.h"

struct slot {
    float *raw;
    unsigned char *shuf;     /* scratch for the shuffled copy */
    unsigned char *out;      /* chunk header + payload + stats block */
    size_t out_cap, out_len;
    uint32_t nrows;
    uint64_t first_row;
    km_colstats *st;         /* per column */
    float *smin, *smax;      /* per column scratch of chunk_stats */
    double *ssum, *ssq;
    uint32_t *smiss;
    km_job *job;
    int rc;
    char err[200];
    km_kmx_writer *w;
};

struct km_kmx_writer {
    km_ctx *ctx;
    km_outfile of;
    uint32_t ncols, rpc;
    km_kmx_wopts o;
    struct slot *slots;
    int nslots, head, count;
    ZSTD_CCtx **cctx;
    int ncctx;
    km_kmx_chunk *index;
    uint64_t nchunks, icap, rows;
    km_colstats *stats;
    int failed;
};

/* The byte shuffle (Blosc's filter): all first bytes of the n 4-byte
 * values, then all second bytes, ... Runs on every chunk written and read,
 * so both directions work on blocks of 16 values on x86: SSSE3 (chosen at
 * run time) to gather, SSE2 (baseline on x86-64) to interleave. */
static void shuffle_tail(unsigned char *dst, const unsigned char *src, size_t n, size_t i)
{
    for (; i < n; i++)
        for (int b = 0; b < 4; b++)
            dst[(size_t)b * n + i] = src[4 * i + (size_t)b];
}

#if defined(__x86_64__) || defined(__i386__)
/* 16 values at a time: pshufb gathers each 4 values' bytes by plane, then
 * a 4x4 transpose of 32-bit lanes puts 16 bytes of each plane together. */
__attribute__((target("ssse3"))) static void shuffle_ssse3(unsigned char *dst,
                                                          const unsigned char *src, size_t n)
{
    const __m128i g = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i a = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + 4 * i)), g);
        __m128i b = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + 4 * i + 16)), g);
        __m128i c = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + 4 * i + 32)), g);
        __m128i d = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(src + 4 * i + 48)), g);
        __m128i t0 = _mm_unpacklo_epi32(a, b), t1 = _mm_unpackhi_epi32(a, b);
        __m128i t2 = _mm_unpacklo_epi32(c, d), t3 = _mm_unpackhi_epi32(c, d);
        _mm_storeu_si128((__m128i *)(dst + i), _mm_unpacklo_epi64(t0, t2));
        _mm_storeu_si128((__m128i *)(dst + n + i), _mm_unpackhi_epi64(t0, t2));
        _mm_storeu_si128((__m128i *)(dst + 2 * n + i), _mm_unpacklo_epi64(t1, t3));
        _mm_storeu_si128((__m128i *)(dst + 3 * n + i), _mm_unpackhi_epi64(t1, t3));
    }
    shuffle_tail(dst, src, n, i);
}
#endif

void kmx_shuffle(unsigned char *dst, const unsigned char *src, size_t n)
{
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("ssse3")) {
        shuffle_ssse3(dst, src, n);
        return;
    }
#endif
    shuffle_tail(dst, src, n, 0);
}

void kmx_unshuffle_range(unsigned char *dst, const unsigned char *src, size_t n, size_t from,
                         size_t count)
{
    size_t i = from, end = from + count;
#ifdef __SSE2__
    for (; i + 16 <= end; i += 16) {
        __m128i b0 = _mm_loadu_si128((const __m128i *)(src + i));
        __m128i b1 = _mm_loadu_si128((const __m128i *)(src + n + i));
        __m128i b2 = _mm_loadu_si128((const __m128i *)(src + 2 * n + i));
        __m128i b3 = _mm_loadu_si128((const __m128i *)(src + 3 * n + i));
        __m128i lo01 = _mm_unpacklo_epi8(b0, b1), hi01 = _mm_unpackhi_epi8(b0, b1);
        __m128i lo23 = _mm_unpacklo_epi8(b2, b3), hi23 = _mm_unpackhi_epi8(b2, b3);
        _mm_storeu_si128((__m128i *)(dst + 4 * i), _mm_unpacklo_epi16(lo01, lo23));
        _mm_storeu_si128((__m128i *)(dst + 4 * i + 16), _mm_unpackhi_epi16(lo01, lo23));
        _mm_storeu_si128((__m128i *)(dst + 4 * i + 32), _mm_unpacklo_epi16(hi01, hi23));
        _mm_storeu_si128((__m128i *)(dst + 4 * i + 48), _mm_unpackhi_epi16(hi01, hi23));
    }
#endif
    for (; i < end; i++)
        for (int b = 0; b < 4; b++)
            dst[4 * i + (size_t)b] = src[(size_t)b * n + i];
}

void kmx_unshuffle(unsigned char *dst, const unsigned char *src, size_t n)
{
    kmx_unshuffle_range(dst, src, n, 0, n);
}

/* The loops over every value of a chunk (KMX_HOT) are written branch-free,
 * so the compiler vectorises them across columns. Two loops, because GCC
 * vectorises each but not the two fused. */
KMX_HOT static void stats_rows(const float *restrict x, uint32_t nrows, uint32_t ncols,
                               float *restrict mn, float *restrict mx, double *restrict sum,
                               double *restrict sq, uint32_t *restrict miss)
{
    for (uint32_t r = 0; r < nrows; r++) {
        const float *row = x + (size_t)r * ncols;
        for (uint32_t j = 0; j < ncols; j++) {
            float v = row[j];
            mn[j] = v < mn[j] ? v : mn[j]; /* NaN compares false: skipped */
            mx[j] = v > mx[j] ? v : mx[j];
            miss[j] += v != v;
        }
    }
    for (uint32_t r = 0; r < nrows; r++) {
        const float *row = x + (size_t)r * ncols;
        for (uint32_t j = 0; j < ncols; j++) {
            float v = row[j], z;
            uint32_t b;
            memcpy(&b, &v, 4);
            b &= -(uint32_t)(v == v); /* NaN -> 0, without a branch */
            memcpy(&z, &b, 4);
            double d = z;
            sum[j] += d;
            sq[j] += d * d;
        }
    }
}

static void chunk_stats(struct slot *s, uint32_t ncols)
{
    float *mn = s->smin, *mx = s->smax;
    for (uint32_t j = 0; j < ncols; j++) {
        mn[j] = INFINITY;
        mx[j] = -INFINITY;
        s->ssum[j] = s->ssq[j] = 0;
        s->smiss[j] = 0;
    }
    stats_rows(s->raw, s->nrows, ncols, mn, mx, s->ssum, s->ssq, s->smiss);
    for (uint32_t j = 0; j < ncols; j++) {
        km_colstats *st = &s->st[j];
        st->min = mn[j];
        st->max = mx[j];
        st->sum = s->ssum[j];
        st->sumsq = s->ssq[j];
        st->missing = s->smiss[j];
        st->count = s->nrows - s->smiss[j];
    }
}

/* Both give up at the first block of 1024 values that is not exact, so
 * float data costs little. */
KMX_HOT static unsigned narrow_u8(const float *restrict v, size_t n, uint8_t *restrict o)
{
    unsigned bad = 0;
    for (size_t b = 0; b < n && !bad; b += 1024) {
        size_t e = n - b < 1024 ? n : b + 1024;
        for (size_t i = b; i < e; i++) {
            o[i] = (uint8_t)v[i];
            bad |= ((float)o[i] != v[i]) | (unsigned)signbit(v[i]);
        }
    }
    return bad;
}

KMX_HOT static unsigned narrow_i16(const float *restrict v, size_t n, int16_t *restrict o)
{
    unsigned bad = 0;
    for (size_t b = 0; b < n && !bad; b += 1024) {
        size_t e = n - b < 1024 ? n : b + 1024;
        for (size_t i = b; i < e; i++) {
            o[i] = (int16_t)v[i];
            bad |= ((float)o[i] != v[i]) | (unsigned)(o[i] == 0 && signbit(v[i]));
        }
    }
    return bad;
}

static size_t zc(ZSTD_CCtx *c, void *dst, size_t cap, const void *src, size_t len, int *err)
{
    size_t r = ZSTD_compress2(c, dst, cap, src, len);
    if (ZSTD_isError(r)) {
        *err = 1;
        return 0;
    }
    return r;
}

/* Integer narrowing: when every value of the chunk is an integer that fits
 * 8 or 16 bits (pixels, counts, codes, one-hot data), store those bytes
 * instead of floats: lossless, and zstd then has a quarter or half of the
 * bytes to compress. Needs the chunk's statistics (no NaN, the range). The
 * narrowed values go to s->shuf; returns the filter, with its byte length. */
static int narrow(struct slot *s, uint32_t ncols, size_t *len)
{
    double mn = INFINITY, mx = -INFINITY;
    for (uint32_t j = 0; j < ncols; j++) {
        if (s->st[j].missing)
            return KMX_FILTER_NONE;
        if (s->st[j].count) {
            mn = s->st[j].min < mn ? s->st[j].min : mn;
            mx = s->st[j].max > mx ? s->st[j].max : mx;
        }
    }
    size_t n = (size_t)s->nrows * ncols;
    const float *v = s->raw;
    /* (the range is checked first: out-of-range float to int is undefined) */
    if (mn >= 0 && mx <= 255 && !narrow_u8(v, n, s->shuf)) {
        *len = n;
        return KMX_FILTER_U8;
    }
    if (mn >= -32768 && mx <= 32767 && !narrow_i16(v, n, (int16_t *)(void *)s->shuf)) {
        *len = 2 * n; /* little-endian host: the int16 bytes as stored */
        return KMX_FILTER_I16;
    }
    return KMX_FILTER_NONE;
}

/* Pool job: statistics, filter choice, compression, checksums. */
static void compress_chunk(void *arg, size_t i, int worker)
{
    struct slot *s = arg;
    km_kmx_writer *w = s->w;
    ZSTD_CCtx *cc = w->cctx[worker];
    uint32_t ncols = w->ncols;
    size_t nvals = (size_t)s->nrows * ncols, raw_len = nvals * 4;
    int zerr = 0;

    chunk_stats(s, ncols);

    const void *src = s->raw;
    size_t src_len = raw_len;
    int filter = narrow(s, ncols, &src_len);
    if (filter != KMX_FILTER_NONE) {
        src = s->shuf;
    } else if (w->o.shuffle == KMX_SHUFFLE_ON) {
        filter = KMX_FILTER_SHUFFLE;
    } else if (w->o.shuffle == KMX_SHUFFLE_AUTO) {
        /* Trial on a 64 KiB slice from the middle of the chunk: shuffling
         * helps most float data but can halve the ratio of quantised data,
         * so measure. In a whole chunk each shuffled byte plane fills zstd
         * blocks of its own, so the trial compresses the sample's planes
         * separately too (as one buffer they would share one entropy table
         * and mislead the choice). */
        size_t sn = nvals < 16384 ? nvals : 16384, a, b = 0;
        const float *at = s->raw + (nvals - sn) / 2;
        unsigned char *dst = s->out + KMX_CHUNK_HEADER_SIZE;
        size_t cap = s->out_cap - KMX_CHUNK_HEADER_SIZE;
        kmx_shuffle(s->shuf, (const unsigned char *)at, sn);
        a = zc(cc, dst, cap, at, sn * 4, &zerr);
        for (int k = 0; k < 4; k++)
            b += zc(cc, dst, cap, s->shuf + (size_t)k * sn, sn, &zerr);
        if (b < a)
            filter = KMX_FILTER_SHUFFLE;
    }
    if (filter == KMX_FILTER_SHUFFLE) {
        kmx_shuffle(s->shuf, (const unsigned char *)s->raw, nvals);
        src = s->shuf;
    }
    unsigned char *payload = s->out + KMX_CHUNK_HEADER_SIZE;
    size_t comp = zc(cc, payload, s->out_cap - KMX_CHUNK_HEADER_SIZE - (size_t)ncols * KMX_CHUNK_STAT_SIZE,
                     src, src_len, &zerr);
    if (zerr) {
        snprintf(s->err, sizeof s->err, "zstd compression failed");
        s->rc = KM_EIO;
        return;
    }
    unsigned char *stb = payload + comp;
    for (uint32_t j = 0; j < ncols; j++) {
        unsigned char *p = stb + (size_t)j * KMX_CHUNK_STAT_SIZE;
        const km_colstats *st = &s->st[j];
        put_f32(p + KMX_STAT_MIN, (float)st->min);
        put_f32(p + KMX_STAT_MAX, (float)st->max);
        put_f64(p + KMX_STAT_SUM, st->sum);
        put_f64(p + KMX_STAT_SUMSQ, st->sumsq);
        put_u32(p + KMX_STAT_MISSING, (uint32_t)st->missing);
        put_u32(p + KMX_STAT_RESERVED, 0);
    }
    unsigned char *h = s->out;
    memset(h, 0, KMX_CHUNK_HEADER_SIZE);
    put_u32(h + KMX_CHDR_TAG, KMX_CHUNK_TAG);
    put_u32(h + KMX_CHDR_NROWS, s->nrows);
    put_u64(h + KMX_CHDR_FIRST_ROW, s->first_row);
    put_u32(h + KMX_CHDR_RAW_LEN, (uint32_t)raw_len);
    put_u32(h + KMX_CHDR_COMP_LEN, (uint32_t)comp);
    put_u32(h + KMX_CHDR_PAYLOAD_CRC, km_crc32c(0, payload, comp));
    put_u32(h + KMX_CHDR_STATS_CRC, km_crc32c(0, stb, (size_t)ncols * KMX_CHUNK_STAT_SIZE));
    h[KMX_CHDR_FILTER] = (unsigned char)filter;
    put_u32(h + KMX_CHDR_CRC, km_crc32c(0, h, KMX_CHDR_CRC));
    s->out_len = KMX_CHUNK_HEADER_SIZE + comp + (size_t)ncols * KMX_CHUNK_STAT_SIZE;
    s->rc = 0;
}

uint32_t km_kmx_default_chunk_rows(uint64_t ncols)
{
    uint64_t rows = KMX_CHUNK_BYTES / (4 * ncols);
    if (rows < KMX_MIN_CHUNK_ROWS)
        rows = KMX_MIN_CHUNK_ROWS;
    if (rows * 4 * ncols > KMX_MAX_CHUNK_RAW)
        rows = KMX_MAX_CHUNK_RAW / (4 * ncols);
    return rows ? (uint32_t)rows : 1;
}

int km_kmx_create(km_ctx *ctx, const char *path, uint32_t ncols, const km_kmx_wopts *o,
                  km_kmx_writer **out)
{
    if (ncols == 0)
        return km_seterr(&ctx->err, KM_EINVAL, "a dataset needs at least one column");
    km_kmx_writer *w = calloc(1, sizeof *w);
    if (!w)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    w->ctx = ctx;
    w->ncols = ncols;
    w->o = *o;
    w->of.fd = -1;
    uint64_t rpc = o->rows_per_chunk ? o->rows_per_chunk : km_kmx_default_chunk_rows(ncols);
    if (rpc * ncols * 4 > KMX_MAX_CHUNK_RAW)
        rpc = KMX_MAX_CHUNK_RAW / (4ull * ncols);
    if (rpc == 0) {
        free(w);
        return km_seterr(&ctx->err, KM_ELIMIT, "too many columns (%u) for one chunk", ncols);
    }
    w->rpc = (uint32_t)rpc;
    int workers = km_pool_workers(o->pool);
    w->nslots = workers + 2;
    w->ncctx = workers + 1;
    w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
    w->cctx = calloc((size_t)w->ncctx, sizeof *w->cctx);
    w->stats = calloc(ncols, sizeof *w->stats);
    int bad = !w->slots || !w->cctx || !w->stats;
    size_t raw_len = (size_t)w->rpc * ncols * 4;
    for (int i = 0; i < w->nslots && !bad; i++) {
        struct slot *s = &w->slots[i];
        s->w = w;
        s->raw = malloc(raw_len);
        s->shuf = malloc(raw_len); /* shuffled or narrowed copy */
        s->out_cap = KMX_CHUNK_HEADER_SIZE + ZSTD_compressBound(raw_len) + (size_t)ncols * KMX_CHUNK_STAT_SIZE;
        s->out = malloc(s->out_cap);
        s->st = calloc(ncols, sizeof *s->st);
        s->smin = malloc(ncols * sizeof *s->smin);
        s->smax = malloc(ncols * sizeof *s->smax);
        s->ssum = malloc(ncols * sizeof *s->ssum);
        s->ssq = malloc(ncols * sizeof *s->ssq);
        s->smiss = malloc(ncols * sizeof *s->smiss);
        bad = !s->raw || !s->out || !s->st || !s->shuf || !s->smin || !s->smax || !s->ssum ||
              !s->ssq || !s->smiss;
    }
    for (int i = 0; i < w->ncctx && !bad; i++) {
        w->cctx[i] = ZSTD_createCCtx();
        bad = !w->cctx[i] ||
              ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx[i], ZSTD_c_compressionLevel, o->level)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx[i], ZSTD_c_checksumFlag, 1));
    }
    for (uint32_t j = 0; j < ncols && !bad; j++)
        km_colstats_init(&w->stats[j]);
    if (bad) {
        km_kmx_abort(w);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory allocating chunk buffers");
    }
    int rc = km_outfile_open(ctx, &w->of, path);
    if (rc) {
        km_kmx_abort(w);
        return rc;
    }
    unsigned char hdr[KMX_HEADER_SIZE];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr + KMX_HDR_SIGNATURE, KMX_SIGNATURE, KMX_MAGIC_LEN);
    put_u16(hdr + KMX_HDR_MAJOR, KMX_MAJOR);
    put_u16(hdr + KMX_HDR_MINOR, KMX_MINOR);
    put_u32(hdr + KMX_HDR_SIZE, KMX_HEADER_SIZE);
    put_u32(hdr + KMX_HDR_REQUIRED, 0);
    put_u32(hdr + KMX_HDR_OPTIONAL, 0);
    put_u32(hdr + KMX_HDR_NCOLS, ncols);
    put_u32(hdr + KMX_HDR_ROWS_PER_CHUNK, w->rpc);
    put_u32(hdr + KMX_HDR_ALIGN, KMX_ALIGN);
    hdr[KMX_HDR_DTYPE] = KMX_DTYPE_F32;
    put_u32(hdr + KMX_HDR_CRC, km_crc32c(0, hdr, KMX_HDR_CRC));
    if ((rc = km_outfile_write(&w->of, hdr, sizeof hdr)) || (rc = km_outfile_pad(&w->of, KMX_ALIGN))) {
        km_kmx_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

float *km_kmx_buffer(km_kmx_writer *w)
{
    return w->slots[(w->head + w->count) % w->nslots].raw;
}

uint32_t km_kmx_chunk_rows(const km_kmx_writer *w)
{
    return w->rpc;
}

uint64_t km_kmx_written(const km_kmx_writer *w)
{
    return w->of.size;
}

/* Wait for the oldest pending chunk and append it to the file. */
static int flush_oldest(km_kmx_writer *w)
{
    struct slot *s = &w->slots[w->head];
    km_pool_wait(w->o.pool, s->job);
    s->job = NULL;
    w->head = (w->head + 1) % w->nslots;
    w->count--;
    if (s->rc)
        return km_seterr(&w->ctx->err, s->rc, "%s", s->err);
    if (w->nchunks == w->icap) {
        uint64_t ncap = w->icap ? w->icap * 2 : 64;
        km_kmx_chunk *ni = realloc(w->index, ncap * sizeof *ni);
        if (!ni)
            return km_seterr(&w->ctx->err, KM_ENOMEM, "out of memory");
        w->index = ni;
        w->icap = ncap;
    }
    const unsigned char *h = s->out;
    km_kmx_chunk *e = &w->index[w->nchunks++];
    e->offset = w->of.size;
    e->first_row = s->first_row;
    e->nrows = s->nrows;
    e->raw_len = get_u32(h + KMX_CHDR_RAW_LEN);
    e->comp_len = get_u32(h + KMX_CHDR_COMP_LEN);
    e->crc = get_u32(h + KMX_CHDR_PAYLOAD_CRC);
    e->stats_crc = get_u32(h + KMX_CHDR_STATS_CRC);
    e->filter = h[KMX_CHDR_FILTER];
    for (uint32_t j = 0; j < w->ncols; j++)
        km_colstats_merge(&w->stats[j], &s->st[j]);
    int rc = km_outfile_write(&w->of, s->out, s->out_len);
    if (!rc)
        rc = km_outfile_pad(&w->of, KMX_ALIGN);
    return rc;
}

int km_kmx_put(km_kmx_writer *w, uint32_t nrows)
{
    if (w->failed)
        return w->ctx->err.code ? w->ctx->err.code : KM_EIO;
    if (nrows == 0)
        return 0;
    struct slot *s = &w->slots[(w->head + w->count) % w->nslots];
    s->nrows = nrows;
    s->first_row = w->rows;
    s->rc = 0;
    w->rows += nrows;
    s->job = km_pool_submit(w->o.pool, 1, compress_chunk, s);
    if (!s->job) {
        w->failed = 1;
        return km_seterr(&w->ctx->err, KM_ENOMEM, "out of memory");
    }
    w->count++;
    if (w->count == w->nslots) {
        int rc = flush_oldest(w);
        if (rc) {
            w->failed = 1;
            return rc;
        }
    }
    return 0;
}

/* Everything after the chunks: metadata, index, footer. */
static int write_trailer(km_kmx_writer *w, km_schema *schema, const km_kmx_source *src)
{
    int rc = 0;
    if (w->failed)
        return w->ctx->err.code ? w->ctx->err.code : KM_EIO;
    while (w->count > 0)
        if ((rc = flush_oldest(w)))
            return rc;
    if (schema->ncols != w->ncols)
        return km_seterr(&w->ctx->err, KM_EINVAL, "schema has %u columns, file %u", schema->ncols,
                         w->ncols);
    for (uint32_t j = 0; j < w->ncols; j++)
        schema->cols[j].stats = w->stats[j];

    km_buf m = {0};
    km_buf_u32(&m, KMX_META_TAG);
    km_buf_u32(&m, w->ncols);
    km_buf_u64(&m, w->rows);
    km_buf_u64(&m, src ? src->size : 0);
    km_buf_u64(&m, src ? (uint64_t)src->mtime : 0);
    km_buf_u32(&m, src ? src->head_crc : 0);
    const char *sname = src && src->name ? src->name : "";
    km_buf_str(&m, sname, (uint32_t)strlen(sname));
    for (uint32_t j = 0; j < w->ncols; j++) {
        const km_column *c = &schema->cols[j];
        km_buf_u32(&m, (uint32_t)c->type);
        km_buf_str(&m, c->name, (uint32_t)strlen(c->name));
        km_buf_u32(&m, c->nlevels);
        for (uint32_t k = 0; k < c->nlevels; k++)
            km_buf_str(&m, c->levels[k], c->level_len[k]);
        km_buf_f64(&m, c->stats.min);
        km_buf_f64(&m, c->stats.max);
        km_buf_f64(&m, c->stats.sum);
        km_buf_f64(&m, c->stats.sumsq);
        km_buf_u64(&m, c->stats.count);
        km_buf_u64(&m, c->stats.missing);
    }
    km_buf ix = {0};
    for (uint64_t k = 0; k < w->nchunks; k++) {
        const km_kmx_chunk *e = &w->index[k];
        unsigned char *p = km_buf_grow(&ix, KMX_INDEX_ENTRY_SIZE);
        if (!p)
            break;
        memset(p, 0, KMX_INDEX_ENTRY_SIZE);
        put_u64(p + KMX_IX_OFFSET, e->offset);
        put_u64(p + KMX_IX_FIRST_ROW, e->first_row);
        put_u32(p + KMX_IX_NROWS, e->nrows);
        put_u32(p + KMX_IX_RAW_LEN, e->raw_len);
        put_u32(p + KMX_IX_COMP_LEN, e->comp_len);
        put_u32(p + KMX_IX_PAYLOAD_CRC, e->crc);
        put_u32(p + KMX_IX_STATS_CRC, e->stats_crc);
        p[KMX_IX_FILTER] = e->filter;
    }
    if (m.oom || ix.oom) {
        free(m.p);
        free(ix.p);
        return km_seterr(&w->ctx->err, KM_ENOMEM, "out of memory");
    }
    unsigned char f[KMX_FOOTER_SIZE];
    memset(f, 0, sizeof f);
    uint64_t meta_off = w->of.size;
    put_u64(f + KMX_FTR_META_OFF, meta_off);
    put_u64(f + KMX_FTR_META_LEN, m.len);
    put_u64(f + KMX_FTR_IX_OFF, meta_off + m.len);
    put_u64(f + KMX_FTR_NCHUNKS, w->nchunks);
    put_u64(f + KMX_FTR_NROWS, w->rows);
    put_u32(f + KMX_FTR_META_CRC, km_crc32c(0, m.p, m.len));
    put_u32(f + KMX_FTR_IX_CRC, km_crc32c(0, ix.p, ix.len));
    put_u32(f + KMX_FTR_CRC, km_crc32c(0, f, KMX_FTR_CRC));
    memcpy(f + KMX_FTR_END_MAGIC, KMX_END_MAGIC, KMX_MAGIC_LEN);
    rc = km_outfile_write(&w->of, m.p, m.len);
    if (!rc && ix.len)
        rc = km_outfile_write(&w->of, ix.p, ix.len);
    if (!rc)
        rc = km_outfile_write(&w->of, f, sizeof f);
    free(m.p);
    free(ix.p);
    return rc;
}

int km_kmx_finish(km_kmx_writer *w, km_schema *schema, const km_kmx_source *src)
{
    int rc = write_trailer(w, schema, src);
    return rc ? rc : km_outfile_commit(&w->of);
}

int km_kmx_finish_temp(km_kmx_writer *w, km_schema *schema, const km_kmx_source *src,
                       char **tmp_path)
{
    int rc = write_trailer(w, schema, src);
    if (!rc) /* an anonymous temporary needs its name to be opened by it */
        rc = km_outfile_name_temp(&w->of);
    if (rc)
        return rc;
    if (close(w->of.fd) != 0) {
        w->of.fd = -1;
        return km_seterr(&w->ctx->err, km_errno_code(errno), "error writing %s: %s", w->of.path,
                         strerror(errno));
    }
    w->of.fd = -1;
    *tmp_path = w->of.tmp; /* the caller's now: km_kmx_abort leaves it */
    w->of.tmp = NULL;
    return 0;
}

void km_kmx_abort(km_kmx_writer *w)
{
    if (!w)
        return;
    /* finish the jobs still running: they use the slots freed below */
    for (int i = 0; i < w->count; i++) {
        struct slot *s = &w->slots[(w->head + i) % w->nslots];
        km_pool_wait(w->o.pool, s->job);
    }
    km_outfile_abort(&w->of);
    for (int i = 0; w->slots && i < w->nslots; i++) {
        free(w->slots[i].raw);
        free(w->slots[i].shuf);
        free(w->slots[i].out);
        free(w->slots[i].st);
        free(w->slots[i].smin);
        free(w->slots[i].smax);
        free(w->slots[i].ssum);
        free(w->slots[i].ssq);
        free(w->slots[i].smiss);
    }
    for (int i = 0; w->cctx && i < w->ncctx; i++)
        ZSTD_freeCCtx(w->cctx[i]);
    free(w->slots);
    free(w->cctx);
    free(w->index);
    free(w->stats);
    free(w);
}
