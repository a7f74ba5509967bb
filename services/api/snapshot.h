/* snapshot.h - the statistics of the tickets collection the api keeps fresh in the
 * background (docs/decisions/0006-api-statistics-snapshot.md).
 *
 * tally (common/ticket_tally.h): one pass over the matching ticket
 * documents, every figure counted in C. GET /api/analytics (any filter) and
 * GET /api/processing-stats are two renderings of the same tally, so an
 * unfiltered scan answers both.
 *
 * snapshot: the unfiltered tally rendered as both bodies, refreshed by a
 * uv_timer on the loop every TRIAGE_API_CACHE_TTL (but not before ten
 * times as long as the last scan's read took, up to 5 minutes, so that a
 * large collection is read a tenth of the time at most),
 * the scan on the threadpool, one at a time, the first one at boot. A
 * request is answered from it at once when it exists; before the first one
 * exists a request waits for it (one scan however many wait). With
 * TRIAGE_API_CACHE_TTL=0 nothing is kept: each request waits for a scan
 * that starts after it arrived (requests arriving together share one).
 * The same scan keeps the newest TRIAGE_API_NEWEST_KEEP tickets rendered
 * (newest.h; whole documents are fetched then, not the projection), from
 * which GET /api/tickets without filters, newest first, is answered while
 * its page lies among them (api_snapshot_tickets_page). The api's own
 * writes to tickets patch that window at once (api_snapshot_ticket_put,
 * api_snapshot_ticket_deleted); so do other services' writes that the api
 * learns of from the topics and reads back (follow.h); any other writer's
 * show after the next scan.
 * The snapshot also sets the gauges triage_api_tickets_total,
 * triage_api_tickets_processed and triage_api_tickets_unprocessed.
 */
#ifndef API_SNAPSHOT_H
#define API_SNAPSHOT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include "api.h"
#include "error.h"
#include "newest.h"
#include "ticket_tally.h"

/* ---- snapshot (snapshot.c) ---------------------------------------------- */

typedef enum {
   API_SNAPSHOT_STATS = 0,     /* GET /api/processing-stats */
   API_SNAPSHOT_ANALYTICS = 1, /* GET /api/analytics without parameters */
} api_snapshot_body_t;

/* Registers the gauges and starts the refresh timer with a refresh at once.
 * Call once, after tk_app_init. */
bool api_snapshot_start (api_t *api, tk_error_t *err);

/* Loop: responds to call from the snapshot if there is one to serve now
 * (true: the call was answered, the caller frees it). For a route's fast
 * function. tz: the zone whose days the body counts in (api_zone_param; ""
 * for UTC); a body in another zone is rendered from the snapshot's tally
 * at the first request and kept until the next snapshot. */
bool api_snapshot_serve_now (api_t *api, api_call_t *call, api_snapshot_body_t which,
                             const char *tz);

/* Loop: answers call with the body as soon as a snapshot can serve it (at
 * once, or when the awaited scan ends; 503 if it fails). Takes ownership of
 * call. For a route's done function. tz as for api_snapshot_serve_now. */
void api_snapshot_serve (api_t *api, api_call_t *call, api_snapshot_body_t which, const char *tz);

/* Loop: renders the page of GET /api/tickets for q (no filter, default
 * sort: the caller checks) from the newest tickets kept in the snapshot
 * (newest.h) into *body (malloc'd, caller frees; *returned items). false
 * when there is no snapshot, TRIAGE_API_NEWEST_KEEP is 0, or the page does
 * not lie inside the kept window: the database answers then. */
bool api_snapshot_tickets_page (api_t *api, const tk_query_t *q, char **body, size_t *len,
                                uint32_t *returned);

/* Loop, once a write of the api has succeeded: a ticket was stored or
 * changed. Patches the kept newest tickets at once (api_newest_put: json,
 * taken over, malloc'd, is the document rendered by api_ticket_doc_json,
 * unformatted, or NULL when it renders no valid ticket; placed says the
 * document has a date created_at, ms, and a string id, id), and replays the
 * patch onto the window of a scan running meanwhile, which may have read
 * the document before the write. Nothing when no snapshot is kept. */
void api_snapshot_ticket_put (api_t *api, bool placed, int64_t ms, const char *id, char *json,
                              size_t len);

/* Loop, once a delete of the api has succeeded: the ticket id leaves the
 * kept newest tickets, now and in the window of a scan running meanwhile. */
void api_snapshot_ticket_deleted (api_t *api, const char *id);

/* Loop: a write of the api to ticket id is queued (begin) and its call is
 * over, whatever the outcome (end; one end for each begin). When two writes
 * of one ticket are in flight at once they may finish in another order than
 * they reached the database, so their patches would not tell the last
 * state: the window is dropped instead (the database answers the listing
 * until the next scan). */
void api_snapshot_write_begin (api_t *api, const char *id);
void api_snapshot_write_end (api_t *api, const char *id);

/* Loop: tickets changed in a way that cannot be patched (a retention run):
 * the window is dropped, and the database answers the listing until the
 * next scan brings a new one. */
void api_snapshot_tickets_changed (api_t *api);

/* Loop: starts a refresh (or, when one is running, another right after it)
 * and answers call with {"refreshed":true,"dropped":n,"generated_at":...}
 * once it has ended, n being the filtered analytics answers dropped from the
 * cache plus the snapshot replaced. Takes ownership of call. */
void api_snapshot_refresh (api_t *api, api_call_t *call);

/* Loop: tickets were changed by another service (services/api/follow.c
 * learns of it from the topics): the statistics should follow soon. The
 * next refresh is brought forward to at most delay_ms from now (a refresh
 * due sooner stays), but never to sooner after the last scan's end than
 * that scan took, so a slow server is still never scanned back to back;
 * while a scan runs, the one after it is due delay_ms after its end, with
 * the same floor. Any number of calls before the refresh starts share it.
 * Nothing when no snapshot is kept (TRIAGE_API_CACHE_TTL=0) or it stops. */
void api_snapshot_refresh_soon (api_t *api, uint64_t delay_ms);

/* Shutdown step: stops the timer, cancels a running scan, answers waiting
 * requests with 503 and finishes the step when the scan has returned. */
void api_snapshot_stop (void *user_data, void *token);

#endif
