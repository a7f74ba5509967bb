/* routes_dlq.c - the dead letters: GET /api/dlq (the newest messages of the
 * DLQ topic, newest first) and GET /api/dlq/{entry} (one, with the
 * original message). Replaying them is POST /api/dlq/replay
 * (routes_process.c).
 *
 * The DLQ is the topic (TRIAGE_TOPIC_DLQ), not the failed tickets of the
 * collection: an operator's "what is in the DLQ" includes the inbound
 * messages ingest refused, which never became tickets. An entry is named
 * "<partition>:<offset>", its place in the topic; the records themselves
 * are read with messages.h's parser, and one that does not parse is listed
 * too (origin "unknown"), never hidden.
 *
 * The topic is read with a consumer of its own on the threadpool
 * (dlq_read.h), bounded: at most `limit` messages of each partition, which
 * hold the newest `limit` of the topic; memory stays at that many short
 * summaries (the original messages, up to megabytes each, are left out of
 * the list). Both routes need the operator role (the records carry ticket
 * text) and are audited. */
#include "api.h"
#include "dlq_read.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "timeutil.h"

#define DLQ_LIMIT_DEFAULT 50
#define DLQ_LIMIT_MAX 500
#define DLQ_READ_TIMEOUT_MS 15000

typedef struct {
   int64_t ts; /* the broker's timestamp, else the record's failed_at */
   int32_t partition;
   int64_t offset;
   cJSON *json; /* owned */
} dlq_item_t;

typedef struct {
   /* the request */
   bool one;
   uint32_t limit;
   int32_t partition;
   int64_t offset;
   /* read on the worker */
   dlq_item_t *items;
   size_t n, cap;
   bool nomem;
} dlq_query_t;

static void
dlq_query_free (void *p)
{
   dlq_query_t *q = p;
   if (!q) {
      return;
   }
   for (size_t i = 0; i < q->n; i++) {
      cJSON_Delete (q->items[i].json);
   }
   free (q->items);
   free (q);
}

/* ---- one entry as JSON ------------------------------------------------------ */

static void
add_time (cJSON *o, const char *key, int64_t ms)
{
   char iso[TK_TIME_ISO_BUFSIZE];
   if (ms > 0 && tk_time_format_iso (ms, iso, sizeof iso)) {
      cJSON_AddStringToObject (o, key, iso);
   }
}

/* Why an entry cannot be replayed, or NULL when it can: replaying asks for
 * the ticket's classification again, so it needs a ticket. */
static const char *
not_replayable (const tk_msg_dlq_t *d)
{
   if (d->source_topic) {
      return "an inbound message ingest refused: no ticket was stored from it; fix it at its "
             "source and publish it again";
   }
   if (!d->id) {
      return "the record names no ticket";
   }
   return NULL;
}

/* The record's fields (parsed) into o. */
static void
add_record (cJSON *o, const tk_msg_dlq_t *d)
{
   if (d->id) {
      cJSON_AddStringToObject (o, "id", d->id);
   } else {
      cJSON_AddNullToObject (o, "id");
   }
   cJSON_AddStringToObject (o, "origin",
                            d->source_topic ? "ingest" : d->provider ? "classifier" : "unknown");
   cJSON_AddStringToObject (o, "error", d->error);
   cJSON_AddNumberToObject (o, "attempts", d->attempts);
   add_time (o, "failed_at", d->failed_at);
   if (d->provider) {
      cJSON_AddStringToObject (o, "provider", d->provider);
   }
   if (d->source_topic) {
      cJSON_AddStringToObject (o, "source_topic", d->source_topic);
      cJSON_AddNumberToObject (o, "source_partition", d->source_partition);
      cJSON_AddNumberToObject (o, "source_offset", (double) d->source_offset);
   }
   const char *why = not_replayable (d);
   cJSON_AddBoolToObject (o, "replayable", why == NULL);
   if (why) {
      cJSON_AddStringToObject (o, "not_replayable", why);
   }
   cJSON_AddNumberToObject (o, "message_bytes", (double) d->message_len);
}

/* The original message as the record carries it ("message", and
 * "message_base64" for bytes that are not text), moved from the record's
 * own JSON into o. */
static void
add_message (cJSON *o, const api_dlq_message_t *m)
{
   cJSON *raw = cJSON_ParseWithLength (m->payload ? m->payload : "", m->len);
   static const char *const keys[] = {"message", "message_base64"};
   for (size_t i = 0; raw && i < 2; i++) {
      cJSON *v = cJSON_DetachItemFromObjectCaseSensitive (raw, keys[i]);
      if (v) {
         cJSON_AddItemToObject (o, keys[i], v);
      }
   }
   cJSON_Delete (raw);
}

/* The JSON of one DLQ message: its place, what the record says, and with
 * with_message the original message. *failed_at gets the record's. */
static cJSON *
entry_json (const api_dlq_message_t *m, bool with_message, int64_t *failed_at)
{
   cJSON *o = cJSON_CreateObject ();
   char entry[48];
   snprintf (entry, sizeof entry, "%d:%lld", (int) m->partition, (long long) m->offset);
   cJSON_AddStringToObject (o, "entry", entry);
   cJSON_AddNumberToObject (o, "partition", m->partition);
   cJSON_AddNumberToObject (o, "offset", (double) m->offset);
   add_time (o, "enqueued_at", m->timestamp_ms);
   tk_msg_dlq_t d;
   tk_error_t err;
   *failed_at = 0;
   if (tk_msg_dlq_parse (m->payload, m->len, &d, &err)) {
      add_record (o, &d);
      *failed_at = d.failed_at;
      tk_msg_dlq_clear (&d);
   } else {
      char why[300];
      snprintf (why, sizeof why, "not a DLQ record: %s", err.message);
      cJSON_AddNullToObject (o, "id");
      cJSON_AddStringToObject (o, "origin", "unknown");
      cJSON_AddStringToObject (o, "error", why);
      cJSON_AddBoolToObject (o, "replayable", false);
      cJSON_AddStringToObject (o, "not_replayable", "the message is not a DLQ record");
      cJSON_AddNumberToObject (o, "message_bytes", (double) m->len);
   }
   if (with_message) {
      add_message (o, m);
   }
   return o;
}

/* ---- reading (threadpool) ------------------------------------------------------ */

static void
collect (const api_dlq_message_t *m, void *ctx)
{
   dlq_query_t *q = ctx;
   if (q->n == q->cap) {
      size_t cap = q->cap ? q->cap * 2 : 64;
      dlq_item_t *items = realloc (q->items, cap * sizeof *items);
      if (!items) {
         q->nomem = true;
         return;
      }
      q->items = items;
      q->cap = cap;
   }
   int64_t failed_at;
   cJSON *json = entry_json (m, q->one, &failed_at);
   if (!json) {
      q->nomem = true;
      return;
   }
   q->items[q->n++] = (dlq_item_t) {.ts = m->timestamp_ms > 0 ? m->timestamp_ms : failed_at,
                                    .partition = m->partition,
                                    .offset = m->offset,
                                    .json = json};
}

/* Newest first; the same moment in topic order, reversed. */
static int
newest_first (const void *a, const void *b)
{
   const dlq_item_t *x = a, *y = b;
   if (x->ts != y->ts) {
      return x->ts < y->ts ? 1 : -1;
   }
   if (x->partition != y->partition) {
      return x->partition < y->partition ? 1 : -1;
   }
   return x->offset < y->offset ? 1 : x->offset > y->offset ? -1 : 0;
}

static api_dlq_source_t
dlq_source (const api_t *api)
{
   const tk_app_t *app = api->app;
   return (api_dlq_source_t) {.brokers = app->cfg.kafka_brokers,
                              .pt = &app->kafka_pt,
                              .topic = app->cfg.topic_dlq,
                              .timeout_ms = DLQ_READ_TIMEOUT_MS};
}

/* {topic, partitions, retained, limit, items: [...]}: the newest `limit`
 * entries, newest first. */
static void
list_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   dlq_query_t *q = call->data;
   api_dlq_source_t src = dlq_source (call->api);
   api_dlq_extent_t extent;
   tk_error_t err;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddNumberToObject (call->audit_detail, "limit", q->limit);
   if (!api_dlq_read_tail (&src, q->limit, collect, q, &extent, &err)) {
      api_call_fail (call, 503, "unavailable", NULL, "kafka: %s", err.message);
      return;
   }
   if (q->nomem) {
      api_call_fail (call, 500, "internal", NULL, "out of memory");
      return;
   }
   if (q->n > 1) { /* q->items is NULL when nothing was read */
      qsort (q->items, q->n, sizeof *q->items, newest_first);
   }
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddStringToObject (out, "topic", src.topic);
   cJSON_AddNumberToObject (out, "partitions", extent.partitions);
   cJSON_AddNumberToObject (out, "retained", (double) extent.retained);
   cJSON_AddNumberToObject (out, "limit", q->limit);
   cJSON *items = cJSON_AddArrayToObject (out, "items");
   for (size_t i = 0; i < q->n && i < q->limit; i++) {
      cJSON_AddItemToArray (items, q->items[i].json);
      q->items[i].json = NULL;
   }
   api_call_ok (call, 200, out);
}

/* One entry with its original message. */
static void
show_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   dlq_query_t *q = call->data;
   api_dlq_source_t src = dlq_source (call->api);
   tk_error_t err;
   char entry[48];
   snprintf (entry, sizeof entry, "%d:%lld", (int) q->partition, (long long) q->offset);
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "entry", entry);
   if (!api_dlq_read_one (&src, q->partition, q->offset, collect, q, &err)) {
      if (err.domain == TK_ERR_NOT_FOUND) {
         api_call_fail (call, 404, "not_found", "entry", "%s", err.message);
      } else {
         api_call_fail (call, 503, "unavailable", NULL, "kafka: %s", err.message);
      }
      return;
   }
   if (q->nomem || q->n != 1) {
      api_call_fail (call, 500, "internal", NULL, "out of memory");
      return;
   }
   cJSON *out = q->items[0].json;
   q->items[0].json = NULL;
   cJSON_AddStringToObject (out, "topic", src.topic);
   api_call_ok (call, 200, out);
}

/* ---- request parsing (loop) ----------------------------------------------------- */

/* Digits only, into *out, at most max. */
static bool
parse_count (const char *s, int64_t max, int64_t *out)
{
   char *end;
   if (!s || *s < '0' || *s > '9') {
      return false;
   }
   errno = 0;
   long long v = strtoll (s, &end, 10);
   if (*end || errno == ERANGE || v > max) {
      return false;
   }
   *out = v;
   return true;
}

/* Runs work for req with a copy of want as its data (audited as action,
 * operator role). */
static void
run_query (api_t *api, tk_http_request_t *req, const dlq_query_t *want, const char *action,
           api_work_fn work)
{
   dlq_query_t *q = malloc (sizeof *q);
   if (!q) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   *q = *want;
   api_call_t *call = api_call_new (api, req, action, TK_ROLE_OPERATOR, true, work);
   call->data = q;
   call->free_data = dlq_query_free;
   api_call_run (call);
}

static void
dlq_list (tk_http_request_t *req, void *user_data)
{
   tk_query_param_t *params = NULL;
   size_t n = 0;
   int64_t limit = DLQ_LIMIT_DEFAULT;
   if (!api_check_request (req, false) || !api_query_params (req, &params, &n)) {
      return;
   }
   for (size_t i = 0; i < n; i++) {
      if (strcmp (params[i].key, "limit") != 0) {
         api_respond_error (req, 400, "invalid", params[i].key, "unknown parameter; only limit");
         return;
      }
      if (!parse_count (params[i].value, DLQ_LIMIT_MAX, &limit) || limit < 1) {
         api_respond_error (req, 400, "invalid", "limit", "limit: 1 to 500");
         return;
      }
   }
   run_query (user_data, req, &(dlq_query_t) {.limit = (uint32_t) limit}, "dlq.list", list_work);
}

static void
dlq_show (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   const char *entry = tk_http_request_param (req, "entry");
   const char *colon = entry ? strchr (entry, ':') : NULL;
   char part[16];
   int64_t p, o;
   bool ok = colon && (size_t) (colon - entry) < sizeof part;
   if (ok) {
      snprintf (part, sizeof part, "%.*s", (int) (colon - entry), entry);
      ok = parse_count (part, INT32_MAX, &p) && parse_count (colon + 1, INT64_MAX, &o);
   }
   if (!ok) {
      api_respond_error (req, 400, "invalid", "entry", "entry: <partition>:<offset>, e.g. 0:42");
      return;
   }
   const dlq_query_t want = {.one = true, .partition = (int32_t) p, .offset = o};
   run_query (user_data, req, &want, "dlq.show", show_work);
}

bool
api_routes_dlq (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/dlq", TK_ROLE_OPERATOR, TK_HTTP_BODY_NONE, dlq_list, err) &&
          api_route (api, "GET", "/api/dlq/{entry}", TK_ROLE_OPERATOR, TK_HTTP_BODY_NONE, dlq_show,
                     err);
}
