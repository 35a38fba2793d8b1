/* cmd_info.c - `kmill info`: what a dataset holds, and --verify; a model
 * file (known by its first bytes) is described by info_model.c. */
#include "config.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/model.h"
#include "kmill/numparse.h"
#include "kmill/progress.h"
#include "kmill/size.h"

const char info_usage[] =
    "Usage: kmill info [OPTIONS] FILE\n"
    "Describe a dataset (.kmx): rows, columns and their types, chunks, sizes and\n"
    "compression ratio, and per-column statistics (min, max, mean, standard\n"
    "deviation, missing values, number of categories). Or describe a model (.kmm):\n"
    "its kind (kernel machine or RFM), task, label and classes, kernel, bandwidth,\n"
    "ridge, metric M, centres, training rows, features, solver and provenance.\n"
    "The kind of file is told by its first bytes, not by its name.\n"
    "\n"
    "      --json        print JSON instead of text\n"
    "      --verify      dataset: read every chunk, check its checksums and category\n"
    "                    codes; model: say that every section checked out (reading\n"
    "                    it checks them all); exit 1 on damage\n"
    "      --io MODE     auto (default), uring or pread\n"
    "  -q, --quiet  -v, --verbose  --threads N  --progress  --no-progress  -h, --help\n";

enum { O_JSON = OPT_CMD_BASE, O_VERIFY, O_IO };

static const struct option longopts[] = {
    {"json", no_argument, NULL, O_JSON},
    {"verify", no_argument, NULL, O_VERIFY},
    {"io", required_argument, NULL, O_IO},
    {NULL, 0, NULL, 0},
};

struct st {
    const cli_cmd *cmd;
    int json, verify, io;
};

static int handle(void *vs, km_ctx *ctx, int opt, const char *arg)
{
    struct st *s = vs;
    switch (opt) {
    case O_JSON: s->json = 1; break;
    case O_VERIFY: s->verify = 1; break;
    case O_IO: return cli_io_arg(s->cmd, ctx, arg, &s->io) ? EXIT_USAGE : -1;
    }
    return -1;
}

struct verify_result {
    uint64_t chunks, bytes;
    double seconds;
};

static int verify(km_ctx *ctx, km_kmx *d, struct verify_result *vr)
{
    km_pool *pool = NULL;
    km_kmx_scan *scan = NULL;
    int rc = km_pool_create(&pool, ctx->threads > 1 ? ctx->threads - 1 : 0, &ctx->err);
    if (!rc)
        rc = km_kmx_scan_open(d, pool, NULL, 0, &scan);
    km_progress p;
    uint64_t ncols = km_kmx_schema(d)->ncols;
    km_progress_start(&p, ctx, "verifying", km_kmx_rows(d) * ncols * 4, "B");
    double t0 = km_now();
    memset(vr, 0, sizeof *vr);
    while (!rc) {
        const float *rows;
        uint32_t n;
        uint64_t first;
        int r = km_kmx_scan_next(scan, &rows, &n, &first);
        if (r <= 0) {
            rc = r;
            break;
        }
        vr->chunks++;
        vr->bytes += (uint64_t)n * ncols * 4;
        km_progress_update(&p, vr->bytes);
    }
    vr->seconds = km_now() - t0;
    km_progress_end(&p);
    km_kmx_scan_close(scan);
    km_pool_destroy(pool);
    return rc;
}

/* min and max are float32 values: print them as cat would */
static void json_f32(double v)
{
    char b[KM_F32_BUFSZ];
    if (isfinite(v)) {
        km_format_f32((float)v, b);
        fputs(b, stdout);
    } else {
        printf("null");
    }
}

/* info --json: the summary, then every column's statistics. */
static void print_json(const char *path, km_kmx *d, const km_kmx_summary *su, int verify,
                       const struct verify_result *vr)
{
    const km_schema *sc = km_kmx_schema(d);
    const km_kmx_source *src = km_kmx_source_info(d);
    printf("{\"file\":");
    cli_json_str(path, strlen(path));
    printf(",\"format\":\"kmx %d.%d\",\"file_bytes\":%llu,\"rows\":%llu,\"columns\":%u,"
           "\"numeric_columns\":%u,\"categorical_columns\":%u,\"chunks\":%llu,"
           "\"rows_per_chunk\":%u,\"raw_bytes\":%llu,\"compressed_bytes\":%llu,"
           "\"compression_ratio\":%.4g,\"filters\":{\"plain\":%llu,\"shuffled\":%llu,"
           "\"u8\":%llu,\"i16\":%llu},\"source\":{\"name\":",
           su->major, su->minor, (unsigned long long)km_kmx_file_size(d),
           (unsigned long long)km_kmx_rows(d), sc->ncols, sc->ncols - su->categorical,
           su->categorical, (unsigned long long)km_kmx_nchunks(d), km_kmx_rows_per_chunk(d),
           (unsigned long long)su->raw_bytes, (unsigned long long)su->comp_bytes, su->ratio,
           (unsigned long long)su->filters[0], (unsigned long long)su->filters[1],
           (unsigned long long)su->filters[2], (unsigned long long)su->filters[3]);
    cli_json_str(src->name ? src->name : "", src->name ? strlen(src->name) : 0);
    printf(",\"bytes\":%llu,\"mtime\":%lld}", (unsigned long long)src->size,
           (long long)src->mtime);
    if (verify)
        printf(",\"verified\":{\"chunks\":%llu,\"decoded_bytes\":%llu,\"seconds\":%.6f}",
               (unsigned long long)vr->chunks, (unsigned long long)vr->bytes, vr->seconds);
    printf(",\"column_stats\":[");
    for (uint32_t j = 0; j < sc->ncols; j++) {
        const km_column *c = &sc->cols[j];
        const km_colstats *t = &c->stats;
        printf("%s{\"name\":", j ? "," : "");
        cli_json_str(c->name, strlen(c->name));
        printf(",\"type\":\"%s\",\"count\":%llu,\"missing\":%llu",
               c->type == KM_COL_CATEGORICAL ? "categorical" : "numeric",
               (unsigned long long)t->count, (unsigned long long)t->missing);
        if (c->type == KM_COL_NUMERIC) {
            double mean, sd;
            km_colstats_moments(t, &mean, &sd);
            printf(",\"min\":");
            json_f32(t->count ? t->min : NAN);
            printf(",\"max\":");
            json_f32(t->count ? t->max : NAN);
            printf(",\"mean\":");
            cli_json_num(mean);
            printf(",\"std\":");
            cli_json_num(sd);
        } else {
            printf(",\"levels\":%u,\"categories\":[", c->nlevels);
            for (uint32_t k = 0; k < c->nlevels; k++) {
                if (k)
                    putchar(',');
                cli_json_str(c->levels[k], c->level_len[k]);
            }
            putchar(']');
        }
        putchar('}');
    }
    printf("]}\n");
}

/* The text form's column table. */
static void print_columns(const km_schema *sc)
{
    size_t w = 6;
    for (uint32_t j = 0; j < sc->ncols; j++)
        if (strlen(sc->cols[j].name) > w)
            w = strlen(sc->cols[j].name);
    if (w > 40)
        w = 40;
    printf("\n%-*s  %-11s  %12s  %12s  %12s  %12s  %9s  %6s\n", (int)w, "column", "type", "min",
           "max", "mean", "std", "missing", "levels");
    for (uint32_t j = 0; j < sc->ncols; j++) {
        const km_column *c = &sc->cols[j];
        const km_colstats *t = &c->stats;
        printf("%-*.*s  %-11s  ", (int)w, (int)w, c->name,
               c->type == KM_COL_CATEGORICAL ? "categorical" : "numeric");
        double mean, sd;
        if (c->type == KM_COL_NUMERIC && km_colstats_moments(t, &mean, &sd)) {
            printf("%12.6g  %12.6g  %12.6g  %12.6g  ", t->min, t->max, mean, sd);
        } else {
            printf("%12s  %12s  %12s  %12s  ", "", "", "", "");
        }
        printf("%9llu  ", (unsigned long long)t->missing);
        if (c->type == KM_COL_CATEGORICAL)
            printf("%6u\n", c->nlevels);
        else
            printf("%6s\n", "");
    }
}

/* info's text form. */
static void print_text(const char *path, km_kmx *d, const km_kmx_summary *su, int verify,
                       const struct verify_result *vr)
{
    static const char *filter_name[4] = {"plain", "shuffled", "u8", "i16"};
    const km_schema *sc = km_kmx_schema(d);
    const km_kmx_source *src = km_kmx_source_info(d);
    char b1[32], b2[32], b3[32];
    printf("file:     %s (%s)\n", path, km_format_size(km_kmx_file_size(d), b1, sizeof b1));
    printf("format:   kmx %d.%d\n", su->major, su->minor);
    printf("rows:     %llu\n", (unsigned long long)km_kmx_rows(d));
    printf("columns:  %u (%u numeric, %u categorical)\n", sc->ncols, sc->ncols - su->categorical,
           su->categorical);
    printf("chunks:   %llu of up to %u rows (", (unsigned long long)km_kmx_nchunks(d),
           km_kmx_rows_per_chunk(d));
    for (int f = 0, lead = 1; f < 4; f++)
        if (su->filters[f]) {
            printf("%s%llu %s", lead ? "" : ", ", (unsigned long long)su->filters[f],
                   filter_name[f]);
            lead = 0;
        }
    printf(")\n");
    printf("data:     %s as float32, %s compressed (ratio %.2f)\n",
           km_format_size(su->raw_bytes, b2, sizeof b2),
           km_format_size(su->comp_bytes, b3, sizeof b3), su->ratio);
    if (src->name && *src->name) {
        printf("source:   %s", src->name);
        if (src->size) {
            char tb[32];
            time_t t = (time_t)src->mtime;
            struct tm tm;
            strftime(tb, sizeof tb, "%Y-%m-%d %H:%M:%S", gmtime_r(&t, &tm));
            printf(" (%s, modified %s UTC)", km_format_size(src->size, b1, sizeof b1), tb);
        }
        putchar('\n');
    }
    if (verify)
        printf("verified: %llu chunks, %s decoded in %.3f s (%.2f GB/s), all checksums match\n",
               (unsigned long long)vr->chunks, km_format_size(vr->bytes, b1, sizeof b1),
               vr->seconds, vr->seconds > 0 ? vr->bytes / vr->seconds / 1e9 : 0.0);
    print_columns(sc);
}

int cmd_info(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    struct st s = {cmd, 0, 0, cli_io_default()};
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, "", longopts, handle, &s, &first);
    if (st >= 0)
        return st;
    if (argc - first != 1)
        return cli_usage_error(cmd, ctx, "expected one file (a dataset or a model)");
    const char *path = argv[first];
    km_kmx *d;
    unsigned major, minor;
    int rc = cli_regular_file(ctx, path, "dataset or model");
    if (!rc && km_model_probe(path, &major, &minor))
        return cli_info_model(ctx, path, major, minor, s.json, s.verify);
    if (!rc)
        rc = cli_not_dataset(ctx, path);
    if (!rc)
        rc = km_kmx_open(ctx, path, s.io, &d);
    if (rc)
        return cli_fail(ctx, rc);
    struct verify_result vr;
    if (s.verify && (rc = verify(ctx, d, &vr))) {
        km_kmx_close(d);
        return cli_fail(ctx, rc);
    }
    km_kmx_summary su;
    km_kmx_summarize(d, &su);
    if (s.json)
        print_json(path, d, &su, s.verify, &vr);
    else
        print_text(path, d, &su, s.verify, &vr);
    km_kmx_close(d);
    return EXIT_OK;
}
