/* cmd_gen.c - `kmill gen`: a synthetic dataset of any size (kmill/gen.h). */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/gen.h"
#include "kmill/log.h"
#include "kmill/progress.h"
#include "kmill/size.h"

const char gen_usage[] =
    "Usage: kmill gen PRESET [OPTIONS] [-o OUT.csv|OUT.kmx|-]\n"
    "Write a synthetic dataset: columns x0..x{D-1} and label. The same seed gives\n"
    "the same rows, and a shorter run is the start of a longer one. PRESET:\n"
    "  lowrank   x ~ N(0, I), label x0 * x1 * [x5 > 0] (classify: label > 0)\n"
    "  subspace  x ~ N(0, I), label a random polynomial of degree P of U^T x for a\n"
    "            random D x K matrix U with orthonormal columns (classify: above\n"
    "            its median)\n"
    "  mixture   K Gaussian classes of unit spread, their means S apart\n"
    "\n"
    "  -n, --rows N          rows (default 1000)\n"
    "  -d, --cols D          columns of x (default 10; lowrank needs 6 or more)\n"
    "      --noise S         regression: add S * N(0,1) to the label; classification:\n"
    "                        replace the class by another with probability S (default 0)\n"
    "      --seed S          the seed (default 1)\n"
    "      --task T          classify or regress (default: regress, mixture classify)\n"
    "  -o, --output FILE     a .kmx dataset when FILE ends in .kmx, else CSV (replaced\n"
    "                        atomically); '-' or none: CSV on standard output\n"
    "      --truth FILE      also write the hidden structure as text (kmill-gen(1))\n"
    "      --intrinsic K     subspace: the dimension of U (default 3)\n"
    "      --degree P        subspace: the polynomial's degree (default 2)\n"
    "      --classes K       mixture: classes (default 2; at most D)\n"
    "      --separation S    mixture: distance between class means (default 3)\n"
    "      --level N         zstd level of a dataset: 1 (default) to 19, -7 to -1\n"
    "      --chunk-rows N    rows per dataset chunk (default: about 4 MiB of data)\n"
    "  -q, --quiet  -v, --verbose  --threads N  --progress  --no-progress  -h, --help\n";

enum { O_NOISE = OPT_CMD_BASE, O_SEED, O_TASK, O_TRUTH, O_INTRINSIC, O_DEGREE, O_CLASSES,
       O_SEPARATION, O_LEVEL, O_CHUNKROWS };

static const struct option longopts[] = {
    {"rows", required_argument, NULL, 'n'},
    {"cols", required_argument, NULL, 'd'},
    {"output", required_argument, NULL, 'o'},
    {"noise", required_argument, NULL, O_NOISE},
    {"seed", required_argument, NULL, O_SEED},
    {"task", required_argument, NULL, O_TASK},
    {"truth", required_argument, NULL, O_TRUTH},
    {"intrinsic", required_argument, NULL, O_INTRINSIC},
    {"degree", required_argument, NULL, O_DEGREE},
    {"classes", required_argument, NULL, O_CLASSES},
    {"separation", required_argument, NULL, O_SEPARATION},
    {"level", required_argument, NULL, O_LEVEL},
    {"chunk-rows", required_argument, NULL, O_CHUNKROWS},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    km_gen_opts o;
};

static int u64_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                   uint64_t *v)
{
    if (cli_parse_u64(arg, v))
        return cli_usage_error(cmd, ctx, "invalid %s '%s' (a non-negative integer)", opt, arg);
    return 0;
}

/* The options that are numbers: -1 to go on, or the exit status. */
static int number_opt(struct st *s, km_ctx *ctx, int opt, const char *arg)
{
    km_gen_opts *o = &s->o;
    long n = 0;
    int rc = 0;
    switch (opt) {
    case 'n':
        rc = u64_arg(s->cmd, ctx, "-n", arg, &o->rows);
        break;
    case 'd':
        rc = cli_int_arg(s->cmd, ctx, "-d", arg, 1, KM_GEN_MAX_COLS, &n);
        o->cols = (uint32_t)n;
        break;
    case O_NOISE:
        if (!(rc = cli_double_arg(s->cmd, ctx, "--noise", arg, &o->noise)) && o->noise < 0)
            rc = cli_usage_error(s->cmd, ctx, "invalid --noise '%s' (expected 0 or more)", arg);
        break;
    case O_SEED:
        rc = u64_arg(s->cmd, ctx, "--seed", arg, &o->seed);
        break;
    case O_INTRINSIC:
        rc = cli_int_arg(s->cmd, ctx, "--intrinsic", arg, 1, KM_GEN_MAX_INTRINSIC, &n);
        o->intrinsic = (uint32_t)n;
        break;
    case O_DEGREE:
        rc = cli_int_arg(s->cmd, ctx, "--degree", arg, 1, KM_GEN_MAX_DEGREE, &n);
        o->degree = (uint32_t)n;
        break;
    case O_CLASSES:
        rc = cli_int_arg(s->cmd, ctx, "--classes", arg, 2, KM_GEN_MAX_CLASSES, &n);
        o->classes = (uint32_t)n;
        break;
    case O_SEPARATION:
        if (!(rc = cli_double_arg(s->cmd, ctx, "--separation", arg, &o->separation)) &&
            o->separation < 0)
            rc = cli_usage_error(s->cmd, ctx, "invalid --separation '%s' (expected 0 or more)", arg);
        break;
    case O_LEVEL:
        if (!(rc = cli_int_arg(s->cmd, ctx, "--level", arg, -7, 19, &n)) && n == 0)
            rc = cli_usage_error(s->cmd, ctx, "invalid --level '0' (1 to 19, or -7 to -1 for speed)");
        o->level = (int)n;
        break;
    case O_CHUNKROWS:
        rc = cli_int_arg(s->cmd, ctx, "--chunk-rows", arg, 1, 1 << 26, &n);
        o->chunk_rows = (uint32_t)n;
        break;
    default:
        return cli_usage_error(s->cmd, ctx, "unhandled option");
    }
    return rc ? rc : -1;
}

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    switch (opt) {
    case 'o':
        s->o.output = arg;
        return -1;
    case O_TRUTH:
        s->o.truth = arg;
        return -1;
    case O_TASK:
        if (strcmp(arg, "classify") == 0)
            s->o.task = KM_GEN_CLASSIFY;
        else if (strcmp(arg, "regress") == 0)
            s->o.task = KM_GEN_REGRESS;
        else
            return cli_usage_error(s->cmd, ctx, "invalid --task '%s' (classify or regress)", arg);
        return -1;
    default:
        return number_opt(s, ctx, opt, arg);
    }
}

static int preset_arg(const cli_cmd *cmd, km_ctx *ctx, int argc, char **argv, int first,
                      int *preset)
{
    if (argc == first)
        return cli_usage_error(cmd, ctx, "no preset (lowrank, subspace or mixture)");
    if (argc - first > 1)
        return cli_usage_error(cmd, ctx, "expected one preset, got %d", argc - first);
    *preset = km_gen_preset(argv[first]);
    if (*preset >= 0)
        return 0;
    const char *near = km_gen_near_preset(argv[first]);
    if (near)
        return cli_usage_error(cmd, ctx, "unknown preset '%s'; did you mean '%s'?", argv[first], near);
    return cli_usage_error(cmd, ctx, "unknown preset '%s' (lowrank, subspace or mixture)",
                           argv[first]);
}

int cmd_gen(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s = {cmd, {0}};
    s.o.rows = 1000;
    s.o.seed = 1;
    s.o.task = KM_GEN_TASK_DEFAULT;
    s.o.separation = -1;
    s.o.level = 1;
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "n:d:o:", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if ((st = preset_arg(cmd, ctx, argc, argv, first, &s.o.preset)))
        return st;
    if (km_gen_check(&s.o, &ctx->err))
        return cli_usage_error(cmd, ctx, "%s", ctx->err.msg);
    const cli_file out[2] = {{"-o", s.o.output}, {"--truth", s.o.truth}};
    int rc = cli_check_outputs(ctx, NULL, 0, out, 2);
    km_pool *pool = NULL;
    if (!rc)
        rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err);
    if (rc)
        return cli_fail(ctx, rc);
    s.o.pool = pool;
    s.o.stream = stdout;
    static char obuf[1 << 20];
    setvbuf(stdout, obuf, _IOFBF, sizeof obuf);
    km_gen_result r;
    double t0 = km_now();
    rc = km_gen_run(ctx, &s.o, &r);
    double dt = km_now() - t0;
    km_pool_destroy(pool);
    if (rc)
        return cli_fail(ctx, rc);
    if (s.o.output && strcmp(s.o.output, "-") != 0) {
        char size[32];
        km_format_size(r.bytes, size, sizeof size);
        km_info(ctx, "%s: %llu rows, %u columns (x0..x%u, label: %s), %s in %.2f s "
                "(%.0f rows/s, %.0f MB/s)", s.o.output, (unsigned long long)r.rows, r.ncols,
                r.ncols - 2, r.task == KM_GEN_CLASSIFY ? "classes" : "numbers", size, dt,
                dt > 0 ? r.rows / dt : 0.0, dt > 0 ? r.bytes / dt / 1e6 : 0.0);
    }
    return EXIT_OK;
}
