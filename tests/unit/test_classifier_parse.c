/* LLM answer parsing, backoff and the token bucket (common/llm_parse,
 * common/backoff, common/token_bucket). */
#include "test_support.h"

#include "backoff.h"
#include "llm_parse.h"
#include "taxonomy.h"
#include "token_bucket.h"

#include <stdlib.h>
#include <string.h>

static bool
parse (const char *text, tk_classification_t *c, tk_confidence_t *conf, tk_error_t *err)
{
   memset (c, 0, sizeof *c);
   return tk_llm_parse_answer (text, strlen (text), tk_taxonomy_default (), c, conf, err);
}

static void
test_valid_answer_canonicalised (void **state)
{
   (void) state;
   tk_classification_t c;
   tk_confidence_t conf;
   tk_error_t err;
   assert_true (parse ("```json\n{\"topic_tags\":[\"sso\",\" SSO\",\"API/SDK\"],\"sentiment\":"
                       "\"angry\",\"priority\":\"p0 (high)\",\"confidence\":{\"topic\":1.5,"
                       "\"sentiment\":0.4,\"priority\":-1}}\n```",
                       &c, &conf, &err));
   assert_int_equal (c.n_topic_tags, 2);
   assert_string_equal (c.topic_tags[0], "SSO");
   assert_string_equal (c.topic_tags[1], "API/SDK");
   assert_string_equal (c.sentiment, "Angry");
   assert_string_equal (c.priority, "P0 (High)");
   assert_true (conf.topic == 1.0 && conf.priority == 0.0);
   tk_classification_clear (&c);
}

static void
test_invalid_answers (void **state)
{
   (void) state;
   tk_classification_t c;
   tk_confidence_t conf;
   tk_error_t err;
   assert_false (parse ("not json", &c, &conf, &err));
   assert_false (parse ("{\"topic_tags\":[\"SSO\"],\"sentiment\":\"Ecstatic\",\"priority\":"
                        "\"P1 (Medium)\",\"confidence\":{\"topic\":1,\"sentiment\":1,"
                        "\"priority\":1}}",
                        &c, &conf, &err));
   assert_string_equal (err.field, "sentiment");
   assert_non_null (strstr (err.message, "Ecstatic"));
   assert_false (parse ("{\"topic_tags\":[\"SSO\"],\"sentiment\":\"Angry\",\"confidence\":"
                        "{\"topic\":1,\"sentiment\":1,\"priority\":1}}",
                        &c, &conf, &err));
   assert_string_equal (err.field, "priority");
   assert_false (parse ("{\"topic_tags\":[],\"sentiment\":\"Angry\",\"priority\":\"P1 (Medium)\"}",
                        &c, &conf, &err));
   assert_string_equal (err.field, "topic_tags");
   assert_null (c.sentiment);
}

static void
test_envelopes (void **state)
{
   (void) state;
   tk_error_t err;
   const char *oa = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"{}\"}}]}";
   char *s = tk_llm_openai_content (oa, strlen (oa), &err);
   assert_string_equal (s, "{}");
   free (s);
   const char *gm = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"{\\\"a\\\"\"},"
                    "{\"text\":\":1}\"}]}}]}";
   s = tk_llm_gemini_content (gm, strlen (gm), &err);
   assert_string_equal (s, "{\"a\":1}");
   free (s);
   assert_null (tk_llm_openai_content ("{\"choices\":[]}", 14, &err));
   assert_null (tk_llm_gemini_content ("<html>", 6, &err));
}

static void
test_backoff_full_jitter (void **state)
{
   (void) state;
   /* The ceiling doubles from the base and stops at the cap. */
   assert_int_equal (tk_backoff_full_jitter (500, 30000, 1, 0.999999), 500);
   assert_int_equal (tk_backoff_full_jitter (500, 30000, 3, 0.999999), 2000);
   assert_int_equal (tk_backoff_full_jitter (500, 30000, 20, 0.999999), 30000);
   assert_int_equal (tk_backoff_full_jitter (500, 30000, 4, 0.0), 0);
   int64_t mid = tk_backoff_full_jitter (500, 30000, 2, 0.5);
   assert_true (mid >= 400 && mid <= 600);
   int64_t ms;
   assert_true (tk_retry_after_parse (" 7 ", 0, &ms));
   assert_int_equal (ms, 7000);
   assert_true (tk_retry_after_parse ("Wed, 21 Oct 2015 07:28:10 GMT", 1445412480000, &ms));
   assert_int_equal (ms, 10000);
   assert_false (tk_retry_after_parse ("soon", 0, &ms));
   assert_false (tk_retry_after_parse ("-3", 0, &ms));
}

static void
test_token_bucket (void **state)
{
   (void) state;
   tk_token_bucket_t b;
   tk_token_bucket_init (&b, 60, 2, 0); /* one a second, burst of two */
   assert_int_equal (tk_token_bucket_take (&b, 1, 0), 0);
   assert_int_equal (tk_token_bucket_take (&b, 1, 0), 0);
   int64_t wait = tk_token_bucket_take (&b, 1, 0);
   assert_int_equal (wait, 1000);
   assert_true (tk_token_bucket_take (&b, 1, 500) > 0);
   assert_int_equal (tk_token_bucket_take (&b, 1, 1000), 0);
   /* Over capacity: waits for a full bucket, then goes into debt. */
   assert_true (tk_token_bucket_take (&b, 10, 1000) > 0);
   assert_int_equal (tk_token_bucket_take (&b, 10, 3000), 0);
   assert_true (tk_token_bucket_take (&b, 1, 3000) > 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_valid_answer_canonicalised), cmocka_unit_test (test_invalid_answers),
      cmocka_unit_test (test_envelopes), cmocka_unit_test (test_backoff_full_jitter),
      cmocka_unit_test (test_token_bucket),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
