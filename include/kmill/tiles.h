/* tiles.h - the kernel matrix of a training set, tile by tile, as the
 * iterative solvers use it: products (K + reg I) P with a block of vectors.
 *
 * The n x n matrix is cut into a grid of T x T tiles of which only the
 * upper triangle (tile row I <= tile column J) is kept; an off-diagonal
 * tile serves both K_IJ P_J and K_IJ^T P_I in one pass over it. Tiles live
 * in RAM up to a byte budget; the rest are spilled to a file in a
 * temporary directory (unlinked as soon as it is open, so a crash leaves
 * nothing; free space checked first) and read back through a shared mmap,
 * dropped from the process's resident set after each use; or recomputed
 * from the rows on every product. Which of reading and recomputing a
 * spilled tile is cheaper is measured, not guessed: the build times the
 * computation of each tile, the first product times the reads, and later
 * products take the faster path (see DESIGN.md, "tile store").
 *
 * Products are parallel over tiles, each worker adding into its own
 * accumulator; tiles are dealt to workers in a fixed order and the
 * accumulators summed in a fixed order, so a product is reproducible for a
 * given thread count whatever the tiles' storage (RAM, spilled, recomputed:
 * the values are the same bits). BLAS runs at one thread inside workers. */
#ifndef KMILL_TILES_H
#define KMILL_TILES_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/kernel.h"
#include "kmill/pool.h"

enum {
    KM_STORE_AUTO = 0,      /* RAM up to the budget, then spill or recompute, measured */
    KM_STORE_SPILL = 1,     /* RAM up to the budget, the rest always read from the spill */
    KM_STORE_RECOMPUTE = 2  /* RAM up to the budget, the rest always recomputed */
};

typedef struct km_tiles_opts {
    km_kernel kernel;
    size_t tile;         /* rows per tile; 0: 2048 */
    uint64_t ram;        /* bytes of tiles kept in RAM */
    const char *tmpdir;  /* spill directory; NULL: $TMPDIR, else /tmp */
    int store;           /* KM_STORE_* */
} km_tiles_opts;

typedef struct km_tiles_stats {
    uint64_t tiles, in_ram, spilled; /* tiles of the upper triangle, where they are */
    uint64_t bytes_ram, bytes_spilled;
    int recompute;                   /* spilled tiles are now recomputed instead of read */
    double build_seconds;
    double compute_per_tile, read_per_tile; /* seconds, averages measured (0: not yet) */
    uint64_t products;
} km_tiles_stats;

typedef struct km_tiles km_tiles;

/* Bytes one worker needs beside the stored tiles (a tile buffer), for a
 * caller checking that its budget allows at least that. */
uint64_t km_tiles_worker_bytes(size_t n, size_t tile);

/* Build the tiles of k(X, X), X n x d row-major; X must outlive the store
 * (recomputed tiles read it). pool may be NULL (one thread). */
int km_tiles_build(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                   const km_tiles_opts *o, km_tiles **out);
/* out (n x c) = (K + reg I) in (n x c), row-major. */
int km_tiles_apply(km_tiles *t, const float *in, float *out, size_t c);
void km_tiles_set_reg(km_tiles *t, double reg);
/* km_linop callback over km_tiles_apply (arg: the store). */
int km_tiles_linop(void *t, const float *in, float *out, size_t c);
void km_tiles_get_stats(const km_tiles *t, km_tiles_stats *s);
void km_tiles_free(km_tiles *t);

/* K = k(A, B) (na x nb, leading dimension ldk) computed in parallel over
 * row strips of A; an, bn as for km_kernel_tile. pool may be NULL. */
void km_kernel_matrix(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                      const float *an, const float *B, size_t nb, const float *bn, size_t d,
                      float *K, size_t ldk);
/* The same for km_kernel_grad_tile's gradient weights (the AGOP). */
void km_kernel_grad_matrix(km_pool *pool, const km_kernel *k, const float *A, size_t na,
                           const float *an, const float *B, size_t nb, const float *bn, size_t d,
                           float *W, size_t ldw);

/* Set the BLAS thread count, returning the previous one for the caller to
 * restore (OpenBLAS; with other BLAS a no-op returning 1). The pool's
 * workers run BLAS at one thread each, so that the cores are not
 * oversubscribed. */
int km_blas_threads(int n);

/* For a process that will not call BLAS: stop OpenBLAS's worker threads,
 * which otherwise spin (sched_yield) for about 0.1 s after the library
 * loads, on the cores the caller's own threads want. OpenBLAS starts them
 * again if BLAS is called after all. A no-op where the library has no
 * such call (detected by configure). */
void km_blas_idle(void);

#endif
