/* bench_ingest_tool.c - the small pieces bench/ingest/run needs:
 *
 *   bench-ingest-tool gen N OUT.ndjson OUT.kcat     N tickets as NDJSON, and
 *                                                   as "id<TAB>json" for kcat -K
 *   bench-ingest-tool topics-create BROKERS PARTS T...
 *   bench-ingest-tool topics-delete BROKERS T...
 *   bench-ingest-tool mongo-bulk URI DB FILE BATCH  the ceiling: plain libmongoc
 *                                                   unordered bulk inserts of the
 *                                                   same documents; prints seconds
 *   bench-ingest-tool wait-count URI DB N TIMEOUT_S polls until DB.tickets holds
 *                                                   N documents; prints seconds
 *   bench-ingest-tool drop URI DB
 */
#include "kafka.h"
#include "store.h"
#include "ticket_bson.h"
#include "ticket_json.h"
#include "timeutil.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now_s (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
gen (long n, const char *nd_path, const char *kcat_path)
{
   static const char *subjects[] = {"Login fails after SSO change", "How do I export lineage?",
                                    "API returns 500 on bulk update", "Connector for Snowflake"};
   FILE *nd = fopen (nd_path, "w"), *kc = fopen (kcat_path, "w");
   if (!nd || !kc) {
      perror ("gen");
      return 1;
   }
   for (long i = 0; i < n; i++) {
      char line[512];
      snprintf (line, sizeof line,
                "{\"id\":\"BENCH-%07ld\",\"subject\":\"%s\",\"body\":\"Ticket %ld: the customer "
                "writes a few sentences about the problem, what they tried and what they "
                "expected.\",\"created_at\":\"2025-09-13T06:38:47.513Z\"}",
                i, subjects[i % 4], i);
      fprintf (nd, "%s\n", line);
      fprintf (kc, "BENCH-%07ld\t%s\n", i, line);
   }
   return fclose (nd) | fclose (kc);
}

static int
mongo_bulk (const char *uri, const char *db, const char *path, long batch)
{
   tk_error_t err;
   tk_store_t *store = tk_store_new (uri, db, 2, &err);
   if (!store || !tk_store_ensure_indexes (store, &err)) {
      fprintf (stderr, "mongo-bulk: %s\n", err.message);
      return 1;
   }
   FILE *f = fopen (path, "r");
   if (!f) {
      perror (path);
      return 1;
   }
   /* Parse first, so the timing is the database's alone. */
   size_t cap = 1024, n = 0;
   bson_t **docs = malloc (cap * sizeof *docs);
   char *line = NULL;
   size_t lcap = 0;
   ssize_t len;
   int64_t now = tk_time_now_ms ();
   while ((len = getline (&line, &lcap, f)) > 0) {
      tk_ticket_t *t = tk_ticket_parse_json (line, (size_t) len, &err);
      if (!t) {
         continue;
      }
      t->updated_at = now;
      if (n == cap) {
         docs = realloc (docs, (cap *= 2) * sizeof *docs);
      }
      docs[n] = bson_new ();
      if (tk_ticket_to_bson (t, docs[n])) {
         n++;
      } else {
         bson_destroy (docs[n]);
      }
      tk_ticket_destroy (t);
   }
   free (line);
   fclose (f);
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "tickets");
   double t0 = now_s ();
   for (size_t i = 0; i < n; i += (size_t) batch) {
      bson_t opts = BSON_INITIALIZER;
      BSON_APPEND_BOOL (&opts, "ordered", false);
      mongoc_bulk_operation_t *bulk = mongoc_collection_create_bulk_operation_with_opts (coll, &opts);
      for (size_t j = i; j < n && j < i + (size_t) batch; j++) {
         mongoc_bulk_operation_insert (bulk, docs[j]);
      }
      bson_error_t e;
      if (!mongoc_bulk_operation_execute (bulk, NULL, &e)) {
         fprintf (stderr, "mongo-bulk: %s\n", e.message);
      }
      mongoc_bulk_operation_destroy (bulk);
      bson_destroy (&opts);
   }
   printf ("%.3f\n", now_s () - t0);
   for (size_t i = 0; i < n; i++) {
      bson_destroy (docs[i]);
   }
   free (docs);
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   return 0;
}

static int
wait_count (const char *uri, const char *db, long want, long timeout_s)
{
   tk_error_t err;
   tk_store_t *store = tk_store_new (uri, db, 2, &err);
   if (!store) {
      fprintf (stderr, "wait-count: %s\n", err.message);
      return 1;
   }
   /* One plain count per poll: the processing statistics (several counts
    * and a $group) cost FerretDB more than the writes being waited for. */
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "tickets");
   bson_t all = BSON_INITIALIZER;
   double t0 = now_s ();
   long have = 0;
   int rc = 1;
   while (now_s () - t0 < (double) timeout_s) {
      int64_t c = mongoc_collection_count_documents (coll, &all, NULL, NULL, NULL, NULL);
      if (c >= 0 && (have = (long) c) >= want) {
         printf ("%.3f\n", now_s () - t0);
         rc = 0;
         break;
      }
      usleep (250 * 1000);
   }
   if (rc != 0) {
      fprintf (stderr, "wait-count: %ld of %ld after %ld s\n", have, want, timeout_s);
   }
   mongoc_collection_destroy (coll);
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   return rc;
}

int
main (int argc, char **argv)
{
   tk_error_t err;
   if (argc == 5 && !strcmp (argv[1], "gen")) {
      return gen (atol (argv[2]), argv[3], argv[4]);
   }
   if (argc >= 5 && !strcmp (argv[1], "topics-create")) {
      if (!tk_kafka_create_topics (argv[2], NULL, (const char **) argv + 4, (size_t) argc - 4,
                                   atoi (argv[3]), 1, 30000, &err)) {
         fprintf (stderr, "topics-create: %s\n", err.message);
         return 1;
      }
      return 0;
   }
   if (argc >= 4 && !strcmp (argv[1], "topics-delete")) {
      return tk_kafka_delete_topics (argv[2], NULL, (const char **) argv + 3, (size_t) argc - 3,
                                     30000, &err)
                ? 0
                : 1;
   }
   if (argc == 6 && !strcmp (argv[1], "mongo-bulk")) {
      return mongo_bulk (argv[2], argv[3], argv[4], atol (argv[5]));
   }
   if (argc == 6 && !strcmp (argv[1], "wait-count")) {
      return wait_count (argv[2], argv[3], atol (argv[4]), atol (argv[5]));
   }
   if (argc == 4 && !strcmp (argv[1], "drop")) {
      tk_store_t *store = tk_store_new (argv[2], argv[3], 2, &err);
      bool ok = store && tk_store_drop_database (store, &err);
      tk_store_destroy (store);
      return ok ? 0 : 1;
   }
   fprintf (stderr, "usage: see the comment at the top of bench_ingest_tool.c\n");
   return 2;
}
