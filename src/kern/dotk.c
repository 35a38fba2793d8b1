/* dotk.c - tiles of the dot-product kernels, the analytic NTK and NNGP of
 * a ReLU network (kmill/kernel.h; kmill-algorithms(7), ANALYTIC NTK AND
 * NNGP): one GEMM gives sw2 K^0 = sw2 A B^T / d, then the layer recursion
 * runs elementwise over the tile, vectorised (KM_HOT: AVX-512, AVX2 or the
 * baseline, chosen at run time), with the diagonal terms of each row and
 * column (S^l(x, x), which need no angle) from their norms in float64.
 *
 * The recursion per pair, K^0 = a.b / d, T^0 = 0, for l = 1 .. D + 1:
 *     S = sw2 K^(l-1) + sb2,  Q = S + sw2 T^(l-1);  and for l <= D,
 *     r = sqrt(max(q q' - S^2, 0)),  theta = atan2(r, S),
 *     K^l = (r + (pi - theta) S) / (2 pi),  T^l = Q (pi - theta) / (2 pi),
 * where q, q' are S^l(a, a) and S^l(b, b); NNGP = S^(D+1), NTK = Q^(D+1).
 * On the diagonal theta = 0, so S^(l+1)(x, x) = sw2 S^l(x, x) / 2 + sb2.
 *
 * Accuracy. In float32, S carries a relative error e of a few eps (the
 * GEMM's rounding, then each layer's), so q q' - S^2 is known to about
 * 2 e q q', and theta, which is about sqrt((q q' - S^2) / q q') when small,
 * to about e / theta: near the diagonal the angle is noise, and
 * (pi - theta) enters T^l linearly. (K^l is flat in theta at 0 and does
 * not suffer.) So a pair with q q' - S^2 < NEAR_TAU q q' at some layer
 * (theta below about 0.03) is flagged and recomputed from the rows in
 * float64 (fix_row), where equal rows give theta = 0 exactly. Elsewhere
 * the angle's error is under about 1e-7 / 0.03 ~ 4e-6 radian, and the
 * values are within about 1e-6 of the pair's scale sqrt(k(a, a) k(b, b))
 * of the float64 recursion (measured: 2e-7 at d = 5 and 784, depths 1
 * and 3).
 *
 * atan2(r, S) for r >= 0, branch-free: t = min(r, |S|) / max(r, |S|) in
 * [0, 1]; atan(t) is a polynomial on |z| <= tan(pi/8) (Cephes' atanf,
 * relative error about 1e-7), with z = t, or z = (t - 1) / (t + 1) and
 * pi/4 added when t > tan(pi/8), which costs one division either way
 * (the numerator and denominator are selected); then pi/2 - atan(t) when
 * r > |S|, and pi - that when S < 0. What the recursion needs is
 * pi - theta, which is formed directly. */
#include "config.h"
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "kmill/kernel.h"
#include "core/hot.h"
#include "kern/dotk.h"
#include "kern/vmath.h"

#define DOTK_COLS 256        /* columns per chunk: the per-layer diagonal terms on the stack */
#define NEAR_TAU 0x1p-10f    /* q q' - S^2 below this share of q q': recomputed */
#define TAN_PI_8 0.414213562373095f
#define PI_F 3.14159265358979f
#define PI_2_F 1.57079632679490f
#define PI_4_F 0.785398163397448f
#define INV_2PI_F 0.159154943091895f

/* One layer's angle term for one pair: returns pi - theta for
 * theta = atan2(r, s), r >= 0. */
static inline __attribute__((always_inline)) float pi_minus_theta(float r, float s)
{
    float as = fabsf(s);
    float mx = r > as ? r : as, mn = r > as ? as : r;
    int big = mn > TAN_PI_8 * mx;
    float num = big ? mn - mx : mn;
    float den = big ? mn + mx : mx;
    den = den > 0x1p-126f ? den : 0x1p-126f; /* r = s = 0: theta = 0 */
    float z = num / den;
    float z2 = z * z;
    float p = ((8.05374449538e-2f * z2 - 1.38776856032e-1f) * z2 + 1.99777106478e-1f) * z2 -
              3.33329491539e-1f;
    float a = (p * z2) * z + z + (big ? PI_4_F : 0.0f); /* atan(mn / mx) */
    float t = r > as ? PI_2_F - a : a;                  /* the angle of (|s|, r) */
    return s < 0.0f ? t : PI_F - t;
}

/* The recursion over one row of a tile, in place: row holds sw2 K^0 on
 * entry and the kernel values on return. qa[l]: S^(l+1)(a, a); qb + l
 * ldq: S^(l+1)(b, b) for the n columns; T, fl: scratch of n, fl[j]
 * nonzero on return where the pair is near (to be recomputed). Returns
 * whether any is. */
KM_HOT static unsigned dotk_row(const float *restrict qa, const float *restrict qb, size_t ldq,
                                float *restrict row, float *restrict T, unsigned *restrict fl,
                                size_t n, int depth, float sw2, float sb2, int ntk)
{
    for (size_t j = 0; j < n; j++) {
        T[j] = 0.0f;
        fl[j] = 0;
    }
    for (int l = 0; l < depth; l++) {
        float a = qa[l];
        const float *q = qb + (size_t)l * ldq;
        for (size_t j = 0; j < n; j++) {
            float s = row[j] + sb2;
            float Q = s + sw2 * T[j];
            float qq = a * q[j];
            float diff = qq - s * s;
            fl[j] |= diff < NEAR_TAU * qq;
            float r = sqrt_pos(diff > 0.0f ? diff : 0.0f);
            float pt = pi_minus_theta(r, s) * INV_2PI_F;
            row[j] = sw2 * ((r * INV_2PI_F) + pt * s);
            T[j] = Q * pt;
        }
    }
    unsigned any = 0;
    for (size_t j = 0; j < n; j++) {
        float s = row[j] + sb2;
        row[j] = ntk ? s + sw2 * T[j] : s;
        any |= fl[j];
    }
    return any;
}

/* ---- float64: the diagonal terms, flagged pairs, k(x, x) --------------- */

/* One layer: K^l and T^l from S, q q' and Q. */
static void layer64(double s, double qq, double Q, double *K, double *T)
{
    double diff = qq - s * s;
    double r = sqrt(diff > 0 ? diff : 0);
    double pt = (M_PI - atan2(r, s)) / (2 * M_PI);
    *K = r / (2 * M_PI) + pt * s;
    *T = Q * pt;
}

/* k(a, b) from a.a, b.b and a.b in float64, through the same layer64 for
 * the diagonal terms as for the pair, so equal rows give equal values. */
static double pair64(const km_kernel *k, double aa, double bb, double ab, size_t d)
{
    double sw2 = k->sw2, sb2 = k->sb2, dd = d ? (double)d : 1;
    double Ka = d ? aa / dd : 0, Kb = d ? bb / dd : 0, K = d ? ab / dd : 0, T = 0, Ta = 0, Tb = 0;
    for (int l = 0; l < k->depth; l++) {
        double sa = sw2 * Ka + sb2, sb = sw2 * Kb + sb2, s = sw2 * K + sb2;
        double Q = s + sw2 * T, Qa = sa + sw2 * Ta, Qb = sb + sw2 * Tb;
        layer64(sa, sa * sa, Qa, &Ka, &Ta);
        layer64(sb, sb * sb, Qb, &Kb, &Tb);
        layer64(s, sa * sb, Q, &K, &T);
    }
    double s = sw2 * K + sb2;
    return k->type == KM_KERNEL_NTK ? s + sw2 * T : s;
}

double km_dotk_self(const km_kernel *k, double sqnorm, size_t d)
{
    return pair64(k, sqnorm, sqnorm, sqnorm, d);
}

/* S^l(x, x) for l = 1 .. depth of a row of squared norm sq, at q[l * ldq]. */
static void diag_terms(const km_kernel *k, double sq, size_t d, float *q, size_t ldq)
{
    double s = k->sw2 * (d ? sq / (double)d : 0) + k->sb2;
    for (int l = 0; l < k->depth; l++) {
        q[(size_t)l * ldq] = (float)s;
        double K, T;
        layer64(s, s * s, s, &K, &T);
        s = k->sw2 * K + k->sb2;
    }
}

/* The flagged entries of a row (fl), recomputed from the rows. */
static void fix_row(const km_kernel *k, const float *a, const float *B, size_t d, float *row,
                    const unsigned *fl, size_t n)
{
    double aa = 0;
    for (size_t t = 0; t < d; t++)
        aa += (double)a[t] * a[t];
    for (size_t j = 0; j < n; j++) {
        if (!fl[j])
            continue;
        const float *b = B + j * d;
        double bb = 0, ab = 0;
        for (size_t t = 0; t < d; t++) {
            bb += (double)b[t] * b[t];
            ab += (double)a[t] * b[t];
        }
        row[j] = (float)pair64(k, aa, bb, ab, d);
    }
}

void km_dotk_tile(const km_kernel *k, const float *A, size_t na, const float *an, const float *B,
                  size_t nb, const float *bn, size_t d, float *K, size_t ldk)
{
    if (d)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)na, (int)nb, (int)d,
                    (float)(k->sw2 / (double)d), A, (int)d, B, (int)d, 0.0f, K, (int)ldk);
    else /* no features: K^0 = 0 (and BLAS rejects lda = 0) */
        for (size_t i = 0; i < na; i++)
            memset(K + i * ldk, 0, nb * sizeof *K);
    float qb[KM_KERNEL_MAX_DEPTH * DOTK_COLS], qa[KM_KERNEL_MAX_DEPTH];
    float T[DOTK_COLS];
    unsigned fl[DOTK_COLS];
    int ntk = k->type == KM_KERNEL_NTK;
    for (size_t c0 = 0; c0 < nb; c0 += DOTK_COLS) {
        size_t cn = nb - c0 < DOTK_COLS ? nb - c0 : DOTK_COLS;
        for (size_t j = 0; j < cn; j++)
            diag_terms(k, bn[c0 + j], d, qb + j, DOTK_COLS);
        for (size_t i = 0; i < na; i++) {
            diag_terms(k, an[i], d, qa, 1);
            float *row = K + i * ldk + c0;
            if (dotk_row(qa, qb, DOTK_COLS, row, T, fl, cn, k->depth, (float)k->sw2,
                         (float)k->sb2, ntk))
                fix_row(k, A + i * d, B + c0 * d, d, row, fl, cn);
        }
    }
}
