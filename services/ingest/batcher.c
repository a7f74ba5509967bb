/* batcher.c - tickets from every source written to MongoDB in bulk.
 *
 * One FIFO queue; one bulk write in flight at a time (so a ticket sent twice
 * is applied in arrival order, which matters for on_duplicate=update), each
 * write run on libuv's threadpool. A batch leaves when it is full, when the
 * first ticket in it has waited linger_ms, or at once after the previous
 * write if tickets queued up meanwhile.
 *
 * A ticket that was stored already (a Kafka message read again after a
 * crash, an upload sent twice) may still be waiting for its classification
 * request: ingest can die between the write and the request's delivery.
 * So after a write that found duplicates, the same worker looks up which of
 * them are still unprocessed and not recorded as failed, and those are
 * handed to on_durable again (the classifier skips a ticket processed in
 * the meantime, and its update is idempotent). If that lookup fails, every
 * duplicate is handed on: a spare request costs one read, a missing one
 * leaves a ticket unprocessed for good.
 *
 * When a write cannot reach MongoDB, the store is marked down: items that
 * asked for it (Kafka) go back to the front of the queue in order, the
 * others (uploads) fail as unavailable, and a probe pings the store every
 * probe_ms until it answers, then writing resumes by itself.
 */
#include "ingest.h"

#include "log.h"
#include "store_async.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
   ingest_batcher_t *b;
   ingest_item_t **items;
   tk_ticket_t **tickets;
   size_t n;
   bool ok;
   tk_error_t err;
   tk_insert_result_t res;
   bool *unprocessed; /* n flags: a duplicate still waiting for its classification */
   double seconds;
} batch_job_t;

static void batcher_kick (ingest_batcher_t *b);

static void
notify_state (ingest_batcher_t *b)
{
   tk_gauge_set (b->metrics->pending, (double) ingest_batcher_pending (b));
   tk_gauge_set (b->metrics->store_up, b->store_down ? 0 : 1);
   if (b->on_state) {
      b->on_state (b, b->user_data);
   }
}

static void
maybe_closed (ingest_batcher_t *b)
{
   if (!b->closing || b->in_flight || b->probing ||
       (b->queued && !ingest_batcher_unavailable (b))) {
      return;
   }
   /* Whatever is left waits for a store that is down: fail it now, the
    * Kafka offsets stay uncommitted and the messages come back next time. */
   while (b->head) {
      ingest_item_t *it = b->head;
      b->head = it->next;
      it->next = NULL;
      b->queued--;
      it->done (it, TK_INSERT_FAILED, true, "the service is stopping");
   }
   b->tail = NULL;
   if (b->open_handles == 2) {
      uv_close ((uv_handle_t *) &b->linger, NULL);
      uv_close ((uv_handle_t *) &b->probe, NULL);
      b->open_handles = 0;
      if (b->on_closed) {
         b->on_closed (b->closed_token);
      }
   }
}

static bool
is_duplicate (tk_insert_outcome_t outcome)
{
   return outcome == TK_INSERT_DUPLICATE || outcome == TK_INSERT_UNCHANGED;
}

/* Marks the duplicates that are stored with processed=false and no
 * last_error (the classifier records one only when it gives up). */
static void
find_unprocessed_duplicates (tk_store_t *store, batch_job_t *job)
{
   if (job->res.n_duplicate + job->res.n_unchanged == 0) {
      return;
   }
   bool ok = false;
   const char **ids = calloc (job->n, sizeof *ids);
   bson_t *waiting = BCON_NEW ("processed", BCON_BOOL (false), "last_error", "{", "$exists",
                               BCON_BOOL (false), "}");
   if (ids) {
      for (size_t i = 0; i < job->n; i++) {
         ids[i] = is_duplicate (job->res.items[i].outcome) ? job->tickets[i]->id : NULL;
      }
      ok = ingest_find_stored_ids (store, ids, job->n, waiting, job->unprocessed, NULL);
   }
   if (!ok) {
      /* Not known which are waiting: hand them all on (see the top). */
      for (size_t i = 0; i < job->n; i++) {
         job->unprocessed[i] = is_duplicate (job->res.items[i].outcome);
      }
   }
   bson_destroy (waiting);
   free (ids);
}

static void
batch_work (tk_store_t *store, void *ctx)
{
   batch_job_t *job = ctx;
   uint64_t t0 = uv_hrtime ();
   if (job->b->upsert) {
      job->ok = tk_store_upsert_tickets (store, job->tickets, job->n, &job->res, &job->err);
   } else {
      job->ok = tk_store_insert_tickets (store, job->tickets, job->n, &job->res, &job->err);
   }
   job->seconds = (double) (uv_hrtime () - t0) / 1e9;
   if (job->ok && job->unprocessed) {
      find_unprocessed_duplicates (store, job);
   }
}

static void probe_cb (uv_timer_t *t);
static void linger_cb (uv_timer_t *t);

/* Looks at the store again after delay_ms: a ping while it is down, a look
 * at the app's index flag while the indexes are being created. */
static void
start_probe (ingest_batcher_t *b, uint64_t delay_ms)
{
   if (!b->closing && !uv_is_active ((uv_handle_t *) &b->probe) && !b->probing) {
      uv_timer_start (&b->probe, probe_cb, delay_ms, 0);
   }
}

/* A batch whose outcome is unknown (the store unreachable, or the write
 * cancelled): nothing in it is known to be durable. Items that may wait go
 * back to the front of the queue in their order (writing again is safe: the
 * unique index dedups); the others fail now. */
static void
batch_failed (ingest_batcher_t *b, batch_job_t *job, int status)
{
   if (!b->store_down) {
      TK_WARN ("store", "bulk write of %zu tickets failed (%s); holding writes until "
               "MongoDB answers",
               job->n, status ? "cancelled" : job->err.message);
   }
   b->store_down = true;
   ingest_item_t *first = NULL, *last = NULL;
   size_t back = 0;
   for (size_t i = 0; i < job->n; i++) {
      ingest_item_t *it = job->items[i];
      if (it->retry_unavailable && !b->closing) {
         it->next = NULL;
         if (last) {
            last->next = it;
         } else {
            first = it;
         }
         last = it;
         back++;
      } else {
         tk_counter_inc (tk_metric_labels (b->metrics->failed, it->source));
         it->done (it, TK_INSERT_FAILED, true, "MongoDB is unreachable");
      }
   }
   if (first) {
      last->next = b->head;
      if (!b->head) {
         b->tail = last;
      }
      b->head = first;
      b->queued += back;
   }
   start_probe (b, b->probe_ms);
}

/* The metric label of a store outcome (NULL: counted as failed). */
static const char *
outcome_label (tk_insert_outcome_t outcome)
{
   switch (outcome) {
   case TK_INSERT_STORED: return "stored";
   case TK_INSERT_DUPLICATE: return "duplicate";
   case TK_INSERT_CHANGED: return "updated";
   case TK_INSERT_UNCHANGED: return "unchanged";
   case TK_INSERT_FAILED: break;
   }
   return NULL;
}

/* A batch the store answered: each item gets its own outcome; stored and
 * changed tickets (and duplicates still waiting for their classification)
 * are durable and go on to be classified. */
static void
batch_stored (ingest_batcher_t *b, batch_job_t *job)
{
   tk_histogram_observe (b->metrics->batch_seconds, job->seconds);
   tk_histogram_observe (b->metrics->batch_size, (double) job->n);
   if (b->store_down) {
      TK_INFO ("store", "MongoDB answers again; writes resume");
   }
   b->store_down = false;
   for (size_t i = 0; i < job->n; i++) {
      ingest_item_t *it = job->items[i];
      const tk_insert_item_t *r = &job->res.items[i];
      const char *label = outcome_label (r->outcome);
      if (label) {
         tk_counter_inc (tk_metric_labels (b->metrics->outcome, it->source, label));
      } else {
         tk_counter_inc (tk_metric_labels (b->metrics->failed, it->source));
      }
      if ((r->outcome == TK_INSERT_STORED || r->outcome == TK_INSERT_CHANGED ||
           (job->unprocessed && job->unprocessed[i])) &&
          b->on_durable) {
         b->on_durable (b, it, r->outcome, b->user_data);
      }
      it->done (it, r->outcome, false, r->message);
   }
}

static void
batch_done (int status, void *ctx)
{
   batch_job_t *job = ctx;
   ingest_batcher_t *b = job->b;
   b->in_flight = false;
   if (status != 0 || !job->ok) {
      batch_failed (b, job, status);
   } else {
      batch_stored (b, job);
   }
   tk_insert_result_cleanup (&job->res);
   free (job->unprocessed);
   free (job->items);
   free (job->tickets);
   free (job);
   notify_state (b);
   batcher_kick (b);
   maybe_closed (b);
}

/* Starts a bulk write with up to batch_size queued items. */
static void
flush (ingest_batcher_t *b)
{
   if (b->in_flight || b->store_down || !b->queued || !*b->indexes_ready) {
      return;
   }
   size_t n = b->queued < b->batch_size ? b->queued : b->batch_size;
   batch_job_t *job = calloc (1, sizeof *job);
   ingest_item_t **items = calloc (n, sizeof *items);
   tk_ticket_t **tickets = calloc (n, sizeof *tickets);
   bool *unprocessed = b->redeliver_unprocessed ? calloc (n, sizeof *unprocessed) : NULL;
   if (!job || !items || !tickets || (b->redeliver_unprocessed && !unprocessed)) {
      free (job);
      free (items);
      free (tickets);
      free (unprocessed);
      TK_ERROR ("batcher", "out of memory for a batch of %zu; retrying", n);
      uv_timer_start (&b->linger, linger_cb, 100, 0);
      return;
   }
   for (size_t i = 0; i < n; i++) {
      ingest_item_t *it = b->head;
      b->head = it->next;
      it->next = NULL;
      items[i] = it;
      tickets[i] = it->ticket;
   }
   if (!b->head) {
      b->tail = NULL;
   }
   b->queued -= n;
   job->b = b;
   job->items = items;
   job->tickets = tickets;
   job->unprocessed = unprocessed;
   job->n = n;
   int rc = tk_store_async (b->loop, b->store, batch_work, batch_done, job);
   if (rc != 0) {
      /* Cannot queue: put the items back in order and try again shortly. */
      for (size_t i = n; i-- > 0;) {
         items[i]->next = b->head;
         b->head = items[i];
         if (!b->tail) {
            b->tail = items[i];
         }
      }
      b->queued += n;
      free (items);
      free (tickets);
      free (unprocessed);
      free (job);
      uv_timer_start (&b->linger, linger_cb, 100, 0);
      return;
   }
   b->in_flight = true;
}

static void
linger_cb (uv_timer_t *t)
{
   flush (t->data);
}

/* Decides what happens next: write now, wait for more, or wait for the store. */
static void
batcher_kick (ingest_batcher_t *b)
{
   if (!b->queued || b->in_flight) {
      return;
   }
   if (b->store_down || !*b->indexes_ready) {
      start_probe (b, b->store_down ? b->probe_ms : 200);
      return;
   }
   if (b->queued >= b->batch_size || b->closing || b->linger_ms == 0) {
      uv_timer_stop (&b->linger);
      flush (b);
   } else if (!uv_is_active ((uv_handle_t *) &b->linger)) {
      uv_timer_start (&b->linger, linger_cb, b->linger_ms, 0);
   }
}

/* ---- the store probe ------------------------------------------------------ */

typedef struct {
   ingest_batcher_t *b;
   bool ok;
   tk_error_t err;
} probe_job_t;

static void
probe_work (tk_store_t *store, void *ctx)
{
   probe_job_t *job = ctx;
   job->ok = tk_store_ping (store, &job->err);
}

static void
probe_done (int status, void *ctx)
{
   probe_job_t *job = ctx;
   ingest_batcher_t *b = job->b;
   b->probing = false;
   if (status == 0 && job->ok) {
      if (b->store_down) {
         TK_INFO ("store", "MongoDB answers again; writes resume");
      }
      b->store_down = false;
      notify_state (b);
      batcher_kick (b);
   } else if (!b->closing) {
      uv_timer_start (&b->probe, probe_cb, b->probe_ms, 0);
   }
   free (job);
   maybe_closed (b);
}

static void
probe_cb (uv_timer_t *t)
{
   ingest_batcher_t *b = t->data;
   if (b->probing) {
      return;
   }
   if (!*b->indexes_ready && !b->store_down) {
      /* The app creates the indexes in the background; look again soon. */
      if (b->queued) {
         uv_timer_start (&b->probe, probe_cb, 200, 0);
      }
      return;
   }
   if (!b->store_down) {
      batcher_kick (b);
      return;
   }
   probe_job_t *job = calloc (1, sizeof *job);
   if (!job || tk_store_async (b->loop, b->store, probe_work, probe_done, job) != 0) {
      free (job);
      uv_timer_start (&b->probe, probe_cb, b->probe_ms, 0);
      return;
   }
   job->b = b;
   b->probing = true;
}

/* ---- public ------------------------------------------------------------------ */

int
ingest_batcher_init (ingest_batcher_t *b, uv_loop_t *loop, tk_store_t *store,
                     ingest_metrics_t *metrics, const bool *indexes_ready, size_t batch_size,
                     uint64_t linger_ms, uint64_t probe_ms, bool upsert)
{
   memset (b, 0, sizeof *b);
   b->loop = loop;
   b->store = store;
   b->metrics = metrics;
   b->indexes_ready = indexes_ready;
   b->batch_size = batch_size ? batch_size : 500;
   b->linger_ms = linger_ms;
   b->probe_ms = probe_ms ? probe_ms : 1000;
   b->upsert = upsert;
   int rc = uv_timer_init (loop, &b->linger);
   if (rc == 0) {
      rc = uv_timer_init (loop, &b->probe);
      if (rc != 0) {
         uv_close ((uv_handle_t *) &b->linger, NULL);
      }
   }
   if (rc == 0) {
      b->linger.data = b;
      b->probe.data = b;
      b->open_handles = 2;
   }
   return rc;
}

void
ingest_batcher_submit (ingest_batcher_t *b, ingest_item_t *item)
{
   item->next = NULL;
   if (b->tail) {
      b->tail->next = item;
   } else {
      b->head = item;
   }
   b->tail = item;
   b->queued++;
   batcher_kick (b);
}

bool
ingest_batcher_unavailable (const ingest_batcher_t *b)
{
   return b->store_down || !*b->indexes_ready;
}

size_t
ingest_batcher_pending (const ingest_batcher_t *b)
{
   return b->queued + (b->in_flight ? b->batch_size : 0);
}

void
ingest_batcher_close (ingest_batcher_t *b, void (*on_closed) (void *token), void *token)
{
   b->closing = true;
   b->on_closed = on_closed;
   b->closed_token = token;
   uv_timer_stop (&b->probe);
   batcher_kick (b);
   maybe_closed (b);
}
