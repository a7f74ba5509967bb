/* cmd_dlq.c - `triagectl dlq`: the dead letters of the DLQ topic, through
 * the api (operator key; every call audited).
 *
 *   triagectl dlq list [--limit N]         GET /api/dlq, newest first
 *   triagectl dlq show ENTRY               GET /api/dlq/{entry}, with the
 *                                          original message
 *   triagectl dlq replay ENTRY|TICKET...   POST /api/dlq/replay {"ids"}
 *   triagectl dlq replay --all-failed      POST /api/dlq/replay (every failed ticket)
 *
 * An ENTRY is "<partition>:<offset>", as list prints it; any other argument
 * of replay is a ticket id. Replaying asks for a ticket's classification
 * again, so an entry that names no ticket (an inbound message ingest
 * refused: it never became one) is refused with the reason, and nothing is
 * sent. A replay is followed like `triagectl process` unless --no-wait.
 *
 * Exit status: 0 done, 1 the api refused, an entry cannot be replayed or a
 * replayed ticket failed again, 2 usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "http_client.h"
#include "job_follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   const char *url, *key;
   size_t limit;
   bool all_failed, no_wait, json, quiet;
   double timeout;
} dlq_args_t;

static const cli_option_t dlq_options[] = {
   {.name = "limit", .short_name = 'n', .arg = "N", .kind = CLI_OPT_UINT,
    CLI_FIELD (dlq_args_t, limit), .min = 1, .max = 500, .help = "list: entries shown",
    .def = "50"},
   {.name = "all-failed", .kind = CLI_OPT_FLAG, CLI_FIELD (dlq_args_t, all_failed),
    .help = "replay: every ticket that failed every attempt"},
   CLI_JOB_OPTIONS (dlq_args_t),
   CLI_API_OPTIONS (dlq_args_t),
   {0},
};

static const cli_command_t dlq_command = {
   .cmd = "dlq",
   .synopsis = "list [--limit N] | show ENTRY | replay (ENTRY|TICKET... | --all-failed)",
   .description =
      "The dead letters of the DLQ topic (TRIAGE_TOPIC_DLQ), through the api\n"
      "(operator key): tickets that failed every classification attempt, and\n"
      "inbound messages ingest refused. list shows the newest, show one ENTRY\n"
      "(<partition>:<offset>) with its original message, replay sends tickets back\n"
      "to the classifier and follows the job. An entry without a ticket cannot be\n"
      "replayed: fix that message at its source and publish it again.\n"
      "\n"
      "Exit status: 0 done, 1 refused or failed again, 2 usage.",
   .opts = dlq_options,
};

/* ---- list ----------------------------------------------------------------------- */

/* GET /api/dlq/{entry} (entry not NULL) or /api/dlq?limit=N: the document
 * (the caller deletes it), or NULL after saying why on stderr. */
static cJSON *
dlq_get (const char *base, const char *key, const char *entry, size_t limit)
{
   tk_buf_t url = TK_BUF_INIT;
   char err[600], n[24];
   cJSON *doc = NULL;
   snprintf (n, sizeof n, "%zu", limit);
   if (cli_url_start (&url, base, "/api/dlq") &&
       (entry ? cli_url_segment (&url, entry) : cli_url_param (&url, "limit", n))) {
      doc = cli_http_get_json (url.data, key, err, sizeof err);
   } else {
      snprintf (err, sizeof err, "out of memory");
   }
   tk_buf_destroy (&url);
   if (!doc) {
      fprintf (stderr, "triagectl dlq: %s\n", err);
   }
   return doc;
}

static void
print_entry_row (const cJSON *e)
{
   const char *id = cli_json_str (e, "id"), *at = cli_json_str (e, "failed_at");
   const char *error = cli_json_str (e, "error");
   printf ("%-10s %-24s %-10s %-20s %3.0f  %.70s\n", cli_json_str (e, "entry"), at ? at : "-",
           cli_json_str (e, "origin"), id ? id : "-", cli_json_num (e, "attempts"),
           error ? error : "");
}

static int
dlq_list (const dlq_args_t *a, const char *base, const char *key)
{
   cJSON *doc = dlq_get (base, key, NULL, a->limit);
   if (!doc) {
      return 1;
   }
   const cJSON *items = cJSON_GetObjectItemCaseSensitive (doc, "items"), *e;
   if (a->json) {
      cli_print_json (doc);
   } else {
      printf ("%d of %.0f dead letters in %s, newest first\n", cJSON_GetArraySize (items),
              cli_json_num (doc, "retained"), cli_json_str (doc, "topic"));
      printf ("%-10s %-24s %-10s %-20s %3s  %s\n", "ENTRY", "FAILED_AT", "ORIGIN", "TICKET",
              "TRY", "ERROR");
      cJSON_ArrayForEach (e, items)
      {
         print_entry_row (e);
      }
   }
   cJSON_Delete (doc);
   return 0;
}

/* ---- show ----------------------------------------------------------------------- */

static void
print_entry (const cJSON *e)
{
   static const char *const fields[] = {"entry",        "id",           "origin",
                                        "error",        "failed_at",    "enqueued_at",
                                        "provider",     "source_topic", "not_replayable"};
   for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
      const char *v = cli_json_str (e, fields[i]);
      if (v) {
         printf ("%-15s %s\n", fields[i], v);
      }
   }
   printf ("%-15s %.0f\n", "attempts", cli_json_num (e, "attempts"));
   const cJSON *m = cJSON_GetObjectItemCaseSensitive (e, "message");
   if (cJSON_IsString (m)) {
      printf ("message\n%s\n", m->valuestring);
   } else if (m && !cJSON_IsNull (m)) {
      char *text = cJSON_PrintUnformatted (m);
      printf ("message\n%s\n", text ? text : "");
      cJSON_free (text);
   } else if (cli_json_str (e, "message_base64")) {
      printf ("message_base64\n%s\n", cli_json_str (e, "message_base64"));
   }
}

static int
dlq_show (const dlq_args_t *a, const char *base, const char *key, const char *entry)
{
   cJSON *doc = dlq_get (base, key, entry, 0);
   if (!doc) {
      return 1;
   }
   if (a->json) {
      cli_print_json (doc);
   } else {
      print_entry (doc);
   }
   cJSON_Delete (doc);
   return 0;
}

/* ---- replay --------------------------------------------------------------------- */

/* "<digits>:<digits>": a DLQ entry rather than a ticket id. */
static bool
is_entry (const char *s)
{
   size_t p = strspn (s, "0123456789");
   return p > 0 && s[p] == ':' && s[p + 1] && s[p + 1 + strspn (s + p + 1, "0123456789")] == '\0';
}

/* Adds the ticket of arg (an entry's, or arg itself) to ids; false after
 * saying why on stderr when the entry cannot be read or replayed. */
static bool
add_ticket (cJSON *ids, const char *base, const char *key, const char *arg)
{
   if (!is_entry (arg)) {
      return cJSON_AddItemToArray (ids, cJSON_CreateString (arg));
   }
   cJSON *e = dlq_get (base, key, arg, 0);
   if (!e) {
      return false;
   }
   const char *id = cli_json_str (e, "id");
   bool ok = cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (e, "replayable")) && id;
   if (ok) {
      ok = cJSON_AddItemToArray (ids, cJSON_CreateString (id));
   } else {
      const char *why = cli_json_str (e, "not_replayable");
      fprintf (stderr, "triagectl dlq: entry %s cannot be replayed: %s\n", arg,
               why ? why : "it names no ticket");
   }
   cJSON_Delete (e);
   return ok;
}

static int
dlq_replay (const dlq_args_t *a, const char *base, const char *key, char **args, int n)
{
   cJSON *body = NULL, *ids;
   tk_buf_t url = TK_BUF_INIT;
   char err[600];
   int rc = 1;
   if (n > 0) {
      body = cJSON_CreateObject ();
      ids = cJSON_AddArrayToObject (body, "ids");
      for (int i = 0; i < n; i++) {
         if (!add_ticket (ids, base, key, args[i])) {
            goto done; /* nothing is sent when one of them cannot be */
         }
      }
   }
   if (!cli_url_start (&url, base, "/api/dlq/replay")) {
      goto done;
   }
   cJSON *started = cli_http_send ("POST", url.data, key, body, NULL, err, sizeof err);
   if (!started) {
      fprintf (stderr, "triagectl dlq: %s\n", err);
      goto done;
   }
   if (cli_json_num (started, "unknown_ids") > 0) {
      fprintf (stderr, "triagectl dlq: %.0f of the tickets are not in the database\n",
               cli_json_num (started, "unknown_ids"));
   }
   if (a->no_wait) {
      cli_job_print_started (started, a->json);
      rc = 0;
   } else {
      const cli_follow_t f = {.cmd = "dlq", .url = base, .key = key, .timeout_s = a->timeout,
                              .json = a->json, .quiet = a->quiet};
      rc = cli_job_follow (&f, started);
   }
   cJSON_Delete (started);
done:
   tk_buf_destroy (&url);
   cJSON_Delete (body);
   return rc;
}

int
cli_cmd_dlq (int argc, char **argv)
{
   dlq_args_t a = {.limit = 50, .timeout = 600};
   int first, rc = cli_options_parse (&dlq_command, &a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   const char *action = first < argc ? argv[first] : NULL;
   const char *base = cli_api_url (a.url), *key = cli_api_key (a.key);
   int n = argc - first - 1;
   if (action && !strcmp (action, "list") && n == 0) {
      return dlq_list (&a, base, key);
   }
   if (action && !strcmp (action, "show") && n == 1) {
      return dlq_show (&a, base, key, argv[first + 1]);
   }
   if (action && !strcmp (action, "replay") && (n > 0) != a.all_failed) {
      return dlq_replay (&a, base, key, argv + first + 1, n);
   }
   if (action && !strcmp (action, "replay")) {
      return cli_options_fail (&dlq_command, "replay takes entries or ticket ids, or "
                                             "--all-failed (one of the two)");
   }
   fprintf (stderr, "triagectl dlq: give list, show ENTRY or replay\n\n");
   cli_options_usage (&dlq_command, stderr);
   return 2;
}
