/* model.c - the .kmm model file (formats/kmm.md) and prediction with a
 * trained kernel machine (kmill/model.h).
 *
 * The file is a small header and a list of sections, each tagged, sized
 * and checksummed (CRC-32C), closed by an END section, so truncation and
 * damage are both detected, and a later minor version can add sections an
 * older reader skips. Numbers are little-endian; arrays of float32 are
 * written as they lie in memory (x86-64 and aarch64 Linux are
 * little-endian; configure refuses a big-endian host). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/crc32c.h"
#include "kmill/kscores.h"
#include "kmill/metrics.h"
#include "kmill/model.h"
#include "kmill/outfile.h"

static const unsigned char MAGIC[8] = {0x89, 'K', 'M', 'M', '\r', '\n', 0x1a, '\n'};
enum { MAJOR = 1, MINOR = 1, HEADER = 24 };

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define T_PROV TAG('P', 'R', 'O', 'V')
#define T_FEAT TAG('F', 'E', 'A', 'T')
#define T_KERN TAG('K', 'E', 'R', 'N')
#define T_CENT TAG('C', 'E', 'N', 'T')
#define T_ALPH TAG('A', 'L', 'P', 'H')
#define T_SELE TAG('S', 'E', 'L', 'E')
#define T_END TAG('E', 'N', 'D', ' ')

void km_model_free(km_model *m)
{
    km_features_free(&m->feat);
    free(m->M);
    free(m->centres);
    free(m->alpha);
    free(m->version);
    free(m->command);
    free(m->created);
    free(m->data_path);
    free(m->solver);
    memset(m, 0, sizeof *m);
}

uint32_t km_kmx_checksum(const km_kmx *d)
{
    uint32_t crc = 0;
    for (uint64_t k = 0; k < km_kmx_nchunks(d); k++) {
        unsigned char b[4];
        put_u32(b, km_kmx_chunk_info(d, k)->crc);
        crc = km_crc32c(crc, b, 4);
    }
    return crc;
}

/* ---- writing ---------------------------------------------------------- */

static void put_str(km_buf *b, const char *s)
{
    km_buf_str(b, s ? s : "", s ? (uint32_t)strlen(s) : 0);
}

static int write_section(km_outfile *of, uint32_t tag, const void *a, size_t alen, const void *p,
                         size_t plen)
{
    unsigned char h[12], t[4];
    put_u32(h, tag);
    put_u64(h + 4, (uint64_t)alen + plen);
    uint32_t crc = km_crc32c(km_crc32c(0, a, alen), p, plen);
    put_u32(t, crc);
    int rc = km_outfile_write(of, h, 12);
    if (!rc && alen)
        rc = km_outfile_write(of, a, alen);
    if (!rc && plen)
        rc = km_outfile_write(of, p, plen);
    if (!rc)
        rc = km_outfile_write(of, t, 4);
    return rc;
}

static void put_features(km_buf *b, const km_features *f)
{
    km_buf_u32(b, (uint32_t)f->task);
    km_buf_u32(b, (uint32_t)f->scale);
    km_buf_u32(b, f->d);
    put_str(b, f->label);
    km_buf_u32(b, f->nclasses);
    for (uint32_t k = 0; k < f->nclasses; k++)
        km_buf_str(b, f->classes[k], f->class_len[k]);
    km_buf_u32(b, f->ncols);
    for (uint32_t j = 0; j < f->ncols; j++) {
        const km_featcol *c = &f->cols[j];
        put_str(b, c->name);
        km_buf_u32(b, (uint32_t)c->type);
        km_buf_u32(b, c->first);
        km_buf_f64(b, c->fill);
        km_buf_f64(b, c->shift);
        km_buf_f64(b, c->scale);
        km_buf_u32(b, c->nlevels);
        for (uint32_t k = 0; k < c->nlevels; k++)
            km_buf_str(b, c->levels[k], c->level_len[k]);
    }
}

int km_model_save(km_ctx *ctx, const km_model *m, const char *path)
{
    km_outfile of;
    int rc = km_outfile_open(ctx, &of, path);
    if (rc)
        return rc;
    unsigned char h[HEADER] = {0};
    memcpy(h, MAGIC, 8);
    put_u16(h + 8, MAJOR);
    put_u16(h + 10, MINOR);
    put_u32(h + 12, 0); /* required features */
    put_u32(h + 16, 0); /* optional features */
    put_u32(h + 20, km_crc32c(0, h, 20));
    rc = km_outfile_write(&of, h, HEADER);

    km_buf b = {0};
    put_str(&b, m->version);
    put_str(&b, m->command);
    put_str(&b, m->created);
    put_str(&b, m->data_path);
    km_buf_u32(&b, m->data_checksum);
    put_str(&b, m->solver);
    km_buf_u64(&b, (uint64_t)m->iters);
    km_buf_f64(&b, m->residual);
    km_buf_f64(&b, m->train_metric);
    if (!rc && !b.oom)
        rc = write_section(&of, T_PROV, b.p, b.len, NULL, 0);

    b.len = 0;
    put_features(&b, &m->feat);
    if (!rc && !b.oom)
        rc = write_section(&of, T_FEAT, b.p, b.len, NULL, 0);

    b.len = 0;
    size_t mlen = m->metric == KM_METRIC_FULL ? (size_t)m->d * m->d
                  : m->metric == KM_METRIC_DIAG ? m->d : 0;
    km_buf_u32(&b, (uint32_t)m->kernel.type);
    km_buf_f64(&b, m->kernel.bandwidth);
    km_buf_f64(&b, m->reg);
    km_buf_u32(&b, (uint32_t)m->metric);
    km_buf_u32(&b, m->d);
    if (!rc && !b.oom)
        rc = write_section(&of, T_KERN, b.p, b.len, m->M, mlen * sizeof(float));

    b.len = 0;
    km_buf_u64(&b, m->n);
    km_buf_u32(&b, m->d);
    if (!rc && !b.oom)
        rc = write_section(&of, T_CENT, b.p, b.len, m->centres, m->n * m->d * sizeof(float));
    b.len = 0;
    km_buf_u64(&b, m->n);
    km_buf_u32(&b, m->c);
    if (!rc && !b.oom)
        rc = write_section(&of, T_ALPH, b.p, b.len, m->alpha, m->n * m->c * sizeof(float));
    if (m->sel) { /* since 1.1 */
        b.len = 0;
        km_buf_u32(&b, m->rfm_iters);
        km_buf_u32(&b, m->best_iter);
        km_buf_u32(&b, (uint32_t)m->rfm_diag);
        km_buf_u32(&b, (uint32_t)m->center_grads);
        km_buf_u64(&b, m->agop_samples);
        km_buf_u64(&b, m->train_rows);
        km_buf_u64(&b, m->val_rows);
        km_buf_f64(&b, m->val_metric);
        km_buf_u32(&b, (uint32_t)m->refit);
        if (!rc && !b.oom)
            rc = write_section(&of, T_SELE, b.p, b.len, NULL, 0);
    }
    if (!rc && !b.oom)
        rc = write_section(&of, T_END, NULL, 0, NULL, 0);
    if (!rc && b.oom)
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    free(b.p);
    if (!rc)
        rc = km_outfile_commit(&of);
    if (rc)
        km_outfile_abort(&of);
    return rc;
}

/* ---- reading ---------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            return 1; /* end of file */
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

static int get_features(km_cur *c, km_features *f)
{
    f->task = (int)km_cur_u32(c);
    f->scale = (int)km_cur_u32(c);
    f->d = km_cur_u32(c);
    f->label = km_cur_str(c, NULL);
    f->nclasses = km_cur_u32(c);
    if (c->bad || f->nclasses > (size_t)(c->end - c->p) / 4)
        return -1;
    f->classes = calloc(f->nclasses + 1, sizeof *f->classes);
    f->class_len = calloc(f->nclasses + 1, sizeof *f->class_len);
    if (!f->classes || !f->class_len)
        return -1;
    for (uint32_t k = 0; k < f->nclasses && !c->bad; k++)
        f->classes[k] = km_cur_str(c, &f->class_len[k]);
    f->ncols = km_cur_u32(c);
    if (c->bad || f->ncols > (size_t)(c->end - c->p) / 40)
        return -1;
    f->cols = calloc(f->ncols + 1, sizeof *f->cols);
    if (!f->cols)
        return -1;
    for (uint32_t j = 0; j < f->ncols && !c->bad; j++) {
        km_featcol *fc = &f->cols[j];
        fc->name = km_cur_str(c, NULL);
        fc->type = (int)km_cur_u32(c);
        fc->first = km_cur_u32(c);
        fc->fill = (float)km_cur_f64(c);
        fc->shift = (float)km_cur_f64(c);
        fc->scale = (float)km_cur_f64(c);
        fc->nlevels = km_cur_u32(c);
        if (c->bad || fc->nlevels > (size_t)(c->end - c->p) / 4)
            return -1;
        fc->levels = calloc(fc->nlevels + 1, sizeof *fc->levels);
        fc->level_len = calloc(fc->nlevels + 1, sizeof *fc->level_len);
        if (!fc->levels || !fc->level_len)
            return -1;
        for (uint32_t k = 0; k < fc->nlevels && !c->bad; k++)
            fc->levels[k] = km_cur_str(c, &fc->level_len[k]);
        /* the features must tile [0, d) as the transform assumes */
        uint32_t width = fc->type == KM_COL_CATEGORICAL ? fc->nlevels : 1;
        if (fc->first > f->d || width > f->d - fc->first)
            return -1;
    }
    return c->bad ? -1 : 0;
}

/* A float array after a fixed part of hlen bytes, checked against count. */
static int take_floats(km_cur *c, uint64_t count, float **out)
{
    if ((uint64_t)(c->end - c->p) != count * sizeof(float))
        return -1;
    *out = malloc(count ? count * sizeof(float) : 1);
    if (!*out)
        return -1;
    memcpy(*out, c->p, count * sizeof(float));
    c->p = c->end;
    return 0;
}

/* Read and check the file header: magic, checksum, major version and the
 * features a reader must know; st gets the file's size for the sections. */
static int read_header(km_ctx *ctx, const char *path, int fd, struct stat *st)
{
    unsigned char h[HEADER];
    int r = fstat(fd, st) ? -errno : read_full(fd, h, HEADER);
    if (r < 0)
        return km_seterr(&ctx->err, KM_EIO, "%s: %s", path, strerror(-r));
    if (r > 0 || memcmp(h, MAGIC, 8) != 0)
        return km_seterr(&ctx->err, KM_EFORMAT, "%s: not a kmill model file", path);
    if (get_u32(h + 20) != km_crc32c(0, h, 20))
        return km_seterr(&ctx->err, KM_ECORRUPT, "%s: header checksum mismatch", path);
    if (get_u16(h + 8) != MAJOR)
        return km_seterr(&ctx->err, KM_EFORMAT,
                         "%s: model format version %u.%u is not supported (this kmill reads %u.x)",
                         path, get_u16(h + 8), get_u16(h + 10), MAJOR);
    if (get_u32(h + 12))
        return km_seterr(&ctx->err, KM_EFORMAT,
                         "%s: the model needs features this kmill lacks (0x%08x); upgrade kmill",
                         path, get_u32(h + 12));
    return 0;
}

/* Read the section at byte pos of a file of size bytes: its tag, and its
 * payload of *len bytes (then its checksum, verified) into *out, which the
 * caller frees. The sizes are checked against the file's before anything
 * is allocated. */
static int read_section(km_ctx *ctx, const char *path, int fd, uint64_t pos, uint64_t size,
                        uint32_t *tag, uint64_t *len, unsigned char **out)
{
    unsigned char sh[12];
    int r;
    if (size - pos < 16 || (r = read_full(fd, sh, 12)) != 0)
        return km_seterr(&ctx->err, KM_ECORRUPT, "%s: truncated model file (no end section)", path);
    *tag = get_u32(sh);
    uint64_t n = *len = get_u64(sh + 4);
    if (n > size - pos - 16)
        return km_seterr(&ctx->err, KM_ECORRUPT, "%s: truncated model file (section at byte %llu)",
                         path, (unsigned long long)pos);
    unsigned char *p = malloc(n + 4);
    if (!p)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory reading %s", path);
    if ((r = read_full(fd, p, n + 4)) != 0) {
        free(p);
        return km_seterr(&ctx->err, r < 0 ? KM_EIO : KM_ECORRUPT, "%s: %s", path,
                         r < 0 ? strerror(-r) : "truncated model file");
    }
    if (get_u32(p + n) != km_crc32c(0, p, n)) {
        free(p);
        return km_seterr(&ctx->err, KM_ECORRUPT, "%s: section at byte %llu: checksum mismatch",
                         path, (unsigned long long)pos);
    }
    *out = p;
    return 0;
}

/* Take a section's payload (len bytes at c) into m by its tag, marking
 * the required ones in *have and the end in *ended; a section of a later
 * minor version is skipped. Nonzero when the payload is malformed. */
static int parse_section(km_model *m, uint32_t tag, km_cur *c, uint64_t len, int *have, int *ended)
{
    uint64_t cnt;
    switch (tag) {
    case T_PROV:
        m->version = km_cur_str(c, NULL);
        m->command = km_cur_str(c, NULL);
        m->created = km_cur_str(c, NULL);
        m->data_path = km_cur_str(c, NULL);
        m->data_checksum = km_cur_u32(c);
        m->solver = km_cur_str(c, NULL);
        m->iters = (int64_t)km_cur_u64(c);
        m->residual = km_cur_f64(c);
        m->train_metric = km_cur_f64(c);
        return c->bad;
    case T_FEAT:
        *have |= 1;
        return get_features(c, &m->feat);
    case T_KERN:
        m->kernel.type = (int)km_cur_u32(c);
        m->kernel.bandwidth = km_cur_f64(c);
        m->reg = km_cur_f64(c);
        m->metric = (int)km_cur_u32(c);
        m->d = km_cur_u32(c);
        cnt = m->metric == KM_METRIC_FULL ? (uint64_t)m->d * m->d
              : m->metric == KM_METRIC_DIAG ? m->d : 0;
        *have |= 2;
        return c->bad || m->metric < 0 || m->metric > KM_METRIC_FULL ||
               (m->kernel.type != KM_KERNEL_LAPLACE && m->kernel.type != KM_KERNEL_GAUSSIAN) ||
               !(m->kernel.bandwidth > 0) || (cnt ? take_floats(c, cnt, &m->M) : 0);
    case T_CENT:
        m->n = km_cur_u64(c);
        cnt = km_cur_u32(c);
        *have |= 4;
        return c->bad || cnt != m->d || m->n > len / 4 ||
               take_floats(c, m->n * m->d, &m->centres);
    case T_ALPH:
        cnt = km_cur_u64(c);
        m->c = km_cur_u32(c);
        *have |= 8;
        return c->bad || cnt != m->n || !m->c || m->c > len / 4 ||
               take_floats(c, m->n * m->c, &m->alpha);
    case T_SELE:
        m->sel = 1;
        m->rfm_iters = km_cur_u32(c);
        m->best_iter = km_cur_u32(c);
        m->rfm_diag = (int)km_cur_u32(c);
        m->center_grads = (int)km_cur_u32(c);
        m->agop_samples = km_cur_u64(c);
        m->train_rows = km_cur_u64(c);
        m->val_rows = km_cur_u64(c);
        m->val_metric = km_cur_f64(c);
        m->refit = (int)km_cur_u32(c);
        return c->bad;
    case T_END:
        *ended = 1;
        return 0;
    default: /* a section of a later minor version */
        return 0;
    }
}

/* The sections after the header, up to and including END, into m; then
 * the checks that need them all: every required one present, and the
 * features, kernel and coefficients of one shape. */
static int read_sections(km_ctx *ctx, const char *path, int fd, uint64_t size, km_model *m)
{
    uint64_t pos = HEADER;
    int rc = 0, have = 0, ended = 0;
    while (!rc && !ended) {
        uint32_t tag = 0;
        uint64_t len = 0;
        unsigned char *p = NULL;
        if ((rc = read_section(ctx, path, fd, pos, size, &tag, &len, &p)))
            break;
        km_cur c = {p, p + len, 0};
        int bad = parse_section(m, tag, &c, len, &have, &ended);
        free(p);
        if (bad)
            rc = km_seterr(&ctx->err, KM_ECORRUPT, "%s: malformed section at byte %llu", path,
                           (unsigned long long)pos);
        pos += 16 + len;
    }
    if (!rc && have != 15)
        rc = km_seterr(&ctx->err, KM_ECORRUPT, "%s: model file lacks a required section", path);
    if (!rc && (m->feat.d != m->d ||
                (m->feat.task == KM_TASK_CLASSIFY ? m->c != m->feat.nclasses : m->c != 1)))
        rc = km_seterr(&ctx->err, KM_ECORRUPT, "%s: inconsistent model file", path);
    return rc;
}

int km_model_load(km_ctx *ctx, const char *path, km_model *m)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return km_seterr(&ctx->err, km_errno_code(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    int rc = read_header(ctx, path, fd, &st);
    if (!rc)
        rc = read_sections(ctx, path, fd, (uint64_t)st.st_size, m);
    close(fd);
    if (rc)
        km_model_free(m);
    return rc;
}

/* ---- prediction ------------------------------------------------------- */

static int scorer_init(km_ctx *ctx, const km_model *m, uint64_t mem, km_kscorer *p)
{
    return km_kscorer_init(ctx, p, &m->kernel, m->metric, m->M, m->centres, (size_t)m->n, m->d,
                           m->alpha, m->c, mem);
}

int km_model_scores(km_ctx *ctx, km_pool *pool, const km_model *m, const float *X, size_t n,
                    uint64_t mem, float *scores)
{
    km_kscorer p;
    int rc = scorer_init(ctx, m, mem, &p);
    if (rc)
        return rc;
    km_kscorer_run(&p, pool, X, n, scores);
    km_kscorer_free(&p);
    return 0;
}

void km_predict_estimate(const km_model *m, const km_kmx *data, int tasks, uint64_t mem,
                         km_plan *p)
{
    uint64_t n = m->n, d = m->d, c = m->c, f = sizeof(float);
    uint64_t ms = m->metric == KM_METRIC_FULL ? d * d : m->metric == KM_METRIC_DIAG ? d : 0;
    km_plan_init(p);
    km_plan_add(p, "model", (n * d + n * c + ms) * f);
    km_plan_add(p, "kernel against the centres",
                km_kscorer_estimate((size_t)n, (size_t)d, m->metric,
                                    km_kscorer_block((size_t)n, mem / 4)));
    km_plan_add(p, "dataset reader", km_kmx_scan_estimate(data, tasks));
    km_plan_add(p, "a chunk's features and scores",
                (uint64_t)km_kmx_rows_per_chunk(data) * (d + 1 + c) * f);
}

int km_model_stream(km_ctx *ctx, km_pool *pool, const km_model *m, km_kmx *data, int need_label,
                    km_scores_fn fn, void *arg, uint64_t *unseen)
{
    const km_schema *s = km_kmx_schema(data);
    km_plan plan;
    km_predict_estimate(m, data, pool ? km_pool_workers(pool) + 1 : 1, ctx->mem_budget, &plan);
    int rc = km_plan_check(ctx, &plan, "prediction");
    if (rc)
        return rc;
    km_plan_log(ctx, &plan, "prediction");
    km_featbind b;
    if ((rc = km_features_bind(ctx, &m->feat, s, need_label, &b)))
        return rc;
    km_kscorer p;
    /* a quarter of the budget for the kernel block; the rest is the model */
    uint64_t mem = ctx->mem_budget / 4;
    if ((rc = scorer_init(ctx, m, mem, &p))) {
        km_featbind_free(&b);
        return rc;
    }
    km_kmx_scan *scan = NULL;
    float *X = NULL, *y = NULL, *sc = NULL;
    size_t cap = 0;
    rc = km_kmx_scan_open(data, pool, NULL, 0, &scan);
    *unseen = 0;
    while (!rc) {
        const float *rows;
        uint32_t nr;
        uint64_t first;
        int r = km_kmx_scan_next(scan, &rows, &nr, &first);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (nr > cap) {
            free(X);
            free(y);
            free(sc);
            X = malloc((size_t)nr * m->d * sizeof *X + 1);
            y = malloc((size_t)nr * sizeof *y);
            sc = malloc((size_t)nr * m->c * sizeof *sc);
            cap = nr;
            if (!X || !y || !sc) {
                rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
                break;
            }
        }
        km_features_apply(&m->feat, &b, rows, s->ncols, nr, X, y, unseen);
        km_kscorer_run(&p, pool, X, nr, sc);
        if (km_check_interrupt(ctx)) {
            rc = KM_EINTR;
            break;
        }
        rc = fn(arg, sc, y, nr);
    }
    km_kmx_scan_close(scan);
    free(X);
    free(y);
    free(sc);
    km_kscorer_free(&p);
    km_featbind_free(&b);
    return rc;
}
