/* prompt.c - the instructions and schema sent to remote LLMs. */
#include "provider.h"

#include "buf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

char *
cl_prompt_system (const tk_taxonomy_t *tax)
{
   tk_buf_t b = TK_BUF_INIT;
   bool ok = tk_buf_append_str (
      &b, "You label customer-support tickets for a data-catalog company the way its "
          "experienced support lead does: labels follow what the ticket's author needs and "
          "feels. Read the whole ticket and choose labels from these lists only, spelled "
          "exactly as given.\n");
   static const char *const titles[] = {
      "topic_tags (one to three that apply: the tags the author's need touches, usually one "
      "or two; a tag that only a word in passing touches does not apply)",
      "sentiment (exactly one)", "priority (exactly one)"};
   for (int k = 0; k < 3 && ok; k++) {
      ok = tk_buf_appendf (&b, "\n%s:\n", titles[k]);
      size_t n = tk_taxonomy_count (tax, (tk_taxonomy_kind_t) k);
      for (size_t i = 0; i < n && ok; i++) {
         const char *d = tk_taxonomy_description (tax, (tk_taxonomy_kind_t) k, i);
         ok = tk_buf_appendf (&b, "- %s%s%s\n", tk_taxonomy_label (tax, (tk_taxonomy_kind_t) k, i),
                              d[0] ? ": " : "", d);
      }
   }
   ok = ok && tk_buf_append_str (
                 &b, "\nAnswer with one JSON object and nothing else: {\"topic_tags\": [...], "
                     "\"sentiment\": \"...\", \"priority\": \"...\", \"confidence\": "
                     "{\"topic\": 0.0-1.0, \"sentiment\": 0.0-1.0, \"priority\": 0.0-1.0}}. "
                     "Confidence is how sure you are of each field. Placeholders such as "
                     "[EMAIL] or [CARD] stand for masked personal data.\n");
   if (!ok) {
      tk_buf_destroy (&b);
      return NULL;
   }
   return tk_buf_steal (&b, NULL);
}

char *
cl_prompt_user (const cl_prompt_input_t *in)
{
   tk_buf_t b = TK_BUF_INIT;
   if (!tk_buf_appendf (&b, "Ticket %s\nSubject: %s\n\n%s", in->id, in->subject, in->body)) {
      tk_buf_destroy (&b);
      return NULL;
   }
   return tk_buf_steal (&b, NULL);
}

char *
cl_prompt_batch_user (const cl_prompt_input_t *in, size_t n)
{
   char *out = NULL, *tickets = NULL;
   cJSON *arr = cJSON_CreateArray ();
   for (size_t i = 0; arr && i < n; i++) {
      cJSON *t = cJSON_CreateObject ();
      if (!t || !cJSON_AddItemToArray (arr, t) || !cJSON_AddStringToObject (t, "id", in[i].id) ||
          !cJSON_AddStringToObject (t, "subject", in[i].subject) ||
          !cJSON_AddStringToObject (t, "body", in[i].body)) {
         goto done;
      }
   }
   if (!arr || !(tickets = cJSON_Print (arr))) {
      goto done;
   }
   tk_buf_t b = TK_BUF_INIT;
   if (!tk_buf_appendf (&b,
                        "Classify each of these %zu tickets on its own. Answer with one JSON "
                        "object and nothing else: {\"answers\": [...]}, with exactly one entry "
                        "per ticket, each the answer object described above plus the "
                        "ticket's \"id\" copied exactly.\n\nTickets:\n%s",
                        n, tickets)) {
      tk_buf_destroy (&b);
      goto done;
   }
   out = tk_buf_steal (&b, NULL);
done:
   free (tickets);
   cJSON_Delete (arr);
   return out;
}

char *
cl_prompt_repair (const cl_prompt_input_t *in)
{
   tk_buf_t b = TK_BUF_INIT;
   if (!tk_buf_appendf (&b,
                        "That answer was rejected: %s. Answer again with only the JSON object, "
                        "using only the labels listed.",
                        in->repair_error ? in->repair_error : "invalid")) {
      tk_buf_destroy (&b);
      return NULL;
   }
   return tk_buf_steal (&b, NULL);
}

static cJSON *
labels_enum (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   cJSON *arr = cJSON_CreateArray ();
   size_t n = tk_taxonomy_count (tax, kind);
   for (size_t i = 0; arr && i < n; i++) {
      cJSON_AddItemToArray (arr, cJSON_CreateString (tk_taxonomy_label (tax, kind, i)));
   }
   return arr;
}

static cJSON *
typed (const char *type, bool gemini)
{
   cJSON *o = cJSON_CreateObject ();
   char up[16];
   size_t i = 0;
   for (; type[i] && i < sizeof up - 1; i++) {
      up[i] = gemini ? (char) (type[i] - 'a' + 'A') : type[i];
   }
   up[i] = '\0';
   cJSON_AddStringToObject (o, "type", up);
   return o;
}

cJSON *
cl_prompt_schema (const tk_taxonomy_t *tax, bool gemini)
{
   cJSON *schema = typed ("object", gemini);
   cJSON *props = cJSON_AddObjectToObject (schema, "properties");

   cJSON *tags = typed ("array", gemini);
   cJSON *item = typed ("string", gemini);
   cJSON_AddItemToObject (item, "enum", labels_enum (tax, TK_TAXONOMY_TOPIC));
   cJSON_AddItemToObject (tags, "items", item);
   cJSON_AddItemToObject (props, "topic_tags", tags);

   cJSON *sent = typed ("string", gemini);
   cJSON_AddItemToObject (sent, "enum", labels_enum (tax, TK_TAXONOMY_SENTIMENT));
   cJSON_AddItemToObject (props, "sentiment", sent);
   cJSON *prio = typed ("string", gemini);
   cJSON_AddItemToObject (prio, "enum", labels_enum (tax, TK_TAXONOMY_PRIORITY));
   cJSON_AddItemToObject (props, "priority", prio);

   cJSON *conf = typed ("object", gemini);
   cJSON *cprops = cJSON_AddObjectToObject (conf, "properties");
   static const char *const keys[] = {"topic", "sentiment", "priority"};
   cJSON *creq = cJSON_CreateArray ();
   for (int k = 0; k < 3; k++) {
      cJSON_AddItemToObject (cprops, keys[k], typed ("number", gemini));
      cJSON_AddItemToArray (creq, cJSON_CreateString (keys[k]));
   }
   cJSON_AddItemToObject (conf, "required", creq);
   if (!gemini) {
      cJSON_AddFalseToObject (conf, "additionalProperties");
   }
   cJSON_AddItemToObject (props, "confidence", conf);

   static const char *const req[] = {"topic_tags", "sentiment", "priority", "confidence"};
   cJSON *required = cJSON_CreateArray ();
   for (int k = 0; k < 4; k++) {
      cJSON_AddItemToArray (required, cJSON_CreateString (req[k]));
   }
   cJSON_AddItemToObject (schema, "required", required);
   if (!gemini) {
      cJSON_AddFalseToObject (schema, "additionalProperties");
   }
   return schema;
}

cJSON *
cl_prompt_batch_schema (const tk_taxonomy_t *tax, bool gemini)
{
   cJSON *item = cl_prompt_schema (tax, gemini);
   cJSON *schema = typed ("object", gemini);
   if (!item || !schema) {
      cJSON_Delete (item);
      cJSON_Delete (schema);
      return NULL;
   }
   /* Each entry: the single answer plus the ticket's id, required. */
   cJSON *props = cJSON_GetObjectItemCaseSensitive (item, "properties");
   cJSON_AddItemToObject (props, "id", typed ("string", gemini));
   cJSON_AddItemToArray (cJSON_GetObjectItemCaseSensitive (item, "required"),
                         cJSON_CreateString ("id"));
   cJSON *answers = typed ("array", gemini);
   cJSON_AddItemToObject (answers, "items", item);
   cJSON_AddItemToObject (cJSON_AddObjectToObject (schema, "properties"), "answers", answers);
   cJSON *required = cJSON_AddArrayToObject (schema, "required");
   cJSON_AddItemToArray (required, cJSON_CreateString ("answers"));
   if (!gemini) {
      cJSON_AddFalseToObject (schema, "additionalProperties");
   }
   return schema;
}
