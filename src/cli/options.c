/* options.c - option values several subcommands share, parsed in one
 * place so that they mean the same everywhere: number lists (--reg,
 * --bandwidth), a choice among names, the kernel (--kernel, --bandwidth)
 * with its parameters (--bandwidth; --depth, --sw2, --sb2 for the
 * dot-product kernels) and how the features are made (--label, --task,
 * --scale), as kmill train takes them. A kernel family added to
 * kmill/kernel.h is added here, and every command that takes --kernel
 * has it. */
#include "config.h"
#include <math.h>
#include <string.h>

#include "cli.h"
#include "kmill/log.h"

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

void cli_kernel_init(cli_kernel_args *a, km_kernel *k)
{
    memset(a, 0, sizeof *a);
    a->k = k;
    k->depth = 1; /* the dot-product kernels' defaults */
    k->sw2 = 2;
    k->sb2 = 0.1;
}

/* --depth, --sw2, --sb2: the dot-product kernels' parameters. */
static int dot_arg(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, cli_kernel_args *a)
{
    long v;
    double x;
    if (opt == OPT_DEPTH) {
        if (cli_int_arg(cmd, ctx, "--depth", arg, 1, KM_KERNEL_MAX_DEPTH, &v))
            return EXIT_USAGE;
        a->k->depth = (int)v;
        a->dot_opt = "--depth";
        return -1;
    }
    const char *name = opt == OPT_SW2 ? "--sw2" : "--sb2";
    if (cli_double_arg(cmd, ctx, name, arg, &x))
        return EXIT_USAGE;
    if (!(isfinite(x) && (opt == OPT_SW2 ? x > 0 : x >= 0)))
        return cli_usage_error(cmd, ctx, "%s must be a %s number, not '%s'", name,
                               opt == OPT_SW2 ? "positive" : "non-negative", arg);
    *(opt == OPT_SW2 ? &a->k->sw2 : &a->k->sb2) = x;
    a->dot_opt = name;
    return -1;
}

int cli_kernel_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg,
                   cli_kernel_args *a)
{
    static const char *const names[] = {"laplace", "gaussian", "ntk", "nngp", NULL};
    switch (opt) {
    case OPT_KERNEL: return cli_choice(cmd, ctx, "--kernel", arg, names, &a->k->type);
    case OPT_BANDWIDTH: {
        int r = cli_num_list(cmd, ctx, "--bandwidth", arg, 0, a->bw, &a->nbw);
        a->k->bandwidth = a->bw[0];
        return r;
    }
    case OPT_DEPTH:
    case OPT_SW2:
    case OPT_SB2: return dot_arg(cmd, ctx, opt, arg, a);
    }
    return -3;
}

int cli_kernel_check(const cli_cmd *cmd, km_ctx *ctx, cli_kernel_args *a)
{
    km_kernel *k = a->k;
    if (km_kernel_radial(k)) {
        if (a->dot_opt)
            return cli_usage_error(cmd, ctx, "%s applies only to --kernel ntk or nngp",
                                   a->dot_opt);
        k->depth = 0, k->sw2 = k->sb2 = 0;
        return -1;
    }
    if (a->nbw)
        return cli_usage_error(cmd, ctx, "--bandwidth applies only to --kernel laplace or "
                               "gaussian: %s has no bandwidth", km_kernel_name(k->type));
    k->bandwidth = 0;
    return -1;
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
                 cli_kernel_args *k, km_convert_opts *cols, unsigned *given)
{
    int rc = cli_feat_opt(cmd, ctx, opt, arg, f);
    if (rc == -3)
        rc = cli_kernel_opt(cmd, ctx, opt, arg, k);
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
