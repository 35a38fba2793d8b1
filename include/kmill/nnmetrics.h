/* nnmetrics.h - what training did to a ReLU network (kmill/mlp.h;
 * kmill-algorithms(7), NETWORKS): how far the weights moved, how much
 * the last hidden layer's representation changed (linear CKA), how well
 * its kernel fits the targets (centred kernel-target alignment), the
 * network's AGOP, and the Neural Feature Ansatz (the first layer's Gram
 * W1^T W1 against AGOP^(1/2)). */
#ifndef KMILL_NNMETRICS_H
#define KMILL_NNMETRICS_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/mlp.h"

/* out[l-1] = ||W^l_T - W^l_0||_F / ||W^l_0||_F for l = 1..D+1 (the two
 * networks of one shape). */
void km_mlp_weight_change(const km_mlp *w0, const km_mlp *wt, double *out);

/* Linear CKA (Kornblith et al. 2019) of representations A (n x p) and B
 * (n x q) of the same rows: with columns centred,
 *   ||A^T B||_F^2 / (||A^T A||_F ||B^T B||_F),
 * which is HSIC(AA^T, BB^T) / sqrt(HSIC(AA^T, AA^T) HSIC(BB^T, BB^T))
 * without the n x n Gram matrices. In float64. NaN when either side is
 * constant. KM_ENOMEM. */
int km_cka_linear(km_ctx *ctx, const float *A, size_t p, const float *B, size_t q, size_t n,
                  double *cka);

/* The centred kernel-target alignment (Cortes et al. 2012) of the kernel
 * H H^T of a representation H (n x p) with the targets' kernel T T^T: T
 * the one-hot classes of y (c columns), or y itself for a regression (c
 * = 1). It is the linear CKA of H and T. */
int km_kta(km_ctx *ctx, const float *H, size_t p, const float *y, size_t n, size_t c, int classify,
           double *kta);

/* The last hidden layer's activations h^D (n x width[D]) for X. */
int km_mlp_hidden(km_ctx *ctx, const km_mlp *net, const float *X, size_t n, float *H);

/* The network's AGOP over rows X (n x d): G = (1/n) sum_x sum_c
 * grad_x f_c grad_x f_c^T (d x d, float64), the gradients by the backward
 * deltas of each output, batched (grad_x f_c = ws_1 delta^1_c W^1). */
int km_mlp_agop(km_ctx *ctx, const km_mlp *net, const float *X, size_t n, double *G);

/* Pearson's correlation of the n entries of a and b; NaN when either is
 * constant. */
double km_pearson(const double *a, const double *b, size_t n);

/* The Neural Feature Ansatz of net on X: the correlation of the entries of
 * W1^T W1 (d x d) with those of AGOP^(1/2) (km_metric_root); with w0
 * non-NULL also that of dW^T dW, dW = W1 - W1 of w0, into *nfa_delta.
 * diag (may be NULL, d entries) receives the AGOP's diagonal. */
int km_mlp_nfa(km_ctx *ctx, const km_mlp *net, const km_mlp *w0, const float *X, size_t n,
               double *nfa, double *nfa_delta, double *diag);

#endif
