/* bytes.c - growing buffers and bounds-checked cursors (see kmill/bytes.h). */
#include "config.h"
#include <stdlib.h>

#include "kmill/bytes.h"

unsigned char *km_buf_grow(km_buf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->len + n)
            ncap *= 2;
        unsigned char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return NULL;
        }
        b->p = np;
        b->cap = ncap;
    }
    unsigned char *r = b->p + b->len;
    b->len += n;
    return r;
}

void km_buf_u32(km_buf *b, uint32_t v)
{
    unsigned char *p = km_buf_grow(b, 4);
    if (p)
        put_u32(p, v);
}

void km_buf_u64(km_buf *b, uint64_t v)
{
    unsigned char *p = km_buf_grow(b, 8);
    if (p)
        put_u64(p, v);
}

void km_buf_f64(km_buf *b, double v)
{
    unsigned char *p = km_buf_grow(b, 8);
    if (p)
        put_f64(p, v);
}

void km_buf_raw(km_buf *b, const void *s, size_t n)
{
    unsigned char *p = km_buf_grow(b, n);
    if (p && n)
        memcpy(p, s, n);
}

void km_buf_str(km_buf *b, const void *s, uint32_t n)
{
    km_buf_u32(b, n);
    km_buf_raw(b, s, n);
}

const unsigned char *km_cur_take(km_cur *c, size_t n)
{
    if (c->bad || (size_t)(c->end - c->p) < n) {
        c->bad = 1;
        return NULL;
    }
    const unsigned char *r = c->p;
    c->p += n;
    return r;
}

uint32_t km_cur_u32(km_cur *c)
{
    const unsigned char *p = km_cur_take(c, 4);
    return p ? get_u32(p) : 0;
}

uint64_t km_cur_u64(km_cur *c)
{
    const unsigned char *p = km_cur_take(c, 8);
    return p ? get_u64(p) : 0;
}

double km_cur_f64(km_cur *c)
{
    const unsigned char *p = km_cur_take(c, 8);
    return p ? get_f64(p) : 0;
}

char *km_memdup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

char *km_cur_str(km_cur *c, uint32_t *len)
{
    uint32_t n = km_cur_u32(c);
    const unsigned char *p = km_cur_take(c, n);
    if (!p)
        return NULL;
    char *s = km_memdup(p, n);
    if (!s) {
        c->bad = 1;
        return NULL;
    }
    if (len)
        *len = n;
    return s;
}
