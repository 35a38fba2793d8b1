/* crc32c.h - CRC-32C (Castagnoli), the checksum of kmill's file blocks.
 *
 * The polynomial is the reflected 0x82F63B78 used by iSCSI, ext4 and btrfs,
 * with the usual pre- and post-inversion: km_crc32c(0, "123456789", 9) is
 * 0xE3069283. It was chosen over CRC-32 (zlib) because x86 has had an
 * instruction for it since SSE4.2, so checking every block costs little
 * next to reading it.
 *
 * The crc argument chains: pass 0 to start, and the previous result to
 * continue, so km_crc32c(km_crc32c(0, a, n), b, m) is the CRC of a then b.
 * Both functions are thread-safe and need no set-up call. */
#ifndef KMILL_CRC32C_H
#define KMILL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* CRC-32C of buf[0..len) continuing from crc. Uses the SSE4.2 instruction
 * when the CPU has it (decided at run time), a table otherwise. */
uint32_t km_crc32c(uint32_t crc, const void *buf, size_t len);

/* The same function computed with the portable table (slicing-by-8) only;
 * exposed so the tests can check the hardware path against it. */
uint32_t km_crc32c_sw(uint32_t crc, const void *buf, size_t len);

#endif
