/* upload_parse.c - JSON, NDJSON and CSV uploads split into validated rows. */
#include "upload_parse.h"

#include "buf.h"
#include "ticket_json.h"

#include <cjson/cJSON.h>
#include <csv.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- formats ------------------------------------------------------------ */

bool
tk_upload_format_from_content_type (const char *content_type, tk_upload_format_t *out)
{
   if (!content_type) {
      return false;
   }
   while (*content_type == ' ' || *content_type == '\t') {
      content_type++;
   }
   size_t n = strcspn (content_type, "; \t");
   static const struct {
      const char *type;
      tk_upload_format_t fmt;
   } types[] = {
      {"application/json", TK_UPLOAD_JSON},
      {"application/x-ndjson", TK_UPLOAD_NDJSON},
      {"application/ndjson", TK_UPLOAD_NDJSON},
      {"application/jsonl", TK_UPLOAD_NDJSON},
      {"application/x-jsonlines", TK_UPLOAD_NDJSON},
      {"text/csv", TK_UPLOAD_CSV},
   };
   for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
      if (strlen (types[i].type) == n && strncasecmp (content_type, types[i].type, n) == 0) {
         *out = types[i].fmt;
         return true;
      }
   }
   return false;
}

bool
tk_upload_format_from_filename (const char *path, tk_upload_format_t *out)
{
   const char *dot = path ? strrchr (path, '.') : NULL;
   if (!dot) {
      return false;
   }
   if (strcasecmp (dot, ".json") == 0) {
      *out = TK_UPLOAD_JSON;
   } else if (strcasecmp (dot, ".ndjson") == 0 || strcasecmp (dot, ".jsonl") == 0) {
      *out = TK_UPLOAD_NDJSON;
   } else if (strcasecmp (dot, ".csv") == 0) {
      *out = TK_UPLOAD_CSV;
   } else {
      return false;
   }
   return true;
}

const char *
tk_upload_format_name (tk_upload_format_t fmt)
{
   switch (fmt) {
   case TK_UPLOAD_JSON: return "json";
   case TK_UPLOAD_NDJSON: return "ndjson";
   case TK_UPLOAD_CSV: return "csv";
   }
   return "unknown";
}

const char *
tk_upload_reason_name (tk_upload_reason_t reason)
{
   switch (reason) {
   case TK_UPLOAD_REASON_MALFORMED: return "malformed";
   case TK_UPLOAD_REASON_NOT_OBJECT: return "not_object";
   case TK_UPLOAD_REASON_OVERSIZED: return "oversized";
   case TK_UPLOAD_REASON_INVALID: return "invalid_field";
   case TK_UPLOAD_REASON_COLUMNS: return "wrong_columns";
   }
   return "unknown";
}

/* ---- shared row plumbing ------------------------------------------------ */

typedef struct {
   tk_upload_row_cb cb;
   void *user_data;
   size_t index;
   bool stopped;
} row_sink_t;

/* Hands one row to the callback; ticket ownership passes with it. */
static void
emit (row_sink_t *sink, size_t line, tk_ticket_t *ticket, tk_upload_reason_t reason,
      const tk_error_t *err, const char *id)
{
   if (sink->stopped) {
      tk_ticket_destroy (ticket);
      return;
   }
   tk_upload_row_t row = {sink->index++, line, ticket, reason, ticket ? NULL : err, id};
   if (!sink->cb (&row, sink->user_data)) {
      sink->stopped = true;
   }
}

/* The id of a refused object as far as it can be read, into buf. */
static const char *
object_id (const cJSON *obj, char *buf, size_t cap)
{
   const cJSON *id = cJSON_GetObjectItemCaseSensitive (obj, "id");
   if (cJSON_IsString (id) && id->valuestring && *id->valuestring) {
      snprintf (buf, cap, "%s", id->valuestring);
      return buf;
   }
   if (cJSON_IsNumber (id)) {
      snprintf (buf, cap, "%.0f", id->valuedouble);
      return buf;
   }
   return NULL;
}

/* Validates one JSON text (an array element or an NDJSON line) and emits it. */
static void
emit_json_row (row_sink_t *sink, const char *text, size_t len, size_t line)
{
   tk_error_t err;
   tk_error_clear (&err);
   if (len > TK_TICKET_JSON_MAX) {
      tk_error_set (&err, TK_ERR_INVALID, 0, "row exceeds %d bytes (got %zu)",
                    TK_TICKET_JSON_MAX, len);
      emit (sink, line, NULL, TK_UPLOAD_REASON_OVERSIZED, &err, NULL);
      return;
   }
   cJSON *obj = tk_json_parse (text, len, TK_TICKET_JSON_MAX, &err);
   if (!obj) {
      emit (sink, line, NULL, TK_UPLOAD_REASON_MALFORMED, &err, NULL);
      return;
   }
   if (!cJSON_IsObject (obj)) {
      tk_error_set (&err, TK_ERR_INVALID, 0, "row is not a JSON object");
      emit (sink, line, NULL, TK_UPLOAD_REASON_NOT_OBJECT, &err, NULL);
      cJSON_Delete (obj);
      return;
   }
   tk_ticket_t *t = tk_ticket_from_json (obj, &err);
   char idbuf[TK_TICKET_ID_MAX + 1];
   const char *id = t ? t->id : object_id (obj, idbuf, sizeof idbuf);
   emit (sink, line, t, TK_UPLOAD_REASON_INVALID, &err, id);
   cJSON_Delete (obj);
}

static bool
is_ws (char c)
{
   return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* ---- JSON: one object or an array ---------------------------------------- */

/* Scans one array element starting at *pos: stops before a ',' or ']' at
 * nesting depth 0 outside strings. Counts newlines into *line. false if the
 * body ends first. */
static bool
scan_element (const char *b, size_t len, size_t *pos, size_t *line)
{
   int depth = 0;
   size_t i = *pos;
   while (i < len) {
      char c = b[i];
      if (c == '\n') {
         (*line)++;
      } else if (c == '"') {
         for (i++; i < len && b[i] != '"'; i++) {
            if (b[i] == '\\' && i + 1 < len) {
               i++;
            }
            if (b[i] == '\n') {
               (*line)++;
            }
         }
         if (i >= len) {
            return false;
         }
      } else if (c == '{' || c == '[') {
         depth++;
      } else if (c == '}' || c == ']') {
         if (depth == 0) {
            break;
         }
         depth--;
      } else if (c == ',' && depth == 0) {
         break;
      }
      i++;
   }
   *pos = i;
   return i < len;
}

/* Moves *i past white space, counting the lines it passes. */
static void
skip_ws (const char *b, size_t len, size_t *i, size_t *line)
{
   for (; *i < len && is_ws (b[*i]); (*i)++) {
      *line += b[*i] == '\n';
   }
}

/* One array element, b[start, end) less trailing space, as a row (an empty
 * one as a malformed row). */
static void
emit_element (row_sink_t *sink, const char *b, size_t start, size_t end, size_t line)
{
   while (end > start && is_ws (b[end - 1])) {
      end--;
   }
   if (end == start) {
      tk_error_t e;
      tk_error_set (&e, TK_ERR_INVALID, 0, "empty array element");
      emit (sink, line, NULL, TK_UPLOAD_REASON_MALFORMED, &e, NULL);
   } else {
      emit_json_row (sink, b + start, end - start, line);
   }
}

static bool
parse_json (const char *b, size_t len, row_sink_t *sink, tk_upload_summary_t *summary,
            tk_error_t *err)
{
   size_t i = 0, line = 1;
   skip_ws (b, len, &i, &line);
   if (i == len) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the body is empty");
      return false;
   }
   if (b[i] == '{') {
      /* One ticket; tk_json_parse refuses trailing data. */
      summary->single_object = true;
      emit_json_row (sink, b + i, len - i, line);
      return true;
   }
   if (b[i] != '[') {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "line %zu: expected a JSON object or an array of objects", line);
      return false;
   }
   i++;
   bool expect_end_ok = true; /* "[]" and after a complete element */
   for (;;) {
      skip_ws (b, len, &i, &line);
      if (i == len) {
         tk_error_set (err, TK_ERR_INVALID, 0, "line %zu: the JSON array is not closed", line);
         return false;
      }
      if (b[i] == ']' && expect_end_ok) {
         i++;
         break;
      }
      size_t start = i, start_line = line;
      if (!scan_element (b, len, &i, &line)) {
         tk_error_set (err, TK_ERR_INVALID, 0,
                       "line %zu: the JSON array is not closed (a string or bracket is "
                       "left open)",
                       start_line);
         return false;
      }
      emit_element (sink, b, start, i, start_line);
      if (sink->stopped) {
         tk_error_set (err, TK_ERR_INVALID, 0, "stopped");
         return false;
      }
      if (b[i] == ']') {
         i++;
         break;
      }
      i++; /* the comma */
      expect_end_ok = false;
   }
   skip_ws (b, len, &i, &line);
   if (i != len) {
      tk_error_set (err, TK_ERR_INVALID, 0, "line %zu: unexpected data after the JSON array",
                    line);
      return false;
   }
   return true;
}

/* ---- NDJSON -------------------------------------------------------------- */

static bool
parse_ndjson (const char *b, size_t len, row_sink_t *sink, tk_error_t *err)
{
   size_t line = 1;
   size_t i = 0;
   while (i < len) {
      const char *nl = memchr (b + i, '\n', len - i);
      size_t end = nl ? (size_t) (nl - b) : len;
      size_t s = i, e = end;
      while (s < e && is_ws (b[s])) {
         s++;
      }
      while (e > s && is_ws (b[e - 1])) {
         e--;
      }
      if (e > s) {
         emit_json_row (sink, b + s, e - s, line);
         if (sink->stopped) {
            tk_error_set (err, TK_ERR_INVALID, 0, "stopped");
            return false;
         }
      }
      i = end + 1;
      line++;
   }
   return true;
}

/* ---- CSV ------------------------------------------------------------------ */

/* The columns a ticket is built from; others are ignored. */
static const char *const csv_known[] = {"id", "subject", "body", "created_at", "updated_at",
                                        "source"};
#define CSV_N_KNOWN (sizeof csv_known / sizeof csv_known[0])

typedef struct {
   row_sink_t *sink;
   tk_buf_t fields;     /* the current record's fields, each NUL-terminated */
   size_t *offsets;     /* start of each field in fields */
   size_t *lens;
   size_t n_fields, cap_fields;
   bool has_nul;        /* some field of the record holds a NUL byte */
   bool header_done;
   int column[CSV_N_KNOWN]; /* index of each known column, -1 if absent */
   size_t n_columns;
   size_t record_line;  /* line the current record started on */
   size_t record_offset; /* and the byte where that line starts */
   bool start_pending;  /* the next non-blank line starts a record */
   bool failed;         /* out of memory or a bad header */
   tk_error_t *err;
} csv_state_t;

static void
csv_field_cb (void *data, size_t len, void *ud)
{
   csv_state_t *st = ud;
   if (st->failed) {
      return;
   }
   if (st->n_fields == st->cap_fields) {
      size_t cap = st->cap_fields ? st->cap_fields * 2 : 16;
      size_t *o = realloc (st->offsets, cap * sizeof *o);
      if (o) {
         st->offsets = o;
      }
      size_t *l = realloc (st->lens, cap * sizeof *l);
      if (l) {
         st->lens = l;
      }
      if (!o || !l) {
         st->failed = true;
         tk_error_set (st->err, TK_ERR_NOMEM, 0, "out of memory");
         return;
      }
      st->cap_fields = cap;
   }
   st->offsets[st->n_fields] = st->fields.len;
   st->lens[st->n_fields] = len;
   if (len && memchr (data, '\0', len)) {
      st->has_nul = true;
   }
   if (!tk_buf_append (&st->fields, data, len) || !tk_buf_append (&st->fields, "", 1)) {
      st->failed = true;
      tk_error_set (st->err, TK_ERR_NOMEM, 0, "out of memory");
      return;
   }
   st->n_fields++;
}

static const char *
csv_field (const csv_state_t *st, size_t i)
{
   return st->fields.data + st->offsets[i];
}

static void
csv_header (csv_state_t *st)
{
   for (size_t k = 0; k < CSV_N_KNOWN; k++) {
      st->column[k] = -1;
   }
   for (size_t i = 0; i < st->n_fields; i++) {
      const char *name = csv_field (st, i);
      size_t n = st->lens[i];
      if (i == 0 && n >= 3 && memcmp (name, "\xEF\xBB\xBF", 3) == 0) {
         name += 3; /* a UTF-8 byte order mark, as spreadsheets write */
         n -= 3;
      }
      while (n && isspace ((unsigned char) *name)) {
         name++, n--;
      }
      while (n && isspace ((unsigned char) name[n - 1])) {
         n--;
      }
      for (size_t k = 0; k < CSV_N_KNOWN; k++) {
         if (strlen (csv_known[k]) == n && strncasecmp (name, csv_known[k], n) == 0) {
            if (st->column[k] >= 0) {
               tk_error_set (st->err, TK_ERR_INVALID, 0,
                             "line %zu: the header names column \"%s\" twice", st->record_line,
                             csv_known[k]);
               st->failed = true;
               return;
            }
            st->column[k] = (int) i;
         }
      }
   }
   for (size_t k = 0; k < 3; k++) {
      if (st->column[k] < 0) {
         tk_error_set (st->err, TK_ERR_INVALID, 0,
                       "line %zu: the CSV header has no \"%s\" column (it needs id, subject "
                       "and body)",
                       st->record_line, csv_known[k]);
         st->failed = true;
         return;
      }
   }
   st->n_columns = st->n_fields;
   st->header_done = true;
}

static void
csv_row (csv_state_t *st)
{
   tk_error_t err;
   tk_error_clear (&err);
   const char *id = NULL;
   if (st->column[0] >= 0 && (size_t) st->column[0] < st->n_fields) {
      id = csv_field (st, (size_t) st->column[0]);
   }
   if (st->n_fields != st->n_columns) {
      tk_error_set (&err, TK_ERR_INVALID, 0, "row has %zu fields, the header has %zu",
                    st->n_fields, st->n_columns);
      emit (st->sink, st->record_line, NULL, TK_UPLOAD_REASON_COLUMNS, &err, id);
      return;
   }
   if (st->has_nul) {
      tk_error_set (&err, TK_ERR_INVALID, 0, "row contains a NUL byte");
      emit (st->sink, st->record_line, NULL, TK_UPLOAD_REASON_MALFORMED, &err, id);
      return;
   }
   cJSON *obj = cJSON_CreateObject ();
   bool ok = obj != NULL;
   for (size_t k = 0; ok && k < CSV_N_KNOWN; k++) {
      if (st->column[k] >= 0) {
         ok = cJSON_AddStringToObject (obj, csv_known[k], csv_field (st, (size_t) st->column[k])) !=
              NULL;
      }
   }
   if (!ok) {
      cJSON_Delete (obj);
      st->failed = true;
      tk_error_set (st->err, TK_ERR_NOMEM, 0, "out of memory");
      return;
   }
   tk_ticket_t *t = tk_ticket_from_json (obj, &err);
   emit (st->sink, st->record_line, t, TK_UPLOAD_REASON_INVALID, &err, t ? t->id : id);
   cJSON_Delete (obj);
}

static void
csv_record_cb (int term, void *ud)
{
   (void) term;
   csv_state_t *st = ud;
   if (!st->failed) {
      if (!st->header_done) {
         csv_header (st);
      } else {
         csv_row (st);
      }
   }
   tk_buf_reset (&st->fields);
   st->n_fields = 0;
   st->has_nul = false;
   st->start_pending = true;
}

/* libcsv in strict mode (RFC 4180): a quote may only open a field, close
 * it, or be doubled inside a quoted one. Lenient parsing would take
 * t1,"a "b" c",d as one field and let a quote that is never closed swallow
 * the rows after it, silently. */
#define CSV_OPTIONS (CSV_APPEND_NULL | CSV_STRICT)
#define CSV_FIELD_BEGUN 2 /* libcsv's parser state inside a field */

/* Why libcsv refused line `line` of the record that began on `first`
 * (strict mode: a misplaced quote), into why. */
static void
quote_fault (const struct csv_parser *p, size_t first, size_t line, char *why, size_t cap)
{
   if (p->quoted && line != first) {
      snprintf (why, cap,
                "line %zu: a quoted field is not closed where it should be (a quote on line "
                "%zu ends it in the middle of the text; a quote inside a field is written as "
                "two: \"\")",
                first, line);
   } else if (p->quoted) {
      snprintf (why, cap,
                "line %zu: a quote in the middle of a quoted field (a quote inside a field is "
                "written as two: \"\")",
                line);
   } else {
      snprintf (why, cap,
                "line %zu: a quote inside a field that does not start with one (quote the whole "
                "field and write the quote as two: \"\")",
                line);
   }
}

/* Refuses the record that began on st->record_line for why, and starts
 * the parser again on the line after that record's first: rows a runaway
 * quote swallowed are read again on their own. Returns the byte to go on
 * from. */
static size_t
csv_refuse_record (struct csv_parser *p, const char *b, size_t len, csv_state_t *st,
                   const char *why)
{
   tk_error_t err;
   tk_error_set (&err, TK_ERR_INVALID, 0, "%s", why);
   const char *id = NULL;
   if (st->column[0] >= 0 && (size_t) st->column[0] < st->n_fields) {
      id = csv_field (st, (size_t) st->column[0]);
   }
   emit (st->sink, st->record_line, NULL, TK_UPLOAD_REASON_MALFORMED, &err, id);
   csv_free (p);
   if (csv_init (p, CSV_OPTIONS) != 0) {
      st->failed = true;
      tk_error_set (st->err, TK_ERR_NOMEM, 0, "out of memory");
   }
   tk_buf_reset (&st->fields);
   st->n_fields = 0;
   st->has_nul = false;
   st->start_pending = true;
   const char *nl = memchr (b + st->record_offset, '\n', len - st->record_offset);
   return nl ? (size_t) (nl - b) + 1 : len;
}

/* Notes where a record starts when the line at i (up to end) is its first. */
static void
note_record_start (const char *b, size_t i, size_t end, size_t line, csv_state_t *st)
{
   bool blank = true;
   for (size_t k = i; k < end && blank; k++) {
      blank = b[k] == '\r' || b[k] == '\n';
   }
   if (!blank) {
      st->record_line = line;
      st->record_offset = i;
      st->start_pending = false;
   }
}

/* Feeds the body to libcsv one physical line at a time, so that each
 * record's first line is known: libcsv ends a record as soon as it reads the
 * line break that ends it, and skips blank lines between records. A row
 * with a misplaced quote, or whose quoted field is never closed, is refused
 * with its line (csv_refuse_record) and the rows after it are kept. false
 * with st->err set when the header row itself is refused. */
static bool
feed_lines (struct csv_parser *p, const char *b, size_t len, csv_state_t *st)
{
   size_t line = 1, i = 0;
   char why[200];
   for (;;) {
      while (i < len && !st->failed && !st->sink->stopped) {
         const char *nl = memchr (b + i, '\n', len - i);
         size_t end = nl ? (size_t) (nl - b) + 1 : len;
         if (st->start_pending) {
            note_record_start (b, i, end, line, st);
         }
         if (csv_parse (p, b + i, end - i, csv_field_cb, csv_record_cb, st) != end - i) {
            quote_fault (p, st->record_line, line, why, sizeof why);
            if (!st->header_done) {
               tk_error_set (st->err, TK_ERR_INVALID, 0, "the header row: %s", why);
               return false;
            }
            i = csv_refuse_record (p, b, len, st, why);
            line = st->record_line + 1;
            continue;
         }
         i = end;
         line++;
      }
      if (st->failed || st->sink->stopped || !st->header_done ||
          !(p->pstate == CSV_FIELD_BEGUN && p->quoted)) {
         return true;
      }
      snprintf (why, sizeof why,
                "line %zu: a quoted field is not closed before the end of the file",
                st->record_line);
      i = csv_refuse_record (p, b, len, st, why);
      line = st->record_line + 1;
   }
}

static bool
parse_csv (const char *b, size_t len, row_sink_t *sink, tk_error_t *err)
{
   bool ok = false;
   struct csv_parser p;
   csv_state_t st = {0};
   st.sink = sink;
   st.err = err;
   st.start_pending = true;
   st.record_line = 1;
   if (csv_init (&p, CSV_OPTIONS) != 0) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   if (!feed_lines (&p, b, len, &st)) {
      goto done;
   }
   /* A quote still open here is the header's (feed_lines refused any
    * row's): read from the parser's state, as CSV_STRICT_FINI would. */
   if (!st.failed && !sink->stopped && p.pstate == CSV_FIELD_BEGUN && p.quoted) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "line %zu: a quoted field is not closed before the end of the file",
                    st.record_line);
      goto done;
   }
   if (!st.failed && !sink->stopped &&
       csv_fini (&p, csv_field_cb, csv_record_cb, &st) != 0) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "line %zu: a quoted field is not closed before the end of the file",
                    st.record_line);
      goto done;
   }
   if (st.failed) {
      goto done;
   }
   if (sink->stopped) {
      tk_error_set (err, TK_ERR_INVALID, 0, "stopped");
      goto done;
   }
   if (!st.header_done) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the CSV file is empty (it needs a header row)");
      goto done;
   }
   ok = true;
done:
   csv_free (&p);
   tk_buf_destroy (&st.fields);
   free (st.offsets);
   free (st.lens);
   return ok;
}

/* ---- entry point ----------------------------------------------------------- */

bool
tk_upload_parse (const char *body, size_t len, tk_upload_format_t fmt, tk_upload_row_cb cb,
                 void *user_data, tk_upload_summary_t *summary, tk_error_t *err)
{
   tk_upload_summary_t local = {0};
   if (!summary) {
      summary = &local;
   }
   memset (summary, 0, sizeof *summary);
   row_sink_t sink = {cb, user_data, 0, false};
   bool ok = false;
   switch (fmt) {
   case TK_UPLOAD_JSON: ok = parse_json (body, len, &sink, summary, err); break;
   case TK_UPLOAD_NDJSON: ok = parse_ndjson (body, len, &sink, err); break;
   case TK_UPLOAD_CSV: ok = parse_csv (body, len, &sink, err); break;
   default: tk_error_set (err, TK_ERR_INVALID, 0, "unknown upload format"); break;
   }
   summary->rows = sink.index;
   return ok;
}
