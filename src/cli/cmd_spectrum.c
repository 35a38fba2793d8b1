/* cmd_spectrum.c - `kmill spectrum`: options to km_spectrum_opts, DATA (a
 * dataset or CSV, as train reads it) or MODEL, one call of the job
 * (kmill/specjob.h), and the report as a text table or JSON, on standard
 * output or written through a temporary file (-o). */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/blas.h"
#include "kmill/io.h"
#include "kmill/log.h"
#include "kmill/outfile.h"
#include "kmill/specjob.h"
#include "kmill/train.h"

const char spectrum_usage[] =
    "Usage: kmill spectrum [OPTIONS] DATA|MODEL --sample N\n"
    "The eigenvalues of K/n for the kernel matrix K of a uniform sample of n rows\n"
    "of DATA (a .kmx dataset or CSV, the kernel and features as train makes them),\n"
    "or of a MODEL's centres under its own kernel (an RFM's learned one); with\n"
    "--reg, per ridge: effective dimension, exact leave-one-out error of kernel\n"
    "ridge regression, GCV, and the heuristic tr((K + reg I)^-1)/n.\n"
    "\n"
    "      --sample N         rows (or centres) to draw, >= 2; required with DATA\n"
    "                         (memory 8 N^2 bytes, twice that with --reg); a\n"
    "                         MODEL's centres are all used without it\n"
    "      --top K            eigenvalues to show (default 10)\n"
    "      --reg R[,R..]      ridges, > 0, as train's --reg (K + R I); each gets a\n"
    "                         line of diagnostics from one full decomposition\n"
    "      --seed S           seed of the draw (default 1)\n"
    "The kernel and the features (DATA; a MODEL brings its own):\n"
    CLI_KERNEL_USAGE
    "      --bandwidth L      kernel bandwidth, > 0 (default 10; laplace, gaussian)\n"
    CLI_DOT_USAGE
    CLI_FEAT_USAGE
    "  -o, --output FILE      write the report to FILE (default, or -: standard output)\n"
    "      --json             the report as JSON\n"
    "      --io MODE          auto (default), uring or pread\n"
    "Reading CSV input (DATA; --drop applies to a .kmx DATA too):\n"
    CLI_COLUMN_USAGE
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  --progress  --no-progress\n"
    "  -h, --help\n";

enum { O_SAMPLE = OPT_CMD_BASE, O_TOP, O_REG, O_SEED, O_JSON, O_IO };

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"sample", required_argument, NULL, O_SAMPLE},
    {"top", required_argument, NULL, O_TOP},
    {"reg", required_argument, NULL, O_REG},
    {"seed", required_argument, NULL, O_SEED},
    {"json", no_argument, NULL, O_JSON},
    {"io", required_argument, NULL, O_IO},
    CLI_KERNEL_LONGOPTS,
    CLI_FEAT_LONGOPTS,
    CLI_COLUMN_LONGOPTS,
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    const char *output;
    km_spectrum_opts o;
    cli_kernel_args ka; /* --kernel, --bandwidth, --depth, --sw2, --sb2 */
    double reg[CLI_LIST_MAX];
    int json, io;
    int data_only;        /* a kernel, feature or column option was given */
    km_convert_opts cols; /* how CSV input is read (columns.c) */
    unsigned cols_given;
};

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    long v;
    switch (opt) {
    case 'o': s->output = arg; break;
    case O_SAMPLE:
        if (cli_int_arg(s->cmd, ctx, "--sample", arg, 2, 2147483647, &v))
            return EXIT_USAGE;
        s->o.sample.rows = (uint64_t)v;
        break;
    case O_TOP:
        if (cli_int_arg(s->cmd, ctx, "--top", arg, 1, 2147483647, &v))
            return EXIT_USAGE;
        s->o.top = (size_t)v;
        break;
    case O_REG: {
        int r = cli_num_list(s->cmd, ctx, "--reg", arg, 0, s->reg, &s->o.nregs);
        s->o.regs = s->reg;
        return r;
    }
    case O_SEED:
        if (cli_int_arg(s->cmd, ctx, "--seed", arg, 0, 2147483647, &v))
            return EXIT_USAGE;
        s->o.sample.seed = (uint64_t)v;
        break;
    case O_JSON: s->json = 1; break;
    case O_IO: return cli_io_arg(s->cmd, ctx, arg, &s->io) ? EXIT_USAGE : -1;
    default: {
        s->data_only = 1;
        int rc = cli_data_opt(s->cmd, ctx, opt, arg, &s->o.sample.feat, &s->ka, &s->cols,
                              &s->cols_given);
        return rc == -3 ? -1 : rc;
    }
    }
    return -1;
}

static const char *const metric_names[] = {"none", "diagonal", "full"};

static void report_text(FILE *f, const char *input, int model, const km_spectrum_result *r)
{
    char kd[128];
    km_kernel_describe(&r->kernel, kd, sizeof kd);
    fprintf(f, "# %s: %zu of %llu %s, %zu features, kernel %s%s, %s", input, r->n,
            (unsigned long long)r->available, model ? "centres" : "rows", r->d, kd,
            r->metric == KM_METRIC_FULL ? " with its full M"
            : r->metric == KM_METRIC_DIAG ? " with its diagonal M" : "",
            r->classify ? "classification" : "regression");
    if (r->classify)
        fprintf(f, " of %zu classes", r->c);
    fprintf(f, "\n# eigenvalues of K/n, largest first; tr(K/n) = %.6g\n", r->trace);
    fprintf(f, "rank\teigenvalue\tshare\tcumulative\n");
    double cum = 0;
    for (size_t k = 0; k < r->top; k++) {
        cum += r->values[k];
        fprintf(f, "%zu\t%.6g\t%.4f\t%.4f\n", k + 1, r->values[k], r->values[k] / r->trace,
                cum / r->trace);
    }
    if (!r->nfits)
        return;
    fprintf(f, "\n# per ridge reg (K + reg I, as kmill train; lambda = reg/n): effective "
               "dimension dof%s\n# tr_inv = tr((K + reg I)^-1)/n: a heuristic, not an error "
               "estimate\n",
            r->loo ? ",\n# training and exact leave-one-out MSE (one-hot targets), GCV;" : ";");
    fprintf(f, "reg\tlambda\tdof%s\ttr_inv\n",
            !r->loo ? "" : r->classify ? "\ttrain_mse\tloo_mse\tloo_accuracy\tgcv"
                                       : "\ttrain_mse\tloo_mse\tgcv");
    for (size_t q = 0; q < r->nfits; q++) {
        const km_spectral_fit *p = &r->fits[q];
        fprintf(f, "%g\t%.6g\t%.6g", p->reg, p->reg / (double)r->n, p->dof);
        if (r->loo)
            fprintf(f, "\t%.6g\t%.6g", p->train_mse, p->loo_mse);
        if (r->loo && r->classify)
            fprintf(f, "\t%.4f", p->loo_acc);
        if (r->loo)
            fprintf(f, "\t%.6g", p->gcv);
        fprintf(f, "\t%.6g\n", p->heuristic);
    }
}

static void report_json(FILE *f, const char *input, int model, const km_spectrum_result *r)
{
    fprintf(f, "{\"input\":");
    cli_json_fstr(f, input, strlen(input));
    fprintf(f, ",\"kind\":\"%s\",\"rows\":%zu,\"available\":%llu,\"features\":%zu,"
               "\"task\":\"%s\",\"outputs\":%zu,\"kernel\":\"%s\",\"bandwidth\":",
            model ? "model" : "data", r->n, (unsigned long long)r->available, r->d,
            r->classify ? "classify" : "regress", r->c, km_kernel_name(r->kernel.type));
    if (km_kernel_radial(&r->kernel)) {
        cli_json_fnum(f, r->kernel.bandwidth);
    } else { /* a dot-product kernel: its depth and variances instead */
        fprintf(f, "null,\"depth\":%d,\"sw2\":", r->kernel.depth);
        cli_json_fnum(f, r->kernel.sw2);
        fprintf(f, ",\"sb2\":");
        cli_json_fnum(f, r->kernel.sb2);
    }
    fprintf(f, ",\"metric\":\"%s\",\"trace\":", metric_names[r->metric]);
    cli_json_fnum(f, r->trace);
    fprintf(f, ",\"eigenvalues\":[");
    double cum = 0;
    for (size_t k = 0; k < r->top; k++) {
        cum += r->values[k];
        fprintf(f, "%s{\"rank\":%zu,\"value\":", k ? "," : "", k + 1);
        cli_json_fnum(f, r->values[k]);
        fprintf(f, ",\"share\":");
        cli_json_fnum(f, r->values[k] / r->trace);
        fprintf(f, ",\"cumulative\":");
        cli_json_fnum(f, cum / r->trace);
        fprintf(f, "}");
    }
    fprintf(f, "],\"ridges\":[");
    for (size_t q = 0; q < r->nfits; q++) {
        const km_spectral_fit *p = &r->fits[q];
        const char *names[] = {"reg", "lambda", "dof", "train_mse", "loo_mse", "loo_accuracy",
                               "gcv", "tr_inv"};
        double vals[] = {p->reg, p->reg / (double)r->n, p->dof, p->train_mse, p->loo_mse,
                         p->loo_acc, p->gcv, p->heuristic};
        for (size_t j = 0; j < sizeof vals / sizeof *vals; j++) {
            fprintf(f, "%s\"%s\":", j ? "," : q ? ",{" : "{", names[j]);
            cli_json_fnum(f, vals[j]);
        }
        fprintf(f, "}");
    }
    fprintf(f, "]}\n");
}

/* The report into the output: standard output, or the file opened. */
static int write_report(km_ctx *ctx, const struct st *s, km_outfile *of, const char *input,
                        int model, const km_spectrum_result *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    (s->json ? report_json : report_text)(f, input, model, r);
    int rc = 0;
    if (fclose(f))
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    else if (of)
        rc = km_outfile_write(of, buf, len);
    else if (fwrite(buf, 1, len, stdout) != len || fflush(stdout))
        rc = km_seterr(&ctx->err, km_errno_code(errno), "error writing the report: %s",
                       strerror(errno));
    free(buf);
    return rc;
}

/* DATA opened (CSV converted as the column options say; for a .kmx,
 * --drop leaves columns out of the features) and its spectrum. */
static int run_data(struct st *s, km_ctx *ctx, km_pool *pool, const char *path,
                    km_spectrum_result *r)
{
    km_kmx *d = NULL;
    km_convert_result cr = {0};
    int rc = cli_open_data(ctx, path, s->io, NULL, pool, &s->cols, &cr, &d);
    if (!rc)
        cli_data_columns(ctx, path, &cr, &s->cols, s->cols_given, &s->o.sample.feat);
    if (!rc)
        rc = km_spectrum_data(ctx, pool, d, &s->o, r);
    if (!rc && r->unlabelled)
        km_warn(ctx, "%llu drawn rows without the label were dropped",
                (unsigned long long)r->unlabelled);
    free(cr.forced);
    if (d)
        km_kmx_close(d);
    return rc;
}

static int run_model(struct st *s, km_ctx *ctx, km_pool *pool, const char *path,
                     km_spectrum_result *r)
{
    km_model m;
    int rc = km_model_load(ctx, path, &m);
    if (rc)
        return rc;
    if (s->o.nregs && m.nys_rows)
        km_info(ctx, "%s is a Nystrom model: its centres are not the rows it was fitted to, so "
                "their targets are unknown and the leave-one-out figures are left out", path);
    rc = km_spectrum_model(ctx, pool, &m, &s->o, r);
    if (!rc && r->target_error > 0.05)
        km_warn(ctx, "%s: the targets recovered from its coefficients are up to %.2g from "
                "one-hot (its solve's residual): the leave-one-out figures are approximate",
                path, r->target_error);
    km_model_free(&m);
    return rc;
}

/* The checks of the command line once parsed: -1 to go on, else the exit
 * status. model: the input is a model file. */
static int check_args(struct st *s, km_ctx *ctx, const char *input, int model)
{
    const cli_cmd *cmd = s->cmd;
    if (s->ka.nbw > 1)
        return cli_usage_error(cmd, ctx, "--bandwidth takes one value here (a grid is train's)");
    int st = cli_kernel_check(cmd, ctx, &s->ka);
    if (st >= 0)
        return st;
    if (model && s->data_only)
        return cli_usage_error(cmd, ctx, "%s is a model: it brings its own kernel and features "
                               "(the kernel's, --label, --task, --scale and the column options "
                               "apply to DATA)", input);
    if (!model && !s->o.sample.rows)
        return cli_usage_error(cmd, ctx, "--sample N is required with DATA: the kernel matrix "
                               "of N rows takes 8 N^2 bytes");
    if (s->o.top && s->o.sample.rows && s->o.top > s->o.sample.rows)
        return cli_usage_error(cmd, ctx, "--top %zu is more than --sample %llu", s->o.top,
                               (unsigned long long)s->o.sample.rows);
    const cli_file in[] = {{NULL, input}};
    const cli_file out[] = {{"-o", s->output}};
    int rc = cli_check_outputs(ctx, in, 1, out, 1);
    return rc ? cli_fail(ctx, rc) : -1;
}

int cmd_spectrum(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    km_train_opts t; /* train's defaults: the same features and kernel */
    km_train_defaults(&t);
    km_sample_defaults(&s.o.sample);
    s.o.sample.feat = t.feat;
    s.o.sample.seed = 1;
    s.o.kernel = t.search.solve.kernel;
    cli_kernel_init(&s.ka, &s.o.kernel);
    s.o.top = 10;
    s.io = cli_io_default();
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "o:", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one DATA or MODEL argument");
    const char *input = argv[first];
    unsigned major, minor;
    int model = strcmp(input, "-") && km_model_probe(input, &major, &minor);
    if ((st = check_args(&s, ctx, input, model)) >= 0)
        return st;
    km_outfile of;
    int use_of = s.output && strcmp(s.output, "-");
    int rc = use_of ? km_outfile_open(ctx, &of, s.output) : 0;
    if (rc)
        return cli_fail(ctx, rc);
    km_blas_threads(ctx->threads);
    km_pool *pool = NULL;
    km_spectrum_result r;
    memset(&r, 0, sizeof r);
    if (!(rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err)))
        rc = model ? run_model(&s, ctx, pool, input, &r) : run_data(&s, ctx, pool, input, &r);
    if (!rc)
        rc = write_report(ctx, &s, use_of ? &of : NULL, input, model, &r);
    if (!rc && use_of)
        rc = km_outfile_commit(&of);
    if (use_of)
        km_outfile_abort(&of);
    km_spectrum_result_free(&r);
    km_pool_destroy(pool);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
