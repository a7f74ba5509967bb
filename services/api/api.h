/* api.h - triage-api's shared state and the request runner every route uses.
 *
 * Every route is registered with the least role it needs and the body it
 * takes (api_route), so the listener's key check (common/key_gate.h) has
 * found the caller's key, role and rate before the handler runs and before
 * any body byte is read: a caller without a valid key gets 401 before any
 * validation message. A route handler then runs on the loop: it checks and
 * parses the request (pure work: JSON, parameters, the query filter), fills
 * an api_call_t and hands it to api_call_run. The runner takes the caller's
 * identity from the request, runs the route's work function on a libuv
 * threadpool thread with a pooled MongoDB client, writes the audit record
 * there too, and then, back on the loop, either calls the route's done
 * function or sends the response the work function left in the call.
 */
#ifndef API_H
#define API_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include "app.h"
#include "audit_log.h"
#include "auth.h"
#include "http_server.h"
#include "query_filter.h"
#include "store_query.h"

/* A cached response body (stats, analytics), owned by the api. */
typedef struct api_cache_entry {
   char *key;  /* e.g. "stats" or "analytics?<query>" */
   char *body; /* JSON text */
   size_t len;
   uint64_t expires_ms; /* uv_now */
   struct api_cache_entry *next;
} api_cache_entry_t;

/* The service: one per process, lives as long as the loop. */
typedef struct {
   tk_app_t *app;
   const tk_taxonomy_t *tax; /* borrowed from app */
   api_cache_entry_t *cache;
   tk_metric_t *cache_hits;   /* triage_api_cache_total{result} */
   tk_metric_t *published;    /* triage_api_classify_requests_total{result} */
   struct api_upload *upload; /* the upload forwarder (routes_upload.c) */
   struct api_openapi *openapi; /* the OpenAPI document (routes_openapi.c) */
   struct api_snapshot *snapshot; /* statistics snapshot (snapshot.c) */
   struct api_follow *follow;     /* other services' writes from the topics (follow.c) */
   struct api_audit_queue *audit_queue; /* records written after the response (audit_queue.c) */
   struct tk_list_sql *list_sql; /* list pages' ids by index (list_sql.h); NULL: off */
   tk_metric_t *list_pages;      /* triage_api_list_pages_total{source} */
   tk_metric_t *list_documents;  /* triage_api_list_documents_total{read} */
   tk_metric_t *search_pages;    /* triage_api_search_pages_total{plan} */
} api_t;

typedef struct api_call api_call_t;

/* Runs on a threadpool thread with a pooled client (borrowed for the call)
 * and the database name. Leaves its answer in call (api_call_ok / _fail). */
typedef void (*api_work_fn) (api_call_t *call, mongoc_client_t *client, const char *db);

/* Runs on the loop after the work (and only if the key was accepted and the
 * work left no error). Must eventually respond to call->req and then call
 * api_call_free. NULL: the runner sends call->json / the error. */
typedef void (*api_done_fn) (api_call_t *call);

/* Runs on the loop once the key is known to be good enough, before any
 * work is queued; returns true if it answered already (from a cache), in
 * which case it has responded and the runner frees the call. */
typedef bool (*api_fast_fn) (api_call_t *call);

struct api_call {
   api_t *api;
   tk_http_request_t *req;
   tk_role_t need;    /* least role allowed */
   bool audit;         /* write an audit_log record */
   const char *action; /* static: "tickets.list", ... */
   api_work_fn work;
   api_done_fn done;
   api_fast_fn fast;

   /* Route data, freed by free_data (may be NULL) in api_call_free. */
   void *data;
   void (*free_data) (void *data);

   /* Identity, from the listener's key check (api_call_run). */
   char key_id[TK_AUTH_KEY_ID_MAX];
   tk_role_t role;

   /* The answer. */
   int status;
   cJSON *json;         /* owned; sent when status < 400 */
   char *raw_body;      /* owned; sent instead of json when set (cached text) */
   size_t raw_len;
   char err_code[32];
   char err_msg[256];
   char err_field[64];
   cJSON *audit_detail; /* owned: ids, filters, counts for the audit record */
   bool writes;         /* the action stores, changes or deletes tickets: the */
   tk_audit_ids_t tickets; /* record lists them (audit_log.h), even when none */
};

/* A call for req; aborts on out of memory like tk_ticket_new. */
api_call_t *api_call_new (api_t *api, tk_http_request_t *req, const char *action,
                          tk_role_t need, bool audit, api_work_fn work);

/* Takes the caller's identity from the request, queues the work and
 * responds. Takes ownership of call. */
void api_call_run (api_call_t *call);

/* Frees the call and what it owns (not the request). Accepts NULL. */
void api_call_free (api_call_t *call);

/* Sets the answer: status with json (takes ownership). */
void api_call_ok (api_call_t *call, int status, cJSON *json);

/* Sets an error answer. field may be NULL. */
void api_call_fail (api_call_t *call, int status, const char *code, const char *field,
                    const char *fmt, ...) __attribute__ ((format (printf, 5, 6)));

/* Sets the error answer that fits err (400 invalid, 404 not found, 409
 * duplicate, 503 database unreachable, else 500). */
void api_call_fail_err (api_call_t *call, const tk_error_t *err);

/* Sends the call's answer (json, raw body or error), and frees the call. */
void api_call_respond (api_call_t *call);

/* Responds with an error before any call exists (bad input on the loop). */
int api_respond_error (tk_http_request_t *req, int status, const char *code,
                       const char *field, const char *message);

/* --- request helpers (loop) -------------------------------------------- */

/* True if the raw path or query string holds a percent-encoded NUL ("%00"),
 * which the decoded accessors would silently cut short. */
bool api_request_has_nul (const tk_http_request_t *req);

/* Checks the request's query string (no %00) and body content type
 * (application/json, when json_body); on failure responds and returns
 * false. */
bool api_check_request (tk_http_request_t *req, bool json_body);

/* Collects the decoded query parameters into an array allocated from the
 * request's arena. Returns false (and responds 400/500) when there are more
 * than max. */
bool api_query_params (tk_http_request_t *req, tk_query_param_t **out, size_t *n);

/* The `tz` parameter among params (zone_param.c): its IANA zone name into
 * tz (cap bytes, TK_ZONE_NAME_MAX + 1 is enough), "" when it is missing or
 * "UTC". An unknown zone or a second `tz` responds 400 and returns false. */
bool api_zone_param (tk_http_request_t *req, const tk_query_param_t *params, size_t n, char *tz,
                     size_t cap);

/* The OpenAPI description's taxonomy parts (openapi_taxonomy.c): writes
 * the label filters' patterns and the Classification enums of doc (the
 * parsed document) from tax. false when doc lacks them or memory ran out. */
bool api_openapi_fit_taxonomy (cJSON *doc, const tk_taxonomy_t *tax);

/* Writes the tz parameter's enum of doc: every zone name the api takes.
 * false when doc lacks it, ICU could not list zones, or memory ran out. */
bool api_openapi_fit_zones (cJSON *doc);

/* The pattern a label filter of kind accepts under tax: one or more labels,
 * each letter in either case, comma-separated. malloc'd; NULL when out of
 * memory. */
char *api_openapi_label_pattern (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind);

/* Parses the JSON body (tk_json_parse); an object anywhere in it that repeats
 * a member name is refused too. On failure responds 400 and returns NULL.
 * max_len bounds it. */
cJSON *api_parse_body (tk_http_request_t *req, size_t max_len);

/* A ticket id of a path ({id}): 200 when it may name a ticket, 400 when it
 * is malformed (empty, control characters, not UTF-8), 404 when it is
 * longer than any stored id (TK_TICKET_ID_MAX bytes). */
int api_path_id_status (const char *id);

/* api_path_id_status for a route: true when id may name a ticket; else
 * responds 400 or 404 and returns false. */
bool api_path_id_ok (tk_http_request_t *req, const char *id);

/* An id the api makes itself (a key id, a job id): 1..max characters of
 * letters, digits, '_', '-' and '.'. */
bool api_safe_id_valid (const char *id, size_t max);

/* A ticket id from a path parameter or JSON: 1..TK_TICKET_ID_MAX bytes of
 * valid UTF-8 without control characters. */
bool api_id_valid (const char *id);

/* --- helpers for work functions (threadpool) --------------------------- */

/* The JSON of a ticket document: tk_ticket_to_json plus the API's own
 * fields (stored_at, processing_metadata.corrected_by / corrected_at,
 * corrections).
 * NULL with err on a malformed document. */
cJSON *api_ticket_doc_json (const bson_t *doc, tk_error_t *err);

/* A document as JSON: dates as ISO-8601 strings, _id left out, other
 * non-JSON types skipped. Caller frees with cJSON_Delete. */
cJSON *api_bson_to_json (const bson_t *doc);

/* Appends api_bson_to_json of every document left in cursor to the array
 * items (borrowed). false with e when the cursor fails; items then holds
 * the documents read before the failure. */
bool api_bson_cursor_to_json (mongoc_cursor_t *cursor, cJSON *items, bson_error_t *e);

/* The audit record of call (common/audit_log.h): identity, client address,
 * status as they stand, the route's detail and, for a write, the tickets it
 * touched. Built without I/O, so on the loop or a worker. Caller
 * destroys. */
bson_t *api_audit_record (const api_call_t *call);

/* Writes the audit record of call (status and identity as they stand). */
void api_audit_write (api_call_t *call, mongoc_client_t *client, const char *db);

/* --- audit records written after the response (audit_queue.c) ----------- */

typedef struct api_audit_queue api_audit_queue_t;

/* An empty queue writing into store's audit_log from loop. NULL on out of
 * memory. */
api_audit_queue_t *api_audit_queue_new (uv_loop_t *loop, tk_store_t *store);

/* Frees q and the records still in it (unwritten). Accepts NULL. */
void api_audit_queue_destroy (api_audit_queue_t *q);

/* Loop: queues doc (taking ownership) to be written in the next batch, or
 * counts it into a queued record of the same read (key_id, client, action,
 * status, path, query), which is then written with "count" and "last_at". false
 * (doc still the caller's) when q is NULL, stopping, or full: then the
 * caller writes the record itself before responding. */
bool api_audit_queue_push (api_audit_queue_t *q, bson_t *doc);

/* Loop: calls fn (ctx) once every record queued so far is written (at once
 * when none waits), so that a read of the audit log sees them. */
typedef void (*api_audit_flushed_fn) (void *ctx);
void api_audit_queue_after_flush (api_audit_queue_t *q, api_audit_flushed_fn fn, void *ctx);

/* Shutdown step (user_data: the api_t): writes what is queued, then done. */
void api_audit_queue_stop (void *user_data, void *token);

/* --- routes and refused keys (route_auth.c) -------------------------------- */

/* Registers handler (user data: api) for method and pattern on the api's
 * listener, for keys of at least role need (TK_ROLE_NONE: open to anyone,
 * but a key sent is still checked) with bodies up to max_body
 * (TK_HTTP_BODY_NONE, _JSON, _LARGE or bytes). */
bool api_route (api_t *api, const char *method, const char *pattern, tk_role_t need,
                size_t max_body, tk_http_handler_t handler, tk_error_t *err);

/* Audits what the key check refuses (key_gate.h's refused hook): at most one
 * record a minute per client address for unknown keys, one per 403. */
void api_auth_audit_refusals (api_t *api);

/* With TRIAGE_LIST_SQL_URL: asks for the side tables of this api's database
 * on the threadpool (list_index.c). false when out of memory. */
bool api_list_index_start (api_t *api);

/* --- cache (cache.c) ------------------------------------------------------ */

/* The fresh cached body under key, or NULL (borrowed until the next cache
 * call). */
const api_cache_entry_t *api_cache_get (api_t *api, const char *key);
/* Stores a copy of body under key for ttl_ms. */
void api_cache_put (api_t *api, const char *key, const char *body, size_t len);
/* Drops every entry. */
void api_cache_clear (api_t *api);

/* --- shared route bodies (routes_tickets.c) ------------------------------ */

/* Lists tickets for the query parameters of req (processed_only forces
 * status=processed and refuses a status parameter). */
void api_list_tickets (api_t *api, tk_http_request_t *req, bool processed_only,
                       const char *action);

/* One ticket by the {id} path parameter; processed_only answers 404 for a
 * ticket not processed yet. */
void api_get_ticket (api_t *api, tk_http_request_t *req, bool processed_only,
                     const char *action);

/* --- route registration (one per routes_*.c) ---------------------------- */

bool api_routes_tickets (api_t *api, tk_error_t *err);
bool api_routes_processed (api_t *api, tk_error_t *err);
bool api_routes_stats (api_t *api, tk_error_t *err);
bool api_routes_process (api_t *api, tk_error_t *err);
/* GET /api/process/{job} (routes_process_status.c), registered by
 * api_routes_process. */
void api_process_status_get (tk_http_request_t *req, void *user_data);
/* Loop: records on the threadpool that job_id's classification requests
 * could not all be published (its record gets status "failed", reason,
 * published, publish_failed and failed_at), then calls then (call) on the
 * loop, whether the write worked or not (it is logged if not). call stays
 * the caller's. (process_failed.c) */
void api_process_mark_failed (api_call_t *call, const char *job_id, int64_t published,
                              int64_t failed, const char *reason, void (*then) (api_call_t *));
bool api_routes_keys (api_t *api, tk_error_t *err);
bool api_routes_audit (api_t *api, tk_error_t *err);
bool api_routes_static (api_t *api, tk_error_t *err); /* the dashboard (routes_static.c) */
bool api_routes_session (api_t *api, tk_error_t *err); /* GET /api/session */
bool api_routes_analytics (api_t *api, tk_error_t *err);
bool api_routes_export (api_t *api, tk_error_t *err);
/* Also adds a shutdown step that closes the forwarding client. */
bool api_routes_upload (api_t *api, tk_error_t *err);
bool api_routes_openapi (api_t *api, tk_error_t *err);
bool api_routes_dlq (api_t *api, tk_error_t *err); /* GET /api/dlq, /api/dlq/{entry} */
bool api_routes_fetch (api_t *api, tk_error_t *err); /* POST /api/fetch (routes_fetch.c) */

/* --- start-up work -------------------------------------------------------- */

/* Gives the tickets written before stored_at existed one, on the threadpool,
 * once at start (stored_at.c); adds its shutdown step. */
bool api_stored_at_start (api_t *api, tk_error_t *err);

#endif
