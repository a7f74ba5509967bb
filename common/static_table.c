/* static_table.c - distilling, caching and using the static table of
 * static_table.h. */
#include "static_table.h"

#include "sha256_file.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DIM TK_ENCODER_DIM
#define BATCH 256
#define CACHE_MAGIC "TKST"

/* binary16 -> float for every half: embedding reads one per dimension and
 * piece, so a table lookup (256 KB, filled once) beats converting. */
static float half_to_float[65536];
static pthread_once_t half_once = PTHREAD_ONCE_INIT;

static void
fill_half_table (void)
{
   for (uint32_t h = 0; h < 65536; h++) {
      half_to_float[h] = tk_f16_to_f32 ((uint16_t) h);
   }
}

struct tk_static_table {
   tk_wordpiece_t *wp;
   size_t n;
   float *weight;   /* [n] */
   uint16_t *vecs;  /* [n][DIM], binary16 */
};

void
tk_static_table_destroy (tk_static_table_t *t)
{
   if (t) {
      tk_wordpiece_destroy (t->wp);
      free (t->weight);
      free (t->vecs);
      free (t);
   }
}

/* A table over the pieces of wp (copied), weights 1, vectors unset. */
static tk_static_table_t *
table_new (const char *const *pieces, size_t n, tk_error_t *err)
{
   tk_static_table_t *t = calloc (1, sizeof *t);
   if (!t || !(t->weight = malloc (n * sizeof *t->weight)) ||
       !(t->vecs = malloc (n * DIM * sizeof *t->vecs))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory for the static table");
      tk_static_table_destroy (t);
      return NULL;
   }
   if (!(t->wp = tk_wordpiece_new (pieces, n, err))) {
      tk_static_table_destroy (t);
      return NULL;
   }
   t->n = n;
   for (size_t i = 0; i < n; i++) {
      t->weight[i] = 1.0f;
   }
   pthread_once (&half_once, fill_half_table);
   return t;
}

typedef struct {
   const tk_encoder_t *enc;
   tk_static_table_t *t;
   size_t from, to;
   bool ok;
   tk_error_t err;
} distil_job_t;

static void *
distil_range (void *arg)
{
   distil_job_t *j = arg;
   const tk_wordpiece_t *wp = tk_encoder_tokenizer (j->enc);
   int32_t ids[3 * BATCH];
   float *out = malloc (BATCH * DIM * sizeof *out);
   j->ok = out != NULL;
   for (size_t i = j->from; j->ok && i < j->to; i += BATCH) {
      size_t b = j->to - i < BATCH ? j->to - i : BATCH;
      for (size_t k = 0; k < b; k++) {
         ids[3 * k] = tk_wordpiece_cls (wp);
         ids[3 * k + 1] = (int32_t) (i + k);
         ids[3 * k + 2] = tk_wordpiece_sep (wp);
      }
      if (!(j->ok = tk_encoder_embed_ids (j->enc, ids, b, 3, out, &j->err))) {
         break;
      }
      for (size_t k = 0; k < b * DIM; k++) {
         j->t->vecs[i * DIM + k] = tk_f32_to_f16 (out[k]);
      }
   }
   free (out);
   return NULL;
}

static bool
distil_threads (const tk_encoder_t *enc, tk_static_table_t *t, unsigned threads, tk_error_t *err)
{
   distil_job_t jobs[16] = {{0}};
   pthread_t tid[16];
   threads = threads == 0 ? 1 : threads > 16 ? 16 : threads;
   unsigned started = 0;
   for (unsigned k = 0; k < threads; k++) {
      jobs[k] = (distil_job_t){enc, t, t->n * k / threads, t->n * (k + 1) / threads, false, {0}};
      if (k > 0 && pthread_create (&tid[k], NULL, distil_range, &jobs[k]) == 0) {
         started |= 1u << k;
      } else if (k > 0) {
         distil_range (&jobs[k]);
      }
   }
   distil_range (&jobs[0]);
   bool ok = jobs[0].ok;
   if (!ok) {
      *err = jobs[0].err;
   }
   for (unsigned k = 1; k < threads; k++) {
      if (started & (1u << k)) {
         pthread_join (tid[k], NULL);
      }
      if (ok && !jobs[k].ok) {
         *err = jobs[k].err;
         ok = false;
      }
   }
   return ok;
}

static void
cache_path (const char *dir, const tk_encoder_t *enc, char *path, size_t cap)
{
   snprintf (path, cap, "%s/static-%.16s.f16", dir, tk_encoder_sha256 (enc));
}

/* Reads the cached vectors into t if the file is there and whole. */
static bool
cache_read (tk_static_table_t *t, const char *path, const char *sha)
{
   size_t len = 0, want = 4 + 4 + 4 + 64 + t->n * DIM * 2;
   tk_error_t ignored;
   unsigned char *data = tk_read_whole_file (path, &len, &ignored);
   bool ok = data && len == want && memcmp (data, CACHE_MAGIC, 4) == 0 &&
             memcmp (data + 12, sha, 64) == 0;
   if (ok) {
      tk_rbuf_t r = {data + 4, 8};
      uint32_t n, dim;
      ok = tk_get_u32 (&r, &n) && tk_get_u32 (&r, &dim) && n == t->n && dim == DIM;
   }
   if (ok) {
      const unsigned char *p = data + 76;
      for (size_t i = 0; i < t->n * DIM; i++) {
         t->vecs[i] = (uint16_t) (p[2 * i] | p[2 * i + 1] << 8);
      }
   }
   free (data);
   return ok;
}

static void
cache_write (const tk_static_table_t *t, const char *dir, const char *path, const char *sha)
{
   tk_wbuf_t b = {0};
   tk_error_t ignored;
   mkdir (dir, 0755); /* a cache that cannot be written only costs time */
   tk_put (&b, CACHE_MAGIC, 4);
   tk_put_u32 (&b, (uint32_t) t->n);
   tk_put_u32 (&b, DIM);
   tk_put (&b, sha, 64);
   for (size_t i = 0; i < t->n * DIM; i++) {
      unsigned char le[2] = {(unsigned char) t->vecs[i], (unsigned char) (t->vecs[i] >> 8)};
      tk_put (&b, le, 2);
   }
   if (!b.nomem) {
      tk_write_file_atomic (path, b.data, b.len, &ignored);
   }
   free (b.data);
}

/* Takes the mean row out of every row and normalises them again: every
 * [CLS] piece [SEP] vector shares a large common part (the two special
 * tokens, the position embeddings), which would otherwise dominate every
 * ticket's normalised mean and make all tickets look alike. */
static void
center_rows (tk_static_table_t *t)
{
   double mean[DIM] = {0};
   float row[DIM];
   for (size_t i = 0; i < t->n; i++) {
      for (size_t j = 0; j < DIM; j++) {
         mean[j] += tk_f16_to_f32 (t->vecs[i * DIM + j]) / (double) t->n;
      }
   }
   for (size_t i = 0; i < t->n; i++) {
      for (size_t j = 0; j < DIM; j++) {
         row[j] = (float) (tk_f16_to_f32 (t->vecs[i * DIM + j]) - mean[j]);
      }
      tk_vec_normalize (row, DIM);
      for (size_t j = 0; j < DIM; j++) {
         t->vecs[i * DIM + j] = tk_f32_to_f16 (row[j]);
      }
   }
}

tk_static_table_t *
tk_static_table_distil (const tk_encoder_t *enc, const char *cache_dir, unsigned threads,
                        tk_error_t *err)
{
   const tk_wordpiece_t *wp = tk_encoder_tokenizer (enc);
   size_t n = tk_wordpiece_size (wp);
   const char **pieces = malloc (n * sizeof *pieces);
   tk_static_table_t *t = NULL;
   char path[4096];
   if (!pieces) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   for (size_t i = 0; i < n; i++) {
      pieces[i] = tk_wordpiece_piece (wp, (int32_t) i);
   }
   t = table_new (pieces, n, err);
   free (pieces);
   if (!t) {
      return NULL;
   }
   if (cache_dir) {
      cache_path (cache_dir, enc, path, sizeof path);
      if (cache_read (t, path, tk_encoder_sha256 (enc))) {
         center_rows (t);
         return t;
      }
   }
   if (!distil_threads (enc, t, threads, err)) {
      tk_static_table_destroy (t);
      return NULL;
   }
   if (cache_dir) {
      cache_write (t, cache_dir, path, tk_encoder_sha256 (enc));
   }
   center_rows (t);
   return t;
}

bool
tk_static_table_fit_idf (tk_static_table_t *t, const char *const *texts, size_t n)
{
   unsigned *df = calloc (t->n, sizeof *df), *seen = calloc (t->n, sizeof *seen);
   tk_token_ids_t ids = {0};
   bool ok = df && seen;
   for (size_t i = 0; ok && i < n; i++) {
      ids.n = 0;
      if (!(ok = tk_wordpiece_encode (t->wp, texts[i], strlen (texts[i]), &ids))) {
         break;
      }
      for (size_t k = 0; k < ids.n; k++) {
         if (seen[ids.ids[k]] != i + 1) {
            seen[ids.ids[k]] = (unsigned) i + 1;
            df[ids.ids[k]]++;
         }
      }
   }
   for (size_t p = 0; ok && p < t->n; p++) {
      t->weight[p] = (float) (log ((1.0 + (double) n) / (1.0 + df[p])) + 1.0);
   }
   free (ids.ids);
   free (df);
   free (seen);
   return ok;
}

bool
tk_static_table_embed (const tk_static_table_t *t, const char *text, size_t len, float *out)
{
   tk_token_ids_t ids = {0};
   memset (out, 0, DIM * sizeof *out);
   if (!tk_wordpiece_encode (t->wp, text, len, &ids)) {
      free (ids.ids);
      return false;
   }
   for (size_t k = 0; k < ids.n; k++) {
      const uint16_t *v = t->vecs + (size_t) ids.ids[k] * DIM;
      float w = t->weight[ids.ids[k]];
      for (size_t i = 0; i < DIM; i++) {
         out[i] += w * half_to_float[v[i]];
      }
   }
   tk_vec_normalize (out, DIM);
   free (ids.ids);
   return true;
}

void
tk_static_table_write (const tk_static_table_t *t, tk_wbuf_t *b)
{
   tk_put_u32 (b, (uint32_t) t->n);
   tk_put_u32 (b, DIM);
   for (size_t i = 0; i < t->n; i++) {
      tk_put_str (b, tk_wordpiece_piece (t->wp, (int32_t) i));
   }
   for (size_t i = 0; i < t->n; i++) {
      tk_put_f32 (b, t->weight[i]);
   }
   for (size_t i = 0; i < t->n * DIM; i++) {
      unsigned char le[2] = {(unsigned char) t->vecs[i], (unsigned char) (t->vecs[i] >> 8)};
      tk_put (b, le, 2);
   }
}

tk_static_table_t *
tk_static_table_read (tk_rbuf_t *r)
{
   uint32_t n, dim;
   char **pieces = NULL;
   tk_static_table_t *t = NULL;
   tk_error_t ignored;
   if (!tk_get_u32 (r, &n) || !tk_get_u32 (r, &dim) || dim != DIM || n == 0 || n > (1u << 20) ||
       !(pieces = calloc (n, sizeof *pieces))) {
      return NULL;
   }
   for (uint32_t i = 0; i < n; i++) {
      if (!tk_get_str (r, 256, &pieces[i])) {
         goto done;
      }
   }
   if (!(t = table_new ((const char *const *) pieces, n, &ignored))) {
      goto done;
   }
   const unsigned char *p;
   for (uint32_t i = 0; i < n; i++) {
      if (!tk_get_f32 (r, &t->weight[i])) {
         goto fail;
      }
   }
   if (!tk_get_bytes (r, (size_t) n * DIM * 2, &p)) {
      goto fail;
   }
   for (size_t i = 0; i < (size_t) n * DIM; i++) {
      t->vecs[i] = (uint16_t) (p[2 * i] | p[2 * i + 1] << 8);
   }
   goto done;
fail:
   tk_static_table_destroy (t);
   t = NULL;
done:
   for (uint32_t i = 0; pieces && i < n; i++) {
      free (pieces[i]);
   }
   free (pieces);
   return t;
}
