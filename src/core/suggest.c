/* suggest.c - edit distance and the closest name (see
 * include/kmill/suggest.h). */
#include "config.h"
#include <string.h>

#include "kmill/suggest.h"

#define MAXLEN 255

static unsigned char fold_byte(unsigned char c, int fold)
{
    return fold && c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t km_edit_distance(const char *a, size_t alen, const char *b, size_t blen, int fold,
                        size_t max)
{
    if (alen > MAXLEN || blen > MAXLEN || (alen > blen ? alen - blen : blen - alen) > max)
        return max + 1;
    /* three rows of the dynamic programme: i - 2 (for swaps), i - 1, i */
    size_t rows[3][MAXLEN + 1];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= blen; j++)
        prev[j] = j;
    size_t prevmin = 0;
    for (size_t i = 1; i <= alen; i++) {
        unsigned char ca = fold_byte((unsigned char)a[i - 1], fold);
        size_t rowmin = cur[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            unsigned char cb = fold_byte((unsigned char)b[j - 1], fold);
            size_t v = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb));
            if (i > 1 && j > 1 && ca == fold_byte((unsigned char)b[j - 2], fold) &&
                fold_byte((unsigned char)a[i - 2], fold) == cb && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            cur[j] = v;
            if (v < rowmin)
                rowmin = v;
        }
        /* an entry comes from the row before (+0 or +1) or, by a swap,
         * from the one before that (+1): once this row is past max and
         * the one before is at max or past it, so is every later row */
        if (rowmin > max && prevmin >= max)
            return max + 1;
        prevmin = rowmin;
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[blen] > max ? max + 1 : prev[blen];
}

void km_suggest_init(km_suggest *s, const char *word, size_t len)
{
    s->word = word;
    s->len = len;
    s->limit = len < 3 ? 0 : len < 6 ? 1 : 2;
    s->best_dist = s->limit + 1;
    s->best = NULL;
    s->tie = 0;
}

void km_suggest_add(km_suggest *s, const char *cand, size_t len)
{
    /* without case: a word that differs only in case is at distance 0 */
    size_t d = km_edit_distance(s->word, s->len, cand, len, 1, s->limit);
    if (d > s->limit)
        return;
    if (d < s->best_dist) {
        s->best_dist = d;
        s->best = cand;
        s->tie = 0;
    } else if (d == s->best_dist) {
        s->tie = 1;
    }
}

const char *km_suggest_best(const km_suggest *s)
{
    return s->tie ? NULL : s->best;
}
