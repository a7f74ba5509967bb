/* Unit tests for common/packed_gemm.c: products against a double-precision
 * reference for every row count of a partial tile, strides wider than the
 * matrices (nothing written outside the n columns), inputs of one to 1,536
 * features, and packing two matrices one after the other being the packing
 * of their concatenation. Skipped on a CPU without AVX-512F. */
#include "test_support.h"

#include "packed_gemm.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Deterministic values in [-1, 1). */
static float
next_value (uint32_t *seed)
{
   *seed = *seed * 1664525u + 1013904223u;
   return (float) (*seed >> 8) / (float) (1u << 23) - 1.0f;
}

static void
fill (float *v, size_t n, uint32_t *seed)
{
   for (size_t i = 0; i < n; i++) {
      v[i] = next_value (seed);
   }
}

/* Checks tk_packed_linear on rows x k inputs (row stride ldx) against the
 * sums in double, n outputs written with row stride ldy. */
static void
check_product (size_t rows, size_t n, size_t k, size_t ldx, size_t ldy)
{
   uint32_t seed = (uint32_t) (rows * 7919 + n * 31 + k);
   float *w = malloc (n * k * sizeof *w), *b = malloc (n * sizeof *b);
   float *x = malloc (rows * ldx * sizeof *x), *y = malloc (rows * ldy * sizeof *y);
   float *packed = aligned_alloc (TK_PACKED_ALIGN, tk_packed_floats (n, k) * sizeof *packed);
   assert_non_null (w);
   assert_non_null (b);
   assert_non_null (x);
   assert_non_null (y);
   assert_non_null (packed);
   fill (w, n * k, &seed);
   fill (b, n, &seed);
   fill (x, rows * ldx, &seed);
   for (size_t i = 0; i < rows * ldy; i++) {
      y[i] = -1234.5f; /* what must stay outside the n columns */
   }
   tk_packed_pack (w, n, k, packed);
   tk_packed_linear (x, rows, ldx, packed, n, k, b, y, ldy);
   for (size_t r = 0; r < rows; r++) {
      for (size_t j = 0; j < n; j++) {
         double sum = b[j], mag = fabs (b[j]);
         for (size_t i = 0; i < k; i++) {
            sum += (double) x[r * ldx + i] * w[j * k + i];
            mag += fabs ((double) x[r * ldx + i] * w[j * k + i]);
         }
         double got = y[r * ldy + j];
         if (fabs (got - sum) > 1e-6 * mag + 1e-30) {
            fail_msg ("rows %zu n %zu k %zu: y[%zu][%zu] = %.9g, expected %.9g", rows, n, k, r, j,
                      got, sum);
         }
      }
      for (size_t j = n; j < ldy; j++) {
         assert_true (y[r * ldy + j] == -1234.5f);
      }
   }
   free (w);
   free (b);
   free (x);
   free (y);
   free (packed);
}

static void
test_every_partial_tile (void **state)
{
   (void) state;
   if (!tk_packed_supported ()) {
      skip ();
   }
   for (size_t rows = 1; rows <= 13; rows++) {
      check_product (rows, 64, 37, 37, 64);
      check_product (rows, 128, 384, 384, 128);
   }
}

static void
test_strides_and_shapes (void **state)
{
   (void) state;
   if (!tk_packed_supported ()) {
      skip ();
   }
   check_product (131, 1152, 384, 384, 1152);
   check_product (17, 384, 1536, 1536, 384);
   check_product (9, 64, 1, 3, 64);
   check_product (7, 192, 40, 45, 200); /* strides wider than the matrices */
}

static void
test_packing_concatenates (void **state)
{
   (void) state;
   const size_t n = 64, k = 24;
   uint32_t seed = 7;
   float *w = malloc (3 * n * k * sizeof *w);
   float *whole = aligned_alloc (TK_PACKED_ALIGN, tk_packed_floats (3 * n, k) * sizeof *whole);
   float *parts = aligned_alloc (TK_PACKED_ALIGN, tk_packed_floats (3 * n, k) * sizeof *parts);
   assert_non_null (w);
   assert_non_null (whole);
   assert_non_null (parts);
   fill (w, 3 * n * k, &seed);
   tk_packed_pack (w, 3 * n, k, whole);
   for (size_t p = 0; p < 3; p++) {
      tk_packed_pack (w + p * n * k, n, k, parts + p * tk_packed_floats (n, k));
   }
   assert_memory_equal (whole, parts, tk_packed_floats (3 * n, k) * sizeof *whole);
   free (w);
   free (whole);
   free (parts);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_every_partial_tile),
      cmocka_unit_test (test_strides_and_shapes),
      cmocka_unit_test (test_packing_concatenates),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
