/* direct.c - (K + reg I) A = Y by Cholesky in float64 (see kmill/solve.h).
 * float64 because kernel matrices with a small ridge are ill-conditioned:
 * in float32 the factorisation loses most digits or fails outright. */
#include "config.h"
#include <lapacke.h>
#include <stdlib.h>

#include "kmill/solve.h"

int km_solve_direct(km_ctx *ctx, const float *K, size_t n, double reg, const float *Y, size_t c,
                    float *A)
{
    double *M = malloc(n * n * sizeof *M), *B = malloc(n * (c ? c : 1) * sizeof *B);
    if (!M || !B) {
        free(M);
        free(B);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for a %zu x %zu direct solve", n, n);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i; j < n; j++)
            M[i * n + j] = K[i * n + j];
        M[i * n + i] += reg;
    }
    for (size_t i = 0; i < n * c; i++)
        B[i] = Y[i];
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, M, (lapack_int)n);
    int rc = 0;
    if (info > 0) {
        rc = km_seterr(&ctx->err, KM_ENUMERIC,
                       "the kernel matrix plus ridge %g is not positive definite (pivot %d); "
                       "repeated rows or a ridge too small: use a larger --reg",
                       reg, (int)info);
    } else if (info < 0) {
        rc = km_seterr(&ctx->err, KM_EINVAL, "dpotrf: argument %d invalid", (int)-info);
    } else {
        info = LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)n, (lapack_int)c, M, (lapack_int)n,
                              B, (lapack_int)c);
        if (info != 0)
            rc = km_seterr(&ctx->err, KM_ENUMERIC, "dpotrs failed (%d)", (int)info);
        for (size_t i = 0; !rc && i < n * c; i++)
            A[i] = (float)B[i];
    }
    free(M);
    free(B);
    return rc;
}

uint64_t km_direct_estimate(size_t n)
{
    return (uint64_t)n * n * (sizeof(float) + sizeof(double));
}
