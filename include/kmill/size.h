/* size.h - byte sizes as users write them ("4G", "512MiB", "25%") and the
 * default memory budget. */
#ifndef KMILL_SIZE_H
#define KMILL_SIZE_H

#include <stddef.h>
#include <stdint.h>

#include "kmill/error.h"

/* Parse a size: a non-negative decimal number (fractions allowed) with an
 * optional binary unit K, M, G, T, P (optionally followed by "B" or "iB",
 * any case), a plain "B", or "%" meaning a percentage of physical memory.
 * A bare number is bytes. Returns 0, or KM_EINVAL with a message naming
 * the text. */
int km_parse_size(const char *s, uint64_t *out, km_err *e);

/* Physical memory available to this process: the smaller of installed RAM
 * and a cgroup v2 memory.max limit, in bytes (0 if unknown). */
uint64_t km_physical_mem(void);

/* The budget used when neither --mem nor KMILL_MEM is given: half of
 * km_physical_mem(), or 1 GiB when that is unknown. */
uint64_t km_default_mem(void);

/* Human-readable size ("1.5 GiB", "312 B") into buf; returns buf. */
char *km_format_size(uint64_t bytes, char *buf, size_t len);

#endif
