/* cmd_train.c - `kmill train`: options to km_train_opts, the dataset (or CSV
 * converted on the fly), the model file and its provenance, the summary. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <time.h>

#include "cli.h"
#include "kmill/io.h"
#include "kmill/train.h"
#include "kmill/blas.h"
#include "kmill/log.h"
#include "kmill/outfile.h"
#include "kmill/progress.h"
#include "kmill/size.h"

const char train_usage[] =
    "Usage: kmill train [OPTIONS] DATA -o MODEL\n"
    "Train a kernel machine (kernel ridge regression or classification) on DATA:\n"
    "a .kmx dataset, or CSV (a file, or - for standard input) converted on the fly.\n"
    "\n"
    "  -o, --output MODEL     model file to write (.kmm)\n"
    CLI_FEAT_USAGE
    CLI_KERNEL_USAGE
    "      --bandwidth L[,L..] kernel bandwidth, > 0 (default 10); a list is a grid;\n"
    "                         without it a search tries 10 and 0.5, 1, 2, 4 times\n"
    "                         the median distance between rows (laplace, gaussian)\n"
    CLI_DOT_USAGE
    "      --reg R[,R..]      ridge, >= 0 (default 1e-3); a list is a grid (values > 0)\n"
    "      --rfm              Recursive Feature Machine: learn a feature matrix M\n"
    "      --iters T          RFM iterations after the plain kernel (default 5)\n"
    "      --diag             diagonal M\n"
    "      --agop-samples N   rows the AGOP averages over (default 20000)\n"
    "      --center-grads     centre the gradients before the AGOP\n"
    "      --val-frac F       share held out for validation, 0 < F < 1 (default 0.1\n"
    "                         with --rfm or a grid, else none)\n"
    "      --val FILE         validation data (.kmx or CSV) instead of a split\n"
    "      --cv K             K-fold cross-validation (2 to 100 folds) instead of a\n"
    "                         hold-out; the choice is refitted on all rows\n"
    "      --refit            re-solve on training + validation rows with the choice\n"
    "                         (the default after a search)\n"
    "      --no-refit         keep the model of the training rows alone\n"
    "      --log FILE         each step of the search as TSV\n"
    "      --solver S         auto (default), direct, pcg or nystrom (centres, the\n"
    "                         rows streamed: data of any size)\n"
    "      --centers M        Nystrom centres (default 2 sqrt(rows), 1000 to 10000)\n"
    "      --nystrom-mode W   auto (default: the cheaper), cg (a pass an iteration)\n"
    "                         or gram (one pass, then a dense solve)\n"
    "      --passes N         Nystrom conjugate gradient iterations at most (20)\n"
    "      --early-stop N     stop them once N in a row have not raised the training\n"
    "                         figure on the sampled rows (default 2; 0: never)\n"
    "      --precond P        nystrom (default) or none\n"
    "      --rank R           Nystrom landmarks (default 1000)\n"
    "      --tol T            PCG relative residual per output (default 1e-4)\n"
    "      --max-iter N       PCG iterations at most (default 1000)\n"
    "      --store S          kernel tiles beyond --mem: auto (default), spill, recompute\n"
    "      --tmpdir DIR       spill files and converted CSV (default $TMPDIR or /tmp)\n"
    "      --seed S           seed of the landmarks, the validation split and the AGOP\n"
    "                         sample (default 1)\n"
    "      --io MODE          auto (default), uring or pread\n"
    "Reading CSV input (the model keeps these for predict and eval; --drop applies\n"
    "to a .kmx DATA too):\n"
    CLI_COLUMN_USAGE
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  --progress  --no-progress\n"
    "  -h, --help\n";

enum {
    O_REG = OPT_CMD_BASE, O_SOLVER, O_PRECOND,
    O_RANK, O_TOL, O_MAXITER, O_STORE, O_TMPDIR, O_SEED, O_IO, O_RFM, O_ITERS, O_DIAG,
    O_AGOP_SAMPLES, O_CENTER, O_VAL_FRAC, O_VAL, O_REFIT, O_LOG, O_CV, O_NO_REFIT, O_CENTERS,
    O_NYMODE, O_PASSES, O_EARLY
};

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    CLI_FEAT_LONGOPTS,
    CLI_KERNEL_LONGOPTS,
    {"reg", required_argument, NULL, O_REG},
    {"solver", required_argument, NULL, O_SOLVER},
    {"centers", required_argument, NULL, O_CENTERS},
    {"nystrom-mode", required_argument, NULL, O_NYMODE},
    {"passes", required_argument, NULL, O_PASSES},
    {"early-stop", required_argument, NULL, O_EARLY},
    {"precond", required_argument, NULL, O_PRECOND},
    {"rank", required_argument, NULL, O_RANK},
    {"tol", required_argument, NULL, O_TOL},
    {"max-iter", required_argument, NULL, O_MAXITER},
    {"store", required_argument, NULL, O_STORE},
    {"tmpdir", required_argument, NULL, O_TMPDIR},
    {"seed", required_argument, NULL, O_SEED},
    {"io", required_argument, NULL, O_IO},
    {"rfm", no_argument, NULL, O_RFM},
    {"iters", required_argument, NULL, O_ITERS},
    {"diag", no_argument, NULL, O_DIAG},
    {"agop-samples", required_argument, NULL, O_AGOP_SAMPLES},
    {"center-grads", no_argument, NULL, O_CENTER},
    {"val-frac", required_argument, NULL, O_VAL_FRAC},
    {"val", required_argument, NULL, O_VAL},
    {"refit", no_argument, NULL, O_REFIT},
    {"no-refit", no_argument, NULL, O_NO_REFIT},
    {"cv", required_argument, NULL, O_CV},
    {"log", required_argument, NULL, O_LOG},
    CLI_COLUMN_LONGOPTS,
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    const char *output, *val, *log;
    km_train_opts o;
    int io;
    cli_kernel_args ka; /* --kernel, --bandwidth (the grid), --depth, ... */
    double reg[CLI_LIST_MAX];
    km_outfile logf;   /* --log, written through a temporary file */
    int log_open;
    int log_rc;        /* the first error writing it, with log_err its message */
    km_err log_err;
    int log_header; /* written */
    unsigned rfm_only; /* options that need --rfm were given */
    int refit_given;   /* --refit (1) or --no-refit (2) was given */
    km_convert_opts cols; /* how CSV input is read (columns.c) */
    unsigned cols_given;
};

/* --centers, --passes, --early-stop: the Nystrom solver's counts. */
static int nystrom_arg(struct st *s, km_ctx *ctx, int opt, const char *arg)
{
    long v;
    if (opt == O_CENTERS) {
        if (cli_int_arg(s->cmd, ctx, "--centers", arg, 1, 1000000, &v))
            return EXIT_USAGE;
        s->o.centers = (size_t)v;
    } else if (opt == O_PASSES) {
        if (cli_int_arg(s->cmd, ctx, "--passes", arg, 1, 10000, &v))
            return EXIT_USAGE;
        s->o.nystrom_iters = (int)v;
    } else {
        if (cli_int_arg(s->cmd, ctx, "--early-stop", arg, 0, 10000, &v))
            return EXIT_USAGE;
        s->o.nystrom_patience = (int)v;
    }
    return -1;
}

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    static const char *const solvers[] = {"auto", "direct", "pcg", "nystrom", NULL};
    static const char *const nymodes[] = {"auto", "cg", "gram", NULL};
    static const char *const preconds[] = {"nystrom", "none", NULL};
    static const char *const stores[] = {"auto", "spill", "recompute", NULL};
    long v;
    double x;
    switch (opt) {
    case 'o': s->output = arg; break;
    case O_SOLVER:
        return cli_choice(s->cmd, ctx, "--solver", arg, solvers, &s->o.search.solve.solver);
    case O_NYMODE:
        return cli_choice(s->cmd, ctx, "--nystrom-mode", arg, nymodes, &s->o.nystrom_mode);
    case O_CENTERS:
    case O_PASSES:
    case O_EARLY: return nystrom_arg(s, ctx, opt, arg);
    case O_PRECOND:
        return cli_choice(s->cmd, ctx, "--precond", arg, preconds, &s->o.search.solve.precond);
    case O_STORE:
        return cli_choice(s->cmd, ctx, "--store", arg, stores, &s->o.search.solve.store);
    case O_REG: {
        int r = cli_num_list(s->cmd, ctx, "--reg", arg, 1, s->reg, &s->o.search.nregs);
        s->o.search.solve.reg = s->reg[0];
        return r;
    }
    case O_RFM: s->o.search.rfm = 1; break;
    case O_DIAG:
        s->o.search.rfm_diag = 1;
        s->rfm_only = 1;
        break;
    case O_CENTER:
        s->o.search.center_grads = 1;
        s->rfm_only = 1;
        break;
    case O_REFIT:
    case O_NO_REFIT:
        if (s->refit_given && s->refit_given != (opt == O_REFIT ? 1 : 2))
            return cli_usage_error(s->cmd, ctx, "--refit and --no-refit exclude each other");
        s->o.refit = opt == O_REFIT;
        s->refit_given = opt == O_REFIT ? 1 : 2;
        break;
    case O_CV:
        if (cli_int_arg(s->cmd, ctx, "--cv", arg, 2, 100, &v))
            return EXIT_USAGE;
        s->o.cv = (int)v;
        break;
    case O_VAL: s->val = arg; break;
    case O_LOG: s->log = arg; break;
    case O_ITERS:
        if (cli_int_arg(s->cmd, ctx, "--iters", arg, 0, 10000, &v))
            return EXIT_USAGE;
        s->o.search.rfm_iters = (int)v;
        s->rfm_only = 1;
        break;
    case O_AGOP_SAMPLES:
        if (cli_int_arg(s->cmd, ctx, "--agop-samples", arg, 1, 2147483647, &v))
            return EXIT_USAGE;
        s->o.search.agop_samples = (size_t)v;
        s->rfm_only = 1;
        break;
    case O_VAL_FRAC:
        if (cli_double_arg(s->cmd, ctx, "--val-frac", arg, &x))
            return EXIT_USAGE;
        if (!(x > 0 && x < 1))
            return cli_usage_error(s->cmd, ctx, "--val-frac must be between 0 and 1, not '%s'", arg);
        s->o.val_frac = x;
        break;
    case O_TOL:
        if (cli_double_arg(s->cmd, ctx, "--tol", arg, &x))
            return EXIT_USAGE;
        if (!(x > 0 && x < 1))
            return cli_usage_error(s->cmd, ctx, "--tol must be between 0 and 1, not '%s'", arg);
        s->o.search.solve.tol = x;
        break;
    case O_RANK:
        if (cli_int_arg(s->cmd, ctx, "--rank", arg, 1, 100000, &v))
            return EXIT_USAGE;
        s->o.search.solve.rank = (size_t)v;
        break;
    case O_MAXITER:
        if (cli_int_arg(s->cmd, ctx, "--max-iter", arg, 1, 1000000000, &v))
            return EXIT_USAGE;
        s->o.search.solve.max_iter = (int)v;
        break;
    case O_SEED:
        if (cli_int_arg(s->cmd, ctx, "--seed", arg, 0, 2147483647, &v))
            return EXIT_USAGE;
        s->o.search.solve.seed = (uint64_t)v;
        break;
    case O_TMPDIR: s->o.search.solve.tmpdir = arg; break;
    case O_IO: return cli_io_arg(s->cmd, ctx, arg, &s->io) ? EXIT_USAGE : -1;
    default: {
        int rc = cli_data_opt(s->cmd, ctx, opt, arg, &s->o.feat, &s->ka, &s->cols,
                              &s->cols_given);
        return rc == -3 ? -1 : rc;
    }
    }
    return -1;
}

/* DATA and --val opened (CSV converted as the column options say); for a
 * .kmx DATA, --drop leaves columns out of the features instead, and the
 * other column options have nothing to do. cr: see cli_open_data. */
static int open_inputs(struct st *s, km_ctx *ctx, const char *data, km_pool *pool,
                       km_convert_result *cr, km_kmx **d, km_kmx **vd)
{
    const char *tmpdir = s->o.search.solve.tmpdir;
    int rc = cli_open_data(ctx, data, s->io, tmpdir, pool, &s->cols, cr, d);
    if (!rc && s->val)
        rc = cli_open_data(ctx, s->val, s->io, tmpdir, pool, &s->cols, NULL, vd);
    if (!rc)
        cli_data_columns(ctx, data, cr, &s->cols, s->cols_given, &s->o.feat);
    return rc;
}

/* --log: one TSV line per step, written as it comes, so the temporary
 * file can be followed; renamed to its name when training succeeds. A
 * write error is kept for the end (training goes on). */
static void log_step(void *arg, const km_select_step *p)
{
    struct st *s = arg;
    static const char *const hdr =
        "bandwidth\treg\titeration\tval_%s\ttrain_%s\tsolve_seconds\tagop_seconds\tcg_iterations"
        "%s\n";
    if (!s->log_open || s->log_rc)
        return;
    int rc = 0;
    if (!s->log_header++)
        rc = km_outfile_printf(&s->logf, hdr, p->classify ? "accuracy" : "mse",
                               p->classify ? "accuracy" : "rmse", s->o.cv ? "\tfold" : "");
    char fold[16] = ""; /* with --cv, the fold the step belongs to */
    if (s->o.cv)
        snprintf(fold, sizeof fold, "\t%d", p->fold);
    char bw[32] = ""; /* empty for a dot-product kernel, which has none */
    if (km_kernel_radial(&s->o.search.solve.kernel))
        snprintf(bw, sizeof bw, "%.17g", p->bandwidth);
    if (!rc)
        rc = km_outfile_printf(&s->logf, "%s\t%.17g\t%d\t%.9g\t%.9g\t%.3f\t%.3f\t%d%s\n", bw,
                               p->reg, p->iter, p->val_metric, p->train_metric, p->solve_seconds,
                               p->agop_seconds, p->pcg_iters, fold);
    if (rc) {
        s->log_rc = rc;
        s->log_err = s->logf.ctx->err;
    }
}

/* How the model was made: kmill's version, the command, when, from which
 * data, and how its CSV was read (cr: see cli_open_data). */
static int provenance(const struct st *s, km_ctx *ctx, int argc, char **argv, const char *data,
                      const km_convert_result *cr, const km_kmx *d, km_model *m)
{
    m->version = strdup(PACKAGE_VERSION);
    m->command = cli_join_args(argc, argv);
    m->created = cli_now_iso();
    m->data_path = strdup(strcmp(data, "-") ? data : "(standard input)");
    if (!m->version || !m->command || !m->created || !m->data_path)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    return cr->forced ? cli_model_read(ctx, &s->cols, cr, d, &m->read) : 0;
}

/* The outputs: files, and none of them an input or the other output.
 * -1 to go on, or the exit status. */
static int check_files(const struct st *s, km_ctx *ctx, const char *data)
{
    if (strcmp(s->output, "-") == 0)
        return cli_usage_error(s->cmd, ctx, "-o -: a model cannot be written to standard output; "
                               "give a file name");
    if (s->log && strcmp(s->log, "-") == 0)
        return cli_usage_error(s->cmd, ctx, "--log -: the log cannot be written to standard "
                               "output; give a file name");
    const cli_file in[] = {{NULL, data}, {"--val", s->val}};
    const cli_file out[] = {{"-o", s->output}, {"--log", s->log}};
    int rc = cli_check_outputs(ctx, in, 2, out, 2);
    return rc ? cli_fail(ctx, rc) : -1;
}

/* The kernel as the summary's fields. */
static void kernel_fields(const km_kernel *k, char *buf, size_t n)
{
    if (km_kernel_radial(k))
        snprintf(buf, n, "kernel=%s L=%g", km_kernel_name(k->type), k->bandwidth);
    else
        snprintf(buf, n, "kernel=%s depth=%d sw2=%g sb2=%g", km_kernel_name(k->type), k->depth,
                 k->sw2, k->sb2);
}

/* The summary line; seconds: the whole run, conversion included. After a
 * search it adds the validation (or cross-validated) figure: an
 * interpolating kernel machine's training figure says little. */
static void summary(km_ctx *ctx, const km_model *m, const km_train_result *r, double seconds,
                    const km_krr_opts *so)
{
    if (km_krr_unsolved(so, &r->solve)) /* (a search kept it: nothing solved) */
        km_warn(ctx, "the model's solve did not converge (relative residual %.2g): its "
                "predictions are unreliable", r->solve.rel_residual);
    char kname[96]; /* kernel=laplace L=10, or kernel=ntk depth=3 sw2=2 sb2=0.1 */
    kernel_fields(&m->kernel, kname, sizeof kname);
    int classify = m->feat.task == KM_TASK_CLASSIFY;
    char val[112] = "";
    if (!isnan(r->val_metric)) /* MSE for regression: its root, as train-rmse */
        snprintf(val, sizeof val, classify ? " %s-accuracy=%.4f" : " %s-rmse=%.6g",
                 r->folds ? "cv" : "val", classify ? r->val_metric : sqrt(r->val_metric));
    char nys[64] = ""; /* a Nystrom model: n counts its centres */
    if (r->centres)
        snprintf(nys, sizeof nys, " rows=%llu passes=%d", (unsigned long long)m->nys_rows,
                 r->passes);
    strncat(val, nys, sizeof val - strlen(val) - 1);
    if (classify)
        km_info(ctx, "n=%llu d=%u classes=%u %s reg=%g solver=%s iters=%d "
                "residual=%.2g time=%.1fs train-accuracy=%.4f%s",
                (unsigned long long)m->n, m->d, m->c, kname, m->reg,
                m->solver, r->solve.iters, r->solve.rel_residual, seconds, r->train_metric, val);
    else
        km_info(ctx, "n=%llu d=%u %s reg=%g solver=%s iters=%d residual=%.2g "
                "time=%.1fs train-rmse=%.6g%s",
                (unsigned long long)m->n, m->d, kname, m->reg, m->solver,
                r->solve.iters, r->solve.rel_residual, seconds, r->train_metric, val);
}

/* The line of the choice a search made. */
static void chosen(km_ctx *ctx, const struct st *s, const km_model *m, const km_train_result *r)
{
    const char *what = m->feat.task == KM_TASK_CLASSIFY ? "accuracy" : "MSE";
    char fig[64];
    if (isnan(r->val_metric))
        snprintf(fig, sizeof fig, "no labelled validation rows");
    else
        snprintf(fig, sizeof fig, "%s %s %.6g", r->folds ? "cross-validated" : "validation",
                 what, r->val_metric);
    char it[32] = "", rows[96];
    if (s->o.search.rfm)
        snprintf(it, sizeof it, " iteration=%d of %d", r->best_iter, s->o.search.rfm_iters);
    if (r->folds)
        snprintf(rows, sizeof rows, "%d folds of %llu rows; refitted on all", r->folds,
                 (unsigned long long)r->train_rows);
    else
        snprintf(rows, sizeof rows, "%llu training, %llu validation rows%s",
                 (unsigned long long)r->train_rows, (unsigned long long)r->val_rows,
                 s->o.refit ? "; refitted on both" : "");
    char bw[40] = ""; /* a dot-product kernel has none */
    if (km_kernel_radial(&m->kernel))
        snprintf(bw, sizeof bw, "L=%g ", m->kernel.bandwidth);
    km_info(ctx, "chosen: %sreg=%g%s (%s; %s); %d solves %.1fs, AGOP %.1fs", bw, m->reg, it, fig,
            rows, r->steps, r->solve_seconds, r->agop_seconds);
}

/* The kernel's options against its kind: a bandwidth for the radial
 * kernels, depth and variances for the dot-product ones (which have no
 * bandwidth to search, and no gradient of the RFM's form). -1: fine. */
static int kernel_opts(struct st *s, km_ctx *ctx)
{
    km_kernel *k = &s->o.search.solve.kernel;
    int st = cli_kernel_check(s->cmd, ctx, &s->ka);
    if (st >= 0 || km_kernel_radial(k))
        return st;
    if (s->o.search.rfm)
        return cli_usage_error(s->cmd, ctx, "--rfm needs --kernel laplace or gaussian: the AGOP "
                               "takes the gradient of a radial kernel, which %s is not",
                               km_kernel_name(k->type));
    s->o.auto_bandwidth = 0;
    return -1;
}

int cmd_train(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    double t0 = km_now(); /* the summary's time: the whole run, conversion included */
    struct st s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    km_train_defaults(&s.o);
    cli_kernel_init(&s.ka, &s.o.search.solve.kernel);
    s.io = cli_io_default();
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "o:", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one DATA argument (a .kmx or CSV file, or -)");
    if (!s.output)
        return cli_usage_error(cmd, ctx, "no model file given (-o MODEL)");
    s.o.search.nbandwidths = s.ka.nbw;
    if (s.o.search.nbandwidths)
        s.o.search.bandwidths = s.ka.bw;
    if (s.o.search.nregs)
        s.o.search.regs = s.reg;
    if (s.val && s.o.val_frac > 0)
        return cli_usage_error(cmd, ctx, "--val and --val-frac exclude each other");
    if (s.o.cv && (s.val || s.o.val_frac > 0))
        return cli_usage_error(cmd, ctx, "--cv and %s exclude each other: the folds are the "
                               "validation rows", s.val ? "--val" : "--val-frac");
    if (s.o.cv && s.refit_given == 2)
        return cli_usage_error(cmd, ctx, "--cv and --no-refit exclude each other: "
                               "cross-validation keeps no model of its folds");
    s.o.auto_bandwidth = !s.o.search.nbandwidths;
    if ((st = kernel_opts(&s, ctx)) >= 0)
        return st;
    if (s.val && strcmp(s.val, "-") == 0 && strcmp(argv[first], "-") == 0)
        return cli_usage_error(cmd, ctx, "DATA and --val cannot both be standard input");
    /* options that would silently do nothing */
    int grid = s.o.search.nbandwidths > 1 || s.o.search.nregs > 1;
    if (!s.o.search.rfm && s.rfm_only)
        km_warn(ctx, "--iters, --diag, --agop-samples and --center-grads apply only with --rfm");
    if (!s.o.search.rfm && !grid && !s.val && !(s.o.val_frac > 0) && !s.o.cv &&
        (s.refit_given || s.log))
        km_warn(ctx, "--refit, --no-refit and --log apply only when there is validation data "
                "(--rfm, a grid, --cv, --val or --val-frac)");
    int rc = check_files(&s, ctx, argv[first]);
    if (rc >= 0)
        return rc;
    if (s.log) {
        if ((rc = km_outfile_open(ctx, &s.logf, s.log)))
            return cli_fail(ctx, rc);
        s.log_open = 1;
        s.o.search.log = log_step;
        s.o.search.log_arg = &s;
    }
    s.o.search.solve.tmpdir = km_tmpdir(s.o.search.solve.tmpdir);
    km_blas_threads(ctx->threads);
    km_pool *pool = NULL;
    km_kmx *d = NULL;
    km_model m;
    memset(&m, 0, sizeof m);
    km_train_result r;
    km_kmx *vd = NULL;
    km_convert_result cr = {0};
    if ((rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err)))
        goto out;
    if ((rc = open_inputs(&s, ctx, argv[first], pool, &cr, &d, &vd)))
        goto out;
    s.o.val = vd;
    s.o.val_name = s.val;
    if ((rc = km_train(ctx, pool, d, &s.o, &m, &r)))
        goto out;
    if ((rc = provenance(&s, ctx, argc, argv, argv[first], &cr, d, &m)))
        goto out;
    if ((rc = km_model_save(ctx, &m, s.output)))
        goto out;
    summary(ctx, &m, &r, km_now() - t0, &s.o.search.solve);
    char b1[32], b2[32];
    if (r.solve.tiles.tiles)
        km_verbose(ctx, "kernel tiles: %llu in RAM (%s), %llu spilled (%s)%s, built in %.1fs",
                   (unsigned long long)r.solve.tiles.in_ram,
                   km_format_size(r.solve.tiles.bytes_ram, b1, sizeof b1),
                   (unsigned long long)r.solve.tiles.spilled,
                   km_format_size(r.solve.tiles.bytes_spilled, b2, sizeof b2),
                   r.solve.tiles.recompute ? ", recomputed on use" : "", r.solve.tiles.build_seconds);
    if (m.sel)
        chosen(ctx, &s, &m, &r);
    if (r.unseen)
        km_warn(ctx, "%llu categorical values unseen in training",
                (unsigned long long)r.unseen);
out:
    if (s.log_open) {
        if (!rc && s.log_rc) {
            ctx->err = s.log_err;
            rc = s.log_rc;
        }
        if (!rc)
            rc = km_outfile_commit(&s.logf);
        km_outfile_abort(&s.logf);
    }
    if (vd)
        km_kmx_close(vd);
    km_model_free(&m);
    free(cr.forced);
    if (d)
        km_kmx_close(d);
    km_pool_destroy(pool);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
