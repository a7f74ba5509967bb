/* heads.c - training and scoring the linear heads of heads.h. */
#include "heads.h"

#include "blas.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ITERATIONS 150
static const double lambdas[] = {0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 3e-4};
#define N_LAMBDAS (sizeof lambdas / sizeof lambdas[0])

struct tk_heads {
   size_t dim, n_labels[3];
   double lambda[3];
   float *w[3]; /* [n_labels][dim + 1]: weights then bias, on raw vectors */
};

/* One regression problem: rows of xs (standardised, with a last column of
 * ones) against targets y[n][k], softmax across the k columns or a sigmoid
 * on each. */
typedef struct {
   const float *xs; /* [n][d], d = dim + 1 */
   size_t n, d, k;
   const float *y; /* [n][k] */
   bool softmax;
   double step_l; /* Lipschitz bound of the loss without the penalty */
} problem_t;

/* P = link(X W^T) for rows into out; returns the mean negative
 * log-likelihood of y when with_loss (else 0, sparing the logarithms). */
static double
predict (const problem_t *p, const float *w, const float *x, size_t rows, const float *y,
         float *out, bool with_loss)
{
   tk_sgemm (false, true, (int) rows, (int) p->k, (int) p->d, 1.0f, x, (int) p->d, w, (int) p->d,
             0.0f, out, (int) p->k);
   double nll = 0;
   for (size_t r = 0; r < rows; r++) {
      float *z = out + r * p->k;
      const float *t = y + r * p->k;
      if (p->softmax) {
         float max = z[0], sum = 0;
         for (size_t c = 1; c < p->k; c++) {
            max = z[c] > max ? z[c] : max;
         }
         for (size_t c = 0; c < p->k; c++) {
            z[c] = expf (z[c] - max);
            sum += z[c];
         }
         for (size_t c = 0; c < p->k; c++) {
            z[c] /= sum;
            nll -= with_loss && t[c] > 0 ? t[c] * log (fmax (z[c], 1e-30)) : 0;
         }
      } else {
         for (size_t c = 0; c < p->k; c++) {
            float v = z[c];
            z[c] = v >= 0 ? 1 / (1 + expf (-v)) : expf (v) / (1 + expf (v));
            if (with_loss) { /* log(1 + e^v) - t v */
               nll += (v > 0 ? v + log1p (exp (-v)) : log1p (exp (v))) - t[c] * v;
            }
         }
      }
   }
   return nll / (double) rows;
}

/* grad = (P - Y)^T X / n + lambda W (bias column unpenalised). */
static void
gradient (const problem_t *p, const float *w, double lambda, const float *rows_x,
          const float *rows_y, size_t rows, float *prob, float *grad)
{
   predict (p, w, rows_x, rows, rows_y, prob, false);
   for (size_t i = 0; i < rows * p->k; i++) {
      prob[i] = (prob[i] - rows_y[i]) / (float) rows;
   }
   tk_sgemm (true, false, (int) p->k, (int) p->d, (int) rows, 1.0f, prob, (int) p->k, rows_x,
             (int) p->d, 0.0f, grad, (int) p->d);
   for (size_t c = 0; c < p->k; c++) {
      for (size_t j = 0; j + 1 < p->d; j++) {
         grad[c * p->d + j] += (float) lambda * w[c * p->d + j];
      }
   }
}

/* FISTA with adaptive restart from w (warm start), in place. Uses rows
 * [0, rows) of x and y. Returns false if memory runs out. */
static bool
fit (const problem_t *p, double lambda, const float *x, const float *y, size_t rows, float *w)
{
   size_t nw = p->k * p->d;
   float *mem = malloc ((3 * nw + rows * p->k) * sizeof *mem);
   if (!mem) {
      return false;
   }
   float *v = mem, *prev = mem + nw, *grad = mem + 2 * nw, *prob = mem + 3 * nw;
   memcpy (v, w, nw * sizeof *w);
   double t = 1, step = 1.0 / (p->step_l + lambda);
   for (int it = 0; it < ITERATIONS; it++) {
      gradient (p, v, lambda, x, y, rows, prob, grad);
      memcpy (prev, w, nw * sizeof *w);
      double dot = 0;
      for (size_t i = 0; i < nw; i++) {
         w[i] = v[i] - (float) step * grad[i];
         dot += (double) grad[i] * (w[i] - prev[i]);
      }
      if (dot > 0) { /* the momentum points uphill: restart it */
         t = 1;
      }
      double t_next = (1 + sqrt (1 + 4 * t * t)) / 2;
      for (size_t i = 0; i < nw; i++) {
         v[i] = w[i] + (float) ((t - 1) / t_next) * (w[i] - prev[i]);
      }
      t = t_next;
   }
   free (mem);
   return true;
}

/* The largest eigenvalue of X^T X / n by power iteration. */
static double
gram_norm (const float *x, size_t n, size_t d)
{
   double *v = malloc (d * sizeof *v), *u = malloc (d * sizeof *u), norm = 1;
   if (!v || !u) {
      free (v);
      free (u);
      return (double) d; /* a safe upper bound for standardised data */
   }
   for (size_t j = 0; j < d; j++) {
      v[j] = 1.0 / sqrt ((double) d);
   }
   for (int it = 0; it < 50; it++) {
      memset (u, 0, d * sizeof *u);
      for (size_t r = 0; r < n; r++) {
         double s = 0;
         for (size_t j = 0; j < d; j++) {
            s += x[r * d + j] * v[j];
         }
         for (size_t j = 0; j < d; j++) {
            u[j] += s * x[r * d + j];
         }
      }
      norm = 0;
      for (size_t j = 0; j < d; j++) {
         norm += u[j] * u[j];
      }
      norm = sqrt (norm);
      for (size_t j = 0; j < d; j++) {
         v[j] = u[j] / norm;
      }
   }
   free (v);
   free (u);
   return norm / (double) n * 1.05; /* a margin: power iteration approaches from below */
}

/* Copies the rows of src whose fold is (or, with keep false, is not) f. */
static size_t
select_rows (const float *src, size_t n, size_t width, unsigned folds, unsigned f, bool keep,
             float *dst)
{
   size_t m = 0;
   for (size_t r = 0; r < n; r++) {
      if (((r * 2654435761u) >> 7) % folds == f ? keep : !keep) {
         memcpy (dst + m * width, src + r * width, width * sizeof *src);
         m++;
      }
   }
   return m;
}

/* Cross-validates lambda over the grid, from strong to weak with warm
 * starts, and returns the best; -1 if memory runs out. */
static double
choose_lambda (const problem_t *p, unsigned folds)
{
   size_t nw = p->k * p->d;
   double loss[N_LAMBDAS] = {0};
   float *mem = malloc ((p->n * (p->d + p->k) * 2 + nw + p->n * p->k) * sizeof *mem);
   if (!mem) {
      return -1;
   }
   float *tx = mem, *ty = tx + p->n * p->d, *vx = ty + p->n * p->k, *vy = vx + p->n * p->d;
   float *w = vy + p->n * p->k, *prob = w + nw;
   for (unsigned f = 0; f < folds; f++) {
      size_t nt = select_rows (p->xs, p->n, p->d, folds, f, false, tx);
      select_rows (p->y, p->n, p->k, folds, f, false, ty);
      size_t nv = select_rows (p->xs, p->n, p->d, folds, f, true, vx);
      select_rows (p->y, p->n, p->k, folds, f, true, vy);
      memset (w, 0, nw * sizeof *w);
      for (size_t l = 0; l < N_LAMBDAS && nt && nv; l++) {
         if (!fit (p, lambdas[l], tx, ty, nt, w)) {
            free (mem);
            return -1;
         }
         loss[l] += predict (p, w, vx, nv, vy, prob, true) * (double) nv;
      }
   }
   free (mem);
   size_t best = 0;
   for (size_t l = 1; l < N_LAMBDAS; l++) {
      best = loss[l] < loss[best] ? l : best;
   }
   return lambdas[best];
}

/* Trains one field's head into out[k][dim + 1] on raw vectors. */
static bool
train_field (problem_t *p, const double *mean, const double *sd, unsigned folds, double *lambda,
             float *out)
{
   size_t dim = p->d - 1;
   float *w = calloc (p->k * p->d, sizeof *w);
   if (!w || (*lambda = choose_lambda (p, folds)) < 0) {
      free (w);
      return false;
   }
   /* The final fit walks the grid down to the chosen value (warm starts). */
   for (size_t l = 0; l < N_LAMBDAS && lambdas[l] >= *lambda; l++) {
      if (!fit (p, lambdas[l], p->xs, p->y, p->n, w)) {
         free (w);
         return false;
      }
   }
   for (size_t c = 0; c < p->k; c++) {
      double bias = w[c * p->d + dim];
      for (size_t j = 0; j < dim; j++) {
         out[c * p->d + j] = (float) (w[c * p->d + j] / sd[j]);
         bias -= w[c * p->d + j] * mean[j] / sd[j];
      }
      out[c * p->d + dim] = (float) bias;
   }
   free (w);
   return true;
}

void
tk_heads_destroy (tk_heads_t *h)
{
   if (h) {
      for (int f = 0; f < 3; f++) {
         free (h->w[f]);
      }
      free (h);
   }
}

/* Standardised copy of the vectors with a column of ones; mean and sd out. */
static float *
standardise (const tk_heads_data_t *d, double *mean, double *sd)
{
   size_t w = d->dim + 1;
   float *xs = malloc (d->n * w * sizeof *xs);
   if (!xs) {
      return NULL;
   }
   for (size_t j = 0; j < d->dim; j++) {
      double s = 0, ss = 0;
      for (size_t r = 0; r < d->n; r++) {
         s += d->x[r * d->dim + j];
      }
      mean[j] = s / (double) d->n;
      for (size_t r = 0; r < d->n; r++) {
         double c = d->x[r * d->dim + j] - mean[j];
         ss += c * c;
      }
      sd[j] = sqrt (ss / (double) d->n) + 1e-6;
      for (size_t r = 0; r < d->n; r++) {
         xs[r * w + j] = (float) ((d->x[r * d->dim + j] - mean[j]) / sd[j]);
      }
   }
   for (size_t r = 0; r < d->n; r++) {
      xs[r * w + d->dim] = 1.0f;
   }
   return xs;
}

/* The targets of a field as a matrix [n][k]. */
static float *
targets (const tk_heads_data_t *d, int field)
{
   size_t k = d->n_labels[field];
   float *y = calloc (d->n * k, sizeof *y);
   for (size_t r = 0; y && r < d->n; r++) {
      if (field < 2) {
         y[r * k + d->label[field][r]] = 1.0f;
      } else {
         for (size_t c = 0; c < k; c++) {
            y[r * k + c] = d->tags[r * k + c] ? 1.0f : 0.0f;
         }
      }
   }
   return y;
}

tk_heads_t *
tk_heads_train (const tk_heads_data_t *d, unsigned folds, tk_error_t *err)
{
   tk_heads_t *h = calloc (1, sizeof *h);
   double *mean = malloc (d->dim * sizeof *mean), *sd = malloc (d->dim * sizeof *sd);
   float *xs = NULL, *y = NULL;
   bool ok = false;
   folds = folds ? folds : 5;
   if (!h || !mean || !sd || !tk_blas_load (err) || !(xs = standardise (d, mean, sd))) {
      goto done;
   }
   h->dim = d->dim;
   memcpy (h->n_labels, d->n_labels, sizeof h->n_labels);
   double gram = gram_norm (xs, d->n, d->dim + 1);
   for (int f = 0; f < 3; f++) {
      problem_t p = {xs, d->n, d->dim + 1, d->n_labels[f], NULL, f < 2, 0};
      p.step_l = (f < 2 ? 0.5 : 0.25) * gram;
      free (y);
      if (!(y = targets (d, f)) || !(h->w[f] = malloc (p.k * p.d * sizeof *h->w[f]))) {
         goto done;
      }
      p.y = y;
      if (!train_field (&p, mean, sd, folds, &h->lambda[f], h->w[f])) {
         goto done;
      }
   }
   ok = true;
done:
   if (!ok && err && err->domain == TK_ERR_NONE) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory training the heads");
   }
   free (mean);
   free (sd);
   free (xs);
   free (y);
   if (!ok) {
      tk_heads_destroy (h);
      h = NULL;
   }
   return h;
}

size_t
tk_heads_dim (const tk_heads_t *h)
{
   return h->dim;
}

double
tk_heads_lambda (const tk_heads_t *h, int field)
{
   return h->lambda[field];
}

void
tk_heads_logits (const tk_heads_t *h, const float *x, double *out)
{
   size_t o = 0;
   for (int f = 0; f < 3; f++) {
      for (size_t c = 0; c < h->n_labels[f]; c++) {
         const float *w = h->w[f] + c * (h->dim + 1);
         double s = w[h->dim];
         for (size_t j = 0; j < h->dim; j++) {
            s += (double) w[j] * x[j];
         }
         out[o++] = s;
      }
   }
}

void
tk_heads_write (const tk_heads_t *h, tk_wbuf_t *b)
{
   tk_put_u32 (b, (uint32_t) h->dim);
   for (int f = 0; f < 3; f++) {
      tk_put_f32 (b, (float) h->lambda[f]);
   }
   for (int f = 0; f < 3; f++) {
      for (size_t i = 0; i < h->n_labels[f] * (h->dim + 1); i++) {
         tk_put_f32 (b, h->w[f][i]);
      }
   }
}

tk_heads_t *
tk_heads_read (tk_rbuf_t *r, const size_t n_labels[3])
{
   tk_heads_t *h = calloc (1, sizeof *h);
   uint32_t dim;
   if (!h || !tk_get_u32 (r, &dim) || dim == 0 || dim > 4096) {
      goto fail;
   }
   h->dim = dim;
   memcpy (h->n_labels, n_labels, sizeof h->n_labels);
   for (int f = 0; f < 3; f++) {
      float l;
      if (!tk_get_f32 (r, &l)) {
         goto fail;
      }
      h->lambda[f] = l;
   }
   for (int f = 0; f < 3; f++) {
      size_t nw = n_labels[f] * (h->dim + 1);
      if (!(h->w[f] = malloc (nw * sizeof *h->w[f] + 1))) {
         goto fail;
      }
      for (size_t i = 0; i < nw; i++) {
         if (!tk_get_f32 (r, &h->w[f][i])) {
            goto fail;
         }
      }
   }
   return h;
fail:
   tk_heads_destroy (h);
   return NULL;
}
