/* test_suggest.c - unit tests of the edit distance and the "did you mean"
 * choice (kmill/suggest.h), the distance against a plain full-table
 * computation of the same definition. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kmill/suggest.h"

/* The optimal-string-alignment distance by its definition, the whole
 * table, no cut-off. */
static size_t osa_reference(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    size_t *t = malloc((n + 1) * (m + 1) * sizeof *t);
#define T(i, j) t[(i) * (m + 1) + (j)]
    for (size_t i = 0; i <= n; i++)
        T(i, 0) = i;
    for (size_t j = 0; j <= m; j++)
        T(0, j) = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t best = T(i - 1, j) + 1;
            if (T(i, j - 1) + 1 < best)
                best = T(i, j - 1) + 1;
            if (T(i - 1, j - 1) + (a[i - 1] != b[j - 1]) < best)
                best = T(i - 1, j - 1) + (a[i - 1] != b[j - 1]);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                T(i - 2, j - 2) + 1 < best)
                best = T(i - 2, j - 2) + 1;
            T(i, j) = best;
        }
    size_t d = T(n, m);
#undef T
    free(t);
    return d;
}

static size_t dist(const char *a, const char *b, size_t max)
{
    return km_edit_distance(a, strlen(a), b, strlen(b), 0, max);
}

Test(suggest, known_distances)
{
    cr_assert_eq(dist("", "", 9), 0);
    cr_assert_eq(dist("abc", "", 9), 3);
    cr_assert_eq(dist("Speceis", "Species", 9), 1); /* a swap */
    cr_assert_eq(dist("bandwith", "bandwidth", 9), 1);
    cr_assert_eq(dist("kitten", "sitting", 9), 3);
    cr_assert_eq(dist("ca", "abc", 9), 3); /* OSA, not unrestricted Damerau (2) */
    cr_assert_eq(km_edit_distance("LABEL", 5, "label", 5, 0, 9), 5);
    cr_assert_eq(km_edit_distance("LABEL", 5, "label", 5, 1, 9), 0);
}

Test(suggest, cut_off_is_max_plus_one)
{
    cr_assert_eq(dist("kitten", "sitting", 2), 3);
    cr_assert_eq(dist("kitten", "sitting", 0), 1);
    cr_assert_eq(dist("abcdefgh", "a", 3), 4);
    char longer[300];
    memset(longer, 'a', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    cr_assert_eq(dist(longer, longer, 5), 6); /* past 255 bytes: never close */
}

/* Random short strings over a small alphabet (many swaps and repeats):
 * the cut-off never changes a distance within max, and past max gives
 * max + 1. */
Test(suggest, matches_reference)
{
    unsigned seed = 12345;
    char a[12], b[12];
    for (int t = 0; t < 20000; t++) {
        size_t n = (size_t)(rand_r(&seed) % 11), m = (size_t)(rand_r(&seed) % 11);
        for (size_t i = 0; i < n; i++)
            a[i] = (char)('a' + rand_r(&seed) % 3);
        for (size_t j = 0; j < m; j++)
            b[j] = (char)('a' + rand_r(&seed) % 3);
        a[n] = b[m] = '\0';
        size_t want = osa_reference(a, b);
        for (size_t max = 0; max <= 11; max++) {
            size_t got = dist(a, b, max);
            cr_assert_eq(got, want <= max ? want : max + 1, "'%s' '%s' max %zu: %zu, want %zu", a,
                         b, max, got, want);
        }
    }
}

static const char *best_of(const char *word, const char *const *cands)
{
    km_suggest s;
    km_suggest_init(&s, word, strlen(word));
    for (size_t i = 0; cands[i]; i++)
        km_suggest_add(&s, cands[i], strlen(cands[i]));
    return km_suggest_best(&s);
}

Test(suggest, closest_when_close_and_unique)
{
    static const char *const opts[] = {"bandwidth", "band", "reg", "rfm", "label", NULL};
    cr_assert_str_eq(best_of("bandwith", opts), "bandwidth");
    cr_assert_str_eq(best_of("LABEL", opts), "label");
    cr_assert_str_eq(best_of("lable", opts), "label");
    cr_assert_null(best_of("colour", opts));  /* nothing close */
    cr_assert_null(best_of("rem", opts));     /* 'reg' and 'rfm' both one edit away */
    cr_assert_null(best_of("xx", opts));      /* too short to guess */
    static const char *const cols[] = {"Species", "y", NULL};
    cr_assert_str_eq(best_of("Speceis", cols), "Species");
    cr_assert_str_eq(best_of("Y", cols), "y"); /* differs only in case */
    cr_assert_null(best_of("Spxcxex", cols));  /* three edits */
}
