/* fuzz_ticket_json.c - the ticket parsers (raw and processed JSON).
 * Invariant: a ticket that parses serializes, and its JSON parses again. */
#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "taxonomy.h"
#include "ticket.h"
#include "ticket_json.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   tk_error_t err;
   const char *buf = (const char *) data;

   tk_ticket_t *t = tk_ticket_parse_json (buf, size, &err);
   if (t) {
      char *s = tk_ticket_to_json_string (t, &err);
      fuzz_check (s != NULL);
      tk_ticket_t *again = tk_ticket_parse_json (s, strlen (s), &err);
      fuzz_check (again != NULL);
      tk_ticket_destroy (again);
      cJSON_free (s);
      tk_ticket_destroy (t);
   }

   t = tk_ticket_parse_processed_json (buf, size, tk_taxonomy_default (), &err);
   if (t) {
      char *s = tk_ticket_to_json_string (t, &err);
      fuzz_check (s != NULL);
      tk_ticket_t *again =
         tk_ticket_parse_processed_json (s, strlen (s), tk_taxonomy_default (), &err);
      fuzz_check (again != NULL);
      tk_ticket_destroy (again);
      cJSON_free (s);
      tk_ticket_destroy (t);
   }
   return 0;
}
