/* rate_limit.c - per-key token buckets, on the loop thread.
 *
 * Each API key (by its hash; requests without a key share one bucket) gets
 * TRIAGE_API_RATE_BURST tokens, refilled at TRIAGE_API_RATE_LIMIT per
 * second. The table is a small open hash of bounded size: when it is full
 * it is emptied, which at worst forgives some clients one burst. */
#include "api.h"
#include "hash.h"

#include <stdlib.h>
#include <string.h>

#define API_RATE_SLOTS 1024

struct api_rate_bucket {
   char key[TK_KEY_HASH_HEX];
   double tokens;
   uint64_t at_ms;
};

static size_t
slot_of (const char *key)
{
   return (size_t) (tk_hash_fnv1a_str (key) % API_RATE_SLOTS);
}

bool
api_rate_take (api_t *api, const char *bucket_key, unsigned *retry_after_s)
{
   int rate = api->app->cfg.api_rate_limit;
   double burst = api->app->cfg.api_rate_burst;
   if (rate <= 0) {
      return true;
   }
   if (!api->buckets && !(api->buckets = calloc (API_RATE_SLOTS, sizeof *api->buckets))) {
      return true;
   }
   uint64_t now = uv_now (api->app->loop);
   size_t i = slot_of (bucket_key);
   api_rate_bucket_t *b = NULL;
   for (size_t probe = 0; probe < API_RATE_SLOTS; probe++) {
      api_rate_bucket_t *s = &api->buckets[(i + probe) % API_RATE_SLOTS];
      if (!s->key[0]) {
         snprintf (s->key, sizeof s->key, "%s", bucket_key);
         s->tokens = burst;
         s->at_ms = now;
         b = s;
         break;
      }
      if (!strncmp (s->key, bucket_key, sizeof s->key - 1)) {
         b = s;
         break;
      }
   }
   if (!b) {
      memset (api->buckets, 0, API_RATE_SLOTS * sizeof *api->buckets);
      return api_rate_take (api, bucket_key, retry_after_s);
   }
   b->tokens += (double) (now - b->at_ms) * rate / 1000.0;
   if (b->tokens > burst) {
      b->tokens = burst;
   }
   b->at_ms = now;
   if (b->tokens < 1.0) {
      double wait_s = (1.0 - b->tokens) / rate;
      *retry_after_s = (unsigned) wait_s + 1;
      return false;
   }
   b->tokens -= 1.0;
   return true;
}

void
api_rate_destroy (api_t *api)
{
   free (api->buckets);
   api->buckets = NULL;
}
