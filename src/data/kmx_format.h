/* kmx_format.h - byte layout of the .kmx file shared by its writer and
 * reader (private to src/data). Multi-byte fields are little-endian; the
 * put/get helpers spell that out instead of relying on the host order. */
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

/* Byte shuffle of n 4-byte values: all first bytes, then all second bytes... */
void kmx_shuffle(unsigned char *dst, const unsigned char *src, size_t n);
void kmx_unshuffle(unsigned char *dst, const unsigned char *src, size_t n);

#endif
