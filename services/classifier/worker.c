/* worker.c - consumption, the per-ticket pipeline and ordered commits (the
 * messages: messages.h; the offsets in flight: kafka_offsets.h). */
#include "worker.h"

#include "backoff.h"
#include "batch.h"
#include "classifier_metrics.h"
#include "circuit.h"
#include "kafka_offsets.h"
#include "log.h"
#include "messages.h"
#include "pii_mask.h"
#include "rate_limit.h"
#include "store_async.h"
#include "ticket_json.h"
#include "timeutil.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMPONENT "worker"
/* Backoff for the store and the producer (not the LLM): they are retried
 * until they succeed or the partition is revoked, since giving up would
 * lose the outcome. */
#define INFRA_RETRY_BASE_MS 200
#define INFRA_RETRY_CAP_MS 10000

typedef enum {
   J_QUEUED,   /* waiting for a free slot */
   J_FETCH,    /* reading the ticket */
   J_WAIT,     /* backoff, rate limit or open circuit */
   J_LLM,      /* provider call in flight */
   J_SAVE,     /* writing the result or the failure */
   J_PUBLISH,  /* producing the result or the DLQ record */
   J_DONE,     /* outcome durable; waiting for its turn to be committed */
} job_state_t;

typedef struct job job_t;

struct job {
   cl_worker_t *w;
   tk_offset_entry_t off; /* in its partition's in-flight list; part NULL once abandoned */
   job_t *wnext; /* in the worker's start queue or parked list */
   bool in_list; /* on the start queue or the parked list */
   job_state_t state;
   bool abandoned;
   bool busy;     /* a store call or a produce is in flight */
   bool counted;  /* counted in w->n_active */
   uv_timer_t timer;
   void (*after_timer) (job_t *j);
   cl_call_t *call;
   cl_provider_t *call_provider; /* whose call `call` is */
   cl_batch_entry_t batch;       /* its place in the batcher (batch.h) */
   uint64_t call_started;

   char id[TK_TICKET_ID_MAX + 1];
   bool reprocess;
   char *request; /* the classify message, for the DLQ record */
   size_t request_len;

   tk_ticket_t *ticket;
   char *subject, *body; /* what the provider sees (masked if remote) */
   unsigned attempts;
   unsigned infra_attempts;
   bool repaired;
   bool probe;    /* this attempt went out while the circuit was open */
   char *repair_answer;
   char repair_error[256];
   char last_error[256];
   bool failed; /* DLQ path */
   bool solo;   /* its own answer in a batch was bad: asked alone from now on */
   const char *fallback_reason; /* static; the remote provider gave up for this reason */
   bool fallback;        /* the result comes from the fallback provider */
   bool kept_local;      /* the cascade kept the built-in model's answer */
   bool failure_recorded; /* fallback: the remote failure is stored */
   bool republish; /* already processed: publish the stored result again */

   tk_classification_t c;
   tk_confidence_t conf;
   int64_t processing_ms;
   int64_t processed_at; /* set by the first save; the published result says the same */

   /* Written on the threadpool, read in the done callback. */
   bool op_ok;
   tk_error_t op_err;
};

struct cl_worker {
   tk_app_t *app;
   const tk_config_t *cfg;
   cl_provider_t *provider;
   cl_provider_t *local;    /* the built-in model beside a remote provider, or NULL */
   cl_provider_t *fallback; /* local when TRIAGE_FALLBACK_PROVIDER=local; NULL: failures go to the DLQ */
   char fallback_version[TK_TICKET_VERSION_MAX + 1]; /* "fallback:<model_version>" */
   cl_provider_t *cascade; /* TRIAGE_CASCADE=on: the built-in model asked first; else NULL */
   cl_http_t *http;
   tk_kafka_consumer_t *consumer;
   cl_metrics_t metrics;
   cl_rate_limit_t rate;
   cl_circuit_t circuit;
   uv_timer_t probe_timer;
   uv_timer_t drain_timer; /* bounds the shutdown's wait for in-flight work */
   uv_timer_t lag_timer;   /* refreshes the consumer-lag gauges */
   size_t pending_commits; /* commits sent whose result has not come back */

   tk_offsets_t offsets; /* the jobs in flight per partition; committed at every advance */

   job_t *queue_head, *queue_tail; /* J_QUEUED jobs */
   job_t *parked_head, *parked_tail; /* waiting for the circuit */
   cl_batcher_t *batcher; /* TRIAGE_LLM_BATCH */
   size_t n_queued;
   size_t n_active;
   size_t n_jobs; /* every job allocated, until its memory is freed */
   uint64_t rnd;

   bool stopping;   /* shutdown: take no new work, finish what has started */
   bool closing;    /* the consumer is being closed: what is left is dropped */
   bool consumer_closed;
   void *shutdown_token;
};

static void job_start (job_t *j);
static void job_cascade (job_t *j);
static void job_ask_provider (job_t *j);
static void job_attempt (job_t *j);
static void job_save (job_t *j);
static void job_publish (job_t *j);
static void job_finish (job_t *j);
static void worker_update_pause (cl_worker_t *w);
static void worker_maybe_finished (cl_worker_t *w);
static void worker_maybe_drained (cl_worker_t *w);

/* ---- small helpers -------------------------------------------------------- */

static double
rnd01 (cl_worker_t *w)
{
   /* xorshift64*: jitter needs spread, not cryptographic quality. */
   w->rnd ^= w->rnd >> 12;
   w->rnd ^= w->rnd << 25;
   w->rnd ^= w->rnd >> 27;
   return (double) ((w->rnd * UINT64_C (2685821657736338717)) >> 11) / 9007199254740992.0;
}

static char *
dup_n (const char *s, size_t n)
{
   char *d = malloc (n + 1);
   if (d) {
      memcpy (d, s, n);
      d[n] = '\0';
   }
   return d;
}

static void
list_push (job_t **head, job_t **tail, job_t *j)
{
   j->wnext = NULL;
   j->in_list = true;
   if (*tail) {
      (*tail)->wnext = j;
   } else {
      *head = j;
   }
   *tail = j;
}

static job_t *
list_pop (job_t **head, job_t **tail)
{
   job_t *j = *head;
   if (j) {
      *head = j->wnext;
      if (!*head) {
         *tail = NULL;
      }
      j->wnext = NULL;
      j->in_list = false;
   }
   return j;
}

/* ---- job memory ----------------------------------------------------------- */

static void
job_freed (uv_handle_t *h)
{
   job_t *j = h->data;
   cl_worker_t *w = j->w;
   free (j);
   w->n_jobs--;
   tk_gauge_set (w->metrics.jobs, (double) w->n_jobs);
   worker_maybe_finished (w);
}

static void
job_drop_payload (job_t *j)
{
   tk_ticket_destroy (j->ticket);
   j->ticket = NULL;
   free (j->subject);
   free (j->body);
   j->subject = j->body = NULL;
   free (j->repair_answer);
   j->repair_answer = NULL;
   free (j->request);
   j->request = NULL;
   tk_classification_clear (&j->c);
}

/* Frees an abandoned or committed job once nothing refers to it any more. */
static void
job_release (job_t *j)
{
   if (j->busy || j->in_list || cl_batch_entry_waiting (&j->batch)) {
      return; /* freed when the store call or produce comes back, or popped */
   }
   if (j->call) {
      j->call_provider->cancel (j->call_provider, j->call);
      j->call = NULL;
   }
   if (cl_batch_entry_in_call (&j->batch)) {
      cl_batch_entry_detach (&j->batch);
   }
   job_drop_payload (j);
   uv_timer_stop (&j->timer);
   uv_close ((uv_handle_t *) &j->timer, job_freed);
}

static void
job_uncount (job_t *j)
{
   if (j->counted) {
      j->counted = false;
      j->w->n_active--;
      tk_gauge_set (j->w->metrics.in_flight, (double) j->w->n_active);
   }
}

/* Called when a job is abandoned and its async step has returned. */
static bool
job_gone (job_t *j)
{
   if (j->abandoned) {
      job_release (j);
      return true;
   }
   return false;
}

static void
on_job_timer (uv_timer_t *t)
{
   job_t *j = t->data;
   j->after_timer (j);
}

static void
job_later (job_t *j, uint64_t ms, void (*fn) (job_t *j))
{
   j->state = J_WAIT;
   j->after_timer = fn;
   uv_timer_start (&j->timer, on_job_timer, ms, 0);
}

static void
job_infra_retry (job_t *j, void (*fn) (job_t *j), const char *what, const tk_error_t *err)
{
   j->infra_attempts++;
   int64_t ms = tk_backoff_full_jitter (INFRA_RETRY_BASE_MS, INFRA_RETRY_CAP_MS,
                                        j->infra_attempts, rnd01 (j->w));
   TK_WARN (COMPONENT, "%s failed for ticket %s (will retry in %lld ms): %s", what, j->id,
            (long long) ms, err ? err->message : "unknown error");
   job_later (j, (uint64_t) ms, fn);
}

/* ---- commits -------------------------------------------------------------- */

static void
on_commit (tk_kafka_consumer_t *c, int code, void *opaque)
{
   (void) c;
   cl_worker_t *w = opaque;
   w->pending_commits--;
   worker_maybe_drained (w);
   if (code != 0) {
      /* A later commit covers this offset; a revoked partition's offset is
       * another member's business now. */
      TK_DEBUG (COMPONENT, "offset commit failed: %s", rd_kafka_err2str (code));
   }
}

#define JOB_OF_OFF(o) ((job_t *) ((char *) (o) - offsetof (job_t, off)))

/* The tracker is done with j: committed past, or its partition revoked
 * (then the next owner redoes it). Freed once nothing refers to it. */
static void
job_released (tk_offset_entry_t *off, void *opaque)
{
   cl_worker_t *w = opaque;
   job_t *j = JOB_OF_OFF (off);
   j->abandoned = true;
   job_uncount (j);
   if (j->state == J_QUEUED) {
      w->n_queued--; /* freed when popped from the queue */
   }
   job_release (j);
}

/* Commits p past its finished head, which the tracker has just popped. */
static void
part_commit (cl_worker_t *w, tk_offsets_part_t *p)
{
   int64_t to;
   if (!tk_offsets_take_commit (p, &to) || !w->consumer || w->consumer_closed) {
      return;
   }
   tk_error_t err;
   if (tk_kafka_consumer_commit (w->consumer, p->topic, p->partition, to, on_commit, w, &err)) {
      w->pending_commits++;
      tk_offsets_committed (p, to);
   } else {
      TK_WARN (COMPONENT, "cannot commit partition %d: %s", (int) p->partition, err.message);
   }
}

static void
job_finish (job_t *j)
{
   cl_worker_t *w = j->w;
   j->state = J_DONE;
   job_drop_payload (j);
   job_uncount (j);
   tk_offsets_part_t *p = j->off.part;
   if (tk_offsets_done (&w->offsets, &j->off) == TK_OFFSETS_COMMIT_NOW) {
      part_commit (w, p);
   }
   /* A slot is free: start queued work (none once stopping: queued messages
    * are left uncommitted for the next owner). */
   while (!w->stopping && w->n_active < (size_t) w->cfg->classifier_concurrency &&
          w->queue_head) {
      job_t *q = list_pop (&w->queue_head, &w->queue_tail);
      /* An abandoned job was uncounted when its partition was revoked;
       * counting it down again wrapped n_queued and kept the consumer
       * paused for ever (found by the fault suite, scenario g). */
      if (!q->abandoned) {
         w->n_queued--;
      }
      if (job_gone (q)) {
         continue;
      }
      job_start (q);
   }
   worker_update_pause (w);
   worker_maybe_drained (w);
}

/* ---- fetch ---------------------------------------------------------------- */

static void
fetch_work (tk_store_t *store, void *ctx)
{
   job_t *j = ctx;
   j->op_ok = tk_store_get_ticket (store, j->id, &j->ticket, &j->op_err);
}

static void
fetch_done (int status, void *ctx)
{
   job_t *j = ctx;
   cl_worker_t *w = j->w;
   j->busy = false;
   if (job_gone (j)) {
      return;
   }
   if (status != 0 || !j->op_ok) {
      if (status == 0 && j->op_err.domain == TK_ERR_NOT_FOUND) {
         TK_WARN (COMPONENT, "ticket %s does not exist; classification request dropped", j->id);
         tk_counter_inc (tk_metric_labels (w->metrics.tickets, w->provider->name, "missing"));
         job_finish (j);
         return;
      }
      job_infra_retry (j, job_start, "reading the ticket", status == 0 ? &j->op_err : NULL);
      return;
   }
   if (j->ticket->processed && !j->reprocess) {
      /* Not classified again. Its result is published again, though: a
       * worker that died between storing the result and publishing it
       * left this redelivery as the only way the result reaches the
       * classified topic (which is at least once anyway). */
      TK_DEBUG (COMPONENT, "ticket %s already processed; skipped, stored result republished",
                j->id);
      j->republish = true;
      job_publish (j);
      return;
   }
   if (w->cascade) {
      job_cascade (j);
      return;
   }
   job_ask_provider (j);
}

/* The ticket's text as the provider sees it (masked when it leaves the
 * process), then the first attempt. */
static void
job_ask_provider (job_t *j)
{
   cl_worker_t *w = j->w;
   const char *s = j->ticket->subject, *b = j->ticket->body;
   if (w->provider->remote) {
      size_t n1 = 0, n2 = 0;
      j->subject = tk_pii_mask (s, strlen (s), &n1);
      j->body = tk_pii_mask (b, strlen (b), &n2);
      tk_counter_add (w->metrics.pii_masked, n1 + n2);
   } else {
      j->subject = dup_n (s, strlen (s));
      j->body = dup_n (b, strlen (b));
   }
   if (!j->subject || !j->body) {
      job_infra_retry (j, job_start, "masking the ticket", NULL);
      return;
   }
   job_attempt (j);
}

/* ---- the cascade (TRIAGE_CASCADE=on) ------------------------------------ */

static void
on_cascade (cl_attempt_t *a, void *ud)
{
   job_t *j = ud;
   cl_worker_t *w = j->w;
   j->call = NULL;
   uv_update_time (w->app->loop);
   if (a->ok && !tk_threshold_any_below (&a->conf, &w->cfg->cascade_threshold)) {
      tk_counter_inc (tk_metric_labels (w->metrics.cascade, "local"));
      j->c = a->c;
      memset (&a->c, 0, sizeof a->c);
      j->conf = a->conf;
      j->kept_local = true;
      j->processing_ms = (int64_t) (uv_now (w->app->loop) - j->call_started);
      job_save (j);
      return;
   }
   /* Unsure (or the model failed): the LLM decides, as without a cascade. */
   tk_counter_inc (tk_metric_labels (w->metrics.cascade, "llm"));
   job_ask_provider (j);
}

/* The built-in model answers first, on the ticket's own text (it runs in
 * this process: nothing to mask); a sure answer is kept, any other ticket
 * goes to the remote provider. No rate-limit token or circuit state is
 * spent on the built-in model. */
static void
job_cascade (job_t *j)
{
   cl_worker_t *w = j->w;
   cl_prompt_input_t in = {
      .id = j->id,
      .subject = j->ticket->subject,
      .body = j->ticket->body,
   };
   tk_error_t err;
   j->state = J_LLM;
   uv_update_time (w->app->loop);
   j->call_started = uv_now (w->app->loop);
   j->call_provider = w->cascade;
   if (!(j->call = w->cascade->start (w->cascade, &in, on_cascade, j, &err))) {
      TK_WARN (COMPONENT, "ticket %s: the cascade's built-in model could not start (%s); "
               "asking the LLM", j->id, err.message);
      job_ask_provider (j);
   }
}

static void
job_start (job_t *j)
{
   cl_worker_t *w = j->w;
   if (!j->counted) {
      j->counted = true;
      w->n_active++;
      tk_gauge_set (w->metrics.in_flight, (double) w->n_active);
   }
   tk_ticket_destroy (j->ticket);
   j->ticket = NULL;
   j->state = J_FETCH;
   j->busy = true;
   int rc = tk_store_async (w->app->loop, w->app->store, fetch_work, fetch_done, j);
   if (rc != 0) {
      j->busy = false;
      job_infra_retry (j, job_start, "queueing the ticket read", NULL);
   }
}

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
      j->failed = true;
      job_save (j);
      return;
   }
   tk_counter_inc (tk_metric_labels (w->metrics.retries, reason));
   int64_t ms = tk_backoff_full_jitter (w->cfg->retry_base_ms, w->cfg->retry_cap_ms, j->attempts,
                                        rnd01 (w));
   if (retry_after_ms > ms) {
      ms = retry_after_ms; /* the provider said when: never sooner */
   }
   TK_INFO (COMPONENT, "ticket %s attempt %u failed (%s); retrying in %lld ms: %s", j->id,
            j->attempts, reason, (long long) ms, error);
   job_later (j, (uint64_t) ms, job_attempt);
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
      j->fallback = true;
   } else {
      size_t n = strlen (j->last_error);
      snprintf (j->last_error + n, sizeof j->last_error - n, "; the fallback failed too: %s",
                a->error);
      j->failed = true;
   }
   job_save (j);
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
   cl_prompt_input_t in = {
      .id = j->id,
      .subject = j->ticket->subject,
      .body = j->ticket->body,
   };
   tk_error_t err;
   j->state = J_LLM;
   uv_update_time (w->app->loop);
   j->call_started = uv_now (w->app->loop);
   j->call_provider = w->fallback;
   if (!(j->call = w->fallback->start (w->fallback, &in, on_fallback, j, &err))) {
      size_t n = strlen (j->last_error);
      snprintf (j->last_error + n, sizeof j->last_error - n, "; the fallback failed too: %s",
                err.message);
      j->failed = true;
      job_save (j);
   }
}

/* ---- the circuit ---------------------------------------------------------- */

static void
on_probe_timer (uv_timer_t *t)
{
   cl_worker_t *w = t->data;
   /* Half-open: let one parked ticket through as the probe. */
   job_t *j;
   while ((j = list_pop (&w->parked_head, &w->parked_tail))) {
      if (job_gone (j)) {
         continue;
      }
      cl_circuit_probe_started (&w->circuit);
      job_attempt (j);
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
      worker_update_pause (w);
   } else if (transition < 0) {
      TK_INFO (COMPONENT, "provider answered; circuit closed, resuming consumption");
      tk_gauge_set (w->metrics.circuit, 0);
      uv_timer_stop (&w->probe_timer);
      job_t *p;
      while ((p = list_pop (&w->parked_head, &w->parked_tail))) {
         if (!job_gone (p)) {
            job_attempt (p);
         }
      }
      worker_update_pause (w);
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

static void
job_attempt (job_t *j)
{
   cl_worker_t *w = j->w;
   if (w->closing) {
      return; /* the revoke of the closing consumer abandons it */
   }
   j->probe = cl_circuit_is_open (&w->circuit);
   if (!cl_circuit_allows (&w->circuit)) {
      j->state = J_WAIT;
      list_push (&w->parked_head, &w->parked_tail, j);
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
      job_later (j, (uint64_t) wait, job_attempt);
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
   if (j->probe && provider_failed && cl_circuit_is_open (&w->circuit)) {
      /* A failed probe says the provider is still down, not that this
       * ticket is bad: it keeps its retry budget and waits behind the
       * other parked tickets (so probes take turns). */
      j->attempts--;
      snprintf (j->last_error, sizeof j->last_error, "%s", a->error);
      j->state = J_WAIT;
      list_push (&w->parked_head, &w->parked_tail, j);
      return;
   }
   if (a->ok) {
      j->c = a->c;
      memset (&a->c, 0, sizeof a->c);
      j->conf = a->conf;
      j->processing_ms = ms;
      job_save (j);
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
      job_attempt (j);
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
   worker_circuit_record (w, a->ok, attempt_provider_failed (a));
   job_outcome (j, a, ms);
}

/* ---- batches (batch.h) ---------------------------------------------------- */

#define JOB_OF_ENTRY(e) ((job_t *) ((char *) (e) - offsetof (job_t, batch)))

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
   return !job_gone (JOB_OF_ENTRY (e));
}

static void
batch_hand_back (cl_batch_entry_t *e, void *ud)
{
   (void) ud;
   job_attempt (JOB_OF_ENTRY (e));
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

static const cl_batch_hooks_t batch_hooks = {
   .claim = batch_claim,
   .hand_back = batch_hand_back,
   .send_alone = batch_send_alone,
   .sending = batch_sending,
   .call_done = batch_call_done,
   .answered = batch_answered,
};

/* ---- saving --------------------------------------------------------------- */

/* The processing_metadata of j's new result, processed when it was first
 * saved: the stored result and the published one (and a republish of the
 * stored one after a redelivery) are the same. Its strings are borrowed from
 * the worker (good while it lives). */
static tk_processing_metadata_t
job_metadata (const job_t *j)
{
   return (tk_processing_metadata_t) {
      .processed_at = j->processed_at ? j->processed_at : tk_time_now_ms (),
      .model_version = j->fallback     ? (char *) j->w->fallback_version
                       : j->kept_local ? (char *) j->w->cascade->model_version
                                       : (char *) j->w->provider->model_version,
      .processing_time_ms = j->processing_ms,
      .agent_version = (char *) TRIAGE_VERSION,
      .needs_review = tk_threshold_any_below (&j->conf, &j->w->cfg->review_threshold),
   };
}

static void
save_work (tk_store_t *store, void *ctx)
{
   job_t *j = ctx;
   if (j->failed || (j->fallback && !j->failure_recorded)) {
      /* A fallback result still records what the remote provider did. */
      char text[400];
      snprintf (text, sizeof text, "after %u attempt(s): %s", j->attempts, j->last_error);
      j->op_ok = tk_store_record_failure (store, j->id, text, &j->op_err);
      if (j->failed || !j->op_ok) {
         return;
      }
      j->failure_recorded = true;
   }
   if (!j->processed_at) {
      j->processed_at = tk_time_now_ms ();
   }
   tk_processing_metadata_t md = job_metadata (j);
   j->op_ok = tk_store_update_ticket_with_classification (store, j->id, &j->c, &j->conf, &md,
                                                          &j->op_err);
}

static void
save_done (int status, void *ctx)
{
   job_t *j = ctx;
   j->busy = false;
   if (job_gone (j)) {
      return;
   }
   if (status != 0 || !j->op_ok) {
      if (status == 0 && j->op_err.domain == TK_ERR_NOT_FOUND) {
         TK_WARN (COMPONENT, "ticket %s was deleted while being classified; dropped", j->id);
         if (!j->failed) {
            job_finish (j);
            return;
         }
         /* A failure still goes to the DLQ. */
      } else {
         job_infra_retry (j, job_save, "storing the outcome", status == 0 ? &j->op_err : NULL);
         return;
      }
   }
   j->infra_attempts = 0;
   job_publish (j);
}

static void
job_save (job_t *j)
{
   j->state = J_SAVE;
   j->busy = true;
   if (tk_store_async (j->w->app->loop, j->w->app->store, save_work, save_done, j) != 0) {
      j->busy = false;
      job_infra_retry (j, job_save, "queueing the store write", NULL);
   }
}

/* ---- publishing ----------------------------------------------------------- */

/* j's record (messages.h): for the DLQ its failure and its classify
 * request; for the classified topic its new result, or for a republish the
 * stored one. Caller frees; NULL with err if out of memory. */
static char *
outcome_message (job_t *j, size_t *len, tk_error_t *err)
{
   if (j->failed) {
      tk_msg_dlq_fields_t f = {
         .id = j->id,
         .error = j->last_error,
         .attempts = j->attempts,
         .failed_at = tk_time_now_ms (),
         .provider = j->w->provider->name,
         .message = j->request,
         .message_len = j->request_len,
         .encoding = TK_MSG_DLQ_JSON,
      };
      return tk_msg_dlq_build (&f, len, err);
   }
   if (j->republish) {
      const tk_ticket_t *t = j->ticket;
      return tk_msg_classified_build (j->id, &t->classification, &t->confidence, &t->metadata,
                                      len, err);
   }
   tk_processing_metadata_t md = job_metadata (j);
   return tk_msg_classified_build (j->id, &j->c, &j->conf, &md, len, err);
}

static void
on_delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   job_t *j = opaque;
   cl_worker_t *w = j->w;
   j->busy = false;
   if (job_gone (j)) {
      return;
   }
   if (d->code != 0) {
      tk_error_t err;
      tk_error_set (&err, TK_ERR_KAFKA, d->code, "%s", d->reason);
      job_infra_retry (j, job_publish, "publishing the outcome", &err);
      return;
   }
   tk_counter_inc (tk_metric_labels (w->metrics.tickets, w->provider->name,
                                     j->failed      ? "dlq"
                                     : j->republish ? "skipped"
                                     : j->fallback  ? "fallback"
                                                    : "classified"));
   if (!j->failed && !j->republish &&
       tk_threshold_any_below (&j->conf, &w->cfg->review_threshold)) {
      tk_counter_inc (tk_metric_labels (w->metrics.needs_review, job_metadata (j).model_version));
   }
   job_finish (j);
}

static void
job_publish (job_t *j)
{
   cl_worker_t *w = j->w;
   j->state = J_PUBLISH;
   const char *topic = j->failed ? w->cfg->topic_dlq : w->cfg->topic_classified;
   tk_error_t err;
   size_t len = 0;
   char *text = outcome_message (j, &len, &err);
   if (!text) {
      job_infra_retry (j, job_publish, "building the message", &err);
      return;
   }
   j->busy = true;
   bool ok = w->app->producer &&
             tk_kafka_produce (w->app->producer, topic, j->id, strlen (j->id), text, len,
                               on_delivered, j, &err);
   free (text);
   if (!ok) {
      j->busy = false;
      if (!w->app->producer) {
         tk_error_set (&err, TK_ERR_KAFKA, 0, "the producer is closed");
      }
      job_infra_retry (j, job_publish, "publishing the outcome", &err);
   }
}

/* ---- consumption ---------------------------------------------------------- */

/* Reads the classify request (messages.h) into j; false with err if the
 * message is not one. */
static bool
parse_request (job_t *j, const tk_kafka_message_t *m, tk_error_t *err)
{
   tk_msg_classify_t req;
   if (!tk_msg_classify_parse (m->payload, m->len, &req, err)) {
      return false;
   }
   memcpy (j->id, req.id, sizeof j->id);
   j->reprocess = req.reprocess;
   return true;
}

static void
on_messages (tk_kafka_consumer_t *c, const tk_kafka_message_t *msgs, size_t n, void *opaque)
{
   (void) c;
   cl_worker_t *w = opaque;
   for (size_t i = 0; i < n; i++) {
      const tk_kafka_message_t *m = &msgs[i];
      tk_offsets_part_t *p = tk_offsets_get (&w->offsets, m->topic, m->partition);
      job_t *j = calloc (1, sizeof *j);
      if (!p || !j) {
         /* Not committed: the message is read again after a restart. */
         TK_ERROR (COMPONENT, "out of memory; message %d/%lld left for redelivery",
                   (int) m->partition, (long long) m->offset);
         free (j);
         continue;
      }
      j->w = w;
      /* The first message after an assignment starts at the committed
       * offset. */
      tk_offsets_add (p, &j->off, m->offset);
      uv_timer_init (w->app->loop, &j->timer);
      j->timer.data = j;
      w->n_jobs++;
      tk_gauge_set (w->metrics.jobs, (double) w->n_jobs);
      tk_error_t err;
      if (!parse_request (j, m, &err)) {
         TK_WARN (COMPONENT, "classify message %d/%lld is not a valid request (%s); skipped",
                  (int) m->partition, (long long) m->offset, err.message);
         tk_counter_inc (tk_metric_labels (w->metrics.tickets, w->provider->name, "bad_request"));
         job_finish (j);
         continue;
      }
      j->request = dup_n (m->payload, m->len);
      j->request_len = m->len;
      if (w->n_active < (size_t) w->cfg->classifier_concurrency && !w->stopping) {
         job_start (j);
      } else {
         j->state = J_QUEUED;
         list_push (&w->queue_head, &w->queue_tail, j);
         w->n_queued++;
      }
   }
   worker_update_pause (w);
}

/* Drops every job of p without committing: the next owner redoes them. */
static void
part_abandon (cl_worker_t *w, tk_offsets_part_t *p)
{
   int32_t partition = p->partition;
   size_t n = tk_offsets_revoke (&w->offsets, p);
   if (n > 0) {
      TK_INFO (COMPONENT, "partition %d revoked; %zu uncommitted message(s) left to its next "
                          "owner", (int) partition, n);
   }
}

static void
on_rebalance (tk_kafka_consumer_t *c, tk_kafka_rebalance_t kind,
              const tk_kafka_partition_t *parts, size_t n, void *opaque)
{
   (void) c;
   cl_worker_t *w = opaque;
   /* An assigned partition is tracked from its first message on, its
    * committed offset then unknown until that message says it; a revoked
    * one is forgotten. */
   for (size_t i = 0; i < n && kind != TK_KAFKA_ASSIGNED; i++) {
      tk_offsets_part_t *p = tk_offsets_find (&w->offsets, parts[i].topic, parts[i].partition);
      if (p) {
         part_abandon (w, p);
      }
      char label[16];
      snprintf (label, sizeof label, "%d", (int) parts[i].partition);
      tk_gauge_set (tk_metric_labels (w->metrics.lag, label), 0);
   }
   TK_INFO (COMPONENT, "%zu partition(s) %s", n, kind == TK_KAFKA_ASSIGNED ? "assigned" : "revoked");
   worker_update_pause (w);
   worker_maybe_drained (w);
}

static void
on_consumer_error (int code, bool fatal, const char *reason, void *opaque)
{
   cl_worker_t *w = opaque;
   if (fatal) {
      TK_ERROR (COMPONENT, "fatal consumer error: %s", reason);
      tk_app_stop (w->app, "fatal Kafka consumer error", 1);
   } else {
      TK_DEBUG (COMPONENT, "consumer error %d: %s", code, reason);
   }
}

/* Consumption is paused while the circuit is open, while stopping, and
 * when TRIAGE_CLASSIFIER_PREFETCH requests are queued behind the tickets in
 * flight; it resumes once the queue is down to half of that. A pause and
 * resume costs 0.5-1 s before librdkafka delivers again (measured with
 * librdkafka 2.0.2: pausing at exactly TRIAGE_CLASSIFIER_CONCURRENCY held
 * the built-in model to 32 tickets per 0.5 s), so the queue is kept long
 * enough to cover that gap at the rate the database allows, and the pause
 * is rare. Queued messages are small (a ticket id and a reason) and are
 * left uncommitted, so the next owner of a revoked partition redoes them. */
static size_t
prefetch_allowance (const cl_worker_t *w)
{
   return (size_t) w->cfg->classifier_prefetch;
}

static void
worker_update_pause (cl_worker_t *w)
{
   if (!w->consumer || w->consumer_closed) {
      return;
   }
   size_t allowance = prefetch_allowance (w);
   bool paused = tk_kafka_consumer_is_paused (w->consumer);
   bool full = paused ? w->n_queued > allowance / 2 : w->n_queued >= allowance;
   bool want = w->stopping || full || cl_circuit_is_open (&w->circuit);
   if (want == paused) {
      return;
   }
   tk_error_t err;
   bool ok = want ? tk_kafka_consumer_pause (w->consumer, &err)
                  : tk_kafka_consumer_resume (w->consumer, &err);
   if (!ok) {
      TK_WARN (COMPONENT, "cannot %s consumption: %s", want ? "pause" : "resume", err.message);
   }
}

/* ---- consumer lag --------------------------------------------------------- */

static void
on_lag_timer (uv_timer_t *t)
{
   cl_worker_t *w = t->data;
   if (!w->consumer || w->consumer_closed) {
      return;
   }
   for (tk_offsets_part_t *p = w->offsets.parts; p; p = p->next) {
      int64_t low, high;
      if (p->committed < 0 ||
          !tk_kafka_consumer_watermarks (w->consumer, p->topic, p->partition, &low, &high)) {
         continue;
      }
      char label[16];
      snprintf (label, sizeof label, "%d", (int) p->partition);
      tk_gauge_set (tk_metric_labels (w->metrics.lag, label), (double) tk_offsets_lag (p, high));
   }
}

/* ---- shutdown ------------------------------------------------------------- */

static void
fallback_closed (void *ud)
{
   cl_worker_t *w = ud;
   void *token = w->shutdown_token;
   w->shutdown_token = NULL;
   TK_INFO (COMPONENT, "classifier stopped");
   tk_shutdown_step_done (token);
}

static void
provider_closed (void *ud)
{
   cl_worker_t *w = ud;
   if (w->local && w->local->close) {
      w->local->close (w->local, fallback_closed, w);
   } else {
      fallback_closed (w);
   }
}

static void
http_closed (void *ud)
{
   cl_worker_t *w = ud;
   w->http = NULL;
   if (w->provider->close) {
      w->provider->close (w->provider, provider_closed, w);
   } else {
      provider_closed (w);
   }
}

static void
drain_timer_closed (uv_handle_t *h)
{
   cl_worker_t *w = h->data;
   cl_http_close (w->http, http_closed, w);
}

static void
lag_timer_closed (uv_handle_t *h)
{
   cl_worker_t *w = h->data;
   uv_close ((uv_handle_t *) &w->drain_timer, drain_timer_closed);
}

static void
batcher_closed (void *ud)
{
   cl_worker_t *w = ud;
   uv_close ((uv_handle_t *) &w->lag_timer, lag_timer_closed);
}

static void
probe_timer_closed (uv_handle_t *h)
{
   cl_worker_t *w = h->data;
   cl_batcher_close (w->batcher, batcher_closed, w);
}

static void
worker_maybe_finished (cl_worker_t *w)
{
   if (!w->stopping || !w->consumer_closed || w->n_jobs > 0 || !w->shutdown_token ||
       uv_is_closing ((uv_handle_t *) &w->probe_timer)) {
      return;
   }
   uv_close ((uv_handle_t *) &w->probe_timer, probe_timer_closed);
}

static void
consumer_closed (void *ud)
{
   cl_worker_t *w = ud;
   w->consumer = NULL;
   w->consumer_closed = true;
   /* The final revoke abandoned every partition; whatever was waiting on a
    * list is released now. */
   while (w->offsets.parts) {
      part_abandon (w, w->offsets.parts);
   }
   job_t *j;
   while ((j = list_pop (&w->queue_head, &w->queue_tail))) {
      j->abandoned = true;
      job_release (j);
   }
   while ((j = list_pop (&w->parked_head, &w->parked_tail))) {
      j->abandoned = true;
      job_release (j);
   }
   cl_batch_entry_t *e;
   while ((e = cl_batcher_pop (w->batcher))) {
      j = JOB_OF_ENTRY (e);
      j->abandoned = true;
      job_release (j);
   }
   w->n_queued = 0;
   worker_maybe_finished (w);
}

/* Leaves the group: the final revoke drops whatever is still held. */
static void
worker_close_consumer (cl_worker_t *w)
{
   if (w->closing) {
      return;
   }
   w->closing = true;
   cl_batcher_hold (w->batcher);
   uv_timer_stop (&w->drain_timer);
   tk_kafka_consumer_close (w->consumer, consumer_closed, w);
}

/* While stopping: once every started ticket is done and its commit has come
 * back, close the consumer. */
static void
worker_maybe_drained (cl_worker_t *w)
{
   if (!w->stopping || w->closing || w->n_active > 0 || w->pending_commits > 0) {
      return;
   }
   TK_INFO (COMPONENT, "in-flight work finished and committed; leaving the consumer group "
                       "(%zu queued message(s) left uncommitted for the next owner)",
            w->n_queued);
   worker_close_consumer (w);
}

static void
on_drain_deadline (uv_timer_t *t)
{
   cl_worker_t *w = t->data;
   TK_WARN (COMPONENT, "shutdown timeout: %zu ticket(s) still in flight are dropped "
                       "uncommitted; the next owner redoes them",
            w->n_active);
   worker_close_consumer (w);
}

static void
worker_shutdown (void *user_data, void *token)
{
   cl_worker_t *w = user_data;
   w->stopping = true;
   w->shutdown_token = token;
   /* The whole shutdown is bounded by TRIAGE_SHUTDOWN_TIMEOUT; the producer's
    * flush after this step gets half of it, so the drain gets a little less
    * than the other half and the consumer still has time to leave cleanly. */
   uint64_t budget = (uint64_t) w->cfg->shutdown_timeout_ms * 2 / 5;
   TK_INFO (COMPONENT, "stopping: consumption paused; finishing %zu ticket(s) in flight "
                       "(at most %llu ms)",
            w->n_active, (unsigned long long) budget);
   worker_update_pause (w);
   uv_timer_start (&w->drain_timer, on_drain_deadline, budget, 0);
   worker_maybe_drained (w);
}

/* ---- lifetime ------------------------------------------------------------- */

static void
batcher_destroy_closed (void *ud)
{
   cl_batcher_destroy (ud);
}

cl_worker_t *
cl_worker_new (tk_app_t *app, cl_provider_t *provider, cl_provider_t *local, cl_http_t *http,
               tk_error_t *err)
{
   cl_worker_t *w = calloc (1, sizeof *w);
   if (!w) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   w->app = app;
   w->cfg = &app->cfg;
   tk_offsets_init (&w->offsets, TK_OFFSETS_COMMIT_EACH, 0, job_released, w);
   w->provider = provider;
   w->local = local;
   cl_provider_t *fallback = local && app->cfg.fallback_provider == 1 ? local : NULL;
   w->fallback = fallback;
   w->cascade = local && app->cfg.cascade == 1 ? local : NULL;
   if (fallback) {
      /* Cut to what a stored model_version may hold (the built-in
       * model's name is far shorter). */
      int n = snprintf (w->fallback_version, sizeof w->fallback_version, "fallback:%.*s",
                        (int) (sizeof w->fallback_version - sizeof "fallback:"),
                        fallback->model_version);
      (void) n;
   }
   w->http = http;
   w->rnd = (uint64_t) tk_time_now_ms () ^ ((uint64_t) getpid () << 32) ^ UINT64_C (0x9E3779B97F4A7C15);
   if (!cl_metrics_init (&w->metrics, app->metrics, err)) {
      free (w);
      return NULL;
   }
   cl_rate_limit_init (&w->rate, w->cfg->llm_rpm, w->cfg->llm_tpm, (int64_t) uv_now (app->loop));
   cl_circuit_init (&w->circuit, (unsigned) w->cfg->circuit_threshold);

   const char *topics[] = {w->cfg->topic_classify};
   tk_kafka_consumer_opts_t opts = {
      .brokers = w->cfg->kafka_brokers,
      .group_id = w->cfg->kafka_group,
      .topics = topics,
      .n_topics = 1,
      .passthrough = &app->kafka_pt,
      .batch_max = (size_t) w->cfg->classifier_concurrency,
      .on_messages = on_messages,
      .on_rebalance = on_rebalance,
      .on_error = on_consumer_error,
      .opaque = w,
   };
   if (!(w->batcher = cl_batcher_new (app->loop, w->cfg, provider, &w->rate, &w->circuit,
                                      &w->metrics, &batch_hooks, w, err))) {
      free (w);
      return NULL;
   }
   if (!(w->consumer = tk_kafka_consumer_new (app->loop, &opts, err))) {
      /* The batcher's timer is on the loop: freed once it is closed. */
      cl_batcher_close (w->batcher, batcher_destroy_closed, w->batcher);
      free (w);
      return NULL;
   }
   /* Cannot fail: the classifier adds its only step before running. */
   tk_app_add_shutdown_step (app, "classifier", worker_shutdown, w);
   uv_timer_init (app->loop, &w->probe_timer);
   w->probe_timer.data = w;
   uv_timer_init (app->loop, &w->drain_timer);
   w->drain_timer.data = w;
   uv_timer_init (app->loop, &w->lag_timer);
   w->lag_timer.data = w;
   uv_timer_start (&w->lag_timer, on_lag_timer, 1000, 1000);
   TK_INFO (COMPONENT, "consuming %s as group %s with provider %s (%s), concurrency %d, "
                       "batch %d, fallback %s",
            w->cfg->topic_classify, w->cfg->kafka_group, provider->name,
            provider->model_version, w->cfg->classifier_concurrency,
            provider->start_batch ? w->cfg->llm_batch : 1,
            fallback ? fallback->model_version : "none");
   return w;
}

void
cl_worker_destroy (cl_worker_t *w)
{
   if (!w) {
      return;
   }
   tk_offsets_forget_all (&w->offsets);
   cl_batcher_destroy (w->batcher);
   free (w);
}
