/* audit_log.h - the audit_log collection: who did what, from where, to which
 * tickets, and when. This is the one file that writes and reads it; the
 * services build records with tk_audit_record_new and write them off the
 * loop (the api from its request runner and its after-the-response queue,
 * ingest after an upload, the retention job, `triagectl keys`).
 *
 * A record:
 *   {at, service, key_id, role, client, method, route, path, query, action,
 *    status, detail?, ticket_ids?, ticket_count?}
 * service is "api", "ingest" or "triagectl"; key_id names the API key
 * ("bootstrap" for TRIAGE_ADMIN_KEY, "auth-off", or its api_keys id);
 * client is the address the request came from (tk_http_request_remote_addr:
 * the peer, or what a trusted proxy reported); detail holds what the action
 * adds (counts, a job id, a format). A request that stores, changes or
 * deletes tickets lists them: ticket_ids holds the first TK_AUDIT_IDS_MAX
 * ids, ticket_count counts all of them, so a record stays small however
 * many tickets one request touched.
 *
 * Building a record is pure (any thread); tk_audit_insert,
 * tk_audit_insert_many and tk_audit_find talk to MongoDB and BLOCK: call
 * them from a threadpool thread, never on a loop.
 */
#ifndef TK_AUDIT_LOG_H
#define TK_AUDIT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "error.h"

#define TK_AUDIT_COLLECTION "audit_log"
#define TK_AUDIT_IDS_MAX 100     /* ticket ids listed in one record; the rest are counted */
#define TK_AUDIT_QUERY_MAX 2048  /* bytes of the query string kept */

/* The tickets one request stored, changed or deleted: the first
 * TK_AUDIT_IDS_MAX ids, and how many there were. Zero-initialise it. */
typedef struct {
   char **ids;   /* owned, n of them */
   size_t n;
   size_t total; /* every id added */
} tk_audit_ids_t;

/* Counts id and keeps a copy while fewer than TK_AUDIT_IDS_MAX are kept.
 * false when out of memory (it is still counted). */
bool tk_audit_ids_add (tk_audit_ids_t *ids, const char *id);

/* Frees the copies; ids may be reused (it is zeroed). Accepts NULL. */
void tk_audit_ids_cleanup (tk_audit_ids_t *ids);

/* What a record says. Strings are borrowed; NULL ones (and ones that are
 * not valid UTF-8) are left out, except key_id and role, which default to
 * "unknown" and "none". */
typedef struct {
   const char *service; /* "api", "ingest", "triagectl" */
   const char *key_id;
   const char *role;
   const char *client;  /* the client's address */
   const char *method;  /* "POST", or "JOB" / "CLI" outside HTTP */
   const char *route;   /* the matched pattern */
   const char *path;    /* raw, as requested */
   const char *query;   /* raw; cut to TK_AUDIT_QUERY_MAX bytes */
   const char *action;  /* "tickets.upload", "keys.list", ... */
   int status;          /* the answer's status; 0 is written as 200 */
   const bson_t *detail;          /* may be NULL */
   const tk_audit_ids_t *tickets; /* NULL: the action touches no tickets */
} tk_audit_entry_t;

/* A new record for e, stamped with the current time. Caller destroys it
 * with bson_destroy. Aborts on out of memory, like bson_new. */
bson_t *tk_audit_record_new (const tk_audit_entry_t *e);

/* BLOCKING. Inserts one record through client (borrowed) into db. false
 * with err (TK_ERR_MONGO) when the database refused or could not be
 * reached. */
bool tk_audit_insert (mongoc_client_t *client, const char *db, const bson_t *record,
                      tk_error_t *err);

/* BLOCKING. Inserts n records, unordered (one bad record does not stop the
 * others). false with err when any was not written. */
bool tk_audit_insert_many (mongoc_client_t *client, const char *db, const bson_t *const *records,
                           size_t n, tk_error_t *err);

/* BLOCKING. The newest limit records, those of key_id and of action when
 * they are not NULL (compared as plain strings). Caller destroys the
 * cursor, which borrows client. */
mongoc_cursor_t *tk_audit_find (mongoc_client_t *client, const char *db, const char *key_id,
                                const char *action, int64_t limit);

#endif
