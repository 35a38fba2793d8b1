/* hot.h - KM_HOT marks a hot loop for runtime dispatch: GCC compiles it
 * for x86-64-v4 (AVX-512), v3 (AVX2, FMA) and the baseline, and picks one
 * on the running CPU, so builds stay portable (no -march) yet use the wide
 * vector units. Also -O3 with fp-contract=fast and no-trapping-math (see
 * src/kern/kernel.c for why those matter). Private to the library. */
#ifndef KMILL_HOT_H
#define KMILL_HOT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#define KM_HOT                                                                                     \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"),                  \
                   optimize("O3", "no-trapping-math", "fp-contract=fast")))
#else
#define KM_HOT
#endif

#endif
