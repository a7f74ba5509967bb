/* calibration.c - temperature scaling (calibration.h). */
#include "calibration.h"

#include <math.h>

double
tk_nll_softmax (const double *logits, const uint32_t *y, size_t n, size_t k, double t)
{
   double nll = 0;
   for (size_t r = 0; r < n; r++) {
      const double *z = logits + r * k;
      double max = z[0], sum = 0;
      for (size_t c = 1; c < k; c++) {
         max = z[c] > max ? z[c] : max;
      }
      for (size_t c = 0; c < k; c++) {
         sum += exp ((z[c] - max) / t);
      }
      nll -= (z[y[r]] - max) / t - log (sum);
   }
   return n ? nll / (double) n : 0;
}

double
tk_nll_binary (const double *logits, const unsigned char *y, size_t n, double t)
{
   double nll = 0;
   for (size_t r = 0; r < n; r++) {
      double v = logits[r] / t;
      double lse = v > 0 ? v + log1p (exp (-v)) : log1p (exp (v));
      nll += lse - (y[r] ? v : 0);
   }
   return n ? nll / (double) n : 0;
}

typedef double (*loss_fn) (const void *ctx, double t);

static double
golden (loss_fn f, const void *ctx)
{
   const double phi = (sqrt (5.0) - 1) / 2;
   double a = log (0.05), b = log (20.0);
   double c = b - phi * (b - a), d = a + phi * (b - a);
   double fc = f (ctx, exp (c)), fd = f (ctx, exp (d));
   for (int i = 0; i < 60; i++) {
      if (fc < fd) {
         b = d, d = c, fd = fc;
         c = b - phi * (b - a);
         fc = f (ctx, exp (c));
      } else {
         a = c, c = d, fc = fd;
         d = a + phi * (b - a);
         fd = f (ctx, exp (d));
      }
   }
   return exp ((a + b) / 2);
}

typedef struct {
   const double *logits;
   const uint32_t *y;
   const unsigned char *yb;
   size_t n, k;
} calib_ctx_t;

static double
softmax_loss (const void *ctx, double t)
{
   const calib_ctx_t *c = ctx;
   return tk_nll_softmax (c->logits, c->y, c->n, c->k, t);
}

static double
binary_loss (const void *ctx, double t)
{
   const calib_ctx_t *c = ctx;
   return tk_nll_binary (c->logits, c->yb, c->n, t);
}

double
tk_calibrate_softmax (const double *logits, const uint32_t *y, size_t n, size_t k)
{
   calib_ctx_t c = {logits, y, NULL, n, k};
   return n ? golden (softmax_loss, &c) : 1.0;
}

double
tk_calibrate_binary (const double *logits, const unsigned char *y, size_t n)
{
   calib_ctx_t c = {logits, NULL, y, n, 1};
   return n ? golden (binary_loss, &c) : 1.0;
}
