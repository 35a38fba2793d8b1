/* crc32c.c - CRC-32C checksums (see include/kmill/crc32c.h).
 *
 * Two implementations of one function:
 *
 *  - hardware (x86 with SSE4.2): the crc32 instruction, 8 bytes at a time.
 *    Its latency is 3 cycles but it can start one per cycle, so a single
 *    dependency chain uses a third of the unit. Large buffers are therefore
 *    cut into three adjacent blocks checksummed as three independent chains
 *    and the partial CRCs are joined afterwards with a "shift by N zero
 *    bytes" table (CRCs are linear over GF(2), so crc(A||B) is crc(A) moved
 *    past |B| zero bytes, xor crc(B) started from 0). The function is
 *    compiled with target("sse4.2") rather than building the file with
 *    -msse4.2, so the binary stays portable and the choice is made at run
 *    time with __builtin_cpu_supports.
 *
 *  - portable: slicing-by-8 tables, used on other CPUs and by the tests as
 *    the reference the hardware path must agree with.
 *
 * All tables are filled once under pthread_once and are read-only after
 * that, so concurrent first calls are not a data race. */
#include "config.h"
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "kmill/crc32c.h"

#define POLY 0x82F63B78u /* reflected Castagnoli polynomial */

#if defined(__x86_64__) || defined(__i386__)
#define KM_CRC_HW 1
#include <nmmintrin.h>
#endif

/* Sizes of the three interleaved blocks on the hardware path. LONG keeps
 * the combine step (8 table lookups) negligible; SHORT lets buffers of a
 * few KiB profit from the interleaving too. */
#define LONG 8192
#define SHORT 256

struct tables {
    uint32_t sw[8][256]; /* sw[k][b]: byte b followed by k zero bytes */
#ifdef KM_CRC_HW
    uint32_t zlong[4][256];  /* move a CRC register past LONG zero bytes */
    uint32_t zshort[4][256]; /* ... past SHORT zero bytes */
    int hw;                  /* the CPU has SSE4.2 */
#endif
};

static struct tables tab; /* written only in init_tables, under once */
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

/* Advance the raw CRC register (no pre/post inversion) over p[0..len). */
static uint32_t sw_raw(uint32_t crc, const unsigned char *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = tab.sw[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        /* assembled byte by byte so the code is endian-neutral; compilers
         * turn this into one load on little-endian machines */
        uint32_t lo = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
                      (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        lo ^= crc;
        crc = tab.sw[7][lo & 0xff] ^ tab.sw[6][(lo >> 8) & 0xff] ^
              tab.sw[5][(lo >> 16) & 0xff] ^ tab.sw[4][lo >> 24] ^
              tab.sw[3][p[4]] ^ tab.sw[2][p[5]] ^ tab.sw[1][p[6]] ^ tab.sw[0][p[7]];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = tab.sw[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#ifdef KM_CRC_HW
/* Fill z so that shift(z, crc) moves a raw register past n zero bytes. The
 * operator is linear, so it is fixed by the images of the 32 unit vectors,
 * which the table code computes directly (n is small; this runs once). */
static void make_shift(uint32_t z[4][256], size_t n)
{
    static const unsigned char zeros[SHORT];
    uint32_t img[32];
    for (int i = 0; i < 32; i++) {
        uint32_t c = 1u << i;
        for (size_t left = n; left; ) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            c = sw_raw(c, zeros, k);
            left -= k;
        }
        img[i] = c;
    }
    for (int k = 0; k < 4; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int j = 0; j < 8; j++)
                if (b >> j & 1)
                    v ^= img[8 * k + j];
            z[k][b] = v;
        }
}

static inline uint32_t shift(const uint32_t z[4][256], uint32_t crc)
{
    return z[0][crc & 0xff] ^ z[1][(crc >> 8) & 0xff] ^
           z[2][(crc >> 16) & 0xff] ^ z[3][crc >> 24];
}
#endif

static void init_tables(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (POLY & (0u - (c & 1)));
        tab.sw[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++) {
            uint32_t c = tab.sw[k - 1][b];
            tab.sw[k][b] = (c >> 8) ^ tab.sw[0][c & 0xff];
        }
#ifdef KM_CRC_HW
    make_shift(tab.zlong, LONG);
    make_shift(tab.zshort, SHORT);
    /* needed if we run before the constructors, e.g. from another
     * library's constructor; harmless otherwise */
    __builtin_cpu_init();
    tab.hw = __builtin_cpu_supports("sse4.2") != 0;
#endif
}

#ifdef KM_CRC_HW
/* The instruction works on the native word: 8 bytes on x86-64, 4 on i386. */
#ifdef __x86_64__
typedef uint64_t hword;
#define HW_STEP(c, p) ((c) = _mm_crc32_u64((c), load_word(p)))
#else
typedef uint32_t hword;
#define HW_STEP(c, p) ((c) = _mm_crc32_u32((c), load_word(p)))
#endif

static inline hword load_word(const unsigned char *p)
{
    hword w;
    memcpy(&w, p, sizeof w); /* no alignment or aliasing assumptions */
    return w;
}

/* Three chains over adjacent blocks of `block` bytes each, joined with z. */
#define HW_TRIPLE(block, z)                                                \
    while (len >= 3 * (size_t)(block)) {                                   \
        hword c1 = 0, c2 = 0;                                              \
        const unsigned char *end = p + (block);                            \
        do {                                                               \
            HW_STEP(c0, p);                                                \
            HW_STEP(c1, p + (block));                                      \
            HW_STEP(c2, p + 2 * (block));                                  \
            p += sizeof(hword);                                            \
        } while (p < end);                                                 \
        c0 = shift((z), (uint32_t)c0) ^ (uint32_t)c1;                      \
        c0 = shift((z), (uint32_t)c0) ^ (uint32_t)c2;                      \
        p += 2 * (size_t)(block);                                          \
        len -= 3 * (size_t)(block);                                        \
    }

__attribute__((target("sse4.2")))
static uint32_t hw_raw(uint32_t crc, const unsigned char *p, size_t len)
{
    /* align so no word load straddles a cache line */
    while (len && ((uintptr_t)p & (sizeof(hword) - 1))) {
        crc = _mm_crc32_u8(crc, *p++);
        len--;
    }
    hword c0 = crc;
    HW_TRIPLE(LONG, tab.zlong)
    HW_TRIPLE(SHORT, tab.zshort)
    while (len >= sizeof(hword)) {
        HW_STEP(c0, p);
        p += sizeof(hword);
        len -= sizeof(hword);
    }
    crc = (uint32_t)c0;
    while (len--)
        crc = _mm_crc32_u8(crc, *p++);
    return crc;
}
#endif

uint32_t km_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&tab_once, init_tables);
    return ~sw_raw(~crc, buf, len);
}

uint32_t km_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&tab_once, init_tables);
#ifdef KM_CRC_HW
    if (tab.hw)
        return ~hw_raw(~crc, buf, len);
#endif
    return ~sw_raw(~crc, buf, len);
}
