/* common.c - option parsing and error reporting shared by the subcommands
 * (see cli.h). */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kmill/convert.h"
#include "kmill/io.h"
#include "kmill/outfile.h"
#include "kmill/model.h"
#include "kmill/size.h"
#include "kmill/suggest.h"

static const struct option common_longopts[] = {
    {"help", no_argument, NULL, 'h'},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"mem", required_argument, NULL, OPT_MEM},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
};
#define N_COMMON (sizeof common_longopts / sizeof common_longopts[0])

int cli_usage_error(const cli_cmd *cmd, km_ctx *ctx, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: %s\n", ctx->prog, buf);
    if (cmd)
        fprintf(stderr, "Try 'kmill %s --help' for more information.\n", cmd->name);
    else
        fprintf(stderr, "Try 'kmill --help' for more information.\n");
    return EXIT_USAGE;
}

int cli_fail(km_ctx *ctx, int rc)
{
    if (rc == KM_EPIPE)
        return EXIT_OK;
    if (rc == KM_EINTR) {
        /* stopped by a signal: 128 + its number, as a shell reports it */
        int sig = ctx->interrupted && *ctx->interrupted > 0 ? (int)*ctx->interrupted : SIGINT;
        if (sig == SIGINT)
            fprintf(stderr, "%s: interrupted\n", ctx->prog);
        else
            fprintf(stderr, "%s: stopped by %s\n", ctx->prog,
                    sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP"
                    : sig == SIGQUIT ? "SIGQUIT" : "a signal");
        return 128 + sig;
    }
    const char *msg = ctx->err.msg[0] ? ctx->err.msg : km_strerror(rc);
    fprintf(stderr, "%s: %s\n", ctx->prog, msg);
    return rc == KM_EINVAL ? EXIT_USAGE : EXIT_ERR;
}

int cli_int_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi)
        return cli_usage_error(cmd, ctx, "invalid %s '%s' (expected an integer from %ld to %ld)",
                               opt, arg, lo, hi);
    *out = v;
    return 0;
}

int cli_parse_u64(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-' || *s == '+')
        return -1;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *v = x;
    return 0;
}

int cli_double_arg(const cli_cmd *cmd, km_ctx *ctx, const char *opt, const char *arg,
                   double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || v != v)
        return cli_usage_error(cmd, ctx, "invalid %s '%s' (expected a number)", opt, arg);
    *out = v;
    return 0;
}

static int common_option(const cli_cmd *cmd, km_ctx *ctx, int opt, const char *arg)
{
    long n;
    int rc;
    switch (opt) {
    case 'h':
        fputs(cmd->usage, stdout);
        return EXIT_OK;
    case 'q':
        ctx->verbosity = KM_QUIET;
        return -1;
    case 'v':
        if (ctx->verbosity < KM_DEBUG)
            ctx->verbosity = ctx->verbosity < KM_NORMAL ? KM_VERBOSE : ctx->verbosity + 1;
        return -1;
    case OPT_MEM:
        if (km_parse_size(arg, &ctx->mem_budget, &ctx->err) < 0)
            return cli_usage_error(cmd, ctx, "--mem: %s", ctx->err.msg);
        if (ctx->mem_budget < ((uint64_t)16 << 20))
            return cli_usage_error(cmd, ctx, "--mem %s is below the minimum of 16M", arg);
        return -1;
    case OPT_THREADS:
        if ((rc = cli_int_arg(cmd, ctx, "--threads", arg, 1, 1024, &n)))
            return rc;
        ctx->threads = (int)n;
        return -1;
    case OPT_PROGRESS:
        ctx->progress = KM_PROGRESS_ON;
        return -1;
    case OPT_NO_PROGRESS:
        ctx->progress = KM_PROGRESS_OFF;
        return -1;
    }
    return -2; /* not a common option */
}

/* The long option whose name starts with the len bytes of word (exactly
 * that name if there is one), or NULL; *n counts those that start so. */
static const struct option *prefixed(const struct option *all, const char *word, size_t len,
                                     int *n)
{
    const struct option *found = NULL;
    *n = 0;
    for (const struct option *o = all; o->name; o++)
        if (strncmp(o->name, word, len) == 0) {
            if (strlen(o->name) == len) {
                *n = 1;
                return o;
            }
            found = o;
            ++*n;
        }
    return found;
}

/* getopt_long's '?' (opterr is 0, so it said nothing): a short option it
 * does not know (optopt), a long one it does not know or that is a prefix
 * of several (optopt 0), or a value given to a long option that takes
 * none (optopt its val). arg is the word at fault. */
static int bad_option(const cli_cmd *cmd, km_ctx *ctx, const struct option *all, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t len = strncmp(arg, "--", 2) ? 0 : eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
    int n = 0;
    const struct option *o = len ? prefixed(all, arg + 2, len, &n) : NULL;
    if (optopt && !(o && n == 1 && eq && o->has_arg == no_argument && o->val == optopt))
        return cli_usage_error(cmd, ctx, "unknown option '-%c'", optopt);
    if (optopt)
        return cli_usage_error(cmd, ctx, "option '--%s' takes no value", o->name);
    if (n > 1) {
        char list[300] = "";
        size_t at = 0;
        for (const struct option *p = all; p->name && at < sizeof list; p++)
            if (strncmp(p->name, arg + 2, len) == 0)
                at += (size_t)snprintf(list + at, sizeof list - at, "%s'--%s'", at ? ", " : "",
                                       p->name);
        return cli_usage_error(cmd, ctx, "option '%.*s' is ambiguous: %s", (int)len + 2, arg, list);
    }
    km_suggest sg;
    km_suggest_init(&sg, arg + 2, len);
    for (const struct option *p = all; len && p->name; p++)
        km_suggest_add(&sg, p->name, strlen(p->name));
    const char *near = km_suggest_best(&sg);
    if (near)
        return cli_usage_error(cmd, ctx, "unknown option '%.*s'; did you mean '--%s'?",
                               (int)len + 2, arg, near);
    return cli_usage_error(cmd, ctx, "unknown option '%.*s'", len ? (int)len + 2 : (int)strlen(arg),
                           arg);
}

int cli_parse(const cli_cmd *cmd, km_ctx *ctx, int argc, char **argv,
              const char *shortopts, const struct option *longopts,
              cli_opt_fn handle, void *state, int *first_arg)
{
    size_t nown = 0;
    while (longopts && longopts[nown].name)
        nown++;
    struct option *all = calloc(nown + N_COMMON + 1, sizeof *all);
    char shorts[128];
    if (!all) {
        fprintf(stderr, "%s: out of memory\n", ctx->prog);
        return EXIT_ERR;
    }
    if (nown)
        memcpy(all, longopts, nown * sizeof *all);
    memcpy(all + nown, common_longopts, sizeof common_longopts);
    /* leading ':' : report missing arguments as ':' so we can word the error */
    snprintf(shorts, sizeof shorts, ":hqv%s", shortopts ? shortopts : "");

    int status = -1;
    optind = 1;
    opterr = 0;
    for (;;) {
        int lidx = -1;
        int opt = getopt_long(argc, argv, shorts, all, &lidx);
        if (opt == -1)
            break;
        if (opt == '?') {
            status = bad_option(cmd, ctx, all, argv[optind - 1]);
            break;
        }
        if (opt == ':') {
            status = cli_usage_error(cmd, ctx, "option '%s' needs a value", argv[optind - 1]);
            break;
        }
        int rc = common_option(cmd, ctx, opt, optarg);
        if (rc == -2)
            rc = handle ? handle(state, ctx, opt, optarg) : -1;
        if (rc >= 0) {
            status = rc;
            break;
        }
    }
    free(all);
    *first_arg = optind;
    return status;
}

const cli_cmd *cli_find(const char *name)
{
    for (const cli_cmd *c = cli_commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

const char *cli_near_command(const char *name)
{
    km_suggest sg;
    km_suggest_init(&sg, name, strlen(name));
    for (const cli_cmd *c = cli_commands; c->name; c++)
        km_suggest_add(&sg, c->name, strlen(c->name));
    return km_suggest_best(&sg);
}

int cli_io_arg(const cli_cmd *cmd, km_ctx *ctx, const char *arg, int *kind)
{
    if (strcmp(arg, "auto") == 0)
        *kind = KM_IO_AUTO;
    else if (strcmp(arg, "uring") == 0 || strcmp(arg, "io_uring") == 0)
        *kind = KM_IO_URING;
    else if (strcmp(arg, "pread") == 0)
        *kind = KM_IO_PREAD;
    else
        return cli_usage_error(cmd, ctx, "invalid --io '%s' (auto, uring or pread)", arg);
    return 0;
}

int cli_io_default(void)
{
    const char *e = getenv("KMILL_IO");
    if (e && strcmp(e, "pread") == 0)
        return KM_IO_PREAD;
    if (e && (strcmp(e, "uring") == 0 || strcmp(e, "io_uring") == 0))
        return KM_IO_URING;
    return KM_IO_AUTO;
}

void cli_json_fstr(FILE *f, const char *s, size_t n)
{
    putc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fprintf(f, "\\n");
        else if (c == '\t')
            fprintf(f, "\\t");
        else if (c == '\r')
            fprintf(f, "\\r");
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            putc(c, f);
    }
    putc('"', f);
}

void cli_json_fnum(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fprintf(f, "null");
}

void cli_json_str(const char *s, size_t n)
{
    cli_json_fstr(stdout, s, n);
}

void cli_json_num(double v)
{
    cli_json_fnum(stdout, v);
}

/* What names a file for cli_check_outputs: its device and inode when it
 * exists (so symbolic and hard links compare equal), else its directory's
 * real path and its base name (an output not created yet). */
struct file_id {
    int exists;
    dev_t dev;
    ino_t ino;
    char *canon;
};

static int file_id(km_ctx *ctx, const char *path, struct file_id *id)
{
    struct stat st;
    memset(id, 0, sizeof *id);
    if (strcmp(path, "-") == 0 ? fstat(STDIN_FILENO, &st) == 0 : stat(path, &st) == 0) {
        id->exists = 1;
        id->dev = st.st_dev;
        id->ino = st.st_ino;
        return 0;
    }
    char *d = strdup(path), *b = strdup(path), *real = d ? realpath(dirname(d), NULL) : NULL;
    const char *base = b ? basename(b) : NULL;
    size_t n = (real ? strlen(real) : 0) + (base ? strlen(base) : 0) + 2;
    if (b && (id->canon = malloc(n)))
        snprintf(id->canon, n, "%s/%s", real ? real : ".", base);
    free(real);
    free(d);
    free(b);
    return id->canon ? 0 : km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
}

static int same_file(const struct file_id *a, const struct file_id *b)
{
    if (a->exists || b->exists)
        return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino;
    return strcmp(a->canon, b->canon) == 0;
}

static void file_desc(const cli_file *f, int input, char *buf, size_t size)
{
    const char *name = strcmp(f->path, "-") == 0 ? "(standard input)" : f->path;
    if (f->opt)
        snprintf(buf, size, "%s %s", f->opt, name);
    else
        snprintf(buf, size, "%s %s", input ? "the input" : "the output", name);
}

int cli_check_outputs(km_ctx *ctx, const cli_file *in, size_t nin, const cli_file *out,
                      size_t nout)
{
    size_t n = nin + nout;
    struct file_id *ids = calloc(n ? n : 1, sizeof *ids);
    if (!ids)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const cli_file *f = i < nin ? &in[i] : &out[i - nin];
        if (f->path && (i < nin || strcmp(f->path, "-") != 0))
            rc = file_id(ctx, f->path, &ids[i]);
    }
    /* each output against the inputs and the outputs before it */
    for (size_t o = nin; o < n && !rc; o++) {
        if (!ids[o].exists && !ids[o].canon)
            continue; /* none, or standard output */
        for (size_t i = 0; i < o && !rc; i++) {
            if ((!ids[i].exists && !ids[i].canon) || !same_file(&ids[o], &ids[i]))
                continue;
            char a[300], b[300];
            file_desc(&out[o - nin], 0, a, sizeof a);
            file_desc(i < nin ? &in[i] : &out[i - nin], i < nin, b, sizeof b);
            rc = km_seterr(&ctx->err, KM_EIO,
                           "%s is the same file as %s; choose another output name", a, b);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i].canon);
    free(ids);
    /* each output can be created: its temporary file is made where the
     * output will be (a missing or read-only directory fails here, with
     * the words of the real open) and removed at once */
    for (size_t o = 0; o < nout && !rc; o++) {
        km_outfile of;
        if (!out[o].path || strcmp(out[o].path, "-") == 0)
            continue;
        if (!(rc = km_outfile_open(ctx, &of, out[o].path)))
            km_outfile_abort(&of);
    }
    return rc;
}

int cli_regular_file(km_ctx *ctx, const char *path, const char *what)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode))
        return 0; /* the reader words a missing file */
    if (S_ISDIR(st.st_mode))
        return km_seterr(&ctx->err, KM_EIO, "%s: is a directory", path);
    const char *kind = S_ISFIFO(st.st_mode)  ? "a pipe"
                       : S_ISCHR(st.st_mode) ? "a character device"
                       : S_ISBLK(st.st_mode) ? "a block device"
                       : S_ISSOCK(st.st_mode) ? "a socket" : "a special file";
    return km_seterr(&ctx->err, KM_EIO, "%s: %s, not a regular file; give the %s as a file", path,
                     kind, what);
}

int cli_not_dataset(km_ctx *ctx, const char *path)
{
    unsigned major, minor;
    if (km_model_probe(path, &major, &minor))
        return km_seterr(&ctx->err, KM_EFORMAT,
                         "%s: a kmill model, not a dataset; describe it with: kmill info %s", path,
                         path);
    if (km_kmx_probe(path) || !km_convert_probe(path))
        return 0;
    /* the name convert would be told to write: the CSV's, ending .kmx */
    char out[600];
    size_t n = strlen(path);
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash) && dot > path && dot[-1] != '/' &&
        (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".tsv") == 0 ||
         strcasecmp(dot, ".txt") == 0))
        n = (size_t)(dot - path);
    snprintf(out, sizeof out, "%.*s.kmx", (int)(n < 500 ? n : 500), path);
    if (strcmp(out, path) == 0 || n >= 500)
        snprintf(out, sizeof out, "OUT.kmx");
    return km_seterr(&ctx->err, KM_EFORMAT,
                     "%s: a CSV file, not a dataset; convert it first: kmill convert %s -o %s", path,
                     path, out);
}

/* The command line as one string: "kmill " and argv joined by spaces. */
char *cli_join_args(int argc, char **argv)
{
    size_t len = 8;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "kmill");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* The time now as an ISO 8601 UTC string ("2026-01-01T00:00:00Z"). */
char *cli_now_iso(void)
{
    char buf[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return strdup(buf);
}
