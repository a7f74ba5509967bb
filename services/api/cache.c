/* cache.c - short-lived response cache for statistics and analytics, on
 * the loop thread only. A few entries at most (one per distinct query), so
 * a list is enough; expired entries are dropped as they are met. */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#define API_CACHE_MAX_ENTRIES 64

static void
entry_free (api_cache_entry_t *e)
{
   free (e->key);
   free (e->body);
   free (e);
}

const api_cache_entry_t *
api_cache_get (api_t *api, const char *key)
{
   uint64_t now = uv_now (api->app->loop);
   api_cache_entry_t **pp = &api->cache;
   while (*pp) {
      api_cache_entry_t *e = *pp;
      if (e->expires_ms <= now) {
         *pp = e->next;
         entry_free (e);
         continue;
      }
      if (!strcmp (e->key, key)) {
         return e;
      }
      pp = &e->next;
   }
   return NULL;
}

void
api_cache_put (api_t *api, const char *key, const char *body, size_t len)
{
   int64_t ttl = api->app->cfg.api_cache_ttl_ms;
   if (ttl <= 0) {
      return;
   }
   size_t count = 0;
   for (api_cache_entry_t *e = api->cache; e; e = e->next) {
      count++;
   }
   if (count >= API_CACHE_MAX_ENTRIES) {
      api_cache_clear (api);
   }
   api_cache_entry_t *e = calloc (1, sizeof *e);
   if (!e || !(e->key = strdup (key)) || !(e->body = malloc (len + 1))) {
      if (e) {
         free (e->key);
      }
      free (e);
      return;
   }
   memcpy (e->body, body, len);
   e->body[len] = '\0';
   e->len = len;
   e->expires_ms = uv_now (api->app->loop) + (uint64_t) ttl;
   e->next = api->cache;
   api->cache = e;
}

void
api_cache_clear (api_t *api)
{
   while (api->cache) {
      api_cache_entry_t *e = api->cache;
      api->cache = e->next;
      entry_free (e);
   }
}
