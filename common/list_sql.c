/* list_sql.c - a listing page (its ids and documents) from the side tables on PostgreSQL
 * (see list_sql.h). Every value reaches PostgreSQL as a bind parameter;
 * only the schema name (quoted by libpq) and fixed SQL text are spliced. */
#include "list_sql.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MAX_PARAMS 16

struct tk_list_sql {
   char *url;
   pthread_mutex_t lock;
   PGconn **idle; /* connections not in use, at most max_idle */
   size_t n_idle, max_idle;
};

tk_list_sql_t *
tk_list_sql_new (const char *url, size_t max_idle)
{
   tk_list_sql_t *s = calloc (1, sizeof *s);
   if (!s) {
      return NULL;
   }
   s->max_idle = max_idle ? max_idle : 1;
   s->url = strdup (url);
   s->idle = calloc (s->max_idle, sizeof *s->idle);
   if (!s->url || !s->idle || pthread_mutex_init (&s->lock, NULL) != 0) {
      free (s->url);
      free (s->idle);
      free (s);
      return NULL;
   }
   return s;
}

void
tk_list_sql_destroy (tk_list_sql_t *s)
{
   if (!s) {
      return;
   }
   for (size_t i = 0; i < s->n_idle; i++) {
      PQfinish (s->idle[i]);
   }
   pthread_mutex_destroy (&s->lock);
   free (s->idle);
   free (s->url);
   free (s);
}

void
tk_list_sql_rows_free (tk_list_sql_row_t *rows, size_t n)
{
   for (size_t i = 0; rows && i < n; i++) {
      free (rows[i].id);
      free (rows[i].doc);
   }
   free (rows);
}

/* A new connection: 5 s to connect; no statement runs longer than 10 s;
 * no parallel workers (many pages at once on a few cores, where they only
 * added work). NULL with err when PostgreSQL cannot be reached. */
static PGconn *
conn_new (tk_list_sql_t *s, tk_error_t *err)
{
   PGconn *c;
   /* The URL's own settings override the ones before it (an
    * application_name of its own, say), not the ones after. */
   const char *const keys[] = {"application_name", "dbname", "connect_timeout", "options",
                               NULL};
   const char *const values[] = {
      "triage-api", s->url, "5", "-c statement_timeout=10000 -c max_parallel_workers_per_gather=0",
      NULL};
   c = PQconnectdbParams (keys, values, 1);
   if (!c || PQstatus (c) != CONNECTION_OK) {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s",
                    c ? PQerrorMessage (c) : "out of memory");
      PQfinish (c);
      return NULL;
   }
   return c;
}

/* An idle connection (*reused true), or a new one. */
static PGconn *
conn_get (tk_list_sql_t *s, bool *reused, tk_error_t *err)
{
   PGconn *c = NULL;
   pthread_mutex_lock (&s->lock);
   if (s->n_idle > 0) {
      c = s->idle[--s->n_idle];
   }
   pthread_mutex_unlock (&s->lock);
   *reused = c != NULL;
   return c ? c : conn_new (s, err);
}

/* Gives c back for the next call, or closes it when it is broken or the
 * idle list is full. */
static void
conn_put (tk_list_sql_t *s, PGconn *c)
{
   if (PQstatus (c) == CONNECTION_OK && PQtransactionStatus (c) == PQTRANS_IDLE) {
      pthread_mutex_lock (&s->lock);
      if (s->n_idle < s->max_idle) {
         s->idle[s->n_idle++] = c;
         c = NULL;
      }
      pthread_mutex_unlock (&s->lock);
   }
   PQfinish (c);
}

/* Whether a call that failed on c, an idle connection of the pool, should
 * run once more on a new one: the server closed c while it waited (a
 * restart, an idle timeout), which only its first statement finds out. c
 * is closed then, and err cleared. */
static bool
conn_retry (PGconn **c, bool reused, tk_error_t *err)
{
   if (!reused || PQstatus (*c) != CONNECTION_BAD) {
      return false;
   }
   PQfinish (*c);
   *c = NULL;
   tk_error_clear (err);
   return true;
}

/* ---- the statement -------------------------------------------------------- */

typedef struct {
   tk_buf_t sql;
   const char *values[MAX_PARAMS];
   char *owned[MAX_PARAMS]; /* the values this builder allocated */
   int n;
   bool nomem;
} stmt_t;

/* Adds value as the next bind parameter (copied when copy); appends its
 * placeholder "$N" followed by cast (e.g. "::text[]", may be ""). */
static void
stmt_param (stmt_t *st, const char *value, bool copy, const char *cast)
{
   if (st->n == MAX_PARAMS) {
      st->nomem = true;
      return;
   }
   char *v = copy ? strdup (value) : NULL;
   if (copy && !v) {
      st->nomem = true;
      return;
   }
   st->owned[st->n] = v;
   st->values[st->n] = copy ? v : value;
   st->n++;
   st->nomem |= !tk_buf_appendf (&st->sql, "$%d%s", st->n, cast);
}

static void
stmt_sql (stmt_t *st, const char *text)
{
   st->nomem |= !tk_buf_append_str (&st->sql, text);
}

static void
stmt_int (stmt_t *st, int64_t v)
{
   char num[32];
   snprintf (num, sizeof num, "%lld", (long long) v);
   stmt_param (st, num, true, "::bigint");
}

static void
stmt_free (stmt_t *st)
{
   for (int i = 0; i < st->n; i++) {
      free (st->owned[i]);
   }
   tk_buf_destroy (&st->sql);
}

/* A text[] literal of the labels: {"a","b"} with " and \ escaped. */
static char *
array_literal (const char *const *labels, size_t n)
{
   tk_buf_t b = TK_BUF_INIT;
   bool ok = tk_buf_append_str (&b, "{");
   for (size_t i = 0; i < n && ok; i++) {
      ok = tk_buf_append_str (&b, i ? ",\"" : "\"");
      for (const char *p = labels[i]; *p && ok; p++) {
         ok = (*p != '"' && *p != '\\') || tk_buf_append (&b, "\\", 1);
         ok = ok && tk_buf_append (&b, p, 1);
      }
      ok = ok && tk_buf_append_str (&b, "\"");
   }
   ok = ok && tk_buf_append_str (&b, "}");
   if (!ok) {
      tk_buf_destroy (&b);
      return NULL;
   }
   return tk_buf_steal (&b, NULL);
}

static void
stmt_array (stmt_t *st, const char *const *labels, size_t n)
{
   char *lit = array_literal (labels, n);
   if (!lit) {
      st->nomem = true;
      return;
   }
   stmt_param (st, lit, true, "::text[]");
   free (lit);
}

/* The LIKE pattern of q: "%q%", ASCII lower-cased (as triage_fold does the
 * stored text), with \, % and _ escaped. false when q holds a byte the
 * SQL match cannot treat exactly as MongoDB's case-blind regex: anything
 * but printable ASCII (a control byte could span the separator between
 * fields; a non-ASCII letter has case foldings outside ASCII). */
static bool
like_pattern (const char *q, char *out, size_t cap)
{
   size_t j = 0;
   out[j++] = '%';
   for (const unsigned char *p = (const unsigned char *) q; *p; p++) {
      if (*p < 0x20 || *p > 0x7e || j + 4 > cap) {
         return false;
      }
      if (*p == '\\' || *p == '%' || *p == '_') {
         out[j++] = '\\';
      }
      out[j++] = (char) (*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
   }
   out[j++] = '%';
   out[j] = '\0';
   return true;
}

/* The text a search matches, as the stored text is folded (see
 * like_pattern, which has already refused what it cannot match): for
 * strpos, which no index serves, so that a walk stays a walk. */
static void
folded_text (const char *q, char *out, size_t cap)
{
   size_t j = 0;
   for (const unsigned char *p = (const unsigned char *) q; *p && j + 1 < cap; p++) {
      out[j++] = (char) (*p >= 'A' && *p <= 'Z' ? *p + ('a' - 'A') : *p);
   }
   out[j] = '\0';
}

/* The WHERE conditions of q.where on the list table `l` (each preceded
 * by " AND "). */
static void
stmt_where (stmt_t *st, const tk_query_t *q)
{
   const tk_query_where_t *w = &q->where;
   if (w->st_processed || w->st_unprocessed || w->st_failed) {
      const char *alts[3];
      int n = 0;
      if (w->st_processed) {
         alts[n++] = "l.processed";
      }
      if (w->st_unprocessed) {
         alts[n++] = "NOT l.processed";
      }
      if (w->st_failed) {
         alts[n++] = "(NOT l.processed AND l.attempts > 0)";
      }
      stmt_sql (st, " AND (");
      for (int i = 0; i < n; i++) {
         stmt_sql (st, i ? " OR " : "");
         stmt_sql (st, alts[i]);
      }
      stmt_sql (st, ")");
   }
   static const char *const kind_sql[3] = {" AND l.topics && ", " AND l.sentiment = ANY (",
                                           " AND l.priority = ANY ("};
   for (int kind = 0; kind < 3; kind++) {
      if (w->kinds[kind].n > 0) {
         stmt_sql (st, kind_sql[kind]);
         stmt_array (st, w->kinds[kind].labels, w->kinds[kind].n);
         stmt_sql (st, kind == TK_TAXONOMY_TOPIC ? "" : ")");
      }
   }
   /* From inclusive, to exclusive, as query_filter.c's $gte / $lt on a
    * date; a ticket without the date (NULL here) is in no range, as in
    * MongoDB, and one whose date is of another type makes the table
    * inexact (ticket-list-tables.sql). */
   static const char *const time_sql[TK_QUERY_N_TIMES] = {
      " AND l.created_at >= ",   " AND l.created_at < ", " AND l.processed_at >= ",
      " AND l.processed_at < ", " AND l.stored_at >= ",  " AND l.stored_at < "};
   for (int t = 0; t < TK_QUERY_N_TIMES; t++) {
      if (w->has_time[t]) {
         stmt_sql (st, time_sql[t]);
         stmt_int (st, w->time[t]);
      }
   }
   if (w->has_conf) {
      char num[40];
      snprintf (num, sizeof num, "%.17g", w->conf_below);
      stmt_sql (st, " AND (l.conf_topic < ");
      stmt_param (st, num, true, "::float8");
      stmt_sql (st, " OR l.conf_sentiment < $");
      st->nomem |= !tk_buf_appendf (&st->sql, "%d OR l.conf_priority < $%d)", st->n, st->n);
   }
   if (w->needs_review >= 0) {
      stmt_sql (st, w->needs_review ? " AND l.needs_review" : " AND NOT l.needs_review");
   }
   /* processing_metadata.corrected_at present ($exists), whatever its
    * value: the trigger's `corrected`. */
   if (w->corrected >= 0) {
      stmt_sql (st, w->corrected ? " AND l.corrected" : " AND NOT l.corrected");
   }
}

/* The column each sort of tk_query_sort_t orders by first (by pairs:
 * descending, ascending); a sort lists only the rows where it is not NULL
 * (query_sort.c). Labels compare bytewise, as MongoDB compares strings. */
static const char *const sort_sql[TK_SORT_N / 2] = {
   "l.created_at",    "l.processed_at",     "l.priority COLLATE \"C\"",
   "l.sentiment COLLATE \"C\"", "l.conf_topic", "l.conf_sentiment",
   "l.conf_priority",
};

/* The keyset condition of q's sort (each part preceded by " AND "): the
 * rows after the cursor, and only rows where the sort's column is set. */
static void
stmt_keyset (stmt_t *st, const tk_query_t *q)
{
   bool desc = tk_query_sort_desc (q);
   tk_query_sort_key_t key = tk_query_sort_key (q);
   const char *field = sort_sql[(unsigned) q->sort / 2 % (TK_SORT_N / 2)];
   if (q->sort != TK_SORT_CREATED_ASC && q->sort != TK_SORT_CREATED_DESC) {
      st->nomem |= !tk_buf_appendf (&st->sql, " AND %s IS NOT NULL", field);
   }
   if (q->has_cursor) {
      st->nomem |= !tk_buf_appendf (&st->sql, " AND (%s%s, l.id) %s (", field,
                                    key != TK_SORT_KEY_DATE ? ", l.created_at" : "",
                                    desc ? "<" : ">");
      if (key == TK_SORT_KEY_LABEL) {
         stmt_param (st, q->cursor_key, false, "::text COLLATE \"C\", ");
      } else if (key == TK_SORT_KEY_NUMBER) {
         stmt_param (st, q->cursor_key, false, "::float8, ");
      }
      stmt_int (st, q->cursor_ms);
      stmt_sql (st, ", ");
      stmt_param (st, q->cursor_id, false, "::text COLLATE \"C\")");
   }
}

/* The ORDER BY of q's sort on `l`, and LIMIT limit. */
static void
stmt_order_by (stmt_t *st, const tk_query_t *q, unsigned limit)
{
   const char *dir = tk_query_sort_desc (q) ? "DESC" : "ASC";
   const char *field = sort_sql[(unsigned) q->sort / 2 % (TK_SORT_N / 2)];
   st->nomem |= !tk_buf_appendf (&st->sql, " ORDER BY %s %s", field, dir);
   if (tk_query_sort_key (q) != TK_SORT_KEY_DATE) {
      st->nomem |= !tk_buf_appendf (&st->sql, ", l.created_at %s", dir);
   }
   st->nomem |= !tk_buf_appendf (&st->sql, ", l.id %s LIMIT %u", dir, limit);
}

/* The keyset condition and the order of q's sort: a page and one more. */
static void
stmt_order (stmt_t *st, const tk_query_t *q)
{
   stmt_keyset (st, q);
   stmt_order_by (st, q, q->limit + 1);
}

/* Runs st on c; NULL with err when PostgreSQL refuses. */
static PGresult *
run (PGconn *c, stmt_t *st, tk_error_t *err)
{
   if (st->nomem) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   PGresult *r = PQexecParams (c, st->sql.data, st->n, NULL, st->values, NULL, NULL, 0);
   if (PQresultStatus (r) != PGRES_TUPLES_OK) {
      const char *state = PQresultErrorField (r, PG_DIAG_SQLSTATE);
      tk_error_set (err, TK_ERR_SQL, state && !strcmp (state, "42P01") ? 1 : 0, "PostgreSQL: %s",
                    PQresultErrorMessage (r));
      PQclear (r);
      return NULL;
   }
   return r;
}

/* The labels ever stored that pattern matches, as a text[] literal
 * ("{}" when none), into *out (caller frees). */
static bool
matching_labels (PGconn *c, const char *schema, const char *pattern, char **out,
                 tk_error_t *err)
{
   stmt_t st = {.sql = TK_BUF_INIT};
   st.nomem |= !tk_buf_appendf (&st.sql,
                                "SELECT coalesce(array_agg(label), '{}') FROM %s.triage_ticket_labels"
                                " WHERE triage_fold(label) LIKE ",
                                schema);
   stmt_param (&st, pattern, false, "");
   PGresult *r = run (c, &st, err);
   stmt_free (&st);
   if (!r) {
      return false;
   }
   *out = strdup (PQgetvalue (r, 0, 0));
   PQclear (r);
   if (!*out) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   }
   return *out != NULL;
}

static tk_list_sql_result_t
declined (tk_error_t *err, int domain, const char *why)
{
   tk_error_set (err, domain, 0, "%s", why);
   return TK_LIST_SQL_DECLINED;
}

/* The name of FerretDB's table of the tickets collection in schema,
 * quoted; NULL when there is none (err cleared) or PostgreSQL fails (err
 * set). Caller PQfreemems. */
static char *
tickets_table (PGconn *c, const char *schema, tk_error_t *err)
{
   tk_error_clear (err);
   stmt_t st = {.sql = TK_BUF_INIT};
   st.nomem |= !tk_buf_appendf (&st.sql,
                                "SELECT _jsonb ->> 'table' FROM %s._ferretdb_database_metadata"
                                " WHERE _jsonb ->> '_id' = 'tickets'",
                                schema);
   PGresult *r = run (c, &st, err);
   stmt_free (&st);
   if (!r && err->domain == TK_ERR_SQL && err->code == 1) {
      /* No metadata table: FerretDB has not made the database yet (an
       * api's first moments on a new one), so it has no collection. */
      tk_error_clear (err);
   }
   char *table = NULL;
   if (r && PQntuples (r) == 1 && !PQgetisnull (r, 0, 0)) {
      const char *name = PQgetvalue (r, 0, 0);
      if (!(table = PQescapeIdentifier (c, name, strlen (name)))) {
         tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQerrorMessage (c));
      }
   }
   PQclear (r);
   return table;
}

/* Fills docs[i] (NULL before) with the stored document whose top-level
 * field (`_id` or `id`, a string) is keys[i], from FerretDB's table of
 * schema's tickets, in one statement that FerretDB's B-tree on that field
 * answers. A document it does not find stays NULL; so do all when anything
 * fails (false). */
static bool
documents_by (PGconn *c, const char *schema, const char *field, const char *const *keys,
              size_t n, char **docs)
{
   if (n == 0) {
      return true;
   }
   bool ok = false;
   tk_error_t err;
   char *table = tickets_table (c, schema, &err);
   char *literal = table ? array_literal (keys, n) : NULL;
   if (literal) {
      stmt_t st = {.sql = TK_BUF_INIT};
      stmt_sql (&st, "SELECT u.ord - 1, t._jsonb::text FROM unnest(");
      stmt_param (&st, literal, false, "::text[]) WITH ORDINALITY u(key, ord)");
      st.nomem |= !tk_buf_appendf (&st.sql, " JOIN %s.%s t ON t._jsonb -> '%s' = to_jsonb(u.key)",
                                   schema, table, field);
      PGresult *r = run (c, &st, &err);
      ok = r != NULL;
      for (int i = 0; r && i < PQntuples (r); i++) {
         long at = strtol (PQgetvalue (r, i, 0), NULL, 10);
         if (at >= 0 && (size_t) at < n && !docs[at]) {
            docs[at] = strdup (PQgetvalue (r, i, 1)); /* NULL: read from the collection */
         }
      }
      PQclear (r);
      stmt_free (&st);
   }
   free (literal);
   PQfreemem (table);
   return ok;
}

/* Fills rows[i].doc with the stored document of each key of the page
 * (column 1 of page) from FerretDB's table, by its _id index, in one
 * statement. A document it does not find stays NULL (the caller reads it
 * from the collection); so do all when anything fails. */
static void
page_documents (PGconn *c, const char *schema, const PGresult *page, tk_list_sql_row_t *rows,
                size_t n)
{
   const char **keys = calloc (n ? n : 1, sizeof *keys);
   char **docs = calloc (n ? n : 1, sizeof *docs);
   for (size_t i = 0; keys && docs && i < n; i++) {
      keys[i] = PQgetvalue (page, (int) i, 1);
   }
   if (keys && docs && documents_by (c, schema, "_id", keys, n, docs)) {
      for (size_t i = 0; i < n; i++) {
         rows[i].doc = docs[i]; /* moved */
      }
   }
   free (docs);
   free (keys);
}

/* The page's rows (id in column 0) with their documents, into a new
 * *result of *n; false when out of memory. */
static bool
page_rows (PGconn *c, const char *schema, const PGresult *r, tk_list_sql_row_t **result,
           size_t *n)
{
   size_t rows = (size_t) PQntuples (r);
   tk_list_sql_row_t *out = calloc (rows ? rows : 1, sizeof *out);
   for (size_t i = 0; out && i < rows; i++) {
      if (PQgetisnull (r, (int) i, 0) || !(out[i].id = strdup (PQgetvalue (r, (int) i, 0)))) {
         tk_list_sql_rows_free (out, i);
         out = NULL;
      }
   }
   if (!out) {
      return false;
   }
   page_documents (c, schema, r, out, rows);
   *result = out;
   *n = rows;
   return true;
}

/* ---- search ------------------------------------------------------------- */

/* A search reads its order's rows newest first, SEARCH_WALK of them (after
 * the other filters): a common text fills a page there. Else, when the
 * trigram index finds at most SEARCH_MATCHES tickets holding the text,
 * those are sorted; else the walk goes on (a text that is common overall
 * but rare among the newest rows). Each step is exact; only its cost
 * differs. PostgreSQL cannot choose between the two reads itself: its
 * estimate of a LIKE '%word%' is the same for a word in 0.4 % of the
 * tickets and one in 10 % (decision 0017, "Search"). At a million
 * tickets the bounds make a walk of the newest rows cost ~3-6 ms and a
 * sort of the matches at most ~40 ms. */
#define SEARCH_WALK 1000
#define SEARCH_MATCHES 8000

typedef struct {
   const char *schema;
   const tk_query_t *q;
   const char *pattern; /* LIKE '%q%' */
   const char *folded;  /* q as the stored text is folded, for strpos */
   const char *labels;  /* the labels containing q, a text[] literal */
   bool alone;          /* read the text table alone: no other filter, a
                         * created_at order, no label matches */
} search_t;

/* " FROM <table> l WHERE true" with the other filters and the keyset. */
static void
search_from (stmt_t *st, const search_t *s)
{
   st->nomem |= !tk_buf_appendf (&st->sql, " FROM %s.%s l WHERE true", s->schema,
                                 s->alone ? "triage_ticket_text" : "triage_ticket_list");
   stmt_where (st, s->q);
   stmt_keyset (st, s->q);
}

/* The text condition of a walk on `l` (" AND ..."), with strpos, which no
 * index serves, so that PostgreSQL walks the order's index; a label
 * containing q matches too (MongoDB's $regex reads classification.*). */
static void
search_walk_match (stmt_t *st, const search_t *s)
{
   if (s->alone) {
      stmt_sql (st, " AND strpos(l.text, ");
      stmt_param (st, s->folded, false, ") > 0");
      return;
   }
   /* OFFSET 0 keeps the EXISTS a lookup per row instead of a join. */
   st->nomem |= !tk_buf_appendf (&st->sql,
                                 " AND (EXISTS (SELECT 1 FROM %s.triage_ticket_text x"
                                 " WHERE x.key = l.key AND strpos(x.text, ",
                                 s->schema);
   stmt_param (st, s->folded, false, ") > 0 OFFSET 0)");
   if (strcmp (s->labels, "{}")) {
      stmt_sql (st, " OR l.priority = ANY (");
      stmt_param (st, s->labels, false, "::text[])");
      st->nomem |= !tk_buf_appendf (
         &st->sql, " OR l.sentiment = ANY ($%d::text[]) OR l.topics && $%d::text[]", st->n, st->n);
   }
   stmt_sql (st, ")");
}

/* The count st's one row holds; -1 with err when PostgreSQL fails. */
static long
count_of (PGconn *c, stmt_t *st, tk_error_t *err)
{
   PGresult *r = run (c, st, err);
   long n = -1;
   if (r && PQntuples (r) == 1) {
      n = strtol (PQgetvalue (r, 0, 0), NULL, 10);
   } else if (r) {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: a count without its row");
   }
   PQclear (r);
   return n;
}

/* The page of search s (id in column 0, key in 1), or NULL with err;
 * *plan names the step that found it. */
static PGresult *
search_page (PGconn *c, const search_t *s, const char **plan, tk_error_t *err)
{
   const unsigned page = s->q->limit + 1;
   /* At least a page: a window smaller than the page could never fill it. */
   const unsigned window = page > SEARCH_WALK ? page : SEARCH_WALK;
   PGresult *r;
   stmt_t st = {.sql = TK_BUF_INIT};

   /* 1. The newest rows of the order. */
   stmt_sql (&st, "SELECT l.id, l.key FROM (SELECT l.*");
   search_from (&st, s);
   stmt_order_by (&st, s->q, window);
   stmt_sql (&st, ") l WHERE true");
   search_walk_match (&st, s);
   stmt_order_by (&st, s->q, page);
   r = run (c, &st, err);
   stmt_free (&st);
   if (!r) {
      return NULL;
   }
   *plan = "newest";
   if ((unsigned) PQntuples (r) == page) {
      return r;
   }
   st = (stmt_t) {.sql = TK_BUF_INIT};
   stmt_sql (&st, "SELECT count(*) FROM (SELECT 1");
   search_from (&st, s);
   st.nomem |= !tk_buf_appendf (&st.sql, " LIMIT %u) c", window);
   long walked = count_of (c, &st, err);
   stmt_free (&st);
   if (walked < 0 || walked < (long) window) {
      if (walked < 0) {
         PQclear (r);
         r = NULL;
      }
      return r; /* every row of the order was read */
   }
   PQclear (r);

   /* 2. The tickets holding the text, from the trigram index, sorted:
    * when there are few enough (a label containing q could match far
    * more: the walk then). */
   if (!strcmp (s->labels, "{}")) {
      st = (stmt_t) {.sql = TK_BUF_INIT};
      st.nomem |= !tk_buf_appendf (&st.sql,
                                   "WITH m AS MATERIALIZED (SELECT key%s FROM %s.triage_ticket_text"
                                   " WHERE text LIKE ",
                                   s->alone ? ", id, created_at" : "", s->schema);
      stmt_param (&st, s->pattern, false, "");
      st.nomem |= !tk_buf_appendf (&st.sql, " LIMIT %d)", SEARCH_MATCHES + 1);
      stmt_sql (&st, " SELECT l.id, l.key, (SELECT count(*) FROM m)");
      if (s->alone) {
         stmt_sql (&st, " FROM m l WHERE true");
      } else {
         st.nomem |= !tk_buf_appendf (&st.sql,
                                      " FROM %s.triage_ticket_list l WHERE l.key IN"
                                      " (SELECT key FROM m)",
                                      s->schema);
         stmt_where (&st, s->q);
      }
      stmt_keyset (&st, s->q);
      stmt_order_by (&st, s->q, page);
      r = run (c, &st, err);
      stmt_free (&st);
      if (!r) {
         return NULL;
      }
      long matches;
      if (PQntuples (r) > 0) {
         matches = strtol (PQgetvalue (r, 0, 2), NULL, 10);
      } else {
         st = (stmt_t) {.sql = TK_BUF_INIT};
         st.nomem |= !tk_buf_appendf (&st.sql,
                                      "SELECT count(*) FROM (SELECT 1 FROM %s.triage_ticket_text"
                                      " WHERE text LIKE ",
                                      s->schema);
         stmt_param (&st, s->pattern, false, "");
         st.nomem |= !tk_buf_appendf (&st.sql, " LIMIT %d) c", SEARCH_MATCHES + 1);
         matches = count_of (c, &st, err);
         stmt_free (&st);
         if (matches < 0) {
            PQclear (r);
            return NULL;
         }
      }
      *plan = "matches";
      if (matches <= SEARCH_MATCHES) {
         return r;
      }
      PQclear (r);
   }

   /* 3. The walk, on to the end if need be. */
   st = (stmt_t) {.sql = TK_BUF_INIT};
   stmt_sql (&st, "SELECT l.id, l.key");
   search_from (&st, s);
   search_walk_match (&st, s);
   stmt_order_by (&st, s->q, page);
   r = run (c, &st, err);
   stmt_free (&st);
   *plan = "walk";
   return r;
}

/* The page on connection c (see tk_list_sql_page). */
static tk_list_sql_result_t
page_on (PGconn *c, const char *db, const tk_query_t *q, tk_list_sql_row_t **result, size_t *n,
         const char **plan, tk_error_t *err)
{
   char pattern[3 * TK_QUERY_TEXT_MAX + 8];
   if (q->where.text[0] && !like_pattern (q->where.text, pattern, sizeof pattern)) {
      return declined (err, TK_ERR_UNSUPPORTED, "the search text is not printable ASCII");
   }
   char *schema = PQescapeIdentifier (c, db, strlen (db));
   if (!schema) {
      return declined (err, TK_ERR_SQL, PQerrorMessage (c));
   }
   tk_list_sql_result_t res = TK_LIST_SQL_DECLINED;
   char *labels = NULL;
   PGresult *r = NULL;
   stmt_t st = {.sql = TK_BUF_INIT};

   /* Tickets of another shape: their MongoDB semantics are not the
    * tables', so the collection answers while there is any. And for the
    * columns added later (stored_at, corrected), whether the trigger that
    * keeps the tables is one that keeps them: a copy of the SQL older than
    * them, applied to the server again, puts its own trigger back and they
    * would go stale (the tables' `exact` cannot tell). */
   const tk_query_where_t *w = &q->where;
   bool later = w->corrected >= 0 || w->has_time[TK_QUERY_T_STORED_FROM] ||
                w->has_time[TK_QUERY_T_STORED_TO];
   /* A search takes several statements, and whether one step's answer is
    * the page depends on what another counted: all of them (and the
    * documents) read one snapshot, or a writer between two could make a
    * page that no state of the collection gives. */
   bool snapshot = q->where.text[0] != '\0';
   if (snapshot) {
      PGresult *b = PQexec (c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY");
      bool begun = PQresultStatus (b) == PGRES_COMMAND_OK;
      if (!begun) {
         tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQresultErrorMessage (b));
      }
      PQclear (b);
      if (!begun) {
         snapshot = false;
         goto done;
      }
   }
   st.nomem |= !tk_buf_appendf (&st.sql,
                                "SELECT EXISTS (SELECT 1 FROM %s.triage_ticket_list WHERE NOT exact)",
                                schema);
   if (later) {
      stmt_sql (&st, ", EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = to_regnamespace(");
      stmt_param (&st, schema, false, ")");
      stmt_sql (&st, " AND proname = 'triage_list_sync' AND prosrc LIKE '%triage_list_extra%')");
   }
   /* A search reads the text table alone when its trigger keeps the
    * created_at and id there (added later too; an older trigger does not,
    * and the search then reads the list table as well). */
   if (q->where.text[0]) {
      stmt_sql (&st, ", EXISTS (SELECT 1 FROM pg_proc WHERE pronamespace = to_regnamespace(");
      stmt_param (&st, schema, false, ")");
      stmt_sql (&st, " AND proname = 'triage_list_sync'"
                     " AND prosrc LIKE '%triage_ticket_text (key, text, created_at, id)%')");
   }
   if (!(r = run (c, &st, err))) {
      goto done;
   }
   bool inexact = PQgetvalue (r, 0, 0)[0] == 't';
   bool stale = later && PQgetvalue (r, 0, 1)[0] != 't';
   bool text_sorted = q->where.text[0] && PQgetvalue (r, 0, later ? 2 : 1)[0] == 't';
   PQclear (r);
   r = NULL;
   stmt_free (&st);
   st = (stmt_t) {.sql = TK_BUF_INIT};
   if (inexact) {
      declined (err, TK_ERR_UNSUPPORTED, "a stored ticket has fields of unexpected types");
      goto done;
   }
   if (stale) {
      /* A PostgreSQL state to fix, not a request to decline quietly. */
      declined (err, TK_ERR_SQL, "the side tables' trigger predates stored_at and corrected: "
                                 "apply deploy/local/postgres/ticket-list-tables.sql again");
      goto done;
   }
   if (q->where.text[0]) {
      if (!matching_labels (c, schema, pattern, &labels, err)) {
         goto done;
      }
      char folded[TK_QUERY_TEXT_MAX_BYTES + 1];
      folded_text (q->where.text, folded, sizeof folded);
      stmt_where (&st, q); /* only to see whether there is another filter */
      bool filtered = st.sql.len > 0;
      stmt_free (&st);
      st = (stmt_t) {.sql = TK_BUF_INIT};
      const search_t search = {
         .schema = schema,
         .q = q,
         .pattern = pattern,
         .folded = folded,
         .labels = labels,
         .alone = text_sorted && !filtered && !strcmp (labels, "{}") &&
                  (q->sort == TK_SORT_CREATED_DESC || q->sort == TK_SORT_CREATED_ASC),
      };
      if (!(r = search_page (c, &search, plan, err))) {
         goto done;
      }
   } else {
      st.nomem |= !tk_buf_appendf (&st.sql, "SELECT l.id, l.key FROM %s.triage_ticket_list l WHERE true",
                                   schema);
      stmt_where (&st, q);
      stmt_order (&st, q);
      if (!(r = run (c, &st, err))) {
         goto done;
      }
      *plan = "filter";
   }
   if (!page_rows (c, schema, r, result, n)) {
      declined (err, TK_ERR_NOMEM, "out of memory");
      goto done;
   }
   res = TK_LIST_SQL_OK;
done:
   PQclear (r);
   if (snapshot) {
      /* Read only: a COMMIT ends it, failed or not. */
      PQclear (PQexec (c, "COMMIT"));
   }
   stmt_free (&st);
   free (labels);
   PQfreemem (schema);
   return res;
}

tk_list_sql_result_t
tk_list_sql_page (tk_list_sql_t *s, const char *db, const tk_query_t *q, tk_list_sql_row_t **rows,
                  size_t *n, const char **plan, tk_error_t *err)
{
   const char *ignored;
   plan = plan ? plan : &ignored;
   *plan = NULL;
   *rows = NULL;
   *n = 0;
   bool reused;
   PGconn *c = conn_get (s, &reused, err);
   if (!c) {
      return TK_LIST_SQL_DECLINED;
   }
   tk_list_sql_result_t res = page_on (c, db, q, rows, n, plan, err);
   if (res == TK_LIST_SQL_DECLINED && conn_retry (&c, reused, err)) {
      if (!(c = conn_new (s, err))) {
         return TK_LIST_SQL_DECLINED;
      }
      res = page_on (c, db, q, rows, n, plan, err);
   }
   conn_put (s, c);
   return res;
}

/* tk_list_sql_any_missing on c. */
static bool
any_missing_on (PGconn *c, const char *db, const char *field, bool *any, tk_error_t *err)
{
   char *schema = PQescapeIdentifier (c, db, strlen (db));
   if (!schema) {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQerrorMessage (c));
      return false;
   }
   char *table = tickets_table (c, schema, err);
   bool ok = false;
   if (!table) {
      ok = err->domain == TK_ERR_NONE; /* no collection: no document */
      *any = false;
   } else {
      stmt_t st = {.sql = TK_BUF_INIT};
      st.nomem |= !tk_buf_appendf (&st.sql,
                                   "SELECT EXISTS (SELECT 1 FROM %s.%s WHERE NOT (_jsonb ? ",
                                   schema, table);
      stmt_param (&st, field, false, "::text))");
      PGresult *r = run (c, &st, err);
      stmt_free (&st);
      if (r && PQntuples (r) == 1) {
         *any = PQgetvalue (r, 0, 0)[0] == 't';
         ok = true;
      } else if (r) {
         tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: no answer to a check");
      }
      PQclear (r);
   }
   PQfreemem (table);
   PQfreemem (schema);
   return ok;
}

bool
tk_list_sql_any_missing (tk_list_sql_t *s, const char *db, const char *field, bool *any,
                         tk_error_t *err)
{
   *any = true;
   bool reused;
   PGconn *c = conn_get (s, &reused, err);
   if (!c) {
      return false;
   }
   bool ok = any_missing_on (c, db, field, any, err);
   if (!ok && conn_retry (&c, reused, err)) {
      if (!(c = conn_new (s, err))) {
         return false;
      }
      ok = any_missing_on (c, db, field, any, err);
   }
   conn_put (s, c);
   return ok;
}

bool
tk_list_sql_enable (tk_list_sql_t *s, const char *db, char *state, size_t cap, tk_error_t *err)
{
   bool reused;
   PGconn *c = conn_get (s, &reused, err);
   if (!c) {
      return false;
   }
   bool ok = false;
   PGresult *r = PQexec (c, "SET statement_timeout = 0");
   if (PQresultStatus (r) != PGRES_COMMAND_OK && conn_retry (&c, reused, err)) {
      PQclear (r);
      if (!(c = conn_new (s, err))) {
         return false;
      }
      r = PQexec (c, "SET statement_timeout = 0");
   }
   PQclear (r);
   const char *values[1] = {db};
   r = PQexecParams (c, "SELECT public.triage_list_enable($1)", 1, NULL, values, NULL, NULL, 0);
   if (PQresultStatus (r) == PGRES_TUPLES_OK && PQntuples (r) == 1) {
      snprintf (state, cap, "%s", PQgetvalue (r, 0, 0));
      ok = true;
   } else {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQresultErrorMessage (r));
   }
   PQclear (r);
   r = PQexec (c, "SET statement_timeout = 10000");
   PQclear (r);
   conn_put (s, c);
   return ok;
}

bool
tk_list_sql_documents_by_id (tk_list_sql_t *s, const char *db, const char *const *ids, size_t n,
                             char **docs, tk_error_t *err)
{
   for (size_t i = 0; i < n; i++) {
      docs[i] = NULL;
   }
   bool reused;
   PGconn *c = conn_get (s, &reused, err);
   if (!c) {
      return false;
   }
   char *schema = PQescapeIdentifier (c, db, strlen (db));
   bool ok = schema && documents_by (c, schema, "id", ids, n, docs);
   if (!ok && conn_retry (&c, reused, err)) {
      PQfreemem (schema);
      for (size_t i = 0; i < n; i++) {
         free (docs[i]);
         docs[i] = NULL;
      }
      if (!(c = conn_new (s, err))) {
         return false;
      }
      schema = PQescapeIdentifier (c, db, strlen (db));
      ok = schema && documents_by (c, schema, "id", ids, n, docs);
   }
   if (!ok) {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQerrorMessage (c));
      for (size_t i = 0; i < n; i++) {
         free (docs[i]);
         docs[i] = NULL;
      }
   }
   PQfreemem (schema);
   conn_put (s, c);
   return ok;
}

/* ---- every document ------------------------------------------------------ */

/* Rows fetched at a time by a walk: ~2-3 MB of tickets. */
#define SCAN_BATCH 1000

/* Runs a command (no rows) on c; false with err when PostgreSQL refuses. */
static bool
command (PGconn *c, const char *sql, tk_error_t *err)
{
   PGresult *r = PQexec (c, sql);
   bool ok = PQresultStatus (r) == PGRES_COMMAND_OK;
   if (!ok) {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQresultErrorMessage (r));
   }
   PQclear (r);
   return ok;
}

/* The walk of tk_list_sql_each_document on c, inside its transaction. */
static bool
each_document_on (PGconn *c, const char *schema, tk_list_sql_doc_fn fn, void *ud,
                  tk_error_t *err)
{
   char *table = tickets_table (c, schema, err);
   if (!table) {
      return err->domain == TK_ERR_NONE; /* no collection: no document */
   }
   bool ok = false;
   PGresult *r = NULL;
   tk_buf_t sql = TK_BUF_INIT;
   /* The table's physical order from its first block, as FerretDB's own
    * unsorted read gives it (not from wherever a concurrent scan is). */
   if (!command (c, "SET LOCAL synchronize_seqscans = off", err)) {
      goto done;
   }
   if (!tk_buf_appendf (&sql,
                        "DECLARE triage_walk NO SCROLL CURSOR FOR"
                        " SELECT _jsonb::text FROM %s.%s",
                        schema, table)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   if (!command (c, sql.data, err)) {
      goto done;
   }
   char fetch[64];
   snprintf (fetch, sizeof fetch, "FETCH %d FROM triage_walk", SCAN_BATCH);
   for (;;) {
      r = PQexec (c, fetch);
      if (PQresultStatus (r) != PGRES_TUPLES_OK) {
         tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQresultErrorMessage (r));
         goto done;
      }
      int rows = PQntuples (r);
      for (int i = 0; i < rows; i++) {
         if (PQgetisnull (r, i, 0)) {
            tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: a document that is NULL");
            goto done;
         }
         if (!fn (ud, PQgetvalue (r, i, 0), (size_t) PQgetlength (r, i, 0), err)) {
            goto done;
         }
      }
      PQclear (r);
      r = NULL;
      if (rows < SCAN_BATCH) {
         break;
      }
   }
   ok = true;
done:
   PQclear (r);
   tk_buf_destroy (&sql);
   PQfreemem (table);
   return ok;
}

bool
tk_list_sql_each_document (tk_list_sql_t *s, const char *db, tk_list_sql_doc_fn fn, void *ud,
                           tk_error_t *err)
{
   bool reused;
   PGconn *c = conn_get (s, &reused, err);
   if (!c) {
      return false;
   }
   bool ok = false, begun = false;
   char *schema = PQescapeIdentifier (c, db, strlen (db));
   if (schema) {
      /* No document is handed out before BEGIN: once more on a new
       * connection when the server had closed this one. */
      begun = command (c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
      if (!begun && conn_retry (&c, reused, err)) {
         PQfreemem (schema);
         schema = NULL;
         if (!(c = conn_new (s, err))) {
            return false;
         }
         schema = PQescapeIdentifier (c, db, strlen (db));
         begun = schema && command (c, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", err);
      }
   }
   if (!schema) {
      tk_error_set (err, TK_ERR_SQL, 0, "PostgreSQL: %s", PQerrorMessage (c));
   } else if (begun) {
      ok = each_document_on (c, schema, fn, ud, err);
      /* Read only: a ROLLBACK ends it, failed or not (the cursor with it). */
      PQclear (PQexec (c, "ROLLBACK"));
   }
   PQfreemem (schema);
   conn_put (s, c);
   return ok;
}
