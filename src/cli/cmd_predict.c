/* cmd_predict.c - `kmill predict` and `kmill eval`: a model streamed over a
 * dataset, block by block (km_model_stream), either written out as CSV
 * (after the identifier columns --id names, copied from the data's rows)
 * or summed into metrics (kmill/metrics.h). */
#include "config.h"
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/bytes.h"
#include "kmill/calib.h"
#include "kmill/csv.h"
#include "kmill/io.h"
#include "kmill/log.h"
#include "kmill/metrics.h"
#include "kmill/model.h"
#include "kmill/numparse.h"
#include "kmill/outfile.h"
#include "kmill/blas.h"

const char predict_usage[] =
    "Usage: kmill predict [OPTIONS] MODEL DATA\n"
    "Predict with a trained model: one CSV line per row of DATA (a .kmx dataset,\n"
    "or CSV, or - for standard input), the class label or the value, under a\n"
    "header line 'prediction'.\n"
    "\n"
    "  -o, --output FILE  write to FILE (atomically) instead of standard output\n"
    "      --id COLS      copy these columns of DATA (names, comma-separated; the\n"
    "                     option repeats) first on each line, to join on\n"
    "      --scores       add the raw scores, one column per class (score_CLASS):\n"
    "                     regression outputs on one-hot targets, not probabilities\n"
    "      --proba        add class probabilities (prob_CLASS): softmax(scores / T),\n"
    "                     T fitted on the validation rows in training\n"
    "      --tmpdir DIR   where CSV input is converted (default $TMPDIR or /tmp)\n"
    "      --io MODE      auto (default), uring or pread\n"
    "Reading CSV input (by default as the model's training CSV was read):\n"
    CLI_COLUMN_USAGE
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  --progress  --no-progress\n"
    "  -h, --help\n";

const char eval_usage[] =
    "Usage: kmill eval [OPTIONS] MODEL DATA\n"
    "Evaluate a model on labelled DATA (a .kmx dataset, or CSV, or -):\n"
    "accuracy, per-class precision and recall and the confusion matrix for\n"
    "classification; MSE, RMSE, MAE and R^2 for regression.\n"
    "\n"
    "      --json         print JSON instead of text\n"
    "      --tmpdir DIR   where CSV input is converted (default $TMPDIR or /tmp)\n"
    "      --io MODE      auto (default), uring or pread\n"
    "Reading CSV input (by default as the model's training CSV was read):\n"
    CLI_COLUMN_USAGE
    "  -q, --quiet  -v, --verbose  --mem SIZE  --threads N  --progress  --no-progress\n"
    "  -h, --help\n";

enum { O_SCORES = OPT_CMD_BASE, O_JSON, O_TMPDIR, O_IO, O_ID, O_PROBA };

static const struct option predict_opts[] = {
    {"output", required_argument, NULL, 'o'},
    {"scores", no_argument, NULL, O_SCORES},
    {"id", required_argument, NULL, O_ID},
    {"proba", no_argument, NULL, O_PROBA},
    {"tmpdir", required_argument, NULL, O_TMPDIR},
    {"io", required_argument, NULL, O_IO},
    CLI_COLUMN_LONGOPTS,
    {NULL, 0, NULL, 0},
};

static const struct option eval_opts[] = {
    {"json", no_argument, NULL, O_JSON},
    {"tmpdir", required_argument, NULL, O_TMPDIR},
    {"io", required_argument, NULL, O_IO},
    CLI_COLUMN_LONGOPTS,
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    const char *output, *tmpdir;
    const char *model, *data; /* the arguments */
    int scores, proba, json, io;
    km_convert_opts cols; /* how CSV input is read, over the model's record */
    unsigned cols_given;
    char **ids;          /* --id's column names, in order (malloc'd) */
    uint32_t nids;
};

/* --id LIST: its names onto s->ids. Names only, not numbers: a file to
 * predict on is often laid out otherwise than the training file, and a
 * CSV's numbers would not survive its conversion to the model's columns. */
static int id_arg(struct st *s, km_ctx *ctx, const char *arg)
{
    for (const char *p = arg;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0)
            return cli_usage_error(s->cmd, ctx,
                                   "invalid --id '%s' (column names, separated by commas)", arg);
        char **v = realloc(s->ids, (s->nids + 1) * sizeof *v);
        if (v)
            s->ids = v;
        char *name = v ? km_memdup(p, len) : NULL;
        if (!name)
            return cli_fail(ctx, km_seterr(&ctx->err, KM_ENOMEM, "out of memory"));
        s->ids[s->nids++] = name;
        if (!e)
            return -1;
        p = e + 1;
    }
}

static void ids_free(struct st *s)
{
    for (uint32_t k = 0; k < s->nids; k++)
        free(s->ids[k]);
    free(s->ids);
    s->ids = NULL;
    s->nids = 0;
}

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    switch (opt) {
    case 'o': s->output = arg; break;
    case O_SCORES: s->scores = 1; break;
    case O_ID: return id_arg(s, ctx, arg);
    case O_PROBA: s->proba = 1; break;
    case O_JSON: s->json = 1; break;
    case O_TMPDIR: s->tmpdir = arg; break;
    case O_IO: return cli_io_arg(s->cmd, ctx, arg, &s->io) ? EXIT_USAGE : -1;
    default: {
        int rc = cli_column_opt(s->cmd, ctx, opt, arg, &s->cols, &s->cols_given);
        return rc == -3 ? -1 : rc;
    }
    }
    return -1;
}

static void put_float(km_buf *b, float v)
{
    char t[48];
    size_t n = isnan(v) ? 0 : (size_t)km_format_f32(v, t);
    km_buf_raw(b, t, n);
}

struct pred {
    km_ctx *ctx;
    const km_model *m;
    const km_schema *schema; /* the data's */
    const uint32_t *idc;     /* the --id columns, indices into schema */
    uint32_t nids;
    int scores, proba;
    float *prob;             /* a row's probabilities, with proba */
    FILE *f;
    km_outfile *of;
    km_buf b;
};

static int pred_flush(struct pred *p)
{
    int rc = 0;
    if (p->of)
        rc = km_outfile_write(p->of, p->b.p, p->b.len);
    else if (fwrite(p->b.p, 1, p->b.len, p->f) != p->b.len || fflush(p->f))
        rc = km_seterr(&p->ctx->err, km_errno_code(errno), "error writing predictions: %s",
                       strerror(errno));
    p->b.len = 0;
    return rc;
}

/* A value of column col as the data holds it: a category's text, a
 * number's shortest text, nothing for a missing value. */
static void put_value(km_buf *b, const km_column *col, float v)
{
    if (isnan(v))
        return;
    if (col->type == KM_COL_CATEGORICAL) { /* the dataset's reader checked the code */
        uint32_t k = (uint32_t)v;
        km_csv_put_field(b, col->levels[k], col->level_len[k]);
    } else {
        put_float(b, v);
    }
}

static int pred_block(void *arg, const float *sc, const float *y, const float *rows, size_t n)
{
    (void)y;
    struct pred *p = arg;
    const km_model *m = p->m;
    uint32_t ncols = p->schema->ncols;
    for (size_t i = 0; i < n; i++) {
        const float *s = sc + i * m->c;
        for (uint32_t k = 0; k < p->nids; k++) {
            uint32_t j = p->idc[k];
            put_value(&p->b, &p->schema->cols[j], rows[i * ncols + j]);
            km_buf_raw(&p->b, ",", 1);
        }
        if (m->feat.task == KM_TASK_CLASSIFY) {
            uint32_t k = km_argmax(s, m->c);
            km_csv_put_field(&p->b, m->feat.classes[k], m->feat.class_len[k]);
            for (uint32_t j = 0; p->scores && j < m->c; j++) {
                km_buf_raw(&p->b, ",", 1);
                put_float(&p->b, s[j]);
            }
            if (p->proba)
                km_softmax(s, m->c, m->cal.T, p->prob);
            for (uint32_t j = 0; p->proba && j < m->c; j++) {
                km_buf_raw(&p->b, ",", 1);
                put_float(&p->b, p->prob[j]);
            }
        } else {
            put_float(&p->b, s[0]);
        }
        km_buf_raw(&p->b, "\n", 1);
    }
    if (p->b.oom)
        return km_seterr(&p->ctx->err, KM_ENOMEM, "out of memory");
    return pred_flush(p);
}

/* What a run of predict or eval holds. */
struct run {
    km_model m;
    km_pool *pool;
    km_kmx *d;
};

static void run_close(struct run *r)
{
    km_model_free(&r->m);
    if (r->d)
        km_kmx_close(r->d);
    km_pool_destroy(r->pool);
}

/* How both commands start: parse the options into s, load MODEL, start the
 * pool, open DATA. Returns -1 to go on, or the exit status to stop with
 * (after closing what was opened). */
static int run_open(const cli_cmd *cmd, km_ctx *ctx, int argc, char **argv, const char *shortopts,
                    const struct option *opts, struct st *s, struct run *r)
{
    memset(s, 0, sizeof *s);
    memset(r, 0, sizeof *r);
    s->cmd = cmd;
    s->io = cli_io_default();
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, shortopts, opts, handle, s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 2)
        return cli_usage_error(cmd, ctx, "expected MODEL and DATA");
    if (s->output && strcmp(s->output, "-") == 0)
        s->output = NULL; /* -o -: standard output, as without -o */
    const cli_file in[] = {{NULL, argv[first]}, {NULL, argv[first + 1]}};
    const cli_file out = {"-o", s->output};
    int rc = cli_check_outputs(ctx, in, 2, &out, 1);
    if (!rc)
        rc = cli_regular_file(ctx, argv[first], "model");
    if (!rc)
        rc = km_model_load(ctx, argv[first], &r->m);
    if (!rc)
        rc = km_pool_create(&r->pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err);
    cli_keep keep = {0};
    km_convert_opts co;
    if (!rc)
        rc = cli_model_columns(ctx, &r->m, &s->cols, s->cols_given, strcmp(cmd->name, "eval") == 0,
                               (const char *const *)s->ids, s->nids, &co, &keep);
    if (!rc)
        rc = cli_open_data(ctx, argv[first + 1], s->io, s->tmpdir, r->pool, &co, NULL, &r->d);
    cli_keep_free(&keep);
    if (rc) {
        run_close(r);
        return cli_fail(ctx, rc);
    }
    km_blas_threads(ctx->threads);
    s->model = argv[first];
    s->data = argv[first + 1];
    return -1;
}

/* The --id columns in the data: their indices into *idc (malloc'd), in
 * order. A name the data lacks is an error; a numeric column holding
 * integers beyond 2^24 is warned of, as float32 has lost their digits. */
static int find_ids(km_ctx *ctx, const struct st *s, const km_schema *sch, uint32_t **idc)
{
    if (!(*idc = malloc((s->nids ? s->nids : 1) * sizeof **idc)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    for (uint32_t k = 0; k < s->nids; k++) {
        long j = km_schema_find(sch, s->ids[k]);
        if (j < 0)
            return km_seterr(&ctx->err, KM_EDATA, "%s: no column '%s' (--id)", s->data,
                             s->ids[k]);
        (*idc)[k] = (uint32_t)j;
        const km_column *col = &sch->cols[j];
        if (col->type == KM_COL_NUMERIC && col->stats.count &&
            fmax(fabs(col->stats.min), fabs(col->stats.max)) > 16777216.0)
            km_warn(ctx, "--id column '%s' holds numbers beyond 2^24, stored as 32-bit floats "
                    "to about 7 digits and printed so; convert DATA with --categorical '%s' "
                    "to keep their text", col->name, col->name);
    }
    return 0;
}

/* A column per class, named PREFIX then the class, quoted as a whole
 * when needed. */
static int put_class_names(km_ctx *ctx, struct pred *p, const char *prefix)
{
    const km_model *m = p->m;
    size_t pl = strlen(prefix);
    for (uint32_t j = 0; j < m->c; j++) {
        size_t len = m->feat.class_len[j];
        char *name = malloc(pl + len + 1);
        if (!name)
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        memcpy(name, prefix, pl);
        memcpy(name + pl, m->feat.classes[j], len);
        km_buf_raw(&p->b, ",", 1);
        km_csv_put_field(&p->b, name, pl + len);
        free(name);
    }
    return 0;
}

/* The header line: the --id columns' names, prediction, score_CLASS,
 * prob_CLASS. */
static int put_header(km_ctx *ctx, struct pred *p)
{
    for (uint32_t k = 0; k < p->nids; k++) {
        const char *name = p->schema->cols[p->idc[k]].name;
        km_csv_put_field(&p->b, name, strlen(name));
        km_buf_raw(&p->b, ",", 1);
    }
    km_buf_raw(&p->b, "prediction", 10);
    int rc = 0;
    if (p->scores)
        rc = put_class_names(ctx, p, "score_");
    if (!rc && p->proba)
        rc = put_class_names(ctx, p, "prob_");
    km_buf_raw(&p->b, "\n", 1);
    return rc;
}

/* --proba needs a classification with a temperature (kmill/calib.h). */
static int proba_check(km_ctx *ctx, const km_model *m, const char *path, float **prob)
{
    if (m->feat.task != KM_TASK_CLASSIFY)
        return km_seterr(&ctx->err, KM_EDATA,
                         "%s: a regression model has no class probabilities (--proba)", path);
    if (!m->cal.rows)
        return km_seterr(&ctx->err, KM_EDATA,
                         "%s: no class probabilities (--proba): the model has no temperature "
                         "fitted on validation rows; train it with --val-frac or --val",
                         path);
    if (!(*prob = malloc(m->c * sizeof **prob)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    return 0;
}

int cmd_predict(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    struct run r;
    int st = run_open(cmd, ctx, argc, argv, "o:", predict_opts, &s, &r);
    if (st >= 0) {
        ids_free(&s);
        return st;
    }
    const km_model *m = &r.m;
    km_outfile of;
    struct pred p;
    memset(&p, 0, sizeof p);
    uint32_t *idc = NULL;
    p.ctx = ctx;
    p.m = m;
    p.schema = km_kmx_schema(r.d);
    p.nids = s.nids;
    p.scores = s.scores && m->feat.task == KM_TASK_CLASSIFY;
    p.f = stdout;
    p.proba = s.proba;
    int rc = find_ids(ctx, &s, p.schema, &idc);
    p.idc = idc;
    if (!rc && s.proba)
        rc = proba_check(ctx, m, s.model, &p.prob);
    if (!rc && s.output) {
        rc = km_outfile_open(ctx, &of, s.output);
        if (!rc)
            p.of = &of;
    }
    if (!rc)
        rc = put_header(ctx, &p);
    if (rc)
        goto out;
    uint64_t unseen = 0;
    rc = km_model_stream(ctx, r.pool, m, r.d, 0, pred_block, &p, &unseen);
    if (!rc && unseen)
        km_warn(ctx, "%llu categorical values unseen in training (their features are zero)",
                (unsigned long long)unseen);
    if (!rc && p.b.len) /* the header, when DATA has no rows */
        rc = pred_flush(&p);
    if (!rc && p.of)
        rc = km_outfile_commit(p.of);
out:
    if (p.of)
        km_outfile_abort(p.of);
    free(p.b.p);
    free(p.prob);
    free(idc);
    ids_free(&s);
    run_close(&r);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}

static int eval_block(void *arg, const float *sc, const float *y, const float *rows, size_t n)
{
    (void)rows;
    km_metrics_add(arg, sc, y, n);
    return 0;
}

static void report(const km_metrics *e, const km_features *F, int json)
{
    uint32_t c = e->c;
    if (!e->classify) {
        if (json) {
            /* R^2 is undefined when the labels are all equal: JSON null */
            char r2s[32] = "null";
            if (!isnan(e->r2))
                snprintf(r2s, sizeof r2s, "%.9g", e->r2);
            printf("{\"task\": \"regress\", \"rows\": %llu, \"skipped\": %llu, \"mse\": %.9g, "
                   "\"rmse\": %.9g, \"mae\": %.9g, \"r2\": %s}\n",
                   (unsigned long long)e->rows, (unsigned long long)e->skipped, e->mse, e->rmse,
                   e->mae, r2s);
        }
        else
            printf("rows\t%llu\nmse\t%.6g\nrmse\t%.6g\nmae\t%.6g\nr2\t%.6g\n",
                   (unsigned long long)e->rows, e->mse, e->rmse, e->mae, e->r2);
        return;
    }
    if (json)
        printf("{\"task\": \"classify\", \"rows\": %llu, \"skipped\": %llu, \"accuracy\": %.9g, "
               "\"classes\": [", (unsigned long long)e->rows, (unsigned long long)e->skipped,
               e->accuracy);
    else
        printf("rows\t%llu\naccuracy\t%.6f\n\nclass\tprecision\trecall\tsupport\n",
               (unsigned long long)e->rows, e->accuracy);
    for (uint32_t k = 0; k < c; k++) {
        const km_class_metrics *pk = &e->per_class[k];
        if (json) {
            printf("%s{\"class\": ", k ? ", " : "");
            cli_json_str(F->classes[k], F->class_len[k]);
            printf(", \"precision\": %.9g, \"recall\": %.9g, \"support\": %llu}", pk->precision,
                   pk->recall, (unsigned long long)pk->support);
        } else {
            printf("%.*s\t%.6f\t%.6f\t%llu\n", (int)F->class_len[k], F->classes[k], pk->precision,
                   pk->recall, (unsigned long long)pk->support);
        }
    }
    if (json)
        printf("], \"confusion\": [");
    else
        printf("\nconfusion (rows: true class, columns: predicted)\n");
    for (uint32_t k = 0; k < c; k++) {
        if (json)
            printf("%s[", k ? ", " : "");
        else
            printf("%.*s", (int)F->class_len[k], F->classes[k]);
        for (uint32_t j = 0; j < c; j++)
            printf(json ? "%s%llu" : "%s\t%llu", json && j ? ", " : "",
                   (unsigned long long)e->confusion[(size_t)k * c + j]);
        printf(json ? "]" : "\n");
    }
    if (json)
        printf("]}\n");
}

int cmd_eval(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s;
    struct run r;
    int st = run_open(cmd, ctx, argc, argv, "", eval_opts, &s, &r);
    if (st >= 0)
        return st;
    const km_model *m = &r.m;
    km_metrics_acc acc;
    km_metrics res;
    memset(&res, 0, sizeof res);
    int rc = km_metrics_init(&acc, m->feat.task == KM_TASK_CLASSIFY, m->c, &ctx->err);
    if (rc)
        goto out;
    uint64_t unseen = 0;
    rc = km_model_stream(ctx, r.pool, m, r.d, 1, eval_block, &acc, &unseen);
    if (rc)
        goto out;
    if (unseen)
        km_warn(ctx, "%llu categorical values unseen in training (their features are zero)",
                (unsigned long long)unseen);
    if (acc.skipped)
        km_warn(ctx, "%llu rows skipped: their label is missing or a class unseen in training",
                (unsigned long long)acc.skipped);
    if (!acc.n) {
        rc = km_seterr(&ctx->err, KM_EDATA, "%s: no labelled rows to evaluate on", s.data);
        goto out;
    }
    if ((rc = km_metrics_finish(&acc, &res, &ctx->err)))
        goto out;
    report(&res, &m->feat, s.json);
    if (fflush(stdout))
        rc = km_seterr(&ctx->err, km_errno_code(errno), "error writing standard output: %s",
                       strerror(errno));
out:
    km_metrics_acc_free(&acc);
    km_metrics_free(&res);
    run_close(&r);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
