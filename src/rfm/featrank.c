/* featrank.c - ranking an RFM's feature matrix (see
 * include/kmill/featrank.h). */
#include "config.h"
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/featrank.h"
#include "kmill/kernel.h"
#include "kmill/spectrum.h"

/* The source column of feature f, and its level for a one-hot feature
 * (-1 for a numeric column). */
static const km_featcol *feature_col(const km_features *F, uint32_t f, long *level)
{
    for (uint32_t i = 0; i < F->ncols; i++) {
        const km_featcol *c = &F->cols[i];
        uint32_t w = c->type == KM_COL_CATEGORICAL ? c->nlevels : 1;
        if (f >= c->first && f < c->first + w) {
            *level = c->type == KM_COL_CATEGORICAL ? (long)(f - c->first) : -1;
            return c;
        }
    }
    *level = -1;
    return NULL;
}

/* "name" or "name=level" into a malloc'd string */
static char *feature_name(const km_features *F, uint32_t f)
{
    long lv;
    const km_featcol *c = feature_col(F, f, &lv);
    const char *nm = c ? c->name : "?";
    size_t nl = strlen(nm), ll = lv >= 0 ? c->level_len[lv] : 0;
    char *s = malloc(nl + ll + 2);
    if (!s)
        return NULL;
    memcpy(s, nm, nl);
    if (lv >= 0) {
        s[nl] = '=';
        memcpy(s + nl + 1, c->levels[lv], ll);
        nl += ll + 1;
    }
    s[nl] = 0;
    return s;
}

struct rank {
    double v;
    uint32_t i;
};

static int by_value_desc(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;
    return x->v < y->v ? 1 : x->v > y->v ? -1 : (x->i > y->i) - (x->i < y->i);
}

/* diag(M) summed per source column, ranked, into r->cols (top of them) */
static int rank_columns(km_err *e, const km_features *F, size_t top, km_featrank *r)
{
    size_t d = r->d, nc = F->ncols;
    struct rank *cols = calloc(nc + 1, sizeof *cols);
    r->ncols = top && top < nc ? top : nc;
    r->cols = calloc(r->ncols + 1, sizeof *r->cols);
    if (!cols || !r->cols) {
        free(cols);
        return km_seterr(e, KM_ENOMEM, "out of memory");
    }
    r->trace = 0;
    for (uint32_t c = 0; c < nc; c++) {
        const km_featcol *fc = &F->cols[c];
        uint32_t wdt = fc->type == KM_COL_CATEGORICAL ? fc->nlevels : 1;
        cols[c].i = c;
        for (uint32_t k = 0; k < wdt; k++)
            cols[c].v += r->M[(size_t)(fc->first + k) * (d + 1)];
        r->trace += cols[c].v;
    }
    qsort(cols, nc, sizeof *cols, by_value_desc);
    for (size_t k = 0; k < r->ncols; k++) {
        r->cols[k].col = cols[k].i;
        r->cols[k].importance = cols[k].v;
        r->cols[k].share = r->trace > 0 ? cols[k].v / r->trace : NAN;
    }
    free(cols);
    return 0;
}

/* The top eigenpairs of M (kmill/spectrum.h), each with its largest
 * loadings. */
static int eigenpairs(km_err *e, const char *name, size_t top, km_featrank *r)
{
    size_t d = r->d, ne = top && top < d ? top : d, nl = d < KM_FEATRANK_LEAD ? d : KM_FEATRANK_LEAD;
    double *V = malloc(d * d * sizeof *V + 1);
    struct rank *ld = malloc((d + 1) * sizeof *ld);
    r->values = malloc((ne + 1) * sizeof *r->values);
    r->shares = malloc((ne + 1) * sizeof *r->shares);
    r->vectors = malloc((ne * d + 1) * sizeof *r->vectors);
    r->lead = malloc((ne * KM_FEATRANK_LEAD + 1) * sizeof *r->lead);
    int rc = 0;
    if (!V || !ld || !r->values || !r->shares || !r->vectors || !r->lead) {
        rc = km_seterr(e, KM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(V, r->M, d * d * sizeof *V);
    char what[300];
    snprintf(what, sizeof what, "%s: M", name);
    if ((rc = km_eig_top(e, what, V, d, ne, r->values, r->vectors)))
        goto out;
    r->neig = ne;
    for (size_t k = 0; k < ne; k++) {
        const double *v = r->vectors + k * d;
        r->shares[k] = r->trace > 0 ? r->values[k] / r->trace : NAN;
        for (size_t j = 0; j < d; j++) {
            ld[j].v = fabs(v[j]);
            ld[j].i = (uint32_t)j;
        }
        qsort(ld, d, sizeof *ld, by_value_desc);
        for (size_t j = 0; j < nl; j++)
            r->lead[k * KM_FEATRANK_LEAD + j] = ld[j].i;
    }
out:
    free(V);
    free(ld);
    return rc;
}

int km_featrank_compute(km_err *e, const char *name, const float *M, int metric,
                        const km_features *F, size_t top, int eigen, km_featrank *r)
{
    memset(r, 0, sizeof *r);
    size_t d = F->d;
    r->d = d;
    r->M = calloc(d * d + 1, sizeof *r->M);
    r->names = calloc(d + 1, sizeof *r->names);
    if (!r->M || !r->names)
        return km_seterr(e, KM_ENOMEM, "out of memory");
    for (size_t i = 0; i < d; i++) {
        if (metric == KM_METRIC_DIAG)
            r->M[i * d + i] = M[i];
        else
            for (size_t j = 0; j < d; j++)
                r->M[i * d + j] = M[i * d + j];
        if (!(r->names[i] = feature_name(F, (uint32_t)i)))
            return km_seterr(e, KM_ENOMEM, "out of memory");
    }
    int rc = rank_columns(e, F, top, r);
    if (!rc && eigen)
        rc = eigenpairs(e, name, top, r);
    return rc;
}

void km_featrank_free(km_featrank *r)
{
    for (size_t i = 0; r->names && i < r->d; i++)
        free(r->names[i]);
    free(r->names);
    free(r->M);
    free(r->cols);
    free(r->values);
    free(r->shares);
    free(r->vectors);
    free(r->lead);
    memset(r, 0, sizeof *r);
}
