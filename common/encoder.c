/* encoder.c - the BERT forward pass of encoder.h.
 *
 * Activations are row-major [rows][width] float matrices, one row per token
 * of every sequence of a batch; a linear layer of PyTorch's [out][in] weight
 * is x W^T + b, one product over all rows at once: packed_gemm.h's kernel on
 * weights packed at load, or cblas_sgemm without AVX-512F. Query, key and
 * value are one product, each row's three side by side. The sequences of a
 * batch may differ in length (ragged, no padding): attention runs per
 * sequence and head (cblas_sgemm) on strided views of that sequence's query,
 * key and value rows, pooling per sequence on its rows. */
#include "encoder.h"

#include "blas.h"
#include "packed_gemm.h"
#include "safetensors.h"
#include "sha256_file.h"

#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX2_KERNELS 1
#endif

#define DIM TK_ENCODER_DIM
#define N_LAYERS 6
#define N_HEADS 12
#define HEAD_DIM (DIM / N_HEADS)
#define FFN 1536
#define VOCAB 30522
#define LN_EPS 1e-12f

/* A linear layer, y = x W^T + b, W of n x k: packed (packed_gemm.h) when
 * the CPU runs that kernel, else PyTorch's [n][k] as it is, for OpenBLAS. */
typedef struct {
   const float *w, *b;
   size_t n, k;
   bool packed;
} linear_t;

typedef struct {
   linear_t qkv;                             /* query, key and value, one product */
   linear_t ao;                              /* attention output */
   const float *aln_g, *aln_b;               /* its LayerNorm */
   linear_t in, out;                         /* feed-forward in and out */
   const float *oln_g, *oln_b;
   float qkv_b[3 * DIM];
} layer_t;

struct tk_encoder {
   tk_safetensors_t *st;
   tk_wordpiece_t *wp;
   char sha256[TK_SHA256_HEX];
   const float *word, *pos, *type, *eln_g, *eln_b;
   layer_t layers[N_LAYERS];
   /* Owned: every layer's weights packed, in the order of use; or, without
    * the packed kernel, each layer's query, key and value weights one after
    * the other (their concatenation, for one product). */
   float *weights;
};

/* Per-pass scratch: every activation of one ragged batch of `rows` rows.
 * qkv ([rows][3 * DIM]: each row's query, key and value) and ctx are
 * contiguous, rows * 4 * DIM floats, which is rows * FFN: the feed-forward
 * activation reuses them, as they are dead by then. */
typedef struct {
   float *x, *qkv, *ctx, *tmp, *ffn, *scores;
} scratch_t;

/* GELU, x Phi(x) = x/2 (1 + erf(x / sqrt 2)), with erf(z) as z P(z^2) /
 * Q(z^2) for z in [-4, 4] (beyond, erf is +-1 to float precision): the
 * rational function of Eigen's and XLA's float erf. erff was 16 % of a
 * ticket's time, a table read with gathers still 4 %; this is 1.5 %, with
 * no table. Against erf in double over [-12, 12], its error is below 3.8e-7
 * and GELU's below 2.7e-7 max(|x|, 1): a few units in the last place. */
static const float erf_p[] = {-2.72614225801306e-10f, 2.77068142495902e-08f,
                              -2.10102402082508e-06f, -5.69250639462346e-05f,
                              -7.34990630326855e-04f, -2.95459980854025e-03f,
                              -1.60960333262415e-02f};
static const float erf_q[] = {-1.45660718464996e-05f, -2.13374055278905e-04f,
                              -1.68282697438203e-03f, -7.37332916720468e-03f,
                              -1.42647390514189e-02f};
#define ERF_CLAMP 4.0f
#define N_ERF_P (sizeof erf_p / sizeof *erf_p)
#define N_ERF_Q (sizeof erf_q / sizeof *erf_q)

/* Whether the CPU runs the AVX2 + FMA forms of the element-wise steps
 * (softmax, GELU, LayerNorm's sums), set once. */
static bool use_avx2;
static pthread_once_t cpu_once = PTHREAD_ONCE_INIT;

static void
detect_cpu (void)
{
#ifdef HAVE_AVX2_KERNELS
   use_avx2 = __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma");
#endif
}

void
tk_encoder_destroy (tk_encoder_t *enc)
{
   if (enc) {
      free (enc->weights);
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

/* Binds layer i's tensors in the file: the query, key and value weights to
 * qkv_w (own_weights puts them together), the rest to the layer. */
static bool
bind_layer (tk_encoder_t *enc, int i, const float *qkv_w[3], tk_error_t *err)
{
   layer_t *l = &enc->layers[i];
   const float *qkv_b[3];
#define T(field, r, c, suffix) \
   if (!(field = tensor (enc, r, c, err, suffix, i))) return false
   T (qkv_w[0], DIM, DIM, "attention.self.query.weight");
   T (qkv_b[0], DIM, 0, "attention.self.query.bias");
   T (qkv_w[1], DIM, DIM, "attention.self.key.weight");
   T (qkv_b[1], DIM, 0, "attention.self.key.bias");
   T (qkv_w[2], DIM, DIM, "attention.self.value.weight");
   T (qkv_b[2], DIM, 0, "attention.self.value.bias");
   T (l->ao.w, DIM, DIM, "attention.output.dense.weight");
   T (l->ao.b, DIM, 0, "attention.output.dense.bias");
   T (l->aln_g, DIM, 0, "attention.output.LayerNorm.weight");
   T (l->aln_b, DIM, 0, "attention.output.LayerNorm.bias");
   T (l->in.w, FFN, DIM, "intermediate.dense.weight");
   T (l->in.b, FFN, 0, "intermediate.dense.bias");
   T (l->out.w, DIM, FFN, "output.dense.weight");
   T (l->out.b, DIM, 0, "output.dense.bias");
   T (l->oln_g, DIM, 0, "output.LayerNorm.weight");
   T (l->oln_b, DIM, 0, "output.LayerNorm.bias");
#undef T
   for (int part = 0; part < 3; part++) {
      memcpy (l->qkv_b + part * DIM, qkv_b[part], DIM * sizeof *l->qkv_b);
   }
   l->qkv = (linear_t){.b = l->qkv_b, .n = 3 * DIM, .k = DIM};
   l->ao.n = DIM, l->ao.k = DIM;
   l->in.n = FFN, l->in.k = DIM;
   l->out.n = DIM, l->out.k = FFN;
   return true;
}

/* Makes enc->weights. With the packed kernel: every layer's four matrices
 * packed, query, key and value as one 3 * DIM x DIM matrix (packing them
 * one after the other is packing their concatenation). Without it: only
 * query, key and value copied one after the other, the others left in the
 * file's mapping. The mapped pages of what was copied are given back: they
 * would otherwise stay resident, 42 MB never read again. */
static bool
own_weights (tk_encoder_t *enc, const float *qkv_w[N_LAYERS][3], tk_error_t *err)
{
   const bool packed = tk_packed_supported ();
   const size_t part = tk_packed_floats (DIM, DIM);
   size_t floats = 3 * part;
   if (packed) {
      floats += tk_packed_floats (DIM, DIM) + tk_packed_floats (FFN, DIM) +
                tk_packed_floats (DIM, FFN);
   }
   /* aligned_alloc wants a multiple of the alignment: DIM is one of 16. */
   enc->weights = aligned_alloc (TK_PACKED_ALIGN, N_LAYERS * floats * sizeof *enc->weights);
   if (!enc->weights) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory for the encoder's weights");
      return false;
   }
   float *dst = enc->weights;
   for (int i = 0; i < N_LAYERS; i++) {
      layer_t *l = &enc->layers[i];
      l->qkv.w = dst;
      l->qkv.packed = packed;
      for (int p = 0; p < 3; p++, dst += part) {
         if (packed) {
            tk_packed_pack (qkv_w[i][p], DIM, DIM, dst);
         } else {
            memcpy (dst, qkv_w[i][p], part * sizeof *dst);
         }
         tk_safetensors_release (enc->st, qkv_w[i][p], part);
      }
      linear_t *rest[] = {&l->ao, &l->in, &l->out};
      for (size_t j = 0; packed && j < sizeof rest / sizeof *rest; j++) {
         tk_packed_pack (rest[j]->w, rest[j]->n, rest[j]->k, dst);
         tk_safetensors_release (enc->st, rest[j]->w, rest[j]->n * rest[j]->k);
         rest[j]->w = dst;
         rest[j]->packed = true;
         dst += tk_packed_floats (rest[j]->n, rest[j]->k);
      }
   }
   return true;
}

tk_encoder_t *
tk_encoder_load (const char *dir, tk_error_t *err)
{
   char path[PATH_MAX];
   const float *qkv_w[N_LAYERS][3];
   tk_encoder_t *enc = calloc (1, sizeof *enc);
   if (!enc) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   if (!tk_blas_load (err)) {
      goto fail;
   }
   pthread_once (&cpu_once, detect_cpu);
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
      if (!bind_layer (enc, i, qkv_w[i], err)) {
         goto fail;
      }
   }
   if (!own_weights (enc, qkv_w, err)) {
      goto fail;
   }
   return enc;
fail:
   tk_encoder_destroy (enc);
   return NULL;
}

/* ------------------------------------------------------------------------ */
/* The forward pass. */

/* out[rows][l->n] = in[rows][l->k] W^T + b. */
static void
linear (const linear_t *l, const float *in, size_t rows, float *out)
{
   if (l->packed) {
      tk_packed_linear (in, rows, l->k, l->w, l->n, l->k, l->b, out, l->n);
      return;
   }
   for (size_t r = 0; r < rows; r++) {
      memcpy (out + r * l->n, l->b, l->n * sizeof *out);
   }
   tk_sgemm (false, true, (int) rows, (int) l->n, (int) l->k, 1.0f, in, (int) l->k, l->w,
             (int) l->k, 1.0f, out, (int) l->n);
}

#ifdef HAVE_AVX2_KERNELS
/* The element-wise steps with AVX2 and FMA, 8 floats at a time, chosen at
 * run time (use_avx2); the plain C forms below are the reference. Their
 * results differ from those only by float rounding (sums in another order,
 * fused multiply-adds; the exponential's relative error is below 2e-7). */
#define AVX2 __attribute__ ((target ("avx2,fma")))

/* e^x for x <= 0 (softmax's arguments; below -87 it returns about 1e-38, not
 * 0): Cephes's expf, x = n ln 2 + r with |r| <= ln 2 / 2, e^r by a degree-7
 * polynomial, 2^n into the exponent bits. */
AVX2 static inline __m256
exp_nonpositive (__m256 x)
{
   x = _mm256_max_ps (x, _mm256_set1_ps (-87.0f));
   __m256 n = _mm256_floor_ps (_mm256_fmadd_ps (x, _mm256_set1_ps (1.44269504088896341f),
                                                _mm256_set1_ps (0.5f)));
   x = _mm256_fnmadd_ps (n, _mm256_set1_ps (0.693359375f), x);
   x = _mm256_fnmadd_ps (n, _mm256_set1_ps (-2.12194440e-4f), x);
   __m256 y = _mm256_set1_ps (1.9875691500e-4f);
   y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (1.3981999507e-3f));
   y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (8.3334519073e-3f));
   y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (4.1665795894e-2f));
   y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (1.6666665459e-1f));
   y = _mm256_fmadd_ps (y, x, _mm256_set1_ps (5.0000001201e-1f));
   y = _mm256_fmadd_ps (y, _mm256_mul_ps (x, x), _mm256_add_ps (x, _mm256_set1_ps (1.0f)));
   __m256i e = _mm256_slli_epi32 (_mm256_add_epi32 (_mm256_cvtps_epi32 (n), _mm256_set1_epi32 (127)), 23);
   return _mm256_mul_ps (y, _mm256_castsi256_ps (e));
}

AVX2 static inline float
hsum (__m256 v)
{
   __m128 s = _mm_add_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
   s = _mm_add_ps (s, _mm_movehl_ps (s, s));
   s = _mm_add_ss (s, _mm_movehdup_ps (s));
   return _mm_cvtss_f32 (s);
}

AVX2 static inline float
hmax (__m256 v)
{
   __m128 s = _mm_max_ps (_mm256_castps256_ps128 (v), _mm256_extractf128_ps (v, 1));
   s = _mm_max_ps (s, _mm_movehl_ps (s, s));
   s = _mm_max_ss (s, _mm_movehdup_ps (s));
   return _mm_cvtss_f32 (s);
}

AVX2 static void
softmax_rows_avx2 (float *s, size_t rows, size_t cols)
{
   size_t vec = cols & ~(size_t) 7;
   for (size_t r = 0; r < rows; r++) {
      float *row = s + r * cols, max = row[0], sum;
      __m256 vmax = _mm256_set1_ps (row[0]), vsum = _mm256_setzero_ps ();
      for (size_t c = 0; c < vec; c += 8) {
         vmax = _mm256_max_ps (vmax, _mm256_loadu_ps (row + c));
      }
      max = hmax (vmax);
      for (size_t c = vec; c < cols; c++) {
         max = row[c] > max ? row[c] : max;
      }
      __m256 m = _mm256_set1_ps (max);
      for (size_t c = 0; c < vec; c += 8) {
         __m256 e = exp_nonpositive (_mm256_sub_ps (_mm256_loadu_ps (row + c), m));
         _mm256_storeu_ps (row + c, e);
         vsum = _mm256_add_ps (vsum, e);
      }
      sum = hsum (vsum);
      for (size_t c = vec; c < cols; c++) {
         row[c] = expf (row[c] - max);
         sum += row[c];
      }
      __m256 inv = _mm256_set1_ps (1.0f / sum);
      for (size_t c = 0; c < vec; c += 8) {
         _mm256_storeu_ps (row + c, _mm256_mul_ps (_mm256_loadu_ps (row + c), inv));
      }
      for (size_t c = vec; c < cols; c++) {
         row[c] *= 1.0f / sum;
      }
   }
}

/* gelu() below, 8 floats at a time; n a multiple of 8. */
AVX2 static void
gelu_avx2 (float *x, size_t n)
{
   const __m256 lo = _mm256_set1_ps (-ERF_CLAMP), hi = _mm256_set1_ps (ERF_CLAMP);
   const __m256 sqrt1_2 = _mm256_set1_ps ((float) M_SQRT1_2), half = _mm256_set1_ps (0.5f);
   for (size_t i = 0; i < n; i += 8) {
      __m256 v = _mm256_loadu_ps (x + i);
      __m256 z = _mm256_min_ps (_mm256_max_ps (_mm256_mul_ps (v, sqrt1_2), lo), hi);
      __m256 z2 = _mm256_mul_ps (z, z), p = _mm256_set1_ps (erf_p[0]), q = _mm256_set1_ps (erf_q[0]);
      for (size_t j = 1; j < N_ERF_P; j++) {
         p = _mm256_fmadd_ps (p, z2, _mm256_set1_ps (erf_p[j]));
      }
      for (size_t j = 1; j < N_ERF_Q; j++) {
         q = _mm256_fmadd_ps (q, z2, _mm256_set1_ps (erf_q[j]));
      }
      __m256 erf = _mm256_div_ps (_mm256_mul_ps (z, p), q), hv = _mm256_mul_ps (half, v);
      _mm256_storeu_ps (x + i, _mm256_fmadd_ps (hv, erf, hv));
   }
}

/* layer_norm below with its sums in 4 double lanes (DIM a multiple of 8). */
AVX2 static void
layer_norm_avx2 (float *x, const float *add, size_t rows, const float *g, const float *b)
{
   for (size_t r = 0; r < rows; r++) {
      float *row = x + r * DIM;
      __m256d s0 = _mm256_setzero_pd (), s1 = _mm256_setzero_pd ();
      for (size_t i = 0; i < DIM; i += 8) {
         __m256 v = _mm256_loadu_ps (row + i);
         if (add) {
            v = _mm256_add_ps (v, _mm256_loadu_ps (add + r * DIM + i));
            _mm256_storeu_ps (row + i, v);
         }
         s0 = _mm256_add_pd (s0, _mm256_cvtps_pd (_mm256_castps256_ps128 (v)));
         s1 = _mm256_add_pd (s1, _mm256_cvtps_pd (_mm256_extractf128_ps (v, 1)));
      }
      double lanes[4];
      _mm256_storeu_pd (lanes, _mm256_add_pd (s0, s1));
      double mean = (lanes[0] + lanes[1] + lanes[2] + lanes[3]) / DIM;
      __m256d m = _mm256_set1_pd (mean);
      s0 = s1 = _mm256_setzero_pd ();
      for (size_t i = 0; i < DIM; i += 8) {
         __m256 v = _mm256_loadu_ps (row + i);
         __m256d d0 = _mm256_sub_pd (_mm256_cvtps_pd (_mm256_castps256_ps128 (v)), m);
         __m256d d1 = _mm256_sub_pd (_mm256_cvtps_pd (_mm256_extractf128_ps (v, 1)), m);
         s0 = _mm256_fmadd_pd (d0, d0, s0);
         s1 = _mm256_fmadd_pd (d1, d1, s1);
      }
      _mm256_storeu_pd (lanes, _mm256_add_pd (s0, s1));
      double var = lanes[0] + lanes[1] + lanes[2] + lanes[3];
      __m256 inv = _mm256_set1_ps ((float) (1.0 / sqrt (var / DIM + LN_EPS)));
      __m256 mf = _mm256_set1_ps ((float) mean);
      for (size_t i = 0; i < DIM; i += 8) {
         __m256 v = _mm256_mul_ps (_mm256_sub_ps (_mm256_loadu_ps (row + i), mf), inv);
         _mm256_storeu_ps (row + i, _mm256_fmadd_ps (v, _mm256_loadu_ps (g + i),
                                                     _mm256_loadu_ps (b + i)));
      }
   }
}
#endif

/* x = LayerNorm(x + add) row by row (add may be NULL). */
static void
layer_norm (float *x, const float *add, size_t rows, const float *g, const float *b)
{
#ifdef HAVE_AVX2_KERNELS
   if (use_avx2) {
      layer_norm_avx2 (x, add, rows, g, b);
      return;
   }
#endif
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

/* Each row of s becomes its softmax: one pass for the maximum, one for the
 * exponentials and their sum, one multiplying by the sum's inverse. */
static void
softmax_rows (float *s, size_t rows, size_t cols)
{
#ifdef HAVE_AVX2_KERNELS
   if (use_avx2) {
      softmax_rows_avx2 (s, rows, cols);
      return;
   }
#endif
   for (size_t r = 0; r < rows; r++) {
      float *row = s + r * cols, max = row[0], sum = 0;
      for (size_t c = 1; c < cols; c++) {
         max = row[c] > max ? row[c] : max;
      }
      for (size_t c = 0; c < cols; c++) {
         float e = expf (row[c] - max);
         row[c] = e;
         sum += e;
      }
      float inv = 1.0f / sum;
      for (size_t c = 0; c < cols; c++) {
         row[c] *= inv;
      }
   }
}

/* Self-attention of every sequence and head: s->ctx from s->qkv. The
 * sequences are the ragged batch's: sequence b has lens[b] rows, right after
 * sequence b - 1's, and sees only its own. */
static void
attention (scratch_t *s, const size_t *lens, size_t n_seq)
{
   const float scale = 1.0f / sqrtf ((float) HEAD_DIM);
   const int ld = 3 * DIM;
   size_t row = 0;
   for (size_t b = 0; b < n_seq; b++) {
      int len = (int) lens[b];
      for (size_t h = 0; h < N_HEADS; h++) {
         const float *q = s->qkv + row * ld + h * HEAD_DIM, *k = q + DIM, *v = q + 2 * DIM;
         float *ctx = s->ctx + row * DIM + h * HEAD_DIM;
         tk_sgemm (false, true, len, len, HEAD_DIM, scale, q, ld, k, ld, 0.0f, s->scores, len);
         softmax_rows (s->scores, (size_t) len, (size_t) len);
         tk_sgemm (false, false, len, HEAD_DIM, len, 1.0f, s->scores, len, v, ld, 0.0f, ctx, DIM);
      }
      row += lens[b];
   }
}

static void
gelu (float *x, size_t n)
{
#ifdef HAVE_AVX2_KERNELS
   if (use_avx2 && n % 8 == 0) {
      gelu_avx2 (x, n);
      return;
   }
#endif
   for (size_t i = 0; i < n; i++) {
      float z = fminf (fmaxf (x[i] * (float) M_SQRT1_2, -ERF_CLAMP), ERF_CLAMP);
      float z2 = z * z, p = erf_p[0], q = erf_q[0];
      for (size_t j = 1; j < N_ERF_P; j++) {
         p = p * z2 + erf_p[j];
      }
      for (size_t j = 1; j < N_ERF_Q; j++) {
         q = q * z2 + erf_q[j];
      }
      x[i] = 0.5f * x[i] * (1.0f + z * p / q);
   }
}

static void
run_layer (const layer_t *l, scratch_t *s, const size_t *lens, size_t n_seq, size_t rows)
{
   linear (&l->qkv, s->x, rows, s->qkv);
   attention (s, lens, n_seq);
   linear (&l->ao, s->ctx, rows, s->tmp);
   layer_norm (s->x, s->tmp, rows, l->aln_g, l->aln_b);
   linear (&l->in, s->x, rows, s->ffn);
   gelu (s->ffn, rows * FFN);
   linear (&l->out, s->ffn, rows, s->tmp);
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

_Static_assert (FFN == 4 * DIM, "the feed-forward activation reuses qkv and ctx");
_Static_assert (DIM % TK_PACKED_NR == 0 && FFN % TK_PACKED_NR == 0, "panels of whole features");

/* The floats of the scratch of a pass of `rows` rows. */
static size_t
scratch_floats (size_t rows)
{
   return rows * DIM * 6 + (size_t) TK_ENCODER_MAX_TOKENS * TK_ENCODER_MAX_TOKENS;
}

/* One forward pass over a ragged batch of n_seq sequences, rows rows in all
 * (at most TK_ENCODER_MAX_ROWS), ids already checked; mem holds
 * scratch_floats(rows). Every step but attention is row-wise, so it runs
 * once over all rows: the weights are packed once per pass, not once per
 * sequence, and no row is padding. */
static void
forward_pass (const tk_encoder_t *enc, const int32_t *ids, const size_t *lens, size_t n_seq,
              size_t rows, float *mem, float *out)
{
   scratch_t s = {mem,
                  mem + rows * DIM,
                  mem + 4 * rows * DIM,
                  mem + 5 * rows * DIM,
                  mem + rows * DIM, /* ffn: over qkv and ctx */
                  mem + 6 * rows * DIM};
   size_t r = 0;
   for (size_t b = 0; b < n_seq; b++) {
      for (size_t t = 0; t < lens[b]; t++, r++) { /* position ids restart per sequence */
         const float *w = enc->word + (size_t) ids[r] * DIM, *p = enc->pos + t * DIM;
         for (size_t i = 0; i < DIM; i++) {
            s.x[r * DIM + i] = w[i] + p[i] + enc->type[i];
         }
      }
   }
   layer_norm (s.x, NULL, rows, enc->eln_g, enc->eln_b);
   for (int l = 0; l < N_LAYERS; l++) {
      run_layer (&enc->layers[l], &s, lens, n_seq, rows);
   }
   r = 0;
   for (size_t b = 0; b < n_seq; b++) { /* mean pooling over each sequence's own rows */
      float *o = out + b * DIM;
      memset (o, 0, DIM * sizeof *o);
      for (size_t t = 0; t < lens[b]; t++, r++) {
         for (size_t i = 0; i < DIM; i++) {
            o[i] += s.x[r * DIM + i];
         }
      }
      for (size_t i = 0; i < DIM; i++) {
         o[i] /= (float) lens[b];
      }
      tk_vec_normalize (o, DIM);
   }
}

bool
tk_encoder_embed_ragged (const tk_encoder_t *enc, const int32_t *ids, const size_t *lens,
                         size_t n_seq, float *out, tk_error_t *err)
{
   size_t total = 0, widest = 0;
   if (n_seq == 0) {
      tk_error_set (err, TK_ERR_INVALID, 0, "no sequence");
      return false;
   }
   for (size_t b = 0; b < n_seq; b++) {
      if (lens[b] == 0 || lens[b] > TK_ENCODER_MAX_TOKENS) {
         tk_error_set (err, TK_ERR_INVALID, 0, "sequence %zu has %zu tokens", b, lens[b]);
         return false;
      }
      total += lens[b];
   }
   for (size_t i = 0; i < total; i++) {
      if (ids[i] < 0 || ids[i] >= VOCAB) {
         tk_error_set (err, TK_ERR_INVALID, 0, "token id %d is outside the vocabulary", ids[i]);
         return false;
      }
   }
   /* The passes: as many whole sequences as fit in TK_ENCODER_MAX_ROWS. */
   for (size_t b = 0, rows = 0; b < n_seq; b++) {
      if (rows + lens[b] > TK_ENCODER_MAX_ROWS) {
         rows = 0;
      }
      rows += lens[b];
      widest = rows > widest ? rows : widest;
   }
   float *mem = malloc (scratch_floats (widest) * sizeof *mem);
   if (!mem) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory for %zu tokens", widest);
      return false;
   }
   for (size_t b0 = 0, r0 = 0; b0 < n_seq;) {
      size_t b1 = b0, rows = 0;
      while (b1 < n_seq && rows + lens[b1] <= TK_ENCODER_MAX_ROWS) {
         rows += lens[b1++];
      }
      forward_pass (enc, ids + r0, lens + b0, b1 - b0, rows, mem, out + b0 * DIM);
      r0 += rows;
      b0 = b1;
   }
   free (mem);
   return true;
}

bool
tk_encoder_embed_ids (const tk_encoder_t *enc, const int32_t *ids, size_t n_seq, size_t seq_len,
                      float *out, tk_error_t *err)
{
   if (n_seq == 0 || seq_len == 0 || seq_len > TK_ENCODER_MAX_TOKENS || n_seq > (1u << 20)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "%zu sequences of %zu tokens", n_seq, seq_len);
      return false;
   }
   size_t *lens = malloc (n_seq * sizeof *lens);
   if (!lens) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   for (size_t b = 0; b < n_seq; b++) {
      lens[b] = seq_len;
   }
   bool ok = tk_encoder_embed_ragged (enc, ids, lens, n_seq, out, err);
   free (lens);
   return ok;
}

/* ------------------------------------------------------------------------ */
/* Texts and tickets. */

/* Texts gathered for one ragged pass: their windows' ids back to back. A
 * window has at least 2 rows ([CLS] [SEP]), so a pass holds at most
 * TK_ENCODER_MAX_ROWS / 2 windows and texts. */
#define MAX_WINDOWS (TK_ENCODER_MAX_ROWS / 2)
typedef struct {
   int32_t ids[TK_ENCODER_MAX_ROWS];
   size_t lens[MAX_WINDOWS];
   unsigned char n_win[MAX_WINDOWS]; /* per text: 1 or 2 */
   float pooled[MAX_WINDOWS * DIM];
   size_t rows, windows, texts;
} group_t;

/* Embeds the group's texts into out[0 .. texts) and empties it: each text's
 * windows pooled, averaged and normalised, as tk_encoder_embed documents. */
static bool
flush_group (const tk_encoder_t *enc, group_t *g, float *out, tk_error_t *err)
{
   if (g->texts == 0) {
      return true;
   }
   if (!tk_encoder_embed_ragged (enc, g->ids, g->lens, g->windows, g->pooled, err)) {
      return false;
   }
   const float *p = g->pooled;
   for (size_t t = 0; t < g->texts; t++) {
      float *o = out + t * DIM;
      for (size_t i = 0; i < DIM; i++) {
         o[i] = g->n_win[t] == 2 ? 0.5f * (p[i] + p[DIM + i]) : p[i];
      }
      tk_vec_normalize (o, DIM);
      p += g->n_win[t] * DIM;
   }
   g->rows = g->windows = g->texts = 0;
   return true;
}

/* Appends the windows of text[0 .. len) to g, flushing g first into
 * out[*done ..] when they would not fit in its pass. */
static bool
add_text (const tk_encoder_t *enc, group_t *g, const char *text, size_t len,
          tk_encoder_windows_t windows, float *out, size_t *done, tk_error_t *err)
{
   const size_t w = TK_ENCODER_MAX_TOKENS - 2;
   tk_token_ids_t pieces = {0};
   bool ok = false;
   if (!tk_wordpiece_encode (enc->wp, text, len, &pieces)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory tokenising");
      goto done;
   }
   size_t n_win = pieces.n > w && windows == TK_ENCODER_HEAD_TAIL ? 2 : 1;
   size_t n = pieces.n < w ? pieces.n : w;
   if (g->rows + n_win * (n + 2) > TK_ENCODER_MAX_ROWS) {
      size_t texts = g->texts;
      if (!flush_group (enc, g, out + *done * DIM, err)) {
         goto done;
      }
      *done += texts;
   }
   for (size_t k = 0; k < n_win; k++) {
      int32_t *s = g->ids + g->rows;
      s[0] = tk_wordpiece_cls (enc->wp);
      if (n) { /* an empty text has no pieces (and ids may be NULL) */
         memcpy (s + 1, pieces.ids + (k ? pieces.n - n : 0), n * sizeof *s);
      }
      s[n + 1] = tk_wordpiece_sep (enc->wp);
      g->rows += n + 2;
      g->lens[g->windows++] = n + 2;
   }
   g->n_win[g->texts++] = (unsigned char) n_win;
   ok = true;
done:
   free (pieces.ids);
   return ok;
}

/* The texts of tk_encoder_embed_many, or (texts NULL) the tickets of
 * tk_encoder_embed_tickets. */
static bool
embed_many (const tk_encoder_t *enc, const char *const *texts, const size_t *lens,
            const char *const *subjects, const char *const *bodies, size_t n,
            tk_encoder_windows_t windows, float *out, tk_error_t *err)
{
   size_t done = 0;
   bool ok = false;
   group_t *g = calloc (1, sizeof *g);
   if (!g) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   for (size_t i = 0; i < n; i++) {
      bool added;
      if (texts) {
         added = add_text (enc, g, texts[i], lens[i], windows, out, &done, err);
      } else {
         char *text = tk_encoder_ticket_text (subjects[i], bodies[i]);
         if (!text) {
            tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
            goto done;
         }
         added = add_text (enc, g, text, strlen (text), windows, out, &done, err);
         free (text);
      }
      if (!added) {
         goto done;
      }
   }
   ok = flush_group (enc, g, out + done * DIM, err);
done:
   free (g);
   return ok;
}

bool
tk_encoder_embed_many (const tk_encoder_t *enc, const char *const *texts, const size_t *lens,
                       size_t n, tk_encoder_windows_t windows, float *out, tk_error_t *err)
{
   return embed_many (enc, texts, lens, NULL, NULL, n, windows, out, err);
}

bool
tk_encoder_embed (const tk_encoder_t *enc, const char *text, size_t len,
                  tk_encoder_windows_t windows, float *out, tk_error_t *err)
{
   return embed_many (enc, &text, &len, NULL, NULL, 1, windows, out, err);
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
tk_encoder_embed_tickets (const tk_encoder_t *enc, const char *const *subjects,
                          const char *const *bodies, size_t n, float *out, tk_error_t *err)
{
   return embed_many (enc, NULL, NULL, subjects, bodies, n, TK_ENCODER_HEAD_TAIL, out, err);
}

bool
tk_encoder_embed_ticket (const tk_encoder_t *enc, const char *subject, const char *body,
                         float *out, tk_error_t *err)
{
   return tk_encoder_embed_tickets (enc, &subject, &body, 1, out, err);
}
