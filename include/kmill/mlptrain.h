/* mlptrain.h - `kmill mlp` as one library call (kmill-mlp(1)): a sample of
 * a dataset (km_sample_load), a ReLU network trained on it
 * (kmill/mlpfit.h), the metrics of what training did (kmill/nnmetrics.h)
 * at initialisation and at the end, and the network as a model
 * (kmill/model.h, kind KM_MODEL_NET) for predict and eval. */
#ifndef KMILL_MLPTRAIN_H
#define KMILL_MLPTRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kmx.h"
#include "kmill/mlpfit.h"
#include "kmill/model.h"
#include "kmill/pool.h"
#include "kmill/sample.h"

typedef struct km_mlp_job_opts {
    km_sample_opts sample;  /* rows, validation, feature transform */
    uint32_t width, depth;  /* every hidden layer's width; hidden layers */
    int param;              /* KM_PARAM_* */
    double sw2, sb2, alpha;
    km_mlp_fit_opts fit;    /* loss, lr, epochs, batch, the epoch callback
                             * (seed and classify are set from the job) */
    uint64_t seed;          /* of the sample, the weights and the batches */
    size_t metric_rows;     /* training rows the metrics use (a seeded subset); 0: 2000 */
} km_mlp_job_opts;

void km_mlp_job_defaults(km_mlp_job_opts *o);

/* Rows of the kernel distance: its two Grams are rows^2 floats each. */
#define KM_MLP_NTK_ROWS 1000

typedef struct km_mlp_job_result {
    km_mlp_fit_result fit;
    double init_loss, init_metric;   /* on the training rows at initialisation */
    size_t n, nv, d, c;
    int classify;
    uint64_t unlabelled;             /* sampled rows dropped for a missing label */
    size_t metric_rows;
    double *change;                  /* depth + 1 relative weight changes */
    double cka;                      /* last hidden layer, initialisation vs the end */
    double kta0, kta;                /* its alignment with the targets, before and after */
    double nfa0, nfa, nfa_delta;     /* the feature ansatz at initialisation, at the end, of dW */
    double *agop_diag;               /* d: the trained network's AGOP diagonal */
    double kdist;                    /* the empirical NTK's kernel distance (Fort et al.),
                                      * initialisation vs the end */
    size_t kdist_rows;               /* the metric rows it is taken on (at most KM_MLP_NTK_ROWS) */
} km_mlp_job_result;

void km_mlp_job_result_free(km_mlp_job_result *r);

/* Sample, train, measure; m receives the network, its feature transform
 * and its training summary (provenance strings are the caller's).
 * KM_EINVAL for cross-entropy on a regression label (the message says
 * so), KM_ENOMEM when the plan exceeds ctx->mem_budget (checked before
 * the sample is read), km_mlp_fit's errors. */
int km_mlp_train_job(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_mlp_job_opts *o,
                     km_model *m, km_mlp_job_result *r);

#endif
