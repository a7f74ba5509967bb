/* model_internal.h - the model's state, shared by model.c (scoring, files)
 * and model_train.c (training). Not for other files. */
#ifndef TK_MODEL_INTERNAL_H
#define TK_MODEL_INTERNAL_H

#include "encoder.h"
#include "heads.h"
#include "lexical.h"
#include "model.h"
#include "model_nb.h"
#include "sha256_file.h"
#include "static_table.h"

#define TK_MODEL_FIELDS 3

struct tk_model {
   tk_model_mode_t mode;
   char *version;
   size_t n_labels[TK_MODEL_FIELDS];
   char **labels[TK_MODEL_FIELDS]; /* sorted */
   size_t max_topic_tags;
   float topic_threshold;
   float temperature[TK_MODEL_FIELDS];
   tk_nb_t *nb;               /* nb; static, encoder with nb_features */
   tk_lexical_t *lex;         /* static, encoder with lexical_features */
   tk_heads_t *heads;         /* static, encoder */
   tk_static_table_t *table;  /* static */
   tk_encoder_t *encoder;     /* encoder */
   char weights_sha[TK_SHA256_HEX]; /* encoder, static: the weights used */
};

/* An empty model (labels and sections unset). */
tk_model_t *tk_model_new_empty (void);

/* The number of logits: every label of every field. */
size_t tk_model_n_logits (const tk_model_t *m);

/* The raw (uncalibrated) logits of a ticket into out[tk_model_n_logits].
 * Returns false if memory runs out. */
bool tk_model_logits (const tk_model_t *m, const char *subject, const char *body, double *out);

/* The vector the heads see for a ticket (static and encoder modes). */
bool tk_model_vector (const tk_model_t *m, const char *subject, const char *body, float *out,
                      tk_error_t *err);

#endif
