/* model_train.c - tk_model_train (model.h): the label lists, the vectors of
 * the training tickets in each mode (with the encoder's cached between runs),
 * the heads or naive Bayes, the temperatures and the model_version. */
#include "model_internal.h"

#include "calibration.h"
#include "char_ngrams.h"
#include "model_io.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIM TK_ENCODER_DIM
#define EMBED_MAGIC "TKEV"

static const char *const field_names[3] = {"sentiment", "priority", "topic_tags"};

static int
cmp_str (const void *a, const void *b)
{
   return strcmp (*(char *const *) a, *(char *const *) b);
}

static ssize_t
label_index (const tk_model_t *m, int field, const char *label)
{
   char *const *found = label ? bsearch (&label, m->labels[field], m->n_labels[field],
                                         sizeof (char *), cmp_str)
                              : NULL;
   return found ? found - m->labels[field] : -1;
}

/* Adds label to the field's list if new (unsorted while collecting). */
static bool
collect_label (tk_model_t *m, int field, const char *label, tk_error_t *err)
{
   if (!label || !*label || strlen (label) > TK_LABEL_MAX) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field_names[field],
                          "a %s label is empty or longer than %d bytes", field_names[field],
                          TK_LABEL_MAX);
      return false;
   }
   for (size_t i = 0; i < m->n_labels[field]; i++) {
      if (strcmp (m->labels[field][i], label) == 0) {
         return true;
      }
   }
   if (m->n_labels[field] == TK_MODEL_MAX_LABELS) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field_names[field], "more than %d %s labels",
                          TK_MODEL_MAX_LABELS, field_names[field]);
      return false;
   }
   if (!m->labels[field] && !(m->labels[field] = calloc (TK_MODEL_MAX_LABELS, sizeof (char *)))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory collecting labels");
      return false;
   }
   if (!(m->labels[field][m->n_labels[field]] = strdup (label))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory collecting labels");
      return false;
   }
   m->n_labels[field]++;
   return true;
}

static bool
collect_labels (tk_model_t *m, const tk_model_example_t *ex, size_t n, tk_error_t *err)
{
   for (size_t i = 0; i < n; i++) {
      if (ex[i].n_topic_tags == 0) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_tags",
                             "example %zu (%s) has no topic tag", i, ex[i].id ? ex[i].id : "?");
         return false;
      }
      if (!collect_label (m, TK_MODEL_SENTIMENT, ex[i].sentiment, err) ||
          !collect_label (m, TK_MODEL_PRIORITY, ex[i].priority, err)) {
         return false;
      }
      for (size_t k = 0; k < ex[i].n_topic_tags; k++) {
         if (!collect_label (m, TK_MODEL_TOPIC, ex[i].topic_tags[k], err)) {
            return false;
         }
      }
   }
   for (int f = 0; f < TK_MODEL_FIELDS; f++) {
      qsort (m->labels[f], m->n_labels[f], sizeof (char *), cmp_str);
   }
   return true;
}

/* Labels of examples as indices: label[f][i] (-1 if unknown to the model)
 * and tags[i][n_topic]. */
typedef struct {
   uint32_t *label[2];
   int32_t *known[2]; /* the same, -1 for a label the model does not know */
   unsigned char *tags;
} indexed_t;

static void
indexed_free (indexed_t *x)
{
   for (int f = 0; f < 2; f++) {
      free (x->label[f]);
      free (x->known[f]);
   }
   free (x->tags);
}

static bool
index_examples (const tk_model_t *m, const tk_model_example_t *ex, size_t n, indexed_t *x)
{
   size_t nt = m->n_labels[TK_MODEL_TOPIC];
   memset (x, 0, sizeof *x);
   for (int f = 0; f < 2; f++) {
      if (!(x->label[f] = calloc (n + 1, sizeof (uint32_t))) ||
          !(x->known[f] = calloc (n + 1, sizeof (int32_t)))) {
         return false;
      }
   }
   if (!(x->tags = calloc (n * nt + 1, 1))) {
      return false;
   }
   for (size_t i = 0; i < n; i++) {
      const char *gold[2] = {ex[i].sentiment, ex[i].priority};
      for (int f = 0; f < 2; f++) {
         ssize_t k = label_index (m, f, gold[f]);
         x->known[f][i] = (int32_t) k;
         x->label[f][i] = k < 0 ? 0 : (uint32_t) k;
      }
      for (size_t k = 0; k < ex[i].n_topic_tags; k++) {
         ssize_t t = label_index (m, TK_MODEL_TOPIC, ex[i].topic_tags[k]);
         if (t >= 0) {
            x->tags[i * nt + (size_t) t] = 1;
         }
      }
   }
   return true;
}

/* ------------------------------------------------------------------------ */
/* The vectors of a set of tickets. */

typedef struct {
   const tk_encoder_t *enc;
   const tk_model_example_t *ex;
   float *out;
   size_t from, to;
   bool ok;
   tk_error_t err;
} embed_job_t;

static void *
embed_range (void *arg)
{
   embed_job_t *j = arg;
   j->ok = true;
   for (size_t i = j->from; j->ok && i < j->to; i++) {
      j->ok = tk_encoder_embed_ticket (j->enc, j->ex[i].subject, j->ex[i].body,
                                       j->out + i * DIM, &j->err);
   }
   return NULL;
}

static bool
embed_threads (const tk_encoder_t *enc, const tk_model_example_t *ex, size_t n, unsigned threads,
               float *out, tk_error_t *err)
{
   embed_job_t jobs[16];
   pthread_t tid[16];
   bool started[16] = {false}, ok = true;
   threads = threads == 0 ? 1 : threads > 16 ? 16 : threads;
   for (unsigned k = 0; k < threads; k++) {
      jobs[k] = (embed_job_t){enc, ex, out, n * k / threads, n * (k + 1) / threads, false, {0}};
      started[k] = k > 0 && pthread_create (&tid[k], NULL, embed_range, &jobs[k]) == 0;
      if (k > 0 && !started[k]) {
         embed_range (&jobs[k]);
      }
   }
   embed_range (&jobs[0]);
   for (unsigned k = 0; k < threads; k++) {
      if (started[k]) {
         pthread_join (tid[k], NULL);
      }
      if (ok && !jobs[k].ok) {
         *err = jobs[k].err;
         ok = false;
      }
   }
   return ok;
}

/* The cache file of the encoder's vectors of these tickets: keyed by the
 * weights and every ticket's text. */
static void
embed_cache_path (const char *dir, const tk_encoder_t *enc, const tk_model_example_t *ex, size_t n,
                  char *path, size_t cap)
{
   EVP_MD_CTX *md = EVP_MD_CTX_new ();
   unsigned char d[32];
   unsigned int dl = 0;
   EVP_DigestInit_ex (md, EVP_sha256 (), NULL);
   EVP_DigestUpdate (md, tk_encoder_sha256 (enc), 64);
   for (size_t i = 0; i < n; i++) {
      char *text = tk_encoder_ticket_text (ex[i].subject, ex[i].body);
      EVP_DigestUpdate (md, text ? text : "", (text ? strlen (text) : 0) + 1);
      free (text);
   }
   EVP_DigestFinal_ex (md, d, &dl);
   EVP_MD_CTX_free (md);
   snprintf (path, cap, "%s/embed-%02x%02x%02x%02x%02x%02x%02x%02x.f32", dir, d[0], d[1], d[2],
             d[3], d[4], d[5], d[6], d[7]);
}

static bool
embed_cache_read (const char *path, size_t n, float *out)
{
   size_t len = 0;
   tk_error_t ignored;
   unsigned char *data = tk_read_whole_file (path, &len, &ignored);
   bool ok = data && len == 12 + n * DIM * 4 && memcmp (data, EMBED_MAGIC, 4) == 0;
   if (ok) {
      memcpy (out, data + 12, n * DIM * 4);
   }
   free (data);
   return ok;
}

static void
embed_cache_write (const char *dir, const char *path, size_t n, const float *v)
{
   tk_wbuf_t b = {0};
   tk_error_t ignored;
   mkdir (dir, 0755); /* a cache that cannot be written only costs time */
   tk_put (&b, EMBED_MAGIC, 4);
   tk_put_u32 (&b, (uint32_t) n);
   tk_put_u32 (&b, DIM);
   tk_put (&b, v, n * DIM * 4);
   if (!b.nomem) {
      tk_write_file_atomic (path, b.data, b.len, &ignored);
   }
   free (b.data);
}

/* The vectors of ex[0 .. n) in a static or encoder model, into out[n][DIM]. */
static bool
vectors (const tk_model_t *m, const tk_encoder_t *enc, const tk_model_example_t *ex, size_t n,
         const tk_model_train_options_t *o, float *out, tk_error_t *err)
{
   if (m->mode == TK_MODEL_STATIC) {
      for (size_t i = 0; i < n; i++) {
         if (!tk_model_vector (m, ex[i].subject, ex[i].body, out + i * DIM, err)) {
            return false;
         }
      }
      return true;
   }
   char path[4096];
   if (o->cache_dir) {
      embed_cache_path (o->cache_dir, enc, ex, n, path, sizeof path);
      if (embed_cache_read (path, n, out)) {
         return true;
      }
   }
   if (!embed_threads (enc, ex, n, o->threads, out, err)) {
      return false;
   }
   if (o->cache_dir) {
      embed_cache_write (o->cache_dir, path, n, out);
   }
   return true;
}

/* The raw logits of ex[0 .. n) into z[n][n_logits]. */
static bool
logits_of (const tk_model_t *m, const tk_encoder_t *enc, const tk_model_example_t *ex, size_t n,
           const tk_model_train_options_t *o, double *z, tk_error_t *err)
{
   size_t nl = tk_model_n_logits (m);
   if (m->mode == TK_MODEL_NB) {
      for (size_t i = 0; i < n; i++) {
         tk_nb_logits (m->nb, ex[i].subject, ex[i].body, z + i * nl);
      }
      return true;
   }
   float *v = malloc ((n * DIM + 1) * sizeof *v), row[DIM + 2 * 3 * TK_MODEL_MAX_LABELS];
   bool ok = v && vectors (m, enc, ex, n, o, v, err);
   for (size_t i = 0; ok && i < n; i++) {
      double zs[3 * TK_MODEL_MAX_LABELS];
      size_t at = DIM;
      memcpy (row, v + i * DIM, DIM * sizeof *row);
      if (m->nb) {
         tk_nb_logits (m->nb, ex[i].subject, ex[i].body, zs);
         for (size_t j = 0; j < nl; j++) {
            row[at++] = (float) zs[j];
         }
      }
      if (m->lex) {
         if (!(ok = tk_lexical_logits (m->lex, ex[i].subject, ex[i].body, zs))) {
            tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
            break;
         }
         for (size_t j = 0; j < nl; j++) {
            row[at++] = (float) zs[j];
         }
      }
      tk_heads_logits (m->heads, row, z + i * nl);
   }
   if (!v) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   }
   free (v);
   return ok;
}

/* ------------------------------------------------------------------------ */
/* Calibration. */

/* Fits the three temperatures on the calibration examples. */
static bool
calibrate (tk_model_t *m, const tk_encoder_t *enc, const tk_model_train_options_t *o,
           tk_error_t *err)
{
   size_t n = o->n_calibration, nl = tk_model_n_logits (m), nt = m->n_labels[2];
   size_t off[3] = {0, m->n_labels[0], m->n_labels[0] + m->n_labels[1]};
   double *z = malloc ((n * nl + 1) * sizeof *z), *zf = malloc ((n * nl + 1) * sizeof *zf);
   indexed_t x;
   bool ok = z && zf && index_examples (m, o->calibration, n, &x);
   if (ok && !(ok = logits_of (m, enc, o->calibration, n, o, z, err))) {
      goto done;
   }
   for (int f = 0; ok && f < 2; f++) {
      size_t k = m->n_labels[f], used = 0;
      for (size_t i = 0; i < n; i++) {
         if (x.known[f][i] >= 0) {
            memcpy (zf + used * k, z + i * nl + off[f], k * sizeof *z);
            x.label[f][used++] = x.label[f][i];
         }
      }
      m->temperature[f] = (float) tk_calibrate_softmax (zf, x.label[f], used, k);
   }
   for (size_t i = 0; ok && i < n; i++) {
      memcpy (zf + i * nt, z + i * nl + off[2], nt * sizeof *z);
   }
   if (ok) {
      m->temperature[2] = (float) tk_calibrate_binary (zf, x.tags, n * nt);
   }
done:
   if (!ok && err && err->domain == TK_ERR_NONE) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory calibrating");
   }
   indexed_free (&x);
   free (z);
   free (zf);
   return ok;
}

/* ------------------------------------------------------------------------ */
/* Training. */

static void
digest_str (EVP_MD_CTX *md, const char *s)
{
   /* Each string ends with a NUL, so ("ab","c") and ("a","bc") differ. */
   s = s ? s : "";
   EVP_DigestUpdate (md, s, strlen (s) + 1);
}

static void
digest_examples (EVP_MD_CTX *md, const tk_model_example_t *ex, size_t n)
{
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
}

/* Sets m->version: the mode's name and the SHA-256 of the training data, and
 * of the calibration data and the weights when there are any. */
static bool
set_version (tk_model_t *m, const tk_model_example_t *ex, size_t n,
             const tk_model_train_options_t *o, tk_error_t *err)
{
   static const char *const prefix[3] = {"local-nb", "local-static", "local-minilm"};
   EVP_MD_CTX *md = EVP_MD_CTX_new ();
   unsigned char d[EVP_MAX_MD_SIZE];
   unsigned int dl = 0;
   char buf[64];
   if (!md || !EVP_DigestInit_ex (md, EVP_sha256 (), NULL)) {
      EVP_MD_CTX_free (md);
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot start a SHA-256 digest");
      return false;
   }
   digest_examples (md, ex, n);
   if (o && o->n_calibration) {
      EVP_DigestUpdate (md, "calibration\n", 12);
      digest_examples (md, o->calibration, o->n_calibration);
   }
   if (m->mode != TK_MODEL_NB) {
      EVP_DigestUpdate (md, m->weights_sha, 64);
   }
   EVP_DigestFinal_ex (md, d, &dl);
   EVP_MD_CTX_free (md);
   snprintf (buf, sizeof buf, "%s-%02x%02x%02x%02x%02x%02x", prefix[m->mode], d[0], d[1], d[2],
             d[3], d[4], d[5]);
   if (!(m->version = strdup (buf))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   return true;
}

#define NB_FOLDS 5

static double
nb_alpha (const tk_model_train_options_t *o)
{
   return o->alpha > 0 ? o->alpha : 0.1;
}

static uint32_t
nb_evidence (const tk_model_train_options_t *o)
{
   return o->evidence ? (uint32_t) o->evidence : 5;
}

/* Naive Bayes's logits of every training example as the heads' extra
 * features, cross-fitted: those of fold f come from a naive Bayes trained
 * on the other folds, so the heads learn how far to trust it on tickets it
 * has not seen. Written at X[i][DIM ..], rows of width w. */
static bool
crossfit_nb (const tk_model_t *m, const tk_model_example_t *ex, size_t n, const indexed_t *x,
             const tk_model_train_options_t *o, float *X, size_t w, tk_error_t *err)
{
   size_t nt = m->n_labels[2], nl = tk_model_n_logits (m);
   tk_model_example_t *sub = malloc ((n + 1) * sizeof *sub);
   uint32_t *l0 = malloc ((n + 1) * sizeof *l0), *l1 = malloc ((n + 1) * sizeof *l1);
   unsigned char *tags = malloc (n * nt + 1);
   bool ok = sub && l0 && l1 && tags;
   for (unsigned f = 0; ok && f < NB_FOLDS; f++) {
      size_t k = 0;
      for (size_t i = 0; i < n; i++) {
         if (((i * 2654435761u) >> 7) % NB_FOLDS != f) {
            sub[k] = ex[i], l0[k] = x->label[0][i], l1[k] = x->label[1][i];
            memcpy (tags + k * nt, x->tags + i * nt, nt);
            k++;
         }
      }
      const uint32_t *const labels[2] = {l0, l1};
      tk_nb_t *nb = k ? tk_nb_train (sub, k, labels, tags, m->n_labels, nb_alpha (o), nb_evidence (o), err) : NULL;
      for (size_t i = 0; nb && i < n; i++) {
         if (((i * 2654435761u) >> 7) % NB_FOLDS == f) {
            double z[3 * TK_MODEL_MAX_LABELS];
            tk_nb_logits (nb, ex[i].subject, ex[i].body, z);
            for (size_t j = 0; j < nl; j++) {
               X[i * w + DIM + j] = (float) z[j];
            }
         }
      }
      ok = nb != NULL || k == 0;
      tk_nb_destroy (nb);
   }
   if (!ok && err && err->domain == TK_ERR_NONE) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   }
   free (sub);
   free (l0);
   free (l1);
   free (tags);
   return ok;
}

/* The lexical model's file in the cache: its inputs' SHA-256 (examples,
 * labels as indices, L2 strength, folds) names it. */
static void
lexical_cache_path (const tk_model_t *m, const tk_model_example_t *ex, size_t n,
                    const tk_lexical_data_t *d, char *out, size_t cap, const char *dir)
{
   EVP_MD_CTX *md = EVP_MD_CTX_new ();
   unsigned char h[EVP_MAX_MD_SIZE];
   unsigned int hl = 0;
   char hex[2 * 8 + 1];
   uint32_t params[3] = {TK_NGRAM_BITS, NB_FOLDS, (uint32_t) tk_model_n_logits (m)};
   if (!md || !EVP_DigestInit_ex (md, EVP_sha256 (), NULL)) {
      EVP_MD_CTX_free (md);
      snprintf (out, cap, "%s/lexical-unnamed.bin", dir);
      return;
   }
   digest_examples (md, ex, n);
   EVP_DigestUpdate (md, d->label[0], n * sizeof (uint32_t));
   EVP_DigestUpdate (md, d->label[1], n * sizeof (uint32_t));
   EVP_DigestUpdate (md, d->tags, n * d->n_labels[2]);
   EVP_DigestUpdate (md, &d->lambda, sizeof d->lambda);
   EVP_DigestUpdate (md, params, sizeof params);
   EVP_DigestFinal_ex (md, h, &hl);
   EVP_MD_CTX_free (md);
   for (int i = 0; i < 8; i++) {
      snprintf (hex + 2 * i, 3, "%02x", h[i]);
   }
   snprintf (out, cap, "%s/lexical-%s.bin", dir, hex);
}

/* A cached lexical model and its cross-fitted logits z[n][nl]: "TKLX" |
 * u32 n | u32 nl | f32 z[n][nl] | lexical.h's section. */
static tk_lexical_t *
lexical_cache_read (const char *path, const tk_model_t *m, size_t n, double *z)
{
   size_t len = 0, nl = tk_model_n_logits (m);
   tk_error_t ignored;
   unsigned char *data = tk_read_whole_file (path, &len, &ignored);
   tk_rbuf_t r = {data, len};
   uint32_t rn, rnl;
   tk_lexical_t *lex = NULL;
   const unsigned char *magic;
   if (data && tk_get_bytes (&r, 4, &magic) && memcmp (magic, "TKLX", 4) == 0 &&
       tk_get_u32 (&r, &rn) && rn == n && tk_get_u32 (&r, &rnl) && rnl == nl &&
       r.left >= n * nl * 4) {
      bool ok = true;
      for (size_t i = 0; ok && i < n * nl; i++) {
         float f;
         ok = tk_get_f32 (&r, &f);
         z[i] = f;
      }
      lex = ok ? tk_lexical_read (&r, m->n_labels) : NULL;
      if (lex && r.left) {
         tk_lexical_destroy (lex);
         lex = NULL;
      }
   }
   free (data);
   return lex;
}

static void
lexical_cache_write (const char *dir, const char *path, const tk_model_t *m, size_t n,
                     const double *z, const tk_lexical_t *lex)
{
   tk_wbuf_t b = {0};
   tk_error_t ignored;
   size_t nl = tk_model_n_logits (m);
   mkdir (dir, 0755); /* a cache that cannot be written only costs time */
   tk_put (&b, "TKLX", 4);
   tk_put_u32 (&b, (uint32_t) n);
   tk_put_u32 (&b, (uint32_t) nl);
   for (size_t i = 0; i < n * nl; i++) {
      tk_put_f32 (&b, (float) z[i]);
   }
   tk_lexical_write (lex, &b);
   if (!b.nomem) {
      tk_write_file_atomic (path, b.data, b.len, &ignored);
   }
   free (b.data);
}

/* The lexical model (m->lex) and its cross-fitted logits of every training
 * example, written at X[i][col ..], rows of width w; the folds are naive
 * Bayes's. Kept in the cache: training it is the slow part of a build. */
static bool
crossfit_lexical (tk_model_t *m, const tk_model_example_t *ex, size_t n, const indexed_t *x,
                  const tk_model_train_options_t *o, float *X, size_t w, size_t col,
                  tk_error_t *err)
{
   size_t nl = tk_model_n_logits (m);
   tk_lexical_data_t d = {ex, n, {x->label[0], x->label[1]}, x->tags,
                          {m->n_labels[0], m->n_labels[1], m->n_labels[2]}, o->lexical_lambda,
                          o->threads};
   double *z = malloc ((n * nl + 1) * sizeof *z);
   unsigned *fold_of = malloc ((n + 1) * sizeof *fold_of);
   char path[4096];
   if (!z || !fold_of) {
      free (z);
      free (fold_of);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   for (size_t i = 0; i < n; i++) {
      fold_of[i] = (unsigned) (((i * 2654435761u) >> 7) % NB_FOLDS);
   }
   if (o->cache_dir) {
      lexical_cache_path (m, ex, n, &d, path, sizeof path, o->cache_dir);
      m->lex = lexical_cache_read (path, m, n, z);
   }
   if (!m->lex && (m->lex = tk_lexical_train (&d, NB_FOLDS, fold_of, z, err)) && o->cache_dir) {
      lexical_cache_write (o->cache_dir, path, m, n, z, m->lex);
   }
   for (size_t i = 0; m->lex && i < n; i++) {
      for (size_t j = 0; j < nl; j++) {
         X[i * w + col + j] = (float) z[i * nl + j];
      }
   }
   free (z);
   free (fold_of);
   return m->lex != NULL;
}

/* The heads of a static or encoder model, from the training vectors (and
 * the cross-fitted logits of naive Bayes when m->nb is set, and of the
 * lexical model with lexical_features). */
static bool
train_heads (tk_model_t *m, const tk_encoder_t *enc, const tk_model_example_t *ex, size_t n,
             const tk_model_train_options_t *o, const indexed_t *x, tk_error_t *err)
{
   size_t nl = tk_model_n_logits (m);
   size_t w = DIM + (m->nb ? nl : 0) + (o->lexical_features ? nl : 0);
   float *v = malloc ((n * DIM + 1) * sizeof *v), *X = malloc ((n * w + 1) * sizeof *X);
   if (!v || !X) {
      free (v);
      free (X);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   bool ok = vectors (m, enc, ex, n, o, v, err);
   for (size_t i = 0; ok && i < n; i++) {
      memcpy (X + i * w, v + i * DIM, DIM * sizeof *X);
   }
   ok = ok && (!m->nb || crossfit_nb (m, ex, n, x, o, X, w, err));
   ok = ok && (!o->lexical_features ||
               crossfit_lexical (m, ex, n, x, o, X, w, DIM + (m->nb ? nl : 0), err));
   if (ok) {
      tk_heads_data_t d = {X, n, w, {m->n_labels[0], m->n_labels[1], m->n_labels[2]},
                           {x->label[0], x->label[1]}, x->tags};
      ok = (m->heads = tk_heads_train (&d, o->folds, err)) != NULL;
   }
   free (v);
   free (X);
   return ok;
}

/* The static table, its IDF from the training texts. */
static bool
make_table (tk_model_t *m, const tk_encoder_t *enc, const tk_model_example_t *ex, size_t n,
            const tk_model_train_options_t *o, tk_error_t *err)
{
   char **texts = calloc (n + 1, sizeof *texts);
   bool ok = texts && (m->table = tk_static_table_distil (enc, o->cache_dir, o->threads, err));
   for (size_t i = 0; ok && i < n; i++) {
      ok = (texts[i] = tk_encoder_ticket_text (ex[i].subject, ex[i].body)) != NULL;
   }
   ok = ok && tk_static_table_fit_idf (m->table, (const char *const *) texts, n);
   for (size_t i = 0; texts && i < n; i++) {
      free (texts[i]);
   }
   free (texts);
   if (!ok && err && err->domain == TK_ERR_NONE) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   }
   return ok;
}

/* Trains the mode's section of m. *enc is the encoder, loaded here in the
 * encoder modes (and handed to m in `encoder` mode). */
static bool
train_mode (tk_model_t *m, tk_encoder_t **enc, const tk_model_example_t *ex, size_t n,
            const tk_model_train_options_t *o, const indexed_t *x, tk_error_t *err)
{
   const uint32_t *const labels[2] = {x->label[0], x->label[1]};
   if ((m->mode == TK_MODEL_NB || o->nb_features) &&
       !(m->nb = tk_nb_train (ex, n, labels, x->tags, m->n_labels, nb_alpha (o), nb_evidence (o), err))) {
      return false;
   }
   if (m->mode == TK_MODEL_NB) {
      return true;
   }
   if (!o->encoder_dir || !*o->encoder_dir) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "encoder_dir",
                          "the %s mode needs the encoder's weights", tk_model_mode_name (m->mode));
      return false;
   }
   if (!(*enc = tk_encoder_load (o->encoder_dir, err))) {
      return false;
   }
   memcpy (m->weights_sha, tk_encoder_sha256 (*enc), TK_SHA256_HEX);
   if (m->mode == TK_MODEL_STATIC && !make_table (m, *enc, ex, n, o, err)) {
      return false;
   }
   return train_heads (m, *enc, ex, n, o, x, err);
}

tk_model_t *
tk_model_train (const tk_model_example_t *ex, size_t n, const tk_model_train_options_t *options,
                tk_error_t *err)
{
   static const tk_model_train_options_t defaults = {0};
   const tk_model_train_options_t *o = options ? options : &defaults;
   tk_model_t *m = NULL;
   tk_encoder_t *enc = NULL;
   indexed_t x = {0};
   bool ok = false;
   if (n == 0 || (unsigned) o->mode > TK_MODEL_ENCODER || o->topic_threshold >= 1) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    n ? "a bad mode or a topic threshold not below 1" : "no training examples");
      return NULL;
   }
   if (!(m = tk_model_new_empty ())) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   m->mode = o->mode;
   m->topic_threshold = o->topic_threshold > 0 ? (float) o->topic_threshold : 0.5f;
   m->max_topic_tags = o->max_topic_tags ? o->max_topic_tags : 3;
   m->max_topic_tags = m->max_topic_tags > TK_TICKET_MAX_TAGS ? TK_TICKET_MAX_TAGS : m->max_topic_tags;
   if (!collect_labels (m, ex, n, err) || !index_examples (m, ex, n, &x)) {
      if (err && err->domain == TK_ERR_NONE) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      }
      goto done;
   }
   if (!train_mode (m, &enc, ex, n, o, &x, err) ||
       (o->n_calibration && !calibrate (m, enc, o, err)) || !set_version (m, ex, n, o, err)) {
      goto done;
   }
   if (m->mode == TK_MODEL_ENCODER) {
      m->encoder = enc;
      enc = NULL;
   }
   ok = true;
done:
   indexed_free (&x);
   tk_encoder_destroy (enc);
   if (!ok) {
      tk_model_destroy (m);
      m = NULL;
   }
   return m;
}
