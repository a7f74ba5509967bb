/* text_features.h - turning a ticket's text into hashed features.
 *
 * Text is lower-cased (ASCII) and split into words: runs of ASCII letters and
 * digits, with every byte >= 0x80 kept inside a word so UTF-8 letters never
 * split one ("Jürgen" is one word). Each word gives a unigram feature and each
 * pair of adjacent words a bigram feature. Subject words are hashed into a
 * space distinct from body words (the same word in the subject and in the
 * body are two features), and subject words are also counted as body words,
 * so the subject weighs more.
 *
 * Hashing is 32-bit FNV-1a, finished with a murmur3-style mixer, reduced to
 * TK_FEATURE_BITS bits. The values are part of the model file format: changing
 * them invalidates every trained model.
 *
 * Nothing here allocates.
 */
#ifndef TK_TEXT_FEATURES_H
#define TK_TEXT_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TK_FEATURE_BITS 18
#define TK_FEATURE_BUCKETS (1u << TK_FEATURE_BITS)

/* A word inside a caller's text: borrowed, not NUL-terminated, original case. */
typedef struct {
   const char *base;
   size_t len;
} tk_word_t;

/* Finds the first word of text[*pos .. len), stores it in *word and moves *pos
 * past it. Returns false (leaving *word alone) when no word is left. */
bool tk_text_next_word (const char *text, size_t len, size_t *pos, tk_word_t *word);

/* 32-bit FNV-1a of the word lower-cased (ASCII letters only). */
uint32_t tk_text_hash_word (const char *s, size_t len);

/* The hash of the ordered pair (a, b) of word hashes. */
uint32_t tk_text_hash_pair (uint32_t a, uint32_t b);

/* The bucket in [0, TK_FEATURE_BUCKETS) of a word or pair hash; subject
 * selects the subject feature space. */
uint32_t tk_text_bucket (uint32_t hash, bool subject);

/* Called once per feature occurrence with its bucket. */
typedef void (*tk_feature_fn) (uint32_t bucket, void *ctx);

/* Calls fn for every feature of a ticket: subject unigrams and pairs in the
 * subject space, then subject and body unigrams and pairs in the body space
 * (pairs never span subject and body). subject and body may be NULL. Returns
 * the number of features visited. */
size_t tk_text_features_each (const char *subject, const char *body, tk_feature_fn fn, void *ctx);

/* Like tk_text_features_each, storing buckets into out[0 .. cap). Returns the
 * total number of features, which may exceed cap (only cap are stored). */
size_t tk_text_features (const char *subject, const char *body, uint32_t *out, size_t cap);

#endif
