/* scores.c - scoring predictions against labelled examples for triagectl
 * train and eval: whatever made the predictions (a local model, a remote
 * LLM), the tallies are the same. The reports are in scores_report.c and
 * scores_json.c. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define NL TK_MODEL_MAX_LABELS
#define MAX_FAILURE_REASONS 16

struct cli_metrics {
   cli_source_t src; /* a copy; its labels are borrowed */
   size_t n, answered;
   /* confusion[field][gold][predicted]; gold row NL counts gold labels the
    * source does not know, predicted column NL the tickets never answered. */
   size_t confusion[2][NL + 1][NL + 1];
   size_t correct[3];
   size_t tp[NL], fp[NL], fn[NL];
   size_t fn_unknown;  /* gold tags the source does not know */
   double conf_sum[3]; /* stated confidences of the answered tickets, for the mean */
   bool topic_all_tags; /* topic decisions cover every tag (probabilities given) */
   /* Every decision of the answered tickets, for the calibration error:
    * the k-th answered ticket's decisions of field f are start[f][k] ..
    * start[f][k + 1] - 1 (one for sentiment and priority; for topics one per
    * tag, or one per chosen tag), conf[f][i] the confidence in decision i,
    * right[f][i] whether it was right. */
   double *conf[3];
   unsigned char *right[3];
   size_t *start[3];
   struct {
      const char *reason;
      size_t count;
   } failures[MAX_FAILURE_REASONS];
   size_t n_failures;
};

static size_t
find_label (const char *const *labels, size_t n, const char *label)
{
   for (size_t i = 0; label && i < n; i++) {
      if (strcmp (labels[i], label) == 0) {
         return i;
      }
   }
   return NL;
}

static void
count_failure (cli_metrics_t *m, const char *reason)
{
   reason = reason ? reason : "unknown";
   size_t i = 0;
   while (i < m->n_failures && strcmp (m->failures[i].reason, reason) != 0) {
      i++;
   }
   if (i == m->n_failures) {
      /* The providers have a handful of reasons; the last slot takes any
       * beyond the table's size. */
      if (i == MAX_FAILURE_REASONS) {
         m->failures[--i].reason = "other";
      } else {
         m->failures[m->n_failures++].reason = reason;
      }
   }
   m->failures[i].count++;
}

/* A ticket never answered: wrong in every field, each gold tag a miss. */
static void
score_unanswered (cli_metrics_t *m, const tk_model_example_t *ex, const cli_prediction_t *p)
{
   const char *gold[2] = {ex->sentiment, ex->priority};
   for (int f = 0; f < 2; f++) {
      m->confusion[f][find_label (m->src.labels[f], m->src.n_labels[f], gold[f])][NL]++;
   }
   for (size_t k = 0; k < ex->n_topic_tags; k++) {
      size_t g = find_label (m->src.labels[2], m->src.n_labels[2], ex->topic_tags[k]);
      if (g == NL) {
         m->fn_unknown++;
      } else {
         m->fn[g]++;
      }
   }
   count_failure (m, p->failure);
}

/* The topic tags of an answered ticket; its decisions go from *used on. */
static void
score_topics (cli_metrics_t *m, const tk_model_example_t *ex, const cli_prediction_t *p,
              size_t *used)
{
   const char *const *tags = m->src.labels[2];
   size_t nt = m->src.n_labels[2];
   bool in_gold[NL] = {false}, in_pred[NL] = {false};
   bool unknown = false;
   for (size_t k = 0; k < ex->n_topic_tags; k++) {
      size_t g = find_label (tags, nt, ex->topic_tags[k]);
      if (g == NL) {
         m->fn_unknown++;
         unknown = true;
      } else {
         in_gold[g] = true;
      }
   }
   for (size_t k = 0; k < p->c.n_topic_tags; k++) {
      size_t t = find_label (tags, nt, p->c.topic_tags[k]);
      if (t < NL) {
         in_pred[t] = true;
      }
   }
   bool exact = true;
   for (size_t t = 0; t < nt; t++) {
      if (p->has_scores) {
         /* Each tag is a binary decision: chosen (probability p) or not (1 - p). */
         m->conf[2][*used] = in_pred[t] ? p->scores.topic[t] : 1.0 - p->scores.topic[t];
         m->right[2][(*used)++] = in_gold[t] == in_pred[t];
      } else if (in_pred[t]) {
         /* Only the chosen tags, each with the one stated topic confidence. */
         m->conf[2][*used] = p->conf.topic;
         m->right[2][(*used)++] = in_gold[t];
      }
      m->tp[t] += in_gold[t] && in_pred[t];
      m->fp[t] += !in_gold[t] && in_pred[t];
      m->fn[t] += in_gold[t] && !in_pred[t];
      exact = exact && in_gold[t] == in_pred[t];
   }
   m->correct[2] += exact && !unknown;
}

/* An answered ticket, the k-th answered one. */
static void
score_answered (cli_metrics_t *m, const tk_model_example_t *ex, const cli_prediction_t *p,
                size_t k, size_t *used)
{
   m->conf_sum[TK_MODEL_SENTIMENT] += p->conf.sentiment;
   m->conf_sum[TK_MODEL_PRIORITY] += p->conf.priority;
   m->conf_sum[TK_MODEL_TOPIC] += p->conf.topic;
   const char *gold[2] = {ex->sentiment, ex->priority};
   const char *pred[2] = {p->c.sentiment, p->c.priority};
   for (int f = 0; f < 2; f++) {
      size_t g = find_label (m->src.labels[f], m->src.n_labels[f], gold[f]);
      size_t q = find_label (m->src.labels[f], m->src.n_labels[f], pred[f]);
      m->confusion[f][g][q]++;
      m->correct[f] += g == q;
      m->conf[f][k] = f == 0 ? p->conf.sentiment : p->conf.priority;
      m->right[f][k] = g == q;
   }
   score_topics (m, ex, p, used);
   m->start[0][k + 1] = m->start[1][k + 1] = k + 1;
   m->start[2][k + 1] = *used;
}

/* Room for every decision: one per answered ticket for sentiment and
 * priority, one per tag (or per chosen tag) for topics. */
static bool
alloc_decisions (cli_metrics_t *m, const cli_prediction_t *pred, size_t n)
{
   size_t total[3] = {0, 0, 0};
   for (size_t i = 0; i < n; i++) {
      if (pred[i].answered) {
         total[0]++, total[1]++;
         total[2] += pred[i].has_scores ? m->src.n_labels[2] : pred[i].c.n_topic_tags;
      }
   }
   for (int f = 0; f < 3; f++) {
      m->conf[f] = malloc ((total[f] + 1) * sizeof *m->conf[f]);
      m->right[f] = malloc (total[f] + 1);
      m->start[f] = calloc (total[0] + 1, sizeof *m->start[f]);
      if (!m->conf[f] || !m->right[f] || !m->start[f]) {
         return false;
      }
   }
   return true;
}

cli_metrics_t *
cli_metrics_score (const cli_source_t *src, const tk_model_example_t *ex,
                   const cli_prediction_t *pred, size_t n)
{
   cli_metrics_t *m = calloc (1, sizeof *m);
   if (!m) {
      return NULL;
   }
   m->src = *src;
   m->n = n;
   m->topic_all_tags = true;
   if (!alloc_decisions (m, pred, n)) {
      cli_metrics_destroy (m);
      return NULL;
   }
   size_t used = 0;
   for (size_t i = 0; i < n; i++) {
      if (!pred[i].answered) {
         score_unanswered (m, &ex[i], &pred[i]);
         continue;
      }
      m->topic_all_tags = m->topic_all_tags && pred[i].has_scores;
      score_answered (m, &ex[i], &pred[i], m->answered++, &used);
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
         free (m->start[f]);
      }
      free (m);
   }
}

cli_ece_t
cli_metrics_ece (const cli_metrics_t *m, tk_model_field_t field)
{
   cli_ece_t e = {0, 0, 0};
   cli_ece (m->conf[field], m->right[field], m->start[field], m->answered, &e);
   return e;
}

double
cli_metrics_topic_micro_f1 (const cli_metrics_t *m)
{
   size_t nt = m->src.n_labels[2], tp = 0, fp = 0, fn = m->fn_unknown;
   for (size_t t = 0; t < nt; t++) {
      tp += m->tp[t], fp += m->fp[t], fn += m->fn[t];
   }
   double p = tp + fp ? (double) tp / (double) (tp + fp) : 0, r = tp + fn ? (double) tp / (double) (tp + fn) : 0;
   return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double
cli_metrics_tickets_per_s (const cli_metrics_t *m)
{
   return m->src.seconds > 0 ? (double) m->n / m->src.seconds : 0.0;
}

double
cli_metrics_mean_confidence (const cli_metrics_t *m, tk_model_field_t field)
{
   return m->answered ? m->conf_sum[field] / (double) m->answered : 0.0;
}

size_t
cli_metrics_count (const cli_metrics_t *m)
{
   return m->n;
}

size_t
cli_metrics_answered (const cli_metrics_t *m)
{
   return m->answered;
}

const cli_source_t *
cli_metrics_source (const cli_metrics_t *m)
{
   return &m->src;
}

bool
cli_metrics_topic_ece_all_tags (const cli_metrics_t *m)
{
   return m->topic_all_tags;
}

size_t
cli_metrics_unknown_tags (const cli_metrics_t *m)
{
   return m->fn_unknown;
}

bool
cli_metrics_failure (const cli_metrics_t *m, size_t i, const char **reason, size_t *count)
{
   if (i >= m->n_failures) {
      return false;
   }
   *reason = m->failures[i].reason;
   *count = m->failures[i].count;
   return true;
}

/* Per-label tp/fp/fn of a single-label field, from its confusion matrix (a
 * ticket never answered is a miss of its gold label). */
static void
label_counts (const cli_metrics_t *m, int f, size_t label, size_t *tp, size_t *fp, size_t *fn)
{
   size_t nl = m->src.n_labels[f];
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
   *fn += m->confusion[f][label][NL];
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
ratio (size_t a, size_t b)
{
   return b ? (double) a / (double) b : 0.0;
}

static double
f1 (double p, double r)
{
   return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
}

double
cli_metrics_macro_f1 (const cli_metrics_t *m, tk_model_field_t field)
{
   size_t nl = m->src.n_labels[field];
   double sum = 0;
   size_t counted = 0;
   for (size_t l = 0; l < nl; l++) {
      size_t tp, fp, fn;
      cli_metrics_label_counts (m, field, l, &tp, &fp, &fn);
      if (tp + fp + fn == 0) {
         continue; /* a label neither in the data nor predicted */
      }
      sum += f1 (ratio (tp, tp + fp), ratio (tp, tp + fn));
      counted++;
   }
   return counted ? sum / (double) counted : 0.0;
}
