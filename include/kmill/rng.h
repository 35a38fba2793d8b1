/* rng.h - a small deterministic random generator (xoshiro256**, seeded by
 * splitmix64). State lives in the caller's struct: no global state, and a
 * given seed gives the same stream on every machine. */
#ifndef KMILL_RNG_H
#define KMILL_RNG_H

#include <stdint.h>

typedef struct km_rng {
    uint64_t s[4];
} km_rng;

static inline uint64_t km_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline void km_rng_seed(km_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = km_splitmix64(&seed);
}

static inline uint64_t km_rng_next(km_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = ((x << 7) | (x >> 57)) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform integer in [0, n), n > 0, without modulo bias (Lemire). */
static inline uint64_t km_rng_below(km_rng *r, uint64_t n)
{
    __uint128_t m = (__uint128_t)km_rng_next(r) * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            m = (__uint128_t)km_rng_next(r) * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

/* Uniform double in [0, 1). */
static inline double km_rng_uniform(km_rng *r)
{
    return (double)(km_rng_next(r) >> 11) * 0x1.0p-53;
}

/* n distinct integers drawn uniformly from [0, N), n <= N, sorted
 * ascending, into out. The same (N, n, seed) always gives the same set.
 * Returns 0, or KM_ENOMEM (no message: the caller words it). (src/core/rng.c) */
int km_sample_indices(uint64_t N, uint64_t n, uint64_t seed, uint64_t *out);

#endif
