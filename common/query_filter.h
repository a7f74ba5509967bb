/* query_filter.h - URL parameters of the ticket listings turned into a
 * MongoDB filter, a sort and a keyset cursor.
 *
 * GET /api/tickets, /api/processed-tickets, /api/analytics and the exports
 * share these parameters (each may repeat; priority, sentiment, topic and
 * status also take comma-separated lists):
 *
 *   status           processed | unprocessed | failed (unprocessed with at
 *                    least one failed attempt); several are OR-ed
 *   priority, sentiment, topic
 *                    labels of the taxonomy, matched ignoring case and stored
 *                    in canonical spelling; an unknown label is an error, so
 *                    no user text ever reaches the filter as a value here
 *   created_from, created_to, processed_from, processed_to, stored_from,
 *   stored_to        ISO-8601 (tk_time_parse_iso); from is inclusive, to is
 *                    exclusive; stored_* is when the store first held the
 *                    ticket (stored_at, store.h)
 *   confidence_below a number in [0, 1]: a ticket matches when any of its
 *                    three confidence scores is below it
 *   needs_review     true: the tickets flagged for review when classified
 *                    (a confidence under TRIAGE_REVIEW_BELOW); false: the
 *                    others
 *   q                text searched in id, subject, body and the labels,
 *                    case-insensitive, up to TK_QUERY_TEXT_MAX characters
 *                    (a longer one is refused: "search text is limited to
 *                    256 characters"); every regex metacharacter is escaped,
 *                    so the text is matched literally, and it is only ever a
 *                    string value, never an operator
 *   sort             created_at | -created_at (default) | processed_at |
 *                    -processed_at; sorting by processed_at lists only
 *                    tickets that have one
 *   limit            1..1000, default 50
 *   cursor           the next_cursor of the previous page
 *
 * Pagination is keyset on (sort field, id), so pages stay correct while
 * tickets are inserted: a new ticket never shifts an old one into a page
 * already served or out of the coming ones.
 *
 * Everything here is pure (no I/O), for unit tests.
 */
#ifndef TK_QUERY_FILTER_H
#define TK_QUERY_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bson/bson.h>

#include "error.h"
#include "taxonomy.h"
#include "ticket.h"

#define TK_QUERY_DEFAULT_LIMIT 50
#define TK_QUERY_MAX_LIMIT 1000
#define TK_QUERY_MAX_VALUES 64 /* values per multi-valued parameter */
#define TK_QUERY_TEXT_MAX 256  /* characters of q */
#define TK_QUERY_TEXT_MAX_BYTES (4 * TK_QUERY_TEXT_MAX) /* UTF-8: 4 bytes a character at most */

/* Which of the paging parameters a route accepts (filters always). */
#define TK_QUERY_ALLOW_SORT 1u
#define TK_QUERY_ALLOW_LIMIT 2u
#define TK_QUERY_ALLOW_CURSOR 4u
#define TK_QUERY_ALLOW_PAGING (TK_QUERY_ALLOW_SORT | TK_QUERY_ALLOW_LIMIT | TK_QUERY_ALLOW_CURSOR)

/* One decoded URL parameter; both strings borrowed. */
typedef struct {
   const char *key;
   const char *value;
} tk_query_param_t;

typedef enum {
   TK_SORT_CREATED_DESC = 0,
   TK_SORT_CREATED_ASC,
   TK_SORT_PROCESSED_DESC,
   TK_SORT_PROCESSED_ASC,
} tk_query_sort_t;

/* Labels of one kind asked for (OR-ed). */
typedef struct {
   const char *labels[TK_QUERY_MAX_VALUES]; /* canonical, borrowed from the taxonomy */
   size_t n;
} tk_query_labels_t;

/* The date parameters, one range per field, each a (from, to) pair:
 * indexes of has_time/time. */
enum {
   TK_QUERY_T_CREATED_FROM,
   TK_QUERY_T_CREATED_TO,
   TK_QUERY_T_PROCESSED_FROM,
   TK_QUERY_T_PROCESSED_TO,
   TK_QUERY_T_STORED_FROM,
   TK_QUERY_T_STORED_TO,
   TK_QUERY_N_TIMES
};

/* The filters as read, before they became `filter`: what another backend
 * (list_sql.h) builds its own condition from. */
typedef struct {
   tk_query_labels_t kinds[3]; /* by tk_taxonomy_kind_t */
   bool st_processed, st_unprocessed, st_failed;
   bool has_time[TK_QUERY_N_TIMES];
   int64_t time[TK_QUERY_N_TIMES]; /* ms */
   bool has_conf;
   double conf_below;
   int needs_review;                   /* -1 any, 0 false, 1 true */
   char text[TK_QUERY_TEXT_MAX_BYTES + 1]; /* q; "" when none */
} tk_query_where_t;

/* A built query. Owns filter; release with tk_query_cleanup. */
typedef struct {
   bson_t filter; /* the filters combined with $and; {} when none */
   tk_query_where_t where; /* the same filters, as read */
   tk_query_sort_t sort;
   uint32_t limit;
   bool has_cursor;
   int64_t cursor_ms;
   char cursor_id[TK_TICKET_ID_MAX + 1];
} tk_query_t;

/* Builds q from params (n of them). allow is a mask of TK_QUERY_ALLOW_*;
 * a paging parameter not allowed, or any other unknown key, is an error.
 * extra_keys (NULL-terminated, may be NULL) lists further keys the caller
 * handles itself; they are skipped here. tax is borrowed for the call.
 * On failure returns false with err (TK_ERR_INVALID, field = the parameter)
 * and q holds nothing to free; on success free it with tk_query_cleanup. */
bool tk_query_build (tk_query_t *q, const tk_query_param_t *params, size_t n,
                     const tk_taxonomy_t *tax, unsigned allow, const char *const *extra_keys,
                     tk_error_t *err);

/* Releases q's filter. Accepts NULL. Safe on a q whose build failed. */
void tk_query_cleanup (tk_query_t *q);

/* The document field q sorts on: "created_at" or
 * "processing_metadata.processed_at". Static string. */
const char *tk_query_sort_field (const tk_query_t *q);

/* Initialises out with q's filter plus the keyset condition of the cursor
 * (if any), and, for sorting on processed_at, that the field exists. after_ms
 * and after_id, when after_id is not NULL, override the cursor (the exports
 * walk page after page this way). Caller destroys out with bson_destroy. */
void tk_query_page_filter (const tk_query_t *q, int64_t after_ms, const char *after_id,
                           bson_t *out);

/* Initialises out with the sort document {field: +-1, id: +-1}. */
void tk_query_sort_doc (const tk_query_t *q, bson_t *out);

/* Writes the cursor that continues after the ticket (ms, id) in q's sort
 * into buf. false if buf is too small (needs 2 * TK_TICKET_ID_MAX + 32). */
bool tk_query_cursor_encode (const tk_query_t *q, int64_t ms, const char *id, char *buf,
                             size_t cap);

/* Copies s into out with every regex metacharacter backslash-escaped.
 * Returns a new string the caller frees with bson_free. */
char *tk_regex_escape (const char *s);

#endif
