/* log.h - diagnostics on the context's log stream (stderr).
 *
 * Every line is prefixed with ctx->prog ("kmill convert: ..."); lines at a
 * level above ctx->verbosity are dropped. Warnings print unless -q. */
#ifndef KMILL_LOG_H
#define KMILL_LOG_H

#include "kmill/ctx.h"

void km_log(km_ctx *ctx, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void km_warn(km_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define km_info(ctx, ...) km_log((ctx), KM_NORMAL, __VA_ARGS__)
#define km_verbose(ctx, ...) km_log((ctx), KM_VERBOSE, __VA_ARGS__)
#define km_debug(ctx, ...) km_log((ctx), KM_DEBUG, __VA_ARGS__)

#endif
