/* Unit tests for common/confidence_threshold.c and the two settings that use
 * it (TRIAGE_REVIEW_BELOW, TRIAGE_CASCADE_BELOW): both text forms, every
 * malformed form refused with the variable named, and the "any field
 * below" rule at its edges. */
#include "test_support.h"

#include "config.h"
#include "confidence_threshold.h"

#include <string.h>

static void
test_one_number_sets_every_field (void **state)
{
   (void) state;
   tk_threshold_t t;
   char why[128];
   assert_true (tk_threshold_parse ("0.6", &t, why, sizeof why));
   assert_true (t.topic == 0.6 && t.sentiment == 0.6 && t.priority == 0.6);
   assert_true (tk_threshold_parse ("0", &t, why, sizeof why));
   assert_true (t.topic == 0 && t.priority == 0);
   assert_true (tk_threshold_parse ("1", &t, why, sizeof why));
   assert_true (t.sentiment == 1);
}

static void
test_pairs_set_their_fields_only (void **state)
{
   (void) state;
   tk_threshold_t t;
   char why[128];
   assert_true (tk_threshold_parse ("priority=0.7,topic=0.25", &t, why, sizeof why));
   assert_true (t.priority == 0.7 && t.topic == 0.25 && t.sentiment == 0);
   assert_true (tk_threshold_parse ("sentiment=0.5", &t, why, sizeof why));
   assert_true (t.sentiment == 0.5 && t.topic == 0 && t.priority == 0);
}

static void
test_malformed_is_refused (void **state)
{
   (void) state;
   static const char *const bad[] = {"",           "1.5",          "-0.1",   "abc",
                                     "0.5x",       "nan",          "inf",    "topic=",
                                     "topic=2",    "mood=0.5",     "=0.5",   "topic=0.5,",
                                     "topic:0.5",  "0.5,0.6",      "priority=0.5,sentiment=x"};
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      tk_threshold_t t = {0.1, 0.1, 0.1};
      char why[128] = "";
      if (tk_threshold_parse (bad[i], &t, why, sizeof why)) {
         fail_msg ("\"%s\" was accepted", bad[i]);
      }
      assert_true (why[0] != '\0');
      assert_true (t.topic == 0 && t.sentiment == 0 && t.priority == 0);
   }
}

static void
test_any_below_is_strict_and_per_field (void **state)
{
   (void) state;
   tk_threshold_t t = {.topic = 0.5, .sentiment = 0.6, .priority = 0.7};
   tk_confidence_t at = {0.5, 0.6, 0.7};
   assert_false (tk_threshold_any_below (&at, &t)); /* equal is not below */
   tk_confidence_t low_topic = {0.49, 0.9, 0.9};
   assert_true (tk_threshold_any_below (&low_topic, &t));
   tk_confidence_t low_priority = {0.9, 0.9, 0.69};
   assert_true (tk_threshold_any_below (&low_priority, &t));
   tk_threshold_t off = {0, 0, 0};
   tk_confidence_t zero = {0, 0, 0};
   assert_false (tk_threshold_any_below (&zero, &off)); /* 0: never flagged */
}

static void
test_settings_parse_and_name_the_variable (void **state)
{
   (void) state;
   tk_config_t cfg;
   tk_error_t err = {0};
   char *args[] = {"prog", NULL};
   char *env_ok[] = {"TRIAGE_REVIEW_BELOW=priority=0.8", "TRIAGE_CASCADE=on",
                     "TRIAGE_CASCADE_BELOW=0.65", NULL};
   assert_true (tk_config_load (&cfg, TK_SVC_CLASSIFIER, 1, args, env_ok, &err));
   assert_true (cfg.review_threshold.priority == 0.8 && cfg.review_threshold.topic == 0);
   assert_true (cfg.cascade == 1 && cfg.cascade_threshold.sentiment == 0.65);
   tk_config_destroy (&cfg);

   char *env_bad_review[] = {"TRIAGE_REVIEW_BELOW=often", NULL};
   assert_false (tk_config_load (&cfg, TK_SVC_CLASSIFIER, 1, args, env_bad_review, &err));
   assert_string_equal (err.field, "TRIAGE_REVIEW_BELOW");
   assert_non_null (strstr (err.message, "TRIAGE_REVIEW_BELOW"));

   char *env_bad_cascade[] = {"TRIAGE_CASCADE_BELOW=priority=1.5", NULL};
   assert_false (tk_config_load (&cfg, TK_SVC_CLASSIFIER, 1, args, env_bad_cascade, &err));
   assert_string_equal (err.field, "TRIAGE_CASCADE_BELOW");
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_one_number_sets_every_field),
      cmocka_unit_test (test_pairs_set_their_fields_only),
      cmocka_unit_test (test_malformed_is_refused),
      cmocka_unit_test (test_any_below_is_strict_and_per_field),
      cmocka_unit_test (test_settings_parse_and_name_the_variable),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
