/* file_rows.h - a ticket file mapped read-only and cut into chunks of whole
 * rows, for `triagectl upload` (and the bench).
 *
 * Each chunk is a complete upload body in the file's own format: NDJSON
 * lines as they are, CSV rows with the header row put in front again, and
 * JSON array elements wrapped in a fresh "[...]". Rows are never split: CSV
 * quoting and JSON strings and nesting are followed, so a newline inside a
 * quoted field or a comma inside a string stays inside its row. Each chunk
 * knows the line of the file where its rows begin, so a line number the
 * server reports for the chunk maps back to the file (cli_chunk_file_line).
 *
 * A file whose structure the scanner cannot follow (a JSON body that is one
 * object, or that is not an array) is sent as one chunk, and the server
 * reports what is wrong with it.
 */
#ifndef TK_CLI_FILE_ROWS_H
#define TK_CLI_FILE_ROWS_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "error.h"
#include "upload_parse.h"

typedef struct {
   const char *data; /* the mapped file */
   size_t len;
   tk_upload_format_t fmt;
   size_t pos;         /* next unread byte */
   size_t line;        /* file line at pos, 1-based */
   size_t header_len;  /* CSV: bytes of the header row, its newline included */
   size_t header_lines;
   bool whole;         /* send the rest as one chunk (see above) */
   size_t chunks;      /* chunks handed out so far */
   bool done;
} cli_file_rows_t;

typedef struct {
   tk_buf_t body;       /* owned: a complete upload body */
   size_t rows;         /* rows in it (as far as the scanner can tell) */
   size_t first_line;   /* file line where its first row starts */
   size_t prefix_lines; /* lines put in front of the rows (CSV header) */
   size_t end_pos;      /* file offset just past its last row */
} cli_chunk_t;

/* The format named by --format (json, ndjson/jsonl, csv) or, when name is
 * NULL, by path's extension. false if neither tells. */
bool cli_parse_format (const char *name, const char *path, tk_upload_format_t *out);

/* Maps path read-only. false with err if it cannot be opened or mapped. */
bool cli_file_rows_open (cli_file_rows_t *f, const char *path, tk_upload_format_t fmt,
                         tk_error_t *err);

/* Unmaps the file. Accepts a file that failed to open. */
void cli_file_rows_close (cli_file_rows_t *f);

/* Fills chunk (its body reset first) with up to max_rows whole rows. false
 * when the file has no rows left. false with err on out of memory. */
bool cli_file_rows_next (cli_file_rows_t *f, size_t max_rows, cli_chunk_t *chunk, tk_error_t *err);

/* The file line of a line number the server reported for chunk. */
size_t cli_chunk_file_line (const cli_chunk_t *chunk, size_t chunk_line);

#endif
