/* cmd_convert.c - `kmill convert`: CSV to a .kmx dataset. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "kmill/convert.h"
#include "kmill/kmx.h"
#include "kmill/log.h"
#include "kmill/progress.h"
#include "kmill/size.h"

const char convert_usage[] =
    "Usage: kmill convert [OPTIONS] [FILE.csv|-] -o OUT.kmx\n"
    "Convert CSV (a file, or standard input when FILE is '-' or absent) into a\n"
    "chunked, compressed, checksummed kmill dataset.\n"
    "\n"
    "  -o, --output FILE       the dataset to write (required; replaced atomically)\n"
    "  -d C                    the same as --delimiter C\n"
    CLI_COLUMN_USAGE
    "      --chunk-rows N      rows per chunk (default: about 4 MiB of data)\n"
    "      --level N           zstd level: 1 (default) to 19, or -7 to -1 for speed\n"
    "      --shuffle MODE      byte-shuffle filter: auto (default, chosen per chunk), on, off\n"
    "      --threads N         threads for parsing and compression (default: all CPUs)\n"
    "  -q, --quiet  -v, --verbose  --progress  --no-progress  --mem SIZE  -h, --help\n"
    "\n"
    "COLS is a comma-separated list of column names or 1-based numbers and ranges\n"
    "(e.g. id,3,5-9). See kmill-convert(1) and kmill-dataset(5).\n";

enum { O_CHUNKROWS = OPT_CMD_BASE, O_LEVEL, O_SHUFFLE };

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    CLI_COLUMN_LONGOPTS,
    {"chunk-rows", required_argument, NULL, O_CHUNKROWS},
    {"level", required_argument, NULL, O_LEVEL},
    {"shuffle", required_argument, NULL, O_SHUFFLE},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    km_convert_opts o;
};

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    km_convert_opts *o = &s->o;
    long n;
    int rc;
    switch (opt) {
    case 'o':
        o->output = arg;
        break;
    case 'd':
        return cli_column_opt(s->cmd, ctx, OPT_COL_DELIM, arg, o, NULL);
    case O_CHUNKROWS:
        if ((rc = cli_int_arg(s->cmd, ctx, "--chunk-rows", arg, 1, 1 << 26, &n)))
            return rc;
        o->chunk_rows = (uint32_t)n;
        break;
    case O_LEVEL:
        if ((rc = cli_int_arg(s->cmd, ctx, "--level", arg, -7, 19, &n)))
            return rc;
        if (n == 0)
            return cli_usage_error(s->cmd, ctx, "invalid --level '0' (1 to 19, or -7 to -1 for speed)");
        o->level = (int)n;
        break;
    case O_SHUFFLE:
        if (strcmp(arg, "auto") == 0) o->shuffle = KMX_SHUFFLE_AUTO;
        else if (strcmp(arg, "on") == 0) o->shuffle = KMX_SHUFFLE_ON;
        else if (strcmp(arg, "off") == 0) o->shuffle = KMX_SHUFFLE_OFF;
        else return cli_usage_error(s->cmd, ctx, "invalid --shuffle '%s' (auto, on or off)", arg);
        break;
    default:
        if ((rc = cli_column_opt(s->cmd, ctx, opt, arg, o, NULL)) != -3)
            return rc;
        return cli_usage_error(s->cmd, ctx, "unhandled option");
    }
    return -1;
}

int cmd_convert(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s = {cmd, {0}};
    s.o.level = 1;
    s.o.shuffle = KMX_SHUFFLE_AUTO;
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "o:d:", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first > 1)
        return cli_usage_error(cmd, ctx, "expected one input file, got %d", argc - first);
    s.o.input = first < argc ? argv[first] : "-";
    if (!s.o.output)
        return cli_usage_error(cmd, ctx, "no output file (-o OUT.kmx)");
    if (strcmp(s.o.output, "-") == 0)
        return cli_usage_error(cmd, ctx, "-o -: a dataset cannot be written to standard output "
                               "(its index is written last); give a file name");
    if (strcmp(s.o.input, "-") == 0 && isatty(STDIN_FILENO))
        return cli_usage_error(cmd, ctx, "no input: give a CSV file, or pipe CSV into standard input");
    const cli_file input = {NULL, s.o.input}, output = {"-o", s.o.output};
    int rc = cli_check_outputs(ctx, &input, 1, &output, 1);
    if (rc)
        return cli_fail(ctx, rc);

    km_pool *pool = NULL;
    rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err);
    if (rc)
        return cli_fail(ctx, rc);
    s.o.pool = pool;
    km_convert_result r;
    double t0 = km_now();
    rc = km_convert(ctx, &s.o, &r);
    double dt = km_now() - t0;
    km_pool_destroy(pool);
    if (rc)
        return cli_fail(ctx, rc);
    if (r.bad_values)
        km_verbose(ctx, "%llu values that are not numbers read as missing",
                   (unsigned long long)r.bad_values);
    if (r.blank_lines)
        km_warn(ctx, "skipped %llu blank lines", (unsigned long long)r.blank_lines);
    if (r.ragged_rows)
        km_warn(ctx, "%s %llu rows with a wrong number of fields",
                s.o.ragged == KM_RAGGED_SKIP ? "skipped" : "padded", (unsigned long long)r.ragged_rows);
    char in[32], out[32];
    km_format_size(r.bytes_in, in, sizeof in);
    km_format_size(r.bytes_out, out, sizeof out);
    km_info(ctx, "%s: %llu rows, %u columns (%u categorical), %s of CSV -> %s in %.2f s (%.0f MB/s)",
            s.o.output, (unsigned long long)r.rows, r.ncols, r.ncategorical, in, out, dt,
            dt > 0 ? r.bytes_in / dt / 1e6 : 0.0);
    return EXIT_OK;
}
