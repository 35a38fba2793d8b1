/* gen.c - the presets of `kmill gen`: their hidden structure, their rows
 * and the truth file (see include/kmill/gen.h; the writing is gen_write.c).
 *
 * Two random streams, both splitmix64 (a counter hashed, so any position
 * is reached at once): the structure's, keyed by the seed alone, and row
 * i's, keyed by (seed, i). Nothing here depends on the row count, which is
 * what makes a shorter run a prefix of a longer one and lets blocks of
 * rows be made in any order on any thread. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen_impl.h"
#include "kmill/outfile.h"
#include "kmill/rng.h"
#include "kmill/suggest.h"

static const char *const preset_names[KM_GEN_NPRESETS] = {"lowrank", "subspace", "mixture"};

/* The two streams of one seed are told apart by these tags. */
#define TAG_STRUCT 0x5354525543543031ull
#define TAG_ROWS 0x524f575331303031ull
/* draws of the subspace target whose median is the classes' threshold */
#define MEDIAN_DRAWS 20001

int km_gen_preset(const char *name)
{
    for (int p = 0; p < KM_GEN_NPRESETS; p++)
        if (strcmp(name, preset_names[p]) == 0)
            return p;
    return -1;
}

const char *km_gen_preset_name(int preset)
{
    return preset >= 0 && preset < KM_GEN_NPRESETS ? preset_names[preset] : "?";
}

const char *km_gen_near_preset(const char *name)
{
    km_suggest sg;
    km_suggest_init(&sg, name, strlen(name));
    for (int p = 0; p < KM_GEN_NPRESETS; p++)
        km_suggest_add(&sg, preset_names[p], strlen(preset_names[p]));
    return km_suggest_best(&sg);
}

int km_gen_is_kmx(const char *output)
{
    size_t n = output ? strlen(output) : 0;
    return n > 4 && strcmp(output + n - 4, ".kmx") == 0;
}

/* Preset-specific options given to another preset are refused rather than
 * ignored: a user who asks for --classes 5 of lowrank expects 5 classes. */
static int check_foreign(const km_gen_opts *o, km_err *e)
{
    const char *name = preset_names[o->preset];
    if (o->preset != KM_GEN_SUBSPACE && (o->intrinsic || o->degree))
        return km_seterr(e, KM_EINVAL, "%s is an option of subspace, not of %s",
                         o->intrinsic ? "--intrinsic" : "--degree", name);
    if (o->preset != KM_GEN_MIXTURE && (o->classes || o->separation >= 0))
        return km_seterr(e, KM_EINVAL, "%s is an option of mixture, not of %s",
                         o->classes ? "--classes" : "--separation", name);
    return 0;
}

int km_gen_check(km_gen_opts *o, km_err *e)
{
    if (o->preset < 0 || o->preset >= KM_GEN_NPRESETS)
        return km_seterr(e, KM_EINVAL, "unknown preset");
    int rc = check_foreign(o, e);
    if (rc)
        return rc;
    if (!o->cols)
        o->cols = 10;
    if (o->cols > KM_GEN_MAX_COLS)
        return km_seterr(e, KM_EINVAL, "-d %u: at most %u columns", o->cols, KM_GEN_MAX_COLS);
    if (o->task == KM_GEN_TASK_DEFAULT)
        o->task = o->preset == KM_GEN_MIXTURE ? KM_GEN_CLASSIFY : KM_GEN_REGRESS;
    if (o->preset == KM_GEN_LOWRANK && o->cols < 6)
        return km_seterr(e, KM_EINVAL, "lowrank needs -d 6 or more (its target reads x5), got %u",
                         o->cols);
    if (o->preset == KM_GEN_SUBSPACE) {
        if (!o->intrinsic)
            o->intrinsic = o->cols < 3 ? o->cols : 3;
        if (!o->degree)
            o->degree = 2;
        if (o->intrinsic > o->cols)
            return km_seterr(e, KM_EINVAL, "--intrinsic %u is more than the %u columns (-d)",
                             o->intrinsic, o->cols);
        if (o->intrinsic > KM_GEN_MAX_INTRINSIC || o->degree > KM_GEN_MAX_DEGREE)
            return km_seterr(e, KM_EINVAL, "subspace takes --intrinsic up to %u and --degree "
                             "up to %u", KM_GEN_MAX_INTRINSIC, KM_GEN_MAX_DEGREE);
    }
    if (o->preset == KM_GEN_MIXTURE) {
        if (!o->classes)
            o->classes = 2;
        if (o->separation < 0)
            o->separation = 3;
        if (o->task != KM_GEN_CLASSIFY)
            return km_seterr(e, KM_EINVAL, "mixture makes classes only (--task classify)");
        if (o->classes < 2 || o->classes > KM_GEN_MAX_CLASSES)
            return km_seterr(e, KM_EINVAL, "--classes %u: from 2 to %u", o->classes,
                             KM_GEN_MAX_CLASSES);
        if (o->classes > o->cols)
            return km_seterr(e, KM_EINVAL, "--classes %u needs -d %u or more (one direction "
                             "per class mean), got %u", o->classes, o->classes, o->cols);
    }
    if (!(o->noise >= 0) || (o->task == KM_GEN_CLASSIFY && o->noise > 1))
        return km_seterr(e, KM_EINVAL, "--noise %g: %s", o->noise,
                         o->task == KM_GEN_CLASSIFY ? "a probability of flipping the class, "
                                                      "from 0 to 1" : "a standard deviation >= 0");
    return 0;
}

/* ---- random streams ----------------------------------------------------- */

static inline double uniform01(uint64_t *s)
{
    return (double)(km_splitmix64(s) >> 11) * 0x1.0p-53;
}

static inline uint32_t below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((__uint128_t)km_splitmix64(s) * n) >> 64);
}

/* Two independent N(0, 1) values (Marsaglia's polar method). */
static inline void normal_pair(uint64_t *s, double *a, double *b)
{
    double u, v, q;
    do {
        u = 2 * uniform01(s) - 1;
        v = 2 * uniform01(s) - 1;
        q = u * u + v * v;
    } while (q >= 1 || q == 0);
    double f = sqrt(-2 * log(q) / q);
    *a = u * f;
    *b = v * f;
}

static double normal1(uint64_t *s)
{
    double a, b;
    normal_pair(s, &a, &b);
    return a;
}

/* n random orthonormal vectors of length d (n <= d), rows of v: Gaussian
 * draws, Gram-Schmidt applied twice (once can leave rounding error of the
 * order of the condition number; twice is orthonormal to working
 * precision). */
static void orthonormal_rows(uint64_t *s, double *v, uint32_t n, uint32_t d)
{
    for (size_t i = 0; i < (size_t)n * d; i++)
        v[i] = normal1(s);
    for (uint32_t r = 0; r < n; r++) {
        double *a = v + (size_t)r * d;
        for (int pass = 0; pass < 2; pass++) {
            for (uint32_t q = 0; q < r; q++) {
                const double *b = v + (size_t)q * d;
                double dot = 0;
                for (uint32_t j = 0; j < d; j++)
                    dot += a[j] * b[j];
                for (uint32_t j = 0; j < d; j++)
                    a[j] -= dot * b[j];
            }
            double nn = 0;
            for (uint32_t j = 0; j < d; j++)
                nn += a[j] * a[j];
            nn = sqrt(nn);
            for (uint32_t j = 0; j < d; j++)
                a[j] /= nn;
        }
    }
}

/* ---- the subspace target ------------------------------------------------- */

/* sum_t c_t prod_j He_{a_tj}(z_j) / sqrt(a_tj!), He the probabilists'
 * Hermite polynomials (He_0 = 1, He_1 = z, He_{a+1} = z He_a - a He_{a-1}). */
static double poly_eval(const km_gen *g, const double *z)
{
    uint32_t k = g->k, p = g->degree;
    double h[KM_GEN_MAX_INTRINSIC][KM_GEN_MAX_DEGREE + 1];
    for (uint32_t j = 0; j < k; j++) {
        double prev = 1, cur = z[j], fact = 1;
        h[j][0] = 1;
        if (p >= 1)
            h[j][1] = cur;
        for (uint32_t a = 1; a < p; a++) {
            double next = z[j] * cur - a * prev;
            prev = cur;
            cur = next;
            fact *= a + 1;
            h[j][a + 1] = cur / sqrt(fact);
        }
    }
    double y = 0;
    for (uint32_t t = 0; t < g->nterms; t++) {
        const unsigned char *e = g->exps + (size_t)t * k;
        double prod = g->coef[t];
        for (uint32_t j = 0; j < k; j++)
            prod *= h[j][e[j]];
        y += prod;
    }
    return y;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* 2k terms of total degree p: term t < k holds z_t (so the target reads
 * every direction), the rest of the p factors drawn at random; equal
 * terms merged; coefficients Gaussian, scaled to a unit sum of squares,
 * which is the target's variance since the terms are orthonormal. */
static int make_terms(km_gen *g, uint64_t *s)
{
    uint32_t k = g->k, T = 2 * k;
    g->exps = calloc((size_t)T * k, 1);
    g->coef = calloc(T, sizeof *g->coef);
    if (!g->exps || !g->coef)
        return -1;
    unsigned char *e = malloc(k);
    if (!e)
        return -1;
    double ss = 0;
    for (uint32_t t = 0; t < T; t++) {
        memset(e, 0, k);
        for (uint32_t f = 0; f < g->degree; f++)
            e[f == 0 && t < k ? t : below(s, k)]++;
        double c = normal1(s);
        uint32_t u = 0;
        while (u < g->nterms && memcmp(g->exps + (size_t)u * k, e, k))
            u++;
        if (u == g->nterms)
            memcpy(g->exps + (size_t)g->nterms++ * k, e, k);
        g->coef[u] += c;
    }
    free(e);
    for (uint32_t t = 0; t < g->nterms; t++)
        ss += g->coef[t] * g->coef[t];
    for (uint32_t t = 0; t < g->nterms; t++)
        g->coef[t] /= sqrt(ss);
    return 0;
}

static int make_subspace(km_gen *g, uint64_t *s)
{
    g->dirs = malloc((size_t)g->k * g->d * sizeof *g->dirs);
    if (!g->dirs || make_terms(g, s))
        return -1;
    orthonormal_rows(s, g->dirs, g->k, g->d);
    if (g->task != KM_GEN_CLASSIFY)
        return 0;
    /* z = U^T x ~ N(0, I_k) exactly, so the median is taken over z */
    double *v = malloc(MEDIAN_DRAWS * sizeof *v), z[KM_GEN_MAX_INTRINSIC + 1];
    if (!v)
        return -1;
    for (int i = 0; i < MEDIAN_DRAWS; i++) {
        for (uint32_t j = 0; j < g->k; j += 2)
            normal_pair(s, &z[j], &z[j + 1]);
        v[i] = poly_eval(g, z);
    }
    qsort(v, MEDIAN_DRAWS, sizeof *v, cmp_double);
    g->threshold = v[MEDIAN_DRAWS / 2];
    free(v);
    return 0;
}

/* K orthonormal e_c, centred and scaled by S / sqrt 2: |mu_a - mu_b| = S. */
static int make_mixture(km_gen *g, uint64_t *s)
{
    uint32_t K = g->classes, d = g->d;
    g->means = malloc((size_t)K * d * sizeof *g->means);
    if (!g->means)
        return -1;
    orthonormal_rows(s, g->means, K, d);
    for (uint32_t j = 0; j < d; j++) {
        double m = 0;
        for (uint32_t c = 0; c < K; c++)
            m += g->means[(size_t)c * d + j];
        m /= K;
        for (uint32_t c = 0; c < K; c++)
            g->means[(size_t)c * d + j] = (g->means[(size_t)c * d + j] - m) * g->separation / sqrt(2.0);
    }
    return 0;
}

int km_gen_new(km_ctx *ctx, const km_gen_opts *o, km_gen **out)
{
    km_gen *g = calloc(1, sizeof *g);
    if (!g)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    g->preset = o->preset;
    g->task = o->task;
    g->d = o->cols;
    g->k = o->intrinsic;
    g->degree = o->degree;
    g->classes = o->preset == KM_GEN_MIXTURE ? o->classes : 2;
    g->separation = o->separation;
    g->noise = o->noise;
    g->seed = o->seed;
    g->rowkey = km_splitmix64(&(uint64_t){o->seed ^ TAG_ROWS});
    uint64_t s = km_splitmix64(&(uint64_t){o->seed ^ TAG_STRUCT});
    int bad = 0;
    if (g->preset == KM_GEN_SUBSPACE)
        bad = make_subspace(g, &s);
    else if (g->preset == KM_GEN_MIXTURE)
        bad = make_mixture(g, &s);
    if (bad) {
        km_gen_free(g);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory for the hidden structure");
    }
    *out = g;
    return 0;
}

void km_gen_free(km_gen *g)
{
    if (!g)
        return;
    free(g->dirs);
    free(g->exps);
    free(g->coef);
    free(g->means);
    free(g);
}

uint32_t km_gen_ncols(const km_gen *g)
{
    return g->d + 1;
}

const double *km_gen_directions(const km_gen *g, uint32_t *k)
{
    *k = g->preset == KM_GEN_SUBSPACE ? g->k : 0;
    return g->preset == KM_GEN_SUBSPACE ? g->dirs : NULL;
}

/* ---- rows ------------------------------------------------------------------ */

/* The target from the values it reads: (x0, x1, x5) for lowrank, U^T x
 * for subspace. The projections below are the same sums over float or
 * double x, so a row's label and km_gen_target agree. */
static double target_z(const km_gen *g, const double *z)
{
    if (g->preset == KM_GEN_LOWRANK)
        return z[2] > 0 ? z[0] * z[1] : 0.0; /* not -0 */
    return poly_eval(g, z);
}

#define PROJECT(g, x, z)                                                  \
    do {                                                                  \
        if ((g)->preset == KM_GEN_LOWRANK) {                              \
            (z)[0] = (x)[0], (z)[1] = (x)[1], (z)[2] = (x)[5];            \
            break;                                                        \
        }                                                                 \
        for (uint32_t q = 0; q < (g)->k; q++) {                           \
            const double *u = (g)->dirs + (size_t)q * (g)->d;             \
            double acc = 0;                                               \
            for (uint32_t j = 0; j < (g)->d; j++)                         \
                acc += u[j] * (x)[j];                                     \
            (z)[q] = acc;                                                 \
        }                                                                 \
    } while (0)

double km_gen_target(const km_gen *g, const double *x)
{
    double z[KM_GEN_MAX_INTRINSIC];
    if (g->preset == KM_GEN_MIXTURE)
        return NAN;
    PROJECT(g, x, z);
    return target_z(g, z);
}

/* Row i into out (d + 1 floats): its stream draws the class (mixture),
 * the d values of x, then the noise. */
static void gen_row(const km_gen *g, uint64_t i, float *out)
{
    uint64_t s = g->rowkey ^ km_splitmix64(&(uint64_t){i});
    uint32_t d = g->d, c = 0;
    double a, b, lab;
    if (g->preset == KM_GEN_MIXTURE)
        c = below(&s, g->classes);
    const double *mu = g->means ? g->means + (size_t)c * d : NULL;
    for (uint32_t j = 0; j < d; j += 2) {
        normal_pair(&s, &a, &b);
        out[j] = (float)(mu ? mu[j] + a : a);
        if (j + 1 < d)
            out[j + 1] = (float)(mu ? mu[j + 1] + b : b);
    }
    if (g->preset == KM_GEN_MIXTURE) {
        lab = c;
    } else {
        double z[KM_GEN_MAX_INTRINSIC];
        PROJECT(g, out, z);
        lab = target_z(g, z);
        if (g->task == KM_GEN_CLASSIFY)
            lab = lab > g->threshold;
    }
    if (g->task == KM_GEN_REGRESS && g->noise > 0)
        lab += g->noise * normal1(&s);
    else if (g->task == KM_GEN_CLASSIFY && g->noise > 0 && uniform01(&s) < g->noise)
        lab = ((uint32_t)lab + 1 + below(&s, g->classes - 1)) % g->classes;
    out[d] = (float)lab;
}

void km_gen_rows(const km_gen *g, uint64_t first, uint32_t n, float *out)
{
    size_t w = (size_t)g->d + 1;
    for (uint32_t r = 0; r < n; r++)
        gen_row(g, first + r, out + r * w);
}

/* ---- the truth file ---------------------------------------------------------- */

static int put_matrix(km_outfile *of, const char *what, const double *m, uint32_t rows,
                      uint32_t cols)
{
    int rc = km_outfile_printf(of, "%s %u %u\n", what, rows, cols);
    for (uint32_t r = 0; r < rows && !rc; r++)
        for (uint32_t j = 0; j < cols && !rc; j++)
            rc = km_outfile_printf(of, "%.17g%c", m[(size_t)r * cols + j], j + 1 < cols ? ' ' : '\n');
    return rc;
}

static int put_structure(km_outfile *of, const km_gen *g)
{
    int rc = 0;
    if (g->preset == KM_GEN_LOWRANK)
        return km_outfile_printf(of, "target x0 * x1 * [x5 > 0]\nthreshold 0\n");
    if (g->preset == KM_GEN_MIXTURE) {
        rc = km_outfile_printf(of, "classes %u\nseparation %.17g\n", g->classes, g->separation);
        return rc ? rc : put_matrix(of, "means", g->means, g->classes, g->d);
    }
    rc = km_outfile_printf(of, "intrinsic %u\ndegree %u\n"
                           "target sum_t c_t prod_j He(a_tj, z_j) / sqrt(a_tj!), z = U^T x\n",
                           g->k, g->degree);
    if (!rc && g->task == KM_GEN_CLASSIFY)
        rc = km_outfile_printf(of, "threshold %.17g\n", g->threshold);
    if (!rc)
        rc = put_matrix(of, "directions", g->dirs, g->k, g->d);
    if (!rc)
        rc = km_outfile_printf(of, "terms %u %u\n", g->nterms, g->k);
    for (uint32_t t = 0; t < g->nterms && !rc; t++) {
        rc = km_outfile_printf(of, "%.17g", g->coef[t]);
        for (uint32_t j = 0; j < g->k && !rc; j++)
            rc = km_outfile_printf(of, " %u", g->exps[(size_t)t * g->k + j]);
        if (!rc)
            rc = km_outfile_printf(of, "\n");
    }
    return rc;
}

int km_gen_write_truth(km_ctx *ctx, const km_gen *g, const char *path)
{
    km_outfile of;
    int rc = km_outfile_open(ctx, &of, path);
    if (rc)
        return rc;
    rc = km_outfile_printf(&of, "# kmill gen: the hidden structure of a synthetic dataset\n"
                           "preset %s\nseed %llu\ncolumns %u\ntask %s\nnoise %.17g\n",
                           preset_names[g->preset], (unsigned long long)g->seed, g->d,
                           g->task == KM_GEN_CLASSIFY ? "classify" : "regress", g->noise);
    if (!rc)
        rc = put_structure(&of, g);
    if (!rc)
        rc = km_outfile_commit(&of);
    km_outfile_abort(&of);
    return rc;
}
