/* specjob.h - `kmill spectrum`'s job: the kernel matrix of a sample of
 * rows and what its eigendecomposition says (kmill/spectrum.h,
 * kmill-algorithms(7), SPECTRA).
 *
 * The rows are a uniform sample of a dataset (kmill/sample.h) under a
 * given kernel, fitted as kmill train fits them, or a uniform sample of a
 * model's centres under the model's own kernel with its metric M applied
 * (an RFM's learned kernel). The n x n kernel matrix K is built in
 * float32 strips of rows (its lower triangle) and widened into one float64
 * matrix, which the eigensolver then overwrites: 8 n^2 bytes, plus 8 n^2
 * for the eigenvectors when ridges are asked for. Without ridges only the
 * top eigenvalues are computed (an index range); with them all n
 * eigenpairs, from which every ridge's effective dimension, leave-one-out
 * error, GCV and trace heuristic follow.
 *
 * A model's targets are not stored: they are recovered from its
 * coefficients as Y = (K + reg I) alpha over all its centres (exact up to
 * its solve's residual), a class as the largest entry of its row. A
 * Nystrom model's centres are not the rows it was fitted to, so it has
 * no such targets: its spectrum comes without leave-one-out figures. */
#ifndef KMILL_SPECJOB_H
#define KMILL_SPECJOB_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kernel.h"
#include "kmill/kmx.h"
#include "kmill/model.h"
#include "kmill/plan.h"
#include "kmill/pool.h"
#include "kmill/sample.h"
#include "kmill/spectrum.h"

typedef struct km_spectrum_opts {
    km_sample_opts sample; /* rows (0: all) and seed of the draw, for a model
                            * too (its centres); for a dataset the features */
    km_kernel kernel;      /* a dataset's kernel (a model brings its own) */
    size_t top;            /* eigenvalues reported; at most the rows drawn */
    const double *regs;    /* ridges as kmill train's --reg, each > 0 */
    size_t nregs;          /* 0: eigenvalues alone */
} km_spectrum_opts;

typedef struct km_spectrum_result {
    size_t n, d, c;         /* rows drawn, features, outputs */
    int classify;
    uint64_t available;     /* rows of the dataset, or centres of the model */
    uint64_t unlabelled;    /* dataset rows drawn and dropped for a missing label */
    km_kernel kernel;
    int metric;             /* KM_METRIC_* applied */
    size_t top;             /* eigenvalues in values */
    double *values;         /* the top eigenvalues of K / n, largest first */
    double trace;           /* tr(K / n) */
    int loo;                /* targets known: the fits' training, LOO and GCV figures mean
                             * something (else they are NaN) */
    double target_error;    /* a model's recovered one-hot targets: largest distance
                             * from one-hot (0 for a dataset or a regression) */
    size_t nfits;
    km_spectral_fit *fits;  /* one per ridge */
    double kernel_seconds, eigen_seconds;
} km_spectrum_result;

/* The spectrum of a sample of data's rows. KM_ENOMEM before any work
 * when the plan exceeds --mem, the message naming the largest sample that
 * fits; km_sample_load's errors; KM_EINTR. */
int km_spectrum_data(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_spectrum_opts *o,
                     km_spectrum_result *r);
/* The same for a sample of the centres of model m (o->kernel unused). */
int km_spectrum_model(km_ctx *ctx, km_pool *pool, const km_model *m, const km_spectrum_opts *o,
                      km_spectrum_result *r);
void km_spectrum_result_free(km_spectrum_result *r);

#endif
