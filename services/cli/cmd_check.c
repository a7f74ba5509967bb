/* cmd_check.c - `triagectl check`: verifies the tickets collection's
 * consistency and exits non-zero with a report when something is wrong.
 *
 * Checked, for every ticket:
 *   - the document reads as a ticket (id, subject, body, dates of the right
 *     types);
 *   - a processed ticket has a full classification inside the taxonomy (at
 *     least one topic tag, no duplicates, a sentiment and a priority),
 *     confidence scores in [0, 1] and processing metadata (processed_at,
 *     model_version);
 *   - an unprocessed ticket carries no classification, and failure
 *     bookkeeping is whole (processing_attempts > 0 comes with last_error);
 * and for the collection:
 *   - the unique index on id exists;
 *   - the processing statistics agree with the documents counted here.
 *
 *   triagectl check [--mongo-uri URI] [--mongo-db DB] [--taxonomy FILE] [--max-report N]
 */
#include "cli.h"

#include "config.h"
#include "store.h"
#include "store_query.h"
#include "taxonomy.h"
#include "ticket_bson.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   long problems;
   long max_report;
} report_t;

static void
problem (report_t *r, const char *id, const char *what)
{
   if (r->problems < r->max_report) {
      printf ("  %-24s %s\n", id ? id : "(no id)", what);
   }
   r->problems++;
}

static bool
in_unit_range (double v)
{
   return v >= 0.0 && v <= 1.0;
}

static void
check_ticket (const bson_t *doc, const tk_taxonomy_t *tax, report_t *r, long *n_processed,
              long *n_unprocessed)
{
   tk_ticket_t *t = NULL;
   tk_error_t err;
   bson_iter_t it;
   const char *raw_id = bson_iter_init_find (&it, doc, "id") && BSON_ITER_HOLDS_UTF8 (&it)
                           ? bson_iter_utf8 (&it, NULL)
                           : NULL;
   if (!tk_ticket_from_bson (doc, &t, &err)) {
      char msg[320];
      snprintf (msg, sizeof msg, "unreadable: %s", err.message);
      problem (r, raw_id, msg);
      return;
   }
   if (t->processed) {
      (*n_processed)++;
      if (!tk_taxonomy_validate_classification (tax, &t->classification, &err)) {
         problem (r, t->id, err.message);
      }
      if (!in_unit_range (t->confidence.topic) || !in_unit_range (t->confidence.sentiment) ||
          !in_unit_range (t->confidence.priority)) {
         problem (r, t->id, "a confidence score is outside [0, 1]");
      }
      if (t->metadata.processed_at <= 0) {
         problem (r, t->id, "processed but processing_metadata.processed_at is missing");
      }
      if (!t->metadata.model_version || !*t->metadata.model_version) {
         problem (r, t->id, "processed but processing_metadata.model_version is missing");
      }
   } else {
      (*n_unprocessed)++;
      if (bson_iter_init_find (&it, doc, "classification")) {
         problem (r, t->id, "unprocessed but carries a classification");
      }
   }
   if (t->processing_attempts > 0 && !t->processed && (!t->last_error || !*t->last_error)) {
      problem (r, t->id, "processing_attempts > 0 without last_error");
   }
   if (t->processing_attempts < 0) {
      problem (r, t->id, "negative processing_attempts");
   }
   tk_ticket_destroy (t);
}

static bool
has_unique_id_index (mongoc_client_t *client, const char *db)
{
   bool found = false;
   mongoc_cursor_t *cur = tk_store_tickets_indexes (client, db);
   const bson_t *idx;
   while (mongoc_cursor_next (cur, &idx)) {
      bson_iter_t it, key;
      bool unique = bson_iter_init_find (&it, idx, "unique") && bson_iter_as_bool (&it);
      if (unique && bson_iter_init_find (&it, idx, "key") && BSON_ITER_HOLDS_DOCUMENT (&it) &&
          bson_iter_recurse (&it, &key) && bson_iter_next (&key) &&
          strcmp (bson_iter_key (&key), "id") == 0 && !bson_iter_next (&key)) {
         found = true;
      }
   }
   mongoc_cursor_destroy (cur);
   return found;
}

/* Checks every ticket, counting the processed and unprocessed ones. false
 * (said on stderr) when they cannot be read. */
static bool
check_tickets (tk_store_t *store, mongoc_client_t *client, const tk_taxonomy_t *tax,
               report_t *r, long *n_processed, long *n_unprocessed)
{
   mongoc_cursor_t *cur =
      tk_store_tickets_find (client, tk_store_db_name (store), &(tk_ticket_query_t) {0});
   const bson_t *doc;
   bson_error_t e;
   while (mongoc_cursor_next (cur, &doc)) {
      check_ticket (doc, tax, r, n_processed, n_unprocessed);
   }
   bool ok = !mongoc_cursor_error (cur, &e);
   if (!ok) {
      fprintf (stderr, "triagectl check: reading tickets: %s\n", e.message);
   }
   mongoc_cursor_destroy (cur);
   return ok;
}

/* Checks the store's statistics against the counts of the tickets read.
 * false (said on stderr) when they cannot be read. */
static bool
check_statistics (tk_store_t *store, report_t *r, long n_processed, long n_unprocessed)
{
   tk_processing_stats_t st;
   tk_error_t err;
   if (!tk_store_get_processing_stats (store, &st, &err)) {
      fprintf (stderr, "triagectl check: statistics: %s\n", err.message);
      return false;
   }
   char msg[256];
   if (st.total != n_processed + n_unprocessed || st.processed != n_processed ||
       st.unprocessed != n_unprocessed) {
      snprintf (msg, sizeof msg,
                "statistics disagree: total %lld processed %lld unprocessed %lld, "
                "counted %ld / %ld / %ld",
                (long long) st.total, (long long) st.processed, (long long) st.unprocessed,
                n_processed + n_unprocessed, n_processed, n_unprocessed);
      problem (r, "-", msg);
   }
   int64_t by_priority = st.priority_other;
   for (size_t i = 0; i < st.n_priorities; i++) {
      by_priority += st.priorities[i].count;
   }
   if (by_priority != st.processed) {
      snprintf (msg, sizeof msg, "priority distribution sums to %lld, not %lld processed",
                (long long) by_priority, (long long) st.processed);
      problem (r, "-", msg);
   }
   return true;
}

/* The counts and the verdict; the exit status (0: consistent). */
static int
print_verdict (const report_t *r, long n_processed, long n_unprocessed)
{
   printf ("%ld tickets: %ld processed, %ld unprocessed\n", n_processed + n_unprocessed,
           n_processed, n_unprocessed);
   if (r->problems > r->max_report) {
      printf ("  ... and %ld more\n", r->problems - r->max_report);
   }
   if (r->problems) {
      printf ("%ld problem(s) found\n", r->problems);
      return 1;
   }
   printf ("consistent\n");
   return 0;
}

static void
usage (FILE *out)
{
   fprintf (out, "usage: triagectl check [--mongo-uri URI] [--mongo-db DB] [--taxonomy FILE]\n"
                 "  Verifies every ticket and the statistics; exits 1 with a report when\n"
                 "  something is inconsistent, 0 when all is well.\n");
}

int
cli_cmd_check (int argc, char **argv)
{
   int rc = 1;
   tk_config_t cfg;
   tk_error_t err;
   tk_store_t *store = NULL;
   tk_taxonomy_t *tax = NULL;
   mongoc_client_t *client = NULL;
   report_t r = {0, 50};

   if ((rc = cli_config_open (&cfg, "check", argc, argv, usage)) >= 0) {
      return rc;
   }
   tax = cfg.taxonomy && *cfg.taxonomy ? tk_taxonomy_load_file (cfg.taxonomy, &err)
                                       : tk_taxonomy_default ();
   if (!tax) {
      fprintf (stderr, "triagectl check: %s\n", err.message);
      rc = 2;
      goto done;
   }
   if ((rc = cli_store_open (&cfg, "check", &store)) != 0) {
      goto done;
   }
   rc = 1;
   client = tk_store_client_pop (store);

   printf ("Checking database \"%s\"\n", tk_store_db_name (store));
   if (!has_unique_id_index (client, tk_store_db_name (store))) {
      problem (&r, "-", "the unique index on id is missing (a service creates it at start-up)");
   }

   long n_processed = 0, n_unprocessed = 0;
   if (!check_tickets (store, client, tax, &r, &n_processed, &n_unprocessed) ||
       !check_statistics (store, &r, n_processed, n_unprocessed)) {
      goto done;
   }
   rc = print_verdict (&r, n_processed, n_unprocessed);

done:
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   tk_taxonomy_destroy (tax);
   tk_config_destroy (&cfg);
   return rc;
}
