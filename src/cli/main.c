/* main.c - the kmill front end: global options, subcommand dispatch,
 * signals, and the final check that stdout was written completely. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "kmill/size.h"
#include "kmill/blas.h"
#include "kmill/suggest.h"

/* The one piece of global state: what the signal handler can reach, the
 * number of the signal that asks to stop. The library sees it only
 * through ctx->interrupted; cli_fail makes it the exit status. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    /* second signal: the user insists, die now with the default action
     * (anonymous temporaries vanish with the process, named ones are
     * removed by the next run: see kmill/outfile.h) */
    if (interrupted) {
        signal(sig, SIG_DFL);
        raise(sig);
    }
    interrupted = sig;
}

static const char help_usage[] =
    "Usage: kmill help [COMMAND]\n"
    "Show the manual page of COMMAND (kmill-COMMAND(1)) when standard output is a\n"
    "terminal and man(1) finds it; otherwise print COMMAND's --help text.\n";

const cli_cmd cli_commands[] = {
    {"convert", "convert CSV into a kmill dataset (.kmx)", convert_usage, cmd_convert, 0},
    {"info", "describe a dataset: rows, columns, statistics; verify it", info_usage, cmd_info, 0},
    {"cat", "print a dataset (or rows, columns, a sample of it) as CSV", cat_usage, cmd_cat, 0},
    {"train", "train a kernel machine on a dataset", train_usage, cmd_train, 1},
    {"predict", "predict with a trained model, one line per row", predict_usage, cmd_predict, 1},
    {"eval", "evaluate a model on labelled data", eval_usage, cmd_eval, 1},
    {"features", "feature importance from a model's learned matrix M (RFM)", features_usage,
     cmd_features, 1},
    {"mlp", "train a ReLU network on a sample; how it learned features", mlp_usage, cmd_mlp, 1},
    {"spectrum", "kernel eigenvalues, effective dimension, leave-one-out error and GCV",
     spectrum_usage, cmd_spectrum, 1},
    {"gen", "write a synthetic dataset of any size (CSV or .kmx)", gen_usage, cmd_gen, 0},
    {"ntk", "finite networks' empirical NTK against the analytic NTK, over widths", ntk_usage,
     cmd_ntk, 1},
    {"help", "show help for a command", help_usage, cmd_help, 0},
    {NULL, NULL, NULL, NULL, 0},
};

static void main_usage(FILE *f)
{
    fprintf(f,
            "Usage: kmill [--version] [--help] COMMAND [OPTIONS] [ARGS]\n"
            "Kernel machines and Recursive Feature Machines on data larger than RAM.\n\n"
            "Commands:\n");
    for (const cli_cmd *c = cli_commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f,
            "\nOptions common to all commands:\n"
            "  -q, --quiet        only errors on stderr\n"
            "  -v, --verbose      more detail on stderr (repeat for debug output)\n"
            "      --mem SIZE     memory budget, e.g. 4G or 50%% (default: half of RAM;\n"
            "                     environment: KMILL_MEM)\n"
            "      --threads N    worker threads (default: all online CPUs)\n"
            "      --progress     always show progress; --no-progress never\n"
            "  -h, --help         show a command's options\n\n"
            "Exit status: 0 success, 1 runtime or data error, 2 usage error, 128 + N when\n"
            "stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP, 131 SIGQUIT).\n"
            "'kmill help COMMAND' or 'man kmill-COMMAND' for details.\n");
}

/* The option before the command closest to a misspelt one, or NULL. */
static const char *near_global(const char *word)
{
    static const char *const opts[] = {"--help", "--version"};
    km_suggest sg;
    km_suggest_init(&sg, word, strlen(word));
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        km_suggest_add(&sg, opts[i], strlen(opts[i]));
    return km_suggest_best(&sg);
}

/* Flush and close stdout, reporting a write error (except a closed pipe)
 * unless the command failed already: it has said why, in one line. */
static int close_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        if (errno != EPIPE && status == EXIT_OK) {
            fprintf(stderr, "kmill: error writing standard output: %s\n", strerror(errno));
            return EXIT_ERR;
        }
    }
    if (fclose(stdout) != 0 && errno != EPIPE && errno != EBADF && status == EXIT_OK) {
        fprintf(stderr, "kmill: error closing standard output: %s\n", strerror(errno));
        return EXIT_ERR;
    }
    return status;
}

int cmd_help(const cli_cmd *cmd, int argc, char **argv, km_ctx *ctx)
{
    int first;
    int st = cli_parse(cmd, ctx, argc, argv, NULL, NULL, NULL, NULL, &first);
    if (st >= 0)
        return st;
    if (first >= argc) {
        main_usage(stdout);
        return EXIT_OK;
    }
    if (argc - first > 1)
        return cli_usage_error(cmd, ctx, "expected one command name");
    const cli_cmd *c = cli_find(argv[first]);
    if (!c) {
        const char *near = cli_near_command(argv[first]);
        return near ? cli_usage_error(cmd, ctx, "unknown command '%s'; did you mean '%s'?",
                                      argv[first], near)
                    : cli_usage_error(cmd, ctx, "unknown command '%s'", argv[first]);
    }
    if (isatty(STDOUT_FILENO)) {
        char page[64];
        snprintf(page, sizeof page, "kmill-%s", c->name);
        fflush(stdout);
        char *const args[] = {"man", page, NULL};
        pid_t pid = fork();
        if (pid == 0) {
            /* silence man's "no manual entry": we fall back below */
            if (!freopen("/dev/null", "w", stderr))
                _exit(127);
            execvp("man", args);
            _exit(127);
        }
        int wst;
        if (pid > 0 && waitpid(pid, &wst, 0) == pid && WIFEXITED(wst) && WEXITSTATUS(wst) == 0)
            return EXIT_OK;
    }
    fputs(c->usage, stdout);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "kmill");
    ctx.interrupted = &interrupted;

    signal(SIGPIPE, SIG_IGN); /* write errors become EPIPE, handled quietly */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* stop at the next safe point, remove what is half written, exit
     * 128 + the signal's number */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);

    const char *envmem = getenv("KMILL_MEM");
    if (envmem && *envmem && km_parse_size(envmem, &ctx.mem_budget, &ctx.err) < 0) {
        fprintf(stderr, "kmill: KMILL_MEM: %s\n", ctx.err.msg);
        return EXIT_USAGE;
    }
    const char *io = getenv("KMILL_IO");
    if (io && *io && strcmp(io, "auto") && strcmp(io, "uring") && strcmp(io, "io_uring") &&
        strcmp(io, "pread")) {
        fprintf(stderr, "kmill: KMILL_IO: invalid value '%s' (auto, uring or pread)\n", io);
        return EXIT_USAGE;
    }
    const char *fault = getenv("KMILL_FAULT_ENOSPC_AFTER");
    if (fault && *fault)
        ctx.fault_enospc_after = strtoull(fault, NULL, 10);
    const char *rf = getenv("KMILL_FAULT_READ"); /* N:eio, N:corrupt or N:short */
    if (rf && *rf) {
        char *end;
        ctx.fault_read_after = strtoull(rf, &end, 10);
        ctx.fault_read_kind = strcmp(end, ":eio") == 0       ? KM_FAULT_EIO
                              : strcmp(end, ":corrupt") == 0 ? KM_FAULT_CORRUPT
                                                             : KM_FAULT_SHORT;
    }
    const char *inram = getenv("KMILL_BENCH_ROWS_IN_RAM");
    ctx.bench_rows_in_ram = inram && *inram && strcmp(inram, "0") != 0;
    const char *notmp = getenv("KMILL_FAULT_NO_TMPFILE");
    ctx.fault_no_tmpfile = notmp && *notmp && strcmp(notmp, "0") != 0;

    if (argc < 2) {
        main_usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        main_usage(stdout);
        return close_stdout(EXIT_OK);
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "-V") == 0) {
        printf("kmill %s\n", PACKAGE_VERSION);
        return close_stdout(EXIT_OK);
    }
    const cli_cmd *cmd = cli_find(name);
    if (!cmd) {
        const char *near = name[0] == '-' ? near_global(name) : cli_near_command(name);
        fprintf(stderr, "kmill: unknown %s '%s'", name[0] == '-' ? "option" : "command", name);
        if (near)
            fprintf(stderr, "; did you mean '%s'?", near);
        fputc('\n', stderr);
        fprintf(stderr, "Try 'kmill --help' for the list of commands.\n");
        return EXIT_USAGE;
    }
    char prog[64];
    snprintf(prog, sizeof prog, "kmill %s", cmd->name);
    ctx.prog = prog;
    if (!cmd->blas)
        km_blas_idle();
    int status = cmd->run(cmd, argc - 1, argv + 1, &ctx);
    return close_stdout(status);
}
