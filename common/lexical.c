/* lexical.c - training, scoring and serialising the lexical model of
 * lexical.h. */
#include "lexical.h"

#include "char_ngrams.h"
#include "sparse_lr.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITER 300
#define MAX_THREADS 16

struct tk_lexical {
   size_t n_labels[3], n_cols;
   float *idf;  /* [TK_NGRAM_BUCKETS]; 0 for a bucket no training ticket had */
   float *w;    /* [TK_NGRAM_BUCKETS][n_cols] */
   float bias[3 * TK_MODEL_MAX_LABELS];
};

static tk_lexical_t *
lexical_new (const size_t n_labels[3])
{
   tk_lexical_t *lex = calloc (1, sizeof *lex);
   if (!lex) {
      return NULL;
   }
   memcpy (lex->n_labels, n_labels, sizeof lex->n_labels);
   lex->n_cols = n_labels[0] + n_labels[1] + n_labels[2];
   lex->idf = calloc (TK_NGRAM_BUCKETS, sizeof *lex->idf);
   lex->w = calloc ((size_t) TK_NGRAM_BUCKETS * lex->n_cols, sizeof *lex->w);
   if (!lex->idf || !lex->w || lex->n_cols > 3 * TK_MODEL_MAX_LABELS) {
      tk_lexical_destroy (lex);
      return NULL;
   }
   return lex;
}

void
tk_lexical_destroy (tk_lexical_t *lex)
{
   if (lex) {
      free (lex->idf);
      free (lex->w);
      free (lex);
   }
}

/* The unit-length TF-IDF row of counts c under idf, into bucket/val (n kept). */
static size_t
tfidf_row (const tk_ngram_counts_t *c, const float *idf, uint32_t *bucket, float *val)
{
   size_t k = 0;
   double norm = 0;
   for (size_t i = 0; i < c->n; i++) {
      float v = idf[c->bucket[i]];
      if (v > 0) {
         v *= 1.0f + logf ((float) c->count[i]);
         bucket[k] = c->bucket[i];
         val[k++] = v;
         norm += (double) v * v;
      }
   }
   float scale = norm > 0 ? (float) (1.0 / sqrt (norm)) : 0;
   for (size_t i = 0; i < k; i++) {
      val[i] *= scale;
   }
   return k;
}

static void
row_logits (const tk_lexical_t *lex, const float *w, const float *bias, const uint32_t *col,
            const float *val, size_t nnz, double *out)
{
   size_t nc = lex->n_cols;
   for (size_t c = 0; c < nc; c++) {
      out[c] = bias[c];
   }
   for (size_t e = 0; e < nnz; e++) {
      const float *wj = w + (size_t) col[e] * nc;
      for (size_t c = 0; c < nc; c++) {
         out[c] += (double) val[e] * wj[c];
      }
   }
}

bool
tk_lexical_logits (const tk_lexical_t *lex, const char *subject, const char *body, double *out)
{
   tk_ngram_counts_t c = {0};
   memset (out, 0, lex->n_cols * sizeof *out);
   if (!tk_char_ngrams (subject, body, &c)) {
      tk_ngram_counts_free (&c);
      return false;
   }
   uint32_t *col = malloc ((c.n + 1) * sizeof *col);
   float *val = malloc ((c.n + 1) * sizeof *val);
   bool ok = col && val;
   if (ok) {
      size_t k = tfidf_row (&c, lex->idf, col, val);
      row_logits (lex, lex->w, lex->bias, col, val, k, out);
   }
   free (col);
   free (val);
   tk_ngram_counts_free (&c);
   return ok;
}

/* ------------------------------------------------------------------------ */
/* Training. */

typedef struct {
   const tk_lexical_data_t *d;
   tk_lexical_t *lex;     /* the full model: idf set, w filled by the last job */
   tk_csr_t X;
   unsigned folds;
   const unsigned *fold_of;
   double *crossfit;
   atomic_uint next_job;  /* jobs 0 .. folds-1 are folds, job `folds` the full fit */
   atomic_bool failed;
} train_t;

/* Fits the three fields on rows[0 .. n) (all rows if NULL) into w, bias. */
static bool
fit_fields (train_t *t, const size_t *rows, size_t n, float *w, float *bias)
{
   const tk_lexical_data_t *d = t->d;
   size_t nc = t->lex->n_cols, off = 0;
   double lambda = d->lambda > 0 ? d->lambda : TK_LEXICAL_LAMBDA;
   for (int f = 0; f < 3; f++) {
      tk_lr_problem_t p = {f < 2 ? TK_LR_SOFTMAX : TK_LR_LOGISTIC, d->n_labels[f],
                           f < 2 ? d->label[f] : NULL, f < 2 ? NULL : d->tags, lambda, MAX_ITER};
      if (!tk_sparse_lr_fit (&t->X, rows, n, &p, w + off, nc, bias + off)) {
         return false;
      }
      off += d->n_labels[f];
   }
   return true;
}

/* Fold f: trains on the other folds, scores fold f's rows. */
static bool
fit_fold (train_t *t, unsigned f)
{
   size_t n = t->X.n_rows, nc = t->lex->n_cols, k = 0;
   size_t *rows = calloc (n + 1, sizeof *rows);
   float *w = malloc ((size_t) TK_NGRAM_BUCKETS * nc * sizeof *w), bias[3 * TK_MODEL_MAX_LABELS];
   bool ok = rows && w;
   for (size_t i = 0; ok && i < n; i++) {
      if (t->fold_of[i] != f) {
         rows[k++] = i;
      }
   }
   ok = ok && fit_fields (t, rows, k, w, bias);
   for (size_t i = 0; ok && i < n; i++) {
      if (t->fold_of[i] == f) {
         size_t s = t->X.start[i];
         row_logits (t->lex, w, bias, t->X.col + s, t->X.val + s, t->X.start[i + 1] - s,
                     t->crossfit + i * nc);
      }
   }
   free (rows);
   free (w);
   return ok;
}

static void *
train_worker (void *arg)
{
   train_t *t = arg;
   for (;;) {
      unsigned job = atomic_fetch_add (&t->next_job, 1);
      if (job > t->folds || atomic_load (&t->failed)) {
         return NULL;
      }
      bool ok = job < t->folds ? fit_fold (t, job)
                               : fit_fields (t, NULL, 0, t->lex->w, t->lex->bias);
      if (!ok) {
         atomic_store (&t->failed, true);
      }
   }
}

/* The TF-IDF rows of every example into X (arrays owned by the caller), and
 * the idf into lex. */
static bool
make_rows (const tk_lexical_data_t *d, tk_lexical_t *lex, size_t **start, uint32_t **col,
           float **val)
{
   tk_ngram_counts_t *c = calloc (d->n + 1, sizeof *c);
   uint32_t *df = calloc (TK_NGRAM_BUCKETS, sizeof *df);
   size_t nnz = 0;
   bool ok = c && df;
   for (size_t i = 0; ok && i < d->n; i++) {
      ok = tk_char_ngrams (d->ex[i].subject, d->ex[i].body, &c[i]);
      for (size_t e = 0; ok && e < c[i].n; e++) {
         df[c[i].bucket[e]]++;
      }
      nnz += c[i].n;
   }
   for (uint32_t b = 0; ok && b < TK_NGRAM_BUCKETS; b++) {
      lex->idf[b] = df[b] ? (float) (log ((1.0 + (double) d->n) / (1.0 + df[b])) + 1.0) : 0.0f;
   }
   *start = malloc ((d->n + 1) * sizeof **start);
   *col = malloc ((nnz + 1) * sizeof **col);
   *val = malloc ((nnz + 1) * sizeof **val);
   ok = ok && *start && *col && *val;
   size_t at = 0;
   for (size_t i = 0; ok && i < d->n; i++) {
      (*start)[i] = at;
      at += tfidf_row (&c[i], lex->idf, *col + at, *val + at);
   }
   if (ok) {
      (*start)[d->n] = at;
   }
   for (size_t i = 0; c && i < d->n; i++) {
      tk_ngram_counts_free (&c[i]);
   }
   free (c);
   free (df);
   return ok;
}

tk_lexical_t *
tk_lexical_train (const tk_lexical_data_t *d, unsigned folds, const unsigned *fold_of,
                  double *crossfit, tk_error_t *err)
{
   tk_lexical_t *lex = lexical_new (d->n_labels);
   size_t *start = NULL;
   uint32_t *col = NULL;
   float *val = NULL;
   bool ok = lex && make_rows (d, lex, &start, &col, &val);
   if (ok) {
      train_t t = {.d = d, .lex = lex, .X = {start, col, val, d->n, TK_NGRAM_BUCKETS},
                   .folds = crossfit ? folds : 0, .fold_of = fold_of, .crossfit = crossfit};
      atomic_init (&t.next_job, 0);
      atomic_init (&t.failed, false);
      unsigned threads = d->threads ? d->threads : 1;
      threads = threads > MAX_THREADS ? MAX_THREADS : threads;
      pthread_t tid[MAX_THREADS];
      bool started[MAX_THREADS] = {false};
      for (unsigned k = 1; k < threads; k++) {
         started[k] = pthread_create (&tid[k], NULL, train_worker, &t) == 0;
      }
      train_worker (&t);
      for (unsigned k = 1; k < threads; k++) {
         if (started[k]) {
            pthread_join (tid[k], NULL);
         }
      }
      ok = !atomic_load (&t.failed);
   }
   free (start);
   free (col);
   free (val);
   if (!ok) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory training the lexical model");
      tk_lexical_destroy (lex);
      return NULL;
   }
   return lex;
}

/* ------------------------------------------------------------------------ */
/* The file. */

void
tk_lexical_write (const tk_lexical_t *lex, tk_wbuf_t *b)
{
   uint32_t rows = 0;
   tk_put_u32 (b, TK_NGRAM_BITS);
   for (size_t c = 0; c < lex->n_cols; c++) {
      tk_put_f32 (b, lex->bias[c]);
   }
   for (uint32_t k = 0; k < TK_NGRAM_BUCKETS; k++) {
      rows += lex->idf[k] > 0;
   }
   tk_put_u32 (b, rows);
   for (uint32_t k = 0; k < TK_NGRAM_BUCKETS; k++) {
      if (lex->idf[k] > 0) {
         tk_put_u32 (b, k);
         tk_put_f32 (b, lex->idf[k]);
         for (size_t c = 0; c < lex->n_cols; c++) {
            tk_put_f32 (b, lex->w[(size_t) k * lex->n_cols + c]);
         }
      }
   }
}

tk_lexical_t *
tk_lexical_read (tk_rbuf_t *r, const size_t n_labels[3])
{
   tk_lexical_t *lex = lexical_new (n_labels);
   uint32_t bits, rows, last = 0;
   if (!lex || !tk_get_u32 (r, &bits) || bits != TK_NGRAM_BITS) {
      goto fail;
   }
   for (size_t c = 0; c < lex->n_cols; c++) {
      if (!tk_get_f32 (r, &lex->bias[c])) {
         goto fail;
      }
   }
   if (!tk_get_u32 (r, &rows) || rows > TK_NGRAM_BUCKETS ||
       (size_t) rows * (8 + 4 * lex->n_cols) > r->left) {
      goto fail;
   }
   for (uint32_t i = 0; i < rows; i++) {
      uint32_t k;
      float idf;
      if (!tk_get_u32 (r, &k) || k >= TK_NGRAM_BUCKETS || (i > 0 && k <= last) ||
          !tk_get_f32 (r, &idf) || !(idf > 0)) {
         goto fail;
      }
      last = k;
      lex->idf[k] = idf;
      for (size_t c = 0; c < lex->n_cols; c++) {
         if (!tk_get_f32 (r, &lex->w[(size_t) k * lex->n_cols + c])) {
            goto fail;
         }
      }
   }
   return lex;
fail:
   tk_lexical_destroy (lex);
   return NULL;
}
