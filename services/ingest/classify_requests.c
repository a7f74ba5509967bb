/* classify_requests.c - one classification request per durable ticket.
 *
 * The batcher calls ingest_classify_request only after MongoDB has
 * acknowledged the ticket, so a request never names a ticket that is not
 * stored. Each request reports back once, when the broker has acknowledged
 * it: the Kafka intake commits the inbound offset, and an upload answers,
 * only then, so a crash before the delivery leaves the message to be read
 * again (or the upload to be sent again), and the batcher hands on a
 * duplicate that is still unprocessed, which is asked again.
 *
 * librdkafka retries a message itself until message.timeout.ms; a request
 * whose delivery still fails (Kafka unreachable, the topic missing) is
 * produced again after a backoff, for as long as the process lives, so the
 * offset behind it waits but is never given up. At shutdown the pending
 * ones are dropped and reported as not delivered.
 */
#include "ingest.h"
#include "hash.h"

#include "backoff.h"
#include "log.h"
#include "messages.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RETRY_MIN_MS 500   /* the least wait before producing a failed request again */
#define RETRY_BASE_MS 1000 /* plus a full-jitter exponential backoff ... */
#define RETRY_CAP_MS 30000 /* ... up to this */
#define RECENT_SLOTS (1u << 16) /* ids remembered: 512 KB of hashes */

typedef struct classify_msg {
   ingest_classify_t *c;
   char *payload; /* the JSON text (messages.h), owned */
   size_t len;
   char *id;      /* owned; the message key */
   ingest_classify_done_fn done;
   void *opaque;
   struct classify_msg *next;
} classify_msg_t;

static void
msg_free (classify_msg_t *m)
{
   if (m) {
      free (m->payload);
      free (m->id);
      free (m);
   }
}

/* Reports m's outcome to its requester and frees it. */
static void
msg_settle (classify_msg_t *m, bool delivered)
{
   ingest_classify_done_fn done = m->done;
   void *opaque = m->opaque;
   msg_free (m);
   if (done) {
      done (opaque, delivered);
   }
}

static uint64_t
retry_delay_ms (ingest_classify_t *c)
{
   double rnd = (double) rand () / ((double) RAND_MAX + 1.0);
   return RETRY_MIN_MS +
          (uint64_t) tk_backoff_full_jitter (RETRY_BASE_MS, RETRY_CAP_MS, c->failures, rnd);
}

static void send_msg (classify_msg_t *m);
static void retry_cb (uv_timer_t *t);

static void
schedule_retry (classify_msg_t *m)
{
   ingest_classify_t *c = m->c;
   if (c->closing) {
      tk_counter_inc (tk_metric_labels (c->metrics->classify, "dropped"));
      TK_WARN ("classify", "classification request for %s not delivered before shutdown; the "
               "ticket stays unprocessed until \"Process Tickets\"",
               m->id);
      msg_settle (m, false);
      return;
   }
   tk_counter_inc (tk_metric_labels (c->metrics->classify, "retried"));
   m->next = c->retry;
   c->retry = m;
   if (!uv_is_active ((uv_handle_t *) &c->retry_timer)) {
      /* One more failed round: every request failing meanwhile joins it. */
      if (c->failures < 32) {
         c->failures++;
      }
      uv_timer_start (&c->retry_timer, retry_cb, retry_delay_ms (c), 0);
   }
}

static void
delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   classify_msg_t *m = opaque;
   if (d->code == 0) {
      tk_counter_inc (tk_metric_labels (m->c->metrics->classify, "delivered"));
      m->c->failures = 0;
      msg_settle (m, true);
      return;
   }
   TK_WARN ("classify", "classification request for %s failed: %s", m->id, d->reason);
   schedule_retry (m);
}

static void
send_msg (classify_msg_t *m)
{
   ingest_classify_t *c = m->c;
   tk_error_t err;
   if (!c->app->producer) {
      c->closing = true;
      schedule_retry (m);
      return;
   }
   if (!tk_kafka_produce (c->app->producer, c->topic, m->id, strlen (m->id), m->payload, m->len,
                          delivered, m, &err)) {
      schedule_retry (m);
   }
}

static void
retry_cb (uv_timer_t *t)
{
   ingest_classify_t *c = t->data;
   classify_msg_t *list = c->retry;
   c->retry = NULL;
   /* Re-send oldest first: the list was built newest first. */
   classify_msg_t *rev = NULL;
   while (list) {
      classify_msg_t *next = list->next;
      list->next = rev;
      rev = list;
      list = next;
   }
   while (rev) {
      classify_msg_t *next = rev->next;
      rev->next = NULL;
      send_msg (rev);
      rev = next;
   }
}

/* FNV-1a, 64 bits; never 0 (0 marks an empty slot). */
static uint64_t
id_hash (const char *id)
{
   uint64_t h = tk_hash_fnv1a_str (id);
   return h ? h : 1;
}

int
ingest_classify_init (ingest_classify_t *c, tk_app_t *app, ingest_metrics_t *metrics)
{
   memset (c, 0, sizeof *c);
   c->app = app;
   c->metrics = metrics;
   c->topic = app->cfg.topic_classify;
   if (!(c->recent = calloc (RECENT_SLOTS, sizeof *c->recent))) {
      return UV_ENOMEM;
   }
   c->recent_mask = RECENT_SLOTS - 1;
   int rc = uv_timer_init (app->loop, &c->retry_timer);
   if (rc != 0) {
      free (c->recent);
      c->recent = NULL;
   }
   c->retry_timer.data = c;
   return rc;
}

bool
ingest_classify_requested (const ingest_classify_t *c, const char *id)
{
   if (!c->recent) {
      return false;
   }
   uint64_t h = id_hash (id);
   return c->recent[h & c->recent_mask] == h;
}

void
ingest_classify_request (ingest_classify_t *c, const char *id, const char *reason,
                         ingest_classify_done_fn done, void *opaque)
{
   tk_error_t err;
   classify_msg_t *m = calloc (1, sizeof *m);
   if (!m || !(m->payload = tk_msg_classify_build (id, reason, tk_time_now_ms (), NULL, false, &m->len,
                                                   &err)) ||
       !(m->id = strdup (id))) {
      /* Reported as not delivered: the Kafka offset stays uncommitted. */
      TK_ERROR ("classify", "out of memory building the request for %s", id);
      msg_free (m);
      if (done) {
         done (opaque, false);
      }
      return;
   }
   m->c = c;
   m->done = done;
   m->opaque = opaque;
   if (c->recent) {
      uint64_t h = id_hash (id);
      c->recent[h & c->recent_mask] = h;
   }
   send_msg (m);
}

void
ingest_classify_close (ingest_classify_t *c)
{
   if (c->closed) {
      return;
   }
   c->closing = true;
   c->closed = true;
   size_t dropped = 0;
   classify_msg_t *list = c->retry;
   c->retry = NULL;
   while (list) {
      classify_msg_t *next = list->next;
      msg_settle (list, false);
      list = next;
      dropped++;
   }
   if (dropped) {
      tk_counter_add (tk_metric_labels (c->metrics->classify, "dropped"), dropped);
      TK_WARN ("classify", "%zu classification requests not delivered before shutdown; those "
               "tickets stay unprocessed until they are read or sent again, or \"Process "
               "Tickets\"",
               dropped);
   }
   free (c->recent);
   c->recent = NULL;
   uv_close ((uv_handle_t *) &c->retry_timer, NULL);
}
