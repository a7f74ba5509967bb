/* store_async.h - the store's blocking calls, off the libuv loop.
 *
 * libmongoc blocks, so services call the store through uv_queue_work: the
 * store call runs on libuv's threadpool and its result comes back on the
 * loop thread. tk_store_async is the generic form; the typed wrappers below
 * cover the calls services make most.
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

/* ---- typed wrappers ------------------------------------------------------
 * Their callbacks run on the loop thread and get err == NULL on success, or
 * the error (TK_ERR_IO with code UV_ECANCELED if cancelled). Pointers passed
 * to a callback are valid only during it. Inputs are borrowed: they must
 * stay valid, and the tickets unchanged, until the callback has run. */

/* res holds each ticket's outcome as in tk_store_insert_tickets; when err is
 * set, res may hold n == 0 (the work never ran). */
typedef void (*tk_store_insert_cb) (const tk_insert_result_t *res, const tk_error_t *err,
                                    void *data);

/* tk_store_insert_tickets off the loop. Like it, writes created_at and
 * updated_at back into the stored tickets (on the threadpool thread, before
 * cb). Returns 0 or a negative libuv error (cb is then not called). */
int tk_store_insert_tickets_async (uv_loop_t *loop, tk_store_t *store,
                                   tk_ticket_t *const *tickets, size_t n,
                                   tk_store_insert_cb cb, void *data);

/* tk_store_upsert_tickets off the loop. */
int tk_store_upsert_tickets_async (uv_loop_t *loop, tk_store_t *store,
                                   tk_ticket_t *const *tickets, size_t n,
                                   tk_store_insert_cb cb, void *data);

typedef void (*tk_store_status_cb) (const tk_error_t *err, void *data);

/* tk_store_update_ticket_with_classification off the loop; err has domain
 * TK_ERR_NOT_FOUND if the id is not stored. */
int tk_store_update_with_classification_async (uv_loop_t *loop, tk_store_t *store,
                                               const char *id, const tk_classification_t *c,
                                               const tk_confidence_t *confidence,
                                               const tk_processing_metadata_t *metadata,
                                               tk_store_status_cb cb, void *data);

typedef void (*tk_store_stats_cb) (const tk_processing_stats_t *stats, const tk_error_t *err,
                                   void *data);

/* tk_store_get_processing_stats off the loop. */
int tk_store_get_processing_stats_async (uv_loop_t *loop, tk_store_t *store,
                                         tk_store_stats_cb cb, void *data);

#endif
