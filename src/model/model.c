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
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/convert.h"
#include "kmill/crc32c.h"
#include "kmill/kscores.h"
#include "kmill/metrics.h"
#include "kmill/mlpfit.h"
#include "kmill/model.h"
#include "kmill/progress.h"
#include "kmill/outfile.h"
#include "kmill/strtab.h"

static const unsigned char MAGIC[8] = {0x89, 'K', 'M', 'M', '\r', '\n', 0x1a, '\n'};
enum { MAJOR = 1, MINOR = 5, HEADER = 24 };

#define TAG(a, b, c, d) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)
#define T_PROV TAG('P', 'R', 'O', 'V')
#define T_FEAT TAG('F', 'E', 'A', 'T')
#define T_KERN TAG('K', 'E', 'R', 'N')
#define T_CENT TAG('C', 'E', 'N', 'T')
#define T_ALPH TAG('A', 'L', 'P', 'H')
#define T_SELE TAG('S', 'E', 'L', 'E')
#define T_READ TAG('R', 'E', 'A', 'D')
#define T_CALI TAG('C', 'A', 'L', 'I')
#define T_NYST TAG('N', 'Y', 'S', 'T')
#define T_DOTK TAG('D', 'O', 'T', 'K')
#define T_NETW TAG('N', 'E', 'T', 'W')
#define T_WGHT TAG('W', 'G', 'H', 'T')
#define T_END TAG('E', 'N', 'D', ' ')

void km_model_free(km_model *m)
{
    km_features_free(&m->feat);
    km_mlp_free(&m->net);
    free(m->M);
    free(m->centres);
    free(m->alpha);
    free(m->version);
    free(m->command);
    free(m->created);
    free(m->data_path);
    free(m->solver);
    free(m->read.na_values);
    for (uint32_t k = 0; m->read.cat && k < m->read.ncat; k++)
        free(m->read.cat[k]);
    free(m->read.cat);
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

/* Section READ's payload (formats/kmm.md). */
static void put_read(km_buf *b, const km_model_read *r)
{
    km_buf_u32(b, (unsigned char)r->delim);
    km_buf_u32(b, (unsigned char)r->decimal);
    km_buf_u32(b, (uint32_t)r->no_header);
    km_buf_u32(b, (uint32_t)r->bad_values);
    km_buf_u32(b, (uint32_t)r->ragged);
    km_buf_u32(b, (uint32_t)r->lazy_quotes);
    km_buf_u32(b, r->max_levels);
    km_buf_u32(b, r->na_values != NULL);
    put_str(b, r->na_values);
    km_buf_u32(b, r->ncat);
    for (uint32_t k = 0; k < r->ncat; k++)
        put_str(b, r->cat[k]);
    km_buf_u32(b, (unsigned char)r->decimal_used); /* since 1.3 */
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

/* KERN, CENT and ALPH: a kernel machine. */
static int save_kernel(km_outfile *of, const km_model *m, km_buf *bp)
{
    km_buf b = *bp;
    int rc = 0;
    b.len = 0;
    size_t mlen = m->metric == KM_METRIC_FULL ? (size_t)m->d * m->d
                  : m->metric == KM_METRIC_DIAG ? m->d : 0;
    int radial = km_kernel_radial(&m->kernel);
    km_buf_u32(&b, (uint32_t)m->kernel.type);
    km_buf_f64(&b, radial ? m->kernel.bandwidth : 0);
    km_buf_f64(&b, m->reg);
    km_buf_u32(&b, (uint32_t)m->metric);
    km_buf_u32(&b, m->d);
    if (!rc && !b.oom)
        rc = write_section(of, T_KERN, b.p, b.len, m->M, mlen * sizeof(float));
    if (!radial) { /* since 1.5 */
        b.len = 0;
        km_buf_u32(&b, (uint32_t)m->kernel.depth);
        km_buf_f64(&b, m->kernel.sw2);
        km_buf_f64(&b, m->kernel.sb2);
        if (!rc && !b.oom)
            rc = write_section(of, T_DOTK, b.p, b.len, NULL, 0);
    }

    b.len = 0;
    km_buf_u64(&b, m->n);
    km_buf_u32(&b, m->d);
    if (!rc && !b.oom)
        rc = write_section(of, T_CENT, b.p, b.len, m->centres, m->n * m->d * sizeof(float));
    b.len = 0;
    km_buf_u64(&b, m->n);
    km_buf_u32(&b, m->c);
    if (!rc && !b.oom)
        rc = write_section(of, T_ALPH, b.p, b.len, m->alpha, m->n * m->c * sizeof(float));
    *bp = b;
    return rc;
}

/* NETW and WGHT (since 1.5): a network's architecture, how it was
 * trained, and its parameters layer by layer (W^l then b^l). */
static int save_net(km_outfile *of, const km_model *m, km_buf *bp)
{
    km_buf b = *bp;
    const km_mlp *net = &m->net;
    const km_net_info *ni = &m->ni;
    b.len = 0;
    km_buf_u32(&b, net->depth);
    km_buf_u32(&b, (uint32_t)net->param);
    km_buf_u32(&b, (uint32_t)ni->loss);
    km_buf_f64(&b, net->sw2);
    km_buf_f64(&b, net->sb2);
    km_buf_f64(&b, net->alpha);
    km_buf_f64(&b, ni->lr);
    km_buf_u32(&b, ni->epochs);
    km_buf_u64(&b, ni->batch);
    km_buf_u64(&b, ni->seed);
    km_buf_u64(&b, ni->train_rows);
    km_buf_u64(&b, ni->val_rows);
    km_buf_f64(&b, ni->val_metric);
    for (uint32_t l = 0; l < net->depth + 2; l++)
        km_buf_u32(&b, net->width[l]);
    int rc = b.oom ? 0 : write_section(of, T_NETW, b.p, b.len, NULL, 0);
    uint64_t len = 0;
    for (uint32_t l = 1; l <= net->depth + 1; l++)
        len += ((uint64_t)net->width[l] * net->width[l - 1] + net->width[l]) * sizeof(float);
    unsigned char h[12], t[4];
    uint32_t crc = 0;
    put_u32(h, T_WGHT);
    put_u64(h + 4, len);
    if (!rc && !b.oom)
        rc = km_outfile_write(of, h, 12);
    for (uint32_t l = 1; !rc && !b.oom && l <= net->depth + 1; l++) {
        size_t nw = (size_t)net->width[l] * net->width[l - 1] * sizeof(float);
        crc = km_crc32c(km_crc32c(crc, net->W[l - 1], nw), net->b[l - 1],
                        net->width[l] * sizeof(float));
        if (!(rc = km_outfile_write(of, net->W[l - 1], nw)))
            rc = km_outfile_write(of, net->b[l - 1], net->width[l] * sizeof(float));
    }
    put_u32(t, crc);
    if (!rc && !b.oom)
        rc = km_outfile_write(of, t, 4);
    *bp = b;
    return rc;
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
    put_u32(h + 12, m->kind == KM_MODEL_NET ? KM_REQ_NETWORK : 0); /* required features */
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

    if (!rc)
        rc = m->kind == KM_MODEL_NET ? save_net(&of, m, &b) : save_kernel(&of, m, &b);
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
        km_buf_u32(&b, m->folds); /* since 1.3 */
        if (!rc && !b.oom)
            rc = write_section(&of, T_SELE, b.p, b.len, NULL, 0);
    }
    if (m->read.given) { /* since 1.2 */
        b.len = 0;
        put_read(&b, &m->read);
        if (!rc && !b.oom)
            rc = write_section(&of, T_READ, b.p, b.len, NULL, 0);
    }
    if (m->cal.rows) { /* since 1.2 */
        b.len = 0;
        km_buf_f64(&b, m->cal.T);
        km_buf_u64(&b, m->cal.rows);
        km_buf_f64(&b, m->cal.nll);
        if (!rc && !b.oom)
            rc = write_section(&of, T_CALI, b.p, b.len, NULL, 0);
    }
    if (m->nys_rows) { /* since 1.4 */
        b.len = 0;
        km_buf_u64(&b, m->nys_rows);
        km_buf_u32(&b, m->nys_passes);
        if (!rc && !b.oom)
            rc = write_section(&of, T_NYST, b.p, b.len, NULL, 0);
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

/* Read and check the file header: magic, checksum, major version and the
 * features a reader must know (*req: those set, of the ones this reader
 * knows); st gets the file's size for the sections. */
static int read_header(km_ctx *ctx, const char *path, int fd, struct stat *st, uint32_t *req)
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
    *req = get_u32(h + 12);
    if (*req & ~KM_REQ_NETWORK)
        return km_seterr(&ctx->err, KM_EFORMAT,
                         "%s: the model needs features this kmill lacks (0x%08x); upgrade kmill",
                         path, *req & ~KM_REQ_NETWORK);
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

/* Where the reader is: the file, and the section being parsed, so that a
 * message names both, and which required sections it has met. */
typedef struct km_rd {
    km_ctx *ctx;
    const char *path;
    uint32_t tag;
    uint64_t pos;               /* offset of the section's tag */
    uint64_t len;               /* its payload's length */
    const unsigned char *base;  /* its payload */
    int have;                   /* HAVE_* */
} km_rd;

enum {
    HAVE_FEAT = 1, HAVE_KERN = 2, HAVE_CENT = 4, HAVE_ALPH = 8, HAVE_DOTK = 16, HAVE_NETW = 32,
    HAVE_WGHT = 64
};

/* A tag as its characters (trailing spaces dropped) when they are
 * printable ASCII, else in hex. */
static const char *tag_name(uint32_t tag, char buf[12])
{
    unsigned char b[4];
    put_u32(b, tag);
    int n = 4;
    for (int i = 0; i < 4; i++)
        if (b[i] < 0x20 || b[i] > 0x7e)
            n = 0;
    while (n > 0 && b[n - 1] == ' ')
        n--;
    if (n == 0)
        snprintf(buf, 12, "0x%08x", (unsigned)tag);
    else {
        memcpy(buf, b, (size_t)n);
        buf[n] = '\0';
    }
    return buf;
}

/* KM_ECORRUPT with "FILE: section TAG at byte P: " and the detail. */
static int bad(const km_rd *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const km_rd *r, const char *fmt, ...)
{
    char detail[KM_ERRMSG_MAX], t[12];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return km_seterr(&r->ctx->err, KM_ECORRUPT, "%s: section %s at byte %llu: %s", r->path,
                     tag_name(r->tag, t), (unsigned long long)r->pos, detail);
}

static int overrun(const km_rd *r)
{
    return bad(r, "its fields run past the end of its %llu bytes", (unsigned long long)r->len);
}

static int nomem(const km_rd *r)
{
    return km_seterr(&r->ctx->err, KM_ENOMEM, "out of memory reading %s", r->path);
}

static size_t left(const km_cur *c)
{
    return (size_t)(c->end - c->p);
}

/* A str field into a new NUL-terminated *s (its length in *len if not
 * NULL), its length checked against what is left of the payload. Class
 * names and levels carry their length and may hold any byte. */
static int get_bytes(const km_rd *r, km_cur *c, char **s, uint32_t *len)
{
    if (c->bad || left(c) < 4)
        return overrun(r);
    uint32_t n = get_u32(c->p);
    if (n > left(c) - 4)
        return bad(r, "a string of %u bytes at offset %llu runs past the end of its %llu bytes", n,
                   (unsigned long long)(c->p - r->base), (unsigned long long)r->len);
    *s = km_cur_str(c, len);
    return *s ? 0 : nomem(r);
}

/* The same for a name used as a C string (the label, a column, the
 * provenance): a NUL inside would cut it short wherever it is used or
 * saved again, so it is refused. */
static int get_str(const km_rd *r, km_cur *c, char **s, uint32_t *len)
{
    uint64_t at = c->p && r->base ? (uint64_t)(c->p - r->base) : 0;
    uint32_t n = 0;
    int rc = get_bytes(r, c, s, &n);
    if (len)
        *len = n;
    if (!rc && memchr(*s, 0, n)) {
        free(*s); /* (the caller may not have put it where the model's free finds it) */
        *s = NULL;
        return bad(r, "the string at offset %llu holds a NUL byte", (unsigned long long)at);
    }
    return rc;
}

/* n strings (their count checked against the payload by the caller) into
 * new arrays *v and *len; *count = n once the arrays exist, so that the
 * model's free finds what was read. */
static int get_strs(const km_rd *r, km_cur *c, uint32_t n, char ***v, uint32_t **len,
                    uint32_t *count)
{
    *v = calloc((size_t)n + 1, sizeof **v);
    *len = calloc((size_t)n + 1, sizeof **len);
    if (!*v || !*len)
        return nomem(r);
    *count = n;
    for (uint32_t k = 0; k < n; k++) {
        int rc = get_bytes(r, c, &(*v)[k], &(*len)[k]);
        if (rc)
            return rc;
    }
    return 0;
}

/* Bytes after the last field of a section that has no room for more. */
static int no_rest(const km_rd *r, const km_cur *c)
{
    if (c->bad)
        return overrun(r);
    return left(c) ? bad(r, "%zu bytes after its last field", left(c)) : 0;
}

/* rows x cols finite floats (cols >= 1), filling the rest of the payload
 * exactly, into *out; what names the array in messages. */
static int take_floats(const km_rd *r, km_cur *c, uint64_t rows, uint32_t cols, const char *what,
                       float **out)
{
    size_t bytes = left(c);
    if (rows > bytes / 4 / cols || rows * cols * 4 != bytes)
        return bad(r, "%s takes %zu bytes, not %llu x %u floats", what, bytes,
                   (unsigned long long)rows, cols);
    float *p = *out = malloc(bytes ? bytes : 1);
    if (!p)
        return nomem(r);
    memcpy(p, c->p, bytes);
    c->p = c->end;
    for (uint64_t i = 0; i < rows * cols; i++)
        if (!isfinite(p[i]))
            return bad(r, "%s[%llu][%llu] is %g, not a finite number", what,
                       (unsigned long long)(i / cols), (unsigned long long)(i % cols), p[i]);
    return 0;
}

/* FEAT's fixed fields, the label's name and the classes. */
static int feat_classes(const km_rd *r, km_cur *c, km_features *f)
{
    uint32_t task = km_cur_u32(c), scale = km_cur_u32(c), len = 0;
    f->d = km_cur_u32(c);
    int rc = get_str(r, c, &f->label, &len);
    if (rc)
        return rc;
    uint32_t nclasses = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (task != KM_TASK_CLASSIFY && task != KM_TASK_REGRESS)
        return bad(r, "task %u is not 1 (classification) or 2 (regression)", task);
    if (scale > KM_SCALE_NONE)
        return bad(r, "scale %u is not 0 (standard), 1 (min-max) or 2 (none)", scale);
    f->task = (int)task;
    f->scale = (int)scale;
    if (!f->d)
        return bad(r, "d is 0: a model has at least one feature");
    if (!len)
        return bad(r, "the label column's name is empty");
    if (task == KM_TASK_CLASSIFY && nclasses < 2)
        return bad(r, "nclasses %u: a classification model has at least 2", nclasses);
    if (task == KM_TASK_REGRESS && nclasses)
        return bad(r, "nclasses %u: a regression model has 0", nclasses);
    if (nclasses > left(c) / 4)
        return bad(r, "nclasses %u: more than the %zu bytes left can hold", nclasses, left(c));
    return get_strs(r, c, nclasses, &f->classes, &f->class_len, &f->nclasses);
}

/* Column j of FEAT. Its features must start at *next (the columns tile
 * 0 .. d-1 in order, without gap or overlap), which then moves past them. */
static int feat_column(const km_rd *r, km_cur *c, km_features *f, uint32_t j, uint32_t *next)
{
    static const char *what[3] = {"fill", "shift", "scale"};
    km_featcol *fc = &f->cols[j];
    int rc = get_str(r, c, &fc->name, NULL);
    if (rc)
        return rc;
    uint32_t type = km_cur_u32(c), n = f->ncols;
    fc->first = km_cur_u32(c);
    double v[3];
    for (int k = 0; k < 3; k++)
        v[k] = km_cur_f64(c);
    uint32_t nlevels = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (type != KM_COL_NUMERIC && type != KM_COL_CATEGORICAL)
        return bad(r, "column %u of %u: type %u is not 0 (numeric) or 1 (categorical)", j + 1, n, type);
    fc->type = (int)type;
    for (int k = 0; k < 3; k++)
        if (!(fabs(v[k]) <= FLT_MAX))
            return bad(r, "column %u of %u: %s %g is not a finite float", j + 1, n, what[k], v[k]);
    fc->fill = (float)v[0];
    fc->shift = (float)v[1];
    fc->scale = (float)v[2];
    if (type == KM_COL_NUMERIC && nlevels)
        return bad(r, "column %u of %u: nlevels %u for a numeric column (expected 0)", j + 1, n, nlevels);
    if (fc->first != *next)
        return bad(r, "column %u of %u: first feature %u, expected %u (the columns' features follow "
                   "each other from 0)", j + 1, n, fc->first, *next);
    uint32_t width = type == KM_COL_CATEGORICAL ? nlevels : 1;
    if (width > f->d - *next)
        return bad(r, "column %u of %u: %u features from %u run past d %u", j + 1, n, width,
                   fc->first, f->d);
    *next += width;
    if (nlevels > left(c) / 4)
        return bad(r, "column %u of %u: nlevels %u, more than the %zu bytes left can hold", j + 1, n,
                   nlevels, left(c));
    return get_strs(r, c, nlevels, &fc->levels, &fc->level_len, &fc->nlevels);
}

static int parse_feat(const km_rd *r, km_cur *c, km_model *m)
{
    km_features *f = &m->feat;
    int rc = feat_classes(r, c, f);
    if (rc)
        return rc;
    uint32_t ncols = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    /* a column takes at least 40 bytes: name length, type, first, fill,
     * shift, scale and nlevels */
    if (ncols > left(c) / 40)
        return bad(r, "ncols %u: more than the %zu bytes left can hold", ncols, left(c));
    if (!(f->cols = calloc((size_t)ncols + 1, sizeof *f->cols)))
        return nomem(r);
    f->ncols = ncols;
    uint32_t next = 0;
    for (uint32_t j = 0; j < ncols; j++)
        if ((rc = feat_column(r, c, f, j, &next)))
            return rc;
    if (next != f->d)
        return bad(r, "the columns' features end at %u, short of d %u", next, f->d);
    return no_rest(r, c);
}

static int parse_kern(const km_rd *r, km_cur *c, km_model *m)
{
    uint32_t type = km_cur_u32(c);
    double bandwidth = km_cur_f64(c);
    double reg = km_cur_f64(c);
    uint32_t metric = km_cur_u32(c);
    m->d = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (type > KM_KERNEL_NNGP)
        return bad(r, "kernel %u is not 0 (Laplace), 1 (Gaussian), 2 (NTK) or 3 (NNGP)", type);
    m->kernel.type = (int)type;
    if (km_kernel_radial(&m->kernel) && !(isfinite(bandwidth) && bandwidth > 0))
        return bad(r, "bandwidth %g is not a finite number > 0", bandwidth);
    if (!km_kernel_radial(&m->kernel) && bandwidth != 0)
        return bad(r, "bandwidth %g: a dot-product kernel has none (0)", bandwidth);
    if (!(isfinite(reg) && reg >= 0))
        return bad(r, "reg %g is not a finite number >= 0", reg);
    if (metric > KM_METRIC_FULL)
        return bad(r, "metric %u is not 0 (none), 1 (diagonal) or 2 (full)", metric);
    m->kernel.bandwidth = bandwidth;
    m->reg = reg;
    m->metric = (int)metric;
    if (!m->d)
        return bad(r, "d is 0: a model has at least one feature");
    if (metric == KM_METRIC_NONE)
        return no_rest(r, c);
    int rc = take_floats(r, c, metric == KM_METRIC_FULL ? m->d : 1, m->d, "M", &m->M);
    for (uint32_t i = 0; !rc && i < m->d; i++) {
        float v = metric == KM_METRIC_FULL ? m->M[(size_t)i * m->d + i] : m->M[i];
        if (v < 0)
            rc = bad(r, "the diagonal entry %u of M is %g, negative", i, v);
    }
    return rc;
}

static int parse_cent(const km_rd *r, km_cur *c, km_model *m)
{
    m->n = km_cur_u64(c);
    uint32_t d = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (!(r->have & HAVE_KERN))
        return bad(r, "it comes before KERN, whose d it must match");
    if (d != m->d)
        return bad(r, "d %u differs from KERN's d %u", d, m->d);
    if (!m->n)
        return bad(r, "n is 0: a model has at least one centre");
    return take_floats(r, c, m->n, d, "centre", &m->centres);
}

static int parse_alph(const km_rd *r, km_cur *c, km_model *m)
{
    uint64_t n = km_cur_u64(c);
    m->c = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (!(r->have & HAVE_CENT))
        return bad(r, "it comes before CENT, whose n it must match");
    if (n != m->n)
        return bad(r, "n %llu differs from CENT's n %llu", (unsigned long long)n,
                   (unsigned long long)m->n);
    if (!m->c)
        return bad(r, "c is 0: a model has at least one output");
    return take_floats(r, c, n, m->c, "alpha", &m->alpha);
}

/* Informative sections: a later minor version may append fields. */
static int parse_prov(const km_rd *r, km_cur *c, km_model *m)
{
    int rc;
    if ((rc = get_str(r, c, &m->version, NULL)) || (rc = get_str(r, c, &m->command, NULL)) ||
        (rc = get_str(r, c, &m->created, NULL)) || (rc = get_str(r, c, &m->data_path, NULL)))
        return rc;
    m->data_checksum = km_cur_u32(c);
    if ((rc = get_str(r, c, &m->solver, NULL)))
        return rc;
    m->iters = (int64_t)km_cur_u64(c);
    m->residual = km_cur_f64(c);
    m->train_metric = km_cur_f64(c);
    return c->bad ? overrun(r) : 0;
}

static int parse_sele(const km_rd *r, km_cur *c, km_model *m)
{
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
    if (!c->bad && left(c) >= 4) /* since 1.3: a 1.1 or 1.2 file has no folds */
        m->folds = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (m->folds == 1 || m->folds > 100) /* what --cv takes */
        return bad(r, "%u folds: cross-validation has 2 to 100", m->folds);
    return 0;
}

/* Section READ: each value among those km_convert knows, since predict
 * gives them to it. */
static int parse_read(const km_rd *r, km_cur *c, km_model *m)
{
    km_model_read *rd = &m->read;
    uint32_t delim = km_cur_u32(c), decimal = km_cur_u32(c);
    rd->no_header = (int)km_cur_u32(c);
    rd->bad_values = (int)km_cur_u32(c);
    rd->ragged = (int)km_cur_u32(c);
    rd->lazy_quotes = (int)km_cur_u32(c);
    rd->max_levels = km_cur_u32(c);
    uint32_t na = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (delim > 255 || delim == '"' || delim == '\n' || delim == '\r')
        return bad(r, "delimiter %u is not a delimiter", delim);
    if (decimal && decimal != '.' && decimal != ',')
        return bad(r, "decimal mark %u is neither '.' nor ','", decimal);
    if (rd->max_levels > KM_ID_LEVELS)
        return bad(r, "max levels %u is above the %u a dataset may hold", rd->max_levels,
                   (unsigned)KM_ID_LEVELS);
    if ((uint32_t)rd->no_header > 1 || (uint32_t)rd->bad_values > KM_BAD_MISSING ||
        (uint32_t)rd->ragged > KM_RAGGED_SKIP || (uint32_t)rd->lazy_quotes > 1 || na > 1)
        return bad(r, "an option's value is out of range");
    rd->delim = (char)delim;
    rd->decimal = (char)decimal;
    rd->given = 1;
    int rc;
    char *nav = NULL;
    if ((rc = get_str(r, c, &nav, NULL)))
        return rc;
    if (na)
        rd->na_values = nav;
    else
        free(nav);
    uint32_t n = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (n > left(c) / 4)
        return bad(r, "%u categorical columns do not fit in its %llu bytes", n,
                   (unsigned long long)r->len);
    if (!(rd->cat = calloc((size_t)n + 1, sizeof *rd->cat)))
        return nomem(r);
    rd->ncat = n; /* so that the model's free finds what was read */
    for (uint32_t k = 0; k < n; k++)
        if ((rc = get_str(r, c, &rd->cat[k], NULL)))
            return rc;
    if (left(c) >= 4) { /* since 1.3 */
        uint32_t used = km_cur_u32(c);
        if (used && used != '.' && used != ',')
            return bad(r, "decimal mark used %u is neither '.' nor ','", used);
        rd->decimal_used = (char)used;
    }
    return 0; /* a later minor version may append fields */
}

/* Section CALI: the temperature divides the scores, so it is checked. */
static int parse_cali(const km_rd *r, km_cur *c, km_model *m)
{
    m->cal.T = km_cur_f64(c);
    m->cal.rows = km_cur_u64(c);
    m->cal.nll = km_cur_f64(c);
    if (c->bad)
        return overrun(r);
    if (!(m->cal.T > 0 && isfinite(m->cal.T)))
        return bad(r, "temperature %g is not a positive number", m->cal.T);
    if (!m->cal.rows)
        return bad(r, "a temperature fitted on 0 rows");
    return 0; /* a later minor version may append fields */
}

/* Section NYST: informative (prediction is the same sum over the
 * centres), but centres drawn from fewer rows than they number are not
 * a Nystrom model. */
static int parse_nyst(const km_rd *r, km_cur *c, km_model *m)
{
    m->nys_rows = km_cur_u64(c);
    m->nys_passes = km_cur_u32(c);
    if (c->bad)
        return overrun(r);
    if (m->nys_rows < m->n)
        return bad(r, "%llu centres drawn from %llu rows", (unsigned long long)m->n,
                   (unsigned long long)m->nys_rows);
    return 0; /* a later minor version may append fields */
}

/* The dot-product kernel's parameters (since 1.5; required with kernel 2
 * or 3, check_whole). */
static int parse_dotk(const km_rd *r, km_cur *c, km_model *m)
{
    uint32_t depth = km_cur_u32(c);
    double sw2 = km_cur_f64(c), sb2 = km_cur_f64(c);
    if (c->bad)
        return overrun(r);
    if (depth < 1 || depth > KM_KERNEL_MAX_DEPTH)
        return bad(r, "depth %u is not 1 to %d", depth, KM_KERNEL_MAX_DEPTH);
    if (!(isfinite(sw2) && sw2 > 0))
        return bad(r, "sw2 %g is not a finite number > 0", sw2);
    if (!(isfinite(sb2) && sb2 >= 0))
        return bad(r, "sb2 %g is not a finite number >= 0", sb2);
    m->kernel.depth = (int)depth;
    m->kernel.sw2 = sw2, m->kernel.sb2 = sb2;
    return 0; /* a later minor version may append fields */
}

/* NETW (since 1.5): the architecture and how it was trained, in a file
 * with the network bit (a kernel model with NETW is inconsistent). */
static int parse_netw(const km_rd *r, km_cur *c, km_model *m)
{
    if (m->kind != KM_MODEL_NET)
        return bad(r, "a network section in a file without the network feature bit");
    uint32_t depth = km_cur_u32(c), param = km_cur_u32(c), loss = km_cur_u32(c);
    double sw2 = km_cur_f64(c), sb2 = km_cur_f64(c), alpha = km_cur_f64(c);
    km_net_info *ni = &m->ni;
    ni->loss = (int)loss;
    ni->lr = km_cur_f64(c);
    ni->epochs = km_cur_u32(c);
    ni->batch = km_cur_u64(c);
    ni->seed = km_cur_u64(c);
    ni->train_rows = km_cur_u64(c);
    ni->val_rows = km_cur_u64(c);
    ni->val_metric = km_cur_f64(c);
    if (c->bad)
        return overrun(r);
    if (depth < 1 || depth > 1024)
        return bad(r, "depth %u is not 1 to 1024", depth);
    if (param > KM_PARAM_STANDARD || loss > 1)
        return bad(r, "parameterisation %u or loss %u is not 0 or 1", param, loss);
    if (!(isfinite(sw2) && sw2 > 0 && isfinite(sb2) && sb2 >= 0 && isfinite(alpha) && alpha > 0))
        return bad(r, "sw2 %g, sb2 %g or alpha %g is not a finite number > 0 (sb2 >= 0)", sw2,
                   sb2, alpha);
    if (left(c) != (depth + 2) * 4)
        return bad(r, "%zu bytes of widths, not %u", left(c), (depth + 2) * 4);
    uint32_t width[1026];
    for (uint32_t l = 0; l < depth + 2; l++)
        if (!(width[l] = km_cur_u32(c)) || width[l] > (1u << 24))
            return bad(r, "width %u of layer %u is not 1 to 2^24", width[l], l);
    if (km_mlp_alloc(r->ctx, &m->net, depth, width))
        return nomem(r);
    m->net.param = (int)param;
    m->net.sw2 = sw2;
    m->net.sb2 = sb2;
    m->net.alpha = alpha;
    m->d = width[0];
    m->c = width[depth + 1];
    return 0;
}

/* WGHT (since 1.5): every layer's W and b, finite, filling the payload. */
static int parse_wght(const km_rd *r, km_cur *c, km_model *m)
{
    if (!(r->have & HAVE_NETW))
        return bad(r, "it comes before NETW, whose widths it must match");
    const km_mlp *net = &m->net;
    uint64_t want = km_mlp_bytes(net->depth, net->width);
    if (left(c) != want)
        return bad(r, "%zu bytes, not the %llu the widths make", left(c), (unsigned long long)want);
    for (uint32_t l = 1; l <= net->depth + 1; l++) {
        size_t nw = (size_t)net->width[l] * net->width[l - 1];
        memcpy(net->W[l - 1], km_cur_take(c, nw * 4), nw * 4);
        memcpy(net->b[l - 1], km_cur_take(c, net->width[l] * 4), net->width[l] * 4);
        for (size_t i = 0; i < nw; i++)
            if (!isfinite(net->W[l - 1][i]))
                return bad(r, "W%u[%zu] is %g, not a finite number", l, i, net->W[l - 1][i]);
        for (size_t i = 0; i < net->width[l]; i++)
            if (!isfinite(net->b[l - 1][i]))
                return bad(r, "b%u[%zu] is %g, not a finite number", l, i, net->b[l - 1][i]);
    }
    return 0;
}

/* Take a section's payload into m by its tag; a section of a later minor
 * version is skipped. */
static int parse_section(km_rd *r, km_cur *c, km_model *m)
{
    switch (r->tag) {
    case T_PROV:
        return parse_prov(r, c, m);
    case T_FEAT:
        r->have |= HAVE_FEAT;
        return parse_feat(r, c, m);
    case T_KERN:
        r->have |= HAVE_KERN;
        return parse_kern(r, c, m);
    case T_CENT:
        r->have |= HAVE_CENT;
        return parse_cent(r, c, m);
    case T_ALPH:
        r->have |= HAVE_ALPH;
        return parse_alph(r, c, m);
    case T_SELE:
        return parse_sele(r, c, m);
    case T_READ:
        return parse_read(r, c, m);
    case T_CALI:
        return parse_cali(r, c, m);
    case T_NYST:
        return parse_nyst(r, c, m);
    case T_DOTK:
        r->have |= HAVE_DOTK;
        return parse_dotk(r, c, m);
    case T_NETW:
        r->have |= HAVE_NETW;
        return parse_netw(r, c, m);
    case T_WGHT:
        r->have |= HAVE_WGHT;
        return parse_wght(r, c, m);
    case T_END:
        return no_rest(r, c);
    default: /* a section of a later minor version */
        return 0;
    }
}

/* Refuse a tag met before (known or not: each section appears once), or
 * remember where it is; seen interns the tags in the order met, at[code]
 * is where each one was. */
static int note_tag(const km_rd *r, km_strtab *seen, uint64_t **at)
{
    unsigned char b[4];
    put_u32(b, r->tag);
    uint32_t n = seen->n, code;
    if (km_strtab_intern(seen, (const char *)b, 4, UINT32_MAX, &code) < 0)
        return nomem(r);
    if (code < n) {
        char t[12];
        return km_seterr(&r->ctx->err, KM_ECORRUPT, "%s: section %s appears twice (at bytes %llu and %llu)",
                         r->path, tag_name(r->tag, t), (unsigned long long)(*at)[code],
                         (unsigned long long)r->pos);
    }
    if ((n & (n - 1)) == 0) { /* 0, 1, 2, 4, ...: full */
        uint64_t *a = realloc(*at, (n ? 2 * (size_t)n : 1) * sizeof *a);
        if (!a)
            return nomem(r);
        *at = a;
    }
    (*at)[n] = r->pos;
    return 0;
}

/* The checks that need every section: the required ones present, and
 * the features, kernel and coefficients of one shape. */
static int check_whole(const km_rd *r, const km_model *m)
{
    static const struct { int bit; const char *tag; } req[] = {
        {HAVE_FEAT, "FEAT"}, {HAVE_KERN, "KERN"}, {HAVE_CENT, "CENT"}, {HAVE_ALPH, "ALPH"}};
    static const struct { int bit; const char *tag; } net_req[] = {
        {HAVE_FEAT, "FEAT"}, {HAVE_NETW, "NETW"}, {HAVE_WGHT, "WGHT"}};
    km_err *e = &r->ctx->err;
    int net = m->kind == KM_MODEL_NET;
    if (net && (r->have & (HAVE_KERN | HAVE_CENT | HAVE_ALPH)))
        return km_seterr(e, KM_ECORRUPT, "%s: inconsistent model file: a network with kernel "
                         "sections", r->path);
    for (size_t k = 0; net && k < sizeof net_req / sizeof net_req[0]; k++)
        if (!(r->have & net_req[k].bit))
            return km_seterr(e, KM_ECORRUPT, "%s: model file lacks the required section %s", r->path,
                             net_req[k].tag);
    for (size_t k = 0; !net && k < sizeof req / sizeof req[0]; k++)
        if (!(r->have & req[k].bit))
            return km_seterr(e, KM_ECORRUPT, "%s: model file lacks the required section %s", r->path,
                             req[k].tag);
    if (!km_kernel_radial(&m->kernel) && !(r->have & HAVE_DOTK))
        return km_seterr(e, KM_ECORRUPT, "%s: model file lacks the section DOTK its kernel (%s) "
                         "needs", r->path, km_kernel_name(m->kernel.type));
    if (km_kernel_radial(&m->kernel) && (r->have & HAVE_DOTK))
        return km_seterr(e, KM_ECORRUPT, "%s: inconsistent model file: DOTK with the %s kernel",
                         r->path, km_kernel_name(m->kernel.type));
    const km_features *f = &m->feat;
    if (f->d != m->d)
        return km_seterr(e, KM_ECORRUPT, "%s: inconsistent model file: FEAT has d %u, %s has d %u",
                         r->path, f->d, net ? "NETW" : "KERN", m->d);
    if (f->task == KM_TASK_CLASSIFY && m->c != f->nclasses)
        return km_seterr(e, KM_ECORRUPT,
                         "%s: inconsistent model file: %s has c %u, FEAT has %u classes", r->path,
                         net ? "NETW" : "ALPH", m->c, f->nclasses);
    if (f->task == KM_TASK_REGRESS && m->c != 1)
        return km_seterr(e, KM_ECORRUPT,
                         "%s: inconsistent model file: %s has c %u, a regression model has 1",
                         r->path, net ? "NETW" : "ALPH", m->c);
    if (f->task == KM_TASK_REGRESS && m->cal.rows)
        return km_seterr(e, KM_ECORRUPT,
                         "%s: inconsistent model file: a regression model has a temperature (CALI)",
                         r->path);
    return 0;
}

/* The sections after the header, up to and including END, into m, each
 * checked as it is read, then together (check_whole). */
static int read_sections(km_ctx *ctx, const char *path, int fd, uint64_t size, km_model *m)
{
    km_rd r = {ctx, path, 0, HEADER, 0, NULL, 0};
    km_strtab seen = {0};
    uint64_t *at = NULL;
    int rc = 0;
    while (!rc && r.tag != T_END) {
        unsigned char *p = NULL;
        if ((rc = read_section(ctx, path, fd, r.pos, size, &r.tag, &r.len, &p)))
            break;
        if (!(rc = note_tag(&r, &seen, &at))) {
            km_cur c = {p, p + r.len, 0};
            r.base = p;
            rc = parse_section(&r, &c, m);
        }
        free(p);
        r.pos += 16 + r.len;
    }
    km_strtab_free(&seen);
    free(at);
    return rc ? rc : check_whole(&r, m);
}

int km_model_probe(const char *path, unsigned *major, unsigned *minor)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    struct stat st;
    unsigned char h[12];
    int yes = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && read_full(fd, h, sizeof h) == 0 &&
              memcmp(h, MAGIC, 8) == 0;
    close(fd);
    if (yes) {
        *major = get_u16(h + 8);
        *minor = get_u16(h + 10);
    }
    return yes;
}

int km_model_load(km_ctx *ctx, const char *path, km_model *m)
{
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return km_seterr(&ctx->err, km_errno_code(errno), "%s: %s", path, strerror(errno));
    struct stat st;
    uint32_t req = 0;
    int rc = read_header(ctx, path, fd, &st, &req);
    m->kind = req & KM_REQ_NETWORK ? KM_MODEL_NET : KM_MODEL_KERNEL;
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

/* A network's rows per forward pass within mem: its three activation
 * buffers of the widest layer (kmill/mlp.h). */
static uint64_t net_maxw(const km_model *m)
{
    uint64_t mw = 1;
    for (uint32_t l = 1; l <= m->net.depth + 1; l++)
        mw = m->net.width[l] > mw ? m->net.width[l] : mw;
    return mw;
}

static size_t net_block(const km_model *m, uint64_t mem)
{
    uint64_t b = mem / (3 * net_maxw(m) * sizeof(float));
    return b < 64 ? 64 : b > 4096 ? 4096 : (size_t)b;
}

static int net_scores(km_ctx *ctx, km_pool *pool, const km_model *m, const float *X, size_t n,
                      uint64_t mem, float *scores)
{
    size_t b = net_block(m, mem);
    int rc = 0;
    for (size_t i0 = 0; i0 < n && !rc; i0 += b)
        rc = km_mlp_forward(ctx, pool, &m->net, X + i0 * m->d, n - i0 < b ? n - i0 : b, NULL,
                            scores + i0 * m->c);
    return rc;
}

int km_model_scores(km_ctx *ctx, km_pool *pool, const km_model *m, const float *X, size_t n,
                    uint64_t mem, float *scores)
{
    if (m->kind == KM_MODEL_NET)
        return net_scores(ctx, pool, m, X, n, mem, scores);
    km_kscorer p;
    int rc = scorer_init(ctx, m, mem, &p);
    if (rc)
        return rc;
    rc = km_kscorer_run(&p, pool, X, n, scores);
    km_kscorer_free(&p);
    return rc;
}

/* The kernel block of a prediction takes at most a quarter of the budget;
 * the rest is the model, the reader and the rows. */
static uint64_t kernel_budget(uint64_t mem)
{
    return mem / 4;
}

void km_predict_estimate(const km_model *m, const km_kmx *data, int tasks, uint64_t mem,
                         km_plan *p)
{
    uint64_t n = m->n, d = m->d, c = m->c, f = sizeof(float);
    uint64_t ms = m->metric == KM_METRIC_FULL ? d * d : m->metric == KM_METRIC_DIAG ? d : 0;
    km_plan_init(p);
    if (m->kind == KM_MODEL_NET) {
        km_plan_add(p, "network", km_mlp_bytes(m->net.depth, m->net.width));
        uint64_t rows = net_block(m, kernel_budget(mem));
        km_plan_add(p, "network activations", rows * 3 * net_maxw(m) * f);
    } else {
        km_plan_add(p, "model", (n * d + n * c + ms) * f);
        km_plan_add(p, "kernel against the centres",
                    km_kscorer_estimate((size_t)n, (size_t)d, m->metric,
                                        km_kscorer_block((size_t)n, kernel_budget(mem))));
    }
    km_plan_add(p, "dataset reader", km_kmx_scan_estimate(data, tasks));
    km_plan_add(p, "a chunk's features and scores",
                (uint64_t)km_kmx_rows_per_chunk(data) * (d + 1 + c) * f);
}

/* km_model_stream's state over one scan. */
typedef struct streaming {
    km_ctx *ctx;
    km_pool *pool;
    const km_model *m;
    const km_featbind *b;
    uint32_t ncols;
    km_kscorer p;
    float *X, *y, *sc; /* a chunk's features, targets and scores */
    size_t cap;
    uint64_t *unseen;
    km_scores_fn fn;
    void *arg;
    km_progress *prog;
} streaming;

static int stream_chunk(void *arg, const float *rows, uint32_t nr, uint64_t first)
{
    streaming *t = arg;
    const km_model *m = t->m;
    if (nr > t->cap) {
        free(t->X);
        free(t->y);
        free(t->sc);
        t->X = malloc((size_t)nr * m->d * sizeof *t->X + 1);
        t->y = malloc((size_t)nr * sizeof *t->y);
        t->sc = malloc((size_t)nr * m->c * sizeof *t->sc);
        t->cap = nr;
        if (!t->X || !t->y || !t->sc)
            return km_seterr(&t->ctx->err, KM_ENOMEM, "out of memory");
    }
    km_features_apply(&m->feat, t->b, rows, t->ncols, nr, t->X, t->y, t->unseen);
    int rc;
    if (m->kind == KM_MODEL_NET) {
        rc = net_scores(t->ctx, t->pool, m, t->X, nr, kernel_budget(t->ctx->mem_budget), t->sc);
        km_progress_update(t->prog, first + nr);
    } else {
        t->p.prog_base = first;
        rc = km_kscorer_run(&t->p, t->pool, t->X, nr, t->sc);
    }
    return rc ? rc : t->fn(t->arg, t->sc, t->y, rows, nr);
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
    streaming t = {ctx, pool, m, &b, s->ncols, {0}, NULL, NULL, NULL, 0, unseen, fn, arg, NULL};
    if (m->kind != KM_MODEL_NET &&
        (rc = scorer_init(ctx, m, kernel_budget(ctx->mem_budget), &t.p))) {
        km_featbind_free(&b);
        return rc;
    }
    *unseen = 0;
    km_progress prog;
    km_progress_start(&prog, ctx, need_label ? "evaluating" : "predicting", km_kmx_rows(data),
                      "rows");
    t.p.prog = t.prog = &prog;
    rc = km_kmx_each(data, pool, stream_chunk, &t);
    km_progress_end(&prog);
    free(t.X);
    free(t.y);
    free(t.sc);
    km_kscorer_free(&t.p);
    km_featbind_free(&b);
    return rc;
}
