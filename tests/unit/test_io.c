/* test_io.c - unit tests of CRC-32C and of the read backends.
 *
 * The CRC tests pin the function to published vectors and check that the
 * hardware path (three interleaved streams joined by shift tables) agrees
 * with the portable table on every length and alignment that reaches each
 * of its code paths. The I/O tests read a file of random bytes back through
 * each backend with awkward batches (odd sizes and offsets, more requests
 * than the ring holds, reads ending at or past end of file) and compare
 * with what was written. io_uring tests skip where the kernel refuses
 * io_uring (many CI containers), they do not fail. One test covers the
 * atomic output file's formatted write. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/crc32c.h"
#include "kmill/ctx.h"
#include "kmill/error.h"
#include "kmill/io.h"
#include "kmill/outfile.h"

/* xorshift64*: deterministic data, so a failure reproduces */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 0x2545F4914F6CDD1Dull;
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t s = seed | 1;
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(rnd(&s) >> 56);
}

/* ---- CRC-32C ----------------------------------------------------------- */

Test(crc32c, known_vectors)
{
    unsigned char zeros[32], ones[32], inc[32], dec[32];
    memset(zeros, 0, sizeof zeros);
    memset(ones, 0xff, sizeof ones);
    for (int i = 0; i < 32; i++) {
        inc[i] = (unsigned char)i;
        dec[i] = (unsigned char)(31 - i);
    }
    uint32_t (*const fn[2])(uint32_t, const void *, size_t) = {km_crc32c, km_crc32c_sw};
    for (int f = 0; f < 2; f++) {
        const char *name = f ? "sw" : "km_crc32c";
        cr_assert_eq(fn[f](0, "123456789", 9), 0xE3069283u, "%s", name);
        /* RFC 3720 (iSCSI) appendix B.4 */
        cr_assert_eq(fn[f](0, zeros, 32), 0x8A9136AAu, "%s", name);
        cr_assert_eq(fn[f](0, ones, 32), 0x62A8AB43u, "%s", name);
        cr_assert_eq(fn[f](0, inc, 32), 0x46DD794Eu, "%s", name);
        cr_assert_eq(fn[f](0, dec, 32), 0x113FDB5Cu, "%s", name);
        /* no bytes: the running value passes through unchanged */
        cr_assert_eq(fn[f](0, "", 0), 0u, "%s", name);
        cr_assert_eq(fn[f](0xDEADBEEFu, "x", 0), 0xDEADBEEFu, "%s", name);
    }
}

Test(crc32c, chaining_equals_one_pass)
{
    /* long enough for the three-stream path with 8 KiB blocks (>= 24 KiB) */
    size_t n = 100000;
    unsigned char *buf = malloc(n);
    cr_assert_not_null(buf);
    fill_random(buf, n, 42);
    uint32_t whole = km_crc32c(0, buf, n);
    cr_assert_eq(whole, km_crc32c_sw(0, buf, n));
    size_t cuts[] = {0, 1, 7, 8, 255, 768, 4097, 24575, 24576, 24577, 50000, 99999, 100000};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        size_t k = cuts[i];
        cr_assert_eq(km_crc32c(km_crc32c(0, buf, k), buf + k, n - k), whole, "cut at %zu", k);
        cr_assert_eq(km_crc32c_sw(km_crc32c_sw(0, buf, k), buf + k, n - k), whole,
                     "sw cut at %zu", k);
    }
    /* three pieces, and the pieces fed to different implementations */
    uint32_t c = km_crc32c_sw(0, buf, 333);
    c = km_crc32c(c, buf + 333, 60000);
    c = km_crc32c_sw(c, buf + 60333, n - 60333);
    cr_assert_eq(c, whole);
    free(buf);
}

Test(crc32c, hardware_matches_table)
{
    enum { MAXLEN = 70000 };
    unsigned char *buf = malloc(MAXLEN + 64);
    cr_assert_not_null(buf);
    fill_random(buf, MAXLEN + 64, 7);
    uint64_t s = 99;
    /* every length 0..1000 at a random alignment and starting value */
    for (size_t len = 0; len <= 1000; len++) {
        size_t a = (size_t)(rnd(&s) % 64);
        uint32_t init = (uint32_t)rnd(&s);
        cr_assert_eq(km_crc32c(init, buf + a, len), km_crc32c_sw(init, buf + a, len),
                     "len %zu align %zu", len, a);
    }
    /* around the thresholds of the 256-byte and 8 KiB three-stream loops */
    size_t edges[] = {767, 768, 769, 1535, 1536, 24575, 24576, 24583, 49152, 49159, MAXLEN};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        for (size_t a = 0; a < 9; a++) {
            size_t len = edges[i];
            cr_assert_eq(km_crc32c(0, buf + a, len), km_crc32c_sw(0, buf + a, len),
                         "len %zu align %zu", len, a);
        }
    free(buf);
}

/* ---- reads ------------------------------------------------------------- */

#define FILE_SIZE ((5u << 20) + 12345u) /* 5 MiB and a ragged end */

struct tfile {
    int fd;              /* O_RDONLY */
    int wfd;             /* O_WRONLY, for the error path */
    unsigned char *data; /* what the file holds */
    size_t size;
};

/* The file is unlinked at once, so a test that skips or fails half-way
 * leaves nothing behind in /tmp. */
static void make_file(struct tfile *t, size_t size)
{
    char path[] = "/tmp/kmill-test-io-XXXXXX";
    int w = mkstemp(path);
    cr_assert_geq(w, 0, "mkstemp failed");
    t->fd = open(path, O_RDONLY);
    t->wfd = open(path, O_WRONLY);
    unlink(path);
    cr_assert_geq(t->fd, 0);
    cr_assert_geq(t->wfd, 0);
    t->size = size;
    t->data = malloc(size);
    cr_assert_not_null(t->data);
    fill_random(t->data, size, 2024);
    cr_assert_eq(write(w, t->data, size), (ssize_t)size);
    close(w);
}

static void drop_file(struct tfile *t)
{
    close(t->fd);
    close(t->wfd);
    free(t->data);
}

/* A batch of n awkward requests over the file: mostly odd sizes at odd
 * offsets, overlapping in the file (not in memory), plus the edge cases. */
static km_ioreq *make_batch(size_t size, size_t n, uint64_t seed)
{
    km_ioreq *r = calloc(n, sizeof *r);
    cr_assert_not_null(r);
    uint64_t s = seed;
    for (size_t i = 0; i < n; i++) {
        r[i].off = rnd(&s) % size;
        r[i].len = 1 + (size_t)(rnd(&s) % 300000);
    }
    r[0] = (km_ioreq){.off = 0, .len = 1 << 20};          /* plain 1 MiB */
    r[1] = (km_ioreq){.off = size - 1000, .len = 5000};   /* crosses EOF */
    r[2] = (km_ioreq){.off = size, .len = 4096};          /* starts at EOF */
    r[3] = (km_ioreq){.off = size + 12345, .len = 10};    /* beyond EOF */
    r[4] = (km_ioreq){.off = 777, .len = 0};              /* empty */
    r[5] = (km_ioreq){.off = 1, .len = size - 1};         /* whole file, odd start */
    for (size_t i = 0; i < n; i++) {
        r[i].buf = malloc(r[i].len ? r[i].len : 1);
        cr_assert_not_null(r[i].buf);
        memset(r[i].buf, 0xA5, r[i].len);
        r[i].got = 12345678; /* km_io_submit must reset it */
    }
    return r;
}

static void free_batch(km_ioreq *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(r[i].buf);
    free(r);
}

static void check_batch(const struct tfile *t, const km_ioreq *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t want = r[i].off >= t->size ? 0
                    : r[i].len < t->size - r[i].off ? r[i].len : (size_t)(t->size - r[i].off);
        cr_assert_eq(r[i].got, want, "request %zu (off %llu len %zu): got %zu, want %zu", i,
                     (unsigned long long)r[i].off, r[i].len, r[i].got, want);
        cr_assert(memcmp(r[i].buf, t->data + (want ? r[i].off : 0), want) == 0,
                  "request %zu: wrong bytes", i);
    }
}

/* Open kind on t, or skip the test when io_uring is refused. */
static km_io *open_or_skip(km_ctx *ctx, int fd, int kind, unsigned depth)
{
    km_io *io = NULL;
    int rc = km_io_open(ctx, fd, kind, depth, &io);
    if (rc && kind == KM_IO_URING) {
        cr_assert_eq(rc, KM_EIO);
        cr_assert_null(io);
        cr_skip_test("%s", ctx->err.msg); /* "io_uring unavailable (EPERM: ...)" */
    }
    cr_assert_eq(rc, 0, "km_io_open: %s", ctx->err.msg);
    cr_assert_not_null(io);
    return io;
}

static void read_back(int kind, const char *name)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    struct tfile t;
    make_file(&t, FILE_SIZE);
    km_io *io = open_or_skip(&ctx, t.fd, kind, 8);
    cr_assert_str_eq(km_io_name(io), name);

    /* several batches through the same backend: far more requests than the
     * queue depth of 8, then fewer, then none */
    size_t sizes[] = {100, 3, 0, 37};
    for (size_t b = 0; b < sizeof sizes / sizeof sizes[0]; b++) {
        size_t n = sizes[b];
        km_ioreq *r = n >= 6 ? make_batch(t.size, n, 1000 + b) : NULL;
        if (n && !r) { /* a small batch of plain requests */
            r = calloc(n, sizeof *r);
            for (size_t i = 0; i < n; i++) {
                r[i].off = 4096 * i + 1;
                r[i].len = 65537;
                r[i].buf = malloc(r[i].len);
            }
        }
        cr_assert_eq(km_io_submit(io, r, n), 0, "submit: %s", ctx.err.msg);
        cr_assert_eq(km_io_wait(io), 0, "wait: %s", ctx.err.msg);
        check_batch(&t, r, n);
        cr_assert_eq(km_io_wait(io), 0, "a second wait has nothing to do");
        free_batch(r, n);
    }
    km_io_close(io);
    drop_file(&t);
}

Test(io, uring_reads_back_the_file) { read_back(KM_IO_URING, "io_uring"); }
Test(io, pread_reads_back_the_file) { read_back(KM_IO_PREAD, "pread"); }

Test(io, auto_picks_a_backend_and_warns_only_on_fallback)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    ctx.log = tmpfile();
    cr_assert_not_null(ctx.log);
    struct tfile t;
    make_file(&t, 100000);
    km_io *io = NULL;
    cr_assert_eq(km_io_open(&ctx, t.fd, KM_IO_AUTO, 16, &io), 0, "%s", ctx.err.msg);
    const char *name = km_io_name(io);
    cr_assert(strcmp(name, "io_uring") == 0 || strcmp(name, "pread") == 0, "name %s", name);

    char log[1024] = "";
    fflush(ctx.log);
    rewind(ctx.log);
    size_t len = fread(log, 1, sizeof log - 1, ctx.log);
    log[len] = '\0';
    if (strcmp(name, "pread") == 0) {
        cr_assert(strncmp(log, "test: warning: io_uring unavailable (", 37) == 0, "log: %s", log);
        cr_assert(strstr(log, "; using pread\n") != NULL, "log: %s", log);
        cr_assert_eq(strchr(log, '\n'), log + len - 1, "one line: %s", log);
    } else {
        cr_assert_eq(len, 0, "no warning with io_uring: %s", log);
    }

    km_ioreq r = {.off = 99000, .len = 4096, .buf = malloc(4096)};
    cr_assert_eq(km_io_submit(io, &r, 1), 0);
    cr_assert_eq(km_io_wait(io), 0);
    cr_assert_eq(r.got, 1000);
    cr_assert(memcmp(r.buf, t.data + 99000, 1000) == 0);
    free(r.buf);
    km_io_close(io);
    drop_file(&t);
    fclose(ctx.log);
}

static void read_error(int kind)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    struct tfile t;
    make_file(&t, 100000);
    km_io *io = open_or_skip(&ctx, t.wfd, kind, 8);
    km_ioreq *r = make_batch(t.size, 20, 5);
    cr_assert_eq(km_io_submit(io, r, 20), 0, "%s", ctx.err.msg);
    int rc = km_io_wait(io);
    cr_assert_lt(rc, 0);
    cr_assert_eq(rc, KM_EIO, "EBADF maps to KM_EIO, got %d", rc);
    cr_assert_eq(ctx.err.code, rc);
    cr_assert(strstr(ctx.err.msg, "read error at offset ") != NULL, "message: %s", ctx.err.msg);
    cr_assert(strstr(ctx.err.msg, "Bad file descriptor") != NULL, "message: %s", ctx.err.msg);
    /* the backend is usable again after a failed batch */
    cr_assert_eq(km_io_submit(io, r, 1), 0);
    cr_assert_eq(km_io_wait(io), KM_EIO);
    km_io_close(io);
    free_batch(r, 20);
    drop_file(&t);
}

Test(io, uring_read_error) { read_error(KM_IO_URING); }
Test(io, pread_read_error) { read_error(KM_IO_PREAD); }

static void misuse_and_early_close(int kind)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    struct tfile t;
    make_file(&t, FILE_SIZE);
    km_io *io = open_or_skip(&ctx, t.fd, kind, 8);
    km_ioreq *r = make_batch(t.size, 50, 77);
    cr_assert_eq(km_io_submit(io, r, 50), 0);
    /* one batch at a time */
    cr_assert_eq(km_io_submit(io, r, 50), KM_EINVAL);
    /* closing with the batch outstanding waits for the kernel or the thread
     * to let go of the buffers (AddressSanitizer would see a late write) */
    km_io_close(io);
    free_batch(r, 50);
    drop_file(&t);
}

Test(io, uring_close_with_batch_outstanding) { misuse_and_early_close(KM_IO_URING); }
Test(io, pread_close_with_batch_outstanding) { misuse_and_early_close(KM_IO_PREAD); }

Test(io, rejects_unknown_backend)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "test");
    km_io *io = (km_io *)&ctx; /* must be reset to NULL */
    cr_assert_eq(km_io_open(&ctx, 0, 7, 16, &io), KM_EINVAL);
    cr_assert_null(io);
    km_io_close(NULL);
}

/* km_outfile_printf: short text, and text longer than its stack buffer,
 * appear in order once committed, and nothing before. */
Test(outfile, printf_short_and_long)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    char dir[] = "/tmp/kmill-outfile-XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/log.tsv", dir);
    km_outfile of;
    cr_assert_eq(km_outfile_open(&ctx, &of, path), 0, "%s", ctx.err.msg);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(km_outfile_printf(&of, "a\t%d\t%.3f\n", 42, 0.5), 0);
    cr_assert_eq(km_outfile_printf(&of, "%s|%s\n", big, "end"), 0);
    cr_assert_eq(access(path, F_OK), -1, "the file appeared before the commit");
    cr_assert_eq(km_outfile_commit(&of), 0, "%s", ctx.err.msg);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    static char got[4096];
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    got[n] = 0;
    cr_assert_eq(n, 11 + sizeof big - 1 + 5);
    cr_assert(strncmp(got, "a\t42\t0.500\n", 11) == 0);
    cr_assert(strncmp(got + 11, big, sizeof big - 1) == 0);
    cr_assert_str_eq(got + 11 + sizeof big - 1, "|end\n");
    unlink(path);
    rmdir(dir);
}
