/* The contract, fuzzed (issue 16): schemathesis, the schema-driven API
 * fuzzer (PyPI, pinned in deploy/local/env.sh and installed by
 * deploy/local/bootstrap into the cache's venv-contract), runs every
 * operation of the OpenAPI description served by a real triage-api (with a
 * real triage-ingest behind its uploads, the real broker and the real
 * MongoDB-protocol server) with an admin key, every check and a fixed seed:
 * server errors, status codes, content types, response schemas and headers,
 * schema-valid requests accepted and schema-invalid ones refused, missing
 * auth refused, Allow on undeclared methods, and the stateful links between
 * operations. Settings and the one documented exception:
 * tests/contract/schemathesis.toml. The run must end with no failure. */
#include "test_support.h"

#include "api_fixture.h"
#include "kafka_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

/* Fixed, so a failure replays: schemathesis prints the seed and each
 * failing case's curl line. */
#define SEED "20261203"
#define MAX_EXAMPLES "20"

static tk_api_fx_t fx;
static tk_test_service_t ingest;
static tk_test_topics_t topics;

static int
setup (void **state)
{
   *state = &fx;
   if (!tk_api_fx_setup (&fx, "triage_test_contract", NULL, ADMIN_KEY) ||
       !tk_test_topics_create (&topics, "test.contract", 2)) {
      return -1;
   }
   const char *ingest_env[] = {topics.env[TK_TEST_TOPIC_INBOUND], topics.env[TK_TEST_TOPIC_CLASSIFY],
                               topics.env[TK_TEST_TOPIC_DLQ], "TRIAGE_INGEST_CONSUME=false",
                               "TRIAGE_AUTO_CLASSIFY=false", NULL};
   if (!tk_api_fx_start (&fx, &ingest, "ingest", ingest_env)) {
      return -1;
   }
   static char ingest_url[160];
   snprintf (ingest_url, sizeof ingest_url, "TRIAGE_INGEST_URL=%s", ingest.base_url);
   const char *api_env[] = {ingest_url, topics.env[TK_TEST_TOPIC_CLASSIFY],
                            topics.env[TK_TEST_TOPIC_CLASSIFIED], topics.env[TK_TEST_TOPIC_DLQ],
                            NULL};
   return tk_api_fx_start (&fx, &fx.svc, "api", api_env) ? 0 : -1;
}

static int
teardown (void **state)
{
   int rc = tk_api_fx_stop (&ingest) == 0 ? 0 : -1;
   tk_test_topics_delete (&topics);
   return tk_api_fx_teardown (*state) == 0 ? rc : -1;
}

static void
test_every_operation_passes_every_check (void **state)
{
   (void) state;
   char cmd[4096];
   snprintf (cmd, sizeof cmd,
             "'%s/venv-contract/bin/schemathesis' --config-file '%s/tests/contract/schemathesis.toml' "
             "run '%s/api/openapi.json' --header 'Authorization: Bearer %s' --seed " SEED
             " --max-examples " MAX_EXAMPLES " --workers 1 --no-color 2>&1",
             TRIAGE_CACHE_DIR, TRIAGE_SOURCE_DIR, fx.svc.base_url, ADMIN_KEY);
   FILE *p = popen (cmd, "r");
   assert_non_null (p);
   char line[4096];
   bool summary = false;
   while (fgets (line, sizeof line, p)) {
      fputs (line, stderr); /* the whole report lands in the test's log */
      summary |= strstr (line, " generated,") != NULL;
   }
   int status = pclose (p);
   assert_true (summary); /* it ran, and said what it found */
   if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
      fail_msg ("schemathesis found failures (exit %d): the report is above",
                WIFEXITED (status) ? WEXITSTATUS (status) : -1);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_every_operation_passes_every_check),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
