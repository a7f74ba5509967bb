/* audit.c - the api's audit records: one per request that reads ticket
 * data, reads keys or the audit log, or changes anything (refused ones
 * too), built from the call (common/audit_log.h has the record and the
 * collection), and GET /api/audit.
 *
 * A record is written on the worker thread right after the route's work,
 * so its status is the one the client gets (a processing job whose Kafka
 * publishing later fails still shows as accepted: the job's own status
 * tells the rest). A failed audit write is logged, not fatal. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "utf8.h"

bson_t *
api_audit_record (const api_call_t *call)
{
   const tk_http_request_t *req = call->req;
   bson_t *detail = NULL;
   bson_error_t e;
   if (call->audit_detail) {
      char *text = cJSON_PrintUnformatted (call->audit_detail);
      detail = text ? bson_new_from_json ((const uint8_t *) text, -1, &e) : NULL;
      cJSON_free (text);
   }
   tk_audit_entry_t entry = {
      .service = "api",
      .key_id = call->key_id,
      .role = tk_role_name (call->role),
      .client = tk_http_request_remote_addr (req),
      .method = tk_http_request_method (req),
      .route = tk_http_request_route (req) ? tk_http_request_route (req) : "",
      .path = tk_http_request_path (req),
      .query = tk_http_request_query_string (req),
      .action = call->action,
      .status = call->status,
      .detail = detail,
      .tickets = call->writes ? &call->tickets : NULL,
   };
   bson_t *doc = tk_audit_record_new (&entry);
   bson_destroy (detail);
   return doc;
}

void
api_audit_write (api_call_t *call, mongoc_client_t *client, const char *db)
{
   bson_t *doc = api_audit_record (call);
   tk_error_t err;
   if (!tk_audit_insert (client, db, doc, &err)) {
      TK_WARN ("audit", "cannot write the audit record of %s: %s", call->action, err.message);
   }
   bson_destroy (doc);
}


/* ---- GET /api/audit ------------------------------------------------------ */

typedef struct {
   uint32_t limit;
   char *key_id; /* NULL: any */
   char *action; /* NULL: any */
} audit_query_t;

static void
audit_query_free (void *p)
{
   audit_query_t *q = p;
   if (q) {
      free (q->key_id);
      free (q->action);
      free (q);
   }
}

static void
audit_list_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   audit_query_t *q = call->data;
   mongoc_cursor_t *cursor = tk_audit_find (client, db, q->key_id, q->action, q->limit);
   cJSON *out = cJSON_CreateObject ();
   cJSON *items = cJSON_AddArrayToObject (out, "items");
   bson_error_t e;
   if (!api_bson_cursor_to_json (cursor, items, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      cJSON_Delete (out);
   } else {
      cJSON_AddNumberToObject (out, "count", cJSON_GetArraySize (items));
      api_call_ok (call, 200, out);
   }
   mongoc_cursor_destroy (cursor);
}

static void
audit_list_start (void *ctx)
{
   api_call_run (ctx);
}

static void
audit_list (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   audit_query_t *q = calloc (1, sizeof *q);
   if (!q) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   q->limit = 100;
   size_t cursor = 0;
   const char *key = NULL, *value;
   while ((value = tk_http_query_next (req, NULL, &cursor, &key))) {
      if (!strcmp (key, "limit")) {
         char *end = NULL;
         long v = strtol (value, &end, 10);
         if (!*value || *end || v < 1 || v > 1000) {
            audit_query_free (q);
            api_respond_error (req, 400, "invalid", "limit", "limit: must be from 1 to 1000");
            return;
         }
         q->limit = (uint32_t) v;
      } else if (!strcmp (key, "key_id") || !strcmp (key, "action")) {
         char **slot = key[0] == 'k' ? &q->key_id : &q->action;
         free (*slot);
         if (!tk_utf8_valid (value, strlen (value), NULL) || !(*slot = strdup (value))) {
            audit_query_free (q);
            api_respond_error (req, 400, "invalid", key, "not valid UTF-8");
            return;
         }
      } else {
         audit_query_free (q);
         api_respond_error (req, 400, "invalid", key, "unknown parameter");
         return;
      }
   }
   /* Reading the audit log is itself recorded: who looked, and for what. */
   api_call_t *call = api_call_new (user_data, req, "audit.list", TK_ROLE_ADMIN, true,
                                    audit_list_work);
   call->data = q;
   call->free_data = audit_query_free;
   /* Records queued before this request (reads and refusals answered a
    * moment ago) are written first, so the list shows them. */
   api_audit_queue_after_flush (((api_t *) user_data)->audit_queue, audit_list_start, call);
}

bool
api_routes_audit (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/audit", TK_ROLE_ADMIN, TK_HTTP_BODY_NONE, audit_list, err);
}
