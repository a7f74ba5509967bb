/* cmd_stats.c - `triagectl stats`: the processing statistics as a table,
 * optionally waiting (with a progress bar) until nothing is left to classify.
 * Priorities and sentiments are listed in the taxonomy's order (P0, P1, P2),
 * the api's taxonomy when it tells it (GET /api/session), never by count.
 *
 *   triagectl stats [--url http://127.0.0.1:8080] [--key KEY]
 *                   [--wait] [--timeout SECONDS] [--json]
 */
#include "cli.h"
#include "cli_options.h"
#include "http_client.h"
#include "progress.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static double
num (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   return cJSON_IsNumber (v) ? v->valuedouble : NAN;
}

static void
progress_bar (FILE *out, double done, double total, double elapsed)
{
   const int width = 40;
   double frac = total > 0 ? done / total : 1.0;
   if (frac > 1) {
      frac = 1;
   }
   int filled = (int) (frac * width + 0.5);
   fprintf (out, "\r  classifying [");
   for (int i = 0; i < width; i++) {
      fputs (i < filled ? "#" : "-", out);
   }
   fprintf (out, "] %5.1f%%  %.0f/%.0f  %.0fs ", frac * 100, done, total, elapsed);
   fflush (out);
}

static void
print_count (const cJSON *it, double total)
{
   if (!cJSON_IsNumber (it)) {
      return;
   }
   double pct = total > 0 ? 100.0 * it->valuedouble / total : 0;
   int bar = (int) (pct / 2.5 + 0.5);
   printf ("    %-16s %7.0f  %5.1f%%  ", it->string, it->valuedouble, pct);
   for (int i = 0; i < bar; i++) {
      fputs ("\u2588", stdout);
   }
   putchar ('\n');
}

static bool
listed (const cJSON *order, const char *label)
{
   const cJSON *o;
   cJSON_ArrayForEach (o, order)
   {
      if (cJSON_IsString (o) && !strcmp (o->valuestring, label)) {
         return true;
      }
   }
   return false;
}

/* The counts of dist: the labels of order first, in its order (the
 * taxonomy's: P0, P1, P2, whatever the counts), then any other label the
 * api counted, as it gave them. order may be NULL: the api's order. */
static void
print_distribution (const char *title, const cJSON *dist, double total, const cJSON *order)
{
   if (!cJSON_IsObject (dist)) {
      return;
   }
   printf ("\n  %s\n", title);
   const cJSON *it;
   cJSON_ArrayForEach (it, order)
   {
      if (cJSON_IsString (it)) {
         print_count (cJSON_GetObjectItemCaseSensitive (dist, it->valuestring), total);
      }
   }
   cJSON_ArrayForEach (it, dist)
   {
      if (!listed (order, it->string)) {
         print_count (it, total);
      }
   }
}

/* The labels of kind in the taxonomy's order: the api's own (GET
 * /api/session, a custom TRIAGE_TAXONOMY included), else the built-in one
 * (an api without that route). A new array the caller deletes. */
static cJSON *
label_order (const cJSON *session, tk_taxonomy_kind_t kind)
{
   const cJSON *tax = cJSON_GetObjectItemCaseSensitive (session, "taxonomy");
   const cJSON *list = cJSON_GetObjectItemCaseSensitive (tax, tk_taxonomy_kind_name (kind));
   if (cJSON_IsArray (list)) {
      return cJSON_Duplicate (list, true);
   }
   const tk_taxonomy_t *builtin = tk_taxonomy_default ();
   cJSON *out = cJSON_CreateArray ();
   for (size_t i = 0; i < tk_taxonomy_count (builtin, kind); i++) {
      cJSON_AddItemToArray (out, cJSON_CreateString (tk_taxonomy_label (builtin, kind, i)));
   }
   return out;
}

static void
print_table (const cJSON *s, const cJSON *session, double waited)
{
   cJSON *priorities = label_order (session, TK_TAXONOMY_PRIORITY);
   cJSON *sentiments = label_order (session, TK_TAXONOMY_SENTIMENT);
   double total = num (s, "total_tickets");
   double processed = num (s, "total_processed");
   printf ("\n  Tickets\n");
   printf ("    %-16s %7.0f\n", "total", total);
   printf ("    %-16s %7.0f\n", "processed", processed);
   printf ("    %-16s %7.0f\n", "unprocessed", num (s, "total_unprocessed"));
   printf ("    %-16s %7.0f\n", "processed today", num (s, "processed_today"));
   printf ("    %-16s %7.0f\n", "failed", num (s, "failed"));
   print_distribution ("Priority", cJSON_GetObjectItemCaseSensitive (s, "priority_distribution"),
                       processed, priorities);
   print_distribution ("Sentiment",
                       cJSON_GetObjectItemCaseSensitive (s, "sentiment_distribution"), processed,
                       sentiments);
   print_distribution ("Topic tags (a ticket may have several)",
                       cJSON_GetObjectItemCaseSensitive (s, "topic_distribution"), processed, NULL);
   cJSON_Delete (priorities);
   cJSON_Delete (sentiments);
   const cJSON *conf = cJSON_GetObjectItemCaseSensitive (s, "average_confidence");
   if (cJSON_IsObject (conf)) {
      printf ("\n  Average confidence\n");
      printf ("    %-16s %7.2f\n", "topic", num (conf, "topic"));
      printf ("    %-16s %7.2f\n", "sentiment", num (conf, "sentiment"));
      printf ("    %-16s %7.2f\n", "priority", num (conf, "priority"));
   }
   double ms = num (s, "average_processing_time_ms");
   if (!isnan (ms)) {
      printf ("\n  Average classification time  %.2f ms per ticket\n", ms);
   }
   if (waited >= 0) {
      printf ("  Waited for classification     %.1f s\n", waited);
   }
}

/* What the command line says. */
typedef struct {
   const char *url, *key;
   bool wait, json;
   double timeout;
} stats_args_t;

/* stats's options (cli_options.h), in the order --help lists them. */
static const cli_option_t stats_options[] = {
   {.name = "url", .short_name = 'u', .arg = "URL", .kind = CLI_OPT_STRING,
    CLI_FIELD (stats_args_t, url), .help = "the api's address", .def = "http://127.0.0.1:8080"},
   {.name = "key", .short_name = 'k', .arg = "KEY", .kind = CLI_OPT_STRING,
    CLI_FIELD (stats_args_t, key), .help = "API key",
    .def = "$TRIAGE_API_KEY, else $TRIAGE_ADMIN_KEY"},
   {.name = "wait", .short_name = 'w', .kind = CLI_OPT_FLAG, CLI_FIELD (stats_args_t, wait),
    .help = "poll until every ticket is classified (or failed), with a\nprogress bar"},
   {.name = "timeout", .short_name = 't', .arg = "S", .kind = CLI_OPT_DOUBLE,
    CLI_FIELD (stats_args_t, timeout), .min = 0, .bounds = CLI_OPT_MIN,
    .help = "with --wait: seconds before giving up (exit 1)", .def = "600"},
   {.name = "json", .short_name = 'j', .kind = CLI_OPT_FLAG, CLI_FIELD (stats_args_t, json),
    .help = "the statistics as the api's JSON"},
   {0},
};

static const cli_command_t stats_command = {
   .cmd = "stats",
   .synopsis = "[--url URL] [--key KEY] [--wait] [--timeout S] [--json]",
   .description = "Prints the api's processing statistics.",
   .opts = stats_options,
};

/* The statistics; with --wait, asked again every half second (a progress
 * line on stderr) until every ticket is classified or failed. NULL (said on
 * stderr) when the api cannot be asked or the wait times out. */
static cJSON *
fetch_stats (const stats_args_t *a, const char *key, const char *endpoint, double t0)
{
   char err[512];
   cJSON *s = NULL;
   bool tty = isatty (STDERR_FILENO);
   if (a->wait) {
      /* The api serves statistics from a snapshot up to TRIAGE_API_CACHE_TTL
       * old: tickets stored just before this call (an upload, the demo)
       * may not be counted yet. The refresh answers once a new snapshot
       * exists. A key that may not refresh (viewer) just waits longer. */
      char refresh[512];
      snprintf (refresh, sizeof refresh, "%s/api/analytics/refresh", a->url);
      cJSON_Delete (cli_http_json ("POST", refresh, key, err, sizeof err));
   }
   for (;;) {
      cJSON_Delete (s);
      if (!(s = cli_http_get_json (endpoint, key, err, sizeof err))) {
         fprintf (stderr, "%striagectl stats: %s\n", tty && a->wait ? "\n" : "", err);
         return NULL;
      }
      double total = num (s, "total_tickets");
      double left = num (s, "total_unprocessed"), failed = num (s, "failed");
      double elapsed = cli_now_s () - t0;
      if (!a->wait) {
         return s;
      }
      double done = total - left + (isnan (failed) ? 0 : failed);
      if (tty) {
         progress_bar (stderr, done, total, elapsed);
      } else {
         fprintf (stderr, "classified %.0f of %.0f (%.0fs)\n", done, total, elapsed);
      }
      if (done >= total) {
         if (tty) {
            fputc ('\n', stderr);
         }
         return s;
      }
      if (elapsed > a->timeout) {
         fprintf (stderr, "\ntriagectl stats: %.0f tickets still unclassified after %.0f s\n",
                  total - done, a->timeout);
         cJSON_Delete (s);
         return NULL;
      }
      usleep (500 * 1000);
   }
}

int
cli_cmd_stats (int argc, char **argv)
{
   stats_args_t a = {.url = "http://127.0.0.1:8080", .timeout = 600};
   /* Arguments after the options are ignored, as they always were. */
   int first, rc = cli_options_parse (&stats_command, &a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   const char *key = cli_api_key (a.key);
   char endpoint[512];
   snprintf (endpoint, sizeof endpoint, "%s/api/processing-stats", a.url);

   double t0 = cli_now_s ();
   cJSON *s = fetch_stats (&a, key, endpoint, t0);
   if (!s) {
      return 1;
   }
   if (a.json) {
      char *text = cJSON_Print (s);
      puts (text);
      cJSON_free (text);
   } else {
      /* The taxonomy's order of the labels; none when the api cannot say. */
      char url[512], err[512];
      snprintf (url, sizeof url, "%s/api/session", a.url);
      cJSON *session = cli_http_get_json (url, key, err, sizeof err);
      print_table (s, session, a.wait ? cli_now_s () - t0 : -1);
      cJSON_Delete (session);
   }
   cJSON_Delete (s);
   return 0;
}
