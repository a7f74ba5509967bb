/* ingest_audit.c - audit_log records of ingest's requests (common/audit_log.h
 * owns the record and the collection). The insert runs on the threadpool
 * through the store's async pattern, never on the loop, and nobody waits
 * for it: an upload is answered as soon as its rows are, even while
 * MongoDB is slow to take the record. Records still being written when
 * the process is killed are lost; a graceful stop waits for them (the loop
 * does not close while a threadpool request is pending). */
#include "ingest.h"

#include "log.h"
#include "store_async.h"

#include <stdlib.h>

bson_t *
ingest_audit_record (tk_http_request_t *req, const ingest_who_t *who, const char *action,
                     int status, const bson_t *detail, const tk_audit_ids_t *tickets)
{
   const char *route = tk_http_request_route (req);
   tk_audit_entry_t entry = {
      .service = "ingest",
      .key_id = who ? who->key_id : NULL,
      .role = who ? tk_role_name (who->role) : NULL,
      .client = tk_http_request_remote_addr (req),
      .method = tk_http_request_method (req),
      .route = route ? route : "",
      .path = tk_http_request_path (req),
      .query = tk_http_request_query_string (req),
      .action = action,
      .status = status,
      .detail = detail,
      .tickets = tickets,
   };
   return tk_audit_record_new (&entry);
}

typedef struct {
   bson_t *record;
   bool ok;
   tk_error_t err;
} audit_job_t;

static void
audit_work (tk_store_t *store, void *ctx)
{
   audit_job_t *job = ctx;
   mongoc_client_t *client = tk_store_client_pop (store);
   job->ok = tk_audit_insert (client, tk_store_db_name (store), job->record, &job->err);
   tk_store_client_push (store, client);
}

static void
audit_done (int status, void *ctx)
{
   audit_job_t *job = ctx;
   if (status != 0) {
      TK_WARN ("audit", "an audit record was not written: the write was cancelled");
   } else if (!job->ok) {
      TK_WARN ("audit", "cannot write an audit record: %s", job->err.message);
   }
   bson_destroy (job->record);
   free (job);
}

void
ingest_audit_write (tk_app_t *app, bson_t *record)
{
   audit_job_t *job = calloc (1, sizeof *job);
   if (!job) {
      TK_ERROR ("audit", "out of memory: an audit record was not written");
      bson_destroy (record);
      return;
   }
   job->record = record;
   int rc = tk_store_async (app->loop, app->store, audit_work, audit_done, job);
   if (rc != 0) {
      TK_WARN ("audit", "cannot queue an audit record: %s", uv_strerror (rc));
      bson_destroy (record);
      free (job);
   }
}
