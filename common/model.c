/* model.c - training, saving, loading and running the naive Bayes model
 * described in model.h. */
#include "model.h"

#include "text_features.h"

#include <errno.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODEL_MAGIC "TKNB"
#define MODEL_FORMAT 1
#define NFIELDS 3
#define DEFAULT_EVIDENCE 5

struct tk_model {
   char *version;
   size_t n_labels[NFIELDS];
   char **labels[NFIELDS];
   size_t col0[NFIELDS]; /* first weight column of each field */
   size_t n_cols;
   size_t max_topic_tags;
   float topic_threshold;
   uint32_t evidence; /* features' worth of evidence at most (see tk_model_scores) */
   float *prior;  /* [n_cols] */
   float *unseen; /* [n_cols] */
   uint32_t n_rows;
   uint32_t *row_bucket; /* [n_rows] */
   float *rows;          /* [n_rows][n_cols] */
   int32_t *index;       /* [TK_FEATURE_BUCKETS]: row of a bucket, or -1 */
};

/* ------------------------------------------------------------------------ */
/* Lifetime and accessors. */

static tk_model_t *
model_new (void)
{
   tk_model_t *m = calloc (1, sizeof *m);
   if (!m) {
      return NULL;
   }
   m->index = malloc (TK_FEATURE_BUCKETS * sizeof *m->index);
   if (!m->index) {
      free (m);
      return NULL;
   }
   memset (m->index, 0xff, TK_FEATURE_BUCKETS * sizeof *m->index); /* all -1 */
   return m;
}

void
tk_model_destroy (tk_model_t *model)
{
   if (!model) {
      return;
   }
   for (int f = 0; f < NFIELDS; f++) {
      for (size_t i = 0; i < model->n_labels[f]; i++) {
         free (model->labels[f][i]);
      }
      free (model->labels[f]);
   }
   free (model->version);
   free (model->prior);
   free (model->unseen);
   free (model->row_bucket);
   free (model->rows);
   free (model->index);
   free (model);
}

const char *
tk_model_version (const tk_model_t *model)
{
   return model->version;
}

size_t
tk_model_labels (const tk_model_t *model, tk_model_field_t field, const char *const **labels)
{
   *labels = (const char *const *) model->labels[field];
   return model->n_labels[field];
}

/* Sets the column layout from the label counts. */
static void
model_layout (tk_model_t *m)
{
   m->col0[TK_MODEL_SENTIMENT] = 0;
   m->col0[TK_MODEL_PRIORITY] = m->n_labels[TK_MODEL_SENTIMENT];
   m->col0[TK_MODEL_TOPIC] = m->col0[TK_MODEL_PRIORITY] + m->n_labels[TK_MODEL_PRIORITY];
   m->n_cols = m->col0[TK_MODEL_TOPIC] + m->n_labels[TK_MODEL_TOPIC];
}

/* ------------------------------------------------------------------------ */
/* Inference. */

typedef struct {
   const tk_model_t *m;
   double *acc;
} score_ctx_t;

static void
score_feature (uint32_t bucket, void *ctx)
{
   score_ctx_t *s = ctx;
   const tk_model_t *m = s->m;
   int32_t r = m->index[bucket];
   const float *w = r < 0 ? m->unseen : m->rows + (size_t) r * m->n_cols;
   for (size_t c = 0; c < m->n_cols; c++) {
      s->acc[c] += w[c];
   }
}

/* Normalises log-probabilities in place into probabilities summing to 1. */
static void
softmax (const double *in, double *out, size_t n)
{
   double max = -INFINITY;
   for (size_t i = 0; i < n; i++) {
      max = in[i] > max ? in[i] : max;
   }
   double sum = 0;
   for (size_t i = 0; i < n; i++) {
      out[i] = exp (in[i] - max);
      sum += out[i];
   }
   for (size_t i = 0; i < n; i++) {
      out[i] /= sum;
   }
}

static double
sigmoid (double x)
{
   if (x >= 0) {
      return 1.0 / (1.0 + exp (-x));
   }
   double e = exp (x);
   return e / (1.0 + e);
}

void
tk_model_scores (const tk_model_t *model, const char *subject, const char *body,
                 tk_model_scores_t *out)
{
   double acc[3 * TK_MODEL_MAX_LABELS] = {0};
   score_ctx_t ctx = {model, acc};
   size_t n = tk_text_features_each (subject, body, score_feature, &ctx);
   /* Naive Bayes counts every feature as independent evidence, which makes
    * long tickets absurdly confident (every probability 0.999...). Past
    * model->evidence features the summed log-likelihoods are scaled down so
    * the evidence grows no further: the mean feature still decides, but the
    * probabilities become usable confidence scores, and a threshold on tag
    * probabilities means something. */
   double scale = n > model->evidence ? (double) model->evidence / (double) n : 1.0;
   for (size_t c = 0; c < model->n_cols; c++) {
      acc[c] = model->prior[c] + acc[c] * scale;
   }

   memset (out, 0, sizeof *out);
   softmax (acc + model->col0[TK_MODEL_SENTIMENT], out->sentiment,
            model->n_labels[TK_MODEL_SENTIMENT]);
   softmax (acc + model->col0[TK_MODEL_PRIORITY], out->priority,
            model->n_labels[TK_MODEL_PRIORITY]);
   for (size_t t = 0; t < model->n_labels[TK_MODEL_TOPIC]; t++) {
      out->topic[t] = sigmoid (acc[model->col0[TK_MODEL_TOPIC] + t]);
   }
}

static size_t
argmax (const double *p, size_t n)
{
   size_t best = 0;
   for (size_t i = 1; i < n; i++) {
      if (p[i] > p[best]) {
         best = i;
      }
   }
   return best;
}

bool
tk_model_classify (const tk_model_t *model, const char *subject, const char *body,
                   tk_classification_t *out, tk_confidence_t *out_conf)
{
   tk_model_scores_t s;
   tk_model_scores (model, subject, body, &s);

   size_t si = argmax (s.sentiment, model->n_labels[TK_MODEL_SENTIMENT]);
   size_t pi = argmax (s.priority, model->n_labels[TK_MODEL_PRIORITY]);

   /* Topic tags by falling probability: insertion sort of a handful. */
   size_t nt = model->n_labels[TK_MODEL_TOPIC];
   size_t order[TK_MODEL_MAX_LABELS];
   for (size_t i = 0; i < nt; i++) {
      size_t j = i;
      while (j > 0 && s.topic[order[j - 1]] < s.topic[i]) {
         order[j] = order[j - 1];
         j--;
      }
      order[j] = i;
   }
   size_t cap = model->max_topic_tags < TK_TICKET_MAX_TAGS ? model->max_topic_tags
                                                           : TK_TICKET_MAX_TAGS;
   double topic_sum = 0;
   for (size_t k = 0; k < nt && out->n_topic_tags < cap; k++) {
      size_t t = order[k];
      if (k > 0 && s.topic[t] < model->topic_threshold) {
         break;
      }
      if (!(out->topic_tags[out->n_topic_tags] = strdup (model->labels[TK_MODEL_TOPIC][t]))) {
         goto nomem;
      }
      out->n_topic_tags++;
      topic_sum += s.topic[t];
   }
   if (!(out->sentiment = strdup (model->labels[TK_MODEL_SENTIMENT][si])) ||
       !(out->priority = strdup (model->labels[TK_MODEL_PRIORITY][pi]))) {
      goto nomem;
   }
   if (out_conf) {
      out_conf->sentiment = s.sentiment[si];
      out_conf->priority = s.priority[pi];
      out_conf->topic = out->n_topic_tags ? topic_sum / (double) out->n_topic_tags : 0.0;
   }
   return true;

nomem:
   tk_classification_clear (out);
   return false;
}

bool
tk_model_is_holdout (const char *id, unsigned seed, double fraction)
{
   uint32_t h = 2166136261u;
   for (int i = 0; i < 4; i++) {
      h ^= (seed >> (8 * i)) & 0xffu;
      h *= 16777619u;
   }
   for (const unsigned char *p = (const unsigned char *) id; *p; p++) {
      h ^= *p;
      h *= 16777619u;
   }
   /* FNV's low bits are weak on short keys: finish with a mixer. */
   h ^= h >> 16;
   h *= 0x85ebca6bu;
   h ^= h >> 13;
   h *= 0xc2b2ae35u;
   h ^= h >> 16;
   return (double) h / 4294967296.0 < fraction;
}

/* ------------------------------------------------------------------------ */
/* Training. */

static int
cmp_str (const void *a, const void *b)
{
   return strcmp (*(char *const *) a, *(char *const *) b);
}

static ssize_t
label_index (const tk_model_t *m, int field, const char *label)
{
   char *const *found = bsearch (&label, m->labels[field], m->n_labels[field], sizeof (char *),
                                 cmp_str);
   return found ? found - m->labels[field] : -1;
}

/* Adds label to the field's list if new (unsorted while collecting). */
static bool
collect_label (tk_model_t *m, int field, const char *label, tk_error_t *err)
{
   static const char *names[NFIELDS] = {"sentiment", "priority", "topic_tags"};
   if (!label || !*label || strlen (label) > TK_LABEL_MAX) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, names[field],
                          "a %s label is empty or longer than %d bytes", names[field],
                          TK_LABEL_MAX);
      return false;
   }
   for (size_t i = 0; i < m->n_labels[field]; i++) {
      if (strcmp (m->labels[field][i], label) == 0) {
         return true;
      }
   }
   if (m->n_labels[field] == TK_MODEL_MAX_LABELS) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, names[field], "more than %d %s labels",
                          TK_MODEL_MAX_LABELS, names[field]);
      return false;
   }
   if (!m->labels[field]) {
      m->labels[field] = calloc (TK_MODEL_MAX_LABELS, sizeof (char *));
   }
   char *copy = strdup (label);
   if (!m->labels[field] || !copy) {
      free (copy);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory collecting labels");
      return false;
   }
   m->labels[field][m->n_labels[field]++] = copy;
   return true;
}

typedef struct {
   tk_model_t *m;
   double *counts; /* [cap_rows][n_cols + 1]; the last column counts every document */
   uint32_t cap_rows;
   size_t cls[NFIELDS];
   const size_t *tags; /* topic label indices of the current example */
   size_t n_tags;
   double *tokens; /* [n_cols + 1]: feature occurrences per class */
   bool nomem;
} train_ctx_t;

static void
train_feature (uint32_t bucket, void *ctx)
{
   train_ctx_t *t = ctx;
   tk_model_t *m = t->m;
   if (t->nomem) {
      return;
   }
   size_t w = m->n_cols + 1;
   int32_t r = m->index[bucket];
   if (r < 0) {
      if (m->n_rows == t->cap_rows) {
         uint32_t cap = t->cap_rows ? t->cap_rows * 2 : 4096;
         double *grown = realloc (t->counts, (size_t) cap * w * sizeof *grown);
         uint32_t *buckets = realloc (m->row_bucket, (size_t) cap * sizeof *buckets);
         if (grown) {
            t->counts = grown;
         }
         if (buckets) {
            m->row_bucket = buckets;
         }
         if (!grown || !buckets) {
            t->nomem = true;
            return;
         }
         memset (t->counts + (size_t) t->cap_rows * w, 0,
                 (size_t) (cap - t->cap_rows) * w * sizeof *grown);
         t->cap_rows = cap;
      }
      r = (int32_t) m->n_rows++;
      m->index[bucket] = r;
      m->row_bucket[r] = bucket;
   }
   double *row = t->counts + (size_t) r * w;
   row[m->col0[TK_MODEL_SENTIMENT] + t->cls[TK_MODEL_SENTIMENT]] += 1;
   row[m->col0[TK_MODEL_PRIORITY] + t->cls[TK_MODEL_PRIORITY]] += 1;
   t->tokens[m->col0[TK_MODEL_SENTIMENT] + t->cls[TK_MODEL_SENTIMENT]] += 1;
   t->tokens[m->col0[TK_MODEL_PRIORITY] + t->cls[TK_MODEL_PRIORITY]] += 1;
   for (size_t k = 0; k < t->n_tags; k++) {
      row[m->col0[TK_MODEL_TOPIC] + t->tags[k]] += 1;
      t->tokens[m->col0[TK_MODEL_TOPIC] + t->tags[k]] += 1;
   }
   row[m->n_cols] += 1;
   t->tokens[m->n_cols] += 1;
}

static void
digest_str (EVP_MD_CTX *md, const char *s)
{
   /* Each string ends with a NUL, so ("ab","c") and ("a","bc") differ. */
   s = s ? s : "";
   EVP_DigestUpdate (md, s, strlen (s) + 1);
}

/* Sets m->version from the SHA-256 of the training examples. */
static bool
set_version (tk_model_t *m, const tk_model_example_t *ex, size_t n, tk_error_t *err)
{
   bool ok = false;
   EVP_MD_CTX *md = EVP_MD_CTX_new ();
   unsigned char digest[EVP_MAX_MD_SIZE];
   unsigned int dlen = 0;
   if (!md || !EVP_DigestInit_ex (md, EVP_sha256 (), NULL)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot start a SHA-256 digest");
      goto done;
   }
   for (size_t i = 0; i < n; i++) {
      digest_str (md, ex[i].id);
      digest_str (md, ex[i].subject);
      digest_str (md, ex[i].body);
      for (size_t k = 0; k < ex[i].n_topic_tags; k++) {
         digest_str (md, ex[i].topic_tags[k]);
      }
      digest_str (md, ex[i].sentiment);
      digest_str (md, ex[i].priority);
      EVP_DigestUpdate (md, "\n", 1);
   }
   if (!EVP_DigestFinal_ex (md, digest, &dlen) || dlen < 6) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "SHA-256 digest failed");
      goto done;
   }
   char buf[64];
   snprintf (buf, sizeof buf, "local-nb-%02x%02x%02x%02x%02x%02x", digest[0], digest[1],
             digest[2], digest[3], digest[4], digest[5]);
   if (!(m->version = strdup (buf))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   ok = true;
done:
   EVP_MD_CTX_free (md);
   return ok;
}

tk_model_t *
tk_model_train (const tk_model_example_t *ex, size_t n, const tk_model_train_options_t *options,
                tk_error_t *err)
{
   tk_model_t *m = NULL;
   train_ctx_t t = {0};
   double *docs = NULL; /* documents per class column, last = all */
   bool ok = false;
   double alpha = options && options->alpha > 0 ? options->alpha : 0.1;

   if (n == 0) {
      tk_error_set (err, TK_ERR_INVALID, 0, "no training examples");
      goto done;
   }
   if (options && options->topic_threshold >= 1) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_threshold",
                          "the topic threshold must be below 1");
      goto done;
   }
   if (!(m = model_new ())) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   m->topic_threshold = options && options->topic_threshold > 0
                           ? (float) options->topic_threshold
                           : 0.5f;
   m->max_topic_tags = options && options->max_topic_tags ? options->max_topic_tags : 3;
   if (m->max_topic_tags > TK_TICKET_MAX_TAGS) {
      m->max_topic_tags = TK_TICKET_MAX_TAGS;
   }
   m->evidence = options && options->evidence ? (uint32_t) options->evidence : DEFAULT_EVIDENCE;

   /* Label lists, sorted so the model does not depend on example order. */
   for (size_t i = 0; i < n; i++) {
      if (ex[i].n_topic_tags == 0) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_tags",
                             "example %zu (%s) has no topic tag", i, ex[i].id ? ex[i].id : "?");
         goto done;
      }
      if (!collect_label (m, TK_MODEL_SENTIMENT, ex[i].sentiment, err) ||
          !collect_label (m, TK_MODEL_PRIORITY, ex[i].priority, err)) {
         goto done;
      }
      for (size_t k = 0; k < ex[i].n_topic_tags; k++) {
         if (!collect_label (m, TK_MODEL_TOPIC, ex[i].topic_tags[k], err)) {
            goto done;
         }
      }
   }
   for (int f = 0; f < NFIELDS; f++) {
      qsort (m->labels[f], m->n_labels[f], sizeof (char *), cmp_str);
   }
   model_layout (m);

   if (!(t.tokens = calloc (m->n_cols + 1, sizeof *t.tokens)) ||
       !(docs = calloc (m->n_cols + 1, sizeof *docs))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   t.m = m;
   for (size_t i = 0; i < n; i++) {
      size_t tags[TK_MODEL_MAX_LABELS];
      size_t n_tags = 0;
      for (size_t k = 0; k < ex[i].n_topic_tags; k++) {
         size_t ti = (size_t) label_index (m, TK_MODEL_TOPIC, ex[i].topic_tags[k]);
         bool dup = false;
         for (size_t j = 0; j < n_tags; j++) {
            dup = dup || tags[j] == ti;
         }
         if (!dup) {
            tags[n_tags++] = ti;
            docs[m->col0[TK_MODEL_TOPIC] + ti] += 1;
         }
      }
      t.cls[TK_MODEL_SENTIMENT] = (size_t) label_index (m, TK_MODEL_SENTIMENT, ex[i].sentiment);
      t.cls[TK_MODEL_PRIORITY] = (size_t) label_index (m, TK_MODEL_PRIORITY, ex[i].priority);
      t.tags = tags;
      t.n_tags = n_tags;
      docs[m->col0[TK_MODEL_SENTIMENT] + t.cls[TK_MODEL_SENTIMENT]] += 1;
      docs[m->col0[TK_MODEL_PRIORITY] + t.cls[TK_MODEL_PRIORITY]] += 1;
      docs[m->n_cols] += 1;
      tk_text_features_each (ex[i].subject, ex[i].body, train_feature, &t);
      if (t.nomem) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory counting features");
         goto done;
      }
   }

   /* From counts to log-probabilities. V counts the distinct features seen
    * plus one for all unseen ones. */
   size_t nc = m->n_cols;
   double v = (double) m->n_rows + 1.0;
   double all_docs = docs[nc], all_tokens = t.tokens[nc];
   if (!(m->prior = calloc (nc, sizeof *m->prior)) ||
       !(m->unseen = calloc (nc, sizeof *m->unseen)) ||
       !(m->rows = malloc ((size_t) m->n_rows * nc * sizeof *m->rows + 1))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   for (size_t c = 0; c < m->col0[TK_MODEL_TOPIC]; c++) {
      double denom = t.tokens[c] + alpha * v;
      m->prior[c] = (float) log (docs[c] / all_docs);
      m->unseen[c] = (float) log (alpha / denom);
      for (uint32_t r = 0; r < m->n_rows; r++) {
         double cnt = t.counts[(size_t) r * (nc + 1) + c];
         m->rows[(size_t) r * nc + c] = (float) log ((cnt + alpha) / denom);
      }
   }
   for (size_t c = m->col0[TK_MODEL_TOPIC]; c < nc; c++) {
      double pos_denom = t.tokens[c] + alpha * v;
      double neg_denom = (all_tokens - t.tokens[c]) + alpha * v;
      m->prior[c] = (float) log ((docs[c] + 0.5) / (all_docs - docs[c] + 0.5));
      m->unseen[c] = (float) (log (alpha / pos_denom) - log (alpha / neg_denom));
      for (uint32_t r = 0; r < m->n_rows; r++) {
         const double *row = t.counts + (size_t) r * (nc + 1);
         double pos = row[c], neg = row[nc] - row[c];
         m->rows[(size_t) r * nc + c] =
            (float) (log ((pos + alpha) / pos_denom) - log ((neg + alpha) / neg_denom));
      }
   }
   if (!set_version (m, ex, n, err)) {
      goto done;
   }
   ok = true;
done:
   free (t.counts);
   free (t.tokens);
   free (docs);
   if (!ok) {
      tk_model_destroy (m);
      m = NULL;
   }
   return m;
}

/* ------------------------------------------------------------------------ */
/* Serialisation. */

typedef struct {
   unsigned char *data;
   size_t len, cap;
   bool nomem;
} wbuf_t;

static void
put (wbuf_t *b, const void *p, size_t n)
{
   if (b->nomem) {
      return;
   }
   if (b->len + n > b->cap) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + n) {
         cap *= 2;
      }
      unsigned char *grown = realloc (b->data, cap);
      if (!grown) {
         b->nomem = true;
         return;
      }
      b->data = grown;
      b->cap = cap;
   }
   memcpy (b->data + b->len, p, n);
   b->len += n;
}

static void
put_u32 (wbuf_t *b, uint32_t v)
{
   unsigned char le[4] = {(unsigned char) v, (unsigned char) (v >> 8), (unsigned char) (v >> 16),
                          (unsigned char) (v >> 24)};
   put (b, le, 4);
}

static void
put_f32 (wbuf_t *b, float f)
{
   uint32_t v;
   memcpy (&v, &f, 4);
   put_u32 (b, v);
}

static void
put_str (wbuf_t *b, const char *s)
{
   size_t n = strlen (s);
   put_u32 (b, (uint32_t) n);
   put (b, s, n);
}

static uint32_t
fnv1a (const unsigned char *p, size_t n)
{
   uint32_t h = 2166136261u;
   for (size_t i = 0; i < n; i++) {
      h ^= p[i];
      h *= 16777619u;
   }
   return h;
}

bool
tk_model_save (const tk_model_t *model, const char *path, tk_error_t *err)
{
   bool ok = false;
   wbuf_t b = {0};
   char *tmp = NULL;
   FILE *f = NULL;

   put (&b, MODEL_MAGIC, 4);
   put_u32 (&b, MODEL_FORMAT);
   put_str (&b, model->version);
   put_u32 (&b, TK_FEATURE_BITS);
   put_u32 (&b, (uint32_t) model->max_topic_tags);
   put_f32 (&b, model->topic_threshold);
   put_u32 (&b, model->evidence);
   for (int fld = 0; fld < NFIELDS; fld++) {
      put_u32 (&b, (uint32_t) model->n_labels[fld]);
      for (size_t i = 0; i < model->n_labels[fld]; i++) {
         put_str (&b, model->labels[fld][i]);
      }
   }
   for (size_t c = 0; c < model->n_cols; c++) {
      put_f32 (&b, model->prior[c]);
   }
   for (size_t c = 0; c < model->n_cols; c++) {
      put_f32 (&b, model->unseen[c]);
   }
   put_u32 (&b, model->n_rows);
   for (uint32_t r = 0; r < model->n_rows; r++) {
      put_u32 (&b, model->row_bucket[r]);
      for (size_t c = 0; c < model->n_cols; c++) {
         put_f32 (&b, model->rows[(size_t) r * model->n_cols + c]);
      }
   }
   if (!b.nomem) {
      put_u32 (&b, fnv1a (b.data, b.len));
   }
   if (b.nomem || asprintf (&tmp, "%s.tmp.%ld", path, (long) getpid ()) < 0) {
      tmp = NULL;
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory serialising the model");
      goto done;
   }
   if (!(f = fopen (tmp, "wb"))) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot create %s: %s", tmp,
                          strerror (errno));
      goto done;
   }
   if (fwrite (b.data, 1, b.len, f) != b.len || fflush (f) != 0) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot write %s: %s", tmp,
                          strerror (errno));
      goto done;
   }
   int rc = fclose (f);
   f = NULL;
   if (rc != 0 || rename (tmp, path) != 0) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot write %s: %s", path,
                          strerror (errno));
      goto done;
   }
   ok = true;
done:
   if (f) {
      fclose (f);
   }
   if (!ok && tmp) {
      unlink (tmp);
   }
   free (tmp);
   free (b.data);
   return ok;
}

typedef struct {
   const unsigned char *p;
   size_t left;
} rbuf_t;

static bool
get_u32 (rbuf_t *r, uint32_t *v)
{
   if (r->left < 4) {
      return false;
   }
   *v = (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16 |
        (uint32_t) r->p[3] << 24;
   r->p += 4;
   r->left -= 4;
   return true;
}

static bool
get_f32 (rbuf_t *r, float *f)
{
   uint32_t v;
   if (!get_u32 (r, &v)) {
      return false;
   }
   memcpy (f, &v, 4);
   return isfinite (*f);
}

/* Reads a string of at most max bytes into a new allocation. */
static bool
get_str (rbuf_t *r, size_t max, char **out)
{
   uint32_t n;
   if (!get_u32 (r, &n) || n == 0 || n > max || n > r->left || memchr (r->p, 0, n)) {
      return false;
   }
   if (!(*out = strndup ((const char *) r->p, n))) {
      return false;
   }
   r->p += n;
   r->left -= n;
   return true;
}

static unsigned char *
read_file (const char *path, size_t *len, tk_error_t *err)
{
   unsigned char *data = NULL;
   FILE *f = fopen (path, "rb");
   if (!f) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot open %s: %s", path,
                          strerror (errno));
      return NULL;
   }
   size_t cap = 1 << 20, n = 0;
   for (;;) {
      unsigned char *grown = realloc (data, cap);
      if (!grown) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading %s", path);
         free (data);
         data = NULL;
         goto done;
      }
      data = grown;
      n += fread (data + n, 1, cap - n, f);
      if (n < cap) {
         break;
      }
      cap *= 2;
   }
   if (ferror (f)) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot read %s", path);
      free (data);
      data = NULL;
      goto done;
   }
   *len = n;
done:
   fclose (f);
   return data;
}

tk_model_t *
tk_model_load (const char *path, tk_error_t *err)
{
   tk_model_t *m = NULL;
   size_t len = 0;
   unsigned char *data = read_file (path, &len, err);
   bool ok = false;
   uint32_t v = 0, sum = 0;

   if (!data) {
      return NULL;
   }
   if (len < 8 || memcmp (data, MODEL_MAGIC, 4) != 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s is not a triage model file", path);
      goto done;
   }
   rbuf_t tail = {data + len - 4, 4};
   get_u32 (&tail, &sum);
   if (fnv1a (data, len - 4) != sum) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path",
                          "%s is corrupt or truncated (checksum mismatch)", path);
      goto done;
   }
   rbuf_t r = {data + 4, len - 8};
   if (!get_u32 (&r, &v) || v != MODEL_FORMAT) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: unsupported model format %u",
                          path, v);
      goto done;
   }
   if (!(m = model_new ())) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   uint32_t bits, max_tags;
   if (!get_str (&r, 64, &m->version) || !get_u32 (&r, &bits) || bits != TK_FEATURE_BITS ||
       !get_u32 (&r, &max_tags) || max_tags == 0 || max_tags > TK_TICKET_MAX_TAGS ||
       !get_f32 (&r, &m->topic_threshold) || !(m->topic_threshold > 0 && m->topic_threshold < 1) ||
       !get_u32 (&r, &m->evidence) || m->evidence == 0) {
      goto corrupt;
   }
   m->max_topic_tags = max_tags;
   for (int fld = 0; fld < NFIELDS; fld++) {
      if (!get_u32 (&r, &v) || v == 0 || v > TK_MODEL_MAX_LABELS ||
          !(m->labels[fld] = calloc (v, sizeof (char *)))) {
         goto corrupt;
      }
      for (uint32_t i = 0; i < v; i++) {
         if (!get_str (&r, TK_LABEL_MAX, &m->labels[fld][i])) {
            goto corrupt;
         }
         m->n_labels[fld]++;
      }
   }
   model_layout (m);
   size_t nc = m->n_cols;
   if (!(m->prior = calloc (nc, sizeof (float))) || !(m->unseen = calloc (nc, sizeof (float)))) {
      goto corrupt;
   }
   for (size_t c = 0; c < nc; c++) {
      if (!get_f32 (&r, &m->prior[c])) {
         goto corrupt;
      }
   }
   for (size_t c = 0; c < nc; c++) {
      if (!get_f32 (&r, &m->unseen[c])) {
         goto corrupt;
      }
   }
   if (!get_u32 (&r, &m->n_rows) || m->n_rows > TK_FEATURE_BUCKETS ||
       (size_t) m->n_rows * (4 + 4 * nc) != r.left) {
      goto corrupt;
   }
   if (!(m->row_bucket = malloc ((size_t) m->n_rows * sizeof (uint32_t) + 1)) ||
       !(m->rows = malloc ((size_t) m->n_rows * nc * sizeof (float) + 1))) {
      goto corrupt;
   }
   for (uint32_t i = 0; i < m->n_rows; i++) {
      uint32_t bucket;
      if (!get_u32 (&r, &bucket) || bucket >= TK_FEATURE_BUCKETS || m->index[bucket] >= 0) {
         goto corrupt;
      }
      m->row_bucket[i] = bucket;
      m->index[bucket] = (int32_t) i;
      for (size_t c = 0; c < nc; c++) {
         if (!get_f32 (&r, &m->rows[(size_t) i * nc + c])) {
            goto corrupt;
         }
      }
   }
   ok = true;
   goto done;

corrupt:
   tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: malformed model file", path);
done:
   free (data);
   if (!ok) {
      tk_model_destroy (m);
      m = NULL;
   }
   return m;
}
