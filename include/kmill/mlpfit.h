/* mlpfit.h - training a ReLU network (kmill/mlp.h) by gradient descent
 * (kmill-algorithms(7), NETWORKS): the loss and its gradient by
 * backpropagation, and full-batch gradient descent or minibatch SGD.
 *
 * Targets: y holds per row a class index (classification, c outputs) or a
 * value (regression, one output). Losses, over n rows with f = alpha z:
 *   MSE (the default, as kernel regression): L = (1/n) sum_i ||f_i - t_i||^2
 *     with t_i the one-hot vector of the class (or the value); the
 *     objective is J = L / (2 alpha^2);
 *   cross-entropy (classification only): L = (1/n) sum_i -log softmax(f_i)_y,
 *     J = L / alpha^2.
 * Dividing by alpha^2 is the lazy-training scaling of Chizat et al.: a
 * gradient step moves f by about the same amount for every alpha while
 * the weights move by 1/alpha as much. */
#ifndef KMILL_MLPFIT_H
#define KMILL_MLPFIT_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/mlp.h"
#include "kmill/pool.h"

enum { KM_LOSS_MSE = 0, KM_LOSS_XENT = 1 };

/* Scratch of the backward pass for up to cap rows, grown as needed. */
typedef struct km_mlp_work {
    km_mlp_cache cache;
    km_mlp grad;          /* dJ/dW, dJ/db, the network's shape */
    size_t cap;
    float *out, *ones, *G0, *G1;
} km_mlp_work;

void km_mlp_work_free(km_mlp_work *w);

/* The loss L over rows X (n x d), y (n) and into w->grad the gradient of J
 * (above); *correct (may be NULL) counts the rows whose largest output is
 * their class (classification). KM_ENOMEM. */
int km_mlp_grad(km_ctx *ctx, const km_mlp *net, const float *X, const float *y, size_t n,
                int loss, int classify, km_mlp_work *w, double *L, size_t *correct);

/* One step of the backward pass, l = 2..D+1: Gn (n x width[l-1]) =
 * (ws G W^l) . 1[z^{l-1} > 0] for deltas G (n x width[l]) of the rows
 * whose forward pass is in cache. */
void km_mlp_delta_down(const km_mlp *net, const km_mlp_cache *cache, uint32_t l, size_t n,
                       const float *G, float *Gn);

/* L and the metric (accuracy, or the MSE for a regression) of net over n
 * rows, in blocks. */
int km_mlp_evaluate(km_ctx *ctx, km_pool *pool, const km_mlp *net, const float *X,
                    const float *y, size_t n, int loss, int classify, double *L, double *metric);

/* One line of the training log. Epoch 0 is the network at
 * initialisation, evaluated on all the training rows; after that, loss
 * and train_metric are the means over the epoch's batches (the weights
 * moving as they go), the validation figures those at the epoch's end. */
typedef struct km_mlp_epoch {
    uint32_t epoch, epochs;
    int classify;                /* the metrics are accuracies (else MSEs) */
    double loss, train_metric;
    double val_loss, val_metric; /* NaN without validation rows */
    double seconds;              /* of this epoch's training */
} km_mlp_epoch;

typedef struct km_mlp_fit_opts {
    int loss;             /* KM_LOSS_* */
    int classify;
    double lr;
    uint32_t epochs;
    size_t batch;         /* rows per step; 0 or >= n: full-batch gradient descent */
    uint64_t seed;        /* of the shuffle before each epoch */
    void (*on_epoch)(void *arg, const km_mlp_epoch *e);
    void *arg;
} km_mlp_fit_opts;

typedef struct km_mlp_fit_result {
    double loss, train_metric;   /* on all the training rows at the end */
    double val_loss, val_metric; /* NaN without validation rows */
    double seconds_per_epoch;    /* mean over the epochs, evaluation excluded */
} km_mlp_fit_result;

/* Train net in place on X (n x d), y; validation rows Xv (nv x d), yv
 * (nv may be 0). KM_ENUMERIC when the loss is not finite ("the loss
 * diverged at epoch E (inf): try a smaller --lr than 0.5"), KM_EINTR when
 * interrupted (checked each epoch), KM_ENOMEM. Shows a progress line. */
int km_mlp_fit(km_ctx *ctx, km_pool *pool, km_mlp *net, const float *X, const float *y, size_t n,
               const float *Xv, const float *yv, size_t nv, const km_mlp_fit_opts *o,
               km_mlp_fit_result *r);

/* Bytes km_mlp_fit holds beside the network and the rows: gradients, the
 * activations and deltas of a batch of `batch` rows (0: n), the shuffled
 * batch, and the evaluation's blocks (kmill/plan.h). */
uint64_t km_mlp_fit_estimate(uint32_t depth, const uint32_t *width, size_t n, size_t batch);
/* Bytes of a network's parameters. */
uint64_t km_mlp_bytes(uint32_t depth, const uint32_t *width);

#endif
