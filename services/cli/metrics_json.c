/* metrics_json.c - triagectl eval --json: the report of metrics.c as one
 * JSON object, for scripts (bench, the demo, CI):
 *   {"model", "mode", "examples", "tickets_per_s",
 *    "sentiment"|"priority": {"accuracy", "macro_f1", "mean_confidence",
 *        "ece", "ece_low", "ece_high", "labels": [...],
 *        "per_label": {label: {"precision","recall","f1","support"}},
 *        "confusion": [[...] one row per true label, in "labels" order]},
 *    "topic": {"exact_set_accuracy", "macro_f1", "micro_f1", ..., "per_label"}} */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static double
ratio (size_t a, size_t b)
{
   return b ? (double) a / (double) b : 0.0;
}

static cJSON *
per_label (const cli_metrics_t *m, tk_model_field_t f)
{
   const char *const *labels;
   size_t nl = tk_model_labels (cli_metrics_model (m), f, &labels);
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
   const char *const *labels;
   size_t nl = tk_model_labels (cli_metrics_model (m), f, &labels);
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
   }
   return o;
}

bool
cli_metrics_print_json (const cli_metrics_t *m, FILE *out)
{
   const tk_model_t *model = cli_metrics_model (m);
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "model", tk_model_version (model));
   cJSON_AddStringToObject (o, "mode", tk_model_mode_name (tk_model_mode (model)));
   cJSON_AddNumberToObject (o, "examples", (double) cli_metrics_count (m));
   cJSON_AddNumberToObject (o, "tickets_per_s", cli_metrics_tickets_per_s (m));
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
