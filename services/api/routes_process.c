/* routes_process.c - processing control: POST /api/process (choose tickets,
 * record a job, publish classification requests), POST /api/dlq/replay
 * (failed tickets back for another try); GET /api/process/{job} (progress)
 * is in routes_process_status.c.
 *
 * A job is a document of the `jobs` collection: {job_id, mode, reason,
 * created_at, key_id, ids, requested, skipped, kept_corrected,
 * override_corrections, progress, progress_at}. A ticket the classifier
 * would skip (already processed, for every mode but a reprocess) is not
 * sent: it is counted as skipped, so a job of such tickets ends at once.
 * A job is `running` while tickets are pending, `stalled` (with the
 * reason) when none was classified or failed for TRIAGE_JOB_STALL_AFTER
 * (running again once one is: the progress mark is kept in its record, so
 * every api replica reports the same), `done` when none is pending, and
 * `failed` when some of its requests could not be published (a delivery
 * report with an error, or a producer that would not take them): the job's
 * record then gets status "failed", the reason and the counts published /
 * publish_failed (process_failed.c) before the answer, which is an error
 * (503 publish_failed, with the reason) when not one request went out.
 * A reprocess leaves out the tickets a person corrected (they keep their
 * labels, counted as kept_corrected) unless the body says
 * "override_corrections": true; "dry_run": true answers 200 with what the
 * job would request and keep, and records or sends nothing. The ids are
 * chosen on a worker thread; the requests are then produced on the loop,
 * and the answer (202) is sent once Kafka has acknowledged every one of
 * them. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "messages.h"
#include "timeutil.h"

#define MS_PER_DAY INT64_C (86400000)
#define PROCESS_MAX_IDS_IN_BODY 10000
/* 10,000 ids of up to 128 bytes, quoted, fit. */
#define API_PROCESS_BODY_MAX (2u * 1024u * 1024u)
/* A filter holds at most this many /api/tickets parameters (an array value
 * counts once per element); more is refused, never cut short. */
#define PROCESS_FILTER_PARAMS_MAX 128

typedef enum {
   MODE_UNPROCESSED,
   MODE_LAST_24H,
   MODE_LAST_7D,
   MODE_SINCE_LAST_FETCH,
   MODE_IDS,
   MODE_REPROCESS,
   MODE_FAILED,
} process_mode_t;

static const char *const mode_names[] = {"unprocessed", "last_24h", "last_7d",
                                         "since_last_fetch", "ids", "reprocess",
                                         "failed", NULL};

typedef struct {
   process_mode_t mode;
   tk_query_t q; /* reprocess: the filter */
   bool has_query;
   char **ids; /* MODE_IDS (from the body), then the ids chosen */
   size_t n_ids, cap_ids;
   char job_id[48];
   int64_t started_ms;
   size_t n_unknown;
   size_t n_skipped; /* already processed: the classifier would skip them */
   bool override_corrections;
   bool dry_run;
   int64_t kept_corrected; /* reprocess: corrected tickets it leaves alone */
   /* publishing, on the loop */
   size_t next, acked, failed;
   bool waiting_room; /* the producer queue was full */
   char fail_reason[200]; /* why the first request could not be published */
} job_t;

static void
job_free (void *p)
{
   job_t *j = p;
   if (!j) {
      return;
   }
   for (size_t i = 0; i < j->n_ids; i++) {
      free (j->ids[i]);
   }
   free (j->ids);
   if (j->has_query) {
      tk_query_cleanup (&j->q);
   }
   free (j);
}

static bool
job_push_id (job_t *j, const char *id)
{
   if (j->n_ids == j->cap_ids) {
      size_t cap = j->cap_ids ? j->cap_ids * 2 : 64;
      char **ids = realloc (j->ids, cap * sizeof *ids);
      if (!ids) {
         return false;
      }
      j->ids = ids;
      j->cap_ids = cap;
   }
   if (!(j->ids[j->n_ids] = strdup (id))) {
      return false;
   }
   j->n_ids++;
   return true;
}

static const char *
mode_reason (process_mode_t m)
{
   return m == MODE_REPROCESS || m == MODE_FAILED ? "reprocess" : "manual";
}

/* ---- choosing the tickets (worker) ----------------------------------- */

static bool
collect_ids (job_t *j, mongoc_client_t *client, const char *db, const bson_t *filter, size_t max,
             bson_error_t *e)
{
   /* Every mode but a reprocess asks for a plain classification, which
    * the classifier skips for a processed ticket: those are not sent. */
   bool skip_processed = j->mode != MODE_REPROCESS && j->mode != MODE_FAILED;
   bson_t *projection = BCON_NEW ("id", BCON_INT32 (1), "processed", BCON_INT32 (1));
   bson_t *sort = BCON_NEW ("created_at", BCON_INT32 (1));
   const tk_ticket_query_t q = {
      .filter = filter, .sort = sort, .projection = projection, .limit = (int64_t) max};
   mongoc_cursor_t *cursor = tk_store_tickets_find (client, db, &q);
   const bson_t *doc;
   bson_iter_t it;
   while (mongoc_cursor_next (cursor, &doc)) {
      bson_iter_t p;
      if (skip_processed && bson_iter_init_find (&p, doc, "processed") &&
          BSON_ITER_HOLDS_BOOL (&p) && bson_iter_bool (&p)) {
         j->n_skipped++;
         continue;
      }
      if (bson_iter_init_find (&it, doc, "id") && BSON_ITER_HOLDS_UTF8 (&it)) {
         job_push_id (j, bson_iter_utf8 (&it, NULL));
      }
   }
   bool ok = !mongoc_cursor_error (cursor, e);
   mongoc_cursor_destroy (cursor);
   bson_destroy (sort);
   bson_destroy (projection);
   return ok;
}

/* since_last_fetch: reads and advances the key's fetch mark. */
static bool
fetch_mark (api_call_t *call, mongoc_client_t *client, const char *db, int64_t now,
            int64_t *since, bson_error_t *e)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "fetch_state");
   bson_t *filter = BCON_NEW ("key_id", BCON_UTF8 (call->key_id));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, filter, NULL, NULL);
   const bson_t *doc;
   bson_iter_t it;
   *since = 0;
   if (mongoc_cursor_next (cursor, &doc) && bson_iter_init_find (&it, doc, "last_fetch_at") &&
       BSON_ITER_HOLDS_DATE_TIME (&it)) {
      *since = bson_iter_date_time (&it);
   }
   bool ok = !mongoc_cursor_error (cursor, e);
   mongoc_cursor_destroy (cursor);
   if (ok) {
      bson_t *update = BCON_NEW ("$set", "{", "last_fetch_at", BCON_DATE_TIME (now), "}");
      bson_t *opts = BCON_NEW ("upsert", BCON_BOOL (true));
      ok = mongoc_collection_update_one (coll, filter, update, opts, NULL, e);
      bson_destroy (opts);
      bson_destroy (update);
   }
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   return ok;
}

/* MODE_IDS: the given ids (taken from j, which collect_ids refills with the
 * stored ones) as {id: {$in: [...]}}. */
static bson_t *
given_ids_filter (job_t *j)
{
   char **given = j->ids;
   size_t n_given = j->n_ids;
   j->ids = NULL;
   j->n_ids = j->cap_ids = 0;
   bson_t in, arr;
   bson_t *filter = bson_new ();
   BSON_APPEND_DOCUMENT_BEGIN (filter, "id", &in);
   BSON_APPEND_ARRAY_BEGIN (&in, "$in", &arr);
   for (size_t i = 0; i < n_given; i++) {
      char k[16];
      const char *key;
      bson_uint32_to_string ((uint32_t) i, &key, k, sizeof k);
      bson_append_utf8 (&arr, key, -1, given[i], -1);
      free (given[i]);
   }
   free (given);
   bson_append_array_end (&in, &arr);
   bson_append_document_end (filter, &in);
   j->n_unknown = n_given;
   return filter;
}

/* {$and: [filter, {processing_metadata.corrected_at: {$exists: corrected}}]}:
 * the tickets of filter a person corrected (corrected) or not. Caller
 * destroys. */
static bson_t *
filter_corrected (const bson_t *filter, bool corrected)
{
   bson_t *out = bson_new ();
   bson_t and, item, cond;
   BSON_APPEND_ARRAY_BEGIN (out, "$and", &and);
   BSON_APPEND_DOCUMENT (&and, "0", filter);
   BSON_APPEND_DOCUMENT_BEGIN (&and, "1", &item);
   BSON_APPEND_DOCUMENT_BEGIN (&item, "processing_metadata.corrected_at", &cond);
   BSON_APPEND_BOOL (&cond, "$exists", corrected);
   bson_append_document_end (&item, &cond);
   bson_append_document_end (&and, &item);
   bson_append_array_end (out, &and);
   return out;
}

/* How many tickets of a reprocess's filter a person corrected (they are
 * left out unless it overrides corrections); -1 with e on a failure. */
static int64_t
count_corrected (mongoc_client_t *client, const char *db, const bson_t *page, bson_error_t *e)
{
   bson_t *filter = filter_corrected (page, true);
   int64_t n = tk_store_tickets_count (client, db, filter, e);
   bson_destroy (filter);
   return n;
}

/* The filter of the tickets the job's mode selects, into *filter (page is
 * the storage of a reprocess's filter). false with e when the key's fetch
 * mark could not be read. */
static bool
selection_filter (api_call_t *call, mongoc_client_t *client, const char *db, bson_t *page,
                  bson_t **filter, bson_error_t *e)
{
   job_t *j = call->data;
   int64_t now = j->started_ms, since = 0;
   switch (j->mode) {
   case MODE_UNPROCESSED: *filter = BCON_NEW ("processed", BCON_BOOL (false)); break;
   case MODE_LAST_24H:
   case MODE_LAST_7D:
      since = now - (j->mode == MODE_LAST_24H ? 1 : 7) * MS_PER_DAY;
      *filter = BCON_NEW ("created_at", "{", "$gte", BCON_DATE_TIME (since), "}");
      break;
   case MODE_SINCE_LAST_FETCH:
      if (!fetch_mark (call, client, db, now, &since, e)) {
         return false;
      }
      *filter = BCON_NEW ("processed", BCON_BOOL (false), "created_at", "{", "$gte",
                          BCON_DATE_TIME (since), "}");
      break;
   case MODE_FAILED:
      *filter = BCON_NEW ("processed", BCON_BOOL (false), "processing_attempts", "{", "$gt",
                          BCON_INT32 (0), "}");
      break;
   case MODE_REPROCESS:
      tk_query_page_filter (&j->q, page);
      *filter = j->override_corrections ? bson_copy (page) : filter_corrected (page, false);
      break;
   case MODE_IDS: *filter = given_ids_filter (j); break;
   }
   return true;
}

/* Writes the job's record to `jobs`: what it asked for and when, so that
 * GET /api/process/{job_id} can count its progress. */
static bool
record_job (api_call_t *call, mongoc_client_t *client, const char *db, bson_error_t *e)
{
   job_t *j = call->data;
   bson_t job = BSON_INITIALIZER, arr;
   BSON_APPEND_UTF8 (&job, "job_id", j->job_id);
   BSON_APPEND_UTF8 (&job, "mode", mode_names[j->mode]);
   BSON_APPEND_UTF8 (&job, "reason", mode_reason (j->mode));
   BSON_APPEND_DATE_TIME (&job, "created_at", j->started_ms);
   BSON_APPEND_UTF8 (&job, "key_id", call->key_id);
   BSON_APPEND_INT64 (&job, "requested", (int64_t) j->n_ids);
   BSON_APPEND_INT64 (&job, "skipped", (int64_t) j->n_skipped);
   BSON_APPEND_INT64 (&job, "kept_corrected", j->kept_corrected);
   BSON_APPEND_INT64 (&job, "progress", 0);
   BSON_APPEND_DATE_TIME (&job, "progress_at", j->started_ms);
   BSON_APPEND_BOOL (&job, "override_corrections", j->override_corrections);
   BSON_APPEND_ARRAY_BEGIN (&job, "ids", &arr);
   for (size_t i = 0; i < j->n_ids; i++) {
      char k[16];
      const char *key;
      bson_uint32_to_string ((uint32_t) i, &key, k, sizeof k);
      bson_append_utf8 (&arr, key, -1, j->ids[i], -1);
   }
   bson_append_array_end (&job, &arr);
   mongoc_collection_t *jobs = mongoc_client_get_collection (client, db, "jobs");
   bool ok = mongoc_collection_insert_one (jobs, &job, NULL, NULL, e);
   mongoc_collection_destroy (jobs);
   bson_destroy (&job);
   return ok;
}

static void
process_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   job_t *j = call->data;
   size_t max = (size_t) call->api->app->cfg.api_process_max;
   bson_error_t e;
   bson_t *filter = NULL;
   bson_t page = BSON_INITIALIZER; /* reprocess: the filter as the list's */
   bool ok = selection_filter (call, client, db, &page, &filter, &e);
   if (ok && filter) {
      ok = collect_ids (j, client, db, filter, max, &e);
   }
   if (ok && j->mode == MODE_REPROCESS && !j->override_corrections) {
      ok = (j->kept_corrected = count_corrected (client, db, &page, &e)) >= 0;
   }
   if (!ok) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      goto done;
   }
   if (j->mode == MODE_IDS) {
      j->n_unknown -= j->n_ids + j->n_skipped;
   }
   if (j->dry_run) {
      /* What the job would do, for the page to ask before it sends. */
      cJSON *out = cJSON_CreateObject ();
      cJSON_AddStringToObject (out, "mode", mode_names[j->mode]);
      cJSON_AddNumberToObject (out, "would_request", (double) j->n_ids);
      cJSON_AddNumberToObject (out, "skipped", (double) j->n_skipped);
      cJSON_AddNumberToObject (out, "kept_corrected", (double) j->kept_corrected);
      cJSON_AddBoolToObject (out, "override_corrections", j->override_corrections);
      if (j->mode == MODE_IDS) {
         cJSON_AddNumberToObject (out, "unknown_ids", (double) j->n_unknown);
      }
      api_call_ok (call, 200, out);
      goto done;
   }
   if (!record_job (call, client, db, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "cannot record the job: %s", e.message);
      goto done;
   }
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "job_id", j->job_id);
   cJSON_AddStringToObject (call->audit_detail, "mode", mode_names[j->mode]);
   cJSON_AddNumberToObject (call->audit_detail, "requested", (double) j->n_ids);
   cJSON_AddNumberToObject (call->audit_detail, "kept_corrected", (double) j->kept_corrected);
   cJSON_AddNumberToObject (call->audit_detail, "skipped", (double) j->n_skipped);
   cJSON_AddBoolToObject (call->audit_detail, "override_corrections", j->override_corrections);
   /* The tickets sent back to the classifier (the first hundred, and how
    * many): what the job will change. */
   for (size_t i = 0; i < j->n_ids; i++) {
      tk_audit_ids_add (&call->tickets, j->ids[i]);
   }
   call->status = 202;
done:
   bson_destroy (filter);
   bson_destroy (&page);
}

/* ---- publishing (loop) -------------------------------------------------- */

static void publish_more (api_call_t *call);

/* Keeps the first reason a request could not be published. */
static void
note_failure (job_t *j, const char *reason)
{
   j->failed++;
   if (!j->fail_reason[0]) {
      const char *why = reason && *reason ? reason : "?";
      size_t n = strnlen (why, sizeof j->fail_reason - 1); /* cut short: it is for people */
      memcpy (j->fail_reason, why, n);
      j->fail_reason[n] = '\0';
   }
}

/* The answer, once every request has its outcome (and a job with failed
 * ones is recorded as failed): 202 with the counts, or, when not one
 * request could be published, an error with the reason. */
static void
publish_answer (api_call_t *call)
{
   job_t *j = call->data;
   cJSON *out = cJSON_CreateObject ();
   char iso[TK_TIME_ISO_BUFSIZE];
   tk_time_format_iso (j->started_ms, iso, sizeof iso);
   cJSON_AddStringToObject (out, "job_id", j->job_id);
   cJSON_AddStringToObject (out, "mode", mode_names[j->mode]);
   cJSON_AddStringToObject (out, "requested_at", iso);
   cJSON_AddNumberToObject (out, "requested", (double) j->n_ids);
   cJSON_AddNumberToObject (out, "published", (double) (j->acked));
   cJSON_AddNumberToObject (out, "publish_failed", (double) j->failed);
   cJSON_AddNumberToObject (out, "kept_corrected", (double) j->kept_corrected);
   cJSON_AddNumberToObject (out, "skipped", (double) j->n_skipped);
   if (j->mode == MODE_IDS) {
      cJSON_AddNumberToObject (out, "unknown_ids", (double) j->n_unknown);
   }
   if (j->failed) {
      cJSON_AddStringToObject (out, "state", "failed");
      cJSON_AddStringToObject (out, "reason", j->fail_reason);
   }
   if (j->failed && !j->acked) {
      cJSON_Delete (out);
      api_call_fail (call, 503, "publish_failed", NULL,
                     "job %s failed: none of its %zu classification requests could be "
                     "published to Kafka topic %s: %s",
                     j->job_id, j->n_ids, call->api->app->cfg.topic_classify, j->fail_reason);
   } else {
      api_call_ok (call, 202, out);
   }
   api_call_respond (call);
}

static void
publish_finish (api_call_t *call)
{
   job_t *j = call->data;
   if (!j->failed) {
      publish_answer (call);
      return;
   }
   char reason[640];
   snprintf (reason, sizeof reason, "%zu of %zu classification requests could not be published "
                                    "to Kafka topic %s: %s",
             j->failed, j->n_ids, call->api->app->cfg.topic_classify, j->fail_reason);
   TK_WARN ("api", "job %s failed: %s", j->job_id, reason);
   api_process_mark_failed (call, j->job_id, (int64_t) j->acked, (int64_t) j->failed, reason,
                            publish_answer);
}

static void
delivered (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   api_call_t *call = opaque;
   job_t *j = call->data;
   (void) p;
   if (d->code == 0) {
      j->acked++;
      tk_counter_inc (tk_metric_labels (call->api->published, "ok"));
   } else {
      note_failure (j, d->reason);
      tk_counter_inc (tk_metric_labels (call->api->published, "failed"));
   }
   if (j->waiting_room) {
      j->waiting_room = false;
      publish_more (call);
      return;
   }
   if (j->acked + j->failed == j->n_ids) {
      publish_finish (call);
   }
}

static void
publish_more (api_call_t *call)
{
   job_t *j = call->data;
   tk_app_t *app = call->api->app;
   while (j->next < j->n_ids) {
      const char *id = j->ids[j->next];
      tk_error_t err;
      size_t len = 0;
      char *text =
         tk_msg_classify_build (id, mode_reason (j->mode), j->started_ms, j->job_id,
                                j->override_corrections, &len, &err);
      bool built = text != NULL;
      bool ok = built && app->producer &&
                tk_kafka_produce (app->producer, app->cfg.topic_classify, id, strlen (id), text,
                                  len, delivered, call, &err);
      free (text);
      if (!ok) {
         if (built && app->producer && err.code == RD_KAFKA_RESP_ERR__QUEUE_FULL &&
             j->next > j->acked + j->failed) {
            j->waiting_room = true; /* resumed by the next delivery report */
            return;
         }
         note_failure (j, built && !app->producer ? "the Kafka producer is closed" : err.message);
         tk_counter_inc (tk_metric_labels (call->api->published, "failed"));
      }
      j->next++;
   }
   if (j->acked + j->failed == j->n_ids) {
      publish_finish (call);
   }
}

static void
process_done (api_call_t *call)
{
   job_t *j = call->data;
   if (j->dry_run) {
      api_call_respond (call);
      return;
   }
   publish_more (call);
}

/* ---- request parsing (loop) --------------------------------------------- */

static bool
filter_too_large (tk_http_request_t *req)
{
   char msg[96];
   snprintf (msg, sizeof msg, "filter: more than %d parameters", PROCESS_FILTER_PARAMS_MAX);
   api_respond_error (req, 400, "invalid", "filter", msg);
   return false;
}

static bool
parse_filter_object (api_t *api, tk_http_request_t *req, const cJSON *filter, job_t *j)
{
   tk_query_param_t params[PROCESS_FILTER_PARAMS_MAX];
   size_t n = 0;
   tk_error_t err;
   const cJSON *item;
   if (filter && !cJSON_IsObject (filter)) {
      api_respond_error (req, 400, "invalid", "filter",
                         "filter: an object of /api/tickets parameters");
      return false;
   }
   cJSON_ArrayForEach (item, filter)
   {
      const cJSON *v;
      if (cJSON_IsString (item)) {
         if (n == PROCESS_FILTER_PARAMS_MAX) {
            return filter_too_large (req);
         }
         params[n].key = item->string;
         params[n++].value = item->valuestring;
         continue;
      }
      if (!cJSON_IsArray (item)) {
         api_respond_error (req, 400, "invalid", item->string,
                            "filter values are strings or arrays of strings");
         return false;
      }
      cJSON_ArrayForEach (v, item)
      {
         if (!cJSON_IsString (v)) {
            api_respond_error (req, 400, "invalid", item->string,
                               "filter values are strings or arrays of strings");
            return false;
         }
         if (n == PROCESS_FILTER_PARAMS_MAX) {
            return filter_too_large (req);
         }
         params[n].key = item->string;
         params[n++].value = v->valuestring;
      }
   }
   if (!tk_query_build (&j->q, params, n, api->tax, 0, NULL, &err)) {
      char msg[300];
      snprintf (msg, sizeof msg, "filter.%s", err.message);
      api_respond_error (req, 400, "invalid", err.field, msg);
      return false;
   }
   j->has_query = true;
   return true;
}

/* The job's mode from the body (a replay: ids, or the failed tickets).
 * false, answered 400, when it is none the route takes. */
static bool
parse_mode (tk_http_request_t *req, const cJSON *body, bool replay, job_t *j)
{
   const cJSON *mode = cJSON_GetObjectItemCaseSensitive (body, "mode");
   if (replay) {
      j->mode = cJSON_GetObjectItemCaseSensitive (body, "ids") ? MODE_IDS : MODE_FAILED;
      return true;
   }
   int m = -1;
   for (int i = 0; cJSON_IsString (mode) && mode_names[i]; i++) {
      if (!strcmp (mode->valuestring, mode_names[i])) {
         m = i;
      }
   }
   if (m < 0 || m == MODE_FAILED) {
      api_respond_error (req, 400, "invalid", "mode",
                         "mode: one of unprocessed, last_24h, last_7d, since_last_fetch, ids, "
                         "reprocess");
      return false;
   }
   j->mode = (process_mode_t) m;
   return true;
}

/* The ids of an "ids" job into j (and none for the other modes). false,
 * answered, when they are not 1 to 10,000 valid ids or memory runs out. */
static bool
parse_ids (tk_http_request_t *req, const cJSON *body, job_t *j)
{
   const cJSON *ids = cJSON_GetObjectItemCaseSensitive (body, "ids");
   const cJSON *item;
   if (j->mode != MODE_IDS) {
      if (ids) {
         api_respond_error (req, 400, "invalid", "ids", "ids: only with mode \"ids\"");
      }
      return !ids;
   }
   if (!cJSON_IsArray (ids) || cJSON_GetArraySize (ids) < 1 ||
       cJSON_GetArraySize (ids) > PROCESS_MAX_IDS_IN_BODY) {
      api_respond_error (req, 400, "invalid", "ids", "ids: an array of 1 to 10000 ticket ids");
      return false;
   }
   cJSON_ArrayForEach (item, ids)
   {
      if (!cJSON_IsString (item) || !api_id_valid (item->valuestring)) {
         api_respond_error (req, 400, "invalid", "ids",
                            "ids: each a string of 1 to 128 bytes without control characters");
         return false;
      }
      if (!job_push_id (j, item->valuestring)) {
         api_respond_error (req, 500, "internal", NULL, "out of memory");
         return false;
      }
   }
   return true;
}

/* An optional boolean of the body into *out (false when absent). false,
 * answered 400, when it is there and not a boolean. */
static bool
parse_flag (tk_http_request_t *req, const cJSON *body, const char *name, bool *out)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (body, name);
   if (v && !cJSON_IsBool (v)) {
      char msg[96];
      snprintf (msg, sizeof msg, "%s: true or false", name);
      api_respond_error (req, 400, "invalid", name, msg);
      return false;
   }
   *out = cJSON_IsTrue (v);
   return true;
}

static void
start_job (api_t *api, tk_http_request_t *req, const cJSON *body, bool replay)
{
   job_t *j = calloc (1, sizeof *j);
   if (!j) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   if (!parse_mode (req, body, replay, j) || !parse_ids (req, body, j) ||
       !parse_flag (req, body, "override_corrections", &j->override_corrections) ||
       !parse_flag (req, body, "dry_run", &j->dry_run)) {
      goto fail;
   }
   const cJSON *filter = cJSON_GetObjectItemCaseSensitive (body, "filter");
   if (j->mode != MODE_REPROCESS && filter) {
      api_respond_error (req, 400, "invalid", "filter", "filter: only with mode \"reprocess\"");
      goto fail;
   }
   if (j->mode == MODE_REPROCESS && !parse_filter_object (api, req, filter, j)) {
      goto fail;
   }
   char hex[25];
   if (!tk_auth_random_hex (hex, 12)) {
      api_respond_error (req, 500, "internal", NULL, "no randomness available");
      goto fail;
   }
   snprintf (j->job_id, sizeof j->job_id, "job_%s", hex);
   j->started_ms = tk_time_now_ms ();
   api_call_t *call = api_call_new (api, req, replay ? "dlq.replay" : "process.start",
                                    TK_ROLE_OPERATOR, true, process_work);
   call->writes = true;
   call->data = j;
   call->free_data = job_free;
   call->done = process_done;
   api_call_run (call);
   return;
fail:
   job_free (j);
}

static void
process_post (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, true)) {
      return;
   }
   cJSON *body = api_parse_body (req, API_PROCESS_BODY_MAX);
   if (!body) {
      return;
   }
   if (!cJSON_IsObject (body)) {
      api_respond_error (req, 400, "invalid", "body", "the body must be a JSON object");
   } else {
      start_job (user_data, req, body, false);
   }
   cJSON_Delete (body);
}

static void
replay_post (tk_http_request_t *req, void *user_data)
{
   size_t len = 0;
   tk_http_request_body (req, &len);
   cJSON *body = NULL;
   if (len > 0) {
      if (!api_check_request (req, true) || !(body = api_parse_body (req, API_PROCESS_BODY_MAX))) {
         return;
      }
   } else if (!api_check_request (req, false)) {
      return;
   }
   if (body && !cJSON_IsObject (body)) {
      api_respond_error (req, 400, "invalid", "body", "the body must be a JSON object");
   } else {
      start_job (user_data, req, body, true);
   }
   cJSON_Delete (body);
}

bool
api_routes_process (api_t *api, tk_error_t *err)
{
   return api_route (api, "POST", "/api/process", TK_ROLE_OPERATOR, API_PROCESS_BODY_MAX,
                     process_post, err) &&
          api_route (api, "GET", "/api/process/{job}", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     api_process_status_get, err) &&
          api_route (api, "POST", "/api/dlq/replay", TK_ROLE_OPERATOR, API_PROCESS_BODY_MAX,
                     replay_post, err);
}
