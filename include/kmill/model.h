/* model.h - a trained kernel machine: what it is made of, the .kmm file
 * that holds it (formats/kmm.md, kmill-model(5)), and prediction.
 *
 * A model is self-contained: the feature transform (kmill/features.h), the
 * kernel, its bandwidth and metric M, the n training centres (as features,
 * before M) and the n x c coefficients alpha, plus how it was made. Its
 * prediction for a feature row x is f(x) = sum_i alpha_i k_M(x, x_i): c
 * scores, the class being the largest (classification) or the value
 * (regression, c = 1). */
#ifndef KMILL_MODEL_H
#define KMILL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/features.h"
#include "kmill/kernel.h"
#include "kmill/kmx.h"
#include "kmill/mlp.h"
#include "kmill/plan.h"
#include "kmill/pool.h"

/* How the training CSV was read (section READ, since 1.2): train's column
 * options, which predict and eval give again to the conversion of CSV
 * input (their own options override them), so that a raw file is read
 * and typed as in training. given = 0: none recorded (a model trained on
 * a .kmx dataset, or by kmill before 1.2). */
typedef struct km_model_read {
    int given;
    char delim, decimal;     /* 0: detected, the default */
    char decimal_used;       /* the mark the conversion used (since 1.3; 0:
                              * not recorded): predict's hint for a ';'
                              * file whose first data show none */
    int no_header, bad_values, ragged, lazy_quotes; /* as in km_convert_opts */
    uint32_t max_levels;     /* 0: the default */
    char *na_values;         /* NULL: the default tokens */
    uint32_t ncat;           /* the columns forced categorical, by name */
    char **cat;
} km_model_read;

/* The softmax temperature of the class probabilities (kmill/calib.h),
 * fitted on the validation rows with the search's choice before any
 * refit (section CALI, since 1.2). rows = 0: none (no hold-out, a
 * regression, or a model written before). */
typedef struct km_calib {
    double T;          /* > 0 */
    uint64_t rows;     /* validation rows it was fitted on */
    double nll;        /* their mean log-loss at T */
} km_calib;

/* The kinds of model (since 1.5): a kernel machine, or a ReLU network
 * (kmill mlp), whose file sets the required feature bit KM_REQ_NETWORK
 * and holds sections NETW and WGHT in place of KERN, CENT and ALPH. */
enum { KM_MODEL_KERNEL = 0, KM_MODEL_NET = 1 };
#define KM_REQ_NETWORK 1u

/* How a network was trained (section NETW, beside its architecture). */
typedef struct km_net_info {
    int loss;              /* KM_LOSS_* of kmill/mlpfit.h */
    double lr;
    uint32_t epochs;
    uint64_t batch;        /* 0: full batch */
    uint64_t seed;
    uint64_t train_rows, val_rows;
    double val_metric;     /* accuracy or MSE on the validation rows; NaN: none */
} km_net_info;

typedef struct km_model {
    int kind;              /* KM_MODEL_*; a network has n = 0 and no kernel */
    km_mlp net;            /* KM_MODEL_NET: the network (d inputs, c outputs) */
    km_net_info ni;
    km_features feat;
    km_model_read read;
    km_kernel kernel;
    double reg;
    int metric;            /* KM_METRIC_* */
    float *M;              /* d x d (full) or d (diagonal), or NULL */
    uint64_t n;            /* centres */
    uint32_t d, c;         /* features, outputs */
    float *centres;        /* n x d */
    float *alpha;          /* n x c */
    /* provenance and training summary */
    char *version, *command, *created, *data_path;
    uint32_t data_checksum; /* of the training dataset's chunk checksums */
    char *solver;
    int64_t iters;
    double residual;
    double train_metric;   /* accuracy or RMSE on the training rows */
    /* model selection and the RFM (section SELE, since 1.1); sel = 0: none */
    int sel;
    uint32_t rfm_iters;    /* RFM iterations run (0: kernel only) */
    uint32_t best_iter;    /* the one kept */
    int rfm_diag, center_grads, refit;
    uint64_t agop_samples;
    uint64_t train_rows, val_rows;
    double val_metric;     /* accuracy or MSE on the validation rows (cross-validated mean) */
    uint32_t folds;        /* of the cross-validation (since 1.3); 0: a hold-out */
    km_calib cal;
    /* a Nystrom model (section NYST, since 1.4): the centres were drawn
     * from nys_rows training rows, streamed in nys_passes passes; 0: the
     * centres are the training rows themselves */
    uint64_t nys_rows;
    uint32_t nys_passes;
} km_model;

void km_model_free(km_model *m);

/* Written atomically (kmill/outfile.h). */
int km_model_save(km_ctx *ctx, const km_model *m, const char *path);
/* KM_EFORMAT for another kind of file or an unsupported version,
 * KM_ECORRUPT for a checksum mismatch, a truncated file, or contents that
 * are not consistent with themselves (formats/kmm.md, "Reading"): every
 * count, type, size and value later used as an index or a divisor is
 * checked, and the message names the section and the value. A loaded
 * model has n >= 1 centres, d >= 1 features tiled exactly by the FEAT
 * columns, c outputs matching the task and finite centres, alpha and M. */
int km_model_load(km_ctx *ctx, const char *path, km_model *m);
/* Whether path is a regular file that starts as a model file does (its
 * signature), with the format version the header claims; nothing else is
 * checked (km_model_load does). 0 when it cannot be read. */
int km_model_probe(const char *path, unsigned *major, unsigned *minor);

/* scores (n x c) for feature rows X (n x d), in blocks whose kernel
 * against the centres (or a network's activations) stay within about mem
 * bytes. pool may be NULL. */
int km_model_scores(km_ctx *ctx, km_pool *pool, const km_model *m, const float *X, size_t n,
                    uint64_t mem, float *scores);

/* The checksum of a dataset's contents, as stored in models. */
uint32_t km_kmx_checksum(const km_kmx *d);

/* What streaming data through m holds (kmill/plan.h): the model, the
 * kernel block against its centres (a quarter of mem), the dataset
 * reader with `tasks` decoding tasks, a chunk's features and scores. */
void km_predict_estimate(const km_model *m, const km_kmx *data, int tasks, uint64_t mem,
                         km_plan *p);

/* Stream a dataset through a model: each block of rows is bound by column
 * name, transformed, scored, and handed to fn with its targets (NaN where
 * the label is missing or the dataset has none) and its rows as the
 * dataset holds them (n x the schema's ncols: numbers, category codes
 * into the schema's levels, NaN for missing; so that a caller can carry
 * other columns, an identifier, along with the scores) until fn returns
 * non-zero (that value is returned). *unseen counts categorical values
 * unseen in training. need_label: a dataset without the label column is
 * an error. */
typedef int (*km_scores_fn)(void *arg, const float *scores, const float *y, const float *rows,
                            size_t n);
int km_model_stream(km_ctx *ctx, km_pool *pool, const km_model *m, km_kmx *data, int need_label,
                    km_scores_fn fn, void *arg, uint64_t *unseen);

#endif
