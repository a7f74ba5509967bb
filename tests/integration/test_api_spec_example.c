/* The spec's six endpoints and its client line, written from the spec's own
 * example (issue 16): the processed ticket of the design contract
 * (TICKET-246, Connector + How-to, Curious, P1 (Medium), confidences 0.85 /
 * 0.92 / 0.78) is stored with POST /api/processed-tickets, read back by the
 * list and by id, counted by GET /api/processing-stats under the spec's
 * names exactly as `stats = client.get_processing_stats();
 * stats['total_processed']` reads them (every priority label present,
 * `stats['priority_distribution']['P0 (High)']` included), corrected with
 * PUT and deleted with DELETE. A real triage-api on the real stack; the
 * statistics are scanned per request (TRIAGE_API_CACHE_TTL=0) so each call
 * sees the writes before it. */
#include "test_support.h"

#include "api_fixture.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;

static tk_api_fx_resp_t
call (const char *method, const char *path, const char *body)
{
   return tk_api_fx_call (&fx.svc, method, path, ADMIN_KEY, body);
}

static int
setup (void **state)
{
   *state = &fx;
   const char *env[] = {"TRIAGE_API_CACHE_TTL=0", NULL};
   return tk_api_fx_setup (&fx, "triage_test_spec_example", NULL, ADMIN_KEY) &&
                tk_api_fx_start (&fx, &fx.svc, "api", env)
             ? 0
             : -1;
}

/* stats[key], and stats[dist][label], as the spec's client reads them. */
static double
stat_of (const cJSON *stats, const char *key)
{
   return tk_api_fx_num (stats, key);
}

static double
dist (const cJSON *stats, const char *which, const char *label)
{
   const cJSON *d = cJSON_GetObjectItemCaseSensitive (stats, which);
   assert_true (cJSON_IsObject (d));
   return tk_api_fx_num (d, label);
}

static void
assert_near (double got, double want)
{
   if (fabs (got - want) > 1e-9) {
      fail_msg ("%.12g != %.12g", got, want);
   }
}

static void
test_the_six_endpoints_and_the_client_line (void **state)
{
   (void) state;
   /* POST /api/processed-tickets: store a new processed ticket. */
   tk_api_fx_resp_t r = call (
      "POST", "/api/processed-tickets",
      "{\"id\":\"TICKET-246\",\"subject\":\"Snowflake connector fails after the upgrade\","
      "\"body\":\"How do we point the connector at the new warehouse?\","
      "\"created_at\":\"2025-09-13T06:38:47.513Z\","
      "\"classification\":{\"topic_tags\":[\"Connector\",\"How-to\"],\"sentiment\":\"Curious\","
      "\"priority\":\"P1 (Medium)\"},"
      "\"confidence_scores\":{\"topic\":0.85,\"sentiment\":0.92,\"priority\":0.78}}");
   assert_int_equal (r.status, 201);
   tk_api_fx_resp_free (&r);

   /* GET /api/processed-tickets: list processed tickets. */
   r = call ("GET", "/api/processed-tickets", NULL);
   assert_int_equal (r.status, 200);
   const cJSON *items = cJSON_GetObjectItemCaseSensitive (r.json, "items");
   assert_int_equal (cJSON_GetArraySize (items), 1);
   const cJSON *t = cJSON_GetArrayItem (items, 0);
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (t, "id")), "TICKET-246");
   assert_true (cJSON_IsTrue (cJSON_GetObjectItem (t, "processed")));
   tk_api_fx_resp_free (&r);

   /* GET /api/processed-tickets/{id}. */
   r = call ("GET", "/api/processed-tickets/TICKET-246", NULL);
   assert_int_equal (r.status, 200);
   const cJSON *c = cJSON_GetObjectItem (r.json, "classification");
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (c, "sentiment")), "Curious");
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (c, "priority")), "P1 (Medium)");
   assert_string_equal (
      cJSON_GetStringValue (cJSON_GetArrayItem (cJSON_GetObjectItem (c, "topic_tags"), 1)), "How-to");
   assert_near (tk_api_fx_num (cJSON_GetObjectItem (r.json, "confidence_scores"), "sentiment"), 0.92);
   assert_string_equal (cJSON_GetStringValue (cJSON_GetObjectItem (r.json, "created_at")),
                        "2025-09-13T06:38:47.513Z");
   tk_api_fx_resp_free (&r);

   /* GET /api/processing-stats: stats = client.get_processing_stats() */
   r = call ("GET", "/api/processing-stats", NULL);
   assert_int_equal (r.status, 200);
   const cJSON *stats = r.json;
   assert_near (stat_of (stats, "total_processed"), 1); /* stats['total_processed'] */
   assert_near (stat_of (stats, "total_tickets"), 1);
   assert_near (stat_of (stats, "total_unprocessed"), 0);
   assert_true (stat_of (stats, "processed_today") >= 0);
   assert_near (dist (stats, "priority_distribution", "P1 (Medium)"), 1);
   assert_near (dist (stats, "priority_distribution", "P0 (High)"), 0); /* present, zero */
   assert_near (dist (stats, "priority_distribution", "P2 (Low)"), 0);
   tk_api_fx_resp_free (&r);

   /* PUT /api/processed-tickets/{id}: update (a correction by hand). */
   r = call ("PUT", "/api/processed-tickets/TICKET-246",
             "{\"classification\":{\"topic_tags\":[\"Connector\"],\"sentiment\":\"Frustrated\","
             "\"priority\":\"P0 (High)\"},\"note\":\"the customer is blocked\"}");
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processing-stats", NULL);
   assert_near (dist (r.json, "priority_distribution", "P0 (High)"), 1);
   assert_near (dist (r.json, "priority_distribution", "P1 (Medium)"), 0);
   assert_near (dist (r.json, "sentiment_distribution", "Frustrated"), 1);
   tk_api_fx_resp_free (&r);

   /* DELETE /api/processed-tickets/{id}. */
   r = call ("DELETE", "/api/processed-tickets/TICKET-246", NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processed-tickets/TICKET-246", NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processing-stats", NULL);
   assert_near (stat_of (r.json, "total_tickets"), 0);
   assert_near (stat_of (r.json, "total_processed"), 0);
   tk_api_fx_resp_free (&r);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_the_six_endpoints_and_the_client_line),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
