/* scores_json.c - triagectl eval --json: the report of scores.c as one
 * JSON object, for scripts (bench, the demo, CI):
 *   {"provider", "model", "mode", "examples", "answered", "failed",
 *    "tickets_per_s",
 *    remote only: "requests", "concurrency", "failures": {reason: count},
 *    "sentiment"|"priority": {"accuracy", "macro_f1", "mean_confidence",
 *        "ece", "ece_low", "ece_high", "labels": [...],
 *        "per_label": {label: {"precision","recall","f1","support"}},
 *        "confusion": [[...] one row per true label, in "labels" order],
 *        "no_answer": [tickets of each true label never answered]},
 *    "topic": {"exact_set_accuracy", "macro_f1", "micro_f1", ..., "per_label",
 *        "ece_over": "every_tag" (a probability per tag) or "chosen_tags"}}
 * A ticket never answered counts as wrong (see cli.h). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

static double
ratio (size_t a, size_t b)
{
   return b ? (double) a / (double) b : 0.0;
}

static cJSON *
per_label (const cli_metrics_t *m, tk_model_field_t f)
{
   const cli_source_t *src = cli_metrics_source (m);
   const char *const *labels = src->labels[f];
   size_t nl = src->n_labels[f];
   cJSON *o = cJSON_CreateObject ();
   for (size_t l = 0; o && l < nl; l++) {
      size_t tp, fp, fn;
      cli_metrics_label_counts (m, f, l, &tp, &fp, &fn);
      double p = ratio (tp, tp + fp), r = ratio (tp, tp + fn);
      cJSON *x = cJSON_AddObjectToObject (o, labels[l]);
      cJSON_AddNumberToObject (x, "precision", p);
      cJSON_AddNumberToObject (x, "recall", r);
      cJSON_AddNumberToObject (x, "f1", p + r > 0 ? 2 * p * r / (p + r) : 0.0);
      cJSON_AddNumberToObject (x, "support", (double) (tp + fn));
   }
   return o;
}

static cJSON *
field (const cli_metrics_t *m, tk_model_field_t f)
{
   const cli_source_t *src = cli_metrics_source (m);
   const char *const *labels = src->labels[f];
   size_t nl = src->n_labels[f];
   cli_ece_t e = cli_metrics_ece (m, f);
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddNumberToObject (o, f == TK_MODEL_TOPIC ? "exact_set_accuracy" : "accuracy",
                            cli_metrics_accuracy (m, f));
   cJSON_AddNumberToObject (o, "macro_f1", cli_metrics_macro_f1 (m, f));
   if (f == TK_MODEL_TOPIC) {
      cJSON_AddNumberToObject (o, "micro_f1", cli_metrics_topic_micro_f1 (m));
   }
   cJSON_AddNumberToObject (o, "mean_confidence", cli_metrics_mean_confidence (m, f));
   cJSON_AddNumberToObject (o, "ece", e.ece);
   cJSON_AddNumberToObject (o, "ece_low", e.low);
   cJSON_AddNumberToObject (o, "ece_high", e.high);
   cJSON_AddItemToObject (o, "labels", cJSON_CreateStringArray (labels, (int) nl));
   cJSON_AddItemToObject (o, "per_label", per_label (m, f));
   if (f != TK_MODEL_TOPIC) {
      cJSON *rows = cJSON_AddArrayToObject (o, "confusion");
      for (size_t g = 0; g < nl; g++) {
         cJSON *row = cJSON_CreateArray ();
         for (size_t p = 0; p < nl; p++) {
            cJSON_AddItemToArray (row, cJSON_CreateNumber ((double) cli_metrics_confusion (m, f, g, p)));
         }
         cJSON_AddItemToArray (rows, row);
      }
      cJSON *none = cJSON_AddArrayToObject (o, "no_answer");
      for (size_t g = 0; g < nl; g++) {
         cJSON_AddItemToArray (none, cJSON_CreateNumber ((double) cli_metrics_confusion (
                                        m, f, g, TK_MODEL_MAX_LABELS)));
      }
   } else {
      cJSON_AddStringToObject (o, "ece_over",
                               cli_metrics_topic_ece_all_tags (m) ? "every_tag" : "chosen_tags");
   }
   return o;
}

/* A remote run's requests and failures by reason. */
static void
remote_counts (const cli_metrics_t *m, cJSON *o)
{
   const cli_source_t *src = cli_metrics_source (m);
   cJSON_AddNumberToObject (o, "requests", (double) src->requests);
   cJSON_AddNumberToObject (o, "concurrency", (double) src->concurrency);
   cJSON *failures = cJSON_AddObjectToObject (o, "failures");
   const char *reason;
   size_t count;
   for (size_t i = 0; cli_metrics_failure (m, i, &reason, &count); i++) {
      cJSON_AddNumberToObject (failures, reason, (double) count);
   }
}

bool
cli_metrics_print_json (const cli_metrics_t *m, FILE *out)
{
   const cli_source_t *src = cli_metrics_source (m);
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "provider", src->provider);
   cJSON_AddStringToObject (o, "model", src->model);
   cJSON_AddStringToObject (o, "mode", src->mode);
   cJSON_AddNumberToObject (o, "examples", (double) cli_metrics_count (m));
   cJSON_AddNumberToObject (o, "answered", (double) cli_metrics_answered (m));
   cJSON_AddNumberToObject (o, "failed",
                            (double) (cli_metrics_count (m) - cli_metrics_answered (m)));
   cJSON_AddNumberToObject (o, "tickets_per_s", cli_metrics_tickets_per_s (m));
   if (strcmp (src->mode, "remote") == 0) {
      remote_counts (m, o);
   }
   cJSON_AddItemToObject (o, "sentiment", field (m, TK_MODEL_SENTIMENT));
   cJSON_AddItemToObject (o, "priority", field (m, TK_MODEL_PRIORITY));
   cJSON_AddItemToObject (o, "topic", field (m, TK_MODEL_TOPIC));
   char *text = cJSON_Print (o);
   cJSON_Delete (o);
   if (!text) {
      return false;
   }
   fprintf (out, "%s\n", text);
   free (text);
   return true;
}
