/* csv.h - a streaming RFC 4180 CSV reader, and the field quoter of every
 * CSV kmill writes.
 *
 * Reads records from a file descriptor (a file or a pipe) with a buffer that
 * grows only to hold the longest record. Accepts a UTF-8 BOM, LF, CRLF and
 * lone CR line ends, quoted fields with embedded delimiters, doubled quotes
 * and newlines, and a missing final newline. The delimiter is given or
 * detected from the first lines among , ; TAB |. Errors carry the input's
 * name, line and field number: "data.csv:12:4: unterminated quoted field".
 * Line numbers count physical lines (newlines inside quotes included). */
#ifndef KMILL_CSV_H
#define KMILL_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/ctx.h"

typedef struct km_csv_opts {
    char delim;         /* 0: detect */
    int lazy_quotes;    /* keep stray quotes literally instead of failing */
    size_t max_record;  /* longest record accepted, bytes (0: 64 MiB) */
    const char *name;   /* input name for messages */
} km_csv_opts;

typedef struct km_csv_field {
    const char *p;      /* not NUL-terminated; quotes removed, "" unescaped */
    uint32_t len;
    uint32_t quoted;    /* the field was enclosed in quotes */
} km_csv_field;

typedef struct km_csv km_csv;

int km_csv_open(km_ctx *ctx, int fd, const km_csv_opts *opts, km_csv **out);

/* Memory mode, for records already in a buffer (parallel parsing): open
 * once, then point at each buffer with km_csv_reset_mem. The buffer must
 * hold complete records (see km_csv_split) and is modified in place (quotes
 * unescaped). Give the delimiter in opts; no BOM is skipped. */
int km_csv_open_mem(km_ctx *ctx, const km_csv_opts *opts, km_csv **out);
void km_csv_reset_mem(km_csv *c, char *buf, size_t len, uint64_t first_line);
/* Memory mode: the input not parsed yet, for a caller that parses a record
 * itself; km_csv_skip_record then steps over it (n bytes, ending with its
 * one line end) and returns its line number. */
const char *km_csv_rest(const km_csv *c, size_t *len);
uint64_t km_csv_skip_record(km_csv *c, size_t n);
uint64_t km_csv_rest_line(const km_csv *c); /* line number at km_csv_rest */

/* Length of the longest prefix of p[0..len) made of complete records (the
 * input is known to start at a record start), or with first_only of the
 * first record; 0 if there is none yet. at_eof: nothing follows p, so the
 * input's last record may lack its line end. *lines gets the number of
 * lines in that prefix. */
size_t km_csv_split(const char *p, size_t len, char delim, int at_eof, int first_only,
                    uint64_t *lines);

/* The delimiter detection of km_csv_open, on a sample of the input. */
char km_csv_detect_delim(const char *p, size_t n);
void km_csv_close(km_csv *c);

/* Next record: 1 and the fields (valid until the next call), 0 at end of
 * input, or a negative code. Blank lines are returned as one empty field. */
int km_csv_next(km_csv *c, km_csv_field **fields, size_t *nfields);

uint64_t km_csv_line(const km_csv *c);  /* first line of the last record */
uint64_t km_csv_bytes(const km_csv *c); /* input bytes consumed so far */
char km_csv_delim(const km_csv *c);     /* after the first km_csv_next */
const char *km_csv_name(const km_csv *c);

/* Writing. A text field (category, class or column name) in double quotes
 * when it holds a comma, a double quote, a CR or an LF, quotes inside
 * doubled (RFC 4180), or when it is empty: in kmill's CSV output a missing
 * value is the bare empty field, so an empty string written bare would be
 * read as missing; "" keeps the two apart for readers that tell quoted
 * from unquoted fields (PostgreSQL's COPY CSV, whose NULL is the bare
 * empty field, and others). Numbers are never quoted. */
#define KM_CSV_QUOTED_MAX(n) (2 * (size_t)(n) + 2)
/* The field s[0..n) into dst (KM_CSV_QUOTED_MAX(n) bytes at least, not
 * NUL-terminated); returns the bytes written. */
size_t km_csv_quote(char *dst, const char *s, size_t n);
/* The same, appended to b (kmill/bytes.h; it records running out of
 * memory). */
struct km_buf;
void km_csv_put_field(struct km_buf *b, const char *s, size_t n);

#endif
