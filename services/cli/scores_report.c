/* scores_report.c - the text reports of scores.c: the summary triagectl
 * train prints and the full report of triagectl eval. */
#include "cli.h"

#include <string.h>

#define NL TK_MODEL_MAX_LABELS

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

static bool
is_remote (const cli_metrics_t *m)
{
   return strcmp (cli_metrics_source (m)->mode, "remote") == 0;
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
            cli_metrics_count (m), cli_metrics_accuracy (m, TK_MODEL_SENTIMENT),
            cli_metrics_macro_f1 (m, TK_MODEL_SENTIMENT), e[0].ece,
            cli_metrics_accuracy (m, TK_MODEL_PRIORITY), cli_metrics_macro_f1 (m, TK_MODEL_PRIORITY),
            e[1].ece, cli_metrics_accuracy (m, TK_MODEL_TOPIC),
            cli_metrics_macro_f1 (m, TK_MODEL_TOPIC), cli_metrics_topic_micro_f1 (m), e[2].ece);
}

static void
print_confusion (const cli_metrics_t *m, int f, FILE *out)
{
   const cli_source_t *src = cli_metrics_source (m);
   size_t nl = src->n_labels[f], col[NL + 1], nc = 0;
   for (size_t p = 0; p < nl; p++) {
      col[nc++] = p;
   }
   if (cli_metrics_answered (m) < cli_metrics_count (m)) {
      col[nc++] = NL; /* the tickets never answered */
   }
   fprintf (out, "\n  confusion (rows: true label, columns: predicted)\n  %-16s", "");
   for (size_t c = 0; c < nc; c++) {
      fprintf (out, " %12.12s", col[c] == NL ? "(no answer)" : src->labels[f][col[c]]);
   }
   fputc ('\n', out);
   for (size_t g = 0; g <= NL; g++) {
      if (g >= nl && g != NL) {
         continue;
      }
      size_t row_total = 0;
      for (size_t c = 0; c < nc; c++) {
         row_total += cli_metrics_confusion (m, (tk_model_field_t) f, g, col[c]);
      }
      if (g == NL && row_total == 0) {
         continue;
      }
      fprintf (out, "  %-16s", g == NL ? "(unknown label)" : src->labels[f][g]);
      for (size_t c = 0; c < nc; c++) {
         fprintf (out, " %12zu", cli_metrics_confusion (m, (tk_model_field_t) f, g, col[c]));
      }
      fputc ('\n', out);
   }
}

static void
print_single (const cli_metrics_t *m, int f, const char *title, FILE *out)
{
   const cli_source_t *src = cli_metrics_source (m);
   fprintf (out, "\n%s: accuracy %.3f, macro-F1 %.3f\n\n", title,
            cli_metrics_accuracy (m, (tk_model_field_t) f),
            cli_metrics_macro_f1 (m, (tk_model_field_t) f));
   fprintf (out, "  %-16s %9s %9s %9s %8s\n", "label", "precision", "recall", "F1", "support");
   for (size_t l = 0; l < src->n_labels[f]; l++) {
      size_t tp, fp, fn;
      cli_metrics_label_counts (m, (tk_model_field_t) f, l, &tp, &fp, &fn);
      double p = ratio (tp, tp + fp), r = ratio (tp, tp + fn);
      fprintf (out, "  %-16s %9.3f %9.3f %9.3f %8zu\n", src->labels[f][l], p, r, f1 (p, r),
               tp + fn);
   }
   print_confusion (m, f, out);
}

/* The first line: who classified, how many, how fast. */
static void
print_header (const cli_metrics_t *m, FILE *out)
{
   const cli_source_t *src = cli_metrics_source (m);
   if (!is_remote (m)) {
      fprintf (out, "model %s, mode %s, %zu examples, %.0f tickets/s (classification only)\n",
               src->model, src->mode, cli_metrics_count (m), cli_metrics_tickets_per_s (m));
      return;
   }
   fprintf (out,
            "provider %s, model %s, %zu examples: %zu answered, %zu never answered; "
            "%zu requests, %u tickets at a time, %.1f tickets/s\n",
            src->provider, src->model, cli_metrics_count (m), cli_metrics_answered (m),
            cli_metrics_count (m) - cli_metrics_answered (m), src->requests, src->concurrency,
            cli_metrics_tickets_per_s (m));
}

static void
print_fields (const cli_metrics_t *m, FILE *out)
{
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
   if (cli_metrics_topic_ece_all_tags (m)) {
      fprintf (out, "\n(topic accuracy = exact tag set; topic ECE over every (ticket, tag) pair, "
                    "each a binary decision: chosen with probability p or not with 1 - p;\n");
   } else {
      fprintf (out, "\n(topic accuracy = exact tag set; topic ECE over the chosen tags only, each "
                    "a decision right when the ticket\n is labelled with it, at the one topic "
                    "confidence the provider states: it gives no probability for the others;\n");
   }
   fprintf (out, " ECE: 10 equal-width bins, interval: 1,000 bootstrap resamples of tickets)\n");
}

/* The tickets never answered, by reason. */
static void
print_failures (const cli_metrics_t *m, FILE *out)
{
   size_t failed = cli_metrics_count (m) - cli_metrics_answered (m);
   if (failed == 0) {
      return;
   }
   fprintf (out, "\nnever answered: %zu of %zu tickets (", failed, cli_metrics_count (m));
   const char *reason;
   size_t count;
   for (size_t i = 0; cli_metrics_failure (m, i, &reason, &count); i++) {
      fprintf (out, "%s%s %zu", i ? ", " : "", reason, count);
   }
   fprintf (out, ")\n(each counts as wrong in every field and as a miss of each of its tags, "
                 "and is left out of the mean confidence and the ECE)\n");
}

static void
print_tags (const cli_metrics_t *m, FILE *out)
{
   const cli_source_t *src = cli_metrics_source (m);
   fprintf (out, "\ntopic tags\n\n  %-16s %9s %9s %9s %8s\n", "tag", "precision", "recall", "F1",
            "support");
   size_t tp = 0, fp = 0, fn = cli_metrics_unknown_tags (m);
   double sp = 0, sr = 0, sf = 0;
   size_t counted = 0;
   for (size_t t = 0; t < src->n_labels[2]; t++) {
      size_t ttp, tfp, tfn;
      cli_metrics_label_counts (m, TK_MODEL_TOPIC, t, &ttp, &tfp, &tfn);
      double p = ratio (ttp, ttp + tfp), r = ratio (ttp, ttp + tfn);
      fprintf (out, "  %-16s %9.3f %9.3f %9.3f %8zu\n", src->labels[2][t], p, r, f1 (p, r),
               ttp + tfn);
      tp += ttp, fp += tfp, fn += tfn;
      if (ttp + tfp + tfn) {
         sp += p, sr += r, sf += f1 (p, r), counted++;
      }
   }
   double mp = ratio (tp, tp + fp), mr = ratio (tp, tp + fn);
   fprintf (out, "  %-16s %9.3f %9.3f %9.3f\n", "micro avg", mp, mr, f1 (mp, mr));
   if (counted) {
      fprintf (out, "  %-16s %9.3f %9.3f %9.3f\n", "macro avg", sp / (double) counted,
               sr / (double) counted, sf / (double) counted);
   }
   if (cli_metrics_unknown_tags (m)) {
      fprintf (out, "  (%zu gold tags unknown to the %s count as misses)\n",
               cli_metrics_unknown_tags (m), is_remote (m) ? "taxonomy" : "model");
   }
}

void
cli_metrics_print_report (const cli_metrics_t *m, FILE *out)
{
   print_header (m, out);
   print_fields (m, out);
   print_failures (m, out);
   print_tags (m, out);
   print_single (m, 0, "sentiment", out);
   print_single (m, 1, "priority", out);
}
