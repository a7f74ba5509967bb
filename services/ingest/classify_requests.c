/* classify_requests.c - one classification request per durable ticket.
 *
 * The batcher calls ingest_classify_request only after MongoDB has
 * acknowledged the ticket, so a request never names a ticket that is not
 * stored. Delivery is retried every second while Kafka is unreachable; if
 * the process stops first, the ticket simply stays processed=false and the
 * dashboard's "Process Tickets" (or triagectl) queues it later, or a
 * re-sent copy of the ticket does: the batcher hands on duplicates that are
 * still unprocessed, and those not requested by this run are asked again.
 */
#include "ingest.h"

#include "log.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLASSIFY_RETRY_MS 1000
#define RECENT_SLOTS (1u << 16) /* ids remembered: 512 KB of hashes */

typedef struct classify_msg {
   ingest_classify_t *c;
   char *payload; /* the JSON text, owned */
   size_t len;
   char *id;      /* owned; the message key */
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
      msg_free (m);
      return;
   }
   tk_counter_inc (tk_metric_labels (c->metrics->classify, "retried"));
   m->next = c->retry;
   c->retry = m;
   if (!uv_is_active ((uv_handle_t *) &c->retry_timer)) {
      uv_timer_start (&c->retry_timer, retry_cb, CLASSIFY_RETRY_MS, 0);
   }
}

static void
delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   classify_msg_t *m = opaque;
   if (d->code == 0) {
      tk_counter_inc (tk_metric_labels (m->c->metrics->classify, "delivered"));
      msg_free (m);
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
   uint64_t h = UINT64_C (14695981039346656037);
   for (const unsigned char *p = (const unsigned char *) id; *p; p++) {
      h = (h ^ *p) * UINT64_C (1099511628211);
   }
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
ingest_classify_request (ingest_classify_t *c, const char *id, const char *reason)
{
   char now[40];
   if (!tk_time_format_iso (tk_time_now_ms (), now, sizeof now)) {
      now[0] = '\0';
   }
   cJSON *obj = cJSON_CreateObject ();
   classify_msg_t *m = calloc (1, sizeof *m);
   if (!obj || !m || !cJSON_AddStringToObject (obj, "id", id) ||
       !cJSON_AddStringToObject (obj, "reason", reason) ||
       !cJSON_AddStringToObject (obj, "requested_at", now) ||
       !(m->payload = cJSON_PrintUnformatted (obj)) || !(m->id = strdup (id))) {
      TK_ERROR ("classify", "out of memory building the request for %s", id);
      cJSON_Delete (obj);
      if (m) {
         cJSON_free (m->payload);
         m->payload = NULL;
      }
      msg_free (m);
      return;
   }
   cJSON_Delete (obj);
   /* cJSON_PrintUnformatted allocates with the default allocator (malloc). */
   m->len = strlen (m->payload);
   m->c = c;
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
   while (c->retry) {
      classify_msg_t *next = c->retry->next;
      msg_free (c->retry);
      c->retry = next;
      dropped++;
   }
   if (dropped) {
      tk_counter_add (tk_metric_labels (c->metrics->classify, "dropped"), dropped);
      TK_WARN ("classify", "%zu classification requests not delivered before shutdown; those "
               "tickets stay unprocessed until \"Process Tickets\"",
               dropped);
   }
   free (c->recent);
   c->recent = NULL;
   uv_close ((uv_handle_t *) &c->retry_timer, NULL);
}
