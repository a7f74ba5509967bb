/* model.c - the local model of model.h: lifetime, scoring and choices, and
 * the model file. Training is in model_train.c. */
#include "model_internal.h"

#include "hash.h"

#include "model_io.h"

#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_MAGIC "TKNB"
#define MODEL_FORMAT 3
#define MODEL_FORMAT_OLDEST 2 /* format 2: no lexical model */

static const char *const mode_names[] = {"nb", "static", "encoder"};

tk_model_t *
tk_model_new_empty (void)
{
   tk_model_t *m = calloc (1, sizeof *m);
   if (m) {
      for (int f = 0; f < TK_MODEL_FIELDS; f++) {
         m->temperature[f] = 1.0f;
      }
   }
   return m;
}

void
tk_model_destroy (tk_model_t *model)
{
   if (!model) {
      return;
   }
   for (int f = 0; f < TK_MODEL_FIELDS; f++) {
      for (size_t i = 0; i < model->n_labels[f]; i++) {
         free (model->labels[f][i]);
      }
      free (model->labels[f]);
   }
   free (model->version);
   tk_nb_destroy (model->nb);
   tk_lexical_destroy (model->lex);
   tk_heads_destroy (model->heads);
   tk_static_table_destroy (model->table);
   tk_encoder_destroy (model->encoder);
   free (model);
}

const char *
tk_model_version (const tk_model_t *model)
{
   return model->version;
}

tk_model_mode_t
tk_model_mode (const tk_model_t *model)
{
   return model->mode;
}

const char *
tk_model_mode_name (tk_model_mode_t mode)
{
   return (unsigned) mode < 3 ? mode_names[mode] : "?";
}

bool
tk_model_mode_parse (const char *name, tk_model_mode_t *mode)
{
   for (int i = 0; i < 3; i++) {
      if (strcmp (name, mode_names[i]) == 0) {
         *mode = (tk_model_mode_t) i;
         return true;
      }
   }
   return false;
}

double
tk_model_temperature (const tk_model_t *model, tk_model_field_t field)
{
   return model->temperature[field];
}

double
tk_model_lambda (const tk_model_t *model, tk_model_field_t field)
{
   return model->heads ? tk_heads_lambda (model->heads, field) : 0.0;
}

size_t
tk_model_labels (const tk_model_t *model, tk_model_field_t field, const char *const **labels)
{
   *labels = (const char *const *) model->labels[field];
   return model->n_labels[field];
}

size_t
tk_model_n_logits (const tk_model_t *m)
{
   return m->n_labels[0] + m->n_labels[1] + m->n_labels[2];
}

/* ------------------------------------------------------------------------ */
/* Scoring. */

bool
tk_model_vector (const tk_model_t *m, const char *subject, const char *body, float *out,
                 tk_error_t *err)
{
   if (m->mode == TK_MODEL_ENCODER) {
      return tk_encoder_embed_ticket (m->encoder, subject, body, out, err);
   }
   char *text = tk_encoder_ticket_text (subject, body);
   bool ok = text && tk_static_table_embed (m->table, text, strlen (text), out);
   free (text);
   if (!ok) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   }
   return ok;
}

/* The logits of a static or encoder model from the ticket's vector v (its
 * first TK_ENCODER_DIM floats; room for the rest): naive Bayes's and the
 * lexical model's logits appended when the model has them, then the heads. */
static bool
logits_of_vector (const tk_model_t *m, const char *subject, const char *body, float *v,
                  double *out)
{
   double z[3 * TK_MODEL_MAX_LABELS];
   size_t nl = tk_model_n_logits (m), at = TK_ENCODER_DIM;
   if (m->nb) { /* nb_features: naive Bayes's logits after the vector */
      tk_nb_logits (m->nb, subject, body, z);
      for (size_t i = 0; i < nl; i++) {
         v[at++] = (float) z[i];
      }
   }
   if (m->lex) { /* lexical_features: then the lexical model's */
      if (!tk_lexical_logits (m->lex, subject, body, z)) {
         return false;
      }
      for (size_t i = 0; i < nl; i++) {
         v[at++] = (float) z[i];
      }
   }
   tk_heads_logits (m->heads, v, out);
   return true;
}

/* The room logits_of_vector needs for v. */
#define VECTOR_FLOATS (TK_ENCODER_DIM + 2 * 3 * TK_MODEL_MAX_LABELS)

bool
tk_model_logits (const tk_model_t *m, const char *subject, const char *body, double *out)
{
   if (m->mode == TK_MODEL_NB) {
      tk_nb_logits (m->nb, subject, body, out);
      return true;
   }
   float v[VECTOR_FLOATS];
   tk_error_t err;
   return tk_model_vector (m, subject, body, v, &err) &&
          logits_of_vector (m, subject, body, v, out);
}

static void
softmax (const double *in, double t, double *out, size_t n)
{
   double max = -INFINITY, sum = 0;
   for (size_t i = 0; i < n; i++) {
      max = in[i] > max ? in[i] : max;
   }
   for (size_t i = 0; i < n; i++) {
      out[i] = exp ((in[i] - max) / t);
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

/* Calibrated probabilities from raw logits z. */
static void
scores_of_logits (const tk_model_t *model, const double *z, tk_model_scores_t *out)
{
   size_t ns = model->n_labels[0], np = model->n_labels[1];
   softmax (z, model->temperature[0], out->sentiment, ns);
   softmax (z + ns, model->temperature[1], out->priority, np);
   for (size_t t = 0; t < model->n_labels[2]; t++) {
      out->topic[t] = sigmoid (z[ns + np + t] / model->temperature[2]);
   }
}

bool
tk_model_scores (const tk_model_t *model, const char *subject, const char *body,
                 tk_model_scores_t *out)
{
   double z[3 * TK_MODEL_MAX_LABELS];
   memset (out, 0, sizeof *out);
   if (!tk_model_logits (model, subject, body, z)) {
      return false;
   }
   scores_of_logits (model, z, out);
   return true;
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

/* The chosen tags (model.h) into out; returns false if memory runs out. */
static bool
choose_tags (const tk_model_t *model, const tk_model_scores_t *s, tk_classification_t *out)
{
   size_t nt = model->n_labels[TK_MODEL_TOPIC], order[TK_MODEL_MAX_LABELS];
   for (size_t i = 0; i < nt; i++) { /* insertion sort by falling probability */
      size_t j = i;
      while (j > 0 && s->topic[order[j - 1]] < s->topic[i]) {
         order[j] = order[j - 1];
         j--;
      }
      order[j] = i;
   }
   size_t cap = model->max_topic_tags < TK_TICKET_MAX_TAGS ? model->max_topic_tags
                                                           : TK_TICKET_MAX_TAGS;
   for (size_t k = 0; k < nt && out->n_topic_tags < cap; k++) {
      size_t t = order[k];
      if (k > 0 && s->topic[t] < model->topic_threshold) {
         break;
      }
      if (!(out->topic_tags[out->n_topic_tags] = strdup (model->labels[TK_MODEL_TOPIC][t]))) {
         return false;
      }
      out->n_topic_tags++;
   }
   return true;
}

bool
tk_model_classify (const tk_model_t *model, const char *subject, const char *body,
                   tk_classification_t *out, tk_confidence_t *out_conf)
{
   return tk_model_classify_scores (model, subject, body, out, out_conf, NULL);
}

/* The choices and confidences of model.h from a ticket's scores s. */
static bool
choose (const tk_model_t *model, const tk_model_scores_t *s, tk_classification_t *out,
        tk_confidence_t *out_conf)
{
   size_t si = argmax (s->sentiment, model->n_labels[TK_MODEL_SENTIMENT]);
   size_t pi = argmax (s->priority, model->n_labels[TK_MODEL_PRIORITY]);
   if (!choose_tags (model, s, out) ||
       !(out->sentiment = strdup (model->labels[TK_MODEL_SENTIMENT][si])) ||
       !(out->priority = strdup (model->labels[TK_MODEL_PRIORITY][pi]))) {
      tk_classification_clear (out);
      return false;
   }
   if (out_conf) {
      double topic = 1.0;
      for (size_t t = 0; t < model->n_labels[TK_MODEL_TOPIC]; t++) {
         double sure = s->topic[t] >= 0.5 ? s->topic[t] : 1.0 - s->topic[t];
         topic = sure < topic ? sure : topic;
      }
      out_conf->sentiment = s->sentiment[si];
      out_conf->priority = s->priority[pi];
      out_conf->topic = topic;
   }
   return true;
}

bool
tk_model_classify_scores (const tk_model_t *model, const char *subject, const char *body,
                          tk_classification_t *out, tk_confidence_t *out_conf,
                          tk_model_scores_t *out_scores)
{
   tk_model_scores_t s;
   if (!tk_model_scores (model, subject, body, &s)) {
      return false;
   }
   if (out_scores) {
      *out_scores = s;
   }
   return choose (model, &s, out, out_conf);
}

/* The encoder's tickets embedded per call of tk_model_classify_many: a
 * bound on its vectors' memory (1.5 kB a ticket), far above one pass. */
#define MANY_CHUNK 256

/* Encoder mode: embeds tickets [0 .. n) (n <= MANY_CHUNK) in ragged passes,
 * then the rest of tk_model_classify per ticket. */
static bool
classify_encoder_chunk (const tk_model_t *model, const char *const *subjects,
                        const char *const *bodies, size_t n, tk_classification_t *out,
                        tk_confidence_t *out_conf, float *vecs)
{
   tk_error_t err;
   if (!tk_encoder_embed_tickets (model->encoder, subjects, bodies, n, vecs, &err)) {
      return false;
   }
   for (size_t i = 0; i < n; i++) {
      float v[VECTOR_FLOATS];
      double z[3 * TK_MODEL_MAX_LABELS];
      tk_model_scores_t s;
      memset (&s, 0, sizeof s);
      memcpy (v, vecs + i * TK_ENCODER_DIM, TK_ENCODER_DIM * sizeof *v);
      if (!logits_of_vector (model, subjects[i], bodies[i], v, z)) {
         return false;
      }
      scores_of_logits (model, z, &s);
      if (!choose (model, &s, &out[i], out_conf ? &out_conf[i] : NULL)) {
         return false;
      }
   }
   return true;
}

bool
tk_model_classify_many (const tk_model_t *model, const char *const *subjects,
                        const char *const *bodies, size_t n, tk_classification_t *out,
                        tk_confidence_t *out_conf)
{
   bool ok = true;
   float *vecs = NULL;
   if (model->mode != TK_MODEL_ENCODER) {
      for (size_t i = 0; i < n && ok; i++) {
         ok = tk_model_classify (model, subjects[i], bodies[i], &out[i],
                                 out_conf ? &out_conf[i] : NULL);
      }
   } else if (n > 0) {
      size_t chunk = n < MANY_CHUNK ? n : MANY_CHUNK;
      ok = (vecs = malloc (chunk * TK_ENCODER_DIM * sizeof *vecs)) != NULL;
      for (size_t i = 0; i < n && ok; i += chunk) {
         size_t k = n - i < chunk ? n - i : chunk;
         ok = classify_encoder_chunk (model, subjects + i, bodies + i, k, out + i,
                                      out_conf ? out_conf + i : NULL, vecs);
      }
   }
   if (!ok) {
      for (size_t i = 0; i < n; i++) {
         tk_classification_clear (&out[i]);
      }
   }
   free (vecs);
   return ok;
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
   return (double) tk_hash_mix32 (h) / 4294967296.0 < fraction;
}

/* ------------------------------------------------------------------------ */
/* The file. */

bool
tk_model_save (const tk_model_t *model, const char *path, tk_error_t *err)
{
   tk_wbuf_t b = {0};
   tk_put (&b, MODEL_MAGIC, 4);
   tk_put_u32 (&b, MODEL_FORMAT);
   tk_put_u32 (&b, (uint32_t) model->mode);
   tk_put_str (&b, model->version);
   tk_put_u32 (&b, (uint32_t) model->max_topic_tags);
   tk_put_f32 (&b, model->topic_threshold);
   for (int f = 0; f < TK_MODEL_FIELDS; f++) {
      tk_put_u32 (&b, (uint32_t) model->n_labels[f]);
      for (size_t i = 0; i < model->n_labels[f]; i++) {
         tk_put_str (&b, model->labels[f][i]);
      }
   }
   for (int f = 0; f < TK_MODEL_FIELDS; f++) {
      tk_put_f32 (&b, model->temperature[f]);
   }
   if (model->mode == TK_MODEL_NB) {
      tk_nb_write (model->nb, &b);
   } else {
      if (model->mode == TK_MODEL_ENCODER) {
         tk_put_str (&b, model->weights_sha);
      }
      tk_heads_write (model->heads, &b);
      tk_put_u32 (&b, model->nb != NULL);
      if (model->nb) {
         tk_nb_write (model->nb, &b);
      }
      tk_put_u32 (&b, model->lex != NULL);
      if (model->lex) {
         tk_lexical_write (model->lex, &b);
      }
      if (model->mode == TK_MODEL_STATIC) {
         tk_static_table_write (model->table, &b);
      }
   }
   if (!b.nomem) {
      tk_put_u32 (&b, tk_fnv1a32 (b.data, b.len));
   }
   bool ok = false;
   if (b.nomem) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory serialising the model");
   } else {
      ok = tk_write_file_atomic (path, b.data, b.len, err);
   }
   free (b.data);
   return ok;
}

/* The header and labels, up to the mode's section. */
static bool
read_common (tk_model_t *m, tk_rbuf_t *r)
{
   uint32_t v, max_tags;
   if (!tk_get_u32 (r, &v) || v > TK_MODEL_ENCODER || !tk_get_str (r, 64, &m->version) ||
       !tk_get_u32 (r, &max_tags) || max_tags == 0 || max_tags > TK_TICKET_MAX_TAGS ||
       !tk_get_f32 (r, &m->topic_threshold) ||
       !(m->topic_threshold > 0 && m->topic_threshold < 1)) {
      return false;
   }
   m->mode = (tk_model_mode_t) v;
   m->max_topic_tags = max_tags;
   for (int f = 0; f < TK_MODEL_FIELDS; f++) {
      if (!tk_get_u32 (r, &v) || v == 0 || v > TK_MODEL_MAX_LABELS ||
          !(m->labels[f] = calloc (v, sizeof (char *)))) {
         return false;
      }
      for (uint32_t i = 0; i < v; i++) {
         if (!tk_get_str (r, TK_LABEL_MAX, &m->labels[f][i])) {
            return false;
         }
         m->n_labels[f]++;
      }
   }
   for (int f = 0; f < TK_MODEL_FIELDS; f++) {
      if (!tk_get_f32 (r, &m->temperature[f]) || !(m->temperature[f] > 0)) {
         return false;
      }
   }
   return true;
}

/* The folder of the weights: encoder_dir, or the one beside path. */
static void
weights_dir (const char *path, const char *encoder_dir, char *out, size_t cap)
{
   if (encoder_dir && *encoder_dir) {
      snprintf (out, cap, "%s", encoder_dir);
      return;
   }
   char copy[PATH_MAX];
   snprintf (copy, sizeof copy, "%s", path);
   snprintf (out, cap, "%s/%s", dirname (copy), TK_MODEL_ENCODER_DIRNAME);
}

/* The encoder of an `encoder` model, checked against the pinned sum. */
static bool
load_weights (tk_model_t *m, const char *dir, tk_error_t *err)
{
   tk_error_t lerr = {0};
   if (!(m->encoder = tk_encoder_load (dir, &lerr))) {
      tk_error_set_field (err, lerr.domain, lerr.code, "TRIAGE_ENCODER_PATH",
                          "the model needs the encoder's weights in %s: %s", dir, lerr.message);
      return false;
   }
   if (strcmp (tk_encoder_sha256 (m->encoder), m->weights_sha) != 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "TRIAGE_ENCODER_PATH",
                          "%s/%s has SHA-256 %.16s..., the model was trained with %.16s...", dir,
                          TK_ENCODER_FILE, tk_encoder_sha256 (m->encoder), m->weights_sha);
      return false;
   }
   return true;
}

static bool
read_section (tk_model_t *m, tk_rbuf_t *r, uint32_t format)
{
   char *sha = NULL;
   if (m->mode == TK_MODEL_NB) {
      return (m->nb = tk_nb_read (r, m->n_labels)) != NULL;
   }
   if (m->mode == TK_MODEL_ENCODER) {
      if (!tk_get_str (r, 64, &sha) || strlen (sha) != 64) {
         free (sha);
         return false;
      }
      memcpy (m->weights_sha, sha, TK_SHA256_HEX);
      free (sha);
   }
   uint32_t has_nb, has_lex = 0;
   if (!(m->heads = tk_heads_read (r, m->n_labels)) || !tk_get_u32 (r, &has_nb) || has_nb > 1 ||
       (has_nb && !(m->nb = tk_nb_read (r, m->n_labels))) ||
       (format >= 3 && (!tk_get_u32 (r, &has_lex) || has_lex > 1)) ||
       (has_lex && !(m->lex = tk_lexical_read (r, m->n_labels))) ||
       tk_heads_dim (m->heads) != TK_ENCODER_DIM + (has_nb + has_lex) * tk_model_n_logits (m)) {
      return false;
   }
   return m->mode != TK_MODEL_STATIC || (m->table = tk_static_table_read (r)) != NULL;
}

tk_model_t *
tk_model_load_with (const char *path, const char *encoder_dir, tk_error_t *err)
{
   tk_model_t *m = NULL;
   size_t len = 0;
   uint32_t v = 0, sum = 0;
   unsigned char *data = tk_read_whole_file (path, &len, err);
   if (!data) {
      return NULL;
   }
   if (len < 8 || memcmp (data, MODEL_MAGIC, 4) != 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s is not a triage model file", path);
      goto fail;
   }
   tk_rbuf_t tail = {data + len - 4, 4}, r = {data + 4, len - 8};
   tk_get_u32 (&tail, &sum);
   if (tk_fnv1a32 (data, len - 4) != sum) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path",
                          "%s is corrupt or truncated (checksum mismatch)", path);
      goto fail;
   }
   if (!tk_get_u32 (&r, &v) || v < MODEL_FORMAT_OLDEST || v > MODEL_FORMAT) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path",
                          "%s: unsupported model format %u (retrain with triagectl train)", path, v);
      goto fail;
   }
   if (!(m = tk_model_new_empty ()) || !read_common (m, &r) || !read_section (m, &r, v) || r.left) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: malformed model file", path);
      goto fail;
   }
   free (data);
   data = NULL;
   if (m->mode == TK_MODEL_ENCODER) {
      char dir[PATH_MAX + 64];
      weights_dir (path, encoder_dir, dir, sizeof dir);
      if (!load_weights (m, dir, err)) {
         goto fail;
      }
   }
   return m;
fail:
   free (data);
   tk_model_destroy (m);
   return NULL;
}

tk_model_t *
tk_model_load (const char *path, tk_error_t *err)
{
   return tk_model_load_with (path, NULL, err);
}
