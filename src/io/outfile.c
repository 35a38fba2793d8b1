/* outfile.c - atomic output files (see include/kmill/outfile.h). */
#include "config.h"
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kmill/outfile.h"

/* ---- temporary names a later run can clean up --------------------------- */

/* This host's name as it goes into temporary names: letters, digits, '-'
 * and '_' (a dot would make the name ambiguous), at most 32 bytes. Two
 * hosts sharing a directory (NFS) then never take each other's files for
 * a dead process's. */
static void host_tag(char *buf, size_t size)
{
    char h[256] = "";
    if (gethostname(h, sizeof h - 1) != 0 || !h[0])
        strcpy(h, "localhost");
    size_t k = 0;
    for (size_t i = 0; h[i] && k + 1 < size && k < 32; i++)
        buf[k++] = isalnum((unsigned char)h[i]) || h[i] == '-' ? h[i] : '_';
    buf[k] = '\0';
}

char *km_tmp_name(const char *dir, const char *stem)
{
    char host[40];
    host_tag(host, sizeof host);
    size_t n = strlen(dir) + strlen(stem) + strlen(host) + 48;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/.%s.tmp.%s.%ld.XXXXXX", dir, stem, host, (long)getpid());
    return s;
}

/* The owner's pid of a temporary name made by km_tmp_name on this host
 * (".STEM.tmp.HOST.PID.XXXXXX"), or 0 when n is no such name. */
static long tmp_owner(const char *n, const char *host)
{
    size_t len = strlen(n), hl = strlen(host);
    if (n[0] != '.' || len < hl + 16 || n[len - 7] != '.')
        return 0;
    const char *pe = n + len - 7, *ps = pe;
    while (ps > n && isdigit((unsigned char)ps[-1]))
        ps--;
    if (ps == pe || pe - ps > 9 || (size_t)(ps - n) < hl + 7 || ps[-1] != '.')
        return 0;
    const char *hs = ps - 1 - hl;
    if (memcmp(hs, host, hl) != 0 || memcmp(hs - 5, ".tmp.", 5) != 0)
        return 0;
    return strtol(ps, NULL, 10);
}

int km_tmp_sweep(const char *dir)
{
    char host[40];
    host_tag(host, sizeof host);
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid = tmp_owner(e->d_name, host);
        struct stat st;
        /* ours (same user), a regular file, and its process is gone */
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH ||
            fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode) || st.st_uid != geteuid())
            continue;
        removed += unlinkat(dirfd(d), e->d_name, 0) == 0;
    }
    closedir(d);
    return removed;
}

/* ---- output files ------------------------------------------------------- */

/* An anonymous file in of->dir (O_TMPFILE): nothing is left by any end of
 * the process, kill -9 included. -1 where the file system (or kernel) has
 * none, or /proc is missing for linking it at the end. */
static int open_anonymous(km_outfile *of)
{
#ifdef O_TMPFILE
    if (of->ctx->fault_no_tmpfile)
        return -1;
    int fd = open(of->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    char proc[40];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (access(proc, F_OK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
#else
    (void)of;
    return -1;
#endif
}

/* A named temporary in of->dir (km_tmp_name): removed by abort, or by a
 * later run's sweep when this process died first. */
static int open_named(km_outfile *of)
{
    if (!(of->tmp = km_tmp_name(of->dir, of->base)))
        return km_seterr(&of->ctx->err, KM_ENOMEM, "out of memory");
    of->fd = mkostemp(of->tmp, O_CLOEXEC);
    if (of->fd < 0) {
        int rc = km_seterr(&of->ctx->err, km_errno_code(errno), "cannot create %s: %s", of->path,
                           strerror(errno));
        free(of->tmp);
        of->tmp = NULL; /* nothing to remove */
        return rc;
    }
    /* mkostemp makes 0600; an output file should get the usual mode */
    mode_t um = umask(0);
    umask(um);
    fchmod(of->fd, 0666 & ~um);
    return 0;
}

int km_outfile_open(km_ctx *ctx, km_outfile *of, const char *path)
{
    memset(of, 0, sizeof *of);
    of->ctx = ctx;
    of->fd = -1;
    char *d = strdup(path), *b = strdup(path);
    of->path = strdup(path);
    if (d && b && of->path) {
        of->dir = strdup(dirname(d));
        of->base = strdup(basename(b));
    }
    free(d);
    free(b);
    if (!of->path || !of->dir || !of->base) {
        km_outfile_abort(of);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        int rc = km_seterr(&ctx->err, KM_EIO, "%s: is a directory", path);
        km_outfile_abort(of);
        return rc;
    }
    if (exists && !S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode)) {
        /* opening a FIFO waits for a reader, and the check of the outputs
         * before the work opens each one once more than the writing does */
        int rc = km_seterr(&ctx->err, KM_EIO, "%s: not a regular file or a device; write to "
                           "standard output (-o -) and redirect that", path);
        km_outfile_abort(of);
        return rc;
    }
    if (exists && S_ISCHR(st.st_mode)) { /* /dev/null: in place */
        of->device = 1;
        if ((of->fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0)
            return 0;
        int rc = km_seterr(&ctx->err, km_errno_code(errno), "cannot open %s: %s", path,
                           strerror(errno));
        km_outfile_abort(of);
        return rc;
    }
    km_tmp_sweep(of->dir);
    if ((of->fd = open_anonymous(of)) >= 0)
        return 0;
    int rc = open_named(of);
    if (rc)
        km_outfile_abort(of);
    return rc;
}

int km_outfile_name_temp(km_outfile *of)
{
    if (of->tmp)
        return 0;
    if (of->device)
        return km_seterr(&of->ctx->err, KM_EIO, "%s is not a regular file", of->path);
    char proc[40];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", of->fd);
    if (!(of->tmp = km_tmp_name(of->dir, of->base)))
        return km_seterr(&of->ctx->err, KM_ENOMEM, "out of memory");
    /* the name's last six characters, tried until one is free */
    static const char az[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char *x = of->tmp + strlen(of->tmp) - 6;
    uint64_t r = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)of ^
                 (uint64_t)time(NULL);
    for (int tries = 0; tries < 100; tries++) {
        for (int i = 0; i < 6; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            x[i] = az[(r >> 33) % (sizeof az - 1)];
        }
        if (linkat(AT_FDCWD, proc, AT_FDCWD, of->tmp, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    int rc = km_seterr(&of->ctx->err, km_errno_code(errno), "cannot create %s: %s", of->path,
                       strerror(errno));
    free(of->tmp);
    of->tmp = NULL;
    return rc;
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

/* In place on a device or FIFO, which may not seek: plain writes. */
static int device_write(km_outfile *of, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(of->fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return write_error(of, errno);
        p += w;
        len -= (size_t)w;
        of->size += (uint64_t)w;
    }
    return 0;
}

int km_outfile_write(km_outfile *of, const void *buf, size_t len)
{
    if (of->device)
        return device_write(of, buf, len);
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
    if (of->device) {
        int rc = close(of->fd) != 0 ? write_error(of, errno) : 0;
        of->fd = -1;
        km_outfile_abort(of);
        return rc;
    }
    if (fsync(of->fd) != 0 && errno != EINVAL)
        return write_error(of, errno);
    /* an anonymous file gets a temporary name, to be renamed over the
     * final one (linkat cannot replace a file) */
    int rc = km_outfile_name_temp(of);
    if (rc)
        return rc;
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
    km_outfile_abort(of); /* frees the names */
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
    free(of->dir);
    of->dir = NULL;
    free(of->base);
    of->base = NULL;
}
