/* fuzz_kmx.c - libFuzzer harness of the .kmx reader: the input is a whole
 * dataset file. Opened with km_kmx_open (plain pread, for determinism), then
 * every chunk read, scanned, summarized, sampled and exported
 * (fuzz_exercise_kmx). Before that the harness makes every checksum of the
 * input right (header, chunk headers, payloads, statistics blocks,
 * metadata, index, footer: formats/kmx.md), wherever the framing lets it
 * find them: damage the CRCs catch is tested elsewhere; what the fuzzer
 * explores here is content consistent with its checksums but not with
 * itself. A file the reader accepts must be consistent with
 * itself; one it refuses must be refused with an error, never a crash. */
#include "config.h"

#include "fuzz_common.h"
#include "fuzz_kmx.h"
#include "kmill/crc32c.h"
#include "kmill/io.h"

/* Chunk index entries whose checksums are fixed up, at most. */
#define FUZZ_MAX_FIX 4096

static int in_file(uint64_t off, uint64_t len, uint64_t size)
{
    return off <= size && len <= size - off;
}

/* One chunk at off (its header, payload and statistics block); the index
 * entry ix gets the same payload and stats CRCs. */
static void fix_chunk(uint8_t *f, uint64_t size, uint64_t off, uint8_t *ix)
{
    if (!in_file(off, 48, size))
        return;
    uint8_t *h = f + off;
    uint64_t ncols = fuzz_get32(f + 24), comp = fuzz_get32(h + 20);
    if (in_file(off + 48, comp, size)) {
        uint32_t c = km_crc32c(0, h + 48, (size_t)comp);
        fuzz_put32(h + 24, c);
        fuzz_put32(ix + 28, c);
        if (in_file(off + 48 + comp, 32 * ncols, size)) {
            c = km_crc32c(0, h + 48 + comp, (size_t)(32 * ncols));
            fuzz_put32(h + 28, c);
            fuzz_put32(ix + 32, c);
        }
    }
    fuzz_put32(h + 44, km_crc32c(0, h, 44));
}

static void fix_crcs(uint8_t *f, uint64_t size)
{
    if (size < 64)
        return;
    fuzz_put32(f + 60, km_crc32c(0, f, 60));
    if (size < 128)
        return;
    uint8_t *ft = f + size - 64;
    uint64_t meta_off = fuzz_get64(ft), meta_len = fuzz_get64(ft + 8);
    uint64_t ix_off = fuzz_get64(ft + 16), nchunks = fuzz_get64(ft + 24);
    if (in_file(meta_off, meta_len, size - 64))
        fuzz_put32(ft + 40, km_crc32c(0, f + meta_off, (size_t)meta_len));
    if (nchunks <= FUZZ_MAX_FIX && in_file(ix_off, 40 * nchunks, size - 64)) {
        for (uint64_t k = 0; k < nchunks; k++) {
            uint8_t *ix = f + ix_off + 40 * k;
            fix_chunk(f, size, fuzz_get64(ix), ix);
        }
        fuzz_put32(ft + 44, km_crc32c(0, f + ix_off, (size_t)(40 * nchunks)));
    }
    fuzz_put32(ft + 52, km_crc32c(0, ft, 52));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keep[] = {"in.kmx"};
    char path[4200];
    fuzz_begin();
    uint8_t *img = malloc(size ? size : 1);
    if (!img)
        abort();
    memcpy(img, data, size);
    fix_crcs(img, size);
    fuzz_write(path, sizeof path, "in.kmx", img, size);
    free(img);
    km_ctx ctx;
    fuzz_ctx(&ctx);
    (void)km_kmx_probe(path);
    km_kmx *d = NULL;
    if (km_kmx_open(&ctx, path, KM_IO_PREAD, &d) == 0) {
        fuzz_exercise_kmx(&ctx, d);
        km_kmx_close(d);
    }
    fuzz_check_dir(keep, 1);
    fuzz_end();
    return 0;
}
