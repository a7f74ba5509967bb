/* routes_fetch.c - POST /api/fetch: the unprocessed tickets stored since a
 * point, by stored_at (when the store first held them, store.h), not by
 * created_at: a ticket that arrives late, its created_at in the past, is
 * still new to whoever fetches.
 *
 *   {"mode": "since_last_fetch" | "last_24h" | "last_7d" | "unprocessed",
 *    "limit": 1..10000 (default 1000)}
 * answers
 *   {"mode", "ids": [...], "count", "more", "since": ISO | null,
 *    "cursor": ISO | null}
 *
 * The tickets come oldest stored first; `more` says the limit cut the
 * list. since_last_fetch starts after the calling key's cursor
 * (fetch_cursor.h, kept in the database, so every api replica and every
 * browser of the key agree) and moves it to the newest stored_at it
 * handed out, never further: tickets stored while the fetch ran, or left
 * out by the limit, come with the next one. Tickets sharing that stored_at
 * (one bulk insert gives its whole batch one), and tickets that became
 * visible a little after others stored before them, are not lost either:
 * the next fetch asks again from FETCH_SETTLE_MS before the cursor and
 * leaves out what the key was already given. The other modes start at now
 * minus a day or a week, or take every unprocessed ticket, and leave the
 * cursor where it is; `cursor` in the answer is where it stands after the
 * call (null before the key's first since_last_fetch gave it a ticket).
 */
#include "api.h"
#include "fetch_cursor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define MS_PER_DAY INT64_C (86400000)
#define FETCH_DEFAULT_LIMIT 1000
#define FETCH_MAX_LIMIT 10000
/* How long after its stored_at a ticket may still become visible and be
 * fetched by since_last_fetch: a bulk insert's duration, and the clock
 * difference between writers. */
#define FETCH_SETTLE_MS 10000
/* The most tickets a cursor remembers as given within that window. */
#define FETCH_SEEN_MAX 20000
#define FETCH_ATTEMPTS 3
#define FETCH_BODY_MAX 4096

typedef enum { FETCH_SINCE_LAST, FETCH_LAST_24H, FETCH_LAST_7D, FETCH_UNPROCESSED } fetch_mode_t;

static const char *const fetch_modes[] = {"since_last_fetch", "last_24h", "last_7d",
                                          "unprocessed", NULL};

typedef struct {
   fetch_mode_t mode;
   uint32_t limit;
   /* the answer, built on the threadpool */
   cJSON *ids;
   size_t n;
   bool more;
   bool has_since;
   int64_t since;
   api_fetch_cursor_t cursor;
} fetch_t;

static void
fetch_free (void *p)
{
   fetch_t *f = p;
   if (f) {
      cJSON_Delete (f->ids);
      api_fetch_cursor_cleanup (&f->cursor);
      free (f);
   }
}

/* ---- choosing the tickets (threadpool) ------------------------------- */

/* The filter of f's mode: unprocessed, and stored at or after *since when
 * has_since. */
static bson_t *
mode_filter (fetch_t *f, int64_t now)
{
   f->has_since = true;
   switch (f->mode) {
   case FETCH_LAST_24H: f->since = now - MS_PER_DAY; break;
   case FETCH_LAST_7D: f->since = now - 7 * MS_PER_DAY; break;
   case FETCH_SINCE_LAST:
      f->has_since = f->cursor.has_stored_at;
      f->since = f->cursor.stored_at;
      break;
   case FETCH_UNPROCESSED: f->has_since = false; break;
   }
   if (!f->has_since) {
      return BCON_NEW ("processed", BCON_BOOL (false));
   }
   /* since_last_fetch asks again for the settle window (see the top). */
   int64_t from = f->mode == FETCH_SINCE_LAST ? f->since - FETCH_SETTLE_MS : f->since;
   return BCON_NEW ("processed", BCON_BOOL (false), TK_STORE_STORED_AT, "{", "$gte",
                    BCON_DATE_TIME (from), "}");
}

/* Takes one ticket of the cursor into the answer; false when out of
 * memory. A ticket without stored_at (the start-up backfill has not reached
 * it yet) is handed out but moves no cursor. */
static bool
take (fetch_t *f, const bson_t *doc)
{
   bson_iter_t id, at;
   if (!bson_iter_init_find (&id, doc, "id") || !BSON_ITER_HOLDS_UTF8 (&id)) {
      return true;
   }
   const char *s = bson_iter_utf8 (&id, NULL);
   if (f->mode == FETCH_SINCE_LAST && api_fetch_cursor_seen (&f->cursor, s)) {
      return true; /* given before, within the settle window */
   }
   if (f->n == f->limit) {
      f->more = true;
      return true;
   }
   cJSON_AddItemToArray (f->ids, cJSON_CreateString (s));
   f->n++;
   if (f->mode == FETCH_SINCE_LAST && bson_iter_init_find (&at, doc, TK_STORE_STORED_AT) &&
       BSON_ITER_HOLDS_DATE_TIME (&at)) {
      return api_fetch_cursor_add (&f->cursor, s, bson_iter_date_time (&at));
   }
   return true;
}

/* The tickets of f's mode, oldest stored first, into f->ids. */
static bool
select_tickets (fetch_t *f, mongoc_client_t *client, const char *db, int64_t now,
                bson_error_t *e)
{
   bson_t *filter = mode_filter (f, now);
   bson_t *sort = BCON_NEW (TK_STORE_STORED_AT, BCON_INT32 (1), "id", BCON_INT32 (1));
   bson_t *projection = BCON_NEW ("id", BCON_INT32 (1), TK_STORE_STORED_AT, BCON_INT32 (1));
   /* Room for the tickets left out as seen, and one to tell `more`. */
   size_t seen = f->mode == FETCH_SINCE_LAST ? f->cursor.n_read : 0;
   int64_t limit = (int64_t) f->limit + 1 + (int64_t) seen;
   const tk_ticket_query_t q = {
      .filter = filter, .sort = sort, .projection = projection, .limit = limit};
   mongoc_cursor_t *cursor = tk_store_tickets_find (client, db, &q);
   const bson_t *doc;
   bool ok = true;
   f->ids = cJSON_CreateArray ();
   f->n = 0;
   f->more = false;
   while (ok && !f->more && mongoc_cursor_next (cursor, &doc)) {
      ok = take (f, doc);
   }
   if (!ok) {
      bson_set_error (e, MONGOC_ERROR_CLIENT, 0, "out of memory");
   } else if (mongoc_cursor_error (cursor, e)) {
      ok = false;
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (projection);
   bson_destroy (sort);
   bson_destroy (filter);
   return ok;
}

/* One attempt: read the key's cursor, choose, and (since_last_fetch) write
 * the cursor over the version read. */
static api_fetch_cursor_write_t
fetch_once (api_call_t *call, mongoc_client_t *client, const char *db, bson_error_t *e)
{
   fetch_t *f = call->data;
   int64_t now = tk_time_now_ms ();
   cJSON_Delete (f->ids);
   f->ids = NULL;
   api_fetch_cursor_cleanup (&f->cursor);
   if (!api_fetch_cursor_read (client, db, call->key_id, &f->cursor, e) ||
       !select_tickets (f, client, db, now, e)) {
      return API_FETCH_CURSOR_FAILED;
   }
   if (f->mode != FETCH_SINCE_LAST) {
      return API_FETCH_CURSOR_WRITTEN;
   }
   return api_fetch_cursor_write (client, db, call->key_id, &f->cursor, now, FETCH_SETTLE_MS,
                                  FETCH_SEEN_MAX, e);
}

/* An ISO time, or null when has is false, as member name of obj. */
static void
add_time (cJSON *obj, const char *name, bool has, int64_t ms)
{
   char iso[TK_TIME_ISO_BUFSIZE];
   if (has && tk_time_format_iso (ms, iso, sizeof iso)) {
      cJSON_AddStringToObject (obj, name, iso);
   } else {
      cJSON_AddNullToObject (obj, name);
   }
}

static void
fetch_answer (api_call_t *call)
{
   fetch_t *f = call->data;
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddStringToObject (out, "mode", fetch_modes[f->mode]);
   cJSON_AddItemToObject (out, "ids", f->ids);
   f->ids = NULL;
   cJSON_AddNumberToObject (out, "count", (double) f->n);
   cJSON_AddBoolToObject (out, "more", f->more);
   add_time (out, "since", f->has_since, f->since);
   add_time (out, "cursor", f->cursor.has_stored_at, f->cursor.stored_at);
   call->audit_detail = cJSON_CreateObject ();
   cJSON_AddStringToObject (call->audit_detail, "mode", fetch_modes[f->mode]);
   cJSON_AddNumberToObject (call->audit_detail, "limit", f->limit);
   cJSON_AddNumberToObject (call->audit_detail, "returned", (double) f->n);
   cJSON_AddBoolToObject (call->audit_detail, "more", f->more);
   add_time (call->audit_detail, "since", f->has_since, f->since);
   add_time (call->audit_detail, "cursor", f->cursor.has_stored_at, f->cursor.stored_at);
   api_call_ok (call, 200, out);
}

static void
fetch_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   bson_error_t e;
   for (int attempt = 0; attempt < FETCH_ATTEMPTS; attempt++) {
      switch (fetch_once (call, client, db, &e)) {
      case API_FETCH_CURSOR_WRITTEN: fetch_answer (call); return;
      case API_FETCH_CURSOR_FAILED:
         api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
         return;
      case API_FETCH_CURSOR_CONFLICT: break; /* another fetch of this key: read again */
      }
   }
   api_call_fail (call, 409, "conflict", NULL,
                  "other fetches with this key kept moving its cursor; try again");
}

/* ---- the request (loop) ------------------------------------------------- */

/* The body's mode and limit into f. false, answered 400, when the body is
 * not {"mode": one of fetch_modes, "limit"?: 1..FETCH_MAX_LIMIT}. */
static bool
parse_fetch_body (tk_http_request_t *req, const cJSON *body, fetch_t *f)
{
   const cJSON *item;
   cJSON_ArrayForEach (item, body)
   {
      if (strcmp (item->string, "mode") && strcmp (item->string, "limit")) {
         api_respond_error (req, 400, "invalid", item->string,
                            "unknown member: the body takes mode and limit");
         return false;
      }
   }
   const cJSON *mode = cJSON_GetObjectItemCaseSensitive (body, "mode");
   int m = -1;
   for (int i = 0; cJSON_IsString (mode) && fetch_modes[i]; i++) {
      m = strcmp (mode->valuestring, fetch_modes[i]) ? m : i;
   }
   if (m < 0) {
      api_respond_error (req, 400, "invalid", "mode",
                         "mode: one of since_last_fetch, last_24h, last_7d, unprocessed");
      return false;
   }
   f->mode = (fetch_mode_t) m;
   const cJSON *limit = cJSON_GetObjectItemCaseSensitive (body, "limit");
   f->limit = FETCH_DEFAULT_LIMIT;
   if (limit) {
      double v = cJSON_IsNumber (limit) ? limit->valuedouble : -1;
      if (v < 1 || v > FETCH_MAX_LIMIT || v != (double) (uint32_t) v) {
         api_respond_error (req, 400, "invalid", "limit", "limit: an integer from 1 to 10000");
         return false;
      }
      f->limit = (uint32_t) v;
   }
   return true;
}

static void
fetch_post (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, true)) {
      return;
   }
   cJSON *body = api_parse_body (req, FETCH_BODY_MAX);
   if (!body) {
      return;
   }
   fetch_t *f = calloc (1, sizeof *f);
   if (!f) {
      api_respond_error (req, 500, "internal", NULL, "out of memory");
   } else if (!cJSON_IsObject (body)) {
      api_respond_error (req, 400, "invalid", "body", "the body must be a JSON object");
   } else if (parse_fetch_body (req, body, f)) {
      api_call_t *call =
         api_call_new (user_data, req, "tickets.fetch", TK_ROLE_OPERATOR, true, fetch_work);
      call->data = f;
      call->free_data = fetch_free;
      f = NULL;
      api_call_run (call);
   }
   fetch_free (f);
   cJSON_Delete (body);
}

bool
api_routes_fetch (api_t *api, tk_error_t *err)
{
   return api_route (api, "POST", "/api/fetch", TK_ROLE_OPERATOR, FETCH_BODY_MAX, fetch_post, err);
}
