/* test_featrank.c - ranking an RFM's feature matrix: one-hot features
 * summed back to their column, ties in column order, names, eigenpairs
 * largest first with their leading loadings, all worked out by hand. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "kmill/featrank.h"
#include "kmill/kernel.h"

/* x (numeric, feature 0), c (categorical a/b, features 1-2), z (numeric, 3) */
static void features(km_features *F)
{
    static char *lv[] = {"a", "b"};
    static uint32_t ll[] = {1, 1};
    static km_featcol cols[3];
    memset(cols, 0, sizeof cols);
    cols[0] = (km_featcol){.name = "x", .type = KM_COL_NUMERIC, .first = 0};
    cols[1] = (km_featcol){.name = "c", .type = KM_COL_CATEGORICAL, .first = 1, .nlevels = 2,
                           .levels = lv, .level_len = ll};
    cols[2] = (km_featcol){.name = "z", .type = KM_COL_NUMERIC, .first = 3};
    memset(F, 0, sizeof *F);
    F->ncols = 3;
    F->cols = cols;
    F->d = 4;
}

Test(featrank, diagonal)
{
    km_features F;
    features(&F);
    const float M[4] = {0.2f, 0.5f, 0.25f, 0.05f};
    km_err e = {0};
    km_featrank r;
    cr_assert_eq(km_featrank_compute(&e, "m", M, KM_METRIC_DIAG, &F, 0, 1, &r), 0, "%s", e.msg);
    cr_assert_str_eq(r.names[0], "x");
    cr_assert_str_eq(r.names[1], "c=a");
    cr_assert_str_eq(r.names[2], "c=b");
    cr_assert_str_eq(r.names[3], "z");
    cr_assert_float_eq(r.trace, 1.0, 1e-7);
    /* c: 0.5 + 0.25, then x, then z */
    cr_assert_eq(r.ncols, 3);
    cr_assert_eq(r.cols[0].col, 1);
    cr_assert_float_eq(r.cols[0].importance, 0.75, 1e-7);
    cr_assert_float_eq(r.cols[0].share, 0.75, 1e-7);
    cr_assert_eq(r.cols[1].col, 0);
    cr_assert_eq(r.cols[2].col, 2);
    /* a diagonal M's eigenvectors are single features */
    cr_assert_eq(r.neig, 4);
    static const uint32_t order[4] = {1, 2, 0, 3};
    for (size_t k = 0; k < 4; k++) {
        cr_assert_float_eq(r.values[k], M[order[k]], 1e-7);
        cr_assert_eq(r.lead[k * KM_FEATRANK_LEAD], order[k]);
        cr_assert_float_eq(fabs(r.vectors[k * 4 + order[k]]), 1, 1e-12);
    }
    cr_assert_float_eq(r.M[1 * 4 + 1], 0.5, 1e-7);
    cr_assert_eq(r.M[1 * 4 + 2], 0);
    km_featrank_free(&r);
    /* top 2; no eigendecomposition */
    cr_assert_eq(km_featrank_compute(&e, "m", M, KM_METRIC_DIAG, &F, 2, 0, &r), 0);
    cr_assert_eq(r.ncols, 2);
    cr_assert_eq(r.neig, 0);
    km_featrank_free(&r);
}

Test(featrank, full_ties_and_eigenpairs)
{
    km_features F;
    memset(&F, 0, sizeof F);
    static km_featcol two[2]; /* two numeric columns */
    two[0] = (km_featcol){.name = "x", .type = KM_COL_NUMERIC, .first = 0};
    two[1] = (km_featcol){.name = "z", .type = KM_COL_NUMERIC, .first = 1};
    F.cols = two;
    F.ncols = 2;
    F.d = 2;
    /* eigenvalues 3 and 1, eigenvectors (1, 1) and (1, -1) over sqrt 2 */
    const float M[4] = {2, 1, 1, 2};
    km_err e = {0};
    km_featrank r;
    cr_assert_eq(km_featrank_compute(&e, "m", M, KM_METRIC_FULL, &F, 0, 1, &r), 0, "%s", e.msg);
    cr_assert_float_eq(r.trace, 4, 1e-12);
    cr_assert_eq(r.cols[0].col, 0); /* a tie: column order */
    cr_assert_eq(r.cols[1].col, 1);
    cr_assert_float_eq(r.values[0], 3, 1e-12);
    cr_assert_float_eq(r.values[1], 1, 1e-12);
    cr_assert_float_eq(r.shares[0], 0.75, 1e-12);
    double h = sqrt(0.5);
    cr_assert_float_eq(fabs(r.vectors[0]), h, 1e-12);
    cr_assert_float_eq(r.vectors[0] * r.vectors[1], 0.5, 1e-12);
    cr_assert_float_eq(r.vectors[2] * r.vectors[3], -0.5, 1e-12);
    cr_assert(r.lead[0] + r.lead[1] == 1 && r.lead[0] * r.lead[1] == 0);
    km_featrank_free(&r);
}
