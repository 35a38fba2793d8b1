/* dotk.h - the dot-product kernels' tiles (dotk.c), behind km_kernel_tile
 * and km_kernel_self (kmill/kernel.h). Private to the library. */
#ifndef KMILL_KERN_DOTK_H
#define KMILL_KERN_DOTK_H

#include <stddef.h>

#include "kmill/kernel.h"

/* km_kernel_tile for KM_KERNEL_NTK and KM_KERNEL_NNGP (na, nb > 0). */
void km_dotk_tile(const km_kernel *k, const float *A, size_t na, const float *an, const float *B,
                  size_t nb, const float *bn, size_t d, float *K, size_t ldk);

/* km_kernel_self for them. */
double km_dotk_self(const km_kernel *k, double sqnorm, size_t d);

#endif
