/* shutdown.c - ordered, asynchronous, bounded shutdown on SIGINT/SIGTERM. */
#include "shutdown.h"

#include "log.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#define SHUTDOWN_MAX_STEPS 16

typedef struct {
   const char *name;
   tk_shutdown_step_fn fn;
   void *user_data;
} shutdown_step_t;

struct tk_shutdown {
   uv_loop_t *loop;
   uv_signal_t sigint;
   uv_signal_t sigterm;
   uv_timer_t deadline;
   uint64_t timeout_ms;
   tk_shutdown_complete_fn on_complete;
   void *user_data;

   shutdown_step_t steps[SHUTDOWN_MAX_STEPS];
   size_t n_steps;
   size_t current;  /* index of the running step */
   bool begun;
   bool finished;   /* on_complete has been called */
   int open_handles;
};

static void
shutdown_handle_closed (uv_handle_t *h)
{
   tk_shutdown_t *sd = h->data;
   sd->open_handles--;
}

static void
shutdown_finish (tk_shutdown_t *sd, bool timed_out)
{
   if (sd->finished) {
      return;
   }
   sd->finished = true;
   uv_close ((uv_handle_t *) &sd->sigint, shutdown_handle_closed);
   uv_close ((uv_handle_t *) &sd->sigterm, shutdown_handle_closed);
   uv_close ((uv_handle_t *) &sd->deadline, shutdown_handle_closed);
   if (timed_out) {
      TK_WARN ("shutdown", "shutdown cut short during step \"%s\"",
               sd->current < sd->n_steps ? sd->steps[sd->current].name : "-");
   } else {
      TK_INFO ("shutdown", "shutdown complete");
   }
   if (sd->on_complete) {
      sd->on_complete (timed_out, sd->user_data);
   }
}

static void
shutdown_run_current (tk_shutdown_t *sd)
{
   if (sd->finished) {
      return;
   }
   if (sd->current >= sd->n_steps) {
      shutdown_finish (sd, false);
      return;
   }
   shutdown_step_t *st = &sd->steps[sd->current];
   TK_INFO ("shutdown", "step %zu/%zu: %s", sd->current + 1, sd->n_steps, st->name);
   st->fn (st->user_data, sd);
}

void
tk_shutdown_step_done (void *token)
{
   tk_shutdown_t *sd = token;
   if (!sd->begun || sd->finished) {
      return;
   }
   sd->current++;
   shutdown_run_current (sd);
}

static void
shutdown_deadline_cb (uv_timer_t *t)
{
   shutdown_finish (t->data, true);
}

void
tk_shutdown_begin (tk_shutdown_t *sd, const char *reason)
{
   if (sd->begun) {
      return;
   }
   sd->begun = true;
   TK_INFO ("shutdown", "shutting down (%s); %zu steps, %llu ms allowed", reason,
            sd->n_steps, (unsigned long long) sd->timeout_ms);
   uv_timer_start (&sd->deadline, shutdown_deadline_cb, sd->timeout_ms, 0);
   shutdown_run_current (sd);
}

static void
shutdown_signal_cb (uv_signal_t *s, int signum)
{
   tk_shutdown_t *sd = s->data;
   if (sd->begun) {
      TK_WARN ("shutdown", "second %s: abandoning the graceful shutdown", strsignal (signum));
      shutdown_finish (sd, true);
      return;
   }
   tk_shutdown_begin (sd, strsignal (signum));
}

tk_shutdown_t *
tk_shutdown_new (uv_loop_t *loop, uint64_t timeout_ms, tk_shutdown_complete_fn on_complete,
                 void *user_data)
{
   tk_shutdown_t *sd = calloc (1, sizeof *sd);
   if (!sd) {
      return NULL;
   }
   sd->loop = loop;
   sd->timeout_ms = timeout_ms;
   sd->on_complete = on_complete;
   sd->user_data = user_data;

   uv_signal_init (loop, &sd->sigint);
   uv_signal_init (loop, &sd->sigterm);
   uv_timer_init (loop, &sd->deadline);
   sd->sigint.data = sd->sigterm.data = sd->deadline.data = sd;
   sd->open_handles = 3;
   uv_signal_start (&sd->sigint, shutdown_signal_cb, SIGINT);
   uv_signal_start (&sd->sigterm, shutdown_signal_cb, SIGTERM);
   /* The signal handles must not keep the loop alive on their own. */
   uv_unref ((uv_handle_t *) &sd->sigint);
   uv_unref ((uv_handle_t *) &sd->sigterm);
   signal (SIGPIPE, SIG_IGN);
   return sd;
}

bool
tk_shutdown_add_step (tk_shutdown_t *sd, const char *name, tk_shutdown_step_fn fn,
                      void *user_data)
{
   if (sd->n_steps >= SHUTDOWN_MAX_STEPS) {
      return false;
   }
   sd->steps[sd->n_steps++] = (shutdown_step_t){name, fn, user_data};
   return true;
}

bool
tk_shutdown_in_progress (const tk_shutdown_t *sd)
{
   return sd->begun;
}

void
tk_shutdown_destroy (tk_shutdown_t *sd)
{
   if (!sd) {
      return;
   }
   if (sd->open_handles > 0 && !sd->finished) {
      /* Never begun: close the handles now and let the loop reap them. */
      sd->finished = true;
      uv_close ((uv_handle_t *) &sd->sigint, shutdown_handle_closed);
      uv_close ((uv_handle_t *) &sd->sigterm, shutdown_handle_closed);
      uv_close ((uv_handle_t *) &sd->deadline, shutdown_handle_closed);
      uv_run (sd->loop, UV_RUN_NOWAIT);
   }
   free (sd);
}
