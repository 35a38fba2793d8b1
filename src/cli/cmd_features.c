/* cmd_features.c - `kmill features`: what an RFM model's feature matrix M
 * says about the inputs (kmill/featrank.h): diag(M) ranked by source
 * column, the top eigenvalues and eigenvectors of M, or M itself as CSV. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/bytes.h"
#include "kmill/csv.h"
#include "kmill/featrank.h"
#include "kmill/model.h"
#include "kmill/numparse.h"

const char features_usage[] =
    "Usage: kmill features [OPTIONS] MODEL\n"
    "Rank the input columns of a Recursive Feature Machine model by its learned\n"
    "feature matrix M: diag(M) per column (one-hot levels summed), and the top\n"
    "eigenvalues and eigenvectors of M.\n"
    "\n"
    "      --top K     columns and eigenvalues to show (default 10; 0: all)\n"
    "      --json      the report as JSON (eigenvectors in full)\n"
    "      --matrix    print M as CSV (a header of feature names, then d rows)\n"
    "  -q, --quiet  -v, --verbose  -h, --help\n";

enum { O_TOP = OPT_CMD_BASE, O_JSON, O_MATRIX };

static const struct option longopts[] = {
    {"top", required_argument, NULL, O_TOP},
    {"json", no_argument, NULL, O_JSON},
    {"matrix", no_argument, NULL, O_MATRIX},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    long top;
    int json, matrix;
};

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    switch (opt) {
    case O_TOP:
        return cli_int_arg(s->cmd, ctx, "--top", arg, 0, 1000000000, &s->top) ? EXIT_USAGE : -1;
    case O_JSON: s->json = 1; break;
    case O_MATRIX: s->matrix = 1; break;
    }
    return -1;
}

static void print_f32(float v)
{
    char b[KM_F32_BUFSZ];
    km_format_f32(v, b);
    fputs(b, stdout);
}

/* 0 for a kernel machine; for a network KM_EDATA, saying what to use
 * instead (m freed). */
static int not_kernel(km_ctx *ctx, const char *path, km_model *m)
{
    if (m->kind != KM_MODEL_NET)
        return 0;
    km_seterr(&ctx->err, KM_EDATA, "%s: a network has no kernel feature matrix to rank; kmill mlp "
              "reports its AGOP's largest diagonal entries (agop-top) and its feature ansatz (nfa)",
              path);
    km_model_free(m);
    return KM_EDATA;
}

int cmd_features(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s = {cmd, 10, 0, 0};
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one MODEL argument");
    if (s.json && s.matrix)
        return cli_usage_error(cmd, ctx, "--json and --matrix exclude each other");
    const char *path = argv[first];
    km_model m;
    int rc = cli_regular_file(ctx, path, "model");
    if (rc || (rc = km_model_load(ctx, path, &m)) || (rc = not_kernel(ctx, path, &m)))
        return cli_fail(ctx, rc);
    if (m.metric == KM_METRIC_NONE) {
        km_seterr(&ctx->err, KM_EDATA,
                  m.sel && m.agop_samples ? "%s: the RFM's best iteration was 0, the plain kernel: its "
                                "feature matrix is the identity and ranks nothing"
                              : "%s: no learned feature matrix (trained without --rfm): "
                                "nothing to rank",
                  path);
        km_model_free(&m);
        return cli_fail(ctx, KM_EDATA);
    }
    size_t d = m.d;
    km_featrank r;
    rc = km_featrank_compute(&ctx->err, path, m.M, m.metric, &m.feat, (size_t)s.top, !s.matrix,
                             &r);
    if (rc)
        goto out;
    if (s.matrix) {
        km_buf h = {0};
        for (size_t j = 0; j < d; j++) {
            if (j)
                km_buf_raw(&h, ",", 1);
            km_csv_put_field(&h, r.names[j], strlen(r.names[j]));
        }
        km_buf_raw(&h, "\n", 1);
        if (h.oom) {
            free(h.p);
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            goto out;
        }
        fwrite(h.p, 1, h.len, stdout);
        free(h.p);
        for (size_t i = 0; i < d; i++) {
            for (size_t j = 0; j < d; j++) {
                if (j)
                    putchar(',');
                print_f32((float)r.M[i * d + j]);
            }
            putchar('\n');
        }
        goto out;
    }
    const char *kind = m.metric == KM_METRIC_DIAG ? "diagonal" : "full";
    if (s.json) {
        printf("{\"model\":");
        cli_json_str(path, strlen(path));
        printf(",\"metric\":\"%s\",\"features\":%zu,\"trace\":", kind, d);
        cli_json_num(r.trace);
        printf(",\"rfm_iteration\":%u,\"columns\":[", m.best_iter);
        for (size_t k = 0; k < r.ncols; k++) {
            const km_featcol *fc = &m.feat.cols[r.cols[k].col];
            printf("%s{\"rank\":%zu,\"column\":", k ? "," : "", k + 1);
            cli_json_str(fc->name, strlen(fc->name));
            printf(",\"importance\":");
            cli_json_num(r.cols[k].importance);
            printf(",\"share\":");
            cli_json_num(r.cols[k].share);
            printf("}");
        }
        printf("],\"eigen\":[");
        for (size_t k = 0; k < r.neig; k++) {
            printf("%s{\"rank\":%zu,\"value\":", k ? "," : "", k + 1);
            cli_json_num(r.values[k]);
            printf(",\"share\":");
            cli_json_num(r.shares[k]);
            printf(",\"vector\":[");
            for (size_t j = 0; j < d; j++) {
                if (j)
                    putchar(',');
                cli_json_num(r.vectors[k * d + j]);
            }
            printf("]}");
        }
        printf("],\"names\":[");
        for (size_t j = 0; j < d; j++) {
            if (j)
                putchar(',');
            cli_json_str(r.names[j], strlen(r.names[j]));
        }
        printf("]}\n");
        goto out;
    }
    printf("# %s: %s feature matrix over %zu features, trace %.6g (RFM iteration %u)\n", path,
           kind, d, r.trace, m.best_iter);
    printf("rank\timportance\tshare\tcolumn\n");
    for (size_t k = 0; k < r.ncols; k++)
        printf("%zu\t%.6g\t%.4f\t%s\n", k + 1, r.cols[k].importance, r.cols[k].share,
               m.feat.cols[r.cols[k].col].name);
    printf("\n# top eigenvalues of M, each with its eigenvector's largest loadings\n");
    printf("rank\teigenvalue\tshare\tloadings\n");
    for (size_t k = 0; k < r.neig; k++) {
        const double *v = r.vectors + k * d;
        const uint32_t *ld = r.lead + k * KM_FEATRANK_LEAD;
        printf("%zu\t%.6g\t%.4f\t", k + 1, r.values[k], r.shares[k]);
        /* up to five, leaving out the zeros (a diagonal M's eigenvectors
         * are single features) */
        for (size_t j = 0; j < d && j < KM_FEATRANK_LEAD && (j == 0 || fabs(v[ld[j]]) >= 5e-4); j++)
            printf("%s%s %+.3f", j ? ", " : "", r.names[ld[j]], v[ld[j]]);
        putchar('\n');
    }
out:
    km_featrank_free(&r);
    km_model_free(&m);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
