/* strtab.c - string interning tables (see include/kmill/strtab.h). */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "kmill/strtab.h"

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

int km_strtab_intern(km_strtab *d, const char *s, uint32_t len, uint32_t limit, uint32_t *code)
{
    if (d->scap == 0 || (uint64_t)d->n * 2 >= d->scap) {
        uint32_t ncap = d->scap ? d->scap * 2 : 64;
        uint32_t *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return -1;
        for (uint32_t k = 0; k < d->n; k++) {
            uint64_t h = hash_bytes(d->arena + d->off[k], d->len[k]) & (ncap - 1);
            while (ns[h])
                h = (h + 1) & (ncap - 1);
            ns[h] = k + 1;
        }
        free(d->slot);
        d->slot = ns;
        d->scap = ncap;
    }
    uint64_t h = hash_bytes(s, len) & (d->scap - 1);
    while (d->slot[h]) {
        uint32_t k = d->slot[h] - 1;
        if (d->len[k] == len && memcmp(d->arena + d->off[k], s, len) == 0) {
            *code = k;
            return 0;
        }
        h = (h + 1) & (d->scap - 1);
    }
    if (d->n >= limit)
        return 1;
    if (d->n == d->ncap) {
        uint32_t ncap = d->ncap ? d->ncap * 2 : 16;
        uint32_t *no = realloc(d->off, ncap * sizeof *no);
        if (no)
            d->off = no;
        uint32_t *nl = realloc(d->len, ncap * sizeof *nl);
        if (nl)
            d->len = nl;
        if (!no || !nl)
            return -1;
        d->ncap = ncap;
    }
    /* the arena exists from the first string on, the empty one too: code
     * 0 = "" must not leave it NULL, or every arena + off[k] (here and in
     * the callers) would offset a null pointer */
    if (!d->arena || d->alen + len > d->acap) {
        size_t ncap = d->acap ? d->acap * 2 : 4096;
        while (ncap < d->alen + len)
            ncap *= 2;
        char *na = realloc(d->arena, ncap);
        if (!na)
            return -1;
        d->arena = na;
        d->acap = ncap;
    }
    memcpy(d->arena + d->alen, s, len);
    d->off[d->n] = (uint32_t)d->alen;
    d->len[d->n] = len;
    d->alen += len;
    d->slot[h] = d->n + 1;
    *code = d->n++;
    return 0;
}

void km_strtab_clear(km_strtab *d)
{
    d->n = 0;
    d->alen = 0;
    if (d->slot)
        memset(d->slot, 0, d->scap * sizeof *d->slot);
}

void km_strtab_free(km_strtab *d)
{
    free(d->arena);
    free(d->off);
    free(d->len);
    free(d->slot);
}
