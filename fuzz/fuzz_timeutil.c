/* fuzz_timeutil.c - ISO-8601 parsing. Invariant: a parsed time formats and
 * parses back to the same millisecond; any int64 either formats or is
 * refused cleanly. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "timeutil.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   int64_t ms = 0;
   char buf[TK_TIME_ISO_BUFSIZE];
   if (tk_time_parse_iso ((const char *) data, size, &ms)) {
      fuzz_check (tk_time_format_iso (ms, buf, sizeof buf));
      int64_t back = 0;
      fuzz_check (tk_time_parse_iso (buf, strlen (buf), &back));
      fuzz_check (back == ms);
   }
   if (size >= sizeof (int64_t)) {
      int64_t raw;
      memcpy (&raw, data, sizeof raw);
      if (tk_time_format_iso (raw, buf, sizeof buf)) {
         int64_t back = 0;
         fuzz_check (tk_time_parse_iso (buf, strlen (buf), &back));
         fuzz_check (back == raw);
      }
   }
   return 0;
}
