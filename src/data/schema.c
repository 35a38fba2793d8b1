/* schema.c - column descriptions and column-list parsing (see kmill/schema.h). */
#include "config.h"
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kmill/schema.h"
#include "kmill/suggest.h"

void km_schema_free(km_schema *s)
{
    if (!s || !s->cols)
        return;
    for (uint32_t j = 0; j < s->ncols; j++) {
        km_column *c = &s->cols[j];
        free(c->name);
        for (uint32_t k = 0; k < c->nlevels; k++)
            free(c->levels[k]);
        free(c->levels);
        free(c->level_len);
    }
    free(s->cols);
    s->cols = NULL;
    s->ncols = 0;
}

void km_colstats_init(km_colstats *st)
{
    st->min = INFINITY;
    st->max = -INFINITY;
    st->sum = st->sumsq = 0;
    st->count = st->missing = 0;
}

void km_colstats_merge(km_colstats *a, const km_colstats *b)
{
    if (b->min < a->min)
        a->min = b->min;
    if (b->max > a->max)
        a->max = b->max;
    a->sum += b->sum;
    a->sumsq += b->sumsq;
    a->count += b->count;
    a->missing += b->missing;
}

int km_colstats_moments(const km_colstats *st, double *mean, double *sd)
{
    if (!st->count) {
        *mean = *sd = NAN;
        return 0;
    }
    double m = st->sum / (double)st->count;
    double var = st->sumsq / (double)st->count - m * m;
    *mean = m;
    *sd = var > 0 ? sqrt(var) : var == var ? 0 : NAN;
    return 1;
}

long km_schema_find(const km_schema *s, const char *name)
{
    for (uint32_t j = 0; j < s->ncols; j++)
        if (strcmp(s->cols[j].name, name) == 0)
            return j;
    return -1;
}

static int parse_index(const char *s, size_t len, uint32_t ncols, uint32_t *out)
{
    if (!len || len > 10)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v < 1 || v > ncols)
        return -1;
    *out = (uint32_t)(v - 1);
    return 0;
}

/* KM_EINVAL: opt names no column; the closest name suggested when one is
 * close (kmill/suggest.h), else how columns are named. */
static int no_column(const km_schema *s, const char *name, const char *opt, km_err *e)
{
    km_suggest sg;
    km_suggest_init(&sg, name, strlen(name));
    for (uint32_t j = 0; j < s->ncols; j++)
        km_suggest_add(&sg, s->cols[j].name, strlen(s->cols[j].name));
    const char *near = km_suggest_best(&sg);
    if (near)
        return km_seterr(e, KM_EINVAL, "%s: no column '%s'; did you mean '%s'?", opt, name, near);
    return km_seterr(e, KM_EINVAL, "%s: no column '%s' (columns are named in the header, "
                     "or numbered 1 to %u)", opt, name, s->ncols);
}

int km_schema_column(const km_schema *s, const char *name, const char *opt, uint32_t *col,
                     km_err *e)
{
    long j = km_schema_find(s, name);
    if (j >= 0) {
        *col = (uint32_t)j;
        return 0;
    }
    long other = -1;
    for (uint32_t k = 0; k < s->ncols; k++) {
        if (strcasecmp(s->cols[k].name, name) != 0)
            continue;
        if (j >= 0)
            other = k;
        else
            j = k;
    }
    if (other >= 0)
        return km_seterr(e, KM_EINVAL, "%s: '%s' is ambiguous: columns '%s' and '%s' differ from "
                         "it only in case; give the name exactly", opt, name, s->cols[j].name,
                         s->cols[other].name);
    if (j >= 0) {
        *col = (uint32_t)j;
        return 0;
    }
    if (parse_index(name, strlen(name), s->ncols, col) == 0)
        return 0;
    return no_column(s, name, opt, e);
}

/* One item of a list: a name, a number, or a range a-b. Appends to idx. */
static int resolve_item(const km_schema *s, const char *item, size_t len, const char *opt,
                        uint32_t **idx, uint32_t *n, size_t *cap, km_err *e)
{
    char name[1024];
    if (len >= sizeof name)
        return km_seterr(e, KM_EINVAL, "%s: column name too long", opt);
    memcpy(name, item, len);
    name[len] = '\0';
    uint32_t lo, hi;
    long j = km_schema_find(s, name);
    if (j >= 0) {
        lo = hi = (uint32_t)j;
    } else if (parse_index(item, len, s->ncols, &lo) == 0) {
        hi = lo;
    } else {
        const char *dash = memchr(item, '-', len);
        if (!dash || parse_index(item, (size_t)(dash - item), s->ncols, &lo) ||
            parse_index(dash + 1, len - (size_t)(dash - item) - 1, s->ncols, &hi) || hi < lo)
            return no_column(s, name, opt, e);
    }
    for (uint32_t k = lo; k <= hi; k++) {
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            uint32_t *ni = realloc(*idx, *cap * sizeof *ni);
            if (!ni)
                return km_seterr(e, KM_ENOMEM, "out of memory");
            *idx = ni;
        }
        (*idx)[(*n)++] = k;
    }
    return 0;
}

int km_schema_select_list(const km_schema *s, const char *list, const char *opt, uint32_t **idx,
                          uint32_t *n, km_err *e)
{
    size_t cap = 0;
    *idx = NULL;
    *n = 0;
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len) {
            int rc = resolve_item(s, p, len, opt, idx, n, &cap, e);
            if (rc) {
                free(*idx);
                *idx = NULL;
                *n = 0;
                return rc;
            }
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    if (!*n)
        return km_seterr(e, KM_EINVAL, "%s: empty column list", opt);
    return 0;
}

int km_schema_select(const km_schema *s, const char *list, const char *opt, unsigned char *flags,
                     km_err *e)
{
    uint32_t *idx, n;
    int rc = km_schema_select_list(s, list, opt, &idx, &n, e);
    if (rc)
        return rc;
    for (uint32_t k = 0; k < n; k++)
        flags[idx[k]] = 1;
    free(idx);
    return 0;
}

int km_schema_same_columns(const km_schema *t, const km_schema *v, const char *name, km_err *e)
{
    for (int pass = 0; pass < 2; pass++) {
        const km_schema *a = pass ? v : t, *b = pass ? t : v;
        for (uint32_t i = 0; i < a->ncols; i++)
            if (km_schema_find(b, a->cols[i].name) < 0)
                return km_seterr(e, KM_EINVAL, "the validation data %s %s column '%s'", name,
                                 pass ? "has an extra" : "lacks the training data's",
                                 a->cols[i].name);
    }
    return 0;
}
