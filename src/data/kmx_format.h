/* kmx_format.h - byte layout of the .kmx file shared by its writer and
 * reader (private to src/data). Multi-byte fields are little-endian; the
 * put/get helpers spell that out instead of relying on the host order. */
#ifndef KMILL_KMX_FORMAT_H
#define KMILL_KMX_FORMAT_H

#include <stdint.h>
#include <string.h>

/* Headers go through put/get below, but chunk payloads are the host's
 * float32 bytes as they are: correct on little-endian hosts only. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .kmx writer and reader need a little-endian host (payloads are not byte-swapped)"
#endif

#define KMX_SIGNATURE "\x89KMX\r\n\x1a\n"
#define KMX_END_MAGIC "KMXEND\r\n"
#define KMX_ALIGN 4096u
#define KMX_HEADER_SIZE 64u
#define KMX_CHUNK_HEADER_SIZE 48u
#define KMX_CHUNK_TAG 0x43584D4Bu /* "KMXC" */
#define KMX_META_TAG 0x4D584D4Bu  /* "KMXM" */
#define KMX_FOOTER_SIZE 64u
#define KMX_INDEX_ENTRY_SIZE 40u
#define KMX_CHUNK_STAT_SIZE 32u   /* per column per chunk */
#define KMX_DTYPE_F32 1u
#define KMX_KNOWN_REQUIRED 0u     /* no required feature bits in 1.0 */
#define KMX_MAX_CHUNK_RAW (256u << 20)

static inline void put_u16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); }
static inline void put_u32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static inline void put_u64(unsigned char *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static inline void put_f32(unsigned char *p, float f) { uint32_t v; memcpy(&v, &f, 4); put_u32(p, v); }
static inline void put_f64(unsigned char *p, double f) { uint64_t v; memcpy(&v, &f, 8); put_u64(p, v); }
static inline uint16_t get_u16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get_u32(const unsigned char *p) { uint32_t v = 0; for (int i = 3; i >= 0; i--) v = v << 8 | p[i]; return v; }
static inline uint64_t get_u64(const unsigned char *p) { uint64_t v = 0; for (int i = 7; i >= 0; i--) v = v << 8 | p[i]; return v; }
static inline float get_f32(const unsigned char *p) { uint32_t v = get_u32(p); float f; memcpy(&f, &v, 4); return f; }
static inline double get_f64(const unsigned char *p) { uint64_t v = get_u64(p); double f; memcpy(&f, &v, 8); return f; }

/* Byte shuffle of n 4-byte values: all first bytes, then all second bytes... */
void kmx_shuffle(unsigned char *dst, const unsigned char *src, size_t n);
void kmx_unshuffle(unsigned char *dst, const unsigned char *src, size_t n);

#endif
