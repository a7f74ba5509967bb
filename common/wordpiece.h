/* wordpiece.h - BERT's WordPiece tokeniser over the vocabulary of a
 * tokenizer.json (all-MiniLM-L6-v2's: 30,522 pieces, uncased).
 *
 * Text becomes ids in three steps, as PyPI `tokenizers` does for this model:
 *  1. the special tokens ([PAD] [UNK] [CLS] [SEP] [MASK]) are found in the
 *     raw text, exactly as written, and become their own ids;
 *  2. the text between them is normalised and split into words (bert_text.h);
 *  3. each word becomes pieces, longest match first: the longest vocabulary
 *     entry that starts the word, then the longest "##"-prefixed entry that
 *     continues it, and so on; a word with no such split, or longer than 100
 *     characters, becomes the single id of [UNK].
 * [CLS] and [SEP] around the sequence are the caller's (encoder.c adds them).
 *
 * A tokeniser is immutable once made: any number of threads may use it.
 */
#ifndef TK_WORDPIECE_H
#define TK_WORDPIECE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct tk_wordpiece tk_wordpiece_t;

/* A growable array of token ids; the caller owns ids (free it). */
typedef struct {
   int32_t *ids;
   size_t n, cap;
} tk_token_ids_t;

/* Reads the WordPiece vocabulary of a tokenizer.json file. Returns a new
 * tokeniser (free with tk_wordpiece_destroy) or NULL with err filled. */
tk_wordpiece_t *tk_wordpiece_load (const char *path, tk_error_t *err);

/* A tokeniser over tokens[0 .. n), the piece of id i at index i (copied).
 * The vocabulary must hold [UNK], [CLS] and [SEP]. Returns NULL with err
 * filled on a duplicate or missing piece, or when memory runs out. */
tk_wordpiece_t *tk_wordpiece_new (const char *const *tokens, size_t n, tk_error_t *err);

/* Frees the tokeniser. Accepts NULL. */
void tk_wordpiece_destroy (tk_wordpiece_t *wp);

/* The vocabulary size. */
size_t tk_wordpiece_size (const tk_wordpiece_t *wp);

/* The piece of an id in [0, size): borrowed, valid as long as wp. */
const char *tk_wordpiece_piece (const tk_wordpiece_t *wp, int32_t id);

/* The id of piece s[0 .. len), or -1. */
int32_t tk_wordpiece_lookup (const tk_wordpiece_t *wp, const char *s, size_t len);

/* The ids of [CLS], [SEP] and [UNK]. */
int32_t tk_wordpiece_cls (const tk_wordpiece_t *wp);
int32_t tk_wordpiece_sep (const tk_wordpiece_t *wp);
int32_t tk_wordpiece_unk (const tk_wordpiece_t *wp);

/* Appends the ids of text[0 .. len) to out. Returns false if memory ran out
 * (out keeps what was appended). */
bool tk_wordpiece_encode (const tk_wordpiece_t *wp, const char *text, size_t len,
                          tk_token_ids_t *out);

/* Appends one id to out. Returns false if memory ran out. */
bool tk_token_ids_push (tk_token_ids_t *out, int32_t id);

#endif
