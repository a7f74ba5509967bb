/* backoff.c - exponential backoff with full jitter; Retry-After parsing. */
#include "backoff.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t
tk_backoff_full_jitter (int64_t base_ms, int64_t cap_ms, unsigned attempt, double rnd)
{
   if (base_ms <= 0 || cap_ms <= 0) {
      return 0;
   }
   int64_t ceiling = base_ms;
   /* Doubling stops at the cap, so this never overflows. */
   for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++) {
      ceiling *= 2;
   }
   if (ceiling > cap_ms) {
      ceiling = cap_ms;
   }
   if (rnd < 0.0) {
      rnd = 0.0;
   }
   if (rnd >= 1.0) {
      rnd = 0.999999999;
   }
   return (int64_t) (rnd * (double) (ceiling + 1));
}

bool
tk_retry_after_parse (const char *value, int64_t now_ms, int64_t *out_ms)
{
   if (!value) {
      return false;
   }
   while (*value == ' ' || *value == '\t') {
      value++;
   }
   size_t len = strlen (value);
   while (len > 0 && isspace ((unsigned char) value[len - 1])) {
      len--;
   }
   if (len == 0) {
      return false;
   }
   bool digits = true;
   for (size_t i = 0; i < len; i++) {
      if (!isdigit ((unsigned char) value[i])) {
         digits = false;
         break;
      }
   }
   if (digits) {
      if (len > 9) {
         return false; /* more than ~30 years: not a sensible wait */
      }
      *out_ms = (int64_t) strtol (value, NULL, 10) * 1000;
      return true;
   }
   char copy[64];
   if (len >= sizeof copy) {
      return false;
   }
   memcpy (copy, value, len);
   copy[len] = '\0';
   struct tm tm;
   memset (&tm, 0, sizeof tm);
   const char *end = strptime (copy, "%a, %d %b %Y %H:%M:%S GMT", &tm);
   if (!end || *end != '\0') {
      return false;
   }
   int64_t at_ms = (int64_t) timegm (&tm) * 1000;
   *out_ms = at_ms > now_ms ? at_ms - now_ms : 0;
   return true;
}
