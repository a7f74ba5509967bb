/* worker_shutdown.c - the worker's shutdown step: stop taking work, let
 * the started tickets finish and commit (bounded by a share of
 * TRIAGE_SHUTDOWN_TIMEOUT), leave the group, then close the loop handles in
 * order: probe timer, batcher, lag timer, drain timer, HTTP client,
 * provider, built-in model. Loop thread only. */
#include "worker_internal.h"

#include "log.h"

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
   tk_curl_uv_close (w->http, http_closed, w);
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

void
cl__worker_maybe_finished (cl_worker_t *w)
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
      cl__part_abandon (w, w->offsets.parts);
   }
   job_t *j;
   while ((j = cl__list_pop (&w->queue_head, &w->queue_tail))) {
      j->abandoned = true;
      cl__job_release (j);
   }
   while ((j = cl__list_pop (&w->parked_head, &w->parked_tail))) {
      j->abandoned = true;
      cl__job_release (j);
   }
   cl_batch_entry_t *e;
   while ((e = cl_batcher_pop (w->batcher))) {
      j = JOB_OF_ENTRY (e);
      j->abandoned = true;
      cl__job_release (j);
   }
   w->n_queued = 0;
   cl__worker_maybe_finished (w);
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
void
cl__worker_maybe_drained (cl_worker_t *w)
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

void
cl__worker_shutdown (void *user_data, void *token)
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
   cl__worker_update_pause (w);
   uv_timer_start (&w->drain_timer, on_drain_deadline, budget, 0);
   cl__worker_maybe_drained (w);
}
