/* triagectl train --with-corrections against a real database and the real
 * api: classifications corrected through PUT /api/processed-tickets/{id}
 * teach the model a made-up phrase the corpus never saw, contradicting what
 * the corpus-only model says of it; the model_version changes with them; a
 * database that cannot be reached fails clearly and writes no model. */
#include "store_fixture.h"
#include "test_support.h"

#include "kafka.h"
#include "labelled.h"
#include "model.h"
#include "service_proc.h"
#include "store.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define CORPUS TRIAGE_SOURCE_DIR "/services/classifier/corpus/train.ndjson"
/* Words that appear nowhere in the corpus. */
#define PHRASE_SUBJECT "zorblax quuxifier wibblenut"
#define PHRASE_BODY "The zorblax quuxifier keeps wibblenutting the frobozz gadgetron."
#define N_PHRASE 8

static char db[64], topic[96], dir[64];
static char env_db[128], env_topic[160], env_mongo[256], env_brokers[256];
static tk_store_t *store;
static tk_test_service_t api;
static bool api_started;

/* Runs `triagectl train <args>` with extra environment (shell words) and
 * returns its exit status; its stdout and stderr land in out. */
static int
run_train (const char *env, const char *args, char *out, size_t cap)
{
   char cmd[2048];
   snprintf (cmd, sizeof cmd, "%s %s/triagectl train --corpus '%s' %s 2>&1", env,
             TRIAGE_BIN_DIR, CORPUS, args);
   return tk_test_shell (cmd, out, cap);
}

static long
api_call (const char *method, const char *path, const char *body)
{
   char url[256];
   snprintf (url, sizeof url, "%s%s", api.base_url, path);
   const char *headers[] = {"Authorization: Bearer " ADMIN_KEY, "Content-Type: application/json",
                            NULL};
   tk_test_http_response_t r;
   assert_true (tk_test_http (method, url, body, body ? strlen (body) : 0, headers, &r));
   long status = r.status;
   if (status >= 300) {
      fprintf (stderr, "%s %s -> %ld %s\n", method, path, status, r.body);
   }
   tk_test_http_free (&r);
   return status;
}

/* Stores a processed ticket through the api with the given labels. */
static void
post_ticket (const char *id, const char *subject, const char *body, const char *topic_tag,
             const char *sentiment, const char *priority)
{
   char json[1024];
   snprintf (json, sizeof json,
             "{\"id\":\"%s\",\"subject\":\"%s\",\"body\":\"%s\",\"classification\":"
             "{\"topic_tags\":[\"%s\"],\"sentiment\":\"%s\",\"priority\":\"%s\"},"
             "\"confidence_scores\":{\"topic\":0.9,\"sentiment\":0.9,\"priority\":0.9}}",
             id, subject, body, topic_tag, sentiment, priority);
   assert_int_equal (api_call ("POST", "/api/processed-tickets", json), 201);
}

/* Corrects a ticket's classification through the api, as a person would. */
static void
correct_ticket (const char *id, const char *topic_tag, const char *sentiment,
                const char *priority)
{
   char path[256], json[512];
   snprintf (path, sizeof path, "/api/processed-tickets/%s", id);
   snprintf (json, sizeof json,
             "{\"classification\":{\"topic_tags\":[\"%s\"],\"sentiment\":\"%s\","
             "\"priority\":\"%s\"},\"note\":\"the model gets these wrong\"}",
             topic_tag, sentiment, priority);
   assert_int_equal (api_call ("PUT", path, json), 200);
}

/* The first label of field that differs from avoid. */
static const char *
other_label (const tk_model_t *m, tk_model_field_t field, const char *avoid)
{
   const char *const *labels;
   size_t n = tk_model_labels (m, field, &labels);
   for (size_t i = 0; i < n; i++) {
      if (strcmp (labels[i], avoid)) {
         return labels[i];
      }
   }
   fail_msg ("field %d has no label other than %s", (int) field, avoid);
   return NULL;
}

static bool
has_tag (const tk_classification_t *c, const char *tag)
{
   for (size_t i = 0; i < c->n_topic_tags; i++) {
      if (!strcmp (c->topic_tags[i], tag)) {
         return true;
      }
   }
   return false;
}

/* A topic tag of the model that c does not have. */
static const char *
tag_not_in (const tk_model_t *m, const tk_classification_t *c)
{
   const char *const *labels;
   size_t n = tk_model_labels (m, TK_MODEL_TOPIC, &labels);
   for (size_t i = 0; i < n; i++) {
      if (!has_tag (c, labels[i])) {
         return labels[i];
      }
   }
   fail_msg ("the model chose every topic tag");
   return NULL;
}

static void
test_corrections_teach_the_model (void **state)
{
   (void) state;
   static char out[65536];
   char env[1024], args[512], base_path[128], corr_path[128], again_path[128];
   tk_error_t err;
   snprintf (env, sizeof env, "TRIAGE_MONGO_URI='%s' TRIAGE_MONGO_DB='%s'", tk_test_mongo_uri (),
             db);
   snprintf (base_path, sizeof base_path, "%s/base.bin", dir);
   snprintf (corr_path, sizeof corr_path, "%s/corrected.bin", dir);
   snprintf (again_path, sizeof again_path, "%s/again.bin", dir);

   /* The corpus-only model, with the same split as the corrected one. */
   snprintf (args, sizeof args, "--holdout 0.2 --seed 1 --out '%s'", base_path);
   assert_int_equal (run_train ("", args, out, sizeof out), 0);
   tk_model_t *base = tk_model_load (base_path, &err);
   assert_non_null (base);
   tk_classification_t before = {0};
   assert_true (tk_model_classify (base, PHRASE_SUBJECT, PHRASE_BODY, &before, NULL));

   /* Labels that contradict the corpus model on every field. */
   const char *want_topic = tag_not_in (base, &before);
   const char *want_sentiment = other_label (base, TK_MODEL_SENTIMENT, before.sentiment);
   const char *want_priority = other_label (base, TK_MODEL_PRIORITY, before.priority);
   assert_false (has_tag (&before, want_topic));

   /* N_PHRASE tickets with the phrase, first stored with the corpus model's
    * labels and then corrected by hand; one more that is never corrected
    * (it must not be folded in); and one corpus ticket, corrected too, so a
    * correction replaces a corpus entry. */
   for (int i = 0; i < N_PHRASE; i++) {
      char id[32];
      snprintf (id, sizeof id, "CORR-%02d", i);
      post_ticket (id, PHRASE_SUBJECT, PHRASE_BODY, before.topic_tags[0], before.sentiment,
                   before.priority);
      correct_ticket (id, want_topic, want_sentiment, want_priority);
   }
   post_ticket ("UNCORRECTED-1", PHRASE_SUBJECT, PHRASE_BODY, before.topic_tags[0],
                before.sentiment, before.priority);
   tk_labelled_set_t *corpus = tk_labelled_load (CORPUS, &err);
   assert_non_null (corpus);
   size_t n_corpus;
   const tk_model_example_t *ex = tk_labelled_examples (corpus, &n_corpus);
   assert_true (n_corpus > 0);
   post_ticket (ex[0].id, "Routine question", "Where is the settings page?", ex[0].topic_tags[0],
                ex[0].sentiment, ex[0].priority);
   correct_ticket (ex[0].id, "Glossary", "Neutral", "P2 (Low)");
   tk_labelled_destroy (corpus);

   snprintf (args, sizeof args, "--with-corrections --holdout 0.2 --seed 1 --out '%s'", corr_path);
   int rc = run_train (env, args, out, sizeof out);
   printf ("%s", out);
   assert_int_equal (rc, 0);
   char expect[256];
   snprintf (expect, sizeof expect,
             "folded in %d corrections from database %s (1 replaced corpus tickets; weight 1 each)",
             N_PHRASE + 1, db);
   assert_non_null (strstr (out, expect));

   tk_model_t *corrected = tk_model_load (corr_path, &err);
   assert_non_null (corrected);
   tk_classification_t after = {0};
   assert_true (tk_model_classify (corrected, PHRASE_SUBJECT, PHRASE_BODY, &after, NULL));
   printf ("before: %s / %s / %s; after: %s / %s / %s\n", before.topic_tags[0], before.sentiment,
           before.priority, after.topic_tags[0], after.sentiment, after.priority);
   assert_string_equal (after.topic_tags[0], want_topic);
   assert_string_equal (after.sentiment, want_sentiment);
   assert_string_equal (after.priority, want_priority);
   assert_string_not_equal (tk_model_version (corrected), tk_model_version (base));
   assert_non_null (strstr (out, tk_model_version (corrected)));

   /* The same corrections give the same model_version. */
   snprintf (args, sizeof args, "--with-corrections --holdout 0.2 --seed 1 --out '%s'",
             again_path);
   assert_int_equal (run_train (env, args, out, sizeof out), 0);
   tk_model_t *again = tk_model_load (again_path, &err);
   assert_non_null (again);
   assert_string_equal (tk_model_version (again), tk_model_version (corrected));

   tk_classification_clear (&before);
   tk_classification_clear (&after);
   tk_model_destroy (again);
   tk_model_destroy (corrected);
   tk_model_destroy (base);
}

static void
test_unreachable_database_writes_nothing (void **state)
{
   (void) state;
   static char out[65536];
   char env[512], args[512], path[128];
   struct stat st;
   /* A port nothing listens on; the URI's own timeout keeps the wait short. */
   snprintf (env, sizeof env,
             "TRIAGE_MONGO_URI='mongodb://127.0.0.1:%d/?serverSelectionTimeoutMS=1000' "
             "TRIAGE_MONGO_DB='%s'",
             tk_test_free_port (), db);
   snprintf (path, sizeof path, "%s/never.bin", dir);
   snprintf (args, sizeof args, "--with-corrections --out '%s'", path);
   int rc = run_train (env, args, out, sizeof out);
   printf ("%s", out);
   assert_int_equal (rc, 1);
   assert_non_null (strstr (out, "cannot read the corrections"));
   assert_non_null (strstr (out, "no model written"));
   assert_int_equal (stat (path, &st), -1);
}

static int
setup (void **state)
{
   (void) state;
   tk_error_t err;
   tk_test_unique_name ("test.train.classify", topic, sizeof topic);
   snprintf (dir, sizeof dir, "/tmp/triage_train_XXXXXX");
   if (!mkdtemp (dir)) {
      return -1;
   }
   store = tk_test_store_open ("triage_test_train", db, sizeof db, 2);
   if (!store) {
      return -1;
   }
   snprintf (env_db, sizeof env_db, "TRIAGE_MONGO_DB=%s", db);
   snprintf (env_topic, sizeof env_topic, "TRIAGE_TOPIC_CLASSIFY=%s", topic);
   snprintf (env_mongo, sizeof env_mongo, "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   snprintf (env_brokers, sizeof env_brokers, "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   const char *names[] = {topic};
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 1, 1, -1, 20000, &err)) {
      fprintf (stderr, "create topic: %s\n", err.message);
      tk_test_store_drop (store); /* no teardown follows a failed setup */
      store = NULL;
      return -1;
   }
   const char *env[] = {env_db, env_topic, env_mongo, env_brokers, "TRIAGE_ADMIN_KEY=" ADMIN_KEY,
                        "TRIAGE_API_CACHE_TTL=0", NULL};
   api_started = tk_test_service_start (&api, "api", env, 20000);
   return api_started ? 0 : -1;
}

static int
teardown (void **state)
{
   (void) state;
   tk_error_t err;
   int rc = api_started ? tk_test_service_stop (&api, SIGTERM, 15000) : 0;
   if (rc != 0) {
      tk_test_service_dump_log (&api);
   }
   if (!tk_test_store_drop (store)) {
      rc = -1;
   }
   const char *names[] = {topic};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 20000, &err);
   char cmd[128];
   snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
   if (system (cmd) != 0) {
      fprintf (stderr, "could not remove %s\n", dir);
   }
   return rc == 0 ? 0 : -1;
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_corrections_teach_the_model),
      cmocka_unit_test (test_unreachable_database_writes_nothing),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
