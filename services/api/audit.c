/* audit.c - the audit_log collection: one record per request that reads
 * ticket data or changes anything (refused ones too), and GET /api/audit.
 *
 * A record: {at, key_id, role, method, route, path, query, action, status,
 * detail}. The record is written on the worker thread right after the
 * route's work, so its status is the one the client gets (a processing job
 * whose Kafka publishing later fails still shows as accepted: the job's own
 * status tells the rest). A failed audit write is logged, not fatal. */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"
#include "utf8.h"

#define AUDIT_QUERY_MAX 2048

bson_t *
api_audit_record (const api_call_t *call)
{
   bson_t *docp = bson_new ();
   bson_t *detail = NULL;
   bson_error_t e;
   const tk_http_request_t *req = call->req;
   const char *route = tk_http_request_route (req);
   const char *query = tk_http_request_query_string (req);
   char qbuf[AUDIT_QUERY_MAX + 1];
   size_t qlen = strlen (query);
   if (qlen > AUDIT_QUERY_MAX) {
      qlen = tk_utf8_prefix_len (query, qlen, AUDIT_QUERY_MAX);
   }
   memcpy (qbuf, query, qlen);
   qbuf[qlen] = '\0';

   BSON_APPEND_DATE_TIME (docp, "at", tk_time_now_ms ());
   BSON_APPEND_UTF8 (docp, "key_id", call->key_id[0] ? call->key_id : "unknown");
   BSON_APPEND_UTF8 (docp, "role", tk_role_name (call->role));
   BSON_APPEND_UTF8 (docp, "method", tk_http_request_method (req));
   BSON_APPEND_UTF8 (docp, "route", route ? route : "");
   if (tk_utf8_valid (tk_http_request_path (req), strlen (tk_http_request_path (req)), NULL)) {
      BSON_APPEND_UTF8 (docp, "path", tk_http_request_path (req));
   }
   if (tk_utf8_valid (qbuf, qlen, NULL)) {
      BSON_APPEND_UTF8 (docp, "query", qbuf);
   }
   BSON_APPEND_UTF8 (docp, "action", call->action);
   BSON_APPEND_INT32 (docp, "status", call->status ? call->status : 200);
   if (call->audit_detail) {
      char *text = cJSON_PrintUnformatted (call->audit_detail);
      if (text && (detail = bson_new_from_json ((const uint8_t *) text, -1, &e))) {
         BSON_APPEND_DOCUMENT (docp, "detail", detail);
      }
      cJSON_free (text);
   }
   bson_destroy (detail);
   return docp;
}

void
api_audit_write (api_call_t *call, mongoc_client_t *client, const char *db)
{
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, API_AUDIT_COLLECTION);
   bson_t *doc = api_audit_record (call);
   bson_error_t e;
   if (!mongoc_collection_insert_one (coll, doc, NULL, NULL, &e)) {
      TK_WARN ("audit", "cannot write the audit record of %s: %s", call->action, e.message);
   }
   bson_destroy (doc);
   mongoc_collection_destroy (coll);
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
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, API_AUDIT_COLLECTION);
   bson_t filter = BSON_INITIALIZER;
   if (q->key_id) {
      BSON_APPEND_UTF8 (&filter, "key_id", q->key_id);
   }
   if (q->action) {
      BSON_APPEND_UTF8 (&filter, "action", q->action);
   }
   bson_t *opts = BCON_NEW ("sort", "{", "at", BCON_INT32 (-1), "}", "limit",
                            BCON_INT64 (q->limit));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, &filter, opts, NULL);
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
   bson_destroy (opts);
   bson_destroy (&filter);
   mongoc_collection_destroy (coll);
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
   api_call_t *call = api_call_new (user_data, req, "audit.list", TK_ROLE_ADMIN, false,
                                    audit_list_work);
   call->data = q;
   call->free_data = audit_query_free;
   api_call_run (call);
}

bool
api_routes_audit (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/audit", TK_ROLE_ADMIN, TK_HTTP_BODY_NONE, audit_list, err);
}
