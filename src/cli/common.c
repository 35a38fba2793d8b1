/* common.c - option parsing and error reporting shared by the subcommands
 * (see cli.h). */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/io.h"
#include "kmill/size.h"

static const struct option common_longopts[] = {
    {"help", no_argument, NULL, 'h'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"mem", required_argument, NULL, OPT_MEM},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
};
#define N_COMMON (sizeof common_longopts / sizeof common_longopts[0])

int cli_usage_error(const cli_cmd *cmd, km_ctx *ctx, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", ctx->prog, buf);
    if (cmd)
        fprintf(stderr, "Try 'kmill %s --help' for more information.\n", cmd->name);
    else
        fprintf(stderr, "Try 'kmill --help' for more information.\n");
    return EXIT_USAGE;
}

int cli_fail(km_ctx *ctx, int rc)
{
    if (rc == KM_EPIPE)
        return EXIT_OK;
    const char *msg = ctx->err.msg[0] ? ctx->err.msg : km_strerror(rc);
    fprintf(stderr, "%s: %s\n", ctx->prog, msg);
    if (rc == KM_EINTR)
        return EXIT_INTR;
    return rc == KM_EINVAL ? EXIT_USAGE : EXIT_ERR;
}

int cli_int_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi)
        return cli_usage_error(cmd, ctx, "invalid %s '%s' (expected an integer from %ld to %ld)",
                               opt, arg, lo, hi);
    *out = v;
    return 0;
}

int cli_double_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                   double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || v != v)
        return cli_usage_error(cmd, ctx, "invalid %s '%s' (expected a number)", opt, arg);
    *out = v;
    return 0;
}

static int common_option(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg)
{
    long n;
    int rc;
    switch (opt) {
    case 'h':
        fputs(cmd->usage, stdout);
        return EXIT_OK;
    case 'q':
        ctx->verbosity = KM_QUIET;
        return -1;
    case 'v':
        if (ctx->verbosity < KM_DEBUG)
            ctx->verbosity = ctx->verbosity < KM_NORMAL ? KM_VERBOSE : ctx->verbosity + 1;
        return -1;
    case OPT_MEM:
        if (km_parse_size(arg, &ctx->mem_budget, &ctx->err) < 0)
            return cli_usage_error(cmd, ctx, "--mem: %s", ctx->err.msg);
        if (ctx->mem_budget < ((uint64_t)16 << 20))
            return cli_usage_error(cmd, ctx, "--mem %s is below the minimum of 16M", arg);
        return -1;
    case OPT_THREADS:
        if ((rc = cli_int_arg(cmd, ctx, "--threads", arg, 1, 1024, &n)))
            return rc;
        ctx->threads = (int)n;
        return -1;
    case OPT_PROGRESS:
        ctx->progress = KM_PROGRESS_ON;
        return -1;
    case OPT_NO_PROGRESS:
        ctx->progress = KM_PROGRESS_OFF;
        return -1;
    }
    return -2; /* not a common option */
}

int cli_parse(const cli_cmd *cmd, km_ctx *ctx, int argc, char **argv,
              const char *shortopts, const struct option *longopts,
              cli_opt_fn handle, void *state, int *first_arg)
{
    size_t nown = 0;
    while (longopts && longopts[nown].name)
        nown++;
    struct option *all = calloc(nown + N_COMMON + 1, sizeof *all);
    char shorts[128];
    if (!all) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        return EXIT_ERR;
    }
    if (nown)
        memcpy(all, longopts, nown * sizeof *all);
    memcpy(all + nown, common_longopts, sizeof common_longopts);
    /* leading ':' : report missing arguments as ':' so we can word the error */
    snprintf(shorts, sizeof shorts, ":hqv%s", shortopts ? shortopts : "");

    int status = -1;
    optind = 1;
    opterr = 0;
    for (;;) {
        int lidx = -1;
        int opt = getopt_long(argc, argv, shorts, all, &lidx);
        if (opt == -1)
            break;
        if (opt == '?') {
            if (optopt)
                status = cli_usage_error(cmd, ctx, "unknown option '-%c'", optopt);
            else
                status = cli_usage_error(cmd, ctx, "unknown option '%s'", argv[optind - 1]);
            break;
        }
        if (opt == ':') {
            status = cli_usage_error(cmd, ctx, "option '%s' needs a value", argv[optind - 1]);
            break;
        }
        int rc = common_option(cmd, ctx, opt, optarg);
        if (rc == -2)
            rc = handle ? handle(state, ctx, opt, optarg) : -1;
        if (rc >= 0) {
            status = rc;
            break;
        }
    }
    free(all);
    *first_arg = optind;
    return status;
}

const cli_cmd *cli_find(const char *name)
{
    for (const cli_cmd *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int cli_io_arg(const cli_cmd *cmd, km_ctx *ctx, const char *arg, int *kind)
{
    if (strcmp(arg, "auto") == 0)
        *kind = KM_IO_AUTO;
    else if (strcmp(arg, "uring") == 0 || strcmp(arg, "io_uring") == 0)
        *kind = KM_IO_URING;
    else if (strcmp(arg, "pread") == 0)
        *kind = KM_IO_PREAD;
    else
        return cli_usage_error(cmd, ctx, "invalid --io '%s' (auto, uring or pread)", arg);
    return 0;
}

int cli_io_default(void)
{
    const char *e = getenv("KMILL_IO");
    if (e && strcmp(e, "pread") == 0)
        return KM_IO_PREAD;
    if (e && (strcmp(e, "uring") == 0 || strcmp(e, "io_uring") == 0))
        return KM_IO_URING;
    return KM_IO_AUTO;
}

void cli_json_str(const char *s, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            printf("\\n");
        else if (c == '\t')
            printf("\\t");
        else if (c == '\r')
            printf("\\r");
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

void cli_json_num(double v)
{
    if (isfinite(v))
        printf("%.9g", v);
    else
        printf("null");
}
