/* kafka_intake.c - raw tickets from the inbound topic.
 *
 * Each message becomes an entry in its partition's in-flight list
 * (kafka_offsets.h), in offset order. A valid ticket goes to the batcher
 * (held and retried while MongoDB is down); an invalid one goes to the DLQ
 * topic with the reason and the original payload (messages.h). An entry is
 * done when its ticket is durable and the classification request made for
 * it (if any) is delivered, or when its DLQ record is delivered; the
 * partition's offset is committed, gathered over COMMIT_EVERY_MS, up to the
 * first entry that is not done, so a commit never passes unfinished work and
 * a crash re-delivers whatever was not durable or not yet requested (the
 * unique index turns the repeats into duplicates, and a duplicate that is
 * still unprocessed is requested again).
 *
 * A request that cannot be delivered is retried with a backoff for as long
 * as the process lives (classify_requests.c), so its entry, and the
 * partition's commits behind it, wait until Kafka takes it; the tickets
 * stored meanwhile count as pending, so the consumer pauses once
 * TRIAGE_INGEST_MAX_PENDING of them wait. At shutdown the intake waits for
 * those deliveries like for the writes in flight; requests dropped
 * undelivered leave their offsets uncommitted.
 */
#include "ingest.h"

#include "hash.h"
#include "kafka_offsets.h"
#include "log.h"
#include "messages.h"
#include "ticket_json.h"
#include "timeutil.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DLQ_RETRY_MS 1000
#define COMMIT_EVERY_MS 50

typedef struct entry {
   ingest_item_t item; /* first: the batcher's done callback casts back */
   ingest_intake_t *in;
   tk_offset_entry_t off; /* part NULL once revoked: freed when its work ends */
   bool stored;        /* the store answered; done once the request is delivered */
   bool request_lost;  /* its request was dropped before the store answered */
   tk_ticket_t *ticket;
   char *dlq;          /* the DLQ record, owned, while it is being delivered */
   size_t dlq_len;
   char *key;
   size_t key_len;
   struct entry *retry_next; /* in the DLQ retry list */
} entry_t;

#define ENTRY_OF(o) ((entry_t *) ((char *) (o) - offsetof (entry_t, off)))

struct ingest_intake {
   tk_app_t *app;
   ingest_batcher_t *batcher;
   ingest_metrics_t *metrics;
   tk_kafka_consumer_t *consumer;
   tk_offsets_t offsets; /* each part's user is its lag gauge (a tk_series_t, borrowed) */
   size_t busy;       /* entries whose work has not ended */
   size_t awaiting;   /* stored entries waiting for their request's delivery */
   size_t commits;    /* commits awaiting their result */
   entry_t *dlq_retry;
   uv_timer_t dlq_timer;
   uv_timer_t commit_timer; /* gathers the commits of a few ms into one per partition */
   bool paused;
   bool stopping;
   void *shutdown_token;
};

static void entry_finished (entry_t *e);

/* Lag from librdkafka's cached high watermark: no broker round trip. */
static void
update_lag (ingest_intake_t *in, tk_offsets_part_t *p)
{
   int64_t low, high;
   if (!p->user || p->committed < 0 ||
       !tk_kafka_consumer_watermarks (in->consumer, p->topic, p->partition, &low, &high)) {
      return;
   }
   tk_gauge_set (p->user, (double) tk_offsets_lag (p, high));
}
static void commit_pending (ingest_intake_t *in);

static void
entry_free (entry_t *e)
{
   tk_ticket_destroy (e->ticket);
   free (e->dlq);
   free (e->key);
   free (e);
}

/* The tracker hands an entry back: popped past a commit or revoked. One
 * whose work has not ended is detached instead, and freed when it ends. */
static void
entry_release (tk_offset_entry_t *off, void *opaque)
{
   (void) opaque;
   entry_t *e = ENTRY_OF (off);
   if (e->off.done) {
      entry_free (e);
   }
}

static tk_offsets_part_t *
find_part (ingest_intake_t *in, const char *topic, int32_t partition)
{
   tk_offsets_part_t *p = tk_offsets_get (&in->offsets, topic, partition);
   if (p && !p->user) {
      char num[16];
      snprintf (num, sizeof num, "%d", (int) partition);
      p->user = tk_metric_labels (in->metrics->lag, topic, num);
   }
   return p;
}

/* ---- shutdown ------------------------------------------------------------- */

static void
intake_free_cb (uv_handle_t *h)
{
   free (h->data);
}

static void
consumer_closed (void *opaque)
{
   ingest_intake_t *in = opaque;
   void *token = in->shutdown_token;
   tk_offsets_revoke_all (&in->offsets);
   in->consumer = NULL;
   uv_close ((uv_handle_t *) &in->commit_timer, NULL);
   if (in->busy == 0 && !in->dlq_retry) {
      uv_close ((uv_handle_t *) &in->dlq_timer, intake_free_cb);
   } else {
      /* Entries still in flight point at in: it is leaked on purpose rather
       * than freed under them; the process is ending. */
      uv_close ((uv_handle_t *) &in->dlq_timer, NULL);
   }
   tk_shutdown_step_done (token);
}

static void
maybe_finish_shutdown (ingest_intake_t *in)
{
   if (!in->stopping || !in->consumer) {
      return;
   }
   if (in->busy && !ingest_batcher_unavailable (in->batcher)) {
      return;
   }
   commit_pending (in);
   if (in->commits) {
      return;
   }
   tk_kafka_consumer_t *c = in->consumer;
   tk_kafka_consumer_close (c, consumer_closed, in);
}

/* ---- commits ---------------------------------------------------------------- */

static void
commit_done (tk_kafka_consumer_t *c, int code, void *opaque)
{
   (void) c;
   ingest_intake_t *in = opaque;
   in->commits--;
   if (code != 0) {
      TK_WARN ("intake", "offset commit failed: %s (the messages will be read again)",
               rd_kafka_err2str ((rd_kafka_resp_err_t) code));
   }
   maybe_finish_shutdown (in);
}

/* Sends the commits gathered since the last call, one per partition. */
static void
commit_pending (ingest_intake_t *in)
{
   uv_timer_stop (&in->commit_timer);
   int64_t to;
   for (tk_offsets_part_t *p = in->offsets.parts; p && in->consumer; p = p->next) {
      if (!tk_offsets_take_commit (p, &to)) {
         continue;
      }
      tk_error_t err;
      if (tk_kafka_consumer_commit (in->consumer, p->topic, p->partition, to, commit_done, in,
                                    &err)) {
         in->commits++;
         tk_offsets_committed (p, to);
         update_lag (in, p);
      } else {
         TK_WARN ("intake", "cannot commit %s[%d]@%lld: %s", p->topic, p->partition,
                  (long long) to, err.message);
      }
   }
}

static void
commit_timer_cb (uv_timer_t *t)
{
   ingest_intake_t *in = t->data;
   commit_pending (in);
   maybe_finish_shutdown (in);
}

/* The entry's work ended without it being done: its offset stays
 * uncommitted (only at shutdown), so the message is read again later. */
static void
entry_abandon (entry_t *e)
{
   ingest_intake_t *in = e->in;
   in->busy--;
   if (!e->off.part) {
      entry_free (e);
   }
   ingest_intake_check_flow (in);
   maybe_finish_shutdown (in);
}

static void
entry_finished (entry_t *e)
{
   ingest_intake_t *in = e->in;
   in->busy--;
   /* The done entries at the head of the partition are popped; the offset
    * past them is committed shortly, together with whatever else finishes
    * meanwhile. */
   if (tk_offsets_done (&in->offsets, &e->off) != TK_OFFSETS_NOTHING && in->consumer &&
       !uv_is_active ((uv_handle_t *) &in->commit_timer)) {
      uv_timer_start (&in->commit_timer, commit_timer_cb, in->offsets.gather_ms, 0);
   }
   ingest_intake_check_flow (in);
   maybe_finish_shutdown (in);
}

/* ---- the dead-letter topic ---------------------------------------------------- */

static void dlq_send (entry_t *e);

static void
dlq_retry_cb (uv_timer_t *t)
{
   ingest_intake_t *in = t->data;
   entry_t *list = in->dlq_retry;
   in->dlq_retry = NULL;
   while (list) {
      entry_t *next = list->retry_next;
      list->retry_next = NULL;
      dlq_send (list);
      list = next;
   }
}

static void
dlq_later (entry_t *e)
{
   ingest_intake_t *in = e->in;
   e->retry_next = in->dlq_retry;
   in->dlq_retry = e;
   if (!uv_is_active ((uv_handle_t *) &in->dlq_timer) && !uv_is_closing ((uv_handle_t *) &in->dlq_timer)) {
      uv_timer_start (&in->dlq_timer, dlq_retry_cb, DLQ_RETRY_MS, 0);
   }
}

static void
dlq_delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   entry_t *e = opaque;
   if (d->code == 0) {
      tk_counter_inc (e->in->metrics->dlq);
      entry_finished (e);
      return;
   }
   TK_WARN ("intake", "DLQ delivery for offset %lld failed: %s; retrying",
            (long long) e->off.offset, d->reason);
   if (e->in->stopping && !e->in->app->producer) {
      /* Not delivered and not committed: the message is read again later. */
      entry_abandon (e);
      return;
   }
   dlq_later (e);
}

static void
dlq_send (entry_t *e)
{
   tk_error_t err;
   ingest_intake_t *in = e->in;
   if (!in->app->producer) {
      entry_abandon (e);
      return;
   }
   if (!tk_kafka_produce (in->app->producer, in->app->cfg.topic_dlq, e->key, e->key_len, e->dlq,
                          e->dlq_len, dlq_delivered, e, &err)) {
      dlq_later (e);
   }
}

/* The DLQ record (messages.h) of a refused message: its place, the reason,
 * and its bytes (as text when they are, else in base64). Caller frees. */
static char *
dlq_record (const tk_kafka_message_t *m, const char *id, const char *error, size_t *len)
{
   tk_error_t err;
   tk_msg_dlq_fields_t f = {
      .id = id,
      .error = error,
      .attempts = 1,
      .failed_at = tk_time_now_ms (),
      .source_topic = m->topic,
      .source_partition = m->partition,
      .source_offset = m->offset,
      .message = m->payload ? m->payload : "",
      .message_len = m->len,
      .encoding = TK_MSG_DLQ_TEXT,
   };
   return tk_msg_dlq_build (&f, len, &err);
}

/* ---- messages ------------------------------------------------------------------ */

static void
item_done (ingest_item_t *item, tk_insert_outcome_t outcome, bool unavailable,
           const char *message)
{
   entry_t *e = (entry_t *) item;
   if (outcome == TK_INSERT_FAILED && unavailable) {
      /* Only at shutdown with MongoDB down: leave the offset uncommitted. */
      entry_abandon (e);
      return;
   }
   if (outcome == TK_INSERT_FAILED) {
      /* The server refused this document: it goes to the DLQ, the rest of
       * the partition moves on. */
      char reason[256];
      snprintf (reason, sizeof reason, "store: %s", message && *message ? message : "refused");
      tk_error_t err;
      char *json = NULL;
      tk_offsets_part_t *part = e->off.part;
      tk_kafka_message_t m = {part ? part->topic : "", part ? part->partition : -1,
                              e->off.offset, NULL, 0, NULL, 0, -1};
      char *text = tk_ticket_to_json_string (e->ticket, &err);
      if (text) {
         m.payload = text;
         m.len = strlen (text);
      }
      json = dlq_record (&m, e->ticket->id, reason, &e->dlq_len);
      cJSON_free (text);
      if (json) {
         e->dlq = json;
         dlq_send (e);
         return;
      }
      entry_finished (e);
      return;
   }
   e->stored = true;
   if (e->item.awaiting_request) {
      e->in->awaiting++; /* done in entry_requested */
   } else if (e->request_lost) {
      entry_abandon (e);
   } else {
      entry_finished (e);
   }
}

/* The classification request made for e's ticket was delivered (the entry
 * is done) or dropped at shutdown (it is not: the message is read again). */
static void
entry_requested (ingest_item_t *item, bool delivered)
{
   entry_t *e = (entry_t *) item;
   ingest_intake_t *in = e->in;
   if (!e->stored) {
      e->request_lost = !delivered; /* item_done follows */
      return;
   }
   in->awaiting--;
   if (delivered) {
      entry_finished (e);
   } else {
      entry_abandon (e);
   }
}

/* A valid ticket: masked when the text is stored masked, then to the
 * batcher. */
static void
submit_ticket (ingest_intake_t *in, entry_t *e, const tk_kafka_message_t *m)
{
   if (!e->ticket->source && !(e->ticket->source = strdup ("kafka"))) {
      TK_ERROR ("intake", "out of memory");
   }
   if (in->app->cfg.store_masked && !ingest_mask_ticket (e->ticket, NULL)) {
      /* Never store the raw text instead: leave the offset uncommitted
       * so the message is read again. */
      TK_ERROR ("intake", "out of memory masking %s[%d]@%lld; it will be read again", m->topic,
                m->partition, (long long) m->offset);
      in->busy--;
      return;
   }
   e->item.ticket = e->ticket;
   e->item.source = "kafka";
   e->item.retry_unavailable = true;
   e->item.done = item_done;
   e->item.requested = entry_requested;
   ingest_batcher_submit (in->batcher, &e->item);
}

/* A message that is no valid ticket: counted, logged without its content,
 * and sent to the dead-letter topic with the reason. */
static void
refuse_message (ingest_intake_t *in, entry_t *e, const tk_kafka_message_t *m, const char *reason,
                const tk_error_t *err)
{
   tk_counter_inc (tk_metric_labels (in->metrics->rejected, "kafka", reason));
   char idbuf[TK_TICKET_ID_MAX + 1];
   const char *id =
      tk_msg_inbound_refused_id (m->key, m->key_len, m->payload, m->len, idbuf, sizeof idbuf);
   /* The log names the message by its place and a hash of its bytes, and
    * the fault by its reason and field: never by anything the message
    * holds (its id or key, the value at fault), which may be personal data
    * even with TRIAGE_STORE_MASKED (masking covers what is stored). The
    * DLQ record keeps the message and the full error for whoever may read
    * that topic. */
   TK_INFO ("intake", "refused %s[%d]@%lld (message %016llx, %zu bytes): %s%s%s%s", m->topic,
            m->partition, (long long) m->offset,
            (unsigned long long) tk_hash_fnv1a (m->payload ? m->payload : "", m->len), m->len,
            reason, err->field[0] ? " (" : "", err->field, err->field[0] ? ")" : "");
   if (!(e->dlq = dlq_record (m, id, err->message, &e->dlq_len))) {
      TK_ERROR ("intake", "out of memory building a DLQ record; the message will be read again");
      in->busy--;
      return; /* stays not done: nothing past it is committed */
   }
   dlq_send (e);
}

static void
handle_message (ingest_intake_t *in, const tk_kafka_message_t *m)
{
   tk_offsets_part_t *p = find_part (in, m->topic, m->partition);
   entry_t *e = calloc (1, sizeof *e);
   if (!p || !e || (m->key_len && !(e->key = malloc (m->key_len)))) {
      /* Out of memory: leave the offset uncommitted so it is read again. */
      TK_ERROR ("intake", "out of memory at %s[%d]@%lld", m->topic, m->partition,
                (long long) m->offset);
      free (e);
      return;
   }
   if (m->key_len) {
      memcpy (e->key, m->key, m->key_len);
      e->key_len = m->key_len;
   }
   e->in = in;
   tk_offsets_add (p, &e->off, m->offset);
   in->busy++;
   tk_counter_inc (tk_metric_labels (in->metrics->received, "kafka"));

   tk_error_t err;
   tk_error_clear (&err);
   const char *reason = NULL;
   e->ticket = tk_msg_inbound_parse (m->payload, m->len, &reason, &err);
   if (e->ticket) {
      submit_ticket (in, e, m);
   } else {
      refuse_message (in, e, m, reason, &err);
   }
}

static void
on_messages (tk_kafka_consumer_t *c, const tk_kafka_message_t *msgs, size_t n, void *opaque)
{
   (void) c;
   ingest_intake_t *in = opaque;
   for (size_t i = 0; i < n; i++) {
      handle_message (in, &msgs[i]);
   }
   for (tk_offsets_part_t *p = in->offsets.parts; p; p = p->next) {
      update_lag (in, p);
   }
   ingest_intake_check_flow (in);
}

static void
on_rebalance (tk_kafka_consumer_t *c, tk_kafka_rebalance_t kind, const tk_kafka_partition_t *parts,
              size_t n, void *opaque)
{
   (void) c;
   ingest_intake_t *in = opaque;
   if (kind != TK_KAFKA_REVOKED) {
      return;
   }
   for (size_t i = 0; i < n; i++) {
      tk_offsets_part_t *p = tk_offsets_find (&in->offsets, parts[i].topic, parts[i].partition);
      if (!p) {
         continue;
      }
      /* Whatever is unfinished is re-read by the partition's next owner,
       * whose lag it now is. */
      if (p->user) {
         tk_gauge_set (p->user, 0);
      }
      tk_offsets_revoke (&in->offsets, p);
   }
}

static void
on_error (int code, bool fatal, const char *reason, void *opaque)
{
   ingest_intake_t *in = opaque;
   (void) code;
   if (fatal) {
      TK_ERROR ("intake", "fatal consumer error: %s", reason);
      tk_app_stop (in->app, "fatal Kafka consumer error", 1);
   } else {
      TK_WARN ("intake", "consumer: %s", reason);
   }
}

/* ---- public ------------------------------------------------------------------------ */

void
ingest_intake_check_flow (ingest_intake_t *in)
{
   if (!in || !in->consumer) {
      return;
   }
   /* Pausing makes librdkafka drop what it prefetched for the partitions,
    * and after a resume the refetch takes a fetch round trip or more (up to
    * fetch.wait.max.ms behind a long poll): measured 0.5-1 s. So a backlog
    * pause lasts until half of max_pending is left, which keeps the batcher
    * busy through the refetch and pauses once per half-window rather than
    * once per batch. Tickets stored but still waiting for their request's
    * delivery count as pending too: they hold their offsets back. */
   size_t max = (size_t) in->app->cfg.ingest_max_pending;
   size_t pending = ingest_batcher_pending (in->batcher) + in->awaiting;
   bool backlog = in->paused ? pending > max / 2 : pending >= max;
   bool want_pause = in->stopping || ingest_batcher_unavailable (in->batcher) || backlog;
   tk_error_t err;
   if (want_pause && !in->paused) {
      if (tk_kafka_consumer_pause (in->consumer, &err)) {
         in->paused = true;
         TK_INFO ("intake", "consumer paused (%s)",
                  in->stopping ? "stopping"
                  : ingest_batcher_unavailable (in->batcher) ? "MongoDB unavailable"
                                                            : "too many tickets pending");
      }
   } else if (!want_pause && in->paused) {
      if (tk_kafka_consumer_resume (in->consumer, &err)) {
         in->paused = false;
         TK_INFO ("intake", "consumer resumed");
      }
   }
   tk_gauge_set (in->metrics->consumer_paused, in->paused ? 1 : 0);
}

ingest_intake_t *
ingest_intake_new (tk_app_t *app, ingest_batcher_t *batcher, ingest_metrics_t *metrics,
                   tk_error_t *err)
{
   ingest_intake_t *in = calloc (1, sizeof *in);
   if (!in) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   in->app = app;
   in->batcher = batcher;
   in->metrics = metrics;
   tk_offsets_init (&in->offsets, TK_OFFSETS_COMMIT_GATHERED, COMMIT_EVERY_MS, entry_release, NULL);
   const char *topics[] = {app->cfg.topic_inbound};
   tk_kafka_consumer_opts_t opts = {
      .brokers = app->cfg.kafka_brokers,
      .group_id = app->cfg.kafka_group,
      .topics = topics,
      .n_topics = 1,
      .passthrough = &app->kafka_pt,
      .batch_max = (size_t) app->cfg.ingest_batch_size,
      .on_messages = on_messages,
      .on_rebalance = on_rebalance,
      .on_error = on_error,
      .opaque = in,
   };
   if (uv_timer_init (app->loop, &in->dlq_timer) != 0) {
      tk_error_set (err, TK_ERR_IO, 0, "cannot create a timer");
      free (in);
      return NULL;
   }
   in->dlq_timer.data = in;
   uv_timer_init (app->loop, &in->commit_timer);
   in->commit_timer.data = in;
   if (!(in->consumer = tk_kafka_consumer_new (app->loop, &opts, err))) {
      uv_close ((uv_handle_t *) &in->commit_timer, NULL);
      uv_close ((uv_handle_t *) &in->dlq_timer, intake_free_cb);
      return NULL;
   }
   return in;
}

void
ingest_intake_shutdown (void *intake, void *token)
{
   ingest_intake_t *in = intake;
   in->stopping = true;
   in->shutdown_token = token;
   ingest_intake_check_flow (in);
   maybe_finish_shutdown (in);
}
