/* options.c - option values several subcommands share, parsed in one
 * place so that they mean the same everywhere: number lists (--reg,
 * --bandwidth), a choice among names, the kernel (--kernel, --bandwidth)
 * and how the features are made (--label, --task, --scale), as kmill
 * train takes them. A kernel family added to kmill/kernel.h is added to
 * the names here, and every command that takes --kernel has it. */
#include "config.h"
#include <math.h>
#include <string.h>

#include "cli.h"
#include "kmill/log.h"

/* The kernels' names, indexed by KM_KERNEL_*. */
static const char *const kernel_names[] = {"laplace", "gaussian", NULL};

const char *cli_kernel_name(int type)
{
    return type >= 0 && type < (int)(sizeof kernel_names / sizeof *kernel_names) - 1
               ? kernel_names[type]
               : "unknown";
}

int cli_num_list(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg, int zero_ok,
                 double *vals, size_t *n)
{
    char buf[1024];
    if (strlen(arg) >= sizeof buf)
        return cli_usage_error(cmd, ctx, "%s: list too long", opt);
    strcpy(buf, arg);
    *n = 0;
    size_t len = strlen(arg);
    if (!len || arg[0] == ',' || arg[len - 1] == ',' || strstr(arg, ",,"))
        return cli_usage_error(cmd, ctx, "%s: empty value in the list '%s'", opt, arg);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == CLI_LIST_MAX)
            return cli_usage_error(cmd, ctx, "%s: at most %d values", opt, CLI_LIST_MAX);
        if (cli_double_arg(cmd, ctx, opt, tok, &vals[*n]))
            return EXIT_USAGE;
        (*n)++;
    }
    if (!*n)
        return cli_usage_error(cmd, ctx, "%s needs a value", opt);
    for (size_t i = 0; i < *n; i++) {
        double x = vals[i];
        int ok = isfinite(x) && (x > 0 || (x == 0 && zero_ok && *n == 1));
        if (!ok)
            return cli_usage_error(cmd, ctx, "%s must be %s, not '%s'", opt,
                                   *n > 1 ? "a list of positive numbers"
                                   : zero_ok ? "a non-negative number"
                                             : "a positive number",
                                   arg);
    }
    return -1;
}

int cli_choice(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
               const char *const *names, int *out)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(arg, names[i]) == 0) {
            *out = i;
            return -1;
        }
    return cli_usage_error(cmd, ctx, "invalid %s '%s'", opt, arg);
}

int cli_kernel_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_kernel *k,
                   double *bw, size_t *nbw)
{
    switch (opt) {
    case OPT_KERNEL: return cli_choice(cmd, ctx, "--kernel", arg, kernel_names, &k->type);
    case OPT_BANDWIDTH: {
        int r = cli_num_list(cmd, ctx, "--bandwidth", arg, 0, bw, nbw);
        k->bandwidth = bw[0];
        return r;
    }
    }
    return -3;
}

int cli_feat_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_feat_opts *f)
{
    static const char *const tasks[] = {"auto", "classify", "regress", NULL};
    static const char *const scales[] = {"standard", "minmax", "none", NULL};
    switch (opt) {
    case OPT_LABEL: f->label = arg; return -1;
    case OPT_TASK: return cli_choice(cmd, ctx, "--task", arg, tasks, &f->task);
    case OPT_SCALE: return cli_choice(cmd, ctx, "--scale", arg, scales, &f->scale);
    }
    return -3;
}

int cli_data_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_feat_opts *f,
                 km_kernel *k, double *bw, size_t *nbw, km_convert_opts *cols, unsigned *given)
{
    int rc = cli_feat_opt(cmd, ctx, opt, arg, f);
    if (rc == -3)
        rc = cli_kernel_opt(cmd, ctx, opt, arg, k, bw, nbw);
    if (rc == -3)
        rc = cli_column_opt(cmd, ctx, opt, arg, cols, given);
    return rc;
}

void cli_data_columns(km_ctx *ctx, const char *path, const km_convert_result *cr,
                      const km_convert_opts *cols, unsigned given, km_feat_opts *f)
{
    if (cr->forced) /* CSV, converted as the options said */
        return;
    f->drop = cols->drop;
    if (given & ~CLI_COL_BIT(OPT_COL_DROP))
        km_warn(ctx, "%s is a dataset: the column options other than --drop apply to CSV input",
                path);
}
