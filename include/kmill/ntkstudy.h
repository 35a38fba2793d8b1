/* ntkstudy.h - finite networks against their infinite-width kernels on a
 * sample of a dataset (kmill ntk; kmill-algorithms(7), NETWORKS).
 *
 * For each width w, `seeds` networks of depth D (every hidden layer w
 * wide, NTK parameterisation, output multiplier 1, the analytic kernels'
 * sw2 and sb2) are drawn; the class-averaged empirical NTK of each on the
 * sample's training rows (kmill/entk.h) is compared with the analytic NTK
 * and, for reference, the NNGP of the same depth (kmill/kernel.h) by the
 * relative Frobenius distance ||K_emp - K||_F / ||K||_F. With epochs > 0
 * each network is then trained (kmill/mlpfit.h) and compared again, the
 * kernel distance of Fort et al. between its kernels at initialisation
 * and at the end says how far training moved it, and its validation
 * metric stands beside that of kernel ridge regression with the analytic
 * NTK on the same rows (kmill/krr.h). The distance at initialisation
 * falls like w^-1/2: the slope of log(mean distance) against log(w),
 * least squares over the widths, is reported. */
#ifndef KMILL_NTKSTUDY_H
#define KMILL_NTKSTUDY_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kmx.h"
#include "kmill/mlpfit.h"
#include "kmill/pool.h"
#include "kmill/sample.h"

#define KM_NTK_MAX_WIDTHS 32

typedef struct km_ntk_study_opts {
    km_sample_opts sample;  /* rows, seed, validation share */
    uint32_t widths[KM_NTK_MAX_WIDTHS];
    size_t nwidths;
    uint32_t depth;         /* hidden layers */
    uint32_t seeds;         /* networks per width */
    uint64_t seed;          /* the first network's; then seed + 1, ... */
    double sw2, sb2;
    km_mlp_fit_opts fit;    /* epochs 0: initialisation only */
    double reg;             /* ridge of the analytic-NTK regression */
    const char *gram;       /* where to write the analytic NTK Gram, or NULL */
} km_ntk_study_opts;

/* The mean and sample standard deviation over the seeds (sd 0 for one). */
typedef struct km_ntk_stat {
    double mean, sd;
} km_ntk_stat;

typedef struct km_ntk_width {
    uint32_t width;
    km_ntk_stat ntk0, nngp0;  /* distance to the NTK, to the NNGP, at initialisation */
    km_ntk_stat ntk1;         /* to the NTK after training (NaN without) */
    km_ntk_stat move;         /* kernel distance, initialisation to end */
    km_ntk_stat metric;       /* the trained nets' validation metric */
} km_ntk_width;

typedef struct km_ntk_study {
    size_t n, nv, d, c;       /* training and validation rows, features, outputs */
    int classify;
    km_ntk_width w[KM_NTK_MAX_WIDTHS];
    size_t nw;
    double slope0, slope1;    /* log-log slopes at initialisation, after training */
    double krr_metric;        /* analytic-NTK regression's validation metric (NaN: none) */
} km_ntk_study;

/* Depth 1, one seed, sw2 2, sb2 0.1, no training (lr 0.1 and MSE when
 * asked), reg 1e-3, a fifth of the sample held out. */
void km_ntk_study_defaults(km_ntk_study_opts *o);

/* Run the study on data. The plan (rows, four n x n kernels, the
 * empirical NTK's blocks, the widest network and its training) is checked
 * against --mem before any work, and the Gram file opened. KM_EINVAL for
 * no widths or a width or depth of 0; the errors of the parts. */
int km_ntk_study_run(km_ctx *ctx, km_pool *pool, km_kmx *data, const km_ntk_study_opts *o,
                     km_ntk_study *r);

/* The slope of least squares of log y against log x over n points with
 * y > 0 (NaN when fewer than two). */
double km_loglog_slope(const double *x, const double *y, size_t n);

#endif
