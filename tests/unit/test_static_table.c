/* Unit tests for common/static_table.c (and the binary16 helpers of
 * model_io.c): the distilled table against the encoder it came from, the
 * weights, the vectors of tickets, the cache and the serialised form. Reads
 * the table the build cached (distils it if absent). */
#include "test_support.h"

#include "encoder.h"
#include "model_io.h"
#include "static_table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DIM TK_ENCODER_DIM

static tk_encoder_t *enc;
static tk_static_table_t *table;

static int
setup (void **state)
{
   (void) state;
   tk_error_t err = {0};
   if (!(enc = tk_encoder_load (TRIAGE_ENCODER_DIR, &err)) ||
       !(table = tk_static_table_distil (enc, TRIAGE_CACHE_DIR "/models", 2, &err))) {
      fprintf (stderr, "%s\n", err.message);
      return -1;
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_static_table_destroy (table);
   tk_encoder_destroy (enc);
   return 0;
}

static double
cosine (const float *a, const float *b)
{
   double d = 0, na = 0, nb = 0;
   for (size_t i = 0; i < DIM; i++) {
      d += (double) a[i] * b[i], na += (double) a[i] * a[i], nb += (double) b[i] * b[i];
   }
   return d / sqrt (na * nb);
}

static void
test_half_precision (void **state)
{
   (void) state;
   const float exact[] = {0.0f, 1.0f, -2.5f, 0.5f, 65504.0f, 6.103515625e-05f, 5.960464477539063e-08f};
   for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
      assert_true (tk_f16_to_f32 (tk_f32_to_f16 (exact[i])) == exact[i]);
   }
   assert_int_equal (tk_f32_to_f16 (1e6f), 0x7c00);   /* overflow to inf */
   assert_int_equal (tk_f32_to_f16 (1e-9f), 0x0000);  /* underflow to zero */
   for (float x = -3.0f; x < 3.0f; x += 0.0137f) {
      assert_true (fabsf (tk_f16_to_f32 (tk_f32_to_f16 (x)) - x) <= fabsf (x) / 1024.0f + 1e-7f);
   }
}

/* A text of one piece embeds as that piece's row, a unit vector; the rows
 * keep the encoder's neighbourhoods: of any two other pieces, the one nearer to
 * a piece by the encoder is nearer by the table too (when the gap is clear). */
static void
test_rows_keep_the_encoders_neighbourhoods (void **state)
{
   (void) state;
   const tk_wordpiece_t *wp = tk_encoder_tokenizer (enc);
   const char *pieces[] = {"email", "password", "lineage", "database", "urgent"};
   float raw[5][DIM], row[5][DIM];
   for (size_t i = 0; i < 5; i++) {
      int32_t id = tk_wordpiece_lookup (wp, pieces[i], strlen (pieces[i]));
      int32_t seq[3] = {tk_wordpiece_cls (wp), id, tk_wordpiece_sep (wp)};
      tk_error_t err;
      assert_true (id >= 0);
      assert_true (tk_encoder_embed_ids (enc, seq, 1, 3, raw[i], &err));
      assert_true (tk_static_table_embed (table, pieces[i], strlen (pieces[i]), row[i]));
      double norm = 0;
      for (size_t j = 0; j < DIM; j++) {
         norm += (double) row[i][j] * row[i][j];
      }
      assert_true (fabs (norm - 1.0) < 1e-5);
   }
   for (size_t a = 0; a < 5; a++) {
      for (size_t b = 0; b < 5; b++) {
         for (size_t c = 0; c < 5; c++) {
            if (a != b && a != c && b != c &&
                fabs (cosine (raw[a], raw[b]) - cosine (raw[a], raw[c])) > 0.05) {
               assert_true ((cosine (raw[a], raw[b]) > cosine (raw[a], raw[c])) ==
                            (cosine (row[a], row[b]) > cosine (row[a], row[c])));
            }
         }
      }
   }
}

static void
test_ticket_vectors_make_sense (void **state)
{
   (void) state;
   float a[DIM], b[DIM], c[DIM], z[DIM];
   const char *sso1 = "Okta SSO login fails for the whole team";
   const char *sso2 = "Cannot sign in through SAML single sign-on with Okta";
   const char *glossary = "How do I import glossary terms from a CSV file?";
   assert_true (tk_static_table_embed (table, sso1, strlen (sso1), a));
   assert_true (tk_static_table_embed (table, sso2, strlen (sso2), b));
   assert_true (tk_static_table_embed (table, glossary, strlen (glossary), c));
   double norm = 0;
   for (size_t i = 0; i < DIM; i++) {
      norm += (double) a[i] * a[i];
   }
   assert_true (fabs (norm - 1.0) < 1e-5);
   assert_true (cosine (a, b) > cosine (a, c) + 0.1);
   assert_true (tk_static_table_embed (table, "", 0, z));
   for (size_t i = 0; i < DIM; i++) {
      assert_true (z[i] == 0.0f);
   }
}

static void
test_idf_weights_and_round_trip (void **state)
{
   (void) state;
   const char *texts[] = {"the connector fails", "the glossary term", "the okta login",
                          "the lineage graph"};
   tk_error_t err;
   tk_static_table_t *t = tk_static_table_distil (enc, TRIAGE_CACHE_DIR "/models", 1, &err);
   assert_non_null (t);
   assert_true (tk_static_table_fit_idf (t, texts, 4));
   /* "the" is in every text: its weight is the smallest, 1; "okta" in one. */
   float with_okta[DIM], plain[DIM];
   assert_true (tk_static_table_embed (t, "the okta", 8, with_okta));
   assert_true (tk_static_table_embed (table, "the okta", 8, plain));
   float okta[DIM];
   assert_true (tk_static_table_embed (t, "okta", 4, okta));
   assert_true (cosine (with_okta, okta) > cosine (plain, okta));

   tk_wbuf_t b = {0};
   tk_static_table_write (t, &b);
   assert_false (b.nomem);
   tk_rbuf_t r = {b.data, b.len};
   tk_static_table_t *back = tk_static_table_read (&r);
   assert_non_null (back);
   assert_int_equal (r.left, 0);
   float again[DIM];
   assert_true (tk_static_table_embed (back, "the okta", 8, again));
   assert_memory_equal (again, with_okta, sizeof again);
   tk_rbuf_t cut = {b.data, b.len - 1};
   assert_null (tk_static_table_read (&cut));
   tk_static_table_destroy (back);
   tk_static_table_destroy (t);
   free (b.data);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_half_precision),
      cmocka_unit_test (test_rows_keep_the_encoders_neighbourhoods),
      cmocka_unit_test (test_ticket_vectors_make_sense),
      cmocka_unit_test (test_idf_weights_and_round_trip),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
