/* ece.c - expected calibration error with a bootstrap interval, for
 * triagectl eval (cli.h).
 *
 * ECE over 10 equal-width confidence bins [0, 0.1) .. [0.9, 1]: the mean over
 * decisions of |accuracy of its bin - mean confidence of its bin|, i.e.
 * sum over bins of (n_bin / N) |acc_bin - conf_bin|. The 95 % interval
 * resamples tickets with replacement (1,000 times, a fixed seed so the report
 * is reproducible), each ticket bringing all its decisions (one per field;
 * for topics one per tag, or one per chosen tag when the source gave no
 * probability for the others), and takes the 2.5th and 97.5th percentiles. */
#include "cli.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define BINS 10
#define RESAMPLES 1000

typedef struct {
   double conf[BINS], right[BINS], n[BINS];
} bins_t;

static void
add (bins_t *b, double conf, bool right, double weight)
{
   int k = (int) (conf * BINS);
   k = k < 0 ? 0 : k >= BINS ? BINS - 1 : k;
   b->conf[k] += conf * weight;
   b->right[k] += (right ? 1.0 : 0.0) * weight;
   b->n[k] += weight;
}

static double
ece_of (const bins_t *b)
{
   double total = 0, err = 0;
   for (int k = 0; k < BINS; k++) {
      total += b->n[k];
   }
   for (int k = 0; k < BINS && total > 0; k++) {
      if (b->n[k] > 0) {
         err += fabs (b->right[k] - b->conf[k]) / total;
      }
   }
   return err;
}

static uint64_t
next_random (uint64_t *s)
{
   /* splitmix64: plenty for resampling indices. */
   uint64_t z = (*s += 0x9e3779b97f4a7c15u);
   z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
   z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
   return z ^ (z >> 31);
}

static int
cmp_double (const void *a, const void *b)
{
   double x = *(const double *) a, y = *(const double *) b;
   return x < y ? -1 : x > y;
}

void
cli_ece (const double *conf, const unsigned char *right, const size_t *start, size_t n_tickets,
         cli_ece_t *out)
{
   bins_t all;
   memset (&all, 0, sizeof all);
   for (size_t i = start[0]; i < start[n_tickets]; i++) {
      add (&all, conf[i], right[i], 1.0);
   }
   out->ece = ece_of (&all);
   out->low = out->high = out->ece;
   double *samples = malloc (RESAMPLES * sizeof *samples);
   unsigned *count = calloc (n_tickets + 1, sizeof *count);
   if (!samples || !count || n_tickets == 0) {
      free (samples);
      free (count);
      return;
   }
   uint64_t seed = 20261202;
   for (int s = 0; s < RESAMPLES; s++) {
      bins_t b;
      memset (&b, 0, sizeof b);
      memset (count, 0, n_tickets * sizeof *count);
      for (size_t i = 0; i < n_tickets; i++) {
         count[next_random (&seed) % n_tickets]++;
      }
      for (size_t t = 0; t < n_tickets; t++) {
         for (size_t k = start[t]; count[t] && k < start[t + 1]; k++) {
            add (&b, conf[k], right[k], count[t]);
         }
      }
      samples[s] = ece_of (&b);
   }
   qsort (samples, RESAMPLES, sizeof *samples, cmp_double);
   out->low = samples[(int) (0.025 * RESAMPLES)];
   out->high = samples[(int) (0.975 * RESAMPLES) - 1];
   free (samples);
   free (count);
}
