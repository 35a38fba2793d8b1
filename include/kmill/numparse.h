/* numparse.h - decimal text <-> float32 for the CSV importer and exporter.
 *
 * km_parse_f32 reads one CSV field as a float32, correctly rounded (round
 * half to even: bit for bit what glibc strtof returns for the same text in
 * the C locale), without needing a NUL terminator and without the locale,
 * "inf"/"nan" and hex forms strtof would let in. km_format_f32 writes the
 * fewest significant digits that read back as the identical float32.
 *
 * Grammar of km_parse_f32 (ASCII; nothing else is accepted):
 *
 *     field    = blanks [sign] mantissa [exponent] blanks
 *     blanks   = { " " | TAB }
 *     sign     = "+" | "-"
 *     mantissa = digits ["." {digit}] | "." digits
 *     exponent = ("e" | "E") [sign] digits
 *     digits   = digit {digit}
 *
 * So "5", "-0", " 2.5e-3\t", ".5", "5." are numbers; "", ".", "1e", "1,5",
 * "1 2", "+-1", "inf", "nan", "0x1p3" and any text with an embedded NUL are
 * not. A value whose magnitude rounds to infinity (above FLT_MAX plus half
 * an ulp, e.g. "3.5e38") is refused too: kmill cannot use infinite
 * features. Values that underflow become subnormals or zero as in strtof.
 *
 * Why the common case is fast yet exact: the significant digits (leading
 * zeros and trailing zeros of the fraction do not count) are gathered into
 * an integer w <= 10^19 - 1 and a power of ten e, value = w * 10^e.
 *  (a) w <= 2^24 and |e| <= 10: w and 10^|e| are exact floats (10^10 =
 *      2^10 * 5^10 and 5^10 < 2^24), so one float multiply or divide gives
 *      the correctly rounded result (IEEE operations round exactly once).
 *  (b) w <= 2^53 and |e| <= 22: the same argument in double (Clinger's fast
 *      path) gives d = w * 10^e correctly rounded to double. Rounding d to
 *      float is then correct unless d sits exactly on a midpoint between
 *      two floats (the true value may lie slightly to one side of it and
 *      the tie would be broken the wrong way: double rounding); that case
 *      is detected from d's low mantissa bits and handed to (c).
 *  (c) everything else (more than 19 significant digits, large exponents,
 *      midpoints, results outside the float normal range) goes to
 *      strtof_l with a "C" locale on a NUL-terminated copy.
 * Integer pixels ("0".."255") and 7-digit decimals ("-0.1234567") all take
 * path (a). The fast paths assume round-to-nearest, the IEEE default that
 * kmill never changes, and evaluation in the operands' own precision
 * (FLT_EVAL_METHOD == 0, as on x86-64 and AArch64; elsewhere every number
 * takes path (c)). */
#ifndef KMILL_NUMPARSE_H
#define KMILL_NUMPARSE_H

#include <stddef.h>

#include "kmill/error.h"

/* An opaque context owning a "C" locale_t for the slow path, so parsing
 * never depends on (or changes) the process or thread locale. Immutable
 * after creation: one context may be shared by any number of threads. */
typedef struct km_numparse km_numparse;

/* Create a context into *np: 0, or KM_ENOMEM (*np is then NULL). */
int km_numparse_init(km_numparse **np);

/* Free a context; NULL is allowed. */
void km_numparse_free(km_numparse *np);

/* Parse the bytes s[0..len) (not NUL-terminated; nothing at or past s[len]
 * is read) as described above and store the float in *out. Returns 0, -1
 * if the text is not a number or overflows float32 (*out untouched), or
 * KM_ENOMEM in the one case that allocates: a number longer than 127 bytes
 * (after trimming blanks) that is not on a fast path. errno is preserved.
 * The -1 carries no message and is numerically KM_EINVAL (a usage error):
 * callers report bad data themselves, as KM_EPARSE with file, line and
 * field. */
int km_parse_f32(const km_numparse *np, const char *s, size_t len, float *out);

/* A parser for the commonest field, a plain decimal: [-] digits ["."
 * {digit}] or [-] "." digits, nothing else (no blanks, "+" or exponent).
 * It returns 1 with the float in *out when the text is of that form with
 * at most 10 digits after the point and an integer value w of all its
 * digits <= 2^24 (path (a) above, so *out is what km_parse_f32 gives), and
 * 0 otherwise, *out untouched: then ask km_parse_f32, which decides. A
 * version may also refuse some of these (the SSE4.1 one takes at most 16
 * bytes after the sign). Unlike km_parse_f32 it may read up to 32 bytes
 * past the field's end (s + len): the caller guarantees they are readable
 * (the CSV importer's records are followed by 64 bytes of padding or more
 * text). km_numparse_plain returns the fastest version for this CPU
 * (SSE4.1 shuffles and multiply-adds where available, chosen once when
 * the context is made), to be called directly per field. */
typedef int (*km_plain_fn)(const char *s, size_t len, float *out);
km_plain_fn km_numparse_plain(const km_numparse *np);

/* Bytes a km_format_f32 buffer must hold (outputs are at most 15 bytes,
 * e.g. "-0.000123456789", plus the NUL). */
#define KM_F32_BUFSZ 32

/* Write v as the shortest decimal text (fewest significant digits, then
 * printf %g layout with the exponent's "+" and leading zeros dropped:
 * "0.1", "1.5e-7", "3.4028235e38") that km_parse_f32 and strtof read back
 * as exactly v, NUL-terminated, into buf (at least KM_F32_BUFSZ bytes);
 * returns the length. Integers below 2^24 in magnitude are written in full
 * without point or exponent ("255", "-3", "1000000"), -0.0 as "-0".
 * Infinities give "inf"/"-inf" (which km_parse_f32 refuses). NaN is the
 * caller's business: it writes "" and returns 0. */
int km_format_f32(float v, char *buf);

#endif
