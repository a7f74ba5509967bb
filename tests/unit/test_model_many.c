/* Unit tests for tk_model_classify_many (common/model.c) and the ragged
 * batches under it (common/encoder.c): 40 tickets of the evaluation set,
 * short and long (one past 254 word-pieces, so two windows) and an empty
 * one, classified in one call get the labels and confidences of 40
 * tk_model_classify calls, for the built encoder and static models. In
 * encoder mode the 40 tickets make several ragged passes of up to
 * TK_ENCODER_MAX_ROWS rows. Needs the models the build trains
 * (share/triage/model-{encoder,static}.bin) and the encoder's weights beside
 * them. */
#include "test_support.h"

#include "encoder.h"
#include "labelled.h"
#include "model.h"
#include "wordpiece.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARE TRIAGE_BIN_DIR "/../share/triage"
#define EVAL TRIAGE_SOURCE_DIR "/services/classifier/corpus/eval.ndjson"
#define N 40

static tk_labelled_set_t *eval_set;
static const char *subjects[N], *bodies[N];

/* The word-pieces of ticket i's text. */
static size_t
pieces_of (const tk_wordpiece_t *wp, size_t i)
{
   tk_token_ids_t ids = {0};
   char *text = tk_encoder_ticket_text (subjects[i], bodies[i]);
   assert_non_null (text);
   assert_true (tk_wordpiece_encode (wp, text, strlen (text), &ids));
   free (text);
   free (ids.ids);
   return ids.n;
}

/* Tickets 0 .. N-2 of the evaluation set ordered by body length, spread from
 * the shortest to the longest; ticket N-1 empty (NULL subject, empty body). */
static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   size_t n;
   if (!(eval_set = tk_labelled_load (EVAL, &err))) {
      fprintf (stderr, "%s: %s\n", EVAL, err.message);
      return -1;
   }
   const tk_model_example_t *ex = tk_labelled_examples (eval_set, &n);
   size_t *order = calloc (n, sizeof *order);
   if (!order || n < N) {
      free (order);
      return -1;
   }
   for (size_t i = 0; i < n; i++) { /* insertion sort by body length */
      size_t j = i, len = strlen (ex[i].body ? ex[i].body : "");
      while (j > 0 && strlen (ex[order[j - 1]].body ? ex[order[j - 1]].body : "") > len) {
         order[j] = order[j - 1];
         j--;
      }
      order[j] = i;
   }
   for (size_t k = 0; k < N - 1; k++) {
      const tk_model_example_t *e = &ex[order[k * (n - 1) / (N - 2)]];
      subjects[k] = e->subject;
      bodies[k] = e->body;
   }
   subjects[N - 1] = NULL;
   bodies[N - 1] = "";
   free (order);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   tk_labelled_destroy (eval_set);
   return 0;
}

/* The tickets hold what the test claims: an empty one, short ones, and one
 * longer than a window. */
static void
test_tickets_span_the_lengths (void **state)
{
   (void) state;
   tk_error_t err;
   tk_wordpiece_t *wp = tk_wordpiece_load (SHARE "/" TK_MODEL_ENCODER_DIRNAME "/"
                                           TK_ENCODER_TOKENIZER, &err);
   assert_non_null (wp);
   size_t shortest = SIZE_MAX, longest = 0, total = 0;
   for (size_t i = 0; i < N - 1; i++) {
      size_t k = pieces_of (wp, i);
      shortest = k < shortest ? k : shortest;
      longest = k > longest ? k : longest;
      total += k;
   }
   assert_int_equal (pieces_of (wp, N - 1), 0);
   tk_wordpiece_destroy (wp);
   assert_in_range (shortest, 1, 40);
   assert_true (longest > TK_ENCODER_MAX_TOKENS - 2); /* a head and a tail window */
   assert_true (total > 2 * TK_ENCODER_MAX_ROWS);     /* several passes */
}

static void
expect_many_equals_one_by_one (const char *file)
{
   tk_error_t err;
   tk_model_t *m = tk_model_load (file, &err);
   if (!m) {
      fail_msg ("%s: %s", file, err.message);
   }
   static tk_classification_t many[N], one[N];
   static tk_confidence_t many_conf[N], one_conf[N];
   memset (many, 0, sizeof many);
   memset (one, 0, sizeof one);
   assert_true (tk_model_classify_many (m, subjects, bodies, N, many, many_conf));
   for (size_t i = 0; i < N; i++) {
      assert_true (tk_model_classify (m, subjects[i], bodies[i], &one[i], &one_conf[i]));
   }
   for (size_t i = 0; i < N; i++) {
      if (strcmp (many[i].sentiment, one[i].sentiment) != 0 ||
          strcmp (many[i].priority, one[i].priority) != 0 ||
          many[i].n_topic_tags != one[i].n_topic_tags ||
          fabs (many_conf[i].sentiment - one_conf[i].sentiment) > 1e-4 ||
          fabs (many_conf[i].priority - one_conf[i].priority) > 1e-4 ||
          fabs (many_conf[i].topic - one_conf[i].topic) > 1e-4) {
         fail_msg ("%s, ticket %zu: many %s/%s/%zu tags (%.6f %.6f %.6f), one by one "
                   "%s/%s/%zu tags (%.6f %.6f %.6f)",
                   file, i, many[i].sentiment, many[i].priority, many[i].n_topic_tags,
                   many_conf[i].sentiment, many_conf[i].priority, many_conf[i].topic,
                   one[i].sentiment, one[i].priority, one[i].n_topic_tags,
                   one_conf[i].sentiment, one_conf[i].priority, one_conf[i].topic);
      }
      for (size_t t = 0; t < one[i].n_topic_tags; t++) {
         assert_string_equal (many[i].topic_tags[t], one[i].topic_tags[t]);
      }
      tk_classification_clear (&many[i]);
      tk_classification_clear (&one[i]);
   }
   /* No ticket at all: nothing to do, and no error. */
   assert_true (tk_model_classify_many (m, subjects, bodies, 0, many, many_conf));
   tk_model_destroy (m);
}

static void
test_encoder_many_equals_one_by_one (void **state)
{
   (void) state;
   expect_many_equals_one_by_one (SHARE "/model-encoder.bin");
}

static void
test_static_many_equals_one_by_one (void **state)
{
   (void) state;
   expect_many_equals_one_by_one (SHARE "/model-static.bin");
}

/* The ragged entry against the equal-length one: three sequences of
 * different lengths in one call give each the vector it gets alone. */
static void
test_ragged_equals_alone (void **state)
{
   (void) state;
   tk_error_t err;
   tk_encoder_t *enc = tk_encoder_load (SHARE "/" TK_MODEL_ENCODER_DIRNAME, &err);
   assert_non_null (enc);
   const tk_wordpiece_t *wp = tk_encoder_tokenizer (enc);
   int32_t ids[2 + 5 + 40];
   size_t lens[3] = {2, 5, 40};
   for (size_t b = 0, r = 0; b < 3; b++) {
      ids[r] = tk_wordpiece_cls (wp);
      for (size_t t = 1; t + 1 < lens[b]; t++) {
         ids[r + t] = (int32_t) (2000 + 37 * t + 11 * b);
      }
      ids[r + lens[b] - 1] = tk_wordpiece_sep (wp);
      r += lens[b];
   }
   float together[3 * TK_ENCODER_DIM], alone[TK_ENCODER_DIM];
   assert_true (tk_encoder_embed_ragged (enc, ids, lens, 3, together, &err));
   for (size_t b = 0, r = 0; b < 3; r += lens[b], b++) {
      assert_true (tk_encoder_embed_ids (enc, ids + r, 1, lens[b], alone, &err));
      for (size_t i = 0; i < TK_ENCODER_DIM; i++) {
         if (fabsf (together[b * TK_ENCODER_DIM + i] - alone[i]) > 1e-5f) {
            fail_msg ("sequence %zu, dimension %zu: %.7f together, %.7f alone", b, i,
                      (double) together[b * TK_ENCODER_DIM + i], (double) alone[i]);
         }
      }
   }
   size_t bad[1] = {TK_ENCODER_MAX_TOKENS + 1};
   assert_false (tk_encoder_embed_ragged (enc, ids, bad, 1, together, &err));
   tk_encoder_destroy (enc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_tickets_span_the_lengths),
      cmocka_unit_test (test_encoder_many_equals_one_by_one),
      cmocka_unit_test (test_static_many_equals_one_by_one),
      cmocka_unit_test (test_ragged_equals_alone),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
