/* kscores.h - the scores of a kernel machine, f(x) = sum_j alpha_j k_M(x, c_j),
 * for blocks of rows: prediction's arithmetic, shared by the model file's
 * predictions (kmill/model.h) and the model search's validation scoring
 * (kmill/rfm.h), which holds centres and coefficients but no model.
 *
 * The centres are transformed by S = M^(1/2) once at init (kmill/kernel.h,
 * Mahalanobis kernels), each block of rows at each run; the kernel block
 * against the centres is built in parallel and multiplied by alpha with
 * one sgemm. */
#ifndef KMILL_KSCORES_H
#define KMILL_KSCORES_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kernel.h"
#include "kmill/pool.h"
#include "kmill/progress.h"

typedef struct km_kscorer {
    km_ctx *ctx;
    /* when set, moved on to prog_base + the rows scored after each block */
    km_progress *prog;
    uint64_t prog_base;
    km_kernel kernel;
    int metric;       /* KM_METRIC_* */
    size_t n, d, c;   /* centres, features, outputs */
    const float *alpha;
    const float *C;   /* centres as the kernel sees them */
    float *Cown;      /* C when transformed here */
    float *cn, *S;    /* the centres' squared norms; the metric's root */
    float *Xt, *xn, *K; /* block scratch: transformed rows, their norms, kernel */
    size_t block;
} km_kscorer;

/* Rows per block for a budget of mem bytes of kernel block: mem / (4 n),
 * between 16 and 2048. */
size_t km_kscorer_block(size_t n, uint64_t mem);

/* Bytes a scorer holds for n centres, d features, a metric (KM_METRIC_*)
 * and blocks of `block` rows: the kernel block, the block's rows and norms,
 * the centres' norms, and for a metric the transformed centres and S. */
uint64_t km_kscorer_estimate(size_t n, size_t d, int metric, size_t block);

/* Ready a scorer for centres (n x d), coefficients alpha (n x c) and the
 * metric M (NULL for KM_METRIC_NONE); centres and alpha must outlive it.
 * KM_ENOMEM, or km_metric_root's errors. */
int km_kscorer_init(km_ctx *ctx, km_kscorer *s, const km_kernel *k, int metric, const float *M,
                    const float *centres, size_t n, size_t d, const float *alpha, size_t c,
                    uint64_t mem);
/* scores (nx x c) for feature rows X (nx x d). pool may be NULL. The
 * interrupt is checked after each block (a fraction of a second): 0 or
 * KM_EINTR. */
int km_kscorer_run(km_kscorer *s, km_pool *pool, const float *X, size_t nx, float *scores);
void km_kscorer_free(km_kscorer *s);

#endif
