/* routes_processed.c - the spec's /api/processed-tickets routes: list, get,
 * store a classified ticket, correct a classification by hand, delete.
 *
 * A write that succeeded is shown at once in the default listing served
 * from the snapshot: the work function re-reads the stored document and
 * renders it exactly as the listing does (api_ticket_doc_json,
 * unformatted), and the done function hands that to the snapshot on the
 * loop (api_snapshot_ticket_put / _deleted, snapshot.h). */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "key_store.h"
#include "pii_mask.h"
#include "snapshot.h"
#include "store.h"
#include "ticket_bson.h"
#include "ticket_json.h"
#include "timeutil.h"

#define API_BODY_MAX TK_TICKET_JSON_MAX

typedef struct {
   char id[TK_TICKET_ID_MAX + 1];
   tk_ticket_t *ticket; /* POST: the parsed ticket; PUT: the new classification */
   bool has_confidence; /* PUT: confidence_scores were given */
   char *note;          /* PUT: optional reason */
   char by_name[128];   /* PUT: the correcting key's name, "" when it has none */
   bool store_masked;   /* TRIAGE_STORE_MASKED: mask the ticket (POST), the note (PUT) */
   tk_store_t *store;
   /* POST, PUT: the stored document as the listing shows it. */
   api_newest_entry_t entry;
   api_t *flight_api; /* set while the write is in flight (snapshot.h) */
   char flight_id[TK_TICKET_ID_MAX + 1];
} write_data_t;

/* Queues the write of ticket id for call, tracked as in flight until the
 * call is freed (api_snapshot_write_begin). */
static void
write_run (api_call_t *call, write_data_t *d, const char *id)
{
   snprintf (d->flight_id, sizeof d->flight_id, "%s", id);
   d->flight_api = call->api;
   api_snapshot_write_begin (call->api, d->flight_id);
   api_call_run (call);
}

static void
write_data_free (void *p)
{
   write_data_t *d = p;
   if (d && d->flight_api) {
      api_snapshot_write_end (d->flight_api, d->flight_id);
   }
   if (d) {
      tk_ticket_destroy (d->ticket);
      free (d->note);
      api_newest_entry_clear (&d->entry);
      free (d);
   }
}

static write_data_t *
write_data_new (tk_http_request_t *req)
{
   write_data_t *d = calloc (1, sizeof *d);
   if (!d) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
   }
   return d;
}

/* Reads the {id} path parameter into d->id; responds 400 (404) if it is
 * bad (longer than any stored id). */
static bool
path_id (tk_http_request_t *req, write_data_t *d)
{
   const char *id = tk_http_request_param (req, "id");
   if (!api_path_id_ok (req, id)) {
      return false;
   }
   snprintf (d->id, sizeof d->id, "%s", id);
   return true;
}

/* Loop, after a successful POST or PUT: the listing's window shows it. */
static void
stored_done (api_call_t *call)
{
   write_data_t *d = call->data;
   api_snapshot_ticket_put (call->api, d->entry.placed, d->entry.ms,
                            d->entry.id[0] ? d->entry.id : NULL, d->entry.json, d->entry.len);
   d->entry.json = NULL;
   api_call_respond (call);
}

/* ---- GET ------------------------------------------------------------------ */

static void
processed_list (tk_http_request_t *req, void *user_data)
{
   api_list_tickets (user_data, req, true, "processed.list");
}

static void
processed_get (tk_http_request_t *req, void *user_data)
{
   api_get_ticket (user_data, req, true, "processed.get");
}

/* ---- POST: store a ticket with its classification ------------------------ */

/* The answer of a POST: the stored document, read once: the answer is the
 * ticket as stored, the listing's window gets it as the listing renders
 * it. */
static void
answer_stored (api_call_t *call, mongoc_client_t *client, const char *db, const char *id)
{
   write_data_t *d = call->data;
   mongoc_cursor_t *cursor = tk_store_tickets_find_id (client, db, id);
   const bson_t *doc;
   bson_error_t e;
   tk_error_t err;
   cJSON *json = NULL;
   if (!mongoc_cursor_next (cursor, &doc)) {
      if (mongoc_cursor_error (cursor, &e)) {
         api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      } else {
         api_call_fail (call, 404, "not_found", "id", "no ticket with id \"%s\"", id);
      }
   } else if ((json = api_ticket_doc_json (doc, &err))) {
      /* The answer is the ticket as the listing shows it (stored_at too). */
      api_newest_entry_set (&d->entry, doc, json);
      api_call_ok (call, 201, json);
   } else {
      api_call_fail_err (call, &err);
   }
   mongoc_cursor_destroy (cursor);
}

static void
post_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   write_data_t *d = call->data;
   tk_ticket_t *t = d->ticket;
   tk_insert_result_t res;
   tk_error_t err;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "id", t->id);
   /* TRIAGE_STORE_MASKED: the raw text never reaches the database. Masked
    * here, on the worker thread, so a long body costs the loop nothing. */
   size_t masked = 0;
   if (d->store_masked && (!tk_pii_mask_replace (&t->subject, &masked) ||
                           !tk_pii_mask_replace (&t->body, &masked))) {
      memset (&res, 0, sizeof res);
      api_call_fail (call, 500, "internal", NULL, "out of memory");
      goto done;
   }
   if (d->store_masked) {
      cJSON_AddNumberToObject (call->audit_detail, "masked", (double) masked);
   }
   if (!tk_store_insert_tickets (d->store, &t, 1, &res, &err)) {
      api_call_fail_err (call, &err);
      goto done;
   }
   if (res.n_duplicate) {
      api_call_fail (call, 409, "conflict", "id",
                     "a ticket with this id is stored already; use PUT to correct it");
      goto done;
   }
   if (res.n_failed) {
      api_call_fail (call, 422, "unprocessable", NULL, "the ticket was not stored: %s",
                     res.items[0].message);
      goto done;
   }
   tk_audit_ids_add (&call->tickets, t->id);
   if (!tk_store_update_ticket_with_classification (d->store, t->id, &t->classification,
                                                    &t->confidence, &t->metadata, &err)) {
      api_call_fail_err (call, &err);
      goto done;
   }
   answer_stored (call, client, db, t->id);
done:
   tk_insert_result_cleanup (&res);
}

static void
processed_post (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   size_t len = 0;
   tk_error_t err;
   if (!api_check_request (req, true)) {
      return;
   }
   const char *body = tk_http_request_body (req, &len);
   write_data_t *d = write_data_new (req);
   if (!d) {
      return;
   }
   if (!(d->ticket = tk_ticket_parse_processed_json (body, len, api->tax, &err))) {
      write_data_free (d);
      api_respond_error (req, 400, "invalid", err.field[0] ? err.field : NULL, err.message);
      return;
   }
   tk_ticket_t *t = d->ticket;
   if (!t->metadata.processed_at) {
      t->metadata.processed_at = tk_time_now_ms ();
   }
   if (!t->source) {
      t->source = strdup ("api");
   }
   if (!t->metadata.model_version) {
      t->metadata.model_version = strdup ("manual");
   }
   /* A client's classification is judged by the same rule as the
    * classifier's own answers. */
   t->metadata.needs_review =
      tk_threshold_any_below (&t->confidence, &api->app->cfg.review_threshold);
   d->store = api->app->store;
   d->store_masked = api->app->cfg.store_masked;
   api_call_t *call = api_call_new (api, req, "processed.create", TK_ROLE_OPERATOR, true,
                                    post_work);
   call->writes = true;
   call->data = d;
   call->free_data = write_data_free;
   call->done = stored_done;
   write_run (call, d, t->id);
}

/* ---- PUT: correct a classification by hand ------------------------------- */

/* The update of a correction: the new labels, who corrected and when, and
 * the correction (with the labels it replaced) pushed onto the ticket's
 * history; doc is the ticket as stored. */
static void
correction_update (api_call_t *call, const bson_t *doc, int64_t now, const char *iso,
                   bson_t *update)
{
   write_data_t *d = call->data;
   tk_ticket_t *t = d->ticket;
   bson_t set, push, entry;
   bson_iter_t it;
   bool had_processed_at = bson_iter_init (&it, doc) &&
                           bson_iter_find_descendant (&it, "processing_metadata.processed_at", &it);
   bson_t previous;
   bool has_previous = false;
   if (bson_iter_init_find (&it, doc, "classification") && BSON_ITER_HOLDS_DOCUMENT (&it)) {
      const uint8_t *data;
      uint32_t len;
      bson_iter_document (&it, &len, &data);
      has_previous = bson_init_static (&previous, data, len);
   }

   BSON_APPEND_DOCUMENT_BEGIN (update, "$set", &set);
   BSON_APPEND_BOOL (&set, "processed", true);
   tk_classification_append_bson (&set, "classification", &t->classification);
   if (d->has_confidence || !bson_has_field (doc, "confidence_scores")) {
      tk_confidence_append_bson (&set, "confidence_scores", &t->confidence);
   }
   if (!had_processed_at) {
      BSON_APPEND_DATE_TIME (&set, "processing_metadata.processed_at", now);
      BSON_APPEND_UTF8 (&set, "processing_metadata.model_version", "manual");
      BSON_APPEND_INT64 (&set, "processing_metadata.processing_time_ms", 0);
   }
   BSON_APPEND_UTF8 (&set, "processing_metadata.corrected_by", call->key_id);
   BSON_APPEND_UTF8 (&set, "processing_metadata.corrected_by_name", d->by_name);
   BSON_APPEND_DATE_TIME (&set, "processing_metadata.corrected_at", now);
   /* A person has looked: the ticket leaves the review queue. */
   BSON_APPEND_BOOL (&set, "needs_review", false);
   BSON_APPEND_DATE_TIME (&set, "updated_at", now);
   bson_append_document_end (update, &set);
   BSON_APPEND_DOCUMENT_BEGIN (update, "$push", &push);
   BSON_APPEND_DOCUMENT_BEGIN (&push, "corrections", &entry);
   BSON_APPEND_UTF8 (&entry, "by", call->key_id);
   BSON_APPEND_UTF8 (&entry, "by_name", d->by_name);
   BSON_APPEND_UTF8 (&entry, "at", iso);
   if (has_previous) {
      BSON_APPEND_DOCUMENT (&entry, "previous", &previous);
   }
   tk_classification_append_bson (&entry, "classification", &t->classification);
   if (d->note) {
      BSON_APPEND_UTF8 (&entry, "note", d->note);
   }
   bson_append_document_end (&push, &entry);
   bson_append_document_end (update, &push);
}

static void
put_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   write_data_t *d = call->data;
   bson_t *filter = tk_store_id_filter (d->id);
   mongoc_cursor_t *cursor = tk_store_tickets_find_id (client, db, d->id);
   const bson_t *doc;
   bson_error_t e;
   bson_t update = BSON_INITIALIZER;
   tk_error_t err;
   int64_t now = tk_time_now_ms ();
   char iso[TK_TIME_ISO_BUFSIZE];
   tk_time_format_iso (now, iso, sizeof iso);

   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "id", d->id);
   /* TRIAGE_STORE_MASKED: a correction's note is free text like a ticket's
    * and is masked the same way before it is stored. */
   size_t masked = 0;
   if (d->store_masked && !tk_pii_mask_replace (&d->note, &masked)) {
      api_call_fail (call, 500, "internal", NULL, "out of memory");
      goto done;
   }
   if (d->store_masked && d->note) {
      cJSON_AddNumberToObject (call->audit_detail, "masked", (double) masked);
   }
   if (!mongoc_cursor_next (cursor, &doc)) {
      if (mongoc_cursor_error (cursor, &e)) {
         api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      } else {
         api_call_fail (call, 404, "not_found", "id", "no ticket with this id");
      }
      goto done;
   }
   tk_key_store_name (client, db, call->key_id, d->by_name, sizeof d->by_name);
   correction_update (call, doc, now, iso, &update);
   int64_t matched = 0;
   if (!tk_store_tickets_update_one (client, db, filter, &update, &matched, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
      goto done;
   }
   if (matched > 0) {
      tk_audit_ids_add (&call->tickets, d->id);
   }
   mongoc_cursor_destroy (cursor);
   cursor = tk_store_tickets_find_id (client, db, d->id);
   cJSON *json = NULL;
   if (mongoc_cursor_next (cursor, &doc) && (json = api_ticket_doc_json (doc, &err))) {
      api_newest_entry_set (&d->entry, doc, json);
      api_call_ok (call, 200, json);
   } else {
      api_call_fail (call, 404, "not_found", "id", "the ticket was deleted meanwhile");
   }
done:
   bson_destroy (&update);
   mongoc_cursor_destroy (cursor);
   bson_destroy (filter);
}

/* The correction in body, validated by the same parser as a stored ticket:
 * the path supplies the identity, the body the classification (and, if the
 * corrector wants, confidence scores; by default a person is sure) and an
 * optional note. Into d; false, answered 400, when it is not valid. */
static bool
parse_correction (api_t *api, tk_http_request_t *req, const cJSON *body, write_data_t *d)
{
   tk_error_t err;
   cJSON *classification = cJSON_GetObjectItemCaseSensitive (body, "classification");
   cJSON *confidence = cJSON_GetObjectItemCaseSensitive (body, "confidence_scores");
   cJSON *note = cJSON_GetObjectItemCaseSensitive (body, "note");
   if (!cJSON_IsObject (body) || !classification) {
      api_respond_error (req, 400, "invalid", "classification",
                         "classification: required, an object with topic_tags, sentiment and "
                         "priority");
      return false;
   }
   if (note && (!cJSON_IsString (note) || strlen (note->valuestring) > 1024)) {
      api_respond_error (req, 400, "invalid", "note", "note: a string of at most 1024 bytes");
      return false;
   }
   cJSON *probe = cJSON_CreateObject ();
   cJSON_AddStringToObject (probe, "id", d->id);
   cJSON_AddStringToObject (probe, "subject", "-");
   cJSON_AddStringToObject (probe, "body", "-");
   cJSON_AddItemToObject (probe, "classification", cJSON_Duplicate (classification, true));
   if (confidence) {
      cJSON_AddItemToObject (probe, "confidence_scores", cJSON_Duplicate (confidence, true));
      d->has_confidence = true;
   } else {
      cJSON *c = cJSON_AddObjectToObject (probe, "confidence_scores");
      cJSON_AddNumberToObject (c, "topic", 1);
      cJSON_AddNumberToObject (c, "sentiment", 1);
      cJSON_AddNumberToObject (c, "priority", 1);
   }
   d->ticket = tk_ticket_from_processed_json (probe, api->tax, &err);
   cJSON_Delete (probe);
   if (!d->ticket) {
      api_respond_error (req, 400, "invalid", err.field[0] ? err.field : NULL, err.message);
      return false;
   }
   if (note) {
      d->note = strdup (note->valuestring);
   }
   d->store_masked = api->app->cfg.store_masked;
   return true;
}

static void
processed_put (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   if (!api_check_request (req, true)) {
      return;
   }
   write_data_t *d = write_data_new (req);
   if (!d || !path_id (req, d)) {
      write_data_free (d);
      return;
   }
   cJSON *body = api_parse_body (req, API_BODY_MAX);
   if (!body) {
      write_data_free (d);
      return;
   }
   bool ok = parse_correction (api, req, body, d);
   cJSON_Delete (body);
   if (!ok) {
      write_data_free (d);
      return;
   }
   api_call_t *call = api_call_new (api, req, "processed.correct", TK_ROLE_ADMIN, true,
                                    put_work);
   call->writes = true;
   call->data = d;
   call->free_data = write_data_free;
   call->done = stored_done;
   write_run (call, d, d->id);
}

/* ---- DELETE -------------------------------------------------------------- */

static void
delete_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   write_data_t *d = call->data;
   bson_t *filter = tk_store_id_filter (d->id);
   int64_t n = 0;
   bson_error_t e;
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "id", d->id);
   if (!tk_store_tickets_delete (client, db, filter, false, &n, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else {
      if (n == 0) {
         api_call_fail (call, 404, "not_found", "id", "no ticket with this id");
      } else {
         tk_audit_ids_add (&call->tickets, d->id);
         cJSON *out = cJSON_CreateObject ();
         cJSON_AddStringToObject (out, "deleted", d->id);
         api_call_ok (call, 200, out);
      }
   }
   bson_destroy (filter);
}

/* Loop, after a successful DELETE: the ticket leaves the listing's window. */
static void
deleted_done (api_call_t *call)
{
   write_data_t *d = call->data;
   api_snapshot_ticket_deleted (call->api, d->id);
   api_call_respond (call);
}

static void
processed_delete (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   write_data_t *d = write_data_new (req);
   if (!d || !path_id (req, d)) {
      write_data_free (d);
      return;
   }
   api_call_t *call = api_call_new (user_data, req, "processed.delete", TK_ROLE_ADMIN, true,
                                    delete_work);
   call->writes = true;
   call->data = d;
   call->free_data = write_data_free;
   call->done = deleted_done;
   write_run (call, d, d->id);
}

bool
api_routes_processed (api_t *api, tk_error_t *err)
{
   return api_route (api, "GET", "/api/processed-tickets", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     processed_list, err) &&
          api_route (api, "GET", "/api/processed-tickets/{id}", TK_ROLE_VIEWER, TK_HTTP_BODY_NONE,
                     processed_get, err) &&
          api_route (api, "POST", "/api/processed-tickets", TK_ROLE_OPERATOR, TK_HTTP_BODY_JSON,
                     processed_post, err) &&
          api_route (api, "PUT", "/api/processed-tickets/{id}", TK_ROLE_ADMIN, TK_HTTP_BODY_JSON,
                     processed_put, err) &&
          api_route (api, "DELETE", "/api/processed-tickets/{id}", TK_ROLE_ADMIN, TK_HTTP_BODY_NONE,
                     processed_delete, err);
}
