/* routes_tickets.c - GET /api/tickets (filters, sort, keyset pages) and
 * GET /api/tickets/{id}; the listing is shared with
 * GET /api/processed-tickets (api_list_tickets).
 *
 * The default listing (no filter, newest first, with or without a cursor)
 * is answered from the newest tickets kept in the statistics snapshot
 * (newest.h, snapshot.h) when the whole page lies among them, because
 * FerretDB sorts in Go after fetching every document (decision 0006).
 * This api's own writes (POST, PUT, DELETE /api/processed-tickets) are
 * applied to the kept tickets at once; a ticket stored, changed or deleted
 * by another process (ingest, the classifier, another api) since the last
 * scan shows on such a page only after the next one (TRIAGE_API_CACHE_TTL;
 * 0 turns this off, as TRIAGE_API_NEWEST_KEEP=0 does). Everything else (filters, other sorts, a cursor past the kept
 * tickets) queries the database. Both paths render the same bytes for the
 * same data and hand out the same keyset cursors, so a cursor from either
 * continues on either. The response header X-Triage-Source says which
 * answered (snapshot or database). A database page's audit record is
 * written on the threadpool before the response; a snapshot page's is
 * queued and written in a batch just after it (audit_queue.c). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferretdb_doc.h"
#include "list_sql.h"
#include "log.h"
#include "snapshot.h"
#include "ticket_json.h"

typedef struct {
   tk_query_t q;
   char id[TK_TICKET_ID_MAX + 1]; /* get-one: the id */
   bool processed_only;           /* get-one under /api/processed-tickets */
   bool from_snapshot;            /* list: the page came from the snapshot */
   bool from_index;               /* list: its ids came from the side tables */
} list_data_t;

static void
list_data_free (void *p)
{
   list_data_t *d = p;
   if (d) {
      tk_query_cleanup (&d->q);
      free (d);
   }
}

/* A page being rendered: the items so far and what its cursor needs. */
typedef struct {
   const tk_query_t *q;
   cJSON *out, *items;
   uint32_t n;
   bool more;
   char last_cursor[TK_QUERY_CURSOR_MAX]; /* continues after the last item; "" if none can */
} page_t;

static void
page_init (page_t *p, const tk_query_t *q)
{
   memset (p, 0, sizeof *p);
   p->q = q;
   p->out = cJSON_CreateObject ();
   p->items = cJSON_AddArrayToObject (p->out, "items");
}

/* Adds doc to the page; false once the page is full (doc is the first of
 * the next page: there is one). */
static bool
page_add (page_t *p, const bson_t *doc)
{
   tk_error_t err;
   if (p->n == p->q->limit) {
      p->more = true;
      return false;
   }
   cJSON *t = api_ticket_doc_json (doc, &err);
   if (!t) {
      return true; /* a document no valid ticket can come from: skip, never crash */
   }
   char cursor[TK_QUERY_CURSOR_MAX];
   if (tk_query_cursor_of (p->q, doc, cursor, sizeof cursor)) {
      memcpy (p->last_cursor, cursor, sizeof cursor);
   }
   cJSON_AddItemToArray (p->items, t);
   p->n++;
   return true;
}

/* Answers call with the page (taking it over). */
static void
page_answer (api_call_t *call, page_t *p)
{
   cJSON_AddNumberToObject (p->out, "count", p->n);
   cJSON_AddNumberToObject (p->out, "limit", p->q->limit);
   if (p->more && p->last_cursor[0]) {
      cJSON_AddStringToObject (p->out, "next_cursor", p->last_cursor);
   } else {
      cJSON_AddNullToObject (p->out, "next_cursor");
   }
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddNumberToObject (call->audit_detail, "returned", p->n);
   api_call_ok (call, 200, p->out);
   p->out = NULL;
}

/* The page from the side tables' rows (list_sql.h): each document as
 * FerretDB stores it, read with the page (ferretdb_doc.h), or, when it did
 * not come or cannot be read back exactly, from the collection by _id (an
 * indexed lookup, decision 0008): what is shown is what the collection
 * holds. One lookup per id, never one $in: FerretDB answers a $in by
 * reading the whole collection. A ticket deleted between the reads is left
 * out. false (nothing answered) when the database fails. */
static bool
list_by_ids (api_call_t *call, mongoc_client_t *client, const char *db,
             const tk_list_sql_row_t *rows, size_t n)
{
   list_data_t *d = call->data;
   page_t p;
   page_init (&p, &d->q);
   for (size_t i = 0; i < n; i++) {
      if (rows[i].doc) {
         bson_t stored = BSON_INITIALIZER;
         tk_error_t err;
         bool read = tk_ferretdb_doc_to_bson (rows[i].doc, strlen (rows[i].doc), &stored, &err);
         bool full = read && !page_add (&p, &stored);
         bson_destroy (&stored);
         if (full) {
            break;
         }
         if (read) {
            tk_counter_inc (tk_metric_labels (call->api->list_documents, "page"));
            continue;
         }
         TK_DEBUG ("api", "list: ticket %s read from the collection: %s", rows[i].id,
                   err.message);
      }
      tk_counter_inc (tk_metric_labels (call->api->list_documents, "collection"));
      mongoc_cursor_t *cursor = tk_store_tickets_find_id (client, db, rows[i].id);
      const bson_t *doc;
      bson_error_t e;
      bool full = false;
      if (mongoc_cursor_next (cursor, &doc)) {
         full = !page_add (&p, doc);
      } else if (mongoc_cursor_error (cursor, &e)) {
         api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
         mongoc_cursor_destroy (cursor);
         cJSON_Delete (p.out);
         return true;
      }
      mongoc_cursor_destroy (cursor);
      if (full) {
         break;
      }
   }
   page_answer (call, &p);
   return true;
}

/* The ids of the page from the side tables when configured; false when
 * there are none or they decline (the collection answers). */
static bool
list_from_index (api_call_t *call, mongoc_client_t *client, const char *db)
{
   list_data_t *d = call->data;
   api_t *api = call->api;
   if (!api->list_sql) {
      return false;
   }
   tk_list_sql_row_t *rows = NULL;
   size_t n = 0;
   tk_error_t err;
   const char *plan;
   if (tk_list_sql_page (api->list_sql, db, &d->q, &rows, &n, &plan, &err) != TK_LIST_SQL_OK) {
      if (err.domain == TK_ERR_SQL && err.code == 0) {
         TK_WARN ("api", "list: the side tables failed, reading the collection: %s",
                  err.message);
      } else {
         TK_DEBUG ("api", "list: read from the collection: %s", err.message);
      }
      return false;
   }
   d->from_index = true;
   if (d->q.where.text[0]) {
      tk_counter_inc (tk_metric_labels (api->search_pages, plan));
   }
   list_by_ids (call, client, db, rows, n);
   tk_list_sql_rows_free (rows, n);
   return true;
}

static void
list_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   list_data_t *d = call->data;
   if (list_from_index (call, client, db)) {
      return;
   }
   bson_t filter, sort;
   tk_query_page_filter (&d->q, &filter);
   tk_query_sort_doc (&d->q, &sort);
   /* One more than the page: whether there is a next one. */
   const tk_ticket_query_t q = {
      .filter = &filter, .sort = &sort, .limit = (int64_t) d->q.limit + 1};
   mongoc_cursor_t *cursor = tk_store_tickets_find (client, db, &q);
   page_t p;
   page_init (&p, &d->q);
   const bson_t *doc;
   bson_error_t e;
   while (mongoc_cursor_next (cursor, &doc) && page_add (&p, doc)) {
   }
   if (mongoc_cursor_error (cursor, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      cJSON_Delete (p.out);
   } else {
      page_answer (call, &p);
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (&sort);
   bson_destroy (&filter);
}

/* The page rendered from the snapshot is already in call->raw_body: the
 * work is only the audit record the runner writes after it. */
static void
list_snapshot_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   call->status = 200;
}

/* Loop, once the key may read: takes the page from the snapshot when it
 * can, else leaves the call to list_work. A page from the snapshot is
 * answered here at once, its audit record queued to be written after the
 * response (audit_queue.c); when the queue is full it is left to the
 * runner, which writes the record off the loop before answering. */
static bool
list_fast (api_call_t *call)
{
   list_data_t *d = call->data;
   char *body = NULL;
   size_t len = 0;
   uint32_t returned = 0;
   if (api_snapshot_tickets_page (call->api, &d->q, &body, &len, &returned)) {
      d->from_snapshot = true;
      call->raw_body = body;
      call->raw_len = len;
      call->work = list_snapshot_work;
      cJSON_Delete (call->audit_detail);
      call->audit_detail = cJSON_CreateObject ();
      cJSON_AddNumberToObject (call->audit_detail, "returned", returned);
      cJSON_AddStringToObject (call->audit_detail, "source", "snapshot");
      call->status = 200;
      bson_t *record = api_audit_record (call);
      if (api_audit_queue_push (call->api->audit_queue, record)) {
         tk_http_add_header (call->req, "X-Triage-Source", "snapshot");
         tk_http_respond (call->req, 200, "application/json", call->raw_body, call->raw_len);
         return true;
      }
      bson_destroy (record);
   }
   return false;
}

static void
list_done (api_call_t *call)
{
   list_data_t *d = call->data;
   const char *source = d->from_snapshot ? "snapshot" : d->from_index ? "index" : "database";
   tk_http_add_header (call->req, "X-Triage-Source", source);
   tk_counter_inc (tk_metric_labels (call->api->list_pages, source));
   api_call_respond (call);
}

void
api_list_tickets (api_t *api, tk_http_request_t *req, bool processed_only, const char *action)
{
   tk_query_param_t *params = NULL;
   size_t n = 0;
   tk_error_t err;
   if (!api_check_request (req, false) || !api_query_params (req, &params, &n)) {
      return;
   }
   list_data_t *d = calloc (1, sizeof *d);
   if (!d) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   tk_query_param_t *all = params;
   if (processed_only) {
      for (size_t i = 0; i < n; i++) {
         if (!strcmp (params[i].key, "status")) {
            free (d);
            api_respond_error (req, 400, "invalid", "status",
                               "status: not accepted here; every ticket listed is processed");
            return;
         }
      }
      all = tk_http_request_alloc (req, (n + 1) * sizeof *all);
      if (!all) {
         free (d);
         api_respond_error (req, 500, "internal", NULL, "out of memory");
         return;
      }
      memcpy (all, params, n * sizeof *all);
      all[n].key = "status";
      all[n].value = "processed";
      n++;
   }
   if (!tk_query_build (&d->q, all, n, api->tax, TK_QUERY_ALLOW_PAGING, NULL, &err)) {
      free (d);
      api_respond_error (req, 400, "invalid", err.field, err.message);
      return;
   }
   api_call_t *call = api_call_new (api, req, action, TK_ROLE_VIEWER, true, list_work);
   call->data = d;
   call->free_data = list_data_free;
   call->done = list_done;
   if (d->q.sort == TK_SORT_CREATED_DESC && bson_empty (&d->q.filter)) {
      call->fast = list_fast;
   }
   api_call_run (call);
}

static void
get_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   list_data_t *d = call->data;
   mongoc_cursor_t *cursor = tk_store_tickets_find_id (client, db, d->id);
   const bson_t *doc;
   bson_error_t e;
   tk_error_t err;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "id", d->id);
   if (mongoc_cursor_next (cursor, &doc)) {
      cJSON *t = api_ticket_doc_json (doc, &err);
      cJSON *processed = t ? cJSON_GetObjectItemCaseSensitive (t, "processed") : NULL;
      if (!t) {
         api_call_fail (call, 500, "internal", NULL, "stored ticket unreadable: %s", err.message);
      } else if (d->processed_only && !cJSON_IsTrue (processed)) {
         cJSON_Delete (t);
         api_call_fail (call, 404, "not_found", "id", "ticket %s is not processed yet", d->id);
      } else {
         api_call_ok (call, 200, t);
      }
   } else if (mongoc_cursor_error (cursor, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else {
      api_call_fail (call, 404, "not_found", "id", "no ticket with this id");
   }
   mongoc_cursor_destroy (cursor);
}

void
api_get_ticket (api_t *api, tk_http_request_t *req, bool processed_only, const char *action)
{
   if (!api_check_request (req, false)) {
      return;
   }
   const char *id = tk_http_request_param (req, "id");
   if (!api_path_id_ok (req, id)) {
      return;
   }
   if (tk_http_request_query_string (req)[0]) {
      api_respond_error (req, 400, "invalid", NULL, "this route takes no query parameters");
      return;
   }
   list_data_t *d = calloc (1, sizeof *d);
   if (!d) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   snprintf (d->id, sizeof d->id, "%s", id);
   d->processed_only = processed_only;
   api_call_t *call = api_call_new (api, req, action, TK_ROLE_VIEWER, true, get_work);
   call->data = d;
   call->free_data = list_data_free;
   api_call_run (call);
}

static void
tickets_list (tk_http_request_t *req, void *user_data)
{
   api_list_tickets (user_data, req, false, "tickets.list");
}

static void
tickets_get (tk_http_request_t *req, void *user_data)
{
   api_get_ticket (user_data, req, false, "tickets.get");
}

bool
api_routes_tickets (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/tickets", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     tickets_list, err) &&
          api_route (api, "GET", "/api/tickets/{id}", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     tickets_get, err);
}
