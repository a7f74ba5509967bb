/* cmd_process.c - `triagectl process`: the dashboard's "Process tickets"
 * from the command line. Starts a job through the api (POST /api/process,
 * or POST /api/dlq/replay for the failed tickets), so the key's role and
 * the audit log cover it, then follows the job to its end (job_follow.h).
 *
 *   triagectl process --mode MODE [--ids A,B] [filters] [--override-corrections]
 *                     [--dry-run] [--no-wait] [--timeout S] [--json]
 *
 * Modes are the api's: unprocessed, last_24h, last_7d, since_last_fetch,
 * ids (the dashboard's "selected": give --ids), reprocess (the tickets of
 * the filters, classified again), and failed (the tickets that failed
 * every attempt, as POST /api/dlq/replay sends them back).
 *
 * Exit status: 0 the job ended with no ticket failed (or the dry run /
 * --no-wait answer came), 1 a ticket failed, the wait timed out or the api
 * refused (its message said), 2 usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "api_filters.h"
#include "http_client.h"
#include "job_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   const char *url, *key, *mode, *ids;
   cli_filters_t filters;
   bool override_corrections, dry_run, no_wait, json, quiet;
   double timeout;
} process_args_t;

static const cli_option_t process_options[] = {
   {.name = "mode", .short_name = 'm', .arg = "MODE", .kind = CLI_OPT_STRING,
    CLI_FIELD (process_args_t, mode),
    .help = "unprocessed, last_24h, last_7d, since_last_fetch, ids (or\n"
            "selected), reprocess, failed"},
   {.name = "ids", .arg = "A,B", .kind = CLI_OPT_STRING, CLI_FIELD (process_args_t, ids),
    .help = "mode ids: the tickets, comma-separated"},
   CLI_FILTER_OPTIONS (process_args_t, filters),
   {.name = "override-corrections", .kind = CLI_OPT_FLAG,
    CLI_FIELD (process_args_t, override_corrections),
    .help = "reprocess: relabel the tickets a person corrected too"},
   {.name = "dry-run", .short_name = 'n', .kind = CLI_OPT_FLAG, CLI_FIELD (process_args_t, dry_run),
    .help = "say what the job would request and keep; send nothing"},
   CLI_JOB_OPTIONS (process_args_t),
   CLI_API_OPTIONS (process_args_t),
   {0},
};

static const cli_command_t process_command = {
   .cmd = "process",
   .synopsis = "--mode MODE [--ids A,B] [filters] [--override-corrections] [--dry-run]\n"
               "                 [--no-wait] [--timeout S] [--json]",
   .description =
      "Starts a processing job through the api (operator key), then follows it until\n"
      "it is done: a progress bar on stderr, then one summary line on stdout. A\n"
      "stalled job is reported with its reason while waiting. Filters (status,\n"
      "priority, ..., --filter KEY=VALUE) choose the tickets of --mode reprocess.\n"
      "\n"
      "Exit status: 0 done with no ticket failed, 1 a ticket failed, the wait timed\n"
      "out or the api refused, 2 usage.",
   .opts = process_options,
};

static const char *const api_modes[] = {"unprocessed", "last_24h", "last_7d",
                                        "since_last_fetch", "ids", "reprocess", NULL};

/* The api's name of the mode asked for ("selected" is the dashboard's name
 * of "ids"; "failed" goes to the replay route), or NULL. */
static const char *
api_mode (const char *mode)
{
   if (!strcmp (mode, "selected")) {
      return "ids";
   }
   for (size_t i = 0; api_modes[i]; i++) {
      if (!strcmp (mode, api_modes[i])) {
         return api_modes[i];
      }
   }
   return !strcmp (mode, "failed") ? "failed" : NULL;
}

/* The usage errors of the options together; -1 when they fit. */
static int
check_args (const process_args_t *a, const char *mode)
{
   if (!a->mode) {
      return cli_options_fail (&process_command, "give --mode");
   }
   if (!mode) {
      return cli_options_fail (&process_command,
                               "--mode must be one of unprocessed, last_24h, last_7d, "
                               "since_last_fetch, ids, selected, reprocess, failed");
   }
   if (!strcmp (mode, "ids") != (a->ids != NULL)) {
      return cli_options_fail (&process_command, "--ids goes with --mode ids (or selected), "
                                                 "and that mode needs it");
   }
   if (cli_filters_any (&a->filters) && strcmp (mode, "reprocess") != 0) {
      return cli_options_fail (&process_command, "filters choose the tickets of --mode "
                                                 "reprocess only");
   }
   return -1;
}

/* ["a","b"] from "a,b" (empty items skipped) into body. */
static bool
add_ids (cJSON *body, const char *list)
{
   cJSON *arr = cJSON_AddArrayToObject (body, "ids");
   const char *p = list;
   while (arr && *p) {
      size_t n = strcspn (p, ",");
      if (n > 0) {
         char *id = strndup (p, n);
         cJSON *s = id ? cJSON_CreateString (id) : NULL;
         free (id);
         if (!s || !cJSON_AddItemToArray (arr, s)) {
            cJSON_Delete (s);
            return false;
         }
      }
      p += n + (p[n] == ',');
   }
   return arr != NULL;
}

/* The body of the start request; NULL when memory runs out. */
static cJSON *
start_body (const process_args_t *a, const char *mode)
{
   cJSON *body = cJSON_CreateObject ();
   bool ok = body != NULL;
   if (ok && strcmp (mode, "failed") != 0) {
      ok = cJSON_AddStringToObject (body, "mode", mode) != NULL;
   }
   if (ok && a->ids) {
      ok = add_ids (body, a->ids);
   }
   if (ok && !strcmp (mode, "reprocess")) {
      cJSON *filter = cli_filters_json (&a->filters);
      ok = filter && cJSON_AddItemToObject (body, "filter", filter);
   }
   if (ok && a->override_corrections) {
      ok = cJSON_AddBoolToObject (body, "override_corrections", true) != NULL;
   }
   if (ok && a->dry_run) {
      ok = cJSON_AddBoolToObject (body, "dry_run", true) != NULL;
   }
   if (!ok) {
      cJSON_Delete (body);
      return NULL;
   }
   return body;
}

static void
print_dry_run (const cJSON *plan, const char *mode)
{
   printf ("dry run (%s): would request %.0f, skipped %.0f, kept_corrected %.0f", mode,
           cli_json_num (plan, "would_request"), cli_json_num (plan, "skipped"),
           cli_json_num (plan, "kept_corrected"));
   if (cJSON_GetObjectItemCaseSensitive (plan, "unknown_ids")) {
      printf (", unknown_ids %.0f", cli_json_num (plan, "unknown_ids"));
   }
   putchar ('\n');
}

/* POSTs the job and answers as the options say; the exit status. */
static int
run_job (const process_args_t *a, const char *mode, const cJSON *body)
{
   tk_buf_t url = TK_BUF_INIT;
   char err[600];
   const char *base = cli_api_url (a->url), *key = cli_api_key (a->key);
   bool replay = !strcmp (mode, "failed");
   if (!cli_url_start (&url, base, replay ? "/api/dlq/replay" : "/api/process")) {
      fprintf (stderr, "triagectl process: out of memory\n");
      return 1;
   }
   cJSON *started = cli_http_send ("POST", url.data, key, body, NULL, err, sizeof err);
   tk_buf_destroy (&url);
   if (!started) {
      fprintf (stderr, "triagectl process: %s\n", err);
      return 1;
   }
   int rc = 0;
   if (a->dry_run && a->json) {
      cli_print_json (started);
   } else if (a->dry_run) {
      print_dry_run (started, mode);
   } else if (a->no_wait) {
      cli_job_print_started (started, a->json);
   } else {
      const cli_follow_t f = {.cmd = "process", .url = base, .key = key,
                              .timeout_s = a->timeout, .json = a->json, .quiet = a->quiet};
      rc = cli_job_follow (&f, started);
   }
   cJSON_Delete (started);
   return rc;
}

int
cli_cmd_process (int argc, char **argv)
{
   process_args_t a = {.timeout = 600};
   int first, rc = cli_options_parse (&process_command, &a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   if (first < argc) {
      return cli_options_fail (&process_command, "unexpected argument '%s'", argv[first]);
   }
   const char *mode = a.mode ? api_mode (a.mode) : NULL;
   if ((rc = check_args (&a, mode)) >= 0) {
      return rc;
   }
   cJSON *body = start_body (&a, mode);
   if (!body) {
      fprintf (stderr, "triagectl process: out of memory\n");
      return 1;
   }
   rc = run_job (&a, mode, body);
   cJSON_Delete (body);
   return rc;
}
