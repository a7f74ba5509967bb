/* token_bucket.h - a token bucket for client-side rate limits.
 *
 * Holds up to `capacity` tokens and refills at `per_minute` tokens a minute.
 * Pure: the caller passes the current time (milliseconds on a monotonic
 * clock), so it can be unit tested without sleeping.
 */
#ifndef TK_TOKEN_BUCKET_H
#define TK_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
   double capacity;
   double tokens;
   double per_ms;  /* refill rate */
   int64_t last_ms;
} tk_token_bucket_t;

/* A bucket refilling per_minute tokens a minute (> 0), holding at most
 * capacity (<= 0 means per_minute, i.e. a minute's worth), starting full. */
void tk_token_bucket_init (tk_token_bucket_t *b, double per_minute, double capacity,
                           int64_t now_ms);

/* Takes n tokens if they are there and returns 0; otherwise takes nothing
 * and returns how many milliseconds until n tokens will be there (at least
 * 1). A request larger than the capacity is allowed once the bucket is full,
 * so it waits but never forever. */
int64_t tk_token_bucket_take (tk_token_bucket_t *b, double n, int64_t now_ms);

/* Gives back n tokens taken earlier (never above the capacity). */
void tk_token_bucket_put (tk_token_bucket_t *b, double n);

/* True when the bucket has refilled to its capacity by now_ms: it then
 * holds no memory of past use, and may be reused for another client. */
bool tk_token_bucket_is_full (const tk_token_bucket_t *b, int64_t now_ms);

#endif
