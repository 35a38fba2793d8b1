/* strtab.h - a string interning table: each distinct string gets the next
 * code (0, 1, ...); the strings lie back to back in an arena and an
 * open-addressing hash finds them. Category dictionaries (global and
 * per parsed block) and column-name lookups use it. Strings may hold any
 * bytes, NUL included. */
#ifndef KMILL_STRTAB_H
#define KMILL_STRTAB_H

#include <stddef.h>
#include <stdint.h>

typedef struct km_strtab {
    char *arena;
    size_t alen, acap;
    uint32_t *off, *len;  /* per code */
    uint32_t n, ncap;
    uint32_t *slot;       /* hash: code + 1, 0 empty */
    uint32_t scap;
} km_strtab;              /* zero-initialised = empty */

/* The code of s in t, adding it when new: 0, or 1 when t already holds
 * `limit` strings and s is not one of them, or -1 when out of memory. */
int km_strtab_intern(km_strtab *t, const char *s, uint32_t len, uint32_t limit, uint32_t *code);
/* Forget the strings, keep the memory. */
void km_strtab_clear(km_strtab *t);
void km_strtab_free(km_strtab *t);

#endif
