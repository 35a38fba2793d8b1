/* io.h - the read backend under every dataset reader.
 *
 * A reader hands km_io a batch of (offset, buffer, length) requests, goes on
 * with other work (decompressing the previous batch) and later waits for the
 * batch. Two backends sit behind this interface:
 *
 *  - io_uring (liburing): all requests of a batch in flight at once, up to
 *    the queue depth, more submitted in waves as earlier ones complete;
 *  - pread: one background read-ahead thread works through the batch, so
 *    km_io_submit still returns at once and the overlap still holds.
 *
 * io_uring is often refused in containers (seccomp, the
 * kernel.io_uring_disabled sysctl, old kernels), so KM_IO_AUTO falls back to
 * pread with one warning. Reads are ordinary buffered reads: no O_DIRECT,
 * no SQPOLL, no registered buffers.
 *
 * A km_io is used by one thread at a time and has at most one batch
 * outstanding: km_io_submit, then km_io_wait, then the next submit. */
#ifndef KMILL_IO_H
#define KMILL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

enum { KM_IO_AUTO = 0, KM_IO_URING = 1, KM_IO_PREAD = 2 };

/* One read: len bytes at file offset off into buf. got is set by km_io: the
 * bytes actually read, which is less than len only at end of file. */
typedef struct km_ioreq {
    uint64_t off;
    void *buf;
    size_t len;
    size_t got;
} km_ioreq;

typedef struct km_io km_io;

/* Open a backend on fd (opened O_RDONLY by the caller; km_io never closes
 * it). depth is the io_uring queue depth: 0 means 16, other values are
 * clamped to 8..64; the pread backend ignores it.
 *   KM_IO_AUTO:  io_uring if the kernel lets us, else pread with one
 *                warning naming the likely cause;
 *   KM_IO_URING: io_uring or KM_EIO ("io_uring unavailable (...)");
 *   KM_IO_PREAD: pread only.
 * (The KMILL_IO environment variable is the CLI's business, not km_io's.) */
int km_io_open(km_ctx *ctx, int fd, int kind, unsigned depth, km_io **out);

/* Start reading reqs[0..n): sets every got to 0 and returns without
 * waiting. The requests and their buffers belong to km_io until km_io_wait
 * returns; the caller must not touch them meanwhile. Requests must not
 * overlap in memory. KM_EINVAL if a batch is already outstanding. */
int km_io_submit(km_io *io, km_ioreq *reqs, size_t n);

/* Wait until every request of the batch is complete: got == len, or the
 * file ended first (got < len, possibly 0; not an error, the caller
 * decides). Short reads are continued and EINTR/EAGAIN retried. On a real
 * error sets ctx->err to "read error at offset N: <strerror>" and returns
 * km_errno_code(errno); got is then meaningful for no request. Returns 0 at
 * once when nothing is outstanding. */
int km_io_wait(km_io *io);

/* Read len bytes at off from fd with pread, continuing short reads and
 * retrying EINTR/EAGAIN: 0 with *got = the bytes read (less than len only
 * at end of file), or the errno of a real error. For one read where a
 * batch would be too much (a header, a spilled tile). */
int km_pread_full(int fd, void *buf, size_t len, uint64_t off, size_t *got);

/* "io_uring" or "pread": the backend actually in use. */
const char *km_io_name(const km_io *io);

/* Waits for any outstanding reads (ignoring their outcome) and frees the
 * backend; NULL is allowed. The fd stays open. */
void km_io_close(km_io *io);

#endif
