/* spectrum.h - eigen-analysis of symmetric matrices and the spectral
 * diagnostics of kernel ridge regression (kmill-algorithms(7), SPECTRA),
 * on arrays in memory: the layer below both `kmill features` (the
 * eigenpairs of an RFM's M) and `kmill spectrum` (those of a kernel
 * matrix).
 *
 * Everything is float64. A kernel matrix's eigenvalues fall over many
 * orders of magnitude; a float32 eigensolver knows each only to about
 * 1e-7 times the largest, so the small ones, which are exactly the ones
 * that decide (K + reg I)^-1 for a small ridge (leave-one-out, the trace
 * heuristic), would be rounding noise.
 *
 * Ridge convention: the one kmill train solves, (K + reg I) A = Y with
 * K the plain kernel matrix of n rows, so reg = n lambda for the lambda
 * of the formulas written with K/n: H = K (K + reg I)^-1. From one
 * eigendecomposition K = V diag(s) V^T every ridge costs O(n^2 c):
 *   H = V diag(s / (s + reg)) V^T, I - H = V diag(reg / (s + reg)) V^T,
 *   effective dimension d = tr H = sum s / (s + reg),
 *   leave-one-out residual e_i = ((I - H) Y)_i / (I - H)_ii (exact for
 *   kernel ridge regression: the residual of the fit without row i),
 *   GCV = (||(I - H) Y||^2 / n) / (1 - d / n)^2,
 *   heuristic tr((K + reg I)^-1) / n = sum 1 / (s + reg) / n.
 * 1 - H and I - H are formed from reg / (s + reg) rather than as
 * differences, which would cancel when the ridge is small. */
#ifndef KMILL_SPECTRUM_H
#define KMILL_SPECTRUM_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

/* The k largest eigenvalues of the symmetric n x n matrix A into w,
 * largest first, and when V is not NULL their unit eigenvectors into
 * V (k x n: row r belongs to w[r]). A is row-major; only its lower
 * triangle (j <= i) is read, and A is destroyed. 1 <= k <= n. One call of
 * LAPACK's dsyevr (an index range when k < n). KM_ENOMEM, or KM_ENUMERIC
 * with a message naming `what` when the eigensolver fails. */
int km_eig_top(km_err *e, const char *what, double *A, size_t n, size_t k, double *w,
               double *V);
/* Bytes km_eig_top holds beside A, w and V: LAPACK's workspace. */
uint64_t km_eig_estimate(size_t n);

/* The diagnostics of one ridge (above). MSE: the mean over rows of the
 * squared error summed over the c outputs (one-hot indicators for a
 * classification). */
typedef struct km_spectral_fit {
    double reg;        /* the ridge added to K */
    double dof;        /* effective dimension tr H */
    double train_mse;  /* of the fit H Y */
    double loo_mse;
    double loo_acc;    /* share of rows whose leave-one-out scores' argmax is
                        * their class; NaN for a regression */
    double gcv;        /* NaN when d = n */
    double heuristic;  /* tr((K + reg I)^-1) / n */
} km_spectral_fit;

/* From all n eigenpairs of K (s, V as km_eig_top gives them for k = n)
 * and the targets y (n: class indices in [0, c) when classify, else
 * values, c = 1), the fit of each of the nregs ridges (each > 0) into
 * out. KM_EINVAL for a target outside the contract, KM_ENOMEM;
 * KM_EINTR when interrupted between ridges. */
int km_spectral_fits(km_ctx *ctx, const double *s, const double *V, size_t n, const float *y,
                     size_t c, int classify, const double *regs, size_t nregs,
                     km_spectral_fit *out);
/* Bytes km_spectral_fits holds for n rows and c outputs. */
uint64_t km_spectral_estimate(size_t n, size_t c);

#endif
