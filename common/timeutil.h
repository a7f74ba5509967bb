/* timeutil.h - wall-clock time and ISO-8601 / RFC 3339 timestamps.
 *
 * triage keeps every time as int64 milliseconds since the Unix epoch, UTC
 * (BSON dates use the same unit). These helpers convert to and from the text
 * form used in JSON, without mktime/strptime, the locale or $TZ: the civil
 * calendar arithmetic is done here, proleptic Gregorian, years 0001..9999.
 */
#ifndef TK_TIMEUTIL_H
#define TK_TIMEUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes needed for "YYYY-MM-DDTHH:MM:SS.mmmZ" plus its NUL. */
#define TK_TIME_ISO_BUFSIZE 25

/* The current wall-clock time in ms since the epoch (CLOCK_REALTIME). */
int64_t tk_time_now_ms (void);

/* Parses the len bytes at s (no NUL needed) into ms since the epoch, UTC.
 * Accepted forms:
 *   2025-09-13T06:38:47.513Z     fractional seconds of any length (digits
 *                                past the millisecond are truncated)
 *   2025-09-13T06:38:47Z         'T' may also be 't' or one space, 'Z' 'z'
 *   2025-09-13T06:38:47+02:00    offsets +HH:MM, -HH:MM, +HHMM, -HHMM
 *   2025-09-13T06:38:47          no offset: taken as UTC
 *   2025-09-13                   midnight UTC
 * Rejected (returns false, *out_ms untouched): anything else, including
 * surrounding whitespace, out-of-range fields (month 13, Feb 30 outside leap
 * years, hour 24, second 60 - leap seconds are not representable), offsets
 * beyond 23:59, and years outside 0001..9999 - also when the offset carries
 * the UTC instant out of them ("9999-12-31T23:00:00-02:00"). */
bool tk_time_parse_iso (const char *s, size_t len, int64_t *out_ms);

/* Writes ms as "2025-09-13T06:38:47.513Z" (always three fraction digits,
 * always UTC) into buf. Returns false, writing "" if cap > 0, when cap is
 * smaller than TK_TIME_ISO_BUFSIZE or the year falls outside 0001..9999. */
bool tk_time_format_iso (int64_t ms, char *buf, size_t cap);

/* Days since 1970-01-01 of a civil date (no range check on the fields;
 * y >= 1). Exposed for the store's "processed today" and for tests. */
int64_t tk_time_days_from_civil (int y, int m, int d);

#endif
