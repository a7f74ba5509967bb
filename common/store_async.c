/* store_async.c - store calls on libuv's threadpool. */
#include "store_async.h"

#include <stdlib.h>
#include <string.h>

/* The generic request. uv_work_t comes first so the callbacks can cast the
 * uv_work_t pointer back to the request. */
typedef struct {
   uv_work_t work;
   tk_store_t *store;
   tk_store_work_fn work_fn;
   tk_store_done_fn done_fn;
   void *ctx;
} store_req_t;

static void
req_work_cb (uv_work_t *work)
{
   store_req_t *req = (store_req_t *) work;
   req->work_fn (req->store, req->ctx);
}

static void
req_after_cb (uv_work_t *work, int status)
{
   store_req_t *req = (store_req_t *) work;
   req->done_fn (status, req->ctx);
   free (req);
}

int
tk_store_async (uv_loop_t *loop, tk_store_t *store, tk_store_work_fn work_fn,
                tk_store_done_fn done_fn, void *ctx)
{
   store_req_t *req = calloc (1, sizeof *req);
   if (!req) {
      return UV_ENOMEM;
   }
   req->store = store;
   req->work_fn = work_fn;
   req->done_fn = done_fn;
   req->ctx = ctx;
   int rc = uv_queue_work (loop, &req->work, req_work_cb, req_after_cb);
   if (rc != 0) {
      free (req);
   }
   return rc;
}

/* ---- batches ---------------------------------------------------------------- */

struct tk_store_queue {
   uv_loop_t *loop;
   tk_store_t *store;
   tk_store_batch_fn batch_fn;
   tk_store_done_fn done_fn;
   size_t max_batch, max_running;
   void **waiting; /* ctxs not started yet, oldest first */
   size_t n_waiting, cap;
   size_t running;
   size_t last_batch;
   unsigned in_callbacks; /* batch_after_cb is running its done callbacks */
   bool destroyed;        /* freed after the last batch */
};

typedef struct {
   uv_work_t work; /* first member: cast back from the uv_work_t */
   tk_store_queue_t *q;
   size_t n;
   void *ctxs[]; /* n */
} queue_batch_t;

static void queue_start (tk_store_queue_t *q);

static void
batch_work_cb (uv_work_t *work)
{
   queue_batch_t *b = (queue_batch_t *) work;
   b->q->batch_fn (b->q->store, b->ctxs, b->n);
}

static void
queue_free (tk_store_queue_t *q)
{
   free (q->waiting);
   free (q);
}

static void
batch_after_cb (uv_work_t *work, int status)
{
   queue_batch_t *b = (queue_batch_t *) work;
   tk_store_queue_t *q = b->q;
   q->running--;
   /* Callbacks may push again (their ctxs join the next batch) or destroy
    * the queue (it is freed below, once they are done). */
   q->in_callbacks++;
   for (size_t i = 0; i < b->n; i++) {
      q->done_fn (status, b->ctxs[i]);
   }
   q->in_callbacks--;
   free (b);
   queue_start (q);
   if (q->destroyed && q->running == 0 && q->n_waiting == 0 && q->in_callbacks == 0) {
      queue_free (q);
   }
}

/* Starts batches while fewer than max_running run and ctxs wait. A batch
 * that cannot start (out of memory) is answered with UV_ENOMEM. */
static void
queue_start (tk_store_queue_t *q)
{
   while (q->n_waiting > 0 && q->running < q->max_running) {
      size_t n = q->n_waiting < q->max_batch ? q->n_waiting : q->max_batch;
      queue_batch_t *b = malloc (sizeof *b + n * sizeof b->ctxs[0]);
      void *first[1];
      if (!b) {
         first[0] = q->waiting[0];
         memmove (q->waiting, q->waiting + 1, --q->n_waiting * sizeof q->waiting[0]);
         q->done_fn (UV_ENOMEM, first[0]);
         continue;
      }
      b->q = q;
      b->n = n;
      memcpy (b->ctxs, q->waiting, n * sizeof b->ctxs[0]);
      q->n_waiting -= n;
      memmove (q->waiting, q->waiting + n, q->n_waiting * sizeof q->waiting[0]);
      q->running++;
      q->last_batch = n;
      int rc = uv_queue_work (q->loop, &b->work, batch_work_cb, batch_after_cb);
      if (rc != 0) {
         q->running--;
         for (size_t i = 0; i < n; i++) {
            q->done_fn (rc, b->ctxs[i]);
         }
         free (b);
      }
   }
}

tk_store_queue_t *
tk_store_queue_new (uv_loop_t *loop, tk_store_t *store, tk_store_batch_fn batch_fn,
                    tk_store_done_fn done_fn, size_t max_batch, size_t max_running)
{
   tk_store_queue_t *q = calloc (1, sizeof *q);
   if (!q) {
      return NULL;
   }
   q->loop = loop;
   q->store = store;
   q->batch_fn = batch_fn;
   q->done_fn = done_fn;
   q->max_batch = max_batch ? max_batch : 1;
   q->max_running = max_running ? max_running : 1;
   return q;
}

int
tk_store_queue_push (tk_store_queue_t *q, void *ctx)
{
   if (q->n_waiting == q->cap) {
      size_t cap = q->cap ? q->cap * 2 : 64;
      void **grown = realloc (q->waiting, cap * sizeof *grown);
      if (!grown) {
         return UV_ENOMEM;
      }
      q->waiting = grown;
      q->cap = cap;
   }
   q->waiting[q->n_waiting++] = ctx;
   queue_start (q);
   return 0;
}

size_t
tk_store_queue_last_batch (const tk_store_queue_t *q)
{
   return q->last_batch;
}

void
tk_store_queue_destroy (tk_store_queue_t *q)
{
   if (!q) {
      return;
   }
   if (q->running > 0 || q->n_waiting > 0 || q->in_callbacks > 0) {
      q->destroyed = true;
      return;
   }
   queue_free (q);
}
