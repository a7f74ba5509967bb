/* batch.c - gathering tickets into batched provider calls and splitting the
 * answers back. */
#include "batch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One batched call in flight. */
struct cl_batch_call {
   cl_batcher_t *b;
   cl_call_t *call;
   size_t n;
   cl_batch_entry_t *entries[CL_BATCH_MAX]; /* NULL once that entry is detached */
   uint64_t started;
};

struct cl_batcher {
   uv_loop_t *loop;
   const tk_config_t *cfg;
   cl_provider_t *provider;
   cl_rate_limit_t *rate;
   const cl_circuit_t *circuit;
   cl_metrics_t *metrics;
   cl_batch_hooks_t hooks;
   void *user_data;

   cl_batch_entry_t *head, *tail; /* waiting, oldest first */
   size_t n_waiting;
   uv_timer_t timer; /* the batch window, or a rate-limit wait */
   bool held;        /* send nothing more */

   void (*closed) (void *user_data);
   void *closed_data;
};

static void on_timer (uv_timer_t *t);

static void
batcher_push (cl_batcher_t *b, cl_batch_entry_t *e)
{
   e->next = NULL;
   e->waiting = true;
   if (b->tail) {
      b->tail->next = e;
   } else {
      b->head = e;
   }
   b->tail = e;
   b->n_waiting++;
}

cl_batch_entry_t *
cl_batcher_pop (cl_batcher_t *b)
{
   cl_batch_entry_t *e = b->head;
   if (e) {
      b->head = e->next;
      if (!b->head) {
         b->tail = NULL;
      }
      e->next = NULL;
      e->waiting = false;
      b->n_waiting--;
   }
   return e;
}

static void
batcher_start_window (cl_batcher_t *b)
{
   uv_timer_start (&b->timer, on_timer, (uint64_t) b->cfg->llm_batch_window_ms, 0);
}

static void
on_batch (cl_attempt_t *a, size_t n, void *user_data)
{
   cl_batch_call_t *c = user_data;
   cl_batcher_t *b = c->b;
   uv_update_time (b->loop);
   int64_t ms = (int64_t) (uv_now (b->loop) - c->started);
   tk_histogram_observe (tk_metric_labels (b->metrics->latency, b->provider->name),
                         (double) ms / 1000.0);
   tk_histogram_observe (b->metrics->batch_size, (double) n);
   b->hooks.call_done (&a[0], b->user_data);
   for (size_t i = 0; i < n && i < c->n; i++) {
      cl_batch_entry_t *e = c->entries[i];
      if (!e) {
         continue; /* detached meanwhile */
      }
      e->call = NULL;
      b->hooks.answered (e, &a[i], ms, b->user_data);
   }
   free (c);
}

/* Starts one call for entries[0..n) (2 <= n <= CL_BATCH_MAX), whose rate
 * limit is taken. */
static void
batcher_send (cl_batcher_t *b, cl_batch_entry_t **entries, size_t n)
{
   cl_batch_call_t *c = calloc (1, sizeof *c);
   tk_error_t err;
   tk_error_set (&err, TK_ERR_NOMEM, 0, "out of memory");
   cl_prompt_input_t in[CL_BATCH_MAX];
   uv_update_time (b->loop);
   for (size_t i = 0; i < n; i++) {
      cl_batch_entry_t *e = entries[i];
      in[i] = (cl_prompt_input_t) {.id = e->in.id, .subject = e->in.subject, .body = e->in.body};
      b->hooks.sending (e, b->user_data);
      e->call = c;
      if (c) {
         c->entries[i] = e;
      }
   }
   tk_counter_inc (tk_metric_labels (b->metrics->attempts, b->provider->name));
   if (c) {
      c->b = b;
      c->n = n;
      c->started = uv_now (b->loop);
      c->call = b->provider->start_batch (b->provider, in, n, on_batch, c, &err);
   }
   if (c && c->call) {
      return;
   }
   free (c);
   /* Each ticket's attempt failed, as if the provider had failed it. */
   cl_attempt_t a = {
      .ok = false,
      .retryable = true,
      .reason = "internal",
      .retry_after_ms = -1,
   };
   snprintf (a.error, sizeof a.error, "%s", err.message);
   for (size_t i = 0; i < n; i++) {
      entries[i]->call = NULL;
      b->hooks.answered (entries[i], &a, 0, b->user_data);
   }
}

/* Sends the waiting entries, TRIAGE_LLM_BATCH per call. `all`: the window is
 * over, so a partial batch goes too. */
static void
batcher_flush (cl_batcher_t *b, bool all)
{
   size_t max = (size_t) b->cfg->llm_batch;
   uv_timer_stop (&b->timer);
   while (b->head && !b->held && (all || b->n_waiting >= max)) {
      cl_batch_entry_t *e;
      if (cl_circuit_is_open (b->circuit)) {
         /* Opened while they waited: each parks (or probes) alone. */
         while ((e = cl_batcher_pop (b))) {
            if (b->hooks.claim (e, b->user_data)) {
               b->hooks.hand_back (e, b->user_data);
            }
         }
         return;
      }
      cl_batch_entry_t *entries[CL_BATCH_MAX];
      size_t n = 0;
      size_t tokens = 600;
      while (n < max && (e = cl_batcher_pop (b))) {
         if (!b->hooks.claim (e, b->user_data)) {
            continue;
         }
         entries[n++] = e;
         tokens += (strlen (e->in.subject) + strlen (e->in.body)) / 4 + 40;
      }
      if (n == 0) {
         break;
      }
      int64_t wait = cl_rate_limit_take (b->rate, tokens, (int64_t) uv_now (b->loop));
      if (wait > 0) {
         /* One request for the whole batch, later. */
         tk_counter_inc (b->metrics->rate_waits);
         for (size_t i = 0; i < n; i++) {
            batcher_push (b, entries[i]);
         }
         uv_timer_start (&b->timer, on_timer, (uint64_t) wait, 0);
         return;
      }
      if (n == 1) {
         b->hooks.send_alone (entries[0], b->user_data);
      } else {
         batcher_send (b, entries, n);
      }
   }
   if (b->head && !b->held) {
      batcher_start_window (b);
   }
}

static void
on_timer (uv_timer_t *t)
{
   batcher_flush (t->data, true);
}

cl_batcher_t *
cl_batcher_new (uv_loop_t *loop, const tk_config_t *cfg, cl_provider_t *provider,
                cl_rate_limit_t *rate, const cl_circuit_t *circuit, cl_metrics_t *metrics,
                const cl_batch_hooks_t *hooks, void *user_data, tk_error_t *err)
{
   cl_batcher_t *b = calloc (1, sizeof *b);
   if (!b) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   b->loop = loop;
   b->cfg = cfg;
   b->provider = provider;
   b->rate = rate;
   b->circuit = circuit;
   b->metrics = metrics;
   b->hooks = *hooks;
   b->user_data = user_data;
   uv_timer_init (loop, &b->timer);
   b->timer.data = b;
   return b;
}

bool
cl_batcher_enabled (const cl_batcher_t *b)
{
   return b->cfg->llm_batch > 1 && b->provider->start_batch;
}

void
cl_batcher_add (cl_batcher_t *b, cl_batch_entry_t *e)
{
   batcher_push (b, e);
   if (b->n_waiting >= (size_t) b->cfg->llm_batch) {
      batcher_flush (b, false);
   } else if (!uv_is_active ((uv_handle_t *) &b->timer)) {
      batcher_start_window (b);
   }
}

bool
cl_batch_entry_waiting (const cl_batch_entry_t *e)
{
   return e->waiting;
}

bool
cl_batch_entry_in_call (const cl_batch_entry_t *e)
{
   return e->call != NULL;
}

void
cl_batch_entry_detach (cl_batch_entry_t *e)
{
   cl_batch_call_t *c = e->call;
   e->call = NULL;
   bool any = false;
   for (size_t i = 0; i < c->n; i++) {
      if (c->entries[i] == e) {
         c->entries[i] = NULL;
      }
      any |= c->entries[i] != NULL;
   }
   if (!any) {
      c->b->provider->cancel (c->b->provider, c->call);
      free (c);
   }
}

void
cl_batcher_hold (cl_batcher_t *b)
{
   b->held = true;
}

static void
timer_closed (uv_handle_t *h)
{
   cl_batcher_t *b = h->data;
   b->closed (b->closed_data);
}

void
cl_batcher_close (cl_batcher_t *b, void (*closed) (void *user_data), void *user_data)
{
   b->closed = closed;
   b->closed_data = user_data;
   uv_close ((uv_handle_t *) &b->timer, timer_closed);
}

void
cl_batcher_destroy (cl_batcher_t *b)
{
   free (b);
}
