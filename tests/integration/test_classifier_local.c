/* The classifier with its default provider, the built-in model: real Kafka,
 * the real MongoDB-protocol server, the real triage-classifier binary, no
 * network LLM at all. Each test inserts tickets with the store,
 * produces classification requests to this run's own classify topic, and
 * checks what a user would: the stored documents, the classified and DLQ
 * topics, and what the LLM was sent. */
#include "test_classifier_harness.h"

#define WAIT_MS 90000

static tk_test_service_t svc;

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_cls_local", 3);
   const char *env[] = {H_GROUP_ENV, NULL};
   h_start_classifier (&svc, env);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   return h_teardown_group (&svc, NULL);
}

/* ---- helpers ------------------------------------------------------------- */

static void
assert_valid_classification (const tk_ticket_t *t)
{
   h_assert_classified (t);
   assert_memory_equal (t->metadata.model_version, "local-", 6); /* any mode */
}

/* ---- tests --------------------------------------------------------------- */

static void
test_local_model_classifies (void **state)
{
   (void) state;
   static const char *const texts[][2] = {
      {"SSO login loop", "Okta SAML login keeps redirecting back to the login page. Urgent, "
                         "nobody on the team can log in!"},
      {"How to add a glossary term", "Where do I create a glossary term and link it to a "
                                     "column? Thanks."},
      {"API pagination", "The REST API returns the same page twice when I pass the cursor. "
                         "Using the Python SDK."},
      {"Snowflake connector fails", "The Snowflake crawler fails with an authentication "
                                    "error since yesterday."},
      {"Lineage missing", "Lineage is not showing for our dbt models, what am I doing wrong?"},
   };
   enum { N = 20 };
   char id[N][32];
   for (int i = 0; i < N; i++) {
      snprintf (id[i], sizeof id[i], "LOCAL-%d", i);
      h_insert (id[i], texts[i % 5][0], texts[i % 5][1]);
      h_request (id[i], "ingest");
   }
   for (int i = 0; i < N; i++) {
      tk_ticket_t *t = h_wait_outcome (&svc, id[i], false, WAIT_MS);
      assert_valid_classification (t);
      tk_ticket_destroy (t);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_local_model_classifies),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
