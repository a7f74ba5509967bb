/* list_sql.h - the ids of a listing page from the side tables that the
 * local stack's PostgreSQL keeps beside FerretDB's table of the tickets
 * collection (deploy/local/postgres/ticket-list-tables.sql,
 * docs/decisions/0017).
 *
 * FerretDB 1.x filters and sorts in its own code after reading every
 * document, so a filtered list took seconds at 100k tickets and minutes at
 * a million. Here the page's ids come, in order, from indexed SQL, and with
 * them the documents themselves, read from FerretDB's own table by its _id
 * index in one more statement (ferretdb_doc.h turns them back into BSON):
 * what the page shows is what the collection holds. A document that
 * statement does not bring (deleted meanwhile, or an _id that is not a
 * string) is read by the caller from the collection.
 *
 * A page is declined (the caller answers from the collection, as without
 * this module) when the side tables are missing, when any stored ticket is
 * of a shape whose MongoDB semantics the tables do not reproduce (their
 * `exact` column), when q holds a byte the SQL search cannot match the way
 * MongoDB's case-blind regex does (anything but printable ASCII), or when
 * PostgreSQL fails (side tables older than a column a filter reads, e.g.
 * stored_at or corrected before ticket-list-tables.sql was applied again,
 * fail too). Blocking (libpq): call it on a threadpool thread; any number
 * of threads may use one tk_list_sql_t at once. */
#ifndef TK_LIST_SQL_H
#define TK_LIST_SQL_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "query_filter.h"

typedef struct tk_list_sql tk_list_sql_t;

/* A handle on the PostgreSQL at url (a libpq connection string or URI);
 * connects on first use, keeping up to max_idle connections open between
 * calls. NULL only when out of memory. */
tk_list_sql_t *tk_list_sql_new (const char *url, size_t max_idle);

/* Closes every connection. Accepts NULL. No call may be running. */
void tk_list_sql_destroy (tk_list_sql_t *s);

typedef enum {
   TK_LIST_SQL_OK,       /* *ids holds the page */
   TK_LIST_SQL_DECLINED, /* ask the collection (err says why) */
} tk_list_sql_result_t;

/* One ticket of a page. */
typedef struct {
   char *id;  /* the ticket's id */
   char *doc; /* its document as FerretDB stores it (JSON with its type map,
               * ferretdb_doc.h), or NULL: read it from the collection */
} tk_list_sql_row_t;

/* The tickets (at most q->limit + 1: one more tells that a next page
 * exists) of the page q asks for in database db, in the page's order, into
 * a new array *rows of *n that the caller frees with
 * tk_list_sql_rows_free. On DECLINED nothing is allocated and err says why
 * (TK_ERR_SQL for a PostgreSQL failure, TK_ERR_UNSUPPORTED for a
 * request or a collection the tables cannot answer exactly). On OK, *plan
 * (when plan is not NULL) names how the page was read: "filter" for a
 * list without a search; for a search, "newest" (found among the newest
 * rows of its order), "matches" (the trigram index's matches, sorted) or
 * "walk" (the order's rows read on until the page was full). */
tk_list_sql_result_t tk_list_sql_page (tk_list_sql_t *s, const char *db, const tk_query_t *q,
                                       tk_list_sql_row_t **rows, size_t *n, const char **plan,
                                       tk_error_t *err);

void tk_list_sql_rows_free (tk_list_sql_row_t *rows, size_t n);

/* The stored documents of the tickets whose `id`s are ids[0..n) in database
 * db, read from FerretDB's own table in one statement (its B-tree on `id`
 * answers it; no side table needed): docs[i] (caller frees) is ids[i]'s as
 * FerretDB stores it (ferretdb_doc.h), or NULL when the statement did not
 * bring it (no such ticket, or an id stored as another type): read that one
 * from the collection. false with err (every docs[i] NULL) when PostgreSQL
 * fails. Blocking, like tk_list_sql_page. */
bool tk_list_sql_documents_by_id (tk_list_sql_t *s, const char *db, const char *const *ids,
                                  size_t n, char **docs, tk_error_t *err);

/* Called with each stored document of a walk (tk_list_sql_each_document):
 * json (len bytes, NUL-terminated) as FerretDB stores it (ferretdb_doc.h),
 * borrowed for the call. false stops the walk; fn then sets err. */
typedef bool (*tk_list_sql_doc_fn) (void *ud, const char *json, size_t len, tk_error_t *err);

/* Hands every stored document of database db's tickets collection to fn,
 * read from FerretDB's own table (no side table needed) in the table's
 * physical order, as an unsorted find reads it. One snapshot: a
 * REPEATABLE READ, READ ONLY transaction begun by this call, so every
 * write committed before the call is seen and none made after it. Streamed:
 * a cursor fetched 1,000 rows at a time, never the whole collection in
 * memory. A collection that does not exist holds no document (true, fn
 * never called). false with err: fn's own when it stopped the walk, else
 * TK_ERR_SQL (PostgreSQL failed, or the database has no FerretDB schema).
 * Blocking, like tk_list_sql_page; holds one connection for the walk. */
bool tk_list_sql_each_document (tk_list_sql_t *s, const char *db, tk_list_sql_doc_fn fn, void *ud,
                                tk_error_t *err);

/* Whether some document of database db's tickets collection has no
 * top-level field named field (MongoDB's {field: {$exists: false}}), into
 * *any, read from FerretDB's own table in one statement (a sequential scan
 * that stops at the first such document: a second or two at a million
 * tickets, where FerretDB's own find takes a minute and a half). A
 * collection that does not exist has none. false with err (TK_ERR_SQL)
 * when PostgreSQL fails. Blocking, like tk_list_sql_page. */
bool tk_list_sql_any_missing (tk_list_sql_t *s, const char *db, const char *field, bool *any,
                              tk_error_t *err);

/* Asks for side tables on database db's tickets collection
 * (triage_list_enable in the SQL): made and filled now when the collection
 * exists (minutes at a million tickets: no statement timeout here), else
 * as soon as FerretDB creates it. Only enabled databases pay the trigger.
 * Copies "ready" or "waiting" into state. false with err when PostgreSQL
 * fails or the SQL is not installed. Blocking, like tk_list_sql_page. */
bool tk_list_sql_enable (tk_list_sql_t *s, const char *db, char *state, size_t cap,
                         tk_error_t *err);

#endif
