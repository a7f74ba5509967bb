/* The classifier on the local stack with TRIAGE_LIST_SQL_URL (decision
 * 0022): a burst's tickets are read in batches, in one SQL statement each,
 * from FerretDB's own table, and what it does with them is what it does
 * with a ticket read from the collection: classified with the built-in
 * model, and a ticket a person corrected kept as it is. The database is
 * named only in TRIAGE_MONGO_URI, as make demo names it. Real Kafka, the real
 * MongoDB-protocol server and its PostgreSQL, the real binary. */
#include "test_classifier_harness.h"
#include "timeutil.h"

#define WAIT_MS 90000
#define N 60

static tk_test_service_t svc;

static const char *
pg_url (void)
{
   const char *u = getenv ("TRIAGE_TEST_PG_URL");
   return u && *u ? u : "postgresql://triage@127.0.0.1:5433/ferretdb";
}

static int
setup (void **state)
{
   (void) state;
   h_setup ("triage_test_cls_sql", 3);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   return h_teardown_group (&svc, NULL);
}

static void
test_burst_read_in_sql_batches (void **state)
{
   (void) state;
   char id[N][32];
   for (int i = 0; i < N; i++) {
      snprintf (id[i], sizeof id[i], "SQL-%02d", i);
      h_insert (id[i], i % 2 ? "Snowflake connector fails" : "SSO login loop",
                i % 2 ? "The Snowflake crawler fails with an authentication error."
                      : "Okta SAML login keeps redirecting. Nobody can log in, urgent!");
   }
   /* SQL-07 was corrected by a person before any request: it is kept. */
   tk_classification_t mine = {.sentiment = "Neutral", .priority = "P2 (Low)"};
   tk_confidence_t conf = {0};
   tk_processing_metadata_t md = {.processed_at = tk_time_now_ms (),
                                  .model_version = "human",
                                  .corrected_at = tk_time_now_ms ()};
   tk_error_t err;
   assert_true (tk_store_update_ticket_with_classification (h.store, "SQL-07", &mine, &conf, &md,
                                                            &err));
   /* Every request is on the topic before the classifier starts: its reads
    * come in batches. */
   for (int i = 0; i < N; i++) {
      h_request (id[i], "ingest");
   }
   char sql_env[320];
   snprintf (sql_env, sizeof sql_env, "TRIAGE_LIST_SQL_URL=%s", pg_url ());
   /* As make demo runs it: the database named in TRIAGE_MONGO_URI, no
    * TRIAGE_MONGO_DB (the SQL statement must name the same database). */
   char base[121];
   const char *uri = tk_test_mongo_uri ();
   const char *opts = strchr (uri, '?');
   size_t blen = opts ? (size_t) (opts - uri) : strlen (uri);
   assert_true (blen < sizeof base);
   memcpy (base, uri, blen);
   base[blen] = '\0';
   while (blen > 0 && base[blen - 1] == '/') {
      base[--blen] = '\0';
   }
   assert_null (strchr (strstr (base, "//") ? strstr (base, "//") + 2 : base, '/'));
   int len = snprintf (h.env_mongo, sizeof h.env_mongo, "TRIAGE_MONGO_URI=%.120s/%.63s%.60s", base,
                       h.db, opts ? opts : "");
   assert_true (len > 0 && (size_t) len < sizeof h.env_mongo && strlen (base) <= 120);
   snprintf (h.env_db, sizeof h.env_db, "TRIAGE_TEST_UNUSED=1");
   const char *env[] = {H_GROUP_ENV, sql_env, NULL};
   h_start_classifier (&svc, env);

   for (int i = 0; i < N; i++) {
      tk_ticket_t *t = h_wait_outcome (&svc, id[i], false, WAIT_MS);
      if (i == 7) {
         assert_string_equal (t->classification.priority, "P2 (Low)");
         assert_string_equal (t->metadata.model_version, "human");
      } else {
         h_assert_classified (t);
         assert_memory_equal (t->metadata.model_version, "local-", 6);
      }
      tk_ticket_destroy (t);
   }
   double by_sql = h_metric (&svc, "triage_classifier_ticket_reads_total{via=\"sql\"}");
   double by_coll = h_metric (&svc, "triage_classifier_ticket_reads_total{via=\"collection\"}");
   /* Every ticket came from the SQL statements, none from the collection:
    * each converted exactly (SQL-07 with its correction). */
   assert_true (by_sql >= N);
   assert_true (by_coll <= 0);
   /* And they came in batches: fewer bulk writes than tickets. */
   double bulks = h_metric (&svc, "triage_classifier_save_batch_size_count");
   assert_true (bulks > 0 && bulks < N - 1);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_burst_read_in_sql_batches),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
