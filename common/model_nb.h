/* model_nb.h - the `nb` mode of the local model: naive Bayes over the hashed
 * text features of text_features.h (the project's first model, kept
 * selectable beside the encoder modes). Internal to the model's files.
 *
 *  - sentiment and priority: multinomial naive Bayes (Laplace smoothing, log
 *    space); their logits are the class log-probabilities;
 *  - topic tags: one binary multinomial naive Bayes per tag ("has the tag"
 *    against "has not"); its logit is the log-odds.
 * Naive Bayes treats every feature as independent evidence, which makes it
 * wildly overconfident on long tickets; so the summed feature log-likelihoods
 * are scaled by min(1, evidence / n_features) before the prior is added: a
 * ticket weighs at most `evidence` features' worth, whatever its length.
 * Immutable once trained: any number of threads may score at once.
 */
#ifndef TK_MODEL_NB_H
#define TK_MODEL_NB_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "model.h"
#include "model_io.h"

typedef struct tk_nb tk_nb_t;

/* Trains on ex[0 .. n) whose labels are already indices: label[0][i] the
 * sentiment and label[1][i] the priority of example i, tags[i][n_labels[2]]
 * 1 where it has the tag. */
tk_nb_t *tk_nb_train (const tk_model_example_t *ex, size_t n, const uint32_t *const label[2],
                      const unsigned char *tags, const size_t n_labels[3], double alpha,
                      uint32_t evidence, tk_error_t *err);

void tk_nb_destroy (tk_nb_t *nb);

/* The logits of a ticket into out[n_sentiment + n_priority + n_topic]. */
void tk_nb_logits (const tk_nb_t *nb, const char *subject, const char *body, double *out);

/* Appends: u32 feature_bits | u32 evidence | f32 prior[n_cols] |
 * f32 unseen[n_cols] | u32 n_rows | n_rows x (u32 bucket | f32 w[n_cols]). */
void tk_nb_write (const tk_nb_t *nb, tk_wbuf_t *b);

/* Reads what tk_nb_write wrote for these label counts; NULL if malformed. */
tk_nb_t *tk_nb_read (tk_rbuf_t *r, const size_t n_labels[3]);

#endif
