/* columns.c - the column options: how CSV input is read and typed
 * (delimiter, header, missing-value tokens, forced types, dropped
 * columns, bad values, decimal mark). convert takes them, and so do
 * train, predict and eval, which convert CSV input on the fly: one
 * parser, so that each option means the same in every command. */
#include "config.h"
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

int cli_column_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_convert_opts *o)
{
    long n;
    uint64_t sz;
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
