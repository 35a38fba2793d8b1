/* kmx_format.h - byte layout of the .kmx file shared by its writer and
 * reader (private to src/data). Multi-byte fields are little-endian; the
 * put/get helpers spell that out instead of relying on the host order.
 *
 * Errors in kmx_write.c and kmx_read.c follow the library's convention (0
 * or a negative KM_E* code, the message set in the ctx where the error
 * arises) except, on purpose: the pool jobs compress_chunk and decode_job
 * and their helper decode_region run on workers, so they keep a code and
 * a message in their slot or buffer for the caller's thread to set in
 * ctx; ensure returns KM_ENOMEM without a message for the same reason;
 * zc (a size, with an error flag), narrow (the filter chosen) and
 * narrow_u8 / narrow_i16 (whether a value does not fit) return results,
 * not errors; km_kmx_scan_next returns 1 while rows come, like
 * km_csv_next, km_kmx_version returns the major version and km_kmx_probe
 * is a predicate. */
#ifndef KMILL_KMX_FORMAT_H
#define KMILL_KMX_FORMAT_H

#include <stdint.h>
#include <string.h>

#include "kmill/bytes.h"

/* Headers go through put/get below, but chunk payloads are the host's
 * float32 bytes as they are: correct on little-endian hosts only. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .kmx writer and reader need a little-endian host (payloads are not byte-swapped)"
#endif

/* For the loops over every value of a chunk, in the writer and the reader:
 * vectorised (-O3, restrict pointers) and built for AVX-512, AVX2 and the
 * baseline, chosen at run time. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define KMX_HOT __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3")))
#else
#define KMX_HOT
#endif

#define KMX_SIGNATURE "\x89KMX\r\n\x1a\n"
#define KMX_END_MAGIC "KMXEND\r\n"
#define KMX_ALIGN 4096u
#define KMX_HEADER_SIZE 64u
#define KMX_CHUNK_HEADER_SIZE 48u
#define KMX_CHUNK_TAG 0x43584D4Bu /* "KMXC" */
#define KMX_META_TAG 0x4D584D4Bu  /* "KMXM" */
#define KMX_FOOTER_SIZE 64u
#define KMX_INDEX_ENTRY_SIZE 40u
#define KMX_CHUNK_STAT_SIZE 32u   /* per column per chunk */
#define KMX_DTYPE_F32 1u
#define KMX_KNOWN_REQUIRED 0u     /* no required feature bits in 1.0 */
#define KMX_MAX_CHUNK_RAW (256u << 20)
/* The default chunk (km_kmx_default_chunk_rows): about KMX_CHUNK_BYTES of
 * values, but at least KMX_MIN_CHUNK_ROWS rows, so that the statistics
 * block beside it (KMX_CHUNK_STAT_SIZE bytes a column, 8 times a row's
 * values) stays at most an eighth of its values: with one-row chunks a
 * 5-row CSV of a million columns became 216 MiB. Only rows of more than
 * KMX_CHUNK_BYTES / KMX_MIN_CHUNK_ROWS / 4 = 16384 columns reach the
 * minimum. */
#define KMX_CHUNK_BYTES (4u << 20)
#define KMX_MIN_CHUNK_ROWS 64u
#define KMX_MAGIC_LEN 8u          /* KMX_SIGNATURE and KMX_END_MAGIC */
#define KMX_MAX_LEVELS (1u << 24) /* categories in a column: every code an exact float32 */

/* Field offsets within each fixed-size record, as in formats/kmx.md's
 * tables; a CRC field covers the bytes before it (0 .. offset - 1). */
enum kmx_header_field {       /* the file header, KMX_HEADER_SIZE bytes */
    KMX_HDR_SIGNATURE = 0,    /* KMX_SIGNATURE */
    KMX_HDR_MAJOR = 8,        /* u16, KMX_MAJOR */
    KMX_HDR_MINOR = 10,       /* u16, KMX_MINOR */
    KMX_HDR_SIZE = 12,        /* u32, KMX_HEADER_SIZE */
    KMX_HDR_REQUIRED = 16,    /* u32, required feature bits */
    KMX_HDR_OPTIONAL = 20,    /* u32, optional feature bits */
    KMX_HDR_NCOLS = 24,       /* u32 */
    KMX_HDR_ROWS_PER_CHUNK = 28, /* u32 */
    KMX_HDR_ALIGN = 32,       /* u32, KMX_ALIGN */
    KMX_HDR_DTYPE = 36,       /* u8, KMX_DTYPE_F32; 37..59 reserved */
    KMX_HDR_CRC = 60          /* u32, CRC-32C of bytes 0..59 */
};

enum kmx_chunk_field {        /* a chunk header, KMX_CHUNK_HEADER_SIZE bytes */
    KMX_CHDR_TAG = 0,         /* u32, KMX_CHUNK_TAG */
    KMX_CHDR_NROWS = 4,       /* u32 */
    KMX_CHDR_FIRST_ROW = 8,   /* u64 */
    KMX_CHDR_RAW_LEN = 16,    /* u32, decoded bytes */
    KMX_CHDR_COMP_LEN = 20,   /* u32, payload bytes */
    KMX_CHDR_PAYLOAD_CRC = 24,/* u32 */
    KMX_CHDR_STATS_CRC = 28,  /* u32 */
    KMX_CHDR_FILTER = 32,     /* u8, KMX_FILTER_*; 33..43 reserved */
    KMX_CHDR_CRC = 44         /* u32, CRC-32C of bytes 0..43 */
};

enum kmx_stat_field {         /* one column's chunk statistics, KMX_CHUNK_STAT_SIZE bytes */
    KMX_STAT_MIN = 0,         /* f32 */
    KMX_STAT_MAX = 4,         /* f32 */
    KMX_STAT_SUM = 8,         /* f64 */
    KMX_STAT_SUMSQ = 16,      /* f64 */
    KMX_STAT_MISSING = 24,    /* u32 */
    KMX_STAT_RESERVED = 28    /* u32, zero */
};

enum kmx_index_field {        /* an index entry, KMX_INDEX_ENTRY_SIZE bytes */
    KMX_IX_OFFSET = 0,        /* u64, the chunk header's file offset */
    KMX_IX_FIRST_ROW = 8,     /* u64 */
    KMX_IX_NROWS = 16,        /* u32 */
    KMX_IX_RAW_LEN = 20,      /* u32 */
    KMX_IX_COMP_LEN = 24,     /* u32 */
    KMX_IX_PAYLOAD_CRC = 28,  /* u32 */
    KMX_IX_STATS_CRC = 32,    /* u32 */
    KMX_IX_FILTER = 36        /* u8; 37..39 reserved */
};

enum kmx_footer_field {       /* the footer, the file's last KMX_FOOTER_SIZE bytes */
    KMX_FTR_META_OFF = 0,     /* u64 */
    KMX_FTR_META_LEN = 8,     /* u64 */
    KMX_FTR_IX_OFF = 16,      /* u64, meta_off + meta_len */
    KMX_FTR_NCHUNKS = 24,     /* u64 */
    KMX_FTR_NROWS = 32,       /* u64 */
    KMX_FTR_META_CRC = 40,    /* u32 */
    KMX_FTR_IX_CRC = 44,      /* u32 */
    KMX_FTR_RESERVED = 48,    /* u32, zero */
    KMX_FTR_CRC = 52,         /* u32, CRC-32C of bytes 0..51 */
    KMX_FTR_END_MAGIC = 56    /* KMX_END_MAGIC */
};

/* Byte shuffle of n 4-byte values: all first bytes, then all second bytes... */
void kmx_shuffle(unsigned char *dst, const unsigned char *src, size_t n);
void kmx_unshuffle(unsigned char *dst, const unsigned char *src, size_t n);
/* Only values from .. from + count - 1 of the n (dst and src as above). */
void kmx_unshuffle_range(unsigned char *dst, const unsigned char *src, size_t n, size_t from,
                         size_t count);

#endif
