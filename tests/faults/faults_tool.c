/* faults_tool.c - the fault suite's small helper, driven by run_faults.sh.
 *
 *   faults_tool topics [--leader ID --replicas R] BROKERS PARTITIONS NAME...
 *       creates the topics (idempotent) on BROKERS, with the brokers' default
 *       replication factor; with --leader, R replicas per partition placed on
 *       nodes ID, ID+1, ... (modulo R, node ids 1..R), so node ID is every
 *       partition's preferred leader.
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
 * For the broker cluster scenario:
 *   faults_tool leaders BROKERS TOPIC
 *       one line per partition: "P leader=L replicas=a,b,c isr=a,b" (leader
 *       -1 while it has none).
 *   faults_tool offsets BROKERS GROUP TOPIC
 *       GROUP's committed offsets on TOPIC and how far they are behind the
 *       ends of the partitions: "0=N 1=N ... lag=L" (-1 for none).
 *   faults_tool group BROKERS GROUP
 *       "state=S members=M assigned=P coordinator=ID": the group's state, its
 *       members, how many partitions they hold, the broker coordinating it.
 *   faults_tool classified BROKERS TOPIC
 *       reads TOPIC to its end and prints "messages=M ids=I repeated=R
 *       differing=D": R ids have more than one message, D of them messages
 *       that are not byte for byte the same (the first one is shown on stderr).
 *   faults_tool pause MONGO_URI DB KILL_MS [WINDOW_MS]
 *       from the processed tickets' processing_metadata.processed_at, the
 *       classifications in (KILL_MS, KILL_MS + WINDOW_MS] (default 60 s):
 *       "first_ms=F stall_ms=S pause_ms=P classified=N". F: the first after
 *       KILL_MS (work in flight at the kill finishes at once); S: the longest
 *       gap between the kill and consecutive classifications; P: from the kill
 *       to the classification that ends that gap, the failover pause.
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
#include <time.h>

#define KAFKA_WAIT_MS 15000

/* A plain client on brokers; a consumer is of group (a placeholder when
 * NULL: it only ever reads assigned partitions, never joins the group nor
 * commits). NULL with a message on stderr. Free with rd_kafka_destroy. */
static rd_kafka_t *
kafka_client_new (rd_kafka_type_t type, const char *brokers, const char *group)
{
   char errstr[512];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   if (rd_kafka_conf_set (conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
       (type == RD_KAFKA_CONSUMER &&
        (rd_kafka_conf_set (conf, "group.id", group ? group : "faults_tool", errstr, sizeof errstr) ||
         rd_kafka_conf_set (conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
         rd_kafka_conf_set (conf, "enable.partition.eof", "true", errstr, sizeof errstr)))) {
      fprintf (stderr, "faults_tool: %s\n", errstr);
      rd_kafka_conf_destroy (conf);
      return NULL;
   }
   rd_kafka_t *rk = rd_kafka_new (type, conf, errstr, sizeof errstr); /* owns conf on success */
   if (!rk) {
      fprintf (stderr, "faults_tool: %s\n", errstr);
      rd_kafka_conf_destroy (conf);
   }
   return rk;
}

/* TOPIC's metadata through rk; NULL with a message on stderr. Free with
 * rd_kafka_metadata_destroy. */
static const rd_kafka_metadata_t *
topic_metadata (rd_kafka_t *rk, const char *topic)
{
   const rd_kafka_metadata_t *md = NULL;
   rd_kafka_topic_t *rkt = rd_kafka_topic_new (rk, topic, NULL);
   rd_kafka_resp_err_t e = rd_kafka_metadata (rk, 0, rkt, &md, KAFKA_WAIT_MS);
   rd_kafka_topic_destroy (rkt);
   if (!e && (md->topic_cnt != 1 || md->topics[0].err)) {
      e = md->topic_cnt == 1 ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
   }
   if (e) {
      fprintf (stderr, "faults_tool: no metadata for %s: %s\n", topic, rd_kafka_err2str (e));
      if (md) {
         rd_kafka_metadata_destroy (md);
      }
      return NULL;
   }
   return md;
}

/* Creates the topics with replicas on nodes leader, leader+1, ... (1-based,
 * modulo replicas), so that every partition's preferred leader is `leader`. */
static int
create_topics_led_by (const char *brokers, int leader, int replicas, int partitions,
                      char **names, int n)
{
   char errstr[512];
   int rc = 1;
   rd_kafka_t *rk = kafka_client_new (RD_KAFKA_PRODUCER, brokers, NULL);
   rd_kafka_NewTopic_t **newt = calloc ((size_t) n, sizeof *newt);
   rd_kafka_queue_t *q = rk ? rd_kafka_queue_new (rk) : NULL;
   rd_kafka_event_t *ev = NULL;
   int32_t ids[16];
   if (!rk || !newt || replicas < 1 || replicas > 16 || leader < 1 || leader > replicas) {
      fprintf (stderr, "faults_tool topics: cannot place %d replicas led by node %d\n", replicas,
               leader);
      goto done;
   }
   for (int r = 0; r < replicas; r++) {
      ids[r] = (int32_t) ((leader - 1 + r) % replicas + 1);
   }
   for (int i = 0; i < n; i++) {
      /* Replication factor -1: the assignment gives the replicas. */
      if (!(newt[i] = rd_kafka_NewTopic_new (names[i], partitions, -1, errstr, sizeof errstr))) {
         fprintf (stderr, "faults_tool topics: %s: %s\n", names[i], errstr);
         goto done;
      }
      for (int p = 0; p < partitions; p++) {
         if (rd_kafka_NewTopic_set_replica_assignment (newt[i], p, ids, (size_t) replicas, errstr,
                                                       sizeof errstr)) {
            fprintf (stderr, "faults_tool topics: %s: %s\n", names[i], errstr);
            goto done;
         }
      }
   }
   rd_kafka_CreateTopics (rk, newt, (size_t) n, NULL, q);
   if (!(ev = rd_kafka_queue_poll (q, 30000)) || rd_kafka_event_error (ev)) {
      fprintf (stderr, "faults_tool topics: %s\n",
               ev ? rd_kafka_event_error_string (ev) : "timed out");
      goto done;
   }
   size_t cnt = 0;
   const rd_kafka_topic_result_t **res =
      rd_kafka_CreateTopics_result_topics (rd_kafka_event_CreateTopics_result (ev), &cnt);
   rc = 0;
   for (size_t i = 0; i < cnt; i++) {
      rd_kafka_resp_err_t e = rd_kafka_topic_result_error (res[i]);
      if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
         fprintf (stderr, "faults_tool topics: %s: %s\n", rd_kafka_topic_result_name (res[i]),
                  rd_kafka_topic_result_error_string (res[i]));
         rc = 1;
      }
   }
done:
   if (ev) {
      rd_kafka_event_destroy (ev);
   }
   for (int i = 0; newt && i < n; i++) {
      if (newt[i]) {
         rd_kafka_NewTopic_destroy (newt[i]);
      }
   }
   free (newt);
   if (q) {
      rd_kafka_queue_destroy (q);
   }
   if (rk) {
      rd_kafka_destroy (rk);
   }
   return rc;
}

static int
cmd_topics (int argc, char **argv)
{
   int leader = 0, replicas = 0;
   while (argc >= 3 && strncmp (argv[1], "--", 2) == 0) {
      if (strcmp (argv[1], "--leader") == 0) {
         leader = atoi (argv[2]);
      } else if (strcmp (argv[1], "--replicas") == 0) {
         replicas = atoi (argv[2]);
      } else {
         break;
      }
      argc -= 2;
      argv += 2;
   }
   if (argc < 4 || (leader > 0) != (replicas > 0)) {
      fprintf (stderr,
               "usage: faults_tool topics [--leader ID --replicas R] BROKERS PARTITIONS NAME...\n");
      return 2;
   }
   if (leader > 0) {
      return create_topics_led_by (argv[1], leader, replicas, atoi (argv[2]), argv + 3, argc - 3);
   }
   tk_error_t err;
   if (!tk_kafka_create_topics (argv[1], NULL, (const char *const *) argv + 3,
                                (size_t) (argc - 3), atoi (argv[2]), -1, 30000, &err)) {
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
   int rc = 1;
   rd_kafka_t *rk = kafka_client_new (RD_KAFKA_CONSUMER, argv[1], NULL);
   const rd_kafka_metadata_t *md = rk ? topic_metadata (rk, argv[2]) : NULL;
   if (!md) {
      goto done;
   }
   long long total = 0;
   for (int p = 0; p < md->topics[0].partition_cnt; p++) {
      int64_t lo, hi;
      rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets (
         rk, argv[2], md->topics[0].partitions[p].id, &lo, &hi, KAFKA_WAIT_MS);
      if (e) {
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
   if (rk) {
      rd_kafka_destroy (rk);
   }
   return rc;
}

/* Prints n broker ids as "a,b,c". */
static void
print_ids (const int32_t *ids, int n)
{
   for (int i = 0; i < n; i++) {
      printf ("%s%d", i ? "," : "", (int) ids[i]);
   }
}

static int
cmd_leaders (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool leaders BROKERS TOPIC\n");
      return 2;
   }
   rd_kafka_t *rk = kafka_client_new (RD_KAFKA_PRODUCER, argv[1], NULL);
   const rd_kafka_metadata_t *md = rk ? topic_metadata (rk, argv[2]) : NULL;
   if (md) {
      const rd_kafka_metadata_topic_t *t = &md->topics[0];
      for (int p = 0; p < t->partition_cnt; p++) {
         const rd_kafka_metadata_partition_t *mp = &t->partitions[p];
         printf ("%d leader=%d replicas=", (int) mp->id, (int) mp->leader);
         print_ids (mp->replicas, mp->replica_cnt);
         printf (" isr=");
         print_ids (mp->isrs, mp->isr_cnt);
         printf ("\n");
      }
      rd_kafka_metadata_destroy (md);
   }
   if (rk) {
      rd_kafka_destroy (rk);
   }
   return md ? 0 : 1;
}

static int
cmd_offsets (int argc, char **argv)
{
   if (argc != 4) {
      fprintf (stderr, "usage: faults_tool offsets BROKERS GROUP TOPIC\n");
      return 2;
   }
   int rc = 1;
   /* A consumer handle of the group that never subscribes: it reads the
    * group's offsets from the coordinator without joining the group. */
   rd_kafka_t *rk = kafka_client_new (RD_KAFKA_CONSUMER, argv[1], argv[2]);
   const rd_kafka_metadata_t *md = rk ? topic_metadata (rk, argv[3]) : NULL;
   rd_kafka_topic_partition_list_t *parts = NULL;
   if (!md) {
      goto done;
   }
   parts = rd_kafka_topic_partition_list_new (md->topics[0].partition_cnt);
   for (int p = 0; p < md->topics[0].partition_cnt; p++) {
      rd_kafka_topic_partition_list_add (parts, argv[3], md->topics[0].partitions[p].id);
   }
   rd_kafka_resp_err_t e = rd_kafka_committed (rk, parts, KAFKA_WAIT_MS);
   for (int i = 0; !e && i < parts->cnt; i++) {
      e = parts->elems[i].err;
   }
   if (e) {
      fprintf (stderr, "faults_tool offsets: %s\n", rd_kafka_err2str (e));
      goto done;
   }
   long long lag = 0;
   for (int i = 0; i < parts->cnt; i++) {
      int64_t lo, hi, at = parts->elems[i].offset;
      if ((e = rd_kafka_query_watermark_offsets (rk, argv[3], parts->elems[i].partition, &lo, &hi,
                                                 KAFKA_WAIT_MS))) {
         fprintf (stderr, "faults_tool offsets: %s\n", rd_kafka_err2str (e));
         goto done;
      }
      lag += hi - (at < 0 ? lo : at);
      printf ("%d=%lld ", (int) parts->elems[i].partition, (long long) (at < 0 ? -1 : at));
   }
   printf ("lag=%lld\n", lag);
   rc = 0;
done:
   if (parts) {
      rd_kafka_topic_partition_list_destroy (parts);
   }
   if (md) {
      rd_kafka_metadata_destroy (md);
   }
   if (rk) {
      rd_kafka_destroy (rk);
   }
   return rc;
}

static int
cmd_group (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool group BROKERS GROUP\n");
      return 2;
   }
   int rc = 1;
   char errstr[512];
   rd_kafka_t *rk = kafka_client_new (RD_KAFKA_PRODUCER, argv[1], NULL);
   rd_kafka_queue_t *q = rk ? rd_kafka_queue_new (rk) : NULL;
   rd_kafka_AdminOptions_t *opts = NULL;
   rd_kafka_event_t *ev = NULL;
   if (!rk) {
      goto done;
   }
   opts = rd_kafka_AdminOptions_new (rk, RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
   if (rd_kafka_AdminOptions_set_request_timeout (opts, KAFKA_WAIT_MS, errstr, sizeof errstr)) {
      fprintf (stderr, "faults_tool group: %s\n", errstr);
      goto done;
   }
   const char *groups[] = { argv[2] };
   rd_kafka_DescribeConsumerGroups (rk, groups, 1, opts, q);
   if (!(ev = rd_kafka_queue_poll (q, KAFKA_WAIT_MS + 5000)) || rd_kafka_event_error (ev)) {
      fprintf (stderr, "faults_tool group: %s\n",
               ev ? rd_kafka_event_error_string (ev) : "timed out");
      goto done;
   }
   size_t cnt = 0;
   const rd_kafka_ConsumerGroupDescription_t **res = rd_kafka_DescribeConsumerGroups_result_groups (
      rd_kafka_event_DescribeConsumerGroups_result (ev), &cnt);
   const rd_kafka_error_t *ge = cnt == 1 ? rd_kafka_ConsumerGroupDescription_error (res[0]) : NULL;
   if (cnt != 1 || ge) {
      fprintf (stderr, "faults_tool group: %s\n", ge ? rd_kafka_error_string (ge) : "no answer");
      goto done;
   }
   size_t members = rd_kafka_ConsumerGroupDescription_member_count (res[0]);
   int assigned = 0;
   for (size_t i = 0; i < members; i++) {
      const rd_kafka_MemberDescription_t *m = rd_kafka_ConsumerGroupDescription_member (res[0], i);
      const rd_kafka_topic_partition_list_t *parts =
         rd_kafka_MemberAssignment_partitions (rd_kafka_MemberDescription_assignment (m));
      assigned += parts ? parts->cnt : 0;
   }
   const rd_kafka_Node_t *coord = rd_kafka_ConsumerGroupDescription_coordinator (res[0]);
   printf ("state=%s members=%zu assigned=%d coordinator=%d\n",
           rd_kafka_consumer_group_state_name (rd_kafka_ConsumerGroupDescription_state (res[0])),
           members, assigned, coord ? rd_kafka_Node_id (coord) : -1);
   rc = 0;
done:
   if (ev) {
      rd_kafka_event_destroy (ev);
   }
   if (opts) {
      rd_kafka_AdminOptions_destroy (opts);
   }
   if (q) {
      rd_kafka_queue_destroy (q);
   }
   if (rk) {
      rd_kafka_destroy (rk);
   }
   return rc;
}

/* One message seen on the classified topic: its key, its first value, and
 * how many times the key came. */
typedef struct {
   char *key;
   char *value;
   size_t value_len;
   int seen;
   bool differs;
} keyed_msg_t;

static int
cmp_keyed (const void *a, const void *b)
{
   return strcmp (((const keyed_msg_t *) a)->key, ((const keyed_msg_t *) b)->key);
}

static int
cmd_classified (int argc, char **argv)
{
   if (argc != 3) {
      fprintf (stderr, "usage: faults_tool classified BROKERS TOPIC\n");
      return 2;
   }
   int rc = 1;
   size_t n = 0, cap = 0;
   keyed_msg_t *v = NULL;
   rd_kafka_t *rk = kafka_client_new (RD_KAFKA_CONSUMER, argv[1], NULL);
   const rd_kafka_metadata_t *md = rk ? topic_metadata (rk, argv[2]) : NULL;
   rd_kafka_topic_partition_list_t *parts = NULL;
   if (!md) {
      goto done;
   }
   int nparts = md->topics[0].partition_cnt;
   parts = rd_kafka_topic_partition_list_new (nparts);
   for (int p = 0; p < nparts; p++) {
      rd_kafka_topic_partition_list_add (parts, argv[2], md->topics[0].partitions[p].id)->offset =
         RD_KAFKA_OFFSET_BEGINNING;
   }
   if (rd_kafka_assign (rk, parts)) {
      fprintf (stderr, "faults_tool classified: cannot assign the partitions\n");
      goto done;
   }
   /* Every partition reports its end once; an empty one reports it too. */
   int eofs = 0;
   time_t deadline = time (NULL) + 60;
   while (eofs < nparts && time (NULL) < deadline) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (rk, 1000);
      if (!m) {
         continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
         eofs++;
      } else if (m->err) {
         fprintf (stderr, "faults_tool classified: %s\n", rd_kafka_message_errstr (m));
      } else if (m->key) {
         if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            keyed_msg_t *nv = realloc (v, cap * sizeof *v);
            if (!nv) {
               rd_kafka_message_destroy (m);
               goto done;
            }
            v = nv;
         }
         v[n].key = strndup (m->key, m->key_len);
         v[n].value = malloc (m->len ? m->len : 1);
         v[n].value_len = m->len;
         memcpy (v[n].value, m->payload, m->len);
         v[n].seen = 1;
         v[n].differs = false;
         n++;
      }
      rd_kafka_message_destroy (m);
   }
   if (eofs < nparts) {
      fprintf (stderr, "faults_tool classified: the end of %s not reached in 60 s\n", argv[2]);
      goto done;
   }
   /* Sorted by key (qsort is not stable: each group is compared with its
    * first element, whichever that is). */
   qsort (v, n, sizeof *v, cmp_keyed);
   size_t ids = 0, repeated = 0, differing = 0;
   for (size_t i = 0; i < n;) {
      size_t j = i + 1;
      bool differs = false;
      for (; j < n && strcmp (v[j].key, v[i].key) == 0; j++) {
         if (v[j].value_len != v[i].value_len || memcmp (v[j].value, v[i].value, v[i].value_len)) {
            if (!differs && differing == 0) {
               fprintf (stderr, "faults_tool classified: %s differs:\n  %.*s\n  %.*s\n", v[i].key,
                        (int) v[i].value_len, v[i].value, (int) v[j].value_len, v[j].value);
            }
            differs = true;
         }
      }
      ids++;
      repeated += j - i > 1;
      differing += differs;
      i = j;
   }
   printf ("messages=%zu ids=%zu repeated=%zu differing=%zu\n", n, ids, repeated, differing);
   rc = 0;
done:
   for (size_t i = 0; i < n; i++) {
      free (v[i].key);
      free (v[i].value);
   }
   free (v);
   if (parts) {
      rd_kafka_topic_partition_list_destroy (parts);
   }
   if (md) {
      rd_kafka_metadata_destroy (md);
   }
   if (rk) {
      rd_kafka_destroy (rk);
   }
   return rc;
}

static int
cmd_pause (int argc, char **argv)
{
   if (argc != 4 && argc != 5) {
      fprintf (stderr, "usage: faults_tool pause MONGO_URI DB KILL_MS [WINDOW_MS]\n");
      return 2;
   }
   int64_t kill_ms = atoll (argv[3]);
   int64_t window_ms = argc == 5 ? atoll (argv[4]) : 60000;
   int rc = 1;
   size_t n = 0, cap = 0;
   int64_t *v = NULL;
   bson_error_t e;
   mongoc_client_t *client = mongoc_client_new (argv[1]);
   mongoc_collection_t *coll = client ? mongoc_client_get_collection (client, argv[2], "tickets")
                                      : NULL;
   /* Every processed ticket, the window applied here: a range on a dotted
    * date is left to FerretDB's own filtering, which is not what is tested. */
   bson_t *filter = BCON_NEW ("processed", BCON_BOOL (true));
   bson_t *opts = BCON_NEW ("projection", "{", "processing_metadata.processed_at", BCON_INT32 (1),
                            "}");
   mongoc_cursor_t *cur = coll ? mongoc_collection_find_with_opts (coll, filter, opts, NULL) : NULL;
   const bson_t *doc;
   while (cur && mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it;
      if (!bson_iter_init (&it, doc) ||
          !bson_iter_find_descendant (&it, "processing_metadata.processed_at", &it) ||
          !BSON_ITER_HOLDS_DATE_TIME (&it)) {
         continue;
      }
      int64_t at = bson_iter_date_time (&it);
      if (at <= kill_ms || at > kill_ms + window_ms) {
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
      v[n++] = at;
   }
   if (!cur || mongoc_cursor_error (cur, &e)) {
      fprintf (stderr, "faults_tool pause: %s\n", cur ? e.message : "bad URI");
      goto done;
   }
   qsort (v, n, sizeof *v, cmp_i64);
   int64_t prev = kill_ms, stall = 0, resumed = 0;
   for (size_t i = 0; i < n; i++) {
      if (v[i] - prev > stall) {
         stall = v[i] - prev;
         resumed = v[i] - kill_ms;
      }
      prev = v[i];
   }
   printf ("first_ms=%lld stall_ms=%lld pause_ms=%lld classified=%zu\n",
           (long long) (n ? v[0] - kill_ms : -1), (long long) stall, (long long) (n ? resumed : -1),
           n);
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

int
main (int argc, char **argv)
{
   if (argc < 2) {
      fprintf (stderr, "usage: faults_tool COMMAND ... (see faults_tool.c)\n");
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
   } else if (strcmp (argv[1], "leaders") == 0) {
      rc = cmd_leaders (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "offsets") == 0) {
      rc = cmd_offsets (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "group") == 0) {
      rc = cmd_group (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "classified") == 0) {
      rc = cmd_classified (argc - 1, argv + 1);
   } else if (strcmp (argv[1], "pause") == 0) {
      rc = cmd_pause (argc - 1, argv + 1);
   } else {
      fprintf (stderr, "faults_tool: unknown command %s\n", argv[1]);
   }
   mongoc_cleanup ();
   return rc;
}
