/* The classifier's batcher (services/classifier/batch.h) with a fake
 * provider on a real loop: which tickets share a call (TRIAGE_LLM_BATCH of
 * them at once, or what waits when TRIAGE_LLM_BATCH_WINDOW ends, a lone one
 * sent alone), that each ticket gets its own answer back, abandoned and
 * detached tickets, an open circuit, a provider that cannot start, holding
 * for shutdown. */
#include "test_support.h"

#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EVENTS 64
#define N_ENTRIES 8

/* One fake batched call in flight. */
struct cl_call {
   size_t n;
   char ids[CL_BATCH_MAX][16];
   cl_batch_cb cb;
   void *user_data;
   bool cancelled;
};

typedef struct {
   uv_loop_t loop;
   tk_config_t cfg;
   cl_provider_t provider;
   cl_rate_limit_t rate;
   cl_circuit_t circuit;
   tk_metrics_t *reg;
   cl_metrics_t metrics;
   cl_batcher_t *batcher;

   /* The fake provider's calls, in order. */
   struct cl_call calls[8];
   size_t n_calls;
   bool fail_start; /* start_batch returns NULL */
   size_t n_cancelled;

   /* The entries, with their ticket ids. */
   cl_batch_entry_t e[N_ENTRIES];
   char ids[N_ENTRIES][16];
   bool abandoned[N_ENTRIES]; /* claim answers false */

   /* What the hooks saw: "<hook>:<id>" strings, in order. */
   char events[MAX_EVENTS][48];
   size_t n_events;
   /* answered: the attempt each entry got. */
   bool got_answer[N_ENTRIES];
   bool answer_ok[N_ENTRIES];
   char answer_reason[N_ENTRIES][32];
   char answer_error[N_ENTRIES][256];
   bool answer_retryable[N_ENTRIES];
   size_t n_call_done;
   bool closed;
} fixture_t;

static size_t
entry_index (fixture_t *f, const cl_batch_entry_t *e)
{
   size_t i = (size_t) (e - f->e);
   assert_true (i < N_ENTRIES);
   return i;
}

static void
event (fixture_t *f, const char *hook, const cl_batch_entry_t *e)
{
   assert_true (f->n_events < MAX_EVENTS);
   snprintf (f->events[f->n_events++], sizeof f->events[0], "%s:%s", hook,
             e ? e->in.id : "-");
}

/* ---- the fake provider --------------------------------------------------- */

static cl_call_t *
fake_start_batch (cl_provider_t *p, const cl_prompt_input_t *in, size_t n, cl_batch_cb cb,
                  void *user_data, tk_error_t *err)
{
   fixture_t *f = (fixture_t *) ((char *) p - offsetof (fixture_t, provider));
   if (f->fail_start) {
      tk_error_set (err, TK_ERR_HTTP, 0, "no connection");
      return NULL;
   }
   assert_true (f->n_calls < 8);
   assert_true (n >= 2 && n <= CL_BATCH_MAX);
   struct cl_call *c = &f->calls[f->n_calls++];
   c->n = n;
   for (size_t i = 0; i < n; i++) {
      /* Strings are borrowed for this call only: copy what the test checks. */
      snprintf (c->ids[i], sizeof c->ids[i], "%s", in[i].id);
      assert_non_null (in[i].subject);
      assert_non_null (in[i].body);
      assert_null (in[i].repair_answer);
   }
   c->cb = cb;
   c->user_data = user_data;
   return c;
}

static void
fake_cancel (cl_provider_t *p, cl_call_t *call)
{
   fixture_t *f = (fixture_t *) ((char *) p - offsetof (fixture_t, provider));
   call->cancelled = true;
   f->n_cancelled++;
}

/* The provider answers call k: a[i] for its i-th ticket, ok unless i is
 * odd and `odd_fail`, the error naming the ticket it was meant for. */
static void
fake_answer (fixture_t *f, size_t k, bool odd_fail)
{
   struct cl_call *c = &f->calls[k];
   assert_false (c->cancelled);
   cl_attempt_t a[CL_BATCH_MAX];
   memset (a, 0, sizeof a);
   for (size_t i = 0; i < c->n; i++) {
      a[i].ok = !(odd_fail && i % 2 == 1);
      a[i].reason = a[i].ok ? NULL : "invalid_answer";
      a[i].retry_after_ms = -1;
      snprintf (a[i].error, sizeof a[i].error, "for %s", c->ids[i]);
   }
   c->cb (a, c->n, c->user_data);
}

/* ---- the owner's hooks ---------------------------------------------------- */

static bool
hook_claim (cl_batch_entry_t *e, void *ud)
{
   fixture_t *f = ud;
   event (f, "claim", e);
   return !f->abandoned[entry_index (f, e)];
}

static void
hook_hand_back (cl_batch_entry_t *e, void *ud)
{
   event (ud, "hand_back", e);
}

static void
hook_send_alone (cl_batch_entry_t *e, void *ud)
{
   event (ud, "alone", e);
}

static void
hook_sending (cl_batch_entry_t *e, void *ud)
{
   event (ud, "sending", e);
}

static void
hook_call_done (const cl_attempt_t *a, void *ud)
{
   fixture_t *f = ud;
   (void) a;
   f->n_call_done++;
   event (f, "call_done", NULL);
}

static void
hook_answered (cl_batch_entry_t *e, cl_attempt_t *a, int64_t ms, void *ud)
{
   fixture_t *f = ud;
   size_t i = entry_index (f, e);
   assert_true (ms >= 0);
   assert_false (cl_batch_entry_in_call (e)); /* "e is no longer part of a call" */
   assert_false (f->got_answer[i]);           /* one answer per entry */
   event (f, "answered", e);
   f->got_answer[i] = true;
   f->answer_ok[i] = a->ok;
   f->answer_retryable[i] = a->retryable;
   snprintf (f->answer_reason[i], sizeof f->answer_reason[i], "%s", a->reason ? a->reason : "");
   snprintf (f->answer_error[i], sizeof f->answer_error[i], "%s", a->error);
}

static const cl_batch_hooks_t hooks = {
   .claim = hook_claim,
   .hand_back = hook_hand_back,
   .send_alone = hook_send_alone,
   .sending = hook_sending,
   .call_done = hook_call_done,
   .answered = hook_answered,
};

/* ---- fixture -------------------------------------------------------------- */

static fixture_t *
fixture_new (int batch, int64_t window_ms, bool with_start_batch)
{
   fixture_t *f = calloc (1, sizeof *f);
   assert_non_null (f);
   assert_int_equal (uv_loop_init (&f->loop), 0);
   f->cfg.llm_batch = batch;
   f->cfg.llm_batch_window_ms = window_ms;
   f->provider.name = "fake";
   f->provider.start_batch = with_start_batch ? fake_start_batch : NULL;
   f->provider.cancel = fake_cancel;
   cl_rate_limit_init (&f->rate, 0, 0, 0);
   cl_circuit_init (&f->circuit, 3);
   tk_error_t err;
   assert_non_null (f->reg = tk_metrics_new ());
   assert_true (cl_metrics_init (&f->metrics, f->reg, &err));
   f->batcher = cl_batcher_new (&f->loop, &f->cfg, &f->provider, &f->rate, &f->circuit,
                                &f->metrics, &hooks, f, &err);
   assert_non_null (f->batcher);
   for (size_t i = 0; i < N_ENTRIES; i++) {
      snprintf (f->ids[i], sizeof f->ids[i], "T-%zu", i);
      f->e[i].in = (cl_prompt_input_t) {.id = f->ids[i], .subject = "Login fails", .body = "SSO"};
   }
   return f;
}

static void
on_closed (void *ud)
{
   ((fixture_t *) ud)->closed = true;
}

static void
fixture_destroy (fixture_t *f)
{
   cl_batcher_close (f->batcher, on_closed, f);
   uv_run (&f->loop, UV_RUN_DEFAULT);
   assert_true (f->closed);
   cl_batcher_destroy (f->batcher);
   tk_test_loop_close (&f->loop);
   tk_metrics_destroy (f->reg);
   free (f);
}

/* Runs the loop until the window has ended (the batcher's timer is its only
 * handle); fails if it is still running after 5 s (a window that never
 * ends). */
static void
run_window (fixture_t *f)
{
   uint64_t deadline = tk_test_now_ms () + 5000;
   while (uv_run (&f->loop, UV_RUN_ONCE) != 0) {
      if (tk_test_now_ms () > deadline) {
         fail_msg ("the batch window never ended");
      }
   }
}

static void
assert_events (fixture_t *f, const char *const *want, size_t n)
{
   for (size_t i = 0; i < n && i < f->n_events; i++) {
      assert_string_equal (f->events[i], want[i]);
   }
   assert_int_equal (f->n_events, n);
}

#define ASSERT_EVENTS(f, ...)                                                                   \
   do {                                                                                       \
      const char *const want_[] = {__VA_ARGS__};                                              \
      assert_events (f, want_, sizeof want_ / sizeof want_[0]);                                \
   } while (0)

/* ---- tests ---------------------------------------------------------------- */

static void
test_enabled_only_with_batches_and_a_batching_provider (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (3, 50, true);
   assert_true (cl_batcher_enabled (f->batcher));
   fixture_destroy (f);
   f = fixture_new (1, 50, true); /* TRIAGE_LLM_BATCH=1: one ticket per call */
   assert_false (cl_batcher_enabled (f->batcher));
   fixture_destroy (f);
   f = fixture_new (3, 50, false); /* the provider cannot batch */
   assert_false (cl_batcher_enabled (f->batcher));
   fixture_destroy (f);
}

/* TRIAGE_LLM_BATCH entries go out at once, in one call, in the order they
 * came; each gets its own answer, matched by position, after call_done. */
static void
test_full_batch_goes_at_once_and_answers_match (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (3, 60000, true);
   cl_batcher_add (f->batcher, &f->e[0]);
   cl_batcher_add (f->batcher, &f->e[1]);
   assert_true (cl_batch_entry_waiting (&f->e[0]));
   assert_int_equal (f->n_calls, 0); /* the window is a minute: nothing yet */
   cl_batcher_add (f->batcher, &f->e[2]);
   assert_int_equal (f->n_calls, 1);
   assert_int_equal (f->calls[0].n, 3);
   assert_string_equal (f->calls[0].ids[0], "T-0");
   assert_string_equal (f->calls[0].ids[1], "T-1");
   assert_string_equal (f->calls[0].ids[2], "T-2");
   for (int i = 0; i < 3; i++) {
      assert_false (cl_batch_entry_waiting (&f->e[i]));
      assert_true (cl_batch_entry_in_call (&f->e[i]));
   }
   fake_answer (f, 0, true);
   ASSERT_EVENTS (f, "claim:T-0", "claim:T-1", "claim:T-2", "sending:T-0", "sending:T-1",
                  "sending:T-2", "call_done:-", "answered:T-0", "answered:T-1", "answered:T-2");
   for (int i = 0; i < 3; i++) {
      char want[16];
      snprintf (want, sizeof want, "for T-%d", i);
      assert_string_equal (f->answer_error[i], want); /* its own answer */
      assert_false (cl_batch_entry_in_call (&f->e[i]));
   }
   assert_true (f->answer_ok[0]);
   assert_false (f->answer_ok[1]); /* one bad answer fails alone */
   assert_string_equal (f->answer_reason[1], "invalid_answer");
   assert_true (f->answer_ok[2]);
   assert_int_equal (f->n_call_done, 1);
   fixture_destroy (f);
}

/* Never more than TRIAGE_LLM_BATCH in a call: five entries at 2 a call make
 * two calls at once, and the fifth, alone when the window ends, goes back
 * to the owner for an ordinary call. */
static void
test_limit_and_a_lone_entry_sent_alone (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (2, 10, true);
   for (int i = 0; i < 5; i++) {
      cl_batcher_add (f->batcher, &f->e[i]);
   }
   assert_int_equal (f->n_calls, 2);
   assert_int_equal (f->calls[0].n, 2);
   assert_int_equal (f->calls[1].n, 2);
   assert_string_equal (f->calls[1].ids[0], "T-2");
   assert_string_equal (f->calls[1].ids[1], "T-3");
   assert_true (cl_batch_entry_waiting (&f->e[4]));
   run_window (f);
   assert_int_equal (f->n_calls, 2); /* no call of one */
   assert_false (cl_batch_entry_waiting (&f->e[4]));
   assert_string_equal (f->events[f->n_events - 1], "alone:T-4");
   fake_answer (f, 1, false);
   fake_answer (f, 0, false);
   for (int i = 0; i < 4; i++) {
      assert_true (f->got_answer[i]);
   }
   assert_false (f->got_answer[4]);
   fixture_destroy (f);
}

/* Fewer than TRIAGE_LLM_BATCH when the window ends: they share a call. */
static void
test_window_sends_a_partial_batch (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (5, 10, true);
   cl_batcher_add (f->batcher, &f->e[0]);
   cl_batcher_add (f->batcher, &f->e[1]);
   assert_int_equal (f->n_calls, 0);
   run_window (f);
   assert_int_equal (f->n_calls, 1);
   assert_int_equal (f->calls[0].n, 2);
   fake_answer (f, 0, false);
   assert_true (f->got_answer[0] && f->got_answer[1]);
   fixture_destroy (f);
}

/* A ticket abandoned while it waited is claimed false and not sent. */
static void
test_abandoned_entry_is_skipped (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (3, 10, true);
   f->abandoned[1] = true;
   for (int i = 0; i < 3; i++) {
      cl_batcher_add (f->batcher, &f->e[i]);
   }
   /* Two left after the claim: they share a call. */
   assert_int_equal (f->n_calls, 1);
   assert_int_equal (f->calls[0].n, 2);
   assert_string_equal (f->calls[0].ids[0], "T-0");
   assert_string_equal (f->calls[0].ids[1], "T-2");
   assert_false (cl_batch_entry_waiting (&f->e[1]));
   assert_false (cl_batch_entry_in_call (&f->e[1]));
   fake_answer (f, 0, false);
   assert_false (f->got_answer[1]);
   assert_true (f->got_answer[0] && f->got_answer[2]);
   fixture_destroy (f);
}

/* A detached entry hears nothing more; the call is cancelled once every
 * entry has left it. */
static void
test_detach (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (2, 10, true);
   for (int i = 0; i < 4; i++) {
      cl_batcher_add (f->batcher, &f->e[i]);
   }
   assert_int_equal (f->n_calls, 2);
   cl_batch_entry_detach (&f->e[0]);
   assert_false (cl_batch_entry_in_call (&f->e[0]));
   assert_int_equal (f->n_cancelled, 0); /* T-1 still waits for call 0 */
   fake_answer (f, 0, false);
   assert_false (f->got_answer[0]);
   assert_true (f->got_answer[1]);
   cl_batch_entry_detach (&f->e[2]);
   cl_batch_entry_detach (&f->e[3]);
   assert_int_equal (f->n_cancelled, 1);
   assert_true (f->calls[1].cancelled);
   fixture_destroy (f);
}

/* The circuit opened while entries waited: each is handed back, unsent. */
static void
test_open_circuit_hands_back (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (3, 10, true);
   cl_batcher_add (f->batcher, &f->e[0]);
   cl_batcher_add (f->batcher, &f->e[1]);
   for (int i = 0; i < 3; i++) {
      cl_circuit_record (&f->circuit, false);
   }
   assert_true (cl_circuit_is_open (&f->circuit));
   run_window (f);
   assert_int_equal (f->n_calls, 0);
   ASSERT_EVENTS (f, "claim:T-0", "hand_back:T-0", "claim:T-1", "hand_back:T-1");
   assert_false (cl_batch_entry_waiting (&f->e[0]));
   assert_false (cl_batch_entry_waiting (&f->e[1]));
   fixture_destroy (f);
}

/* A batched call that cannot start fails each of its entries, retryable,
 * reason "internal". */
static void
test_start_failure_fails_each_entry (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (2, 10, true);
   f->fail_start = true;
   cl_batcher_add (f->batcher, &f->e[0]);
   cl_batcher_add (f->batcher, &f->e[1]);
   for (int i = 0; i < 2; i++) {
      assert_true (f->got_answer[i]);
      assert_false (f->answer_ok[i]);
      assert_true (f->answer_retryable[i]);
      assert_string_equal (f->answer_reason[i], "internal");
      assert_non_null (strstr (f->answer_error[i], "no connection"));
      assert_false (cl_batch_entry_in_call (&f->e[i]));
   }
   assert_int_equal (f->n_call_done, 0);
   fixture_destroy (f);
}

/* Held (shutdown): nothing more is sent; pop gives what waits, oldest
 * first, without a hook. */
static void
test_hold_and_pop (void **state)
{
   (void) state;
   fixture_t *f = fixture_new (2, 10, true);
   cl_batcher_add (f->batcher, &f->e[0]);
   cl_batcher_hold (f->batcher);
   cl_batcher_add (f->batcher, &f->e[1]);
   cl_batcher_add (f->batcher, &f->e[2]);
   run_window (f);
   assert_int_equal (f->n_calls, 0);
   assert_int_equal (f->n_events, 0);
   assert_ptr_equal (cl_batcher_pop (f->batcher), &f->e[0]);
   assert_false (cl_batch_entry_waiting (&f->e[0]));
   assert_ptr_equal (cl_batcher_pop (f->batcher), &f->e[1]);
   assert_ptr_equal (cl_batcher_pop (f->batcher), &f->e[2]);
   assert_null (cl_batcher_pop (f->batcher));
   fixture_destroy (f);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_enabled_only_with_batches_and_a_batching_provider),
      cmocka_unit_test (test_full_batch_goes_at_once_and_answers_match),
      cmocka_unit_test (test_limit_and_a_lone_entry_sent_alone),
      cmocka_unit_test (test_window_sends_a_partial_batch),
      cmocka_unit_test (test_abandoned_entry_is_skipped),
      cmocka_unit_test (test_detach),
      cmocka_unit_test (test_open_circuit_hands_back),
      cmocka_unit_test (test_start_failure_fails_each_entry),
      cmocka_unit_test (test_hold_and_pop),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
