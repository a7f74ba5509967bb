/* The API's interface contract on the real stack: the OpenAPI document is
 * served without a key, is the file kept in the repository, and lists
 * exactly the routes the router has registered (both ways); per-key rate
 * limiting answers 429 with Retry-After; /metrics (on its own listener)
 * counts requests by route and status with latency histograms. */
#include "test_support.h"

#include "api_fixture.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */

static tk_api_fx_t fx;

static tk_api_fx_resp_t
get (const tk_test_service_t *s, const char *method, const char *path, const char *key)
{
   return tk_api_fx_request (s, method, path, key, NULL, 0, NULL);
}

static int
setup (void **state)
{
   *state = &fx;
   if (!tk_api_fx_setup (&fx, "triage_test_openapi", NULL, ADMIN_KEY)) {
      return -1;
   }
   return tk_api_fx_start (&fx, &fx.svc, "api", NULL) ? 0 : -1;
}

/* ---- the document against the router ---------------------------------------- */

#define MAX_OPS 128

typedef struct {
   char ops[MAX_OPS][160]; /* "GET /api/tickets/{id}" */
   size_t n;
} op_set_t;

static bool
has_op (const op_set_t *s, const char *op)
{
   for (size_t i = 0; i < s->n; i++) {
      if (!strcmp (s->ops[i], op)) {
         return true;
      }
   }
   return false;
}

static void
add_op (op_set_t *s, const char *method, const char *path)
{
   assert_true (s->n < MAX_OPS);
   char op[160];
   snprintf (op, sizeof op, "%s %s", method, path);
   /* The router's prefix route "/static/ *" is the document's templated
    * "/static/{path}". */
   size_t len = strlen (op);
   if (len >= 2 && strcmp (op + len - 2, "/*") == 0 && len + 6 < sizeof op) {
      strcpy (op + len - 1, "{path}");
   }
   for (char *p = op; *p != ' '; p++) {
      *p = (char) (*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
   }
   assert_false (has_op (s, op));
   snprintf (s->ops[s->n++], sizeof s->ops[0], "%s", op);
}

static cJSON *
fetch_document (void)
{
   tk_api_fx_resp_t r = get (&fx.svc, "GET", "/api/openapi.json", NULL);
   assert_int_equal (r.status, 200);
   assert_non_null (strstr (r.content_type, "application/json"));
   /* What is served is the file kept in the repository (with the built-in
    * taxonomy the labels written from it are the file's own). */
   char path[1024];
   snprintf (path, sizeof path, "%s/services/api/openapi.json", TRIAGE_SOURCE_DIR);
   size_t size;
   char *file = tk_test_read_file (path, &size);
   cJSON *kept = cJSON_ParseWithLength (file, size);
   free (file);
   cJSON *doc = cJSON_Parse (r.body);
   tk_api_fx_resp_free (&r);
   assert_non_null (doc);
   assert_non_null (kept);
   /* The zones the api takes (ICU's, hundreds) are listed by the served
    * description only: the file leaves them out. */
   cJSON *tz = cJSON_GetObjectItem (
      cJSON_GetObjectItem (
         cJSON_GetObjectItem (cJSON_GetObjectItem (doc, "components"), "parameters"), "tz"),
      "schema");
   cJSON *zones = cJSON_DetachItemFromObject (tz, "enum");
   assert_true (cJSON_GetArraySize (zones) > 300);
   bool la = false, utc = false;
   cJSON *z;
   cJSON_ArrayForEach (z, zones)
   {
      la |= !strcmp (z->valuestring, "America/Los_Angeles");
      utc |= !strcmp (z->valuestring, "UTC");
   }
   assert_true (la && utc);
   cJSON_Delete (zones);
   assert_true (cJSON_Compare (doc, kept, true));
   cJSON_Delete (kept);
   return doc;
}

static void
document_ops (const cJSON *doc, op_set_t *out)
{
   static const char *const methods[] = {"get", "put", "post", "delete", "patch", "head",
                                         "options", "trace"};
   cJSON *paths = cJSON_GetObjectItem (doc, "paths"), *p;
   assert_true (cJSON_IsObject (paths));
   cJSON_ArrayForEach (p, paths)
   {
      cJSON *m;
      cJSON_ArrayForEach (m, p)
      {
         bool is_method = false;
         for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
            is_method |= !strcmp (m->string, methods[i]);
         }
         if (is_method) {
            add_op (out, m->string, p->string);
            /* Every operation documents its answers. */
            assert_true (cJSON_IsObject (cJSON_GetObjectItem (m, "responses")));
         }
      }
   }
}

static void
router_ops (op_set_t *out)
{
   tk_api_fx_resp_t r = get (&fx.svc, "GET", "/api/routes", NULL);
   assert_int_equal (r.status, 200);
   cJSON *j = cJSON_Parse (r.body), *it;
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (j, "routes"))
   {
      add_op (out, cJSON_GetObjectItem (it, "method")->valuestring,
              cJSON_GetObjectItem (it, "path")->valuestring);
   }
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
}

/* Every "$ref" points at something in the document. */
static void
check_refs (const cJSON *doc, const cJSON *node)
{
   const cJSON *child;
   cJSON_ArrayForEach (child, node)
   {
      if (child->string && !strcmp (child->string, "$ref")) {
         assert_true (cJSON_IsString (child));
         assert_true (!strncmp (child->valuestring, "#/", 2));
         char path[256];
         snprintf (path, sizeof path, "%s", child->valuestring + 2);
         const cJSON *at = doc;
         char *save = NULL;
         for (char *seg = strtok_r (path, "/", &save); seg; seg = strtok_r (NULL, "/", &save)) {
            at = cJSON_GetObjectItemCaseSensitive (at, seg);
            if (!at) {
               fprintf (stderr, "dangling $ref %s\n", child->valuestring);
            }
            assert_non_null (at);
         }
      }
      if (cJSON_IsObject (child) || cJSON_IsArray (child)) {
         check_refs (doc, child);
      }
   }
}

static void
test_document_matches_the_router (void **state)
{
   (void) state;
   cJSON *doc = fetch_document ();
   assert_true (!strncmp (cJSON_GetObjectItem (doc, "openapi")->valuestring, "3.", 2));
   check_refs (doc, doc);
   op_set_t *documented = calloc (1, sizeof *documented), *registered = calloc (1, sizeof *registered);
   document_ops (doc, documented);
   router_ops (registered);
   int missing = 0;
   for (size_t i = 0; i < registered->n; i++) {
      if (!has_op (documented, registered->ops[i])) {
         fprintf (stderr, "registered but not in openapi.json: %s\n", registered->ops[i]);
         missing++;
      }
   }
   for (size_t i = 0; i < documented->n; i++) {
      if (!has_op (registered, documented->ops[i])) {
         fprintf (stderr, "in openapi.json but not registered: %s\n", documented->ops[i]);
         missing++;
      }
   }
   assert_int_equal (missing, 0);
   assert_true (registered->n >= 25);

   /* And each documented operation reaches a handler: without a key it is
    * refused (401) or served, never the router's 404 or 405. */
   for (size_t i = 0; i < documented->n; i++) {
      char method[16], path[160];
      assert_int_equal (sscanf (documented->ops[i], "%15s %159s", method, path), 2);
      char concrete[200];
      size_t cl = 0;
      for (const char *p = path; *p && cl < sizeof concrete - 1;) {
         if (*p == '{') {
            concrete[cl++] = 'x';
            p = strchr (p, '}') + 1;
         } else {
            concrete[cl++] = *p++;
         }
      }
      concrete[cl] = '\0';
      /* The static route answers 404 itself for a file it lacks: ask for
       * one the built dashboard has. */
      if (strcmp (path, "/static/{path}") == 0) {
         snprintf (concrete, sizeof concrete, "/static/app.js");
      }
      tk_api_fx_resp_t r = get (&fx.svc, method, concrete, NULL);
      if (r.status == 404 || r.status == 405) {
         fprintf (stderr, "%s %s -> %ld %s\n", method, concrete, r.status, r.body);
      }
      assert_true (r.status != 404 && r.status != 405);
      tk_api_fx_resp_free (&r);
   }
   free (documented);
   free (registered);
   cJSON_Delete (doc);
}

/* ---- rate limit and metrics ------------------------------------------------------- */

/* One raw HTTP/1.1 GET; returns the status and copies the Retry-After
 * header's value into retry_after ("" if none). */
static int
raw_get (int port, const char *path, const char *key, char *retry_after, size_t cap)
{
   int fd = socket (AF_INET, SOCK_STREAM, 0);
   assert_true (fd >= 0);
   struct sockaddr_in sa = {0};
   sa.sin_family = AF_INET;
   sa.sin_port = htons ((uint16_t) port);
   sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
   assert_int_equal (connect (fd, (struct sockaddr *) &sa, sizeof sa), 0);
   char req[512], resp[8192];
   int len = snprintf (req, sizeof req,
                       "GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                       "Connection: close\r\n\r\n",
                       path, key);
   assert_int_equal (write (fd, req, (size_t) len), len);
   size_t got = 0;
   ssize_t n;
   while (got < sizeof resp - 1 && (n = read (fd, resp + got, sizeof resp - 1 - got)) > 0) {
      got += (size_t) n;
   }
   close (fd);
   resp[got] = '\0';
   int status = 0;
   assert_int_equal (sscanf (resp, "HTTP/1.1 %d", &status), 1);
   retry_after[0] = '\0';
   for (char *line = strstr (resp, "\r\n"); line && line[2] != '\r'; line = strstr (line + 2, "\r\n")) {
      if (!strncasecmp (line + 2, "Retry-After:", 12)) {
         const char *v = line + 14;
         while (*v == ' ') {
            v++;
         }
         size_t vl = strcspn (v, "\r\n");
         snprintf (retry_after, cap, "%.*s", (int) (vl < cap ? vl : cap - 1), v);
      }
   }
   return status;
}

static void
test_rate_limit_per_key (void **state)
{
   (void) state;
   tk_test_service_t limited;
   const char *env[] = {"TRIAGE_API_RATE_LIMIT=1", "TRIAGE_API_RATE_BURST=5", NULL};
   assert_true (tk_api_fx_start (&fx, &limited, "api", env));
   char ra[64];
   int ok = 0, status = 0;
   /* 1 request/s with a burst of 5: a quick run of requests is cut off
    * after about five. */
   for (int i = 0; i < 30 && status != 429; i++) {
      status = raw_get (limited.port, "/api/processing-stats", ADMIN_KEY, ra, sizeof ra);
      ok += status == 200;
   }
   assert_int_equal (status, 429);
   assert_true (ok >= 5);
   int seconds = atoi (ra);
   assert_true (seconds >= 1 && seconds <= 2);
   tk_api_fx_resp_t r = get (&limited, "GET", "/api/processing-stats", ADMIN_KEY);
   if (r.status == 429) {
      assert_non_null (strstr (r.body, "\"rate_limited\""));
   }
   tk_api_fx_resp_free (&r);
   /* Another key has its own bucket: a wrong key is still told it is
    * wrong (401), not that someone else is limited. */
   status = raw_get (limited.port, "/api/processing-stats", "some-other-key", ra, sizeof ra);
   assert_int_equal (status, 401);

   /* /metrics (on the metrics listener): the 429s under the route's 4xx,
    * and its latency histogram. */
   tk_test_http_response_t m;
   assert_true (tk_test_http ("GET", limited.metrics_url, NULL, 0, NULL, &m));
   assert_int_equal (m.status, 200);
   const char *line = strstr (
      m.body, "triage_api_http_requests_total{route=\"/api/processing-stats\",method=\"GET\","
              "code=\"4xx\"} ");
   if (!line) {
      fprintf (stderr, "%s\n", m.body);
   }
   assert_non_null (line);
   assert_true (atoi (strchr (line, '}') + 2) >= 2);
   assert_non_null (strstr (m.body, "triage_api_http_request_duration_seconds_bucket{route=\"/api/"
                                    "processing-stats\",method=\"GET\",le=\"+Inf\"}"));
   assert_non_null (strstr (m.body, "triage_api_cache_total{result="));
   tk_test_http_free (&m);
   /* The main listener shows no figures without a key. */
   r = get (&limited, "GET", "/metrics", NULL);
   assert_int_equal (r.status, 404);
   tk_api_fx_resp_free (&r);
   assert_int_equal (tk_api_fx_stop (&limited), 0);
}

static const char *
schema_pattern (const cJSON *doc, const char *param)
{
   const cJSON *p = cJSON_GetObjectItem (
      cJSON_GetObjectItem (cJSON_GetObjectItem (cJSON_GetObjectItem (doc, "components"),
                                                "parameters"),
                           param),
      "schema");
   const char *pattern = cJSON_GetStringValue (cJSON_GetObjectItem (p, "pattern"));
   assert_non_null (pattern);
   return pattern;
}

static bool
matches (const char *pattern, const char *s)
{
   regex_t re;
   assert_int_equal (regcomp (&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
   bool m = regexec (&re, s, 0, NULL, 0) == 0;
   regfree (&re);
   return m;
}

/* The enum of Classification's property prop (topic_tags: its items),
 * joined with '|'. */
static void
classification_enum (const cJSON *doc, const char *prop, char *buf, size_t cap)
{
   const cJSON *props = cJSON_GetObjectItem (
      cJSON_GetObjectItem (cJSON_GetObjectItem (cJSON_GetObjectItem (doc, "components"), "schemas"),
                           "Classification"),
      "properties");
   const cJSON *p = cJSON_GetObjectItem (props, prop), *e;
   if (!strcmp (prop, "topic_tags")) {
      p = cJSON_GetObjectItem (p, "items");
   }
   buf[0] = '\0';
   cJSON_ArrayForEach (e, cJSON_GetObjectItem (p, "enum"))
   {
      size_t len = strlen (buf);
      snprintf (buf + len, cap - len, "%s%s", len ? "|" : "", e->valuestring);
   }
}

/* The labels in the description are the taxonomy's the api validates with:
 * the built-in one here, a custom one (TRIAGE_TAXONOMY) in a second api.
 * The filter patterns take what the filters take (any case, lists) and
 * not what they refuse. */
static void
test_labels_are_the_taxonomy (void **state)
{
   (void) state;
   cJSON *doc = fetch_document ();
   char buf[512];
   classification_enum (doc, "priority", buf, sizeof buf);
   assert_string_equal (buf, "P0 (High)|P1 (Medium)|P2 (Low)");
   const char *prio = schema_pattern (doc, "priority");
   assert_true (matches (prio, "P0 (High)"));
   assert_true (matches (prio, "p0 (high), P2 (Low)"));
   assert_false (matches (prio, "P3 (Later)"));
   assert_false (matches (prio, ""));
   assert_false (matches (prio, "P0 (High),"));
   assert_true (matches (schema_pattern (doc, "topic"), "API/SDK,Best practices"));
   cJSON_Delete (doc);

   char tax_path[] = "/tmp/triage-openapi-taxonomy-XXXXXX";
   int fd = mkstemp (tax_path);
   assert_true (fd >= 0);
   static const char tax[] = "{\"topic_tags\":[\"Billing\",\"Data.Quality\"],"
                             "\"sentiment\":[\"Calm\",\"Upset\"],"
                             "\"priority\":[\"Urgent\",\"Later\"]}";
   assert_int_equal (write (fd, tax, sizeof tax - 1), (ssize_t) (sizeof tax - 1));
   close (fd);
   char env_tax[128];
   snprintf (env_tax, sizeof env_tax, "TRIAGE_TAXONOMY=%s", tax_path);
   const char *env[] = {env_tax, NULL};
   tk_test_service_t custom;
   assert_true (tk_api_fx_start (&fx, &custom, "api", env));
   tk_api_fx_resp_t r = get (&custom, "GET", "/api/openapi.json", NULL);
   assert_int_equal (r.status, 200);
   doc = cJSON_Parse (r.body);
   tk_api_fx_resp_free (&r);
   assert_non_null (doc);
   classification_enum (doc, "priority", buf, sizeof buf);
   assert_string_equal (buf, "Urgent|Later");
   classification_enum (doc, "topic_tags", buf, sizeof buf);
   assert_string_equal (buf, "Billing|Data.Quality");
   classification_enum (doc, "sentiment", buf, sizeof buf);
   assert_string_equal (buf, "Calm|Upset");
   assert_true (matches (schema_pattern (doc, "priority"), "urgent, Later"));
   assert_false (matches (schema_pattern (doc, "priority"), "P0 (High)"));
   assert_true (matches (schema_pattern (doc, "topic"), "data.quality"));
   assert_false (matches (schema_pattern (doc, "topic"), "DataxQuality")); /* '.' is literal */
   cJSON_Delete (doc);
   assert_int_equal (tk_api_fx_stop (&custom), 0);
   unlink (tax_path);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_document_matches_the_router),
      cmocka_unit_test (test_rate_limit_per_key),
      cmocka_unit_test (test_labels_are_the_taxonomy),
   };
   return cmocka_run_group_tests (tests, setup, tk_api_fx_group_teardown);
}
