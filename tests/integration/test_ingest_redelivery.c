/* No classification request is lost when ingest dies between storing a
 * ticket and delivering its request: the inbound message is read again by
 * the next run, the write reports a duplicate, and the ticket must still be
 * requested. The state a SIGKILL at that moment leaves behind (the ticket
 * stored with processed=false, no request on tickets.classify, the inbound
 * offset not committed) is set up for real: the ticket is written straight
 * into the database, then the same ticket is published on the inbound topic
 * to a running triage-ingest. Duplicates of processed tickets, and of
 * tickets whose classification failed for good, are not requested again;
 * uploads of a duplicate behave the same way. */
#include "test_support.h"

#include "ingest_fixture.h"
#include "kafka_io.h"
#include "service_proc.h"
#include "store.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static tk_ingest_fx_t fx;

static int
before_each (void **state)
{
   (void) state;
   return tk_ingest_fx_setup (&fx, "triage_test_redeliver") ? 0 : -1;
}

static int
after_each (void **state)
{
   (void) state;
   tk_ingest_fx_teardown (&fx);
   return 0;
}

/* ---- the state a previous run left ---------------------------------------- */

static void
store_raw (const char *id)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup ("Export fails");
   t->body = strdup ("The CSV export stops at 10,000 rows.");
   tk_insert_result_t res;
   tk_error_t err;
   assert_true (tk_store_insert_tickets (fx.store, &t, 1, &res, &err));
   assert_int_equal (res.n_stored, 1);
   tk_insert_result_cleanup (&res);
   tk_ticket_destroy (t);
}

static void
mark_processed (const char *id)
{
   tk_classification_t c = {{(char *) "Product"}, 1, (char *) "Neutral", (char *) "P2 (Low)"};
   tk_confidence_t cf = {0.9, 0.9, 0.9};
   tk_processing_metadata_t m = {1735689600000, (char *) "test-model", 10, (char *) "1.0", false, 0};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (fx.store, id, &c, &cf, &m, &err));
}

static void
mark_failed (const char *id)
{
   tk_error_t err;
   assert_true (tk_store_record_failure (fx.store, id, "after 5 attempt(s): llm timed out", &err));
}

/* ---- Kafka --------------------------------------------------------------------- */

static char *
ticket_json (const char *id)
{
   char *s = NULL;
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON_AddStringToObject (o, "subject", "Export fails");
   cJSON_AddStringToObject (o, "body", "The CSV export stops at 10,000 rows.");
   s = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return s;
}

static void
publish (const char *const *ids)
{
   rd_kafka_t *rk = tk_test_kafka_producer_new ();
   for (size_t i = 0; ids[i]; i++) {
      char *json = ticket_json (ids[i]);
      tk_test_kafka_produce (rk, fx.inbound, ids[i], strlen (ids[i]), json, strlen (json));
      free (json);
   }
   tk_test_kafka_producer_finish (rk);
}

static int
requests_for (const cJSON *reqs, const char *id)
{
   int n = 0;
   const cJSON *m;
   cJSON_ArrayForEach (m, reqs)
   {
      const cJSON *v = cJSON_GetObjectItem (m, "id");
      if (cJSON_IsString (v) && strcmp (v->valuestring, id) == 0) {
         n++;
         assert_string_equal (cJSON_GetObjectItem (m, "reason")->valuestring, "ingest");
      }
   }
   return n;
}

#define KAFKA_STORED "triage_ingest_tickets_written_total{source=\"kafka\",outcome=\"stored\"}"
#define KAFKA_DUPLICATE \
   "triage_ingest_tickets_written_total{source=\"kafka\",outcome=\"duplicate\"}"

static void
upload (const tk_test_service_t *svc, const char *id, const char *want_status)
{
   char url[256];
   snprintf (url, sizeof url, "%s/v1/tickets", svc->base_url);
   const char *headers[] = {"Content-Type: application/json", NULL};
   char *json = ticket_json (id);
   tk_test_http_response_t r;
   assert_true (tk_test_http ("POST", url, json, strlen (json), headers, &r));
   free (json);
   cJSON *rep = cJSON_Parse (r.body);
   assert_non_null (rep);
   cJSON *row = cJSON_GetArrayItem (cJSON_GetObjectItem (rep, "results"), 0);
   assert_string_equal (cJSON_GetObjectItem (row, "status")->valuestring, want_status);
   cJSON_Delete (rep);
   tk_test_http_free (&r);
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_redelivered_unprocessed_ticket_is_requested_again (void **state)
{
   (void) state;
   /* What earlier runs left: stored but never requested, processed, and
    * given up on by the classifier. */
   store_raw ("LOST-1");
   store_raw ("LOST-2");
   store_raw ("DONE-1");
   mark_processed ("DONE-1");
   store_raw ("FAILED-1");
   mark_failed ("FAILED-1");
   store_raw ("LOST-UP");
   store_raw ("DONE-UP");
   mark_processed ("DONE-UP");

   tk_test_service_t svc;
   tk_ingest_fx_start (&fx, &svc, NULL, true); /* TRIAGE_AUTO_CLASSIFY defaults on */
   /* The inbound messages read again, plus a new ticket, and LOST-1 twice:
    * this run's own request covers the second copy. */
   const char *ids[] = {"LOST-1", "DONE-1", "FAILED-1", "LOST-2", "NEW-1", "LOST-1", NULL};
   publish (ids);
   assert_int_equal (tk_ingest_fx_wait_metric (&svc, KAFKA_DUPLICATE, 5), 5);
   assert_int_equal (tk_ingest_fx_wait_metric (&svc, KAFKA_STORED, 1), 1);
   upload (&svc, "LOST-UP", "duplicate");
   upload (&svc, "DONE-UP", "duplicate");
   /* A clean stop delivers whatever is still queued, so the topic is final. */
   tk_ingest_fx_stop (&svc);

   cJSON *reqs = tk_test_kafka_read_to_end (fx.classify, TK_FX_PARTITIONS);
   char *text = cJSON_PrintUnformatted (reqs);
   fprintf (stderr, "classify requests: %s\n", text);
   free (text);
   assert_int_equal (requests_for (reqs, "LOST-1"), 1);
   assert_int_equal (requests_for (reqs, "LOST-2"), 1);
   assert_int_equal (requests_for (reqs, "NEW-1"), 1);
   assert_int_equal (requests_for (reqs, "LOST-UP"), 1);
   assert_int_equal (requests_for (reqs, "DONE-1"), 0);
   assert_int_equal (requests_for (reqs, "FAILED-1"), 0);
   assert_int_equal (requests_for (reqs, "DONE-UP"), 0);
   assert_int_equal (cJSON_GetArraySize (reqs), 4);
   cJSON_Delete (reqs);
   assert_int_equal (tk_ingest_fx_count (&fx), 7); /* nothing stored twice */
}

static void
test_no_request_again_with_auto_classify_off (void **state)
{
   (void) state;
   store_raw ("LOST-1");
   tk_test_service_t svc;
   const char *extra[] = {"TRIAGE_AUTO_CLASSIFY=false", NULL};
   tk_ingest_fx_start (&fx, &svc, extra, true);
   const char *ids[] = {"LOST-1", NULL};
   publish (ids);
   assert_int_equal (tk_ingest_fx_wait_metric (&svc, KAFKA_DUPLICATE, 1), 1);
   tk_ingest_fx_stop (&svc);
   cJSON *reqs = tk_test_kafka_read_to_end (fx.classify, TK_FX_PARTITIONS);
   assert_int_equal (cJSON_GetArraySize (reqs), 0);
   cJSON_Delete (reqs);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_redelivered_unprocessed_ticket_is_requested_again,
                                       before_each, after_each),
      cmocka_unit_test_setup_teardown (test_no_request_again_with_auto_classify_off, before_each,
                                       after_each),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
