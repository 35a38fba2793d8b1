/* columns.c - the column options: how CSV input is read and typed
 * (delimiter, header, missing-value tokens, forced types, dropped
 * columns, bad values, decimal mark). convert takes them, and so do
 * train, predict and eval, which convert CSV input on the fly: one
 * parser, so that each option means the same in every command. */
#include "config.h"
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kmill/size.h"

static int delimiter(const cli_cmd *cmd, km_ctx *ctx, const char *arg, char *out)
{
    if (strcmp(arg, "tab") == 0 || strcmp(arg, "\\t") == 0)
        *out = '\t';
    else if (strlen(arg) == 1 && arg[0] != '"' && arg[0] != '\n' && arg[0] != '\r')
        *out = arg[0];
    else
        return cli_usage_error(cmd, ctx, "invalid --delimiter '%s' (one character, or 'tab')", arg);
    return -1;
}

int cli_column_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_convert_opts *o,
                   unsigned *given)
{
    long n;
    uint64_t sz;
    if (given && opt >= OPT_COL_DELIM && opt <= OPT_COL_MAXLINE)
        *given |= CLI_COL_BIT(opt);
    switch (opt) {
    case OPT_COL_DELIM: return delimiter(cmd, ctx, arg, &o->delim);
    case OPT_COL_NOHEADER: o->no_header = 1; return -1;
    case OPT_COL_NA: o->na_values = arg; return -1;
    case OPT_COL_CAT: o->categorical = arg; return -1;
    case OPT_COL_NUM: o->numeric = arg; return -1;
    case OPT_COL_DROP: o->drop = arg; return -1;
    case OPT_COL_LAZY: o->lazy_quotes = 1; return -1;
    case OPT_COL_MAXLEV:
        if (cli_int_arg(cmd, ctx, "--max-levels", arg, 1, 16777216, &n))
            return EXIT_USAGE;
        o->max_levels = (uint32_t)n;
        return -1;
    case OPT_COL_BAD:
        if (strcmp(arg, "error") == 0) o->bad_values = KM_BAD_ERROR;
        else if (strcmp(arg, "missing") == 0) o->bad_values = KM_BAD_MISSING;
        else return cli_usage_error(cmd, ctx, "invalid --bad-values '%s' (error or missing)", arg);
        return -1;
    case OPT_COL_DECIMAL:
        if (strcmp(arg, ".") != 0 && strcmp(arg, ",") != 0)
            return cli_usage_error(cmd, ctx, "invalid --decimal '%s' ('.' or ',')", arg);
        o->decimal = arg[0];
        return -1;
    case OPT_COL_RAGGED:
        if (strcmp(arg, "error") == 0) o->ragged = KM_RAGGED_ERROR;
        else if (strcmp(arg, "fill") == 0) o->ragged = KM_RAGGED_FILL;
        else if (strcmp(arg, "skip") == 0) o->ragged = KM_RAGGED_SKIP;
        else return cli_usage_error(cmd, ctx, "invalid --ragged '%s' (error, fill or skip)", arg);
        return -1;
    case OPT_COL_MAXLINE:
        if (km_parse_size(arg, &sz, &ctx->err) < 0 || sz < 16 || sz > ((uint64_t)1 << 32))
            return cli_usage_error(cmd, ctx, "invalid --max-line '%s' (16 bytes to 4G)", arg);
        o->max_line = (size_t)sz;
        return -1;
    }
    return -3;
}

/* The model's record of how its training CSV was read: the options, and
 * the names of the columns forced categorical (forced, from the
 * conversion, per column of d), since a number in a list would name
 * another column in a file laid out otherwise. */
int cli_model_read(km_ctx *ctx, const km_convert_opts *cols, const km_convert_result *cr,
                   const km_kmx *d, km_model_read *rd)
{
    const unsigned char *forced = cr->forced;
    const km_schema *s = km_kmx_schema(d);
    memset(rd, 0, sizeof *rd);
    rd->given = 1;
    rd->delim = cols->delim;
    rd->decimal = cols->decimal;
    rd->decimal_used = cr->decimal;
    rd->no_header = cols->no_header;
    rd->bad_values = cols->bad_values;
    rd->ragged = cols->ragged;
    rd->lazy_quotes = cols->lazy_quotes;
    rd->max_levels = cols->max_levels;
    if (cols->na_values && !(rd->na_values = strdup(cols->na_values)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    if (!(rd->cat = calloc((size_t)s->ncols + 1, sizeof *rd->cat)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    for (uint32_t j = 0; j < s->ncols; j++) {
        if (forced[j] != 2)
            continue;
        if (!(rd->cat[rd->ncat++] = strdup(s->cols[j].name)))
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    return 0;
}

void cli_keep_free(cli_keep *k)
{
    free(k->names);
    free(k->types);
    memset(k, 0, sizeof *k);
}

/* Whether name is one of the model's forced categorical columns. */
static int forced_cat(const km_model_read *rd, const char *name)
{
    for (uint32_t k = 0; k < rd->ncat; k++)
        if (strcmp(rd->cat[k], name) == 0)
            return 1;
    return 0;
}

/* Whether name is one of the model's columns, a feature or the label. */
static int model_column(const km_features *f, const char *name)
{
    for (uint32_t j = 0; j < f->ncols; j++)
        if (strcmp(f->cols[j].name, name) == 0)
            return 1;
    return strcmp(f->label, name) == 0;
}

int cli_model_columns(km_ctx *ctx, const km_model *m, const km_convert_opts *cl, unsigned given,
                      int need_label, const char *const *extra, uint32_t nextra,
                      km_convert_opts *co, cli_keep *keep)
{
    const km_model_read *rd = &m->read;
    const km_features *f = &m->feat;
    *co = *cl;
    if (rd->given) { /* the model's, where the command line is silent */
        if (!(given & CLI_COL_BIT(OPT_COL_DELIM))) co->delim = rd->delim;
        if (!(given & CLI_COL_BIT(OPT_COL_DECIMAL))) co->decimal = rd->decimal;
        co->decimal_hint = rd->decimal_used;
        if (!(given & CLI_COL_BIT(OPT_COL_NOHEADER))) co->no_header = rd->no_header;
        if (!(given & CLI_COL_BIT(OPT_COL_BAD))) co->bad_values = rd->bad_values;
        if (!(given & CLI_COL_BIT(OPT_COL_RAGGED))) co->ragged = rd->ragged;
        if (!(given & CLI_COL_BIT(OPT_COL_LAZY))) co->lazy_quotes = rd->lazy_quotes;
        if (!(given & CLI_COL_BIT(OPT_COL_MAXLEV))) co->max_levels = rd->max_levels;
        if (!(given & CLI_COL_BIT(OPT_COL_NA))) co->na_values = rd->na_values;
    }
    /* the columns the model binds (and the label): numeric ones must be
     * numbers; categorical ones categorical as in training, forced (text
     * as written) or inferred (numbers as their text), even where this
     * file holds mostly numbers */
    uint32_t n = f->ncols;
    keep->names = calloc((size_t)n + 1 + nextra, sizeof *keep->names);
    keep->types = calloc((size_t)n + 1 + nextra, 1);
    if (!keep->names || !keep->types)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    for (uint32_t j = 0; j < f->ncols; j++) {
        const km_featcol *fc = &f->cols[j];
        keep->names[j] = fc->name;
        keep->types[j] = fc->type != KM_COL_CATEGORICAL ? 1 : forced_cat(rd, fc->name) ? 2 : 3;
    }
    /* the label, when eval needs it or --id names it (predict reads no
     * label: one it cannot read must not stop it); a regression's must
     * be numbers, read as in training (--bad-values) */
    int label = need_label;
    for (uint32_t k = 0; k < nextra; k++)
        label |= strcmp(extra[k], f->label) == 0;
    if (label) {
        keep->names[n] = f->label;
        keep->types[n++] = forced_cat(rd, f->label) ? 2 : f->task == KM_TASK_REGRESS ? 1 : 0;
    }
    /* the others as text as written, with no bound on their levels but
     * KM_ID_LEVELS; a model's column named again keeps its type (a
     * numeric feature forced categorical as well would be refused) */
    for (uint32_t k = 0; k < nextra; k++) {
        if (model_column(f, extra[k]))
            continue;
        keep->names[n] = extra[k];
        keep->types[n++] = 4; /* an identifier: a level per row */
    }
    co->keep = keep->names;
    co->keep_type = keep->types;
    co->nkeep = n;
    return 0;
}
