/* upload_parse.h - splitting an uploaded file into tickets, row by row.
 *
 * An upload is one of: a JSON object (one ticket), a JSON array of ticket
 * objects, NDJSON (one ticket object per line, blank lines skipped) or CSV
 * (RFC 4180, parsed with libcsv, a header row naming the columns; quoted
 * fields may hold commas and newlines). Every row is validated with the
 * common ticket parser (ticket_json.h), so the rules are the same as for
 * Kafka messages and the REST API.
 *
 * A bad row never stops the others: each row is reported to a callback with
 * its 1-based line number (the line where the row starts; for CSV the
 * header is line 1) and either a ticket or the reason it was refused. Only
 * a body whose structure cannot be followed at all (a JSON array that never
 * closes, a CSV header without an "id" column) fails the whole parse.
 *
 * CSV is read strictly (RFC 4180): a quote may open a field, close it, or
 * be doubled inside a quoted one. A row with a quote anywhere else
 * (t1,"a "b" c",d; t1,a "b" c,d), or whose quoted field is never closed, is
 * refused as malformed with its line, and the parse goes on with the line
 * after that row's first: the rows an unclosed quote would have swallowed
 * are read on their own, never merged into one field.
 *
 * The JSON array is not handed to cJSON whole: a small scanner finds each
 * element's bytes and line, and each element is parsed on its own, so a
 * malformed element is reported by line while its neighbours are kept, and
 * memory stays proportional to one row.
 *
 * Nothing here touches the network or a loop; the calls are pure and may run
 * on any thread.
 */
#ifndef TK_UPLOAD_PARSE_H
#define TK_UPLOAD_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "ticket.h"

typedef enum {
   TK_UPLOAD_JSON = 0, /* application/json: one object or an array of objects */
   TK_UPLOAD_NDJSON,   /* application/x-ndjson (also application/jsonl) */
   TK_UPLOAD_CSV,      /* text/csv */
} tk_upload_format_t;

/* Maps a Content-Type header (parameters such as "; charset=utf-8" are
 * ignored, case-insensitive) to a format. false if content_type is NULL or
 * names none of them. */
bool tk_upload_format_from_content_type (const char *content_type, tk_upload_format_t *out);

/* Maps a file name's extension (.json, .ndjson, .jsonl, .csv) to a format. */
bool tk_upload_format_from_filename (const char *path, tk_upload_format_t *out);

/* A static name: "json", "ndjson", "csv". */
const char *tk_upload_format_name (tk_upload_format_t fmt);

/* Why a row was refused, for per-reason counts. */
typedef enum {
   TK_UPLOAD_REASON_MALFORMED = 0, /* not a parseable JSON value / CSV row */
   TK_UPLOAD_REASON_NOT_OBJECT,    /* JSON, but not an object */
   TK_UPLOAD_REASON_OVERSIZED,     /* larger than TK_TICKET_JSON_MAX */
   TK_UPLOAD_REASON_INVALID,       /* a ticket field is missing or invalid */
   TK_UPLOAD_REASON_COLUMNS,       /* CSV: wrong number of fields */
} tk_upload_reason_t;

/* A static snake_case name for a reason: "malformed", "invalid_field" ... */
const char *tk_upload_reason_name (tk_upload_reason_t reason);

/* One row. ticket is non-NULL for a valid row: it is handed to the callback,
 * which takes ownership (free it with tk_ticket_destroy). For a refused row
 * ticket is NULL, reason says why and err holds the message (its field names
 * the ticket field at fault, if any). id is the row's id as far as it could
 * be read (borrowed for the call; NULL if unknown). */
typedef struct {
   size_t index; /* 0-based position among the rows */
   size_t line;  /* 1-based line where the row starts */
   tk_ticket_t *ticket;
   tk_upload_reason_t reason;
   const tk_error_t *err;
   const char *id;
} tk_upload_row_t;

/* Called once per row, in order. Return false to stop parsing early (the
 * parse then returns false with err "stopped"). */
typedef bool (*tk_upload_row_cb) (const tk_upload_row_t *row, void *user_data);

/* What the parse found, beside the rows. */
typedef struct {
   size_t rows;        /* rows reported */
   bool single_object; /* JSON: the body was one object, not an array */
} tk_upload_summary_t;

/* Whether body is plainly not a CSV, JSON or NDJSON file whatever its
 * Content-Type says: it starts with the signature of a binary format people
 * pick by mistake (PNG, JPEG, GIF, PDF, ZIP (.xlsx, .docx), old Office,
 * gzip, 7-Zip, ELF, a UTF-16 byte order mark), or at least one byte in 16
 * of its first 8 KB is NUL (a stray NUL in a row is that row's fault, refused
 * by the parse). *what then gets a static description for a person ("a PNG image",
 * "binary data (NUL bytes throughout)"). Reads at most 8 KB; pure
 * (upload_sniff.c). */
bool tk_upload_sniff_binary (const char *body, size_t len, const char **what);

/* Parses len bytes of body in format fmt, calling cb for each row. Returns
 * true when the body could be walked to its end (even if every row was
 * refused); false with err (TK_ERR_INVALID, message naming the line) when
 * the body as a whole is unusable: empty, not an array or object, an array
 * that does not close, trailing data, a CSV without the required header
 * columns, or a CSV header row with a misplaced or unterminated quote. Rows
 * reported before such a
 * failure have already been handed to cb. summary may be NULL. */
bool tk_upload_parse (const char *body, size_t len, tk_upload_format_t fmt, tk_upload_row_cb cb,
                      void *user_data, tk_upload_summary_t *summary, tk_error_t *err);

#endif
