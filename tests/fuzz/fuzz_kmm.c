/* fuzz_kmm.c - libFuzzer harness of the .kmm model reader followed by a
 * prediction. The input is a whole model file. Loaded with km_model_load;
 * a model it accepts then scores three fixed feature rows
 * (km_model_scores), predicts and evaluates a small fixed dataset by
 * column name (km_model_stream, without and with the label), and is saved
 * and loaded again: the copy must load and give the same scores, bit for
 * bit. Before loading, the harness makes every checksum of the input right
 * (the header's and each section's, formats/kmm.md): damage the CRCs
 * catch is tested elsewhere; what the fuzzer explores here is content that
 * is consistent with its checksums but not with itself. The dataset (FUZZ_DATA_CSV, whose columns the seed models were
 * trained on: see gen-corpus.sh) is converted once per process. */
#include "config.h"

#include <math.h>

#include "fuzz_common.h"
#include "kmill/convert.h"
#include "kmill/crc32c.h"
#include "kmill/io.h"
#include "kmill/kmx.h"
#include "kmill/model.h"

/* Keep in step with gen-corpus.sh, which trains the seed models on it. */
#define FUZZ_DATA_CSV                                                                          \
    "x1,x2,color,label\n"                                                                      \
    "0.5,1,red,a\n"                                                                            \
    "1.5,2,blue,b\n"                                                                           \
    "2.5,,green,a\n"                                                                           \
    "-1,3.25,red,b\n"                                                                          \
    "4,0,NA,a\n"                                                                               \
    "0,-2,blue,c\n"                                                                            \
    "3,1e-3,violet,\n"                                                                         \
    "NA,7,red,b\n"

#define FUZZ_ROWS 3
#define FUZZ_MAX_D ((uint32_t)1 << 16)

/* the fixed dataset's bytes, written next to each input */
static uint8_t *data_kmx;
static size_t data_len;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char in[4200], data_path[4200];
    fuzz_begin();
    fuzz_write(in, sizeof in, "data.csv", (const uint8_t *)FUZZ_DATA_CSV,
               sizeof FUZZ_DATA_CSV - 1);
    fuzz_path(data_path, sizeof data_path, "data.kmx");
    km_ctx ctx;
    fuzz_ctx(&ctx);
    km_convert_opts o = {0};
    o.input = in;
    o.output = data_path;
    o.level = 1;
    km_convert_result res;
    if (km_convert(&ctx, &o, &res)) {
        fprintf(stderr, "kmill fuzz: cannot convert the fixed dataset: %s\n", ctx.err.msg);
        abort();
    }
    FILE *f = fopen(data_path, "rb");
    if (!f || fseek(f, 0, SEEK_END) || (long)(data_len = (size_t)ftell(f)) <= 0 ||
        fseek(f, 0, SEEK_SET) || !(data_kmx = malloc(data_len)) ||
        fread(data_kmx, 1, data_len, f) != data_len)
        abort();
    fclose(f);
    fuzz_end();
    return 0;
}

static int consume(void *arg, const float *scores, const float *y, const float *rows, size_t n)
{
    (void)rows;
    volatile float sink = 0;
    size_t c = *(const uint32_t *)arg;
    for (size_t i = 0; i < n * c; i++)
        sink += scores[i];
    for (size_t i = 0; i < n; i++)
        sink += y[i];
    (void)sink;
    return 0;
}

/* scores of the fixed rows (FUZZ_ROWS x m->c, malloc'd), or NULL */
static float *fixed_scores(km_ctx *ctx, const km_model *m)
{
    if (m->d == 0 || m->d > FUZZ_MAX_D || m->c == 0 || m->c > FUZZ_MAX_D)
        return NULL;
    float *X = malloc((size_t)FUZZ_ROWS * m->d * sizeof *X);
    float *s = malloc((size_t)FUZZ_ROWS * m->c * sizeof *s);
    if (!X || !s)
        abort();
    for (size_t i = 0; i < (size_t)FUZZ_ROWS * m->d; i++)
        X[i] = (float)((int)(i % 7) - 3) * 0.25f;
    if (km_model_scores(ctx, NULL, m, X, FUZZ_ROWS, ctx->mem_budget, s)) {
        free(s);
        s = NULL;
    }
    free(X);
    return s;
}

/* Set the header CRC and every section's payload CRC of the image f. */
static void fix_crcs(uint8_t *f, size_t size)
{
    if (size < 24)
        return;
    fuzz_put32(f + 20, km_crc32c(0, f, 20));
    size_t at = 24;
    while (size - at >= 16) {
        uint64_t len = fuzz_get64(f + at + 4);
        if (len > size - at - 16)
            break;
        fuzz_put32(f + at + 12 + len, km_crc32c(0, f + at + 12, (size_t)len));
        at += 16 + (size_t)len;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keep[] = {"data.kmx", "in.kmm", "copy.kmm"};
    char path[4200], copy[4200], data_path[4200];
    fuzz_begin();
    fuzz_write(data_path, sizeof data_path, "data.kmx", data_kmx, data_len);
    uint8_t *img = malloc(size ? size : 1);
    if (!img)
        abort();
    memcpy(img, data, size);
    fix_crcs(img, size);
    fuzz_write(path, sizeof path, "in.kmm", img, size);
    free(img);
    fuzz_path(copy, sizeof copy, "copy.kmm");
    km_ctx ctx;
    fuzz_ctx(&ctx);
    km_model m;
    memset(&m, 0, sizeof m);
    if (km_model_load(&ctx, path, &m)) {
        km_model_free(&m);
        fuzz_check_dir(keep, 3);
        fuzz_end();
        return 0;
    }
    float *s1 = fixed_scores(&ctx, &m);

    km_kmx *d = NULL;
    if (km_kmx_open(&ctx, data_path, KM_IO_PREAD, &d)) {
        fprintf(stderr, "kmill fuzz: cannot open the fixed dataset: %s\n", ctx.err.msg);
        abort();
    }
    km_plan plan;
    km_predict_estimate(&m, d, 1, ctx.mem_budget, &plan);
    uint64_t unseen = 0;
    uint32_t c = m.c;
    (void)km_model_stream(&ctx, NULL, &m, d, 0, consume, &c, &unseen);
    (void)km_model_stream(&ctx, NULL, &m, d, 1, consume, &c, &unseen);
    km_kmx_close(d);

    /* what was loaded saves, and the copy loads and scores the same */
    if (km_model_save(&ctx, &m, copy) == 0) {
        km_model m2;
        memset(&m2, 0, sizeof m2);
        if (km_model_load(&ctx, copy, &m2))
            FUZZ_FAIL("a loaded model, saved again, does not load: %s", ctx.err.msg);
        if (m2.n != m.n || m2.d != m.d || m2.c != m.c)
            FUZZ_FAIL("a model saved again changed shape: %llu x %u x %u -> %llu x %u x %u",
                      (unsigned long long)m.n, m.d, m.c, (unsigned long long)m2.n, m2.d, m2.c);
        float *s2 = fixed_scores(&ctx, &m2);
        if ((s1 == NULL) != (s2 == NULL) ||
            (s1 && memcmp(s1, s2, (size_t)FUZZ_ROWS * m.c * sizeof *s1)))
            FUZZ_FAIL("a model saved again scores differently");
        free(s2);
        km_model_free(&m2);
    }
    free(s1);
    km_model_free(&m);
    fuzz_check_dir(keep, 3);
    fuzz_end();
    return 0;
}
