/* fit.c - gradient descent on a ReLU network (kmill/mlpfit.h): full batch,
 * or minibatches of a permutation of the rows drawn afresh (seeded) each
 * epoch, the last batch of an epoch possibly short. A step is the
 * backward pass (backprop.c) and one saxpy per parameter array. The loss
 * is checked after every step: a step size too large shows as an
 * overflow within a few epochs, and going on would only turn the weights
 * into NaN. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/blas.h"
#include "kmill/mlpfit.h"
#include "kmill/progress.h"
#include "kmill/rng.h"

uint64_t km_mlp_bytes(uint32_t depth, const uint32_t *width)
{
    uint64_t p = 0;
    for (uint32_t l = 1; l <= depth + 1; l++)
        p += (uint64_t)width[l] * width[l - 1] + width[l];
    return p * sizeof(float);
}

uint64_t km_mlp_fit_estimate(uint32_t depth, const uint32_t *width, size_t n, size_t batch)
{
    if (!batch || batch > n)
        batch = n;
    uint64_t sum = 0, mw = 0;
    for (uint32_t l = 1; l <= depth + 1; l++) {
        sum += width[l];
        mw = width[l] > mw ? width[l] : mw;
    }
    uint64_t b = batch, e = n < 2048 ? n : 2048;
    return km_mlp_bytes(depth, width)             /* gradients */
           + b * (2 * sum + 2 * mw + width[depth + 1] + 1) * sizeof(float) /* z, h, deltas */
           + b * (width[0] + 1) * sizeof(float)   /* the gathered batch */
           + (uint64_t)n * sizeof(size_t)         /* the permutation */
           + e * (3 * mw + width[depth + 1]) * sizeof(float); /* evaluation blocks */
}

/* Net -= lr * grad. */
static void step(km_mlp *net, const km_mlp *grad, float lr)
{
    for (uint32_t l = 1; l <= net->depth + 1; l++) {
        size_t nw = (size_t)net->width[l] * net->width[l - 1];
        cblas_saxpy((int)nw, -lr, grad->W[l - 1], 1, net->W[l - 1], 1);
        cblas_saxpy((int)net->width[l], -lr, grad->b[l - 1], 1, net->b[l - 1], 1);
    }
}

typedef struct fit_state {
    km_ctx *ctx;
    km_mlp *net;
    const km_mlp_fit_opts *o;
    const float *X, *y;
    size_t n, d, b;
    size_t *perm;
    float *Xb, *yb;
    km_rng rng;
    km_mlp_work w;
} fit_state;

static int diverged(km_ctx *ctx, uint32_t epoch, double L, double lr)
{
    return km_seterr(&ctx->err, KM_ENUMERIC,
                     "the loss diverged at epoch %u (%s): try a smaller --lr than %g",
                     (unsigned)epoch, isnan(L) ? "nan" : "inf", lr);
}

/* One pass over the rows; the batches' mean loss and metric into e. */
static int epoch(fit_state *s, km_mlp_epoch *e)
{
    size_t n = s->n, d = s->d, b = s->b;
    if (b < n) /* Fisher-Yates */
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = (size_t)km_rng_below(&s->rng, i + 1), t = s->perm[i];
            s->perm[i] = s->perm[j];
            s->perm[j] = t;
        }
    double sum = 0;
    size_t ok = 0;
    for (size_t i0 = 0; i0 < n; i0 += b) {
        size_t nb = n - i0 < b ? n - i0 : b, right = 0;
        const float *Xb = s->X, *yb = s->y;
        if (b < n) {
            for (size_t i = 0; i < nb; i++) {
                size_t r = s->perm[i0 + i];
                memcpy(s->Xb + i * d, s->X + r * d, d * sizeof *Xb);
                s->yb[i] = s->y[r];
            }
            Xb = s->Xb;
            yb = s->yb;
        }
        double L;
        int rc = km_mlp_grad(s->ctx, s->net, Xb, yb, nb, s->o->loss, s->o->classify, &s->w, &L,
                             &right);
        if (rc)
            return rc;
        if (!isfinite(L))
            return diverged(s->ctx, e->epoch, L, s->o->lr);
        step(s->net, &s->w.grad, (float)s->o->lr);
        sum += L * (double)nb;
        ok += right;
    }
    e->loss = sum / (double)n;
    e->train_metric = s->o->classify ? (double)ok / (double)n : e->loss;
    return 0;
}

static int check_labels(km_ctx *ctx, const km_mlp *net, const float *y, size_t n,
                        const km_mlp_fit_opts *o)
{
    size_t c = net->width[net->depth + 1];
    if (o->loss == KM_LOSS_XENT && !o->classify)
        return km_seterr(&ctx->err, KM_EINVAL, "cross-entropy needs class labels");
    if (!o->classify && c != 1)
        return km_seterr(&ctx->err, KM_EINVAL, "a regression network has one output, not %zu", c);
    for (size_t i = 0; o->classify && i < n; i++)
        if (!(y[i] >= 0 && y[i] < (float)c && y[i] == floorf(y[i])))
            return km_seterr(&ctx->err, KM_EDATA, "row %zu: class %g is not one of the %zu "
                             "outputs", i + 1, (double)y[i], c);
    return 0;
}

static int fit_alloc(fit_state *s)
{
    if (s->b >= s->n)
        return 0;
    s->perm = malloc(s->n * sizeof *s->perm);
    s->Xb = malloc(s->b * s->d * sizeof *s->Xb);
    s->yb = malloc(s->b * sizeof *s->yb);
    if (!s->perm || !s->Xb || !s->yb)
        return km_seterr(&s->ctx->err, KM_ENOMEM, "out of memory for the batches");
    for (size_t i = 0; i < s->n; i++)
        s->perm[i] = i;
    return 0;
}

/* The figures on the whole training and validation rows, into e. */
static int evaluate(km_ctx *ctx, km_pool *pool, const km_mlp *net, const fit_state *s,
                    const float *Xv, const float *yv, size_t nv, km_mlp_epoch *e, int train)
{
    int rc = 0;
    if (train)
        rc = km_mlp_evaluate(ctx, pool, net, s->X, s->y, s->n, s->o->loss, s->o->classify,
                             &e->loss, &e->train_metric);
    e->val_loss = e->val_metric = NAN;
    if (!rc && nv)
        rc = km_mlp_evaluate(ctx, pool, net, Xv, yv, nv, s->o->loss, s->o->classify,
                             &e->val_loss, &e->val_metric);
    if (!rc && train && !isfinite(e->loss))
        rc = diverged(ctx, e->epoch, e->loss, s->o->lr);
    return rc;
}

int km_mlp_fit(km_ctx *ctx, km_pool *pool, km_mlp *net, const float *X, const float *y, size_t n,
               const float *Xv, const float *yv, size_t nv, const km_mlp_fit_opts *o,
               km_mlp_fit_result *r)
{
    int rc = check_labels(ctx, net, y, n, o);
    if (rc)
        return rc;
    if (!n)
        return km_seterr(&ctx->err, KM_EDATA, "no training rows");
    fit_state s = {.ctx = ctx, .net = net, .o = o, .X = X, .y = y, .n = n, .d = net->width[0],
                   .b = o->batch && o->batch < n ? o->batch : n};
    km_rng_seed(&s.rng, o->seed);
    km_progress prog;
    km_progress_start(&prog, ctx, "training", o->epochs, "epochs");
    km_mlp_epoch e = {.epoch = 0, .epochs = o->epochs, .classify = o->classify};
    double spent = 0;
    if (!(rc = fit_alloc(&s)) && !(rc = evaluate(ctx, pool, net, &s, Xv, yv, nv, &e, 1)) &&
        o->on_epoch)
        o->on_epoch(o->arg, &e);
    for (uint32_t ep = 1; !rc && ep <= o->epochs; ep++) {
        if (km_check_interrupt(ctx)) {
            rc = KM_EINTR;
            break;
        }
        e.epoch = ep;
        double t0 = km_now();
        if ((rc = epoch(&s, &e)))
            break;
        e.seconds = km_now() - t0;
        spent += e.seconds;
        if ((rc = evaluate(ctx, pool, net, &s, Xv, yv, nv, &e, 0)))
            break;
        if (o->on_epoch)
            o->on_epoch(o->arg, &e);
        km_progress_detail(&prog, "loss %.4g", e.loss);
        km_progress_update(&prog, ep);
    }
    km_progress_end(&prog);
    if (!rc && !(rc = evaluate(ctx, pool, net, &s, Xv, yv, nv, &e, 1))) {
        *r = (km_mlp_fit_result){e.loss, e.train_metric, e.val_loss, e.val_metric,
                                 o->epochs ? spent / o->epochs : 0};
    }
    km_mlp_work_free(&s.w);
    free(s.perm);
    free(s.Xb);
    free(s.yb);
    return rc;
}
