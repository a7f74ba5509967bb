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
 * - the window (loop, immutable once finished): those tickets newest first,
 *   from which api_newest_page renders a page of the listing byte for byte
 *   as the database path would have for the same data, with the same keyset
 *   cursor, or declines when the page does not lie inside the window.
 */
#ifndef API_NEWEST_H
#define API_NEWEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "query_filter.h"

typedef struct api_newest api_newest_t;

/* A collector that keeps the newest `keep` (> 0) tickets. Aborts on out of
 * memory, like api_tally_new. */
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
 * out of memory). Loop, or any thread while the window is not freed. */
bool api_newest_page (const api_newest_t *n, const tk_query_t *q, char **body, size_t *len,
                      uint32_t *returned);

#endif
