/* MongoDB goes away and comes back: nothing acknowledged is lost.
 *
 * The shared FerretDB must keep running for everyone else, so triage-ingest
 * reaches it through a TCP proxy this test cuts (every connection closed,
 * new ones refused) and restores. While it is cut, tickets keep arriving
 * through Kafka (the broker acknowledged them; ingest must pause, not drop
 * them) and by HTTP (503 + Retry-After; triagectl upload waits and sends
 * again). Once it is restored, every acknowledged ticket is stored exactly
 * once. */
#include "test_support.h"

#include "ingest_fixture.h"
#include "kafka_io.h"
#include "service_proc.h"
#include "store.h"
#include "tcp_proxy.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static tk_ingest_fx_t fx;

static int
before_each (void **state)
{
   (void) state;
   return tk_ingest_fx_setup (&fx, "triage_test_ingrec") ? 0 : -1;
}

static int
after_each (void **state)
{
   (void) state;
   tk_ingest_fx_teardown (&fx);
   return 0;
}

static void
publish (const char *prefix, int n)
{
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   for (int i = 0; i < n; i++) {
      char id[32], body[160];
      snprintf (id, sizeof id, "%s-%04d", prefix, i);
      int len = snprintf (body, sizeof body, "{\"id\":\"%s\",\"subject\":\"s %d\",\"body\":\"b\"}",
                          id, i);
      tk_test_kafka_produce (rk, fx.inbound, id, strlen (id), body, (size_t) len);
   }
   /* Flushed: the broker has acknowledged every message. */
   tk_test_kafka_producer_finish (rk);
}

static char *
ndjson (const char *prefix, int n, size_t *len)
{
   size_t cap = (size_t) n * 80 + 1, o = 0;
   char *s = malloc (cap);
   assert_non_null (s);
   for (int i = 0; i < n; i++) {
      o += (size_t) snprintf (s + o, cap - o,
                              "{\"id\":\"%s-%04d\",\"subject\":\"s\",\"body\":\"b\"}\n", prefix, i);
   }
   *len = o;
   return s;
}

typedef struct {
   char *data;
   size_t len;
   long retry_after;
} resp_t;

static size_t
on_body (char *d, size_t size, size_t n, void *ud)
{
   resp_t *r = ud;
   char *p = realloc (r->data, r->len + size * n + 1);
   assert_non_null (p);
   memcpy (p + r->len, d, size * n);
   r->len += size * n;
   p[r->len] = '\0';
   r->data = p;
   return size * n;
}

static size_t
on_header (char *d, size_t size, size_t n, void *ud)
{
   resp_t *r = ud;
   if (size * n > 12 && strncasecmp (d, "Retry-After:", 12) == 0) {
      r->retry_after = strtol (d + 12, NULL, 10);
   }
   return size * n;
}

/* POSTs an NDJSON body; returns the status, the report and Retry-After. */
static long
post (const tk_test_service_t *svc, const char *body, size_t len, cJSON **report,
      long *retry_after)
{
   char url[256];
   snprintf (url, sizeof url, "%s/v1/tickets", svc->base_url);
   CURL *c = curl_easy_init ();
   assert_non_null (c);
   struct curl_slist *h = curl_slist_append (NULL, "Content-Type: application/x-ndjson");
   resp_t r = {0};
   curl_easy_setopt (c, CURLOPT_URL, url);
   curl_easy_setopt (c, CURLOPT_HTTPHEADER, h);
   curl_easy_setopt (c, CURLOPT_POSTFIELDS, body);
   curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE, (long) len);
   curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, on_body);
   curl_easy_setopt (c, CURLOPT_WRITEDATA, &r);
   curl_easy_setopt (c, CURLOPT_HEADERFUNCTION, on_header);
   curl_easy_setopt (c, CURLOPT_HEADERDATA, &r);
   curl_easy_setopt (c, CURLOPT_TIMEOUT, 60L);
   assert_int_equal (curl_easy_perform (c), CURLE_OK);
   long status = 0;
   curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
   curl_slist_free_all (h);
   curl_easy_cleanup (c);
   *report = r.data ? cJSON_Parse (r.data) : NULL;
   *retry_after = r.retry_after;
   free (r.data);
   return status;
}

static const char *
str_of (const cJSON *o, const char *k)
{
   const cJSON *v = cJSON_GetObjectItem (o, k);
   return cJSON_IsString (v) ? v->valuestring : "";
}

/* The inbound lag summed over the partitions, -1 if no series is shown. */
static double
total_lag (const tk_test_service_t *svc)
{
   double sum = -1;
   for (int p = 0; p < TK_FX_PARTITIONS; p++) {
      char series[256];
      snprintf (series, sizeof series, "triage_ingest_consumer_lag{topic=\"%s\",partition=\"%d\"}",
                fx.inbound, p);
      double v = tk_ingest_fx_metric (svc, series);
      if (v >= 0) {
         sum = (sum < 0 ? 0 : sum) + v;
      }
   }
   return sum;
}

/* The proxy's target: the first host of the server the tests use. */
static tk_tcp_proxy_t *
proxy_to_test_server (void)
{
   mongoc_uri_t *u = mongoc_uri_new (tk_test_mongo_uri ());
   assert_non_null (u);
   const mongoc_host_list_t *h = mongoc_uri_get_hosts (u);
   assert_non_null (h);
   tk_tcp_proxy_t *proxy = tk_tcp_proxy_new (h->host, h->port);
   mongoc_uri_destroy (u);
   return proxy;
}

static void
test_mongo_cut_then_restored_loses_nothing (void **state)
{
   (void) state;
   enum { KA = 300, KB = 300, UA = 100, UB = 200 };
   tk_tcp_proxy_t *proxy = proxy_to_test_server ();
   assert_non_null (proxy);
   char uri[200];
   snprintf (uri, sizeof uri,
             "TRIAGE_MONGO_URI=mongodb://127.0.0.1:%d/"
             "?serverSelectionTimeoutMS=1000&connectTimeoutMS=1000&socketTimeoutMS=10000",
             tk_tcp_proxy_port (proxy));
   tk_test_service_t svc;
   const char *extra[] = {uri, "TRIAGE_INGEST_RETRY_AFTER=1s", "TRIAGE_AUTO_CLASSIFY=false",
                          "TRIAGE_INGEST_BATCH_SIZE=50", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);

   publish ("KA", KA);
   assert_int_equal (tk_ingest_fx_wait_count (&fx, KA), KA);

   tk_tcp_proxy_cut (proxy);
   /* Acknowledged by the broker while ingest cannot write. */
   publish ("KB", KB);

   /* Uploads are refused with 503 + Retry-After once ingest has noticed
    * (the first may be cut off mid-write: its report says which rows were
    * stored, and those count as acknowledged). */
   size_t len;
   char *ua = ndjson ("UA", UA, &len);
   long status = 0, retry_after = 0;
   int acked_ua = 0;
   for (int i = 0; i < 100; i++) {
      cJSON *rep = NULL;
      status = post (&svc, ua, len, &rep, &retry_after);
      const cJSON *row;
      cJSON_ArrayForEach (row, cJSON_GetObjectItem (rep, "results"))
      {
         acked_ua += strcmp (str_of (row, "status"), "stored") == 0;
      }
      if (status == 503) {
         assert_string_equal (str_of (cJSON_GetObjectItem (rep, "error"), "code"),
                              "store_unavailable");
      }
      cJSON_Delete (rep);
      if (status == 503) {
         break;
      }
      usleep (100 * 1000);
   }
   assert_int_equal (status, 503);
   assert_int_equal (retry_after, 1);
   fprintf (stderr, "  (%d upload rows stored before the 503)\n", acked_ua);

   /* Kafka intake pauses instead of dropping. */
   double paused = 0;
   for (int i = 0; i < 600 && (paused = tk_ingest_fx_metric (
                                  &svc, "triage_ingest_consumer_paused")) != 1;
        i++) {
      usleep (100 * 1000);
   }
   assert_true (paused == 1);
   assert_true (tk_ingest_fx_metric (&svc, "triage_ingest_store_up") == 0);
   /* What was published while cut shows as lag (fetched, not committed). */
   double lag = -1;
   for (int i = 0; i < 300 && (lag = total_lag (&svc)) <= 0; i++) {
      usleep (100 * 1000);
   }
   fprintf (stderr, "  (lag while cut: %.0f)\n", lag);
   assert_true (lag > 0);

   /* triagectl upload, started while MongoDB is away, waits and retries. */
   size_t ub_len;
   char *ub = ndjson ("UB", UB, &ub_len);
   char path[256], out_path[300];
   tk_ingest_fx_write_temp (".ndjson", ub, ub_len, path, sizeof path);
   free (ub);
   snprintf (out_path, sizeof out_path, "%s.out", path);
   const char *argv[] = {"upload", "--url", svc.base_url, "--retries", "200", "--quiet", path,
                         NULL};
   int child = tk_ingest_fx_triagectl_spawn (argv, NULL, out_path);
   sleep (3); /* ordering only: let it meet the 503 first */

   tk_tcp_proxy_restore (proxy);
   assert_int_equal (tk_ingest_fx_wait_child (child, 120000), 0);
   FILE *f = fopen (out_path, "r");
   assert_non_null (f);
   char line[256] = "";
   assert_non_null (fgets (line, sizeof line, f));
   fclose (f);
   fprintf (stderr, "  triagectl: %s", line);
   assert_non_null (strstr (line, "200 rows: 200 stored, 0 duplicates, 0 rejected"));
   unlink (path);
   unlink (out_path);

   /* The refused upload, sent again, completes; rows stored before the
    * 503 come back as duplicates. */
   cJSON *rep = NULL;
   for (int i = 0; i < 100; i++) {
      cJSON_Delete (rep);
      status = post (&svc, ua, len, &rep, &retry_after);
      if (status != 503) {
         break;
      }
      sleep (1);
   }
   assert_int_equal (status, 200);
   assert_int_equal (cJSON_GetObjectItem (rep, "stored")->valueint +
                        cJSON_GetObjectItem (rep, "duplicates")->valueint,
                     UA);
   assert_int_equal (cJSON_GetObjectItem (rep, "duplicates")->valueint, acked_ua);
   cJSON_Delete (rep);
   free (ua);

   /* Every acknowledged ticket, exactly once: the unique index allows no
    * second copy, and the total is exactly the number of distinct ids. */
   const int64_t want = KA + KB + UA + UB;
   assert_int_equal (tk_ingest_fx_wait_count (&fx, want), want);
   /* Everything committed: no lag left. */
   for (int i = 0; i < 300 && (lag = total_lag (&svc)) != 0; i++) {
      usleep (100 * 1000);
   }
   assert_true (lag == 0);
   tk_ingest_fx_stop (&svc);
   assert_int_equal (tk_ingest_fx_count (&fx), want);
   const char *probe[] = {"KA-0000", "KB-0000", "KB-0299", "UA-0099", "UB-0199"};
   for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++) {
      tk_ticket_t *t = NULL;
      tk_error_t err;
      assert_true (tk_store_get_ticket (fx.store, probe[i], &t, &err));
      tk_ticket_destroy (t);
   }
   tk_tcp_proxy_destroy (proxy);
}

int
main (void)
{
   curl_global_init (CURL_GLOBAL_DEFAULT);
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_mongo_cut_then_restored_loses_nothing, before_each,
                                       after_each),
   };
   int rc = cmocka_run_group_tests (tests, NULL, NULL);
   curl_global_cleanup ();
   return rc;
}
