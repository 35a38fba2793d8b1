/* fuzz_kmx.c - libFuzzer harness of the .kmx reader: the input is a whole
 * dataset file. Opened with km_kmx_open (plain pread, for determinism), then
 * every chunk read, scanned, summarized, sampled and exported
 * (fuzz_exercise_kmx). A file the reader accepts must be consistent with
 * itself; one it refuses must be refused with an error, never a crash. */
#include "config.h"

#include "fuzz_common.h"
#include "fuzz_kmx.h"
#include "kmill/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keep[] = {"in.kmx"};
    char path[4200];
    fuzz_setup();
    fuzz_write(path, sizeof path, "in.kmx", data, size);
    km_ctx ctx;
    fuzz_ctx(&ctx);
    (void)km_kmx_probe(path);
    km_kmx *d = NULL;
    if (km_kmx_open(&ctx, path, KM_IO_PREAD, &d) == 0) {
        fuzz_exercise_kmx(&ctx, d);
        km_kmx_close(d);
    }
    fuzz_check_dir(keep, 1);
    unlink(path);
    return 0;
}
