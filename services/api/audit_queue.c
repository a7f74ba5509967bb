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
 * Identical reads queued together are written as one record: the same key,
 * client, action, status, path and query as a record still waiting in the queue
 * add to its "count" (and set its "last_at") instead of adding a record. A
 * dashboard polling the same page, or a load test, then writes one record
 * per batch instead of one per request, and every read is still counted.
 * Records written before the response (audit.c) are never coalesced.
 *
 * What this costs: a record reaches audit_log a few milliseconds after its
 * response, and records still queued when the process is killed (SIGKILL,
 * OOM) are lost; a graceful stop flushes them (shutdown step "audit"). When
 * the database cannot keep up and AUDIT_QUEUE_MAX records wait, push
 * refuses and the caller falls back to writing its record before its
 * response, so the backlog stays bounded. A batch that fails is logged and
 * dropped, like a failed single audit write.
 *
 * Reading the log sees what came before: GET /api/audit waits (on the
 * loop, api_audit_queue_after_flush) until every record queued before it
 * has been written, so a refusal answered a moment ago is in the list.
 * Records are numbered as they are queued (head_seq counts the ones taken
 * into batches, written_seq the ones whose batch has finished); a waiter
 * holds the number the queue had reached when it asked. */
#include "api.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_async.h"

#define AUDIT_BATCH 1000
#define AUDIT_QUEUE_MAX 50000
#define COALESCE_SLOTS 1024 /* a direct-mapped index of recent records */

typedef struct {
   bson_t *doc;     /* the first read's record */
   char *key;       /* what makes two reads the same (see coalesce_key) */
   uint32_t count;  /* reads it stands for */
   int64_t last_at; /* the last one's time */
} queued_t;

struct api_audit_queue {
   uv_loop_t *loop;
   tk_store_t *store;
   queued_t *docs; /* queued records, oldest first (ring) */
   struct flush_waiter *waiters; /* readers waiting for records to be written */
   size_t head, len, cap;
   uint64_t head_seq; /* sequence number of docs[head] */
   /* For each slot, 1 + the sequence number of the latest queued record
    * whose key hashes there (0: none). A collision only means a missed
    * coalescing, never a wrong one: keys are compared. */
   uint64_t slot_seq[COALESCE_SLOTS];
   bool writing;  /* a batch is on the threadpool */
   void *stop_token; /* shutdown step waiting for the last batch */
   /* the batch in flight (owned while writing) */
   bson_t *batch[AUDIT_BATCH];
   size_t batch_len;
   uint64_t written_seq; /* records before this number are written (or dropped) */
};

typedef struct flush_waiter {
   struct flush_waiter *next;
   uint64_t target; /* runs once written_seq reaches it */
   api_audit_flushed_fn fn;
   void *ctx;
} flush_waiter_t;

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
      queued_t *e = &q->docs[(q->head + i) % q->cap];
      bson_destroy (e->doc);
      free (e->key);
   }
   for (size_t i = 0; i < q->batch_len; i++) {
      bson_destroy (q->batch[i]);
   }
   /* Readers still waiting belong to requests the server has closed. */
   for (flush_waiter_t *w = q->waiters, *next; w; w = next) {
      next = w->next;
      free (w);
   }
   free (q->docs);
   free (q);
}

/* Runs, in the order they asked, the waiters whose records are written. */
static void
wake_waiters (api_audit_queue_t *q)
{
   flush_waiter_t **link = &q->waiters;
   while (*link) {
      flush_waiter_t *w = *link;
      if (w->target > q->written_seq) {
         link = &w->next;
         continue;
      }
      *link = w->next;
      w->fn (w->ctx);
      free (w);
   }
}

void
api_audit_queue_after_flush (api_audit_queue_t *q, api_audit_flushed_fn fn, void *ctx)
{
   uint64_t target = q ? q->head_seq + q->len : 0;
   flush_waiter_t *w = q && target > q->written_seq ? malloc (sizeof *w) : NULL;
   if (!w) {
      fn (ctx); /* nothing to wait for (or no memory to wait with) */
      return;
   }
   *w = (flush_waiter_t) {.target = target, .fn = fn, .ctx = ctx};
   flush_waiter_t **link = &q->waiters;
   while (*link) {
      link = &(*link)->next;
   }
   *link = w;
}

static void write_next (api_audit_queue_t *q);

static void
batch_work (tk_store_t *store, void *ctx)
{
   api_audit_queue_t *q = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   tk_error_t err;
   if (!tk_audit_insert_many (client, tk_store_db_name (store), (const bson_t *const *) q->batch,
                              q->batch_len, &err)) {
      TK_WARN ("audit", "cannot write %zu audit records: %s", q->batch_len, err.message);
   }
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
   q->written_seq = q->head_seq;
   wake_waiters (q);
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
      queued_t *e = &q->docs[q->head];
      if (e->count > 1) {
         BSON_APPEND_INT64 (e->doc, "count", e->count);
         BSON_APPEND_DATE_TIME (e->doc, "last_at", e->last_at);
      }
      q->batch[q->batch_len++] = e->doc;
      free (e->key);
      q->head = (q->head + 1) % q->cap;
      q->head_seq++;
      q->len--;
   }
   q->writing = true;
   int rc = tk_store_async (q->loop, q->store, batch_work, batch_done, q);
   if (rc != 0) {
      TK_WARN ("audit", "cannot queue %zu audit records: %s", q->batch_len, uv_strerror (rc));
      batch_done (0, q);
   }
}

/* key_id, client, action, status, path and query of doc, joined; NULL on
 * out of memory. */
static char *
coalesce_key (const bson_t *doc)
{
   static const char *const fields[] = {"key_id", "client", "action", "status", "path", "query"};
   bson_string_t *k = bson_string_new (NULL);
   bson_iter_t it;
   for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
      if (bson_iter_init_find (&it, doc, fields[i])) {
         if (BSON_ITER_HOLDS_UTF8 (&it)) {
            bson_string_append (k, bson_iter_utf8 (&it, NULL));
         } else if (BSON_ITER_HOLDS_INT32 (&it)) {
            bson_string_append_printf (k, "%d", bson_iter_int32 (&it));
         }
      }
      bson_string_append_c (k, '\n');
   }
   return bson_string_free (k, false);
}

static size_t
key_slot (const char *key)
{
   return (size_t) (tk_hash_fnv1a_str (key) % COALESCE_SLOTS);
}

/* The queued, not yet taken record with key, or NULL. */
static queued_t *
find_queued (api_audit_queue_t *q, const char *key, size_t slot)
{
   uint64_t seq1 = q->slot_seq[slot];
   if (seq1 == 0 || seq1 - 1 < q->head_seq) {
      return NULL;
   }
   queued_t *e = &q->docs[(q->head + (size_t) (seq1 - 1 - q->head_seq)) % q->cap];
   return strcmp (e->key, key) == 0 ? e : NULL;
}

bool
api_audit_queue_push (api_audit_queue_t *q, bson_t *doc)
{
   if (!q || q->stop_token) {
      return false;
   }
   char *key = coalesce_key (doc);
   if (!key) {
      return false;
   }
   size_t slot = key_slot (key);
   queued_t *same = find_queued (q, key, slot);
   if (same) {
      bson_iter_t it;
      same->count++;
      same->last_at = bson_iter_init_find (&it, doc, "at") && BSON_ITER_HOLDS_DATE_TIME (&it)
                         ? bson_iter_date_time (&it)
                         : same->last_at;
      free (key);
      bson_destroy (doc);
      return true;
   }
   if (q->len >= AUDIT_QUEUE_MAX) {
      free (key);
      return false;
   }
   if (q->len == q->cap) {
      size_t cap = q->cap ? q->cap * 2 : 256;
      queued_t *docs = malloc (cap * sizeof *docs);
      if (!docs) {
         free (key);
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
   q->docs[(q->head + q->len) % q->cap] = (queued_t) {.doc = doc, .key = key, .count = 1};
   q->slot_seq[slot] = q->head_seq + q->len + 1;
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
