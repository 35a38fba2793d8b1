/* cmd_cat.c - `kmill cat`: a dataset back to CSV on standard output. */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/export.h"
#include "kmill/io.h"
#include "kmill/kmx.h"

const char cat_usage[] =
    "Usage: kmill cat [OPTIONS] FILE.kmx\n"
    "Print a dataset as CSV on standard output: numbers in the shortest form that\n"
    "reads back as the same float32, categories as their strings, missing values\n"
    "as empty fields. A CSV file is refused: convert it first (kmill convert).\n"
    "\n"
    "      --head N           only the first N rows\n"
    "      --rows A:B         rows A to B-1, counted from 0 (either end may be left out)\n"
    "      --sample N         N rows drawn uniformly without replacement (from the\n"
    "                         --rows range if given), printed in file order\n"
    "      --seed S           seed of --sample (default 1)\n"
    "      --columns LIST     these columns, in this order (names or 1-based numbers)\n"
    "      --no-header        leave out the header line\n"
    "      --io MODE          auto (default), uring or pread\n"
    "  -q, --quiet  -v, --verbose  --threads N  -h, --help\n";

enum { O_HEAD = OPT_CMD_BASE, O_ROWS, O_SAMPLE, O_SEED, O_COLUMNS, O_NOHEADER, O_IO };

static const struct option longopts[] = {
    {"head", required_argument, NULL, O_HEAD},
    {"rows", required_argument, NULL, O_ROWS},
    {"sample", required_argument, NULL, O_SAMPLE},
    {"seed", required_argument, NULL, O_SEED},
    {"columns", required_argument, NULL, O_COLUMNS},
    {"no-header", no_argument, NULL, O_NOHEADER},
    {"io", required_argument, NULL, O_IO},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    km_export_opts o;
    int io, have_head, have_rows;
};

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    uint64_t v;
    switch (opt) {
    case O_HEAD:
        if (cli_parse_u64(arg, &v))
            return cli_usage_error(s->cmd, ctx, "invalid --head '%s' (a row count)", arg);
        s->o.to = v;
        s->have_head = 1;
        break;
    case O_ROWS: {
        const char *colon = strchr(arg, ':');
        char a[32] = "", b[32] = "";
        if (!colon || (size_t)(colon - arg) >= sizeof a || strlen(colon + 1) >= sizeof b)
            return cli_usage_error(s->cmd, ctx, "invalid --rows '%s' (A:B, e.g. 100:200 or 5000:)", arg);
        memcpy(a, arg, (size_t)(colon - arg));
        strcpy(b, colon + 1);
        s->o.from = 0;
        s->o.to = UINT64_MAX;
        if ((*a && cli_parse_u64(a, &s->o.from)) || (*b && cli_parse_u64(b, &s->o.to)) || s->o.to < s->o.from)
            return cli_usage_error(s->cmd, ctx, "invalid --rows '%s' (A:B with A <= B)", arg);
        s->have_rows = 1;
        break;
    }
    case O_SAMPLE:
        if (cli_parse_u64(arg, &s->o.nsample))
            return cli_usage_error(s->cmd, ctx, "invalid --sample '%s' (a row count)", arg);
        s->o.sample = 1;
        break;
    case O_SEED:
        if (cli_parse_u64(arg, &s->o.seed))
            return cli_usage_error(s->cmd, ctx, "invalid --seed '%s' (a non-negative integer)", arg);
        break;
    case O_COLUMNS:
        s->o.columns = arg;
        break;
    case O_NOHEADER:
        s->o.no_header = 1;
        break;
    case O_IO:
        return cli_io_arg(s->cmd, ctx, arg, &s->io) ? EXIT_USAGE : -1;
    }
    return -1;
}

int cmd_cat(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    s.o.to = UINT64_MAX;
    s.o.seed = 1;
    s.io = cli_io_default();
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (s.have_head && s.have_rows)
        return cli_usage_error(cmd, ctx, "--head and --rows cannot be combined");
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one dataset file");
    km_kmx *d;
    int rc = cli_regular_file(ctx, argv[first], "dataset");
    if (!rc)
        rc = cli_not_dataset(ctx, argv[first]);
    if (!rc)
        rc = km_kmx_open(ctx, argv[first], s.io, &d);
    if (rc)
        return cli_fail(ctx, rc);
    km_pool *pool = NULL;
    if ((rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err))) {
        km_kmx_close(d);
        return cli_fail(ctx, rc);
    }
    s.o.pool = pool;
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    rc = km_export_csv(ctx, d, stdout, &s.o);
    km_pool_destroy(pool);
    km_kmx_close(d);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
