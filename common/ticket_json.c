/* ticket_json.c - parsing, validating and serializing tickets as JSON. */
#include "ticket_json.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "utf8.h"

/* The largest integer a JSON (double) number holds exactly with its
 * neighbours apart (2^53 - 1): 2^53 + 1 would read as 2^53. */
#define JSON_MAX_SAFE_INT 9007199254740991.0

/* ---- untrusted JSON text ---- */

/* The text is UTF-8 without NUL bytes. */
static bool
check_text (const char *buf, size_t len, tk_error_t *err)
{
   size_t bad = 0;
   tk_utf8_status_t st = tk_utf8_check (buf, len, &bad, NULL);
   if (st == TK_UTF8_NUL) {
      tk_error_set (err, TK_ERR_INVALID, 0, "input contains a NUL byte at byte %zu", bad);
      return false;
   }
   if (st != TK_UTF8_OK) {
      tk_error_set (err, TK_ERR_INVALID, 0, "input is not valid UTF-8 at byte %zu (%s)", bad,
                    tk_utf8_status_str (st));
      return false;
   }
   return true;
}

/* One pass over the text, outside strings counting brackets and inside them
 * looking at escapes: no \u0000, no nesting deeper than TK_JSON_MAX_DEPTH.
 * It need not judge the syntax: cJSON does. */
static bool
check_nesting (const char *buf, size_t len, tk_error_t *err)
{
   int depth = 0;
   bool in_string = false;
   for (size_t i = 0; i < len; i++) {
      char c = buf[i];
      if (in_string) {
         if (c == '\\') {
            if (i + 5 < len && buf[i + 1] == 'u' && memcmp (buf + i + 2, "0000", 4) == 0) {
               tk_error_set (err, TK_ERR_INVALID, 0,
                             "input contains the escape \\u0000 (a NUL character) at byte %zu",
                             i);
               return false;
            }
            i++; /* skip the escaped character, which may be a quote */
         } else if (c == '"') {
            in_string = false;
         }
      } else if (c == '"') {
         in_string = true;
      } else if (c == '{' || c == '[') {
         if (++depth > TK_JSON_MAX_DEPTH) {
            tk_error_set (err, TK_ERR_INVALID, 0, "input is nested deeper than %d levels",
                          TK_JSON_MAX_DEPTH);
            return false;
         }
      } else if (c == '}' || c == ']') {
         depth--;
      }
   }
   return true;
}

cJSON *
tk_json_parse (const char *buf, size_t len, size_t max_len, tk_error_t *err)
{
   const char *end = NULL;
   cJSON *root = NULL;

   if (!buf || len == 0) {
      tk_error_set (err, TK_ERR_INVALID, 0, "not JSON: the input is empty");
      return NULL;
   }
   if (len > max_len) {
      tk_error_set (err, TK_ERR_INVALID, 0, "input is larger than %zu bytes (got %zu)", max_len,
                    len);
      return NULL;
   }
   if (!check_text (buf, len, err) || !check_nesting (buf, len, err)) {
      return NULL;
   }

   root = cJSON_ParseWithLengthOpts (buf, len, &end, false);
   if (!root) {
      size_t at = end && end >= buf && end <= buf + len ? (size_t) (end - buf) : 0;
      tk_error_set (err, TK_ERR_INVALID, 0, "not valid JSON (syntax error near byte %zu)", at);
      return NULL;
   }
   while (end < buf + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) {
      end++;
   }
   if (end != buf + len) {
      tk_error_set (err, TK_ERR_INVALID, 0, "not valid JSON (unexpected data after the value at byte %zu)",
                    (size_t) (end - buf));
      cJSON_Delete (root);
      return NULL;
   }
   return root;
}

/* ---- field helpers ---- */

static const char *
json_type_name (const cJSON *item)
{
   if (cJSON_IsString (item)) return "a string";
   if (cJSON_IsNumber (item)) return "a number";
   if (cJSON_IsBool (item)) return "a boolean";
   if (cJSON_IsNull (item)) return "null";
   if (cJSON_IsArray (item)) return "an array";
   if (cJSON_IsObject (item)) return "an object";
   return "an unknown value";
}

/* The member key of obj, NULL if absent. Fails if key appears twice:
 * different JSON parsers keep different copies, so a duplicate could make
 * two services see two different tickets. */
static bool
get_member (const cJSON *obj, const char *key, const char *field, const cJSON **out,
            tk_error_t *err)
{
   const cJSON *found = NULL;
   const cJSON *c = NULL;
   cJSON_ArrayForEach (c, obj)
   {
      if (c->string && strcmp (c->string, key) == 0) {
         if (found) {
            tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: appears more than once",
                                field);
            return false;
         }
         found = c;
      }
   }
   *out = found;
   return true;
}

static bool
is_space (char c)
{
   return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static bool
is_blank (const char *s)
{
   while (*s && is_space (*s)) {
      s++;
   }
   return *s == '\0';
}

enum {
   STR_REQUIRED = 1 << 0,    /* a missing or null key is an error */
   STR_ALLOW_EMPTY = 1 << 1, /* "" is a value (else: absent if optional, error if required) */
   STR_TRIM = 1 << 2,        /* drop surrounding ASCII whitespace first */
   STR_NO_CONTROL = 1 << 3,  /* reject bytes 0x01..0x1F and 0x7F */
   STR_ALLOW_INT = 1 << 4,   /* accept an integer and store its decimal form */
};

/* Reads the string member key of obj into *out (malloc'd, NULL when absent
 * and optional). field is the name used in messages. */
/* The text of item: its string, or with STR_ALLOW_INT a whole number
 * written into numbuf (32 bytes). NULL with err for any other type. */
static const char *
string_value (const cJSON *item, const char *field, unsigned flags, char *numbuf,
              tk_error_t *err)
{
   if (cJSON_IsNumber (item) && (flags & STR_ALLOW_INT)) {
      double v = item->valuedouble;
      if (!(v >= -JSON_MAX_SAFE_INT && v <= JSON_MAX_SAFE_INT) || (double) (int64_t) v != v) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                             "%s: must be a string or a whole number, got %g", field, v);
         return NULL;
      }
      snprintf (numbuf, 32, "%lld", (long long) (int64_t) v);
      return numbuf;
   }
   if (cJSON_IsString (item) && item->valuestring) {
      return item->valuestring;
   }
   tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must be a string, got %s", field,
                       json_type_name (item));
   return NULL;
}

/* s[0, len) holds no control character. */
static bool
no_control (const char *s, size_t len, const char *field, tk_error_t *err)
{
   for (size_t i = 0; i < len; i++) {
      unsigned char ch = (unsigned char) s[i];
      if (ch < 0x20 || ch == 0x7F) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                             "%s: must not contain control characters (found 0x%02X at byte %zu)",
                             field, ch, i);
         return false;
      }
   }
   return true;
}

/* Narrows [*s, *s + *len) to its text without leading or trailing space. */
static void
trim (const char **s, size_t *len)
{
   while (*len > 0 && is_space ((*s)[*len - 1])) {
      (*len)--;
   }
   while (*len > 0 && is_space (**s)) {
      (*s)++;
      (*len)--;
   }
}

static bool
take_string (const cJSON *obj, const char *key, const char *field, unsigned flags, size_t max,
             char **out, tk_error_t *err)
{
   const cJSON *item = NULL;
   char numbuf[32];
   const char *s;
   size_t len, bad = 0;
   tk_utf8_status_t st;

   *out = NULL;
   if (!get_member (obj, key, field, &item, err)) {
      return false;
   }
   if (!item || cJSON_IsNull (item)) {
      if (flags & STR_REQUIRED) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: required field is missing",
                             field);
         return false;
      }
      return true;
   }
   if (!(s = string_value (item, field, flags, numbuf, err))) {
      return false;
   }

   len = strlen (s);
   st = tk_utf8_check (s, len, &bad, NULL);
   if (st != TK_UTF8_OK) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: not valid UTF-8 at byte %zu (%s)",
                          field, bad, tk_utf8_status_str (st));
      return false;
   }
   if (flags & STR_TRIM) {
      trim (&s, &len);
   }
   if (len == 0 && !(flags & STR_ALLOW_EMPTY)) {
      if (flags & STR_REQUIRED) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must not be empty", field);
         return false;
      }
      return true;
   }
   if (len > max) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: exceeds %zu bytes (got %zu)",
                          field, max, len);
      return false;
   }
   if ((flags & STR_NO_CONTROL) && !no_control (s, len, field, err)) {
      return false;
   }
   if (!(*out = strndup (s, len))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "%s: out of memory", field);
      return false;
   }
   return true;
}

/* Reads an optional ISO-8601 timestamp; absent, null or "" leaves *out 0. */
static bool
take_time (const cJSON *obj, const char *key, const char *field, int64_t *out, tk_error_t *err)
{
   const cJSON *item = NULL;

   *out = 0;
   if (!get_member (obj, key, field, &item, err)) {
      return false;
   }
   if (!item || cJSON_IsNull (item) || (cJSON_IsString (item) && item->valuestring[0] == '\0')) {
      return true;
   }
   if (!cJSON_IsString (item)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: must be an ISO-8601 timestamp string such as "
                          "2025-09-13T06:38:47Z, got %s",
                          field, json_type_name (item));
      return false;
   }
   const char *s = item->valuestring;
   if (!tk_utf8_valid (s, strlen (s), NULL) || !tk_time_parse_iso (s, strlen (s), out)) {
      /* The value is not quoted: this message reaches logs and DLQ records,
       * and a value in the wrong field may be anyone's personal data. */
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: not a valid ISO-8601 timestamp "
                          "(expected e.g. 2025-09-13T06:38:47Z or 2025-09-13)",
                          field);
      return false;
   }
   return true;
}

/* Reads an optional integer in [min, max]; absent or null leaves *out 0. */
static bool
take_int (const cJSON *obj, const char *key, const char *field, int64_t min, int64_t max,
          int64_t *out, tk_error_t *err)
{
   const cJSON *item = NULL;
   *out = 0;
   if (!get_member (obj, key, field, &item, err)) {
      return false;
   }
   if (!item || cJSON_IsNull (item)) {
      return true;
   }
   if (!cJSON_IsNumber (item)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must be a whole number, got %s",
                          field, json_type_name (item));
      return false;
   }
   double v = item->valuedouble;
   if (!(v >= (double) min && v <= (double) max) || (double) (int64_t) v != v) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: must be a whole number from %lld to %lld, got %g", field,
                          (long long) min, (long long) max, v);
      return false;
   }
   *out = (int64_t) v;
   return true;
}

/* Reads a required confidence score in [0, 1]. */
static bool
take_confidence (const cJSON *obj, const char *key, const char *field, double *out,
                 tk_error_t *err)
{
   const cJSON *item = NULL;
   if (!get_member (obj, key, field, &item, err)) {
      return false;
   }
   if (!item) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: required field is missing (a number from 0 to 1)", field);
      return false;
   }
   if (!cJSON_IsNumber (item)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: must be a number from 0 to 1, got %s", field,
                          json_type_name (item));
      return false;
   }
   if (!(item->valuedouble >= 0.0 && item->valuedouble <= 1.0)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: must be a number from 0 to 1, got %g", field, item->valuedouble);
      return false;
   }
   *out = item->valuedouble;
   return true;
}

/* Reads the object member key; absent gives NULL (an error if required). */
static bool
take_object (const cJSON *obj, const char *key, bool required, const cJSON **out,
             tk_error_t *err)
{
   if (!get_member (obj, key, key, out, err)) {
      return false;
   }
   if (!*out || cJSON_IsNull (*out)) {
      *out = NULL;
      if (required) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, key, "%s: required field is missing", key);
         return false;
      }
      return true;
   }
   if (!cJSON_IsObject (*out)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, key, "%s: must be an object, got %s", key,
                          json_type_name (*out));
      return false;
   }
   return true;
}

/* ---- parsing tickets ---- */

static bool
parse_raw_fields (const cJSON *obj, tk_ticket_t *t, tk_error_t *err)
{
   if (!cJSON_IsObject (obj)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "", "a ticket must be a JSON object, got %s",
                          obj ? json_type_name (obj) : "nothing");
      return false;
   }
   if (!take_string (obj, "id", "id", STR_REQUIRED | STR_TRIM | STR_NO_CONTROL | STR_ALLOW_INT,
                     TK_TICKET_ID_MAX, &t->id, err) ||
       !take_string (obj, "subject", "subject", STR_REQUIRED | STR_ALLOW_EMPTY,
                     TK_TICKET_SUBJECT_MAX, &t->subject, err) ||
       !take_string (obj, "body", "body", STR_REQUIRED | STR_ALLOW_EMPTY, TK_TICKET_BODY_MAX,
                     &t->body, err)) {
      return false;
   }
   if (is_blank (t->subject) && is_blank (t->body)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "body",
                          "subject, body: both are empty; a ticket needs a subject or a body");
      return false;
   }
   return take_string (obj, "source", "source", STR_NO_CONTROL, TK_TICKET_SOURCE_MAX, &t->source,
                       err) &&
          take_time (obj, "created_at", "created_at", &t->created_at, err) &&
          take_time (obj, "updated_at", "updated_at", &t->updated_at, err);
}

tk_ticket_t *
tk_ticket_from_json (const cJSON *obj, tk_error_t *err)
{
   tk_ticket_t *t = tk_ticket_new ();
   if (!parse_raw_fields (obj, t, err)) {
      tk_ticket_destroy (t);
      return NULL;
   }
   return t;
}

/* Reads one label of the classification, in its canonical spelling when
 * the taxonomy knows it (else verbatim, for the validator to report). */
static bool
take_label (const cJSON *item, const char *field, const tk_taxonomy_t *tax,
            tk_taxonomy_kind_t kind, char **out, tk_error_t *err)
{
   size_t bad = 0;
   tk_utf8_status_t st;

   if (!cJSON_IsString (item)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must be a string, got %s", field,
                          json_type_name (item));
      return false;
   }
   st = tk_utf8_check (item->valuestring, strlen (item->valuestring), &bad, NULL);
   if (st != TK_UTF8_OK) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: not valid UTF-8 at byte %zu (%s)",
                          field, bad, tk_utf8_status_str (st));
      return false;
   }
   const char *canon = tk_taxonomy_canonical (tax, kind, item->valuestring, NULL);
   if (!(*out = strdup (canon ? canon : item->valuestring))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "%s: out of memory", field);
      return false;
   }
   return true;
}

static bool
parse_classification (const cJSON *obj, const tk_taxonomy_t *tax, tk_classification_t *c,
                      tk_error_t *err)
{
   static const char *tags_field = "classification.topic_tags";
   const cJSON *tags = NULL, *item = NULL;
   char field[64];

   if (!get_member (obj, "topic_tags", tags_field, &tags, err)) {
      return false;
   }
   if (!tags || cJSON_IsNull (tags)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, tags_field,
                          "%s: required field is missing (a list of topic tags)", tags_field);
      return false;
   }
   if (!cJSON_IsArray (tags)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, tags_field,
                          "%s: must be a list of topic tags, got %s", tags_field,
                          json_type_name (tags));
      return false;
   }
   if (cJSON_GetArraySize (tags) > TK_TICKET_MAX_TAGS) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, tags_field,
                          "%s: at most %d topic tags are allowed, got %d", tags_field,
                          TK_TICKET_MAX_TAGS, cJSON_GetArraySize (tags));
      return false;
   }
   cJSON_ArrayForEach (item, tags)
   {
      snprintf (field, sizeof field, "%s[%zu]", tags_field, c->n_topic_tags);
      if (!take_label (item, field, tax, TK_TAXONOMY_TOPIC, &c->topic_tags[c->n_topic_tags],
                       err)) {
         return false;
      }
      c->n_topic_tags++;
   }

   static const struct {
      const char *key, *field;
      tk_taxonomy_kind_t kind;
      size_t off;
   } singles[] = {
      {"sentiment", "classification.sentiment", TK_TAXONOMY_SENTIMENT,
       offsetof (tk_classification_t, sentiment)},
      {"priority", "classification.priority", TK_TAXONOMY_PRIORITY,
       offsetof (tk_classification_t, priority)},
   };
   for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
      char **dst = (char **) ((char *) c + singles[i].off);
      if (!get_member (obj, singles[i].key, singles[i].field, &item, err)) {
         return false;
      }
      /* A missing label is left NULL for the validator to report. */
      if (item && !cJSON_IsNull (item) &&
          !take_label (item, singles[i].field, tax, singles[i].kind, dst, err)) {
         return false;
      }
   }
   return tk_taxonomy_validate_classification (tax, c, err);
}

static bool
parse_processed_fields (const cJSON *obj, const tk_taxonomy_t *tax, tk_ticket_t *t,
                        tk_error_t *err)
{
   const cJSON *cls = NULL, *conf = NULL, *meta = NULL, *processed = NULL;
   int64_t v = 0;

   if (!parse_raw_fields (obj, t, err)) {
      return false;
   }
   if (!get_member (obj, "processed", "processed", &processed, err)) {
      return false;
   }
   if (processed && !cJSON_IsTrue (processed)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "processed",
                          "processed: must be true (or left out) for a processed ticket");
      return false;
   }
   t->processed = true;

   if (!take_object (obj, "classification", true, &cls, err) ||
       !parse_classification (cls, tax, &t->classification, err)) {
      return false;
   }

   if (!take_object (obj, "confidence_scores", true, &conf, err) ||
       !take_confidence (conf, "topic", "confidence_scores.topic", &t->confidence.topic, err) ||
       !take_confidence (conf, "sentiment", "confidence_scores.sentiment",
                         &t->confidence.sentiment, err) ||
       !take_confidence (conf, "priority", "confidence_scores.priority",
                         &t->confidence.priority, err)) {
      return false;
   }

   if (!take_object (obj, "processing_metadata", false, &meta, err)) {
      return false;
   }
   if (meta) {
      if (!take_time (meta, "processed_at", "processing_metadata.processed_at",
                      &t->metadata.processed_at, err) ||
          !take_string (meta, "model_version", "processing_metadata.model_version",
                        STR_NO_CONTROL, TK_TICKET_VERSION_MAX, &t->metadata.model_version, err) ||
          !take_string (meta, "agent_version", "processing_metadata.agent_version",
                        STR_NO_CONTROL, TK_TICKET_VERSION_MAX, &t->metadata.agent_version, err) ||
          !take_int (meta, "processing_time_ms", "processing_metadata.processing_time_ms", 0,
                     (int64_t) JSON_MAX_SAFE_INT, &t->metadata.processing_time_ms, err)) {
         return false;
      }
   }

   if (!take_int (obj, "processing_attempts", "processing_attempts", 0, INT32_MAX, &v, err)) {
      return false;
   }
   t->processing_attempts = (int32_t) v;
   return take_string (obj, "last_error", "last_error", 0, TK_TICKET_LAST_ERROR_MAX,
                       &t->last_error, err);
}

tk_ticket_t *
tk_ticket_from_processed_json (const cJSON *obj, const tk_taxonomy_t *tax, tk_error_t *err)
{
   tk_ticket_t *t = tk_ticket_new ();
   if (!tax) {
      tax = tk_taxonomy_default ();
   }
   if (!parse_processed_fields (obj, tax, t, err)) {
      tk_ticket_destroy (t);
      return NULL;
   }
   return t;
}

tk_ticket_t *
tk_ticket_parse_json (const char *buf, size_t len, tk_error_t *err)
{
   cJSON *root = tk_json_parse (buf, len, TK_TICKET_JSON_MAX, err);
   tk_ticket_t *t = root ? tk_ticket_from_json (root, err) : NULL;
   cJSON_Delete (root);
   return t;
}

tk_ticket_t *
tk_ticket_parse_processed_json (const char *buf, size_t len, const tk_taxonomy_t *tax,
                                tk_error_t *err)
{
   cJSON *root = tk_json_parse (buf, len, TK_TICKET_JSON_MAX, err);
   tk_ticket_t *t = root ? tk_ticket_from_processed_json (root, tax, err) : NULL;
   cJSON_Delete (root);
   return t;
}

/* ---- serializing ---- */

/* Adds key: ISO string for a non-zero time. */
static bool
add_time (cJSON *obj, const char *key, int64_t ms, tk_error_t *err)
{
   char buf[TK_TIME_ISO_BUFSIZE];
   if (ms == 0) {
      return true;
   }
   if (!tk_time_format_iso (ms, buf, sizeof buf)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, key,
                          "%s: %lld ms is outside the years 0001..9999", key, (long long) ms);
      return false;
   }
   if (!cJSON_AddStringToObject (obj, key, buf)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory serializing a ticket");
      return false;
   }
   return true;
}

/* Adds key: s if s is set. */
static bool
add_string (cJSON *obj, const char *key, const char *s)
{
   return !s || cJSON_AddStringToObject (obj, key, s) != NULL;
}

/* The label fields of a processed ticket: classification, confidence
 * scores. false when memory runs out. */
static bool
add_labels (cJSON *obj, const tk_ticket_t *t)
{
   const tk_classification_t *c = &t->classification;
   cJSON *cls = cJSON_AddObjectToObject (obj, "classification");
   cJSON *tags = cls ? cJSON_AddArrayToObject (cls, "topic_tags") : NULL;
   if (!tags) {
      return false;
   }
   for (size_t i = 0; i < c->n_topic_tags && i < TK_TICKET_MAX_TAGS; i++) {
      cJSON *s = cJSON_CreateString (c->topic_tags[i] ? c->topic_tags[i] : "");
      if (!s || !cJSON_AddItemToArray (tags, s)) {
         cJSON_Delete (s);
         return false;
      }
   }
   if (!add_string (cls, "sentiment", c->sentiment) || !add_string (cls, "priority", c->priority)) {
      return false;
   }
   cJSON *conf = cJSON_AddObjectToObject (obj, "confidence_scores");
   return conf && cJSON_AddNumberToObject (conf, "topic", t->confidence.topic) &&
          cJSON_AddNumberToObject (conf, "sentiment", t->confidence.sentiment) &&
          cJSON_AddNumberToObject (conf, "priority", t->confidence.priority);
}

/* What a processed ticket adds: its labels, processing_metadata and
 * needs_review. false with err (out of memory, or a time that cannot be
 * written). */
static bool
add_processed (cJSON *obj, const tk_ticket_t *t, tk_error_t *err)
{
   cJSON *meta = NULL;
   if (!add_labels (obj, t) || !(meta = cJSON_AddObjectToObject (obj, "processing_metadata"))) {
      goto nomem;
   }
   if (!add_time (meta, "processed_at", t->metadata.processed_at, err)) {
      return false;
   }
   if (!add_string (meta, "model_version", t->metadata.model_version) ||
       !cJSON_AddNumberToObject (meta, "processing_time_ms",
                                 (double) t->metadata.processing_time_ms) ||
       !add_string (meta, "agent_version", t->metadata.agent_version) ||
       !cJSON_AddBoolToObject (obj, "needs_review", t->metadata.needs_review)) {
      goto nomem;
   }
   return true;
nomem:
   tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory serializing a ticket");
   return false;
}

cJSON *
tk_ticket_to_json (const tk_ticket_t *t, tk_error_t *err)
{
   cJSON *obj = NULL;
   bool ok = false;

   if (!t || !t->id) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "id", "id: the ticket has no id");
      return NULL;
   }
   if (!(obj = cJSON_CreateObject ())) {
      goto nomem;
   }
   if (!add_string (obj, "id", t->id) || !add_string (obj, "subject", t->subject ? t->subject : "") ||
       !add_string (obj, "body", t->body ? t->body : "") || !add_string (obj, "source", t->source) ||
       !cJSON_AddBoolToObject (obj, "processed", t->processed)) {
      goto nomem;
   }
   if (!add_time (obj, "created_at", t->created_at, err) ||
       !add_time (obj, "updated_at", t->updated_at, err)) {
      goto done;
   }

   if (t->processed && !add_processed (obj, t, err)) {
      goto done;
   }

   if (t->processing_attempts > 0 &&
       !cJSON_AddNumberToObject (obj, "processing_attempts", t->processing_attempts)) {
      goto nomem;
   }
   if (!add_string (obj, "last_error", t->last_error)) {
      goto nomem;
   }
   ok = true;
   goto done;

nomem:
   tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory serializing a ticket");
done:
   if (!ok) {
      cJSON_Delete (obj);
      return NULL;
   }
   return obj;
}

char *
tk_ticket_to_json_string (const tk_ticket_t *t, tk_error_t *err)
{
   cJSON *obj = tk_ticket_to_json (t, err);
   char *s = NULL;
   if (obj && !(s = cJSON_PrintUnformatted (obj))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory serializing a ticket");
   }
   cJSON_Delete (obj);
   return s;
}
