/* cmd_mlp.c - `kmill mlp`: options to km_mlp_job_opts, the dataset (or CSV
 * converted on the fly), a line per epoch (or a --log TSV row), the
 * report of what training did on standard output, and the network as a
 * model file (-o) for predict and eval. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/blas.h"
#include "kmill/log.h"
#include "kmill/mlptrain.h"
#include "kmill/outfile.h"
#include "kmill/progress.h"

const char mlp_usage[] =
    "Usage: kmill mlp [OPTIONS] DATA [-o NET.kmm]\n"
    "Train a fully connected ReLU network on a sample of DATA (a .kmx dataset or\n"
    "CSV) by gradient descent and report what training did: the weights' change,\n"
    "the CKA and kernel-target alignment of the last hidden layer, and the Neural\n"
    "Feature Ansatz (W1^T W1 against the AGOP^1/2), at initialisation and at the end.\n"
    "\n"
    "  -o, --output NET     write the network as a model (.kmm) for predict and eval\n"
    "      --width W        units per hidden layer (default 256)\n"
    "      --depth D        hidden layers (default 2)\n"
    "      --param P        ntk (default) or standard parameterisation\n"
    "      --alpha A        output multiplier: train A*f with loss/A^2; large is lazy,\n"
    "                       small learns features (default 1)\n"
    "      --lr R           step size (default 1)\n"
    "      --epochs E       passes over the training rows (default 20)\n"
    "      --batch B        rows per step; 0: full-batch gradient descent (default 128)\n"
    "      --loss L         mse (default; one-hot targets) or xent (softmax cross-entropy)\n"
    "      --sw2 V          weight variance sigma_w^2 (default 2)\n"
    "      --sb2 V          bias variance sigma_b^2 (default 0.1)\n"
    "      --sample N       rows drawn from DATA (default 10000; all if fewer)\n"
    "      --val-frac F     share of the sample held out for validation (default 0.1)\n"
    "      --val FILE       validation data (.kmx or CSV) instead of a split\n"
    "      --metric-rows N  training rows the metrics use (default 2000)\n"
    "      --label COL      label column (default: label, target, class or y)\n"
    "      --task T         auto (default), classify or regress\n"
    "      --scale S        standard (default), minmax or none\n"
    "      --seed S         seed of the sample, the weights and the batches (default 1)\n"
    "      --log FILE       the epochs as TSV instead of lines on standard error\n"
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  --progress  --no-progress\n"
    "  -h, --help\n";

enum {
    O_WIDTH = OPT_CMD_BASE, O_DEPTH, O_PARAM, O_ALPHA, O_LR, O_EPOCHS, O_BATCH, O_LOSS, O_SW2,
    O_SB2, O_SAMPLE, O_VAL_FRAC, O_VAL, O_METRIC_ROWS, O_LABEL, O_TASK, O_SCALE, O_SEED, O_LOG
};

static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"width", required_argument, NULL, O_WIDTH},
    {"depth", required_argument, NULL, O_DEPTH},
    {"param", required_argument, NULL, O_PARAM},
    {"alpha", required_argument, NULL, O_ALPHA},
    {"lr", required_argument, NULL, O_LR},
    {"epochs", required_argument, NULL, O_EPOCHS},
    {"batch", required_argument, NULL, O_BATCH},
    {"loss", required_argument, NULL, O_LOSS},
    {"sw2", required_argument, NULL, O_SW2},
    {"sb2", required_argument, NULL, O_SB2},
    {"sample", required_argument, NULL, O_SAMPLE},
    {"val-frac", required_argument, NULL, O_VAL_FRAC},
    {"val", required_argument, NULL, O_VAL},
    {"metric-rows", required_argument, NULL, O_METRIC_ROWS},
    {"label", required_argument, NULL, O_LABEL},
    {"task", required_argument, NULL, O_TASK},
    {"scale", required_argument, NULL, O_SCALE},
    {"seed", required_argument, NULL, O_SEED},
    {"log", required_argument, NULL, O_LOG},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    km_ctx *ctx;
    const char *output, *val, *log;
    km_mlp_job_opts o;
    int val_given, sample_given;
    km_outfile logf;
    int log_open, log_rc;
    km_err log_err;
};

static int choice(struct st *s, km_ctx *ctx, const char *opt, const char *arg,
                  const char *const *names, int *out)
{
    return cli_choice(s->cmd, ctx, opt, arg, names, out);
}

/* A number > 0 (>= 0 with zero_ok) into *out. */
static int positive(struct st *s, km_ctx *ctx, const char *opt, const char *arg, int zero_ok,
                    double *out)
{
    if (cli_double_arg(s->cmd, ctx, opt, arg, out))
        return EXIT_USAGE;
    if (!(isfinite(*out) && (*out > 0 || (zero_ok && *out == 0))))
        return cli_usage_error(s->cmd, ctx, "%s must be a number %s 0", opt, zero_ok ? ">=" : ">");
    return -1;
}

static int count(struct st *s, km_ctx *ctx, const char *opt, const char *arg, long lo, long hi,
                 long *v)
{
    return cli_int_arg(s->cmd, ctx, opt, arg, lo, hi, v) ? EXIT_USAGE : -1;
}

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    static const char *const params[] = {"ntk", "standard", NULL};
    static const char *const losses[] = {"mse", "xent", NULL};
    static const char *const tasks[] = {"auto", "classify", "regress", NULL};
    static const char *const scales[] = {"standard", "minmax", "none", NULL};
    km_mlp_job_opts *o = &s->o;
    long v = 0;
    int rc = -1;
    switch (opt) {
    case 'o': s->output = arg; break;
    case O_WIDTH:
    case O_DEPTH:
        rc = count(s, ctx, opt == O_WIDTH ? "--width" : "--depth", arg, 1,
                   opt == O_WIDTH ? 1 << 20 : 1024, &v);
        *(opt == O_WIDTH ? &o->width : &o->depth) = (uint32_t)v;
        break;
    case O_PARAM: return choice(s, ctx, "--param", arg, params, &o->param);
    case O_LOSS: return choice(s, ctx, "--loss", arg, losses, &o->fit.loss);
    case O_TASK: return choice(s, ctx, "--task", arg, tasks, &o->sample.feat.task);
    case O_SCALE: return choice(s, ctx, "--scale", arg, scales, &o->sample.feat.scale);
    case O_ALPHA: return positive(s, ctx, "--alpha", arg, 0, &o->alpha);
    case O_LR: return positive(s, ctx, "--lr", arg, 0, &o->fit.lr);
    case O_SW2: return positive(s, ctx, "--sw2", arg, 0, &o->sw2);
    case O_SB2: return positive(s, ctx, "--sb2", arg, 1, &o->sb2);
    case O_EPOCHS:
        rc = count(s, ctx, "--epochs", arg, 0, 100000000, &v);
        o->fit.epochs = (uint32_t)v;
        break;
    case O_BATCH:
        rc = count(s, ctx, "--batch", arg, 0, 1L << 40, &v);
        o->fit.batch = (size_t)v;
        break;
    case O_SAMPLE:
        rc = count(s, ctx, "--sample", arg, 1, 1L << 40, &v);
        o->sample.rows = (uint64_t)v;
        s->sample_given = 1;
        break;
    case O_METRIC_ROWS:
        rc = count(s, ctx, "--metric-rows", arg, 2, 1L << 30, &v);
        o->metric_rows = (size_t)v;
        break;
    case O_VAL_FRAC:
        if ((rc = positive(s, ctx, "--val-frac", arg, 1, &o->sample.val_frac)) < 0 &&
            !(o->sample.val_frac < 1))
            return cli_usage_error(s->cmd, ctx, "--val-frac must be at least 0 and below 1");
        s->val_given = 1;
        break;
    case O_SEED:
        if (cli_parse_u64(arg, &o->seed))
            return cli_usage_error(s->cmd, ctx, "invalid --seed '%s'", arg);
        break;
    case O_VAL: s->val = arg; break;
    case O_LABEL: o->sample.feat.label = arg; break;
    case O_LOG: s->log = arg; break;
    }
    return rc;
}

/* An epoch: a line on standard error, or a TSV row of --log (a write
 * error is kept for the end; training goes on). */
static void on_epoch(void *arg, const km_mlp_epoch *e)
{
    struct st *s = arg;
    const char *what = e->classify ? "accuracy" : "mse";
    if (!s->log_open) {
        char val[64] = "";
        if (!isnan(e->val_metric))
            snprintf(val, sizeof val, " val-%s %.4f", what, e->val_metric);
        km_info(s->ctx, "epoch %u/%u: loss %.6g train-%s %.4f%s%s", (unsigned)e->epoch,
                (unsigned)e->epochs, e->loss, what, e->train_metric, val,
                e->epoch ? "" : " (initialisation)");
        return;
    }
    int rc = 0;
    if (e->epoch == 0)
        rc = km_outfile_printf(&s->logf, "epoch\tloss\ttrain_%s\tval_loss\tval_%s\tseconds\n",
                               what, what);
    if (!rc && !s->log_rc)
        rc = km_outfile_printf(&s->logf, "%u\t%.9g\t%.9g\t%.9g\t%.9g\t%.4f\n",
                               (unsigned)e->epoch, e->loss, e->train_metric, e->val_loss,
                               e->val_metric, e->seconds);
    if (rc && !s->log_rc) {
        s->log_rc = rc;
        s->log_err = s->ctx->err;
    }
}

/* Feature j's name: its column's, with the level for a one-hot feature. */
static void feature_name(const km_features *f, uint32_t j, char *buf, size_t len)
{
    for (uint32_t k = 0; k < f->ncols; k++) {
        const km_featcol *c = &f->cols[k];
        uint32_t w = c->type == KM_COL_CATEGORICAL ? c->nlevels : 1;
        if (j >= c->first && j < c->first + w) {
            if (c->type == KM_COL_CATEGORICAL)
                snprintf(buf, len, "%s=%.*s", c->name, (int)c->level_len[j - c->first],
                         c->levels[j - c->first]);
            else
                snprintf(buf, len, "%s", c->name);
            return;
        }
    }
    snprintf(buf, len, "feature %u", j);
}

/* The AGOP's largest diagonal entries, at most 8, with their names. */
static void top_features(const km_features *f, const double *diag, size_t d)
{
    size_t pick[8], k = d < 8 ? d : 8;
    for (size_t t = 0; t < k; t++) {
        size_t best = SIZE_MAX;
        for (size_t j = 0; j < d; j++) {
            int taken = 0;
            for (size_t u = 0; u < t; u++)
                taken |= pick[u] == j;
            if (!taken && (best == SIZE_MAX || diag[j] > diag[best]))
                best = j;
        }
        pick[t] = best;
    }
    double tr = 0;
    for (size_t j = 0; j < d; j++)
        tr += diag[j];
    printf("agop-top:");
    for (size_t t = 0; t < k; t++) {
        char name[128];
        feature_name(f, (uint32_t)pick[t], name, sizeof name);
        printf(" %s %.3f", name, tr > 0 ? diag[pick[t]] / tr : 0);
    }
    printf("\n");
}

/* The report on standard output: one "name: values" line each. */
static void report(const struct st *s, const km_model *m, const km_mlp_job_result *r)
{
    const char *what = r->classify ? "accuracy" : "mse";
    printf("rows: %zu training, %zu validation; features %zu; outputs %zu (%s)\n", r->n, r->nv,
           r->d, r->c, r->classify ? "classification" : "regression");
    printf("network: depth %u, width %u, %s parameterisation, alpha %g, %s loss, %s, lr %g, "
           "%u epochs\n", (unsigned)s->o.depth, (unsigned)s->o.width,
           s->o.param == KM_PARAM_NTK ? "ntk" : "standard", s->o.alpha,
           s->o.fit.loss == KM_LOSS_XENT ? "xent" : "mse", m->ni.batch ? "sgd" : "full batch",
           s->o.fit.lr, (unsigned)s->o.fit.epochs);
    printf("loss: %.6g at initialisation, %.6g at the end\n", r->init_loss, r->fit.loss);
    printf("train-%s: %.6g at initialisation, %.6g at the end\n", what, r->init_metric,
           r->fit.train_metric);
    if (r->nv)
        printf("val-%s: %.6g\n", what, r->fit.val_metric);
    printf("weight-change:");
    for (uint32_t l = 0; l <= s->o.depth; l++)
        printf(" W%u %.4g", (unsigned)l + 1, r->change[l]);
    printf("\n");
    printf("cka-last-hidden: %.4f (initialisation vs end, %zu rows)\n", r->cka, r->metric_rows);
    printf("kernel-distance: %.4f (empirical NTK, initialisation vs end, %zu rows)\n", r->kdist,
           r->kdist_rows);
    printf("kernel-target-alignment: %.4f at initialisation, %.4f at the end\n", r->kta0, r->kta);
    printf("nfa: %.4f at initialisation, %.4f at the end; of dW: %.4f\n", r->nfa0, r->nfa,
           r->nfa_delta);
    top_features(&m->feat, r->agop_diag, r->d);
    printf("seconds-per-epoch: %.4g\n", r->fit.seconds_per_epoch);
}

static int check_files(const struct st *s, km_ctx *ctx, const char *data)
{
    if (s->output && strcmp(s->output, "-") == 0)
        return cli_usage_error(s->cmd, ctx, "-o -: a model cannot be written to standard output; "
                               "give a file name");
    if (s->log && strcmp(s->log, "-") == 0)
        return cli_usage_error(s->cmd, ctx, "--log -: the log cannot be written to standard "
                               "output; give a file name");
    if (s->val && s->val_given)
        return cli_usage_error(s->cmd, ctx, "--val and --val-frac exclude each other");
    const cli_file in[] = {{NULL, data}, {"--val", s->val}};
    const cli_file out[] = {{"-o", s->output}, {"--log", s->log}};
    int rc = cli_check_outputs(ctx, in, 2, out, 2);
    return rc ? cli_fail(ctx, rc) : -1;
}

static int provenance(km_ctx *ctx, int argc, char **argv, const char *data, const km_kmx *d,
                      km_model *m)
{
    m->data_checksum = km_kmx_checksum(d);
    m->version = strdup(PACKAGE_VERSION);
    m->command = cli_join_args(argc, argv);
    m->created = cli_now_iso();
    m->data_path = strdup(strcmp(data, "-") ? data : "(standard input)");
    if (!m->version || !m->command || !m->created || !m->data_path)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

/* Open the inputs, run the job, write the model. */
static int run(struct st *s, km_ctx *ctx, km_pool *pool, int argc, char **argv, const char *data)
{
    km_kmx *d = NULL, *vd = NULL;
    km_model m;
    memset(&m, 0, sizeof m);
    km_mlp_job_result r;
    memset(&r, 0, sizeof r);
    int rc = cli_open_data(ctx, data, cli_io_default(), NULL, pool, NULL, NULL, &d);
    if (!rc && s->val)
        rc = cli_open_data(ctx, s->val, cli_io_default(), NULL, pool, NULL, NULL, &vd);
    s->o.sample.val = vd;
    s->o.sample.val_name = s->val;
    if (!rc && !s->sample_given && km_kmx_rows(d) <= s->o.sample.rows)
        s->o.sample.rows = 0; /* the default takes all of a small dataset, quietly */
    if (!rc)
        rc = km_mlp_train_job(ctx, pool, d, &s->o, &m, &r);
    if (!rc && s->output && !(rc = provenance(ctx, argc, argv, data, d, &m)))
        rc = km_model_save(ctx, &m, s->output);
    if (!rc)
        report(s, &m, &r);
    if (!rc && r.unlabelled)
        km_warn(ctx, "%llu sampled rows without a label were dropped",
                (unsigned long long)r.unlabelled);
    km_mlp_job_result_free(&r);
    km_model_free(&m);
    if (vd)
        km_kmx_close(vd);
    if (d)
        km_kmx_close(d);
    return rc;
}

int cmd_mlp(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    memset(&s, 0, sizeof s);
    s.cmd = cmd;
    s.ctx = ctx;
    km_mlp_job_defaults(&s.o);
    s.o.sample.rows = 10000;
    s.o.sample.val_frac = 0.1;
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "o:", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one DATA argument (a .kmx or CSV file, or -)");
    if (s.val)
        s.o.sample.val_frac = 0;
    int rc = check_files(&s, ctx, argv[first]);
    if (rc >= 0)
        return rc;
    if (s.log) {
        if ((rc = km_outfile_open(ctx, &s.logf, s.log)))
            return cli_fail(ctx, rc);
        s.log_open = 1;
    }
    s.o.fit.on_epoch = on_epoch;
    s.o.fit.arg = &s;
    km_blas_threads(ctx->threads);
    km_pool *pool = NULL;
    if (!(rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err)))
        rc = run(&s, ctx, pool, argc, argv, argv[first]);
    if (s.log_open) {
        if (!rc && s.log_rc) {
            ctx->err = s.log_err;
            rc = s.log_rc;
        }
        if (!rc)
            rc = km_outfile_commit(&s.logf);
        km_outfile_abort(&s.logf);
    }
    km_pool_destroy(pool);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
