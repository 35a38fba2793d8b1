/* gram.h - K = -2 A B^T for kernel tiles (gram.c). Private to the
 * library. */
#ifndef KMILL_GRAM_H
#define KMILL_GRAM_H

#include <stddef.h>

#define KM_GRAM_MAX_D 64 /* the own product serves d up to this */
#define KM_GRAM_COLS 256 /* columns of B per call it takes */

/* Whether the own product serves rows of d features on this CPU
 * (AVX-512, 0 < d <= KM_GRAM_MAX_D); km_gram_panel and km_gram_rows may
 * only be called when it does. */
int km_gram_fast(size_t d);

/* K (na x nb, row stride ldk) = -2 A B^T, A na x d and B nb x d row-major,
 * in two steps so that one chunk of B (nb <= KM_GRAM_COLS rows) serves many
 * calls: km_gram_panel writes it transposed into Bt (d rows of
 * km_gram_ld(nb) floats, 64-byte aligned), km_gram_rows multiplies rows of
 * A by it. */
static inline size_t km_gram_ld(size_t nb)
{
    return (nb + 31) & ~(size_t)31;
}
void km_gram_panel(const float *B, size_t nb, size_t d, float *Bt);
void km_gram_rows(const float *A, size_t na, const float *Bt, size_t nb, size_t d, float *K,
                  size_t ldk);

#endif
