/* tiles.h - the kernel matrix of a training set, tile by tile, as the
 * iterative solvers use it: products (K + reg I) P with a block of vectors.
 *
 * The n x n matrix is cut into a grid of T x T tiles of which only the
 * upper triangle (tile row I <= tile column J) is kept; an off-diagonal
 * tile serves both K_IJ P_J and K_IJ^T P_I in one pass over it. Tiles live
 * in RAM up to a byte budget; the rest are spilled to a file in a
 * temporary directory (unlinked as soon as it is open, so a crash leaves
 * nothing; free space checked first) and read back with pread into the
 * reading task's tile buffer (not mapped: mapped pages would stay in the
 * resident set beside that buffer, beyond the plan); or recomputed
 * from the rows on every product. Which of reading and recomputing a
 * spilled tile is cheaper is measured, not guessed: the build times the
 * computation of each tile, the first product times the reads, and later
 * products take the faster path (kmill-algorithms(7), TILE STORE).
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

/* The memory planner's figures (kmill/plan.h), for n rows, tiles of
 * `tile` rows (0: 2048) and `tasks` product tasks (the pool's workers plus
 * the caller):
 * km_tiles_estimate: what the store holds beside its tiles, a recomputed
 * tile's buffer per task and an n x c accumulator (c padded to 16) per task
 * and one more for the sum;
 * km_tiles_bytes: every tile of the upper triangle, the most the store
 * ever keeps in RAM. */
uint64_t km_tiles_estimate(size_t n, size_t c, size_t tile, int tasks);
uint64_t km_tiles_bytes(size_t n, size_t tile);

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

#endif
