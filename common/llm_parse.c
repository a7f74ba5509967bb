/* llm_parse.c - validation of LLM classification answers. */
#include "llm_parse.h"

#include "ticket_json.h"

#include <stdio.h>

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

/* Strips surrounding whitespace and a Markdown code fence. */
static void
unwrap (const char **text, size_t *len)
{
   const char *s = *text;
   size_t n = *len;
   while (n > 0 && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')) {
      s++;
      n--;
   }
   while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t')) {
      n--;
   }
   if (n >= 6 && strncmp (s, "```", 3) == 0 && strncmp (s + n - 3, "```", 3) == 0) {
      const char *nl = memchr (s, '\n', n);
      if (nl) {
         size_t skip = (size_t) (nl - s) + 1;
         s += skip;
         n -= skip + 3;
      }
   }
   *text = s;
   *len = n;
}

static double
clamp01 (double v)
{
   return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v);
}

static bool
one_label (const cJSON *obj, const char *key, tk_taxonomy_kind_t kind, const tk_taxonomy_t *tax,
           char **out, tk_error_t *err)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   if (!cJSON_IsString (v)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, key, "\"%s\" is %s; it must be a string", key,
                          v ? "not a string" : "missing");
      return false;
   }
   const char *canon = tk_taxonomy_canonical (tax, kind, v->valuestring, NULL);
   if (!canon) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, key,
                          "\"%s\" is \"%.64s\", which is not one of the allowed labels", key,
                          v->valuestring);
      return false;
   }
   if (!(*out = strdup (canon))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   return true;
}

static bool
confidence (const cJSON *obj, tk_confidence_t *conf, tk_error_t *err)
{
   const cJSON *cs = cJSON_GetObjectItemCaseSensitive (obj, "confidence");
   if (!cJSON_IsObject (cs)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "confidence",
                          "\"confidence\" is %s; it must be an object with topic, sentiment "
                          "and priority numbers",
                          cs ? "not an object" : "missing");
      return false;
   }
   static const char *const keys[] = {"topic", "sentiment", "priority"};
   double *dst[] = {&conf->topic, &conf->sentiment, &conf->priority};
   for (int k = 0; k < 3; k++) {
      const cJSON *v = cJSON_GetObjectItemCaseSensitive (cs, keys[k]);
      if (!cJSON_IsNumber (v)) {
         char field[32];
         snprintf (field, sizeof field, "confidence.%s", keys[k]);
         tk_error_set_field (err, TK_ERR_INVALID, 0, field, "\"%s\" is %s; it must be a number",
                             field, v ? "not a number" : "missing");
         return false;
      }
      *dst[k] = clamp01 (v->valuedouble);
   }
   return true;
}

/* Validates one answer object (borrowed) into c (zeroed) and conf. */
static bool
parse_object (const cJSON *root, const tk_taxonomy_t *tax, tk_classification_t *c,
              tk_confidence_t *conf, tk_error_t *err)
{
   bool ok = false;
   memset (c, 0, sizeof *c);
   if (!cJSON_IsObject (root)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the answer must be one JSON object");
      goto done;
   }
   const cJSON *tags = cJSON_GetObjectItemCaseSensitive (root, "topic_tags");
   if (!cJSON_IsArray (tags) || cJSON_GetArraySize (tags) == 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_tags",
                          "\"topic_tags\" is %s; it must be a non-empty array of labels",
                          !tags ? "missing" : (cJSON_IsArray (tags) ? "empty" : "not an array"));
      goto done;
   }
   const cJSON *tag;
   cJSON_ArrayForEach (tag, tags)
   {
      const char *canon =
         cJSON_IsString (tag) ? tk_taxonomy_canonical (tax, TK_TAXONOMY_TOPIC, tag->valuestring, NULL)
                              : NULL;
      if (!canon) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_tags",
                             "topic tag %s%.64s%s is not one of the allowed labels",
                             cJSON_IsString (tag) ? "\"" : "",
                             cJSON_IsString (tag) ? tag->valuestring : "(not a string)",
                             cJSON_IsString (tag) ? "\"" : "");
         goto done;
      }
      bool seen = false;
      for (size_t k = 0; k < c->n_topic_tags; k++) {
         seen |= strcmp (c->topic_tags[k], canon) == 0;
      }
      if (seen) {
         continue;
      }
      if (c->n_topic_tags == TK_TICKET_MAX_TAGS) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_tags",
                             "more than %d topic tags", TK_TICKET_MAX_TAGS);
         goto done;
      }
      if (!(c->topic_tags[c->n_topic_tags] = strdup (canon))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         goto done;
      }
      c->n_topic_tags++;
   }
   if (!one_label (root, "sentiment", TK_TAXONOMY_SENTIMENT, tax, &c->sentiment, err) ||
       !one_label (root, "priority", TK_TAXONOMY_PRIORITY, tax, &c->priority, err) ||
       !confidence (root, conf, err)) {
      goto done;
   }
   ok = true;
done:
   if (!ok) {
      tk_classification_clear (c);
   }
   return ok;
}

bool
tk_llm_parse_answer (const char *text, size_t len, const tk_taxonomy_t *tax,
                     tk_classification_t *c, tk_confidence_t *conf, tk_error_t *err)
{
   memset (c, 0, sizeof *c);
   unwrap (&text, &len);
   tk_error_t perr;
   cJSON *root = tk_json_parse (text, len, TK_LLM_RESPONSE_MAX, &perr);
   if (!root) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the answer is not valid JSON: %s", perr.message);
      return false;
   }
   bool ok = parse_object (root, tax, c, conf, err);
   cJSON_Delete (root);
   return ok;
}

void
tk_llm_batch_items_cleanup (tk_llm_batch_item_t *items, size_t n)
{
   for (size_t i = 0; items && i < n; i++) {
      tk_classification_clear (&items[i].c);
      free (items[i].answer);
      items[i].answer = NULL;
   }
}

/* Matches the entries of answers to the tickets by their "id": seen[i]
 * counts the entries for ids[i], entry[i] is the last of them (borrowed from
 * answers). An entry without a string id, or with an id not asked about, is
 * ignored. */
static void
match_answers (const cJSON *answers, const char *const *ids, size_t n, unsigned *seen,
               const cJSON **entry)
{
   const cJSON *a;
   cJSON_ArrayForEach (a, answers)
   {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive (a, "id");
      if (!cJSON_IsString (id)) {
         continue; /* cannot be matched to a ticket: as if missing */
      }
      for (size_t i = 0; i < n; i++) {
         if (strcmp (ids[i], id->valuestring) == 0) {
            seen[i]++;
            entry[i] = a;
            break;
         }
      }
      /* An id that was not asked about is ignored. */
   }
}

/* Fills the item of ticket id from its seen entries (entry, when there is
 * just one): a missing or repeated entry, or one that does not parse, leaves
 * it->err set; the text of one that does not parse goes to it->answer
 * (owned by the item). Returns false only when memory runs out. */
static bool
parse_batch_item (const cJSON *entry, unsigned seen, const char *id, const tk_taxonomy_t *tax,
                  tk_llm_batch_item_t *it, tk_error_t *err)
{
   if (seen == 0) {
      tk_error_set_field (&it->err, TK_ERR_INVALID, 0, "answers",
                          "the answer has no entry for ticket \"%.64s\"", id);
      return true;
   }
   if (seen > 1) {
      /* Which of them is meant cannot be told: neither is trusted. */
      tk_error_set_field (&it->err, TK_ERR_INVALID, 0, "answers",
                          "the answer has %u entries for ticket \"%.64s\"", seen, id);
      return true;
   }
   it->ok = parse_object (entry, tax, &it->c, &it->conf, &it->err);
   if (!it->ok && !(it->answer = cJSON_PrintUnformatted (entry))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   return true;
}

bool
tk_llm_parse_batch_answer (const char *text, size_t len, const tk_taxonomy_t *tax,
                           const char *const *ids, size_t n, tk_llm_batch_item_t *items,
                           tk_error_t *err)
{
   bool ok = false;
   memset (items, 0, n * sizeof *items);
   /* seen[i]: how many entries answered ids[i]. */
   unsigned *seen = calloc (n ? n : 1, sizeof *seen);
   const cJSON **entry = calloc (n ? n : 1, sizeof *entry);
   cJSON *root = NULL;
   if (!seen || !entry) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   unwrap (&text, &len);
   tk_error_t perr;
   if (!(root = tk_json_parse (text, len, TK_LLM_RESPONSE_MAX, &perr))) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the answer is not valid JSON: %s", perr.message);
      goto done;
   }
   const cJSON *answers = cJSON_GetObjectItemCaseSensitive (root, "answers");
   if (!cJSON_IsObject (root) || !cJSON_IsArray (answers)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "answers",
                          "the answer must be one JSON object with an \"answers\" array");
      goto done;
   }
   match_answers (answers, ids, n, seen, entry);
   for (size_t i = 0; i < n; i++) {
      if (!parse_batch_item (entry[i], seen[i], ids[i], tax, &items[i], err)) {
         goto done;
      }
   }
   ok = true;
done:
   if (!ok) {
      tk_llm_batch_items_cleanup (items, n);
   }
   cJSON_Delete (root);
   free (seen);
   free ((void *) entry);
   return ok;
}

static cJSON *
parse_body (const char *body, size_t len, tk_error_t *err)
{
   tk_error_t perr;
   cJSON *root = tk_json_parse (body, len, TK_LLM_RESPONSE_MAX, &perr);
   if (!root) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the response body is not JSON: %s", perr.message);
   }
   return root;
}

char *
tk_llm_openai_content (const char *body, size_t len, tk_error_t *err)
{
   char *out = NULL;
   cJSON *root = parse_body (body, len, err);
   if (!root) {
      return NULL;
   }
   const cJSON *msg = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (root, "choices"), 0), "message");
   const cJSON *refusal = cJSON_GetObjectItemCaseSensitive (msg, "refusal");
   const cJSON *content = cJSON_GetObjectItemCaseSensitive (msg, "content");
   if (cJSON_IsString (refusal) && refusal->valuestring[0]) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the model refused: %.160s", refusal->valuestring);
   } else if (!cJSON_IsString (content)) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "the response has no choices[0].message.content string");
   } else if (!(out = strdup (content->valuestring))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
   }
   cJSON_Delete (root);
   return out;
}

char *
tk_llm_gemini_content (const char *body, size_t len, tk_error_t *err)
{
   char *out = NULL;
   cJSON *root = parse_body (body, len, err);
   if (!root) {
      return NULL;
   }
   const cJSON *block = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (root, "promptFeedback"), "blockReason");
   const cJSON *parts = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (
         cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (root, "candidates"), 0), "content"),
      "parts");
   if (cJSON_IsString (block)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "the prompt was blocked: %.64s", block->valuestring);
      goto done;
   }
   size_t total = 0;
   const cJSON *p;
   cJSON_ArrayForEach (p, parts)
   {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive (p, "text");
      if (cJSON_IsString (t)) {
         total += strlen (t->valuestring);
      }
   }
   if (!cJSON_IsArray (parts) || total == 0) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "the response has no text in candidates[0].content.parts");
      goto done;
   }
   if (!(out = malloc (total + 1))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   out[0] = '\0';
   size_t at = 0;
   cJSON_ArrayForEach (p, parts)
   {
      const cJSON *t = cJSON_GetObjectItemCaseSensitive (p, "text");
      if (cJSON_IsString (t)) {
         size_t n = strlen (t->valuestring);
         memcpy (out + at, t->valuestring, n + 1);
         at += n;
      }
   }
done:
   cJSON_Delete (root);
   return out;
}
