/* outfile.c - atomic output files (see include/kmill/outfile.h). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmill/outfile.h"

int km_outfile_open(km_ctx *ctx, km_outfile *of, const char *path)
{
    memset(of, 0, sizeof *of);
    of->ctx = ctx;
    of->fd = -1;
    char *d = strdup(path), *b = strdup(path);
    of->path = strdup(path);
    if (!d || !b || !of->path) {
        free(d);
        free(b);
        free(of->path);
        of->path = NULL;
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    const char *dir = dirname(d), *base = basename(b);
    size_t n = strlen(dir) + strlen(base) + 32;
    of->tmp = malloc(n);
    if (of->tmp)
        snprintf(of->tmp, n, "%s/.%s.tmp.XXXXXX", dir, base);
    free(d);
    free(b);
    if (!of->tmp) {
        free(of->path);
        of->path = NULL;
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        int rc = km_seterr(&ctx->err, KM_EIO, "%s: is a directory", path);
        km_outfile_abort(of);
        return rc;
    }
    of->fd = mkstemp(of->tmp);
    if (of->fd < 0) {
        int rc = km_seterr(&ctx->err, km_errno_code(errno), "cannot create %s: %s", path,
                           strerror(errno));
        free(of->tmp);
        of->tmp = NULL; /* nothing to remove */
        km_outfile_abort(of);
        return rc;
    }
    /* mkstemp makes 0600; an output file should get the usual mode */
    mode_t um = umask(0);
    umask(um);
    fchmod(of->fd, 0666 & ~um);
    return 0;
}

static int write_error(km_outfile *of, int err)
{
    return km_seterr(&of->ctx->err, km_errno_code(err), "error writing %s: %s", of->path,
                     strerror(err));
}

/* Fault injection: pretend the disk fills after ctx->fault_enospc_after
 * bytes. A write that would cross the limit fails and is not counted. */
static int injected_enospc(km_ctx *c, size_t len)
{
    if (!c->fault_enospc_after)
        return 0;
    uint64_t cur = __atomic_load_n(&c->fault_written, __ATOMIC_RELAXED);
    do {
        if (cur + len > c->fault_enospc_after)
            return 1;
    } while (!__atomic_compare_exchange_n(&c->fault_written, &cur, cur + len, 1, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return 0;
}

int km_pwrite_full(km_ctx *ctx, int fd, const void *buf, size_t len, uint64_t off)
{
    if (injected_enospc(ctx, len))
        return ENOSPC;
    const char *p = buf;
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        p += w;
        off += (uint64_t)w;
        len -= (size_t)w;
    }
    return 0;
}

const char *km_tmpdir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *e = getenv("TMPDIR");
    return e && *e ? e : "/tmp";
}

int km_outfile_pwrite(km_outfile *of, const void *buf, size_t len, uint64_t off)
{
    int e = km_pwrite_full(of->ctx, of->fd, buf, len, off);
    return e ? write_error(of, e) : 0;
}

/* Bytes between hints to start writing back (below). */
#define WRITEBACK_STEP (8u << 20)

int km_outfile_write(km_outfile *of, const void *buf, size_t len)
{
    int rc = km_outfile_pwrite(of, buf, len, of->size);
    if (rc == 0)
        of->size += len;
#ifdef SYNC_FILE_RANGE_WRITE
    /* Start the disk on what is written so far, without waiting: the
     * fsync at commit then has only the tail left (it cost 15% of a
     * conversion's time when it had all 50 MB). A hint; errors show at
     * the fsync. */
    if (rc == 0 && of->size - of->flushed >= WRITEBACK_STEP) {
        sync_file_range(of->fd, (off_t)of->flushed, (off_t)(of->size - of->flushed),
                        SYNC_FILE_RANGE_WRITE);
        of->flushed = of->size;
    }
#endif
    return rc;
}

int km_outfile_printf(km_outfile *of, const char *fmt, ...)
{
    char small[512], *p = small;
    va_list ap, aq;
    va_start(ap, fmt);
    va_copy(aq, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= sizeof small && (p = malloc((size_t)n + 1)))
        vsnprintf(p, (size_t)n + 1, fmt, aq);
    va_end(aq);
    if (n < 0)
        return km_seterr(&of->ctx->err, KM_EINVAL, "%s: cannot format the text to write", of->path);
    if (!p)
        return km_seterr(&of->ctx->err, KM_ENOMEM, "out of memory");
    int rc = km_outfile_write(of, p, (size_t)n);
    if (p != small)
        free(p);
    return rc;
}

int km_outfile_pad(km_outfile *of, size_t align)
{
    static const char zeros[4096];
    size_t rem = (size_t)(of->size % align);
    if (!rem)
        return 0;
    size_t need = align - rem;
    while (need) {
        size_t n = need < sizeof zeros ? need : sizeof zeros;
        int rc = km_outfile_write(of, zeros, n);
        if (rc)
            return rc;
        need -= n;
    }
    return 0;
}

int km_outfile_commit(km_outfile *of)
{
    km_ctx *ctx = of->ctx;
    if (fsync(of->fd) != 0 && errno != EINVAL)
        return write_error(of, errno);
    if (close(of->fd) != 0) {
        of->fd = -1;
        return write_error(of, errno);
    }
    of->fd = -1;
    if (rename(of->tmp, of->path) != 0)
        return km_seterr(&ctx->err, km_errno_code(errno), "cannot rename %s to %s: %s", of->tmp,
                         of->path, strerror(errno));
    /* make the rename itself durable */
    char *d = strdup(of->path);
    if (d) {
        int dfd = open(dirname(d), O_RDONLY | O_DIRECTORY);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(d);
    }
    free(of->tmp);
    of->tmp = NULL;
    free(of->path);
    of->path = NULL;
    return 0;
}

void km_outfile_abort(km_outfile *of)
{
    if (of->fd >= 0)
        close(of->fd);
    of->fd = -1;
    if (of->tmp)
        unlink(of->tmp);
    free(of->tmp);
    of->tmp = NULL;
    free(of->path);
    of->path = NULL;
}
