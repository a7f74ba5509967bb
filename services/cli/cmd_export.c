/* cmd_export.c - `triagectl export`: the tickets of the api's filters as CSV
 * or NDJSON (GET /api/tickets/export.csv | .ndjson, operator key), streamed
 * to a file or stdout as it arrives: memory stays at libcurl's buffer
 * however large the export.
 *
 *   triagectl export [--format csv|ndjson] [filters] [--sort S] [-o FILE]
 *
 * With -o the export is written to FILE.tmp and renamed to FILE once it is
 * complete, so FILE is never a partial export: an api error (a bad filter,
 * a viewer key), a broken connection, or the export's own closing error
 * line (the database failed midway) leave no file and exit 1.
 *
 * Exit status: 0 exported, 1 refused or incomplete (the reason on stderr),
 * 2 usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "api_filters.h"
#include "http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
   const char *url, *key, *format, *output, *sort;
   cli_filters_t filters;
} export_args_t;

static const cli_option_t export_options[] = {
   {.name = "format", .short_name = 'f', .arg = "F", .kind = CLI_OPT_STRING,
    CLI_FIELD (export_args_t, format), .help = "csv or ndjson",
    .def = "from -o's extension (.ndjson, .jsonl), else csv"},
   {.name = "output", .short_name = 'o', .arg = "FILE", .kind = CLI_OPT_STRING,
    CLI_FIELD (export_args_t, output), .help = "write to FILE (complete or not at all)",
    .def = "stdout"},
   CLI_FILTER_OPTIONS (export_args_t, filters),
   {.name = "sort", .arg = "S", .kind = CLI_OPT_STRING, CLI_FIELD (export_args_t, sort),
    .help = "created_at, -created_at, processed_at, -processed_at", .def = "-created_at"},
   CLI_API_OPTIONS (export_args_t),
   {0},
};

static const cli_command_t export_command = {
   .cmd = "export",
   .synopsis = "[--format csv|ndjson] [filters] [--sort S] [-o FILE]",
   .description =
      "Exports the tickets matching the filters through the api (operator key), as\n"
      "the dashboard's export does: CSV (RFC 4180, a header row) or NDJSON (one\n"
      "ticket a line, as GET /api/tickets/{id}), streamed to stdout or FILE.\n"
      "\n"
      "Exit status: 0 exported, 1 refused or incomplete (no FILE is left), 2 usage.",
   .opts = export_options,
};

static bool
ends_with (const char *s, const char *suffix)
{
   size_t n = strlen (s), k = strlen (suffix);
   return n >= k && strcmp (s + n - k, suffix) == 0;
}

/* "csv" or "ndjson" from --format or -o's extension; NULL when --format
 * names neither. */
static const char *
export_format (const export_args_t *a)
{
   if (a->format) {
      return !strcmp (a->format, "csv") || !strcmp (a->format, "ndjson") ? a->format : NULL;
   }
   if (a->output && (ends_with (a->output, ".ndjson") || ends_with (a->output, ".jsonl"))) {
      return "ndjson";
   }
   return "csv";
}

/* The export's URL with its filters; false when memory runs out. */
static bool
export_url (const export_args_t *a, const char *format, tk_buf_t *url)
{
   const char *path = !strcmp (format, "csv") ? "/api/tickets/export.csv"
                                              : "/api/tickets/export.ndjson";
   return cli_url_start (url, cli_api_url (a->url), path) &&
          cli_filters_query (&a->filters, url) &&
          (!a->sort || cli_url_param (url, "sort", a->sort));
}

/* The closing line of an export the api could not finish (routes_export.c:
 * "#error,..." in CSV, {"error":...} in NDJSON), or NULL. */
static const char *
incomplete (const char *last_line, const char *format)
{
   if (!strcmp (format, "csv")) {
      return !strncmp (last_line, "#error,", 7) ? last_line + 7 : NULL;
   }
   return !strncmp (last_line, "{\"error\":", 9) ? last_line : NULL;
}

/* Streams url into out; the exit status, with the reason on stderr. */
static int
stream (const char *url, const char *key, const char *format, FILE *out, uint64_t *bytes)
{
   char err[600], last[512];
   if (!cli_http_download (url, key, out, bytes, last, sizeof last, err, sizeof err)) {
      fprintf (stderr, "triagectl export: %s\n", err);
      return 1;
   }
   const char *why = incomplete (last, format);
   if (why) {
      fprintf (stderr, "triagectl export: the export is incomplete: %s\n", why);
      return 1;
   }
   return 0;
}

/* The export into path by way of path.tmp; the exit status. */
static int
export_to_file (const char *url, const char *key, const char *format, const char *path)
{
   tk_buf_t tmp = TK_BUF_INIT;
   uint64_t bytes = 0;
   if (!tk_buf_appendf (&tmp, "%s.tmp", path)) {
      fprintf (stderr, "triagectl export: out of memory\n");
      return 1;
   }
   FILE *out = fopen (tmp.data, "wb");
   if (!out) {
      fprintf (stderr, "triagectl export: %s: %s\n", tmp.data, strerror (errno));
      tk_buf_destroy (&tmp);
      return 1;
   }
   int rc = stream (url, key, format, out, &bytes);
   if (fclose (out) != 0 && rc == 0) {
      fprintf (stderr, "triagectl export: %s: %s\n", tmp.data, strerror (errno));
      rc = 1;
   }
   if (rc == 0 && rename (tmp.data, path) != 0) {
      fprintf (stderr, "triagectl export: %s: %s\n", path, strerror (errno));
      rc = 1;
   }
   if (rc != 0) {
      unlink (tmp.data);
   } else {
      fprintf (stderr, "triagectl export: %llu bytes of %s written to %s\n",
               (unsigned long long) bytes, format, path);
   }
   tk_buf_destroy (&tmp);
   return rc;
}

int
cli_cmd_export (int argc, char **argv)
{
   export_args_t a = {0};
   int first, rc = cli_options_parse (&export_command, &a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   if (first < argc) {
      return cli_options_fail (&export_command, "unexpected argument '%s'", argv[first]);
   }
   const char *format = export_format (&a);
   if (!format) {
      return cli_options_fail (&export_command, "--format must be csv or ndjson");
   }
   tk_buf_t url = TK_BUF_INIT;
   if (!export_url (&a, format, &url)) {
      fprintf (stderr, "triagectl export: out of memory\n");
      tk_buf_destroy (&url);
      return 1;
   }
   const char *key = cli_api_key (a.key);
   if (a.output && strcmp (a.output, "-") != 0) {
      rc = export_to_file (url.data, key, format, a.output);
   } else {
      rc = stream (url.data, key, format, stdout, NULL);
      if (fflush (stdout) != 0) {
         fprintf (stderr, "triagectl export: stdout: %s\n", strerror (errno));
         rc = 1;
      }
   }
   tk_buf_destroy (&url);
   return rc;
}
