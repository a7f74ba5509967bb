/* routes_process_status.c - GET /api/process/{job}: a processing job's
 * progress (routes_process.c makes the jobs). Progress is read from the
 * tickets themselves: a job's ticket is classified once its processed_at is
 * at or after the job's start, and failed once it is unprocessed with a
 * failed attempt recorded after that start. A job is `running` while
 * tickets are pending, `stalled` (with the reason) when none was classified
 * or failed for TRIAGE_JOB_STALL_AFTER (running again once one is: the
 * progress mark is kept in the job's record, so every api replica reports
 * the same), `done` when none is pending, `failed` (with the reason and the
 * counts published / publish_failed) when its record says its requests
 * could not all be published. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

/* ---- GET /api/process/{job} --------------------------------------------- */

typedef struct {
   char job_id[48];
} status_data_t;

static int64_t
count_in (mongoc_client_t *client, const char *db, const bson_t *ids, const char *field, int64_t since,
          bool failed, bson_error_t *e)
{
   bson_t filter = BSON_INITIALIZER, in, cond;
   BSON_APPEND_DOCUMENT_BEGIN (&filter, "id", &in);
   BSON_APPEND_ARRAY (&in, "$in", ids);
   bson_append_document_end (&filter, &in);
   if (failed) {
      BSON_APPEND_BOOL (&filter, "processed", false);
      BSON_APPEND_DOCUMENT_BEGIN (&filter, "processing_attempts", &cond);
      BSON_APPEND_INT32 (&cond, "$gt", 0);
      bson_append_document_end (&filter, &cond);
   }
   BSON_APPEND_DOCUMENT_BEGIN (&filter, field, &cond);
   BSON_APPEND_DATE_TIME (&cond, "$gte", since);
   bson_append_document_end (&filter, &cond);
   int64_t n = tk_store_tickets_count (client, db, &filter, e);
   bson_destroy (&filter);
   return n;
}

/* A job's figures, from its record and its tickets. */
typedef struct {
   int64_t since, requested, skipped, classified, failed;
   int64_t progress, progress_at; /* classified + failed when last seen to grow, and when */
   int64_t stall_ms;              /* how long without progress means stalled */
   int64_t now;
} job_counts_t;

static int64_t
doc_int (const bson_t *doc, const char *key, int64_t otherwise)
{
   bson_iter_t it;
   if (!bson_iter_init_find (&it, doc, key)) {
      return otherwise;
   }
   if (BSON_ITER_HOLDS_DATE_TIME (&it)) {
      return bson_iter_date_time (&it);
   }
   return BSON_ITER_HOLDS_NUMBER (&it) ? bson_iter_as_int64 (&it) : otherwise;
}

/* Moves the job's progress mark to now when more of its tickets are done
 * than it says (only forwards: two replicas polling at once agree). A
 * failure only delays the mark; the answer does not depend on it. */
static void
mark_progress (mongoc_collection_t *jobs, const char *job_id, job_counts_t *c)
{
   int64_t done = c->classified + c->failed;
   if (done <= c->progress) {
      return;
   }
   bson_t *filter = BCON_NEW ("job_id", BCON_UTF8 (job_id), "progress", "{", "$lt",
                              BCON_INT64 (done), "}");
   bson_t *update = BCON_NEW ("$set", "{", "progress", BCON_INT64 (done), "progress_at",
                              BCON_DATE_TIME (c->now), "}");
   bson_error_t e;
   if (mongoc_collection_update_one (jobs, filter, update, NULL, NULL, &e)) {
      c->progress = done;
      c->progress_at = c->now;
   }
   bson_destroy (update);
   bson_destroy (filter);
}

/* Whether the job's record says its requests could not all be published
 * (routes_process.c, process_failed.c). */
static bool
job_failed (const bson_t *doc)
{
   bson_iter_t it;
   return bson_iter_init_find (&it, doc, "status") && BSON_ITER_HOLDS_UTF8 (&it) &&
          !strcmp (bson_iter_utf8 (&it, NULL), "failed");
}

/* state (and reason) of the answer: failed when its record says so, else
 * done when nothing is pending, stalled after stall_ms without progress,
 * else running. */
static void
add_state (cJSON *out, const bson_t *doc, const job_counts_t *c, int64_t pending)
{
   bson_iter_t it;
   int64_t quiet = c->now - c->progress_at;
   if (job_failed (doc)) {
      cJSON_AddStringToObject (out, "state", "failed");
      cJSON_AddStringToObject (out, "reason",
                               bson_iter_init_find (&it, doc, "reason") &&
                                     BSON_ITER_HOLDS_UTF8 (&it)
                                  ? bson_iter_utf8 (&it, NULL)
                                  : "its requests could not be published");
      cJSON_AddNumberToObject (out, "published", (double) doc_int (doc, "published", 0));
      cJSON_AddNumberToObject (out, "publish_failed",
                               (double) doc_int (doc, "publish_failed", 0));
   } else if (pending <= 0) {
      cJSON_AddStringToObject (out, "state", "done");
   } else if (quiet >= c->stall_ms) {
      char reason[200];
      snprintf (reason, sizeof reason,
                "no ticket of this job classified or failed for %lld s: the classifier may be "
                "stopped, failing or far behind",
                (long long) (quiet / 1000));
      cJSON_AddStringToObject (out, "state", "stalled");
      cJSON_AddStringToObject (out, "reason", reason);
   } else {
      cJSON_AddStringToObject (out, "state", "running");
   }
}

/* The answer of GET /api/process/{job_id}: the job's record and its
 * counts. */
static cJSON *
status_json (const char *job_id, const bson_t *doc, const job_counts_t *c)
{
   int64_t since = c->since, requested = c->requested, classified = c->classified,
           failed = c->failed;
   bson_iter_t it;
   cJSON *out = cJSON_CreateObject ();
   char iso[TK_TIME_ISO_BUFSIZE];
   tk_time_format_iso (since, iso, sizeof iso);
   cJSON_AddStringToObject (out, "job_id", job_id);
   if (bson_iter_init_find (&it, doc, "mode") && BSON_ITER_HOLDS_UTF8 (&it)) {
      cJSON_AddStringToObject (out, "mode", bson_iter_utf8 (&it, NULL));
   }
   cJSON_AddStringToObject (out, "requested_at", iso);
   cJSON_AddNumberToObject (out, "requested", (double) requested);
   cJSON_AddNumberToObject (out, "classified", (double) classified);
   cJSON_AddNumberToObject (out, "failed", (double) failed);
   cJSON_AddNumberToObject (out, "skipped", (double) c->skipped);
   int64_t pending = requested - classified - failed;
   cJSON_AddNumberToObject (out, "pending", (double) (pending > 0 ? pending : 0));
   char at[TK_TIME_ISO_BUFSIZE];
   tk_time_format_iso (c->progress_at, at, sizeof at);
   cJSON_AddStringToObject (out, "progress_at", at);
   add_state (out, doc, c, pending);
   return out;
}

static void
status_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   status_data_t *d = call->data;
   mongoc_collection_t *jobs = mongoc_client_get_collection (client, db, "jobs");
   bson_t *filter = BCON_NEW ("job_id", BCON_UTF8 (d->job_id));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (jobs, filter, NULL, NULL);
   const bson_t *doc;
   bson_error_t e;
   bson_iter_t it;
   if (!mongoc_cursor_next (cursor, &doc)) {
      if (mongoc_cursor_error (cursor, &e)) {
         api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      } else {
         api_call_fail (call, 404, "not_found", "job", "no job with this id");
      }
      goto done;
   }
   job_counts_t c = {.since = doc_int (doc, "created_at", 0),
                     .requested = doc_int (doc, "requested", 0),
                     .skipped = doc_int (doc, "skipped", 0),
                     .progress = doc_int (doc, "progress", 0),
                     .stall_ms = call->api->app->cfg.job_stall_after_ms,
                     .now = tk_time_now_ms ()};
   c.progress_at = doc_int (doc, "progress_at", c.since);
   int64_t since = c.since;
   bson_t ids;
   bson_init (&ids);
   if (bson_iter_init_find (&it, doc, "ids") && BSON_ITER_HOLDS_ARRAY (&it)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_array (&it, &len, &data);
      bson_destroy (&ids);
      bson_init_static (&ids, data, len);
   }
   int64_t classified =
      count_in (client, db, &ids, "processing_metadata.processed_at", since, false, &e);
   int64_t failed =
      classified < 0 ? -1 : count_in (client, db, &ids, "updated_at", since, true, &e);
   if (classified < 0 || failed < 0) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      goto done;
   }
   c.classified = classified;
   c.failed = failed;
   mark_progress (jobs, d->job_id, &c);
   api_call_ok (call, 200, status_json (d->job_id, doc, &c));
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (filter);
   mongoc_collection_destroy (jobs);
}

void
api_process_status_get (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   const char *job = tk_http_request_param (req, "job");
   if (!api_safe_id_valid (job, 47)) {
      api_respond_error (req, 400, "invalid", "job", "job: not a job id");
      return;
   }
   status_data_t *d = calloc (1, sizeof *d);
   if (!d) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   snprintf (d->job_id, sizeof d->job_id, "%s", job);
   api_call_t *call = api_call_new (user_data, req, "process.status", TK_ROLE_VIEWER, false,
                                    status_work);
   call->data = d;
   call->free_data = free;
   api_call_run (call);
}
