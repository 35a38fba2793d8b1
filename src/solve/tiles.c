/* tiles.c - the tile store: the kernel matrix of a training set, kept in
 * RAM, spilled to disk or recomputed, and its products with blocks of
 * vectors (kmill/tiles.h; kmill-algorithms(7), TILE STORE). The solvers see it only
 * as a km_linop. */
#define _GNU_SOURCE
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/hot.h"
#include "kmill/blas.h"
#include "kmill/io.h"
#include "kmill/log.h"
#include "kmill/outfile.h"
#include "kmill/progress.h"
#include "kmill/size.h"
#include "kmill/tiles.h"
#include "kern/gram.h"

#define PAGE 4096u

struct km_tiles {
    km_ctx *ctx;
    km_pool *pool;
    int nw;                 /* tasks per product: workers + the caller */
    km_kernel k;
    const float *X;
    float *xn;              /* squared row norms */
    size_t n, d, T, nb, strip;
    size_t ntiles;
    uint32_t *ti, *tj;      /* tile t covers block row ti[t], block column tj[t] */
    float **ram;            /* tile t in RAM, or NULL */
    uint64_t *off;          /* tile t's place in the spill, or UINT64_MAX */
    int fd;
    float **wbuf;           /* per task: a tile recomputed, or read from the spill */
    float **acc;            /* per task: n x c accumulator */
    size_t acc_c;
    double reg;
    int store, recompute;
    double *t_comp, *t_read;   /* per task: seconds spent computing / reading */
    uint64_t *n_comp, *n_read;
    km_tiles_stats st;
    pthread_mutex_t mu;
    int err;                /* first error of a parallel job */
    km_progress prog;       /* of the build, drawn by the calling thread */
    size_t built;           /* tiles built so far (atomic) */
    /* the job being run: its vectors padded to cp columns */
    float *in;
    size_t c, cp;
};

static size_t tile_rows(size_t n, size_t tile)
{
    if (!tile)
        tile = 2048;
    return tile > n ? n : tile;
}

uint64_t km_tiles_estimate(size_t n, size_t c, size_t tile, int tasks)
{
    uint64_t T = tile_rows(n, tile), cp = (c + 15) / 16 * 16;
    return (uint64_t)tasks * T * T * sizeof(float) +
           (uint64_t)n * cp * sizeof(float) * ((uint64_t)tasks + 1);
}

uint64_t km_tiles_bytes(size_t n, size_t tile)
{
    if (!n)
        return 0;
    /* the upper triangle of nb x nb blocks, the last row and column short */
    uint64_t T = tile_rows(n, tile), full = n / T, rest = n % T;
    uint64_t sq = full * (full + 1) / 2 * T * T; /* pairs of full blocks */
    if (rest)
        sq += full * T * rest + rest * rest;
    return sq * sizeof(float);
}

static size_t rows_of(const km_tiles *t, size_t bi)
{
    size_t r = t->n - bi * t->T;
    return r < t->T ? r : t->T;
}

static uint64_t tile_bytes(const km_tiles *t, size_t i)
{
    return (uint64_t)rows_of(t, t->ti[i]) * rows_of(t, t->tj[i]) * sizeof(float);
}

/* Compute tile i into buf (row-major, leading dimension = its column count)
 * in strips that keep the pass after each GEMM in cache. */
static void compute_tile(const km_tiles *t, size_t i, float *buf)
{
    size_t bi = t->ti[i], bj = t->tj[i], rI = rows_of(t, bi), rJ = rows_of(t, bj);
    const float *A = t->X + bi * t->T * t->d, *B = t->X + bj * t->T * t->d;
    for (size_t r0 = 0; r0 < rI; r0 += t->strip) {
        size_t rs = rI - r0 < t->strip ? rI - r0 : t->strip;
        km_kernel_tile(&t->k, A + r0 * t->d, rs, t->xn + bi * t->T + r0, B, rJ, t->xn + bj * t->T,
                       t->d, buf + r0 * rJ, rJ);
    }
}

static void set_write_error(km_tiles *t, int e)
{
    pthread_mutex_lock(&t->mu);
    if (!t->err)
        t->err = km_seterr(&t->ctx->err, km_errno_code(e), "error writing the kernel spill: %s",
                           strerror(e));
    pthread_mutex_unlock(&t->mu);
}

/* Spilled tile i into buf: 0, or 1 with t->err set (the first error). */
static int read_tile(km_tiles *t, size_t i, float *buf)
{
    size_t len = (size_t)tile_bytes(t, i), got;
    int e = km_pread_full(t->fd, buf, len, t->off[i], &got);
    if (!e && got == len)
        return 0;
    e = e ? e : EIO; /* the spill is ours: short means damaged */
    pthread_mutex_lock(&t->mu);
    if (!t->err)
        t->err = km_seterr(&t->ctx->err, km_errno_code(e), "error reading the kernel spill: %s",
                           strerror(e));
    pthread_mutex_unlock(&t->mu);
    return 1;
}

static void build_task(void *arg, size_t i, int worker)
{
    km_tiles *t = arg;
    /* a tile takes well under a second: the interrupt is seen in time */
    if (t->err || (t->ctx->interrupted && *t->ctx->interrupted))
        return;
    float *buf = t->ram[i];
    if (!buf) {
        if (t->off[i] == UINT64_MAX)
            return; /* recomputed on use */
        buf = t->wbuf[worker];
    }
    double t0 = km_now();
    compute_tile(t, i, buf);
    t->t_comp[worker] += km_now() - t0;
    t->n_comp[worker]++;
    if (buf != t->ram[i]) {
        size_t len = (size_t)tile_bytes(t, i);
        int e = km_pwrite_full(t->ctx, t->fd, buf, len, t->off[i]);
        if (e)
            set_write_error(t, e);
    }
    size_t k = __atomic_add_fetch(&t->built, 1, __ATOMIC_RELAXED);
    if (worker == 0) /* the calling thread: the reporter is not shared */
        km_progress_update(&t->prog, k);
}

/* Open the spill file, unlinked at once, and reserve its space. */
static int open_spill(km_tiles *t, const char *dir, uint64_t bytes)
{
    km_ctx *ctx = t->ctx;
    size_t dl = strlen(dir);
    char *path = malloc(dl + 32);
    if (!path)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    memcpy(path, dir, dl);
    strcpy(path + dl, "/.kmill-spill-XXXXXX");
    int fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(path);
        return km_seterr(&ctx->err, km_errno_code(e), "cannot create a spill file in %s: %s", dir,
                         strerror(e));
    }
    unlink(path);
    free(path);
    int e = posix_fallocate(fd, 0, (off_t)bytes);
    if (e && e != EOPNOTSUPP && e != EINVAL) {
        close(fd);
        char b[32];
        return km_seterr(&ctx->err, km_errno_code(e), "cannot reserve %s for the kernel spill in %s: %s",
                         km_format_size(bytes, b, sizeof b), dir, strerror(e));
    }
    t->fd = fd;
    return 0;
}

void km_tiles_free(km_tiles *t)
{
    if (!t)
        return;
    if (t->fd >= 0)
        close(t->fd);
    for (size_t i = 0; t->ram && i < t->ntiles; i++)
        free(t->ram[i]);
    for (int w = 0; w <= t->nw; w++) {
        if (t->wbuf && w < t->nw)
            free(t->wbuf[w]);
        if (t->acc)
            free(t->acc[w]);
    }
    free(t->wbuf);
    free(t->acc);
    free(t->ram);
    free(t->off);
    free(t->ti);
    free(t->tj);
    free(t->xn);
    free(t->t_comp);
    free(t->t_read);
    free(t->n_comp);
    free(t->n_read);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

/* A store for n rows of X with its per-task arrays and tile index, no
 * tile yet in memory or on disk. */
static int tiles_new(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                     const km_tiles_opts *o, km_tiles **out)
{
    km_tiles *t = calloc(1, sizeof *t);
    if (!t)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    pthread_mutex_init(&t->mu, NULL);
    t->ctx = ctx;
    t->pool = pool;
    t->nw = pool ? km_pool_workers(pool) + 1 : 1;
    t->k = o->kernel;
    t->X = X;
    t->n = n;
    t->d = d;
    t->fd = -1;
    t->store = o->store;
    t->T = o->tile ? o->tile : 2048;
    if (t->T > n)
        t->T = n;
    /* where gram.c does the product the tile is made in pieces that stay
     * in cache whatever the strip (kernel.c), and a tall strip spreads each
     * panel of B over more rows */
    t->strip = d >= 256 || km_gram_fast(d) ? 256 : 64;
    t->nb = (n + t->T - 1) / t->T;
    t->ntiles = t->nb * (t->nb + 1) / 2;
    t->xn = malloc(n * sizeof *t->xn);
    t->ti = malloc(t->ntiles * sizeof *t->ti);
    t->tj = malloc(t->ntiles * sizeof *t->tj);
    t->ram = calloc(t->ntiles, sizeof *t->ram);
    t->off = malloc(t->ntiles * sizeof *t->off);
    t->wbuf = calloc((size_t)t->nw, sizeof *t->wbuf);
    t->acc = calloc((size_t)t->nw + 1, sizeof *t->acc);
    t->t_comp = calloc((size_t)t->nw, sizeof(double));
    t->t_read = calloc((size_t)t->nw, sizeof(double));
    t->n_comp = calloc((size_t)t->nw, sizeof(uint64_t));
    t->n_read = calloc((size_t)t->nw, sizeof(uint64_t));
    if (!t->xn || !t->ti || !t->tj || !t->ram || !t->off || !t->wbuf || !t->acc || !t->t_comp ||
        !t->t_read || !t->n_comp || !t->n_read) {
        km_tiles_free(t);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    km_row_sqnorms(X, n, d, t->xn);
    size_t i = 0;
    for (size_t bi = 0; bi < t->nb; bi++)
        for (size_t bj = bi; bj < t->nb; bj++) {
            t->ti[i] = (uint32_t)bi;
            t->tj[i] = (uint32_t)bj;
            i++;
        }
    *out = t;
    return 0;
}

/* RAM first, in order, up to the budget; *spill gets the page-rounded
 * size of the rest, to be spilled or recomputed. */
static int place_in_ram(km_tiles *t, uint64_t budget, uint64_t *ram_out, uint64_t *spill_out)
{
    uint64_t ram = 0, spill = 0;
    t->st.tiles = t->ntiles;
    for (size_t i = 0; i < t->ntiles; i++) {
        uint64_t b = tile_bytes(t, i);
        t->off[i] = UINT64_MAX;
        if (ram + b <= budget) {
            t->ram[i] = malloc((size_t)b);
            if (!t->ram[i]) {
                char sb[32];
                return km_seterr(&t->ctx->err, KM_ENOMEM, "out of memory for kernel tiles (%s)",
                                 km_format_size(ram + b, sb, sizeof sb));
            }
            ram += b;
            t->st.in_ram++;
        } else {
            spill += (b + PAGE - 1) / PAGE * PAGE;
        }
    }
    t->st.bytes_ram = ram;
    *ram_out = ram;
    *spill_out = spill;
    return 0;
}

/* The tiles not in RAM go to a spill file in dir when it has room (an
 * error if the store must spill), else are recomputed on use; either way
 * they pass through a buffer per task. */
static int plan_spill(km_tiles *t, const km_tiles_opts *o, const char *dir, uint64_t spill)
{
    km_ctx *ctx = t->ctx;
    char s1[32], s2[32];
    if (spill && o->store != KM_STORE_RECOMPUTE) {
        struct statvfs sv;
        uint64_t avail = statvfs(dir, &sv) == 0 ? (uint64_t)sv.f_bavail * sv.f_frsize : 0;
        /* leave the file system some room: 1% of the spill plus 256 MiB */
        uint64_t need = spill + spill / 100 + ((uint64_t)256 << 20);
        if (avail < need) {
            if (o->store == KM_STORE_SPILL)
                return km_seterr(&ctx->err, KM_ENOSPC,
                                 "not enough free space in %s to spill the kernel: need %s, have %s "
                                 "(use --tmpdir, a larger --mem, or let tiles be recomputed)",
                                 dir, km_format_size(need, s1, sizeof s1),
                                 km_format_size(avail, s2, sizeof s2));
            km_warn(ctx, "only %s free in %s, %s needed to spill the kernel: recomputing %llu tiles "
                    "on every iteration instead", km_format_size(avail, s1, sizeof s1), dir,
                    km_format_size(need, s2, sizeof s2),
                    (unsigned long long)(t->ntiles - t->st.in_ram));
            t->recompute = 1;
        } else {
            int rc = open_spill(t, dir, spill);
            if (rc)
                return rc;
            uint64_t pos = 0;
            for (size_t i = 0; i < t->ntiles; i++)
                if (!t->ram[i]) {
                    t->off[i] = pos;
                    t->st.spilled++;
                    pos += (tile_bytes(t, i) + PAGE - 1) / PAGE * PAGE;
                }
            t->st.bytes_spilled = spill;
        }
    } else if (spill) {
        t->recompute = 1;
    }
    if (spill) /* tiles to write out or to recompute pass through a buffer */
        for (int w = 0; w < t->nw; w++) {
            t->wbuf[w] = malloc(t->T * t->T * sizeof(float));
            if (!t->wbuf[w])
                return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        }
    return 0;
}

/* Compute every tile into RAM or the spill, in parallel. On an error the
 * caller frees the store; closing the unlinked spill frees its space. */
static int fill_tiles(km_tiles *t, uint64_t ram, uint64_t spill)
{
    km_ctx *ctx = t->ctx;
    char s1[32], s3[32];
    km_verbose(ctx, "kernel: %zu x %zu in %zu tiles of %zu rows: %llu in RAM (%s), %llu %s (%s)",
               t->n, t->n, t->ntiles, t->T, (unsigned long long)t->st.in_ram,
               km_format_size(ram, s1, sizeof s1), (unsigned long long)(t->ntiles - t->st.in_ram),
               t->fd >= 0 ? "spilled" : "recomputed", km_format_size(spill, s3, sizeof s3));
    double t0 = km_now();
    int blas = km_blas_threads(1);
    km_progress_start(&t->prog, ctx, "kernel tiles", t->st.in_ram + t->st.spilled, "tiles");
    if (t->pool)
        km_pool_run(t->pool, t->ntiles, build_task, t);
    else
        for (size_t i = 0; i < t->ntiles; i++)
            build_task(t, i, 0);
    km_progress_end(&t->prog);
    km_blas_threads(blas);
    t->st.build_seconds = km_now() - t0;
    if (!t->err && km_check_interrupt(ctx))
        t->err = KM_EINTR;
    if (t->err) {
        if (t->fd >= 0 && t->err != KM_EINTR)
            km_verbose(ctx, "kernel spill removed");
        return t->err;
    }
    return 0;
}

int km_tiles_build(km_ctx *ctx, km_pool *pool, const float *X, size_t n, size_t d,
                   const km_tiles_opts *o, km_tiles **out)
{
    *out = NULL;
    if (!n || !d)
        return km_seterr(&ctx->err, KM_EINVAL, "no rows or no features to build a kernel from");
    km_tiles *t = NULL;
    int rc = tiles_new(ctx, pool, X, n, d, o, &t);
    if (rc)
        return rc;
    uint64_t ram = 0, spill = 0;
    if ((rc = place_in_ram(t, o->ram, &ram, &spill)) ||
        (rc = plan_spill(t, o, km_tmpdir(o->tmpdir), spill)) || (rc = fill_tiles(t, ram, spill))) {
        km_tiles_free(t);
        return rc;
    }
    double tc = 0;
    uint64_t nc = 0;
    for (int w = 0; w < t->nw; w++) {
        tc += t->t_comp[w];
        nc += t->n_comp[w];
        t->t_comp[w] = 0;
        t->n_comp[w] = 0;
    }
    /* per full-size tile, to compare with reads of full-size tiles */
    t->st.compute_per_tile = nc ? tc / nc : 0;
    *out = t;
    return 0;
}

void km_tiles_set_reg(km_tiles *t, double reg)
{
    t->reg = reg;
}

/* acc_I += K in_J and, off the diagonal, acc_J += K^T in_I, in one pass
 * over K. The vectors are padded to cp columns (a multiple of 16, one
 * AVX-512 register): four rows of K at a time share each load of in_J and
 * each update of acc_J, so the pass streams K once and stays in L1/L2 for
 * the rest. (cblas_sgemm with c = 10 columns spent most of its time
 * packing K, and two calls read it twice.) A diagonal tile is stored in
 * full, and takes only the first product. The order of the sums is fixed,
 * so results do not depend on which thread ran the tile. */
typedef float v16 __attribute__((vector_size(64)));

/* Unaligned 16-float loads through memcpy, which the clones turn into one
 * vector load; a function returning v16 would change the baseline clone's
 * ABI (GCC warns). */
static KM_HOT void block_product(const float *K, size_t rI, size_t rJ, const float *inI,
                                 const float *inJ, float *aI, float *aJ, size_t cp, int diag)
{
    const v16 zero = {0};
    for (size_t q0 = 0; q0 < cp; q0 += 16) {
        for (size_t r = 0; r < rI; r += 4) {
            size_t nr = rI - r < 4 ? rI - r : 4;
            const float *k0 = K + r * rJ;
            const float *k1 = nr > 1 ? k0 + rJ : k0, *k2 = nr > 2 ? k0 + 2 * rJ : k0,
                        *k3 = nr > 3 ? k0 + 3 * rJ : k0;
            /* named registers, not arrays: GCC kept arrays on the stack */
            const float *x = inI + r * cp + q0;
            v16 a0 = zero, a1 = zero, a2 = zero, a3 = zero;
            if (!diag) {
                memcpy(&a0, x, sizeof a0);
                if (nr > 1)
                    memcpy(&a1, x + cp, sizeof a1);
                if (nr > 2)
                    memcpy(&a2, x + 2 * cp, sizeof a2);
                if (nr > 3)
                    memcpy(&a3, x + 3 * cp, sizeof a3);
            }
            v16 s0 = zero, s1 = zero, s2 = zero, s3 = zero;
            for (size_t j = 0; j < rJ; j++) {
                v16 in, o;
                memcpy(&in, inJ + j * cp + q0, sizeof in);
                float *out = aJ + j * cp + q0;
                float c0 = k0[j], c1 = k1[j], c2 = k2[j], c3 = k3[j];
                s0 += c0 * in;
                s1 += c1 * in;
                s2 += c2 * in;
                s3 += c3 * in;
                memcpy(&o, out, sizeof o);
                o += c0 * a0 + c1 * a1 + c2 * a2 + c3 * a3;
                memcpy(out, &o, sizeof o);
            }
            v16 sums[4] = {s0, s1, s2, s3};
            for (size_t t = 0; t < nr; t++) {
                float *y = aI + (r + t) * cp + q0;
                v16 v;
                memcpy(&v, y, sizeof v);
                v += sums[t];
                memcpy(y, &v, sizeof v);
            }
        }
    }
}

static void multiply(const km_tiles *t, size_t i, const float *K, float *acc)
{
    size_t bi = t->ti[i], bj = t->tj[i], cp = t->cp;
    block_product(K, rows_of(t, bi), rows_of(t, bj), t->in + bi * t->T * cp,
                  t->in + bj * t->T * cp, acc + bi * t->T * cp, acc + bj * t->T * cp, cp, bi == bj);
}

static void apply_task(void *arg, size_t w, int worker)
{
    (void)worker;
    km_tiles *t = arg;
    float *acc = t->acc[w];
    memset(acc, 0, t->n * t->cp * sizeof *acc);
    for (size_t i = w; i < t->ntiles; i += (size_t)t->nw) {
        if (t->ctx->interrupted && *t->ctx->interrupted)
            return;
        const float *K = t->ram[i];
        if (K) {
            multiply(t, i, K, acc);
            continue;
        }
        if (t->off[i] == UINT64_MAX || t->recompute) {
            double t0 = km_now();
            compute_tile(t, i, t->wbuf[w]);
            t->t_comp[w] += km_now() - t0;
            t->n_comp[w]++;
            multiply(t, i, t->wbuf[w], acc);
            continue;
        }
        /* read into the task's buffer (not mapped: mapped pages would be
         * resident beside it, beyond the plan) */
        double t0 = km_now();
        if (read_tile(t, i, t->wbuf[w]))
            return;
        t->t_read[w] += km_now() - t0;
        t->n_read[w]++;
        multiply(t, i, t->wbuf[w], acc);
    }
}

int km_tiles_apply(km_tiles *t, const float *in, float *out, size_t c)
{
    km_ctx *ctx = t->ctx;
    size_t cp = (c + 15) / 16 * 16;
    if (cp > t->acc_c) {
        for (int w = 0; w <= t->nw; w++) { /* acc[nw]: the padded input */
            float *a = realloc(t->acc[w], t->n * cp * sizeof(float));
            if (!a)
                return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            t->acc[w] = a;
        }
        t->acc_c = cp;
    }
    t->in = t->acc[t->nw];
    t->c = c;
    t->cp = cp;
    for (size_t i = 0; i < t->n; i++)
        for (size_t q = 0; q < cp; q++)
            t->in[i * cp + q] = q < c ? in[i * c + q] : 0;
    int blas = km_blas_threads(1); /* recomputed tiles call sgemm inside workers */
    if (t->pool)
        km_pool_run(t->pool, (size_t)t->nw, apply_task, t);
    else
        apply_task(t, 0, 0);
    km_blas_threads(blas);
    if (t->err)
        return t->err;
    if (km_check_interrupt(ctx))
        return KM_EINTR;
    for (size_t i = 0; i < t->n; i++)
        for (size_t q = 0; q < c; q++) {
            size_t j = i * cp + q;
            float s = t->acc[0][j];
            for (int w = 1; w < t->nw; w++)
                s += t->acc[w][j];
            out[i * c + q] = s + (float)t->reg * in[i * c + q];
        }
    if (!t->st.products && t->fd >= 0 && t->store == KM_STORE_AUTO) {
        double tr = 0, tc = 0;
        uint64_t nr = 0, ncmp = 0;
        for (int w = 0; w < t->nw; w++) {
            tr += t->t_read[w];
            nr += t->n_read[w];
            tc += t->t_comp[w];
            ncmp += t->n_comp[w];
        }
        t->st.read_per_tile = nr ? tr / nr : 0;
        if (ncmp)
            t->st.compute_per_tile = tc / ncmp;
        if (nr && t->st.read_per_tile > t->st.compute_per_tile) {
            t->recompute = 1;
            km_verbose(ctx, "kernel: reading a spilled tile takes %.1f ms, computing it %.1f ms: "
                       "recomputing from now on", 1e3 * t->st.read_per_tile,
                       1e3 * t->st.compute_per_tile);
        } else if (nr) {
            km_verbose(ctx, "kernel: reading a spilled tile takes %.1f ms, computing it %.1f ms: "
                       "reading", 1e3 * t->st.read_per_tile, 1e3 * t->st.compute_per_tile);
        }
    }
    t->st.products++;
    return 0;
}

int km_tiles_linop(void *t, const float *in, float *out, size_t c)
{
    return km_tiles_apply(t, in, out, c);
}

void km_tiles_get_stats(const km_tiles *t, km_tiles_stats *s)
{
    *s = t->st;
    s->recompute = t->recompute;
}
