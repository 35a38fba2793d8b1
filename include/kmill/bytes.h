/* bytes.h - little-endian encoding for kmill's file formats: put/get of
 * fixed-size fields, a growing output buffer, and a bounds-checked input
 * cursor whose errors are sticky (check ->bad once at the end instead of
 * after every field). Strings are a u32 length and the bytes. */
#ifndef KMILL_BYTES_H
#define KMILL_BYTES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

typedef struct km_buf {
    unsigned char *p;
    size_t len, cap;
    int oom;              /* sticky: an allocation failed */
} km_buf;

/* n more bytes at the end (NULL once out of memory). */
unsigned char *km_buf_grow(km_buf *b, size_t n);
void km_buf_u32(km_buf *b, uint32_t v);
void km_buf_u64(km_buf *b, uint64_t v);
void km_buf_f64(km_buf *b, double v);
void km_buf_str(km_buf *b, const void *s, uint32_t n);     /* length, then bytes */
void km_buf_raw(km_buf *b, const void *s, size_t n);

typedef struct km_cur {
    const unsigned char *p, *end;
    int bad;              /* sticky: read past the end, or out of memory */
} km_cur;

const unsigned char *km_cur_take(km_cur *c, size_t n);
uint32_t km_cur_u32(km_cur *c);
uint64_t km_cur_u64(km_cur *c);
double km_cur_f64(km_cur *c);
/* A length-prefixed string, NUL-terminated in a new allocation. */
char *km_cur_str(km_cur *c, uint32_t *len);

/* n bytes of p in a new allocation, with a NUL after them (not counted):
 * a value that carries its length keeps all of it, NUL bytes included,
 * where strndup would stop at the first and leave the length wrong. */
char *km_memdup(const void *p, size_t n);

#endif
