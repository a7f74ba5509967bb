/* encoder.c - the BERT forward pass of encoder.h, with OpenBLAS.
 *
 * Activations are row-major [rows][width] float matrices, one row per token
 * of every sequence of a batch; a linear layer of PyTorch's [out][in] weight
 * is x W^T + b, one cblas_sgemm over all rows at once. Attention runs per
 * sequence and head on strided views of the query, key and value rows. */
#include "encoder.h"

#include "blas.h"
#include "safetensors.h"
#include "sha256_file.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM TK_ENCODER_DIM
#define N_LAYERS 6
#define N_HEADS 12
#define HEAD_DIM (DIM / N_HEADS)
#define FFN 1536
#define VOCAB 30522
#define LN_EPS 1e-12f

typedef struct {
   const float *q_w, *q_b, *k_w, *k_b, *v_w, *v_b;
   const float *ao_w, *ao_b, *aln_g, *aln_b; /* attention output, its LayerNorm */
   const float *i_w, *i_b, *o_w, *o_b;       /* feed-forward in and out */
   const float *oln_g, *oln_b;
} layer_t;

struct tk_encoder {
   tk_safetensors_t *st;
   tk_wordpiece_t *wp;
   char sha256[TK_SHA256_HEX];
   const float *word, *pos, *type, *eln_g, *eln_b;
   layer_t layers[N_LAYERS];
};

/* Per-call scratch: every activation of one batch. */
typedef struct {
   float *x, *q, *k, *v, *ctx, *tmp, *ffn, *scores;
} scratch_t;

/* GELU, x Phi(x) with the exact erf, from a table: erff was 16 % of a
 * ticket's time. 8,192 steps over [-8, 8] with linear interpolation: the
 * error is below h^2/8 max|GELU''| = 4e-7, under float rounding of the
 * activations' size; past +-8, GELU is x or 0 to float precision. */
#define GELU_RANGE 8.0
#define GELU_STEPS 8192
static float gelu_table[GELU_STEPS + 2];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void
fill_gelu_table (void)
{
   for (int i = 0; i <= GELU_STEPS + 1; i++) {
      double x = -GELU_RANGE + 2.0 * GELU_RANGE * i / GELU_STEPS;
      gelu_table[i] = (float) (0.5 * x * (1.0 + erf (x * M_SQRT1_2)));
   }
}

void
tk_encoder_destroy (tk_encoder_t *enc)
{
   if (enc) {
      tk_wordpiece_destroy (enc->wp);
      tk_safetensors_close (enc->st);
      free (enc);
   }
}

const tk_wordpiece_t *
tk_encoder_tokenizer (const tk_encoder_t *enc)
{
   return enc->wp;
}

const char *
tk_encoder_sha256 (const tk_encoder_t *enc)
{
   return enc->sha256;
}

/* The tensor called name (inside "encoder.layer.<layer>." unless layer < 0)
 * of shape rows x cols, or of length rows when cols is 0. */
static const float *
tensor (tk_encoder_t *enc, size_t rows, size_t cols, tk_error_t *err, const char *name, int layer)
{
   char full[128];
   size_t shape[2] = {rows, cols};
   if (layer >= 0) {
      snprintf (full, sizeof full, "encoder.layer.%d.%s", layer, name);
   } else {
      snprintf (full, sizeof full, "%s", name);
   }
   return tk_safetensors_f32 (enc->st, full, shape, cols ? 2 : 1, err);
}

static bool
bind_layer (tk_encoder_t *enc, int i, tk_error_t *err)
{
   layer_t *l = &enc->layers[i];
#define T(field, r, c, suffix) \
   if (!(l->field = tensor (enc, r, c, err, suffix, i))) return false
   T (q_w, DIM, DIM, "attention.self.query.weight");
   T (q_b, DIM, 0, "attention.self.query.bias");
   T (k_w, DIM, DIM, "attention.self.key.weight");
   T (k_b, DIM, 0, "attention.self.key.bias");
   T (v_w, DIM, DIM, "attention.self.value.weight");
   T (v_b, DIM, 0, "attention.self.value.bias");
   T (ao_w, DIM, DIM, "attention.output.dense.weight");
   T (ao_b, DIM, 0, "attention.output.dense.bias");
   T (aln_g, DIM, 0, "attention.output.LayerNorm.weight");
   T (aln_b, DIM, 0, "attention.output.LayerNorm.bias");
   T (i_w, FFN, DIM, "intermediate.dense.weight");
   T (i_b, FFN, 0, "intermediate.dense.bias");
   T (o_w, DIM, FFN, "output.dense.weight");
   T (o_b, DIM, 0, "output.dense.bias");
   T (oln_g, DIM, 0, "output.LayerNorm.weight");
   T (oln_b, DIM, 0, "output.LayerNorm.bias");
#undef T
   return true;
}

tk_encoder_t *
tk_encoder_load (const char *dir, tk_error_t *err)
{
   char path[PATH_MAX];
   tk_encoder_t *enc = calloc (1, sizeof *enc);
   if (!enc) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   if (!tk_blas_load (err)) {
      goto fail;
   }
   pthread_once (&gelu_once, fill_gelu_table);
   snprintf (path, sizeof path, "%s/%s", dir, TK_ENCODER_FILE);
   if (!tk_sha256_file (path, enc->sha256, err) || !(enc->st = tk_safetensors_open (path, err))) {
      goto fail;
   }
   snprintf (path, sizeof path, "%s/%s", dir, TK_ENCODER_TOKENIZER);
   if (!(enc->wp = tk_wordpiece_load (path, err))) {
      goto fail;
   }
   if (tk_wordpiece_size (enc->wp) != VOCAB ||
       !(enc->word = tensor (enc, VOCAB, DIM, err, "embeddings.word_embeddings.weight", -1)) ||
       !(enc->pos = tensor (enc, 512, DIM, err, "embeddings.position_embeddings.weight", -1)) ||
       !(enc->type = tensor (enc, 2, DIM, err, "embeddings.token_type_embeddings.weight", -1)) ||
       !(enc->eln_g = tensor (enc, DIM, 0, err, "embeddings.LayerNorm.weight", -1)) ||
       !(enc->eln_b = tensor (enc, DIM, 0, err, "embeddings.LayerNorm.bias", -1))) {
      if (err && err->domain == TK_ERR_NONE) {
         tk_error_set (err, TK_ERR_INVALID, 0, "%s: a vocabulary of %zu pieces, not %d", path,
                       tk_wordpiece_size (enc->wp), VOCAB);
      }
      goto fail;
   }
   for (int i = 0; i < N_LAYERS; i++) {
      if (!bind_layer (enc, i, err)) {
         goto fail;
      }
   }
   return enc;
fail:
   tk_encoder_destroy (enc);
   return NULL;
}

/* ------------------------------------------------------------------------ */
/* The forward pass. */

/* out[rows][n] = in[rows][k] w^T + b, w being PyTorch's [n][k]. */
static void
linear (const float *in, size_t rows, size_t k, const float *w, const float *b, size_t n, float *out)
{
   for (size_t r = 0; r < rows; r++) {
      memcpy (out + r * n, b, n * sizeof *out);
   }
   tk_sgemm (false, true, (int) rows, (int) n, (int) k, 1.0f, in, (int) k, w, (int) k, 1.0f, out,
             (int) n);
}

/* x = LayerNorm(x + add) row by row (add may be NULL). */
static void
layer_norm (float *x, const float *add, size_t rows, const float *g, const float *b)
{
   for (size_t r = 0; r < rows; r++) {
      float *row = x + r * DIM;
      double mean = 0, var = 0;
      for (size_t i = 0; i < DIM; i++) {
         row[i] += add ? add[r * DIM + i] : 0.0f;
         mean += row[i];
      }
      mean /= DIM;
      for (size_t i = 0; i < DIM; i++) {
         double d = row[i] - mean;
         var += d * d;
      }
      float inv = (float) (1.0 / sqrt (var / DIM + LN_EPS));
      for (size_t i = 0; i < DIM; i++) {
         row[i] = (float) (row[i] - mean) * inv * g[i] + b[i];
      }
   }
}

static void
softmax_rows (float *s, size_t rows, size_t cols)
{
   for (size_t r = 0; r < rows; r++) {
      float *row = s + r * cols, max = row[0], sum = 0;
      for (size_t c = 1; c < cols; c++) {
         max = row[c] > max ? row[c] : max;
      }
      for (size_t c = 0; c < cols; c++) {
         row[c] = expf (row[c] - max);
         sum += row[c];
      }
      for (size_t c = 0; c < cols; c++) {
         row[c] /= sum;
      }
   }
}

/* Self-attention of every sequence and head: s->ctx from s->q, k, v. */
static void
attention (scratch_t *s, size_t n_seq, size_t len)
{
   const float scale = 1.0f / sqrtf ((float) HEAD_DIM);
   for (size_t b = 0; b < n_seq; b++) {
      for (size_t h = 0; h < N_HEADS; h++) {
         size_t off = b * len * DIM + h * HEAD_DIM;
         tk_sgemm (false, true, (int) len, (int) len, HEAD_DIM, scale, s->q + off, DIM, s->k + off,
                   DIM, 0.0f, s->scores, (int) len);
         softmax_rows (s->scores, len, len);
         tk_sgemm (false, false, (int) len, HEAD_DIM, (int) len, 1.0f, s->scores, (int) len,
                   s->v + off, DIM, 0.0f, s->ctx + off, DIM);
      }
   }
}

static void
gelu (float *x, size_t n)
{
   const float scale = (float) (GELU_STEPS / (2.0 * GELU_RANGE));
   for (size_t i = 0; i < n; i++) {
      float v = x[i];
      if (v >= (float) GELU_RANGE) {
         continue;
      }
      if (v <= (float) -GELU_RANGE) {
         x[i] = 0.0f;
         continue;
      }
      float pos = (v + (float) GELU_RANGE) * scale;
      int k = (int) pos;
      float frac = pos - (float) k;
      x[i] = gelu_table[k] + frac * (gelu_table[k + 1] - gelu_table[k]);
   }
}

static void
run_layer (const layer_t *l, scratch_t *s, size_t n_seq, size_t len)
{
   size_t rows = n_seq * len;
   linear (s->x, rows, DIM, l->q_w, l->q_b, DIM, s->q);
   linear (s->x, rows, DIM, l->k_w, l->k_b, DIM, s->k);
   linear (s->x, rows, DIM, l->v_w, l->v_b, DIM, s->v);
   attention (s, n_seq, len);
   linear (s->ctx, rows, DIM, l->ao_w, l->ao_b, DIM, s->tmp);
   layer_norm (s->x, s->tmp, rows, l->aln_g, l->aln_b);
   linear (s->x, rows, DIM, l->i_w, l->i_b, FFN, s->ffn);
   gelu (s->ffn, rows * FFN);
   linear (s->ffn, rows, FFN, l->o_w, l->o_b, DIM, s->tmp);
   layer_norm (s->x, s->tmp, rows, l->oln_g, l->oln_b);
}

void
tk_vec_normalize (float *v, size_t n)
{
   double ss = 0;
   for (size_t i = 0; i < n; i++) {
      ss += (double) v[i] * v[i];
   }
   if (ss > 0) {
      float inv = (float) (1.0 / sqrt (ss));
      for (size_t i = 0; i < n; i++) {
         v[i] *= inv;
      }
   }
}

bool
tk_encoder_embed_ids (const tk_encoder_t *enc, const int32_t *ids, size_t n_seq, size_t seq_len,
                      float *out, tk_error_t *err)
{
   if (n_seq == 0 || seq_len == 0 || seq_len > TK_ENCODER_MAX_TOKENS || n_seq > (1u << 20)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "%zu sequences of %zu tokens", n_seq, seq_len);
      return false;
   }
   for (size_t i = 0; i < n_seq * seq_len; i++) {
      if (ids[i] < 0 || ids[i] >= VOCAB) {
         tk_error_set (err, TK_ERR_INVALID, 0, "token id %d is outside the vocabulary", ids[i]);
         return false;
      }
   }
   size_t rows = n_seq * seq_len;
   size_t floats = rows * DIM * 6 + rows * FFN + seq_len * seq_len;
   float *mem = malloc (floats * sizeof *mem);
   if (!mem) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory for %zu tokens", rows);
      return false;
   }
   scratch_t s = {mem, mem + rows * DIM, mem + 2 * rows * DIM, mem + 3 * rows * DIM,
                  mem + 4 * rows * DIM, mem + 5 * rows * DIM, mem + 6 * rows * DIM,
                  mem + 6 * rows * DIM + rows * FFN};
   for (size_t r = 0; r < rows; r++) {
      const float *w = enc->word + (size_t) ids[r] * DIM, *p = enc->pos + (r % seq_len) * DIM;
      for (size_t i = 0; i < DIM; i++) {
         s.x[r * DIM + i] = w[i] + p[i] + enc->type[i];
      }
   }
   layer_norm (s.x, NULL, rows, enc->eln_g, enc->eln_b);
   for (int l = 0; l < N_LAYERS; l++) {
      run_layer (&enc->layers[l], &s, n_seq, seq_len);
   }
   for (size_t b = 0; b < n_seq; b++) {
      float *o = out + b * DIM;
      memset (o, 0, DIM * sizeof *o);
      for (size_t t = 0; t < seq_len; t++) {
         for (size_t i = 0; i < DIM; i++) {
            o[i] += s.x[(b * seq_len + t) * DIM + i];
         }
      }
      for (size_t i = 0; i < DIM; i++) {
         o[i] /= (float) seq_len;
      }
      tk_vec_normalize (o, DIM);
   }
   free (mem);
   return true;
}

/* ------------------------------------------------------------------------ */
/* Texts and tickets. */

bool
tk_encoder_embed (const tk_encoder_t *enc, const char *text, size_t len,
                  tk_encoder_windows_t windows, float *out, tk_error_t *err)
{
   const size_t w = TK_ENCODER_MAX_TOKENS - 2;
   tk_token_ids_t pieces = {0};
   int32_t *seq = NULL;
   bool ok = false;
   if (!tk_wordpiece_encode (enc->wp, text, len, &pieces) ||
       !(seq = malloc (2 * TK_ENCODER_MAX_TOKENS * sizeof *seq))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory tokenising");
      goto done;
   }
   size_t n_win = pieces.n > w && windows == TK_ENCODER_HEAD_TAIL ? 2 : 1;
   size_t n = pieces.n < w ? pieces.n : w;
   for (size_t k = 0; k < n_win; k++) {
      int32_t *s = seq + k * (n + 2);
      s[0] = tk_wordpiece_cls (enc->wp);
      if (n) { /* an empty text has no pieces (and ids may be NULL) */
         memcpy (s + 1, pieces.ids + (k ? pieces.n - n : 0), n * sizeof *s);
      }
      s[n + 1] = tk_wordpiece_sep (enc->wp);
   }
   float pooled[2 * DIM];
   if (!tk_encoder_embed_ids (enc, seq, n_win, n + 2, pooled, err)) {
      goto done;
   }
   for (size_t i = 0; i < DIM; i++) {
      out[i] = n_win == 2 ? 0.5f * (pooled[i] + pooled[DIM + i]) : pooled[i];
   }
   tk_vec_normalize (out, DIM);
   ok = true;
done:
   free (pieces.ids);
   free (seq);
   return ok;
}

char *
tk_encoder_ticket_text (const char *subject, const char *body)
{
   char *text = NULL;
   if (asprintf (&text, "%s\n%s", subject ? subject : "", body ? body : "") < 0) {
      return NULL;
   }
   return text;
}

bool
tk_encoder_embed_ticket (const tk_encoder_t *enc, const char *subject, const char *body,
                         float *out, tk_error_t *err)
{
   char *text = tk_encoder_ticket_text (subject, body);
   if (!text) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   bool ok = tk_encoder_embed (enc, text, strlen (text), TK_ENCODER_HEAD_TAIL, out, err);
   free (text);
   return ok;
}
