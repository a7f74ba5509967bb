/* metrics.c - scoring a model against labelled examples for triagectl. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NL TK_MODEL_MAX_LABELS

struct cli_metrics {
   const tk_model_t *model; /* borrowed */
   size_t n;
   /* confusion[field][gold][predicted]; gold row NL counts gold labels the
    * model does not know. */
   size_t confusion[2][NL + 1][NL];
   size_t correct[3];
   size_t tp[NL], fp[NL], fn[NL];
   size_t fn_unknown; /* gold tags the model does not know */
   double seconds;    /* spent classifying */
   double conf_sum[3]; /* confidence scores, for the mean */
   /* Every decision, for the calibration error: per[f] a ticket (1 for
    * sentiment and priority, one per tag for topics), conf[f][i] the
    * probability the model gave its decision, right[f][i] whether it was. */
   size_t per[3];
   double *conf[3];
   unsigned char *right[3];
};

static void label_counts (const cli_metrics_t *m, int f, size_t label, size_t *tp, size_t *fp,
                          size_t *fn);

static size_t
find_label (const char *const *labels, size_t n, const char *label)
{
   for (size_t i = 0; i < n; i++) {
      if (strcmp (labels[i], label) == 0) {
         return i;
      }
   }
   return NL;
}

static double
now_s (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

cli_metrics_t *
cli_metrics_compute (const tk_model_t *model, const tk_model_example_t *ex, size_t n)
{
   cli_metrics_t *m = calloc (1, sizeof *m);
   if (!m) {
      return NULL;
   }
   m->model = model;
   m->n = n;
   const char *const *labels[3];
   size_t nl[3];
   for (int f = 0; f < 3; f++) {
      nl[f] = tk_model_labels (model, (tk_model_field_t) f, &labels[f]);
      m->per[f] = f == TK_MODEL_TOPIC ? nl[f] : 1;
      m->conf[f] = malloc ((n * m->per[f] + 1) * sizeof *m->conf[f]);
      m->right[f] = malloc (n * m->per[f] + 1);
      if (!m->conf[f] || !m->right[f]) {
         cli_metrics_destroy (m);
         return NULL;
      }
   }
   for (size_t i = 0; i < n; i++) {
      tk_classification_t c = {0};
      tk_confidence_t conf;
      tk_model_scores_t scores;
      double t0 = now_s ();
      if (!tk_model_classify_scores (model, ex[i].subject, ex[i].body, &c, &conf, &scores)) {
         cli_metrics_destroy (m);
         return NULL;
      }
      m->seconds += now_s () - t0;
      m->conf_sum[TK_MODEL_SENTIMENT] += conf.sentiment;
      m->conf_sum[TK_MODEL_PRIORITY] += conf.priority;
      m->conf_sum[TK_MODEL_TOPIC] += conf.topic;

      const char *gold[2] = {ex[i].sentiment, ex[i].priority};
      const char *pred[2] = {c.sentiment, c.priority};
      for (int f = 0; f < 2; f++) {
         size_t g = find_label (labels[f], nl[f], gold[f]);
         size_t p = find_label (labels[f], nl[f], pred[f]);
         m->confusion[f][g][p]++;
         m->correct[f] += g == p;
         m->conf[f][i] = f == 0 ? conf.sentiment : conf.priority;
         m->right[f][i] = g == p;
      }

      bool in_gold[NL] = {false}, in_pred[NL] = {false};
      bool unknown = false;
      for (size_t k = 0; k < ex[i].n_topic_tags; k++) {
         size_t g = find_label (labels[2], nl[2], ex[i].topic_tags[k]);
         if (g == NL) {
            m->fn_unknown++;
            unknown = true;
         } else {
            in_gold[g] = true;
         }
      }
      for (size_t k = 0; k < c.n_topic_tags; k++) {
         in_pred[find_label (labels[2], nl[2], c.topic_tags[k])] = true;
      }
      bool exact = true;
      for (size_t t = 0; t < nl[2]; t++) {
         /* Each tag is a binary decision: chosen (probability p) or not (1 - p). */
         m->conf[2][i * nl[2] + t] = in_pred[t] ? scores.topic[t] : 1.0 - scores.topic[t];
         m->right[2][i * nl[2] + t] = in_gold[t] == in_pred[t];
         m->tp[t] += in_gold[t] && in_pred[t];
         m->fp[t] += !in_gold[t] && in_pred[t];
         m->fn[t] += in_gold[t] && !in_pred[t];
         exact = exact && in_gold[t] == in_pred[t];
      }
      m->correct[2] += exact && !unknown;
      tk_classification_clear (&c);
   }
   return m;
}

void
cli_metrics_destroy (cli_metrics_t *m)
{
   if (m) {
      for (int f = 0; f < 3; f++) {
         free (m->conf[f]);
         free (m->right[f]);
      }
      free (m);
   }
}

cli_ece_t
cli_metrics_ece (const cli_metrics_t *m, tk_model_field_t field)
{
   cli_ece_t e = {0, 0, 0};
   cli_ece (m->conf[field], m->right[field], m->n, m->per[field], &e);
   return e;
}

double
cli_metrics_topic_micro_f1 (const cli_metrics_t *m)
{
   const char *const *tags;
   size_t nt = tk_model_labels (m->model, TK_MODEL_TOPIC, &tags), tp = 0, fp = 0, fn = m->fn_unknown;
   for (size_t t = 0; t < nt; t++) {
      tp += m->tp[t], fp += m->fp[t], fn += m->fn[t];
   }
   double p = tp + fp ? (double) tp / (double) (tp + fp) : 0, r = tp + fn ? (double) tp / (double) (tp + fn) : 0;
   return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double
cli_metrics_tickets_per_s (const cli_metrics_t *m)
{
   return m->seconds > 0 ? (double) m->n / m->seconds : 0.0;
}

double
cli_metrics_mean_confidence (const cli_metrics_t *m, tk_model_field_t field)
{
   return m->n ? m->conf_sum[field] / (double) m->n : 0.0;
}

size_t
cli_metrics_count (const cli_metrics_t *m)
{
   return m->n;
}

const tk_model_t *
cli_metrics_model (const cli_metrics_t *m)
{
   return m->model;
}

void
cli_metrics_label_counts (const cli_metrics_t *m, tk_model_field_t field, size_t label, size_t *tp,
                          size_t *fp, size_t *fn)
{
   if (field == TK_MODEL_TOPIC) {
      *tp = m->tp[label], *fp = m->fp[label], *fn = m->fn[label];
   } else {
      label_counts (m, (int) field, label, tp, fp, fn);
   }
}

size_t
cli_metrics_confusion (const cli_metrics_t *m, tk_model_field_t field, size_t gold, size_t pred)
{
   return m->confusion[field][gold][pred];
}

double
cli_metrics_accuracy (const cli_metrics_t *m, tk_model_field_t field)
{
   return m->n ? (double) m->correct[field] / (double) m->n : 0.0;
}

static double
f1 (double p, double r)
{
   return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

static double
ratio (size_t a, size_t b)
{
   return b ? (double) a / (double) b : 0.0;
}

/* Per-label tp/fp/fn of a single-label field, from its confusion matrix. */
static void
label_counts (const cli_metrics_t *m, int f, size_t label, size_t *tp, size_t *fp, size_t *fn)
{
   const char *const *labels;
   size_t nl = tk_model_labels (m->model, (tk_model_field_t) f, &labels);
   *tp = m->confusion[f][label][label];
   *fp = *fn = 0;
   for (size_t g = 0; g <= NL; g++) {
      if (g != label && (g < nl || g == NL)) {
         *fp += m->confusion[f][g][label];
      }
   }
   for (size_t p = 0; p < nl; p++) {
      if (p != label) {
         *fn += m->confusion[f][label][p];
      }
   }
}

double
cli_metrics_macro_f1 (const cli_metrics_t *m, tk_model_field_t field)
{
   const char *const *labels;
   size_t nl = tk_model_labels (m->model, field, &labels);
   double sum = 0;
   size_t counted = 0;
   for (size_t l = 0; l < nl; l++) {
      size_t tp, fp, fn;
      if (field == TK_MODEL_TOPIC) {
         tp = m->tp[l], fp = m->fp[l], fn = m->fn[l];
      } else {
         label_counts (m, (int) field, l, &tp, &fp, &fn);
      }
      if (tp + fp + fn == 0) {
         continue; /* a label neither in the data nor predicted */
      }
      sum += f1 (ratio (tp, tp + fp), ratio (tp, tp + fn));
      counted++;
   }
   return counted ? sum / (double) counted : 0.0;
}

void
cli_metrics_print_summary (const cli_metrics_t *m, FILE *out)
{
   cli_ece_t e[3];
   for (int f = 0; f < 3; f++) {
      e[f] = cli_metrics_ece (m, (tk_model_field_t) f);
   }
   fprintf (out,
            "held-out examples: %zu\n"
            "  sentiment accuracy %.3f  macro-F1 %.3f  ECE %.3f\n"
            "  priority  accuracy %.3f  macro-F1 %.3f  ECE %.3f\n"
            "  topic     exact-set accuracy %.3f  macro-F1 %.3f  micro-F1 %.3f  ECE %.3f\n",
            m->n, cli_metrics_accuracy (m, TK_MODEL_SENTIMENT),
            cli_metrics_macro_f1 (m, TK_MODEL_SENTIMENT), e[0].ece,
            cli_metrics_accuracy (m, TK_MODEL_PRIORITY), cli_metrics_macro_f1 (m, TK_MODEL_PRIORITY),
            e[1].ece, cli_metrics_accuracy (m, TK_MODEL_TOPIC),
            cli_metrics_macro_f1 (m, TK_MODEL_TOPIC), cli_metrics_topic_micro_f1 (m), e[2].ece);
}

static void
print_single (const cli_metrics_t *m, int f, const char *title, FILE *out)
{
   const char *const *labels;
   size_t nl = tk_model_labels (m->model, (tk_model_field_t) f, &labels);
   fprintf (out, "\n%s: accuracy %.3f, macro-F1 %.3f\n\n", title,
            cli_metrics_accuracy (m, (tk_model_field_t) f),
            cli_metrics_macro_f1 (m, (tk_model_field_t) f));
   fprintf (out, "  %-16s %9s %9s %9s %8s\n", "label", "precision", "recall", "F1", "support");
   for (size_t l = 0; l < nl; l++) {
      size_t tp, fp, fn;
      label_counts (m, f, l, &tp, &fp, &fn);
      double p = ratio (tp, tp + fp), r = ratio (tp, tp + fn);
      fprintf (out, "  %-16s %9.3f %9.3f %9.3f %8zu\n", labels[l], p, r, f1 (p, r), tp + fn);
   }
   fprintf (out, "\n  confusion (rows: true label, columns: predicted)\n  %-16s", "");
   for (size_t p = 0; p < nl; p++) {
      fprintf (out, " %12.12s", labels[p]);
   }
   fputc ('\n', out);
   for (size_t g = 0; g <= NL; g++) {
      if (g >= nl && g != NL) {
         continue;
      }
      size_t row_total = 0;
      for (size_t p = 0; p < nl; p++) {
         row_total += m->confusion[f][g][p];
      }
      if (g == NL && row_total == 0) {
         continue;
      }
      fprintf (out, "  %-16s", g == NL ? "(unknown label)" : labels[g]);
      for (size_t p = 0; p < nl; p++) {
         fprintf (out, " %12zu", m->confusion[f][g][p]);
      }
      fputc ('\n', out);
   }
}

void
cli_metrics_print_report (const cli_metrics_t *m, FILE *out)
{
   const char *const *tags;
   size_t nt = tk_model_labels (m->model, TK_MODEL_TOPIC, &tags);
   fprintf (out, "model %s, mode %s, %zu examples, %.0f tickets/s (classification only)\n",
            tk_model_version (m->model), tk_model_mode_name (tk_model_mode (m->model)), m->n,
            cli_metrics_tickets_per_s (m));
   static const char *const names[3] = {"sentiment", "priority", "topic"};
   fprintf (out, "\n%-10s %9s %9s %9s %16s %7s %17s\n", "field", "accuracy", "macro-F1",
            "micro-F1", "mean confidence", "ECE", "ECE 95% interval");
   for (int f = 0; f < 3; f++) {
      cli_ece_t e = cli_metrics_ece (m, (tk_model_field_t) f);
      char micro[16] = "-";
      if (f == TK_MODEL_TOPIC) {
         snprintf (micro, sizeof micro, "%.3f", cli_metrics_topic_micro_f1 (m));
      }
      fprintf (out, "%-10s %9.3f %9.3f %9s %16.3f %7.3f    [%.3f, %.3f]\n", names[f],
               cli_metrics_accuracy (m, (tk_model_field_t) f),
               cli_metrics_macro_f1 (m, (tk_model_field_t) f), micro,
               cli_metrics_mean_confidence (m, (tk_model_field_t) f), e.ece, e.low, e.high);
   }
   fprintf (out, "\n(topic accuracy = exact tag set; topic ECE over every (ticket, tag) pair, "
                 "each a binary decision: chosen with probability p or not with 1 - p;\n"
                 " ECE: 10 equal-width bins, interval: 1,000 bootstrap resamples of tickets)\n");

   fprintf (out, "\ntopic tags\n\n  %-16s %9s %9s %9s %8s\n", "tag", "precision", "recall", "F1",
            "support");
   size_t tp = 0, fp = 0, fn = m->fn_unknown;
   double sp = 0, sr = 0, sf = 0;
   size_t counted = 0;
   for (size_t t = 0; t < nt; t++) {
      double p = ratio (m->tp[t], m->tp[t] + m->fp[t]);
      double r = ratio (m->tp[t], m->tp[t] + m->fn[t]);
      fprintf (out, "  %-16s %9.3f %9.3f %9.3f %8zu\n", tags[t], p, r, f1 (p, r),
               m->tp[t] + m->fn[t]);
      tp += m->tp[t], fp += m->fp[t], fn += m->fn[t];
      if (m->tp[t] + m->fp[t] + m->fn[t]) {
         sp += p, sr += r, sf += f1 (p, r), counted++;
      }
   }
   double mp = ratio (tp, tp + fp), mr = ratio (tp, tp + fn);
   fprintf (out, "  %-16s %9.3f %9.3f %9.3f\n", "micro avg", mp, mr, f1 (mp, mr));
   if (counted) {
      fprintf (out, "  %-16s %9.3f %9.3f %9.3f\n", "macro avg", sp / (double) counted,
               sr / (double) counted, sf / (double) counted);
   }
   if (m->fn_unknown) {
      fprintf (out, "  (%zu gold tags unknown to the model count as misses)\n", m->fn_unknown);
   }
   print_single (m, 0, "sentiment", out);
   print_single (m, 1, "priority", out);
}
