/* matrix.c - whole kernel matrices k(A, B) and their gradient weights,
 * computed in parallel over row strips of A, each strip one call of
 * km_kernel_tile or km_kernel_grad_tile (kmill/kernel.h). The strip height
 * is chosen so a strip's output stays in L2 for the pass after the GEMM.
 * BLAS runs at one thread inside the pool's workers. */
#include "config.h"

#include "kmill/blas.h"
#include "kmill/kernel.h"
#include "kern/gram.h"

struct kmat_job {
    const km_kernel *k;
    const float *A, *an, *B, *bn;
    size_t na, nb, d, ldk, strip;
    float *K;
    int grad; /* km_kernel_grad_tile's weights instead of the kernel */
};

static void kmat_task(void *arg, size_t i, int worker)
{
    (void)worker;
    struct kmat_job *j = arg;
    size_t r0 = i * j->strip, rs = j->na - r0 < j->strip ? j->na - r0 : j->strip;
    (j->grad ? km_kernel_grad_tile : km_kernel_tile)(j->k, j->A + r0 * j->d, rs, j->an + r0,
                                                     j->B, j->nb, j->bn, j->d,
                                                     j->K + r0 * j->ldk, j->ldk);
}

static void kernel_strips(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                          const float *an, const float *B, size_t nb, const float *bn, size_t d,
                          float *K, size_t ldk, int grad)
{
    /* strips whose output stays in L2 for the pass after the GEMM; but at
     * large d the GEMM dominates and wants tall strips */
    size_t strip = nb ? (512u * 1024u / 4u) / nb : 1;
    size_t lo = d >= 256 ? 128 : 16;
    strip = strip < lo ? lo : strip > 256 ? 256 : strip;
    /* where gram.c does the product the tile is made in cache-sized
     * pieces whatever the strip, and taller strips spread each panel of B
     * over more rows: up to 256, as long as every thread gets two */
    if (km_gram_fast(d) && pool) {
        size_t per = na / (2 * ((size_t)km_pool_workers(pool) + 1));
        per = per > 256 ? 256 : per;
        strip = per > strip ? per : strip;
    }
    struct kmat_job j = {k, A, an, B, bn, na, nb, d, ldk, strip, K, grad};
    size_t ntask = (na + strip - 1) / strip;
    if (!pool) {
        for (size_t i = 0; i < ntask; i++)
            kmat_task(&j, i, 0);
        return;
    }
    int blas = km_blas_threads(1);
    km_pool_run(pool, ntask, kmat_task, &j);
    km_blas_threads(blas);
}

void km_kernel_matrix(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                      const float *an, const float *B, size_t nb, const float *bn, size_t d,
                      float *K, size_t ldk)
{
    kernel_strips(pool, k, A, na, an, B, nb, bn, d, K, ldk, 0);
}

void km_kernel_grad_matrix(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                           const float *an, const float *B, size_t nb, const float *bn, size_t d,
                           float *W, size_t ldw)
{
    kernel_strips(pool, k, A, na, an, B, nb, bn, d, W, ldw, 1);
}
