/* Unit tests for common/taxonomy.c: the default, loading files, lookups and
 * validating a classification. */
#include "test_support.h"

#include "taxonomy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A file whose only topic tag is a %s argument. */
#define TOPIC_FMT "{\"topic_tags\":[\"%s\"],\"sentiment\":[\"a\"],\"priority\":[\"b\"]}"
#define CUSTOM_FILE TRIAGE_SOURCE_DIR "/tests/data/taxonomy_custom.json"

/* Loads JSON text; returns NULL and fills err on failure. */
static tk_taxonomy_t *
load (const char *json, tk_error_t *err)
{
   tk_error_clear (err);
   return tk_taxonomy_load_json (json, strlen (json), "t.json", err);
}

/* Asserts json fails to load with an error on field whose message contains
 * needle. */
static void
assert_load_fails (const char *json, const char *field, const char *needle)
{
   tk_error_t err;
   tk_taxonomy_t *tax = load (json, &err);
   if (tax) {
      tk_taxonomy_destroy (tax);
      fail_msg ("expected failure for %s", json);
   }
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   assert_string_equal (err.field, field);
   if (!strstr (err.message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err.message, needle);
   }
   assert_non_null (strstr (err.message, "t.json: "));
}

static void
test_default_matches_architecture (void **state)
{
   (void) state;
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   const char *topics[] = {"How-to", "Product", "Connector", "Lineage", "API/SDK",
                           "SSO", "Glossary", "Best practices", "Sensitive data"};
   const char *sentiments[] = {"Frustrated", "Curious", "Angry", "Neutral"};
   const char *priorities[] = {"P0 (High)", "P1 (Medium)", "P2 (Low)"};

   assert_int_equal (tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC), 9);
   assert_int_equal (tk_taxonomy_count (tax, TK_TAXONOMY_SENTIMENT), 4);
   assert_int_equal (tk_taxonomy_count (tax, TK_TAXONOMY_PRIORITY), 3);
   for (size_t i = 0; i < 9; i++) {
      assert_string_equal (tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, i), topics[i]);
      assert_true (strlen (tk_taxonomy_description (tax, TK_TAXONOMY_TOPIC, i)) > 20);
      assert_int_equal (tk_taxonomy_index (tax, TK_TAXONOMY_TOPIC, topics[i]), (int) i);
   }
   for (size_t i = 0; i < 4; i++) {
      assert_string_equal (tk_taxonomy_label (tax, TK_TAXONOMY_SENTIMENT, i), sentiments[i]);
      assert_true (strlen (tk_taxonomy_description (tax, TK_TAXONOMY_SENTIMENT, i)) > 20);
   }
   for (size_t i = 0; i < 3; i++) {
      assert_string_equal (tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, i), priorities[i]);
      assert_true (strlen (tk_taxonomy_description (tax, TK_TAXONOMY_PRIORITY, i)) > 20);
   }
   assert_null (tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, 3));
   assert_null (tk_taxonomy_description (tax, TK_TAXONOMY_SENTIMENT, 4));
   assert_string_equal (tk_taxonomy_kind_name (TK_TAXONOMY_TOPIC), "topic_tags");
   assert_string_equal (tk_taxonomy_kind_name (TK_TAXONOMY_PRIORITY), "priority");
   /* Destroying the default is a no-op, so it still works afterwards. */
   tk_taxonomy_destroy (tk_taxonomy_default ());
   tk_taxonomy_destroy (NULL);
   assert_ptr_equal (tk_taxonomy_default (), tax);
   assert_true (tk_taxonomy_has_topic (tax, "SSO"));
}

static void
test_exact_and_canonical_lookup (void **state)
{
   (void) state;
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   assert_true (tk_taxonomy_has_topic (tax, "API/SDK"));
   assert_false (tk_taxonomy_has_topic (tax, "api/sdk")); /* exact is exact */
   assert_false (tk_taxonomy_has_topic (tax, "API/SDK "));
   assert_false (tk_taxonomy_has_topic (tax, "Angry")); /* wrong list */
   assert_false (tk_taxonomy_has_topic (tax, NULL));
   assert_true (tk_taxonomy_has_sentiment (tax, "Angry"));
   assert_false (tk_taxonomy_has_sentiment (tax, "Happy"));
   assert_true (tk_taxonomy_has_priority (tax, "P0 (High)"));
   assert_false (tk_taxonomy_has_priority (tax, "P0"));

   int idx = 99;
   const char *canon = tk_taxonomy_canonical (tax, TK_TAXONOMY_PRIORITY, "  p1 (MEDIUM)\n", &idx);
   assert_non_null (canon);
   assert_string_equal (canon, "P1 (Medium)");
   assert_ptr_equal (canon, tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, 1));
   assert_int_equal (idx, 1);
   assert_string_equal (tk_taxonomy_canonical (tax, TK_TAXONOMY_TOPIC, "best PRACTICES", NULL),
                        "Best practices");
   assert_null (tk_taxonomy_canonical (tax, TK_TAXONOMY_TOPIC, "best", &idx));
   assert_int_equal (idx, -1);
   assert_null (tk_taxonomy_canonical (tax, TK_TAXONOMY_TOPIC, "How-to-do", NULL));
   assert_null (tk_taxonomy_canonical (tax, TK_TAXONOMY_TOPIC, "", NULL));
   assert_null (tk_taxonomy_canonical (tax, TK_TAXONOMY_TOPIC, NULL, NULL));
}

static void
test_load_good_file (void **state)
{
   (void) state;
   tk_error_t err;
   tk_taxonomy_t *tax = tk_taxonomy_load_file (CUSTOM_FILE, &err);
   if (!tax) {
      fail_msg ("%s", err.message);
   }
   assert_int_equal (tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC), 5);
   assert_int_equal (tk_taxonomy_count (tax, TK_TAXONOMY_SENTIMENT), 3);
   assert_int_equal (tk_taxonomy_count (tax, TK_TAXONOMY_PRIORITY), 3);
   assert_string_equal (tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, 0), "Billing");
   assert_string_equal (tk_taxonomy_description (tax, TK_TAXONOMY_TOPIC, 0),
                        "Invoices, payments, refunds, plan changes and pricing questions.");
   /* A bare string entry and a null description both mean "no description". */
   assert_string_equal (tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, 3), "Feature request");
   assert_string_equal (tk_taxonomy_description (tax, TK_TAXONOMY_TOPIC, 3), "");
   assert_string_equal (tk_taxonomy_description (tax, TK_TAXONOMY_PRIORITY, 1), "");
   assert_string_equal (tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, 2), "Low");
   assert_true (tk_taxonomy_has_topic (tax, "Données personnelles"));
   assert_false (tk_taxonomy_has_topic (tax, "How-to")); /* replaced, not merged */
   assert_true (tk_taxonomy_has_sentiment (tax, "Positive"));
   assert_string_equal (tk_taxonomy_canonical (tax, TK_TAXONOMY_PRIORITY, "URGENT", NULL),
                        "Urgent");
   tk_taxonomy_destroy (tax);
}

static void
test_load_missing_file (void **state)
{
   (void) state;
   tk_error_t err;
   tk_error_clear (&err);
   assert_null (tk_taxonomy_load_file (TRIAGE_SOURCE_DIR "/tests/data/no-such-file.json", &err));
   assert_int_equal (err.domain, TK_ERR_IO);
   assert_int_equal (err.code, ENOENT);
   assert_non_null (strstr (err.message, "no-such-file.json: cannot open"));
}

static void
test_load_not_json (void **state)
{
   (void) state;
   char path[] = "/tmp/tk_taxonomy_XXXXXX";
   int fd = mkstemp (path);
   assert_true (fd >= 0);
   const char *text = "topic_tags: [How-to]\n";
   assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
   close (fd);

   tk_error_t err;
   tk_error_clear (&err);
   tk_taxonomy_t *tax = tk_taxonomy_load_file (path, &err);
   unlink (path);
   assert_null (tax);
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   assert_non_null (strstr (err.message, path));
   assert_non_null (strstr (err.message, "not valid JSON"));

   assert_load_fails ("", "", "empty");
   assert_load_fails ("[\"How-to\"]", "", "expected a JSON object");
   assert_load_fails ("{\"topic_tags\":[\"a\"],\"sentiment\":[\"b\"],\"priority\":[\"c\"]} x", "",
                      "not valid JSON");
}

static void
test_load_rejects_bad_lists (void **state)
{
   (void) state;
   assert_load_fails ("{\"topic_tags\":[],\"sentiment\":[\"a\"],\"priority\":[\"b\"]}",
                      "topic_tags", "topic_tags: the list is empty");
   assert_load_fails ("{\"topic_tags\":[\"x\"],\"sentiment\":[\"a\"]}", "priority",
                      "priority: missing");
   assert_load_fails ("{\"topic_tags\":\"x\",\"sentiment\":[\"a\"],\"priority\":[\"b\"]}",
                      "topic_tags", "must be an array");
   assert_load_fails (
      "{\"topics\":[\"x\"],\"topic_tags\":[\"x\"],\"sentiment\":[\"a\"],\"priority\":[\"b\"]}", "",
      "unknown key \"topics\"");
   assert_load_fails ("{\"topic_tags\":[\"x\"],\"sentiment\":[\"a\"],\"sentiment\":[\"c\"],"
                      "\"priority\":[\"b\"]}",
                      "sentiment", "appears twice");
}

static void
test_load_rejects_duplicate_labels (void **state)
{
   (void) state;
   assert_load_fails ("{\"topic_tags\":[\"x\"],\"sentiment\":[\"Angry\",\"Calm\",\"Angry\"],"
                      "\"priority\":[\"b\"]}",
                      "sentiment[2]", "duplicate label \"Angry\" (same as sentiment[0])");
   /* Case-insensitive duplicates would make canonical lookups ambiguous. */
   assert_load_fails ("{\"topic_tags\":[\"SSO\",{\"label\":\"sso\"}],\"sentiment\":[\"a\"],"
                      "\"priority\":[\"b\"]}",
                      "topic_tags[1]", "duplicate label");
   /* The same label in two different lists is fine. */
   tk_error_t err;
   tk_taxonomy_t *tax =
      load ("{\"topic_tags\":[\"Other\"],\"sentiment\":[\"Other\"],\"priority\":[\"Other\"]}", &err);
   assert_non_null (tax);
   tk_taxonomy_destroy (tax);
}

static void
test_load_rejects_bad_entries (void **state)
{
   (void) state;
   char json[512], label[TK_LABEL_MAX + 2];

   /* Label length: TK_LABEL_MAX bytes loads, one more fails. */
   memset (label, 'L', TK_LABEL_MAX);
   label[TK_LABEL_MAX] = '\0';
   snprintf (json, sizeof json, TOPIC_FMT, label);
   tk_error_t err;
   tk_taxonomy_t *tax = load (json, &err);
   assert_non_null (tax);
   assert_int_equal (strlen (tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, 0)), TK_LABEL_MAX);
   tk_taxonomy_destroy (tax);
   label[TK_LABEL_MAX] = 'L';
   label[TK_LABEL_MAX + 1] = '\0';
   snprintf (json, sizeof json, TOPIC_FMT, label);
   assert_load_fails (json, "topic_tags[0]", "label exceeds 64 bytes");

   snprintf (json, sizeof json, TOPIC_FMT, "");
   assert_load_fails (json, "topic_tags[0]", "label is empty");
   snprintf (json, sizeof json, TOPIC_FMT, " SSO");
   assert_load_fails (json, "topic_tags[0]", "leading or trailing spaces");
   snprintf (json, sizeof json, TOPIC_FMT, "a\\tb");
   assert_load_fails (json, "topic_tags[0]", "control character");
   snprintf (json, sizeof json, TOPIC_FMT, "\xC0\xAF"); /* overlong: invalid UTF-8 */
   assert_load_fails (json, "", "not valid UTF-8");
   snprintf (json, sizeof json, TOPIC_FMT, "a\\u0000b");
   assert_load_fails (json, "", "\\u0000");

   assert_load_fails ("{\"topic_tags\":[5],\"sentiment\":[\"a\"],\"priority\":[\"b\"]}",
                      "topic_tags[0]", "must be a label string");
   assert_load_fails ("{\"topic_tags\":[{\"description\":\"d\"}],\"sentiment\":[\"a\"],"
                      "\"priority\":[\"b\"]}",
                      "topic_tags[0]", "\"label\" is missing");
   assert_load_fails ("{\"topic_tags\":[{\"label\":\"x\",\"desc\":\"d\"}],\"sentiment\":[\"a\"],"
                      "\"priority\":[\"b\"]}",
                      "topic_tags[0]", "unknown key \"desc\"");
   assert_load_fails ("{\"topic_tags\":[{\"label\":\"x\",\"description\":[]}],\"sentiment\":[\"a\"],"
                      "\"priority\":[\"b\"]}",
                      "topic_tags[0]", "\"description\" must be a string");
   assert_load_fails ("{\"topic_tags\":[\"x\"],\"sentiment\":[{\"label\":\"a\",\"label\":\"b\"}],"
                      "\"priority\":[\"b\"]}",
                      "sentiment[0]", "appears twice");
}

static void
test_load_rejects_too_many_labels (void **state)
{
   (void) state;
   char json[4096];
   size_t n = (size_t) snprintf (json, sizeof json, "{\"sentiment\":[\"a\"],\"priority\":[\"b\"],"
                                                    "\"topic_tags\":[");
   for (int i = 0; i <= TK_TAXONOMY_MAX_LABELS; i++) {
      n += (size_t) snprintf (json + n, sizeof json - n, "%s\"t%d\"", i ? "," : "", i);
   }
   snprintf (json + n, sizeof json - n, "]}");
   assert_load_fails (json, "topic_tags", "more than 64 labels");
}

/* A classification holding borrowed strings (never freed here). */
static tk_classification_t
cls (const char *t1, const char *t2, const char *sentiment, const char *priority)
{
   tk_classification_t c;
   memset (&c, 0, sizeof c);
   if (t1) {
      c.topic_tags[c.n_topic_tags++] = (char *) t1;
   }
   if (t2) {
      c.topic_tags[c.n_topic_tags++] = (char *) t2;
   }
   c.sentiment = (char *) sentiment;
   c.priority = (char *) priority;
   return c;
}

static void
assert_invalid (tk_classification_t c, const char *field, const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   assert_false (tk_taxonomy_validate_classification (tk_taxonomy_default (), &c, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_string_equal (err.field, field);
   if (!strstr (err.message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err.message, needle);
   }
}

static void
test_validate_classification (void **state)
{
   (void) state;
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   tk_error_t err;
   tk_classification_t good = cls ("Connector", "How-to", "Curious", "P1 (Medium)");
   assert_true (tk_taxonomy_validate_classification (tax, &good, &err));

   assert_invalid (cls (NULL, NULL, "Curious", "P1 (Medium)"), "classification.topic_tags",
                   "at least one topic tag");
   assert_invalid (cls ("Billing", NULL, "Curious", "P1 (Medium)"), "classification.topic_tags",
                   "\"Billing\" is not a known topic tag; expected one of How-to, Product");
   assert_invalid (cls ("SSO", "SSO", "Curious", "P1 (Medium)"), "classification.topic_tags",
                   "\"SSO\" is listed twice");
   assert_invalid (cls ("sso", NULL, "Curious", "P1 (Medium)"), "classification.topic_tags",
                   "\"sso\" is not a known topic tag");
   assert_invalid (cls ("SSO", NULL, "Happy", "P1 (Medium)"), "classification.sentiment",
                   "classification.sentiment: \"Happy\" is not a known sentiment; expected one of "
                   "Frustrated, Curious, Angry, Neutral");
   assert_invalid (cls ("SSO", NULL, NULL, "P1 (Medium)"), "classification.sentiment",
                   "required");
   assert_invalid (cls ("SSO", NULL, "Angry", "P3"), "classification.priority",
                   "classification.priority: \"P3\" is not a known priority; expected one of "
                   "P0 (High), P1 (Medium), P2 (Low)");
   assert_invalid (cls ("SSO", NULL, "Angry", NULL), "classification.priority", "required");
   assert_invalid (cls ("SSO", NULL, "Angry", "P0 (High)\xFF"), "classification.priority",
                   "(not valid UTF-8)");

   /* A long bad value is quoted in part, without splitting a character. */
   char longv[200];
   memset (longv, 'x', 63);
   strcpy (longv + 63, "\xC3\xA9tail-that-should-not-appear");
   assert_invalid (cls ("SSO", NULL, "Angry", longv), "classification.priority", "xxx...\"");

   tk_classification_t many = cls ("SSO", NULL, "Angry", "P2 (Low)");
   many.n_topic_tags = TK_TICKET_MAX_TAGS + 1;
   assert_invalid (many, "classification.topic_tags", "at most 16");
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_default_matches_architecture),
      cmocka_unit_test (test_exact_and_canonical_lookup),
      cmocka_unit_test (test_load_good_file),
      cmocka_unit_test (test_load_missing_file),
      cmocka_unit_test (test_load_not_json),
      cmocka_unit_test (test_load_rejects_bad_lists),
      cmocka_unit_test (test_load_rejects_duplicate_labels),
      cmocka_unit_test (test_load_rejects_bad_entries),
      cmocka_unit_test (test_load_rejects_too_many_labels),
      cmocka_unit_test (test_validate_classification),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
