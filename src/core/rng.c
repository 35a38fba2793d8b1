/* rng.c - uniform sampling without replacement (see include/kmill/rng.h). */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "kmill/error.h"
#include "kmill/rng.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int km_sample_indices(uint64_t N, uint64_t n, uint64_t seed, uint64_t *out)
{
    km_rng r;
    km_rng_seed(&r, seed);
    if (n > N)
        n = N;
    if (n * 4 >= N) {
        /* selection sampling (Knuth's algorithm S): linear in N, sorted */
        uint64_t got = 0;
        for (uint64_t i = 0; i < N && got < n; i++)
            if (km_rng_below(&r, N - i) < n - got)
                out[got++] = i;
        return 0;
    }
    /* Floyd's algorithm: n draws, a hash set to spot repeats, then a sort */
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint64_t *set = malloc(cap * sizeof *set);
    if (!set)
        return KM_ENOMEM;
    memset(set, 0xff, cap * sizeof *set); /* UINT64_MAX marks empty */
    uint64_t got = 0;
    for (uint64_t j = N - n; j < N; j++) {
        uint64_t cand = km_rng_below(&r, j + 1);
        for (;;) {
            uint64_t h = (cand * 0x9E3779B97F4A7C15ull) & (cap - 1);
            while (set[h] != UINT64_MAX && set[h] != cand)
                h = (h + 1) & (cap - 1);
            if (set[h] == UINT64_MAX) {
                set[h] = cand;
                out[got++] = cand;
                break;
            }
            cand = j; /* already drawn: take j, which cannot have been */
        }
    }
    free(set);
    qsort(out, n, sizeof *out, cmp_u64);
    return 0;
}
