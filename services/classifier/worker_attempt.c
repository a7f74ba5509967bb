/* worker_attempt.c - a ticket's provider attempts: rate limit, retries
 * with backoff, the one repair, the circuit breaker (parking and probes),
 * the fallback provider and batched calls (batch.h). Loop thread only. */
#include "worker_internal.h"

#include "backoff.h"
#include "log.h"
#include "pii_mask.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the provider --------------------------------------------------------- */

static void on_attempt (cl_attempt_t *a, void *ud);
static void job_fallback (job_t *j, const char *reason);

static void
job_fail_attempt (job_t *j, const char *reason, const char *error, bool retryable,
                  int64_t retry_after_ms)
{
   cl_worker_t *w = j->w;
   snprintf (j->last_error, sizeof j->last_error, "%s", error);
   if (!retryable || j->attempts >= (unsigned) w->cfg->retry_max_attempts) {
      /* An error may quote the provider's answer: masked like ticket text. */
      char *masked = tk_pii_mask (error, strlen (error), NULL);
      TK_WARN (COMPONENT, "ticket %s failed after %u attempt(s)%s: %s", j->id, j->attempts,
               w->fallback ? "; classifying it with the fallback" : "",
               masked ? masked : "(error text withheld)");
      free (masked);
      if (w->fallback) {
         job_fallback (j, reason);
         return;
      }
      j->outcome = JOB_FAILED;
      cl__job_save (j);
      return;
   }
   tk_counter_inc (tk_metric_labels (w->metrics.retries, reason));
   int64_t ms = tk_backoff_full_jitter (w->cfg->retry_base_ms, w->cfg->retry_cap_ms, j->attempts,
                                        cl__rnd01 (w));
   if (retry_after_ms > ms) {
      ms = retry_after_ms; /* the provider said when: never sooner */
   }
   TK_INFO (COMPONENT, "ticket %s attempt %u failed (%s); retrying in %lld ms: %s", j->id,
            j->attempts, reason, (long long) ms, error);
   /* Counted from now, not from the loop's clock of this iteration (read
    * before curl took the answer): never sooner than a Retry-After. */
   uv_update_time (w->app->loop);
   cl__job_later (j, (uint64_t) ms, cl__job_attempt);
}

/* ---- the fallback provider ------------------------------------------------ */

static void
on_fallback (cl_attempt_t *a, void *ud)
{
   job_t *j = ud;
   cl_worker_t *w = j->w;
   j->call = NULL;
   uv_update_time (w->app->loop);
   if (a->ok) {
      j->c = a->c;
      memset (&a->c, 0, sizeof a->c);
      j->conf = a->conf;
      j->processing_ms = (int64_t) (uv_now (w->app->loop) - j->call_started);
      j->outcome = JOB_FALLBACK;
   } else {
      size_t n = strlen (j->last_error);
      snprintf (j->last_error + n, sizeof j->last_error - n, "; the fallback failed too: %s",
                a->error);
      j->outcome = JOB_FAILED;
   }
   cl__job_save (j);
}

/* The remote provider gave up on j (for `reason`): the built-in model
 * classifies it instead of the DLQ. The ticket's own text is used (the
 * model runs in this process, so nothing needs masking). */
static void
job_fallback (job_t *j, const char *reason)
{
   cl_worker_t *w = j->w;
   j->fallback_reason = reason;
   tk_counter_inc (tk_metric_labels (w->metrics.fallbacks, reason));
   tk_error_t err;
   if (!cl__job_call_unmasked (j, w->fallback, on_fallback, &err)) {
      size_t n = strlen (j->last_error);
      snprintf (j->last_error + n, sizeof j->last_error - n, "; the fallback failed too: %s",
                err.message);
      j->outcome = JOB_FAILED;
      cl__job_save (j);
   }
}

/* ---- the circuit ---------------------------------------------------------- */

static void
on_probe_timer (uv_timer_t *t)
{
   cl_worker_t *w = t->data;
   /* Half-open: let one parked ticket through as the probe. */
   job_t *j;
   while ((j = cl__list_pop (&w->parked_head, &w->parked_tail))) {
      if (cl__job_gone (j)) {
         continue;
      }
      cl_circuit_probe_started (&w->circuit);
      cl__job_attempt (j);
      return;
   }
   /* Nothing parked: probe when the next ticket asks. */
   cl_circuit_allow_probe (&w->circuit);
}

/* Records a provider call's outcome with the circuit breaker (one record
 * per call, however many tickets it carried). */
static void
worker_circuit_record (cl_worker_t *w, bool ok, bool provider_failed)
{
   int transition = cl_circuit_record (&w->circuit, !provider_failed);
   if (transition > 0) {
      TK_WARN (COMPONENT, "circuit open after %d consecutive provider failures; pausing "
                          "consumption", w->cfg->circuit_threshold);
      tk_gauge_set (w->metrics.circuit, 1);
      uv_timer_start (&w->probe_timer, on_probe_timer,
                      (uint64_t) w->cfg->circuit_probe_interval_ms, 0);
      cl__worker_update_pause (w);
   } else if (transition < 0) {
      TK_INFO (COMPONENT, "provider answered; circuit closed, resuming consumption");
      tk_gauge_set (w->metrics.circuit, 0);
      uv_timer_stop (&w->probe_timer);
      job_t *p;
      while ((p = cl__list_pop (&w->parked_head, &w->parked_tail))) {
         if (!cl__job_gone (p)) {
            cl__job_attempt (p);
         }
      }
      cl__worker_update_pause (w);
   } else if (cl_circuit_is_open (&w->circuit) && !ok && provider_failed) {
      /* The probe failed: wait for the next one. */
      uv_timer_start (&w->probe_timer, on_probe_timer,
                      (uint64_t) w->cfg->circuit_probe_interval_ms, 0);
   }
}

static bool
attempt_provider_failed (const cl_attempt_t *a)
{
   return !a->ok && !a->invalid_answer && strcmp (a->reason, "http_4xx") != 0;
}

/* ---- one attempt ---------------------------------------------------------- */

static bool job_batchable (const job_t *j);
static void job_gather (job_t *j);

/* Starts j's call alone, its rate limit taken. */
static void
job_call (job_t *j)
{
   cl_worker_t *w = j->w;
   cl_prompt_input_t in = {
      .id = j->id,
      .subject = j->subject,
      .body = j->body,
      .repair_answer = j->repair_answer,
      .repair_error = j->repair_answer ? j->repair_error : NULL,
   };
   j->attempts++;
   tk_counter_inc (tk_metric_labels (w->metrics.attempts, w->provider->name));
   tk_error_t err;
   j->state = J_LLM;
   uv_update_time (w->app->loop);
   j->call_started = uv_now (w->app->loop);
   j->call_provider = w->provider;
   j->call = w->provider->start (w->provider, &in, on_attempt, j, &err);
   free (j->repair_answer);
   j->repair_answer = NULL;
   if (!j->call) {
      job_fail_attempt (j, "internal", err.message, true, -1);
   }
}

void
cl__job_attempt (job_t *j)
{
   cl_worker_t *w = j->w;
   if (w->closing) {
      return; /* the revoke of the closing consumer abandons it */
   }
   j->probe = cl_circuit_is_open (&w->circuit);
   if (!cl_circuit_allows (&w->circuit)) {
      j->state = J_WAIT;
      cl__list_push (&w->parked_head, &w->parked_tail, j);
      return;
   }
   if (job_batchable (j)) {
      job_gather (j);
      return;
   }
   size_t est_tokens = (strlen (j->subject) + strlen (j->body)) / 4 + 600;
   int64_t wait = cl_rate_limit_take (&w->rate, est_tokens, (int64_t) uv_now (w->app->loop));
   if (wait > 0) {
      tk_counter_inc (w->metrics.rate_waits);
      cl__job_later (j, (uint64_t) wait, cl__job_attempt);
      return;
   }
   job_call (j);
}

/* What one ticket's attempt (alone or in a batch) leads to. */
static void
job_outcome (job_t *j, cl_attempt_t *a, int64_t ms)
{
   cl_worker_t *w = j->w;
   bool provider_failed = attempt_provider_failed (a);
   if (provider_failed && cl_circuit_is_open (&w->circuit)) {
      /* A provider failure once the circuit is open (a failed probe, a
       * call in flight when it opened, or the very failure that opened
       * it) says the provider is down, not that this ticket is bad: it
       * keeps its retry budget and waits behind the other parked tickets
       * (so probes take turns). Without this, a ticket whose last retry
       * opened the circuit went to the DLQ while the provider was down. */
      j->attempts--;
      snprintf (j->last_error, sizeof j->last_error, "%s", a->error);
      j->state = J_WAIT;
      cl__list_push (&w->parked_head, &w->parked_tail, j);
      return;
   }
   if (a->ok) {
      j->c = a->c;
      memset (&a->c, 0, sizeof a->c);
      j->conf = a->conf;
      j->processing_ms = ms;
      j->outcome = JOB_CLASSIFIED;
      cl__job_save (j);
      return;
   }
   if (a->invalid_answer && !j->repaired && a->answer &&
       j->attempts < (unsigned) w->cfg->retry_max_attempts) {
      /* One repair: show the model its answer and what was wrong with it. */
      j->repaired = true;
      j->repair_answer = a->answer;
      a->answer = NULL;
      snprintf (j->repair_error, sizeof j->repair_error, "%s", a->error);
      snprintf (j->last_error, sizeof j->last_error, "%s", a->error);
      tk_counter_inc (tk_metric_labels (w->metrics.retries, "repair"));
      char *masked = tk_pii_mask (a->error, strlen (a->error), NULL);
      TK_INFO (COMPONENT, "ticket %s: invalid answer (%s); asking for a repair", j->id,
               masked ? masked : "(error text withheld)");
      free (masked);
      cl__job_attempt (j);
      return;
   }
   job_fail_attempt (j, a->reason, a->error, a->retryable, a->retry_after_ms);
}

static void
on_attempt (cl_attempt_t *a, void *ud)
{
   job_t *j = ud;
   cl_worker_t *w = j->w;
   j->call = NULL;
   uv_update_time (w->app->loop);
   int64_t ms = (int64_t) (uv_now (w->app->loop) - j->call_started);
   tk_histogram_observe (tk_metric_labels (w->metrics.latency, w->provider->name),
                         (double) ms / 1000.0);
   if (a->cpu_us) {
      tk_counter_add (tk_metric_labels (w->metrics.provider_cpu, w->provider->name), a->cpu_us);
   }
   worker_circuit_record (w, a->ok, attempt_provider_failed (a));
   job_outcome (j, a, ms);
}

/* ---- batches (batch.h) ---------------------------------------------------- */


/* Whether j's next attempt waits to share a call with other tickets. */
static bool
job_batchable (const job_t *j)
{
   return cl_batcher_enabled (j->w->batcher) && !j->probe && !j->solo && !j->repair_answer;
}

static void
job_gather (job_t *j)
{
   j->state = J_WAIT;
   j->batch.in = (cl_prompt_input_t) {.id = j->id, .subject = j->subject, .body = j->body};
   cl_batcher_add (j->w->batcher, &j->batch);
}

static bool
batch_claim (cl_batch_entry_t *e, void *ud)
{
   (void) ud;
   return !cl__job_gone (JOB_OF_ENTRY (e));
}

static void
batch_hand_back (cl_batch_entry_t *e, void *ud)
{
   (void) ud;
   cl__job_attempt (JOB_OF_ENTRY (e));
}

static void
batch_send_alone (cl_batch_entry_t *e, void *ud)
{
   (void) ud;
   job_call (JOB_OF_ENTRY (e));
}

static void
batch_sending (cl_batch_entry_t *e, void *ud)
{
   job_t *j = JOB_OF_ENTRY (e);
   cl_worker_t *w = ud;
   j->attempts++;
   j->state = J_LLM;
   j->call_started = uv_now (w->app->loop);
}

static void
batch_call_done (const cl_attempt_t *a, void *ud)
{
   bool call_failed = attempt_provider_failed (a);
   worker_circuit_record (ud, !call_failed, call_failed);
}

static void
batch_answered (cl_batch_entry_t *e, cl_attempt_t *a, int64_t ms, void *ud)
{
   (void) ud;
   job_t *j = JOB_OF_ENTRY (e);
   if (!a->ok && a->invalid_answer) {
      /* Its own answer was bad: the retry (or repair) asks about it
       * alone, so the others are never asked again. */
      j->solo = true;
   }
   job_outcome (j, a, ms);
}

const cl_batch_hooks_t cl__batch_hooks = {
   .claim = batch_claim,
   .hand_back = batch_hand_back,
   .send_alone = batch_send_alone,
   .sending = batch_sending,
   .call_done = batch_call_done,
   .answered = batch_answered,
};
