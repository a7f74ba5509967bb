/* Batch answers (common/llm_parse: tk_llm_parse_batch_answer): entries
 * matched back by id, each validated on its own, hostile shapes refused
 * without taking the good entries down with them. */
#include "test_support.h"

#include "llm_parse.h"
#include "taxonomy.h"

#include <stdlib.h>
#include <string.h>

#define ENTRY(id, sentiment)                                                                  \
   "{\"id\":\"" id "\",\"topic_tags\":[\"SSO\"],\"sentiment\":\"" sentiment "\","             \
   "\"priority\":\"P2 (Low)\",\"confidence\":{\"topic\":0.7,\"sentiment\":0.6,\"priority\":0.5}}"

static const char *const ids3[] = {"T-1", "T-2", "T-3"};

static bool
parse3 (const char *text, tk_llm_batch_item_t *items, tk_error_t *err)
{
   return tk_llm_parse_batch_answer (text, strlen (text), tk_taxonomy_default (), ids3, 3, items,
                                     err);
}

static void
test_matched_by_id_in_any_order (void **state)
{
   (void) state;
   tk_llm_batch_item_t items[3];
   tk_error_t err;
   assert_true (parse3 ("```json\n{\"answers\":[" ENTRY ("T-3", "angry") "," ENTRY (
                           "T-1", "Curious") "," ENTRY ("T-2", "Neutral") "]}\n```",
                        items, &err));
   assert_true (items[0].ok && items[1].ok && items[2].ok);
   assert_string_equal (items[0].c.sentiment, "Curious");
   assert_string_equal (items[1].c.sentiment, "Neutral");
   assert_string_equal (items[2].c.sentiment, "Angry"); /* canonical spelling */
   assert_string_equal (items[0].c.topic_tags[0], "SSO");
   assert_true (items[0].conf.topic == 0.7);
   assert_null (items[0].answer);
   tk_llm_batch_items_cleanup (items, 3);
}

static void
test_one_bad_entry_fails_alone (void **state)
{
   (void) state;
   tk_llm_batch_item_t items[3];
   tk_error_t err;
   /* T-2 has a label outside the taxonomy, T-3 is missing. */
   assert_true (parse3 ("{\"answers\":[" ENTRY ("T-1", "Curious") "," ENTRY ("T-2", "Ecstatic") "]}",
                        items, &err));
   assert_true (items[0].ok);
   assert_false (items[1].ok);
   assert_string_equal (items[1].err.field, "sentiment");
   assert_non_null (strstr (items[1].err.message, "Ecstatic"));
   /* The bad entry comes back for a repair request. */
   assert_non_null (items[1].answer);
   assert_non_null (strstr (items[1].answer, "Ecstatic"));
   assert_null (items[1].c.sentiment);
   assert_false (items[2].ok);
   assert_null (items[2].answer);
   assert_non_null (strstr (items[2].err.message, "no entry for ticket \"T-3\""));
   tk_llm_batch_items_cleanup (items, 3);
}

static void
test_duplicates_unknown_and_mistyped_ids (void **state)
{
   (void) state;
   tk_llm_batch_item_t items[3];
   tk_error_t err;
   /* T-1 twice (even if both agree: which was meant cannot be told), an id
    * nobody asked about, an id that is a number, an entry that is not an
    * object, and T-3 whose sentiment is a number. */
   assert_true (parse3 ("{\"answers\":[" ENTRY ("T-1", "Curious") "," ENTRY (
                           "T-1", "Curious") "," ENTRY ("T-99", "Angry") ",{\"id\":2,"
                                                                          "\"sentiment\":\"Angry\"},"
                                                                          "\"T-2\",7,null,"
                        "{\"id\":\"T-3\",\"topic_tags\":[\"SSO\"],\"sentiment\":4,\"priority\":"
                        "\"P2 (Low)\",\"confidence\":{\"topic\":1,\"sentiment\":1,\"priority\":1}},"
                        ENTRY ("T-2", "Neutral") "]}",
                        items, &err));
   assert_false (items[0].ok);
   assert_non_null (strstr (items[0].err.message, "2 entries"));
   assert_true (items[1].ok);
   assert_string_equal (items[1].c.sentiment, "Neutral");
   assert_false (items[2].ok);
   assert_string_equal (items[2].err.field, "sentiment");
   tk_llm_batch_items_cleanup (items, 3);
}

static void
test_unusable_as_a_whole (void **state)
{
   (void) state;
   tk_llm_batch_item_t items[3];
   tk_error_t err;
   static const char *const bad[] = {
      "",
      "not json",
      "[" ENTRY ("T-1", "Curious") "]",                 /* an array, not the object */
      "{\"answers\":{\"T-1\":" ENTRY ("T-1", "Curious") "}}", /* keyed, not a list */
      "{\"results\":[" ENTRY ("T-1", "Curious") "]}",  /* wrong key */
      "{\"answers\":[" ENTRY ("T-1", "Curious") "]",    /* cut short */
      "{\"answers\":[]} trailing",
      "\"answers\"",
   };
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      memset (&err, 0, sizeof err);
      if (parse3 (bad[i], items, &err)) {
         fail_msg ("accepted: %s", bad[i]);
      }
      assert_int_equal (err.domain, TK_ERR_INVALID);
      for (int k = 0; k < 3; k++) {
         assert_false (items[k].ok);
         assert_null (items[k].answer);
      }
   }
   /* An empty list is a valid shape in which every ticket is missing. */
   assert_true (parse3 ("{\"answers\":[]}", items, &err));
   for (int k = 0; k < 3; k++) {
      assert_false (items[k].ok);
   }
   tk_llm_batch_items_cleanup (items, 3);
}

static void
test_deep_nesting_refused (void **state)
{
   (void) state;
   /* Deeper than the JSON parser accepts: refused, not a stack overflow. */
   size_t depth = 100000;
   char *text = malloc (depth * 2 + 32);
   size_t at = (size_t) sprintf (text, "{\"answers\":");
   for (size_t i = 0; i < depth; i++) {
      text[at++] = '[';
   }
   for (size_t i = 0; i < depth; i++) {
      text[at++] = ']';
   }
   text[at++] = '}';
   text[at] = '\0';
   tk_llm_batch_item_t items[3];
   tk_error_t err;
   assert_false (parse3 (text, items, &err));
   free (text);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_matched_by_id_in_any_order),
      cmocka_unit_test (test_one_bad_entry_fails_alone),
      cmocka_unit_test (test_duplicates_unknown_and_mistyped_ids),
      cmocka_unit_test (test_unusable_as_a_whole),
      cmocka_unit_test (test_deep_nesting_refused),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
