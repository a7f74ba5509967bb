/* sparse_lr.c - FISTA for the sparse linear classifiers of sparse_lr.h. */
#include "sparse_lr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define POWER_ITERATIONS 30
#define STOP_CHANGE 1e-5

/* The chosen rows with their columns renumbered 0 .. m-1 (m the columns that
 * occur), so every dense array below is m x k, not dim x k. */
typedef struct {
   size_t n, m, k;
   size_t *start;     /* [n + 1] */
   uint32_t *col;     /* local column numbers */
   float *val;
   uint32_t *global;  /* [m]: the column in X of a local one */
} local_t;

static void
local_free (local_t *l)
{
   free (l->start);
   free (l->col);
   free (l->val);
   free (l->global);
}

static bool
local_make (const tk_csr_t *X, const size_t *rows, size_t n, local_t *l)
{
   int32_t *map = malloc (X->dim * sizeof *map);
   size_t nnz = 0;
   memset (l, 0, sizeof *l);
   l->n = n;
   for (size_t i = 0; i < n; i++) {
      size_t r = rows ? rows[i] : i;
      nnz += X->start[r + 1] - X->start[r];
   }
   l->start = malloc ((n + 1) * sizeof *l->start);
   l->col = malloc ((nnz + 1) * sizeof *l->col);
   l->val = malloc ((nnz + 1) * sizeof *l->val);
   l->global = malloc ((nnz + 1) * sizeof *l->global);
   if (!map || !l->start || !l->col || !l->val || !l->global) {
      free (map);
      local_free (l);
      return false;
   }
   memset (map, 0xff, X->dim * sizeof *map); /* all -1 */
   size_t at = 0;
   for (size_t i = 0; i < n; i++) {
      size_t r = rows ? rows[i] : i;
      l->start[i] = at;
      for (size_t e = X->start[r]; e < X->start[r + 1]; e++) {
         uint32_t c = X->col[e];
         if (map[c] < 0) {
            map[c] = (int32_t) l->m;
            l->global[l->m++] = c;
         }
         l->col[at] = (uint32_t) map[c];
         l->val[at++] = X->val[e];
      }
   }
   l->start[n] = at;
   free (map);
   return true;
}

/* The largest eigenvalue of [X 1]'[X 1] / n, by power iteration. */
static double
largest_eigenvalue (const local_t *l)
{
   double *v = malloc ((l->m + 1) * sizeof *v), *u = malloc ((l->m + 1) * sizeof *u);
   double lambda = 1.0 + 1.0; /* the bound for unit rows, if memory runs out */
   if (!v || !u) {
      free (v);
      free (u);
      return lambda;
   }
   for (size_t j = 0; j <= l->m; j++) {
      v[j] = 1.0 / sqrt ((double) l->m + 1);
   }
   for (int it = 0; it < POWER_ITERATIONS; it++) {
      memset (u, 0, (l->m + 1) * sizeof *u);
      for (size_t i = 0; i < l->n; i++) {
         double s = v[l->m]; /* the bias column */
         for (size_t e = l->start[i]; e < l->start[i + 1]; e++) {
            s += l->val[e] * v[l->col[e]];
         }
         for (size_t e = l->start[i]; e < l->start[i + 1]; e++) {
            u[l->col[e]] += l->val[e] * s;
         }
         u[l->m] += s;
      }
      double norm = 0;
      for (size_t j = 0; j <= l->m; j++) {
         norm += u[j] * u[j];
      }
      norm = sqrt (norm);
      if (norm == 0) {
         break;
      }
      lambda = norm / (double) l->n;
      for (size_t j = 0; j <= l->m; j++) {
         v[j] = u[j] / norm;
      }
   }
   free (v);
   free (u);
   return lambda;
}

/* The gradient of the objective at y (weights [m][k] then k biases) into g. */
static void
gradient (const local_t *l, const tk_lr_problem_t *p, const size_t *rows, const float *y,
          float *g, double *z)
{
   size_t m = l->m, k = l->k;
   const float *yb = y + m * k;
   float *gb = g + m * k;
   double inv_n = 1.0 / (double) l->n;
   memset (g, 0, (m + 1) * k * sizeof *g);
   for (size_t i = 0; i < l->n; i++) {
      size_t r = rows ? rows[i] : i;
      for (size_t c = 0; c < k; c++) {
         z[c] = yb[c];
      }
      for (size_t e = l->start[i]; e < l->start[i + 1]; e++) {
         const float *wj = y + (size_t) l->col[e] * k;
         float v = l->val[e];
         for (size_t c = 0; c < k; c++) {
            z[c] += v * wj[c];
         }
      }
      /* z becomes the residual: probability minus target. */
      if (p->loss == TK_LR_SOFTMAX) {
         double max = z[0], sum = 0;
         for (size_t c = 1; c < k; c++) {
            max = z[c] > max ? z[c] : max;
         }
         for (size_t c = 0; c < k; c++) {
            z[c] = exp (z[c] - max);
            sum += z[c];
         }
         for (size_t c = 0; c < k; c++) {
            z[c] = z[c] / sum - (p->label[r] == c ? 1.0 : 0.0);
         }
      } else {
         for (size_t c = 0; c < k; c++) {
            double s = z[c] >= 0 ? 1.0 / (1.0 + exp (-z[c])) : exp (z[c]) / (1.0 + exp (z[c]));
            z[c] = s - (p->target[r * k + c] ? 1.0 : 0.0);
         }
      }
      for (size_t c = 0; c < k; c++) {
         z[c] *= inv_n;
         gb[c] += (float) z[c];
      }
      for (size_t e = l->start[i]; e < l->start[i + 1]; e++) {
         float *gj = g + (size_t) l->col[e] * k;
         float v = l->val[e];
         for (size_t c = 0; c < k; c++) {
            gj[c] += (float) (v * z[c]);
         }
      }
   }
   for (size_t j = 0; j < m * k; j++) {
      g[j] += (float) (p->lambda * y[j]);
   }
}

/* FISTA with gradient restart on the local problem; x holds the result. */
static void
fista (const local_t *l, const tk_lr_problem_t *p, const size_t *rows, float *x, float *y,
       float *g, double *z)
{
   size_t len = (l->m + 1) * l->k;
   double curvature = p->loss == TK_LR_SOFTMAX ? 0.5 : 0.25;
   double step = 1.0 / (1.05 * curvature * largest_eigenvalue (l) + p->lambda);
   double t = 1;
   memset (x, 0, len * sizeof *x);
   memset (y, 0, len * sizeof *y);
   for (unsigned it = 0; it < p->max_iter; it++) {
      gradient (l, p, rows, y, g, z);
      double t_next = (1 + sqrt (1 + 4 * t * t)) / 2, beta = (t - 1) / t_next;
      double uphill = 0, change = 0;
      for (size_t j = 0; j < len; j++) {
         float next = (float) (y[j] - step * g[j]);
         float d = next - x[j];
         uphill += (double) g[j] * d;
         change = fabs (d) > change ? fabs (d) : change;
         x[j] = next;
         y[j] = (float) (next + beta * d);
      }
      t = t_next;
      if (uphill > 0) { /* restart: drop the momentum */
         memcpy (y, x, len * sizeof *y);
         t = 1;
      }
      if (change < STOP_CHANGE) {
         break;
      }
   }
}

bool
tk_sparse_lr_fit (const tk_csr_t *X, const size_t *rows, size_t n, const tk_lr_problem_t *p,
                  float *w, size_t w_stride, float *bias)
{
   local_t l;
   if (!rows) {
      n = X->n_rows;
   }
   for (size_t j = 0; j < X->dim; j++) {
      for (size_t c = 0; c < p->k; c++) {
         w[j * w_stride + c] = 0;
      }
   }
   for (size_t c = 0; c < p->k; c++) {
      bias[c] = 0;
   }
   if (n == 0 || p->k == 0) {
      return true;
   }
   if (!local_make (X, rows, n, &l)) {
      return false;
   }
   l.k = p->k;
   size_t len = (l.m + 1) * l.k;
   float *x = malloc (len * sizeof *x), *y = malloc (len * sizeof *y), *g = malloc (len * sizeof *g);
   double *z = malloc (l.k * sizeof *z);
   bool ok = x && y && g && z;
   if (ok) {
      fista (&l, p, rows, x, y, g, z);
      for (size_t j = 0; j < l.m; j++) {
         for (size_t c = 0; c < l.k; c++) {
            w[(size_t) l.global[j] * w_stride + c] = x[j * l.k + c];
         }
      }
      for (size_t c = 0; c < l.k; c++) {
         bias[c] = x[l.m * l.k + c];
      }
   }
   free (x);
   free (y);
   free (g);
   free (z);
   local_free (&l);
   return ok;
}
