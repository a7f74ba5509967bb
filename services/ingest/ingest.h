/* ingest.h - the pieces of triage-ingest and how they meet.
 *
 *   kafka_intake.c       tickets.inbound consumer: valid -> batcher, invalid -> DLQ,
 *                        offsets committed in order once the work is durable
 *                        (messages and DLQ records: common/messages.h; the
 *                        in-flight offsets: common/kafka_offsets.h)
 *   upload.c             POST /v1/tickets: parse off the loop, store, stream the report
 *   batcher.c            one queue for both sources, one bulk write per batch,
 *                        MongoDB health (503 / pause while it is unreachable)
 *   classify_requests.c  a classify request (messages.h) to tickets.classify once durable;
 *                        the item that caused a request waits for its delivery
 *   ingest_metrics.c     the /metrics families
 *   auth_gate.c          API keys on the upload route (operator role): audit of refusals
 *   ingest_audit.c       audit_log records of the uploads (common/audit_log.h), off the loop
 *   store_masked.c       TRIAGE_STORE_MASKED: PII masked before a ticket is stored
 *   stored_ids.c         which of a list of ticket ids are stored already
 *
 * Everything runs on the app's loop thread; only the bulk writes, the store
 * probe and upload parsing run on libuv's threadpool.
 */
#ifndef INGEST_H
#define INGEST_H

#include "app.h"
#include "audit_log.h"
#include "auth.h"
#include "metrics.h"
#include "store.h"
#include "ticket.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

/* ---- metrics ------------------------------------------------------------- */

typedef struct {
   tk_metric_t *received;  /* {source} */
   tk_metric_t *outcome;   /* {source, outcome}: stored, duplicate, updated, unchanged */
   tk_metric_t *rejected;  /* {source, reason} */
   tk_metric_t *failed;    /* {source}: a write the store could not make */
   tk_series_t *dlq;
   tk_metric_t *classify;  /* {result}: delivered, retried, dropped */
   tk_series_t *batch_seconds;
   tk_series_t *batch_size;
   tk_series_t *pending;
   tk_series_t *store_up;
   tk_series_t *consumer_paused;
   tk_metric_t *lag;       /* {topic, partition}: high watermark - committed offset */
} ingest_metrics_t;

/* Registers the families in reg (borrowed, must outlive m). */
bool ingest_metrics_init (ingest_metrics_t *m, tk_metrics_t *reg);

/* ---- batcher --------------------------------------------------------------- */

typedef struct ingest_item ingest_item_t;

/* Called once per submitted item, on the loop thread. outcome is the store's;
 * TK_INSERT_FAILED with unavailable=true means the store could not be reached
 * (only for items submitted with retry_unavailable=false), else message says
 * why the server refused the document. */
typedef void (*ingest_item_done_fn) (ingest_item_t *item, tk_insert_outcome_t outcome,
                                     bool unavailable, const char *message);

/* Called once the classification request made for item (see
 * awaiting_request) is delivered (delivered=true), or dropped because the
 * service is stopping (false). On the loop thread; it may come before the
 * item's done callback when the request is dropped at once. */
typedef void (*ingest_item_requested_fn) (ingest_item_t *item, bool delivered);

/* An item is embedded in the submitter's own record and stays its property;
 * the batcher only links it into its queue until done is called. When the
 * batcher's on_durable makes a classification request for it, it sets
 * awaiting_request, and the record must then stay alive until requested is
 * called (which clears awaiting_request first): a Kafka offset is committed,
 * and an upload answered, only once the ticket's request is delivered, so a
 * crash in between never leaves a stored ticket without its request. */
struct ingest_item {
   tk_ticket_t *ticket;    /* borrowed until done; created_at/updated_at written back */
   const char *source;     /* static: "kafka", "upload" (metrics label) */
   bool retry_unavailable; /* hold and retry while the store is unreachable */
   ingest_item_done_fn done;
   ingest_item_requested_fn requested; /* required */
   bool awaiting_request;  /* set by on_durable, cleared before requested runs */
   ingest_item_t *next;    /* the batcher's */
};

typedef struct ingest_batcher ingest_batcher_t;

/* Called on the loop after every batch and whenever the store's state
 * changes, so the consumer can pause or resume. */
typedef void (*ingest_batcher_state_fn) (ingest_batcher_t *b, void *user_data);
/* Called for each item the store made durable as a new or changed ticket,
 * before the item's done callback; with redeliver_unprocessed, also for a
 * duplicate (outcome DUPLICATE or UNCHANGED) whose stored ticket is still
 * processed=false with no recorded failure: its classification request may
 * have been lost with a previous run. */
typedef void (*ingest_batcher_durable_fn) (ingest_batcher_t *b, ingest_item_t *item,
                                           tk_insert_outcome_t outcome, void *user_data);

struct ingest_batcher {
   uv_loop_t *loop;
   tk_store_t *store;
   ingest_metrics_t *metrics;
   const bool *indexes_ready; /* the app's flag: no insert before the unique index */
   size_t batch_size;
   uint64_t linger_ms;
   uint64_t probe_ms;
   bool upsert;

   ingest_batcher_state_fn on_state;
   ingest_batcher_durable_fn on_durable;
   bool redeliver_unprocessed; /* look up unprocessed duplicates (see on_durable) */
   void *user_data;

   ingest_item_t *head, *tail;
   size_t queued;
   bool in_flight;   /* one bulk write at a time keeps batch order */
   bool store_down;  /* the last write or probe could not reach MongoDB */
   bool probing;
   bool closing;
   uv_timer_t linger;
   uv_timer_t probe;
   void (*on_closed) (void *token);
   void *closed_token;
   int open_handles;
};

/* Sets up the batcher (timers on loop). Returns 0 or a negative libuv error. */
int ingest_batcher_init (ingest_batcher_t *b, uv_loop_t *loop, tk_store_t *store,
                         ingest_metrics_t *metrics, const bool *indexes_ready,
                         size_t batch_size, uint64_t linger_ms, uint64_t probe_ms, bool upsert);

/* Queues item (see ingest_item_t for what must be set). */
void ingest_batcher_submit (ingest_batcher_t *b, ingest_item_t *item);

/* True while uploads should be refused with 503: MongoDB was unreachable at
 * the last attempt, or the indexes are not created yet. */
bool ingest_batcher_unavailable (const ingest_batcher_t *b);

/* Items queued or being written. */
size_t ingest_batcher_pending (const ingest_batcher_t *b);

/* Waits until nothing is queued or being written (or the store is down),
 * closes the timers, then calls on_closed(token). Items still queued are
 * failed as unavailable. */
void ingest_batcher_close (ingest_batcher_t *b, void (*on_closed) (void *token), void *token);

/* ---- classification requests ------------------------------------------------ */

typedef struct ingest_classify ingest_classify_t;

/* Called once per request: delivered=true when the broker acknowledged it,
 * false when it was dropped undelivered at shutdown. */
typedef void (*ingest_classify_done_fn) (void *opaque, bool delivered);

struct ingest_classify {
   tk_app_t *app;
   ingest_metrics_t *metrics;
   const char *topic;
   struct classify_msg *retry; /* deliveries that failed, re-sent by the timer */
   unsigned failures;          /* failed retry rounds in a row: the retry backoff */
   uint64_t *recent;           /* hashes of ids requested by this run (see below); owned */
   size_t recent_mask;
   uv_timer_t retry_timer;
   bool closing;
   bool closed;
};

int ingest_classify_init (ingest_classify_t *c, tk_app_t *app, ingest_metrics_t *metrics);

/* Publishes {"id","reason","requested_at"} keyed by id. librdkafka retries
 * on its own; a delivery that still fails is produced again after a backoff
 * (0.5 s plus a jittered exponential up to 30 s, reset by any delivery)
 * until delivered or until ingest_classify_close. done (may be NULL) is
 * called once with opaque: when delivered, or when dropped at shutdown
 * (possibly before this call returns, if the service is already stopping). */
void ingest_classify_request (ingest_classify_t *c, const char *id, const char *reason,
                              ingest_classify_done_fn done, void *opaque);

/* True when this run has already requested classification of id (delivered,
 * or still being retried): a duplicate of it then needs no new request. A
 * fixed table of id hashes, so an old id may be forgotten (a spare request,
 * harmless); a fresh process remembers nothing, which is the point: what a
 * previous run stored may never have been requested. */
bool ingest_classify_requested (const ingest_classify_t *c, const char *id);

/* Stops retrying (pending retries are dropped, their done called with
 * delivered=false: those tickets stay processed=false, and their Kafka
 * offsets uncommitted) and closes the timer. */
void ingest_classify_close (ingest_classify_t *c);

/* ---- Kafka intake ----------------------------------------------------------- */

typedef struct ingest_intake ingest_intake_t;

/* Creates the consumer on the inbound topic. NULL with err on failure. */
ingest_intake_t *ingest_intake_new (tk_app_t *app, ingest_batcher_t *batcher,
                                    ingest_metrics_t *metrics, tk_error_t *err);

/* Re-evaluates pause/resume (the batcher's state callback calls it). */
void ingest_intake_check_flow (ingest_intake_t *in);

/* Shutdown step: stops fetching, waits for in-flight messages to be durable
 * and committed, closes the consumer and frees in. */
void ingest_intake_shutdown (void *intake, void *token);

/* ---- API keys --------------------------------------------------------------- */

typedef struct {
   tk_app_t *app;
} ingest_auth_t;

/* Logs a loud warning when auth is off, and audits what the listener's key
 * gate (app->gate) refuses. */
void ingest_auth_init (ingest_auth_t *a, tk_app_t *app);

/* Who sent a request, once its key is accepted: for the audit record. */
typedef struct {
   char key_id[TK_AUTH_KEY_ID_MAX]; /* "bootstrap", "auth-off", or the api_keys id */
   tk_role_t role;
} ingest_who_t;

/* who is borrowed for the call: copy what is needed. */
typedef void (*ingest_authorized_fn) (tk_http_request_t *req, const ingest_who_t *who,
                                      void *user_data);

/* Checks that the key the listener's gate granted for req holds at least
 * role need; calls next (on the loop, at once) with the key's identity when
 * it does, else answers 403 and releases req. Unknown keys, rate limits and the database are the gate's:
 * it has answered those before the handler runs. */
void ingest_auth_check (ingest_auth_t *a, tk_http_request_t *req, tk_role_t need,
                        ingest_authorized_fn next, void *user_data);

/* ---- audit ------------------------------------------------------------------ */

/* The audit record (common/audit_log.h) of a request to ingest: who (may be
 * NULL before the key is known), from where, the route, action and status,
 * detail (borrowed, may be NULL) and, for a write, the tickets it stored or
 * changed (borrowed, NULL for none). Caller destroys. */
bson_t *ingest_audit_record (tk_http_request_t *req, const ingest_who_t *who, const char *action,
                             int status, const bson_t *detail, const tk_audit_ids_t *tickets);

/* Writes record (taking ownership) into audit_log on the threadpool; a
 * failure is logged. The caller does not wait: the answer never waits for
 * the audit while MongoDB is slow or down. */
void ingest_audit_write (tk_app_t *app, bson_t *record);

/* ---- PII masking before storing ---------------------------------------------- */

/* TRIAGE_STORE_MASKED: replaces PII in t's subject and body by the typed
 * placeholders of pii_mask.h, so the raw text never reaches the store. Adds
 * the replacements made to *n_masked when it is not NULL. False only when
 * out of memory (t may then be half masked: it must not be stored). */
bool ingest_mask_ticket (tk_ticket_t *t, size_t *n_masked);

/* ---- stored ids ------------------------------------------------------------- */

/* Asks store's tickets collection which of ids[0, n) are stored, in $in
 * queries of a few hundred ids each. NULL entries are skipped (and a group
 * of only NULLs asks nothing). also (borrowed, may be NULL) holds further
 * conditions a stored ticket must meet to count, appended to the filter.
 * Sets found[i] = true for each id found and leaves the other entries as
 * they were. false with err when the database could not be asked: found is
 * then only partly filled. Blocking: threadpool only. */
bool ingest_find_stored_ids (tk_store_t *store, const char *const *ids, size_t n,
                             const bson_t *also, bool *found, tk_error_t *err);

/* ---- HTTP upload ----------------------------------------------------------- */

typedef struct {
   tk_app_t *app;
   ingest_batcher_t *batcher;
   ingest_metrics_t *metrics;
   ingest_auth_t *auth;
} ingest_upload_t;

/* Registers POST /v1/tickets on app->http. */
bool ingest_upload_register (ingest_upload_t *u, tk_error_t *err);

#endif
