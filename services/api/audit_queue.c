/* audit_queue.c - audit records written in batches, after the response.
 *
 * Most routes write their audit record on the threadpool right after their
 * work, before the response (audit.c). A read answered on the loop from
 * memory (the default ticket listing from the snapshot) has no database
 * work of its own; making it wait for one insert each would put a
 * threadpool round trip and an insert under every such request, and at a
 * few thousand requests a second the inserts would queue behind each
 * other. So those records are built on the loop and queued here; one
 * insert_many at a time (up to AUDIT_BATCH records, unordered) drains the
 * queue on the threadpool.
 *
 * What this costs: a record reaches audit_log a few milliseconds after its
 * response, and records still queued when the process is killed (SIGKILL,
 * OOM) are lost; a graceful stop flushes them (shutdown step "audit"). When
 * the database cannot keep up and AUDIT_QUEUE_MAX records wait, push
 * refuses and the caller falls back to writing its record before its
 * response, so the backlog stays bounded. A batch that fails is logged and
 * dropped, like a failed single audit write. */
#include "api.h"

#include <stdlib.h>

#include "log.h"
#include "store_async.h"

#define AUDIT_BATCH 1000
#define AUDIT_QUEUE_MAX 50000

struct api_audit_queue {
   uv_loop_t *loop;
   tk_store_t *store;
   bson_t **docs; /* queued records, oldest first (ring) */
   size_t head, len, cap;
   bool writing;  /* a batch is on the threadpool */
   void *stop_token; /* shutdown step waiting for the last batch */
   /* the batch in flight (owned while writing) */
   bson_t *batch[AUDIT_BATCH];
   size_t batch_len;
};

api_audit_queue_t *
api_audit_queue_new (uv_loop_t *loop, tk_store_t *store)
{
   api_audit_queue_t *q = calloc (1, sizeof *q);
   if (!q) {
      return NULL;
   }
   q->loop = loop;
   q->store = store;
   return q;
}

void
api_audit_queue_destroy (api_audit_queue_t *q)
{
   if (!q) {
      return;
   }
   for (size_t i = 0; i < q->len; i++) {
      bson_destroy (q->docs[(q->head + i) % q->cap]);
   }
   for (size_t i = 0; i < q->batch_len; i++) {
      bson_destroy (q->batch[i]);
   }
   free (q->docs);
   free (q);
}

static void write_next (api_audit_queue_t *q);

static void
batch_work (tk_store_t *store, void *ctx)
{
   api_audit_queue_t *q = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll =
      mongoc_client_get_collection (client, tk_store_db_name (store), API_AUDIT_COLLECTION);
   bson_t opts = BSON_INITIALIZER;
   bson_error_t e;
   BSON_APPEND_BOOL (&opts, "ordered", false);
   if (!mongoc_collection_insert_many (coll, (const bson_t **) q->batch, q->batch_len, &opts,
                                       NULL, &e)) {
      TK_WARN ("audit", "cannot write %zu audit records: %s", q->batch_len, e.message);
   }
   bson_destroy (&opts);
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
}

static void
batch_done (int status, void *ctx)
{
   api_audit_queue_t *q = ctx;
   if (status != 0) {
      TK_WARN ("audit", "%zu audit records not written: the write was cancelled", q->batch_len);
   }
   for (size_t i = 0; i < q->batch_len; i++) {
      bson_destroy (q->batch[i]);
   }
   q->batch_len = 0;
   q->writing = false;
   write_next (q);
}

/* Starts the next batch if there is one and none is in flight; finishes a
 * waiting shutdown step when the queue is empty. */
static void
write_next (api_audit_queue_t *q)
{
   if (q->writing) {
      return;
   }
   if (q->len == 0) {
      if (q->stop_token) {
         void *token = q->stop_token;
         q->stop_token = NULL;
         tk_shutdown_step_done (token);
      }
      return;
   }
   while (q->len > 0 && q->batch_len < AUDIT_BATCH) {
      q->batch[q->batch_len++] = q->docs[q->head];
      q->head = (q->head + 1) % q->cap;
      q->len--;
   }
   q->writing = true;
   int rc = tk_store_async (q->loop, q->store, batch_work, batch_done, q);
   if (rc != 0) {
      TK_WARN ("audit", "cannot queue %zu audit records: %s", q->batch_len, uv_strerror (rc));
      batch_done (0, q);
   }
}

bool
api_audit_queue_push (api_audit_queue_t *q, bson_t *doc)
{
   if (!q || q->stop_token || q->len >= AUDIT_QUEUE_MAX) {
      return false;
   }
   if (q->len == q->cap) {
      size_t cap = q->cap ? q->cap * 2 : 256;
      bson_t **docs = malloc (cap * sizeof *docs);
      if (!docs) {
         return false;
      }
      for (size_t i = 0; i < q->len; i++) {
         docs[i] = q->docs[(q->head + i) % q->cap];
      }
      free (q->docs);
      q->docs = docs;
      q->cap = cap;
      q->head = 0;
   }
   q->docs[(q->head + q->len) % q->cap] = doc;
   q->len++;
   write_next (q);
   return true;
}

void
api_audit_queue_stop (void *user_data, void *token)
{
   api_t *api = user_data;
   api_audit_queue_t *q = api->audit_queue;
   if (!q || (!q->writing && q->len == 0)) {
      tk_shutdown_step_done (token);
      return;
   }
   q->stop_token = token;
   write_next (q);
}
