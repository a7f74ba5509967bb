/* token_bucket.c - a token bucket for client-side rate limits. */
#include "token_bucket.h"

#include <math.h>

void
tk_token_bucket_init (tk_token_bucket_t *b, double per_minute, double capacity, int64_t now_ms)
{
   b->per_ms = per_minute / 60000.0;
   b->capacity = capacity > 0 ? capacity : per_minute;
   b->tokens = b->capacity;
   b->last_ms = now_ms;
}

int64_t
tk_token_bucket_take (tk_token_bucket_t *b, double n, int64_t now_ms)
{
   if (now_ms > b->last_ms) {
      b->tokens += (double) (now_ms - b->last_ms) * b->per_ms;
      if (b->tokens > b->capacity) {
         b->tokens = b->capacity;
      }
      b->last_ms = now_ms;
   }
   /* A request larger than the bucket can ever hold needs a full bucket. */
   double need = n > b->capacity ? b->capacity : n;
   if (b->tokens >= need) {
      b->tokens -= n;
      return 0;
   }
   double wait = ceil ((need - b->tokens) / b->per_ms);
   return wait < 1.0 ? 1 : (int64_t) wait;
}

void
tk_token_bucket_put (tk_token_bucket_t *b, double n)
{
   b->tokens += n;
   if (b->tokens > b->capacity) {
      b->tokens = b->capacity;
   }
}

bool
tk_token_bucket_is_full (const tk_token_bucket_t *b, int64_t now_ms)
{
   double tokens = b->tokens;
   if (now_ms > b->last_ms) {
      tokens += (double) (now_ms - b->last_ms) * b->per_ms;
   }
   return tokens >= b->capacity;
}
