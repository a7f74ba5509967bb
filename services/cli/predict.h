/* predict.h - what triagectl eval scores: one prediction per labelled
 * ticket, made by a local model (predict_local.c) or by a remote LLM through
 * the classifier's own providers (predict_remote.c). The scoring (scores.c)
 * takes predictions, never a model, so every source gets the same report.
 */
#ifndef CLI_PREDICT_H
#define CLI_PREDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "error.h"
#include "model.h"
#include "taxonomy.h"
#include "ticket.h"

/* What a source said about one labelled ticket. */
typedef struct {
   bool answered;            /* false: it never answered (failed); c, conf unset */
   tk_classification_t c;    /* the chosen labels (owned: cli_predictions_clear) */
   tk_confidence_t conf;     /* the stated confidence of each field */
   bool has_scores;          /* scores holds the probability of every label */
   tk_model_scores_t scores; /* local models only, in the order of the source's labels */
   unsigned attempts;        /* remote: attempts made for this ticket */
   const char *failure;      /* !answered: why, static ("http_4xx", "timeout" ...) */
} cli_prediction_t;

/* Who classified, and the labels each field is scored over. */
typedef struct {
   char provider[16]; /* "local", "openai", "gemini" */
   char model[160];   /* the local model's version, or the LLM's model name */
   char mode[16];     /* a local model's mode ("nb", "static", "encoder"); "remote" */
   /* Per tk_model_field_t: the labels, borrowed from the model or the
    * taxonomy (valid as long as it is). */
   const char *labels[3][TK_MODEL_MAX_LABELS];
   size_t n_labels[3];
   double seconds;       /* local: time spent classifying; remote: the whole run */
   size_t requests;      /* remote: requests sent (attempts, retries included) */
   unsigned concurrency; /* remote: most tickets worked on at once */
} cli_source_t;

/* Classifies ex[0..n) with model (borrowed; src's labels borrow from it):
 * pred[i] gets the labels, confidences and every label's probability,
 * src the model's version, mode, labels and the time spent. Returns false
 * if memory runs out (pred is then cleared). */
bool cli_predict_local (const tk_model_t *model, const tk_model_example_t *ex, size_t n,
                        cli_prediction_t *pred, cli_source_t *src);

/* How triagectl eval asks a remote provider. */
typedef struct {
   const tk_config_t *cfg;    /* TRIAGE_LLM_PROVIDER (openai or gemini), TRIAGE_LLM_URL,
                                 _MODEL, _API_KEY, the timeouts, TRIAGE_RETRY_* (borrowed) */
   const tk_taxonomy_t *tax;  /* the labels asked for and scored over (borrowed) */
   unsigned concurrency;      /* most tickets worked on at once (>= 1) */
   bool progress;             /* progress on stderr */
} cli_remote_options_t;

/* Classifies ex[0..n) with the remote provider of o->cfg, as the classifier
 * service does: the same provider code (prompt, request, answer parsing and
 * validation against o->tax), the text masked the same way, one repair of an
 * invalid answer, retries of 429, 5xx, timeouts and network errors with
 * full-jitter backoff (TRIAGE_RETRY_BASE, _CAP, _MAX_ATTEMPTS) and never
 * sooner than a Retry-After, at most o->concurrency tickets at a time. Runs
 * its own libuv loop and blocks until every ticket is answered or has
 * failed; a ticket that failed has pred[i].answered false and its reason.
 * src gets the provider, model, labels (borrowed from o->tax), time and
 * requests. Returns false with err only when the provider cannot be set up
 * or memory runs out (pred is then cleared). */
bool cli_predict_remote (const cli_remote_options_t *o, const tk_model_example_t *ex, size_t n,
                         cli_prediction_t *pred, cli_source_t *src, tk_error_t *err);

/* Frees what pred[0..n) owns and zeroes them. Accepts NULL. */
void cli_predictions_clear (cli_prediction_t *pred, size_t n);

#endif
