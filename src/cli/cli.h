/* cli.h - what the subcommands share: the command table, option parsing
 * with the common options (-q -v --mem --threads --progress --help), and
 * the mapping from library error codes to messages and exit statuses.
 * This layer is the only one that prints for humans or decides exit codes:
 * 0 success, 1 runtime or data error, 2 usage error, 128 + the signal's
 * number when stopped by SIGINT, SIGTERM, SIGHUP or SIGQUIT. */
#ifndef KMILL_CLI_H
#define KMILL_CLI_H

#include <getopt.h>
#include <stdio.h>

#include "kmill/convert.h"
#include "kmill/features.h"
#include "kmill/kernel.h"
#include "kmill/ctx.h"
#include "kmill/kmx.h"
#include "kmill/model.h"
#include "kmill/pool.h"

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_USAGE = 2 };

typedef struct cli_cmd {
    const char *name;
    const char *summary;                 /* one line for `kmill --help` */
    const char *usage;                   /* full --help text */
    int (*run)(const struct cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
    int blas; /* uses BLAS; the others first stop its idle threads */
} cli_cmd;

/* Long-option values above any character, shared by every command. */
enum {
    OPT_MEM = 1000, OPT_THREADS, OPT_PROGRESS, OPT_NO_PROGRESS,
    /* the column options (columns.c) */
    OPT_COL_DELIM = 1050, OPT_COL_NOHEADER, OPT_COL_NA, OPT_COL_CAT, OPT_COL_NUM, OPT_COL_DROP,
    OPT_COL_MAXLEV, OPT_COL_BAD, OPT_COL_DECIMAL, OPT_COL_RAGGED, OPT_COL_LAZY, OPT_COL_MAXLINE,
    /* the kernel and the features (options.c) */
    OPT_KERNEL = 1070, OPT_BANDWIDTH, OPT_DEPTH, OPT_SW2, OPT_SB2, OPT_LABEL, OPT_TASK,
    OPT_SCALE,
    OPT_CMD_BASE = 1100 /* commands number their own long options from here */
};

/* How CSV input is read and typed: convert's options, taken too by train,
 * predict and eval, which convert CSV input on the fly (columns.c). The
 * entries go into a command's long options; -d is convert's alone. */
#define CLI_COLUMN_LONGOPTS \
    {"delimiter", required_argument, NULL, OPT_COL_DELIM}, \
    {"no-header", no_argument, NULL, OPT_COL_NOHEADER}, \
    {"na-values", required_argument, NULL, OPT_COL_NA}, \
    {"categorical", required_argument, NULL, OPT_COL_CAT}, \
    {"numeric", required_argument, NULL, OPT_COL_NUM}, \
    {"drop", required_argument, NULL, OPT_COL_DROP}, \
    {"max-levels", required_argument, NULL, OPT_COL_MAXLEV}, \
    {"bad-values", required_argument, NULL, OPT_COL_BAD}, \
    {"decimal", required_argument, NULL, OPT_COL_DECIMAL}, \
    {"ragged", required_argument, NULL, OPT_COL_RAGGED}, \
    {"lazy-quotes", no_argument, NULL, OPT_COL_LAZY}, \
    {"max-line", required_argument, NULL, OPT_COL_MAXLINE}

/* The kernel's options and the features' (options.c), for the commands
 * that build a kernel machine's rows from a dataset as train does. */
#define CLI_KERNEL_LONGOPTS \
    {"kernel", required_argument, NULL, OPT_KERNEL}, \
    {"bandwidth", required_argument, NULL, OPT_BANDWIDTH}, \
    {"depth", required_argument, NULL, OPT_DEPTH}, \
    {"sw2", required_argument, NULL, OPT_SW2}, \
    {"sb2", required_argument, NULL, OPT_SB2}
#define CLI_FEAT_LONGOPTS \
    {"label", required_argument, NULL, OPT_LABEL}, \
    {"task", required_argument, NULL, OPT_TASK}, \
    {"scale", required_argument, NULL, OPT_SCALE}
#define CLI_KERNEL_USAGE \
    "      --kernel K         laplace (default), gaussian, or the analytic ReLU\n" \
    "                         network kernels ntk or nngp\n"
#define CLI_DOT_USAGE \
    "      --depth D          ntk, nngp: hidden layers, 1 to 64 (default 1)\n" \
    "      --sw2 V            ntk, nngp: weight variance, > 0 (default 2)\n" \
    "      --sb2 V            ntk, nngp: bias variance, >= 0 (default 0.1)\n"
#define CLI_FEAT_USAGE \
    "      --label COL        label column, by name (any case) or number (default:\n" \
    "                         label, target, class or y)\n" \
    "      --task T           auto (default), classify or regress\n" \
    "      --scale S          minmax (default), standard or none\n"

/* Most values in a list option (--reg, --bandwidth). */
#define CLI_LIST_MAX 64
/* A comma-separated list of numbers into vals (CLI_LIST_MAX at most), their
 * count into *n: one is a value, more a grid, where every value must be
 * positive (zero_ok: a single value may be 0). -1, or the exit status of
 * a usage error. */
int cli_num_list(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg, int zero_ok,
                 double *vals, size_t *n);
/* The index of arg in the NULL-terminated names into *out: -1, or a usage
 * error's exit status. */
int cli_choice(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
               const char *const *names, int *out);
/* The kernel's options as they are parsed: the kernel they go into, the
 * whole --bandwidth list (its first value is k->bandwidth), and the last
 * dot-product option given. */
typedef struct cli_kernel_args {
    km_kernel *k;
    double bw[CLI_LIST_MAX];
    size_t nbw;
    const char *dot_opt; /* the last of --depth, --sw2, --sb2 given, or NULL */
} cli_kernel_args;
/* Ready a for k, whose type and bandwidth keep their defaults; the
 * dot-product kernels' are depth 1, sw2 2, sb2 0.1. */
void cli_kernel_init(cli_kernel_args *a, km_kernel *k);
/* --kernel, --bandwidth, --depth, --sw2, --sb2 into a: -1 when opt is
 * one of them (and its value good), -3 when it is not, else a usage
 * error's exit status. */
int cli_kernel_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg,
                   cli_kernel_args *a);
/* Once parsed, the options against the kernel's kind: a bandwidth for
 * the radial kernels, depth and variances for the dot-product ones; the
 * other kind's fields are zeroed. -1 when fine, else a usage error's
 * exit status. */
int cli_kernel_check(const cli_cmd *cmd, km_ctx *ctx, cli_kernel_args *a);
/* --label, --task, --scale into f; returns as cli_kernel_opt. */
int cli_feat_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_feat_opts *f);

/* The options of a command that makes a kernel machine's rows from DATA
 * as train does: the features', the kernel's, then the column options
 * (cli_column_opt). Returns as cli_kernel_opt. */
int cli_data_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg, km_feat_opts *f,
                 cli_kernel_args *k, struct km_convert_opts *cols, unsigned *given);
/* After cli_open_data (cr its result): for a .kmx DATA, --drop leaves
 * columns out of the features instead (f->drop), and the other column
 * options, which have nothing to do, are warned of. */
void cli_data_columns(km_ctx *ctx, const char *path, const struct km_convert_result *cr,
                      const struct km_convert_opts *cols, unsigned given, km_feat_opts *f);

/* The --help lines of those options, for the commands' usage strings. */
#define CLI_COLUMN_USAGE \
    "      --delimiter C       field delimiter, one character or 'tab'\n" \
    "                          (default: detected among , ; tab |)\n" \
    "      --no-header         the first line is data; columns are named col1..colN\n" \
    "      --na-values LIST    comma-separated tokens read as missing\n" \
    "                          (default: empty,NA,NaN,nan,N/A,null,NULL,?)\n" \
    "      --categorical COLS  store these columns as categories\n" \
    "      --numeric COLS      these columns must be numeric\n" \
    "      --drop COLS         leave these columns out\n" \
    "      --bad-values MODE   text in a numeric column: error (default) or missing\n" \
    "      --decimal C         decimal mark, '.' or ',' (default '.', or ',' for a\n" \
    "                          ';'-separated file of numbers such as 14,4383)\n" \
    "      --max-levels N      most distinct values of a categorical column (1000)\n" \
    "      --ragged MODE       rows with a wrong number of fields: error (default),\n" \
    "                          fill (pad short rows with missing values), skip\n" \
    "      --lazy-quotes       accept quotes inside unquoted fields literally\n" \
    "      --max-line SIZE     longest record accepted (default 64M)\n"

/* A column option into o, its bit (1 << (opt - OPT_COL_DELIM)) into
 *given (if not NULL): -1 when opt is one (and its value is good), -3 when
 * it is not, else the exit status of a usage error. */
int cli_column_opt(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg,
                   struct km_convert_opts *o, unsigned *given);
#define CLI_COL_BIT(opt) (1u << ((opt) - OPT_COL_DELIM))

/* train: the model's record (section READ) of how its CSV was read, from
 * the column options and the conversion's result (its forced types per
 * column of d, the decimal mark it used). */
int cli_model_read(km_ctx *ctx, const struct km_convert_opts *cols,
                   const struct km_convert_result *cr, const km_kmx *d, struct km_model_read *rd);

/* predict, eval: how to read CSV for model m: the command line's column
 * options (cl, given their bits) over the model's record, and only the
 * columns m binds, typed as in training (numeric ones forced numeric, the
 * categorical ones forced as in training), its label only when need_label
 * (eval) or extra names it (a regression's as numbers), the nextra columns named
 * in extra (predict's --id) as text as written, so that an identifier
 * '007' stays '007', whatever --max-levels says (keep type 4) - except
 * those m binds already, read as m reads them.
 * keep holds the lists co points to, until cli_keep_free. */
typedef struct cli_keep {
    const char **names;
    unsigned char *types;
} cli_keep;
int cli_model_columns(km_ctx *ctx, const struct km_model *m, const struct km_convert_opts *cl,
                      unsigned given, int need_label, const char *const *extra, uint32_t nextra,
                      struct km_convert_opts *co, cli_keep *keep);
void cli_keep_free(cli_keep *k);

/* Handler for a command's own options: return -1 to go on, or an exit
 * status (after printing any message) to stop. */
typedef int (*cli_opt_fn)(void *state, km_ctx *ctx, int opt, const char *arg);

/* Parse argv with the command's options plus the common ones. Returns -1
 * when the command should go on (positional arguments start at *first_arg),
 * or an exit status (0 after --help, 2 after a usage error). */
int cli_parse(const cli_cmd *cmd, km_ctx *ctx, int argc, char **argv,
              const char *shortopts, const struct option *longopts,
              cli_opt_fn handle, void *state, int *first_arg);

/* Print "kmill CMD: <message>" plus a pointer to --help; returns 2. */
int cli_usage_error(const cli_cmd *cmd, km_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Report ctx->err for a failed library call whose code is rc; returns the
 * exit status (1; 2 for KM_EINVAL; 128 + the signal's number when stopped
 * by one, KM_EINTR; 0 when our reader went away). */
int cli_fail(km_ctx *ctx, int rc);

/* Parse option values; on failure print a usage error and return 2, else 0. */
int cli_int_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                long lo, long hi, long *out);
/* A decimal count into *v: 0, or -1 (no message) for anything but digits
 * (a sign, a blank, a value beyond 64 bits). */
int cli_parse_u64(const char *s, uint64_t *v);
int cli_double_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                   double *out);

/* --io MODE (auto, uring, pread); the default comes from KMILL_IO. */
int cli_io_arg(const cli_cmd *cmd, km_ctx *ctx, const char *arg, int *kind);
int cli_io_default(void);

/* DATA of train, predict, eval: a .kmx file, or CSV / "-" converted into a
 * temporary dataset in tmpdir (NULL: $TMPDIR or /tmp) that is unlinked
 * once open, read as cols says (NULL: the defaults; its input, output and
 * pool are set here). res (if not NULL) gets the conversion's result
 * with its forced types (km_convert_result.forced, for the caller to
 * free); all zero, forced NULL, for a .kmx. */
int cli_open_data(km_ctx *ctx, const char *arg, int io, const char *tmpdir, km_pool *pool,
                  const struct km_convert_opts *cols, struct km_convert_result *res,
                  km_kmx **out);

/* A file a command reads or writes, for cli_check_outputs: the option that
 * names it ("-o", "--val"; NULL for an argument) and its name (NULL: not
 * given; "-": standard input, or for an output standard output). */
typedef struct cli_file {
    const char *opt;
    const char *path;
} cli_file;

/* Refuse, before any work, an output that is the same file as an input
 * or as another output: the same device and inode (through symbolic and
 * hard links, and standard input redirected from the file), or for an
 * output not created yet the same directory and name (KM_EIO with the
 * message naming both); and an output that cannot be created, found by
 * opening its temporary file (kmill/outfile.h) and removing it again
 * (the error and message of km_outfile_open: "cannot create NAME: ...").
 * 0, or the code (exit status 1). */
int cli_check_outputs(km_ctx *ctx, const cli_file *in, size_t nin, const cli_file *out,
                      size_t nout);

/* Refuse a dataset or model (what) that is not a regular file: these are
 * read with random access, and open() would wait for ever on a FIFO
 * without a writer. 0 for a regular file or one that does not exist (its
 * reader words that), else KM_EIO with the message. */
int cli_regular_file(km_ctx *ctx, const char *path, const char *what);

/* A FILE that info or cat takes for a dataset but that is CSV text or a
 * model (by their first bytes, whatever the name): KM_EFORMAT with one
 * line saying what to do (convert it first; describe it with info); 0
 * otherwise, the dataset reader then wording anything else. */
int cli_not_dataset(km_ctx *ctx, const char *path);

/* `kmill info` on a model file: load it (which checks every section),
 * print what it is as text or JSON; verify: say that it checked out. */
int cli_info_model(km_ctx *ctx, const char *path, unsigned major, unsigned minor, int json,
                   int verify);

/* JSON on stdout: a string of n bytes (escaped; bytes >= 0x80 as they
 * are, UTF-8 passing through), a number or null when not finite. */
void cli_json_str(const char *s, size_t n);
void cli_json_num(double v);
/* The same on stream f. */
void cli_json_fstr(FILE *f, const char *s, size_t n);
void cli_json_fnum(FILE *f, double v);

extern const cli_cmd cli_commands[];
const cli_cmd *cli_find(const char *name);
/* The command name closest to a misspelt one (kmill/suggest.h), or NULL. */
const char *cli_near_command(const char *name);

/* One entry point per subcommand (src/cli/cmd_<name>.c). */
int cmd_help(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_convert(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_info(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_cat(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
/* A model's provenance: the command line ("kmill " and argv joined by
 * spaces) and the time now (ISO 8601, UTC); NULL when out of memory. */
char *cli_join_args(int argc, char **argv);
char *cli_now_iso(void);
int cmd_train(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_mlp(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_predict(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_eval(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_features(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_gen(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_ntk(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
int cmd_spectrum(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx);
extern const char convert_usage[], info_usage[], cat_usage[];
extern const char train_usage[], predict_usage[], eval_usage[], features_usage[], gen_usage[],
    ntk_usage[];
extern const char spectrum_usage[];

extern const char mlp_usage[];
#endif
