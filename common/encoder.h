/* encoder.h - the sentence encoder all-MiniLM-L6-v2, run in C.
 *
 * A BERT encoder (6 layers, hidden size 384, 12 attention heads of 32, a
 * feed-forward layer of 1536 with the erf GELU (erf as a rational function,
 * a few units in the last place), post-layer LayerNorm with eps 1e-12,
 * absolute position embeddings, token type 0) over the WordPiece ids of
 * wordpiece.h, then mean pooling over every token of the sequence ([CLS] and
 * [SEP] included, as the attention mask has them) and L2 normalisation: what
 * sentence-transformers computes for this model. The weights are read from
 * model.safetensors (mapped; on a CPU with AVX-512F the layers' matrices are
 * packed once at load for packed_gemm.h, 42 MB, and their mapped pages given
 * back) and the vocabulary from tokenizer.json, both in one folder; the model
 * was trained on sequences of at most 256 tokens, [CLS] and [SEP] included.
 *
 * Longer texts (more than 254 word-pieces): TK_ENCODER_TRUNCATE keeps the
 * first 254, as sentence-transformers does; TK_ENCODER_HEAD_TAIL (what
 * tickets get) encodes a head window, the first 254 pieces, and a tail
 * window, the last 254, each as its own [CLS] .. [SEP] sequence, pools and
 * normalises each, and returns the normalised mean of the two: the opening
 * (what the ticket is about) and the end (what is asked, how urgent) both
 * count whatever the length, while the cost stays at most two windows. The
 * middle of a ticket of more than 508 pieces is not seen.
 * (docs/decisions/0014-long-ticket-windows.md)
 *
 * A ticket is one text: the subject, a line feed, the body (either may be
 * empty or NULL; the line feed only separates words).
 *
 * Batches: every function below runs its sequences as ragged batches, their
 * rows (tokens) back to back with no padding. Embeddings, LayerNorms, the
 * linear layers and GELU work row by row, so they run once over all rows of a
 * pass (each weight matrix is read once per pass, not once per
 * sequence); attention and mean pooling run per sequence on its own rows, and
 * position ids restart at 0 in each sequence. A sequence's vector is what it
 * would be alone (to float rounding: the products' blocking may differ). A
 * pass holds whole sequences and at most TK_ENCODER_MAX_ROWS rows; more make
 * several passes. A pass's scratch memory is 6 x 384 floats a row plus one
 * 256 x 256 attention matrix: 9.7 MB at 1,024 rows (and a group of texts
 * another 0.8 MB), freed before the call returns.
 *
 * Threads: the linear layers run packed_gemm.h's kernel (AVX-512F) or else
 * OpenBLAS cblas_sgemm, attention always the latter, with one BLAS thread
 * (tk_encoder_load sets it for the process); every call works in scratch
 * memory of its own, so one loaded encoder serves any number of threads at
 * once. A call costs tens of milliseconds: never make it on an event loop's
 * thread.
 */
#ifndef TK_ENCODER_H
#define TK_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "wordpiece.h"

#define TK_ENCODER_DIM 384
/* The longest sequence the model was trained to, [CLS] and [SEP] included. */
#define TK_ENCODER_MAX_TOKENS 256
/* The most rows (tokens, of whole sequences) of one forward pass. */
#define TK_ENCODER_MAX_ROWS 1024
#define TK_ENCODER_FILE "model.safetensors"
#define TK_ENCODER_TOKENIZER "tokenizer.json"

typedef struct tk_encoder tk_encoder_t;

typedef enum {
   TK_ENCODER_HEAD_TAIL = 0,
   TK_ENCODER_TRUNCATE = 1,
} tk_encoder_windows_t;

/* Loads the encoder from dir (holding model.safetensors and tokenizer.json)
 * and computes the SHA-256 of model.safetensors. Returns a new encoder (free
 * with tk_encoder_destroy) or NULL with err filled. */
tk_encoder_t *tk_encoder_load (const char *dir, tk_error_t *err);

/* Frees the encoder. Accepts NULL. */
void tk_encoder_destroy (tk_encoder_t *enc);

/* The tokeniser: borrowed, valid as long as the encoder. */
const tk_wordpiece_t *tk_encoder_tokenizer (const tk_encoder_t *enc);

/* The SHA-256 of model.safetensors, 64 lower-case hex digits: borrowed. */
const char *tk_encoder_sha256 (const tk_encoder_t *enc);

/* Embeds text[0 .. len) into out[TK_ENCODER_DIM] (unit length). Returns
 * false with err filled if memory runs out. */
bool tk_encoder_embed (const tk_encoder_t *enc, const char *text, size_t len,
                       tk_encoder_windows_t windows, float *out, tk_error_t *err);

/* Embeds n texts, texts[i][0 .. lens[i]) into out[i][TK_ENCODER_DIM], each
 * as tk_encoder_embed would, in ragged passes of up to TK_ENCODER_MAX_ROWS
 * rows (all windows of a text in the same pass). Returns false with err
 * filled if memory runs out (out then partly written). */
bool tk_encoder_embed_many (const tk_encoder_t *enc, const char *const *texts, const size_t *lens,
                            size_t n, tk_encoder_windows_t windows, float *out, tk_error_t *err);

/* Runs n_seq sequences of lens[b] ids each (ids holding them back to back,
 * each already [CLS] .. [SEP], 1 <= lens[b] <= TK_ENCODER_MAX_TOKENS)
 * through the encoder as ragged batches, writing each one's pooled,
 * normalised vector to out[n_seq][TK_ENCODER_DIM]. Returns false with err
 * filled on a bad id or length, or if memory runs out. */
bool tk_encoder_embed_ragged (const tk_encoder_t *enc, const int32_t *ids, const size_t *lens,
                              size_t n_seq, float *out, tk_error_t *err);

/* Runs n_seq sequences of seq_len ids each (ids[n_seq][seq_len], each
 * already [CLS] .. [SEP], seq_len <= TK_ENCODER_MAX_TOKENS) through the
 * encoder at once, writing each one's pooled, normalised vector to
 * out[n_seq][TK_ENCODER_DIM]. Returns false with err filled on a bad id or
 * length, or if memory runs out. */
bool tk_encoder_embed_ids (const tk_encoder_t *enc, const int32_t *ids, size_t n_seq,
                           size_t seq_len, float *out, tk_error_t *err);

/* The text of a ticket as the encoder and the static table see it: subject,
 * "\n", body. Returns a new string (free it) or NULL if memory runs out. */
char *tk_encoder_ticket_text (const char *subject, const char *body);

/* tk_encoder_embed of tk_encoder_ticket_text, with head and tail windows. */
bool tk_encoder_embed_ticket (const tk_encoder_t *enc, const char *subject, const char *body,
                              float *out, tk_error_t *err);

/* tk_encoder_embed_ticket of n tickets (subjects[i], bodies[i]; either may
 * be NULL) into out[n][TK_ENCODER_DIM], in ragged passes as
 * tk_encoder_embed_many. */
bool tk_encoder_embed_tickets (const tk_encoder_t *enc, const char *const *subjects,
                               const char *const *bodies, size_t n, float *out, tk_error_t *err);

/* Scales v[0 .. n) to unit length (left alone if it is zero). */
void tk_vec_normalize (float *v, size_t n);

#endif
