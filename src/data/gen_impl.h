/* gen_impl.h - what gen.c and gen_write.c share: the hidden structure of
 * a synthetic dataset (kmill/gen.h), fixed once built, so that any number
 * of threads may read it while they make rows. */
#ifndef KMILL_GEN_IMPL_H
#define KMILL_GEN_IMPL_H

#include <stdint.h>

#include "kmill/gen.h"

struct km_gen {
    int preset, task;
    uint32_t d;
    uint32_t k, degree;      /* subspace */
    uint32_t classes;        /* mixture: K; 2 for the others */
    double separation, noise;
    uint64_t seed;
    uint64_t rowkey;         /* keys row i's stream with i */
    double threshold;        /* classify: class 1 above it */
    double *dirs;            /* subspace: k rows of d (U's columns) */
    unsigned char *exps;     /* subspace: nterms rows of k Hermite degrees */
    double *coef;            /* subspace: nterms coefficients */
    uint32_t nterms;
    double *means;           /* mixture: K rows of d */
};

#endif
