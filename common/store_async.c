/* store_async.c - store calls on libuv's threadpool. */
#include "store_async.h"

#include <stdlib.h>

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

/* The typed wrappers: each keeps its arguments and result in a context that
 * its done function frees after calling back. */

static void
set_cancelled (tk_error_t *err, int status)
{
   tk_error_set (err, TK_ERR_IO, status, "store call did not run: %s", uv_strerror (status));
}

/* ---- insert / upsert ---------------------------------------------------- */

typedef struct {
   tk_ticket_t *const *tickets;
   size_t n;
   bool upsert;
   tk_insert_result_t res;
   tk_error_t err;
   bool ok;
   tk_store_insert_cb cb;
   void *data;
} insert_ctx_t;

static void
insert_work (tk_store_t *store, void *arg)
{
   insert_ctx_t *c = arg;
   c->ok = c->upsert ? tk_store_upsert_tickets (store, c->tickets, c->n, &c->res, &c->err)
                     : tk_store_insert_tickets (store, c->tickets, c->n, &c->res, &c->err);
}

static void
insert_done (int status, void *arg)
{
   insert_ctx_t *c = arg;
   if (status != 0) {
      set_cancelled (&c->err, status);
      c->ok = false;
   }
   c->cb (&c->res, c->ok ? NULL : &c->err, c->data);
   tk_insert_result_cleanup (&c->res);
   free (c);
}

static int
queue_insert (uv_loop_t *loop, tk_store_t *store, tk_ticket_t *const *tickets, size_t n,
              bool upsert, tk_store_insert_cb cb, void *data)
{
   insert_ctx_t *c = calloc (1, sizeof *c);
   if (!c) {
      return UV_ENOMEM;
   }
   c->tickets = tickets;
   c->n = n;
   c->upsert = upsert;
   c->cb = cb;
   c->data = data;
   int rc = tk_store_async (loop, store, insert_work, insert_done, c);
   if (rc != 0) {
      free (c);
   }
   return rc;
}

int
tk_store_insert_tickets_async (uv_loop_t *loop, tk_store_t *store, tk_ticket_t *const *tickets,
                               size_t n, tk_store_insert_cb cb, void *data)
{
   return queue_insert (loop, store, tickets, n, false, cb, data);
}

int
tk_store_upsert_tickets_async (uv_loop_t *loop, tk_store_t *store, tk_ticket_t *const *tickets,
                               size_t n, tk_store_insert_cb cb, void *data)
{
   return queue_insert (loop, store, tickets, n, true, cb, data);
}

/* ---- update with classification ----------------------------------------- */

typedef struct {
   const char *id;
   const tk_classification_t *classification;
   const tk_confidence_t *confidence;
   const tk_processing_metadata_t *metadata;
   tk_error_t err;
   bool ok;
   tk_store_status_cb cb;
   void *data;
} update_ctx_t;

static void
update_work (tk_store_t *store, void *arg)
{
   update_ctx_t *c = arg;
   c->ok = tk_store_update_ticket_with_classification (store, c->id, c->classification,
                                                       c->confidence, c->metadata, &c->err);
}

static void
update_done (int status, void *arg)
{
   update_ctx_t *c = arg;
   if (status != 0) {
      set_cancelled (&c->err, status);
      c->ok = false;
   }
   c->cb (c->ok ? NULL : &c->err, c->data);
   free (c);
}

int
tk_store_update_with_classification_async (uv_loop_t *loop, tk_store_t *store, const char *id,
                                           const tk_classification_t *classification,
                                           const tk_confidence_t *confidence,
                                           const tk_processing_metadata_t *metadata,
                                           tk_store_status_cb cb, void *data)
{
   update_ctx_t *c = calloc (1, sizeof *c);
   if (!c) {
      return UV_ENOMEM;
   }
   c->id = id;
   c->classification = classification;
   c->confidence = confidence;
   c->metadata = metadata;
   c->cb = cb;
   c->data = data;
   int rc = tk_store_async (loop, store, update_work, update_done, c);
   if (rc != 0) {
      free (c);
   }
   return rc;
}

/* ---- processing stats --------------------------------------------------- */

typedef struct {
   tk_processing_stats_t stats;
   tk_error_t err;
   bool ok;
   tk_store_stats_cb cb;
   void *data;
} stats_ctx_t;

static void
stats_work (tk_store_t *store, void *arg)
{
   stats_ctx_t *c = arg;
   c->ok = tk_store_get_processing_stats (store, &c->stats, &c->err);
}

static void
stats_done (int status, void *arg)
{
   stats_ctx_t *c = arg;
   if (status != 0) {
      set_cancelled (&c->err, status);
      c->ok = false;
   }
   c->cb (&c->stats, c->ok ? NULL : &c->err, c->data);
   free (c);
}

int
tk_store_get_processing_stats_async (uv_loop_t *loop, tk_store_t *store, tk_store_stats_cb cb,
                                     void *data)
{
   stats_ctx_t *c = calloc (1, sizeof *c);
   if (!c) {
      return UV_ENOMEM;
   }
   c->cb = cb;
   c->data = data;
   int rc = tk_store_async (loop, store, stats_work, stats_done, c);
   if (rc != 0) {
      free (c);
   }
   return rc;
}
