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
#include "kmill/progress.h"

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

/* One pass: its inputs, and buffers for one tile of centres (shifted,
 * their norms, [alpha_J1 * Z_J | ...]) and one block of sample rows (W, H,
 * u, the rows shifted and their norms). Gf takes each output's SYRK before
 * it is added to G in float64; gs sums the gradients for centring. */
typedef struct {
    km_ctx *ctx;
    km_progress *prog;   /* in sample rows, moved on by each tile */
    km_pool *pool;
    const km_kernel *k;
    const float *Z, *alpha, *B;
    const uint64_t *self;
    size_t n, d, c, cd, t;
    float *Zs, *zn, *ZA, *W, *H, *u, *Bs, *bn, *Gf, *mu;
    double *gs, *acc;
} agop_pass;

/* The block size km_agop_batch gives, or an error when not even one row
 * fits in the budget. */
static int batch_rows(km_ctx *ctx, size_t n, size_t d, size_t c, size_t m, const km_agop_opts *o,
                      size_t *out)
{
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
    *out = km_agop_batch(n, d, c, o, m);
    return 0;
}

/* The buffers, for blocks of b rows; all are asked for before any is
 * checked, and -1 when one is missing leaves pass_free to free the rest. */
static int pass_alloc(agop_pass *a, size_t b, int diag)
{
    size_t t = a->t, d = a->d, c = a->c, cd = a->cd;
    a->Zs = malloc(t * d * sizeof *a->Zs);
    a->zn = malloc(t * sizeof *a->zn);
    a->ZA = malloc(t * cd * sizeof *a->ZA);
    a->W = malloc(b * t * sizeof *a->W);
    a->H = malloc(b * cd * sizeof *a->H);
    a->u = malloc(b * c * sizeof *a->u);
    a->Bs = malloc(b * d * sizeof *a->Bs);
    a->bn = malloc(b * sizeof *a->bn);
    a->Gf = diag ? NULL : malloc(d * d * sizeof *a->Gf);
    a->mu = malloc(d * sizeof *a->mu);
    a->gs = calloc(cd, sizeof *a->gs);
    a->acc = calloc(d, sizeof *a->acc);
    return !a->Zs || !a->zn || !a->ZA || !a->W || !a->H || !a->u || !a->Bs || !a->bn ||
                   (!diag && !a->Gf) || !a->mu || !a->gs || !a->acc
               ? -1
               : 0;
}

static void pass_free(agop_pass *a)
{
    free(a->Zs);
    free(a->zn);
    free(a->ZA);
    free(a->W);
    free(a->H);
    free(a->u);
    free(a->Bs);
    free(a->bn);
    free(a->Gf);
    free(a->mu);
    free(a->gs);
    free(a->acc);
}

/* The centres' mean, summed in float64, that every row is shifted by. */
static void centres_mean(agop_pass *a)
{
    size_t n = a->n, d = a->d;
    for (size_t j = 0; j < n; j++)
        for (size_t q = 0; q < d; q++)
            a->acc[q] += a->Z[j * d + q];
    for (size_t q = 0; q < d; q++)
        a->mu[q] = (float)(a->acc[q] / n);
}

/* H (+)= W [alpha * Z_J] and u (+)= W alpha_J for the nb rows from i0
 * (shifted in Bs, norms in bn) and the nt centres from j0; the first tile
 * overwrites H and u. A row's own centre gets no weight (self). */
static void tile_product(agop_pass *a, size_t i0, size_t nb, size_t j0, size_t nt)
{
    size_t d = a->d, c = a->c, cd = a->cd;
    float *W = a->W, *ZA = a->ZA;
    shift_rows(a->Z + j0 * d, nt, d, a->mu, a->Zs);
    km_row_sqnorms(a->Zs, nt, d, a->zn);
    km_kernel_grad_matrix(a->pool, a->k, a->Bs, nb, a->bn, a->Zs, nt, a->zn, d, W, nt);
    if (a->self)
        for (size_t i = 0; i < nb; i++) {
            uint64_t s = a->self[i0 + i];
            if (s >= j0 && s < j0 + nt)
                W[i * nt + (s - j0)] = 0.0f;
        }
    const float *aJ = a->alpha + j0 * c;
    for (size_t j = 0; j < nt; j++)
        for (size_t o2 = 0; o2 < c; o2++) {
            float al = aJ[j * c + o2];
            float *dst = ZA + j * cd + o2 * d;
            const float *src = a->Zs + j * d;
            for (size_t q = 0; q < d; q++)
                dst[q] = al * src[q];
        }
    float beta = j0 ? 1.0f : 0.0f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)cd, (int)nt, 1.0f, W,
                (int)nt, ZA, (int)cd, beta, a->H, (int)cd);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)c, (int)nt, 1.0f, W,
                (int)nt, aJ, (int)c, beta, a->u, (int)c);
}

/* The gradients h_c(x) = H_c(x) - u_c(x) x of the nb rows from i0, in H.
 * A block against all n centres may take many seconds: the interrupt is
 * checked after each tile of centres (a fraction of a second). */
static int block_grads(agop_pass *a, size_t i0, size_t nb)
{
    size_t n = a->n, d = a->d, c = a->c, cd = a->cd, t = a->t;
    shift_rows(a->B + i0 * d, nb, d, a->mu, a->Bs);
    km_row_sqnorms(a->Bs, nb, d, a->bn);
    for (size_t j0 = 0; j0 < n; j0 += t) {
        size_t nt = n - j0 < t ? n - j0 : t;
        tile_product(a, i0, nb, j0, nt);
        if (km_check_interrupt(a->ctx))
            return KM_EINTR;
        km_progress_update(a->prog, i0 + (uint64_t)nb * (j0 + nt) / n);
    }
    for (size_t i = 0; i < nb; i++)
        for (size_t o2 = 0; o2 < c; o2++) {
            float ui = a->u[i * c + o2];
            float *h = a->H + i * cd + o2 * d;
            const float *x = a->Bs + i * d;
            for (size_t q = 0; q < d; q++)
                h[q] -= ui * x[q];
        }
    return 0;
}

/* G += sum_c H_c^T H_c over a block (its diagonal alone with diag), and
 * the gradients' sums for centring. */
static void add_block(agop_pass *a, size_t nb, const km_agop_opts *o, double *G)
{
    size_t d = a->d, c = a->c, cd = a->cd;
    const float *H = a->H;
    if (o->center)
        for (size_t i = 0; i < nb; i++)
            for (size_t q = 0; q < cd; q++)
                a->gs[q] += H[i * cd + q];
    if (o->diag) {
        for (size_t i = 0; i < nb; i++)
            for (size_t o2 = 0; o2 < c; o2++) {
                const float *h = H + i * cd + o2 * d;
                for (size_t q = 0; q < d; q++)
                    G[q] += (double)h[q] * h[q];
            }
        return;
    }
    for (size_t o2 = 0; o2 < c; o2++) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d, (int)nb, 1.0f, H + o2 * d,
                    (int)cd, 0.0f, a->Gf, (int)d);
        for (size_t p = 0; p < d; p++)
            for (size_t q = p; q < d; q++)
                G[p * d + q] += a->Gf[p * d + q];
    }
}

/* G / (m L^2q), less the mean gradients' outer products; the full matrix
 * is made symmetric from its upper triangle. */
static void normalise(agop_pass *a, size_t m, const km_agop_opts *o, double *G)
{
    size_t d = a->d, c = a->c, cd = a->cd;
    double *gs = a->gs;
    const km_kernel *k = a->k;
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
}

int km_agop(km_ctx *ctx, km_pool *pool, const km_kernel *k, const float *Z, size_t n, size_t d,
            const float *alpha, size_t c, const float *B, const uint64_t *self, size_t m,
            const km_agop_opts *o, double *G)
{
    size_t gl = o->diag ? d : d * d;
    memset(G, 0, gl * sizeof *G);
    if (!m || !n || !d || !c)
        return 0;
    size_t t = o->tile ? o->tile : CENTRE_TILE;
    t = n < t ? n : t;
    size_t b = 0;
    int rc = batch_rows(ctx, n, d, c, m, o, &b);
    if (rc)
        return rc;
    /* the interrupt is checked after each tile of centres against a block:
     * keep that product near 2^32 multiply-adds (a fraction of a second)
     * when the rows are wide */
    uint64_t cap = ((uint64_t)1 << 32) / ((uint64_t)t * (d + c * d));
    if (!o->batch && b > (cap < 16 ? 16 : cap))
        b = (size_t)(cap < 16 ? 16 : cap);
    km_progress prog;
    km_progress_start(&prog, ctx, "AGOP", m, "rows");
    agop_pass a = {.ctx = ctx, .prog = &prog, .pool = pool, .k = k, .Z = Z, .alpha = alpha, .B = B, .self = self,
                   .n = n, .d = d, .c = c, .cd = c * d, .t = t};
    if (pass_alloc(&a, b, o->diag)) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the AGOP pass");
        goto out;
    }
    centres_mean(&a);
    int blas = km_blas_threads(ctx->threads);
    for (size_t i0 = 0; i0 < m && !rc; i0 += b) {
        size_t nb = m - i0 < b ? m - i0 : b;
        if (!(rc = block_grads(&a, i0, nb)))
            add_block(&a, nb, o, G);
    }
    km_blas_threads(blas);
    if (!rc)
        normalise(&a, m, o, G);
out:
    km_progress_end(&prog);
    pass_free(&a);
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
