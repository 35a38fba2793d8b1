/* error.h - error codes and the error record every library call fills.
 *
 * Library functions return 0 on success or one of the negative codes below.
 * The function that detects a problem writes a one-line message into the
 * km_err it was handed (km_seterr); callers up the stack pass the code on
 * unchanged, so the message always describes the place the error arose.
 * Only the command-line layer turns codes into exit statuses.
 *
 * Exempt, each for a reason:
 *  - functions that cannot fail return void or their value (km_crc32c,
 *    km_kernel_tile, km_format_size, the estimates of kmill/plan.h);
 *  - look-ups answer "not found" in their value (km_schema_find: -1);
 *  - iterators return a count, 0 at the end, or a negative code
 *    (km_kmx_scan_next);
 *  - core helpers that run without a context (km_sample_indices,
 *    km_numparse_init) return a code with no message, which their caller
 *    words: they cannot know what the memory was for;
 *  - km_parse_f32 returns -1 (KM_EINVAL) with no message for text that is
 *    not a number: it runs once a field, and only the caller knows the
 *    file, line and column the message must name;
 *  - km_pwrite_full returns an errno value so that the spill file and the
 *    atomic output file can each name their own file in the message;
 *  - km_parse_size and km_pool_create fill a km_err rather than a context:
 *    they run while the options that build the context are parsed;
 *  - the byte buffer and cursor of kmill/bytes.h keep a sticky failure flag
 *    the caller tests once after many fields, so a format's reader is not
 *    buried in checks;
 *  - static helpers inside one file may return -1 or 1 to their caller
 *    where the caller sets the message (it knows the section and value). */
#ifndef KMILL_ERROR_H
#define KMILL_ERROR_H

#include <stddef.h>

enum {
    KM_OK = 0,
    KM_EINVAL = -1,   /* bad argument or option value (a usage error) */
    KM_ENOMEM = -2,   /* allocation failed or memory budget exceeded */
    KM_EIO = -3,      /* read/write/open failed */
    KM_EPARSE = -4,   /* malformed input text (CSV, numbers) */
    KM_EFORMAT = -5,  /* not a kmill file, unsupported version or feature */
    KM_ECORRUPT = -6, /* checksum mismatch, truncated or inconsistent file */
    KM_ENOSPC = -7,   /* out of disk space */
    KM_ELIMIT = -8,   /* a configured limit was exceeded */
    KM_EINTR = -9,    /* interrupted by a signal at a safe point */
    KM_ENUMERIC = -10, /* numerical failure (singular matrix, NaN) */
    KM_EPIPE = -11,   /* the reader of our output went away (EPIPE) */
    KM_EDATA = -12    /* the data does not suit the task (no label, a missing column) */
};

#define KM_ERRMSG_MAX 512

typedef struct km_err {
    int code;                  /* last code set, 0 if none */
    char msg[KM_ERRMSG_MAX];   /* one line, no trailing newline */
} km_err;

/* Record an error; returns code so callers can write `return km_seterr(...)`. */
int km_seterr(km_err *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Map an errno value to a km code (ENOSPC -> KM_ENOSPC, ENOMEM -> ..., else KM_EIO). */
int km_errno_code(int errnum);

/* Short generic text for a code, for when no message was set. */
const char *km_strerror(int code);

void km_clearerr(km_err *e);

#endif
