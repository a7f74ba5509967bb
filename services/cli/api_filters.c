/* api_filters.c - the api's ticket filters from triagectl's options (see
 * api_filters.h). */
#include "api_filters.h"
#include "http_client.h"

#include <stdio.h>
#include <string.h>

/* Longest filter key passed on (the api's are far shorter). */
#define KEY_MAX 64

bool
cli_filter_parse (const char *arg, void *field, char *why, size_t cap)
{
   cli_filter_list_t *list = field;
   const char *eq = strchr (arg, '=');
   if (!eq || eq == arg || (size_t) (eq - arg) >= KEY_MAX) {
      snprintf (why, cap, "'%s' has no key", arg);
      return false;
   }
   if (list->n == CLI_FILTER_EXTRA_MAX) {
      snprintf (why, cap, "at most %d of them", CLI_FILTER_EXTRA_MAX);
      return false;
   }
   list->items[list->n++] = arg;
   return true;
}

typedef bool (*pair_fn) (const char *key, const char *value, void *ctx);

/* Calls fn for each filter given, the named options first; false as soon
 * as fn returns false. */
static bool
each_pair (const cli_filters_t *f, pair_fn fn, void *ctx)
{
   const struct {
      const char *key, *value;
   } named[] = {{"status", f->status},         {"priority", f->priority},
                {"sentiment", f->sentiment},   {"topic", f->topic},
                {"q", f->q},                   {"created_from", f->created_from},
                {"created_to", f->created_to}};
   for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
      if (named[i].value && !fn (named[i].key, named[i].value, ctx)) {
         return false;
      }
   }
   for (size_t i = 0; i < f->extra.n; i++) {
      char key[KEY_MAX];
      const char *eq = strchr (f->extra.items[i], '=');
      snprintf (key, sizeof key, "%.*s", (int) (eq - f->extra.items[i]), f->extra.items[i]);
      if (!fn (key, eq + 1, ctx)) {
         return false;
      }
   }
   return true;
}

static bool
count_pair (const char *key, const char *value, void *ctx)
{
   (void) key;
   (void) value;
   ++*(size_t *) ctx;
   return true;
}

bool
cli_filters_any (const cli_filters_t *f)
{
   size_t n = 0;
   each_pair (f, count_pair, &n);
   return n > 0;
}

/* Adds key: value to the object ctx; a key seen before becomes an array. */
static bool
json_pair (const char *key, const char *value, void *ctx)
{
   cJSON *obj = ctx;
   cJSON *have = cJSON_GetObjectItemCaseSensitive (obj, key);
   cJSON *v = cJSON_CreateString (value);
   if (!v) {
      return false;
   }
   if (!have) {
      return cJSON_AddItemToObject (obj, key, v);
   }
   if (cJSON_IsString (have)) {
      cJSON *arr = cJSON_CreateArray ();
      cJSON *first = cJSON_DetachItemViaPointer (obj, have);
      if (!arr || !cJSON_AddItemToArray (arr, first) || !cJSON_AddItemToObject (obj, key, arr)) {
         cJSON_Delete (v);
         return false;
      }
      have = arr;
   }
   return cJSON_AddItemToArray (have, v);
}

cJSON *
cli_filters_json (const cli_filters_t *f)
{
   cJSON *obj = cJSON_CreateObject ();
   if (obj && !each_pair (f, json_pair, obj)) {
      cJSON_Delete (obj);
      return NULL;
   }
   return obj;
}

static bool
query_pair (const char *key, const char *value, void *ctx)
{
   return cli_url_param (ctx, key, value);
}

bool
cli_filters_query (const cli_filters_t *f, tk_buf_t *url)
{
   return each_pair (f, query_pair, url);
}
