/* faults_tool.c - the fault suite's small helper, driven by run_faults.sh.
 *
 *   faults_tool topics BROKERS PARTITIONS NAME...
 *       creates the topics (idempotent) on BROKERS.
 *   faults_tool state MONGO_URI DB PREFIX N
 *       reads every ticket of DB's `tickets` collection and prints one line
 *         present=P processed=C failed=F pending=W missing=M extra=E dup=D
 *       for the expected ids PREFIX000000 .. PREFIX(N-1): failed counts the
 *       unprocessed tickets with a recorded error (processing_attempts > 0 and
 *       last_error), pending the unprocessed ones without, missing the
 *       expected ids not stored, extra the stored ids that were never sent,
 *       dup the expected ids seen in more than one document. Exit 0 when the
 *       database answered, 1 otherwise.
 *
 *   faults_tool failed MONGO_URI DB
 *       lists the unprocessed tickets with a recorded error: "id: last_error".
 *   faults_tool latency MONGO_URI DB
 *       end-to-end latency of the processed tickets (processed_at minus
 *       created_at): "n=.. p50_ms=.. p95_ms=.. p99_ms=.. max_ms=..".
 *   faults_tool deltopics BROKERS NAME...
 *       deletes the topics.
 *   faults_tool dropdb MONGO_URI DB
 *       drops the database (a test's own, named per run).
 *   faults_tool count BROKERS TOPIC
 *       prints how many messages TOPIC holds (the sum over its partitions of
 *       high minus low watermark). Exit 0 when the broker answered.
 *
 * A test helper may block: libmongoc and the Kafka admin calls run inline.
 */
#include "error.h"
#include "kafka.h"

#include <librdkafka/rdkafka.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
cmd_topics (int argc, char **argv)
{
   if (argc < 4) {
      fprintf (stderr, "usage: faults_tool topics BROKERS PARTITIONS NAME...\n");
      return 2;
   }
   tk_error_t err;
   if (!tk_kafka_create_topics (argv[1], NULL, (const char *const *) argv + 3,
                                (size_t) (argc - 3), atoi (argv[2]), 1, 30000, &err)) {
      fprintf (stderr, "faults_tool topics: %s\n", err.message);
      return 1;
   }
   return 0;
}

static int
cmd_state (int argc, char **argv)
{
   if (argc != 5) {
      fprintf (stderr, "usage: faults_tool state MONGO_URI DB PREFIX N\n");
      return 2;
   }
   const char *prefix = argv[3];
   size_t plen = strlen (prefix);
   long n = atol (argv[4]);
   int rc = 1;
   unsigned char *seen = calloc ((size_t) (n > 0 ? n : 1), 1);
   mongoc_client_t *client = NULL;
   mongoc_collection_t *coll = NULL;
   mongoc_cursor_t *cur = NULL;
   bson_t *opts = NULL;
   bson_error_t e;
   long present = 0, processed = 0, failed = 0, pending = 0, extra = 0, dup = 0, missing = 0;
   char *uri_text = NULL;

   if (!seen) {
      goto done;
   }
   /* Short timeouts: the database may be the thing that is down. */
   const char *sep = strchr (argv[1], '?')                     ? "&"
                     : strchr (argv[1] + strlen ("mongodb://"), '/') ? "?"
                                                                   : "/?";
   uri_text = bson_strdup_printf ("%s%sserverSelectionTimeoutMS=3000&connectTimeoutMS=3000",
                                  argv[1], sep);
   if (!(client = mongoc_client_new (uri_text))) {
      fprintf (stderr, "faults_tool state: bad URI %s\n", argv[1]);
      goto done;
   }
   coll = mongoc_client_get_collection (client, argv[2], "tickets");
   bson_t filter = BSON_INITIALIZER;
   opts = BCON_NEW ("projection", "{", "id", BCON_INT32 (1), "processed", BCON_INT32 (1),
                    "processing_attempts", BCON_INT32 (1), "last_error", BCON_INT32 (1), "}");
   cur = mongoc_collection_find_with_opts (coll, &filter, opts, NULL);
   const bson_t *doc;
   while (mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it;
      const char *id = bson_iter_init_find (&it, doc, "id") && BSON_ITER_HOLDS_UTF8 (&it)
                          ? bson_iter_utf8 (&it, NULL)
                          : "";
      long idx = -1;
      if (strncmp (id, prefix, plen) == 0 && id[plen]) {
         char *end;
         idx = strtol (id + plen, &end, 10);
         if (*end || idx < 0 || idx >= n) {
            idx = -1;
         }
      }
      if (idx < 0) {
         extra++;
         continue;
      }
      if (seen[idx]++) {
         dup++;
         continue;
      }
      present++;
      bool is_processed = bson_iter_init_find (&it, doc, "processed") && bson_iter_as_bool (&it);
      int64_t attempts = bson_iter_init_find (&it, doc, "processing_attempts")
                            ? bson_iter_as_int64 (&it)
                            : 0;
      bool has_error = bson_iter_init_find (&it, doc, "last_error") &&
                       BSON_ITER_HOLDS_UTF8 (&it) && *bson_iter_utf8 (&it, NULL);
      if (is_processed) {
         processed++;
      } else if (attempts > 0 && has_error) {
         failed++;
      } else {
         pending++;
      }
   }
   if (mongoc_cursor_error (cur, &e)) {
      fprintf (stderr, "faults_tool state: %s\n", e.message);
      goto done;
   }
   for (long i = 0; i < n; i++) {
      if (!seen[i]) {
         if (missing < 3) {
            fprintf (stderr, "missing: %s%06ld\n", prefix, i);
         }
         missing++;
      }
   }
   printf ("present=%ld processed=%ld failed=%ld pending=%ld missing=%ld extra=%ld dup=%ld\n",
           present, processed, failed, pending, missing, extra, dup);
   rc = 0;
done:
   mongoc_cursor_destroy (cur);
   bson_destroy (opts);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   bson_free (uri_text);
   free (seen);
   return rc;
}

static int
cmd_failed (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool failed MONGO_URI DB\n");
      return 2;
   }
   int rc = 1;
   bson_error_t e;
   mongoc_client_t *client = mongoc_client_new (argv[1]);
   mongoc_collection_t *coll = client ? mongoc_client_get_collection (client, argv[2], "tickets")
                                      : NULL;
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (false), "processing_attempts", "{", "$gt",
                              BCON_INT32 (0), "}");
   bson_t *opts = BCON_NEW ("projection", "{", "id", BCON_INT32 (1), "last_error", BCON_INT32 (1),
                            "}");
   mongoc_cursor_t *cur = coll ? mongoc_collection_find_with_opts (coll, filter, opts, NULL) : NULL;
   const bson_t *doc;
   while (cur && mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it;
      const char *id = bson_iter_init_find (&it, doc, "id") && BSON_ITER_HOLDS_UTF8 (&it)
                          ? bson_iter_utf8 (&it, NULL)
                          : "?";
      const char *le = bson_iter_init_find (&it, doc, "last_error") && BSON_ITER_HOLDS_UTF8 (&it)
                          ? bson_iter_utf8 (&it, NULL)
                          : "";
      printf ("%s: %s\n", id, le);
   }
   if (!cur || mongoc_cursor_error (cur, &e)) {
      fprintf (stderr, "faults_tool failed: %s\n", cur ? e.message : "bad URI");
   } else {
      rc = 0;
   }
   mongoc_cursor_destroy (cur);
   bson_destroy (opts);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   return rc;
}

static int
cmp_i64 (const void *a, const void *b)
{
   int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
   return (x > y) - (x < y);
}

static int
cmd_latency (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool latency MONGO_URI DB\n");
      return 2;
   }
   int rc = 1;
   size_t n = 0, cap = 0;
   int64_t *v = NULL;
   bson_error_t e;
   mongoc_client_t *client = mongoc_client_new (argv[1]);
   mongoc_collection_t *coll = client ? mongoc_client_get_collection (client, argv[2], "tickets")
                                      : NULL;
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *opts = BCON_NEW ("projection", "{", "created_at", BCON_INT32 (1),
                            "processing_metadata.processed_at", BCON_INT32 (1), "}");
   mongoc_cursor_t *cur = coll ? mongoc_collection_find_with_opts (coll, filter, opts, NULL) : NULL;
   const bson_t *doc;
   while (cur && mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it;
      int64_t created = 0, processed = 0;
      if (bson_iter_init_find (&it, doc, "created_at") && BSON_ITER_HOLDS_DATE_TIME (&it)) {
         created = bson_iter_date_time (&it);
      }
      if (bson_iter_init (&it, doc) &&
          bson_iter_find_descendant (&it, "processing_metadata.processed_at", &it) &&
          BSON_ITER_HOLDS_DATE_TIME (&it)) {
         processed = bson_iter_date_time (&it);
      }
      if (!created || !processed) {
         continue;
      }
      if (n == cap) {
         cap = cap ? 2 * cap : 1024;
         int64_t *nv = realloc (v, cap * sizeof *v);
         if (!nv) {
            goto done;
         }
         v = nv;
      }
      v[n++] = processed - created;
   }
   if (!cur || mongoc_cursor_error (cur, &e)) {
      fprintf (stderr, "faults_tool latency: %s\n", cur ? e.message : "bad URI");
      goto done;
   }
   qsort (v, n, sizeof *v, cmp_i64);
#define PCT(p) (n ? v[(size_t) ((double) (n - 1) * (p))] : 0)
   printf ("n=%zu p50_ms=%lld p95_ms=%lld p99_ms=%lld max_ms=%lld\n", n, (long long) PCT (0.50),
           (long long) PCT (0.95), (long long) PCT (0.99), (long long) PCT (1.0));
#undef PCT
   rc = 0;
done:
   mongoc_cursor_destroy (cur);
   bson_destroy (opts);
   bson_destroy (filter);
   mongoc_collection_destroy (coll);
   mongoc_client_destroy (client);
   free (v);
   return rc;
}

static int
cmd_deltopics (int argc, char **argv)
{
   if (argc < 3) {
      fprintf (stderr, "usage: faults_tool deltopics BROKERS NAME...\n");
      return 2;
   }
   tk_error_t err;
   if (!tk_kafka_delete_topics (argv[1], NULL, (const char *const *) argv + 2,
                                (size_t) (argc - 2), 30000, &err)) {
      fprintf (stderr, "faults_tool deltopics: %s\n", err.message);
      return 1;
   }
   return 0;
}

static int
cmd_dropdb (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool dropdb MONGO_URI DB\n");
      return 2;
   }
   int rc = 1;
   bson_error_t e;
   mongoc_client_t *client = mongoc_client_new (argv[1]);
   mongoc_database_t *db = client ? mongoc_client_get_database (client, argv[2]) : NULL;
   if (!db) {
      fprintf (stderr, "faults_tool dropdb: bad URI %s\n", argv[1]);
   } else if (!mongoc_database_drop (db, &e)) {
      fprintf (stderr, "faults_tool dropdb: %s\n", e.message);
   } else {
      rc = 0;
   }
   mongoc_database_destroy (db);
   mongoc_client_destroy (client);
   return rc;
}

static int
cmd_count (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool count BROKERS TOPIC\n");
      return 2;
   }
   char errstr[512];
   int rc = 1;
   const rd_kafka_metadata_t *md = NULL;
   rd_kafka_topic_t *rkt = NULL;
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   if (rd_kafka_conf_set (conf, "bootstrap.servers", argv[1], errstr, sizeof errstr) !=
       RD_KAFKA_CONF_OK) {
      fprintf (stderr, "faults_tool count: %s\n", errstr);
      rd_kafka_conf_destroy (conf);
      return 1;
   }
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr); /* owns conf */
   if (!rk) {
      fprintf (stderr, "faults_tool count: %s\n", errstr);
      rd_kafka_conf_destroy (conf);
      return 1;
   }
   rkt = rd_kafka_topic_new (rk, argv[2], NULL);
   rd_kafka_resp_err_t e = rd_kafka_metadata (rk, 0, rkt, &md, 10000);
   if (e || md->topic_cnt != 1 || md->topics[0].err) {
      fprintf (stderr, "faults_tool count: no metadata for %s: %s\n", argv[2],
               rd_kafka_err2str (e ? e : md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
      goto done;
   }
   long long total = 0;
   for (int p = 0; p < md->topics[0].partition_cnt; p++) {
      int64_t lo, hi;
      if ((e = rd_kafka_query_watermark_offsets (rk, argv[2], md->topics[0].partitions[p].id, &lo,
                                                 &hi, 10000))) {
         fprintf (stderr, "faults_tool count: %s\n", rd_kafka_err2str (e));
         goto done;
      }
      total += hi - lo;
   }
   printf ("%lld\n", total);
   rc = 0;
done:
   if (md) {
      rd_kafka_metadata_destroy (md);
   }
   if (rkt) {
      rd_kafka_topic_destroy (rkt);
   }
   rd_kafka_destroy (rk);
   return rc;
}

int
main (int argc, char **argv)
{
   if (argc < 2) {
      fprintf (stderr, "usage: faults_tool topics|state|dropdb ...\n");
      return 2;
   }
   mongoc_init ();
   int rc = 2;
   if (strcmp (argv[1], "topics") == 0) {
      rc = cmd_topics (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "failed") == 0) {
      rc = cmd_failed (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "latency") == 0) {
      rc = cmd_latency (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "deltopics") == 0) {
      rc = cmd_deltopics (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "dropdb") == 0) {
      rc = cmd_dropdb (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "state") == 0) {
      rc = cmd_state (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "count") == 0) {
      rc = cmd_count (argc - 1, argv + 1);
   } else {
      fprintf (stderr, "faults_tool: unknown command %s\n", argv[1]);
   }
   mongoc_cleanup ();
   return rc;
}
