/* gram.h - K = -2 A B^T for kernel tiles (gram.c). Private to the
 * library. */
#ifndef KMILL_GRAM_H
#define KMILL_GRAM_H

#include <stddef.h>

#define KM_GRAM_MAX_D 64 /* the own product serves d up to this */
#define KM_GRAM_COLS 256 /* columns of B per call it takes */

/* How many columns of B to pass km_gram at a time for rows of d features
 * (at most nb): the whole width when sgemm will do the product. */
size_t km_gram_cols(size_t d, size_t nb);

/* K (na x nb, row stride ldk) = -2 A B^T; A is na x d, B is nb x d, both
 * row-major. nb must not exceed km_gram_cols(d, nb) to take the fast
 * path. */
void km_gram(const float *A, size_t na, const float *B, size_t nb, size_t d, float *K,
             size_t ldk);

#endif
