/* gen.h - synthetic datasets of any size: `kmill gen`.
 *
 * A preset names a hidden structure (a target function of x, or class
 * means) built from the seed and the column count alone, never from the
 * row count; row i is drawn from a random stream keyed by (seed, i) alone.
 * So a run is deterministic for its seed, a shorter run is a prefix of a
 * longer one, and rows can be made in parallel blocks in any order.
 * Memory is bounded by the block buffers, whatever the row count.
 *
 * Columns: x0..x{d-1}, then `label`. Presets:
 *   lowrank   x ~ N(0, I_d), d >= 6, target x0 * x1 * [x5 > 0];
 *             classify: class 1 when the target is > 0 (a quarter of rows).
 *   subspace  x ~ N(0, I_d), z = U^T x for a random d x k matrix U with
 *             orthonormal columns; target a random sum of products of
 *             normalised Hermite polynomials of z of total degree p, mean 0
 *             and variance 1 exactly (the products are orthonormal under
 *             N(0, I_k)); classify: class 1 when the target exceeds its
 *             median (estimated once, from the seed, by 20001 draws).
 *   mixture   class c uniform in 0..K-1, x = mu_c + N(0, I_d); the means
 *             are (S / sqrt 2) e_c, centred, for random orthonormal e_c,
 *             so every two are exactly S apart. Classification only.
 * Noise S: regression adds S * N(0, 1) to the target; classification
 * replaces the class, with probability S, by one of the others drawn
 * uniformly. The label is computed from x as stored (rounded to float32). */
#ifndef KMILL_GEN_H
#define KMILL_GEN_H

#include <stdint.h>
#include <stdio.h>

#include "kmill/ctx.h"
#include "kmill/pool.h"

enum { KM_GEN_LOWRANK = 0, KM_GEN_SUBSPACE = 1, KM_GEN_MIXTURE = 2, KM_GEN_NPRESETS = 3 };
enum { KM_GEN_TASK_DEFAULT = -1, KM_GEN_REGRESS = 0, KM_GEN_CLASSIFY = 1 };

/* Bounds the options are checked against (km_gen_check). */
#define KM_GEN_MAX_COLS 1000000u
#define KM_GEN_MAX_INTRINSIC 64u
#define KM_GEN_MAX_DEGREE 8u
#define KM_GEN_MAX_CLASSES 1000u

typedef struct km_gen_opts {
    int preset;            /* KM_GEN_* */
    uint64_t rows;
    uint32_t cols;         /* d; 0: the preset's default (10) */
    double noise;
    uint64_t seed;
    int task;              /* KM_GEN_TASK_DEFAULT: the preset's own */
    uint32_t intrinsic;    /* subspace: k (0: default 3, or d if smaller) */
    uint32_t degree;       /* subspace: p (0: default 2) */
    uint32_t classes;      /* mixture: K (0: default 2) */
    double separation;     /* mixture: S (< 0: default 3) */
    /* the output: a path ending in .kmx (a dataset), another path (CSV
     * written atomically), or NULL / "-" (CSV to stream) */
    const char *output;
    FILE *stream;
    const char *truth;     /* the hidden structure as text, or NULL */
    int level;             /* zstd level of a dataset */
    uint32_t chunk_rows;   /* rows per dataset chunk; 0: the default */
    km_pool *pool;         /* generates (and compresses) in parallel */
} km_gen_opts;

typedef struct km_gen_result {
    uint64_t rows, bytes;  /* rows and bytes written */
    uint32_t ncols;        /* d + 1 */
    int task;              /* the task the label is for */
} km_gen_result;

/* The preset called name, or -1. */
int km_gen_preset(const char *name);
const char *km_gen_preset_name(int preset);
/* The preset closest to a misspelt name (kmill/suggest.h), or NULL. */
const char *km_gen_near_preset(const char *name);
/* Whether o's output is a dataset (its name ends in .kmx). */
int km_gen_is_kmx(const char *output);

/* Fill in the preset's defaults in o and check the options: 0, or
 * KM_EINVAL with a one-line message in e (d too small for lowrank, an
 * intrinsic dimension above d, an option of another preset, ...). */
int km_gen_check(km_gen_opts *o, km_err *e);

/* The hidden structure of checked options (km_gen_check). */
typedef struct km_gen km_gen;
int km_gen_new(km_ctx *ctx, const km_gen_opts *o, km_gen **out);
void km_gen_free(km_gen *g);
uint32_t km_gen_ncols(const km_gen *g); /* d + 1 */
/* Rows first .. first+n-1, each d + 1 floats, into out: the same values
 * whatever the split into calls. Thread-safe. */
void km_gen_rows(const km_gen *g, uint64_t first, uint32_t n, float *out);
/* The noiseless target of x (d values) before any thresholding: lowrank's
 * and subspace's function; NaN for mixture (its label is drawn, not
 * computed). */
double km_gen_target(const km_gen *g, const double *x);
/* subspace: the k directions (columns of U), k rows of d values; NULL
 * for the other presets. */
const double *km_gen_directions(const km_gen *g, uint32_t *k);
/* The hidden structure as text (see kmill-gen(1)), written atomically. */
int km_gen_write_truth(km_ctx *ctx, const km_gen *g, const char *path);

/* The whole job: check o, build the structure, write the truth file (if
 * asked) and the rows, with progress. 0 or a negative KM_E* code
 * (KM_EPIPE when the stream's reader went away). */
int km_gen_run(km_ctx *ctx, km_gen_opts *o, km_gen_result *r);

#endif
