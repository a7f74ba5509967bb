/* triagectl eval --provider openai|gemini against the fake LLM, over real
 * HTTP. The fake answers every ticket Connector + How-to, Curious (0.92),
 * P1 (Medium) (1.3, clamped to 1) with topic confidence 0.85, unless a
 * directive in the ticket's body scripts a fault; so every figure of the
 * report is known exactly. Eight labelled tickets:
 *
 *   id    gold tags          sentiment   priority  directive
 *   EV-1  Connector, How-to  Curious     P1        -
 *   EV-2  Connector          Curious     P0        -
 *   EV-3  SSO                Frustrated  P1        -
 *   EV-4  How-to, Connector  Angry       P2        429 once, Retry-After 1 s
 *   EV-5  Lineage            Neutral     P1        400 always: never answered
 *   EV-6  How-to             Curious     P2        500 once
 *   EV-7  Glossary           Curious     P0        an e-mail address (masked)
 *   EV-8  Connector          Neutral     P1        an invalid label once: repaired
 *
 * Right: sentiment EV-1, 2, 6, 7 (4/8); priority EV-1, 3, 8 (3/8); exact tag
 * set EV-1, 4 (2/8); EV-5 counts as wrong everywhere. Requests: one per
 * ticket, plus one each for EV-4, EV-6 and EV-8: 11. A fresh fake per run,
 * since its directives count requests. */
#include "ingest_fixture.h"
#include "service_proc.h"
#include "test_support.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char labelled[] =
   "{\"id\":\"EV-1\",\"subject\":\"Adding a Snowflake connector\",\"body\":\"What are the steps?\","
   "\"topic_tags\":[\"Connector\",\"How-to\"],\"sentiment\":\"Curious\",\"priority\":\"P1 (Medium)\"}\n"
   "{\"id\":\"EV-2\",\"subject\":\"BigQuery sync down\",\"body\":\"Nothing synced since midnight.\","
   "\"topic_tags\":[\"Connector\"],\"sentiment\":\"Curious\",\"priority\":\"P0 (High)\"}\n"
   "{\"id\":\"EV-3\",\"subject\":\"Okta\",\"body\":\"SSO keeps failing for my team.\","
   "\"topic_tags\":[\"SSO\"],\"sentiment\":\"Frustrated\",\"priority\":\"P1 (Medium)\"}\n"
   "{\"id\":\"EV-4\",\"subject\":\"dbt setup\",\"body\":\"How do I connect dbt? "
   "[[fake 429 times=1 retry_after=1 EV-4]]\",\"topic_tags\":[\"How-to\",\"Connector\"],"
   "\"sentiment\":\"Angry\",\"priority\":\"P2 (Low)\"}\n"
   "{\"id\":\"EV-5\",\"subject\":\"Lineage\",\"body\":\"Where is column lineage? "
   "[[fake 400 times=0 EV-5]]\",\"topic_tags\":[\"Lineage\"],\"sentiment\":\"Neutral\","
   "\"priority\":\"P1 (Medium)\"}\n"
   "{\"id\":\"EV-6\",\"subject\":\"Docs\",\"body\":\"Is there a guide? [[fake 500 times=1 EV-6]]\","
   "\"topic_tags\":[\"How-to\"],\"sentiment\":\"Curious\",\"priority\":\"P2 (Low)\"}\n"
   "{\"id\":\"EV-7\",\"subject\":\"Glossary terms\",\"body\":\"Please write to "
   "jane.doe@example.com about glossary terms.\",\"topic_tags\":[\"Glossary\"],"
   "\"sentiment\":\"Curious\",\"priority\":\"P0 (High)\"}\n"
   "{\"id\":\"EV-8\",\"subject\":\"Connector\",\"body\":\"Fivetran connector question. "
   "[[fake badlabel times=1 EV-8]]\",\"topic_tags\":[\"Connector\"],\"sentiment\":\"Neutral\","
   "\"priority\":\"P1 (Medium)\"}\n";

static char path[256];
static tk_test_service_t fake; /* this test's fake LLM, while fake.pid */

static int
setup (void **state)
{
   (void) state;
   tk_ingest_fx_write_temp (".ndjson", labelled, strlen (labelled), path, sizeof path);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   unlink (path);
   return 0;
}

/* Stops the test's fake, whether the test passed or not. */
static int
stop_fake (void **state)
{
   (void) state;
   int rc = fake.pid ? tk_test_service_stop (&fake, SIGTERM, 5000) : 0;
   fake.pid = 0;
   return rc == 0 ? 0 : -1;
}

static double
num (const cJSON *o, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
   if (!cJSON_IsNumber (v)) {
      fail_msg ("no number \"%s\"", key);
   }
   return v->valuedouble;
}

static void
assert_near (double got, double want, const char *what)
{
   if (fabs (got - want) > 1e-9) {
      fail_msg ("%s: %.12g, expected %.12g", what, got, want);
   }
}

/* Index of label in the field's "labels". */
static int
label_index (const cJSON *field, const char *label)
{
   const cJSON *labels = cJSON_GetObjectItemCaseSensitive (field, "labels");
   for (int i = 0; i < cJSON_GetArraySize (labels); i++) {
      if (strcmp (cJSON_GetArrayItem (labels, i)->valuestring, label) == 0) {
         return i;
      }
   }
   fail_msg ("no label %s", label);
   return -1;
}

/* The count of gold label `gold` predicted `pred` (NULL: never answered). */
static double
confusion (const cJSON *field, const char *gold, const char *pred)
{
   int g = label_index (field, gold);
   if (!pred) {
      return cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (field, "no_answer"), g)->valuedouble;
   }
   const cJSON *row = cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (field, "confusion"), g);
   return cJSON_GetArrayItem (row, label_index (field, pred))->valuedouble;
}

/* Starts a fresh fake and runs triagectl eval for provider against it;
 * returns stdout. */
static char *
run_eval (const char *provider, bool json)
{
   assert_true (tk_test_service_start (&fake, "fake-llm", NULL, 10000));
   char url[128];
   snprintf (url, sizeof url, "%s/%s", fake.base_url,
             strcmp (provider, "gemini") == 0 ? "v1beta" : "v1");
   const char *argv[] = {"eval", "--provider", provider, "--llm-url", url, "--llm-model",
                         "fake-model", "--llm-api-key", "k-eval-test", "--concurrency", "3",
                         json ? "--json" : "--quiet", path, NULL};
   const char *env[] = {"TRIAGE_RETRY_BASE=20ms", "TRIAGE_RETRY_CAP=100ms",
                        "TRIAGE_RETRY_MAX_ATTEMPTS=4", NULL};
   char *out = NULL;
   assert_int_equal (tk_ingest_fx_triagectl (argv, env, &out), 0);
   return out;
}

static void
check_fields (const cJSON *j)
{
   const cJSON *s = cJSON_GetObjectItemCaseSensitive (j, "sentiment");
   const cJSON *p = cJSON_GetObjectItemCaseSensitive (j, "priority");
   const cJSON *t = cJSON_GetObjectItemCaseSensitive (j, "topic");
   assert_near (num (s, "accuracy"), 4.0 / 8, "sentiment accuracy");
   assert_near (num (p, "accuracy"), 3.0 / 8, "priority accuracy");
   assert_near (num (t, "exact_set_accuracy"), 2.0 / 8, "topic exact-set accuracy");
   /* Curious: P 4/7, R 1; every other sentiment F1 0. P1: P 3/7, R 3/4. */
   assert_near (num (s, "macro_f1"), (8.0 / 11) / 4, "sentiment macro-F1");
   assert_near (num (p, "macro_f1"), (18.0 / 33) / 3, "priority macro-F1");
   /* Tags: tp 4 + 3, fp 3 + 4, fn 3 (SSO, Lineage, Glossary). */
   assert_near (num (t, "micro_f1"), 2 * 0.5 * 0.7 / 1.2, "topic micro-F1");
   assert_near (num (t, "macro_f1"), (8.0 / 11 + 6.0 / 10) / 5, "topic macro-F1");
   assert_near (num (s, "mean_confidence"), 0.92, "sentiment mean confidence");
   assert_near (num (p, "mean_confidence"), 1.0, "priority mean confidence");
   assert_near (num (t, "mean_confidence"), 0.85, "topic mean confidence");
   /* One bin each: |accuracy of the answered - the stated confidence|. */
   assert_near (num (s, "ece"), 0.92 - 4.0 / 7, "sentiment ECE");
   assert_near (num (p, "ece"), 1.0 - 3.0 / 7, "priority ECE");
   assert_near (num (t, "ece"), 0.85 - 7.0 / 14, "topic ECE (chosen tags)");
   assert_string_equal (cJSON_GetObjectItemCaseSensitive (t, "ece_over")->valuestring, "chosen_tags");

   assert_near (confusion (s, "Curious", "Curious"), 4, "Curious -> Curious");
   assert_near (confusion (s, "Frustrated", "Curious"), 1, "Frustrated -> Curious");
   assert_near (confusion (s, "Angry", "Curious"), 1, "Angry -> Curious");
   assert_near (confusion (s, "Neutral", "Curious"), 1, "Neutral -> Curious");
   assert_near (confusion (s, "Neutral", NULL), 1, "Neutral never answered");
   assert_near (confusion (p, "P1 (Medium)", "P1 (Medium)"), 3, "P1 -> P1");
   assert_near (confusion (p, "P1 (Medium)", NULL), 1, "P1 never answered");
   assert_near (confusion (p, "P0 (High)", "P1 (Medium)"), 2, "P0 -> P1");
   assert_near (confusion (p, "P2 (Low)", "P1 (Medium)"), 2, "P2 -> P1");
   assert_near (confusion (p, "P0 (High)", "P0 (High)"), 0, "P0 -> P0");
}

/* Requests the fake received per ticket id; the last ones of EV-4 at
 * least a second apart (its Retry-After). */
static void
check_received (const char *auth, double requests)
{
   char url[160];
   snprintf (url, sizeof url, "%s/_fake/received", fake.base_url);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("GET", url, NULL, 0, NULL, &r));
   cJSON *j = cJSON_Parse (r.body);
   assert_non_null (j);
   assert_near (num (j, "count"), 11, "requests the fake received");
   assert_near (requests, 11, "requests the report counts");
   static const char *const ids[8] = {"EV-1", "EV-2", "EV-3", "EV-4", "EV-5", "EV-6", "EV-7", "EV-8"};
   static const int want[8] = {1, 1, 1, 2, 1, 2, 1, 2};
   int got[8] = {0};
   double ev4_at[2] = {0, 0};
   const cJSON *req;
   cJSON_ArrayForEach (req, cJSON_GetObjectItemCaseSensitive (j, "requests"))
   {
      const char *id = cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (req, "ids"), 0)->valuestring;
      const char *body = cJSON_GetObjectItemCaseSensitive (req, "body")->valuestring;
      assert_string_equal (cJSON_GetObjectItemCaseSensitive (req, "auth")->valuestring, auth);
      for (int k = 0; k < 8; k++) {
         if (strcmp (id, ids[k]) == 0 && got[k] < 2) {
            if (k == 3) {
               ev4_at[got[k]] = num (req, "at_ms");
            }
            got[k]++;
         }
      }
      if (strcmp (id, "EV-7") == 0) {
         /* Masked as the classifier masks what leaves the process. */
         assert_non_null (strstr (body, "[EMAIL]"));
         assert_null (strstr (body, "jane.doe@example.com"));
      }
   }
   for (int k = 0; k < 8; k++) {
      if (got[k] != want[k]) {
         fail_msg ("%s: %d requests, expected %d", ids[k], got[k], want[k]);
      }
   }
   if (ev4_at[1] - ev4_at[0] < 1000) {
      fail_msg ("EV-4 was sent again %.0f ms after its 429, before the Retry-After of 1 s",
                ev4_at[1] - ev4_at[0]);
   }
   cJSON_Delete (j);
   tk_test_http_free (&r);
}

static void
check_json_run (const char *provider, const char *auth)
{
   char *out = run_eval (provider, true);
   cJSON *j = cJSON_Parse (strchr (out, '{'));
   assert_non_null (j);
   assert_string_equal (cJSON_GetObjectItemCaseSensitive (j, "provider")->valuestring, provider);
   assert_string_equal (cJSON_GetObjectItemCaseSensitive (j, "model")->valuestring, "fake-model");
   assert_near (num (j, "examples"), 8, "examples");
   assert_near (num (j, "answered"), 7, "answered");
   assert_near (num (j, "failed"), 1, "failed");
   assert_near (num (cJSON_GetObjectItemCaseSensitive (j, "failures"), "http_4xx"), 1,
                "failures by 4xx");
   assert_near (num (j, "concurrency"), 3, "concurrency");
   check_fields (j);
   check_received (auth, num (j, "requests"));
   cJSON_Delete (j);
   free (out);
}

static void
test_openai (void **state)
{
   (void) state;
   check_json_run ("openai", "Bearer k-eval-test");
}

static void
test_gemini (void **state)
{
   (void) state;
   check_json_run ("gemini", "k-eval-test");
}

/* The text report says what was not answered, and shows it in the
 * confusion matrices. */
static void
test_text_report (void **state)
{
   (void) state;
   char *out = run_eval ("openai", false);
   assert_non_null (strstr (out, "provider openai, model fake-model, 8 examples: 7 answered, "
                                 "1 never answered; 11 requests, 3 tickets at a time"));
   assert_non_null (strstr (out, "never answered: 1 of 8 tickets (http_4xx 1)"));
   assert_non_null (strstr (out, "topic ECE over the chosen tags only"));
   assert_non_null (strstr (out, "(no answer)"));
   free (out);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown (test_openai, stop_fake),
      cmocka_unit_test_teardown (test_gemini, stop_fake),
      cmocka_unit_test_teardown (test_text_report, stop_fake),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
