/* model_nb.c - training, scoring and serialising the naive Bayes mode of
 * model_nb.h. */
#include "model_nb.h"

#include "text_features.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct tk_nb {
   size_t n_cols, col_topic; /* columns: sentiment, priority, then topic tags */
   uint32_t evidence;
   float *prior;  /* [n_cols] */
   float *unseen; /* [n_cols] */
   uint32_t n_rows;
   uint32_t *row_bucket; /* [n_rows] */
   float *rows;          /* [n_rows][n_cols] */
   int32_t *index;       /* [TK_FEATURE_BUCKETS]: row of a bucket, or -1 */
};

static tk_nb_t *
nb_new (const size_t n_labels[3])
{
   tk_nb_t *nb = calloc (1, sizeof *nb);
   if (!nb || !(nb->index = malloc (TK_FEATURE_BUCKETS * sizeof *nb->index))) {
      free (nb);
      return NULL;
   }
   memset (nb->index, 0xff, TK_FEATURE_BUCKETS * sizeof *nb->index); /* all -1 */
   nb->col_topic = n_labels[0] + n_labels[1];
   nb->n_cols = nb->col_topic + n_labels[2];
   return nb;
}

void
tk_nb_destroy (tk_nb_t *nb)
{
   if (nb) {
      free (nb->prior);
      free (nb->unseen);
      free (nb->row_bucket);
      free (nb->rows);
      free (nb->index);
      free (nb);
   }
}

typedef struct {
   const tk_nb_t *nb;
   double *acc;
} score_ctx_t;

static void
score_feature (uint32_t bucket, void *ctx)
{
   score_ctx_t *s = ctx;
   int32_t r = s->nb->index[bucket];
   const float *w = r < 0 ? s->nb->unseen : s->nb->rows + (size_t) r * s->nb->n_cols;
   for (size_t c = 0; c < s->nb->n_cols; c++) {
      s->acc[c] += w[c];
   }
}

void
tk_nb_logits (const tk_nb_t *nb, const char *subject, const char *body, double *out)
{
   memset (out, 0, nb->n_cols * sizeof *out);
   score_ctx_t ctx = {nb, out};
   size_t n = tk_text_features_each (subject, body, score_feature, &ctx);
   /* Past `evidence` features the summed log-likelihoods are scaled down so
    * the evidence grows no further: the mean feature still decides, but the
    * probabilities stay usable (see model_nb.h). */
   double scale = n > nb->evidence ? (double) nb->evidence / (double) n : 1.0;
   for (size_t c = 0; c < nb->n_cols; c++) {
      out[c] = nb->prior[c] + out[c] * scale;
   }
}

typedef struct {
   tk_nb_t *nb;
   double *counts; /* [cap_rows][n_cols + 1]; the last column counts every document */
   uint32_t cap_rows;
   const size_t *cols; /* the columns of the current example */
   size_t n_cols_on;
   double *tokens; /* [n_cols + 1]: feature occurrences per class */
   bool nomem;
} train_ctx_t;

static bool
grow_rows (train_ctx_t *t)
{
   size_t w = t->nb->n_cols + 1;
   uint32_t cap = t->cap_rows ? t->cap_rows * 2 : 4096;
   double *grown = realloc (t->counts, (size_t) cap * w * sizeof *grown);
   if (grown) {
      t->counts = grown;
   }
   uint32_t *buckets = realloc (t->nb->row_bucket, (size_t) cap * sizeof *buckets);
   if (buckets) {
      t->nb->row_bucket = buckets;
   }
   if (!grown || !buckets) {
      return false;
   }
   memset (t->counts + (size_t) t->cap_rows * w, 0, (size_t) (cap - t->cap_rows) * w * sizeof *grown);
   t->cap_rows = cap;
   return true;
}

static void
train_feature (uint32_t bucket, void *ctx)
{
   train_ctx_t *t = ctx;
   tk_nb_t *nb = t->nb;
   if (t->nomem) {
      return;
   }
   int32_t r = nb->index[bucket];
   if (r < 0) {
      if (nb->n_rows == t->cap_rows && !grow_rows (t)) {
         t->nomem = true;
         return;
      }
      r = (int32_t) nb->n_rows++;
      nb->index[bucket] = r;
      nb->row_bucket[r] = bucket;
   }
   double *row = t->counts + (size_t) r * (nb->n_cols + 1);
   for (size_t k = 0; k < t->n_cols_on; k++) {
      row[t->cols[k]] += 1;
      t->tokens[t->cols[k]] += 1;
   }
   row[nb->n_cols] += 1;
   t->tokens[nb->n_cols] += 1;
}

/* From counts to log-probabilities (single-label columns) and log-odds
 * (tags). V counts the distinct features seen plus one for unseen ones. */
static void
finish (tk_nb_t *nb, const train_ctx_t *t, const double *docs, double alpha)
{
   size_t nc = nb->n_cols;
   double v = (double) nb->n_rows + 1.0, all_docs = docs[nc], all_tokens = t->tokens[nc];
   for (size_t c = 0; c < nb->col_topic; c++) {
      double denom = t->tokens[c] + alpha * v;
      nb->prior[c] = (float) log (docs[c] / all_docs);
      nb->unseen[c] = (float) log (alpha / denom);
      for (uint32_t r = 0; r < nb->n_rows; r++) {
         double cnt = t->counts[(size_t) r * (nc + 1) + c];
         nb->rows[(size_t) r * nc + c] = (float) log ((cnt + alpha) / denom);
      }
   }
   for (size_t c = nb->col_topic; c < nc; c++) {
      double pos_denom = t->tokens[c] + alpha * v;
      double neg_denom = (all_tokens - t->tokens[c]) + alpha * v;
      nb->prior[c] = (float) log ((docs[c] + 0.5) / (all_docs - docs[c] + 0.5));
      nb->unseen[c] = (float) (log (alpha / pos_denom) - log (alpha / neg_denom));
      for (uint32_t r = 0; r < nb->n_rows; r++) {
         const double *row = t->counts + (size_t) r * (nc + 1);
         double pos = row[c], neg = row[nc] - row[c];
         nb->rows[(size_t) r * nc + c] =
            (float) (log ((pos + alpha) / pos_denom) - log ((neg + alpha) / neg_denom));
      }
   }
}

tk_nb_t *
tk_nb_train (const tk_model_example_t *ex, size_t n, const uint32_t *const label[2],
             const unsigned char *tags, const size_t n_labels[3], double alpha, uint32_t evidence,
             tk_error_t *err)
{
   tk_nb_t *nb = nb_new (n_labels);
   train_ctx_t t = {0};
   double *docs = NULL;
   size_t *cols = NULL;
   bool ok = false;
   if (!nb || !(t.tokens = calloc (nb->n_cols + 1, sizeof *t.tokens)) ||
       !(docs = calloc (nb->n_cols + 1, sizeof *docs)) ||
       !(cols = malloc ((nb->n_cols + 1) * sizeof *cols))) {
      goto done;
   }
   nb->evidence = evidence;
   t.nb = nb;
   t.cols = cols;
   for (size_t i = 0; i < n; i++) {
      t.n_cols_on = 0;
      cols[t.n_cols_on++] = label[0][i];
      cols[t.n_cols_on++] = n_labels[0] + label[1][i];
      for (size_t k = 0; k < n_labels[2]; k++) {
         if (tags[i * n_labels[2] + k]) {
            cols[t.n_cols_on++] = nb->col_topic + k;
         }
      }
      for (size_t k = 0; k < t.n_cols_on; k++) {
         docs[cols[k]] += 1;
      }
      docs[nb->n_cols] += 1;
      tk_text_features_each (ex[i].subject, ex[i].body, train_feature, &t);
      if (t.nomem) {
         goto done;
      }
   }
   size_t nc = nb->n_cols;
   if (!(nb->prior = calloc (nc, sizeof *nb->prior)) ||
       !(nb->unseen = calloc (nc, sizeof *nb->unseen)) ||
       !(nb->rows = malloc ((size_t) nb->n_rows * nc * sizeof *nb->rows + 1))) {
      goto done;
   }
   finish (nb, &t, docs, alpha);
   ok = true;
done:
   if (!ok) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory training naive Bayes");
      tk_nb_destroy (nb);
      nb = NULL;
   }
   free (t.counts);
   free (t.tokens);
   free (docs);
   free (cols);
   return nb;
}

void
tk_nb_write (const tk_nb_t *nb, tk_wbuf_t *b)
{
   tk_put_u32 (b, TK_FEATURE_BITS);
   tk_put_u32 (b, nb->evidence);
   for (size_t c = 0; c < nb->n_cols; c++) {
      tk_put_f32 (b, nb->prior[c]);
   }
   for (size_t c = 0; c < nb->n_cols; c++) {
      tk_put_f32 (b, nb->unseen[c]);
   }
   tk_put_u32 (b, nb->n_rows);
   for (uint32_t r = 0; r < nb->n_rows; r++) {
      tk_put_u32 (b, nb->row_bucket[r]);
      for (size_t c = 0; c < nb->n_cols; c++) {
         tk_put_f32 (b, nb->rows[(size_t) r * nb->n_cols + c]);
      }
   }
}

static bool
read_rows (tk_nb_t *nb, tk_rbuf_t *r)
{
   size_t nc = nb->n_cols;
   if (!tk_get_u32 (r, &nb->n_rows) || nb->n_rows > TK_FEATURE_BUCKETS ||
       (size_t) nb->n_rows * (4 + 4 * nc) > r->left ||
       !(nb->row_bucket = malloc ((size_t) nb->n_rows * sizeof (uint32_t) + 1)) ||
       !(nb->rows = malloc ((size_t) nb->n_rows * nc * sizeof (float) + 1))) {
      return false;
   }
   for (uint32_t i = 0; i < nb->n_rows; i++) {
      uint32_t bucket;
      if (!tk_get_u32 (r, &bucket) || bucket >= TK_FEATURE_BUCKETS || nb->index[bucket] >= 0) {
         return false;
      }
      nb->row_bucket[i] = bucket;
      nb->index[bucket] = (int32_t) i;
      for (size_t c = 0; c < nc; c++) {
         if (!tk_get_f32 (r, &nb->rows[(size_t) i * nc + c])) {
            return false;
         }
      }
   }
   return true;
}

tk_nb_t *
tk_nb_read (tk_rbuf_t *r, const size_t n_labels[3])
{
   tk_nb_t *nb = nb_new (n_labels);
   uint32_t bits;
   if (!nb || !tk_get_u32 (r, &bits) || bits != TK_FEATURE_BITS || !tk_get_u32 (r, &nb->evidence) ||
       nb->evidence == 0 || !(nb->prior = calloc (nb->n_cols, sizeof (float))) ||
       !(nb->unseen = calloc (nb->n_cols, sizeof (float)))) {
      goto fail;
   }
   for (size_t c = 0; c < nb->n_cols; c++) {
      if (!tk_get_f32 (r, &nb->prior[c])) {
         goto fail;
      }
   }
   for (size_t c = 0; c < nb->n_cols; c++) {
      if (!tk_get_f32 (r, &nb->unseen[c])) {
         goto fail;
      }
   }
   if (!read_rows (nb, r)) {
      goto fail;
   }
   return nb;
fail:
   tk_nb_destroy (nb);
   return NULL;
}
