/* main.c - triagectl: the command-line client of triage.
 *
 *   triagectl <command> [options]
 *
 * Each command lives in its own cmd_<name>.c; this file only dispatches.
 */
#include "cli.h"

#include "log.h"

#include <curl/curl.h>
#include <mongoc/mongoc.h>

#include <stdio.h>
#include <string.h>

typedef struct {
   const char *name;
   int (*run) (int argc, char **argv);
   const char *summary;
} command_t;

/* One line per subcommand. */
static const command_t commands[] = {
   {"train", cli_cmd_train, "train the local model from a labelled corpus"},
   {"eval", cli_cmd_eval, "score a local model or an LLM against a labelled file"},
   {"upload", cli_cmd_upload, "send a JSON, NDJSON or CSV file of tickets to ingest"},
   {"publish", cli_cmd_publish, "publish a file of raw tickets to the inbound topic"},
   {"stats", cli_cmd_stats, "print processing statistics; --wait until all are classified"},
   {"config", cli_cmd_config, "print the reference of every TRIAGE_* setting"},
   {"check", cli_cmd_check, "verify the collection's consistency (exit 1 on a problem)"},
   {"keys", cli_cmd_keys, "create, list, rotate and revoke API keys (in the database)"},
   {"tickets", cli_cmd_tickets, "list the backlog or the latest tickets (from the database)"},
   {"process", cli_cmd_process, "start a processing job through the api and follow it to the end"},
   {"export", cli_cmd_export, "export the filtered tickets as CSV or NDJSON (through the api)"},
   {"dlq", cli_cmd_dlq, "list, show and replay the dead letters (through the api)"},
};

static void
usage (FILE *out)
{
   fprintf (out, "usage: triagectl <command> [options]\n\ncommands:\n");
   for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
      fprintf (out, "  %-10s %s\n", commands[i].name, commands[i].summary);
   }
   fprintf (out, "\n`triagectl <command> --help` describes a command's options.\n");
}

int
main (int argc, char **argv)
{
   if (argc < 2) {
      usage (stderr);
      return 2;
   }
   if (strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0 ||
       strcmp (argv[1], "help") == 0) {
      usage (stdout);
      return 0;
   }
   if (strcmp (argv[1], "--version") == 0) {
      printf ("triagectl %s\n", TRIAGE_VERSION);
      return 0;
   }
   /* Library log lines (libmongoc's) go through the shared logger: warnings
    * and errors only, so a command's own output stays readable. */
   tk_log_init ("triagectl", TK_LOG_WARN);
   mongoc_init ();
   tk_log_route_mongoc ();
   for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
      if (strcmp (argv[1], commands[i].name) == 0) {
         /* Once per process, before any thread: libcurl's global state
          * (upload, eval through a provider, the services' HTTP calls). */
         curl_global_init (CURL_GLOBAL_DEFAULT);
         int rc = commands[i].run (argc - 1, argv + 1);
         curl_global_cleanup ();
         return rc;
      }
   }
   fprintf (stderr, "triagectl: unknown command '%s'\n\n", argv[1]);
   usage (stderr);
   return 2;
}
