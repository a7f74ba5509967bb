/* tkbench.c - the benchmarks' C helper: the parts of bench/run that must be
 * fast or precise (the model loop, loading tickets, the database ceiling,
 * publishing at a fixed rate, timing stored classifications). Each command
 * prints one JSON object on stdout; bench/run collects them.
 *
 *   tkbench model MODEL CORPUS SECONDS [BATCH]
 *       the built-in model alone, one thread, looping over the corpus; also
 *       its mode, load time and RSS after loading and after 20 tickets.
 *       BATCH (default 1) tickets per tk_model_classify_many call.
 *   tkbench seed URI DB N START [--classified MODEL CORPUS]
 *       stores tickets bench-<START>..bench-<START+N-1> (texts from the
 *       corpus, created_at spread over 30 days) in bulk inserts of 1,000;
 *       with --classified two in three are stored already classified, and
 *       every ticket gets its stored_at (its created_at) at once.
 *   tkbench dbceil URI DB N MODEL CORPUS
 *       the database ceiling: the classifications of tickets bench-0..N-1
 *       computed first, then written with plain libmongoc unordered bulk
 *       update_one's of 50 (the same $set the classifier writes).
 *   tkbench request BROKERS TOPIC N
 *       classification requests for bench-0..N-1, as fast as the producer
 *       takes them; prints the time of the first.
 *   tkbench e2e URI DB BROKERS TOPIC N RATE TIMEOUT_S CORPUS
 *       publishes N tickets e2e-<i> (corpus texts) on TOPIC at RATE per
 *       second (0: as fast as possible), records each publish time, waits
 *       until all N are processed (or TIMEOUT_S), then reads every
 *       processing_metadata.processed_at: throughput and latency percentiles.
 *   tkbench wait URI DB N TIMEOUT_S START_MS
 *       waits until N tickets are processed; throughput from START_MS to the
 *       last processed_at.
 *   tkbench topics create|delete BROKERS PARTITIONS TOPIC...
 *       creates or deletes this run's own topics.
 *   tkbench decisions MODEL CORPUS OUT
 *       the model's answer for every corpus text, as NDJSON, for the peer.
 */
#include "error.h"
#include "kafka.h"
#include "labelled.h"
#include "messages.h"
#include "model.h"
#include "store.h"
#include "ticket.h"
#include "ticket_bson.h"

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BATCH 1000
/* Updates per bulk command: FerretDB 1.24 slows down sharply past ~50. */
#define UPDATE_BATCH 50

static int64_t
now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double
mono_s (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void
die (const char *what, const tk_error_t *err)
{
   fprintf (stderr, "tkbench: %s: %s\n", what, err ? err->message : "failed");
   exit (1);
}

static tk_labelled_set_t *
load_corpus (const char *path, const tk_model_example_t **ex, size_t *n)
{
   tk_error_t err;
   tk_labelled_set_t *set = tk_labelled_load (path, &err);
   if (!set) {
      die ("loading the corpus", &err);
   }
   *ex = tk_labelled_examples (set, n);
   if (*n == 0) {
      die ("the corpus is empty", NULL);
   }
   return set;
}

static tk_model_t *
load_model (const char *path)
{
   tk_error_t err;
   tk_model_t *m = tk_model_load (path, &err);
   if (!m) {
      die ("loading the model", &err);
   }
   return m;
}

/* ---- model --------------------------------------------------------------- */

/* This process's resident set, in kB (VmRSS), or -1. */
static long
rss_kb (void)
{
   FILE *f = fopen ("/proc/self/status", "r");
   char line[256];
   long kb = -1;
   while (f && fgets (line, sizeof line, f)) {
      if (strncmp (line, "VmRSS:", 6) == 0) {
         kb = atol (line + 6);
      }
   }
   if (f) {
      fclose (f);
   }
   return kb;
}

static int
cmd_model (int argc, char **argv)
{
   if (argc < 3) {
      return 2;
   }
   double t0 = mono_s ();
   tk_model_t *model = load_model (argv[0]);
   double load_s = mono_s () - t0;
   const tk_model_example_t *ex;
   size_t n;
   tk_labelled_set_t *set = load_corpus (argv[1], &ex, &n);
   long rss_loaded = rss_kb (), rss_warm = -1;
   double seconds = atof (argv[2]), t;
   long batch = argc >= 4 ? atol (argv[3]) : 1;
   if (batch < 1 || batch > 4096) {
      return 2;
   }
   const char **subjects = calloc ((size_t) batch, sizeof *subjects);
   const char **bodies = calloc ((size_t) batch, sizeof *bodies);
   tk_classification_t *c = calloc ((size_t) batch, sizeof *c);
   tk_confidence_t *conf = calloc ((size_t) batch, sizeof *conf);
   if (!subjects || !bodies || !c || !conf) {
      die ("out of memory", NULL);
   }
   size_t done = 0;
   struct timespec c0, c1;
   clock_gettime (CLOCK_THREAD_CPUTIME_ID, &c0);
   t0 = mono_s ();
   /* BATCH tickets at a time, the clock read after each call: the encoder
    * mode takes tens of milliseconds a ticket, the others microseconds. */
   do {
      for (long i = 0; i < batch; i++) {
         const tk_model_example_t *e = &ex[(done + (size_t) i) % n];
         subjects[i] = e->subject;
         bodies[i] = e->body;
      }
      if (batch == 1 ? !tk_model_classify (model, subjects[0], bodies[0], c, conf)
                     : !tk_model_classify_many (model, subjects, bodies, (size_t) batch, c, conf)) {
         die ("classify", NULL);
      }
      for (long i = 0; i < batch; i++) {
         tk_classification_clear (&c[i]);
      }
      size_t before = done;
      done += (size_t) batch;
      if (before < 20 && done >= 20) {
         rss_warm = rss_kb ();
      }
      t = mono_s () - t0;
   } while (t < seconds || done < 20);
   /* Per CPU-second of this thread too: the figure of one core, whatever
    * else shares the machine. */
   clock_gettime (CLOCK_THREAD_CPUTIME_ID, &c1);
   double cpu = (double) (c1.tv_sec - c0.tv_sec) + (double) (c1.tv_nsec - c0.tv_nsec) / 1e9;
   printf ("{\"mode\":\"%s\",\"batch\":%ld,\"tickets\":%zu,\"seconds\":%.3f,\"per_s\":%.1f,"
           "\"per_cpu_s\":%.1f,\"load_s\":%.3f,\"rss_loaded_mb\":%.1f,\"rss_mb\":%.1f}\n",
           tk_model_mode_name (tk_model_mode (model)), batch, done, t, (double) done / t,
           cpu > 0 ? (double) done / cpu : 0.0, load_s, (double) rss_loaded / 1024.0,
           (double) rss_warm / 1024.0);
   free (subjects);
   free (bodies);
   free (c);
   free (conf);
   tk_labelled_destroy (set);
   tk_model_destroy (model);
   return 0;
}

/* ---- seed ---------------------------------------------------------------- */

static mongoc_collection_t *
collection (mongoc_client_t *client, const char *db)
{
   return mongoc_client_get_collection (client, db, "tickets");
}

/* Appends the classifier's $set for one ticket. */
static void
append_classified_set (bson_t *update, const tk_classification_t *c, const tk_confidence_t *conf,
                       const char *model_version, int64_t at)
{
   bson_t set;
   tk_processing_metadata_t md = {.processed_at = at,
                                  .model_version = (char *) model_version,
                                  .processing_time_ms = 0,
                                  .agent_version = (char *) "tkbench"};
   BSON_APPEND_DOCUMENT_BEGIN (update, "$set", &set);
   BSON_APPEND_BOOL (&set, "processed", true);
   tk_classification_append_bson (&set, "classification", c);
   tk_confidence_append_bson (&set, "confidence_scores", conf);
   tk_processing_metadata_append_bson (&set, "processing_metadata", &md);
   BSON_APPEND_DATE_TIME (&set, "updated_at", at);
   bson_append_document_end (update, &set);
}

/* Writes classified documents for ids [from, to) with unordered bulk
 * update_one's; returns the seconds spent in the bulk writes only. */
static double
bulk_classify (mongoc_collection_t *coll, const tk_model_t *model, const tk_model_example_t *ex,
               size_t n_ex, size_t from, size_t to)
{
   size_t n = to - from;
   bson_t **updates = calloc (n, sizeof *updates);
   int64_t at = now_ms ();
   for (size_t i = 0; i < n; i++) {
      const tk_model_example_t *e = &ex[(from + i) % n_ex];
      tk_classification_t c = {0};
      tk_confidence_t conf;
      tk_model_classify (model, e->subject, e->body, &c, &conf);
      updates[i] = bson_new ();
      append_classified_set (updates[i], &c, &conf, tk_model_version (model), at);
      tk_classification_clear (&c);
   }
   double t0 = mono_s ();
   for (size_t b = 0; b < n; b += UPDATE_BATCH) {
      mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts (coll, NULL);
      for (size_t i = b; i < n && i < b + UPDATE_BATCH; i++) {
         char id[32];
         snprintf (id, sizeof id, "bench-%07zu", from + i);
         bson_t *sel = BCON_NEW ("id", BCON_UTF8 (id));
         bson_error_t e;
         if (!mongoc_bulk_operation_update_one_with_opts (bulk, sel, updates[i], NULL, &e)) {
            fprintf (stderr, "tkbench: bulk: %s\n", e.message);
            exit (1);
         }
         bson_destroy (sel);
      }
      bson_t reply;
      bson_error_t e;
      if (!mongoc_bulk_operation_execute (bulk, &reply, &e)) {
         fprintf (stderr, "tkbench: bulk update: %s\n", e.message);
         exit (1);
      }
      bson_destroy (&reply);
      mongoc_bulk_operation_destroy (bulk);
   }
   double t = mono_s () - t0;
   for (size_t i = 0; i < n; i++) {
      bson_destroy (updates[i]);
   }
   free (updates);
   return t;
}

static int
cmd_seed (int argc, char **argv)
{
   if (argc < 4) {
      return 2;
   }
   const char *uri = argv[0], *db = argv[1];
   size_t n = strtoul (argv[2], NULL, 10), start = strtoul (argv[3], NULL, 10);
   const char *model_path = NULL, *corpus = getenv ("TKBENCH_CORPUS");
   if (argc >= 7 && strcmp (argv[4], "--classified") == 0) {
      model_path = argv[5];
      corpus = argv[6];
   }
   if (!corpus) {
      die ("seed needs TKBENCH_CORPUS or --classified MODEL CORPUS", NULL);
   }
   const tk_model_example_t *ex;
   size_t n_ex;
   tk_labelled_set_t *set = load_corpus (corpus, &ex, &n_ex);
   tk_error_t err;
   tk_store_t *store = tk_store_new (uri, db, 4, &err);
   if (!store || !tk_store_ensure_indexes (store, &err)) {
      die ("store", &err);
   }
   tk_model_t *model = model_path ? load_model (model_path) : NULL;
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll = collection (client, db);
   int64_t now = now_ms ();
   double t0 = mono_s ();
   tk_ticket_t **batch = calloc (BATCH, sizeof *batch);
   bson_t **docs = calloc (BATCH, sizeof *docs);
   for (size_t b = 0; b < n; b += BATCH) {
      size_t k = 0;
      for (size_t i = b; i < n && i < b + BATCH; i++, k++) {
         const tk_model_example_t *e = &ex[(start + i) % n_ex];
         tk_ticket_t *t = tk_ticket_new ();
         char id[32];
         snprintf (id, sizeof id, "bench-%07zu", start + i);
         t->id = strdup (id);
         t->subject = strdup (e->subject ? e->subject : "");
         t->body = strdup (e->body ? e->body : "");
         t->source = strdup ("bench");
         t->created_at = now - (int64_t) ((start + i) % (30 * 24 * 60)) * 60000;
         t->updated_at = now;
         /* With a model, two tickets in three are stored already classified
          * (what a store in use looks like). */
         if (model && (start + i) % 3 != 2) {
            tk_model_classify (model, t->subject, t->body, &t->classification, &t->confidence);
            t->processed = true;
            t->metadata.processed_at = t->created_at + 1500;
            t->metadata.model_version = strdup (tk_model_version (model));
            t->metadata.processing_time_ms = 1;
            t->metadata.agent_version = strdup ("tkbench");
         }
         batch[k] = t;
      }
      if (model) {
         /* Written directly: the store's insert writes raw tickets only.
          * With a stored_at, as every insert of the store writes one: the
          * value the api's backfill (store_stored_at.c) would give them,
          * their created_at. Without it, every api started on the database
          * rewrites each ticket in the background (at ~40-100 a second on
          * 2 cores: hours at a million), under the growth step's latencies
          * and under compare_pages.py, which needs a collection at rest. */
         for (size_t i = 0; i < k; i++) {
            docs[i] = bson_new ();
            tk_ticket_to_bson (batch[i], docs[i]);
            BSON_APPEND_DATE_TIME (docs[i], TK_STORE_STORED_AT, batch[i]->created_at);
         }
         bson_error_t e;
         if (!mongoc_collection_insert_many (coll, (const bson_t **) docs, k, NULL, NULL, &e)) {
            fprintf (stderr, "tkbench: insert_many: %s\n", e.message);
            exit (1);
         }
         for (size_t i = 0; i < k; i++) {
            bson_destroy (docs[i]);
         }
      } else {
         tk_insert_result_t res;
         if (!tk_store_insert_tickets (store, batch, k, &res, &err)) {
            die ("insert", &err);
         }
         tk_insert_result_cleanup (&res);
      }
      for (size_t i = 0; i < k; i++) {
         tk_ticket_destroy (batch[i]);
      }
   }
   free (batch);
   free (docs);
   double t_insert = mono_s () - t0;
   double t_classify = 0;
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
   tk_model_destroy (model);
   printf ("{\"tickets\":%zu,\"insert_seconds\":%.3f,\"insert_per_s\":%.1f,"
           "\"classify_seconds\":%.3f}\n",
           n, t_insert, (double) n / t_insert, t_classify);
   tk_store_destroy (store);
   tk_labelled_destroy (set);
   return 0;
}

static int
cmd_dbceil (int argc, char **argv)
{
   if (argc < 5) {
      return 2;
   }
   const char *uri = argv[0], *db = argv[1];
   size_t n = strtoul (argv[2], NULL, 10);
   tk_model_t *model = load_model (argv[3]);
   const tk_model_example_t *ex;
   size_t n_ex;
   tk_labelled_set_t *set = load_corpus (argv[4], &ex, &n_ex);
   tk_error_t err;
   tk_store_t *store = tk_store_new (uri, db, 2, &err);
   if (!store) {
      die ("store", &err);
   }
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll = collection (client, db);
   double t = bulk_classify (coll, model, ex, n_ex, 0, n);
   printf ("{\"tickets\":%zu,\"seconds\":%.3f,\"per_s\":%.1f}\n", n, t, (double) n / t);
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   tk_model_destroy (model);
   tk_labelled_destroy (set);
   return 0;
}

/* ---- Kafka --------------------------------------------------------------- */

static size_t delivered, failed;

static void
on_dr (rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
   (void) rk;
   (void) opaque;
   if (m->err) {
      failed++;
   } else {
      delivered++;
   }
}

static rd_kafka_t *
producer_new (const char *brokers)
{
   char errstr[512];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   if (rd_kafka_conf_set (conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
       rd_kafka_conf_set (conf, "linger.ms", "2", errstr, sizeof errstr) ||
       rd_kafka_conf_set (conf, "enable.idempotence", "true", errstr, sizeof errstr)) {
      fprintf (stderr, "tkbench: kafka conf: %s\n", errstr);
      exit (1);
   }
   rd_kafka_conf_set_dr_msg_cb (conf, on_dr);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
   if (!rk) {
      fprintf (stderr, "tkbench: kafka: %s\n", errstr);
      exit (1);
   }
   return rk;
}

static void
produce (rd_kafka_t *rk, const char *topic, const char *key, const char *payload, size_t len)
{
   for (;;) {
      rd_kafka_resp_err_t e = rd_kafka_producev (
         rk, RD_KAFKA_V_TOPIC (topic), RD_KAFKA_V_KEY (key, strlen (key)),
         RD_KAFKA_V_VALUE ((void *) payload, len), RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY),
         RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
         return;
      }
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
         fprintf (stderr, "tkbench: produce: %s\n", rd_kafka_err2str (e));
         exit (1);
      }
      rd_kafka_poll (rk, 10);
   }
}

static void
producer_finish (rd_kafka_t *rk)
{
   rd_kafka_flush (rk, 30000);
   if (failed) {
      fprintf (stderr, "tkbench: %zu messages were not delivered\n", failed);
      exit (1);
   }
   rd_kafka_destroy (rk);
}

static int
cmd_request (int argc, char **argv)
{
   if (argc < 3) {
      return 2;
   }
   rd_kafka_t *rk = producer_new (argv[0]);
   size_t n = strtoul (argv[2], NULL, 10);
   int64_t start = now_ms ();
   for (size_t i = 0; i < n; i++) {
      char id[32];
      snprintf (id, sizeof id, "bench-%07zu", i);
      /* The message ingest sends (common/messages.h). */
      size_t len;
      tk_error_t err;
      char *msg = tk_msg_classify_build (id, "ingest", start, NULL, false, &len, &err);
      if (!msg) {
         die ("classify request", &err);
      }
      produce (rk, argv[1], id, msg, len);
      free (msg);
      rd_kafka_poll (rk, 0);
   }
   producer_finish (rk);
   printf ("{\"requests\":%zu,\"start_ms\":%" PRId64 ",\"publish_ms\":%" PRId64 "}\n", n, start,
           now_ms () - start);
   return 0;
}

/* ---- waiting for stored classifications --------------------------------- */

static int64_t
count_processed (mongoc_collection_t *coll)
{
   bson_t *q = BCON_NEW ("processed", BCON_BOOL (true));
   bson_error_t e;
   int64_t n = mongoc_collection_count_documents (coll, q, NULL, NULL, NULL, &e);
   bson_destroy (q);
   return n;
}

/* Waits until n are processed; false on timeout. The figures come from the
 * documents' processed_at, not from when this notices, so it polls only
 * every 0.5 s: a count on FerretDB reads every matching document, and
 * polling faster took CPU from the services being measured. */
static bool
wait_processed (mongoc_collection_t *coll, int64_t n, double timeout_s, int64_t *seen)
{
   double deadline = mono_s () + timeout_s;
   do {
      *seen = count_processed (coll);
      if (*seen >= n) {
         return true;
      }
      usleep (500000);
   } while (mono_s () < deadline);
   return false;
}

static int
cmp_i64 (const void *a, const void *b)
{
   int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
   return x < y ? -1 : x > y;
}

static int
cmd_wait (int argc, char **argv)
{
   if (argc < 5) {
      return 2;
   }
   mongoc_client_t *client = mongoc_client_new (argv[0]);
   mongoc_collection_t *coll = collection (client, argv[1]);
   int64_t n = strtoll (argv[2], NULL, 10), seen = 0;
   int64_t start = strtoll (argv[4], NULL, 10);
   bool ok = wait_processed (coll, n, atof (argv[3]), &seen);
   /* The last processed_at, read from every processed document (FerretDB
    * 1.24's $group has no $max). */
   bson_t *q = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *opts = BCON_NEW ("projection", "{", "processing_metadata.processed_at", BCON_INT32 (1),
                            "}");
   mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, q, opts, NULL);
   const bson_t *doc;
   int64_t last = 0;
   while (mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it, at;
      if (bson_iter_init (&at, doc) &&
          bson_iter_find_descendant (&at, "processing_metadata.processed_at", &it) &&
          BSON_ITER_HOLDS_DATE_TIME (&it) && bson_iter_date_time (&it) > last) {
         last = bson_iter_date_time (&it);
      }
   }
   mongoc_cursor_destroy (cur);
   bson_destroy (q);
   bson_destroy (opts);
   double secs = (double) (last - start) / 1000.0;
   printf ("{\"ok\":%s,\"tickets\":%" PRId64 ",\"seconds\":%.3f,\"per_s\":%.1f}\n",
           ok ? "true" : "false", seen, secs, secs > 0 ? (double) seen / secs : 0.0);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   return ok ? 0 : 3;
}

static int
cmd_e2e (int argc, char **argv)
{
   if (argc < 8) {
      return 2;
   }
   const char *uri = argv[0], *db = argv[1], *brokers = argv[2], *topic = argv[3];
   size_t n = strtoul (argv[4], NULL, 10);
   double rate = atof (argv[5]), timeout_s = atof (argv[6]);
   const tk_model_example_t *ex;
   size_t n_ex;
   tk_labelled_set_t *set = load_corpus (argv[7], &ex, &n_ex);
   int64_t *published = calloc (n, sizeof *published);
   rd_kafka_t *rk = producer_new (brokers);
   double t0 = mono_s ();
   int64_t start = now_ms ();
   for (size_t i = 0; i < n; i++) {
      if (rate > 0) {
         double due = t0 + (double) i / rate;
         double wait = due - mono_s ();
         if (wait > 0) {
            rd_kafka_poll (rk, 0);
            usleep ((useconds_t) (wait * 1e6));
         }
      }
      const tk_model_example_t *e = &ex[i % n_ex];
      char id[32];
      snprintf (id, sizeof id, "e2e-%07zu", i);
      /* What an upstream publisher sends (common/messages.h). */
      const tk_ticket_t t = {.id = id,
                             .subject = (char *) (e->subject ? e->subject : ""),
                             .body = (char *) (e->body ? e->body : "")};
      size_t len;
      tk_error_t err;
      char *s = tk_msg_inbound_build (&t, &len, &err);
      if (!s) {
         die ("inbound ticket", &err);
      }
      published[i] = now_ms ();
      produce (rk, topic, id, s, len);
      rd_kafka_poll (rk, 0);
      free (s);
   }
   double publish_s = mono_s () - t0;
   producer_finish (rk);

   mongoc_client_t *client = mongoc_client_new (uri);
   mongoc_collection_t *coll = collection (client, db);
   int64_t seen = 0;
   bool ok = wait_processed (coll, (int64_t) n, timeout_s, &seen);

   /* Latency of each processed ticket. */
   int64_t *lat = calloc (n, sizeof *lat);
   size_t n_lat = 0;
   int64_t last = 0;
   bson_t *q = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *opts = BCON_NEW ("projection", "{", "id", BCON_INT32 (1),
                            "processing_metadata.processed_at", BCON_INT32 (1), "}");
   mongoc_cursor_t *cur = mongoc_collection_find_with_opts (coll, q, opts, NULL);
   const bson_t *doc;
   while (mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it, at;
      if (!bson_iter_init_find (&it, doc, "id") || !BSON_ITER_HOLDS_UTF8 (&it)) {
         continue;
      }
      const char *id = bson_iter_utf8 (&it, NULL);
      if (strncmp (id, "e2e-", 4) != 0) {
         continue;
      }
      size_t i = strtoul (id + 4, NULL, 10);
      if (i >= n || !bson_iter_init (&at, doc) ||
          !bson_iter_find_descendant (&at, "processing_metadata.processed_at", &it) ||
          !BSON_ITER_HOLDS_DATE_TIME (&it)) {
         continue;
      }
      int64_t p = bson_iter_date_time (&it);
      last = p > last ? p : last;
      lat[n_lat++] = p - published[i];
   }
   bson_error_t e;
   if (mongoc_cursor_error (cur, &e)) {
      fprintf (stderr, "tkbench: reading results: %s\n", e.message);
   }
   mongoc_cursor_destroy (cur);
   bson_destroy (q);
   bson_destroy (opts);
   qsort (lat, n_lat, sizeof *lat, cmp_i64);
#define PCT(p) (n_lat ? lat[(size_t) ((double) (n_lat - 1) * (p))] : 0)
   double secs = (double) (last - start) / 1000.0;
   printf ("{\"ok\":%s,\"offered_per_s\":%.1f,\"published\":%zu,\"publish_seconds\":%.3f,"
           "\"processed\":%zu,\"seconds\":%.3f,\"per_s\":%.1f,\"p50_ms\":%" PRId64
           ",\"p95_ms\":%" PRId64 ",\"p99_ms\":%" PRId64 ",\"max_ms\":%" PRId64 "}\n",
           ok ? "true" : "false", (double) n / publish_s, n, publish_s, n_lat, secs,
           secs > 0 ? (double) n_lat / secs : 0.0, PCT (0.50), PCT (0.95), PCT (0.99),
           PCT (1.0));
   free (lat);
   free (published);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   tk_labelled_destroy (set);
   return ok ? 0 : 3;
}

static int
cmd_topics (int argc, char **argv)
{
   if (argc < 4) {
      return 2;
   }
   tk_error_t err;
   const char *const *names = (const char *const *) (argv + 3);
   size_t n = (size_t) (argc - 3);
   bool ok = strcmp (argv[0], "create") == 0
                ? tk_kafka_create_topics (argv[1], NULL, names, n, atoi (argv[2]), -1, 30000, &err)
                : tk_kafka_delete_topics (argv[1], NULL, names, n, 30000, &err);
   if (!ok) {
      die ("topics", &err);
   }
   printf ("{\"topics\":%zu}\n", n);
   return 0;
}

/* ---- decisions for the peer ---------------------------------------------- */

static int
cmd_decisions (int argc, char **argv)
{
   if (argc < 3) {
      return 2;
   }
   tk_model_t *model = load_model (argv[0]);
   const tk_model_example_t *ex;
   size_t n_ex;
   tk_labelled_set_t *set = load_corpus (argv[1], &ex, &n_ex);
   FILE *f = fopen (argv[2], "w");
   if (!f) {
      die ("cannot write the decisions file", NULL);
   }
   for (size_t i = 0; i < n_ex; i++) {
      tk_classification_t c = {0};
      tk_confidence_t conf;
      tk_model_classify (model, ex[i].subject, ex[i].body, &c, &conf);
      cJSON *o = cJSON_CreateObject ();
      cJSON_AddStringToObject (o, "subject", ex[i].subject ? ex[i].subject : "");
      cJSON_AddStringToObject (o, "body", ex[i].body ? ex[i].body : "");
      cJSON *tags = cJSON_AddArrayToObject (o, "topic_tags");
      for (size_t k = 0; k < c.n_topic_tags; k++) {
         cJSON_AddItemToArray (tags, cJSON_CreateString (c.topic_tags[k]));
      }
      cJSON_AddStringToObject (o, "sentiment", c.sentiment);
      cJSON_AddStringToObject (o, "priority", c.priority);
      cJSON *cf = cJSON_AddObjectToObject (o, "confidence_scores");
      cJSON_AddNumberToObject (cf, "topic", conf.topic);
      cJSON_AddNumberToObject (cf, "sentiment", conf.sentiment);
      cJSON_AddNumberToObject (cf, "priority", conf.priority);
      cJSON_AddStringToObject (o, "model_version", tk_model_version (model));
      char *s = cJSON_PrintUnformatted (o);
      fprintf (f, "%s\n", s);
      free (s);
      cJSON_Delete (o);
      tk_classification_clear (&c);
   }
   fclose (f);
   printf ("{\"decisions\":%zu}\n", n_ex);
   tk_labelled_destroy (set);
   tk_model_destroy (model);
   return 0;
}

int
main (int argc, char **argv)
{
   if (argc < 2) {
      fprintf (stderr, "usage: tkbench model|seed|dbceil|request|e2e|wait|decisions ...\n");
      return 2;
   }
   mongoc_init ();
   mongoc_log_set_handler (NULL, NULL); /* "endSessions" warnings from FerretDB */
   int rc = 2;
   const char *cmd = argv[1];
   if (strcmp (cmd, "model") == 0) {
      rc = cmd_model (argc - 2, argv + 2);
   } else if (strcmp (cmd, "seed") == 0) {
      rc = cmd_seed (argc - 2, argv + 2);
   } else if (strcmp (cmd, "dbceil") == 0) {
      rc = cmd_dbceil (argc - 2, argv + 2);
   } else if (strcmp (cmd, "request") == 0) {
      rc = cmd_request (argc - 2, argv + 2);
   } else if (strcmp (cmd, "wait") == 0) {
      rc = cmd_wait (argc - 2, argv + 2);
   } else if (strcmp (cmd, "e2e") == 0) {
      rc = cmd_e2e (argc - 2, argv + 2);
   } else if (strcmp (cmd, "topics") == 0) {
      rc = cmd_topics (argc - 2, argv + 2);
   } else if (strcmp (cmd, "decisions") == 0) {
      rc = cmd_decisions (argc - 2, argv + 2);
   }
   if (rc == 2) {
      fprintf (stderr, "tkbench: bad arguments for %s (see bench/tkbench.c)\n", cmd);
   }
   mongoc_cleanup ();
   return rc;
}
