/* worker.c - the worker's lifetime and wiring (worker.h), and the job
 * helpers every part of it shares: job memory, timers, infrastructure
 * retries. The rest, by concern: worker_consume.c (consumption, pause,
 * rebalance, commits, lag), worker_job.c (one ticket from fetch to publish),
 * worker_attempt.c (the provider's attempts: retries, repair, circuit,
 * fallback, batches), worker_shutdown.c. Who owns what: worker_internal.h. */
#include "worker_internal.h"

#include "backoff.h"
#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Backoff for the store and the producer (not the LLM): they are retried
 * until they succeed or the partition is revoked, since giving up would
 * lose the outcome. */
#define INFRA_RETRY_BASE_MS 200
#define INFRA_RETRY_CAP_MS 10000

/* ---- small helpers -------------------------------------------------------- */

double
cl__rnd01 (cl_worker_t *w)
{
   /* xorshift64*: jitter needs spread, not cryptographic quality. */
   w->rnd ^= w->rnd >> 12;
   w->rnd ^= w->rnd << 25;
   w->rnd ^= w->rnd >> 27;
   return (double) ((w->rnd * UINT64_C (2685821657736338717)) >> 11) / 9007199254740992.0;
}

char *
cl__dup_n (const char *s, size_t n)
{
   char *d = malloc (n + 1);
   if (d) {
      memcpy (d, s, n);
      d[n] = '\0';
   }
   return d;
}

void
cl__list_push (job_t **head, job_t **tail, job_t *j)
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

job_t *
cl__list_pop (job_t **head, job_t **tail)
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
   cl__worker_maybe_finished (w);
}

void
cl__job_drop_payload (job_t *j)
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
void
cl__job_release (job_t *j)
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
   cl__job_drop_payload (j);
   uv_timer_stop (&j->timer);
   uv_close ((uv_handle_t *) &j->timer, job_freed);
}

void
cl__job_uncount (job_t *j)
{
   if (j->counted) {
      j->counted = false;
      j->w->n_active--;
      tk_gauge_set (j->w->metrics.in_flight, (double) j->w->n_active);
   }
}

/* Called when a job is abandoned and its async step has returned. */
bool
cl__job_gone (job_t *j)
{
   if (j->abandoned) {
      cl__job_release (j);
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

void
cl__job_later (job_t *j, uint64_t ms, void (*fn) (job_t *j))
{
   j->state = J_WAIT;
   j->after_timer = fn;
   uv_timer_start (&j->timer, on_job_timer, ms, 0);
}

void
cl__job_infra_retry (job_t *j, void (*fn) (job_t *j), const char *what, const tk_error_t *err)
{
   j->infra_attempts++;
   int64_t ms = tk_backoff_full_jitter (INFRA_RETRY_BASE_MS, INFRA_RETRY_CAP_MS,
                                        j->infra_attempts, cl__rnd01 (j->w));
   TK_WARN (COMPONENT, "%s failed for ticket %s (will retry in %lld ms): %s", what, j->id,
            (long long) ms, err ? err->message : "unknown error");
   cl__job_later (j, (uint64_t) ms, fn);
}

/* ---- lifetime ------------------------------------------------------------- */

static void
batcher_destroy_closed (void *ud)
{
   cl_batcher_destroy (ud);
}

/* The providers (borrowed): local serves as the fallback and the cascade
 * as configured. */
static void
worker_set_providers (cl_worker_t *w, cl_provider_t *provider, cl_provider_t *local)
{
   w->provider = provider;
   w->local = local;
   w->fallback = local && w->cfg->fallback_provider == 1 ? local : NULL;
   w->cascade = local && w->cfg->cascade == 1 ? local : NULL;
   if (w->fallback) {
      /* Cut to what a stored model_version may hold (the built-in
       * model's name is far shorter). */
      int n = snprintf (w->fallback_version, sizeof w->fallback_version, "fallback:%.*s",
                        (int) (sizeof w->fallback_version - sizeof "fallback:"),
                        w->fallback->model_version);
      (void) n;
   }
}

cl_worker_t *
cl_worker_new (tk_app_t *app, cl_provider_t *provider, cl_provider_t *local,
               tk_curl_uv_t *http, tk_error_t *err)
{
   cl_worker_t *w = calloc (1, sizeof *w);
   if (!w) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   w->app = app;
   w->cfg = &app->cfg;
   tk_offsets_init (&w->offsets, TK_OFFSETS_COMMIT_EACH, 0, cl__job_released, w);
   worker_set_providers (w, provider, local);
   w->http = http;
   w->rnd = (uint64_t) tk_time_now_ms () ^ ((uint64_t) getpid () << 32) ^ UINT64_C (0x9E3779B97F4A7C15);
   if (!cl_metrics_init (&w->metrics, app->metrics, err)) {
      free (w);
      return NULL;
   }
   cl_rate_limit_init (&w->rate, w->cfg->llm_rpm, w->cfg->llm_tpm, (int64_t) uv_now (app->loop));
   cl_circuit_init (&w->circuit, (unsigned) w->cfg->circuit_threshold);

   w->fetches = tk_store_queue_new (app->loop, app->store, cl__fetches_work, cl__fetches_done,
                                    CL_FETCHES_BATCH, CL_FETCHES_RUNNING);
   w->saves = tk_store_queue_new (app->loop, app->store, cl__saves_work, cl__saves_done,
                                  CL_SAVES_BATCH, CL_SAVES_RUNNING);
   if (w->cfg->list_sql_url[0]) {
      /* Up to CL_FETCHES_RUNNING batches read at once. */
      w->sql = tk_list_sql_new (w->cfg->list_sql_url, CL_FETCHES_RUNNING);
   }
   if (!w->fetches || !w->saves || (w->cfg->list_sql_url[0] && !w->sql)) {
      tk_list_sql_destroy (w->sql);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      tk_store_queue_destroy (w->fetches);
      tk_store_queue_destroy (w->saves);
      free (w);
      return NULL;
   }
   if (!(w->batcher = cl_batcher_new (app->loop, w->cfg, provider, &w->rate, &w->circuit,
                                      &w->metrics, &cl__batch_hooks, w, err))) {
      tk_list_sql_destroy (w->sql);
      tk_store_queue_destroy (w->fetches);
      tk_store_queue_destroy (w->saves);
      free (w);
      return NULL;
   }
   if (!(w->consumer = cl__worker_consumer_new (w, err))) {
      /* The batcher's timer is on the loop: freed once it is closed. */
      cl_batcher_close (w->batcher, batcher_destroy_closed, w->batcher);
      tk_list_sql_destroy (w->sql);
      tk_store_queue_destroy (w->fetches);
      tk_store_queue_destroy (w->saves);
      free (w);
      return NULL;
   }
   /* Cannot fail: the classifier adds its only step before running. */
   tk_app_add_shutdown_step (app, "classifier", cl__worker_shutdown, w);
   uv_timer_init (app->loop, &w->probe_timer);
   w->probe_timer.data = w;
   uv_timer_init (app->loop, &w->drain_timer);
   w->drain_timer.data = w;
   uv_timer_init (app->loop, &w->lag_timer);
   w->lag_timer.data = w;
   uv_timer_start (&w->lag_timer, cl__on_lag_timer, 1000, 1000);
   TK_INFO (COMPONENT, "consuming %s as group %s with provider %s (%s), concurrency %d, "
                       "batch %d, fallback %s",
            w->cfg->topic_classify, w->cfg->kafka_group, provider->name,
            provider->model_version, w->cfg->classifier_concurrency,
            provider->start_batch ? w->cfg->llm_batch : 1,
            w->fallback ? w->fallback->model_version : "none");
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
   tk_store_queue_destroy (w->fetches);
   tk_list_sql_destroy (w->sql);
   tk_store_queue_destroy (w->saves);
   free (w);
}
