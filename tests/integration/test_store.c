/* Integration tests for common/store.c against the real MongoDB-protocol
 * server of the local stack (FerretDB) or $TRIAGE_TEST_MONGO_URI. Every test
 * works in its own database, dropped at the end. */
#include "store_fixture.h"
#include "test_support.h"

#include "store.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
   tk_store_t *store;
   char db[96];
} fixture_t;

static int64_t
wall_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
setup (void **state)
{
   fixture_t *f = calloc (1, sizeof *f);
   f->store = tk_test_store_open ("triage_test", f->db, sizeof f->db, 4);
   if (!f->store) {
      free (f);
      return -1;
   }
   *state = f;
   return 0;
}

/* setup without the indexes of the server in use: a database of its own
 * and a store on it. */
static int
setup_no_indexes (void **state)
{
   fixture_t *f = calloc (1, sizeof *f);
   tk_error_t err = {0};
   tk_test_unique_name ("triage_test_ix", f->db, sizeof f->db);
   if (!(f->store = tk_store_new (tk_test_mongo_uri (), f->db, 2, &err))) {
      fprintf (stderr, "store on %s: %s\n", f->db, err.message);
      free (f);
      return -1;
   }
   *state = f;
   return 0;
}

static int
teardown (void **state)
{
   fixture_t *f = *state;
   bool dropped = tk_test_store_drop (f->store);
   free (f);
   return dropped ? 0 : -1;
}

static tk_ticket_t *
make_ticket (const char *id, const char *subject, const char *body, int64_t created_at)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup (subject);
   t->body = strdup (body);
   t->created_at = created_at;
   return t;
}

static void
insert_all (tk_store_t *store, tk_ticket_t **tickets, size_t n)
{
   tk_insert_result_t res;
   tk_error_t err = {0};
   assert_true (tk_store_insert_tickets (store, tickets, n, &res, &err));
   assert_int_equal (res.n_stored, n);
   tk_insert_result_cleanup (&res);
}

/* Stores raw tickets with the given ids and created_at values. */
static void
insert_ids (tk_store_t *store, const char *const *ids, const int64_t *created, size_t n)
{
   tk_ticket_t *tickets[16];
   assert_true (n <= 16);
   for (size_t i = 0; i < n; i++) {
      tickets[i] = make_ticket (ids[i], "subject", "body", created[i]);
   }
   insert_all (store, tickets, n);
   for (size_t i = 0; i < n; i++) {
      tk_ticket_destroy (tickets[i]);
   }
}

static void
classify (tk_store_t *store, const char *id, const char *priority, int64_t processed_at)
{
   char *tags[] = {"Connector", "Lineage"};
   tk_classification_t c = {.n_topic_tags = 2, .sentiment = "Curious", .priority = (char *) priority};
   c.topic_tags[0] = tags[0];
   c.topic_tags[1] = tags[1];
   tk_confidence_t conf = {.topic = 0.85, .sentiment = 0.92, .priority = 0.78};
   tk_processing_metadata_t meta = {.processed_at = processed_at,
                                    .model_version = "local-nb-1",
                                    .processing_time_ms = 12,
                                    .agent_version = "1.0"};
   tk_error_t err = {0};
   if (!tk_store_update_ticket_with_classification (store, id, &c, &conf, &meta, &err)) {
      fail_msg ("classify %s: %s", id, err.message);
   }
}

static tk_ticket_t *
get (tk_store_t *store, const char *id)
{
   tk_ticket_t *t = NULL;
   tk_error_t err = {0};
   if (!tk_store_get_ticket (store, id, &t, &err)) {
      fail_msg ("get %s: %s", id, err.message);
   }
   return t;
}

/* ---- lifetime ----------------------------------------------------------- */

static void
test_new_rejects_bad_uri_and_takes_db_from_uri (void **state)
{
   (void) state;
   tk_error_t err = {0};
   assert_null (tk_store_new ("http://nope", NULL, 1, &err));
   assert_int_equal (err.domain, TK_ERR_CONFIG);

   tk_store_t *s = tk_store_new ("mongodb://127.0.0.1:27017/fromuri", NULL, 1, &err);
   assert_non_null (s);
   assert_string_equal (tk_store_db_name (s), "fromuri");
   tk_store_destroy (s);

   s = tk_store_new ("mongodb://127.0.0.1:27017", NULL, 1, &err);
   assert_string_equal (tk_store_db_name (s), "triage");
   tk_store_destroy (s);

   assert_null (tk_store_new ("mongodb://127.0.0.1:27017", "bad.name", 1, &err));
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   tk_store_destroy (NULL);
}

static void
test_ping (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   assert_true (tk_store_ping (f->store, &err));
}

/* The index sets of store.c, written out: FerretDB's is the one it has had
 * since before decision 0017 (single fields it can use), MongoDB's the
 * compound indexes of decision 0017's table. */
static const char *const ferretdb_indexes[] = {"id_1",
                                               "processed_1_created_at_-1",
                                               "processing_metadata.processed_at_-1",
                                               "classification.priority_1",
                                               "classification.topic_tags_1",
                                               "classification.sentiment_1"};
static const char *const mongodb_indexes[] = {
   "id_1",
   "created_at_-1_id_-1",
   "processed_1_created_at_-1_id_-1",
   "processing_metadata.processed_at_-1_id_-1",
   "classification.priority_-1_created_at_-1_id_-1",
   "classification.sentiment_-1_created_at_-1_id_-1",
   "classification.topic_tags_1_created_at_-1_id_-1",
   "needs_review_1_created_at_-1_id_-1",
   "confidence_scores.topic_-1_created_at_-1_id_-1",
   "confidence_scores.sentiment_-1_created_at_-1_id_-1",
   "confidence_scores.priority_-1_created_at_-1_id_-1",
   "processed_1_stored_at_1_id_1"};

/* Asserts that db's tickets collection has exactly the indexes want (n)
 * besides _id_, as the server lists them: each key, field by field in
 * order with its direction, is the one its default name spells, and only
 * id_1 is unique. Then that tk_store_index lists the same, in order. */
static void
assert_indexes (const char *db, bool ferretdb, const char *const *want, size_t n)
{
   bool seen[16] = {false};
   size_t n_indexes = 0;
   assert_true (n <= 16);
   mongoc_client_t *client = mongoc_client_new (tk_test_mongo_uri ());
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "tickets");
   mongoc_cursor_t *cursor = mongoc_collection_find_indexes_with_opts (coll, NULL);
   const bson_t *doc;
   while (mongoc_cursor_next (cursor, &doc)) {
      bson_iter_t it, key;
      n_indexes++;
      assert_true (bson_iter_init_find (&it, doc, "name"));
      const char *name = bson_iter_utf8 (&it, NULL);
      if (!strcmp (name, "_id_")) {
         continue;
      }
      size_t i = 0;
      while (i < n && strcmp (name, want[i])) {
         i++;
      }
      if (i == n) {
         fail_msg ("index %s not expected on %s", name, ferretdb ? "FerretDB" : "MongoDB");
      }
      seen[i] = true;
      bool unique = bson_iter_init_find (&it, doc, "unique") && bson_iter_as_bool (&it);
      assert_int_equal (unique, i == 0); /* only id_1 is unique */
      char spelled[160];
      size_t len = 0;
      assert_true (bson_iter_init_find (&it, doc, "key") && bson_iter_recurse (&it, &key));
      while (bson_iter_next (&key)) {
         len += (size_t) snprintf (spelled + len, sizeof spelled - len, "%s%s_%lld",
                                   len ? "_" : "", bson_iter_key (&key),
                                   (long long) bson_iter_as_int64 (&key));
      }
      assert_string_equal (spelled, name);
   }
   bson_error_t e;
   assert_false (mongoc_cursor_error (cursor, &e));
   for (size_t i = 0; i < n; i++) {
      if (!seen[i]) {
         fail_msg ("index %s missing", want[i]);
      }
   }
   assert_int_equal (n_indexes, n + 1); /* plus _id_ */
   mongoc_cursor_destroy (cursor);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);

   for (size_t i = 0; i < n; i++) {
      assert_non_null (tk_store_index (ferretdb, i));
      assert_string_equal (tk_store_index (ferretdb, i)->name, want[i]);
   }
   assert_null (tk_store_index (ferretdb, n));
}

/* The server in use gets its own set, and only it: on FerretDB none of
 * MongoDB's compound indexes (each would be a B-tree and a GIN twin that
 * every update pays for, and unused). */
static void
test_ensure_indexes_twice_lists_all (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   assert_true (tk_store_ensure_indexes (f->store, &err)); /* second time (setup did one) */
   assert_true (tk_store_ensure_indexes (f->store, &err));

   bool ferretdb = false;
   assert_true (tk_store_server_is_ferretdb (f->store, &ferretdb, &err));
   if (ferretdb) {
      assert_indexes (f->db, true, ferretdb_indexes,
                      sizeof ferretdb_indexes / sizeof ferretdb_indexes[0]);
   } else {
      assert_indexes (f->db, false, mongodb_indexes,
                      sizeof mongodb_indexes / sizeof mongodb_indexes[0]);
   }
}

/* MongoDB's set, made through store.c on whatever server this is (FerretDB
 * takes compound indexes too), twice, in a database of its own (dropped
 * by the teardown, whether the test passes or not): every
 * index there with the key its name spells. No mongod runs here; this
 * checks what store.c sends, not MongoDB's plans. */
static void
test_mongodb_index_set (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   assert_true (tk_store_ensure_indexes_as (f->store, false, &err));
   assert_true (tk_store_ensure_indexes_as (f->store, false, &err));
   assert_indexes (f->db, false, mongodb_indexes,
                   sizeof mongodb_indexes / sizeof mongodb_indexes[0]);
}

/* ---- insert_tickets ----------------------------------------------------- */

static void
test_insert_reports_duplicates_per_index (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_insert_result_t res;

   tk_ticket_t *old = make_ticket ("OLD", "original subject", "original body", 1000);
   insert_all (f->store, &old, 1);

   int64_t before = wall_ms ();
   tk_ticket_t *batch[4] = {
      make_ticket ("N1", "first N1", "b", 2000),
      make_ticket ("N2", "N2", "b", 0), /* no created_at: the store sets now */
      make_ticket ("N1", "second N1", "b", 3000),
      make_ticket ("OLD", "new subject", "new body", 4000),
   };
   assert_true (tk_store_insert_tickets (f->store, batch, 4, &res, &err));
   int64_t after = wall_ms ();
   assert_int_equal (res.n, 4);
   assert_int_equal (res.n_stored, 2);
   assert_int_equal (res.n_duplicate, 2);
   assert_int_equal (res.n_failed, 0);
   assert_int_equal (res.items[0].outcome, TK_INSERT_STORED);
   assert_int_equal (res.items[1].outcome, TK_INSERT_STORED);
   assert_int_equal (res.items[2].outcome, TK_INSERT_DUPLICATE);
   assert_int_equal (res.items[3].outcome, TK_INSERT_DUPLICATE);
   assert_string_equal (tk_insert_outcome_name (res.items[3].outcome), "duplicate");
   tk_insert_result_cleanup (&res);

   /* Written back into stored tickets. */
   assert_int_equal (batch[0]->created_at, 2000);
   assert_in_range (batch[1]->created_at, before, after);
   assert_in_range (batch[1]->updated_at, before, after);

   /* The first N1 won; the already stored ticket was not overwritten. */
   tk_ticket_t *t = get (f->store, "N1");
   assert_string_equal (t->subject, "first N1");
   assert_false (t->processed);
   assert_int_equal (t->created_at, 2000);
   assert_in_range (t->updated_at, before, after);
   tk_ticket_destroy (t);
   t = get (f->store, "N2");
   assert_in_range (t->created_at, before, after);
   tk_ticket_destroy (t);
   t = get (f->store, "OLD");
   assert_string_equal (t->subject, "original subject");
   assert_string_equal (t->body, "original body");
   assert_int_equal (t->created_at, 1000);
   tk_ticket_destroy (t);

   tk_processing_stats_t stats;
   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.total, 3);

   for (size_t i = 0; i < 4; i++) {
      tk_ticket_destroy (batch[i]);
   }
   tk_ticket_destroy (old);
}

static void
test_insert_ignores_classification_and_fails_incomplete_ticket (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_insert_result_t res;
   tk_ticket_t *a = make_ticket ("A", "s", "b", 1000);
   a->processed = true; /* raw tickets are stored unprocessed, whatever they say */
   a->classification.priority = strdup ("P0 (High)");
   tk_ticket_t *bad = tk_ticket_new ();
   bad->id = strdup ("NO-BODY");
   bad->subject = strdup ("s");
   tk_ticket_t *batch[] = {a, bad};

   assert_true (tk_store_insert_tickets (f->store, batch, 2, &res, &err));
   assert_int_equal (res.items[0].outcome, TK_INSERT_STORED);
   assert_int_equal (res.items[1].outcome, TK_INSERT_FAILED);
   assert_true (strlen (res.items[1].message) > 0);
   assert_int_equal (res.n_failed, 1);
   tk_insert_result_cleanup (&res);

   tk_ticket_t *t = get (f->store, "A");
   assert_false (t->processed);
   assert_null (t->classification.priority);
   tk_ticket_destroy (t);
   assert_false (tk_store_get_ticket (f->store, "NO-BODY", &t, &err));
   assert_int_equal (err.domain, TK_ERR_NOT_FOUND);
   assert_null (t);

   /* An empty batch is a successful no-op. */
   assert_true (tk_store_insert_tickets (f->store, NULL, 0, &res, &err));
   assert_int_equal (res.n, 0);
   tk_insert_result_cleanup (&res);

   tk_ticket_destroy (a);
   tk_ticket_destroy (bad);
}

/* ---- upsert_tickets ----------------------------------------------------- */

static void
test_upsert_changes_text_keeps_classification (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_insert_result_t res;

   tk_ticket_t *first[] = {make_ticket ("SAME", "s", "b", 1000),
                           make_ticket ("EDIT", "old subject", "old body", 2000)};
   insert_all (f->store, first, 2);
   int64_t processed_at = wall_ms ();
   classify (f->store, "EDIT", "P0 (High)", processed_at);
   assert_true (tk_store_record_failure (f->store, "EDIT", "earlier timeout", &err));
   tk_ticket_t *same_before = get (f->store, "SAME");

   tk_ticket_t *again[] = {make_ticket ("SAME", "s", "b", 9999),
                           make_ticket ("NEW", "n", "n", 3000),
                           make_ticket ("EDIT", "old subject", "new body", 9999)};
   int64_t before = wall_ms ();
   assert_true (tk_store_upsert_tickets (f->store, again, 3, &res, &err));
   assert_int_equal (res.items[0].outcome, TK_INSERT_UNCHANGED);
   assert_int_equal (res.items[1].outcome, TK_INSERT_STORED);
   assert_int_equal (res.items[2].outcome, TK_INSERT_CHANGED);
   assert_int_equal (res.n_unchanged, 1);
   assert_int_equal (res.n_stored, 1);
   assert_int_equal (res.n_changed, 1);
   assert_int_equal (res.n_duplicate, 0);
   tk_insert_result_cleanup (&res);

   /* Unchanged is a no-op: not even updated_at moves. */
   tk_ticket_t *t = get (f->store, "SAME");
   assert_int_equal (t->updated_at, same_before->updated_at);
   assert_int_equal (t->created_at, 1000);
   tk_ticket_destroy (t);

   /* Changed: new text and updated_at; classification, created_at and
    * failure history survive. */
   t = get (f->store, "EDIT");
   assert_string_equal (t->body, "new body");
   assert_string_equal (t->subject, "old subject");
   assert_true (t->updated_at >= before);
   assert_int_equal (t->created_at, 2000);
   assert_true (t->processed);
   assert_string_equal (t->classification.priority, "P0 (High)");
   assert_int_equal (t->classification.n_topic_tags, 2);
   assert_int_equal (t->metadata.processed_at, processed_at);
   assert_int_equal (t->processing_attempts, 1);
   assert_string_equal (t->last_error, "earlier timeout");
   tk_ticket_destroy (t);

   t = get (f->store, "NEW");
   assert_false (t->processed);
   assert_int_equal (t->created_at, 3000);
   tk_ticket_destroy (t);

   /* The same id twice in one upsert batch applies in order. */
   tk_ticket_t *twice[] = {make_ticket ("NEW", "n", "second", 0),
                           make_ticket ("NEW", "n", "third", 0)};
   assert_true (tk_store_upsert_tickets (f->store, twice, 2, &res, &err));
   assert_int_equal (res.items[0].outcome, TK_INSERT_CHANGED);
   assert_int_equal (res.items[1].outcome, TK_INSERT_CHANGED);
   tk_insert_result_cleanup (&res);
   t = get (f->store, "NEW");
   assert_string_equal (t->body, "third");
   tk_ticket_destroy (t);

   tk_ticket_destroy (same_before);
   for (size_t i = 0; i < 2; i++) {
      tk_ticket_destroy (first[i]);
      tk_ticket_destroy (twice[i]);
   }
   for (size_t i = 0; i < 3; i++) {
      tk_ticket_destroy (again[i]);
   }
}

/* ---- update_ticket_with_classification / record_failure ----------------- */

static void
test_update_classification_in_place_and_idempotent (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_ticket_t *raw = make_ticket ("T-1", "Lineage missing", "body", 1000);
   insert_all (f->store, &raw, 1);

   int64_t processed_at = wall_ms ();
   classify (f->store, "T-1", "P1 (Medium)", processed_at);
   tk_ticket_t *once = get (f->store, "T-1");
   classify (f->store, "T-1", "P1 (Medium)", processed_at); /* redelivery */
   tk_ticket_t *twice = get (f->store, "T-1");

   for (int k = 0; k < 2; k++) {
      tk_ticket_t *t = k ? twice : once;
      assert_true (t->processed);
      assert_string_equal (t->subject, "Lineage missing");
      assert_int_equal (t->created_at, 1000);
      assert_int_equal (t->classification.n_topic_tags, 2);
      assert_string_equal (t->classification.topic_tags[0], "Connector");
      assert_string_equal (t->classification.topic_tags[1], "Lineage");
      assert_string_equal (t->classification.sentiment, "Curious");
      assert_string_equal (t->classification.priority, "P1 (Medium)");
      assert_true (t->confidence.topic == 0.85);
      assert_true (t->confidence.priority == 0.78);
      assert_int_equal (t->metadata.processed_at, processed_at);
      assert_string_equal (t->metadata.model_version, "local-nb-1");
      assert_int_equal (t->metadata.processing_time_ms, 12);
      assert_string_equal (t->metadata.agent_version, "1.0");
      assert_true (t->updated_at >= processed_at);
   }
   tk_processing_stats_t stats;
   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.total, 1);
   assert_int_equal (stats.processed, 1);

   tk_ticket_destroy (once);
   tk_ticket_destroy (twice);
   tk_ticket_destroy (raw);
}

static void
test_update_missing_id_is_not_found (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_classification_t c = {.sentiment = "Angry", .priority = "P0 (High)"};
   tk_confidence_t conf = {0};
   tk_processing_metadata_t meta = {.processed_at = wall_ms ()};
   assert_false (
      tk_store_update_ticket_with_classification (f->store, "GHOST", &c, &conf, &meta, &err));
   assert_int_equal (err.domain, TK_ERR_NOT_FOUND);
   assert_non_null (strstr (err.message, "GHOST"));

   tk_error_clear (&err);
   assert_false (tk_store_record_failure (f->store, "GHOST", "x", &err));
   assert_int_equal (err.domain, TK_ERR_NOT_FOUND);

   tk_classification_t no_priority = {.sentiment = "Angry"};
   assert_false (tk_store_update_ticket_with_classification (f->store, "GHOST", &no_priority,
                                                             &conf, &meta, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);

   /* Nothing was created by the failed updates. */
   tk_processing_stats_t stats;
   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.total, 0);
}

/* What the api's correction leaves in a ticket, written straight into the
 * collection: priority P0 (High) and processing_metadata.corrected_at. */
static void
correct_by_hand (const fixture_t *f, const char *id)
{
   mongoc_client_t *client = mongoc_client_new (tk_test_mongo_uri ());
   mongoc_collection_t *coll = mongoc_client_get_collection (client, f->db, "tickets");
   bson_t *filter = BCON_NEW ("id", BCON_UTF8 (id));
   bson_t *update = BCON_NEW ("$set", "{", "classification.priority", BCON_UTF8 ("P0 (High)"),
                              "processing_metadata.corrected_at", BCON_DATE_TIME (wall_ms ()), "}");
   bson_error_t e;
   assert_true (mongoc_collection_update_one (coll, filter, update, NULL, NULL, &e));
   bson_destroy (update);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
}

/* A correction stored by a person (the api's PUT writes
 * processing_metadata.corrected_at) wins over a classification written
 * "unless corrected": CONFLICT, nothing changed; a ticket never corrected
 * takes it; a missing one is NOT_FOUND. The reader sees the mark. */
static void
test_update_unless_corrected (void **state)
{
   fixture_t *f = *state;
   const char *ids[] = {"C-1", "C-2"};
   const int64_t created[] = {wall_ms (), wall_ms ()};
   insert_ids (f->store, ids, created, 2);
   classify (f->store, "C-1", "P2 (Low)", wall_ms ());
   classify (f->store, "C-2", "P2 (Low)", wall_ms ());
   correct_by_hand (f, "C-1");

   tk_classification_t c = {.sentiment = "Angry", .priority = "P1 (Medium)"};
   tk_confidence_t conf = {0};
   tk_processing_metadata_t meta = {.processed_at = wall_ms (), .model_version = "m-2"};
   tk_error_t err = {0};
   assert_false (tk_store_update_ticket_unless_corrected (f->store, "C-1", &c, &conf, &meta, &err));
   assert_int_equal (err.domain, TK_ERR_CONFLICT);
   tk_ticket_t *t = get (f->store, "C-1");
   assert_string_equal (t->classification.priority, "P0 (High)");
   assert_true (t->metadata.corrected_at > 0);
   tk_ticket_destroy (t);

   assert_true (tk_store_update_ticket_unless_corrected (f->store, "C-2", &c, &conf, &meta, &err));
   t = get (f->store, "C-2");
   assert_string_equal (t->classification.priority, "P1 (Medium)");
   assert_int_equal (t->metadata.corrected_at, 0);
   tk_ticket_destroy (t);

   tk_error_clear (&err);
   assert_false (
      tk_store_update_ticket_unless_corrected (f->store, "GHOST", &c, &conf, &meta, &err));
   assert_int_equal (err.domain, TK_ERR_NOT_FOUND);

   /* Without the condition (an override) the correction is replaced. */
   assert_true (
      tk_store_update_ticket_with_classification (f->store, "C-1", &c, &conf, &meta, &err));
   t = get (f->store, "C-1");
   assert_string_equal (t->classification.priority, "P1 (Medium)");
   assert_int_equal (t->metadata.corrected_at, 0);
   tk_ticket_destroy (t);
}

/* Many classifications in one bulk write, each outcome what the one-ticket
 * call gives: a correction wins, a missing ticket is NOT_FOUND, and the
 * items after those are still written (an ordered bulk stops at nothing
 * here, but the reply's matched count cannot say which item missed). */
static void
test_update_many_in_one_bulk (void **state)
{
   fixture_t *f = *state;
   const char *ids[] = {"B-1", "B-2", "B-3", "B-4"};
   const int64_t created[] = {wall_ms (), wall_ms (), wall_ms (), wall_ms ()};
   insert_ids (f->store, ids, created, 4);
   correct_by_hand (f, "B-2");

   tk_classification_t c = {.sentiment = "Curious", .priority = "P1 (Medium)"};
   tk_confidence_t conf = {0};
   tk_processing_metadata_t meta = {.processed_at = wall_ms (), .model_version = "bulk-1"};
   tk_store_classification_write_t w[] = {
      {.id = "B-1", .c = &c, .confidence = &conf, .metadata = &meta, .unless_corrected = true},
      {.id = "B-2", .c = &c, .confidence = &conf, .metadata = &meta, .unless_corrected = true},
      {.id = "GHOST", .c = &c, .confidence = &conf, .metadata = &meta, .unless_corrected = true},
      {.id = "B-3", .c = &c, .confidence = &conf, .metadata = &meta, .unless_corrected = true},
      {.id = "B-4", .c = &c, .confidence = &conf, .metadata = &meta, .unless_corrected = false},
   };
   tk_store_update_tickets (f->store, w, 5);
   assert_true (w[0].ok);
   assert_false (w[1].ok);
   assert_int_equal (w[1].err.domain, TK_ERR_CONFLICT);
   assert_false (w[2].ok);
   assert_int_equal (w[2].err.domain, TK_ERR_NOT_FOUND);
   assert_true (w[3].ok);
   assert_true (w[4].ok);
   const char *want[] = {"P1 (Medium)", "P0 (High)", "P1 (Medium)", "P1 (Medium)"};
   for (size_t i = 0; i < 4; i++) {
      tk_ticket_t *t = get (f->store, ids[i]);
      assert_string_equal (t->classification.priority, want[i]);
      assert_true (t->processed == (i != 1));
      if (i != 1) {
         assert_string_equal (t->metadata.model_version, "bulk-1");
      }
      tk_ticket_destroy (t);
   }

   /* Every item matching: all written by the bulk, the override included. */
   tk_classification_t c2 = {.sentiment = "Frustrated", .priority = "P0 (High)"};
   tk_store_classification_write_t all[] = {
      {.id = "B-1", .c = &c2, .confidence = &conf, .metadata = &meta, .unless_corrected = true},
      {.id = "B-2", .c = &c2, .confidence = &conf, .metadata = &meta, .unless_corrected = false},
      {.id = "B-3", .c = &c2, .confidence = &conf, .metadata = &meta, .unless_corrected = true},
   };
   tk_store_update_tickets (f->store, all, 3);
   for (size_t i = 0; i < 3; i++) {
      assert_true (all[i].ok);
      tk_ticket_t *t = get (f->store, ids[i]);
      assert_string_equal (t->classification.sentiment, "Frustrated");
      tk_ticket_destroy (t);
   }
   /* An empty batch writes nothing and does not fail. */
   tk_store_update_tickets (f->store, all, 0);
}

static void
test_record_failure_counts_attempts (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_ticket_t *raw = make_ticket ("F-1", "s", "b", 1000);
   insert_all (f->store, &raw, 1);
   assert_true (tk_store_record_failure (f->store, "F-1", "LLM timeout", &err));
   assert_true (tk_store_record_failure (f->store, "F-1", "HTTP 503", &err));
   tk_ticket_t *t = get (f->store, "F-1");
   assert_int_equal (t->processing_attempts, 2);
   assert_string_equal (t->last_error, "HTTP 503");
   assert_false (t->processed);
   tk_ticket_destroy (t);
   tk_ticket_destroy (raw);
}

/* ---- reading ------------------------------------------------------------ */

static void
test_get_unprocessed_oldest_first_with_limit (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_ticket_list_t list;
   static const char *ids[] = {"U3", "U1", "P1", "U2", "P2"};
   static const int64_t created[] = {3000, 1000, 500, 2000, 4000};
   insert_ids (f->store, ids, created, 5);
   classify (f->store, "P1", "P2 (Low)", wall_ms ());
   classify (f->store, "P2", "P2 (Low)", wall_ms ());

   assert_true (tk_store_get_unprocessed_tickets (f->store, 0, &list, &err));
   assert_int_equal (list.n, 3);
   assert_string_equal (list.items[0]->id, "U1");
   assert_string_equal (list.items[1]->id, "U2");
   assert_string_equal (list.items[2]->id, "U3");
   for (size_t i = 0; i < list.n; i++) {
      assert_false (list.items[i]->processed);
   }
   tk_ticket_list_destroy (&list);

   assert_true (tk_store_get_unprocessed_tickets (f->store, 2, &list, &err));
   assert_int_equal (list.n, 2);
   assert_string_equal (list.items[0]->id, "U1");
   assert_string_equal (list.items[1]->id, "U2");
   tk_ticket_list_destroy (&list);
   tk_ticket_list_destroy (&list); /* harmless twice */
   tk_ticket_list_destroy (NULL);
}

static void
test_get_processed_most_recent_first (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_ticket_list_t list;
   static const char *ids[] = {"A", "B", "C", "D"};
   static const int64_t created[] = {1000, 2000, 3000, 4000};
   insert_ids (f->store, ids, created, 4);
   int64_t now = wall_ms ();
   classify (f->store, "A", "P1 (Medium)", now - 1000); /* processed 2nd */
   classify (f->store, "B", "P1 (Medium)", now);        /* processed last */
   classify (f->store, "C", "P1 (Medium)", now - 5000); /* processed 1st */

   assert_true (tk_store_get_processed_tickets (f->store, 0, &list, &err));
   assert_int_equal (list.n, 3);
   assert_string_equal (list.items[0]->id, "B");
   assert_string_equal (list.items[1]->id, "A");
   assert_string_equal (list.items[2]->id, "C");
   tk_ticket_list_destroy (&list);

   assert_true (tk_store_get_processed_tickets (f->store, 1, &list, &err));
   assert_int_equal (list.n, 1);
   assert_string_equal (list.items[0]->id, "B");
   assert_true (list.items[0]->processed);
   tk_ticket_list_destroy (&list);
}

static void
test_get_by_status_newest_first (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_ticket_list_t list;
   static const char *ids[] = {"A", "B", "C", "D", "E"};
   static const int64_t created[] = {1000, 5000, 3000, 4000, 2000};
   insert_ids (f->store, ids, created, 5);
   classify (f->store, "C", "P0 (High)", wall_ms ());
   classify (f->store, "E", "P0 (High)", wall_ms ());

   assert_true (tk_store_get_tickets_by_status (f->store, true, 0, &list, &err));
   assert_int_equal (list.n, 2);
   assert_string_equal (list.items[0]->id, "C");
   assert_string_equal (list.items[1]->id, "E");
   tk_ticket_list_destroy (&list);

   assert_true (tk_store_get_tickets_by_status (f->store, false, 0, &list, &err));
   assert_int_equal (list.n, 3);
   assert_string_equal (list.items[0]->id, "B");
   assert_string_equal (list.items[1]->id, "D");
   assert_string_equal (list.items[2]->id, "A");
   tk_ticket_list_destroy (&list);

   assert_true (tk_store_get_tickets_by_status (f->store, false, 2, &list, &err));
   assert_int_equal (list.n, 2);
   assert_string_equal (list.items[1]->id, "D");
   tk_ticket_list_destroy (&list);
}

/* ---- stats -------------------------------------------------------------- */

static void
test_processing_stats (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_processing_stats_t stats;

   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.total, 0);
   assert_int_equal (stats.n_priorities, 0);

   static const char *ids[] = {"T1", "T2", "T3", "T4", "T5", "T6", "T7"};
   static const int64_t created[] = {1, 2, 3, 4, 5, 6, 7};
   insert_ids (f->store, ids, created, 7);
   int64_t now = wall_ms ();
   int64_t midnight = now - now % (86400 * 1000);
   classify (f->store, "T1", "P0 (High)", now);
   classify (f->store, "T2", "P1 (Medium)", now);
   classify (f->store, "T3", "P1 (Medium)", midnight); /* today, at its first ms */
   classify (f->store, "T4", "Urgent", now);            /* a custom taxonomy's label */
   classify (f->store, "T5", "P1 (Medium)", midnight - 1); /* yesterday */

   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.total, 7);
   assert_int_equal (stats.processed, 5);
   assert_int_equal (stats.unprocessed, 2);
   assert_int_equal (stats.processed_today, 4);
   assert_int_equal (stats.n_priorities, 3);
   assert_int_equal (stats.priority_other, 0);
   /* sorted by label */
   assert_string_equal (stats.priorities[0].label, "P0 (High)");
   assert_string_equal (stats.priorities[1].label, "P1 (Medium)");
   assert_string_equal (stats.priorities[2].label, "Urgent");
   assert_int_equal (tk_processing_stats_priority (&stats, "P0 (High)"), 1);
   assert_int_equal (tk_processing_stats_priority (&stats, "P1 (Medium)"), 3);
   assert_int_equal (tk_processing_stats_priority (&stats, "Urgent"), 1);
   assert_int_equal (tk_processing_stats_priority (&stats, "P2 (Low)"), 0);

   /* Reclassifying moves a ticket between priorities; totals stay. */
   classify (f->store, "T5", "P2 (Low)", now);
   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.processed, 5);
   assert_int_equal (stats.processed_today, 5);
   assert_int_equal (tk_processing_stats_priority (&stats, "P1 (Medium)"), 2);
   assert_int_equal (tk_processing_stats_priority (&stats, "P2 (Low)"), 1);
}

/* ---- stored_at ----------------------------------------------------------- */

/* The stored_at of ticket id, 0 when it has none. */
static int64_t
stored_at (fixture_t *f, const char *id)
{
   mongoc_client_t *client = mongoc_client_new (tk_test_mongo_uri ());
   mongoc_collection_t *coll = mongoc_client_get_collection (client, f->db, "tickets");
   bson_t *filter = BCON_NEW ("_id", BCON_UTF8 (id));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, filter, NULL, NULL);
   const bson_t *doc;
   bson_iter_t it;
   int64_t at = 0;
   if (mongoc_cursor_next (cursor, &doc) && bson_iter_init_find (&it, doc, "stored_at") &&
       BSON_ITER_HOLDS_DATE_TIME (&it)) {
      at = bson_iter_date_time (&it);
   }
   mongoc_cursor_destroy (cursor);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   return at;
}

/* An insert sets stored_at (the same for a whole batch); an upsert, a
 * classification and a failure never change it; the backfill gives the
 * documents written without one their created_at, else updated_at, else
 * now, and changes nothing the second time. */
static void
test_stored_at_set_once_and_backfilled (void **state)
{
   fixture_t *f = *state;
   tk_error_t err = {0};
   tk_insert_result_t res;
   int64_t t0 = wall_ms ();
   tk_ticket_t *ts[2] = {make_ticket ("S-1", "s", "b", t0 - 86400000),
                         make_ticket ("S-2", "s", "b", 0)};
   assert_true (tk_store_insert_tickets (f->store, ts, 2, &res, &err));
   tk_insert_result_cleanup (&res);
   int64_t at = stored_at (f, "S-1");
   assert_true (at >= t0 && at <= wall_ms ());
   assert_int_equal (stored_at (f, "S-2"), at);

   free (ts[0]->body);
   ts[0]->body = strdup ("another body");
   assert_true (tk_store_upsert_tickets (f->store, ts, 1, &res, &err));
   assert_int_equal (res.n_changed, 1);
   tk_insert_result_cleanup (&res);
   assert_true (tk_store_record_failure (f->store, "S-1", "boom", &err));
   tk_classification_t c = {.n_topic_tags = 0, .sentiment = "Neutral", .priority = "P2 (Low)"};
   tk_confidence_t conf = {0.5, 0.5, 0.5};
   tk_processing_metadata_t md = {.processed_at = wall_ms (), .model_version = "m"};
   assert_true (
      tk_store_update_ticket_with_classification (f->store, "S-1", &c, &conf, &md, &err));
   assert_int_equal (stored_at (f, "S-1"), at);
   tk_ticket_destroy (ts[0]);
   tk_ticket_destroy (ts[1]);

   mongoc_client_t *client = mongoc_client_new (tk_test_mongo_uri ());
   mongoc_collection_t *coll = mongoc_client_get_collection (client, f->db, "tickets");
   const char *ids[3] = {"L-1", "L-2", "L-3"};
   for (int i = 0; i < 3; i++) {
      bson_t *doc = BCON_NEW ("_id", BCON_UTF8 (ids[i]), "id", BCON_UTF8 (ids[i]), "subject",
                              BCON_UTF8 ("s"), "body", BCON_UTF8 ("b"), "processed",
                              BCON_BOOL (false));
      if (i == 0) {
         BSON_APPEND_DATE_TIME (doc, "created_at", INT64_C (1600000000000));
      }
      if (i <= 1) {
         BSON_APPEND_DATE_TIME (doc, "updated_at", INT64_C (1600000001000));
      }
      assert_true (mongoc_collection_insert_one (coll, doc, NULL, NULL, NULL));
      bson_destroy (doc);
   }
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   int64_t updated = -1, before = wall_ms ();
   assert_true (tk_store_backfill_stored_at (f->store, 2, NULL, NULL, &updated, &err));
   assert_int_equal (updated, 3);
   assert_int_equal (stored_at (f, "L-1"), INT64_C (1600000000000));
   assert_int_equal (stored_at (f, "L-2"), INT64_C (1600000001000));
   assert_true (stored_at (f, "L-3") >= before);
   assert_int_equal (stored_at (f, "S-1"), at);
   assert_true (tk_store_backfill_stored_at (f->store, 0, NULL, NULL, &updated, &err));
   assert_int_equal (updated, 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_new_rejects_bad_uri_and_takes_db_from_uri),
      cmocka_unit_test_setup_teardown (test_ping, setup, teardown),
      cmocka_unit_test_setup_teardown (test_ensure_indexes_twice_lists_all, setup, teardown),
      cmocka_unit_test_setup_teardown (test_mongodb_index_set, setup_no_indexes, teardown),
      cmocka_unit_test_setup_teardown (test_insert_reports_duplicates_per_index, setup, teardown),
      cmocka_unit_test_setup_teardown (test_insert_ignores_classification_and_fails_incomplete_ticket,
                                       setup, teardown),
      cmocka_unit_test_setup_teardown (test_upsert_changes_text_keeps_classification, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_update_classification_in_place_and_idempotent, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_update_missing_id_is_not_found, setup, teardown),
      cmocka_unit_test_setup_teardown (test_update_unless_corrected, setup, teardown),
      cmocka_unit_test_setup_teardown (test_update_many_in_one_bulk, setup, teardown),
      cmocka_unit_test_setup_teardown (test_record_failure_counts_attempts, setup, teardown),
      cmocka_unit_test_setup_teardown (test_get_unprocessed_oldest_first_with_limit, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_get_processed_most_recent_first, setup, teardown),
      cmocka_unit_test_setup_teardown (test_get_by_status_newest_first, setup, teardown),
      cmocka_unit_test_setup_teardown (test_processing_stats, setup, teardown),
      cmocka_unit_test_setup_teardown (test_stored_at_set_once_and_backfilled, setup, teardown),
   };
   int failed = cmocka_run_group_tests (tests, NULL, NULL);
   mongoc_cleanup ();
   return failed;
}
