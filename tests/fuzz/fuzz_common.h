/* fuzz_common.h - what the libFuzzer harnesses of tests/fuzz share: a
 * private temporary directory per input (every file a harness or the
 * library writes must stay in it), a quiet single-threaded context with a
 * small memory budget, and a check that the library left no stray file in
 * the directory after an input (a failed conversion must clean up after
 * itself). Nothing here works around a library bug: a harness aborts only
 * when the library breaks one of its documented promises. */
#ifndef KMILL_FUZZ_COMMON_H
#define KMILL_FUZZ_COMMON_H

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/ctx.h"

/* The memory budget of every call (km_ctx.mem_budget): small, so that the
 * library's own planning keeps an input's work bounded. */
#define FUZZ_MEM_BUDGET ((uint64_t)32 << 20)

static char fuzz_dir[4096];
static FILE *fuzz_devnull;

/* Remove the temporary directory and what is in it (if there is one). */
static void fuzz_rmdir(void)
{
    if (!fuzz_dir[0])
        return;
    DIR *dh = opendir(fuzz_dir);
    if (dh) {
        struct dirent *e;
        while ((e = readdir(dh)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                unlinkat(dirfd(dh), e->d_name, 0);
        closedir(dh);
    }
    rmdir(fuzz_dir);
    fuzz_dir[0] = '\0';
}

/* Create the temporary directory of one input (in $TMPDIR or /tmp);
 * fuzz_end removes it. libFuzzer leaves with _Exit, so nothing may
 * outlive an input. A harness failure removes the directory before it
 * aborts; a sanitizer report leaves it (the death callback is libFuzzer's,
 * which saves the input): run.sh points TMPDIR at a directory it removes. */
static void fuzz_begin(void)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_devnull = fopen("/dev/null", "w");
        if (!fuzz_devnull)
            abort();
    }
    const char *t = getenv("TMPDIR");
    snprintf(fuzz_dir, sizeof fuzz_dir, "%s/kmill-fuzz-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(fuzz_dir)) {
        perror("kmill fuzz: mkdtemp");
        abort();
    }
}

static void fuzz_end(void)
{
    fuzz_rmdir();
}

/* The path of a file named name in the temporary directory. */
static void fuzz_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", fuzz_dir, name);
}

/* Write data to the file name in the temporary directory; its path in buf. */
static void fuzz_write(char *buf, size_t n, const char *name, const uint8_t *data, size_t size)
{
    fuzz_path(buf, n, name);
    int fd = open(buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror("kmill fuzz: open");
        abort();
    }
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            perror("kmill fuzz: write");
            abort();
        }
        off += (size_t)w;
    }
    close(fd);
}

/* A context for one input: quiet, no progress, one thread, the small
 * memory budget; diagnostics go to /dev/null. */
static void fuzz_ctx(km_ctx *ctx)
{
    km_ctx_init(ctx, "kmill-fuzz");
    ctx->verbosity = KM_QUIET;
    ctx->progress = KM_PROGRESS_OFF;
    ctx->log = fuzz_devnull;
    ctx->threads = 1;
    ctx->mem_budget = FUZZ_MEM_BUDGET;
}

/* Abort (a finding) when the temporary directory holds a file other than
 * the `nkeep` names in keep: something the library left behind. */
static void fuzz_check_dir(const char *const *keep, int nkeep)
{
    DIR *dh = opendir(fuzz_dir);
    if (!dh)
        abort();
    struct dirent *e;
    while ((e = readdir(dh))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int ok = 0;
        for (int i = 0; i < nkeep; i++)
            ok |= !strcmp(e->d_name, keep[i]);
        if (!ok) {
            fprintf(stderr, "kmill fuzz: the library left a stray file behind: %s/%s\n",
                    fuzz_dir, e->d_name);
            abort();
        }
    }
    closedir(dh);
}

/* Little-endian fields of a file image, for the checksum fix-ups. */
static uint32_t fuzz_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t fuzz_get64(const uint8_t *p)
{
    return fuzz_get32(p) | (uint64_t)fuzz_get32(p + 4) << 32;
}

static void fuzz_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Report a broken promise of the library and abort (a finding). */
#define FUZZ_FAIL(...)                                                                         \
    do {                                                                                       \
        fprintf(stderr, "kmill fuzz: " __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                                   \
        fuzz_rmdir();                                                                          \
        abort();                                                                               \
    } while (0)

#endif
