/* backoff.h - retry delays: exponential backoff with full jitter, and the
 * Retry-After header.
 *
 * Pure functions (no clock, no randomness of their own) so they can be unit
 * tested; the caller passes the current time and a uniform random number.
 */
#ifndef TK_BACKOFF_H
#define TK_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

/* The delay before attempt number `attempt + 1`, after `attempt` (>= 1)
 * failed attempts: a uniform draw in [0, min(cap_ms, base_ms * 2^(attempt-1))]
 * ("full jitter"), where rnd is uniform in [0, 1). */
int64_t tk_backoff_full_jitter (int64_t base_ms, int64_t cap_ms, unsigned attempt, double rnd);

/* Parses a Retry-After header value: either delta-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", compared with now_ms). Writes
 * the wait in milliseconds (0 for a date in the past) and returns true, or
 * returns false for anything else. */
bool tk_retry_after_parse (const char *value, int64_t now_ms, int64_t *out_ms);

#endif
