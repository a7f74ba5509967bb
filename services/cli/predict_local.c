/* predict_local.c - predictions of a local model file (any mode), with
 * every label's probability, for triagectl train and eval. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double
now_s (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
cli_predictions_clear (cli_prediction_t *pred, size_t n)
{
   for (size_t i = 0; pred && i < n; i++) {
      tk_classification_clear (&pred[i].c);
      memset (&pred[i], 0, sizeof pred[i]);
   }
}

bool
cli_predict_local (const tk_model_t *model, const tk_model_example_t *ex, size_t n,
                   cli_prediction_t *pred, cli_source_t *src)
{
   memset (src, 0, sizeof *src);
   snprintf (src->provider, sizeof src->provider, "local");
   snprintf (src->model, sizeof src->model, "%s", tk_model_version (model));
   snprintf (src->mode, sizeof src->mode, "%s", tk_model_mode_name (tk_model_mode (model)));
   for (int f = 0; f < 3; f++) {
      const char *const *labels;
      src->n_labels[f] = tk_model_labels (model, (tk_model_field_t) f, &labels);
      for (size_t l = 0; l < src->n_labels[f]; l++) {
         src->labels[f][l] = labels[l];
      }
   }
   for (size_t i = 0; i < n; i++) {
      cli_prediction_t *p = &pred[i];
      memset (p, 0, sizeof *p);
      double t0 = now_s ();
      if (!tk_model_classify_scores (model, ex[i].subject, ex[i].body, &p->c, &p->conf,
                                     &p->scores)) {
         cli_predictions_clear (pred, i + 1);
         return false;
      }
      src->seconds += now_s () - t0;
      p->answered = p->has_scores = true;
   }
   return true;
}

cli_metrics_t *
cli_metrics_compute (const tk_model_t *model, const tk_model_example_t *ex, size_t n)
{
   cli_source_t src;
   cli_metrics_t *m = NULL;
   cli_prediction_t *pred = calloc (n + 1, sizeof *pred);
   if (pred && cli_predict_local (model, ex, n, pred, &src)) {
      m = cli_metrics_score (&src, ex, pred, n);
   }
   cli_predictions_clear (pred, n);
   free (pred);
   return m;
}
