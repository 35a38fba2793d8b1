/* cmd_train.c - `kmill train`: options to km_train_opts, the dataset (or CSV
 * converted on the fly), the model file and its provenance, the summary. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kmill/io.h"
#include "kmill/krr.h"
#include "kmill/log.h"
#include "kmill/outfile.h"
#include "kmill/size.h"

const char train_usage[] =
    "Usage: kmill train [OPTIONS] DATA -o MODEL\n"
    "Train a kernel machine (kernel ridge regression or classification) on DATA:\n"
    "a .kmx dataset, or CSV (a file, or - for standard input) converted on the fly.\n"
    "\n"
    "  -o, --output MODEL     model file to write (.kmm)\n"
    "      --label COL        label column (default: label, target, class or y)\n"
    "      --task T           auto (default), classify or regress\n"
    "      --scale S          standard (default), minmax or none\n"
    "      --kernel K         laplace (default) or gaussian\n"
    "      --bandwidth L      kernel bandwidth, > 0 (default 10)\n"
    "      --reg LAMBDA       ridge, >= 0 (default 1e-3)\n"
    "      --solver S         auto (default), direct or pcg\n"
    "      --precond P        nystrom (default) or none\n"
    "      --rank R           Nystrom landmarks (default 1000)\n"
    "      --tol T            PCG relative residual per output (default 1e-4)\n"
    "      --max-iter N       PCG iterations at most (default 1000)\n"
    "      --store S          kernel tiles beyond --mem: auto (default), spill, recompute\n"
    "      --tmpdir DIR       spill files and converted CSV (default $TMPDIR or /tmp)\n"
    "      --seed S           seed of the landmark sample (default 1)\n"
    "      --io MODE          auto (default), uring or pread\n"
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  --progress  --no-progress\n"
    "  -h, --help\n";

enum {
    O_LABEL = OPT_CMD_BASE, O_TASK, O_SCALE, O_KERNEL, O_BANDWIDTH, O_REG, O_SOLVER, O_PRECOND,
    O_RANK, O_TOL, O_MAXITER, O_STORE, O_TMPDIR, O_SEED, O_IO
};

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"label", required_argument, NULL, O_LABEL},
    {"task", required_argument, NULL, O_TASK},
    {"scale", required_argument, NULL, O_SCALE},
    {"kernel", required_argument, NULL, O_KERNEL},
    {"bandwidth", required_argument, NULL, O_BANDWIDTH},
    {"reg", required_argument, NULL, O_REG},
    {"solver", required_argument, NULL, O_SOLVER},
    {"precond", required_argument, NULL, O_PRECOND},
    {"rank", required_argument, NULL, O_RANK},
    {"tol", required_argument, NULL, O_TOL},
    {"max-iter", required_argument, NULL, O_MAXITER},
    {"store", required_argument, NULL, O_STORE},
    {"tmpdir", required_argument, NULL, O_TMPDIR},
    {"seed", required_argument, NULL, O_SEED},
    {"io", required_argument, NULL, O_IO},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    const char *output;
    km_train_opts o;
    int io;
};

/* The index of arg in the NULL-terminated names, or a usage error. */
static int choice(struct st *s, km_ctx *ctx, const char *opt, const char *arg,
                  const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return -1;
        }
    return cli_usage_error(s->cmd, ctx, "invalid %s '%s'", opt, arg);
}

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    static const char *const tasks[] = {"auto", "classify", "regress", NULL};
    static const char *const scales[] = {"standard", "minmax", "none", NULL};
    static const char *const kernels[] = {"laplace", "gaussian", NULL};
    static const char *const solvers[] = {"auto", "direct", "pcg", NULL};
    static const char *const preconds[] = {"nystrom", "none", NULL};
    static const char *const stores[] = {"auto", "spill", "recompute", NULL};
    long v;
    double x;
    switch (opt) {
    case 'o': s->output = arg; break;
    case O_LABEL: s->o.feat.label = arg; break;
    case O_TASK: return choice(s, ctx, "--task", arg, tasks, &s->o.feat.task);
    case O_SCALE: return choice(s, ctx, "--scale", arg, scales, &s->o.feat.scale);
    case O_KERNEL: return choice(s, ctx, "--kernel", arg, kernels, &s->o.kernel.type);
    case O_SOLVER: return choice(s, ctx, "--solver", arg, solvers, &s->o.solver);
    case O_PRECOND: return choice(s, ctx, "--precond", arg, preconds, &s->o.precond);
    case O_STORE: return choice(s, ctx, "--store", arg, stores, &s->o.store);
    case O_BANDWIDTH:
        if (cli_double_arg(s->cmd, ctx, "--bandwidth", arg, &x))
            return EXIT_USAGE;
        if (!(x > 0) || isinf(x))
            return cli_usage_error(s->cmd, ctx, "--bandwidth must be a positive number, not '%s'", arg);
        s->o.kernel.bandwidth = x;
        break;
    case O_REG:
        if (cli_double_arg(s->cmd, ctx, "--reg", arg, &x))
            return EXIT_USAGE;
        if (!(x >= 0) || isinf(x))
            return cli_usage_error(s->cmd, ctx, "--reg must be a non-negative number, not '%s'", arg);
        s->o.reg = x;
        break;
    case O_TOL:
        if (cli_double_arg(s->cmd, ctx, "--tol", arg, &x))
            return EXIT_USAGE;
        if (!(x > 0 && x < 1))
            return cli_usage_error(s->cmd, ctx, "--tol must be between 0 and 1, not '%s'", arg);
        s->o.tol = x;
        break;
    case O_RANK:
        if (cli_int_arg(s->cmd, ctx, "--rank", arg, 1, 100000, &v))
            return EXIT_USAGE;
        s->o.rank = (size_t)v;
        break;
    case O_MAXITER:
        if (cli_int_arg(s->cmd, ctx, "--max-iter", arg, 1, 1000000000, &v))
            return EXIT_USAGE;
        s->o.max_iter = (int)v;
        break;
    case O_SEED:
        if (cli_int_arg(s->cmd, ctx, "--seed", arg, 0, 2147483647, &v))
            return EXIT_USAGE;
        s->o.seed = (uint64_t)v;
        break;
    case O_TMPDIR: s->o.tmpdir = arg; break;
    case O_IO: return cli_io_arg(s->cmd, ctx, arg, &s->io) ? EXIT_USAGE : -1;
    }
    return -1;
}

static char *join_args(int argc, char **argv)
{
    size_t len = 8;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "kmill");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

static char *now_iso(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}

int cmd_train(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    km_train_defaults(&s.o);
    s.io = cli_io_default();
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "o:", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one DATA argument (a .kmx or CSV file, or -)");
    if (!s.output)
        return cli_usage_error(cmd, ctx, "no model file given (-o MODEL)");
    s.o.tmpdir = km_tmpdir(s.o.tmpdir);
    km_blas_threads(ctx->threads);
    km_pool *pool = NULL;
    int rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err);
    if (rc)
        return cli_fail(ctx, rc);
    km_kmx *d = NULL;
    km_model m;
    memset(&m, 0, sizeof m);
    km_train_result r;
    if ((rc = cli_open_data(ctx, argv[first], s.io, s.o.tmpdir, pool, &d)))
        goto out;
    if ((rc = km_train(ctx, pool, d, &s.o, &m, &r)))
        goto out;
    m.version = strdup(PACKAGE_VERSION);
    m.command = join_args(argc, argv);
    m.created = now_iso();
    m.data_path = strdup(strcmp(argv[first], "-") ? argv[first] : "(standard input)");
    if ((rc = km_model_save(ctx, &m, s.output)))
        goto out;
    char b1[32], b2[32];
    const char *kname = m.kernel.type == KM_KERNEL_LAPLACE ? "laplace" : "gaussian";
    if (m.feat.task == KM_TASK_CLASSIFY)
        km_info(ctx, "n=%llu d=%u classes=%u kernel=%s L=%g reg=%g solver=%s iters=%d "
                "residual=%.2g time=%.1fs train-accuracy=%.4f",
                (unsigned long long)m.n, m.d, m.c, kname, m.kernel.bandwidth, m.reg, m.solver,
                r.iters, r.rel_residual, r.seconds, r.train_metric);
    else
        km_info(ctx, "n=%llu d=%u kernel=%s L=%g reg=%g solver=%s iters=%d residual=%.2g "
                "time=%.1fs train-rmse=%.6g",
                (unsigned long long)m.n, m.d, kname, m.kernel.bandwidth, m.reg, m.solver, r.iters,
                r.rel_residual, r.seconds, r.train_metric);
    if (r.tiles.tiles)
        km_verbose(ctx, "kernel tiles: %llu in RAM (%s), %llu spilled (%s)%s, built in %.1fs",
                   (unsigned long long)r.tiles.in_ram,
                   km_format_size(r.tiles.bytes_ram, b1, sizeof b1),
                   (unsigned long long)r.tiles.spilled,
                   km_format_size(r.tiles.bytes_spilled, b2, sizeof b2),
                   r.tiles.recompute ? ", recomputed on use" : "", r.tiles.build_seconds);
    if (r.unseen)
        km_warn(ctx, "%llu categorical values unseen in training",
                (unsigned long long)r.unseen);
out:
    km_model_free(&m);
    if (d)
        km_kmx_close(d);
    km_pool_destroy(pool);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
