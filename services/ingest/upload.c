/* upload.c - POST /v1/tickets: a file of tickets in, a per-row report out.
 *
 * The body (a JSON object or array, NDJSON or CSV, by Content-Type) is
 * parsed on libuv's threadpool into one small record per row; valid rows go
 * to the batcher like Kafka messages do, and when the last one has its
 * outcome the report is streamed back in 64 KB chunks straight from those
 * records, so a 100,000-row report is never built in memory whole. Each
 * valid row's ticket is freed as soon as the store has answered for it;
 * only its id is kept for the report.
 *
 * Rejected rows are bounded: the first REPORT_REJECTS_MAX are kept and
 * reported in full (line, id, reason, message), the rest are only counted,
 * per reason ("rejected_by_reason"; "rejected_not_listed" says how many
 * the results leave out). So the memory an upload takes does not grow
 * with its bad rows: a 4 MB NDJSON body of two million unparseable lines
 * once took 486 MB and answered with a 238 MB report.
 *
 * Every authorized upload writes an audit record (ingest_audit.c): the
 * key, the client's address, the counts, and the ids of the tickets it
 * stored or updated (the first TK_AUDIT_IDS_MAX, and how many).
 *
 * Query: ?dry_run=true validates and reports without storing; valid rows
 * whose id is already stored are reported as "duplicate" (a read-only
 * lookup off the loop, skipped while MongoDB is unreachable, which the
 * report's "duplicates_checked" says).
 *
 * With TRIAGE_STORE_MASKED=true each valid row's subject and body are masked
 * while it is parsed (off the loop), before anything is stored; the report
 * says "store_masked":true, every valid row carries "masked" (replacements
 * made), and a dry run's valid rows also carry the "subject" and "body" as
 * they would be stored, so the preview shows exactly what would be kept.
 * Status: 200 with the report (201 when a single object was stored, 422
 * when it was refused); 400 when the body cannot be walked at all; 415 for
 * an unknown Content-Type, and for a body that is plainly binary whatever
 * its Content-Type (a PNG, a PDF, an .xlsx: tk_upload_sniff_binary names
 * it); 413 past TRIAGE_HTTP_MAX_BODY (the HTTP server);
 * 503 + Retry-After while MongoDB is unreachable (rows already written are
 * reported; re-sending the file is safe, they come back as duplicates).
 *
 * The answer also waits for the classification requests of the rows it
 * stored to be delivered (milliseconds normally), like a Kafka offset is
 * committed only then: a crash before the delivery leaves the client
 * without an answer, it sends the file again, and the duplicates that are
 * still unprocessed are requested again. The wait is bounded by
 * CLASSIFY_WAIT_MS so an upload still answers while Kafka is unreachable;
 * "classify_pending" counts the rows whose request was not delivered by
 * then (it is still retried; sending those rows again later is safe). The
 * upload's record lives until every request it waits for has reported,
 * since the reports point at its rows.
 */
#include "ingest.h"

#include "log.h"
#include "store_async.h"
#include "upload_parse.h"
#include "utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CHUNK_BYTES (64 * 1024)
#define REPORT_REJECTS_MAX 1000 /* rejected rows reported in full; the rest are counted */
#define N_REASONS (TK_UPLOAD_REASON_COLUMNS + 1)
#define CLASSIFY_WAIT_MS 5000 /* the longest an answer waits for its requests' delivery */

typedef enum {
   ROW_PENDING = 0,
   ROW_VALID,
   ROW_STORED,
   ROW_DUPLICATE,
   ROW_UPDATED,
   ROW_UNCHANGED,
   ROW_REJECTED,
   ROW_FAILED,
} row_status_t;

static const char *const row_status_names[] = {"pending",   "valid",     "stored",   "duplicate",
                                               "updated",   "unchanged", "rejected", "failed"};

typedef struct upload upload_t;

typedef struct {
   ingest_item_t item; /* first: the batcher's callback casts back */
   upload_t *up;
   tk_ticket_t *ticket; /* owned until the store has answered */
   char *id;            /* owned; NULL if unknown */
   char *error;         /* owned; rejected / failed rows */
   char *subject;       /* owned; dry run with TRIAGE_STORE_MASKED: the text */
   char *body;          /* that would be stored, for the report */
   size_t index;        /* position among all the rows of the upload */
   size_t line;
   size_t masked;       /* PII replacements made (TRIAGE_STORE_MASKED) */
   uint8_t status;
   uint8_t reason;      /* tk_upload_reason_t for rejected rows */
   char field[64];
} row_t;

struct upload {
   ingest_upload_t *u;
   tk_http_request_t *req;
   ingest_who_t who; /* the key, for the audit record */
   uv_work_t work;
   tk_upload_format_t fmt;
   bool dry_run;
   bool store_masked; /* TRIAGE_STORE_MASKED, read once on the loop */
   const char *body;
   size_t body_len;

   row_t *rows; /* every valid row, the first REPORT_REJECTS_MAX rejected ones */
   size_t n, cap;
   size_t total;                       /* rows in the body */
   size_t rejected;                    /* all rejected rows, listed or not */
   size_t by_reason[N_REASONS];        /* rejected rows by tk_upload_reason_t */
   bool parse_ok;
   bool oom;
   tk_error_t parse_err;
   tk_upload_summary_t summary;

   size_t pending;
   size_t awaiting;    /* stored rows whose classification request is not delivered yet */
   size_t undelivered; /* rows whose request was dropped undelivered (shutdown) */
   size_t classify_pending; /* awaiting + undelivered when the answer began */
   bool responded;     /* the report has begun (req may be gone after it ends) */
   bool finished;      /* the response is over: free once awaiting is 0 */
   bool wait_open;     /* wait is initialised and must be closed */
   uv_timer_t wait;    /* bounds the wait for the deliveries */
   bool unavailable;
   bool dups_checked; /* dry run: ids looked up in the store */
   size_t count[8]; /* by row_status_t */

   size_t cursor; /* next row to stream */
   bool last_sent;
   tk_buf_t chunk;
};

static void
upload_destroy (upload_t *up)
{
   for (size_t i = 0; i < up->n; i++) {
      tk_ticket_destroy (up->rows[i].ticket);
      free (up->rows[i].id);
      free (up->rows[i].error);
      free (up->rows[i].subject);
      free (up->rows[i].body);
   }
   free (up->rows);
   tk_buf_destroy (&up->chunk);
   free (up);
}

static void
wait_closed (uv_handle_t *h)
{
   upload_destroy (h->data);
}

/* Frees up once its response is over and no request report can reach its
 * rows any more. */
static void
upload_maybe_destroy (upload_t *up)
{
   if (!up->finished || up->awaiting) {
      return;
   }
   if (up->wait_open) {
      up->wait_open = false;
      uv_close ((uv_handle_t *) &up->wait, wait_closed);
   } else {
      upload_destroy (up);
   }
}

/* The response is over (sent, failed, or the client is gone). Accepts NULL. */
static void
upload_free (upload_t *up)
{
   if (!up) {
      return;
   }
   up->finished = true;
   upload_maybe_destroy (up);
}

/* ---- JSON text helpers ------------------------------------------------------ */

static bool
json_str (tk_buf_t *b, const char *s)
{
   bool ok = tk_buf_append (b, "\"", 1);
   const char *run = s;
   for (; ok && *s; s++) {
      unsigned char c = (unsigned char) *s;
      if (c >= 0x20 && c != '"' && c != '\\') {
         continue;
      }
      ok = tk_buf_append (b, run, (size_t) (s - run));
      if (c == '"' || c == '\\') {
         char esc[2] = {'\\', (char) c};
         ok = ok && tk_buf_append (b, esc, 2);
      } else {
         ok = ok && tk_buf_appendf (b, "\\u%04x", c);
      }
      run = s + 1;
   }
   return ok && tk_buf_append (b, run, (size_t) (s - run)) && tk_buf_append (b, "\"", 1);
}

/* ---- parsing (threadpool) ------------------------------------------------------ */

static char *
dup_utf8 (const char *s)
{
   if (!s || !tk_utf8_valid (s, strlen (s), NULL)) {
      return NULL; /* an id that is not UTF-8 is left out of the report */
   }
   return strdup (s);
}

static bool
collect_row (const tk_upload_row_t *r, void *ud)
{
   upload_t *up = ud;
   size_t index = up->total++;
   if (!r->ticket) {
      up->rejected++;
      up->by_reason[r->reason < N_REASONS ? r->reason : 0]++;
      if (up->rejected > REPORT_REJECTS_MAX) {
         return true; /* counted, not listed */
      }
   }
   if (up->n == up->cap) {
      size_t cap = up->cap ? up->cap * 2 : 64;
      row_t *rows = realloc (up->rows, cap * sizeof *rows);
      if (!rows) {
         tk_ticket_destroy (r->ticket);
         up->oom = true;
         return false;
      }
      up->rows = rows;
      up->cap = cap;
   }
   row_t *row = &up->rows[up->n++];
   memset (row, 0, sizeof *row);
   row->up = up;
   row->index = index;
   row->line = r->line;
   if (r->ticket) {
      row->ticket = r->ticket;
      row->status = ROW_VALID;
      if (!row->ticket->source) {
         row->ticket->source = strdup ("upload");
      }
      if (up->store_masked && !ingest_mask_ticket (row->ticket, &row->masked)) {
         up->oom = true; /* never store the unmasked text instead */
         return false;
      }
   } else {
      row->status = ROW_REJECTED;
      row->reason = (uint8_t) r->reason;
      row->id = dup_utf8 (r->id);
      row->error = strdup (r->err->message);
      snprintf (row->field, sizeof row->field, "%s", r->err->field);
   }
   return true;
}

static void
parse_work (uv_work_t *w)
{
   upload_t *up = w->data;
   up->parse_ok = tk_upload_parse (up->body, up->body_len, up->fmt, collect_row, up, &up->summary,
                                   &up->parse_err);
}

/* ---- the report ---------------------------------------------------------------- */

static bool
append_row (tk_buf_t *b, const row_t *row, bool first)
{
   bool ok = tk_buf_appendf (b, "%s{\"index\":%zu,\"line\":%zu,\"id\":", first ? "" : ",",
                             row->index, row->line);
   ok = ok && (row->id ? json_str (b, row->id) : tk_buf_append_str (b, "null"));
   ok = ok && tk_buf_appendf (b, ",\"status\":\"%s\"", row_status_names[row->status]);
   if (row->status == ROW_REJECTED) {
      ok = ok && tk_buf_appendf (b, ",\"reason\":\"%s\"",
                                 tk_upload_reason_name ((tk_upload_reason_t) row->reason));
   }
   if (row->error) {
      ok = ok && tk_buf_append_str (b, ",\"error\":") && json_str (b, row->error);
   }
   if (row->field[0]) {
      ok = ok && tk_buf_append_str (b, ",\"field\":") && json_str (b, row->field);
   }
   if (row->up->store_masked && row->status != ROW_REJECTED) {
      ok = ok && tk_buf_appendf (b, ",\"masked\":%zu", row->masked);
   }
   if (row->subject) {
      ok = ok && tk_buf_append_str (b, ",\"subject\":") && json_str (b, row->subject);
   }
   if (row->body) {
      ok = ok && tk_buf_append_str (b, ",\"body\":") && json_str (b, row->body);
   }
   return ok && tk_buf_append (b, "}", 1);
}

static void write_next (upload_t *up);

static void
written (tk_http_request_t *req, int status, void *user_data)
{
   (void) req;
   upload_t *up = user_data;
   if (status < 0 || up->last_sent) {
      tk_http_stream_end (up->req);
      upload_free (up);
      return;
   }
   write_next (up);
}

static void
write_next (upload_t *up)
{
   tk_buf_reset (&up->chunk);
   bool ok = true;
   while (ok && up->cursor < up->n && up->chunk.len < CHUNK_BYTES) {
      ok = append_row (&up->chunk, &up->rows[up->cursor], up->cursor == 0);
      up->cursor++;
   }
   if (ok && up->cursor == up->n) {
      ok = tk_buf_append_str (&up->chunk, "]}\n");
      up->last_sent = true;
   }
   if (!ok || tk_http_stream_write (up->req, up->chunk.data, up->chunk.len, written, up) != 0) {
      /* Out of memory or the client is gone: end what was sent. */
      tk_http_stream_end (up->req);
      upload_free (up);
   }
}

/* ---- the audit record -------------------------------------------------------- */

static const char *
upload_action (bool dry_run)
{
   return dry_run ? "tickets.upload_dry_run" : "tickets.upload";
}

/* Records an upload refused before its rows were read. */
static void
audit_refused (ingest_upload_t *u, tk_http_request_t *req, const ingest_who_t *who, bool dry_run,
               int status)
{
   size_t len = 0;
   tk_http_request_body (req, &len);
   const char *ct = tk_http_request_header (req, "Content-Type");
   bson_t *detail = BCON_NEW ("bytes", BCON_INT64 ((int64_t) len), "dry_run", BCON_BOOL (dry_run));
   if (ct && tk_utf8_valid (ct, strlen (ct), NULL)) {
      BSON_APPEND_UTF8 (detail, "content_type", ct);
   }
   ingest_audit_write (u->app, ingest_audit_record (req, who, upload_action (dry_run), status,
                                                    detail, NULL));
   bson_destroy (detail);
}

/* Records the upload's answer: the counts and, unless it was a dry run,
 * the tickets it stored or updated. up->count must be up to date. */
static void
audit_report (upload_t *up, int status)
{
   tk_audit_ids_t ids = {0};
   for (size_t i = 0; !up->dry_run && i < up->n; i++) {
      const row_t *row = &up->rows[i];
      if ((row->status == ROW_STORED || row->status == ROW_UPDATED) && row->id) {
         tk_audit_ids_add (&ids, row->id);
      }
   }
   bson_t *detail = BCON_NEW (
      "format", BCON_UTF8 (tk_upload_format_name (up->fmt)), "bytes",
      BCON_INT64 ((int64_t) up->body_len), "dry_run", BCON_BOOL (up->dry_run), "total",
      BCON_INT64 ((int64_t) up->total), "stored", BCON_INT64 ((int64_t) up->count[ROW_STORED]),
      "updated", BCON_INT64 ((int64_t) up->count[ROW_UPDATED]), "duplicates",
      BCON_INT64 ((int64_t) up->count[ROW_DUPLICATE]), "unchanged",
      BCON_INT64 ((int64_t) up->count[ROW_UNCHANGED]), "rejected",
      BCON_INT64 ((int64_t) up->rejected), "failed", BCON_INT64 ((int64_t) up->count[ROW_FAILED]));
   ingest_audit_write (up->u->app,
                       ingest_audit_record (up->req, &up->who, upload_action (up->dry_run), status,
                                            detail, up->dry_run ? NULL : &ids));
   bson_destroy (detail);
   tk_audit_ids_cleanup (&ids);
}

/* Answers with an error before any row was reported, and records it. */
static void
fail_upload (upload_t *up, int status, const char *code, const char *message)
{
   audit_refused (up->u, up->req, &up->who, up->dry_run, status);
   tk_http_respond_error (up->req, status, code, message, NULL);
   upload_free (up);
}

/* ---- the report, continued ------------------------------------------------------ */

static bool
append_reasons (tk_buf_t *b, const upload_t *up)
{
   bool ok = tk_buf_append_str (b, "\"rejected_by_reason\":{");
   bool first = true;
   for (size_t r = 0; ok && r < N_REASONS; r++) {
      if (up->by_reason[r]) {
         ok = tk_buf_appendf (b, "%s\"%s\":%zu", first ? "" : ",",
                              tk_upload_reason_name ((tk_upload_reason_t) r), up->by_reason[r]);
         first = false;
      }
   }
   return ok && tk_buf_append_str (b, "},");
}

/* The report's HTTP status: 503 when the store was down, 422 or 201 for a
 * single ticket sent as an object, else 200. *single: that ticket's row. */
static int
report_status (const upload_t *up, const row_t **single)
{
   *single = up->summary.single_object && up->n == 1 ? &up->rows[0] : NULL;
   if (up->unavailable) {
      return 503;
   }
   if (*single && (*single)->status == ROW_REJECTED) {
      return 422;
   }
   return *single && (*single)->status == ROW_STORED ? 201 : 200;
}

/* The report's head, up to the opening of "results": counts, reasons, and
 * the error of an unreachable store or of a single rejected ticket. false
 * when memory runs out. */
static bool
append_summary (tk_buf_t *b, upload_t *up, const row_t *single)
{
   bool ok = tk_buf_appendf (
      b,
      "{\"format\":\"%s\",\"dry_run\":%s,\"total\":%zu,\"valid\":%zu,\"stored\":%zu,"
      "\"duplicates\":%zu,\"updated\":%zu,\"unchanged\":%zu,\"rejected\":%zu,\"failed\":%zu,"
      "\"rejected_not_listed\":%zu,\"classify_pending\":%zu,\"store_masked\":%s,",
      tk_upload_format_name (up->fmt), up->dry_run ? "true" : "false", up->total,
      up->total - up->rejected, up->count[ROW_STORED], up->count[ROW_DUPLICATE],
      up->count[ROW_UPDATED], up->count[ROW_UNCHANGED], up->rejected, up->count[ROW_FAILED],
      up->rejected - up->count[ROW_REJECTED], up->classify_pending,
      up->store_masked ? "true" : "false");
   ok = ok && append_reasons (b, up);
   if (up->dry_run) {
      ok = ok && tk_buf_appendf (b, "\"duplicates_checked\":%s,",
                                 up->dups_checked ? "true" : "false");
   }
   if (up->unavailable) {
      tk_http_add_retry_after (up->req, up->u->app->cfg.ingest_retry_after_ms);
      ok = ok && tk_buf_append_str (b, "\"error\":{\"code\":\"store_unavailable\",\"message\":"
                                       "\"MongoDB is unreachable; rows marked failed were not "
                                       "stored, send them again later\"},");
   } else if (single && single->status == ROW_REJECTED) {
      ok = ok && tk_buf_append_str (b, "\"error\":{\"code\":\"invalid_ticket\",\"message\":") &&
           json_str (b, single->error ? single->error : "invalid ticket");
      if (single->field[0]) {
         ok = ok && tk_buf_append_str (b, ",\"field\":") && json_str (b, single->field);
      }
      ok = ok && tk_buf_append_str (b, "},");
   }
   return ok && tk_buf_append_str (b, "\"results\":[");
}

static void
respond_report (upload_t *up)
{
   memset (up->count, 0, sizeof up->count);
   for (size_t i = 0; i < up->n; i++) {
      up->count[up->rows[i].status]++;
   }
   up->responded = true;
   up->classify_pending = up->awaiting + up->undelivered;
   if (up->wait_open) {
      uv_timer_stop (&up->wait);
   }
   const row_t *single;
   int status = report_status (up, &single);
   audit_report (up, status);
   if (!append_summary (&up->chunk, up, single)) {
      tk_http_respond_error (up->req, 500, "internal", "out of memory", NULL);
      upload_free (up);
      return;
   }
   if (tk_http_stream_begin (up->req, status, "application/json") != 0) {
      tk_http_stream_end (up->req);
      upload_free (up);
      return;
   }
   /* The summary goes out with the first rows. */
   tk_buf_t head = up->chunk;
   up->chunk = (tk_buf_t) TK_BUF_INIT;
   int rc = tk_http_stream_write (up->req, head.data, head.len, written, up);
   tk_buf_destroy (&head);
   if (rc != 0) {
      tk_http_stream_end (up->req);
      upload_free (up);
   }
}

/* ---- dry run: which ids are stored already (threadpool) ------------------------- */

static void
release_tickets (upload_t *up)
{
   for (size_t i = 0; i < up->n; i++) {
      row_t *row = &up->rows[i];
      if (row->ticket) {
         row->id = row->ticket->id;
         row->ticket->id = NULL;
         if (up->dry_run && up->store_masked) {
            /* The preview shows the text as it would be stored. */
            row->subject = row->ticket->subject;
            row->body = row->ticket->body;
            row->ticket->subject = NULL;
            row->ticket->body = NULL;
         }
         tk_ticket_destroy (row->ticket);
         row->ticket = NULL;
      }
   }
}

/* Marks the valid rows whose id is stored already as duplicates. */
static void
lookup_work (tk_store_t *store, void *ctx)
{
   upload_t *up = ctx;
   bool ok = false;
   const char **ids = calloc (up->n, sizeof *ids);
   bool *stored = calloc (up->n, sizeof *stored);
   if (ids && stored) {
      for (size_t i = 0; i < up->n; i++) {
         ids[i] = up->rows[i].status == ROW_VALID ? up->rows[i].ticket->id : NULL;
      }
      ok = ingest_find_stored_ids (store, ids, up->n, NULL, stored, NULL);
   }
   /* A partial answer would mislead: without one, every row stays just valid. */
   for (size_t i = 0; ok && i < up->n; i++) {
      if (stored[i]) {
         up->rows[i].status = ROW_DUPLICATE;
      }
   }
   up->dups_checked = ok;
   free (ids);
   free (stored);
}

static void
lookup_done (int status, void *ctx)
{
   upload_t *up = ctx;
   if (status != 0) {
      up->dups_checked = false;
   }
   release_tickets (up);
   respond_report (up);
}

/* ---- storing ---------------------------------------------------------------------- */

static void
wait_expired (uv_timer_t *t)
{
   upload_t *up = t->data;
   if (!up->responded) {
      respond_report (up);
   }
}

/* Every row has its outcome: answer now, or once the requests made for the
 * stored rows are delivered (CLASSIFY_WAIT_MS at most). */
static void
all_rows_done (upload_t *up)
{
   if (up->awaiting == 0) {
      respond_report (up);
      return;
   }
   if (!up->wait_open) {
      if (uv_timer_init (tk_http_request_loop (up->req), &up->wait) != 0) {
         respond_report (up);
         return;
      }
      up->wait.data = up;
      up->wait_open = true;
   }
   uv_timer_start (&up->wait, wait_expired, CLASSIFY_WAIT_MS, 0);
}

static void
row_requested (ingest_item_t *item, bool delivered)
{
   row_t *row = (row_t *) item;
   upload_t *up = row->up;
   if (!delivered) {
      up->undelivered++;
   }
   if (row->status == ROW_VALID) {
      return; /* dropped at once, before row_done: nothing was counted */
   }
   up->awaiting--;
   if (!up->responded) {
      if (up->pending == 0 && up->awaiting == 0) {
         respond_report (up);
      }
   } else {
      upload_maybe_destroy (up);
   }
}

static void
row_done (ingest_item_t *item, tk_insert_outcome_t outcome, bool unavailable, const char *message)
{
   row_t *row = (row_t *) item;
   upload_t *up = row->up;
   switch (outcome) {
   case TK_INSERT_STORED: row->status = ROW_STORED; break;
   case TK_INSERT_DUPLICATE: row->status = ROW_DUPLICATE; break;
   case TK_INSERT_CHANGED: row->status = ROW_UPDATED; break;
   case TK_INSERT_UNCHANGED: row->status = ROW_UNCHANGED; break;
   case TK_INSERT_FAILED:
      row->status = ROW_FAILED;
      if (unavailable) {
         up->unavailable = true;
      }
      free (row->error);
      row->error = strdup (message && *message ? message : "not stored");
      break;
   }
   /* Keep the id for the report, free the rest of the ticket now. */
   row->id = row->ticket->id;
   row->ticket->id = NULL;
   tk_ticket_destroy (row->ticket);
   row->ticket = NULL;
   if (row->item.awaiting_request) {
      up->awaiting++;
   }
   if (--up->pending == 0) {
      all_rows_done (up);
   }
}

static void
parse_done (uv_work_t *w, int status)
{
   upload_t *up = w->data;
   ingest_upload_t *u = up->u;
   if (status != 0) {
      fail_upload (up, 503, "stopping", "the service is stopping");
      return;
   }
   if (up->oom) {
      fail_upload (up, 500, "internal", "out of memory");
      return;
   }
   if (!up->parse_ok) {
      tk_counter_inc (tk_metric_labels (u->metrics->rejected, "upload", "unreadable_body"));
      fail_upload (up, 400, "invalid_body", up->parse_err.message);
      return;
   }
   tk_counter_add (tk_metric_labels (u->metrics->received, "upload"), up->total);
   for (size_t r = 0; r < N_REASONS; r++) {
      if (up->by_reason[r]) {
         tk_counter_add (tk_metric_labels (u->metrics->rejected, "upload",
                                           tk_upload_reason_name ((tk_upload_reason_t) r)),
                         up->by_reason[r]);
      }
   }
   size_t valid = up->total - up->rejected;
   if (up->dry_run && valid > 0 && !ingest_batcher_unavailable (u->batcher) &&
       tk_store_async (tk_http_request_loop (up->req), u->app->store, lookup_work, lookup_done,
                       up) == 0) {
      return;
   }
   if (up->dry_run || valid == 0) {
      release_tickets (up);
      respond_report (up);
      return;
   }
   if (ingest_batcher_unavailable (u->batcher)) {
      tk_http_add_retry_after (up->req, u->app->cfg.ingest_retry_after_ms);
      /* Nothing was written, and an audit insert would only wait for the
       * same unreachable server on a threadpool thread: not recorded. */
      tk_http_respond_error (up->req, 503, "store_unavailable",
                             "MongoDB is unreachable; nothing was stored, try again later", NULL);
      upload_free (up);
      return;
   }
   up->pending = valid;
   for (size_t i = 0; i < up->n; i++) {
      row_t *row = &up->rows[i];
      if (row->status != ROW_VALID) {
         continue;
      }
      row->item.ticket = row->ticket;
      row->item.source = "upload";
      row->item.retry_unavailable = false;
      row->item.done = row_done;
      row->item.requested = row_requested;
      ingest_batcher_submit (u->batcher, &row->item);
   }
}

static bool
query_true (const char *v)
{
   return v && (strcasecmp (v, "true") == 0 || strcmp (v, "1") == 0 || strcasecmp (v, "yes") == 0 ||
                *v == '\0');
}

static void
handle_upload_authorized (tk_http_request_t *req, const ingest_who_t *who, void *user_data)
{
   ingest_upload_t *u = user_data;
   tk_upload_format_t fmt;
   const char *ct = tk_http_request_header (req, "Content-Type");
   bool dry_run = query_true (tk_http_query_get (req, "dry_run"));
   if (!tk_upload_format_from_content_type (ct, &fmt)) {
      char msg[200];
      snprintf (msg, sizeof msg,
                "Content-Type %.60s is not supported; send application/json, "
                "application/x-ndjson or text/csv",
                ct ? ct : "(none)");
      audit_refused (u, req, who, dry_run, 415);
      tk_http_respond_error (req, 415, "unsupported_media_type", msg, "Content-Type");
      return;
   }
   size_t body_len = 0;
   const char *body = tk_http_request_body (req, &body_len), *what = NULL;
   if (tk_upload_sniff_binary (body, body_len, &what)) {
      char msg[200];
      snprintf (msg, sizeof msg,
                "the uploaded file is not a CSV, JSON or NDJSON file: it looks like %s", what);
      audit_refused (u, req, who, dry_run, 415);
      tk_http_respond_error (req, 415, "unsupported_media_type", msg, "body");
      return;
   }
   if (!dry_run && ingest_batcher_unavailable (u->batcher)) {
      tk_http_add_retry_after (req, u->app->cfg.ingest_retry_after_ms);
      /* Not recorded: see parse_done. */
      tk_http_respond_error (req, 503, "store_unavailable",
                             "MongoDB is unreachable; nothing was stored, try again later", NULL);
      return;
   }
   upload_t *up = calloc (1, sizeof *up);
   if (!up) {
      tk_http_respond_error (req, 500, "internal", "out of memory", NULL);
      return;
   }
   up->who = *who;
   up->u = u;
   up->req = req;
   up->fmt = fmt;
   up->dry_run = dry_run;
   up->store_masked = u->app->cfg.store_masked;
   up->body = tk_http_request_body (req, &up->body_len);
   up->work.data = up;
   if (uv_queue_work (tk_http_request_loop (req), &up->work, parse_work, parse_done) != 0) {
      fail_upload (up, 503, "busy", "cannot queue the upload");
   }
}

static void
handle_upload (tk_http_request_t *req, void *user_data)
{
   ingest_upload_t *u = user_data;
   ingest_auth_check (u->auth, req, TK_ROLE_OPERATOR, handle_upload_authorized, u);
}

bool
ingest_upload_register (ingest_upload_t *u, tk_error_t *err)
{
   return tk_http_route_with (u->app->http, "POST", "/v1/tickets",
                              (tk_http_access_t){.min_role = TK_ROLE_OPERATOR,
                                                 .max_body = TK_HTTP_BODY_LARGE},
                              handle_upload, u, err);
}
