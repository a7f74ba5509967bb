/* timezone.c - zone offsets from ICU's calendar (see timezone.h). */
#include "timezone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unicode/ucal.h>
#include <unicode/uenum.h>
#include <unicode/ustring.h>

struct tk_zone {
   char name[TK_ZONE_NAME_MAX + 1];
   UCalendar *cal;
   /* The last interval looked up: the offset is `offset` on [lo, hi). */
   int64_t lo, hi, offset;
};

static bool
name_chars_ok (const char *name, size_t len)
{
   for (size_t i = 0; i < len; i++) {
      char c = name[i];
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '/' || c == '_' || c == '+' || c == '-')) {
         return false;
      }
   }
   return true;
}

tk_zone_t *
tk_zone_open (const char *name, tk_error_t *err)
{
   size_t len = strlen (name);
   if (len == 0 || len > TK_ZONE_NAME_MAX || !name_chars_ok (name, len)) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "not a time zone name: give an IANA name such as Europe/Paris (at most %d "
                    "letters, digits and /_+-)",
                    TK_ZONE_NAME_MAX);
      return NULL;
   }
   UChar id[TK_ZONE_NAME_MAX + 1], canonical[TK_ZONE_NAME_MAX + 1];
   u_uastrncpy (id, name, (int32_t) len + 1);
   UErrorCode st = U_ZERO_ERROR;
   UBool system = false;
   ucal_getCanonicalTimeZoneID (id, (int32_t) len, canonical, TK_ZONE_NAME_MAX + 1, &system, &st);
   if (U_FAILURE (st) || !system) {
      tk_error_set (err, TK_ERR_INVALID, 0, "unknown time zone '%s': give an IANA name such as "
                                            "Europe/Paris", name);
      return NULL;
   }
   tk_zone_t *z = calloc (1, sizeof *z);
   if (!z) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   st = U_ZERO_ERROR;
   z->cal = ucal_open (id, (int32_t) len, "en_US_POSIX", UCAL_GREGORIAN, &st);
   if (U_FAILURE (st) || !z->cal) {
      tk_error_set (err, TK_ERR_INVALID, 0, "time zone '%s': %s", name, u_errorName (st));
      free (z);
      return NULL;
   }
   memcpy (z->name, name, len + 1);
   z->lo = INT64_MAX; /* nothing cached */
   z->hi = INT64_MIN;
   return z;
}

void
tk_zone_close (tk_zone_t *z)
{
   if (z) {
      ucal_close (z->cal);
      free (z);
   }
}

const char *
tk_zone_name (const tk_zone_t *z)
{
   return z->name;
}

/* Asks ICU for the offset at ms and the transitions around it. */
static void
look_up (tk_zone_t *z, int64_t ms)
{
   UErrorCode st = U_ZERO_ERROR;
   ucal_setMillis (z->cal, (UDate) ms, &st);
   int64_t offset = (int64_t) ucal_get (z->cal, UCAL_ZONE_OFFSET, &st) +
                    (int64_t) ucal_get (z->cal, UCAL_DST_OFFSET, &st);
   if (U_FAILURE (st)) {
      /* Out of ICU's range (far from any ticket's date): UTC there, not
       * cached. */
      z->offset = 0;
      z->lo = z->hi = ms;
      return;
   }
   z->offset = offset;
   UDate edge = 0;
   st = U_ZERO_ERROR;
   z->hi = ucal_getTimeZoneTransitionDate (z->cal, UCAL_TZ_TRANSITION_NEXT, &edge, &st) &&
                 U_SUCCESS (st)
              ? (int64_t) edge
              : INT64_MAX;
   st = U_ZERO_ERROR;
   z->lo = ucal_getTimeZoneTransitionDate (z->cal, UCAL_TZ_TRANSITION_PREVIOUS_INCLUSIVE, &edge,
                                           &st) &&
                 U_SUCCESS (st)
              ? (int64_t) edge
              : INT64_MIN;
   if (z->lo > ms || z->hi <= ms) {
      z->lo = z->hi = ms; /* not an interval around ms: cache nothing */
   }
}

int64_t
tk_zone_offset_ms (tk_zone_t *z, int64_t utc_ms)
{
   if (!z) {
      return 0;
   }
   if (utc_ms >= z->lo && utc_ms < z->hi) {
      return z->offset;
   }
   look_up (z, utc_ms);
   return z->offset;
}

int64_t
tk_zone_day (tk_zone_t *z, int64_t utc_ms)
{
   int64_t local = utc_ms + tk_zone_offset_ms (z, utc_ms);
   return local >= 0 ? local / TK_DAY_MS : -((-local + TK_DAY_MS - 1) / TK_DAY_MS);
}

bool
tk_zone_each_name (bool (*fn) (void *ud, const char *name), void *ud)
{
   UErrorCode st = U_ZERO_ERROR;
   UEnumeration *names = ucal_openTimeZoneIDEnumeration (UCAL_ZONE_TYPE_ANY, NULL, NULL, &st);
   if (U_FAILURE (st)) {
      return false;
   }
   bool ok = true;
   const char *name;
   int32_t len;
   while (ok && (name = uenum_next (names, &len, &st)) && U_SUCCESS (st)) {
      tk_error_t err;
      tk_zone_t *z = tk_zone_open (name, &err); /* the same test as a request's */
      if (z) {
         tk_zone_close (z);
         ok = fn (ud, name);
      }
   }
   uenum_close (names);
   return ok && U_SUCCESS (st);
}
