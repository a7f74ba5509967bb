/* Unit tests for common/shutdown.c: signal-triggered, ordered, bounded. */
#include "test_support.h"

#include "log.h"
#include "shutdown.h"

#include <signal.h>
#include <string.h>

typedef struct {
   char order[16];
   size_t n;
   bool completed;
   bool timed_out;
   uv_timer_t delay; /* makes step "b" asynchronous */
   void *pending_token;
} fixture_t;

static void
complete_cb (bool timed_out, void *ud)
{
   fixture_t *f = ud;
   f->completed = true;
   f->timed_out = timed_out;
}

static void
step_a (void *ud, void *token)
{
   fixture_t *f = ud;
   f->order[f->n++] = 'a';
   tk_shutdown_step_done (token); /* synchronous completion */
}

static void
delay_cb (uv_timer_t *t)
{
   fixture_t *f = t->data;
   uv_close ((uv_handle_t *) t, NULL);
   tk_shutdown_step_done (f->pending_token);
}

static void
step_b_async (void *ud, void *token)
{
   fixture_t *f = ud;
   f->order[f->n++] = 'b';
   f->pending_token = token;
   uv_timer_init (f->delay.loop ? f->delay.loop : uv_default_loop (), &f->delay);
   f->delay.data = f;
   uv_timer_start (&f->delay, delay_cb, 20, 0);
}

static void
step_c (void *ud, void *token)
{
   fixture_t *f = ud;
   f->order[f->n++] = 'c';
   tk_shutdown_step_done (token);
}

static void
step_never_finishes (void *ud, void *token)
{
   fixture_t *f = ud;
   f->order[f->n++] = 'x';
   (void) token;
}

static void
test_sigterm_runs_steps_in_order (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   fixture_t f = {0};
   f.delay.loop = &loop;
   tk_shutdown_t *sd = tk_shutdown_new (&loop, 5000, complete_cb, &f);
   assert_non_null (sd);
   assert_true (tk_shutdown_add_step (sd, "a", step_a, &f));
   assert_true (tk_shutdown_add_step (sd, "b", step_b_async, &f));
   assert_true (tk_shutdown_add_step (sd, "c", step_c, &f));
   assert_false (tk_shutdown_in_progress (sd));

   raise (SIGTERM);
   assert_true (tk_test_run_until (&loop, &f.completed, 3000));
   assert_true (tk_shutdown_in_progress (sd));
   assert_false (f.timed_out);
   assert_string_equal (f.order, "abc");

   tk_test_loop_close (&loop);
   tk_shutdown_destroy (sd);
}

static void
test_deadline_cuts_a_stuck_step (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   fixture_t f = {0};
   tk_shutdown_t *sd = tk_shutdown_new (&loop, 100, complete_cb, &f);
   tk_shutdown_add_step (sd, "a", step_a, &f);
   tk_shutdown_add_step (sd, "stuck", step_never_finishes, &f);
   tk_shutdown_add_step (sd, "c", step_c, &f);

   uint64_t t0 = tk_test_now_ms ();
   tk_shutdown_begin (sd, "test");
   tk_shutdown_begin (sd, "again"); /* idempotent */
   assert_true (tk_test_run_until (&loop, &f.completed, 3000));
   assert_true (f.timed_out);
   assert_true (tk_test_now_ms () - t0 >= 90);
   assert_string_equal (f.order, "ax"); /* "c" never ran */

   tk_test_loop_close (&loop);
   tk_shutdown_destroy (sd);
}

static void
test_second_signal_abandons (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   fixture_t f = {0};
   tk_shutdown_t *sd = tk_shutdown_new (&loop, 60000, complete_cb, &f);
   tk_shutdown_add_step (sd, "stuck", step_never_finishes, &f);

   raise (SIGINT);
   /* Let the first signal start the sequence, then send the second. */
   const bool never = false;
   tk_test_run_until (&loop, &never, 200);
   assert_true (tk_shutdown_in_progress (sd));
   raise (SIGINT);
   assert_true (tk_test_run_until (&loop, &f.completed, 3000));
   assert_true (f.timed_out);

   tk_test_loop_close (&loop);
   tk_shutdown_destroy (sd);
}

static void
test_destroy_without_begin_closes_handles (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   tk_shutdown_t *sd = tk_shutdown_new (&loop, 1000, NULL, NULL);
   tk_shutdown_destroy (sd);
   assert_int_equal (uv_loop_close (&loop), 0);
}

int
main (void)
{
   tk_log_init ("test", TK_LOG_ERROR);
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_sigterm_runs_steps_in_order),
      cmocka_unit_test (test_deadline_cuts_a_stuck_step),
      cmocka_unit_test (test_second_signal_abandons),
      cmocka_unit_test (test_destroy_without_begin_closes_handles),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
