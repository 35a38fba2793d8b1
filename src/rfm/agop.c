/* agop.c - the AGOP pass (kmill/agop.h; kmill-algorithms(7), AGOP AND THE RFM): blocks of b sample
 * rows against tiles of t centres, so memory is bounded by b and t alone
 * whatever n and m are.
 *
 * For a block B (b x d) and a tile Z_J (t x d) of centres:
 *     W   = gradient weights k'(B, Z_J)          (b x t, our pool)
 *     H  += W [alpha_J1 * Z_J | ... | alpha_Jc * Z_J]   (b x cd, one GEMM)
 *     u  += W alpha_J                            (b x c)
 * and after the last tile h_c(x) = H_c(x) - u_c(x) x is (L^q times) the
 * gradient of output c at x. One GEMM over all c outputs rather than c
 * GEMMs of width d: the wide right-hand side is what keeps sgemm near its
 * peak when d is small. Then G += sum_c H_c^T H_c (SYRK per output).
 *
 * Rows are shifted by the centres' mean first: the kernel is translation
 * invariant, and the subtraction H - u x cancels less (and the distance
 * expansion loses less) on rows near the origin. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/agop.h"
#include "kmill/size.h"
#include "kmill/blas.h"

#define DEFAULT_MEM ((uint64_t)256 << 20)
#define CENTRE_TILE 2048
#define MAX_BATCH 4096

static void shift_rows(const float *X, size_t n, size_t d, const float *mu, float *out)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++)
            out[i * d + k] = X[i * d + k] - mu[k];
}

uint64_t km_agop_estimate(size_t n, size_t d, size_t c, const km_agop_opts *o, size_t rows)
{
    uint64_t t = o->tile ? o->tile : CENTRE_TILE, cd = (uint64_t)c * d;
    t = n < t ? n : t;
    /* fixed: the centre tile shifted, its norms and [alpha * Z_J]; the
     * per-batch SYRK output; sums for centring. Per sample row: its row of
     * W, of H, of u, the row shifted and its norm. */
    uint64_t fixed = (t * d + t + t * cd + d + (o->diag ? 0 : (uint64_t)d * d)) * 4 + cd * 8;
    uint64_t per_row = (t + cd + c + d + 1) * 4;
    return fixed + per_row * rows;
}

size_t km_agop_batch(size_t n, size_t d, size_t c, const km_agop_opts *o, size_t m)
{
    uint64_t mem = o->mem ? o->mem : DEFAULT_MEM;
    uint64_t fixed = km_agop_estimate(n, d, c, o, 0);
    uint64_t per_row = km_agop_estimate(n, d, c, o, 1) - fixed;
    uint64_t b = o->batch ? o->batch : mem > fixed ? (mem - fixed) / per_row : 0;
    b = b > MAX_BATCH ? MAX_BATCH : b;
    return b > m ? m : (size_t)b;
}

int km_agop(km_ctx *ctx, km_pool *pool, const km_kernel *k, const float *Z, size_t n, size_t d,
            const float *alpha, size_t c, const float *B, const uint64_t *self, size_t m,
            const km_agop_opts *o, double *G)
{
    size_t gl = o->diag ? d : d * d;
    memset(G, 0, gl * sizeof *G);
    if (!m || !n || !d || !c)
        return 0;
    size_t cd = c * d;
    size_t t = o->tile ? o->tile : CENTRE_TILE;
    t = n < t ? n : t;
    uint64_t mem = o->mem ? o->mem : DEFAULT_MEM;
    uint64_t fixed = km_agop_estimate(n, d, c, o, 0);
    uint64_t per_row = km_agop_estimate(n, d, c, o, 1) - fixed;
    if (fixed + per_row > mem) {
        char b1[32], b2[32];
        return km_seterr(&ctx->err, KM_ENOMEM,
                         "the AGOP pass needs at least %s of memory for d = %zu, %zu outputs; "
                         "it has %s",
                         km_format_size(fixed + per_row, b1, sizeof b1), d, c,
                         km_format_size(mem, b2, sizeof b2));
    }
    size_t b = o->batch ? o->batch : (size_t)((mem - fixed) / per_row);
    if (b > MAX_BATCH)
        b = MAX_BATCH;
    if (b > m)
        b = m;

    float *Zs = malloc(t * d * sizeof *Zs), *zn = malloc(t * sizeof *zn);
    float *ZA = malloc(t * cd * sizeof *ZA), *W = malloc(b * t * sizeof *W);
    float *H = malloc(b * cd * sizeof *H), *u = malloc(b * c * sizeof *u);
    float *Bs = malloc(b * d * sizeof *Bs), *bn = malloc(b * sizeof *bn);
    float *Gf = o->diag ? NULL : malloc(d * d * sizeof *Gf), *mu = malloc(d * sizeof *mu);
    double *gs = calloc(cd, sizeof *gs), *acc = calloc(d, sizeof *acc);
    int rc = 0;
    if (!Zs || !zn || !ZA || !W || !H || !u || !Bs || !bn || (!o->diag && !Gf) || !mu || !gs ||
        !acc) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the AGOP pass");
        goto out;
    }
    for (size_t j = 0; j < n; j++)
        for (size_t q = 0; q < d; q++)
            acc[q] += Z[j * d + q];
    for (size_t q = 0; q < d; q++)
        mu[q] = (float)(acc[q] / n);

    int blas = km_blas_threads(ctx->threads);
    for (size_t i0 = 0; i0 < m; i0 += b) {
        size_t nb = m - i0 < b ? m - i0 : b;
        shift_rows(B + i0 * d, nb, d, mu, Bs);
        km_row_sqnorms(Bs, nb, d, bn);
        for (size_t j0 = 0; j0 < n; j0 += t) {
            size_t nt = n - j0 < t ? n - j0 : t;
            shift_rows(Z + j0 * d, nt, d, mu, Zs);
            km_row_sqnorms(Zs, nt, d, zn);
            km_kernel_grad_matrix(pool, k, Bs, nb, bn, Zs, nt, zn, d, W, nt);
            if (self)
                for (size_t i = 0; i < nb; i++) {
                    uint64_t s = self[i0 + i];
                    if (s >= j0 && s < j0 + nt)
                        W[i * nt + (s - j0)] = 0.0f;
                }
            const float *aJ = alpha + j0 * c;
            for (size_t j = 0; j < nt; j++)
                for (size_t o2 = 0; o2 < c; o2++) {
                    float a = aJ[j * c + o2];
                    float *dst = ZA + j * cd + o2 * d;
                    const float *src = Zs + j * d;
                    for (size_t q = 0; q < d; q++)
                        dst[q] = a * src[q];
                }
            float beta = j0 ? 1.0f : 0.0f;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)cd, (int)nt, 1.0f,
                        W, (int)nt, ZA, (int)cd, beta, H, (int)cd);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)c, (int)nt, 1.0f,
                        W, (int)nt, aJ, (int)c, beta, u, (int)c);
        }
        /* h_c(x) = H_c(x) - u_c(x) x */
        for (size_t i = 0; i < nb; i++)
            for (size_t o2 = 0; o2 < c; o2++) {
                float ui = u[i * c + o2];
                float *h = H + i * cd + o2 * d;
                const float *x = Bs + i * d;
                for (size_t q = 0; q < d; q++)
                    h[q] -= ui * x[q];
            }
        if (o->center)
            for (size_t i = 0; i < nb; i++)
                for (size_t q = 0; q < cd; q++)
                    gs[q] += H[i * cd + q];
        if (o->diag) {
            for (size_t i = 0; i < nb; i++)
                for (size_t o2 = 0; o2 < c; o2++) {
                    const float *h = H + i * cd + o2 * d;
                    for (size_t q = 0; q < d; q++)
                        G[q] += (double)h[q] * h[q];
                }
        } else {
            for (size_t o2 = 0; o2 < c; o2++) {
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nb, 1.0f,
                            H + o2 * d, (int)cd, 0.0f, Gf, (int)d);
                for (size_t p = 0; p < d; p++)
                    for (size_t q = p; q < d; q++)
                        G[p * d + q] += Gf[p * d + q];
            }
        }
    }
    km_blas_threads(blas);

    /* G / (m L^2q), less the mean gradients' outer products */
    double Lq = k->type == KM_KERNEL_GAUSSIAN ? k->bandwidth * k->bandwidth : k->bandwidth;
    double scale = 1.0 / ((double)m * Lq * Lq);
    for (size_t q = 0; q < cd; q++)
        gs[q] /= (double)m * Lq;
    for (size_t p = 0; p < d; p++) {
        if (o->diag) {
            G[p] *= scale;
            if (o->center)
                for (size_t o2 = 0; o2 < c; o2++)
                    G[p] -= gs[o2 * d + p] * gs[o2 * d + p];
            continue;
        }
        for (size_t q = p; q < d; q++) {
            double v = G[p * d + q] * scale;
            if (o->center)
                for (size_t o2 = 0; o2 < c; o2++)
                    v -= gs[o2 * d + p] * gs[o2 * d + q];
            G[p * d + q] = G[q * d + p] = v;
        }
    }
out:
    free(Zs);
    free(zn);
    free(ZA);
    free(W);
    free(H);
    free(u);
    free(Bs);
    free(bn);
    free(Gf);
    free(mu);
    free(gs);
    free(acc);
    return rc;
}

int km_agop_metric(km_ctx *ctx, const double *G, size_t d, int diag, const float *S, int metric,
                   float *M)
{
    size_t len = diag ? d : d * d;
    double *A = malloc(len * sizeof *A);
    if (!A)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    if (metric == KM_METRIC_NONE) {
        memcpy(A, G, len * sizeof *A);
    } else if (diag) { /* G and S hold diagonals */
        for (size_t q = 0; q < d; q++)
            A[q] = (double)S[q] * G[q] * S[q];
    } else if (metric == KM_METRIC_DIAG) { /* (S G S)_pq = s_p G_pq s_q */
        for (size_t p = 0; p < d; p++)
            for (size_t q = 0; q < d; q++)
                A[p * d + q] = (double)S[p] * G[p * d + q] * S[q];
    } else {
        /* S G S in float64: T = G S, then S T */
        double *T = malloc(d * d * sizeof *T), *Sd = malloc(d * d * sizeof *Sd);
        if (!T || !Sd) {
            free(T);
            free(Sd);
            free(A);
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < d * d; i++)
            Sd[i] = S[i];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, G,
                    (int)d, Sd, (int)d, 0.0, T, (int)d);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)d, 1.0, Sd,
                    (int)d, T, (int)d, 0.0, A, (int)d);
        free(T);
        free(Sd);
    }
    double mx = 0;
    int finite = 1;
    for (size_t i = 0; i < len; i++) {
        if (!isfinite(A[i]))
            finite = 0;
        else if (A[i] > mx)
            mx = A[i];
    }
    /* below this the AGOP is rounding noise of a constant predictor */
    if (!finite || !(mx > 1e-300)) {
        free(A);
        return km_seterr(&ctx->err, KM_ENUMERIC,
                         finite ? "the AGOP is zero: the trained predictor is constant (are all "
                                  "the targets equal?), so there are no gradients to learn "
                                  "features from"
                                : "the AGOP is not finite (NaN or infinite gradients)");
    }
    for (size_t i = 0; i < len; i++)
        M[i] = (float)(A[i] / mx);
    free(A);
    return 0;
}
