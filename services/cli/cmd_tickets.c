/* cmd_tickets.c - `triagectl tickets`: tickets read straight from the
 * database with the store's own calls (common/store.h), for an operator who
 * wants to see the backlog or the latest work without the api.
 *
 *   triagectl tickets [--mongo-uri URI] [--mongo-db DB] <list> [--limit N] [--json]
 *
 *   backlog             unprocessed, oldest first (the order work is done in):
 *                       tk_store_get_unprocessed_tickets
 *   processed           processed, most recently processed first:
 *                       tk_store_get_processed_tickets
 *   newest-unprocessed  unprocessed, newest first: tk_store_get_tickets_by_status
 *   newest-processed    processed, newest first: tk_store_get_tickets_by_status
 *
 * A table (id, created, priority or attempts, subject) or, with --json, one
 * ticket a line as the api writes it. The text is shown as stored (masked
 * when TRIAGE_STORE_MASKED was on when it was stored).
 *
 * Exit status: 0 done, 1 failure (database), 2 usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "config.h"
#include "store.h"
#include "ticket_json.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { LIST_BACKLOG, LIST_PROCESSED, LIST_NEWEST_UNPROCESSED, LIST_NEWEST_PROCESSED } list_t;

static const char *const list_names[] = {"backlog", "processed", "newest-unprocessed",
                                         "newest-processed", NULL};

/* What the list's options say. */
typedef struct {
   unsigned limit;
   bool json;
} list_args_t;

static const cli_option_t list_options[] = {
   {.name = "limit", .short_name = 'n', .arg = "N", .kind = CLI_OPT_UINT,
    CLI_FIELD (list_args_t, limit), .min = 1, .max = 10000, .help = "how many tickets",
    .def = "20"},
   {.name = "json", .short_name = 'j', .kind = CLI_OPT_FLAG, CLI_FIELD (list_args_t, json),
    .help = "one ticket a line, as the api's JSON"},
   {0},
};

static const cli_command_t list_command = {
   .cmd = "tickets",
   .synopsis = "backlog|processed|newest-unprocessed|newest-processed [--limit N] [--json]",
   .description = "Lists tickets straight from the database (--mongo-uri and --mongo-db come\n"
                  "before the list's name).",
   .opts = list_options,
};

static void
usage (FILE *out)
{
   fprintf (out,
            "usage: triagectl tickets [--mongo-uri URI] [--mongo-db DB] <list> [--limit N] "
            "[--json]\n"
            "  backlog             unprocessed tickets, oldest first\n"
            "  processed           processed tickets, most recently processed first\n"
            "  newest-unprocessed  unprocessed tickets, newest first\n"
            "  newest-processed    processed tickets, newest first\n");
}

/* One line of the table: id, created, the priority (or the failed attempts
 * of an unprocessed ticket) and the subject, cut to fit. */
static void
print_row (const tk_ticket_t *t)
{
   char created[TK_TIME_ISO_BUFSIZE] = "";
   tk_time_format_iso (t->created_at, created, sizeof created);
   char what[32];
   if (t->processed) {
      snprintf (what, sizeof what, "%s", t->classification.priority ? t->classification.priority
                                                                     : "-");
   } else {
      snprintf (what, sizeof what, "%d attempts", t->processing_attempts);
   }
   printf ("%-24s %-25s %-12s %.60s\n", t->id, created, what, t->subject ? t->subject : "");
}

/* Prints the list; false when a ticket cannot be written as JSON. */
static bool
print_list (const tk_ticket_list_t *list, bool json)
{
   if (!json) {
      printf ("%-24s %-25s %-12s %s\n", "ID", "CREATED", "PRIORITY", "SUBJECT");
   }
   for (size_t i = 0; i < list->n; i++) {
      if (!json) {
         print_row (list->items[i]);
         continue;
      }
      tk_error_t err;
      char *text = tk_ticket_to_json_string (list->items[i], &err);
      if (!text) {
         fprintf (stderr, "triagectl tickets: %s: %s\n", list->items[i]->id, err.message);
         return false;
      }
      puts (text);
      free (text);
   }
   return true;
}

/* Reads the list with the store call it names. */
static bool
read_list (tk_store_t *store, list_t which, uint32_t limit, tk_ticket_list_t *out,
           tk_error_t *err)
{
   switch (which) {
   case LIST_BACKLOG: return tk_store_get_unprocessed_tickets (store, limit, out, err);
   case LIST_PROCESSED: return tk_store_get_processed_tickets (store, limit, out, err);
   case LIST_NEWEST_UNPROCESSED: return tk_store_get_tickets_by_status (store, false, limit, out, err);
   case LIST_NEWEST_PROCESSED: return tk_store_get_tickets_by_status (store, true, limit, out, err);
   }
   return false;
}

/* The list's name and options, after the database options. -1 when they
 * are good, else the exit status (usage printed). */
static int
parse_list (int argc, char **argv, list_t *which, list_args_t *a)
{
   if (argc < 1) {
      usage (stderr);
      return 2;
   }
   int w = -1;
   for (int i = 0; list_names[i]; i++) {
      if (!strcmp (argv[0], list_names[i])) {
         w = i;
      }
   }
   if (w < 0) {
      fprintf (stderr, "triagectl tickets: unknown list '%s'\n", argv[0]);
      usage (stderr);
      return 2;
   }
   *which = (list_t) w;
   int first, rc = cli_options_parse (&list_command, a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   if (first != argc) {
      return cli_options_fail (&list_command, "unexpected argument '%s'", argv[first]);
   }
   return -1;
}

int
cli_cmd_tickets (int argc, char **argv)
{
   int rc = 1;
   tk_config_t cfg;
   tk_error_t err;
   tk_store_t *store = NULL;
   tk_ticket_list_t list = {0};
   list_args_t a = {.limit = 20};
   list_t which;

   if ((rc = cli_config_open (&cfg, "tickets", argc, argv, usage)) >= 0) {
      return rc;
   }
   if ((rc = parse_list (cfg.rest_argc, cfg.rest_argv, &which, &a)) >= 0 ||
       (rc = cli_store_open (&cfg, "tickets", &store)) != 0) {
      goto done;
   }
   rc = 1;
   if (!read_list (store, which, a.limit, &list, &err)) {
      fprintf (stderr, "triagectl tickets: %s\n", err.message);
      goto done;
   }
   rc = print_list (&list, a.json) ? 0 : 1;
done:
   tk_ticket_list_destroy (&list);
   tk_store_destroy (store);
   tk_config_destroy (&cfg);
   return rc;
}
