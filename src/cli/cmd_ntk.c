/* cmd_ntk.c - `kmill ntk`: finite networks' empirical NTKs against the
 * analytic NTK and NNGP on a sample (kmill/ntkstudy.h): a TSV line per
 * width on standard output (or --tsv FILE), a summary on stderr. */
#include "config.h"
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/log.h"
#include "kmill/ntkstudy.h"
#include "kmill/outfile.h"

const char ntk_usage[] =
    "Usage: kmill ntk [OPTIONS] DATA\n"
    "Compare the empirical NTK of finite ReLU networks (NTK parameterisation)\n"
    "with the analytic NTK and NNGP of the same depth on a sample of DATA's rows:\n"
    "per width, the relative Frobenius distance, mean and sd over the seeds, at\n"
    "initialisation and (with --epochs) after training; the log-log slope of the\n"
    "distance against width; kernel regression with the analytic NTK beside the\n"
    "trained networks. One TSV line per width on standard output.\n"
    "\n"
    "      --sample N      rows to draw (default 1000; more than DATA has: all)\n"
    "      --widths LIST   hidden widths, comma-separated (default 64,256,1024)\n"
    "      --depth D       hidden layers (default 1)\n"
    "      --seeds K       networks per width (default 3)\n"
    "      --seed S        the first network's seed, then S+1, ... (default 1)\n"
    "      --sw2 V         weight variance sigma_w^2 (default 2)\n"
    "      --sb2 V         bias variance sigma_b^2 (default 0.1)\n"
    "      --epochs E      train each network E epochs and compare again (default 0)\n"
    "      --lr R          learning rate (default 0.1)\n"
    "      --batch B       rows per step; 0: full-batch gradient descent (default 0)\n"
    "      --loss L        mse (default) or xent\n"
    "      --val-frac F    share of the sample held out for validation (default 0.2)\n"
    "      --reg R         ridge of the analytic-NTK regression (default 0.001)\n"
    "      --label COL     the label column\n"
    "      --tsv FILE      write the TSV to FILE instead of standard output\n"
    "      --gram FILE     write the analytic NTK Gram of the training rows to FILE\n"
    "                      (float32; format in kmill-ntk(1))\n"
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  -h, --help\n";

enum {
    O_SAMPLE = OPT_CMD_BASE, O_WIDTHS, O_DEPTH, O_SEEDS, O_SEED, O_SW2, O_SB2, O_EPOCHS, O_LR,
    O_BATCH, O_LOSS, O_VALFRAC, O_REG, O_LABEL, O_TSV, O_GRAM
};

static const struct option longopts[] = {
    {"sample", required_argument, NULL, O_SAMPLE}, {"widths", required_argument, NULL, O_WIDTHS},
    {"depth", required_argument, NULL, O_DEPTH},   {"seeds", required_argument, NULL, O_SEEDS},
    {"seed", required_argument, NULL, O_SEED},     {"sw2", required_argument, NULL, O_SW2},
    {"sb2", required_argument, NULL, O_SB2},       {"epochs", required_argument, NULL, O_EPOCHS},
    {"lr", required_argument, NULL, O_LR},         {"batch", required_argument, NULL, O_BATCH},
    {"loss", required_argument, NULL, O_LOSS},     {"val-frac", required_argument, NULL, O_VALFRAC},
    {"reg", required_argument, NULL, O_REG},       {"label", required_argument, NULL, O_LABEL},
    {"tsv", required_argument, NULL, O_TSV},       {"gram", required_argument, NULL, O_GRAM},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    km_ntk_study_opts o;
    const char *tsv;
};

static int widths_arg(struct st *s, km_ctx *ctx, const char *arg)
{
    const char *p = arg;
    s->o.nwidths = 0;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9' || s->o.nwidths == KM_NTK_MAX_WIDTHS)
            goto bad;
        unsigned long v = strtoul(p, &end, 10);
        if (v == 0 || v > 1000000 || (*end && *end != ','))
            goto bad;
        s->o.widths[s->o.nwidths++] = (uint32_t)v;
        p = *end ? end + 1 : end;
        if (*end && !*p)
            goto bad;
    }
    if (s->o.nwidths)
        return -1;
bad:
    return cli_usage_error(s->cmd, ctx,
                           "invalid --widths '%s' (up to %d widths from 1 to 1000000, "
                           "separated by commas)", arg, KM_NTK_MAX_WIDTHS);
}

static int positive(struct st *s, km_ctx *ctx, const char *opt, const char *arg, double *out)
{
    if (cli_double_arg(s->cmd, ctx, opt, arg, out))
        return EXIT_USAGE;
    if (!(*out > 0) || !isfinite(*out))
        return cli_usage_error(s->cmd, ctx, "invalid %s '%s' (expected a positive number)", opt, arg);
    return -1;
}

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    km_ntk_study_opts *o = &s->o;
    long v;
    uint64_t u;
    switch (opt) {
    case O_SAMPLE:
        if (cli_parse_u64(arg, &u) || u == 0)
            return cli_usage_error(s->cmd, ctx, "invalid --sample '%s' (a positive row count)", arg);
        o->sample.rows = u;
        break;
    case O_WIDTHS: return widths_arg(s, ctx, arg);
    case O_DEPTH:
        if (cli_int_arg(s->cmd, ctx, "--depth", arg, 1, 64, &v))
            return EXIT_USAGE;
        o->depth = (uint32_t)v;
        break;
    case O_SEEDS:
        if (cli_int_arg(s->cmd, ctx, "--seeds", arg, 1, 1000, &v))
            return EXIT_USAGE;
        o->seeds = (uint32_t)v;
        break;
    case O_SEED:
        if (cli_parse_u64(arg, &o->seed))
            return cli_usage_error(s->cmd, ctx, "invalid --seed '%s' (a non-negative integer)", arg);
        o->fit.seed = o->sample.seed = o->seed;
        break;
    case O_SW2: return positive(s, ctx, "--sw2", arg, &o->sw2);
    case O_SB2:
        if (cli_double_arg(s->cmd, ctx, "--sb2", arg, &o->sb2))
            return EXIT_USAGE;
        if (!(o->sb2 >= 0) || !isfinite(o->sb2))
            return cli_usage_error(s->cmd, ctx, "invalid --sb2 '%s' (expected a number >= 0)", arg);
        break;
    case O_EPOCHS:
        if (cli_int_arg(s->cmd, ctx, "--epochs", arg, 0, 1000000, &v))
            return EXIT_USAGE;
        o->fit.epochs = (uint32_t)v;
        break;
    case O_LR: return positive(s, ctx, "--lr", arg, &o->fit.lr);
    case O_BATCH:
        if (cli_int_arg(s->cmd, ctx, "--batch", arg, 0, 1000000000, &v))
            return EXIT_USAGE;
        o->fit.batch = (size_t)v;
        break;
    case O_LOSS:
        if (strcmp(arg, "mse") && strcmp(arg, "xent"))
            return cli_usage_error(s->cmd, ctx, "invalid --loss '%s' (mse or xent)", arg);
        o->fit.loss = strcmp(arg, "mse") ? KM_LOSS_XENT : KM_LOSS_MSE;
        break;
    case O_VALFRAC:
        if (cli_double_arg(s->cmd, ctx, "--val-frac", arg, &o->sample.val_frac))
            return EXIT_USAGE;
        if (!(o->sample.val_frac >= 0 && o->sample.val_frac < 1))
            return cli_usage_error(s->cmd, ctx, "invalid --val-frac '%s' (from 0 to below 1)", arg);
        break;
    case O_REG: return positive(s, ctx, "--reg", arg, &o->reg);
    case O_LABEL: o->sample.feat.label = arg; break;
    case O_TSV: s->tsv = arg; break;
    case O_GRAM: o->gram = arg; break;
    }
    return -1;
}

/* Text to the TSV file, or to standard output when of is NULL; *rc keeps
 * the first error. */
static void emit(km_outfile *of, int *rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void emit(km_outfile *of, int *rc, const char *fmt, ...)
{
    char b[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    if (!of)
        fputs(b, stdout);
    else if (*rc == 0)
        *rc = km_outfile_write(of, b, n < (int)sizeof b ? (size_t)n : sizeof b - 1);
}

/* The TSV: a header, a line per width. */
static int write_tsv(km_outfile *of, const km_ntk_study_opts *o, const km_ntk_study *r)
{
    int rc = 0, fit = o->fit.epochs > 0;
    emit(of, &rc, "width\tseeds\tntk_init\tntk_init_sd\tnngp_init\tnngp_init_sd%s%s%s\n",
         fit ? "\tntk_trained\tntk_trained_sd\tkernel_move\tkernel_move_sd\tval_" : "",
         fit ? (r->classify ? "accuracy" : "mse") : "", fit ? "\tval_sd" : "");
    for (size_t i = 0; i < r->nw; i++) {
        const km_ntk_width *w = &r->w[i];
        const km_ntk_stat *st[] = {&w->ntk0, &w->nngp0, &w->ntk1, &w->move, &w->metric};
        emit(of, &rc, "%u\t%u", w->width, o->seeds);
        for (int k = 0; k < (fit ? 5 : 2); k++)
            emit(of, &rc, "\t%.6g\t%.6g", st[k]->mean, st[k]->sd);
        emit(of, &rc, "\n");
    }
    return rc;
}

static void summary(km_ctx *ctx, const km_ntk_study_opts *o, const km_ntk_study *r)
{
    const char *m = r->classify ? "accuracy" : "MSE";
    km_info(ctx, "%zu training rows, %zu validation rows, %zu features, %zu outputs", r->n, r->nv,
            r->d, r->c);
    if (r->nw > 1)
        km_info(ctx, "log-log slope of the distance to the NTK against width: %.3f at "
                "initialisation%s", r->slope0, o->fit.epochs ? "" : " (about -0.5 expected)");
    if (r->nw > 1 && o->fit.epochs)
        km_info(ctx, "log-log slope after training: %.3f", r->slope1);
    if (isnan(r->krr_metric))
        km_info(ctx, "no validation rows: no kernel regression with the analytic NTK");
    else
        km_info(ctx, "kernel regression with the analytic NTK (depth %u, reg %g): validation %s "
                "%.4f", o->depth, o->reg, m, r->krr_metric);
    for (size_t i = 0; o->fit.epochs && i < r->nw; i++)
        km_info(ctx, "width %u trained %u epochs: validation %s %.4f +- %.4f", r->w[i].width,
                o->fit.epochs, m, r->w[i].metric.mean, r->w[i].metric.sd);
}

int cmd_ntk(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    km_ntk_study_defaults(&s.o);
    s.o.sample.rows = 1000;
    s.o.seeds = 3;
    s.o.nwidths = 3;
    s.o.widths[0] = 64, s.o.widths[1] = 256, s.o.widths[2] = 1024;
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one DATA argument");
    cli_file in = {NULL, argv[first]}, out[2] = {{"--tsv", s.tsv}, {"--gram", s.o.gram}};
    int rc = cli_check_outputs(ctx, &in, 1, out, 2);
    if (rc)
        return cli_fail(ctx, rc);
    km_outfile of;
    int of_open = 0;
    km_pool *pool = NULL;
    km_kmx *d = NULL;
    km_ntk_study r;
    if ((rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err)))
        goto out;
    if ((rc = cli_open_data(ctx, argv[first], cli_io_default(), NULL, pool, NULL, NULL, &d)))
        goto out;
    if (s.tsv && strcmp(s.tsv, "-") && !(rc = km_outfile_open(ctx, &of, s.tsv)))
        of_open = 1;
    if (rc || (rc = km_ntk_study_run(ctx, pool, d, &s.o, &r)))
        goto out;
    if ((rc = write_tsv(of_open ? &of : NULL, &s.o, &r)) || (of_open && (rc = km_outfile_commit(&of))))
        goto out;
    summary(ctx, &s.o, &r);
out:
    if (of_open)
        km_outfile_abort(&of);
    if (d)
        km_kmx_close(d);
    km_pool_destroy(pool);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
