/* static_table.h - the static mode of the local model: a table of one vector
 * per vocabulary piece, distilled from the sentence encoder at build time, so
 * that a ticket costs a tokenisation and a weighted mean instead of a forward
 * pass (docs/decisions/0015-static-table.md).
 *
 * Distilling: every piece id of the vocabulary (30,522) runs through the
 * encoder once as the sequence [CLS] id [SEP], giving its pooled, normalised
 * vector; the mean of those vectors over the vocabulary is taken out of each
 * (they share a large common part, the special tokens' and positions', that
 * would make every ticket look alike) and each is normalised again and
 * stored as IEEE binary16. A ticket's vector is then
 *     normalise( sum over its pieces p of weight[p] * table[p] )
 * over the WordPiece ids of tk_encoder_ticket_text (no [CLS] / [SEP], no
 * windows: every piece counts), with weight[p] the inverse document
 * frequency of p in the training tickets, log((1 + N) / (1 + df)) + 1, so
 * that pieces every ticket has ("the", "##s", ",") weigh least; a ticket
 * with no piece has the zero vector.
 *
 * The distilled table depends on the weights only, so it is cached (the
 * encoder's vectors, before centring) under the cache folder as
 * static-<first 16 hex of the weights' SHA-256>.f16 and read back instead of
 * distilled again. A table is immutable once trained:
 * any number of threads may embed with it at once.
 */
#ifndef TK_STATIC_TABLE_H
#define TK_STATIC_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "encoder.h"
#include "error.h"
#include "model_io.h"

typedef struct tk_static_table tk_static_table_t;

/* Distils the table from enc with `threads` threads (0 means 1), or reads it
 * from cache_dir (may be NULL: no cache) when a previous run left it there,
 * writing it there otherwise. Weights start at 1. Returns a new table or NULL
 * with err filled. */
tk_static_table_t *tk_static_table_distil (const tk_encoder_t *enc, const char *cache_dir,
                                           unsigned threads, tk_error_t *err);

void tk_static_table_destroy (tk_static_table_t *t);

/* Sets every piece's weight to its inverse document frequency over
 * texts[0 .. n). Returns false if memory runs out. */
bool tk_static_table_fit_idf (tk_static_table_t *t, const char *const *texts, size_t n);

/* The vector of text[0 .. len) into out[TK_ENCODER_DIM]. Returns false if
 * memory runs out. */
bool tk_static_table_embed (const tk_static_table_t *t, const char *text, size_t len, float *out);

/* Appends the table: u32 n_pieces | u32 dim | n x str piece | f32 weight[n]
 * | u16 binary16 vectors[n][dim]. */
void tk_static_table_write (const tk_static_table_t *t, tk_wbuf_t *b);

/* Reads a table written by tk_static_table_write; NULL if malformed. */
tk_static_table_t *tk_static_table_read (tk_rbuf_t *r);

#endif
