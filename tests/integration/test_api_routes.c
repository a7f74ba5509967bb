/* triage-api as a client sees it, on the real stack: a triage-api child
 * process on its own database and its own classify topic, tickets seeded
 * straight into the store, and every answer checked over HTTP. */
#include "test_support.h"

#include "api_fixture.h"
#include "kafka.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;
static const char *const viewer_key = fx.viewer_key, *const operator_key = fx.operator_key;

/* ---- helpers ------------------------------------------------------------ */

static tk_api_fx_resp_t
call (const char *method, const char *path, const char *key, const char *body,
      const char *content_type)
{
   return tk_api_fx_request (&fx.svc, method, path, key, body, body ? strlen (body) : 0,
                             content_type);
}

static const char *
err_code (const tk_api_fx_resp_t *r)
{
   cJSON *e = cJSON_GetObjectItem (r->json, "error");
   cJSON *c = cJSON_GetObjectItem (e, "code");
   return cJSON_IsString (c) ? c->valuestring : "";
}

static const char *
err_field (const tk_api_fx_resp_t *r)
{
   cJSON *e = cJSON_GetObjectItem (r->json, "error");
   cJSON *c = cJSON_GetObjectItem (e, "field");
   return cJSON_IsString (c) ? c->valuestring : "";
}

/* The ids of a listing, comma-joined, in order. */
static void
ids_of (const tk_api_fx_resp_t *r, char *buf, size_t cap)
{
   buf[0] = '\0';
   cJSON *items = cJSON_GetObjectItem (r->json, "items");
   cJSON *it;
   assert_true (cJSON_IsArray (items));
   cJSON_ArrayForEach (it, items)
   {
      size_t len = strlen (buf);
      snprintf (buf + len, cap - len, "%s%s", len ? "," : "",
                cJSON_GetObjectItem (it, "id")->valuestring);
   }
}

/* GET path as key; asserts 200 and returns the ids listed. */
static void
list_ids (const char *path, const char *key, char *buf, size_t cap)
{
   tk_api_fx_resp_t r = call ("GET", path, key, NULL, NULL);
   if (r.status != 200) {
      fprintf (stderr, "GET %s -> %ld %s\n", path, r.status, r.body);
   }
   assert_int_equal (r.status, 200);
   ids_of (&r, buf, cap);
   tk_api_fx_resp_free (&r);
}

static int64_t base_ms; /* 2025-01-10T00:00:00Z */

/* ---- setup -------------------------------------------------------------- */

static int
setup (void **state)
{
   *state = &fx;
   tk_error_t err;
   if (!tk_api_fx_setup (&fx, "triage_test_api", "test.api.classify", ADMIN_KEY)) {
      return -1;
   }
   tk_time_parse_iso ("2025-01-10", 10, &base_ms);
   const int64_t day = 86400000;
   /* Ten tickets, one a day. */
   tk_api_fx_seed (&fx, "T-01", "SSO login fails", "Okta says invalid assertion",
                   base_ms + 0 * day);
   tk_api_fx_seed (&fx, "T-02", "How to connect Snowflake?", "Need the connector steps",
                   base_ms + 1 * day);
   tk_api_fx_seed (&fx, "T-03", "Lineage missing", "The graph is empty (a+b)*c", base_ms + 2 * day);
   tk_api_fx_seed (&fx, "T-04", "API rate limit", "429 from the SDK", base_ms + 3 * day);
   tk_api_fx_seed (&fx, "T-05", "Glossary terms", "Where do terms live?", base_ms + 4 * day);
   tk_api_fx_seed (&fx, "T-06", "PII tagging", "Sensitive columns", base_ms + 5 * day);
   tk_api_fx_seed (&fx, "T-07", "Thanks", "All good now", base_ms + 6 * day);
   tk_api_fx_seed (&fx, "T-08", "Product question", "Dark mode?", base_ms + 7 * day);
   tk_api_fx_seed (&fx, "T-09", "dir/with/slash", "id has slashes", base_ms + 8 * day);
   tk_api_fx_seed (&fx, "a/b", "slash id", "an id with a slash", base_ms + 9 * day);
   tk_api_fx_classify (&fx, "T-01", "SSO", NULL, "Angry", "P0 (High)", 0.95, 0.95, 0.95, 120,
                       "test-model", base_ms + 0 * day + 1000);
   tk_api_fx_classify (&fx, "T-02", "Connector", NULL, "Curious", "P1 (Medium)", 0.40, 0.40, 0.40,
                       120, "test-model", base_ms + 1 * day + 1000);
   tk_api_fx_classify (&fx, "T-03", "Lineage", NULL, "Frustrated", "P0 (High)", 0.85, 0.85, 0.85,
                       120, "test-model", base_ms + 2 * day + 1000);
   tk_api_fx_classify (&fx, "T-04", "API/SDK", NULL, "Neutral", "P2 (Low)", 0.30, 0.30, 0.30, 120,
                       "test-model", base_ms + 3 * day + 1000);
   assert_true (tk_store_record_failure (fx.store, "T-05", "llm timed out", &err));

   const char *env[] = {"TRIAGE_HTTP_MAX_BODY=256KB", "TRIAGE_API_CACHE_TTL=0", NULL};
   if (!tk_api_fx_start (&fx, &fx.svc, "api", env)) {
      return -1;
   }
   /* Keys for the other roles, made through the API. */
   tk_api_fx_make_key (&fx, "viewer", "v", fx.viewer_key, sizeof fx.viewer_key);
   tk_api_fx_make_key (&fx, "operator", NULL, fx.operator_key, sizeof fx.operator_key);
   return 0;
}

/* ---- tests -------------------------------------------------------------- */

static void
test_each_filter_alone_and_combined (void **state)
{
   (void) state;
   char ids[4096];
   const char *K = viewer_key;
   list_ids ("/api/tickets?sort=created_at&limit=3", K, ids, sizeof ids);
   assert_string_equal (ids, "T-01,T-02,T-03");
   list_ids ("/api/tickets?status=processed&sort=created_at", K, ids, sizeof ids);
   assert_string_equal (ids, "T-01,T-02,T-03,T-04");
   list_ids ("/api/tickets?status=failed", K, ids, sizeof ids);
   assert_string_equal (ids, "T-05");
   list_ids ("/api/tickets?status=unprocessed&created_to=2025-01-17", K, ids, sizeof ids);
   assert_string_equal (ids, "T-07,T-06,T-05");
   list_ids ("/api/tickets?priority=P0%20(High)&sort=created_at", K, ids, sizeof ids);
   assert_string_equal (ids, "T-01,T-03");
   /* Multi-valued: repeated and comma-separated, case-insensitive. */
   list_ids ("/api/tickets?priority=p2%20(low)&priority=P1%20(Medium)&sort=created_at", K, ids,
             sizeof ids);
   assert_string_equal (ids, "T-02,T-04");
   list_ids ("/api/tickets?sentiment=Angry,Neutral&sort=created_at", K, ids, sizeof ids);
   assert_string_equal (ids, "T-01,T-04");
   list_ids ("/api/tickets?topic=Lineage", K, ids, sizeof ids);
   assert_string_equal (ids, "T-03");
   list_ids ("/api/tickets?created_from=2025-01-11&created_to=2025-01-13&sort=created_at", K,
             ids, sizeof ids);
   assert_string_equal (ids, "T-02,T-03");
   list_ids ("/api/tickets?processed_from=2025-01-12&sort=-processed_at", K, ids, sizeof ids);
   assert_string_equal (ids, "T-04,T-03");
   list_ids ("/api/tickets?confidence_below=0.5&sort=created_at", K, ids, sizeof ids);
   assert_string_equal (ids, "T-02,T-04");
   /* Text across id, subject, body and labels, case-insensitive. */
   list_ids ("/api/tickets?q=okta", K, ids, sizeof ids);
   assert_string_equal (ids, "T-01");
   list_ids ("/api/tickets?q=t-08", K, ids, sizeof ids);
   assert_string_equal (ids, "T-08");
   list_ids ("/api/tickets?q=connector&sort=created_at", K, ids, sizeof ids);
   assert_string_equal (ids, "T-02");
   /* Regex metacharacters are literal. */
   list_ids ("/api/tickets?q=(a%2Bb)*c", K, ids, sizeof ids);
   assert_string_equal (ids, "T-03");
   list_ids ("/api/tickets?q=.*", K, ids, sizeof ids);
   assert_string_equal (ids, "");
   list_ids ("/api/tickets?q=%5E", K, ids, sizeof ids);
   assert_string_equal (ids, "");
   /* Combined. */
   list_ids ("/api/tickets?status=processed&priority=P0%20(High)&confidence_below=0.9"
             "&created_from=2025-01-11",
             K, ids, sizeof ids);
   assert_string_equal (ids, "T-03");
   list_ids ("/api/tickets?status=processed,failed&q=e&sort=created_at&limit=2", K, ids,
             sizeof ids);
   assert_string_equal (ids, "T-01,T-02");
}

static void
test_pagination_is_stable_across_inserts (void **state)
{
   (void) state;
   char ids[4096], path[512];
   tk_api_fx_resp_t r = call ("GET", "/api/tickets?limit=4", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   ids_of (&r, ids, sizeof ids);
   assert_string_equal (ids, "a/b,T-09,T-08,T-07");
   cJSON *next = cJSON_GetObjectItem (r.json, "next_cursor");
   assert_true (cJSON_IsString (next));
   snprintf (path, sizeof path, "/api/tickets?limit=4&cursor=%s", next->valuestring);
   tk_api_fx_resp_free (&r);
   /* New tickets arrive between pages: newer, and one with the same
    * created_at as the last ticket served. */
   tk_api_fx_seed (&fx, "T-NEW", "new one", "fresh", tk_time_now_ms ());
   tk_api_fx_seed (&fx, "T-069", "same time", "ties with T-07", base_ms + 6 * 86400000LL);
   r = call ("GET", path, viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   ids_of (&r, ids, sizeof ids);
   assert_string_equal (ids, "T-069,T-06,T-05,T-04");
   next = cJSON_GetObjectItem (r.json, "next_cursor");
   snprintf (path, sizeof path, "/api/tickets?limit=4&cursor=%s", next->valuestring);
   tk_api_fx_resp_free (&r);
   list_ids (path, viewer_key, ids, sizeof ids);
   assert_string_equal (ids, "T-03,T-02,T-01");
   /* A cursor of another sort order, or garbage, is a 400. */
   snprintf (path, sizeof path, "/api/tickets?sort=created_at&cursor=c1.4142");
   r = call ("GET", path, viewer_key, NULL, NULL);
   assert_int_equal (r.status, 400);
   assert_string_equal (err_field (&r), "cursor");
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/tickets?cursor=%7B%22%24gt%22%3A%22%22%7D", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   /* Leave the fixture as it was for the other tests. */
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_t *f = BCON_NEW ("id", "{", "$in", "[", "T-NEW", "T-069", "]", "}");
   assert_true (mongoc_collection_delete_many (coll, f, NULL, NULL, NULL));
   bson_destroy (f);
   tk_api_fx_collection_release (&fx, coll);
}

static void
test_roles_allowed_and_refused (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = call ("GET", "/api/tickets", NULL, NULL, NULL);
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/tickets", "wrong-key", NULL, NULL);
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processing-stats", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   /* viewer cannot process, correct, delete, or read the audit log */
   r = call ("POST", "/api/process", viewer_key, "{\"mode\":\"unprocessed\"}", "application/json");
   assert_int_equal (r.status, 403);
   assert_string_equal (err_code (&r), "forbidden");
   tk_api_fx_resp_free (&r);
   r = call ("DELETE", "/api/processed-tickets/T-01", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/audit", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   /* operator cannot correct or delete or manage keys */
   r = call ("PUT", "/api/processed-tickets/T-01", operator_key,
             "{\"classification\":{\"topic_tags\":[\"SSO\"],\"sentiment\":\"Angry\","
             "\"priority\":\"P1 (Medium)\"}}",
             "application/json");
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/keys", operator_key, "{\"role\":\"admin\"}", "application/json");
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   /* the data is untouched */
   r = call ("GET", "/api/processed-tickets/T-01", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_string_equal (
      cJSON_GetObjectItem (cJSON_GetObjectItem (r.json, "classification"), "priority")->valuestring,
      "P0 (High)");
   tk_api_fx_resp_free (&r);
   /* a revoked key stops working */
   r = call ("POST", "/api/keys", ADMIN_KEY, "{\"role\":\"viewer\"}", "application/json");
   char key[128], path[128];
   snprintf (key, sizeof key, "%s", cJSON_GetObjectItem (r.json, "key")->valuestring);
   snprintf (path, sizeof path, "/api/keys/%s", cJSON_GetObjectItem (r.json, "id")->valuestring);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/tickets?limit=1", key, NULL, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   r = call ("DELETE", path, ADMIN_KEY, NULL, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/tickets?limit=1", key, NULL, NULL);
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
   /* the key list never shows hashes */
   r = call ("GET", "/api/keys", ADMIN_KEY, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_null (strstr (r.body, "\"hash\""));
   assert_null (strstr (r.body, viewer_key));
   tk_api_fx_resp_free (&r);
}

static void
test_processed_tickets_crud_and_audit (void **state)
{
   (void) state;
   const char *body =
      "{\"id\":\"P-1\",\"subject\":\"Need SSO\",\"body\":\"SAML setup\","
      "\"classification\":{\"topic_tags\":[\"sso\",\"How-to\"],\"sentiment\":\"curious\","
      "\"priority\":\"P2 (Low)\"},\"confidence_scores\":{\"topic\":0.7,\"sentiment\":0.8,"
      "\"priority\":0.9}}";
   tk_api_fx_resp_t r = call ("POST", "/api/processed-tickets", operator_key, body,
                              "application/json");
   assert_int_equal (r.status, 201);
   assert_string_equal (
      cJSON_GetObjectItem (cJSON_GetObjectItem (r.json, "classification"),
                           "sentiment")->valuestring,
      "Curious");
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/processed-tickets", operator_key, body, "application/json");
   assert_int_equal (r.status, 409);
   tk_api_fx_resp_free (&r);
   /* a label outside the taxonomy is refused, naming the field */
   r = call ("POST", "/api/processed-tickets", operator_key,
             "{\"id\":\"P-2\",\"subject\":\"s\",\"body\":\"b\",\"classification\":{\"topic_tags\":"
             "[\"SSO\"],\"sentiment\":\"Happy\",\"priority\":\"P2 (Low)\"},\"confidence_scores\":"
             "{\"topic\":1,\"sentiment\":1,\"priority\":1}}",
             "application/json");
   assert_int_equal (r.status, 400);
   assert_string_equal (err_field (&r), "classification.sentiment");
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processed-tickets/P-2", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);
   /* an unprocessed ticket is not a processed one */
   r = call ("GET", "/api/processed-tickets/T-06", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);

   /* correction records who and when, and keeps the history */
   r = call ("PUT", "/api/processed-tickets/P-1", ADMIN_KEY,
             "{\"classification\":{\"topic_tags\":[\"Product\"],\"sentiment\":\"Neutral\","
             "\"priority\":\"P0 (High)\"},\"note\":\"misrouted\"}",
             "application/json");
   assert_int_equal (r.status, 200);
   cJSON *meta = cJSON_GetObjectItem (r.json, "processing_metadata");
   assert_string_equal (cJSON_GetObjectItem (meta, "corrected_by")->valuestring, "bootstrap");
   assert_true (cJSON_IsString (cJSON_GetObjectItem (meta, "corrected_at")));
   cJSON *corr = cJSON_GetObjectItem (r.json, "corrections");
   assert_int_equal (cJSON_GetArraySize (corr), 1);
   cJSON *prev = cJSON_GetObjectItem (cJSON_GetArrayItem (corr, 0), "previous");
   assert_string_equal (cJSON_GetObjectItem (prev, "priority")->valuestring, "P2 (Low)");
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processed-tickets?priority=P0%20(High)&q=saml", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "count"), 1);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processed-tickets?status=unprocessed", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);

   r = call ("DELETE", "/api/processed-tickets/P-1", ADMIN_KEY, NULL, NULL);
   assert_int_equal (r.status, 200);
   tk_api_fx_resp_free (&r);
   r = call ("DELETE", "/api/processed-tickets/P-1", ADMIN_KEY, NULL, NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);

   /* audit: the reads and writes above, with key and status */
   r = call ("GET", "/api/audit?limit=1000", ADMIN_KEY, NULL, NULL);
   assert_int_equal (r.status, 200);
   bool saw_create = false, saw_refused_delete = false, saw_correct = false, saw_read = false;
   cJSON *it;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (r.json, "items"))
   {
      const char *action = cJSON_GetObjectItem (it, "action")->valuestring;
      int status = (int) tk_api_fx_num (it, "status");
      const char *role = cJSON_GetObjectItem (it, "role")->valuestring;
      saw_create |= !strcmp (action,
                             "processed.create") && status == 201 && !strcmp (role, "operator");
      /* Refused by the listener's key check, before the route ran. */
      saw_refused_delete |= !strcmp (action, "auth.forbidden") && status == 403 &&
                            !strcmp (cJSON_GetObjectItem (it, "route")->valuestring,
                                     "/api/processed-tickets/{id}");
      saw_correct |= !strcmp (action, "processed.correct") && status == 200 &&
                     !strcmp (cJSON_GetObjectItem (it, "key_id")->valuestring, "bootstrap");
      saw_read |= !strcmp (action, "tickets.list") && !strcmp (role, "viewer");
   }
   assert_true (saw_create);
   assert_true (saw_refused_delete);
   assert_true (saw_correct);
   assert_true (saw_read);
   tk_api_fx_resp_free (&r);
}

static void
test_processing_stats (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = call ("GET", "/api/processing-stats", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total_tickets"), 10);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total_processed"), 4);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total_unprocessed"), 6);
   assert_int_equal ((int) tk_api_fx_num (r.json, "failed"), 1);
   cJSON *prio = cJSON_GetObjectItem (r.json, "priority_distribution");
   assert_int_equal ((int) tk_api_fx_num (prio, "P0 (High)"), 2);
   cJSON *sent = cJSON_GetObjectItem (r.json, "sentiment_distribution");
   assert_int_equal ((int) tk_api_fx_num (sent, "Angry"), 1);
   cJSON *topics = cJSON_GetObjectItem (r.json, "topic_distribution");
   assert_int_equal ((int) tk_api_fx_num (topics, "Lineage"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "average_processing_time_ms"), 120);
   cJSON *conf = cJSON_GetObjectItem (r.json, "average_confidence");
   assert_true (tk_api_fx_num (conf, "topic") > 0.6249 && tk_api_fx_num (conf, "topic") < 0.6251);
   tk_api_fx_resp_free (&r);
}

/* ---- processing requests on the classify topic ------------------------- */

typedef struct {
   char seen[64][64];
   size_t n;
   bool done;
   size_t want;
} consumed_t;

static void
on_messages (tk_kafka_consumer_t *c, const tk_kafka_message_t *msgs, size_t n, void *opaque)
{
   consumed_t *st = opaque;
   (void) c;
   for (size_t i = 0; i < n; i++) {
      cJSON *m = cJSON_ParseWithLength (msgs[i].payload, msgs[i].len);
      cJSON *id = cJSON_GetObjectItem (m, "id");
      cJSON *reason = cJSON_GetObjectItem (m, "reason");
      assert_true (cJSON_IsString (id) && cJSON_IsString (reason));
      assert_true (cJSON_IsString (cJSON_GetObjectItem (m, "requested_at")));
      if (st->n < 64) {
         snprintf (st->seen[st->n++], 64, "%s:%s", id->valuestring, reason->valuestring);
      }
      cJSON_Delete (m);
   }
   st->done = st->n >= st->want;
}

static bool
seen (const consumed_t *st, const char *what)
{
   for (size_t i = 0; i < st->n; i++) {
      if (!strcmp (st->seen[i], what)) {
         return true;
      }
   }
   return false;
}

static void
closed_cb (void *opaque)
{
   *(bool *) opaque = true;
}

static void
test_process_requests_reach_the_topic (void **state)
{
   (void) state;
   /* ids mode, one unknown id */
   tk_api_fx_resp_t r = call ("POST", "/api/process", operator_key,
                    "{\"mode\":\"ids\",\"ids\":[\"T-06\",\"T-07\",\"NOPE\"]}", "application/json");
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 2);
   assert_int_equal ((int) tk_api_fx_num (r.json, "published"), 2);
   assert_int_equal ((int) tk_api_fx_num (r.json, "unknown_ids"), 1);
   char job[64], path[128];
   snprintf (job, sizeof job, "%s", cJSON_GetObjectItem (r.json, "job_id")->valuestring);
   tk_api_fx_resp_free (&r);
   /* reprocess by filter: processed P0 tickets */
   r = call ("POST", "/api/process", operator_key,
             "{\"mode\":\"reprocess\",\"filter\":{\"priority\":[\"P0 (High)\"],"
             "\"status\":\"processed\"}}",
             "application/json");
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 2);
   tk_api_fx_resp_free (&r);
   /* DLQ replay: the failed ticket */
   r = call ("POST", "/api/dlq/replay", operator_key, NULL, NULL);
   assert_int_equal (r.status, 202);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 1);
   tk_api_fx_resp_free (&r);
   /* a bad mode and a filter with an operator are refused */
   r = call ("POST", "/api/process", operator_key, "{\"mode\":\"everything\"}", "application/json");
   assert_int_equal (r.status, 400);
   assert_string_equal (err_field (&r), "mode");
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/process", operator_key,
             "{\"mode\":\"reprocess\",\"filter\":{\"priority\":{\"$gt\":\"\"}}}",
             "application/json");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);

   /* what a classifier would see */
   uv_loop_t loop;
   uv_loop_init (&loop);
   consumed_t st = {.want = 5};
   char group[96];
   tk_test_unique_name ("test-api-group", group, sizeof group);
   const char *topics[] = {fx.topic};
   tk_kafka_consumer_opts_t opts = {.brokers = tk_test_kafka_brokers (), .group_id = group,
                                    .topics = topics, .n_topics = 1, .on_messages = on_messages,
                                    .opaque = &st};
   tk_error_t err;
   tk_kafka_consumer_t *c = tk_kafka_consumer_new (&loop, &opts, &err);
   assert_non_null (c);
   assert_true (tk_test_run_until (&loop, &st.done, 60000));
   assert_true (seen (&st, "T-06:manual"));
   assert_true (seen (&st, "T-07:manual"));
   assert_true (seen (&st, "T-01:reprocess"));
   assert_true (seen (&st, "T-03:reprocess"));
   assert_true (seen (&st, "T-05:reprocess"));
   bool closed = false;
   tk_kafka_consumer_close (c, closed_cb, &closed);
   assert_true (tk_test_run_until (&loop, &closed, 30000));
   tk_test_loop_close (&loop);

   /* progress follows the tickets */
   snprintf (path, sizeof path, "/api/process/%s", job);
   r = call ("GET", path, viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_int_equal ((int) tk_api_fx_num (r.json, "requested"), 2);
   assert_int_equal ((int) tk_api_fx_num (r.json, "classified"), 0);
   assert_string_equal (cJSON_GetObjectItem (r.json, "state")->valuestring, "running");
   tk_api_fx_resp_free (&r);
   tk_api_fx_classify (&fx, "T-06", "Sensitive data", NULL, "Neutral", "P1 (Medium)", 0.9, 0.9, 0.9,
                       120, "test-model", tk_time_now_ms ());
   assert_true (tk_store_record_failure (fx.store, "T-07", "bad", &err));
   r = call ("GET", path, viewer_key, NULL, NULL);
   assert_int_equal ((int) tk_api_fx_num (r.json, "classified"), 1);
   assert_int_equal ((int) tk_api_fx_num (r.json, "failed"), 1);
   assert_string_equal (cJSON_GetObjectItem (r.json, "state")->valuestring, "done");
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/process/job_nope", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);
}

static void
test_hostile_input (void **state)
{
   (void) state;
   static const char *const bad_gets[] = {
      "/api/tickets?priority=%7B%22%24gt%22%3A%22%22%7D",
      "/api/tickets?status=%7B%22%24ne%22%3Anull%7D",
      "/api/tickets?sentiment=.*",
      "/api/tickets?topic=%5BSSO%5D",
      "/api/tickets?created_from=%7B%22%24gt%22%3A%22%22%7D",
      "/api/tickets?processed_to=.*",
      "/api/tickets?confidence_below=%7B%22%24gt%22%3A0%7D",
      "/api/tickets?confidence_below=2",
      "/api/tickets?limit=1001",
      "/api/tickets?limit=0",
      "/api/tickets?limit=-5",
      "/api/tickets?sort=%24natural",
      "/api/tickets?%24where=1",
      "/api/tickets?q=a%00b",
      "/api/tickets/T-01%00x",
      "/api/audit?limit=%24gt",
   };
   for (size_t i = 0; i < sizeof bad_gets / sizeof bad_gets[0]; i++) {
      tk_api_fx_resp_t r = call ("GET", bad_gets[i], ADMIN_KEY, NULL, NULL);
      if (r.status != 400) {
         fprintf (stderr, "GET %s -> %ld %s\n", bad_gets[i], r.status, r.body);
      }
      assert_int_equal (r.status, 400);
      /* "invalid" from the API, "bad_request" from the HTTP layer (%00) */
      assert_true (!strcmp (err_code (&r), "invalid") || !strcmp (err_code (&r), "bad_request"));
      tk_api_fx_resp_free (&r);
   }
   /* A search text past the limit: refused in words (it was "q: longer
    * than 256 bytes (got ...)", and 200 é were refused as too long). */
   char path[1400]; /* 200 "%C3%A9" below */
   snprintf (path, sizeof path, "/api/tickets?q=");
   memset (path + strlen (path), 'x', 1000); /* the fixture's URLs stop at 2 KB */
   path[15 + 1000] = '\0';
   tk_api_fx_resp_t lr = call ("GET", path, viewer_key, NULL, NULL);
   assert_int_equal (lr.status, 400);
   const cJSON *le = cJSON_GetObjectItem (lr.json, "error");
   assert_string_equal (cJSON_GetObjectItem (le, "message")->valuestring,
                        "search text is limited to 256 characters (this one has 1000)");
   assert_string_equal (cJSON_GetObjectItem (le, "field")->valuestring, "q");
   tk_api_fx_resp_free (&lr);
   snprintf (path, sizeof path, "/api/tickets?q=");
   for (int i = 0; i < 200; i++) {
      strcat (path, "%C3%A9");
   }
   lr = call ("GET", path, viewer_key, NULL, NULL);
   assert_int_equal (lr.status, 200);
   tk_api_fx_resp_free (&lr);
   /* Operators in the text search are text: no match, no error. */
   char ids[256];
   list_ids ("/api/tickets?q=%7B%22%24gt%22%3A%22%22%7D", viewer_key, ids, sizeof ids);
   assert_string_equal (ids, "");
   list_ids ("/api/tickets?q=%5B%5D%7C%5C", viewer_key, ids, sizeof ids);
   assert_string_equal (ids, "");
   /* Ids with slashes: encoded they are one id; raw they are another path. */
   tk_api_fx_resp_t r = call ("GET", "/api/tickets/a%2Fb", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_string_equal (cJSON_GetObjectItem (r.json, "id")->valuestring, "a/b");
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/tickets/a/b", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/tickets/%7B%22%24gt%22%3A%22%22%7D", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 404);
   assert_string_equal (err_code (&r), "not_found");
   tk_api_fx_resp_free (&r);
   /* Malformed JSON, wrong content type, JSON that is not an object. */
   r = call ("POST", "/api/processed-tickets", operator_key, "{\"id\":", "application/json");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/processed-tickets", operator_key, "{\"id\":\"x\"}", "text/plain");
   assert_int_equal (r.status, 415);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/process", operator_key, "[1,2]", "application/json");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = call ("POST", "/api/process", operator_key, "{\"mode\":\"ids\",\"ids\":[{\"$gt\":\"\"}]}",
             "application/json");
   assert_int_equal (r.status, 400);
   assert_string_equal (err_field (&r), "ids");
   tk_api_fx_resp_free (&r);
   r = call ("PUT", "/api/processed-tickets/T-01", ADMIN_KEY,
             "{\"classification\":{\"$set\":{\"processed\":false}}}", "application/json");
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   /* Oversized body (the service runs with a 256 KB limit). */
   size_t big = 300 * 1024;
   char *body = malloc (big + 1);
   memset (body, 'x', big);
   body[big] = '\0';
   r = call ("POST", "/api/processed-tickets", operator_key, body, "application/json");
   assert_int_equal (r.status, 413);
   tk_api_fx_resp_free (&r);
   free (body);
   /* After all that, the data is as it was. */
   r = call ("GET", "/api/processing-stats", viewer_key, NULL, NULL);
   assert_int_equal ((int) tk_api_fx_num (r.json, "total_tickets"), 10);
   tk_api_fx_resp_free (&r);
   r = call ("GET", "/api/processed-tickets/T-01", viewer_key, NULL, NULL);
   assert_int_equal (r.status, 200);
   assert_string_equal (
      cJSON_GetObjectItem (cJSON_GetObjectItem (r.json, "classification"), "priority")->valuestring,
      "P0 (High)");
   tk_api_fx_resp_free (&r);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_each_filter_alone_and_combined),
      cmocka_unit_test (test_pagination_is_stable_across_inserts),
      cmocka_unit_test (test_roles_allowed_and_refused),
      cmocka_unit_test (test_processing_stats),
      cmocka_unit_test (test_processed_tickets_crud_and_audit),
      cmocka_unit_test (test_hostile_input),
      cmocka_unit_test (test_process_requests_reach_the_topic),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
