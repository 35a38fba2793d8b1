/* falkon.c - kernel ridge regression on m Nystrom centres with the rows
 * streamed (see kmill/falkon.h; kmill-algorithms(7), NYSTROM CENTRES).
 *
 * The system, for K_nm = k(X S, C S) over the n rows and K_mm = k(C S, C S):
 *     (K_nm' K_nm + lambda n (K_mm + j I)) alpha = K_nm' Y
 * with the jitter j = eps m below.
 *
 * CG (Rudi, Carratino and Rosasco's Falkon):
 *     T = chol(K_mm + j I)         upper, T'T = K_mm + j I
 *     A = chol(T T' / m + lambda I) upper
 * conjugate gradients run per output column on W beta = b with
 *     W beta = A^-T [ T^-T K_nm' K_nm T^-1 A^-1 beta / n + lambda A^-1 beta ]
 *     b      = A^-T T^-T K_nm' Y / n,        alpha = T^-1 A^-1 beta.
 * That is the system above, K_mm + j I in place of K_mm (an extra ridge
 * lambda n j on alpha): both modes solve it, so they agree.
 * The exact system, through T^-T K_mm T^-1 = I - j T^-T T^-1, was tried
 * and dropped: where K_mm is numerically singular (a smooth kernel, many
 * centres) float32 rounding makes that operator indefinite and CG
 * diverges, and the rounding of K_mm is of the order of j anyway. Each
 * W product is one pass over the rows computing K_nm' (K_nm V) for the
 * m x c V = T^-1 A^-1 beta of all c columns at once; the first pass
 * computes K_nm' Y. Every m x m operation and the CG recurrences are
 * float64; the stopping test is on the preconditioned residual ||r_j||
 * against ||b_j||.
 *
 * GRAM: one pass summing G = K_nm' K_nm and K_nm' Y, then per ridge a
 * float64 Cholesky of G + lambda n (K_mm + j I). G is summed in float64
 * (dsyrk on each group's kernel converted): products rounded to float32
 * (ssyrk) leave G indefinite by about 2^-24 ||G||, far above lambda n j
 * for small ridges, and the factorisation then fails or needs a jitter
 * that biases the model.
 *
 * eps starts at float32's precision 2^-23 times K_mm's largest diagonal
 * entry (1 for a radial kernel; K_mm's entries are float32 values, so its
 * eigenvalues are known to about m 2^-23 of that scale) and is raised
 * tenfold, at most 6 times, until K_mm + j I factors. Where GRAM's
 * system does not factor with that j (rounding against a tiny ridge),
 * eps is raised further for that ridge, and said at -v.
 *
 * Determinism: rows are staged into groups of o->block rows counted from
 * a pass's first row; each group's kernel block (km_kernel_matrix, rows
 * independent of the strips) and its products (one BLAS call each, whose
 * per-entry sums do not depend on BLAS's threads) are added into float64
 * sums in group order. So neither the source's block sizes nor the thread
 * count change a bit of alpha. */
#include "config.h"
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/falkon.h"
#include "kmill/log.h"
#include "kmill/progress.h"

#define JITTER_TRIES 7 /* eps = 2^-23 .. 2^-23 1e6 */

/* ---- the in-RAM source ------------------------------------------------ */

static int mem_pass(void *arg, km_block_fn fn, void *fnarg)
{
    const km_memsrc *ms = arg;
    size_t b = ms->block ? ms->block : ms->n;
    for (size_t r0 = 0; r0 < ms->n; r0 += b) {
        size_t nb = ms->n - r0 < b ? ms->n - r0 : b;
        int rc = fn(fnarg, ms->X + r0 * ms->d, ms->y + r0, nb);
        if (rc)
            return rc;
    }
    return 0;
}

void km_memsrc_init(km_rowsrc *src, km_memsrc *ms, const float *X, const float *y, size_t n,
                    size_t d, size_t block)
{
    ms->X = X;
    ms->y = y;
    ms->n = n;
    ms->d = d;
    ms->block = block;
    src->pass = mem_pass;
    src->arg = ms;
    src->n = n;
    src->d = d;
}

void km_falkon_defaults(km_falkon_opts *o)
{
    static const double reg = 1e-6;
    km_kernel k = o->kernel;
    memset(o, 0, sizeof *o);
    o->kernel = k;
    o->regs = &reg;
    o->nregs = 1;
    o->mode = KM_FALKON_AUTO;
    o->tol = 1e-4;
    o->max_iter = 20;
    o->metric = KM_METRIC_NONE;
    o->block = 1024;
}

/* ---- costs and memory ---------------------------------------------------- */

double km_falkon_cost(int mode, uint64_t n, size_t m, size_t d, size_t c, int iters,
                      size_t nregs)
{
    double N = (double)n, M = (double)m;
    if (mode == KM_FALKON_GRAM)
        return N * M * (2.0 * d + 2.0 * M + 10) + (double)nregs * M * M * M / 3;
    return (iters + 1.0) * N * M * (2.0 * d + 4.0 * c + 10) + M * M * M;
}

/* Rows of a group each pool task takes: its kernel rows, and their
 * products K_s' (K_s V) and K_s' Y_s while those rows are in cache, BLAS at
 * one thread inside the task. The strips are fixed by the row's place in
 * the group and their products added in strip order, so the thread count
 * changes nothing. Fusing them (rather than one kernel block, then BLAS's
 * own threads on skinny products) keeps both cores busy: a pass at m =
 * 2,000, d = 32, c = 2 went from no gain with the second core to 1.8x. */
#define STRIP 64

uint64_t km_falkon_estimate(int mode, size_t m, size_t d, size_t c, size_t nregs,
                            size_t block)
{
    uint64_t f = sizeof(float), D = sizeof(double), M = m, B = block ? block : 1024;
    (void)nregs; /* the ridges are solved one after another in the same arrays */
    uint64_t b = M * (d + 1) * f                    /* centres after the metric, norms */
                 + B * M * f                        /* one group's kernel */
                 + B * (2 * d + 2 + 2 * c) * f      /* staging, metric rows, norms, targets */
                 + M * c * (f + 2 * D)              /* a product and two float64 sums */
                 + 2 * ((B + STRIP - 1) / STRIP) * M * c * f; /* the strips' products */
    if (mode == KM_FALKON_GRAM)
        return b + M * M * 3 * D + B * M * D;       /* G, K_mm, a factor; the group's
                                                     * kernel in float64 */
    return b + 2 * M * M * D + M * c * (6 * D + f); /* T, A; CG's vectors */
}

/* ---- one pass over the rows ------------------------------------------- */

enum { USE_Y = 1, USE_V = 2, USE_GRAM = 4, USE_SCORE = 8 };


typedef struct fk {
    km_ctx *ctx;
    km_pool *pool;
    const km_falkon_opts *o;
    const km_rowsrc *src;
    int classify, what;
    size_t m, d, c, block;
    double kscale;              /* K_mm's largest diagonal entry (kmm) */
    float *C, *cn;              /* centres after the metric, their norms */
    float *Xs, *ys;             /* staging: a partial group */
    size_t fill;
    float *Xt, *xn, *K, *Yg;    /* a group's rows after the metric, norms, kernel, targets */
    float *Tb, *U;              /* block x c and m x c products */
    float *Us, *UsY;            /* per strip: its K_s' (K_s V) and K_s' Y_s, m x c each */
    double *Kd;                 /* the group's kernel in float64 (GRAM) */
    double *G, *accY, *acc;     /* float64 sums: K'K, K'Y, K'K V */
    const float *V;             /* m x c (USE_V) */
    const float *xr;            /* the group's rows as the kernel sees them */
    size_t nb;                  /* and their count */
    const float *alpha;         /* nsets x m x c (USE_SCORE) */
    size_t nsets;
    double *score;              /* nsets sums */
    uint64_t rows;
    int pass_no, pass_total;
    double pass_seconds;
    km_progress prog;
    char label[96];
} fk;

static void fk_free(fk *f)
{
    free(f->C);
    free(f->cn);
    free(f->Xs);
    free(f->ys);
    free(f->Xt);
    free(f->xn);
    free(f->K);
    free(f->Yg);
    free(f->Tb);
    free(f->U);
    free(f->Us);
    free(f->UsY);
    free(f->Kd);
    free(f->G);
    free(f->accY);
    free(f->acc);
}

static int check_args(km_ctx *ctx, const km_falkon_opts *o, const km_rowsrc *src, int classify,
                      size_t m, size_t d, size_t c)
{
    if (m == 0 || m > (size_t)INT32_MAX / 2 || c == 0 || (!classify && c != 1))
        return km_seterr(&ctx->err, KM_EINVAL, "Nystrom solver: %zu centres and %zu outputs "
                         "(regression has one)", m, c);
    if (src->d != d)
        return km_seterr(&ctx->err, KM_EINVAL, "Nystrom solver: rows of %zu features, centres "
                         "of %zu", src->d, d);
    if (o->metric != KM_METRIC_NONE && !o->S)
        return km_seterr(&ctx->err, KM_EINVAL, "Nystrom solver: a metric without its root");
    if (km_kernel_radial(&o->kernel) && !(o->kernel.bandwidth > 0))
        return km_seterr(&ctx->err, KM_EINVAL, "Nystrom solver: bandwidth %g", o->kernel.bandwidth);
    return 0;
}

/* Allocations for every use; GRAM's arrays only when gram. */
static int fk_init(fk *f, km_ctx *ctx, km_pool *pool, const km_falkon_opts *o,
                   const km_rowsrc *src, int classify, const float *C, size_t m, size_t d,
                   size_t c, int gram)
{
    memset(f, 0, sizeof *f);
    int rc = check_args(ctx, o, src, classify, m, d, c);
    if (rc)
        return rc;
    size_t B = o->block ? o->block : 1024;
    *f = (fk){.ctx = ctx, .pool = pool, .o = o, .src = src, .classify = classify,
              .m = m, .d = d, .c = c, .block = B};
    f->C = malloc(m * d * sizeof *f->C + 1);
    f->cn = malloc(m * sizeof *f->cn);
    f->Xs = malloc(B * d * sizeof *f->Xs + 1);
    f->ys = malloc(B * sizeof *f->ys);
    f->Xt = malloc(B * d * sizeof *f->Xt + 1);
    f->xn = malloc(B * sizeof *f->xn);
    f->K = malloc(B * m * sizeof *f->K);
    f->Yg = malloc(B * c * sizeof *f->Yg);
    f->Tb = malloc(B * c * sizeof *f->Tb);
    f->U = malloc(m * c * sizeof *f->U);
    size_t ns = (B + STRIP - 1) / STRIP;
    f->Us = malloc(ns * m * c * sizeof *f->Us);
    f->UsY = malloc(ns * m * c * sizeof *f->UsY);
    f->accY = malloc(m * c * sizeof *f->accY);
    f->acc = malloc(m * c * sizeof *f->acc);
    int ok = f->C && f->cn && f->Xs && f->ys && f->Xt && f->xn && f->K && f->Yg && f->Tb &&
             f->U && f->Us && f->UsY && f->accY && f->acc;
    if (ok && gram) {
        f->Kd = malloc(B * m * sizeof *f->Kd);
        f->G = malloc(m * m * sizeof *f->G);
        ok = f->Kd && f->G;
    }
    if (!ok) {
        fk_free(f);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the Nystrom solver "
                         "(%zu centres)", m);
    }
    if (o->metric != KM_METRIC_NONE)
        km_metric_rows(C, m, d, o->S, o->metric, f->C);
    else
        memcpy(f->C, C, m * d * sizeof *C);
    km_row_sqnorms(f->C, m, d, f->cn);
    return 0;
}

/* The group's targets Yg (nb x c): one-hot classes or the values. */
static int targets(fk *f, const float *y, size_t nb)
{
    size_t c = f->c;
    if (!f->classify) {
        memcpy(f->Yg, y, nb * sizeof *y);
        return 0;
    }
    memset(f->Yg, 0, nb * c * sizeof *f->Yg);
    for (size_t i = 0; i < nb; i++) {
        float v = y[i];
        if (!(v >= 0 && v < (float)c && v == floorf(v)))
            return km_seterr(&f->ctx->err, KM_EDATA, "Nystrom solver: row %llu has class %g, "
                             "not one of 0..%zu", (unsigned long long)(f->rows + i + 1),
                             (double)v, c - 1);
        f->Yg[i * c + (size_t)v] = 1;
    }
    return 0;
}

static void add_f64(double *acc, const float *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        acc[i] += u[i];
}

/* Scores of the group for each coefficient set: hits (classify) or
 * squared errors summed in row order. */
static int score_group(fk *f, const float *y, size_t nb)
{
    size_t m = f->m, c = f->c;
    for (size_t s = 0; s < f->nsets; s++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)c, (int)m, 1.0f,
                    f->K, (int)m, f->alpha + s * m * c, (int)c, 0.0f, f->Tb, (int)c);
        for (size_t i = 0; i < nb; i++) {
            const float *t = f->Tb + i * c;
            if (f->classify) {
                size_t best = 0;
                for (size_t j = 1; j < c; j++)
                    best = t[j] > t[best] ? j : best;
                f->score[s] += (float)best == y[i];
            } else {
                double e = (double)y[i] - t[0];
                f->score[s] += e * e;
            }
        }
    }
    return 0;
}

/* One strip of a group: its kernel rows, then its products. */
static void strip_task(void *arg, size_t i, int worker)
{
    (void)worker;
    fk *f = arg;
    size_t m = f->m, d = f->d, c = f->c, r0 = i * STRIP;
    size_t rs = f->nb - r0 < STRIP ? f->nb - r0 : STRIP;
    float *K = f->K + r0 * m;
    km_kernel_tile(&f->o->kernel, f->xr + r0 * d, rs, f->xn + r0, f->C, m, f->cn, d, K, m);
    if (f->what & USE_Y)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)c, (int)rs, 1.0f, K,
                    (int)m, f->Yg + r0 * c, (int)c, 0.0f, f->UsY + i * m * c, (int)c);
    if (f->what & USE_V) {
        float *t = f->Tb + r0 * c;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rs, (int)c, (int)m, 1.0f, K,
                    (int)m, f->V, (int)c, 0.0f, t, (int)c);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)m, (int)c, (int)rs, 1.0f, K,
                    (int)m, t, (int)c, 0.0f, f->Us + i * m * c, (int)c);
    }
}

/* One group of nb rows (features before the metric): its kernel rows and
 * products strip by strip, summed in strip order, then what else this
 * pass needs of the whole block. */
static int group(fk *f, const float *X, const float *y, size_t nb)
{
    size_t m = f->m, d = f->d, c = f->c, mc = m * c;
    int rc = 0;
    f->xr = X;
    if (f->o->metric != KM_METRIC_NONE) {
        km_metric_rows(X, nb, d, f->o->S, f->o->metric, f->Xt);
        f->xr = f->Xt;
    }
    km_row_sqnorms(f->xr, nb, d, f->xn);
    if (f->what & (USE_Y | USE_SCORE) && (rc = targets(f, y, nb)))
        return rc;
    f->nb = nb;
    size_t ns = (nb + STRIP - 1) / STRIP;
    if (f->pool) {
        int blas = km_blas_threads(1);
        km_pool_run(f->pool, ns, strip_task, f);
        km_blas_threads(blas);
    } else {
        for (size_t i = 0; i < ns; i++)
            strip_task(f, i, 0);
    }
    for (size_t i = 0; i < ns; i++) {
        if (f->what & USE_Y)
            add_f64(f->accY, f->UsY + i * mc, mc);
        if (f->what & USE_V)
            add_f64(f->acc, f->Us + i * mc, mc);
    }
    if (f->what & USE_GRAM) {
        for (size_t i = 0; i < nb * m; i++)
            f->Kd[i] = f->K[i];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)m, (int)nb, 1.0, f->Kd, (int)m,
                    1.0, f->G, (int)m);
    }
    if (f->what & USE_SCORE)
        score_group(f, y, nb);
    f->rows += nb;
    km_progress_update(&f->prog, f->rows);
    if (km_check_interrupt(f->ctx))
        return KM_EINTR;
    return 0;
}

/* The source's blocks, re-cut into groups of f->block rows: a block
 * aligned with a group is used in place, the rest goes through staging. */
static int take(void *arg, const float *X, const float *y, size_t n)
{
    fk *f = arg;
    size_t d = f->d, B = f->block;
    while (n) {
        int rc = 0;
        if (!f->fill && n >= B) {
            rc = group(f, X, y, B);
            X += B * d;
            y += B;
            n -= B;
        } else {
            size_t k = B - f->fill < n ? B - f->fill : n;
            memcpy(f->Xs + f->fill * d, X, k * d * sizeof *X);
            memcpy(f->ys + f->fill, y, k * sizeof *y);
            f->fill += k;
            X += k * d;
            y += k;
            n -= k;
            if (f->fill == B) {
                f->fill = 0;
                rc = group(f, f->Xs, f->ys, B);
            }
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int run_pass(fk *f, int what)
{
    size_t mc = f->m * f->c;
    f->what = what;
    f->fill = 0;
    f->rows = 0;
    if (what & USE_Y)
        memset(f->accY, 0, mc * sizeof *f->accY);
    if (what & USE_V)
        memset(f->acc, 0, mc * sizeof *f->acc);
    if (what & USE_GRAM)
        memset(f->G, 0, f->m * f->m * sizeof *f->G);
    f->pass_no++;
    const char *ph = f->o->phase;
    snprintf(f->label, sizeof f->label, "%s%sNystrom %s %d/%d", ph ? ph : "", ph ? ": " : "",
             what & USE_SCORE ? "scoring pass" : "pass", f->pass_no, f->pass_total);
    km_progress_start(&f->prog, f->ctx, f->label, f->src->n, "rows");
    double t0 = km_now();
    int rc = f->src->pass(f->src->arg, take, f);
    if (!rc && f->fill)
        rc = group(f, f->Xs, f->ys, f->fill);
    km_progress_end(&f->prog);
    f->pass_seconds += km_now() - t0;
    if (!rc && f->rows != f->src->n)
        rc = km_seterr(&f->ctx->err, KM_ECORRUPT, "the rows changed: a pass delivered %llu rows "
                       "of the %llu announced", (unsigned long long)f->rows,
                       (unsigned long long)f->src->n);
    if (!rc && f->rows == 0)
        rc = km_seterr(&f->ctx->err, KM_EDATA, "Nystrom solver: no rows to train on");
    return rc;
}

/* ---- dense float64 algebra ---------------------------------------------- */

/* K_mm (m x m, float64) in strips of the group buffer; the diagonal is
 * k(c, c) = 1 exactly for a radial kernel, the tile's own (computed in
 * float64, kmill/kernel.h) for a dot-product one, whose k(c, c) varies
 * with the centre's norm; f->kscale is the largest. KM_ENUMERIC on a NaN
 * (a NaN among the centres). */
static int kmm(fk *f, double *out)
{
    size_t m = f->m, d = f->d;
    for (size_t r0 = 0; r0 < m; r0 += f->block) {
        size_t nb = m - r0 < f->block ? m - r0 : f->block;
        km_kernel_matrix(f->pool, &f->o->kernel, f->C + r0 * d, nb, f->cn + r0, f->C, m, f->cn,
                         d, f->K, m);
        for (size_t i = 0; i < nb * m; i++) {
            if (isnan(f->K[i]))
                return km_seterr(&f->ctx->err, KM_ENUMERIC, "Nystrom solver: the centres' "
                                 "kernel has a NaN (a NaN in the data or the metric)");
            out[r0 * m + i] = f->K[i];
        }
    }
    int radial = km_kernel_radial(&f->o->kernel);
    f->kscale = radial ? 1 : 0;
    for (size_t i = 0; i < m; i++) {
        if (radial)
            out[i * m + i] = 1;
        f->kscale = out[i * m + i] > f->kscale ? out[i * m + i] : f->kscale;
    }
    return 0;
}

/* F = chol(S + a (K + eps m I)) (upper; K may be NULL: 0), from the upper
 * triangles, eps from eps0 raised tenfold up to JITTER_TRIES times. *jit =
 * the eps m that served; non-zero when none did. */
static int chol_jitter(const double *S, const double *K, double a, double *F, size_t m,
                       double eps0, double *jit)
{
    double eps = eps0;
    for (int t = 0; t < JITTER_TRIES; t++, eps *= 10) {
        *jit = eps * (double)m;
        for (size_t i = 0; i < m; i++) {
            for (size_t j = i; j < m; j++)
                F[i * m + j] = S[i * m + j] + (K ? a * K[i * m + j] : 0);
            F[i * m + i] += a * *jit;
        }
        if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, F, (lapack_int)m) == 0)
            return 0;
    }
    return 1;
}

/* The jitter j of the opening comment (F: scratch), relative to K_mm's
 * scale: eps is eps0 times its largest diagonal entry (1 for a radial
 * kernel; a dot-product kernel's values grow with the norms). */
static int kmm_jitter(fk *f, const double *Kmm, double *F, double *jit)
{
    if (chol_jitter(Kmm, NULL, 1, F, f->m, 0x1p-23 * f->kscale, jit))
        return km_seterr(&f->ctx->err, KM_ENUMERIC, "Nystrom solver: the centres' kernel matrix "
                         "cannot be factored even with jitter %g", *jit);
    km_verbose(f->ctx, "Nystrom: K_mm + %.3g I factored", *jit);
    return 0;
}

static void trsm(const double *F, size_t m, size_t c, int trans, double *B)
{
    cblas_dtrsm(CblasRowMajor, CblasLeft, CblasUpper, trans ? CblasTrans : CblasNoTrans,
                CblasNonUnit, (int)m, (int)c, 1.0, F, (int)m, B, (int)c);
}

/* ---- CG ------------------------------------------------------------------ */

typedef struct cgs {
    double *T, *A;                  /* m x m factors */
    double *beta, *r, *p, *q, *w, *v; /* m x c */
    float *Vf;
    double *Fc;                     /* m x c: the predictions at the centres */
    double *rr, *bn;                /* per column: r'r, ||b|| */
    unsigned char *active;
    double lambda, jit, n;
} cgs;

static void cg_free(cgs *s)
{
    free(s->T);
    free(s->A);
    free(s->beta);
    free(s->r);
    free(s->p);
    free(s->q);
    free(s->w);
    free(s->v);
    free(s->Vf);
    free(s->Fc);
    free(s->rr);
    free(s->bn);
    free(s->active);
}

/* T and A of the opening comment, with the arrays of the recurrences. */
static int cg_init(fk *f, cgs *s, double lambda)
{
    size_t m = f->m, c = f->c, mc = m * c;
    km_ctx *ctx = f->ctx;
    s->lambda = lambda;
    s->T = malloc(m * m * sizeof *s->T);
    s->A = malloc(m * m * sizeof *s->A);
    double **v[] = {&s->beta, &s->r, &s->p, &s->q, &s->w, &s->v};
    int ok = s->T && s->A;
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        ok &= (*v[i] = calloc(mc, sizeof **v[i])) != NULL;
    s->Vf = malloc(mc * sizeof *s->Vf);
    s->Fc = calloc(mc, sizeof *s->Fc);
    s->rr = malloc(c * sizeof *s->rr);
    s->bn = malloc(c * sizeof *s->bn);
    s->active = malloc(c);
    if (!ok || !s->Vf || !s->Fc || !s->rr || !s->bn || !s->active)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the Nystrom solver's "
                         "preconditioner (%zu centres)", m);
    int rc = kmm(f, s->A); /* A holds K_mm until T is made */
    if (rc)
        return rc;
    if ((rc = kmm_jitter(f, s->A, s->T, &s->jit)))
        return rc;
    memcpy(s->A, s->T, m * m * sizeof *s->A);
    LAPACKE_dlauum(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, s->A, (lapack_int)m); /* T T' */
    for (size_t i = 0; i < m; i++) {
        for (size_t j = i; j < m; j++)
            s->A[i * m + j] /= (double)m;
        s->A[i * m + i] += lambda;
    }
    if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, s->A, (lapack_int)m))
        return km_seterr(&ctx->err, KM_ENUMERIC, "Nystrom solver: the preconditioner with "
                         "ridge %g is not positive definite: use a larger --reg", lambda);
    return 0;
}

/* q = W p: one pass. */
static int apply_W(fk *f, cgs *s, const double *p, double *q)
{
    size_t m = f->m, c = f->c, mc = m * c;
    memcpy(s->w, p, mc * sizeof *p);
    trsm(s->A, m, c, 0, s->w);
    memcpy(s->v, s->w, mc * sizeof *p);
    trsm(s->T, m, c, 0, s->v);
    for (size_t i = 0; i < mc; i++)
        s->Vf[i] = (float)s->v[i];
    f->V = s->Vf;
    int rc = run_pass(f, USE_V);
    if (rc)
        return rc;
    for (size_t i = 0; i < mc; i++)
        q[i] = f->acc[i] / s->n;
    trsm(s->T, m, c, 1, q);
    for (size_t i = 0; i < mc; i++)
        q[i] += s->lambda * s->w[i];
    trsm(s->A, m, c, 1, q);
    return 0;
}

/* The CG step of every active column; returns the largest relative
 * residual over all columns. */
static double cg_step(cgs *s, size_t m, size_t c, double tol)
{
    double worst = 0;
    for (size_t j = 0; j < c; j++) {
        if (s->active[j]) {
            double pq = 0, rr = 0;
            for (size_t i = 0; i < m; i++)
                pq += s->p[i * c + j] * s->q[i * c + j];
            double step = pq > 0 ? s->rr[j] / pq : 0;
            for (size_t i = 0; i < m; i++) {
                s->beta[i * c + j] += step * s->p[i * c + j];
                s->r[i * c + j] -= step * s->q[i * c + j];
                rr += s->r[i * c + j] * s->r[i * c + j];
            }
            double g = s->rr[j] > 0 ? rr / s->rr[j] : 0;
            for (size_t i = 0; i < m; i++)
                s->p[i * c + j] = s->r[i * c + j] + g * s->p[i * c + j];
            s->rr[j] = rr;
            if (sqrt(rr) <= tol * s->bn[j] || pq <= 0)
                s->active[j] = 0;
        }
        double rel = s->bn[j] > 0 ? sqrt(s->rr[j]) / s->bn[j] : 0;
        worst = rel > worst ? rel : worst;
    }
    return worst;
}

/* The relative change an iteration made to the predictions at the
 * centres, ||F_t - F_{t-1}|| / ||F_t||, F = K_mm alpha: with K_mm = T'T
 * and alpha = T^-1 A^-1 beta, F = T' A^-1 beta, two triangular products
 * (m^2 c flops, nothing next to a pass). The centres are a uniform
 * sample of the rows, so this is how much the model still moves where
 * the data are. */
static double centre_change(cgs *s, size_t m, size_t c)
{
    size_t mc = m * c;
    memcpy(s->w, s->beta, mc * sizeof *s->w);
    trsm(s->A, m, c, 0, s->w);
    cblas_dtrmm(CblasRowMajor, CblasLeft, CblasUpper, CblasTrans, CblasNonUnit, (int)m, (int)c,
                1.0, s->T, (int)m, s->w, (int)c);
    double dd = 0, ff = 0;
    for (size_t i = 0; i < mc; i++) {
        double e = s->w[i] - s->Fc[i];
        dd += e * e;
        ff += s->w[i] * s->w[i];
        s->Fc[i] = s->w[i];
    }
    return ff > 0 ? sqrt(dd / ff) : 0;
}

/* alpha = T^-1 A^-1 beta, in float32. */
static void cg_alpha(cgs *s, size_t m, size_t c, float *alpha)
{
    memcpy(s->w, s->beta, m * c * sizeof *s->w);
    trsm(s->A, m, c, 0, s->w);
    trsm(s->T, m, c, 0, s->w);
    for (size_t i = 0; i < m * c; i++)
        alpha[i] = (float)s->w[i];
}

/* The early stop on the watched figure: 1 once `patience` iterations in
 * a row have not raised the best figure by more than watch_tol of it. */
static int watch_says_stop(fk *f, cgs *s, float *alpha, double *best, int *stale, int iter)
{
    const km_falkon_opts *o = f->o;
    if (!o->watch || o->patience <= 0)
        return 0;
    cg_alpha(s, f->m, f->c, alpha);
    double fig = o->watch(o->watch_arg, alpha);
    if (isnan(fig))
        return 0;
    if (isnan(*best) || fig > *best + o->watch_tol * fabs(*best)) {
        *best = fig;
        *stale = 0;
    } else
        ++*stale;
    km_verbose(f->ctx, "Nystrom CG: iteration %d, watched figure %.6g (%d without gain)", iter,
               fig, *stale);
    return *stale >= o->patience;
}

static int falkon_cg(fk *f, double lambda, float *alpha, km_falkon_result *res)
{
    size_t m = f->m, c = f->c, mc = m * c;
    cgs s = {0};
    int rc = cg_init(f, &s, lambda);
    if (!rc)
        rc = run_pass(f, USE_Y);
    if (rc)
        goto out;
    s.n = (double)f->rows;
    for (size_t i = 0; i < mc; i++)
        s.r[i] = f->accY[i] / s.n;
    trsm(s.T, m, c, 1, s.r);
    trsm(s.A, m, c, 1, s.r); /* b */
    memcpy(s.p, s.r, mc * sizeof *s.p);
    for (size_t j = 0; j < c; j++) {
        s.rr[j] = 0;
        for (size_t i = 0; i < m; i++)
            s.rr[j] += s.r[i * c + j] * s.r[i * c + j];
        s.bn[j] = sqrt(s.rr[j]);
        s.active[j] = s.bn[j] > 0;
    }
    double worst = memchr(s.active, 1, c) ? 1 : 0, best = NAN; /* beta = 0: r = b */
    int stale = 0;
    while (res->iters < f->o->max_iter && memchr(s.active, 1, c)) {
        if ((rc = apply_W(f, &s, s.p, s.q)))
            goto out;
        worst = cg_step(&s, m, c, f->o->tol);
        res->iters++;
        if (f->ctx->verbosity >= KM_VERBOSE) /* the movement is for this line alone */
            km_verbose(f->ctx, "Nystrom CG: iteration %d, largest relative residual %.3g, "
                       "predictions moved %.3g", res->iters, worst, centre_change(&s, m, c));
        if (watch_says_stop(f, &s, alpha, &best, &stale, res->iters)) {
            res->watch_stop = 1;
            break;
        }
    }
    res->rel_residual = worst;
    res->jitter = s.jit;
    cg_alpha(&s, m, c, alpha);
out:
    cg_free(&s);
    return rc;
}

/* ---- GRAM ---------------------------------------------------------------- */

static int falkon_gram(fk *f, float *alpha, km_falkon_result *res)
{
    size_t m = f->m, c = f->c, mc = m * c;
    double *Kmm = malloc(m * m * sizeof *Kmm), *F = malloc(m * m * sizeof *F);
    double *B = malloc(mc * sizeof *B);
    int rc = 0;
    if (!Kmm || !F || !B) {
        rc = km_seterr(&f->ctx->err, KM_ENOMEM, "out of memory for the Nystrom solver's "
                       "Gram matrices (%zu centres)", m);
        goto out;
    }
    double jit0;
    if ((rc = kmm(f, Kmm)) || (rc = kmm_jitter(f, Kmm, F, &jit0)) ||
        (rc = run_pass(f, USE_GRAM | USE_Y)))
        goto out;
    for (size_t k = 0; k < f->o->nregs; k++) {
        double lambda = f->o->regs[k], jit;
        if (chol_jitter(f->G, Kmm, lambda * (double)f->rows, F, m, jit0 / (double)m, &jit)) {
            rc = km_seterr(&f->ctx->err, KM_ENUMERIC, "the Nystrom system with ridge %g cannot "
                           "be factored even with jitter %g: use a larger --reg", lambda, jit);
            goto out;
        }
        if (jit > jit0)
            km_verbose(f->ctx, "Nystrom: ridge %g needed K_mm + %.3g I", lambda, jit);
        res->jitter = jit > res->jitter ? jit : res->jitter;
        memcpy(B, f->accY, mc * sizeof *B);
        LAPACKE_dpotrs(LAPACK_ROW_MAJOR, 'U', (lapack_int)m, (lapack_int)c, F, (lapack_int)m, B,
                       (lapack_int)c);
        for (size_t i = 0; i < mc; i++)
            alpha[k * mc + i] = (float)B[i];
    }
out:
    free(Kmm);
    free(F);
    free(B);
    return rc;
}

/* ---- the entry points ------------------------------------------------------ */

int km_falkon(km_ctx *ctx, km_pool *pool, const km_falkon_opts *o, const km_rowsrc *src,
              int classify, const float *C, size_t m, size_t d, size_t c, float *alpha,
              km_falkon_result *res)
{
    double t0 = km_now();
    memset(res, 0, sizeof *res);
    if (!o->regs || !o->nregs)
        return km_seterr(&ctx->err, KM_EINVAL, "Nystrom solver: no ridge");
    for (size_t k = 0; k < o->nregs; k++)
        if (!(o->regs[k] > 0) || isinf(o->regs[k]))
            return km_seterr(&ctx->err, KM_EINVAL, "Nystrom solver: ridge %g", o->regs[k]);
    int mode = o->mode;
    if (mode == KM_FALKON_AUTO) {
        double cg = km_falkon_cost(KM_FALKON_CG, src->n, m, d, c, o->max_iter, o->nregs);
        double gram = km_falkon_cost(KM_FALKON_GRAM, src->n, m, d, c, o->max_iter, o->nregs);
        mode = gram <= cg ? KM_FALKON_GRAM : KM_FALKON_CG;
    }
    fk f;
    int rc = fk_init(&f, ctx, pool, o, src, classify, C, m, d, c, mode == KM_FALKON_GRAM);
    if (rc)
        return rc;
    f.pass_total = mode == KM_FALKON_GRAM ? 1 : 1 + (o->max_iter > 0 ? o->max_iter : 0);
    rc = mode == KM_FALKON_GRAM ? falkon_gram(&f, alpha, res)
                                : falkon_cg(&f, o->regs[0], alpha, res);
    res->mode = mode;
    res->passes = f.pass_no;
    res->rows = f.rows;
    res->seconds = km_now() - t0;
    res->pass_seconds = f.pass_no ? f.pass_seconds / f.pass_no : 0;
    if (!rc && res->pass_seconds > 0)
        km_verbose(ctx, "Nystrom %s: %d passes over %llu rows, %.3f s a pass (%.0f rows/s)",
                   mode == KM_FALKON_GRAM ? "Gram" : "CG", res->passes,
                   (unsigned long long)res->rows, res->pass_seconds,
                   (double)res->rows / res->pass_seconds);
    fk_free(&f);
    return rc;
}

int km_falkon_score(km_ctx *ctx, km_pool *pool, const km_falkon_opts *o, const km_rowsrc *src,
                    int classify, const float *C, size_t m, size_t d, size_t c,
                    const float *alpha, size_t nsets, double *out)
{
    fk f;
    int rc = fk_init(&f, ctx, pool, o, src, classify, C, m, d, c, 0);
    if (rc)
        return rc;
    f.alpha = alpha;
    f.nsets = nsets;
    f.pass_total = 1;
    f.score = calloc(nsets ? nsets : 1, sizeof *f.score);
    if (!f.score)
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for scoring");
    else
        rc = run_pass(&f, USE_SCORE);
    for (size_t s = 0; !rc && s < nsets; s++)
        out[s] = f.score[s] / (double)f.rows;
    free(f.score);
    fk_free(&f);
    return rc;
}
