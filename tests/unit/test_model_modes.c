/* Unit tests for the encoder modes of common/model.c (model_train.c, heads.c,
 * calibration.c): heads learn a separable problem, temperature scaling finds
 * the temperature that made its data, static and encoder models survive a
 * save and load unchanged, an encoder model refuses weights other than the
 * ones it pins, and a format 1 file is refused with advice. */
#include "test_support.h"

#include "calibration.h"
#include "heads.h"
#include "labelled.h"
#include "model.h"
#include "model_io.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CORPUS TRIAGE_SOURCE_DIR "/services/classifier/corpus/train.ndjson"
#define CACHE TRIAGE_CACHE_DIR "/models"

static tk_labelled_set_t *corpus;
static tk_model_example_t *train_ex, *calib_ex, *test_ex;
static size_t n_train, n_calib, n_test;

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   size_t n;
   if (!(corpus = tk_labelled_load (CORPUS, &err))) {
      return -1;
   }
   const tk_model_example_t *ex = tk_labelled_examples (corpus, &n);
   train_ex = calloc (n, sizeof *train_ex);
   calib_ex = calloc (n, sizeof *calib_ex);
   test_ex = calloc (n, sizeof *test_ex);
   for (size_t i = 0; i < n; i++) {
      if (tk_model_is_holdout (ex[i].id, 1, 0.2)) {
         test_ex[n_test++] = ex[i];
      } else if (tk_model_is_holdout (ex[i].id, 2, 0.2)) {
         calib_ex[n_calib++] = ex[i];
      } else {
         train_ex[n_train++] = ex[i];
      }
   }
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   free (train_ex);
   free (calib_ex);
   free (test_ex);
   tk_labelled_destroy (corpus);
   return 0;
}

/* Two well separated clusters per label in 8 dimensions. */
static void
test_heads_learn_a_separable_problem (void **state)
{
   (void) state;
   enum { N = 200, D = 8 };
   static float x[N * D];
   static uint32_t sent[N], prio[N];
   static unsigned char tags[N * 2];
   for (size_t i = 0; i < N; i++) {
      sent[i] = (uint32_t) (i % 3);
      prio[i] = (uint32_t) (i % 2);
      tags[i * 2] = i % 3 == 0, tags[i * 2 + 1] = i % 2 == 1;
      for (size_t j = 0; j < D; j++) {
         x[i * D + j] = (float) (((i * 7 + j * 13) % 17) / 17.0 - 0.5) * 0.2f;
      }
      x[i * D + sent[i]] += 2.0f;
      x[i * D + 3 + prio[i]] += 2.0f;
   }
   tk_heads_data_t d = {x, N, D, {3, 2, 2}, {sent, prio}, tags};
   tk_error_t err = {0};
   tk_heads_t *h = tk_heads_train (&d, 4, &err);
   assert_non_null (h);
   for (size_t i = 0; i < N; i++) {
      double z[7];
      tk_heads_logits (h, x + i * D, z);
      size_t best = z[1] > z[0] ? 1 : 0;
      best = z[2] > z[best] ? 2 : best;
      assert_int_equal (best, sent[i]);
      assert_int_equal (z[4] > z[3], prio[i]);
      assert_int_equal (z[5] > 0, tags[i * 2]);
      assert_int_equal (z[6] > 0, tags[i * 2 + 1]);
   }
   tk_wbuf_t b = {0};
   tk_heads_write (h, &b);
   tk_rbuf_t r = {b.data, b.len}, cut = {b.data, b.len - 2};
   size_t nl[3] = {3, 2, 2};
   tk_heads_t *back = tk_heads_read (&r, nl);
   assert_non_null (back);
   assert_null (tk_heads_read (&cut, nl));
   double z1[7], z2[7];
   tk_heads_logits (h, x, z1);
   tk_heads_logits (back, x, z2);
   assert_memory_equal (z1, z2, sizeof z1);
   tk_heads_destroy (back);
   tk_heads_destroy (h);
   free (b.data);
}

/* Labels drawn from softmax(z / 2.5): the fit finds a temperature near 2.5. */
static void
test_temperature_recovers_the_truth (void **state)
{
   (void) state;
   enum { N = 4000, K = 3 };
   static double z[N * K], zb[N];
   static uint32_t y[N];
   static unsigned char yb[N];
   uint64_t s = 42;
   for (size_t i = 0; i < N; i++) {
      double p[K], sum = 0;
      for (size_t c = 0; c < K; c++) {
         s = s * 6364136223846793005u + 1442695040888963407u;
         z[i * K + c] = (double) (s >> 11) / 9007199254740992.0 * 10 - 5;
         sum += p[c] = exp (z[i * K + c] / 2.5);
      }
      s = s * 6364136223846793005u + 1442695040888963407u;
      double u = (double) (s >> 11) / 9007199254740992.0 * sum;
      y[i] = u < p[0] ? 0 : u < p[0] + p[1] ? 1 : 2;
      zb[i] = z[i * K] * 2;
      s = s * 6364136223846793005u + 1442695040888963407u;
      yb[i] = (double) (s >> 11) / 9007199254740992.0 < 1 / (1 + exp (-zb[i] / 0.5));
   }
   double t = tk_calibrate_softmax (z, y, N, K), tb = tk_calibrate_binary (zb, yb, N);
   assert_true (t > 2.2 && t < 2.8);
   assert_true (tb > 0.4 && tb < 0.6);
   assert_true (tk_nll_softmax (z, y, N, K, t) <= tk_nll_softmax (z, y, N, K, 1.0));
}

static tk_model_t *
train_mode (tk_model_mode_t mode, size_t n, bool nb_features)
{
   tk_model_train_options_t o = {.mode = mode, .encoder_dir = TRIAGE_ENCODER_DIR, .folds = 3,
                                 .nb_features = nb_features, .lexical_features = nb_features,
                                 .cache_dir = CACHE, .threads = 2, .calibration = calib_ex,
                                 .n_calibration = n_calib < 60 ? n_calib : 60};
   tk_error_t err = {0};
   tk_model_t *m = tk_model_train (train_ex, n, &o, &err);
   if (!m) {
      fail_msg ("training %s: %s", tk_model_mode_name (mode), err.message);
   }
   return m;
}

/* Saves m, loads it back, and checks every held-out score is the same. */
static tk_model_t *
round_trip (const tk_model_t *m, const char *path)
{
   tk_error_t err = {0};
   assert_true (tk_model_save (m, path, &err));
   tk_model_t *back = tk_model_load_with (path, TRIAGE_ENCODER_DIR, &err);
   if (!back) {
      fail_msg ("load: %s", err.message);
   }
   assert_int_equal (tk_model_mode (back), tk_model_mode (m));
   assert_string_equal (tk_model_version (back), tk_model_version (m));
   for (int f = 0; f < 3; f++) {
      assert_true (tk_model_temperature (back, (tk_model_field_t) f) ==
                   tk_model_temperature (m, (tk_model_field_t) f));
   }
   for (size_t i = 0; i < n_test && i < 40; i++) {
      tk_model_scores_t a, b;
      assert_true (tk_model_scores (m, test_ex[i].subject, test_ex[i].body, &a));
      assert_true (tk_model_scores (back, test_ex[i].subject, test_ex[i].body, &b));
      assert_memory_equal (&a, &b, sizeof a);
   }
   return back;
}

static void
test_static_model_round_trip (void **state)
{
   (void) state;
   /* With the logits of naive Bayes and of the lexical model beside the
    * vector, as the build trains it. */
   tk_model_t *m = train_mode (TK_MODEL_STATIC, n_train, true);
   assert_memory_equal (tk_model_version (m), "local-static-", 13);
   char path[] = "/tmp/triage-static-XXXXXX";
   close (mkstemp (path));
   tk_model_t *back = round_trip (m, path);
   /* Good enough on tickets it never saw to show the pipeline is wired. */
   size_t right = 0;
   for (size_t i = 0; i < n_test; i++) {
      tk_classification_t c = {0};
      assert_true (tk_model_classify (back, test_ex[i].subject, test_ex[i].body, &c, NULL));
      right += strcmp (c.priority, test_ex[i].priority) == 0;
      tk_classification_clear (&c);
   }
   assert_true ((double) right / (double) n_test > 0.7);
   tk_model_destroy (back);
   tk_model_destroy (m);
   unlink (path);
}

static void
test_encoder_model_round_trip_and_pin (void **state)
{
   (void) state;
   tk_model_t *m = train_mode (TK_MODEL_ENCODER, 80, false);
   assert_memory_equal (tk_model_version (m), "local-minilm-", 13);
   char path[] = "/tmp/triage-encoder-XXXXXX";
   close (mkstemp (path));
   tk_model_destroy (round_trip (m, path));
   tk_error_t err = {0};
   assert_null (tk_model_load_with (path, "/nonexistent", &err));
   assert_string_equal (err.field, "TRIAGE_ENCODER_PATH");

   /* Pinned to other weights: change the pinned sum, fix the checksum. */
   size_t len;
   unsigned char *data = tk_read_whole_file (path, &len, &err);
   assert_non_null (data);
   unsigned char *pin = memmem (data, len, "53aa51172d142c89", 16);
   assert_non_null (pin);
   pin[0] = '0';
   uint32_t sum = tk_fnv1a32 (data, len - 4);
   for (int k = 0; k < 4; k++) {
      data[len - 4 + k] = (unsigned char) (sum >> (8 * k));
   }
   assert_true (tk_write_file_atomic (path, data, len, &err));
   assert_null (tk_model_load_with (path, TRIAGE_ENCODER_DIR, &err));
   assert_non_null (strstr (err.message, "trained with 03aa5117"));
   free (data);
   tk_model_destroy (m);
   unlink (path);
}

static void
test_format_1_is_refused (void **state)
{
   (void) state;
   char path[] = "/tmp/triage-v1-XXXXXX";
   int fd = mkstemp (path);
   unsigned char v1[12] = {'T', 'K', 'N', 'B', 1, 0, 0, 0};
   uint32_t sum = tk_fnv1a32 (v1, 8);
   for (int k = 0; k < 4; k++) {
      v1[8 + k] = (unsigned char) (sum >> (8 * k));
   }
   assert_int_equal (write (fd, v1, sizeof v1), (ssize_t) sizeof v1);
   close (fd);
   tk_error_t err = {0};
   assert_null (tk_model_load (path, &err));
   assert_non_null (strstr (err.message, "retrain with triagectl train"));
   unlink (path);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_heads_learn_a_separable_problem),
      cmocka_unit_test (test_temperature_recovers_the_truth),
      cmocka_unit_test (test_static_model_round_trip),
      cmocka_unit_test (test_encoder_model_round_trip_and_pin),
      cmocka_unit_test (test_format_1_is_refused),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
