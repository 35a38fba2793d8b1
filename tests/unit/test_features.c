/* test_features.c - fitting and applying feature transforms: label choice,
 * task inference, scaling from statistics, one-hot by category string
 * across datasets that number categories differently, imputation. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/features.h"
#include "kmill/numparse.h"

/* A schema of numeric columns with these names (NULL-terminated). */
static km_schema named_columns(const char *const *names)
{
    uint32_t n = 0;
    while (names[n])
        n++;
    km_schema s = {n, calloc(n, sizeof(km_column))};
    for (uint32_t j = 0; j < n; j++)
        s.cols[j].name = strdup(names[j]);
    return s;
}

static void set_levels(km_column *c, const char **lv, uint32_t n)
{
    c->type = KM_COL_CATEGORICAL;
    c->nlevels = n;
    c->levels = calloc(n, sizeof *c->levels);
    c->level_len = calloc(n, sizeof *c->level_len);
    for (uint32_t k = 0; k < n; k++) {
        c->levels[k] = strdup(lv[k]);
        c->level_len[k] = (uint32_t)strlen(lv[k]);
    }
}

/* training schema: x (numeric, mean 2, sd 2), Class (cat/dog), color (red, green, blue) */
static void train_schema(km_schema *s)
{
    s->ncols = 3;
    s->cols = calloc(3, sizeof *s->cols);
    s->cols[0].name = strdup("x");
    s->cols[0].stats = (km_colstats){0, 4, 8, 32, 4, 1}; /* values 0,0,4,4: mean 2, var 4 */
    s->cols[1].name = strdup("Class");
    const char *cl[] = {"cat", "dog"};
    set_levels(&s->cols[1], cl, 2);
    s->cols[2].name = strdup("color");
    const char *co[] = {"red", "green", "blue"};
    set_levels(&s->cols[2], co, 3);
}

Test(features, fit_and_apply_across_schemas)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_schema s;
    train_schema(&s);
    uint32_t lc;
    cr_assert_eq(km_features_label(&ctx, &s, NULL, &lc), 0, "%s", ctx.err.msg);
    cr_assert_eq(lc, 1, "'Class' is found whatever its case");
    float y[4] = {0, 1, 1, 0};
    km_feat_opts o = {NULL, KM_TASK_AUTO, KM_SCALE_STANDARD, NULL};
    km_features f;
    cr_assert_eq(km_features_fit(&ctx, &s, lc, y, 4, &o, &f), 0, "%s", ctx.err.msg);
    cr_assert_eq(f.task, KM_TASK_CLASSIFY);
    cr_assert_eq(f.nclasses, 2);
    cr_assert_str_eq(f.classes[1], "dog");
    cr_assert_eq(f.d, 4); /* x + 3 colors */

    /* prediction data: other column order, colors numbered differently and
     * one unseen, the label with its own numbering */
    km_schema p = {3, calloc(3, sizeof(km_column))};
    p.cols[0].name = strdup("color");
    const char *co[] = {"blue", "purple", "red"};
    set_levels(&p.cols[0], co, 3);
    p.cols[1].name = strdup("Class");
    const char *cl[] = {"dog", "cat"};
    set_levels(&p.cols[1], cl, 2);
    p.cols[2].name = strdup("x");
    km_featbind b;
    cr_assert_eq(km_features_bind(&ctx, &f, &p, 1, &b), 0, "%s", ctx.err.msg);
    float rows[3 * 3] = {0, 0, 4,      /* blue, dog, x=4 */
                         1, 1, NAN,    /* purple (unseen), cat, x missing */
                         2, NAN, 0};   /* red, label missing, x=0 */
    float X[3 * 4], yy[3];
    uint64_t unseen = 0;
    km_features_apply(&f, &b, rows, 3, 3, X, yy, &unseen);
    float want[3 * 4] = {1, 0, 0, 1,   /* (4-2)/2 = 1; blue is the third level */
                         0, 0, 0, 0,   /* mean imputed -> 0; unseen -> no level */
                         -1, 1, 0, 0}; /* red */
    for (int i = 0; i < 12; i++)
        cr_assert_float_eq(X[i], want[i], 1e-6, "X[%d] = %g, want %g", i, X[i], want[i]);
    cr_assert_eq(unseen, 1);
    cr_assert_eq(yy[0], 1); /* dog */
    cr_assert_eq(yy[1], 0); /* cat */
    cr_assert(isnan(yy[2]));
    km_featbind_free(&b);

    /* a column the model needs is missing */
    free(p.cols[2].name);
    p.cols[2].name = strdup("z");
    cr_assert_eq(km_features_bind(&ctx, &f, &p, 1, &b), KM_EDATA);
    cr_assert_str_eq(ctx.err.msg, "the data has no column 'x', which the model needs");
    km_schema_free(&p);
    km_features_free(&f);
    km_schema_free(&s);
}

Test(features, task_inference_and_scaling)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_schema s = named_columns((const char *const[]){"target", "v", NULL});
    s.cols[1].stats = (km_colstats){-1, 3, 4, 10, 4, 0};
    float ints[6] = {1, 2, 2, 7, NAN, 1}, reals[3] = {0.5f, 1, 2};
    km_feat_opts o = {NULL, KM_TASK_AUTO, KM_SCALE_MINMAX, NULL};
    km_features f;
    uint32_t lc;
    cr_assert_eq(km_features_label(&ctx, &s, NULL, &lc), 0);
    cr_assert_eq(km_features_fit(&ctx, &s, lc, ints, 6, &o, &f), 0, "%s", ctx.err.msg);
    cr_assert_eq(f.task, KM_TASK_CLASSIFY, "few integers: classes");
    cr_assert_eq(f.nclasses, 3);
    cr_assert_str_eq(f.classes[2], "7");
    cr_assert_float_eq(f.cols[0].shift, -1, 0);
    cr_assert_float_eq(f.cols[0].scale, 0.25, 1e-7);
    km_features_free(&f);
    cr_assert_eq(km_features_fit(&ctx, &s, lc, reals, 3, &o, &f), 0);
    cr_assert_eq(f.task, KM_TASK_REGRESS, "fractions: regression");
    km_features_free(&f);
    o.task = KM_TASK_REGRESS;
    cr_assert_eq(km_features_fit(&ctx, &s, lc, ints, 6, &o, &f), 0);
    cr_assert_eq(f.task, KM_TASK_REGRESS, "--task regress wins");
    km_features_free(&f);
    /* no conventional label name: the error lists the columns */
    free(s.cols[0].name);
    s.cols[0].name = strdup("price");
    cr_assert_eq(km_features_label(&ctx, &s, NULL, &lc), KM_EDATA);
    cr_assert_str_eq(ctx.err.msg, "no label column: name one with --label (no column is called "
                                  "label, target, class or y; columns: price, v)");
    cr_assert_eq(km_features_label(&ctx, &s, "nope", &lc), KM_EINVAL);
    cr_assert_str_eq(ctx.err.msg, "--label: no column 'nope' (columns are named in the header, "
                                  "or numbered 1 to 2)");
    km_schema_free(&s);
}

/* --label: exactly, then but for case when only one column matches so,
 * then by number; an ambiguous or unknown one is a usage error. */
Test(features, label_by_name_case_or_number)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_schema s = named_columns((const char *const[]){"Species", "width", "Width", "3", NULL});
    uint32_t lc = 99;
    cr_assert_eq(km_features_label(&ctx, &s, "Species", &lc), 0);
    cr_assert_eq(lc, 0);
    cr_assert_eq(km_features_label(&ctx, &s, "SPECIES", &lc), 0);
    cr_assert_eq(lc, 0);
    cr_assert_eq(km_features_label(&ctx, &s, "Width", &lc), 0, "an exact match wins");
    cr_assert_eq(lc, 2);
    cr_assert_eq(km_features_label(&ctx, &s, "2", &lc), 0);
    cr_assert_eq(lc, 1);
    cr_assert_eq(km_features_label(&ctx, &s, "3", &lc), 0, "a name wins over a number");
    cr_assert_eq(lc, 3);
    cr_assert_eq(km_features_label(&ctx, &s, "WIDTH", &lc), KM_EINVAL);
    cr_assert_str_eq(ctx.err.msg, "--label: 'WIDTH' is ambiguous: columns 'width' and 'Width' "
                                  "differ from it only in case; give the name exactly");
    cr_assert_eq(km_features_label(&ctx, &s, "Speceis", &lc), KM_EINVAL);
    cr_assert_str_eq(ctx.err.msg, "--label: no column 'Speceis'; did you mean 'Species'?");
    cr_assert_eq(km_features_label(&ctx, &s, "5", &lc), KM_EINVAL);
    cr_assert_str_eq(ctx.err.msg, "--label: no column '5' (columns are named in the header, "
                                  "or numbered 1 to 4)");
    km_schema_free(&s);
}

Test(features, colstats_moments)
{
    km_colstats st = {0, 4, 8, 32, 4, 1}; /* values 0,0,4,4 */
    double mean, sd;
    cr_assert_eq(km_colstats_moments(&st, &mean, &sd), 1);
    cr_assert_float_eq(mean, 2, 1e-15);
    cr_assert_float_eq(sd, 2, 1e-15);
    st = (km_colstats){3, 3, 9, 27, 3, 0}; /* 3,3,3, with a variance rounded below 0 */
    st.sumsq = 26.999999999999996;
    cr_assert_eq(km_colstats_moments(&st, &mean, &sd), 1);
    cr_assert_eq(sd, 0);
    km_colstats_init(&st);
    cr_assert_eq(km_colstats_moments(&st, &mean, &sd), 0);
    cr_assert(isnan(mean) && isnan(sd));
}

/* Finding 3: category and label codes are not trusted. A dataset whose
 * checksums are valid may still hold a code of -1, a fraction, one past
 * its dictionary or an infinity: never converted to an integer or used as
 * an index (UBSan and ASan would object), a feature code outside the
 * dictionary is an unseen category and a label code outside it a NaN
 * target. */
Test(features, codes_out_of_range_are_unseen)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    km_schema s;
    train_schema(&s);
    float y[4] = {0, 1, 1, 0};
    km_feat_opts o = {NULL, KM_TASK_AUTO, KM_SCALE_STANDARD, NULL};
    km_features f;
    cr_assert_eq(km_features_fit(&ctx, &s, 1, y, 4, &o, &f), 0, "%s", ctx.err.msg);
    km_featbind b;
    cr_assert_eq(km_features_bind(&ctx, &f, &s, 1, &b), 0, "%s", ctx.err.msg);
    /* x, Class, color: the same schema, 3 colours and 2 classes */
    const float bad[] = {-1, 3, 1.5f, -0.5f, 1e10f, 4294967296.0f, INFINITY, -INFINITY, 2.5f};
    enum { NB = sizeof bad / sizeof bad[0] };
    float rows[(NB + 1) * 3], X[(NB + 1) * 4], yy[NB + 1];
    for (int i = 0; i < NB; i++) {
        rows[i * 3] = 2;
        rows[i * 3 + 1] = bad[i];
        rows[i * 3 + 2] = bad[i];
    }
    rows[NB * 3] = 2, rows[NB * 3 + 1] = 1, rows[NB * 3 + 2] = 2; /* dog, blue: valid */
    uint64_t unseen = 0;
    km_features_apply(&f, &b, rows, 3, NB + 1, X, yy, &unseen);
    cr_assert_eq(unseen, NB);
    for (int i = 0; i < NB; i++) {
        for (int k = 1; k < 4; k++)
            cr_assert_eq(X[i * 4 + k], 0, "code %g: one-hot block not zero", bad[i]);
        cr_assert(isnan(yy[i]), "label code %g gave the target %g", bad[i], yy[i]);
    }
    cr_assert_eq(X[NB * 4 + 3], 1);
    cr_assert_eq(yy[NB], 1);
    km_featbind_free(&b);
    km_features_free(&f);
    km_schema_free(&s);
}

/* The level a number names, found as the feature transform's text rule
 * states it: the level whose text is the number's shortest text. */
static int32_t level_by_text(char **lv, const uint32_t *len, uint32_t n, float v)
{
    char txt[KM_F32_BUFSZ];
    uint32_t k = (uint32_t)km_format_f32(v, txt);
    for (uint32_t q = 0; q < n; q++)
        if (len[q] == k && memcmp(lv[q], txt, k) == 0)
            return (int32_t)q;
    return -1;
}

Test(features, numbers_name_levels_by_their_shortest_text)
{
    km_ctx ctx;
    km_ctx_init(&ctx, "t");
    /* trained on text: a categorical feature and label whose levels read as
     * numbers, some in their shortest form and some not ("1.0", "07") */
    km_schema s = {2, calloc(2, sizeof(km_column))};
    s.cols[0].name = strdup("grade");
    const char *g[] = {"1", "-0", "0", "2.5", "1.0", "inf", "-inf", "abc", "1e-07", "1e-7",
                       "3.4028235e38", "07", "-3", "0.1", "-3"}; /* -3 twice: the first */
    enum { NG = sizeof g / sizeof g[0] };
    set_levels(&s.cols[0], g, NG);
    s.cols[1].name = strdup("Class");
    const char *cl[] = {"2", "1", "-0", "0.5"};
    set_levels(&s.cols[1], cl, 4);
    float y[4] = {0, 1, 2, 3};
    km_feat_opts o = {"Class", KM_TASK_CLASSIFY, KM_SCALE_NONE, NULL};
    km_features f;
    cr_assert_eq(km_features_fit(&ctx, &s, 1, y, 4, &o, &f), 0, "%s", ctx.err.msg);
    /* applied to data holding both columns as numbers */
    const char *names[] = {"grade", "Class", NULL};
    km_schema p = named_columns(names);
    km_featbind b;
    cr_assert_eq(km_features_bind(&ctx, &f, &p, 1, &b), 0, "%s", ctx.err.msg);
    const float vals[] = {1, -0.0f, 0, 2.5f, INFINITY, -INFINITY, 1e-7f, 3.4028235e38f, 7,
                          -3, 0.1f, nextafterf(1, 2), 2, 0.5f, nextafterf(0.1f, 1), NAN};
    enum { NV = sizeof vals / sizeof vals[0] };
    float rows[NV * 2], X[NV * NG], yy[NV];
    for (int i = 0; i < NV; i++)
        rows[2 * i] = rows[2 * i + 1] = vals[i];
    uint64_t unseen = 0, want_unseen = 0;
    km_features_apply(&f, &b, rows, 2, NV, X, yy, &unseen);
    const km_featcol *fc = &f.cols[0];
    for (int i = 0; i < NV; i++) {
        int32_t lev = isnan(vals[i]) ? -1 : level_by_text(fc->levels, fc->level_len, NG, vals[i]);
        want_unseen += !isnan(vals[i]) && lev < 0;
        for (uint32_t q = 0; q < NG; q++)
            cr_assert_eq(X[i * f.d + fc->first + q], (int32_t)q == lev, "value %g level %s",
                         vals[i], fc->levels[q]);
        int32_t c = isnan(vals[i]) ? -1 : level_by_text(f.classes, f.class_len, 4, vals[i]);
        if (c < 0)
            cr_assert(isnan(yy[i]), "value %g: class %g", vals[i], yy[i]);
        else
            cr_assert_eq(yy[i], (float)c, "value %g: class %g, want %d", vals[i], yy[i], c);
    }
    cr_assert_eq(unseen, want_unseen);
    cr_assert_eq(want_unseen, 5); /* 7, 1.0000001, 2, 0.5, 0.10000001 */
    km_featbind_free(&b);
    km_schema_free(&p);
    km_features_free(&f);
    km_schema_free(&s);
}
