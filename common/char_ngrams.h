/* char_ngrams.h - a ticket's character n-grams, hashed: the features of the
 * lexical model (lexical.h).
 *
 * The text is subject, "\n", body, normalised and split into words as BERT
 * does it (bert_text.h: lower case, accents stripped, punctuation a word of
 * its own). Each word, cut to its first 64 bytes and with a space added on
 * either side, gives every run of 2, 3, 4 and 5 bytes in it ("dbt" gives
 * " d", "db", "bt", "t ", " db", ..., " dbt "); a word too short for n gives
 * its padded self once. Each n-gram is hashed (32-bit FNV-1a, then a
 * murmur3-style finaliser) to TK_NGRAM_BITS bits. Runs of bytes rather than
 * of characters: after accent stripping nearly every ticket is ASCII, and a
 * split UTF-8 character is still the same bytes every time.
 *
 * What comes out is each bucket once, sorted, with its count. The values are
 * part of the model file format: changing them invalidates trained models.
 */
#ifndef TK_CHAR_NGRAMS_H
#define TK_CHAR_NGRAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TK_NGRAM_BITS 18
#define TK_NGRAM_BUCKETS (1u << TK_NGRAM_BITS)
#define TK_NGRAM_MIN 2
#define TK_NGRAM_MAX 5

typedef struct {
   uint32_t *bucket; /* sorted, each once */
   uint32_t *count;
   size_t n;
   size_t cap;
} tk_ngram_counts_t;

/* Fills out (emptied first, its arrays reused) with the n-grams of a ticket;
 * subject and body may be NULL. Returns false if memory runs out. */
bool tk_char_ngrams (const char *subject, const char *body, tk_ngram_counts_t *out);

/* Frees the arrays of out and zeroes it. */
void tk_ngram_counts_free (tk_ngram_counts_t *out);

#endif
