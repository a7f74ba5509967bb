/* The needs_review flag through the api (issue 13): GET /api/tickets and
 * /api/processed-tickets filter on it (needs_review=true lists exactly the
 * flagged tickets, false the others, including unprocessed ones and
 * tickets stored before the flag existed); a processed ticket a client
 * POSTs is judged by TRIAGE_REVIEW_BELOW like the classifier's answers; a
 * malformed value is a 400. Real api, real MongoDB-protocol server. */
#include "api_fixture.h"
#include "test_support.h"

#include "store.h"
#include "timeutil.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;

/* Stores a classification with the flag given (as the classifier does). */
static void
classify (const char *id, bool needs_review, double priority_conf)
{
   tk_classification_t c = {{(char *) "SSO"}, 1, (char *) "Curious", (char *) "P1 (Medium)"};
   tk_confidence_t cf = {0.9, 0.9, priority_conf};
   tk_processing_metadata_t m = {tk_time_now_ms (), (char *) "m-1", 10, (char *) "1.0",
                                 needs_review, 0};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (fx.store, id, &c, &cf, &m, &err));
}

static int
setup (void **state)
{
   *state = &fx;
   if (!tk_api_fx_setup (&fx, "triage_test_api_review", NULL, ADMIN_KEY)) {
      return -1;
   }
   int64_t now = tk_time_now_ms ();
   const char *ids[] = {"R1", "R2", "R3", "R4", "R5"};
   for (int i = 0; i < 5; i++) {
      tk_api_fx_seed (&fx, ids[i], "subject", "body", now - (5 - i) * 60000);
   }
   classify ("R1", true, 0.3);
   classify ("R2", false, 0.9);
   classify ("R3", true, 0.2);
   /* R4: processed before the flag existed (no needs_review field). */
   classify ("R4", false, 0.9);
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_t *filter = BCON_NEW ("id", BCON_UTF8 ("R4"));
   bson_t *unset = BCON_NEW ("$unset", "{", "needs_review", BCON_UTF8 (""), "}");
   bson_error_t e;
   assert_true (mongoc_collection_update_one (coll, filter, unset, NULL, NULL, &e));
   bson_destroy (filter);
   bson_destroy (unset);
   tk_api_fx_collection_release (&fx, coll);
   /* R5 stays unprocessed. */
   const char *env[] = {"TRIAGE_REVIEW_BELOW=priority=0.5", NULL};
   return tk_api_fx_start (&fx, &fx.svc, "api", env) ? 0 : -1;
}

/* The ids a listing answered, in order, comma-separated. */
static void
ids_of (const char *path, char *out, size_t cap)
{
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "GET", path, ADMIN_KEY, NULL);
   if (r.status != 200) {
      fail_msg ("GET %s: %ld %s", path, r.status, r.body);
   }
   out[0] = '\0';
   const cJSON *items = cJSON_GetObjectItemCaseSensitive (r.json, "tickets");
   if (!items) {
      items = cJSON_GetObjectItemCaseSensitive (r.json, "items");
   }
   assert_non_null (items);
   const cJSON *t;
   cJSON_ArrayForEach (t, items)
   {
      size_t n = strlen (out);
      snprintf (out + n, cap - n, "%s%s", n ? "," : "", tk_api_fx_str (t, "id"));
   }
   tk_api_fx_resp_free (&r);
}

static void
test_filter_lists_exactly_the_flagged (void **state)
{
   (void) state;
   char ids[256];
   ids_of ("/api/tickets?needs_review=true", ids, sizeof ids);
   assert_string_equal (ids, "R3,R1");
   ids_of ("/api/tickets?needs_review=false", ids, sizeof ids);
   assert_string_equal (ids, "R5,R4,R2");
   ids_of ("/api/tickets?needs_review=true&status=processed&priority=P1%20(Medium)", ids,
           sizeof ids);
   assert_string_equal (ids, "R3,R1");
   ids_of ("/api/processed-tickets?needs_review=true", ids, sizeof ids);
   assert_string_equal (ids, "R3,R1");
}

static void
test_flag_is_in_the_ticket (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "GET", "/api/processed-tickets/R1", ADMIN_KEY,
                                        NULL);
   assert_int_equal (r.status, 200);
   const cJSON *flag = cJSON_GetObjectItemCaseSensitive (r.json, "needs_review");
   assert_true (cJSON_IsTrue (flag));
   tk_api_fx_resp_free (&r);
}

static void
test_posted_classification_is_judged (void **state)
{
   (void) state;
   static const char low[] =
      "{\"id\":\"R6\",\"subject\":\"s\",\"body\":\"b\",\"classification\":{\"topic_tags\":"
      "[\"SSO\"],\"sentiment\":\"Neutral\",\"priority\":\"P2 (Low)\"},\"confidence_scores\":"
      "{\"topic\":0.9,\"sentiment\":0.9,\"priority\":0.4}}";
   static const char high[] =
      "{\"id\":\"R7\",\"subject\":\"s\",\"body\":\"b\",\"classification\":{\"topic_tags\":"
      "[\"SSO\"],\"sentiment\":\"Neutral\",\"priority\":\"P2 (Low)\"},\"confidence_scores\":"
      "{\"topic\":0.1,\"sentiment\":0.1,\"priority\":0.6}}";
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "POST", "/api/processed-tickets", ADMIN_KEY, low);
   assert_int_equal (r.status, 201);
   assert_true (cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (r.json, "needs_review")));
   tk_api_fx_resp_free (&r);
   /* Only priority has a threshold (priority=0.5): low topic and sentiment
    * do not flag. */
   r = tk_api_fx_call (&fx.svc, "POST", "/api/processed-tickets", ADMIN_KEY, high);
   assert_int_equal (r.status, 201);
   assert_true (cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (r.json, "needs_review")));
   tk_api_fx_resp_free (&r);
   char ids[256];
   ids_of ("/api/tickets?needs_review=true", ids, sizeof ids);
   assert_non_null (strstr (ids, "R6"));
   assert_null (strstr (ids, "R7"));
}

/* A person's correction takes the ticket out of the review queue; the
 * corrected filter lists it; the ticket names who corrected it (the key's
 * name beside its id), in its metadata and its history. */
static void
test_correction_leaves_the_queue (void **state)
{
   (void) state;
   char lead[128], ids[256];
   tk_api_fx_make_key (&fx, "admin", "Dana (support lead)", lead, sizeof lead);
   static const char body[] =
      "{\"classification\":{\"topic_tags\":[\"SSO\"],\"sentiment\":\"Angry\","
      "\"priority\":\"P0 (High)\"},\"note\":\"customer is blocked\"}";
   tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "PUT", "/api/processed-tickets/R3", lead, body);
   assert_int_equal (r.status, 200);
   assert_true (cJSON_IsFalse (cJSON_GetObjectItemCaseSensitive (r.json, "needs_review")));
   const cJSON *meta = cJSON_GetObjectItemCaseSensitive (r.json, "processing_metadata");
   assert_string_equal (tk_api_fx_str (meta, "corrected_by_name"), "Dana (support lead)");
   const cJSON *last = cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (r.json, "corrections"), 0);
   assert_string_equal (tk_api_fx_str (last, "by_name"), "Dana (support lead)");
   assert_string_equal (tk_api_fx_str (last, "note"), "customer is blocked");
   tk_api_fx_resp_free (&r);
   ids_of ("/api/tickets?needs_review=true&status=processed", ids, sizeof ids);
   assert_null (strstr (ids, "R3"));
   assert_non_null (strstr (ids, "R1"));
   ids_of ("/api/tickets?corrected=true", ids, sizeof ids);
   assert_string_equal (ids, "R3");
   ids_of ("/api/tickets?corrected=false&needs_review=true&status=processed", ids, sizeof ids);
   assert_null (strstr (ids, "R3"));
   r = tk_api_fx_call (&fx.svc, "GET", "/api/tickets?corrected=maybe", ADMIN_KEY, NULL);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
}

static void
test_bad_value_is_refused (void **state)
{
   (void) state;
   const char *bad[] = {"/api/tickets?needs_review=yes", "/api/tickets?needs_review=",
                        "/api/tickets?needs_review=true&needs_review=false"};
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      tk_api_fx_resp_t r = tk_api_fx_call (&fx.svc, "GET", bad[i], ADMIN_KEY, NULL);
      if (r.status != 400) {
         fail_msg ("GET %s: %ld", bad[i], r.status);
      }
      assert_non_null (strstr (r.body, "needs_review"));
      tk_api_fx_resp_free (&r);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_filter_lists_exactly_the_flagged),
      cmocka_unit_test (test_flag_is_in_the_ticket),
      cmocka_unit_test (test_posted_classification_is_judged),
      cmocka_unit_test (test_bad_value_is_refused),
      cmocka_unit_test (test_correction_leaves_the_queue),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
