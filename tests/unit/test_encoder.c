/* Unit tests for common/encoder.c (and the safetensors and WordPiece readers
 * under it): the vectors of the sentences in tests/data/encoder/ against
 * those sentence-transformers made (REFERENCE.md beside them says how), the
 * token ids against that library's tokenizer, one encoder shared by several
 * threads, and a released tensor reading back unchanged. Needs the weights
 * bootstrap fetches (TRIAGE_ENCODER_DIR). */
#include "test_support.h"

#include "encoder.h"
#include "safetensors.h"
#include "wordpiece.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REFERENCE TRIAGE_SOURCE_DIR "/tests/data/encoder/reference.json"

static tk_encoder_t *enc;
static cJSON *ref;

static int
setup (void **state)
{
   (void) state;
   tk_error_t err = {0};
   size_t len;
   char *text = tk_test_read_file (REFERENCE, &len);
   if (!text || !(ref = cJSON_Parse (text))) {
      fprintf (stderr, "cannot read %s\n", REFERENCE);
      free (text);
      return -1;
   }
   free (text);
   if (!(enc = tk_encoder_load (TRIAGE_ENCODER_DIR, &err))) {
      fprintf (stderr, "cannot load the encoder from %s (run deploy/local/bootstrap): %s\n",
               TRIAGE_ENCODER_DIR, err.message);
      return -1;
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_encoder_destroy (enc);
   cJSON_Delete (ref);
   return 0;
}

static double
cosine (const float *a, const cJSON *b)
{
   double dot = 0, na = 0, nb = 0;
   for (size_t i = 0; i < TK_ENCODER_DIM; i++) {
      double y = cJSON_GetArrayItem (b, (int) i)->valuedouble;
      dot += a[i] * y, na += (double) a[i] * a[i], nb += y * y;
   }
   return dot / sqrt (na * nb);
}

static const cJSON *
sentences (void)
{
   return cJSON_GetObjectItemCaseSensitive (ref, "sentences");
}

static void
test_token_ids_match_reference (void **state)
{
   (void) state;
   const cJSON *s;
   cJSON_ArrayForEach (s, sentences ())
   {
      const char *text = cJSON_GetObjectItemCaseSensitive (s, "text")->valuestring;
      const cJSON *ids = cJSON_GetObjectItemCaseSensitive (s, "ids");
      tk_token_ids_t got = {0};
      assert_true (tk_wordpiece_encode (tk_encoder_tokenizer (enc), text, strlen (text), &got));
      bool same = got.n == (size_t) cJSON_GetArraySize (ids);
      for (size_t i = 0; same && i < got.n; i++) {
         same = got.ids[i] == cJSON_GetArrayItem (ids, (int) i)->valueint;
      }
      if (!same) {
         fail_msg ("ids differ for \"%.60s\": %zu ids, reference %d", text, got.n,
                   cJSON_GetArraySize (ids));
      }
      free (got.ids);
   }
}

static void
test_vectors_match_reference (void **state)
{
   (void) state;
   const cJSON *s;
   size_t long_ones = 0;
   cJSON_ArrayForEach (s, sentences ())
   {
      const char *text = cJSON_GetObjectItemCaseSensitive (s, "text")->valuestring;
      float v[TK_ENCODER_DIM];
      tk_error_t err = {0};
      static const char *const modes[2] = {"head_tail", "truncate"};
      for (int m = 0; m < 2; m++) {
         assert_true (tk_encoder_embed (enc, text, strlen (text), (tk_encoder_windows_t) m, v, &err));
         double c = cosine (v, cJSON_GetObjectItemCaseSensitive (s, modes[m]));
         if (!(c >= 0.999)) {
            fail_msg ("%s cosine %.6f for \"%.60s\"", modes[m], c, text);
         }
      }
      long_ones += cJSON_GetObjectItemCaseSensitive (s, "n_pieces")->valueint > 254;
   }
   assert_true (cJSON_GetArraySize (sentences ()) >= 20);
   assert_true (long_ones >= 2); /* the windows are exercised */
}

static void
test_ticket_text_joins_subject_and_body (void **state)
{
   (void) state;
   char *t = tk_encoder_ticket_text ("Login fails", "Since Monday.");
   assert_string_equal (t, "Login fails\nSince Monday.");
   free (t);
   t = tk_encoder_ticket_text (NULL, "only body");
   assert_string_equal (t, "\nonly body");
   free (t);
}

typedef struct {
   const char *text;
   float v[TK_ENCODER_DIM];
   bool ok;
} job_t;

static void *
embed_thread (void *arg)
{
   job_t *j = arg;
   tk_error_t err;
   j->ok = true;
   for (int k = 0; k < 3 && j->ok; k++) {
      j->ok = tk_encoder_embed_ticket (enc, "subject", j->text, j->v, &err);
   }
   return NULL;
}

static void
test_one_encoder_serves_threads (void **state)
{
   (void) state;
   job_t jobs[4] = {{.text = "Okta login broken"}, {.text = "How do I add a glossary term?"},
                    {.text = "Okta login broken"}, {.text = "Lineage graph is empty"}};
   pthread_t t[4];
   for (int i = 0; i < 4; i++) {
      assert_int_equal (pthread_create (&t[i], NULL, embed_thread, &jobs[i]), 0);
   }
   for (int i = 0; i < 4; i++) {
      pthread_join (t[i], NULL);
      assert_true (jobs[i].ok);
   }
   float alone[TK_ENCODER_DIM];
   tk_error_t err;
   assert_true (tk_encoder_embed_ticket (enc, "subject", jobs[0].text, alone, &err));
   assert_memory_equal (jobs[0].v, alone, sizeof alone);
   assert_memory_equal (jobs[0].v, jobs[2].v, sizeof alone);
}

/* A released tensor reads back unchanged (its pages come back from the
 * file), and releasing memory outside the mapping leaves it alone. */
static void
test_released_tensor_reads_back (void **state)
{
   (void) state;
   tk_error_t err = {0};
   const size_t shape[2] = {1536, TK_ENCODER_DIM}, n = 1536 * TK_ENCODER_DIM;
   tk_safetensors_t *st = tk_safetensors_open (TRIAGE_ENCODER_DIR "/" TK_ENCODER_FILE, &err);
   assert_non_null (st);
   const float *w = tk_safetensors_f32 (st, "encoder.layer.0.intermediate.dense.weight", shape, 2,
                                        &err);
   assert_non_null (w);
   float *before = malloc (n * sizeof *before), outside[64];
   assert_non_null (before);
   memcpy (before, w, n * sizeof *before);
   tk_safetensors_release (st, w, n);
   assert_memory_equal (w, before, n * sizeof *before);
   for (size_t i = 0; i < 64; i++) {
      outside[i] = (float) i;
   }
   tk_safetensors_release (st, outside, 64);
   assert_true (outside[63] == 63.0f);
   free (before);
   tk_safetensors_close (st);
}

static void
test_bad_files_fail_cleanly (void **state)
{
   (void) state;
   tk_error_t err = {0};
   char path[] = "/tmp/triage-encoder-XXXXXX";
   int fd = mkstemp (path);
   assert_true (fd >= 0);
   /* A header length past the end of the file. */
   const unsigned char bad[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
   assert_int_equal (write (fd, bad, sizeof bad), (ssize_t) sizeof bad);
   close (fd);
   assert_null (tk_safetensors_open (path, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_null (tk_wordpiece_load (path, &err));
   assert_null (tk_encoder_load ("/nonexistent", &err));
   assert_int_equal (err.domain, TK_ERR_IO);
   unlink (path);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_token_ids_match_reference),
      cmocka_unit_test (test_vectors_match_reference),
      cmocka_unit_test (test_ticket_text_joins_subject_and_body),
      cmocka_unit_test (test_one_encoder_serves_threads),
      cmocka_unit_test (test_released_tensor_reads_back),
      cmocka_unit_test (test_bad_files_fail_cleanly),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
