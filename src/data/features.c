/* features.c - dataset columns to features and targets (see
 * include/kmill/features.h). */
#include "config.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kmill/features.h"
#include "kmill/log.h"
#include "kmill/numparse.h"
#include "kmill/strtab.h"

int km_features_label(km_ctx *ctx, const km_schema *s, const char *label, uint32_t *col)
{
    if (label)
        return km_schema_column(s, label, "--label", col, &ctx->err);
    static const char *names[] = {"label", "target", "class", "y"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
        for (uint32_t j = 0; j < s->ncols; j++)
            if (strcasecmp(s->cols[j].name, names[k]) == 0) {
                *col = j;
                return 0;
            }
    char list[300] = "";
    size_t len = 0;
    for (uint32_t j = 0; j < s->ncols && len < sizeof list - 40; j++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", s->cols[j].name);
    if (len >= sizeof list - 40)
        snprintf(list + len, sizeof list - len, ", ...");
    return km_seterr(&ctx->err, KM_EDATA,
                     "no label column: name one with --label (no column is called label, target, "
                     "class or y; columns: %s)",
                     list);
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

static char *dup_bytes(const char *p, uint32_t n)
{
    char *s = malloc((size_t)n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* Copies of a categorical column's level strings; -1 when out of memory
 * (what was allocated is left for the caller's free, which expects NULLs
 * in the unfilled places). */
static int copy_levels(const km_column *c, char ***levels, uint32_t **len)
{
    *levels = calloc(c->nlevels ? c->nlevels : 1, sizeof **levels);
    *len = calloc(c->nlevels ? c->nlevels : 1, sizeof **len);
    if (!*levels || !*len)
        return -1;
    for (uint32_t k = 0; k < c->nlevels; k++) {
        if (!((*levels)[k] = dup_bytes(c->levels[k], c->level_len[k])))
            return -1;
        (*len)[k] = c->level_len[k];
    }
    return 0;
}

/* Classes of a numeric label: its distinct values, ascending, as text. */
static int numeric_classes(km_ctx *ctx, const float *y, size_t n, uint32_t limit, km_features *f,
                           int *too_many)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i]))
            v[m++] = y[i];
    qsort(v, m, sizeof *v, cmp_float);
    uint32_t k = 0;
    for (size_t i = 0; i < m; i++)
        if (i == 0 || v[i] != v[i - 1])
            v[k++] = v[i];
    *too_many = k > limit;
    if (*too_many) {
        free(v);
        return 0;
    }
    f->classes = calloc(k ? k : 1, sizeof *f->classes);
    f->class_len = calloc(k ? k : 1, sizeof *f->class_len);
    if (!f->classes || !f->class_len) {
        free(v);
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    }
    for (uint32_t c = 0; c < k; c++) {
        char txt[KM_F32_BUFSZ];
        int len = km_format_f32(v[c], txt);
        if (!(f->classes[c] = dup_bytes(txt, (uint32_t)len))) {
            free(v);
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        }
        f->class_len[c] = (uint32_t)len;
        f->nclasses = c + 1;
    }
    free(v);
    return 0;
}

static int all_integral(const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isnan(y[i]) && y[i] != floorf(y[i]))
            return 0;
    return 1;
}

/* A categorical label whose levels are numbers but for a few (9 in 10),
 * more of them than a numeric label may have as classes
 * (KM_AUTO_MAX_CLASSES): a regression label with text in it (more than
 * convert's 1 in 20 bad values), which --task auto would otherwise learn
 * as hundreds of classes. An error saying both ways out. */
static int numbers_as_classes(km_ctx *ctx, const km_column *lab)
{
    if (lab->type != KM_COL_CATEGORICAL || lab->nlevels <= KM_AUTO_MAX_CLASSES)
        return 0;
    uint32_t nums = 0;
    for (uint32_t k = 0; k < lab->nlevels; k++) {
        char buf[64], *end;
        uint32_t len = lab->level_len[k] < sizeof buf - 1 ? lab->level_len[k] : sizeof buf - 1;
        memcpy(buf, lab->levels[k], len);
        buf[len] = 0;
        double v = strtod(buf, &end);
        nums += len && end == buf + len && isfinite(v);
    }
    if ((uint64_t)nums * 10 < (uint64_t)lab->nlevels * 9)
        return 0;
    return km_seterr(&ctx->err, KM_EDATA,
                     "the label '%s' has %u distinct values, %u of them numbers: a numeric label "
                     "with text in it? --numeric %s --bad-values missing reads the text as "
                     "missing (a regression); --task classify learns them as classes",
                     lab->name, lab->nlevels, nums, lab->name);
}

/* A regression label with one value in every labelled row has nothing to
 * learn (a constant would fit it): an error, as fewer than two classes is. */
static int label_varies(km_ctx *ctx, const char *name, const float *y, size_t n)
{
    size_t i = 0;
    while (i < n && isnan(y[i]))
        i++;
    for (size_t k = i + 1; k < n; k++)
        if (!isnan(y[k]) && y[k] != y[i])
            return 0;
    if (i == n)
        return 0; /* no labelled row: the caller words that */
    return km_seterr(&ctx->err, KM_EDATA, "the label '%s' has one value, %g, in every labelled "
                     "row: there is nothing to learn", name, (double)y[i]);
}

/* The feature columns of km_features_fit: every column of s but the label
 * and those dropped, into f. */
static int fit_columns(km_ctx *ctx, const km_schema *s, uint32_t label_col,
                       const unsigned char *drop, km_features *f)
{
    for (uint32_t j = 0; j < s->ncols; j++) {
        if (j == label_col || drop[j])
            continue;
        const km_column *sc = &s->cols[j];
        km_featcol *fc = &f->cols[f->ncols++];
        if (!(fc->name = strdup(sc->name)))
            return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        fc->type = sc->type;
        fc->first = f->d;
        if (sc->type == KM_COL_CATEGORICAL) {
            fc->nlevels = sc->nlevels;
            if (copy_levels(sc, &fc->levels, &fc->level_len))
                return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
            f->d += sc->nlevels;
            continue;
        }
        const km_colstats *st = &sc->stats;
        double mean, sd;
        if (!km_colstats_moments(st, &mean, &sd))
            mean = sd = 0;
        fc->fill = (float)mean;
        fc->shift = 0;
        fc->scale = 1;
        if (!st->count || !(st->max > st->min)) {
            /* no values, or one: nothing to learn from, and a value it
             * takes in other data must not move every distance (its
             * feature stays 0) */
            fc->scale = 0;
            if (!st->count)
                km_warn(ctx, "column '%s' has no values in the training rows: it is not used",
                        fc->name);
        } else if (f->scale == KM_SCALE_STANDARD) {
            fc->shift = (float)mean;
            fc->scale = sd > 0 ? (float)(1 / sd) : 1;
        } else if (f->scale == KM_SCALE_MINMAX) {
            fc->shift = (float)st->min;
            fc->scale = st->max > st->min ? (float)(1 / (st->max - st->min)) : 1;
        }
        f->d++;
    }
    return 0;
}

int km_features_fit(km_ctx *ctx, const km_schema *s, uint32_t label_col, const float *y, size_t n,
                    const km_feat_opts *o, km_features *f)
{
    memset(f, 0, sizeof *f);
    const km_column *lab = &s->cols[label_col];
    f->scale = o->scale;
    if (!(f->label = strdup(lab->name)))
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    int rc = 0, too_many = 0;
    /* the task */
    f->task = o->task;
    if (f->task == KM_TASK_AUTO && (rc = numbers_as_classes(ctx, lab)))
        goto fail;
    if (f->task == KM_TASK_AUTO)
        f->task = lab->type == KM_COL_CATEGORICAL ? KM_TASK_CLASSIFY : KM_TASK_REGRESS;
    if (o->task == KM_TASK_AUTO && lab->type == KM_COL_NUMERIC && all_integral(y, n)) {
        if ((rc = numeric_classes(ctx, y, n, KM_AUTO_MAX_CLASSES, f, &too_many)))
            goto fail;
        if (!too_many && f->nclasses >= 2)
            f->task = KM_TASK_CLASSIFY;
    }
    if (f->task == KM_TASK_CLASSIFY && !f->nclasses) {
        if (lab->type == KM_COL_CATEGORICAL) {
            f->nclasses = lab->nlevels;
            if (copy_levels(lab, &f->classes, &f->class_len)) {
                rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
                goto fail;
            }
        } else if ((rc = numeric_classes(ctx, y, n, UINT32_MAX, f, &too_many))) {
            goto fail;
        }
    }
    if (f->task == KM_TASK_REGRESS) {
        for (uint32_t c = 0; c < f->nclasses; c++)
            free(f->classes[c]);
        free(f->classes);
        free(f->class_len);
        f->classes = NULL;
        f->class_len = NULL;
        f->nclasses = 0;
        if (lab->type == KM_COL_CATEGORICAL) {
            rc = km_seterr(&ctx->err, KM_EDATA,
                           "--task regress needs a numeric label; '%s' is categorical", lab->name);
            goto fail;
        }
        if ((rc = label_varies(ctx, lab->name, y, n)))
            goto fail;
    } else if (f->nclasses < 2) {
        rc = km_seterr(&ctx->err, KM_EDATA, "the label '%s' has %u class%s; classification needs two",
                       lab->name, f->nclasses, f->nclasses == 1 ? "" : "es");
        goto fail;
    }
    /* the features: every other column not dropped, numeric ones scaled,
     * categorical one-hot */
    unsigned char *drop = calloc(s->ncols, 1);
    f->cols = calloc(s->ncols, sizeof *f->cols);
    if (!f->cols || !drop) {
        free(drop);
        rc = km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
        goto fail;
    }
    if (o->drop && (rc = km_schema_select(s, o->drop, "--drop", drop, &ctx->err))) {
        free(drop);
        goto fail;
    }
    if (drop[label_col]) {
        free(drop);
        rc = km_seterr(&ctx->err, KM_EINVAL, "--drop names the label '%s'", lab->name);
        goto fail;
    }
    rc = fit_columns(ctx, s, label_col, drop, f);
    free(drop);
    if (rc)
        goto fail;
    if (f->d == 0) {
        rc = km_seterr(&ctx->err, KM_EDATA, "no feature columns besides the label '%s'", lab->name);
        goto fail;
    }
    return 0;
fail:
    km_features_free(f);
    return rc;
}

void km_features_free(km_features *f)
{
    for (uint32_t j = 0; f->cols && j < f->ncols; j++) {
        km_featcol *fc = &f->cols[j];
        free(fc->name);
        for (uint32_t k = 0; fc->levels && k < fc->nlevels; k++)
            free(fc->levels[k]);
        free(fc->levels);
        free(fc->level_len);
    }
    free(f->cols);
    for (uint32_t c = 0; f->classes && c < f->nclasses; c++)
        free(f->classes[c]);
    free(f->classes);
    free(f->class_len);
    free(f->label);
    memset(f, 0, sizeof *f);
}

/* map[code] = index of the same string in levels, -1 if absent */
static int map_levels(const km_column *sc, char **levels, const uint32_t *len, uint32_t n,
                      int32_t **map, uint32_t *nmap)
{
    *nmap = sc->nlevels;
    *map = malloc((sc->nlevels ? sc->nlevels : 1) * sizeof **map);
    if (!*map)
        return -1;
    for (uint32_t k = 0; k < sc->nlevels; k++) {
        (*map)[k] = -1;
        for (uint32_t q = 0; q < n; q++)
            if (len[q] == sc->level_len[k] && memcmp(levels[q], sc->levels[k], len[q]) == 0) {
                (*map)[k] = (int32_t)q;
                break;
            }
    }
    return 0;
}

/* By bits, then level: num_entry finds the first of equal bits, so a text
 * given to two levels names the first, as a search in level order would. */
static int by_bits(const void *a, const void *b)
{
    const km_numlevel *x = a, *y = b;
    if (x->bits != y->bits)
        return (x->bits > y->bits) - (x->bits < y->bits);
    return (x->level > y->level) - (x->level < y->level);
}

/* The levels (n texts) that numbers in the data can name, for num_entry:
 * each text that reads as a float32 whose shortest text it is. Any other
 * text ("1.0", "abc") is no number's text, so no number names it. 0, or
 * KM_ENOMEM. */
static int number_levels(char *const *texts, const uint32_t *lens, uint32_t n, km_numlevel **out,
                         uint32_t *nout)
{
    km_numparse *np = NULL;
    *out = malloc((n ? n : 1) * sizeof **out);
    if (!*out || km_numparse_init(&np)) {
        free(*out);
        *out = NULL;
        return KM_ENOMEM;
    }
    uint32_t k = 0;
    for (uint32_t q = 0; q < n; q++) {
        float v;
        char txt[KM_F32_BUFSZ];
        if (km_parse_f32(np, texts[q], lens[q], &v) != 0) /* km_format_f32 writes "inf" */
            v = lens[q] > 0 && texts[q][0] == '-' ? -INFINITY : INFINITY;
        if ((uint32_t)km_format_f32(v, txt) != lens[q] || memcmp(txt, texts[q], lens[q]) != 0)
            continue;
        memcpy(&(*out)[k].bits, &v, sizeof v);
        (*out)[k++].level = (int32_t)q;
    }
    km_numparse_free(np);
    qsort(*out, k, sizeof **out, by_bits);
    *nout = k;
    return 0;
}

int km_features_bind(km_ctx *ctx, const km_features *f, const km_schema *s, int need_label,
                     km_featbind *b)
{
    km_strtab names = {0};
    memset(b, 0, sizeof *b);
    b->ncols = f->ncols;
    b->src = calloc(f->ncols ? f->ncols : 1, sizeof *b->src);
    b->code = calloc(f->ncols ? f->ncols : 1, sizeof *b->code);
    b->ncode = calloc(f->ncols ? f->ncols : 1, sizeof *b->ncode);
    b->num = calloc(f->ncols ? f->ncols : 1, sizeof *b->num);
    b->nnum = calloc(f->ncols ? f->ncols : 1, sizeof *b->nnum);
    if (!b->src || !b->code || !b->ncode || !b->num || !b->nnum)
        goto oom;
    /* names by hash: wide data has 10^5 columns and more */
    for (uint32_t j = 0; j < s->ncols; j++) {
        uint32_t code;
        if (km_strtab_intern(&names, s->cols[j].name, (uint32_t)strlen(s->cols[j].name), UINT32_MAX,
                             &code) < 0)
            goto oom;
    }
    for (uint32_t j = 0; j < f->ncols; j++) {
        const km_featcol *fc = &f->cols[j];
        uint32_t code;
        long k = km_strtab_intern(&names, fc->name, (uint32_t)strlen(fc->name), names.n, &code) == 0
                     ? (long)code : -1;
        if (k < 0) {
            km_strtab_free(&names);
            km_featbind_free(b);
            return km_seterr(&ctx->err, KM_EDATA, "the data has no column '%s', which the model needs",
                             fc->name);
        }
        const km_column *sc = &s->cols[k];
        /* a categorical model column may meet numbers (the prediction data
         * happened to hold only numeric-looking values): matched by text in
         * km_features_apply; the other way round cannot work */
        if (fc->type != KM_COL_CATEGORICAL && sc->type == KM_COL_CATEGORICAL) {
            km_strtab_free(&names);
            km_featbind_free(b);
            return km_seterr(&ctx->err, KM_EDATA,
                             "column '%s' is categorical in the data but numeric in the model",
                             fc->name);
        }
        b->src[j] = (uint32_t)k;
        if (fc->type == KM_COL_CATEGORICAL && sc->type == KM_COL_CATEGORICAL &&
            map_levels(sc, fc->levels, fc->level_len, fc->nlevels, &b->code[j], &b->ncode[j]))
            goto oom;
        if (fc->type == KM_COL_CATEGORICAL && sc->type != KM_COL_CATEGORICAL &&
            number_levels(fc->levels, fc->level_len, fc->nlevels, &b->num[j], &b->nnum[j]))
            goto oom;
    }
    km_strtab_free(&names);
    b->label_src = km_schema_find(s, f->label);
    if (b->label_src < 0 && need_label) {
        km_featbind_free(b);
        return km_seterr(&ctx->err, KM_EDATA, "the data has no label column '%s'", f->label);
    }
    if (b->label_src >= 0) {
        const km_column *lc = &s->cols[b->label_src];
        b->label_numeric = lc->type == KM_COL_NUMERIC;
        if (f->task == KM_TASK_CLASSIFY && lc->type == KM_COL_CATEGORICAL &&
            map_levels(lc, f->classes, f->class_len, f->nclasses, &b->class_code, &b->nclass_code))
            goto oom;
        if (f->task == KM_TASK_CLASSIFY && lc->type != KM_COL_CATEGORICAL &&
            number_levels(f->classes, f->class_len, f->nclasses, &b->class_num, &b->nclass_num))
            goto oom;
        if (f->task == KM_TASK_REGRESS && lc->type != KM_COL_NUMERIC) {
            km_featbind_free(b);
            return km_seterr(&ctx->err, KM_EDATA, "the label '%s' is categorical in the data", f->label);
        }
    }
    return 0;
oom:
    km_strtab_free(&names);
    km_featbind_free(b);
    return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
}

void km_featbind_free(km_featbind *b)
{
    for (uint32_t j = 0; b->code && j < b->ncols; j++)
        free(b->code[j]);
    for (uint32_t j = 0; b->num && j < b->ncols; j++)
        free(b->num[j]);
    free(b->code);
    free(b->ncode);
    free(b->num);
    free(b->nnum);
    free(b->src);
    free(b->class_code);
    free(b->class_num);
    memset(b, 0, sizeof *b);
}

/* What a stored category code stands for in map (n entries): its entry
 * when the code is an integer in [0, n), else -1, as for a category unseen
 * in training. A dataset's reader refuses other codes, but the transform
 * does not rely on it: a negative, fractional, too large or non-finite
 * code is never converted to an integer, let alone used as an index. */
static int32_t code_entry(const int32_t *map, uint32_t n, float v)
{
    if (!(v >= 0 && (double)v < (double)n) || v != floorf(v))
        return -1;
    return map[(uint32_t)v];
}

/* The level a number names in t (n levels sorted by bits), -1 if none:
 * the number's shortest text (km_format_f32) is that level's text.
 * number_levels kept exactly the levels whose texts some float32 writes
 * so, and km_format_f32 writes distinct floats differently, so equal bits
 * is equal text: the test of a text comparison without the formatting. */
static int32_t num_entry(const km_numlevel *t, uint32_t n, float v)
{
    uint32_t bits, lo = 0, hi = n;
    memcpy(&bits, &v, sizeof bits);
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (t[mid].bits < bits)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && t[lo].bits == bits ? t[lo].level : -1;
}

void km_features_apply(const km_features *f, const km_featbind *b, const float *rows,
                       uint32_t ncols_src, size_t n, float *X, float *y, uint64_t *unseen)
{
    uint32_t d = f->d;
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * ncols_src;
        float *x = X + i * d;
        for (uint32_t j = 0; j < f->ncols; j++) {
            const km_featcol *fc = &f->cols[j];
            float v = r[b->src[j]];
            if (fc->type != KM_COL_CATEGORICAL) {
                x[fc->first] = ((isnan(v) ? fc->fill : v) - fc->shift) * fc->scale;
                continue;
            }
            memset(x + fc->first, 0, fc->nlevels * sizeof *x);
            if (isnan(v))
                continue; /* missing category: all zero */
            int32_t lev = -1;
            if (b->code[j]) {
                lev = code_entry(b->code[j], b->ncode[j], v);
            } else { /* numbers in the data: their text names the level */
                lev = num_entry(b->num[j], b->nnum[j], v);
            }
            if (lev >= 0)
                x[fc->first + (uint32_t)lev] = 1;
            else if (unseen)
                (*unseen)++;
        }
        if (!y)
            continue;
        float t = b->label_src >= 0 ? r[b->label_src] : NAN;
        if (isnan(t) || f->task == KM_TASK_REGRESS) {
            y[i] = t;
        } else if (b->class_code) {
            int32_t k = code_entry(b->class_code, b->nclass_code, t);
            y[i] = k >= 0 ? (float)k : NAN;
        } else {
            int32_t k = num_entry(b->class_num, b->nclass_num, t);
            y[i] = k >= 0 ? (float)k : NAN;
        }
    }
}

/* Whether name reads as an identifier's: id, key, index or no, alone or
 * at an end after a separator or a lower-case letter (Id, patient_id,
 * sampleID, row.no), in any case; or the name of a column the header did
 * not name (colN). */
static int id_name(const char *name)
{
    unsigned num;
    int end = 0;
    /* a header without a name: pandas writes its index so, R its row names */
    if (sscanf(name, "col%u%n", &num, &end) == 1 && name[end] == 0)
        return 1;
    static const char *const words[] = {"id", "key", "index", "no", "uuid", NULL};
    size_t len = strlen(name);
    for (int w = 0; words[w]; w++) {
        size_t k = strlen(words[w]);
        if (len < k || strcasecmp(name + len - k, words[w]) != 0)
            continue;
        if (len == k)
            return 1;
        char before = name[len - k - 1];
        if (!isalnum((unsigned char)before) ||
            (islower((unsigned char)before) && isupper((unsigned char)name[len - k])))
            return 1;
    }
    return 0;
}

/* Whether column j of rows holds a different integer in each of up to
 * 4096 rows spread over all n, none missing: 0 no, 1 yes, 2 yes and
 * increasing in row order (row numbers, such as R writes as a first
 * column without a name). */
static int distinct_integers(const float *rows, uint32_t ncols, size_t n, uint32_t j)
{
    size_t m = n < 4096 ? n : 4096;
    float *v = malloc(m * sizeof *v);
    if (!v)
        return 0; /* (a warning is not worth an error) */
    int ok = 1, rising = 1;
    for (size_t i = 0; i < m && ok; i++) {
        v[i] = rows[(i * n / m) * ncols + j];
        ok = !isnan(v[i]) && v[i] == floorf(v[i]);
        rising &= i == 0 || v[i] > v[i - 1];
    }
    if (ok)
        qsort(v, m, sizeof *v, cmp_float);
    for (size_t i = 1; i < m && ok; i++)
        ok = v[i] != v[i - 1];
    free(v);
    return ok ? 1 + rising : 0;
}

void km_features_suspects(km_ctx *ctx, const km_features *f, const km_featbind *b,
                          const float *rows, uint32_t ncols, size_t n, uint64_t total)
{
    if (n < 20)
        return; /* too few rows to tell */
    for (uint32_t k = 0; k < f->ncols; k++) {
        const km_featcol *fc = &f->cols[k];
        int ints = fc->type == KM_COL_CATEGORICAL ? 0 : distinct_integers(rows, ncols, n, b->src[k]);
        if (fc->type == KM_COL_CATEGORICAL ? 10 * (uint64_t)fc->nlevels >= 9 * total
                                           : ints == 2 || (ints == 1 && id_name(fc->name)))
            km_warn(ctx, "column '%s' looks like an identifier (%s in every row), which a "
                    "kernel machine cannot use; --drop %s if it is one", fc->name,
                    fc->type == KM_COL_CATEGORICAL ? "a different value" : "a different integer",
                    fc->name);
    }
}
