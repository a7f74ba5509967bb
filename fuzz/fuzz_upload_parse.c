/* fuzz_upload_parse.c - the upload row parser (upload_parse.h) in all three
 * formats. The first byte picks the format, the rest is the body.
 * Invariants: rows come in order with 1-based lines, each row is either a
 * ticket or a refusal with a message, and the summary counts them all. */
#include "fuzz_common.h"
#include "ticket.h"
#include "upload_parse.h"

typedef struct {
   size_t rows;
   size_t last_line;
} seen_t;

static bool
on_row (const tk_upload_row_t *row, void *ud)
{
   seen_t *s = ud;
   fuzz_check (row->index == s->rows);
   fuzz_check (row->line >= 1 && row->line >= s->last_line);
   if (row->ticket) {
      fuzz_check (row->ticket->id != NULL && row->ticket->body != NULL);
      tk_ticket_destroy (row->ticket);
   } else {
      fuzz_check (row->err != NULL && row->err->message[0] != '\0');
      fuzz_check (tk_upload_reason_name (row->reason) != NULL);
   }
   s->rows++;
   s->last_line = row->line;
   return true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   if (size < 1) {
      return 0;
   }
   tk_upload_format_t fmt = (tk_upload_format_t) (data[0] % 3);
   seen_t seen = {0, 0};
   tk_upload_summary_t summary;
   tk_error_t err;
   memset (&summary, 0, sizeof summary);
   bool ok = tk_upload_parse ((const char *) data + 1, size - 1, fmt, on_row, &seen, &summary,
                              &err);
   if (ok) {
      fuzz_check (summary.rows == seen.rows);
   } else {
      fuzz_check (err.message[0] != '\0');
   }
   return 0;
}
