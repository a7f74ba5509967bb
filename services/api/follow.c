/* follow.c - the api follows the classify and classified topics and patches
 * the snapshot's newest tickets with what other services wrote (see
 * follow.h). */
#include "follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "kafka.h"
#include "log.h"
#include "messages.h"
#include "snapshot.h"
#include "store_async.h"
#include "store_query.h"

/* How often librdkafka looks for a followed topic that did not exist yet
 * (its default is 5 minutes). A TRIAGE_KAFKA_CONFIG pair may change it. */
#define FOLLOW_METADATA_REFRESH "30000"
/* A batch whose reads failed is left to a refresh this long after. */
#define FOLLOW_FAILED_REFRESH_MS 1000

typedef struct api_follow api_follow_t;

/* One batch of ids read back on the threadpool. */
typedef struct {
   api_follow_t *f;
   size_t n;
   char *ids[API_FOLLOW_BATCH];                  /* owned */
   bool found[API_FOLLOW_BATCH];                 /* the ticket is stored */
   api_newest_entry_t entries[API_FOLLOW_BATCH]; /* when found */
   bool failed;
   char error[sizeof ((bson_error_t *) 0)->message];
} follow_batch_t;

struct api_follow {
   api_t *api;
   tk_kafka_consumer_t *consumer; /* NULL once closing */
   bool read;                     /* the snapshot keeps newest tickets: read them back */
   uint64_t refresh_ms;           /* TRIAGE_API_FOLLOW_REFRESH; 0: none */
   /* Ids waiting to be read, oldest first: v[head .. n). An id may appear
    * more than once; a batch takes each once. */
   char **v;
   size_t head, n, cap;
   follow_batch_t *batch; /* the batch being read, NULL when none */
   bool broker_errors;    /* errors reported since the last message (logged once) */
   bool stopping, consumer_closed;
   void *stop_token;
   tk_metric_t *messages; /* {kind}: classify, classified, invalid */
   tk_metric_t *reads;    /* {result}: patched, missing, failed, dropped */
   tk_series_t *partitions;
   int64_t n_partitions;
};

static void dispatch (api_follow_t *f);

/* ---- the queue of ids (loop) ----------------------------------------------- */

static void
queue_clear (api_follow_t *f)
{
   for (size_t i = f->head; i < f->n; i++) {
      free (f->v[i]);
   }
   f->head = f->n = 0;
}

/* Too many ids wait: reading them one by one would fall further behind
 * than one scan, so they are given up and the next refresh brings them. */
static void
queue_overflow (api_follow_t *f)
{
   size_t n = f->n - f->head;
   TK_WARN ("follow", "%zu ticket ids waiting to be read back: given up for a refresh", n);
   tk_counter_add (tk_metric_labels (f->reads, "dropped"), n);
   queue_clear (f);
   api_snapshot_refresh_soon (f->api, 0);
}

/* Appends a copy of id (len bytes, not NUL-terminated). false on out of
 * memory. */
static bool
queue_push (api_follow_t *f, const char *id, size_t len)
{
   if (f->n == f->cap && f->head > 0) {
      memmove (f->v, f->v + f->head, (f->n - f->head) * sizeof *f->v);
      f->n -= f->head;
      f->head = 0;
   }
   if (f->n == f->cap) {
      size_t cap = f->cap ? 2 * f->cap : 64;
      char **v = realloc (f->v, cap * sizeof *v);
      if (!v) {
         return false;
      }
      f->v = v;
      f->cap = cap;
   }
   char *copy = strndup (id, len);
   if (!copy) {
      return false;
   }
   f->v[f->n++] = copy;
   return true;
}

/* ---- reading a batch back (threadpool, then loop) ---------------------------- */

static void
batch_free (follow_batch_t *b)
{
   for (size_t i = 0; i < b->n; i++) {
      free (b->ids[i]);
      api_newest_entry_clear (&b->entries[i]);
   }
   free (b);
}

/* Threadpool: one indexed lookup by _id per id (decision 0008), each
 * rendered as the listing renders it. */
static void
batch_work (tk_store_t *store, void *ctx)
{
   follow_batch_t *b = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   const char *db = tk_store_db_name (store);
   for (size_t i = 0; i < b->n && !b->failed; i++) {
      mongoc_cursor_t *cursor = tk_store_tickets_find_id (client, db, b->ids[i]);
      const bson_t *doc;
      bson_error_t e;
      if (mongoc_cursor_next (cursor, &doc)) {
         tk_error_t err;
         cJSON *json = api_ticket_doc_json (doc, &err);
         api_newest_entry_set (&b->entries[i], doc, json);
         cJSON_Delete (json);
         b->found[i] = true;
      } else if (mongoc_cursor_error (cursor, &e)) {
         b->failed = true;
         snprintf (b->error, sizeof b->error, "%s", e.message);
      }
      mongoc_cursor_destroy (cursor);
   }
   tk_store_client_push (store, client);
}

static void
finish_stop (api_follow_t *f)
{
   if (!f->stopping || !f->consumer_closed || f->batch) {
      return;
   }
   void *token = f->stop_token;
   queue_clear (f);
   free (f->v);
   f->api->follow = NULL;
   free (f);
   tk_shutdown_step_done (token);
}

/* Loop: the batch's tickets patch the window (snapshot.h), in the order of
 * their reads; an id not stored leaves it. */
static void
batch_done (int status, void *ctx)
{
   follow_batch_t *b = ctx;
   api_follow_t *f = b->f;
   api_t *api = f->api;
   if (status != 0 || b->failed) {
      TK_WARN ("follow", "reading back %zu tickets failed (%s): the next refresh brings them",
               b->n, status != 0 ? uv_strerror (status) : b->error);
      tk_counter_add (tk_metric_labels (f->reads, "failed"), b->n);
      api_snapshot_refresh_soon (api, FOLLOW_FAILED_REFRESH_MS);
   }
   for (size_t i = 0; i < b->n; i++) {
      if (status == 0 && !b->failed && !f->stopping) {
         api_newest_entry_t *e = &b->entries[i];
         if (b->found[i]) {
            api_snapshot_ticket_put (api, e->placed, e->ms, e->id[0] ? e->id : NULL, e->json,
                                     e->len);
            e->json = NULL; /* taken over */
         } else {
            api_snapshot_ticket_deleted (api, b->ids[i]);
         }
         tk_counter_inc (tk_metric_labels (f->reads, b->found[i] ? "patched" : "missing"));
      }
      api_snapshot_write_end (api, b->ids[i]);
   }
   batch_free (b);
   f->batch = NULL;
   if (f->stopping) {
      finish_stop (f);
      return;
   }
   dispatch (f);
}

/* Loop: starts reading the next batch when none is being read: the ids at
 * the front of the queue, each once, counted as writes in flight from now
 * until their patch (api_snapshot_write_begin). */
static void
dispatch (api_follow_t *f)
{
   if (f->batch || f->stopping || f->head == f->n) {
      return;
   }
   follow_batch_t *b = calloc (1, sizeof *b);
   if (!b) {
      queue_overflow (f); /* out of memory: the refresh brings them */
      return;
   }
   b->f = f;
   while (f->head < f->n && b->n < API_FOLLOW_BATCH) {
      char *id = f->v[f->head++];
      bool twice = false;
      for (size_t i = 0; i < b->n && !twice; i++) {
         twice = strcmp (b->ids[i], id) == 0;
      }
      if (twice) {
         free (id);
         continue;
      }
      b->ids[b->n++] = id;
      api_snapshot_write_begin (f->api, id);
   }
   int rc = tk_store_async (f->api->app->loop, f->api->app->store, batch_work, batch_done, b);
   if (rc != 0) {
      TK_WARN ("follow", "cannot queue a read: %s", uv_strerror (rc));
      for (size_t i = 0; i < b->n; i++) {
         api_snapshot_write_end (f->api, b->ids[i]);
      }
      tk_counter_add (tk_metric_labels (f->reads, "failed"), b->n);
      batch_free (b);
      api_snapshot_refresh_soon (f->api, FOLLOW_FAILED_REFRESH_MS);
      return;
   }
   f->batch = b;
}

/* ---- the consumer (loop) ------------------------------------------------------ */

/* The ticket id a message names, into buf; NULL when it names none.
 * *kind is the metric label: classify, classified, job (a request of one
 * of the api's processing jobs, which announces no write: the ticket is
 * not read back) or invalid. */
static const char *
message_id (api_follow_t *f, const tk_kafka_message_t *m, char *buf, size_t cap,
            const char **kind)
{
   tk_error_t err;
   const char *payload = m->payload ? m->payload : "";
   *kind = "invalid";
   if (strcmp (m->topic, f->api->app->cfg.topic_classify) == 0) {
      tk_msg_classify_t req;
      if (!tk_msg_classify_parse (payload, m->len, &req, &err)) {
         return NULL;
      }
      /* Ingest's requests carry no job id; the api's /api/process ones do. */
      *kind = req.job_id[0] ? "job" : "classify";
      snprintf (buf, cap, "%s", req.id);
      return req.job_id[0] ? NULL : buf;
   }
   tk_msg_classified_t res;
   memset (&res, 0, sizeof res);
   if (!tk_msg_classified_parse (payload, m->len, &res, &err)) {
      return NULL;
   }
   *kind = "classified";
   snprintf (buf, cap, "%s", res.id);
   tk_msg_classified_clear (&res);
   return buf;
}

static void
on_messages (tk_kafka_consumer_t *c, const tk_kafka_message_t *msgs, size_t n, void *opaque)
{
   (void) c;
   api_follow_t *f = opaque;
   if (f->broker_errors) {
      TK_INFO ("follow", "following the topics again");
      f->broker_errors = false;
   }
   size_t learned = 0;
   for (size_t i = 0; i < n; i++) {
      char buf[TK_TICKET_ID_MAX + 1];
      const char *kind;
      const char *id = message_id (f, &msgs[i], buf, sizeof buf, &kind);
      tk_counter_inc (tk_metric_labels (f->messages, kind));
      if (!id && strcmp (kind, "invalid") == 0) {
         TK_DEBUG ("follow", "a message of %s names no ticket (offset %lld)", msgs[i].topic,
                   (long long) msgs[i].offset);
      }
      if (!id) {
         continue;
      }
      learned++;
      if (f->read && !queue_push (f, id, strlen (id))) {
         queue_overflow (f); /* out of memory */
      }
   }
   if (f->n - f->head > API_FOLLOW_PENDING_MAX) {
      queue_overflow (f);
   }
   if (learned > 0 && f->refresh_ms > 0) {
      api_snapshot_refresh_soon (f->api, f->refresh_ms);
   }
   dispatch (f);
}

static void
on_rebalance (tk_kafka_consumer_t *c, tk_kafka_rebalance_t kind, const tk_kafka_partition_t *parts,
              size_t n, void *opaque)
{
   (void) c;
   (void) parts;
   api_follow_t *f = opaque;
   f->n_partitions += kind == TK_KAFKA_ASSIGNED ? (int64_t) n : -(int64_t) n;
   tk_gauge_set (f->partitions, (double) f->n_partitions);
   if (kind == TK_KAFKA_ASSIGNED) {
      TK_INFO ("follow", "following %zu partitions of %s and %s", n,
               f->api->app->cfg.topic_classify, f->api->app->cfg.topic_classified);
      /* What was written before these partitions were ours is not followed:
       * a refresh brings it. */
      if (f->refresh_ms > 0) {
         api_snapshot_refresh_soon (f->api, f->refresh_ms);
      }
   }
}

static void
on_consumer_closed (void *opaque)
{
   api_follow_t *f = opaque;
   f->consumer_closed = true;
   finish_stop (f);
}

static void
on_error (int code, bool fatal, const char *reason, void *opaque)
{
   api_follow_t *f = opaque;
   if (fatal && f->consumer) {
      TK_ERROR ("follow", "the consumer failed for good (%s): other services' writes show at "
                          "the timed refreshes only",
                reason);
      tk_kafka_consumer_t *c = f->consumer;
      f->consumer = NULL;
      tk_kafka_consumer_close (c, on_consumer_closed, f);
      return;
   }
   /* librdkafka retries by itself; say so once, not at every retry. */
   if (!f->broker_errors) {
      TK_WARN ("follow", "Kafka: %s (code %d); retrying, the listing catches up at the timed "
                         "refreshes meanwhile",
               reason, code);
   } else {
      TK_DEBUG ("follow", "Kafka: %s (code %d)", reason, code);
   }
   f->broker_errors = true;
}

/* A consumer group of this process alone: every replica sees every
 * message. */
static bool
group_name (char *out, size_t cap)
{
   char host[64] = "";
   char rnd[9];
   if (gethostname (host, sizeof host) != 0) {
      snprintf (host, sizeof host, "unknown");
   }
   host[sizeof host - 1] = '\0';
   if (!tk_auth_random_hex (rnd, 4)) {
      return false;
   }
   snprintf (out, cap, "triage-api-follow-%s-%ld-%s", host, (long) getpid (), rnd);
   return true;
}

static tk_kafka_consumer_t *
consumer_new (api_follow_t *f, tk_error_t *err)
{
   tk_app_t *app = f->api->app;
   char group[160];
   if (!group_name (group, sizeof group)) {
      tk_error_set (err, TK_ERR_IO, 0, "no random bytes for the follower's group id");
      return NULL;
   }
   /* The metadata interval before the operator's pairs (theirs win); the
    * group and the offsets after them: a TRIAGE_KAFKA_CONFIG meant for
    * ingest's or the classifier's group must not make every api replica
    * share one group or replay the topics from their start. */
   size_t n_user = app->kafka_pt.n, n = 0;
   const char **keys = calloc (n_user + 4, sizeof *keys);
   const char **values = calloc (n_user + 4, sizeof *values);
   tk_kafka_consumer_t *c = NULL;
   if (!keys || !values) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   keys[n] = "topic.metadata.refresh.interval.ms";
   values[n++] = FOLLOW_METADATA_REFRESH;
   for (size_t i = 0; i < n_user; i++, n++) {
      keys[n] = app->kafka_pt.keys[i];
      values[n] = app->kafka_pt.values[i];
   }
   keys[n] = "group.id";
   values[n++] = group;
   keys[n] = "auto.offset.reset";
   values[n++] = "latest";
   keys[n] = "enable.auto.commit";
   values[n++] = "false";
   tk_kafka_passthrough_t pt = {keys, values, n};
   const char *topics[] = {app->cfg.topic_classify, app->cfg.topic_classified};
   tk_kafka_consumer_opts_t opts = {
      .brokers = app->cfg.kafka_brokers,
      .group_id = group,
      .topics = topics,
      .n_topics = 2,
      .passthrough = &pt,
      .batch_max = API_FOLLOW_BATCH,
      .on_messages = on_messages,
      .on_rebalance = on_rebalance,
      .on_error = on_error,
      .opaque = f,
   };
   if ((c = tk_kafka_consumer_new (app->loop, &opts, err))) {
      TK_INFO ("follow", "following %s and %s as group %s", topics[0], topics[1], group);
   }
done:
   free (keys);
   free (values);
   return c;
}

/* ---- the interface -------------------------------------------------------------- */

bool
api_follow_start (api_t *api, tk_error_t *err)
{
   const tk_config_t *cfg = &api->app->cfg;
   if (!cfg->api_follow) {
      return true;
   }
   if (cfg->api_cache_ttl_ms <= 0) {
      TK_INFO ("follow", "TRIAGE_API_CACHE_TTL=0: every answer reads the database, nothing to "
                         "follow");
      return true;
   }
   api_follow_t *f = calloc (1, sizeof *f);
   if (!f) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   f->api = api;
   f->read = cfg->api_newest_keep > 0;
   f->refresh_ms = cfg->api_follow_refresh_ms > 0 ? (uint64_t) cfg->api_follow_refresh_ms : 0;
   tk_metrics_t *m = api->app->metrics;
   f->messages = tk_metrics_counter (
      m, "api_follow_messages_total",
      "Messages of the classify and classified topics the api followed, by kind (job: a "
      "request of an api processing job, not read back; invalid: naming no ticket).",
      (const char *[]) {"kind", NULL});
   f->reads = tk_metrics_counter (
      m, "api_follow_reads_total",
      "Ticket ids the api read back after other services' writes, by result (patched into the "
      "newest tickets, missing: not stored, failed: the read failed, dropped: too many "
      "waiting, left to a refresh).",
      (const char *[]) {"result", NULL});
   f->partitions = tk_metric_labels (tk_metrics_gauge (
      m, "api_follow_partitions", "Partitions of the classify and classified topics assigned "
                                  "to the api's follower.",
      NULL));
   if (!(f->consumer = consumer_new (f, err))) {
      free (f);
      return false;
   }
   api->follow = f;
   return true;
}

void
api_follow_stop (void *user_data, void *token)
{
   api_t *api = user_data;
   api_follow_t *f = api->follow;
   if (!f) {
      tk_shutdown_step_done (token);
      return;
   }
   f->stopping = true;
   f->stop_token = token;
   queue_clear (f);
   if (f->consumer) {
      tk_kafka_consumer_t *c = f->consumer;
      f->consumer = NULL;
      tk_kafka_consumer_close (c, on_consumer_closed, f);
      return;
   }
   finish_stop (f);
}
