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
