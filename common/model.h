/* model.h - the `local` classifier: naive Bayes over hashed text features.
 *
 * One model per field, all sharing the features of text_features.h:
 *  - sentiment and priority: multinomial naive Bayes (Laplace smoothing,
 *    log space), normalised with a softmax, so the per-label probabilities
 *    are real probabilities summing to 1;
 *  - topic tags (multi-label): one binary multinomial naive Bayes per tag
 *    ("has the tag" against "has not"), whose posterior is a sigmoid of the
 *    log-odds. Tags with probability >= the threshold are chosen, best
 *    first, at most max_topic_tags of them, and the best tag is always
 *    chosen so a ticket never goes without a topic.
 * Naive Bayes treats every feature as independent evidence, which makes it
 * wildly overconfident on long tickets; so the summed feature log-likelihoods
 * are scaled by min(1, evidence / n_features) before the prior is added: a
 * ticket weighs at most `evidence` features' worth, whatever its length.
 *
 * Confidence (tk_confidence_t): sentiment and priority are the probability of
 * the chosen label; topic is the mean probability of the chosen tags.
 *
 * The model learns whatever label strings its training examples carry; it
 * knows nothing of the taxonomy. A trained model is immutable, so one model
 * may classify from any number of threads at once.
 *
 * File format (all integers little-endian, floats IEEE-754 binary32):
 *   "TKNB" | u32 format version (1) | str model_version | u32 feature_bits
 *   | u32 max_topic_tags | f32 topic_threshold | u32 evidence
 *   | 3 x (u32 n_labels | n_labels x str)      sentiment, priority, topic
 *   | f32 prior[n_cols] | f32 unseen[n_cols]
 *   | u32 n_rows | n_rows x (u32 bucket | f32 weights[n_cols])
 *   | u32 FNV-1a of every preceding byte
 * where str is u32 length + bytes, and n_cols = n_sentiment + n_priority +
 * n_topic: log-probabilities for the single-label fields, log-odds for tags.
 * Only buckets seen in training get a row; every other bucket uses unseen.
 */
#ifndef TK_MODEL_H
#define TK_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "ticket.h"

/* The most labels one field may have. */
#define TK_MODEL_MAX_LABELS 32

typedef struct tk_model tk_model_t;

typedef enum {
   TK_MODEL_SENTIMENT = 0,
   TK_MODEL_PRIORITY = 1,
   TK_MODEL_TOPIC = 2,
} tk_model_field_t;

/* One labelled ticket for training; every pointer is borrowed. */
typedef struct {
   const char *id; /* used for the training-data digest only */
   const char *subject;
   const char *body;
   const char *const *topic_tags;
   size_t n_topic_tags;
   const char *sentiment;
   const char *priority;
} tk_model_example_t;

typedef struct {
   double alpha;           /* Laplace smoothing; <= 0 means 0.1 */
   double topic_threshold; /* <= 0 means 0.5 */
   size_t max_topic_tags;  /* 0 means 3 */
   size_t evidence;        /* features' worth of evidence per ticket; 0 means 5 */
} tk_model_train_options_t;

/* Per-label probabilities, in the order of tk_model_labels. */
typedef struct {
   double sentiment[TK_MODEL_MAX_LABELS];
   double priority[TK_MODEL_MAX_LABELS];
   double topic[TK_MODEL_MAX_LABELS];
} tk_model_scores_t;

/* Trains a model on ex[0 .. n). Every example needs a subject or body, a
 * sentiment, a priority and at least one topic tag. options may be NULL for
 * the defaults. Returns a new model (free with tk_model_destroy) or NULL with
 * err filled. */
tk_model_t *tk_model_train (const tk_model_example_t *ex, size_t n,
                            const tk_model_train_options_t *options, tk_error_t *err);

/* Writes the model to path (through a temporary file renamed into place).
 * Returns false with err filled on failure. */
bool tk_model_save (const tk_model_t *model, const char *path, tk_error_t *err);

/* Reads a model written by tk_model_save. Returns a new model or NULL with
 * err filled (TK_ERR_IO if unreadable, TK_ERR_INVALID if corrupt). */
tk_model_t *tk_model_load (const char *path, tk_error_t *err);

/* Frees the model. Accepts NULL. */
void tk_model_destroy (tk_model_t *model);

/* "local-nb-" followed by the first 12 hex digits of the SHA-256 of the
 * training data. Borrowed, valid as long as the model. */
const char *tk_model_version (const tk_model_t *model);

/* The labels of one field: stores the array in *labels (borrowed, valid as
 * long as the model) and returns how many there are. */
size_t tk_model_labels (const tk_model_t *model, tk_model_field_t field,
                        const char *const **labels);

/* Fills out with every label's probability for this ticket. subject and body
 * may be NULL. Never allocates. */
void tk_model_scores (const tk_model_t *model, const char *subject, const char *body,
                      tk_model_scores_t *out);

/* Classifies a ticket. out must be zeroed or cleared (tk_classification_clear);
 * on success it owns newly allocated (strdup) label strings, freed with
 * tk_classification_clear. out_conf may be NULL. Returns false only when
 * memory runs out, with out left cleared. */
bool tk_model_classify (const tk_model_t *model, const char *subject, const char *body,
                        tk_classification_t *out, tk_confidence_t *out_conf);

/* Whether the example with this id belongs to the held-out part of a split
 * that keeps `fraction` (0..1) of the ids out: a hash of seed and id, so the
 * split is the same on every run and machine and for any order of examples. */
bool tk_model_is_holdout (const char *id, unsigned seed, double fraction);

#endif
