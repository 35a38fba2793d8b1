/* test_model.c - the .kmm reader checks what it will index with: a model
 * written by km_model_save is taken apart into its sections, one value is
 * patched (or a section repeated, dropped, lengthened), the section CRCs
 * are recomputed so that only the checks of the contents can object, and
 * km_model_load must refuse the file with KM_ECORRUPT and exactly the
 * message naming the section and the value (formats/kmm.md, "Reading"). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kmill/bytes.h"
#include "kmill/crc32c.h"
#include "kmill/io.h"
#include "kmill/model.h"

/* ---- a small valid model ------------------------------------------------ */

static char *dup_str(const char *s)
{
    char *p = strdup(s);
    cr_assert(p);
    return p;
}

static void set_strs(char ***v, uint32_t **len, const char **s, uint32_t n)
{
    *v = calloc(n, sizeof **v);
    *len = calloc(n, sizeof **len);
    for (uint32_t k = 0; k < n; k++) {
        (*v)[k] = dup_str(s[k]);
        (*len)[k] = (uint32_t)strlen(s[k]);
    }
}

/* The model of formats/kmm.md's worked example: x numeric (feature 0), c
 * categorical with levels a, b (features 1, 2), classes yes and no, three
 * centres; metric: 0 none, 1 diagonal, 2 full. c_out outputs and n centres
 * (alpha and centres filled with small numbers). */
static void make_model(km_model *m, int metric, uint32_t n, uint32_t c_out)
{
    memset(m, 0, sizeof *m);
    km_features *f = &m->feat;
    f->task = KM_TASK_CLASSIFY;
    f->scale = KM_SCALE_STANDARD;
    f->d = 3;
    f->label = dup_str("label");
    const char *cls[] = {"yes", "no"};
    set_strs(&f->classes, &f->class_len, cls, 2);
    f->nclasses = 2;
    f->ncols = 2;
    f->cols = calloc(2, sizeof *f->cols);
    f->cols[0] = (km_featcol){dup_str("x"), KM_COL_NUMERIC, 0, 2, 2, 1.2247449f, 0, NULL, NULL};
    f->cols[1] = (km_featcol){dup_str("c"), KM_COL_CATEGORICAL, 1, 0, 0, 0, 2, NULL, NULL};
    const char *lv[] = {"a", "b"};
    set_strs(&f->cols[1].levels, &f->cols[1].level_len, lv, 2);
    m->kernel.type = KM_KERNEL_LAPLACE;
    m->kernel.bandwidth = 10;
    m->reg = 1e-3;
    m->metric = metric;
    m->d = 3;
    if (metric == KM_METRIC_DIAG) {
        m->M = malloc(3 * sizeof *m->M);
        for (int i = 0; i < 3; i++)
            m->M[i] = 1.0f / (float)(i + 1);
    } else if (metric == KM_METRIC_FULL) {
        m->M = calloc(9, sizeof *m->M);
        for (int i = 0; i < 3; i++)
            m->M[i * 3 + i] = 1;
    }
    m->n = n;
    m->c = c_out;
    m->centres = malloc((n * 3 + 1) * sizeof *m->centres);
    m->alpha = malloc((n * c_out + 1) * sizeof *m->alpha);
    for (uint32_t i = 0; i < n * 3; i++)
        m->centres[i] = (float)(i % 3) - 1;
    for (uint32_t i = 0; i < n * c_out; i++)
        m->alpha[i] = (float)i / 8 - 0.25f;
    m->version = dup_str("0.1.0");
    m->command = dup_str("kmill train -o m.kmm t.csv");
    m->created = dup_str("2026-01-01T00:00:00Z");
    m->data_path = dup_str("t.csv");
    m->solver = dup_str("direct");
}

/* ---- a model file as its sections --------------------------------------- */

typedef struct sect {
    uint32_t tag;
    unsigned char *p;
    size_t len;
} sect;

typedef struct kmm {
    unsigned char head[24];
    sect s[16];
    int n;
} kmm;

#define TAG(s) ((uint32_t)(s)[0] | (uint32_t)(s)[1] << 8 | (uint32_t)(s)[2] << 16 | (uint32_t)(s)[3] << 24)

static char dir[64], path[96];
static km_ctx ctx;

static void setup(void)
{
    strcpy(dir, "/tmp/kmill-model-XXXXXX");
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/m.kmm", dir);
    km_ctx_init(&ctx, "t");
}

static void teardown(void)
{
    unlink(path);
    rmdir(dir);
}

static void save(int metric, uint32_t n, uint32_t c_out)
{
    km_model m;
    make_model(&m, metric, n, c_out);
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
}

static void split(kmm *k)
{
    FILE *fp = fopen(path, "rb");
    cr_assert(fp);
    unsigned char buf[4096];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    cr_assert(len > 24 && len < sizeof buf);
    memcpy(k->head, buf, 24);
    k->n = 0;
    for (size_t pos = 24; pos + 16 <= len && k->n < 16; k->n++) {
        sect *s = &k->s[k->n];
        s->tag = get_u32(buf + pos);
        s->len = (size_t)get_u64(buf + pos + 4);
        s->p = calloc(1, s->len + 64); /* room to lengthen it */
        memcpy(s->p, buf + pos + 12, s->len);
        pos += 16 + s->len;
    }
}

/* Write the sections back, each with the CRC of its payload as it now is. */
static void join(kmm *k)
{
    FILE *fp = fopen(path, "wb");
    cr_assert(fp);
    fwrite(k->head, 1, 24, fp);
    for (int i = 0; i < k->n; i++) {
        unsigned char h[12], t[4];
        put_u32(h, k->s[i].tag);
        put_u64(h + 4, k->s[i].len);
        put_u32(t, km_crc32c(0, k->s[i].p, k->s[i].len));
        fwrite(h, 1, 12, fp);
        fwrite(k->s[i].p, 1, k->s[i].len, fp);
        fwrite(t, 1, 4, fp);
    }
    fclose(fp);
    for (int i = 0; i < k->n; i++)
        free(k->s[i].p);
}

static int find(const kmm *k, const char *tag)
{
    for (int i = 0; i < k->n; i++)
        if (k->s[i].tag == TAG(tag))
            return i;
    cr_assert_fail("no section %s", tag);
    return -1;
}

static unsigned char *payload(kmm *k, const char *tag)
{
    return k->s[find(k, tag)].p;
}

/* The offset of section i's tag in the file as join writes it. */
static size_t at(const kmm *k, int i)
{
    size_t pos = 24;
    for (int j = 0; j < i; j++)
        pos += 16 + k->s[j].len;
    return pos;
}

static void insert(kmm *k, int i, const sect *s)
{
    memmove(&k->s[i + 1], &k->s[i], (size_t)(k->n - i) * sizeof *s);
    k->s[i] = *s;
    k->s[i].p = malloc(s->len + 1);
    memcpy(k->s[i].p, s->p, s->len);
    k->n++;
}

/* km_model_load refuses the file with KM_ECORRUPT and "PATH: " + want. */
static void refused(const char *want)
{
    km_model m;
    char full[KM_ERRMSG_MAX];
    snprintf(full, sizeof full, "%s: %s", path, want);
    km_clearerr(&ctx.err);
    int rc = km_model_load(&ctx, path, &m);
    cr_assert_eq(rc, KM_ECORRUPT, "rc %d (%s), expected KM_ECORRUPT for '%s'", rc, ctx.err.msg, want);
    cr_assert_str_eq(ctx.err.msg, full);
}

/* The FEAT payload of make_model: task 0, scale 4, d 8, label 12 (9
 * bytes), nclasses 21, "yes" 25, "no" 32, ncols 38; column x at 42: type
 * 47, first 51, fill 55, shift 63, scale 71, nlevels 79; column c at 83:
 * type 88, first 92, fill 96, shift 104, scale 112, nlevels 120, "a" 124,
 * "b" 129; 134 bytes. */
enum {
    F_TASK = 0, F_SCALE = 4, F_D = 8, F_LABEL = 12, F_NCLASSES = 21, F_NCOLS = 38,
    X_TYPE = 47, X_FIRST = 51, X_FILL = 55, X_NLEVELS = 79,
    C_TYPE = 88, C_FIRST = 92, C_SCALE = 112, C_NLEVELS = 120, FEAT_LEN = 134
};
/* KERN: kernel 0, bandwidth 4, reg 12, metric 20, d 24, M 28. */
enum { K_KERNEL = 0, K_BW = 4, K_REG = 12, K_METRIC = 20, K_D = 24, K_M = 28 };

/* Patch the n bytes b into section tag's payload at off, in a model of
 * the metric given; the message wanted, after "section TAG at byte P: ",
 * is want. */
static void patch(int metric, const char *tag, size_t off, const unsigned char *b, size_t n,
                  const char *want)
{
    save(metric, 3, 2);
    kmm k;
    split(&k);
    int i = find(&k, tag);
    memcpy(k.s[i].p + off, b, n);
    char full[KM_ERRMSG_MAX];
    snprintf(full, sizeof full, "section %s at byte %zu: %s", tag, at(&k, i), want);
    join(&k);
    refused(full);
}

static void patch_u32(const char *tag, size_t off, uint32_t v, const char *want)
{
    unsigned char b[4];
    put_u32(b, v);
    patch(KM_METRIC_NONE, tag, off, b, 4, want);
}

static void patch_f64(const char *tag, size_t off, double v, const char *want)
{
    unsigned char b[8];
    put_f64(b, v);
    patch(KM_METRIC_NONE, tag, off, b, 8, want);
}

TestSuite(model, .init = setup, .fini = teardown);

Test(model, valid_file_loads_and_layout_is_as_documented)
{
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    cr_assert_eq(k.n, 6);
    const sect *f = &k.s[find(&k, "FEAT")];
    cr_assert_eq(f->len, FEAT_LEN);
    cr_assert_eq(get_u32(f->p + C_TYPE), KM_COL_CATEGORICAL);
    cr_assert_eq(get_u32(f->p + C_NLEVELS), 2);
    cr_assert_eq(get_u32(f->p + X_NLEVELS), 0);
    cr_assert_eq(get_u32(f->p + F_NCOLS), 2);
    /* a section of a later minor version is skipped */
    sect z = {TAG("ZZZZ"), (unsigned char *)"abc", 3};
    insert(&k, find(&k, "END "), &z);
    join(&k);
    km_model m;
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    cr_assert_eq(m.n, 3);
    cr_assert_eq(m.c, 2);
    cr_assert_eq(m.feat.cols[1].nlevels, 2);
    km_model_free(&m);
}

/* Finding 2: a column type other than 0 and 1 passed the tiling check as
 * one feature, while the transform cleared nlevels features. */
Test(model, column_type_unknown)
{
    patch_u32("FEAT", C_TYPE, 5, "column 2 of 2: type 5 is not 0 (numeric) or 1 (categorical)");
}

Test(model, task_and_scale_known)
{
    patch_u32("FEAT", F_TASK, 0, "task 0 is not 1 (classification) or 2 (regression)");
    patch_u32("FEAT", F_SCALE, 3, "scale 3 is not 0 (standard), 1 (min-max) or 2 (none)");
}

Test(model, regression_has_no_classes)
{
    patch_u32("FEAT", F_TASK, KM_TASK_REGRESS, "nclasses 2: a regression model has 0");
}

Test(model, columns_tile_d)
{
    patch_u32("FEAT", F_D, 4, "the columns' features end at 3, short of d 4");
    patch_u32("FEAT", F_D, 2, "column 2 of 2: 2 features from 1 run past d 2");
    patch_u32("FEAT", F_D, 0, "d is 0: a model has at least one feature");
    patch_u32("FEAT", C_FIRST, 0,
              "column 2 of 2: first feature 0, expected 1 (the columns' features follow each other from 0)");
    patch_u32("FEAT", C_FIRST, 2,
              "column 2 of 2: first feature 2, expected 1 (the columns' features follow each other from 0)");
    patch_u32("FEAT", X_FIRST, 1,
              "column 1 of 2: first feature 1, expected 0 (the columns' features follow each other from 0)");
    patch_u32("FEAT", C_NLEVELS, 3, "column 2 of 2: 3 features from 1 run past d 3");
    patch_u32("FEAT", X_NLEVELS, 1, "column 1 of 2: nlevels 1 for a numeric column (expected 0)");
    patch_u32("FEAT", X_TYPE, KM_COL_CATEGORICAL,
              "column 2 of 2: first feature 1, expected 0 (the columns' features follow each other from 0)");
}

Test(model, counts_within_the_section)
{
    patch_u32("FEAT", F_NCLASSES, 100, "nclasses 100: more than the 109 bytes left can hold");
    patch_u32("FEAT", F_NCOLS, 3, "ncols 3: more than the 92 bytes left can hold");
    patch_u32("FEAT", F_LABEL, 0xFFFFFFFF,
              "a string of 4294967295 bytes at offset 12 runs past the end of its 134 bytes");
    patch_u32("FEAT", F_LABEL, 0, "the label column's name is empty");
}

Test(model, column_parameters_finite)
{
    patch_f64("FEAT", X_FILL, NAN, "column 1 of 2: fill nan is not a finite float");
    patch_f64("FEAT", C_SCALE, 1e300, "column 2 of 2: scale 1e+300 is not a finite float");
}

Test(model, kernel_known)
{
    patch_u32("KERN", K_KERNEL, 4,
              "kernel 4 is not 0 (Laplace), 1 (Gaussian), 2 (NTK) or 3 (NNGP)");
    /* (a 1.4 reader stopped at 2 and 3 here: "kernel 2 is not 0 (Laplace)
     * or 1 (Gaussian)") */
    patch_u32("KERN", K_KERNEL, 2, "bandwidth 10: a dot-product kernel has none (0)");
    patch_f64("KERN", K_BW, 0, "bandwidth 0 is not a finite number > 0");
    patch_f64("KERN", K_BW, INFINITY, "bandwidth inf is not a finite number > 0");
    patch_f64("KERN", K_BW, NAN, "bandwidth nan is not a finite number > 0");
    patch_f64("KERN", K_REG, -1, "reg -1 is not a finite number >= 0");
    patch_f64("KERN", K_REG, NAN, "reg nan is not a finite number >= 0");
    patch_u32("KERN", K_METRIC, 3, "metric 3 is not 0 (none), 1 (diagonal) or 2 (full)");
    patch_u32("KERN", K_METRIC, KM_METRIC_DIAG, "M takes 0 bytes, not 1 x 3 floats");
    patch_u32("KERN", K_D, 0, "d is 0: a model has at least one feature");
}

/* In a model with a metric: off K_METRIC gets v, an offset into M gets f. */
static void patch_metric(int metric, size_t off, uint32_t v, float f, const char *want)
{
    unsigned char b[4];
    if (off == K_METRIC)
        put_u32(b, v);
    else
        put_f32(b, f);
    patch(metric, "KERN", off, b, 4, want);
}

Test(model, metric_length_finite_and_diagonal)
{
    patch_metric(KM_METRIC_DIAG, K_METRIC, KM_METRIC_FULL, 0, "M takes 12 bytes, not 3 x 3 floats");
    patch_metric(KM_METRIC_FULL, K_METRIC, KM_METRIC_DIAG, 0, "M takes 36 bytes, not 1 x 3 floats");
    patch_metric(KM_METRIC_FULL, K_METRIC, KM_METRIC_NONE, 0, "36 bytes after its last field");
    patch_metric(KM_METRIC_DIAG, K_M + 4, 0, -1, "the diagonal entry 1 of M is -1, negative");
    patch_metric(KM_METRIC_FULL, K_M + 16, 0, -0.5f, "the diagonal entry 1 of M is -0.5, negative");
    patch_metric(KM_METRIC_DIAG, K_M + 8, 0, NAN, "M[0][2] is nan, not a finite number");
    patch_metric(KM_METRIC_FULL, K_M + 4, 0, INFINITY, "M[0][1] is inf, not a finite number");
    /* off the diagonal of a full M, negative entries are fine */
    save(KM_METRIC_FULL, 3, 2);
    kmm k;
    split(&k);
    put_f32(payload(&k, "KERN") + K_M + 4, -0.25f);
    put_f32(payload(&k, "KERN") + K_M + 12, -0.25f);
    join(&k);
    km_model m;
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    km_model_free(&m);
}

Test(model, centres_and_alpha)
{
    /* CENT: n 0, d 8, centres 12; ALPH: n 0, c 8, alpha 12 */
    patch_u32("CENT", 8, 4, "d 4 differs from KERN's d 3");
    patch_u32("CENT", 0, 4, "centre takes 36 bytes, not 4 x 3 floats");
    patch_u32("ALPH", 0, 2, "n 2 differs from CENT's n 3");
    patch_u32("ALPH", 8, 0, "c is 0: a model has at least one output");
    patch_u32("ALPH", 8, 3, "alpha takes 24 bytes, not 3 x 3 floats");
    patch_u32("CENT", 12 + 5 * 4, 0x7FC00000, "centre[1][2] is nan, not a finite number");
    patch_u32("ALPH", 12 + 3 * 4, 0xFF800000, "alpha[1][1] is -inf, not a finite number");
}

/* Finding 5: a model without centres loaded and predicted class 0. */
Test(model, no_centres)
{
    save(KM_METRIC_NONE, 0, 2);
    kmm k;
    split(&k);
    char want[200];
    snprintf(want, sizeof want, "section CENT at byte %zu: n is 0: a model has at least one centre",
             at(&k, find(&k, "CENT")));
    join(&k);
    refused(want);
}

Test(model, outputs_match_the_task)
{
    save(KM_METRIC_NONE, 3, 3);
    refused("inconsistent model file: ALPH has c 3, FEAT has 2 classes");
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    /* a regression model without classes, but two outputs: the FEAT of
     * one numeric column, "y" */
    unsigned char *f = payload(&k, "FEAT");
    size_t n = 0;
    put_u32(f + n, KM_TASK_REGRESS), n += 4;
    put_u32(f + n, KM_SCALE_NONE), n += 4;
    put_u32(f + n, 3), n += 4; /* d */
    put_u32(f + n, 1), n += 4;
    f[n++] = 'y';
    put_u32(f + n, 0), n += 4; /* nclasses */
    put_u32(f + n, 1), n += 4; /* ncols */
    put_u32(f + n, 1), n += 4;
    f[n++] = 'x';
    put_u32(f + n, KM_COL_CATEGORICAL), n += 4;
    put_u32(f + n, 0), n += 4; /* first */
    memset(f + n, 0, 24), n += 24;
    put_u32(f + n, 3), n += 4; /* nlevels */
    for (int q = 0; q < 3; q++) {
        put_u32(f + n, 1), n += 4;
        f[n++] = (unsigned char)('a' + q);
    }
    k.s[find(&k, "FEAT")].len = n;
    join(&k);
    refused("inconsistent model file: ALPH has c 2, a regression model has 1");
}

Test(model, kern_d_matches_feat)
{
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    /* d 4 throughout KERN, CENT and ALPH, FEAT keeping 3 */
    put_u32(payload(&k, "KERN") + K_D, 4);
    sect *c = &k.s[find(&k, "CENT")];
    put_u32(c->p + 8, 4);
    c->len = 12 + 3 * 4 * 4;
    memset(c->p + 12, 0, 48);
    join(&k);
    refused("inconsistent model file: FEAT has d 3, KERN has d 4");
}

Test(model, trailing_bytes)
{
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    int i = find(&k, "FEAT");
    k.s[i].len += 4;
    char want[200];
    snprintf(want, sizeof want, "section FEAT at byte %zu: 4 bytes after its last field", at(&k, i));
    join(&k);
    refused(want);
}

/* Finding 5: a repeated section leaked the first copy; now any tag may
 * appear once. */
static void repeated(const char *tag, const char *before)
{
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    int i = find(&k, tag);
    sect s = k.s[i];
    insert(&k, find(&k, before), &s);
    int j = find(&k, before) - 1;
    char want[200];
    snprintf(want, sizeof want, "section %.4s appears twice (at bytes %zu and %zu)", tag, at(&k, i),
             at(&k, j));
    join(&k);
    refused(want);
}

Test(model, sections_appear_once)
{
    repeated("FEAT", "KERN");
    repeated("FEAT", "END ");
    repeated("CENT", "ALPH");
    repeated("PROV", "FEAT");
    repeated("ALPH", "END ");
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    sect z = {TAG("ZZZZ"), (unsigned char *)"", 0};
    insert(&k, find(&k, "KERN"), &z);
    insert(&k, find(&k, "END "), &z);
    char want[200];
    snprintf(want, sizeof want, "section ZZZZ appears twice (at bytes %zu and %zu)",
             at(&k, find(&k, "KERN") - 1), at(&k, find(&k, "END ") - 1));
    join(&k);
    refused(want);
}

Test(model, required_sections_and_order)
{
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    k.s[find(&k, "ALPH")].tag = TAG("ALPX");
    join(&k);
    refused("model file lacks the required section ALPH");
    save(KM_METRIC_NONE, 3, 2);
    split(&k);
    k.s[find(&k, "FEAT")].tag = TAG("FEA\x01");
    join(&k);
    refused("model file lacks the required section FEAT");
    save(KM_METRIC_NONE, 3, 2);
    split(&k);
    int i = find(&k, "KERN");
    k.s[i].tag = TAG("KERX");
    char want[200];
    snprintf(want, sizeof want, "section CENT at byte %zu: it comes before KERN, whose d it must match",
             at(&k, i + 1));
    join(&k);
    refused(want);
}

Test(model, end_is_empty)
{
    save(KM_METRIC_NONE, 3, 2);
    kmm k;
    split(&k);
    int i = find(&k, "END ");
    k.s[i].len = 2;
    char want[200];
    snprintf(want, sizeof want, "section END at byte %zu: 2 bytes after its last field", at(&k, i));
    join(&k);
    refused(want);
}

/* Found by the .kmm fuzzer: a label named "\0abel" loaded (its length is
 * 5), was saved again by strlen as "" and that copy was refused. A name used
 * as a C string must not hold a NUL. */
Test(model, names_hold_no_nul)
{
    const unsigned char nul = 0;
    patch(KM_METRIC_NONE, "FEAT", F_LABEL + 4, &nul, 1, "the string at offset 12 holds a NUL byte");
    patch(KM_METRIC_NONE, "FEAT", 42 + 4 + 0, &nul, 1, "the string at offset 42 holds a NUL byte");
}

/* ---- streaming ---------------------------------------------------------- */

/* What km_model_stream handed over, checked against the rows written. */
struct seen {
    const float *data; /* the rows written, NR x 3 */
    uint64_t rows, blocks;
};

enum { NR = 300 };

static int check_block(void *arg, const float *scores, const float *y, const float *rows, size_t n)
{
    struct seen *s = arg;
    for (size_t i = 0; i < n; i++) {
        cr_assert(s->rows + i < NR);
        for (int j = 0; j < 3; j++) {
            float want = s->data[(s->rows + i) * 3 + j], got = rows[i * 3 + j];
            cr_assert(isnan(want) ? isnan(got) : got == want, "row %llu column %d: %g, wrote %g",
                      (unsigned long long)(s->rows + i), j, got, want);
        }
        cr_assert(isnan(y[i]), "the data has no label");
        cr_assert(isfinite(scores[2 * i]) && isfinite(scores[2 * i + 1]));
    }
    s->rows += n;
    s->blocks++;
    return 0;
}

/* Each block's rows come with its scores as the dataset holds them (the
 * columns in the data's order, not the model's; codes into the data's
 * levels; missing as NaN): what predict --id copies out. */
Test(model, stream_hands_over_the_rows)
{
    km_model m;
    make_model(&m, KM_METRIC_NONE, 3, 2);
    char dpath[128];
    snprintf(dpath, sizeof dpath, "%s/d.kmx", dir);
    static float x[NR * 3];
    for (int r = 0; r < NR; r++) { /* id, c (codes into b, a), x */
        x[r * 3] = r % 7 == 0 ? NAN : (float)r * 1000.5f;
        x[r * 3 + 1] = r % 5 == 0 ? NAN : (float)(r % 2);
        x[r * 3 + 2] = (float)r / 10.0f;
    }
    km_kmx_wopts o = {1, KMX_SHUFFLE_AUTO, 64, NULL};
    km_kmx_writer *w;
    cr_assert_eq(km_kmx_create(&ctx, dpath, 3, &o, &w), 0, "%s", ctx.err.msg);
    for (int r0 = 0; r0 < NR; r0 += 64) {
        int k = NR - r0 < 64 ? NR - r0 : 64;
        memcpy(km_kmx_buffer(w), x + r0 * 3, (size_t)k * 3 * sizeof *x);
        cr_assert_eq(km_kmx_put(w, (uint32_t)k), 0, "%s", ctx.err.msg);
    }
    km_schema s = {3, calloc(3, sizeof(km_column))};
    const char *names[] = {"id", "c", "x"}, *lv[] = {"b", "a"};
    for (int j = 0; j < 3; j++)
        s.cols[j].name = dup_str(names[j]);
    s.cols[1].type = KM_COL_CATEGORICAL;
    s.cols[1].nlevels = 2;
    set_strs(&s.cols[1].levels, &s.cols[1].level_len, lv, 2);
    km_kmx_source src = {"test", 0, 0, 0};
    cr_assert_eq(km_kmx_finish(w, &s, &src), 0, "%s", ctx.err.msg);
    km_kmx_abort(w);
    km_schema_free(&s);

    km_kmx *d;
    cr_assert_eq(km_kmx_open(&ctx, dpath, KM_IO_PREAD, &d), 0, "%s", ctx.err.msg);
    struct seen seen = {x, 0, 0};
    uint64_t unseen;
    cr_assert_eq(km_model_stream(&ctx, NULL, &m, d, 0, check_block, &seen, &unseen), 0, "%s",
                 ctx.err.msg);
    cr_assert_eq(seen.rows, NR);
    cr_assert_eq(seen.blocks, (NR + 63) / 64);
    km_kmx_close(d);
    km_model_free(&m);
    unlink(dpath);
}

/* ---- the temperature (section CALI) ------------------------------------- */

static void save_calibrated(void)
{
    km_model m;
    make_model(&m, KM_METRIC_NONE, 3, 2);
    m.cal = (km_calib){0.25, 40, 0.375};
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
}

/* CALI's field at off replaced by the 8 bytes b: refused with want. */
static void cali_refused(size_t off, const unsigned char *b, const char *want)
{
    save_calibrated();
    kmm k;
    split(&k);
    int i = find(&k, "CALI");
    memcpy(k.s[i].p + off, b, 8);
    char full[KM_ERRMSG_MAX];
    snprintf(full, sizeof full, "section CALI at byte %zu: %s", at(&k, i), want);
    join(&k);
    refused(full);
}

Test(model, temperature_round_trips_and_is_checked)
{
    save_calibrated();
    km_model m;
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    cr_assert(m.cal.T == 0.25 && m.cal.rows == 40 && m.cal.nll == 0.375);
    km_model_free(&m);
    const double T[] = {0, -1, INFINITY, NAN};
    const char *want[] = {"temperature 0 is not a positive number",
                          "temperature -1 is not a positive number",
                          "temperature inf is not a positive number",
                          "temperature nan is not a positive number"};
    for (int t = 0; t < 4; t++) {
        unsigned char b[8];
        put_f64(b, T[t]);
        cali_refused(0, b, want[t]);
    }
    unsigned char zero[8] = {0};
    cali_refused(8, zero, "a temperature fitted on 0 rows");
}

/* SELE: 56 bytes since 1.3, the folds last; the 52 bytes of 1.1 and 1.2
 * read as folds 0, the rest unchanged. */
Test(model, sele_folds_and_the_shorter_payload)
{
    km_model m;
    make_model(&m, KM_METRIC_NONE, 3, 2);
    m.sel = 1;
    m.rfm_iters = 5;
    m.best_iter = 2;
    m.train_rows = 90;
    m.val_metric = 0.75;
    m.refit = 1;
    m.folds = 5;
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
    kmm k;
    split(&k);
    sect *s = &k.s[find(&k, "SELE")];
    cr_assert_eq(s->len, 56);
    cr_assert_eq(get_u32(s->p + 52), 5);
    cr_assert_eq(get_u16(k.head + 10), 5, "minor version");
    s->len = 52;
    join(&k);
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    cr_expect(m.sel && m.folds == 0 && m.refit == 1 && m.best_iter == 2 && m.train_rows == 90 &&
              m.val_metric == 0.75 && m.rfm_iters == 5);
    km_model_free(&m);
}

/* ---- how the training CSV was read (section READ) ----------------------- */

/* A model with a READ section (NA tokens "NA,x", max levels 7), saved and
 * split; its index in *i. */
static void save_read(kmm *k, int *i)
{
    km_model m;
    make_model(&m, KM_METRIC_NONE, 3, 2);
    m.read.given = 1;
    m.read.na_values = dup_str("NA,x");
    m.read.max_levels = 7;
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
    split(k);
    *i = find(k, "READ");
}

/* READ round-trips; a NUL in its NA list is refused and the string freed
 * (found by the .kmm fuzzer as a leak: tests/fuzz/crashes/kmm/read-na-nul),
 * and so are max levels a dataset cannot hold. */
Test(model, read_section_round_trips_and_is_checked)
{
    kmm k;
    int i;
    save_read(&k, &i);
    km_model m;
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    cr_assert(m.read.given && m.read.max_levels == 7 && strcmp(m.read.na_values, "NA,x") == 0);
    km_model_free(&m);
    k.s[i].p[8 * 4 + 4 + 1] = 0; /* after the 8 fields: the NA list's length, then "NA,x" */
    char want[KM_ERRMSG_MAX];
    snprintf(want, sizeof want, "section READ at byte %zu: the string at offset 32 holds a NUL byte",
             at(&k, i));
    join(&k);
    refused(want);
    save_read(&k, &i);
    put_u32(k.s[i].p + 6 * 4, (1u << 24) + 1); /* max levels */
    snprintf(want, sizeof want,
             "section READ at byte %zu: max levels 16777217 is above the 16777216 a dataset may hold",
             at(&k, i));
    join(&k);
    refused(want);
}

/* NYST (since 1.4): rows and passes round trip; centres drawn from fewer
 * rows than they number are refused; a reader that skips the section
 * (as 1.3 did) gets the same model. */
Test(model, nystrom_section_round_trips_and_is_checked)
{
    km_model m;
    make_model(&m, KM_METRIC_NONE, 3, 2);
    uint64_t n = m.n;
    m.nys_rows = 1000000;
    m.nys_passes = 22;
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    cr_assert(m.nys_rows == 1000000 && m.nys_passes == 22 && m.n == n);
    km_model_free(&m);
    kmm k;
    split(&k);
    int i = find(&k, "NYST");
    cr_assert_eq(k.s[i].len, 12);
    put_u64(k.s[i].p, n - 1);
    char full[KM_ERRMSG_MAX];
    snprintf(full, sizeof full, "section NYST at byte %zu: %llu centres drawn from %llu rows",
             at(&k, i), (unsigned long long)n, (unsigned long long)(n - 1));
    join(&k);
    refused(full);
}

/* DOTK (since 1.5): a dot-product kernel's depth and variances round
 * trip; KERN's kernel field is 2 or 3, where a 1.4 reader reads it (first,
 * refused there as "kernel 2 is not 0 (Laplace) or 1 (Gaussian)"); the
 * section is required with those kernels, refused with the others, and
 * its values are checked. */
Test(model, dotk_section_round_trips_and_is_checked)
{
    km_model m;
    make_model(&m, KM_METRIC_NONE, 3, 2);
    m.kernel = (km_kernel){.type = KM_KERNEL_NTK, .depth = 3, .sw2 = 2, .sb2 = 0.25};
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
    cr_assert_eq(km_model_load(&ctx, path, &m), 0, "%s", ctx.err.msg);
    cr_assert(m.kernel.type == KM_KERNEL_NTK && m.kernel.depth == 3 && m.kernel.sw2 == 2 &&
              m.kernel.sb2 == 0.25 && m.kernel.bandwidth == 0);
    km_model_free(&m);
    kmm k;
    split(&k);
    cr_assert_eq(get_u16(k.head + 10), 5, "minor version");
    cr_assert_eq(get_u32(payload(&k, "KERN")), 2, "KERN's kernel field");
    int i = find(&k, "DOTK");
    cr_assert_eq(k.s[i].len, 20);
    put_u32(k.s[i].p, 0);
    char full[KM_ERRMSG_MAX];
    snprintf(full, sizeof full, "section DOTK at byte %zu: depth 0 is not 1 to 64", at(&k, i));
    join(&k);
    refused(full);

    /* without DOTK */
    split(&k);
    i = find(&k, "DOTK");
    free(k.s[i].p);
    memmove(&k.s[i], &k.s[i + 1], (size_t)(k.n - i - 1) * sizeof k.s[0]);
    k.n--;
    join(&k);
    snprintf(full, sizeof full, "%s: model file lacks the section DOTK its kernel (ntk) needs",
             path);
    cr_assert_eq(km_model_load(&ctx, path, &m), KM_ECORRUPT);
    cr_expect_str_eq(ctx.err.msg, full);

    /* DOTK with a Laplace kernel: rewrite the NTK file's KERN */
    make_model(&m, KM_METRIC_NONE, 3, 2);
    m.kernel = (km_kernel){.type = KM_KERNEL_NNGP, .depth = 1, .sw2 = 1, .sb2 = 0};
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
    split(&k);
    unsigned char *kp = payload(&k, "KERN");
    put_u32(kp, KM_KERNEL_LAPLACE);
    put_u64(kp + 4, 0x4024000000000000ull); /* 10.0 */
    join(&k);
    snprintf(full, sizeof full, "%s: inconsistent model file: DOTK with the laplace kernel", path);
    cr_assert_eq(km_model_load(&ctx, path, &m), KM_ECORRUPT);
    cr_expect_str_eq(ctx.err.msg, full);
}

/* ---- a network (since 1.5) ------------------------------------------------ */

/* make_model's features with a network of widths 3, 5, 4, 2 in place of
 * the kernel machine. */
static void make_net(km_model *m)
{
    make_model(m, KM_METRIC_NONE, 1, 2);
    free(m->centres);
    free(m->alpha);
    m->centres = m->alpha = NULL;
    m->n = 0;
    m->kind = KM_MODEL_NET;
    uint32_t width[] = {3, 5, 4, 2};
    cr_assert_eq(km_mlp_init(&ctx, &m->net, 2, width, KM_PARAM_STANDARD, 2, 0.1, 0.5, 4), 0);
    m->ni = (km_net_info){1, 0.25, 30, 64, 7, 100, 20, 0.85};
}

Test(model, network_round_trips)
{
    km_model m, r;
    make_net(&m);
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    cr_assert_eq(km_model_load(&ctx, path, &r), 0, "%s", ctx.err.msg);
    cr_assert_eq(r.kind, KM_MODEL_NET);
    cr_assert(r.d == 3 && r.c == 2 && r.n == 0 && r.net.depth == 2 && r.net.width[2] == 4);
    cr_assert(r.net.param == KM_PARAM_STANDARD && r.net.alpha == 0.5 && r.net.sb2 == 0.1);
    cr_assert(r.ni.loss == 1 && r.ni.lr == 0.25 && r.ni.epochs == 30 && r.ni.batch == 64 &&
              r.ni.seed == 7 && r.ni.train_rows == 100 && r.ni.val_rows == 20 &&
              r.ni.val_metric == 0.85);
    for (int l = 0; l < 3; l++) {
        cr_assert_eq(memcmp(r.net.W[l], m.net.W[l],
                            m.net.width[l + 1] * m.net.width[l] * sizeof(float)), 0);
        cr_assert_eq(memcmp(r.net.b[l], m.net.b[l], m.net.width[l + 1] * sizeof(float)), 0);
    }
    float X[12] = {1, 0, 1, -1, 1, 0, 0.5f, 0, 1, 2, 1, 0}, a[8], b[8];
    cr_assert_eq(km_model_scores(&ctx, NULL, &r, X, 4, 1 << 20, a), 0);
    cr_assert_eq(km_mlp_forward(&ctx, NULL, &m.net, X, 4, NULL, b), 0);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    km_model_free(&m);
    km_model_free(&r);
    /* the header: minor 5, the network bit, its CRC; no kernel sections */
    kmm k;
    split(&k);
    cr_assert_eq(get_u16(k.head + 10), 5);
    cr_assert_eq(get_u32(k.head + 12), KM_REQ_NETWORK);
    cr_assert_eq(get_u32(k.head + 20), km_crc32c(0, k.head, 20));
    const char *order[] = {"PROV", "FEAT", "NETW", "WGHT", "END "};
    cr_assert_eq(k.n, 5);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(k.s[i].tag, TAG(order[i]), "section %d", i);
    join(&k);
}

/* A reader that does not know networks (1.4 and before) refuses the file
 * by its header alone, as this one refuses a bit it does not know. */
Test(model, network_bit_required)
{
    km_model m;
    make_net(&m);
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
    kmm k;
    split(&k);
    put_u32(k.head + 12, KM_REQ_NETWORK | 2);
    put_u32(k.head + 20, km_crc32c(0, k.head, 20));
    join(&k);
    cr_assert_eq(km_model_load(&ctx, path, &m), KM_EFORMAT);
    char full[KM_ERRMSG_MAX];
    snprintf(full, sizeof full, "%s: the model needs features this kmill lacks (0x00000002); "
             "upgrade kmill", path);
    cr_assert_str_eq(ctx.err.msg, full);
    /* without the bit, NETW is out of place */
    split(&k);
    put_u32(k.head + 12, 0);
    put_u32(k.head + 20, km_crc32c(0, k.head, 20));
    snprintf(full, sizeof full, "section NETW at byte %zu: a network section in a file without "
             "the network feature bit", at(&k, 2));
    join(&k);
    refused(full);
}

static void save_net(void)
{
    km_model m;
    make_net(&m);
    cr_assert_eq(km_model_save(&ctx, &m, path), 0, "%s", ctx.err.msg);
    km_model_free(&m);
}

Test(model, network_sections_checked)
{
    kmm k;
    char full[KM_ERRMSG_MAX];
    save_net();
    split(&k); /* a NaN weight: W2[3] */
    int i = find(&k, "WGHT");
    put_f32(k.s[i].p + (15 + 5 + 3) * 4, NAN);
    snprintf(full, sizeof full, "section WGHT at byte %zu: W2[3] is nan, not a finite number",
             at(&k, i));
    join(&k);
    refused(full);
    save_net();
    split(&k); /* a width of 0 */
    i = find(&k, "NETW");
    put_u32(k.s[i].p + k.s[i].len - 8, 0);
    snprintf(full, sizeof full, "section NETW at byte %zu: width 0 of layer 2 is not 1 to 2^24",
             at(&k, i));
    join(&k);
    refused(full);
    save_net();
    split(&k); /* WGHT missing */
    i = find(&k, "WGHT");
    free(k.s[i].p);
    memmove(&k.s[i], &k.s[i + 1], (size_t)(k.n - i - 1) * sizeof k.s[0]);
    k.n--;
    join(&k);
    refused("model file lacks the required section WGHT");
}
