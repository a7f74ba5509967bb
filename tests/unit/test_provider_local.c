/* The built-in model as a provider (services/classifier/provider_local.c)
 * on a real loop: calls started together are answered in batches with what
 * tk_model_classify answers for each; a pending call cancelled is freed at
 * once and a running one when its work ends, neither called back; close()
 * reports only once no work is left. Uses the models the build trains
 * (share/triage/model-{encoder,static}.bin). */
#include "test_support.h"

#include "labelled.h"
#include "model.h"
#include "provider.h"
#include "taxonomy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SHARE TRIAGE_BIN_DIR "/../share/triage"
#define EVAL TRIAGE_SOURCE_DIR "/services/classifier/corpus/eval.ndjson"
#define N 40

typedef struct {
   uv_loop_t loop;
   tk_config_t cfg;
   tk_taxonomy_t *tax;
   cl_provider_t *p;
   char model_path[512], encoder_path[512];
   size_t n_answered;
   bool answered[N], ok[N];
   tk_classification_t c[N];
   tk_confidence_t conf[N];
   double latency[N];
   bool closed;
} fixture_t;

typedef struct {
   fixture_t *f;
   size_t i;
} slot_t;

static tk_labelled_set_t *eval_set;
static const tk_model_example_t *ex;

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   size_t n;
   if (!(eval_set = tk_labelled_load (EVAL, &err))) {
      return -1;
   }
   ex = tk_labelled_examples (eval_set, &n);
   return n >= N ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   tk_labelled_destroy (eval_set);
   return 0;
}

static void
open_provider (fixture_t *f, const char *model)
{
   tk_error_t err;
   memset (f, 0, sizeof *f);
   assert_int_equal (uv_loop_init (&f->loop), 0);
   snprintf (f->model_path, sizeof f->model_path, "%s/%s", SHARE, model);
   snprintf (f->encoder_path, sizeof f->encoder_path, "%s/%s", SHARE, TK_MODEL_ENCODER_DIRNAME);
   f->cfg.model_path = f->model_path;
   f->cfg.encoder_path = f->encoder_path;
   assert_non_null (f->tax = tk_taxonomy_default ());
   f->p = cl_provider_local_new (&f->loop, &f->cfg, f->tax, &err);
   if (!f->p) {
      fail_msg ("%s", err.message);
   }
}

static void
on_closed (void *ud)
{
   ((fixture_t *) ud)->closed = true;
}

static void
close_provider (fixture_t *f)
{
   f->p->close (f->p, on_closed, f);
   assert_false (f->closed); /* reported asynchronously */
   assert_true (tk_test_run_until (&f->loop, &f->closed, 60000));
   f->p->destroy (f->p);
   for (size_t i = 0; i < N; i++) {
      tk_classification_clear (&f->c[i]);
   }
   tk_taxonomy_destroy (f->tax);
   tk_test_loop_close (&f->loop);
}

static void
on_answer (cl_attempt_t *a, void *ud)
{
   slot_t *s = ud;
   fixture_t *f = s->f;
   assert_false (f->answered[s->i]);
   f->answered[s->i] = true;
   f->ok[s->i] = a->ok;
   f->latency[s->i] = a->latency_ms;
   if (a->ok) {
      f->c[s->i] = a->c; /* moved */
      memset (&a->c, 0, sizeof a->c);
      f->conf[s->i] = a->conf;
   }
   f->n_answered++;
}

static cl_call_t *
start (fixture_t *f, slot_t *slots, size_t i)
{
   tk_error_t err;
   cl_prompt_input_t in = {.id = "t", .subject = ex[i].subject, .body = ex[i].body};
   slots[i] = (slot_t) {f, i};
   cl_call_t *c = f->p->start (f->p, &in, on_answer, &slots[i], &err);
   assert_non_null (c);
   return c;
}

/* 40 calls at once: every one answered, with tk_model_classify's answer,
 * and most of them in shared works (a work's calls share its latency). */
static void
test_calls_at_once_are_batched (void **state)
{
   (void) state;
   static fixture_t f;
   static slot_t slots[N];
   open_provider (&f, "model-encoder.bin");
   for (size_t i = 0; i < N; i++) {
      start (&f, slots, i);
   }
   assert_int_equal (f.n_answered, 0); /* never inside start */
   bool all = false;
   while (!all) {
      assert_true (uv_run (&f.loop, UV_RUN_ONCE) != 0 || f.n_answered == N);
      all = f.n_answered == N;
   }
   tk_error_t err;
   tk_model_t *m = tk_model_load_with (f.model_path, f.encoder_path, &err);
   assert_non_null (m);
   size_t distinct = 0;
   for (size_t i = 0; i < N; i++) {
      tk_classification_t c = {0};
      tk_confidence_t conf;
      assert_true (f.ok[i]);
      assert_true (tk_model_classify (m, ex[i].subject, ex[i].body, &c, &conf));
      assert_string_equal (f.c[i].sentiment, c.sentiment);
      assert_string_equal (f.c[i].priority, c.priority);
      assert_int_equal (f.c[i].n_topic_tags, c.n_topic_tags);
      assert_true (fabs (f.conf[i].topic - conf.topic) < 1e-4);
      tk_classification_clear (&c);
      bool seen = false;
      for (size_t j = 0; j < i; j++) {
         seen = seen || f.latency[j] == f.latency[i];
      }
      distinct += !seen;
   }
   tk_model_destroy (m);
   /* At most 3 works start alone; the other 37 calls wait and share works
    * of up to 16: at least 3 of them. 40 works would be no batching. */
   assert_in_range (distinct, 3, 12);
   close_provider (&f);
}

/* Started together, the first calls run at once and the rest wait: the
 * waiting ones cancelled are freed at once (ASan checks), a running one is
 * freed by its work's end; no cancelled call is answered. */
static void
test_cancel_pending_and_running (void **state)
{
   (void) state;
   static fixture_t f;
   static slot_t slots[N];
   cl_call_t *calls[10];
   open_provider (&f, "model-static.bin");
   for (size_t i = 0; i < 10; i++) {
      calls[i] = start (&f, slots, i);
   }
   f.p->cancel (f.p, calls[0]); /* running: taken by the first work */
   for (size_t i = 5; i < 10; i++) {
      f.p->cancel (f.p, calls[i]); /* pending (at most 3 works run) */
   }
   while (f.n_answered < 4) {
      assert_true (uv_run (&f.loop, UV_RUN_ONCE) != 0 || f.n_answered == 4);
   }
   uv_run (&f.loop, UV_RUN_NOWAIT);
   assert_false (f.answered[0]);
   for (size_t i = 1; i < 5; i++) {
      assert_true (f.answered[i]);
      assert_true (f.ok[i]);
   }
   for (size_t i = 5; i < 10; i++) {
      assert_false (f.answered[i]);
   }
   close_provider (&f);
}

/* close() with calls running and waiting: none is answered, and the
 * provider reports closed after its works have ended. */
static void
test_close_with_calls_in_flight (void **state)
{
   (void) state;
   static fixture_t f;
   static slot_t slots[N];
   open_provider (&f, "model-encoder.bin");
   for (size_t i = 0; i < 20; i++) {
      start (&f, slots, i);
   }
   close_provider (&f);
   assert_int_equal (f.n_answered, 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_calls_at_once_are_batched),
      cmocka_unit_test (test_cancel_pending_and_running),
      cmocka_unit_test (test_close_with_calls_in_flight),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
