/* store_async.h - the store's blocking calls, off the libuv loop.
 *
 * libmongoc blocks, so services call the store through uv_queue_work: the
 * store call runs on libuv's threadpool and its result comes back on the
 * loop thread. tk_store_async is the one form: the caller's work function
 * makes the store calls it needs (store.h, store_query.h) and its done
 * function reads the results on the loop, as ingest's inserts, the
 * classifier's updates and every api route (services/api/api_call.c) do.
 *
 * Sizing: libuv's threadpool has UV_THREADPOOL_SIZE threads (4 unless the
 * environment sets it before the first uv_queue_work), shared with file
 * system and DNS work. Each running store call holds one pooled client, so
 * give tk_store_new a pool_max of at least UV_THREADPOOL_SIZE; a smaller pool
 * makes threadpool threads wait for a client while other queued work (fs,
 * getaddrinfo) waits for them.
 *
 * Every request is allocated here and freed right after its callback, which
 * always runs exactly once, on the loop thread, unless the submitting call
 * returned an error. The store must outlive every request in flight, and the
 * loop cannot close (uv_loop_close returns UV_EBUSY) while one is pending.
 */
#ifndef TK_STORE_ASYNC_H
#define TK_STORE_ASYNC_H

#include <uv.h>

#include "store.h"

/* Runs on a threadpool thread: call store functions here, never loop ones. */
typedef void (*tk_store_work_fn) (tk_store_t *store, void *ctx);

/* Runs on the loop thread after work_fn returned. status is 0, or
 * UV_ECANCELED if the work was cancelled before it ran. */
typedef void (*tk_store_done_fn) (int status, void *ctx);

/* Queues work_fn(store, ctx) on the threadpool, then done_fn(status, ctx) on
 * loop's thread. ctx is the caller's and must stay valid until done_fn.
 * Returns 0, or a negative libuv error (nothing queued, nothing called). */
int tk_store_async (uv_loop_t *loop, tk_store_t *store, tk_store_work_fn work_fn,
                    tk_store_done_fn done_fn, void *ctx);

/* ---- the same calls in batches -------------------------------------------
 * A queue for many callers of one kind of store call: a pushed ctx starts
 * at once (alone) while fewer than max_running batches are on the
 * threadpool; otherwise it waits, and the next batch takes up to max_batch
 * waiting ctxs. A batch is one threadpool work, batch_fn(store, ctxs, n),
 * then done_fn(status, ctx) for each ctx in push order on the loop. Under
 * load this is one hand-off to a pool thread and back per batch instead of
 * per call, and lets batch_fn make one round trip for all (a bulk write).
 */
typedef void (*tk_store_batch_fn) (tk_store_t *store, void *const *ctxs, size_t n);

typedef struct tk_store_queue tk_store_queue_t;

/* NULL if out of memory. The store must outlive the queue. */
tk_store_queue_t *tk_store_queue_new (uv_loop_t *loop, tk_store_t *store, tk_store_batch_fn batch_fn,
                                      tk_store_done_fn done_fn, size_t max_batch,
                                      size_t max_running);

/* Queues ctx (valid until its done_fn). 0, or a negative libuv error
 * (UV_ENOMEM): then nothing is queued and done_fn is not called. A batch
 * that cannot start (out of memory) answers its ctxs with a negative status,
 * which may happen before this returns. */
int tk_store_queue_push (tk_store_queue_t *q, void *ctx);

/* The size of the batch started last (for metrics); 0 before the first. */
size_t tk_store_queue_last_batch (const tk_store_queue_t *q);

/* Frees q. Waiting and running batches still run to their done_fn: q is
 * then freed after the last one. */
void tk_store_queue_destroy (tk_store_queue_t *q);

#endif
