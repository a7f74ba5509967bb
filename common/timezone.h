/* timezone.h - a named time zone (IANA, "America/Los_Angeles") and the
 * offset from UTC it has at an instant, daylight saving time included.
 *
 * Used where a client asks for days in its own zone: the "processed today"
 * figure and the per-day series of GET /api/analytics and
 * GET /api/processing-stats (parameter `tz`). Everything else in triage
 * stays in UTC milliseconds (timeutil.h).
 *
 * The zone rules come from ICU (libicu, its own copy of the IANA database):
 * glibc can only convert through $TZ, which is process-wide and not safe to
 * change while other threads run (docs/decisions/0019-time-zones-from-icu.md).
 *
 * Threads: a zone belongs to one thread at a time (ICU calendars are not
 * shared); open one per thread or per request, they are cheap.
 */
#ifndef TK_TIMEZONE_H
#define TK_TIMEZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* The longest zone name accepted (the longest IANA name has 32 bytes). */
#define TK_ZONE_NAME_MAX 64

#define TK_DAY_MS 86400000LL

typedef struct tk_zone tk_zone_t;

/* Opens the zone called name: an IANA zone name ("Europe/Paris", "UTC",
 * "Etc/GMT+5"), as browsers report it (Intl.DateTimeFormat). NULL with err
 * (TK_ERR_INVALID, a message that says why) for anything else: empty,
 * longer than TK_ZONE_NAME_MAX, characters other than letters, digits and
 * "/_+-", or a name the zone database does not know (custom offsets such as
 * "GMT+05:00" included). */
tk_zone_t *tk_zone_open (const char *name, tk_error_t *err);

/* Frees z. Accepts NULL. */
void tk_zone_close (tk_zone_t *z);

/* The name z was opened with. */
const char *tk_zone_name (const tk_zone_t *z);

/* The offset of z from UTC at the instant utc_ms, in ms (local = UTC +
 * offset), daylight saving time included. NULL z: 0 (UTC). Lookups near
 * each other are answered from the last interval without a transition, so
 * walking instants in order costs one ICU call per transition. */
int64_t tk_zone_offset_ms (tk_zone_t *z, int64_t utc_ms);

/* The local day of utc_ms in z: floor((utc_ms + offset) / TK_DAY_MS), days
 * since 1970-01-01 in that zone's calendar. NULL z: the UTC day. */
int64_t tk_zone_day (tk_zone_t *z, int64_t utc_ms);

/* Calls fn(ud, name) for every zone name tk_zone_open accepts (ICU's
 * system zones, aliases included, within TK_ZONE_NAME_MAX and the allowed
 * characters), until fn returns false. false when ICU could not list them
 * or fn stopped. */
bool tk_zone_each_name (bool (*fn) (void *ud, const char *name), void *ud);

#endif
