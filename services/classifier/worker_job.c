/* worker_job.c - one ticket from fetch to publish: read it (off the loop),
 * skip or republish it if already processed, ask the cascade's built-in
 * model or the provider (worker_attempt.c), store the outcome (off the
 * loop, worker_save.c) and publish it on the classified topic or the DLQ.
 * Store work runs on the threadpool (store_async.h); everything else on the
 * loop thread. */
#include "worker_internal.h"

#include "ferretdb_doc.h"
#include "ticket_bson.h"
#include "log.h"
#include "messages.h"
#include "pii_mask.h"
#include "store_async.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void job_cascade (job_t *j);
static void job_ask_provider (job_t *j);

/* ---- fetch ---------------------------------------------------------------- */

static void
fetch_work (tk_store_t *store, void *ctx)
{
   job_t *j = ctx;
   j->op_ok = tk_store_get_ticket (store, j->id, &j->ticket, &j->op_err);
}

/* On the local stack (w->sql), a batch's tickets (one or many) come from
 * FerretDB's table in one statement (decision 0022): the job's ticket when its stored
 * document converts exactly; false (the caller reads it from the
 * collection) for anything else. */
static bool
fetch_from_doc (job_t *j, const char *json)
{
   if (!json) {
      return false;
   }
   bson_t doc = BSON_INITIALIZER;
   tk_error_t err;
   tk_ticket_t *t = NULL;
   bool ok = tk_ferretdb_doc_to_bson (json, strlen (json), &doc, &err) &&
             tk_ticket_from_bson (&doc, &t, &err) && t->id && strcmp (t->id, j->id) == 0;
   bson_destroy (&doc);
   if (!ok) {
      tk_ticket_destroy (t);
      return false;
   }
   j->ticket = t;
   j->op_ok = true;
   j->read_by_sql = true;
   return true;
}

void
cl__fetches_work (tk_store_t *store, void *const *ctxs, size_t n)
{
   job_t *first = n ? ctxs[0] : NULL;
   tk_list_sql_t *sql = first ? first->w->sql : NULL;
   const char **ids = sql && n > 0 ? calloc (n, sizeof *ids) : NULL;
   char **docs = ids ? calloc (n, sizeof *docs) : NULL;
   tk_error_t err;
   if (docs) {
      for (size_t i = 0; i < n; i++) {
         ids[i] = ((job_t *) ctxs[i])->id;
      }
      if (!tk_list_sql_documents_by_id (sql, tk_store_db_name (store), ids, n, docs, &err)) {
         TK_DEBUG (COMPONENT, "batch read in SQL failed (%s); reading from the collection",
                   err.message);
      }
   }
   const job_t *down = NULL; /* a read that failed for want of the database */
   for (size_t i = 0; i < n; i++) {
      job_t *j = ctxs[i];
      j->read_by_sql = false;
      if (docs && fetch_from_doc (j, docs[i])) {
         /* read */
      } else if (down) {
         /* The rest of the batch would wait out the same failure, one
          * after the other: each fails with it and retries later. */
         j->op_ok = false;
         j->op_err = down->op_err;
      } else {
         fetch_work (store, j);
         if (!j->op_ok && j->op_err.domain == TK_ERR_MONGO) {
            down = j;
         }
      }
      if (docs) {
         free (docs[i]);
      }
   }
   free (docs);
   free (ids);
}

void
cl__fetches_done (int status, void *ctx)
{
   job_t *j = ctx;
   cl_worker_t *w = j->w;
   j->busy = false;
   if (status == 0) {
      tk_counter_inc (tk_metric_labels (w->metrics.reads, j->read_by_sql ? "sql" : "collection"));
   }
   if (cl__job_gone (j)) {
      return;
   }
   if (status != 0 || !j->op_ok) {
      if (status == 0 && j->op_err.domain == TK_ERR_NOT_FOUND) {
         TK_WARN (COMPONENT, "ticket %s does not exist; classification request dropped", j->id);
         tk_counter_inc (tk_metric_labels (w->metrics.tickets, w->provider->name, "missing"));
         cl__job_finish (j);
         return;
      }
      cl__job_infra_retry (j, cl__job_start, "reading the ticket", status == 0 ? &j->op_err : NULL);
      return;
   }
   if (j->ticket->metadata.corrected_at && !j->override_corrections) {
      /* A person's labels stay: only a request that says
       * override_corrections relabels the ticket. The stored (corrected)
       * result is published, as for any skipped ticket. */
      TK_INFO (COMPONENT, "ticket %s was corrected by a person; kept, not relabelled", j->id);
      j->outcome = JOB_REPUBLISH;
      cl__job_publish (j);
      return;
   }
   if (j->ticket->processed && !j->reprocess) {
      /* Not classified again. Its result is published again, though: a
       * worker that died between storing the result and publishing it
       * left this redelivery as the only way the result reaches the
       * classified topic (which is at least once anyway). */
      TK_DEBUG (COMPONENT, "ticket %s already processed; skipped, stored result republished",
                j->id);
      j->outcome = JOB_REPUBLISH;
      cl__job_publish (j);
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
      j->subject = cl__dup_n (s, strlen (s));
      j->body = cl__dup_n (b, strlen (b));
   }
   if (!j->subject || !j->body) {
      cl__job_infra_retry (j, cl__job_start, "masking the ticket", NULL);
      return;
   }
   cl__job_attempt (j);
}

/* ---- the cascade (TRIAGE_CASCADE=on) ------------------------------------ */

static void
on_cascade (cl_attempt_t *a, void *ud)
{
   job_t *j = ud;
   cl_worker_t *w = j->w;
   j->call = NULL;
   uv_update_time (w->app->loop);
   if (a->cpu_us) {
      tk_counter_add (tk_metric_labels (w->metrics.provider_cpu, w->cascade->name), a->cpu_us);
   }
   if (a->ok && !tk_threshold_any_below (&a->conf, &w->cfg->cascade_threshold)) {
      tk_counter_inc (tk_metric_labels (w->metrics.cascade, "local"));
      j->c = a->c;
      memset (&a->c, 0, sizeof a->c);
      j->conf = a->conf;
      j->outcome = JOB_KEPT_LOCAL;
      j->processing_ms = (int64_t) (uv_now (w->app->loop) - j->call_started);
      cl__job_save (j);
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
   tk_error_t err;
   if (!cl__job_call_unmasked (j, j->w->cascade, on_cascade, &err)) {
      TK_WARN (COMPONENT, "ticket %s: the cascade's built-in model could not start (%s); "
               "asking the LLM", j->id, err.message);
      job_ask_provider (j);
   }
}

bool
cl__job_call_unmasked (job_t *j, cl_provider_t *p, cl_attempt_cb cb, tk_error_t *err)
{
   cl_prompt_input_t in = {
      .id = j->id,
      .subject = j->ticket->subject,
      .body = j->ticket->body,
   };
   j->state = J_LLM;
   uv_update_time (j->w->app->loop);
   j->call_started = uv_now (j->w->app->loop);
   j->call_provider = p;
   return (j->call = p->start (p, &in, cb, j, err)) != NULL;
}

void
cl__job_start (job_t *j)
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
   int rc = tk_store_queue_push (w->fetches, j);
   if (rc != 0) {
      j->busy = false;
      cl__job_infra_retry (j, cl__job_start, "queueing the ticket read", NULL);
   }
}

/* ---- what is stored and published ------------------------------------------ */

/* The model_version stored with j's new result (borrowed from the worker). */
static char *
job_model_version (const job_t *j)
{
   switch (j->outcome) {
   case JOB_FALLBACK: return (char *) j->w->fallback_version;
   case JOB_KEPT_LOCAL: return (char *) j->w->cascade->model_version;
   default: return (char *) j->w->provider->model_version;
   }
}

/* The classifier_tickets_total{outcome} label of a published outcome. */
static const char *
job_outcome_label (job_outcome_t o)
{
   switch (o) {
   case JOB_FAILED: return "dlq";
   case JOB_REPUBLISH: return "skipped";
   case JOB_FALLBACK: return "fallback";
   default: return "classified";
   }
}

/* The processing_metadata of j's new result, processed when it was first
 * saved: the stored result and the published one (and a republish of the
 * stored one after a redelivery) are the same. Its strings are borrowed from
 * the worker (good while it lives). */
tk_processing_metadata_t
cl__job_metadata (const job_t *j)
{
   return (tk_processing_metadata_t) {
      .processed_at = j->processed_at ? j->processed_at : tk_time_now_ms (),
      .model_version = job_model_version (j),
      .processing_time_ms = j->processing_ms,
      .agent_version = (char *) TRIAGE_VERSION,
      .needs_review = tk_threshold_any_below (&j->conf, &j->w->cfg->review_threshold),
   };
}

/* ---- publishing ----------------------------------------------------------- */

/* j's record (messages.h): for the DLQ its failure and its classify
 * request; for the classified topic its new result, or for a republish the
 * stored one. Caller frees; NULL with err if out of memory. */
static char *
outcome_message (job_t *j, size_t *len, tk_error_t *err)
{
   if (j->outcome == JOB_FAILED) {
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
   if (j->outcome == JOB_REPUBLISH) {
      const tk_ticket_t *t = j->ticket;
      return tk_msg_classified_build (j->id, &t->classification, &t->confidence, &t->metadata,
                                      len, err);
   }
   tk_processing_metadata_t md = cl__job_metadata (j);
   return tk_msg_classified_build (j->id, &j->c, &j->conf, &md, len, err);
}

static void
on_delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   job_t *j = opaque;
   cl_worker_t *w = j->w;
   j->busy = false;
   if (cl__job_gone (j)) {
      return;
   }
   if (d->code != 0) {
      tk_error_t err;
      tk_error_set (&err, TK_ERR_KAFKA, d->code, "%s", d->reason);
      cl__job_infra_retry (j, cl__job_publish, "publishing the outcome", &err);
      return;
   }
   tk_counter_inc (tk_metric_labels (w->metrics.tickets, w->provider->name,
                                     job_outcome_label (j->outcome)));
   if (j->outcome != JOB_FAILED && j->outcome != JOB_REPUBLISH &&
       tk_threshold_any_below (&j->conf, &w->cfg->review_threshold)) {
      tk_counter_inc (tk_metric_labels (w->metrics.needs_review, cl__job_metadata (j).model_version));
   }
   cl__job_finish (j);
}

void
cl__job_publish (job_t *j)
{
   cl_worker_t *w = j->w;
   j->state = J_PUBLISH;
   const char *topic = j->outcome == JOB_FAILED ? w->cfg->topic_dlq : w->cfg->topic_classified;
   tk_error_t err;
   size_t len = 0;
   char *text = outcome_message (j, &len, &err);
   if (!text) {
      cl__job_infra_retry (j, cl__job_publish, "building the message", &err);
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
      cl__job_infra_retry (j, cl__job_publish, "publishing the outcome", &err);
   }
}
