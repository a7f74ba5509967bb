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
 *                    (a confidence under TRIAGE_REVIEW_BELOW) and not yet
 *                    corrected by a person; false: the others
 *   corrected        true: the tickets whose labels a person corrected (or
 *                    confirmed); false: the others
 *   q                text searched in id, subject, body and the labels,
 *                    case-insensitive, up to TK_QUERY_TEXT_MAX characters
 *                    (a longer one is refused: "search text is limited to
 *                    256 characters"); every regex metacharacter is escaped,
 *                    so the text is matched literally, and it is only ever a
 *                    string value, never an operator
 *   sort             created_at | -created_at (default) | processed_at |
 *                    -processed_at | priority | -priority | sentiment |
 *                    -sentiment | confidence_topic | confidence_sentiment |
 *                    confidence_priority (each also with -); a sort by
 *                    anything but created_at lists only the tickets that
 *                    have that field (the processed ones); the label and
 *                    confidence sorts then order by created_at and id in
 *                    the same direction
 *   limit            1..1000, default 50
 *   cursor           the next_cursor of the previous page
 *
 * Pagination is keyset on (sort field[, created_at], id), so pages stay correct while
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

/* The sort orders (query_sort.c has each one's field and cursor code). */
typedef enum {
   TK_SORT_CREATED_DESC = 0,
   TK_SORT_CREATED_ASC,
   TK_SORT_PROCESSED_DESC,
   TK_SORT_PROCESSED_ASC,
   TK_SORT_PRIORITY_DESC,
   TK_SORT_PRIORITY_ASC,
   TK_SORT_SENTIMENT_DESC,
   TK_SORT_SENTIMENT_ASC,
   TK_SORT_CONF_TOPIC_DESC,
   TK_SORT_CONF_TOPIC_ASC,
   TK_SORT_CONF_SENTIMENT_DESC,
   TK_SORT_CONF_SENTIMENT_ASC,
   TK_SORT_CONF_PRIORITY_DESC,
   TK_SORT_CONF_PRIORITY_ASC,
   TK_SORT_N
} tk_query_sort_t;

/* What a sort orders by first: a date (created_at, processed_at: the
 * keyset is (date, id)), a label or a confidence (the keyset is (value,
 * created_at, id)). */
typedef enum { TK_SORT_KEY_DATE, TK_SORT_KEY_LABEL, TK_SORT_KEY_NUMBER } tk_query_sort_key_t;

#define TK_QUERY_CURSOR_KEY_MAX 128 /* bytes of a label or number in a cursor */

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
   int corrected;                      /* -1 any, 0 false, 1 true */
   char text[TK_QUERY_TEXT_MAX_BYTES + 1]; /* q; "" when none */
} tk_query_where_t;

/* A built query. Owns filter; release with tk_query_cleanup. */
typedef struct {
   bson_t filter; /* the filters combined with $and; {} when none */
   tk_query_where_t where; /* the same filters, as read */
   tk_query_sort_t sort;
   uint32_t limit;
   bool has_cursor;
   int64_t cursor_ms; /* the date: the sort's own, or created_at after a key */
   char cursor_id[TK_TICKET_ID_MAX + 1];
   /* label and number sorts: the label, or the number as text ("%.17g") */
   char cursor_key[TK_QUERY_CURSOR_KEY_MAX + 1];
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

/* ---- sorting and paging (query_sort.c) ---- */

/* The document field q sorts on first ("created_at",
 * "processing_metadata.processed_at", "classification.priority", ...).
 * Static string. */
const char *tk_query_sort_field (const tk_query_t *q);

/* What that field holds, and whether the order is descending. */
tk_query_sort_key_t tk_query_sort_key (const tk_query_t *q);
bool tk_query_sort_desc (const tk_query_t *q);

/* Initialises out with q's filter plus the keyset condition of the cursor
 * (if any), and, for sorting on processed_at, that the field exists.
 * Caller destroys out with bson_destroy. */
void tk_query_page_filter (const tk_query_t *q, bson_t *out);

/* Initialises out with the sort document {field: +-1, [created_at: +-1,]
 * id: +-1}. */
void tk_query_sort_doc (const tk_query_t *q, bson_t *out);

/* Writes the cursor that continues after the ticket (ms, id) in a date
 * sort of q into buf. false if buf is too small (needs TK_QUERY_CURSOR_MAX)
 * or q's sort is not by a date. */
#define TK_QUERY_CURSOR_MAX (2 * TK_TICKET_ID_MAX + 2 * TK_QUERY_CURSOR_KEY_MAX + 48)
bool tk_query_cursor_encode (const tk_query_t *q, int64_t ms, const char *id, char *buf,
                             size_t cap);

/* Writes the cursor that continues after document doc in q's sort into
 * buf (TK_QUERY_CURSOR_MAX bytes). false when doc lacks what the sort
 * needs (a string id, a date, a label or number of the right type). */
bool tk_query_cursor_of (const tk_query_t *q, const bson_t *doc, char *buf, size_t cap);

/* For tk_query_build: sort= and cursor= read into q (and the sort the
 * cursor was made for into *cursor_sort); false with err (TK_ERR_INVALID). */
bool tk_query_parse_sort (const char *value, tk_query_sort_t *out, tk_error_t *err);
bool tk_query_parse_cursor (tk_query_t *q, const char *value, tk_query_sort_t *cursor_sort,
                            tk_error_t *err);

/* Fills err (TK_ERR_INVALID, field) with "field: msg (got "value")", the
 * value cut to 60 characters. Returns false. */
bool tk_query_invalid (tk_error_t *err, const char *field, const char *msg, const char *value);

/* Copies s into out with every regex metacharacter backslash-escaped.
 * Returns a new string the caller frees with bson_free. */
char *tk_regex_escape (const char *s);

#endif
