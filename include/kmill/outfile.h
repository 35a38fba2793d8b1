/* outfile.h - output files that appear only when complete.
 *
 * Data is written to an anonymous file in the destination directory
 * (O_TMPFILE), which nothing can see and which vanishes with the process
 * however it ends, kill -9 included. km_outfile_commit fsyncs it, links it
 * under a temporary name and renames that over NAME, then fsyncs the
 * directory, so a reader never sees a half-written file and a crash leaves
 * the previous NAME intact. Where the file system has no O_TMPFILE (or
 * /proc is missing), the data goes to a named temporary from the start.
 *
 * Temporary names (km_tmp_name) say whose they are:
 * ".NAME.tmp.HOST.PID.XXXXXX". km_outfile_abort removes the file; what a
 * killed process leaves is removed by the next km_outfile_open in the
 * same directory (km_tmp_sweep), once no process PID runs on HOST.
 * Every write honours the context's fault injection (a simulated full
 * disk, a file system without O_TMPFILE), so the error paths are
 * testable.
 *
 * An output that is a character device (/dev/null) is written in place:
 * renaming over it would replace the device with a file. Other files
 * that are not regular (a FIFO, a socket) are refused. */
#ifndef KMILL_OUTFILE_H
#define KMILL_OUTFILE_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

typedef struct km_outfile {
    km_ctx *ctx;
    int fd;
    char *path;    /* final name */
    char *dir, *base; /* its directory and base name */
    char *tmp;     /* temporary name; NULL while the file is anonymous */
    uint64_t size; /* bytes written at the end (pos of the next write) */
    uint64_t flushed; /* bytes whose write-back was started */
    int device;    /* written in place: not a regular file */
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
/* Give an anonymous file its temporary name (of->tmp), which it keeps
 * until commit or abort; a no-op for a named one. For a writer that hands
 * the finished temporary to a reader (km_kmx_finish_temp). */
int km_outfile_name_temp(km_outfile *of);
int km_outfile_commit(km_outfile *of);
void km_outfile_abort(km_outfile *of); /* safe to call after commit: no-op */

/* Write all len bytes at off in fd, through short writes and EINTR, and
 * through the context's fault injection (which may be shared by several
 * threads writing at once). Returns 0 or an errno value (ENOSPC when the
 * injected disk is full), for the caller to word the message. */
int km_pwrite_full(km_ctx *ctx, int fd, const void *buf, size_t len, uint64_t off);

/* A template for mkstemp of a temporary file in dir that a later run can
 * remove once its owner is dead: "DIR/.STEM.tmp.HOST.PID.XXXXXX" (this
 * host and process). NULL when out of memory; the caller frees it. */
char *km_tmp_name(const char *dir, const char *stem);

/* Remove from dir the temporaries of km_tmp_name whose process is dead:
 * same host, same user, a regular file, no process PID. Returns how many
 * were removed. */
int km_tmp_sweep(const char *dir);

/* Where temporary files go: dir when given and not empty, else $TMPDIR,
 * else /tmp. */
const char *km_tmpdir(const char *dir);

#endif
