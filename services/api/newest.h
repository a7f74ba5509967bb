/* newest.h - the newest tickets of the collection, kept rendered in the
 * api's background snapshot so that the default listing
 * (GET /api/tickets without filters, newest first) needs no query
 * (docs/decisions/0006-api-statistics-snapshot.md).
 *
 * Two halves:
 *
 * - the collector (threadpool): fed every ticket document of the
 *   snapshot's scan, it keeps the `keep` newest by the listing's order
 *   (created_at descending, then id descending) in a bounded min-heap, so
 *   memory stays at `keep` documents however large the collection is.
 *   api_newest_finish sorts them and renders each one exactly as the
 *   database path of the listing does (api_ticket_doc_json, unformatted).
 *
 * - the window (loop only): those tickets newest first, from which
 *   api_newest_page renders a page of the listing byte for byte as the
 *   database path would have for the same data, with the same keyset
 *   cursor, or declines when the page does not lie inside the window. The
 *   api's own writes patch it (api_newest_put, api_newest_remove) so that
 *   they show at once; each patch keeps it "the newest n tickets" of the
 *   collection as the api last wrote them.
 */
#ifndef API_NEWEST_H
#define API_NEWEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>
#include <cjson/cJSON.h>

#include "query_filter.h"
#include "ticket.h"

typedef struct api_newest api_newest_t;

/* One stored ticket document as a write hands it to the window
 * (api_newest_put, through snapshot.h): the api's own writes and the
 * tickets read back after other services' writes (follow.h). */
typedef struct {
   bool placed; /* the document has a date created_at (ms) and a string id */
   int64_t ms;
   char id[TK_TICKET_ID_MAX + 1]; /* its string id, "" when it has none */
   char *json; /* malloc'd, unformatted; NULL: no valid ticket renders from it */
   size_t len;
} api_newest_entry_t;

/* Fills e from doc (borrowed) and json, its rendering by
 * api_ticket_doc_json (borrowed; NULL when none renders), printed
 * unformatted as the listing and the window print it; what e held is
 * freed. Aborts on out of memory, like api_call_new. Any thread. */
void api_newest_entry_set (api_newest_entry_t *e, const bson_t *doc, const cJSON *json);

/* Frees what e holds and empties it. Accepts NULL. */
void api_newest_entry_clear (api_newest_entry_t *e);

/* A collector that keeps the newest `keep` (> 0) tickets. Aborts on out of
 * memory, like tk_tally_new. */
api_newest_t *api_newest_new (size_t keep);

/* Frees n and what it owns. Accepts NULL. */
void api_newest_destroy (api_newest_t *n);

/* Offers one ticket document (borrowed for the call; copied when kept).
 * Documents without a date created_at or a string id cannot be placed in
 * the listing's order: they are not kept, and the window is then never
 * taken as the whole collection. false on out of memory. Threadpool. */
bool api_newest_add (api_newest_t *n, const bson_t *doc);

/* Ends the collection: sorts what was kept newest first and renders each
 * ticket; the documents are released. Afterwards n is a window and only
 * the functions below apply. false on out of memory. Threadpool. */
bool api_newest_finish (api_newest_t *n);

/* Tickets in the window. */
size_t api_newest_count (const api_newest_t *n);

/* Renders the page of the listing for q into *body (malloc'd, caller frees,
 * *len its length) when the whole page, and whether a ticket follows it,
 * can be told from the window: q must have no filter and the default sort
 * (the caller checks), the cursor (if any) must not lie past the oldest
 * kept ticket, and the page plus one more ticket must fit in the window
 * unless the window holds every ticket of the collection. *returned is the
 * number of items on the page. false when the database must answer (or on
 * out of memory). Loop only: the window is patched there (below). */
bool api_newest_page (const api_newest_t *n, const tk_query_t *q, char **body, size_t *len,
                      uint32_t *returned);

/* A ticket was stored or changed: json (borrowed; len bytes, copied; NULL
 * when the document renders no valid ticket, which the listing skips) is its
 * rendering by api_ticket_doc_json, unformatted, and (ms, id) its
 * created_at and id when placed. The entry of id (if kept) is replaced in
 * place when its created_at is unchanged, else it is removed and the ticket
 * inserted in order, provided it is not older than the oldest kept ticket
 * (or the window holds the whole collection). A full window lets its oldest
 * ticket go. When !placed (no date created_at or string id: it sorts after
 * every dated ticket) the entry is removed and the window no longer claims
 * to hold the whole collection. false on out of memory: the window may be
 * half patched (the old entry or the oldest ticket already gone) and must
 * not serve again; the caller destroys it. Finished windows only. Loop. */
bool api_newest_put (api_newest_t *n, bool placed, int64_t ms, const char *id, const char *json,
                     size_t len);

/* A ticket was deleted: its entry (if kept) is removed; the window is then
 * the newest n-1 tickets. Finished windows only. Loop. */
void api_newest_remove (api_newest_t *n, const char *id);

#endif
