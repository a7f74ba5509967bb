/* ticket_tally.h - the figures of a set of tickets, counted in C in one pass
 * over the matching documents (a find with a projection of the few fields
 * needed, batch size 1000). The one statistics implementation: the store's
 * processing statistics (tk_store_get_processing_stats) and the api's
 * GET /api/analytics and GET /api/processing-stats are renderings of a
 * tally.
 *
 * Why one scan counted in C, not counts or a pipeline: FerretDB 1.24 has no
 * $dateToString, computes only the first accumulator of a $group correctly
 * and mishandles $unwind on dotted paths, and every filter other than
 * {_id: value} is a full scan decoded in Go there, so a count per figure
 * costs a full scan each. One find is portable and consistent: every number
 * comes from the same documents. On the local stack the same documents can
 * be read from FerretDB's table in PostgreSQL instead (tk_tally_scan_sql,
 * decision 0006), counted by the same code.
 *
 * Threads: a tally belongs to one thread at a time; tk_tally_scan blocks
 * (threadpool or a tool's main thread).
 */
#ifndef TK_TICKET_TALLY_H
#define TK_TICKET_TALLY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>

#include "error.h"
#include "store.h"
#include "taxonomy.h"
#include "timezone.h"

typedef struct tk_tally tk_tally_t;

/* A new empty tally. now_ms decides "processed today" (since midnight in the
 * zone a rendering names). Aborts on out of memory. */
tk_tally_t *tk_tally_new (int64_t now_ms);

/* Frees t and what it owns. Accepts NULL. */
void tk_tally_destroy (tk_tally_t *t);

/* Called with each document a scan counts (borrowed for the call); false
 * stops the scan as out of memory. */
typedef bool (*tk_tally_each_fn) (void *ud, const bson_t *doc);

/* Counts the tickets of db matching filter (borrowed) into t, in one find
 * on client (borrowed). With each (may be NULL) every document is also
 * offered to each(ud, doc), and the find then reads whole documents; without
 * it only the counted fields. cancel (may be NULL) is polled between
 * documents: when it becomes true the scan stops with TK_ERR_IO. false with
 * err (TK_ERR_MONGO if the database failed, TK_ERR_NOMEM if memory ran
 * out). Blocking. */
bool tk_tally_scan (tk_tally_t *t, mongoc_client_t *client, const char *db, const bson_t *filter,
                    tk_tally_each_fn each, void *ud, const atomic_bool *cancel, tk_error_t *err);

struct tk_list_sql;

/* tk_tally_scan of every ticket of db (no filter), read instead from
 * FerretDB's own table in PostgreSQL through sql (borrowed; list_sql.h,
 * the local stack only) in one snapshot, each stored document turned back
 * into the BSON FerretDB would answer with (ferretdb_doc.h) and counted and
 * offered to each exactly as tk_tally_scan does: the same figures, without
 * FerretDB decoding every document in Go. Always whole documents. false
 * with err: TK_ERR_UNSUPPORTED or TK_ERR_INVALID when a stored document
 * cannot be read back exactly, TK_ERR_SQL when PostgreSQL fails, TK_ERR_IO
 * when cancelled, TK_ERR_NOMEM; t (and what each kept) then holds part of
 * the collection: a caller that falls back to tk_tally_scan starts again
 * with a new tally. Blocking. */
bool tk_tally_scan_sql (tk_tally_t *t, struct tk_list_sql *sql, const char *db,
                        tk_tally_each_fn each, void *ud, const atomic_bool *cancel,
                        tk_error_t *err);

/* Counts one ticket document (borrowed for the call) into t, as
 * tk_tally_scan does for each document it reads; exposed so that the
 * counting is unit-tested without a server. false on out of memory (t then
 * holds part of the document). */
bool tk_tally_add (tk_tally_t *t, const bson_t *doc);

/* The spec's processing statistics of the tally into *out (a plain struct):
 * priorities sorted by label, processed tickets without one (or beyond
 * TK_STATS_MAX_PRIORITIES labels) in priority_other. */
void tk_tally_processing_stats (const tk_tally_t *t, tk_processing_stats_t *out);

/* Renderings of a tally take the zone (timezone.h; NULL: UTC) whose days
 * the per-day series and "processed today" count in; it is named in the
 * answer as "time_zone". The zone is used for the call (its lookup cache
 * changes), so one zone per thread. */

/* The body of the api's GET /api/analytics for the tally. Caller frees;
 * NULL when out of memory. */
cJSON *tk_tally_analytics_json (const tk_tally_t *t, tk_zone_t *zone);

/* The body of the api's GET /api/processing-stats for the tally: the spec's
 * names (total_tickets, total_processed, total_unprocessed, processed_today,
 * priority_distribution) and more. With tax (may be NULL) every label of
 * the taxonomy is in its distribution, 0 when no ticket has it. Caller
 * frees. */
cJSON *tk_tally_stats_json (const tk_tally_t *t, const tk_taxonomy_t *tax, tk_zone_t *zone);

/* Counts of the tally: all, processed. */
uint64_t tk_tally_total (const tk_tally_t *t);
uint64_t tk_tally_processed (const tk_tally_t *t);

#endif
