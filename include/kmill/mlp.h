/* mlp.h - a fully connected ReLU network (kmill-algorithms(7), NETWORKS):
 * its parameters, the forward pass with the values backpropagation and
 * the empirical NTK need, and its initialisation.
 *
 * Depth D counts hidden layers; layer l = 1..D+1 maps width[l-1] inputs
 * to width[l] outputs (width[0] = d, width[D+1] = c). Rows are batched
 * row-major (n x width). NTK parameterisation (the default):
 *   z^l = (sw / sqrt(width[l-1])) h^{l-1} W^lT + sb b^l,  h^l = relu(z^l),
 *   f = alpha * z^{D+1},  W, b ~ N(0, 1),  sw = sqrt(sw2), sb = sqrt(sb2);
 * standard parameterisation: z^l = h^{l-1} W^lT + b^l with
 * W ~ N(0, sw2 / width[l-1]), b ~ N(0, sb2). alpha is the output
 * multiplier of Chizat et al. (lazy for large alpha, trained with loss/alpha^2). */
#ifndef KMILL_MLP_H
#define KMILL_MLP_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/pool.h"

enum { KM_PARAM_NTK = 0, KM_PARAM_STANDARD = 1 };

typedef struct km_mlp {
    uint32_t depth;        /* hidden layers D >= 1 */
    uint32_t *width;       /* D + 2 entries */
    int param;             /* KM_PARAM_* */
    double sw2, sb2;       /* defaults 2 and 0.1 */
    double alpha;          /* output multiplier, default 1 */
    float **W;             /* W[l-1]: width[l] x width[l-1], row-major, l = 1..D+1 */
    float **b;             /* b[l-1]: width[l] */
} km_mlp;

/* Per-layer values of a forward pass over n rows: z[l-1] (n x width[l])
 * the pre-activations and h[l-1] = relu(z[l-1]) (h[D] unused: the output
 * layer is linear), l = 1..D+1. */
typedef struct km_mlp_cache {
    size_t n, cap;
    float **z, **h;
    size_t layers;         /* D + 1 once allocated (added) */
} km_mlp_cache;

/* Allocate (KM_ENOMEM) and draw the parameters from seed. */
int km_mlp_init(km_ctx *ctx, km_mlp *net, uint32_t depth, const uint32_t *width, int param,
                double sw2, double sb2, double alpha, uint64_t seed);
void km_mlp_free(km_mlp *net);
/* out (n x c) = f(X) for X (n x d); with cache non-NULL, keep every layer's
 * z and h (grown as needed). */
int km_mlp_forward(km_ctx *ctx, km_pool *pool, const km_mlp *net, const float *X, size_t n,
                   km_mlp_cache *cache, float *out);
void km_mlp_cache_free(km_mlp_cache *c);

/* ---- additions beyond the shared interface above ---- */

/* The factors of layer l (1..D+1): z = ws h W^T + bs b; (sw/sqrt(width[l-1]),
 * sb) in the NTK parameterisation, (1, 1) in the standard one. */
void km_mlp_scales(const km_mlp *net, uint32_t l, float *ws, float *bs);
/* Allocate net's arrays for the widths (contents undefined, the rest of
 * the fields zero): for a reader filling them. KM_ENOMEM. */
int km_mlp_alloc(km_ctx *ctx, km_mlp *net, uint32_t depth, const uint32_t *width);
/* dst = a deep copy of src. KM_ENOMEM. */
int km_mlp_copy(km_ctx *ctx, km_mlp *dst, const km_mlp *src);

#endif
