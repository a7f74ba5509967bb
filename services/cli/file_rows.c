/* file_rows.c - a ticket file cut into chunks of whole rows (see
 * file_rows.h). */
#include "file_rows.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static bool
is_space (char c)
{
   return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* CSV: the end of the row starting at pos (just past its newline), counting
 * the newlines it holds into *lines. A quote toggles the quoted state, so a
 * doubled quote inside a quoted field toggles twice and changes nothing. */
static size_t
csv_row_end (const char *d, size_t len, size_t pos, size_t *lines)
{
   bool quoted = false;
   for (size_t i = pos; i < len; i++) {
      if (d[i] == '"') {
         quoted = !quoted;
      } else if (d[i] == '\n') {
         (*lines)++;
         if (!quoted) {
            return i + 1;
         }
      }
   }
   return len;
}

/* JSON: the end of the array element starting at pos (just past it), or
 * len when the file ends inside it (*complete false). */
static size_t
json_element_end (const char *d, size_t len, size_t pos, size_t *lines, bool *complete)
{
   int depth = 0;
   bool in_str = false, esc = false;
   *complete = true;
   for (size_t i = pos; i < len; i++) {
      char c = d[i];
      if (c == '\n') {
         (*lines)++;
      }
      if (in_str) {
         if (esc) {
            esc = false;
         } else if (c == '\\') {
            esc = true;
         } else if (c == '"') {
            in_str = false;
            if (depth == 0) {
               return i + 1;
            }
         }
         continue;
      }
      switch (c) {
      case '"': in_str = true; break;
      case '{':
      case '[': depth++; break;
      case '}':
      case ']':
         if (depth == 0) {
            return i; /* a scalar ended by the array's close */
         }
         if (--depth == 0) {
            return i + 1;
         }
         break;
      case ',':
         if (depth == 0) {
            return i;
         }
         break;
      default: break;
      }
   }
   *complete = false;
   return len;
}

bool
cli_parse_format (const char *name, const char *path, tk_upload_format_t *out)
{
   if (!name) {
      return tk_upload_format_from_filename (path, out);
   }
   if (!strcmp (name, "json")) {
      *out = TK_UPLOAD_JSON;
   } else if (!strcmp (name, "ndjson") || !strcmp (name, "jsonl")) {
      *out = TK_UPLOAD_NDJSON;
   } else if (!strcmp (name, "csv")) {
      *out = TK_UPLOAD_CSV;
   } else {
      return false;
   }
   return true;
}

bool
cli_file_rows_open (cli_file_rows_t *f, const char *path, tk_upload_format_t fmt, tk_error_t *err)
{
   memset (f, 0, sizeof *f);
   f->fmt = fmt;
   f->line = 1;
   int fd = open (path, O_RDONLY | O_CLOEXEC);
   struct stat st;
   if (fd < 0 || fstat (fd, &st) != 0) {
      tk_error_set (err, TK_ERR_IO, errno, "%s: %s", path, strerror (errno));
      if (fd >= 0) {
         close (fd);
      }
      return false;
   }
   f->len = (size_t) st.st_size;
   if (f->len > 0) {
      void *m = mmap (NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
      if (m == MAP_FAILED) {
         tk_error_set (err, TK_ERR_IO, errno, "%s: %s", path, strerror (errno));
         close (fd);
         f->len = 0;
         return false;
      }
      madvise (m, f->len, MADV_SEQUENTIAL);
      f->data = m;
   }
   close (fd);

   if (fmt == TK_UPLOAD_CSV) {
      size_t lines = 0;
      f->header_len = csv_row_end (f->data, f->len, 0, &lines);
      f->header_lines = lines ? lines : 1;
      f->pos = f->header_len;
      f->line = 1 + lines;
   } else if (fmt == TK_UPLOAD_JSON) {
      size_t i = 0;
      while (i < f->len && is_space (f->data[i])) {
         f->line += f->data[i] == '\n';
         i++;
      }
      if (i < f->len && f->data[i] == '[') {
         f->pos = i + 1;
      } else {
         f->whole = true; /* one object, or something the server will refuse */
         f->line = 1;
      }
   }
   return true;
}

void
cli_file_rows_close (cli_file_rows_t *f)
{
   if (f->data) {
      munmap ((void *) f->data, f->len);
   }
   memset (f, 0, sizeof *f);
}

size_t
cli_chunk_file_line (const cli_chunk_t *chunk, size_t chunk_line)
{
   if (chunk_line <= chunk->prefix_lines) {
      return chunk_line;
   }
   return chunk->first_line + (chunk_line - chunk->prefix_lines - 1);
}

static bool
whole_chunk (cli_file_rows_t *f, cli_chunk_t *chunk, tk_error_t *err)
{
   chunk->first_line = 1;
   chunk->prefix_lines = 0;
   chunk->rows = 0;
   chunk->end_pos = f->len;
   f->done = true;
   if (!tk_buf_append (&chunk->body, f->data ? f->data : "", f->len)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   return true;
}

static bool
next_ndjson (cli_file_rows_t *f, size_t max_rows, cli_chunk_t *chunk)
{
   const char *d = f->data;
   size_t start = f->pos;
   chunk->first_line = f->line;
   while (f->pos < f->len && chunk->rows < max_rows) {
      const char *nl = memchr (d + f->pos, '\n', f->len - f->pos);
      size_t end = nl ? (size_t) (nl - d) + 1 : f->len;
      bool blank = true;
      for (size_t i = f->pos; i < end && blank; i++) {
         blank = is_space (d[i]);
      }
      chunk->rows += !blank;
      f->line += nl != NULL;
      f->pos = end;
   }
   chunk->end_pos = f->pos;
   return tk_buf_append (&chunk->body, d + start, f->pos - start);
}

static bool
next_csv (cli_file_rows_t *f, size_t max_rows, cli_chunk_t *chunk)
{
   const char *d = f->data;
   bool ok = tk_buf_append (&chunk->body, d, f->header_len);
   if (f->header_len > 0 && d[f->header_len - 1] != '\n') {
      ok = ok && tk_buf_append (&chunk->body, "\n", 1);
   }
   chunk->prefix_lines = f->header_lines;
   size_t start = f->pos;
   chunk->first_line = f->line;
   while (f->pos < f->len && chunk->rows < max_rows) {
      size_t lines = 0;
      size_t end = csv_row_end (d, f->len, f->pos, &lines);
      bool blank = true;
      for (size_t i = f->pos; i < end && blank; i++) {
         blank = d[i] == '\r' || d[i] == '\n';
      }
      chunk->rows += !blank;
      f->line += lines;
      f->pos = end;
   }
   chunk->end_pos = f->pos;
   return ok && tk_buf_append (&chunk->body, d + start, f->pos - start);
}

static bool
next_json (cli_file_rows_t *f, size_t max_rows, cli_chunk_t *chunk)
{
   const char *d = f->data;
   size_t start = 0, end = 0;
   bool closed = false, complete = true;
   /* Skip to the first element. */
   while (f->pos < f->len && (is_space (d[f->pos]) || d[f->pos] == ',')) {
      f->line += d[f->pos] == '\n';
      f->pos++;
   }
   start = end = f->pos;
   chunk->first_line = f->line;
   while (f->pos < f->len && chunk->rows < max_rows) {
      if (d[f->pos] == ']') {
         closed = true;
         break;
      }
      size_t lines = 0;
      size_t e = json_element_end (d, f->len, f->pos, &lines, &complete);
      f->line += lines;
      end = f->pos = e;
      chunk->rows++;
      if (!complete) {
         break;
      }
      /* Past the separator to the next element (or the close). */
      while (f->pos < f->len && (is_space (d[f->pos]) || d[f->pos] == ',')) {
         f->line += d[f->pos] == '\n';
         f->pos++;
      }
   }
   if (f->pos >= f->len || closed) {
      f->done = true;
   }
   chunk->end_pos = f->done ? f->len : f->pos;
   bool ok = tk_buf_append (&chunk->body, "[", 1) &&
             tk_buf_append (&chunk->body, d + start, end - start);
   /* A file that ends inside an element or without "]" is sent unclosed so
    * that the server reports it, as it would for the whole file. */
   if (complete && (closed || !f->done)) {
      ok = ok && tk_buf_append (&chunk->body, "]", 1);
   }
   return ok;
}

bool
cli_file_rows_next (cli_file_rows_t *f, size_t max_rows, cli_chunk_t *chunk, tk_error_t *err)
{
   tk_error_clear (err);
   tk_buf_reset (&chunk->body);
   chunk->rows = 0;
   chunk->prefix_lines = 0;
   if (f->done) {
      return false;
   }
   if (f->whole) {
      f->chunks++;
      return whole_chunk (f, chunk, err);
   }
   bool first = f->chunks == 0;
   bool ok;
   switch (f->fmt) {
   case TK_UPLOAD_NDJSON: ok = next_ndjson (f, max_rows, chunk); break;
   case TK_UPLOAD_CSV: ok = next_csv (f, max_rows, chunk); break;
   default: ok = next_json (f, max_rows, chunk); break;
   }
   if (!ok) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   if (f->pos >= f->len) {
      f->done = true;
   }
   if (chunk->rows == 0) {
      /* Nothing but blank space (or only a CSV header) left: send it only
       * if it is all there is, so that an empty file gets the server's
       * answer rather than a silent success. */
      if (!first) {
         return false;
      }
   }
   f->chunks++;
   return true;
}
