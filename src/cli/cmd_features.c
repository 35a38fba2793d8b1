/* cmd_features.c - `kmill features`: what an RFM model's feature matrix M
 * says about the inputs. diag(M) ranked, with the one-hot features of a
 * categorical column summed back to that column; the top eigenvalues and
 * eigenvectors of M (LAPACKE dsyevd, in float64); or M itself as CSV. */
#include "config.h"
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/bytes.h"
#include "kmill/csv.h"
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

/* The source column of feature f, and its level for a one-hot feature
 * (-1 for a numeric column). */
static const km_featcol *feature_col(const km_features *F, uint32_t f, long *level)
{
    for (uint32_t i = 0; i < F->ncols; i++) {
        const km_featcol *c = &F->cols[i];
        uint32_t w = c->type == KM_COL_CATEGORICAL ? c->nlevels : 1;
        if (f >= c->first && f < c->first + w) {
            *level = c->type == KM_COL_CATEGORICAL ? (long)(f - c->first) : -1;
            return c;
        }
    }
    *level = -1;
    return NULL;
}

/* "name" or "name=level" into a malloc'd string */
static char *feature_name(const km_features *F, uint32_t f)
{
    long lv;
    const km_featcol *c = feature_col(F, f, &lv);
    const char *nm = c ? c->name : "?";
    size_t nl = strlen(nm), ll = lv >= 0 ? c->level_len[lv] : 0;
    char *s = malloc(nl + ll + 2);
    if (!s)
        return NULL;
    memcpy(s, nm, nl);
    if (lv >= 0) {
        s[nl] = '=';
        memcpy(s + nl + 1, c->levels[lv], ll);
        nl += ll + 1;
    }
    s[nl] = 0;
    return s;
}

static void print_f32(float v)
{
    char b[KM_F32_BUFSZ];
    km_format_f32(v, b);
    fputs(b, stdout);
}

struct rank {
    double v;
    uint32_t i;
};

static int by_value_desc(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : (x->i > y->i) - (x->i < y->i);
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
    int rc = km_model_load(ctx, path, &m);
    if (rc)
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
    double *M = calloc(d * d + 1, sizeof *M), *w = malloc((d + 1) * sizeof *w);
    char **names = calloc(d + 1, sizeof *names);
    struct rank *cols = calloc(m.feat.ncols + 1, sizeof *cols);
    if (!M || !w || !names || !cols) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < d; i++) {
        if (m.metric == KM_METRIC_DIAG)
            M[i * d + i] = m.M[i];
        else
            for (size_t j = 0; j < d; j++)
                M[i * d + j] = m.M[i * d + j];
        if (!(names[i] = feature_name(&m.feat, (uint32_t)i))) {
            rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            goto out;
        }
    }
    if (s.matrix) {
        km_buf h = {0};
        for (size_t j = 0; j < d; j++) {
            if (j)
                km_buf_raw(&h, ",", 1);
            km_csv_put_field(&h, names[j], strlen(names[j]));
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
                print_f32((float)M[i * d + j]);
            }
            putchar('\n');
        }
        goto out;
    }
    /* importance per source column: the diagonal, one-hot levels summed */
    double trace = 0;
    for (uint32_t c = 0; c < m.feat.ncols; c++) {
        const km_featcol *fc = &m.feat.cols[c];
        uint32_t wdt = fc->type == KM_COL_CATEGORICAL ? fc->nlevels : 1;
        cols[c].i = c;
        for (uint32_t k = 0; k < wdt; k++)
            cols[c].v += M[(size_t)(fc->first + k) * (d + 1)];
        trace += cols[c].v;
    }
    qsort(cols, m.feat.ncols, sizeof *cols, by_value_desc);
    /* eigenpairs, largest first (dsyevd gives them ascending) */
    double *V = malloc(d * d * sizeof *V + 1);
    if (!V) {
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(V, M, d * d * sizeof *V);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)d, V, (lapack_int)d, w);
    if (info) {
        free(V);
        rc = km_seterr(&ctx->err, KM_ENUMERIC, "%s: eigendecomposition of M failed (%d)", path,
                       (int)info);
        goto out;
    }
    size_t kc = s.top && (size_t)s.top < m.feat.ncols ? (size_t)s.top : m.feat.ncols;
    size_t ke = s.top && (size_t)s.top < d ? (size_t)s.top : d;
    const char *kind = m.metric == KM_METRIC_DIAG ? "diagonal" : "full";
    if (s.json) {
        printf("{\"model\":");
        cli_json_str(path, strlen(path));
        printf(",\"metric\":\"%s\",\"features\":%zu,\"trace\":", kind, d);
        cli_json_num(trace);
        printf(",\"rfm_iteration\":%u,\"columns\":[", m.best_iter);
        for (size_t r = 0; r < kc; r++) {
            const km_featcol *fc = &m.feat.cols[cols[r].i];
            printf("%s{\"rank\":%zu,\"column\":", r ? "," : "", r + 1);
            cli_json_str(fc->name, strlen(fc->name));
            printf(",\"importance\":");
            cli_json_num(cols[r].v);
            printf(",\"share\":");
            cli_json_num(trace > 0 ? cols[r].v / trace : NAN);
            printf("}");
        }
        printf("],\"eigen\":[");
        for (size_t r = 0; r < ke; r++) {
            size_t e = d - 1 - r;
            printf("%s{\"rank\":%zu,\"value\":", r ? "," : "", r + 1);
            cli_json_num(w[e]);
            printf(",\"share\":");
            cli_json_num(trace > 0 ? w[e] / trace : NAN);
            printf(",\"vector\":[");
            for (size_t j = 0; j < d; j++) {
                if (j)
                    putchar(',');
                cli_json_num(V[j * d + e]);
            }
            printf("]}");
        }
        printf("],\"names\":[");
        for (size_t j = 0; j < d; j++) {
            if (j)
                putchar(',');
            cli_json_str(names[j], strlen(names[j]));
        }
        printf("]}\n");
        free(V);
        goto out;
    }
    printf("# %s: %s feature matrix over %zu features, trace %.6g (RFM iteration %u)\n", path,
           kind, d, trace, m.best_iter);
    printf("rank\timportance\tshare\tcolumn\n");
    for (size_t r = 0; r < kc; r++)
        printf("%zu\t%.6g\t%.4f\t%s\n", r + 1, cols[r].v, trace > 0 ? cols[r].v / trace : NAN,
               m.feat.cols[cols[r].i].name);
    printf("\n# top eigenvalues of M, each with its eigenvector's largest loadings\n");
    printf("rank\teigenvalue\tshare\tloadings\n");
    struct rank *ld = malloc(d * sizeof *ld);
    for (size_t r = 0; ld && r < ke; r++) {
        size_t e = d - 1 - r;
        printf("%zu\t%.6g\t%.4f\t", r + 1, w[e], trace > 0 ? w[e] / trace : NAN);
        for (size_t j = 0; j < d; j++) {
            ld[j].v = fabs(V[j * d + e]);
            ld[j].i = (uint32_t)j;
        }
        qsort(ld, d, sizeof *ld, by_value_desc);
        /* up to five, leaving out the zeros (a diagonal M's eigenvectors
         * are single features) */
        for (size_t j = 0; j < d && j < 5 && (j == 0 || ld[j].v >= 5e-4); j++)
            printf("%s%s %+.3f", j ? ", " : "", names[ld[j].i], V[ld[j].i * d + e]);
        putchar('\n');
    }
    free(ld);
    free(V);
out:
    if (names)
        for (size_t i = 0; i < d; i++)
            free(names[i]);
    free(names);
    free(M);
    free(w);
    free(cols);
    km_model_free(&m);
    return rc ? cli_fail(ctx, rc) : EXIT_OK;
}
