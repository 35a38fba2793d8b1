/* ctx.c - context defaults (see include/kmill/ctx.h). */
#include "config.h"
#include <string.h>
#include <unistd.h>

#include "kmill/ctx.h"
#include "kmill/size.h"

void km_ctx_init(km_ctx *ctx, const char *prog)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->verbosity = KM_NORMAL;
    ctx->progress = KM_PROGRESS_AUTO;
    ctx->prog = prog;
    ctx->log = stderr;
    ctx->mem_budget = km_default_mem();
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    ctx->threads = n > 0 ? (int)n : 1;
}

int km_check_interrupt(km_ctx *ctx)
{
    if (ctx->interrupted && *ctx->interrupted) {
        km_seterr(&ctx->err, KM_EINTR, "interrupted");
        return 1;
    }
    return 0;
}
