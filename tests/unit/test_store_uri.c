/* Unit tests of the MongoDB settings' plumbing (issue 18): what a replica
 * set needs — write concern majority, retryable writes and reads, a read
 * preference, a read concern — is given in TRIAGE_MONGO_URI, and must reach
 * the clients the store's pool hands out, and the collections they open,
 * exactly as written: nothing between the environment and libmongoc may drop
 * or override it. No server is needed: libmongoc connects lazily, and these
 * are the clients' settings before any connection. */
#include "test_support.h"

#include "config.h"
#include "store.h"

#include <mongoc/mongoc.h>
#include <string.h>

#define RS_URI                                                                                    \
   "mongodb://127.0.0.1:1,127.0.0.1:2,127.0.0.1:3/triage" /* closed ports */                       \
   "?replicaSet=rs0&w=majority&wtimeoutMS=5000&journal=true&retryWrites=true&retryReads=true"     \
   "&readConcernLevel=majority&serverSelectionTimeoutMS=12000"

/* A service's store, opened as common/app.c opens it: the configuration
 * loaded for svc from TRIAGE_MONGO_URI=uri and TRIAGE_MONGO_DB=db ("triage"
 * when NULL), then tk_store_new with its URI and database. */
static tk_store_t *
service_store (tk_service_t svc, const char *uri, const char *db)
{
   char uri_var[512], db_var[128];
   snprintf (uri_var, sizeof uri_var, "TRIAGE_MONGO_URI=%s", uri);
   snprintf (db_var, sizeof db_var, "TRIAGE_MONGO_DB=%s", db ? db : "triage");
   char *env[] = {uri_var, db_var, NULL};
   char *argv[] = {"prog", NULL};
   tk_config_t cfg;
   tk_error_t err = {0};
   if (!tk_config_load (&cfg, svc, 1, argv, env, &err)) {
      fail_msg ("config: %s", err.message);
   }
   tk_store_t *store = tk_store_new (cfg.mongo_uri, cfg.mongo_db && *cfg.mongo_db ? cfg.mongo_db
                                                                                   : NULL,
                                     (uint32_t) cfg.mongo_pool_size, &err);
   tk_config_destroy (&cfg);
   if (!store) {
      fail_msg ("store: %s", err.message);
   }
   return store;
}

/* Asserts the replica-set settings of RS_URI on a client (and on a
 * collection it opens), with read preference mode. */
static void
assert_replica_set_settings (mongoc_client_t *client, mongoc_read_mode_t mode)
{
   const mongoc_uri_t *uri = mongoc_client_get_uri (client);
   assert_string_equal (mongoc_uri_get_replica_set (uri), "rs0");
   assert_true (mongoc_uri_get_option_as_bool (uri, MONGOC_URI_RETRYWRITES, false));
   assert_true (mongoc_uri_get_option_as_bool (uri, MONGOC_URI_RETRYREADS, false));
   /* A value in the URI wins over the store's 5 s default. */
   assert_int_equal (mongoc_uri_get_option_as_int32 (uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0),
                     12000);

   const mongoc_write_concern_t *wc = mongoc_client_get_write_concern (client);
   assert_true (mongoc_write_concern_get_wmajority (wc));
   assert_int_equal (mongoc_write_concern_get_wtimeout_int64 (wc), 5000);
   assert_true (mongoc_write_concern_get_journal (wc));
   assert_string_equal (mongoc_read_concern_get_level (mongoc_client_get_read_concern (client)),
                        "majority");
   assert_int_equal (mongoc_read_prefs_get_mode (mongoc_client_get_read_prefs (client)), mode);

   /* Every query the store and the api make goes through a collection of
    * such a client, with no write concern or read preference of its own. */
   mongoc_collection_t *coll = mongoc_client_get_collection (client, "triage", "tickets");
   assert_true (mongoc_write_concern_get_wmajority (mongoc_collection_get_write_concern (coll)));
   assert_int_equal (mongoc_read_prefs_get_mode (mongoc_collection_get_read_prefs (coll)), mode);
   assert_string_equal (mongoc_read_concern_get_level (mongoc_collection_get_read_concern (coll)),
                        "majority");
   mongoc_collection_destroy (coll);
}

/* The writers (ingest, classifier) keep the default read preference,
 * primary: they read a ticket right after writing it. */
static void
test_writers_get_majority_and_retries (void **state)
{
   (void) state;
   tk_service_t writers[] = {TK_SVC_INGEST, TK_SVC_CLASSIFIER, TK_SVC_CLI};
   for (size_t i = 0; i < sizeof writers / sizeof writers[0]; i++) {
      tk_store_t *store = service_store (writers[i], RS_URI, NULL);
      mongoc_client_t *client = tk_store_client_pop (store);
      assert_replica_set_settings (client, MONGOC_READ_PRIMARY);
      tk_store_client_push (store, client);
      tk_store_destroy (store);
   }
}

/* The api's URI may ask for another read preference; its tags and maximum
 * staleness come through too. */
static void
test_api_read_preference (void **state)
{
   (void) state;
   tk_store_t *store = service_store (
      TK_SVC_API,
      RS_URI "&readPreference=secondaryPreferred&maxStalenessSeconds=120"
             "&readPreferenceTags=dc:east",
      "triage_api");
   assert_string_equal (tk_store_db_name (store), "triage_api");
   mongoc_client_t *client = tk_store_client_pop (store);
   assert_replica_set_settings (client, MONGOC_READ_SECONDARY_PREFERRED);
   const mongoc_read_prefs_t *rp = mongoc_client_get_read_prefs (client);
   assert_int_equal (mongoc_read_prefs_get_max_staleness_seconds (rp), 120);
   bson_iter_t it;
   assert_true (bson_iter_init (&it, mongoc_read_prefs_get_tags (rp)) && bson_iter_next (&it));
   tk_store_client_push (store, client);
   tk_store_destroy (store);
}

/* With no option given, libmongoc's defaults hold: retryable writes and
 * reads on (they only take effect on a replica set or sharded cluster),
 * the server's default write concern, primary reads; the store adds only
 * its application name and a 5 s server selection timeout. */
static void
test_defaults_without_options (void **state)
{
   (void) state;
   tk_store_t *store = service_store (TK_SVC_CLASSIFIER, "mongodb://127.0.0.1:1/triage", NULL);
   mongoc_client_t *client = tk_store_client_pop (store);
   const mongoc_uri_t *uri = mongoc_client_get_uri (client);
   assert_true (mongoc_uri_get_option_as_bool (uri, MONGOC_URI_RETRYWRITES, true));
   assert_true (mongoc_uri_get_option_as_bool (uri, MONGOC_URI_RETRYREADS, true));
   assert_int_equal (mongoc_uri_get_option_as_int32 (uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0),
                     5000);
   assert_string_equal (mongoc_uri_get_appname (uri), "triage");
   assert_false (mongoc_write_concern_get_wmajority (mongoc_client_get_write_concern (client)));
   assert_int_equal (mongoc_read_prefs_get_mode (mongoc_client_get_read_prefs (client)),
                     MONGOC_READ_PRIMARY);
   tk_store_client_push (store, client);
   tk_store_destroy (store);
}

/* retryWrites=false is honoured (a deployment that cannot retry). */
static void
test_retry_writes_off_is_honoured (void **state)
{
   (void) state;
   tk_store_t *store = service_store (TK_SVC_INGEST,
                                      "mongodb://127.0.0.1:1/triage?retryWrites=false", NULL);
   mongoc_client_t *client = tk_store_client_pop (store);
   assert_false (mongoc_uri_get_option_as_bool (mongoc_client_get_uri (client),
                                                MONGOC_URI_RETRYWRITES, true));
   tk_store_client_push (store, client);
   tk_store_destroy (store);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_writers_get_majority_and_retries),
      cmocka_unit_test (test_api_read_preference),
      cmocka_unit_test (test_defaults_without_options),
      cmocka_unit_test (test_retry_writes_off_is_honoured),
   };
   int rc = cmocka_run_group_tests (tests, NULL, NULL);
   mongoc_cleanup ();
   return rc;
}
