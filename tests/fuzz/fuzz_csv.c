/* fuzz_csv.c - libFuzzer harness of the CSV conversion (km_convert).
 *
 * The first FUZZ_CSV_OPTS bytes of an input choose the options, the rest
 * is the CSV:
 *   byte 0  delimiter: 0..7 pick 0 (detect) , ; TAB | space : 0, any other
 *           byte is the delimiter itself (except " CR LF NUL: detect)
 *   byte 1  bit 0 no header, bit 1 lazy quotes, bits 2-3 ragged rows
 *           (error, fill, skip, error), bit 4 read the CSV from a pipe on
 *           standard input ("-") instead of a file, bits 5-7 the shuffle
 *           (auto, on, off) and the zstd level
 *   byte 2  NA tokens (0: default; else one of na_sets)
 *   byte 3  forced categorical columns (low nibble) and forced numeric
 *           columns (high nibble), from col_lists (0: none)
 *   byte 4  dropped columns (low nibble) from col_lists, max levels (high
 *           nibble: 0 default, else 1..15)
 *   byte 5  rows per chunk (0: default, else 1..255) -- several chunks
 *   byte 6  longest line (0: default, else 16 * byte)
 *   byte 7  bit 0 bad values read as missing (else an error), bits 1-2
 *           the decimal mark (detect, '.', ',', detect), bit 3 keep only
 *           the columns a, b, col1 and col2 (as predict does for a
 *           model), typed by bits 4-6 (keep types 0 to 4, see convert.h)
 * A conversion that succeeds is opened and read every way a reader can
 * (fuzz_exercise_kmx); its row and column counts must match the result's.
 * Every conversion, failed or not, must leave only its output behind (in
 * a temporary directory of its own, removed after each input). */
#include "config.h"

#include <signal.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "fuzz_kmx.h"
#include "kmill/convert.h"
#include "kmill/io.h"

#define FUZZ_CSV_OPTS 8

static const char *const na_sets[] = {
    NULL, "", "NA", ",NA", "-,?", "x", "NA,na,,N/A", "\"", "0", "1.5", "a b", " ",
    ",", "null,NULL,None", "\t", "e"};
static const char *const col_lists[] = {
    NULL, "1", "2", "3", "1,2", "2-3", "1-4", "a", "b,c", "x", "label", "1,1", "9", "0", "3-2", ""};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The CSV on standard input through a pipe (it fits in the pipe's buffer:
 * inputs are small), or -1 to use a file. Returns the saved stdin. */
static int stdin_pipe(const uint8_t *data, size_t size)
{
    int p[2];
    if (pipe(p))
        return -1;
    if (size > 65536 && fcntl(p[1], F_SETPIPE_SZ, (int)size) < (int)size) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    for (size_t off = 0; off < size;) {
        ssize_t w = write(p[1], data + off, size - off);
        if (w <= 0)
            abort();
        off += (size_t)w;
    }
    close(p[1]);
    int saved = dup(STDIN_FILENO);
    if (saved < 0 || dup2(p[0], STDIN_FILENO) < 0)
        abort();
    close(p[0]);
    return saved;
}

static void options(const uint8_t *b, km_convert_opts *o)
{
    static const char delims[8] = {0, ',', ';', '\t', '|', ' ', ':', 0};
    char d = (char)b[0];
    if (b[0] < 8)
        d = delims[b[0]];
    else if (d == '"' || d == '\r' || d == '\n')
        d = 0;
    o->delim = d;
    o->no_header = b[1] & 1;
    o->lazy_quotes = (b[1] >> 1) & 1;
    o->ragged = (b[1] >> 2) & 3;
    if (o->ragged == 3)
        o->ragged = KM_RAGGED_ERROR;
    o->shuffle = (b[1] >> 5) % 3;
    o->level = 1 + (b[1] >> 7);
    o->na_values = na_sets[b[2] % (sizeof na_sets / sizeof na_sets[0])];
    o->categorical = col_lists[b[3] & 15];
    o->numeric = col_lists[b[3] >> 4];
    o->drop = col_lists[b[4] & 15];
    o->max_levels = b[4] >> 4;
    o->chunk_rows = b[5];
    o->max_line = (size_t)b[6] * 16;
    o->bad_values = b[7] & 1 ? KM_BAD_MISSING : KM_BAD_ERROR;
    static const char decimals[4] = {0, '.', ',', 0};
    o->decimal = decimals[(b[7] >> 1) & 3];
    static const char *const keep[] = {"a", "b", "col1", "col2"};
    static unsigned char types[5][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 3, 2, 3}, {3, 4, 3, 4},
                                        {4, 0, 1, 2}};
    if (b[7] & 8) {
        o->keep = keep;
        o->keep_type = types[((b[7] >> 4) & 7) % 5];
        o->nkeep = 4;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keep[] = {"in.csv", "out.kmx"};
    static int init;
    if (!init) {
        signal(SIGPIPE, SIG_IGN);
        init = 1;
    }
    if (size < FUZZ_CSV_OPTS)
        return 0;
    fuzz_begin();
    char in[4200], out[4200];
    km_convert_opts o = {0};
    options(data, &o);
    const uint8_t *csv = data + FUZZ_CSV_OPTS;
    size_t n = size - FUZZ_CSV_OPTS;
    int saved = -1;
    if (data[1] & 16)
        saved = stdin_pipe(csv, n);
    if (saved >= 0) {
        o.input = "-";
    } else {
        fuzz_write(in, sizeof in, "in.csv", csv, n);
        o.input = in;
    }
    fuzz_path(out, sizeof out, "out.kmx");
    o.output = out;

    km_ctx ctx;
    fuzz_ctx(&ctx);
    km_pool *pool = NULL;
    if (km_pool_create(&pool, 0, &ctx.err))
        abort();
    o.pool = pool;
    km_convert_result res;
    int rc = km_convert(&ctx, &o, &res);
    km_pool_destroy(pool);
    if (saved >= 0) {
        dup2(saved, STDIN_FILENO);
        close(saved);
    }
    if (rc == 0) {
        km_kmx *d = NULL;
        if (km_kmx_open(&ctx, out, KM_IO_PREAD, &d))
            FUZZ_FAIL("km_convert wrote a dataset km_kmx_open refuses: %s", ctx.err.msg);
        if (km_kmx_rows(d) != res.rows || km_kmx_schema(d)->ncols != res.ncols)
            FUZZ_FAIL("km_convert reported %llu rows x %u columns, the dataset holds %llu x %u",
                      (unsigned long long)res.rows, res.ncols,
                      (unsigned long long)km_kmx_rows(d), km_kmx_schema(d)->ncols);
        fuzz_exercise_kmx(&ctx, d);
        km_kmx_close(d);
    }
    fuzz_check_dir(keep, 2);
    fuzz_end();
    return 0;
}
