/* lexical.h - the lexical model: linear classifiers over a ticket's
 * character n-grams (char_ngrams.h), TF-IDF weighted. It sees what a sentence
 * encoder smooths away: product names, error codes, typos of either ("snowflak",
 * "permision"), the exact words of a deadline. The encoder modes' heads take
 * its logits as features beside the encoder's vector (model.h, lexical_features).
 *
 * Features: each bucket's count c becomes 1 + ln c, times the bucket's
 * inverse document frequency ln((1 + N) / (1 + df)) + 1 over the N training
 * tickets; the row is scaled to unit length. Buckets no training ticket had
 * are dropped. Classifiers (sparse_lr.h): a softmax regression for sentiment
 * and for priority, a logistic regression per topic tag, each with its own
 * L2 strength.
 *
 * Immutable once trained: any number of threads may score at once.
 */
#ifndef TK_LEXICAL_H
#define TK_LEXICAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "model_io.h"

typedef struct tk_lexical tk_lexical_t;

/* What the lexical model learns from; every pointer is borrowed. */
typedef struct {
   const tk_model_example_t *ex;
   size_t n;
   const uint32_t *label[2];  /* [n]: sentiment and priority indices */
   const unsigned char *tags; /* [n][n_labels[2]] */
   size_t n_labels[3];
   double lambda;             /* L2 strength; <= 0 means TK_LEXICAL_LAMBDA */
   unsigned threads;          /* 0 means 1 */
} tk_lexical_data_t;

#define TK_LEXICAL_LAMBDA 1e-4

/* Trains on every example; and, when crossfit is not NULL, also writes the
 * cross-fitted logits of each example into crossfit[n][n_logits]: those of
 * the examples of fold f (of `folds`, fold_of[i]) come from a model trained on
 * the other folds. Returns the model trained on all of them, or NULL with err
 * filled. */
tk_lexical_t *tk_lexical_train (const tk_lexical_data_t *d, unsigned folds,
                                const unsigned *fold_of, double *crossfit, tk_error_t *err);

void tk_lexical_destroy (tk_lexical_t *lex);

/* The logits of a ticket into out[n_sentiment + n_priority + n_topic] (topic
 * tags as log-odds). Returns false if memory runs out (out zeroed). */
bool tk_lexical_logits (const tk_lexical_t *lex, const char *subject, const char *body,
                        double *out);

/* Appends: u32 TK_NGRAM_BITS | f32 bias[n_cols] | u32 n_rows |
 * n_rows x (u32 bucket | f32 idf | f32 w[n_cols]), buckets increasing. */
void tk_lexical_write (const tk_lexical_t *lex, tk_wbuf_t *b);

/* Reads what tk_lexical_write wrote for these label counts; NULL if malformed. */
tk_lexical_t *tk_lexical_read (tk_rbuf_t *r, const size_t n_labels[3]);

#endif
