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
} km_outfile;

int km_outfile_open(km_ctx *ctx, km_outfile *of, const char *path);
/* Append len bytes. */
int km_outfile_write(km_outfile *of, const void *buf, size_t len);
/* Append zero bytes up to the next multiple of align. */
int km_outfile_pad(km_outfile *of, size_t align);
/* Overwrite bytes already written (e.g. a header finished last). */
int km_outfile_pwrite(km_outfile *of, const void *buf, size_t len, uint64_t off);
int km_outfile_commit(km_outfile *of);
void km_outfile_abort(km_outfile *of); /* safe to call after commit: no-op */

#endif
