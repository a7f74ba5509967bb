/* probe.c - times the store's per-ticket and listing queries on a large
 * `tickets` collection, to compare MongoDB-wire servers (FerretDB on SQLite
 * or PostgreSQL, MongoDB). See docs/decisions/0007.
 *
 *   tkprobe URI DB N [--load]
 *
 * --load first drops DB, creates the indexes, inserts N ticket-shaped
 * documents (ids P-0000000..., 600-byte bodies) in batches of 1,000: the
 * first 60 % as classified tickets (tk_ticket_to_bson, insert_many), the
 * rest raw with tk_store_insert_tickets. Then every
 * query below runs TKPROBE_REPS (default 5) times on early, middle and late ids, and prints one
 * line per query: median and worst wall time in milliseconds. Finally the
 * server's `explain` of the main filters is printed, as JSON.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mongoc/mongoc.h>

#include "store.h"
#include "ticket.h"
#include "ticket_bson.h"

#define BATCH 1000
#define REPS_MAX 9
static int REPS = 5; /* TKPROBE_REPS, 1..9 */

static double
now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec / 1e6;
}

static void
die (const char *what, const tk_error_t *err, const bson_error_t *berr)
{
   fprintf (stderr, "tkprobe: %s: %s\n", what,
            err ? err->message : (berr ? berr->message : "failed"));
   exit (1);
}

static char *
xstrdup (const char *s)
{
   char *d = strdup (s);
   if (!d) {
      abort ();
   }
   return d;
}

static void
load (tk_store_t *store, mongoc_collection_t *coll, long n)
{
   tk_error_t err = {0};
   static const char pad[] = "The export to CSV stops at row 4096 and the app shows a spinner "
                             "forever; we tried two browsers and cleared the cache. ";
   char body[700];
   size_t off = 0;
   while (off + sizeof pad < 600) {
      memcpy (body + off, pad, sizeof pad - 1);
      off += sizeof pad - 1;
   }
   body[off] = '\0';

   if (!tk_store_drop_database (store, &err) || !tk_store_ensure_indexes (store, &err)) {
      die ("reset", &err, NULL);
   }
   double t0 = now_ms ();
   int64_t base = 1764000000000;
   long n_processed = n * 6 / 10;
   tk_ticket_t *batch[BATCH];
   for (long i = 0; i < n; i += BATCH) {
      size_t k = 0;
      for (long j = i; j < n && k < BATCH; j++, k++) {
         char id[32];
         snprintf (id, sizeof id, "P-%07ld", j);
         tk_ticket_t *t = tk_ticket_new ();
         batch[k] = t;
         t->id = xstrdup (id);
         t->subject = xstrdup ("Export stops halfway");
         t->body = xstrdup (body);
         t->source = xstrdup ("probe");
         t->created_at = base + j * 1000;
         if (j < n_processed) {
            t->updated_at = t->created_at + 500;
            t->processed = true;
            t->classification.topic_tags[0] = xstrdup ("billing");
            t->classification.n_topic_tags = 1;
            t->classification.sentiment = xstrdup ("neutral");
            t->classification.priority = xstrdup (j % 3 ? "medium" : "high");
            t->confidence = (tk_confidence_t) {0.9, 0.8, 0.7};
            t->metadata.processed_at = t->updated_at;
            t->metadata.model_version = xstrdup ("probe");
            t->metadata.processing_time_ms = 40;
            t->metadata.agent_version = xstrdup ("probe");
         }
      }
      if (i < n_processed) {
         /* Classified tickets: the documents the classifier leaves behind,
          * written whole (tk_store_insert_tickets writes raw tickets only). */
         bson_t *docs[BATCH];
         for (size_t x = 0; x < k; x++) {
            docs[x] = bson_new ();
            if (!tk_ticket_to_bson (batch[x], docs[x])) {
               die ("tk_ticket_to_bson", NULL, NULL);
            }
         }
         bson_error_t berr;
         if (!mongoc_collection_insert_many (coll, (const bson_t **) docs, k, NULL, NULL,
                                             &berr)) {
            die ("insert_many", NULL, &berr);
         }
         for (size_t x = 0; x < k; x++) {
            bson_destroy (docs[x]);
         }
      } else {
         tk_insert_result_t res;
         if (!tk_store_insert_tickets (store, batch, k, &res, &err) || res.n_stored != k) {
            die ("insert", err.message[0] ? &err : NULL, NULL);
         }
         tk_insert_result_cleanup (&res);
      }
      for (size_t x = 0; x < k; x++) {
         tk_ticket_destroy (batch[x]);
      }
   }
   printf ("load: %ld tickets (60%% classified) inserted in %.1f s\n", n,
           (now_ms () - t0) / 1e3);
}

static int
cmp_double (const void *a, const void *b)
{
   double x = *(const double *) a, y = *(const double *) b;
   return x < y ? -1 : x > y;
}

static void
report (const char *what, double *t, int n)
{
   qsort (t, (size_t) n, sizeof *t, cmp_double);
   printf ("%-58s median %9.2f ms   max %9.2f ms\n", what, t[n / 2], t[n - 1]);
   fflush (stdout);
}

/* find_one by FIELD=id for ids early, middle and late. */
static void
time_find_one (mongoc_collection_t *coll, const char *field, long n)
{
   long which[3] = {100, n / 2, n - 100};
   const char *names[3] = {"early", "middle", "late"};
   for (int w = 0; w < 3; w++) {
      double t[REPS_MAX];
      for (int r = 0; r < REPS; r++) {
         char id[32];
         snprintf (id, sizeof id, "P-%07ld", which[w] + r);
         bson_t *f = BCON_NEW (field, BCON_UTF8 (id));
         bson_t *o = BCON_NEW ("limit", BCON_INT64 (1));
         double t0 = now_ms ();
         mongoc_cursor_t *c = mongoc_collection_find_with_opts (coll, f, o, NULL);
         const bson_t *doc;
         bool found = mongoc_cursor_next (c, &doc);
         bson_error_t berr;
         if (mongoc_cursor_error (c, &berr)) {
            die ("find", NULL, &berr);
         }
         t[r] = now_ms () - t0;
         if (!found) {
            die ("find: not found", NULL, NULL);
         }
         mongoc_cursor_destroy (c);
         bson_destroy (f);
         bson_destroy (o);
      }
      char what[80];
      snprintf (what, sizeof what, "find_one {%s} (%s id)", field, names[w]);
      report (what, t, REPS);
   }
}

static void
time_updates (tk_store_t *store, mongoc_collection_t *coll, long n)
{
   long which[3] = {100, n / 2, n - 100};
   const char *names[3] = {"early", "middle", "late"};
   for (int w = 0; w < 3; w++) {
      double t[REPS_MAX], tc[REPS_MAX], tu[REPS_MAX];
      for (int r = 0; r < REPS; r++) {
         char id[32];
         snprintf (id, sizeof id, "P-%07ld", which[w] + 10 + r);
         bson_t *f = BCON_NEW ("_id", BCON_UTF8 (id));
         bson_t *u = BCON_NEW ("$set", "{", "probe_mark", BCON_INT32 (r), "}");
         bson_error_t berr;
         bson_t reply;
         double t0 = now_ms ();
         if (!mongoc_collection_update_one (coll, f, u, NULL, &reply, &berr)) {
            die ("update_one", NULL, &berr);
         }
         t[r] = now_ms () - t0;
         bson_destroy (&reply);
         bson_destroy (f);
         bson_destroy (u);

         /* The classifier's write. */
         tk_classification_t c = {0};
         c.topic_tags[0] = "billing";
         c.n_topic_tags = 1;
         c.sentiment = "neutral";
         c.priority = "medium";
         tk_confidence_t conf = {0.9, 0.8, 0.7};
         tk_processing_metadata_t md = {.processed_at = 1764000000000,
                                        .model_version = "probe",
                                        .processing_time_ms = 1,
                                        .agent_version = "probe"};
         tk_error_t err = {0};
         t0 = now_ms ();
         if (!tk_store_update_ticket_with_classification (store, id, &c, &conf, &md, &err)) {
            die ("classify", &err, NULL);
         }
         tc[r] = now_ms () - t0;

         /* Ingest's on_duplicate=update of an existing ticket, new text. */
         tk_ticket_t *tk = tk_ticket_new ();
         tk->id = xstrdup (id);
         tk->subject = xstrdup ("Export stops halfway (again)");
         tk->body = xstrdup ("changed body");
         tk_insert_result_t res;
         t0 = now_ms ();
         if (!tk_store_upsert_tickets (store, &tk, 1, &res, &err) || res.n_changed != 1) {
            die ("upsert", err.message[0] ? &err : NULL, NULL);
         }
         tu[r] = now_ms () - t0;
         tk_insert_result_cleanup (&res);
         tk_ticket_destroy (tk);
      }
      char what[80];
      snprintf (what, sizeof what, "update_one {_id} $set (%s id)", names[w]);
      report (what, t, REPS);
      snprintf (what, sizeof what, "tk_store_update_ticket_with_classification (%s id)",
                names[w]);
      report (what, tc, REPS);
      snprintf (what, sizeof what, "tk_store_upsert_tickets, 1 changed (%s id)", names[w]);
      report (what, tu, REPS);
   }
}

static void
time_count_and_list (mongoc_collection_t *coll)
{
   double t[3];
   int64_t count = 0;
   for (int r = 0; r < 3; r++) {
      bson_t *f = BCON_NEW ("processed", BCON_BOOL (false));
      bson_error_t berr;
      double t0 = now_ms ();
      count = mongoc_collection_count_documents (coll, f, NULL, NULL, NULL, &berr);
      t[r] = now_ms () - t0;
      if (count < 0) {
         die ("count", NULL, &berr);
      }
      bson_destroy (f);
   }
   char what[80];
   snprintf (what, sizeof what, "count_documents {processed:false} (= %" PRId64 ")", count);
   report (what, t, 3);

   for (int r = 0; r < 3; r++) {
      bson_t *f = BCON_NEW ("processed", BCON_BOOL (true));
      bson_t *o = BCON_NEW ("sort", "{", "created_at", BCON_INT32 (-1), "}", "limit",
                            BCON_INT64 (50));
      double t0 = now_ms ();
      mongoc_cursor_t *c = mongoc_collection_find_with_opts (coll, f, o, NULL);
      const bson_t *doc;
      int got = 0;
      while (mongoc_cursor_next (c, &doc)) {
         got++;
      }
      bson_error_t berr;
      if (mongoc_cursor_error (c, &berr)) {
         die ("list", NULL, &berr);
      }
      t[r] = now_ms () - t0;
      if (got != 50) {
         die ("list: not 50", NULL, NULL);
      }
      mongoc_cursor_destroy (c);
      bson_destroy (f);
      bson_destroy (o);
   }
   report ("find {processed:true} sort {created_at:-1} limit 50", t, 3);
}

static void
explain (mongoc_database_t *db, const char *label, bson_t *find)
{
   bson_t *cmd = BCON_NEW ("explain", BCON_DOCUMENT (find));
   bson_t reply;
   bson_error_t berr;
   if (mongoc_database_command_simple (db, cmd, NULL, &reply, &berr)) {
      char *j = bson_as_relaxed_extended_json (&reply, NULL);
      printf ("explain %s: %s\n", label, j);
      bson_free (j);
   } else {
      printf ("explain %s: error %s\n", label, berr.message);
   }
   bson_destroy (&reply);
   bson_destroy (cmd);
   bson_destroy (find);
}

int
main (int argc, char **argv)
{
   if (argc < 4) {
      fprintf (stderr, "usage: tkprobe URI DB N [--load]\n");
      return 2;
   }
   long n = strtol (argv[3], NULL, 10);
   bool do_load = argc > 4 && !strcmp (argv[4], "--load");
   const char *reps = getenv ("TKPROBE_REPS");
   if (reps && atoi (reps) >= 1 && atoi (reps) <= REPS_MAX) {
      REPS = atoi (reps);
   }
   tk_error_t err = {0};
   tk_store_t *store = tk_store_new (argv[1], argv[2], 4, &err);
   if (!store) {
      die ("store", &err, NULL);
   }
   mongoc_client_t *client = tk_store_client_pop (store);
   mongoc_database_t *db = mongoc_client_get_database (client, argv[2]);
   mongoc_collection_t *coll = mongoc_database_get_collection (db, "tickets");

   if (do_load) {
      load (store, coll, n);
   }
   time_find_one (coll, "_id", n);
   time_find_one (coll, "id", n);
   time_updates (store, coll, n);
   time_count_and_list (coll);

   char late[32];
   snprintf (late, sizeof late, "P-%07ld", n - 100);
   explain (db, "{_id}", BCON_NEW ("find", "tickets", "filter", "{", "_id", BCON_UTF8 (late), "}"));
   explain (db, "{id}", BCON_NEW ("find", "tickets", "filter", "{", "id", BCON_UTF8 (late), "}"));
   explain (db, "list",
            BCON_NEW ("find", "tickets", "filter", "{", "processed", BCON_BOOL (true), "}",
                      "sort", "{", "created_at", BCON_INT32 (-1), "}", "limit",
                      BCON_INT64 (50)));

   mongoc_collection_destroy (coll);
   mongoc_database_destroy (db);
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   mongoc_cleanup ();
   return 0;
}
