/* suggest.h - "did you mean": the closest of a set of names to a word that
 * matched none of them (a misspelt option, command or column), by edit
 * distance. One place decides what counts as close, so every message that
 * suggests a name suggests by the same rule.
 *
 * Use: km_suggest_init with the word, km_suggest_add for each candidate,
 * then km_suggest_best. */
#ifndef KMILL_SUGGEST_H
#define KMILL_SUGGEST_H

#include <stddef.h>

/* The optimal-string-alignment distance between a (alen bytes) and b (blen
 * bytes): the fewest insertions, deletions, substitutions and swaps of two
 * adjacent bytes that turn one into the other ("Speceis" -> "Species" is
 * 1). fold: ASCII letters compare without case. Returns max + 1 as soon as
 * the distance is known to exceed max (the work is then cut short);
 * strings longer than 255 bytes are always max + 1. */
size_t km_edit_distance(const char *a, size_t alen, const char *b, size_t blen, int fold,
                        size_t max);

typedef struct km_suggest {
    const char *word;
    size_t len;
    size_t limit;       /* the largest distance that counts as close */
    size_t best_dist;   /* of best, or limit + 1 */
    const char *best;   /* the closest candidate so far, or NULL */
    int tie;            /* another candidate is as close: best is not unique */
} km_suggest;

/* Distances are taken without case, so a candidate equal to the word but
 * for case is at 0 and always close. Otherwise close means at most 1 edit
 * for a word of 3 to 5 bytes, 2 for a longer one, and none for a shorter
 * one (every short name is an edit or two from every other). */
void km_suggest_init(km_suggest *s, const char *word, size_t len);
void km_suggest_add(km_suggest *s, const char *cand, size_t len);
/* The one closest candidate, or NULL when none is close or two are
 * equally close (a guess between them would mislead). */
const char *km_suggest_best(const km_suggest *s);

#endif
