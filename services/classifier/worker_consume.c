/* worker_consume.c - the consumer side of the worker: requests in (the
 * messages: messages.h), pause and resume, rebalance, ordered commits (the
 * offsets in flight: kafka_offsets.h) and the consumer-lag gauges. Loop
 * thread only. */
#include "worker_internal.h"

#include "log.h"
#include "messages.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- commits -------------------------------------------------------------- */

static void
on_commit (tk_kafka_consumer_t *c, int code, void *opaque)
{
   (void) c;
   cl_worker_t *w = opaque;
   w->pending_commits--;
   cl__worker_maybe_drained (w);
   if (code != 0) {
      /* A later commit covers this offset; a revoked partition's offset is
       * another member's business now. */
      TK_DEBUG (COMPONENT, "offset commit failed: %s", rd_kafka_err2str (code));
   }
}


/* The tracker is done with j: committed past, or its partition revoked
 * (then the next owner redoes it). Freed once nothing refers to it. */
void
cl__job_released (tk_offset_entry_t *off, void *opaque)
{
   cl_worker_t *w = opaque;
   job_t *j = JOB_OF_OFF (off);
   j->abandoned = true;
   cl__job_uncount (j);
   if (j->state == J_QUEUED) {
      w->n_queued--; /* freed when popped from the queue */
   }
   cl__job_release (j);
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

void
cl__job_finish (job_t *j)
{
   cl_worker_t *w = j->w;
   j->state = J_DONE;
   cl__job_drop_payload (j);
   cl__job_uncount (j);
   tk_offsets_part_t *p = j->off.part;
   if (tk_offsets_done (&w->offsets, &j->off) == TK_OFFSETS_COMMIT_NOW) {
      part_commit (w, p);
   }
   /* A slot is free: start queued work (none once stopping: queued messages
    * are left uncommitted for the next owner). */
   while (!w->stopping && w->n_active < (size_t) w->cfg->classifier_concurrency &&
          w->queue_head) {
      job_t *q = cl__list_pop (&w->queue_head, &w->queue_tail);
      /* An abandoned job was uncounted when its partition was revoked;
       * counting it down again wrapped n_queued and kept the consumer
       * paused for ever (found by the fault suite, scenario g). */
      if (!q->abandoned) {
         w->n_queued--;
      }
      if (cl__job_gone (q)) {
         continue;
      }
      cl__job_start (q);
   }
   cl__worker_update_pause (w);
   cl__worker_maybe_drained (w);
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
   j->override_corrections = req.override_corrections;
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
         cl__job_finish (j);
         continue;
      }
      j->request = cl__dup_n (m->payload, m->len);
      j->request_len = m->len;
      if (w->n_active < (size_t) w->cfg->classifier_concurrency && !w->stopping) {
         cl__job_start (j);
      } else {
         j->state = J_QUEUED;
         cl__list_push (&w->queue_head, &w->queue_tail, j);
         w->n_queued++;
      }
   }
   cl__worker_update_pause (w);
}

/* Drops every job of p without committing: the next owner redoes them. */
void
cl__part_abandon (cl_worker_t *w, tk_offsets_part_t *p)
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
         cl__part_abandon (w, p);
      }
      char label[16];
      snprintf (label, sizeof label, "%d", (int) parts[i].partition);
      tk_gauge_set (tk_metric_labels (w->metrics.lag, label), 0);
   }
   TK_INFO (COMPONENT, "%zu partition(s) %s", n, kind == TK_KAFKA_ASSIGNED ? "assigned" : "revoked");
   cl__worker_update_pause (w);
   cl__worker_maybe_drained (w);
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

void
cl__worker_update_pause (cl_worker_t *w)
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

void
cl__on_lag_timer (uv_timer_t *t)
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

tk_kafka_consumer_t *
cl__worker_consumer_new (cl_worker_t *w, tk_error_t *err)
{
   const char *topics[] = {w->cfg->topic_classify};
   tk_kafka_consumer_opts_t opts = {
      .brokers = w->cfg->kafka_brokers,
      .group_id = w->cfg->kafka_group,
      .topics = topics,
      .n_topics = 1,
      .passthrough = &w->app->kafka_pt,
      .batch_max = (size_t) w->cfg->classifier_concurrency,
      .on_messages = on_messages,
      .on_rebalance = on_rebalance,
      .on_error = on_consumer_error,
      .opaque = w,
   };
   return tk_kafka_consumer_new (w->app->loop, &opts, err);
}
