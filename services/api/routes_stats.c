/* routes_stats.c - GET /api/processing-stats: the spec's counts plus
 * sentiment and topic distributions, averages and failures.
 *
 * FerretDB's $group knows only $sum and $count, so averages are sums
 * divided by counts here. The answer is cached for TRIAGE_API_CACHE_TTL:
 * a dashboard polling it many times a second costs one set of queries. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

#define STATS_CACHE_KEY "processing-stats"

/* Runs pipeline and fills obj with {_id: n} pairs. */
static bool
distribution (mongoc_collection_t *coll, bson_t *pipeline, cJSON *obj, bson_error_t *e)
{
   mongoc_cursor_t *cursor = mongoc_collection_aggregate (coll, MONGOC_QUERY_NONE, pipeline,
                                                          NULL, NULL);
   const bson_t *doc;
   bson_iter_t it;
   while (mongoc_cursor_next (cursor, &doc)) {
      if (!bson_iter_init_find (&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8 (&it)) {
         continue;
      }
      const char *label = bson_iter_utf8 (&it, NULL);
      double n = bson_iter_init_find (&it, doc, "n") ? (double) bson_iter_as_int64 (&it) : 0;
      cJSON_AddNumberToObject (obj, label, n);
   }
   bool ok = !mongoc_cursor_error (cursor, e);
   mongoc_cursor_destroy (cursor);
   bson_destroy (pipeline);
   return ok;
}

static double
iter_number (const bson_t *doc, const char *key)
{
   bson_iter_t it;
   if (!bson_iter_init_find (&it, doc, key)) {
      return 0;
   }
   switch (bson_iter_type (&it)) {
   case BSON_TYPE_DOUBLE: return bson_iter_double (&it);
   case BSON_TYPE_INT32: return bson_iter_int32 (&it);
   case BSON_TYPE_INT64: return (double) bson_iter_int64 (&it);
   default: return 0;
   }
}

/* The sum of one numeric field over processed tickets. One accumulator per
 * $group: FerretDB 1.24 computes only the first accumulator of a $group
 * correctly (the others come back 0), found by experiment. */
static bool
sum_field (mongoc_collection_t *coll, const char *path, double *out, bson_error_t *e)
{
   bson_t *pipeline = BCON_NEW ("pipeline", "[", "{", "$match", "{", "processed",
                                BCON_BOOL (true), "}", "}", "{", "$group", "{", "_id", BCON_NULL,
                                "s", "{", "$sum", BCON_UTF8 (path), "}", "}", "}", "]");
   mongoc_cursor_t *cursor = mongoc_collection_aggregate (coll, MONGOC_QUERY_NONE, pipeline,
                                                          NULL, NULL);
   const bson_t *doc;
   *out = 0;
   if (mongoc_cursor_next (cursor, &doc)) {
      *out = iter_number (doc, "s");
   }
   bool ok = !mongoc_cursor_error (cursor, e);
   mongoc_cursor_destroy (cursor);
   bson_destroy (pipeline);
   return ok;
}

/* Processed tickets per topic tag: one indexed count per taxonomy label.
 * ($unwind on a dotted path is not portable: FerretDB 1.24 moves the
 * unwound value to a top-level field named after the leaf.) */
static bool
topic_counts (mongoc_collection_t *coll, const tk_taxonomy_t *tax, cJSON *obj, bson_error_t *e)
{
   size_t n = tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC);
   for (size_t i = 0; i < n; i++) {
      const char *label = tk_taxonomy_label (tax, TK_TAXONOMY_TOPIC, i);
      bson_t *filter = BCON_NEW ("processed", BCON_BOOL (true), "classification.topic_tags",
                                 BCON_UTF8 (label));
      int64_t c = mongoc_collection_count_documents (coll, filter, NULL, NULL, NULL, e);
      bson_destroy (filter);
      if (c < 0) {
         return false;
      }
      if (c > 0) {
         cJSON_AddNumberToObject (obj, label, (double) c);
      }
   }
   return true;
}

static void
stats_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   tk_processing_stats_t st;
   tk_error_t err;
   bson_error_t e;
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "tickets");
   cJSON *out = cJSON_CreateObject ();
   if (!tk_store_get_processing_stats (call->api->app->store, &st, &err)) {
      api_call_fail_err (call, &err);
      goto fail;
   }
   cJSON_AddNumberToObject (out, "total", (double) st.total);
   cJSON_AddNumberToObject (out, "processed", (double) st.processed);
   cJSON_AddNumberToObject (out, "unprocessed", (double) st.unprocessed);
   cJSON_AddNumberToObject (out, "processed_today", (double) st.processed_today);
   cJSON *prio = cJSON_AddObjectToObject (out, "priority_distribution");
   for (size_t i = 0; i < st.n_priorities; i++) {
      cJSON_AddNumberToObject (prio, st.priorities[i].label, (double) st.priorities[i].count);
   }
   cJSON *sent = cJSON_AddObjectToObject (out, "sentiment_distribution");
   cJSON *topic = cJSON_AddObjectToObject (out, "topic_distribution");
   if (!distribution (coll,
                      BCON_NEW ("pipeline", "[", "{", "$match", "{", "processed", BCON_BOOL (true),
                                "}", "}", "{", "$group", "{", "_id", "$classification.sentiment",
                                "n", "{", "$sum", BCON_INT32 (1), "}", "}", "}", "]"),
                      sent, &e) ||
       !topic_counts (coll, call->api->tax, topic, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      goto fail;
   }
   double n = (double) st.processed, time = 0, ct = 0, cs = 0, cp = 0;
   if (!sum_field (coll, "$processing_metadata.processing_time_ms", &time, &e) ||
       !sum_field (coll, "$confidence_scores.topic", &ct, &e) ||
       !sum_field (coll, "$confidence_scores.sentiment", &cs, &e) ||
       !sum_field (coll, "$confidence_scores.priority", &cp, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      goto fail;
   }
   if (n > 0) {
      cJSON_AddNumberToObject (out, "average_processing_time_ms", time / n);
      cJSON *conf = cJSON_AddObjectToObject (out, "average_confidence");
      cJSON_AddNumberToObject (conf, "topic", ct / n);
      cJSON_AddNumberToObject (conf, "sentiment", cs / n);
      cJSON_AddNumberToObject (conf, "priority", cp / n);
   } else {
      cJSON_AddNullToObject (out, "average_processing_time_ms");
      cJSON_AddNullToObject (out, "average_confidence");
   }
   bson_t *failed_filter = BCON_NEW ("processed", BCON_BOOL (false), "processing_attempts", "{",
                                     "$gt", BCON_INT32 (0), "}");
   int64_t failed = mongoc_collection_count_documents (coll, failed_filter, NULL, NULL, NULL, &e);
   bson_destroy (failed_filter);
   if (failed < 0) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      goto fail;
   }
   cJSON_AddNumberToObject (out, "failed", (double) failed);
   api_call_ok (call, 200, out);
   mongoc_collection_destroy (coll);
   return;
fail:
   cJSON_Delete (out);
   mongoc_collection_destroy (coll);
}

static void
stats_done (api_call_t *call)
{
   char *text = cJSON_PrintUnformatted (call->json);
   if (text) {
      api_cache_put (call->api, STATS_CACHE_KEY, text, strlen (text));
      call->raw_len = strlen (text);
      call->raw_body = malloc (call->raw_len + 1);
      if (call->raw_body) {
         memcpy (call->raw_body, text, call->raw_len + 1);
      }
      cJSON_free (text);
   }
   tk_counter_inc (tk_metric_labels (call->api->cache_hits, "miss"));
   api_call_respond (call);
}

static bool
stats_fast (api_call_t *call)
{
   const api_cache_entry_t *e = api_cache_get (call->api, STATS_CACHE_KEY);
   if (!e) {
      return false;
   }
   tk_counter_inc (tk_metric_labels (call->api->cache_hits, "hit"));
   tk_http_respond (call->req, 200, "application/json", e->body, e->len);
   return true;
}

static void
stats_get (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   api_call_t *call = api_call_new (user_data, req, "stats.get", API_ROLE_VIEWER, false,
                                    stats_work);
   call->done = stats_done;
   call->fast = stats_fast;
   api_call_run (call);
}

bool
api_routes_stats (api_t *api, tk_error_t *err)
{
   return tk_http_route (api->app->http, "GET", "/api/processing-stats", stats_get, api, err);
}
