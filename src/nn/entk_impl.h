/* entk_impl.h - the empirical NTK's block code (kmill/entk.h), written once
 * for a number type and included by src/nn/entk.c once per type with
 *   REAL  float or double,   SFX(name) the name with the type's suffix,
 *   GEMM  cblas_sgemm or cblas_dgemm.
 * Nothing here is public; the two instantiations are the same algorithm,
 * which is why the float64 one's finite-difference test covers both. */

/* A block's values: h[l] (r x width[l], l = 0..D; h[0] points at the
 * caller's rows) and the deltas dl[l-1] (r c x width[l], l = 1..D+1, row
 * i c + a for row i and output a). */
typedef struct SFX(entk_block) {
    size_t r;
    REAL **h, **dl;
} SFX(entk_block);

static void SFX(block_free)(SFX(entk_block) *f, uint32_t D)
{
    if (f->h)
        for (uint32_t l = 1; l <= D; l++)
            free(f->h[l]);
    if (f->dl)
        for (uint32_t l = 0; l <= D; l++)
            free(f->dl[l]);
    free(f->h);
    free(f->dl);
    f->h = f->dl = NULL;
}

static int SFX(block_alloc)(SFX(entk_block) *f, const km_mlp *net, size_t r)
{
    uint32_t D = net->depth;
    size_t c = net->width[D + 1];
    f->r = r;
    f->h = calloc(D + 1, sizeof *f->h);
    f->dl = calloc(D + 1, sizeof *f->dl);
    if (!f->h || !f->dl)
        return -1;
    for (uint32_t l = 1; l <= D; l++)
        if (!(f->h[l] = malloc(r * net->width[l] * sizeof(REAL))))
            return -1;
    for (uint32_t l = 1; l <= D + 1; l++)
        if (!(f->dl[l - 1] = malloc(r * c * net->width[l] * sizeof(REAL))))
            return -1;
    return 0;
}

/* Forward over the r rows X, then the deltas from the output down. The
 * ReLU's derivative 1[z > 0] is read off h = relu(z) > 0. */
static void SFX(block_make)(SFX(entk_block) *f, const km_mlp *net, const entk_mult *m,
                            REAL *const *W, REAL *const *b, const REAL *X, size_t r)
{
    uint32_t D = net->depth;
    const uint32_t *n = net->width;
    size_t c = n[D + 1];
    f->r = r;
    f->h[0] = (REAL *)X;
    for (uint32_t l = 1; l <= D; l++) {
        REAL *h = f->h[l];
        for (size_t i = 0; i < r; i++)
            for (uint32_t k = 0; k < n[l]; k++)
                h[i * n[l] + k] = (REAL)m->beta * b[l - 1][k];
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r, (int)n[l], (int)n[l - 1],
             (REAL)m->w[l - 1], f->h[l - 1], (int)n[l - 1], W[l - 1], (int)n[l - 1], 1, h,
             (int)n[l]);
        for (size_t k = 0; k < r * n[l]; k++)
            h[k] = h[k] > 0 ? h[k] : 0;
    }
    REAL *top = f->dl[D];
    memset(top, 0, r * c * c * sizeof(REAL));
    for (size_t i = 0; i < r; i++)
        for (size_t a = 0; a < c; a++)
            top[(i * c + a) * c + a] = (REAL)m->alpha;
    for (uint32_t l = D; l >= 1; l--) {
        REAL *d = f->dl[l - 1];
        /* delta^l (r c x n_l) = m_{l+1} delta^{l+1} W^{l+1}, masked by row */
        GEMM(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(r * c), (int)n[l], (int)n[l + 1],
             (REAL)m->w[l], f->dl[l], (int)n[l + 1], W[l], (int)n[l], 0, d, (int)n[l]);
        for (size_t i = 0; i < r; i++) {
            const REAL *h = f->h[l] + i * n[l];
            for (size_t a = 0; a < c; a++) {
                REAL *row = d + (i * c + a) * n[l];
                for (uint32_t k = 0; k < n[l]; k++)
                    if (!(h[k] > 0))
                        row[k] = 0;
            }
        }
    }
}

/* K (leading dimension ldk) += the kernel between blocks fa and fb, using
 * gh (ra x rb) and gd (ra x rb, or ra c x rb c for KM_ENTK_FULL). */
static void SFX(block_gram)(const km_mlp *net, const entk_mult *m, const SFX(entk_block) *fa,
                            const SFX(entk_block) *fb, int mode, REAL *gh, REAL *gd, REAL *K,
                            size_t ldk)
{
    uint32_t D = net->depth;
    const uint32_t *n = net->width;
    size_t c = n[D + 1], ra = fa->r, rb = fb->r;
    REAL b2 = (REAL)(m->beta * m->beta), inv_c = (REAL)(1.0 / (double)c);
    for (uint32_t l = 1; l <= D + 1; l++) {
        REAL w2 = (REAL)(m->w[l - 1] * m->w[l - 1]);
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ra, (int)rb, (int)n[l - 1], w2,
             fa->h[l - 1], (int)n[l - 1], fb->h[l - 1], (int)n[l - 1], 0, gh, (int)rb);
        if (mode == KM_ENTK_MEAN) {
            int len = (int)(c * n[l]);
            GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)ra, (int)rb, len, inv_c,
                 fa->dl[l - 1], len, fb->dl[l - 1], len, 0, gd, (int)rb);
            for (size_t i = 0; i < ra; i++)
                for (size_t j = 0; j < rb; j++)
                    K[i * ldk + j] += (gh[i * rb + j] + b2) * gd[i * rb + j];
            continue;
        }
        size_t lg = rb * c;
        GEMM(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(ra * c), (int)lg, (int)n[l], 1,
             fa->dl[l - 1], (int)n[l], fb->dl[l - 1], (int)n[l], 0, gd, (int)lg);
        for (size_t i = 0; i < ra; i++)
            for (size_t a = 0; a < c; a++)
                for (size_t j = 0; j < rb; j++) {
                    REAL s = gh[i * rb + j] + b2;
                    REAL *k = K + (i * c + a) * ldk + j * c;
                    const REAL *g = gd + (i * c + a) * lg + j * c;
                    for (size_t bb = 0; bb < c; bb++)
                        k[bb] += s * g[bb];
                }
    }
}

/* The whole Gram, block pair by block pair (see km_entk_gram). */
static int SFX(entk_run)(km_ctx *ctx, const km_mlp *net, const entk_mult *m, REAL *const *W,
                         REAL *const *b, const REAL *A, size_t na, const REAL *B, size_t nb,
                         int mode, size_t bs, REAL *K)
{
    uint32_t D = net->depth;
    size_t d = net->width[0], c = net->width[D + 1];
    size_t cm = mode == KM_ENTK_FULL ? c : 1, ldk = nb * cm;
    int same = A == B && na == nb, rc = 0;
    SFX(entk_block) fa = {0}, fb = {0};
    REAL *gh = malloc(bs * bs * sizeof(REAL)), *gd = malloc(bs * bs * cm * cm * sizeof(REAL));
    if (!gh || !gd || SFX(block_alloc)(&fa, net, bs) < 0 ||
        (!same && SFX(block_alloc)(&fb, net, bs) < 0)) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the empirical NTK's blocks");
        goto out;
    }
    memset(K, 0, na * cm * ldk * sizeof(REAL));
    size_t bmade = (size_t)-1; /* the B block fb holds */
    for (size_t i0 = 0; i0 < na && !rc; i0 += bs) {
        size_t ra = na - i0 < bs ? na - i0 : bs;
        SFX(block_make)(&fa, net, m, W, b, A + i0 * d, ra);
        for (size_t j0 = 0; j0 < nb; j0 += bs) {
            size_t rb = nb - j0 < bs ? nb - j0 : bs;
            const SFX(entk_block) *pb = &fb;
            if (same && j0 == i0)
                pb = &fa;
            else if (same) {
                /* fb is fa's sibling storage: allocate it on first need */
                if (!fb.h && SFX(block_alloc)(&fb, net, bs) < 0) {
                    rc = km_seterr(&ctx->err, KM_ENOMEM,
                                   "out of memory for the empirical NTK's blocks");
                    break;
                }
                SFX(block_make)(&fb, net, m, W, b, B + j0 * d, rb);
            } else if (bmade != j0) {
                SFX(block_make)(&fb, net, m, W, b, B + j0 * d, rb);
                bmade = nb <= bs ? j0 : (size_t)-1;
            }
            SFX(block_gram)(net, m, &fa, pb, mode, gh, gd, K + i0 * cm * ldk + j0 * cm, ldk);
            if (km_check_interrupt(ctx)) {
                rc = KM_EINTR;
                break;
            }
        }
    }
out:
    SFX(block_free)(&fa, D);
    SFX(block_free)(&fb, D);
    free(gh);
    free(gd);
    return rc;
}
