/* model.h - the `local` classifier: three modes behind one interface.
 *
 *  - `encoder`: the sentence encoder all-MiniLM-L6-v2 run in C per ticket
 *    (encoder.h), then linear heads (heads.h): a softmax regression for
 *    sentiment, one for priority, a logistic regression per topic tag;
 *  - `static`: the same heads over a static table distilled from the encoder
 *    (static_table.h): a ticket is an IDF-weighted mean of its word-pieces'
 *    vectors; microseconds a ticket, no weights needed at run time;
 *  - `nb`: the first model, naive Bayes over hashed words (model_nb.h).
 * With nb_features, the heads of the encoder modes see naive Bayes's logits
 * beside the vector (the hashed words' evidence); with lexical_features, the
 * logits of the lexical model (lexical.h: character n-grams, which catch
 * product names, error codes and typos). Both are cross-fitted in training:
 * the heads learn from logits of models that had not seen the ticket.
 * Each mode yields logits per field; each field's logits are divided by a
 * temperature fitted on a calibration set (calibration.h; 1 when trained
 * without one) before the softmax or sigmoid, so that the probabilities mean
 * what they say.
 *
 * Choices and confidence (tk_confidence_t), every mode alike:
 *  - sentiment and priority: the most probable label; its confidence is its
 *    calibrated probability;
 *  - topic tags: every tag of probability >= topic_threshold (0.5), best
 *    first, at most max_topic_tags, and always the best one; the confidence
 *    is that of the least certain tag decision, min over every tag of
 *    max(p, 1 - p): the calibrated probability that the shakiest of the
 *    ticket's tag decisions (a tag chosen or left out) is right.
 *
 * The model learns whatever label strings its training examples carry; it
 * knows nothing of the taxonomy. A trained or loaded model is immutable, so
 * one model may classify from any number of threads at once; in `encoder`
 * mode a call costs tens of milliseconds of CPU (never on a loop thread).
 *
 * File format 3 (all integers little-endian, floats IEEE-754 binary32):
 *   "TKNB" | u32 format version (3) | u32 mode (0 nb, 1 static, 2 encoder)
 *   | str model_version | u32 max_topic_tags | f32 topic_threshold
 *   | 3 x (u32 n_labels | n_labels x str)      sentiment, priority, topic
 *   | f32 temperature[3]
 *   | nb: model_nb.h's section; static: heads.h's section, u32 has_nb (and
 *     model_nb.h's section if 1), u32 has_lexical (and lexical.h's section
 *     if 1), static_table.h's section; encoder: str SHA-256 of
 *     model.safetensors (64 hex, the weights pinned), heads.h's section,
 *     u32 has_nb (and model_nb.h's section if 1), u32 has_lexical (and
 *     lexical.h's section if 1)
 *   | u32 FNV-1a of every preceding byte
 * where str is u32 length + bytes. Format 2 (format 3 without has_lexical)
 * is still read; format 1 files (naive Bayes only, before the encoder) are
 * refused: retrain with `triagectl train`.
 *
 * model_version names the mode: local-nb-<hash>, local-static-<hash> or
 * local-minilm-<hash>, the hash being the first 12 hex digits of the SHA-256
 * of the training data, the calibration data and (encoder modes) the weights.
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
   TK_MODEL_NB = 0,
   TK_MODEL_STATIC = 1,
   TK_MODEL_ENCODER = 2,
} tk_model_mode_t;

/* The folder of the encoder's weights beside a model file: its directory
 * plus this name (the build links the cached weights there). */
#define TK_MODEL_ENCODER_DIRNAME "all-MiniLM-L6-v2"

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
   tk_model_mode_t mode;   /* TK_MODEL_NB (0) unless set */
   double alpha;           /* nb: Laplace smoothing; <= 0 means 0.1 */
   double topic_threshold; /* <= 0 means 0.5 */
   size_t max_topic_tags;  /* 0 means 3 */
   size_t evidence;        /* nb: features' worth of evidence per ticket; 0 means 5 */
   const char *encoder_dir; /* static, encoder: the weights' folder (required) */
   const char *cache_dir;  /* where distilled tables and embeddings are kept
                              between runs; NULL for no cache */
   unsigned threads;       /* for encoding the training data; 0 means 1 */
   unsigned folds;         /* cross-validation folds for the heads; 0 means 5 */
   bool nb_features;       /* static, encoder: the heads also see naive Bayes's
                              logits of the ticket (hashed words), cross-fitted */
   bool lexical_features;  /* static, encoder: the heads also see the lexical
                              model's logits (lexical.h), cross-fitted */
   double lexical_lambda;  /* its L2 strength; <= 0 means TK_LEXICAL_LAMBDA */
   const tk_model_example_t *calibration; /* fits the temperatures; may be NULL */
   size_t n_calibration;
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

/* Reads a model written by tk_model_save. An `encoder` model loads the
 * weights from the folder TK_MODEL_ENCODER_DIRNAME beside path and checks
 * their SHA-256 against the one the model pins. Returns a new model or NULL
 * with err filled (TK_ERR_IO if unreadable, TK_ERR_INVALID if corrupt or
 * pinned to other weights). Call it from the main thread before starting
 * others (it may load OpenBLAS: blas.h). */
tk_model_t *tk_model_load (const char *path, tk_error_t *err);

/* tk_model_load with the weights' folder given (NULL or "" for the default
 * beside path); only `encoder` models read it. */
tk_model_t *tk_model_load_with (const char *path, const char *encoder_dir, tk_error_t *err);

/* The model's mode. */
tk_model_mode_t tk_model_mode (const tk_model_t *model);

/* "nb", "static" or "encoder". Static. */
const char *tk_model_mode_name (tk_model_mode_t mode);

/* Parses a mode name; returns false if it is none of them. */
bool tk_model_mode_parse (const char *name, tk_model_mode_t *mode);

/* The temperature of a field (1 if trained without calibration). */
double tk_model_temperature (const tk_model_t *model, tk_model_field_t field);

/* The L2 regularisation cross-validation chose for a field's head (0 in nb
 * mode). */
double tk_model_lambda (const tk_model_t *model, tk_model_field_t field);

/* Frees the model. Accepts NULL. */
void tk_model_destroy (tk_model_t *model);

/* "local-nb-", "local-static-" or "local-minilm-" and 12 hex digits (see
 * above). Borrowed, valid as long as the model. */
const char *tk_model_version (const tk_model_t *model);

/* The labels of one field: stores the array in *labels (borrowed, valid as
 * long as the model) and returns how many there are. */
size_t tk_model_labels (const tk_model_t *model, tk_model_field_t field,
                        const char *const **labels);

/* Fills out with every label's calibrated probability for this ticket.
 * subject and body may be NULL. Returns false only when memory runs out
 * (out zeroed). */
bool tk_model_scores (const tk_model_t *model, const char *subject, const char *body,
                      tk_model_scores_t *out);

/* Classifies a ticket. out must be zeroed or cleared (tk_classification_clear);
 * on success it owns newly allocated (strdup) label strings, freed with
 * tk_classification_clear. out_conf may be NULL. Returns false only when
 * memory runs out, with out left cleared. */
bool tk_model_classify (const tk_model_t *model, const char *subject, const char *body,
                        tk_classification_t *out, tk_confidence_t *out_conf);

/* tk_model_classify that also stores every label's probability in
 * out_scores (may be NULL), from the same single pass over the ticket. */
bool tk_model_classify_scores (const tk_model_t *model, const char *subject, const char *body,
                               tk_classification_t *out, tk_confidence_t *out_conf,
                               tk_model_scores_t *out_scores);

/* Classifies n tickets (subjects[i], bodies[i]; either may be NULL) into
 * out[0 .. n) and, unless out_conf is NULL, out_conf[0 .. n): the results of
 * n tk_model_classify calls (the same labels; confidences equal to float
 * rounding of the encoder's products, well within 1e-4). In `encoder` mode
 * the tickets are embedded together in ragged passes (encoder.h), which
 * costs less per ticket than one at a time; the other modes loop. Each
 * out[i] must be zeroed or cleared and then owns its strings as with
 * tk_model_classify. Returns false only when memory runs out, with every
 * out[i] left cleared. Any thread (a call costs tens of milliseconds a
 * ticket in `encoder` mode). */
bool tk_model_classify_many (const tk_model_t *model, const char *const *subjects,
                             const char *const *bodies, size_t n, tk_classification_t *out,
                             tk_confidence_t *out_conf);

/* Whether the example with this id belongs to the held-out part of a split
 * that keeps `fraction` (0..1) of the ids out: a hash of seed and id, so the
 * split is the same on every run and machine and for any order of examples. */
bool tk_model_is_holdout (const char *id, unsigned seed, double fraction);

#endif
