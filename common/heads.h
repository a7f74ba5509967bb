/* heads.h - the trainable heads on top of a ticket's vector (the encoder's or
 * the static table's): for sentiment and for priority a softmax regression,
 * for topic tags one logistic regression per tag (one-vs-rest), all linear in
 * the vector.
 *
 * Training standardises every dimension (mean 0, variance 1 on the training
 * vectors), minimises the mean negative log-likelihood plus lambda/2 ||W||^2
 * (the biases are not penalised) with accelerated gradient descent (FISTA,
 * step 1/L from the largest eigenvalue of the data's Gram matrix, adaptive
 * restart), and folds the standardisation back into the weights so that
 * scoring is one dot product per label. Lambda is chosen per field by k-fold
 * cross-validation on the training data only (the lowest held-out negative
 * log-likelihood over a grid of 1e-4 .. 1), then the head is refitted on all
 * of it.
 *
 * A trained set of heads is immutable: any number of threads may score with
 * it at once.
 */
#ifndef TK_HEADS_H
#define TK_HEADS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model_io.h"

typedef struct tk_heads tk_heads_t;

/* What the heads learn from; every pointer is borrowed. */
typedef struct {
   const float *x; /* [n][dim] */
   size_t n, dim;
   size_t n_labels[3];         /* sentiment, priority, topic tags */
   const uint32_t *label[2];   /* [n]: the sentiment and the priority label of each */
   const unsigned char *tags;  /* [n][n_labels[2]]: 1 where the ticket has the tag */
} tk_heads_data_t;

/* Trains the three heads with folds-fold cross-validation (0 means 5).
 * Returns new heads (free with tk_heads_destroy) or NULL with err filled. */
tk_heads_t *tk_heads_train (const tk_heads_data_t *d, unsigned folds, tk_error_t *err);

void tk_heads_destroy (tk_heads_t *h);

/* The vector's dimension. */
size_t tk_heads_dim (const tk_heads_t *h);

/* The regularisation cross-validation chose for a field (0, 1, 2). */
double tk_heads_lambda (const tk_heads_t *h, int field);

/* The logits of x[dim]: out[n_labels[0] + n_labels[1] + n_labels[2]], in the
 * order sentiment, priority, topic tags (tags as log-odds). */
void tk_heads_logits (const tk_heads_t *h, const float *x, double *out);

/* Appends the heads to b: u32 dim | f32 lambda[3] | for each field,
 * n_labels x (f32 weights[dim] | f32 bias). */
void tk_heads_write (const tk_heads_t *h, tk_wbuf_t *b);

/* Reads heads written by tk_heads_write for these label counts. Returns NULL
 * if the bytes are malformed or memory runs out. */
tk_heads_t *tk_heads_read (tk_rbuf_t *r, const size_t n_labels[3]);

#endif
