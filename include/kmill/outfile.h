/* outfile.h - output files that appear only when complete.
 *
 * Data is written to a hidden temporary file in the destination directory
 * (".NAME.tmp.XXXXXX"); km_outfile_commit fsyncs it, renames it over NAME
 * and fsyncs the directory, so a reader never sees a half-written file and
 * a crash leaves the previous NAME intact. km_outfile_abort removes the
 * temporary. Every write honours the context's fault injection (a simulated
 * full disk), so the error paths are testable. */
#ifndef KMILL_OUTFILE_H
#define KMILL_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

typedef struct km_outfile {
    km_ctx *ctx;
    int fd;
    char *path;    /* final name */
    char *tmp;     /* temporary name */
    uint64_t size; /* bytes written at the end (pos of the next write) */
    uint64_t flushed; /* bytes whose write-back was started */
} km_outfile;

int km_outfile_open(km_ctx *ctx, km_outfile *of, const char *path);
/* Append len bytes. */
int km_outfile_write(km_outfile *of, const void *buf, size_t len);
/* Append printf-formatted text, written at once (a reader of the temporary
 * file sees each call's text whole, as from a flushed stdio stream). */
int km_outfile_printf(km_outfile *of, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append zero bytes up to the next multiple of align. */
int km_outfile_pad(km_outfile *of, size_t align);
/* Overwrite bytes already written (e.g. a header finished last). */
int km_outfile_pwrite(km_outfile *of, const void *buf, size_t len, uint64_t off);
int km_outfile_commit(km_outfile *of);
void km_outfile_abort(km_outfile *of); /* safe to call after commit: no-op */

/* Write all len bytes at off in fd, through short writes and EINTR, and
 * through the context's fault injection (which may be shared by several
 * threads writing at once). Returns 0 or an errno value (ENOSPC when the
 * injected disk is full), for the caller to word the message. */
int km_pwrite_full(km_ctx *ctx, int fd, const void *buf, size_t len, uint64_t off);

/* Where temporary files go: dir when given and not empty, else $TMPDIR,
 * else /tmp. */
const char *km_tmpdir(const char *dir);

#endif
