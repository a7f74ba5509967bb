/* openapi_taxonomy.c - the parts of the OpenAPI description that the
 * taxonomy decides, written from the taxonomy the api validates with
 * (TRIAGE_TAXONOMY or the built-in one) when the document is loaded:
 *
 *   components.parameters.{topic,sentiment,priority}.schema.pattern
 *       the labels, each letter either case (the filters compare labels
 *       case-insensitively), one or more, comma-separated, spaces around
 *       the commas allowed (query_filter.c reads them so);
 *   components.schemas.Classification.properties
 *       topic_tags.items.enum, topic_tags.maxItems, sentiment.enum and
 *       priority.enum (a stored classification uses the exact labels).
 *
 * and components.parameters.tz.schema.enum: every zone name the api takes
 * (ICU's, timezone.h), written by api_openapi_fit_zones.
 *
 * The repository's services/api/openapi.json holds the built-in taxonomy,
 * so with it the served document equals the file (test_api_openapi checks
 * both that and a custom taxonomy). */
#include "api.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "timezone.h"

/* Appends label to b as a regular expression (ECMA and POSIX ERE alike):
 * letters as [Xx], the characters special to either escaped. */
static bool
append_label (tk_buf_t *b, const char *label)
{
   for (const unsigned char *p = (const unsigned char *) label; *p; p++) {
      char c = (char) *p;
      bool ok;
      if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
         char up = (char) (c & ~0x20), low = (char) (c | 0x20);
         ok = tk_buf_append (b, "[", 1) && tk_buf_append (b, &up, 1) &&
              tk_buf_append (b, &low, 1) && tk_buf_append (b, "]", 1);
      } else if (strchr ("\\^$.|?*+()[]{}/", c)) {
         ok = tk_buf_append (b, "\\", 1) && tk_buf_append (b, &c, 1);
      } else {
         ok = tk_buf_append (b, &c, 1);
      }
      if (!ok) {
         return false;
      }
   }
   return true;
}

/* "(L1|L2|...)" for the labels of kind. */
static bool
append_alternatives (tk_buf_t *b, const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   if (!tk_buf_append (b, "(", 1)) {
      return false;
   }
   for (size_t i = 0; i < tk_taxonomy_count (tax, kind); i++) {
      if ((i && !tk_buf_append (b, "|", 1)) ||
          !append_label (b, tk_taxonomy_label (tax, kind, i))) {
         return false;
      }
   }
   return tk_buf_append (b, ")", 1);
}

char *
api_openapi_label_pattern (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   tk_buf_t b = TK_BUF_INIT;
   /* The ASCII white space tk_taxonomy_canonical trims around a label. */
#define WS "[ \\t\\n\\r\\f\\v]*"
   bool ok = tk_buf_append_str (&b, "^" WS) && append_alternatives (&b, tax, kind) &&
             tk_buf_append_str (&b, WS "(," WS) && append_alternatives (&b, tax, kind) &&
             tk_buf_append_str (&b, WS ")*$") && tk_buf_append (&b, "", 1);
#undef WS
   char *out = tk_buf_steal (&b, NULL);
   if (!ok) {
      free (out);
      return NULL;
   }
   return out; /* NUL-terminated */
}

static cJSON *
path_of (cJSON *doc, const char *const *keys)
{
   for (; doc && *keys; keys++) {
      doc = cJSON_GetObjectItemCaseSensitive (doc, *keys);
   }
   return doc;
}

/* Replaces member key of obj (an object) with item; false (item freed)
 * when obj is not an object. */
static bool
put (cJSON *obj, const char *key, cJSON *item)
{
   if (!item || !cJSON_IsObject (obj)) {
      cJSON_Delete (item);
      return false;
   }
   if (cJSON_GetObjectItemCaseSensitive (obj, key)) {
      return cJSON_ReplaceItemInObjectCaseSensitive (obj, key, item);
   }
   return cJSON_AddItemToObject (obj, key, item);
}

static cJSON *
labels_array (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   cJSON *arr = cJSON_CreateArray ();
   for (size_t i = 0; arr && i < tk_taxonomy_count (tax, kind); i++) {
      cJSON_AddItemToArray (arr, cJSON_CreateString (tk_taxonomy_label (tax, kind, i)));
   }
   return arr;
}

bool
api_openapi_fit_taxonomy (cJSON *doc, const tk_taxonomy_t *tax)
{
   static const struct {
      const char *param;
      tk_taxonomy_kind_t kind;
   } params[] = {
      {"topic", TK_TAXONOMY_TOPIC},
      {"sentiment", TK_TAXONOMY_SENTIMENT},
      {"priority", TK_TAXONOMY_PRIORITY},
   };
   for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
      cJSON *schema =
         path_of (doc, (const char *[]) {"components", "parameters", params[i].param, "schema", NULL});
      char *pattern = api_openapi_label_pattern (tax, params[i].kind);
      bool ok = pattern && put (schema, "pattern", cJSON_CreateString (pattern));
      free (pattern);
      if (!ok) {
         return false;
      }
   }
   cJSON *props =
      path_of (doc, (const char *[]) {"components", "schemas", "Classification", "properties", NULL});
   cJSON *tags = cJSON_GetObjectItemCaseSensitive (props, "topic_tags");
   return put (cJSON_GetObjectItemCaseSensitive (tags, "items"), "enum",
               labels_array (tax, TK_TAXONOMY_TOPIC)) &&
          put (tags, "maxItems",
               cJSON_CreateNumber ((double) tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC))) &&
          put (cJSON_GetObjectItemCaseSensitive (props, "sentiment"), "enum",
               labels_array (tax, TK_TAXONOMY_SENTIMENT)) &&
          put (cJSON_GetObjectItemCaseSensitive (props, "priority"), "enum",
               labels_array (tax, TK_TAXONOMY_PRIORITY));
}

static bool
add_zone_name (void *ud, const char *name)
{
   cJSON *s = cJSON_CreateString (name);
   return s && cJSON_AddItemToArray (ud, s);
}

bool
api_openapi_fit_zones (cJSON *doc)
{
   cJSON *schema = path_of (doc, (const char *[]) {"components", "parameters", "tz", "schema", NULL});
   cJSON *names = cJSON_CreateArray ();
   if (!names || !tk_zone_each_name (add_zone_name, names)) {
      cJSON_Delete (names);
      return false;
   }
   return put (schema, "enum", names);
}
