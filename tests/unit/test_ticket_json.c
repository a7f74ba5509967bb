/* Unit tests for common/ticket_json.c: validation of raw and processed
 * tickets, the untrusted-JSON guard, and serialization. */
#include "test_support.h"

#include "ticket_json.h"
#include "timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses a raw ticket from a C string; fails the test with the error. */
static tk_ticket_t *
parse_ok (const char *json)
{
   tk_error_t err;
   tk_error_clear (&err);
   tk_ticket_t *t = tk_ticket_parse_json (json, strlen (json), &err);
   if (!t) {
      fail_msg ("expected %s to parse: %s", json, err.message);
   }
   return t;
}

/* Asserts that parsing len bytes fails with field and a message containing
 * needle. */
static void
assert_rejected_n (const char *json, size_t len, const char *field, const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   tk_ticket_t *t = tk_ticket_parse_json (json, len, &err);
   if (t) {
      tk_ticket_destroy (t);
      fail_msg ("expected %.200s to be rejected", json);
   }
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_string_equal (err.field, field);
   if (!strstr (err.message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err.message, needle);
   }
}

static void
assert_rejected (const char *json, const char *field, const char *needle)
{
   assert_rejected_n (json, strlen (json), field, needle);
}

/* Same for a cJSON object (the path CSV rows take). Takes ownership. */
static void
assert_obj_rejected (cJSON *obj, const char *field, const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   tk_ticket_t *t = tk_ticket_from_json (obj, &err);
   cJSON_Delete (obj);
   if (t) {
      tk_ticket_destroy (t);
      fail_msg ("expected rejection on %s", field);
   }
   assert_string_equal (err.field, field);
   if (!strstr (err.message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err.message, needle);
   }
}

static cJSON *
raw_obj (const char *id, const char *subject, const char *body)
{
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON_AddStringToObject (o, "subject", subject);
   cJSON_AddStringToObject (o, "body", body);
   return o;
}

static void
test_parse_raw_ticket (void **state)
{
   (void) state;
   tk_ticket_t *t = parse_ok (
      "{\"id\":\"TICKET-246\",\"subject\":\"Connector fails\",\"body\":\"Snowflake sync \\u00e9 \\n"
      "stops\",\"created_at\":\"2025-09-13T06:38:47.513Z\",\"source\":\"kafka\","
      "\"priority_hint\":{\"x\":[1,2,3]},\"processed\":true,"
      "\"classification\":{\"topic_tags\":[\"Nope\"]}}");
   assert_string_equal (t->id, "TICKET-246");
   assert_string_equal (t->subject, "Connector fails");
   assert_string_equal (t->body, "Snowflake sync \xC3\xA9 \nstops");
   assert_string_equal (t->source, "kafka");
   assert_int_equal (t->created_at, INT64_C (1757745527513));
   assert_int_equal (t->updated_at, 0);
   /* A raw parse ignores unknown keys and any classification sent along. */
   assert_false (t->processed);
   assert_int_equal (t->classification.n_topic_tags, 0);
   tk_ticket_destroy (t);
}

static void
test_optional_fields_absent_null_or_empty (void **state)
{
   (void) state;
   tk_ticket_t *t = parse_ok ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"\"}");
   assert_null (t->source);
   assert_int_equal (t->created_at, 0);
   assert_string_equal (t->body, "");
   tk_ticket_destroy (t);
   t = parse_ok ("{\"id\":\"a\",\"subject\":\"\",\"body\":\"b\",\"source\":null,"
                 "\"created_at\":\"\",\"updated_at\":null}");
   assert_null (t->source);
   assert_int_equal (t->created_at, 0);
   assert_string_equal (t->subject, "");
   tk_ticket_destroy (t);
}

static void
test_id_forms (void **state)
{
   (void) state;
   tk_ticket_t *t = parse_ok ("{\"id\":5,\"subject\":\"s\",\"body\":\"b\"}");
   assert_string_equal (t->id, "5");
   tk_ticket_destroy (t);
   t = parse_ok ("{\"id\":-9007199254740991,\"subject\":\"s\",\"body\":\"b\"}");
   assert_string_equal (t->id, "-9007199254740991");
   tk_ticket_destroy (t);
   t = parse_ok ("{\"id\":\"  T-1\\t\",\"subject\":\"s\",\"body\":\"b\"}");
   assert_string_equal (t->id, "T-1");
   tk_ticket_destroy (t);

   assert_rejected ("{\"id\":1.5,\"subject\":\"s\",\"body\":\"b\"}", "id",
                    "id: must be a string or a whole number, got 1.5");
   assert_rejected ("{\"id\":1e300,\"subject\":\"s\",\"body\":\"b\"}", "id", "whole number");
   /* 2^53 + 1 reads as 2^53: beyond the exact integers, both refused. */
   assert_rejected ("{\"id\":9007199254740993,\"subject\":\"s\",\"body\":\"b\"}", "id",
                    "whole number");
   assert_rejected ("{\"id\":9007199254740992,\"subject\":\"s\",\"body\":\"b\"}", "id",
                    "whole number");
   assert_rejected ("{\"id\":\"\",\"subject\":\"s\",\"body\":\"b\"}", "id", "id: must not be empty");
   assert_rejected ("{\"id\":\"  \",\"subject\":\"s\",\"body\":\"b\"}", "id", "id: must not be empty");
   assert_rejected ("{\"id\":\"T\\u00011\",\"subject\":\"s\",\"body\":\"b\"}", "id",
                    "id: must not contain control characters (found 0x01 at byte 1)");
   assert_rejected ("{\"id\":\"T\\n1\",\"subject\":\"s\",\"body\":\"b\"}", "id", "control");
}

static void
test_missing_fields (void **state)
{
   (void) state;
   assert_rejected ("{\"subject\":\"s\",\"body\":\"b\"}", "id", "id: required field is missing");
   assert_rejected ("{\"id\":null,\"subject\":\"s\",\"body\":\"b\"}", "id", "required");
   assert_rejected ("{\"id\":\"a\",\"body\":\"b\"}", "subject", "subject: required field is missing");
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\"}", "body", "body: required field is missing");
   assert_rejected ("{\"id\":\"a\",\"subject\":\" \",\"body\":\"\\n\"}", "body",
                    "both are empty");
   assert_rejected ("{}", "id", "required");
}

static void
test_wrong_types (void **state)
{
   (void) state;
   assert_rejected ("{\"id\":true,\"subject\":\"s\",\"body\":\"b\"}", "id",
                    "id: must be a string, got a boolean");
   assert_rejected ("{\"id\":\"a\",\"subject\":5,\"body\":\"b\"}", "subject",
                    "subject: must be a string, got a number");
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":[\"b\"]}", "body",
                    "body: must be a string, got an array");
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"source\":{}}", "source",
                    "source: must be a string, got an object");
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"created_at\":1757745527}",
                    "created_at", "created_at: must be an ISO-8601 timestamp string");
   assert_rejected ("[{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\"}]", "",
                    "a ticket must be a JSON object, got an array");
   assert_rejected ("\"ticket\"", "", "got a string");
   assert_rejected ("{\"id\":\"a\",\"id\":\"b\",\"subject\":\"s\",\"body\":\"b\"}", "id",
                    "id: appears more than once");
}

static void
test_bad_timestamps (void **state)
{
   (void) state;
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"created_at\":\"2025-02-30\"}",
                    "created_at",
                    "created_at: not a valid ISO-8601 timestamp (expected e.g. "
                    "2025-09-13T06:38:47Z or 2025-09-13)");
   /* The bad value is never quoted back: it may be personal data. */
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"updated_at\":\"jane@example.com\"}",
                    "updated_at", "updated_at: not a valid");
   tk_error_t err;
   const char *pii =
      "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"created_at\":\"4111 1111 1111 1111\"}";
   assert_null (tk_ticket_parse_json (pii, strlen (pii), &err));
   assert_null (strstr (err.message, "4111"));
   tk_ticket_t *t = parse_ok (
      "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"created_at\":\"2025-09-13T08:38:47.513+02:00\"}");
   assert_int_equal (t->created_at, INT64_C (1757745527513));
   tk_ticket_destroy (t);
}

/* Builds {"id":..,"subject":..,"body":..} where one field is n copies of c. */
static char *
ticket_with_long (const char *field, size_t n, char c)
{
   char *fill = malloc (n + 1);
   memset (fill, c, n);
   fill[n] = '\0';
   cJSON *o = raw_obj ("id-1", "subject", "body");
   if (cJSON_GetObjectItem (o, field)) {
      cJSON_ReplaceItemInObject (o, field, cJSON_CreateString (fill));
   } else {
      cJSON_AddStringToObject (o, field, fill);
   }
   char *json = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   free (fill);
   return json;
}

static void
check_limit (const char *field, size_t max)
{
   char needle[96];
   char *ok = ticket_with_long (field, max, 'x');
   tk_ticket_t *t = parse_ok (ok);
   const char *v = strcmp (field, "id") == 0        ? t->id
                   : strcmp (field, "subject") == 0 ? t->subject
                   : strcmp (field, "body") == 0    ? t->body
                                                    : t->source;
   assert_int_equal (strlen (v), max);
   tk_ticket_destroy (t);
   cJSON_free (ok);

   char *bad = ticket_with_long (field, max + 1, 'x');
   snprintf (needle, sizeof needle, "%s: exceeds %zu bytes (got %zu)", field, max, max + 1);
   assert_rejected (bad, field, needle);
   cJSON_free (bad);
}

static void
test_size_limits_exact_boundary (void **state)
{
   (void) state;
   check_limit ("id", TK_TICKET_ID_MAX);
   check_limit ("subject", TK_TICKET_SUBJECT_MAX);
   check_limit ("body", TK_TICKET_BODY_MAX);
   check_limit ("source", TK_TICKET_SOURCE_MAX);
   /* The brief's example message, verbatim. */
   char *bad = ticket_with_long ("body", 65537, 'y');
   assert_rejected (bad, "body", "body: exceeds 65536 bytes");
   cJSON_free (bad);
   /* Limits count bytes, not characters: 32768 two-byte characters fit in
    * the body, one more does not. */
   char *body = malloc (2 * 32769 + 1);
   for (size_t i = 0; i < 32769; i++) {
      memcpy (body + 2 * i, "\xC3\xA9", 2);
   }
   body[2 * 32768] = '\0';
   cJSON *o = raw_obj ("a", "s", body);
   tk_error_t err;
   tk_ticket_t *t = tk_ticket_from_json (o, &err);
   assert_non_null (t);
   tk_ticket_destroy (t);
   cJSON_Delete (o);
   body[2 * 32768] = '\xC3';
   body[2 * 32769] = '\0';
   assert_obj_rejected (raw_obj ("a", "s", body), "body", "body: exceeds 65536 bytes (got 65538)");
   free (body);
}

static void
test_invalid_utf8_in_fields (void **state)
{
   (void) state;
   /* Objects built from CSV cells reach from_json without a byte-level
    * check, so it validates each field itself. */
   assert_obj_rejected (raw_obj ("a", "s", "ok \xC0\xAF"), "body",
                        "body: not valid UTF-8 at byte 3 (overlong encoding)");
   assert_obj_rejected (raw_obj ("a", "\xED\xA0\x80", "b"), "subject",
                        "subject: not valid UTF-8 at byte 0 (UTF-16 surrogate code point)");
   assert_obj_rejected (raw_obj ("a\xE2\x82", "s", "b"), "id", "truncated sequence");
   assert_obj_rejected (raw_obj ("a", "s", "\xF4\x90\x80\x80"), "body", "above U+10FFFF");
}

static void
test_invalid_bytes_rejected_before_cjson (void **state)
{
   (void) state;
   const char overlong[] = "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"\xC0\xAF\"}";
   assert_rejected (overlong, "", "not valid UTF-8 at byte 32 (overlong encoding)");
   const char surrogate[] = "{\"id\":\"a\",\"subject\":\"\xED\xB0\x80\",\"body\":\"b\"}";
   assert_rejected (surrogate, "", "surrogate");
   const char truncated[] = "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"\xF0\x9F\x98\"}";
   assert_rejected (truncated, "", "truncated");
   const char nul[] = "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"x\0y\"}";
   assert_rejected_n (nul, sizeof nul - 1, "", "NUL byte at byte 33");
   /* cJSON would turn \u0000 into a string cut short at "x". */
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"x\\u0000y\"}", "", "\\u0000");
   /* ...but an escaped backslash followed by "u0000" is ordinary text. */
   tk_ticket_t *t = parse_ok ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"x\\\\u0000y\"}");
   assert_string_equal (t->body, "x\\u0000y");
   tk_ticket_destroy (t);
   /* Lone surrogate escapes are refused by cJSON. */
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"\\ud800\"}", "", "not valid JSON");
   /* A valid pair becomes one 4-byte character. */
   t = parse_ok ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"\\ud83d\\ude00\"}");
   assert_string_equal (t->body, "\xF0\x9F\x98\x80");
   tk_ticket_destroy (t);
}

static void
test_not_json_and_oversized_input (void **state)
{
   (void) state;
   assert_rejected ("", "", "empty");
   assert_rejected ("id=5&subject=x", "", "not valid JSON");
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\"", "", "not valid JSON");
   assert_rejected ("{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\"} {}", "", "unexpected data");
   tk_ticket_t *t = parse_ok ("  {\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\"}\r\n");
   tk_ticket_destroy (t);

   size_t n = TK_TICKET_JSON_MAX + 1;
   char *big = malloc (n);
   memset (big, ' ', n);
   const char *head = "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\"}";
   memcpy (big, head, strlen (head));
   assert_rejected_n (big, n, "", "larger than 524288 bytes");
   /* The same text at exactly the limit is accepted (trailing spaces). */
   tk_error_t err;
   t = tk_ticket_parse_json (big, n - 1, &err);
   assert_non_null (t);
   tk_ticket_destroy (t);
   free (big);
}

/* A ticket with an extra key holding depth nested arrays. */
static char *
nested_ticket (int depth)
{
   const char *head = "{\"id\":\"a\",\"subject\":\"s\",\"body\":\"b\",\"x\":";
   size_t n = strlen (head);
   char *buf = malloc (n + 2 * (size_t) depth + 2);
   memcpy (buf, head, n);
   for (int i = 0; i < depth; i++) {
      buf[n++] = '[';
   }
   for (int i = 0; i < depth; i++) {
      buf[n++] = ']';
   }
   buf[n++] = '}';
   buf[n] = '\0';
   return buf;
}

static void
test_deep_nesting (void **state)
{
   (void) state;
   /* An extra field nested to exactly the limit is fine (the ticket object
    * itself is level 1)... */
   char *json = nested_ticket (TK_JSON_MAX_DEPTH - 1);
   tk_ticket_destroy (parse_ok (json));
   free (json);
   /* ...one level more is not. */
   json = nested_ticket (TK_JSON_MAX_DEPTH);
   assert_rejected (json, "", "nested deeper than 32 levels");
   free (json);
   /* Brackets inside strings do not count. */
   tk_ticket_destroy (parse_ok ("{\"id\":\"a\",\"subject\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\","
                                "\"body\":\"\\\"{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{\"}"));

   /* A hostile 400 KB of '[' fails fast instead of exhausting the stack. */
   size_t big_n = 400 * 1024;
   char *big = malloc (big_n);
   memset (big, '[', big_n);
   assert_rejected_n (big, big_n, "", "nested deeper");
   free (big);
}

/* ---- processed tickets ---- */

#define PROCESSED_JSON                                                                             \
   "{\"id\":\"TICKET-7\",\"subject\":\"SSO loop\",\"body\":\"Okta login loops\",\"processed\":true," \
   "\"created_at\":\"2025-09-13T06:38:47.513Z\",\"updated_at\":\"2025-09-13T06:40:00Z\","       \
   "\"classification\":{\"topic_tags\":[\"sso\",\"How-to\"],\"sentiment\":\"FRUSTRATED\","       \
   "\"priority\":\"p0 (high)\"},"                                                                \
   "\"confidence_scores\":{\"topic\":0.85,\"sentiment\":1,\"priority\":0},"                      \
   "\"processing_metadata\":{\"processed_at\":\"2025-09-13T06:39:00.001Z\","                     \
   "\"model_version\":\"gemini-1.5-flash\",\"processing_time_ms\":1500,\"agent_version\":\"1.0\"}}"

static tk_ticket_t *
parse_processed (const char *json, tk_error_t *err)
{
   tk_error_clear (err);
   return tk_ticket_parse_processed_json (json, strlen (json), tk_taxonomy_default (), err);
}

static void
test_parse_processed_ticket (void **state)
{
   (void) state;
   tk_error_t err;
   tk_ticket_t *t = parse_processed (PROCESSED_JSON, &err);
   if (!t) {
      fail_msg ("%s", err.message);
   }
   assert_true (t->processed);
   /* Labels are stored in their canonical spelling. */
   assert_int_equal (t->classification.n_topic_tags, 2);
   assert_string_equal (t->classification.topic_tags[0], "SSO");
   assert_string_equal (t->classification.topic_tags[1], "How-to");
   assert_string_equal (t->classification.sentiment, "Frustrated");
   assert_string_equal (t->classification.priority, "P0 (High)");
   assert_true (t->confidence.topic == 0.85);
   assert_true (t->confidence.sentiment == 1.0);
   assert_true (t->confidence.priority == 0.0);
   assert_int_equal (t->metadata.processed_at, INT64_C (1757745540001));
   assert_int_equal (t->updated_at, INT64_C (1757745600000));
   assert_string_equal (t->metadata.model_version, "gemini-1.5-flash");
   assert_string_equal (t->metadata.agent_version, "1.0");
   assert_int_equal (t->metadata.processing_time_ms, 1500);
   tk_ticket_destroy (t);
}

/* Replaces the first occurrence of from in PROCESSED_JSON with to and
 * asserts the processed parse fails on field with needle in the message. */
static void
assert_processed_rejected (const char *from, const char *to, const char *field, const char *needle)
{
   char json[2048];
   const char *base = PROCESSED_JSON;
   const char *at = strstr (base, from);
   assert_non_null (at);
   snprintf (json, sizeof json, "%.*s%s%s", (int) (at - base), base, to, at + strlen (from));
   tk_error_t err;
   tk_ticket_t *t = parse_processed (json, &err);
   if (t) {
      tk_ticket_destroy (t);
      fail_msg ("expected rejection of %s", json);
   }
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_string_equal (err.field, field);
   if (!strstr (err.message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err.message, needle);
   }
}

static void
test_processed_rejections (void **state)
{
   (void) state;
   assert_processed_rejected ("\"p0 (high)\"", "\"Urgent\"", "classification.priority",
                              "classification.priority: \"Urgent\" is not a known priority");
   assert_processed_rejected ("\"sso\"", "\"Billing\"", "classification.topic_tags",
                              "\"Billing\" is not a known topic tag");
   assert_processed_rejected ("\"How-to\"", "\"SSO\"", "classification.topic_tags",
                              "\"SSO\" is listed twice");
   assert_processed_rejected ("[\"sso\",\"How-to\"]", "[]", "classification.topic_tags",
                              "at least one topic tag");
   assert_processed_rejected ("[\"sso\",\"How-to\"]", "\"SSO\"", "classification.topic_tags",
                              "must be a list of topic tags, got a string");
   assert_processed_rejected ("\"How-to\"", "7", "classification.topic_tags[1]",
                              "classification.topic_tags[1]: must be a string, got a number");
   assert_processed_rejected ("[\"sso\",\"How-to\"]",
                              "[\"SSO\",\"How-to\",\"Product\",\"Connector\",\"Lineage\","
                              "\"API/SDK\",\"Glossary\",\"Best practices\",\"Sensitive data\","
                              "\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\"]",
                              "classification.topic_tags", "at most 16 topic tags");
   assert_processed_rejected ("\"sentiment\":\"FRUSTRATED\",", "", "classification.sentiment",
                              "classification.sentiment: required");
   assert_processed_rejected ("\"classification\"", "\"klassification\"", "classification",
                              "classification: required field is missing");
   assert_processed_rejected ("\"classification\":{", "\"classification\":\"SSO\",\"x\":{",
                              "classification", "classification: must be an object, got a string");
   assert_processed_rejected ("\"topic\":0.85", "\"topic\":1.5", "confidence_scores.topic",
                              "confidence_scores.topic: must be a number from 0 to 1, got 1.5");
   assert_processed_rejected ("\"priority\":0}", "\"priority\":-0.01}",
                              "confidence_scores.priority", "got -0.01");
   assert_processed_rejected ("\"sentiment\":1,", "\"sentiment\":\"high\",",
                              "confidence_scores.sentiment", "got a string");
   assert_processed_rejected ("\"sentiment\":1,", "", "confidence_scores.sentiment",
                              "required field is missing");
   assert_processed_rejected ("\"confidence_scores\"", "\"confidence\"", "confidence_scores",
                              "required");
   assert_processed_rejected ("\"processed\":true", "\"processed\":false", "processed",
                              "must be true");
   assert_processed_rejected ("1500", "-1", "processing_metadata.processing_time_ms",
                              "must be a whole number from 0");
   assert_processed_rejected ("1500", "1.5", "processing_metadata.processing_time_ms",
                              "whole number");
   assert_processed_rejected ("\"2025-09-13T06:39:00.001Z\"", "\"2025-09-13T25:00:00Z\"",
                              "processing_metadata.processed_at", "not a valid ISO-8601");
   assert_processed_rejected ("\"gemini-1.5-flash\"", "42", "processing_metadata.model_version",
                              "must be a string");
   /* The raw-field rules still apply. */
   assert_processed_rejected ("\"id\":\"TICKET-7\",", "", "id", "required");
}

static void
test_processed_with_custom_taxonomy (void **state)
{
   (void) state;
   tk_error_t err;
   tk_taxonomy_t *tax =
      tk_taxonomy_load_file (TRIAGE_SOURCE_DIR "/tests/data/taxonomy_custom.json", &err);
   assert_non_null (tax);
   const char *json = "{\"id\":\"c1\",\"subject\":\"s\",\"body\":\"b\",\"classification\":"
                      "{\"topic_tags\":[\"billing\"],\"sentiment\":\"Negative\",\"priority\":\"low\"},"
                      "\"confidence_scores\":{\"topic\":0.5,\"sentiment\":0.5,\"priority\":0.5}}";
   tk_ticket_t *t = tk_ticket_parse_processed_json (json, strlen (json), tax, &err);
   if (!t) {
      fail_msg ("%s", err.message);
   }
   assert_string_equal (t->classification.topic_tags[0], "Billing");
   assert_string_equal (t->classification.priority, "Low");
   /* processing_metadata is optional; processed_at is left for the caller. */
   assert_int_equal (t->metadata.processed_at, 0);
   assert_null (t->metadata.model_version);
   tk_ticket_destroy (t);
   /* A default label is outside this taxonomy. */
   t = parse_processed (json, &err);
   assert_null (t);
   assert_string_equal (err.field, "classification.topic_tags");
   tk_taxonomy_destroy (tax);
}

/* ---- serialization ---- */

/* Sorted-insensitive check that obj has exactly the keys listed. */
static void
assert_keys (const cJSON *obj, const char *const *keys, size_t n)
{
   assert_int_equal ((size_t) cJSON_GetArraySize (obj), n);
   for (size_t i = 0; i < n; i++) {
      if (!cJSON_GetObjectItemCaseSensitive (obj, keys[i])) {
         fail_msg ("key %s missing", keys[i]);
      }
   }
}

static tk_ticket_t *
make_processed_ticket (void)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup ("TICKET-246");
   t->subject = strdup ("Lineage \"missing\" for dbt");
   t->body = strdup ("Line 1\nLine 2\t\xE2\x82\xAC \\ end");
   t->source = strdup ("upload");
   t->created_at = INT64_C (1757745527513);
   t->updated_at = INT64_C (1757745600000);
   t->processed = true;
   t->classification.topic_tags[0] = strdup ("Lineage");
   t->classification.topic_tags[1] = strdup ("Connector");
   t->classification.n_topic_tags = 2;
   t->classification.sentiment = strdup ("Curious");
   t->classification.priority = strdup ("P1 (Medium)");
   t->confidence.topic = 0.85;
   t->confidence.sentiment = 0.9234567890123456;
   t->confidence.priority = 0.1 + 0.2; /* not exactly 0.3 */
   t->metadata.processed_at = INT64_C (1757745540001);
   t->metadata.model_version = strdup ("gemini-1.5-flash");
   t->metadata.processing_time_ms = 1500;
   t->metadata.agent_version = strdup ("1.0");
   t->processing_attempts = 2;
   t->last_error = strdup ("llm: HTTP 429");
   return t;
}

static void
test_to_json_raw_schema (void **state)
{
   (void) state;
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup ("TICKET-1");
   t->subject = strdup ("s");
   t->body = strdup ("b");
   t->created_at = INT64_C (1757745527513);
   tk_error_t err;
   cJSON *j = tk_ticket_to_json (t, &err);
   assert_non_null (j);
   const char *keys[] = {"id", "subject", "body", "processed", "created_at"};
   assert_keys (j, keys, 5);
   assert_true (cJSON_IsFalse (cJSON_GetObjectItem (j, "processed")));
   assert_string_equal (cJSON_GetObjectItem (j, "created_at")->valuestring,
                        "2025-09-13T06:38:47.513Z");
   cJSON_Delete (j);

   /* updated_at and source appear once set. */
   t->updated_at = t->created_at;
   t->source = strdup ("kafka");
   j = tk_ticket_to_json (t, &err);
   const char *keys2[] = {"id", "subject", "body", "processed", "created_at", "updated_at", "source"};
   assert_keys (j, keys2, 7);
   cJSON_Delete (j);
   tk_ticket_destroy (t);
}

static void
test_to_json_processed_schema (void **state)
{
   (void) state;
   tk_ticket_t *t = make_processed_ticket ();
   tk_error_t err;
   cJSON *j = tk_ticket_to_json (t, &err);
   assert_non_null (j);
   const char *keys[] = {"id", "subject", "body", "source", "processed", "created_at",
                         "updated_at", "classification", "confidence_scores",
                         "processing_metadata", "needs_review", "processing_attempts", "last_error"};
   assert_keys (j, keys, sizeof keys / sizeof keys[0]);
   const cJSON *cls = cJSON_GetObjectItem (j, "classification");
   const char *ckeys[] = {"topic_tags", "sentiment", "priority"};
   assert_keys (cls, ckeys, 3);
   assert_string_equal (cJSON_GetArrayItem (cJSON_GetObjectItem (cls, "topic_tags"), 1)->valuestring,
                        "Connector");
   const char *skeys[] = {"topic", "sentiment", "priority"};
   assert_keys (cJSON_GetObjectItem (j, "confidence_scores"), skeys, 3);
   const cJSON *meta = cJSON_GetObjectItem (j, "processing_metadata");
   const char *mkeys[] = {"processed_at", "model_version", "processing_time_ms", "agent_version"};
   assert_keys (meta, mkeys, 4);
   assert_string_equal (cJSON_GetObjectItem (meta, "processed_at")->valuestring,
                        "2025-09-13T06:39:00.001Z");
   assert_int_equal (cJSON_GetObjectItem (meta, "processing_time_ms")->valueint, 1500);
   assert_int_equal (cJSON_GetObjectItem (j, "processing_attempts")->valueint, 2);
   cJSON_Delete (j);
   tk_ticket_destroy (t);
}

static void
test_to_json_errors (void **state)
{
   (void) state;
   tk_error_t err;
   tk_ticket_t *t = tk_ticket_new ();
   tk_error_clear (&err);
   assert_null (tk_ticket_to_json (t, &err));
   assert_string_equal (err.field, "id");
   t->id = strdup ("a");
   t->created_at = INT64_C (253402300800000); /* year 10000 */
   tk_error_clear (&err);
   assert_null (tk_ticket_to_json (t, &err));
   assert_string_equal (err.field, "created_at");
   assert_null (tk_ticket_to_json_string (t, &err));
   tk_ticket_destroy (t);
}

static void
assert_tickets_equal (const tk_ticket_t *a, const tk_ticket_t *b)
{
   assert_string_equal (a->id, b->id);
   assert_string_equal (a->subject, b->subject);
   assert_string_equal (a->body, b->body);
   if (a->source || b->source) {
      assert_non_null (a->source);
      assert_non_null (b->source);
      assert_string_equal (a->source, b->source);
   }
   assert_int_equal (a->created_at, b->created_at);
   assert_int_equal (a->updated_at, b->updated_at);
   assert_int_equal (a->processed, b->processed);
   assert_int_equal (a->classification.n_topic_tags, b->classification.n_topic_tags);
   for (size_t i = 0; i < a->classification.n_topic_tags; i++) {
      assert_string_equal (a->classification.topic_tags[i], b->classification.topic_tags[i]);
   }
   assert_true ((a->classification.sentiment == NULL) == (b->classification.sentiment == NULL));
   if (a->classification.sentiment) {
      assert_string_equal (a->classification.sentiment, b->classification.sentiment);
      assert_string_equal (a->classification.priority, b->classification.priority);
   }
   /* cJSON prints 15 significant digits unless that loses more than an
    * epsilon, so scores survive to within a unit in the 15th digit. */
   assert_true (fabs (a->confidence.topic - b->confidence.topic) <= 1e-15);
   assert_true (fabs (a->confidence.sentiment - b->confidence.sentiment) <= 1e-15);
   assert_true (fabs (a->confidence.priority - b->confidence.priority) <= 1e-15);
   assert_int_equal (a->metadata.processed_at, b->metadata.processed_at);
   assert_int_equal (a->metadata.processing_time_ms, b->metadata.processing_time_ms);
   if (a->metadata.model_version) {
      assert_string_equal (a->metadata.model_version, b->metadata.model_version);
      assert_string_equal (a->metadata.agent_version, b->metadata.agent_version);
   } else {
      assert_null (b->metadata.model_version);
   }
   assert_int_equal (a->processing_attempts, b->processing_attempts);
   if (a->last_error) {
      assert_string_equal (a->last_error, b->last_error);
   } else {
      assert_null (b->last_error);
   }
}

static void
test_round_trip_processed (void **state)
{
   (void) state;
   tk_ticket_t *t = make_processed_ticket ();
   tk_error_t err;
   char *json = tk_ticket_to_json_string (t, &err);
   assert_non_null (json);
   tk_ticket_t *back = tk_ticket_parse_processed_json (json, strlen (json), NULL, &err);
   if (!back) {
      fail_msg ("%s: %s", json, err.message);
   }
   assert_tickets_equal (t, back);
   cJSON_free (json);
   tk_ticket_destroy (back);
   tk_ticket_destroy (t);
}

static void
test_round_trip_raw (void **state)
{
   (void) state;
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup ("RAW-1");
   t->subject = strdup ("");
   t->body = strdup ("\xF0\x9F\x98\x80 body with \x01 control and \"quotes\"");
   t->created_at = -1; /* before the epoch still works */
   t->updated_at = INT64_C (1757745527513);
   tk_error_t err;
   char *json = tk_ticket_to_json_string (t, &err);
   assert_non_null (json);
   tk_ticket_t *back = tk_ticket_parse_json (json, strlen (json), &err);
   if (!back) {
      fail_msg ("%s: %s", json, err.message);
   }
   assert_tickets_equal (t, back);
   cJSON_free (json);
   tk_ticket_destroy (back);
   tk_ticket_destroy (t);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_parse_raw_ticket),
      cmocka_unit_test (test_optional_fields_absent_null_or_empty),
      cmocka_unit_test (test_id_forms),
      cmocka_unit_test (test_missing_fields),
      cmocka_unit_test (test_wrong_types),
      cmocka_unit_test (test_bad_timestamps),
      cmocka_unit_test (test_size_limits_exact_boundary),
      cmocka_unit_test (test_invalid_utf8_in_fields),
      cmocka_unit_test (test_invalid_bytes_rejected_before_cjson),
      cmocka_unit_test (test_not_json_and_oversized_input),
      cmocka_unit_test (test_deep_nesting),
      cmocka_unit_test (test_parse_processed_ticket),
      cmocka_unit_test (test_processed_rejections),
      cmocka_unit_test (test_processed_with_custom_taxonomy),
      cmocka_unit_test (test_to_json_raw_schema),
      cmocka_unit_test (test_to_json_processed_schema),
      cmocka_unit_test (test_to_json_errors),
      cmocka_unit_test (test_round_trip_processed),
      cmocka_unit_test (test_round_trip_raw),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
