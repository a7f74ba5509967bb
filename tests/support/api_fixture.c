/* api_fixture.c - see api_fixture.h. */
#include "api_fixture.h"

#include "kafka.h"
#include "store_fixture.h"
#include "test_support.h"
#include "ticket.h"

#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FX_MAX_ENV 24

bool
tk_api_fx_setup (tk_api_fx_t *fx, const char *db_prefix, const char *topic_prefix,
                 const char *admin_key)
{
   tk_error_t err;
   memset (fx, 0, sizeof *fx);
   fx->admin_key = admin_key;
   fx->store = tk_test_store_open (db_prefix, fx->db_name, sizeof fx->db_name, 4);
   if (!fx->store) {
      return false;
   }
   snprintf (fx->vars[0], sizeof fx->vars[0], "TRIAGE_MONGO_DB=%s", fx->db_name);
   snprintf (fx->vars[1], sizeof fx->vars[1], "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (fx->vars[2], sizeof fx->vars[2], "TRIAGE_KAFKA_BROKERS=%s",
             tk_test_kafka_brokers ());
   if (topic_prefix) {
      tk_test_unique_name (topic_prefix, fx->topic, sizeof fx->topic);
      snprintf (fx->vars[3], sizeof fx->vars[3], "TRIAGE_TOPIC_CLASSIFY=%s", fx->topic);
      const char *names[] = {fx->topic};
      if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 1, 3, -1, 20000,
                                   &err)) {
         fprintf (stderr, "create topic %s: %s\n", fx->topic, err.message);
         fx->topic[0] = '\0';
         tk_test_store_drop (fx->store); /* no teardown follows a failed setup */
         fx->store = NULL;
         return false;
      }
   }
   return true;
}

bool
tk_api_fx_start (tk_api_fx_t *fx, tk_test_service_t *svc, const char *name,
                 const char *const *extra)
{
   char admin[256];
   const char *env[FX_MAX_ENV];
   size_t n = 0;
   snprintf (admin, sizeof admin, "TRIAGE_ADMIN_KEY=%s", fx->admin_key);
   for (size_t i = 0; i < 4; i++) {
      if (fx->vars[i][0]) {
         env[n++] = fx->vars[i];
      }
   }
   env[n++] = admin;
   for (size_t i = 0; extra && extra[i]; i++) {
      assert_true (n < FX_MAX_ENV - 1);
      env[n++] = extra[i];
   }
   env[n] = NULL;
   return tk_test_service_start (svc, name, env, 20000);
}

int
tk_api_fx_stop (tk_test_service_t *svc)
{
   int rc = tk_test_service_stop (svc, SIGTERM, 15000);
   if (rc != 0) {
      tk_test_service_dump_log (svc);
   }
   return rc;
}

int
tk_api_fx_teardown (tk_api_fx_t *fx)
{
   tk_error_t err;
   int rc = tk_api_fx_stop (&fx->svc);
   if (!tk_test_store_drop (fx->store)) {
      rc = -1;
   }
   fx->store = NULL;
   if (fx->topic[0]) {
      const char *names[] = {fx->topic};
      tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 20000, &err);
   }
   return rc == 0 ? 0 : -1;
}

int
tk_api_fx_group_teardown (void **state)
{
   return tk_api_fx_teardown (*state);
}

/* ---- HTTP ------------------------------------------------------------------------ */

/* A growing buffer for what curl hands over: the body (which may hold NUL
 * bytes, hence the length) and the header lines. */
typedef struct {
   char *data;
   size_t len;
} fx_buf_t;

static size_t
append (char *data, size_t size, size_t n, void *ud)
{
   fx_buf_t *b = ud;
   size_t add = size * n;
   char *grown = realloc (b->data, b->len + add + 1);
   if (!grown) {
      return 0;
   }
   memcpy (grown + b->len, data, add);
   b->len += add;
   grown[b->len] = '\0';
   b->data = grown;
   return add;
}

tk_api_fx_resp_t
tk_api_fx_request (const tk_test_service_t *svc, const char *method, const char *path,
                   const char *key, const char *body, size_t body_len, const char *content_type)
{
   tk_api_fx_resp_t r;
   fx_buf_t body_buf = {NULL, 0}, header_buf = {NULL, 0};
   char url[2048], line[512];
   struct curl_slist *hl = NULL;
   memset (&r, 0, sizeof r);
   snprintf (url, sizeof url, "%s%s", svc->base_url, path);
   if (key) {
      snprintf (line, sizeof line, "Authorization: Bearer %s", key);
      hl = curl_slist_append (hl, line);
   }
   if (content_type) {
      snprintf (line, sizeof line, "Content-Type: %s", content_type);
      hl = curl_slist_append (hl, line);
   }
   CURL *c = curl_easy_init ();
   assert_non_null (c);
   curl_easy_setopt (c, CURLOPT_URL, url);
   curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, method);
   curl_easy_setopt (c, CURLOPT_NOBODY, strcmp (method, "HEAD") == 0 ? 1L : 0L);
   curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
   curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, 120000L);
   curl_easy_setopt (c, CURLOPT_HTTPHEADER, hl);
   curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, append);
   curl_easy_setopt (c, CURLOPT_WRITEDATA, &body_buf);
   curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, append);
   curl_easy_setopt (c, CURLOPT_HEADERDATA, &header_buf);
   if (body) {
      curl_easy_setopt (c, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
   }
   CURLcode rc = curl_easy_perform (c);
   char *ct = NULL;
   curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &r.status);
   curl_easy_getinfo (c, CURLINFO_CONTENT_TYPE, &ct);
   snprintf (r.content_type, sizeof r.content_type, "%s", ct ? ct : "");
   curl_slist_free_all (hl);
   curl_easy_cleanup (c);
   r.body = body_buf.data ? body_buf.data : calloc (1, 1);
   r.body_len = body_buf.len;
   r.headers = header_buf.data;
   if (rc != CURLE_OK || !r.body) {
      /* Freed before failing: cmocka does not come back here. */
      tk_api_fx_resp_free (&r);
      fail_msg ("%s %s: %s", method, url, curl_easy_strerror (rc));
   }
   r.json = cJSON_Parse (r.body);
   return r;
}

tk_api_fx_resp_t
tk_api_fx_call (const tk_test_service_t *svc, const char *method, const char *path,
                const char *key, const char *json_body)
{
   return tk_api_fx_request (svc, method, path, key, json_body,
                             json_body ? strlen (json_body) : 0,
                             json_body ? "application/json" : NULL);
}

const char *
tk_api_fx_header (const tk_api_fx_resp_t *r, const char *name, char *buf, size_t cap)
{
   size_t nlen = strlen (name);
   buf[0] = '\0';
   for (const char *at = r->headers; at && *at;) {
      if (!strncasecmp (at, name, nlen) && at[nlen] == ':') {
         const char *v = at + nlen + 1;
         while (*v == ' ') {
            v++;
         }
         snprintf (buf, cap, "%.*s", (int) strcspn (v, "\r\n"), v);
      }
      at = strchr (at, '\n');
      at = at ? at + 1 : NULL;
   }
   return buf;
}

void
tk_api_fx_resp_free (tk_api_fx_resp_t *r)
{
   cJSON_Delete (r->json);
   free (r->body);
   free (r->headers);
   memset (r, 0, sizeof *r);
}

void
tk_api_fx_make_key (tk_api_fx_t *fx, const char *role, const char *name, char *out, size_t cap)
{
   char body[256];
   if (name) {
      snprintf (body, sizeof body, "{\"role\":\"%s\",\"name\":\"%s\"}", role, name);
   } else {
      snprintf (body, sizeof body, "{\"role\":\"%s\"}", role);
   }
   tk_api_fx_resp_t r = tk_api_fx_call (&fx->svc, "POST", "/api/keys", fx->admin_key, body);
   assert_int_equal (r.status, 201);
   const char *key = tk_api_fx_str (r.json, "key");
   assert_non_null (key);
   snprintf (out, cap, "%s", key);
   tk_api_fx_resp_free (&r);
}

void
tk_api_fx_make_role_keys (tk_api_fx_t *fx)
{
   tk_api_fx_make_key (fx, "viewer", NULL, fx->viewer_key, sizeof fx->viewer_key);
   tk_api_fx_make_key (fx, "operator", NULL, fx->operator_key, sizeof fx->operator_key);
}

/* ---- JSON ------------------------------------------------------------------------- */

double
tk_api_fx_num (const cJSON *obj, const char *key)
{
   cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   if (!cJSON_IsNumber (v)) {
      fprintf (stderr, "no number at %s\n", key);
   }
   assert_true (cJSON_IsNumber (v));
   return v->valuedouble;
}

const char *
tk_api_fx_str (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   return cJSON_IsString (v) ? v->valuestring : NULL;
}

/* ---- the database ----------------------------------------------------------------- */

void
tk_api_fx_seed (tk_api_fx_t *fx, const char *id, const char *subject, const char *body,
                int64_t created_at)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup (subject);
   t->body = strdup (body);
   t->created_at = created_at;
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (fx->store, &t, 1, &res, &err));
   assert_int_equal (res.n_stored, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
}

void
tk_api_fx_classify (tk_api_fx_t *fx, const char *id, const char *tag1, const char *tag2,
                    const char *sentiment, const char *priority, double ct, double cs, double cp,
                    int64_t time_ms, const char *model, int64_t processed_at)
{
   tk_classification_t c = {{(char *) tag1, (char *) tag2}, tag2 ? 2 : 1, (char *) sentiment,
                            (char *) priority};
   tk_confidence_t cf = {ct, cs, cp};
   tk_processing_metadata_t m = {processed_at, (char *) model, time_ms, "1.0", false, 0};
   tk_error_t err;
   assert_true (
      tk_store_update_ticket_with_classification (fx->store, id, &c, &cf, &m, &err));
}

mongoc_collection_t *
tk_api_fx_collection (tk_api_fx_t *fx, const char *name)
{
   assert_null (fx->borrowed);
   fx->borrowed = tk_store_client_pop (fx->store);
   assert_non_null (fx->borrowed);
   return mongoc_client_get_collection (fx->borrowed, fx->db_name, name);
}

void
tk_api_fx_collection_release (tk_api_fx_t *fx, mongoc_collection_t *coll)
{
   mongoc_collection_destroy (coll);
   tk_store_client_push (fx->store, fx->borrowed);
   fx->borrowed = NULL;
}

void
tk_api_fx_insert_range (tk_api_fx_t *fx, tk_api_fx_doc_fn make, const char *prefix, int from,
                        int to)
{
   mongoc_collection_t *coll = tk_api_fx_collection (fx, "tickets");
   enum { BATCH = 500 };
   bson_t docs[BATCH];
   const bson_t *ptrs[BATCH];
   for (int i = from; i < to;) {
      int n = 0;
      for (; n < BATCH && i < to; n++, i++) {
         make (i, prefix, &docs[n]);
         ptrs[n] = &docs[n];
      }
      bson_error_t e;
      bool ok = mongoc_collection_insert_many (coll, ptrs, (size_t) n, NULL, NULL, &e);
      for (int k = 0; k < n; k++) {
         bson_destroy (&docs[k]);
      }
      if (!ok) {
         tk_api_fx_collection_release (fx, coll);
         fail_msg ("insert_many: %s", e.message);
      }
   }
   tk_api_fx_collection_release (fx, coll);
}

double
tk_api_fx_metric (const tk_test_service_t *svc, const char *series)
{
   tk_test_http_response_t r;
   double v = -1;
   if (!tk_test_http ("GET", svc->metrics_url, NULL, 0, NULL, &r)) {
      return v;
   }
   size_t n = strlen (series);
   for (const char *line = r.body; line && *line;) {
      if (strncmp (line, series, n) == 0 && line[n] == ' ') {
         v = strtod (line + n + 1, NULL);
      }
      line = strchr (line, '\n');
      line = line ? line + 1 : NULL;
   }
   tk_test_http_free (&r);
   return v;
}
