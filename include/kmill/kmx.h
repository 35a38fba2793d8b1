/* kmx.h - the kmill dataset file (.kmx): writer, reader, scans, sampling.
 *
 * Layout and rules are specified in formats/kmx.md. In short: a 4 KiB
 * header block, then independent zstd-compressed chunks of float32 rows
 * (row-major), each at a 4 KiB boundary with its own header, CRC-32C and
 * per-chunk column statistics, then the schema, dictionaries, whole-file
 * statistics and the chunk index, and a fixed 64-byte footer. Written in
 * one pass (a pipe is fine); read in any order. */
#ifndef KMILL_KMX_H
#define KMILL_KMX_H

#include <stdint.h>

#include "kmill/ctx.h"
#include "kmill/pool.h"
#include "kmill/schema.h"

#define KMX_MAJOR 1
#define KMX_MINOR 0

enum { KMX_SHUFFLE_OFF = 0, KMX_SHUFFLE_ON = 1, KMX_SHUFFLE_AUTO = 2 };
/* How a chunk's floats are stored before compression: as they are, byte-
 * shuffled, or narrowed to unsigned 8-bit / signed 16-bit integers (used
 * only when exact: every value an integer in range, none missing, no -0). */
enum { KMX_FILTER_NONE = 0, KMX_FILTER_SHUFFLE = 1, KMX_FILTER_U8 = 2, KMX_FILTER_I16 = 3 };

/* Where the data came from (recorded for provenance and staleness checks). */
typedef struct km_kmx_source {
    const char *name;    /* file name, or "-" */
    uint64_t size;       /* 0 for a pipe */
    int64_t mtime;       /* seconds; 0 for a pipe */
    uint32_t head_crc;   /* CRC-32C of the first MiB of input */
} km_kmx_source;

/* ---- writing ---------------------------------------------------------- */

typedef struct km_kmx_wopts {
    int level;               /* zstd level */
    int shuffle;             /* KMX_SHUFFLE_* */
    uint32_t rows_per_chunk;
    km_pool *pool;           /* compresses chunks; NULL: in the caller */
} km_kmx_wopts;

typedef struct km_kmx_writer km_kmx_writer;

/* The rows per chunk a writer uses when rows_per_chunk is 0: about 4 MiB
 * of values, at least 64 rows (so the per-chunk statistics, 32 bytes a
 * column, are at most an eighth of the values), at most 256 MiB of values. */
uint32_t km_kmx_default_chunk_rows(uint64_t ncols);
int km_kmx_create(km_ctx *ctx, const char *path, uint32_t ncols, const km_kmx_wopts *o,
                  km_kmx_writer **out);
/* The buffer to fill with up to rows_per_chunk rows of ncols floats. */
float *km_kmx_buffer(km_kmx_writer *w);
/* Hand over the filled buffer (nrows rows); km_kmx_buffer then gives a new one. */
int km_kmx_put(km_kmx_writer *w, uint32_t nrows);
/* Write every chunk, the metadata and the footer; rename into place.
 * The schema's stats are filled in from the chunks. Call km_kmx_abort
 * afterwards in every case: after a successful finish it only frees. */
int km_kmx_finish(km_kmx_writer *w, km_schema *schema, const km_kmx_source *src);
/* The same, but leave the complete file under its temporary name (in the
 * output's directory), returned in *tmp_path for the caller to read and
 * unlink: for a second pass that rewrites it. */
int km_kmx_finish_temp(km_kmx_writer *w, km_schema *schema, const km_kmx_source *src,
                       char **tmp_path);
/* Remove the partial output (if not committed) and free the writer. */
void km_kmx_abort(km_kmx_writer *w);
uint32_t km_kmx_chunk_rows(const km_kmx_writer *w);
uint64_t km_kmx_written(const km_kmx_writer *w); /* bytes so far */

/* ---- reading ---------------------------------------------------------- */

typedef struct km_kmx_chunk {
    uint64_t offset, first_row;
    uint32_t nrows, raw_len, comp_len, crc, stats_crc;
    uint8_t filter;
} km_kmx_chunk;

typedef struct km_kmx km_kmx;

/* 1 when path names a regular file starting with the .kmx signature (so
 * a front end can tell a dataset from CSV), else 0. */
int km_kmx_probe(const char *path);

/* io_kind: KM_IO_AUTO, KM_IO_URING or KM_IO_PREAD (kmill/io.h). */
int km_kmx_open(km_ctx *ctx, const char *path, int io_kind, km_kmx **out);
void km_kmx_close(km_kmx *d);
const km_schema *km_kmx_schema(const km_kmx *d);
/* The name messages give the dataset: its path, or what km_kmx_set_name
 * set (before any read: a dataset converted into a temporary file is
 * named as the user's input, never as kmill's own file). */
const char *km_kmx_path(const km_kmx *d);
int km_kmx_set_name(km_kmx *d, const char *name);
uint64_t km_kmx_rows(const km_kmx *d);
uint64_t km_kmx_nchunks(const km_kmx *d);
const km_kmx_chunk *km_kmx_chunk_info(const km_kmx *d, uint64_t k);
uint64_t km_kmx_file_size(const km_kmx *d);
uint32_t km_kmx_rows_per_chunk(const km_kmx *d);
const km_kmx_source *km_kmx_source_info(const km_kmx *d);
const char *km_kmx_io_name(const km_kmx *d);
int km_kmx_version(const km_kmx *d, int *minor);

/* Read, verify and decode chunk k into out (nrows * ncols floats). Every
 * value of a categorical column is checked to be NaN or a code of its
 * dictionary (so are those of a scan). */
int km_kmx_read_chunk(km_kmx *d, uint64_t k, float *out);
/* The same without that check: for convert's own intermediate file, whose
 * columns that turned categorical late still hold their numbers. */
int km_kmx_read_chunk_raw(km_kmx *d, uint64_t k, float *out);

/* Ordered scan over chunks (all of them when list is NULL): reads run ahead
 * through the I/O backend, and decompression runs ahead as a pool job whose
 * items the pool takes between the caller's own (pool.h: jobs queue in
 * order, and a waiter helps with any). */
typedef struct km_kmx_scan km_kmx_scan;
int km_kmx_scan_open(km_kmx *d, km_pool *pool, const uint64_t *list, uint64_t n,
                     km_kmx_scan **out);
/* 1 and a block of rows (valid until the next call), 0 at the end, or <0. */
int km_kmx_scan_next(km_kmx_scan *s, const float **rows, uint32_t *nrows, uint64_t *first_row);
void km_kmx_scan_close(km_kmx_scan *s);
/* A whole ordered scan: fn(arg, rows, nrows, first_row) for every chunk
 * in turn; 0 at the end, fn's non-zero value, or the scan's error. */
typedef int (*km_kmx_rows_fn)(void *arg, const float *rows, uint32_t nrows, uint64_t first_row);
int km_kmx_each(km_kmx *d, km_pool *pool, km_kmx_rows_fn fn, void *arg);
/* The same over the chunks list[0..n) (as km_kmx_scan_open takes them). */
int km_kmx_each_of(km_kmx *d, km_pool *pool, const uint64_t *list, uint64_t n, km_kmx_rows_fn fn,
                   void *arg);
/* Between km_kmx_hold and its km_kmx_release, a closed scan's buffers are
 * kept for the next scan of d (a solver's passes), one scan's worth (as
 * km_kmx_scan_estimate counts it) held all the while; otherwise a scan
 * frees them at its close. Holds nest. */
void km_kmx_hold(km_kmx *d);
void km_kmx_release(km_kmx *d);
/* Bytes a scan of d holds with `tasks` decoding tasks (the pool's workers
 * plus the caller), for the memory planner (kmill/plan.h). */
uint64_t km_kmx_scan_estimate(const km_kmx *d, int tasks);

/* What info reports of a dataset beside its schema: the format version,
 * the categorical columns, the chunks' bytes (decoded and compressed, and
 * their ratio) and how many chunks each filter stores (KMX filter codes
 * 0..3: plain, shuffled, u8, i16). */
typedef struct km_kmx_summary {
    int major, minor;
    uint32_t categorical;
    uint64_t raw_bytes, comp_bytes;
    double ratio;
    uint64_t filters[4];
} km_kmx_summary;
void km_kmx_summarize(const km_kmx *d, km_kmx_summary *s);

/* n distinct row numbers drawn uniformly (seeded), sorted ascending. */
int km_kmx_sample(km_kmx *d, uint64_t n, uint64_t seed, uint64_t *rows);

#endif
