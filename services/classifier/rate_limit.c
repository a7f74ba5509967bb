/* rate_limit.c - requests and tokens per minute, as two token buckets. */
#include "rate_limit.h"

void
cl_rate_limit_init (cl_rate_limit_t *rl, int rpm, int tpm, int64_t now_ms)
{
   rl->limit_requests = rpm > 0;
   rl->limit_tokens = tpm > 0;
   /* A second's worth of burst (at least one request), so a fleet that
    * starts at once does not spend a whole minute's quota in a moment. */
   if (rl->limit_requests) {
      double burst = rpm / 60.0 < 1.0 ? 1.0 : rpm / 60.0;
      tk_token_bucket_init (&rl->requests, rpm, burst, now_ms);
   }
   if (rl->limit_tokens) {
      double burst = tpm / 60.0 < 1.0 ? 1.0 : tpm / 60.0;
      tk_token_bucket_init (&rl->tokens, tpm, burst, now_ms);
   }
}

int64_t
cl_rate_limit_take (cl_rate_limit_t *rl, size_t tokens, int64_t now_ms)
{
   if (rl->limit_requests) {
      int64_t wait = tk_token_bucket_take (&rl->requests, 1, now_ms);
      if (wait > 0) {
         return wait;
      }
   }
   if (rl->limit_tokens) {
      int64_t wait = tk_token_bucket_take (&rl->tokens, (double) tokens, now_ms);
      if (wait > 0) {
         /* Give the request back: nothing was sent. */
         if (rl->limit_requests) {
            rl->requests.tokens += 1;
         }
         return wait;
      }
   }
   return 0;
}
