/* cmd_upload.c - `triagectl upload FILE`: sends a ticket file to ingest's
 * POST /v1/tickets and prints what became of each row.
 *
 * The file is mapped and sent in chunks of whole rows (file_rows.h), so
 * memory stays bounded by one chunk and its report however large the file
 * is, and the progress bar moves as chunks go out. Line numbers in the
 * summary are the file's, not the chunk's. A chunk answered with 503 (the
 * database is unreachable) is sent again after the Retry-After the server
 * asked for; rows it had already stored come back as duplicates the second
 * time and are counted as stored. libcurl's easy interface is used: a
 * command-line tool may block.
 *
 * Exit status: 0 when every row was stored (or, with --dry-run, is valid),
 * 1 when a row was rejected or not stored, or a request failed, 2 on usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "file_rows.h"
#include "progress.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_URL "http://127.0.0.1:8081"

typedef struct {
   size_t line;
   char *id;
   char *status;
   char *reason;
   char *error;
} reject_t;

typedef struct {
   /* options */
   const char *format;
   const char *url;
   const char *key;
   bool dry_run;
   bool quiet;
   size_t chunk_rows;
   size_t show_rejects;
   unsigned retries;

   /* state */
   CURL *curl;
   struct curl_slist *headers;
   cli_progress_t bar;
   size_t bytes_before; /* file bytes of the chunks already answered */
   size_t bytes_chunk;  /* file bytes of the chunk in flight */
   tk_buf_t resp;
   long retry_after;

   /* totals */
   size_t total, stored, duplicates, updated, unchanged, rejected, failed, valid;
   size_t classify_pending; /* stored rows whose classification request ingest still retries */
   reject_t *rejects;
   size_t n_rejects;
} upload_t;

static size_t
on_body (char *data, size_t size, size_t n, void *ud)
{
   upload_t *up = ud;
   return tk_buf_append (&up->resp, data, size * n) ? size * n : 0;
}

static size_t
on_header (char *data, size_t size, size_t n, void *ud)
{
   upload_t *up = ud;
   size_t len = size * n;
   if (len > 12 && strncasecmp (data, "Retry-After:", 12) == 0) {
      up->retry_after = strtol (data + 12, NULL, 10);
   }
   return len;
}

static int
on_progress (void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
   (void) dltotal;
   (void) dlnow;
   upload_t *up = ud;
   if (ultotal > 0) {
      size_t part = (size_t) ((double) up->bytes_chunk * (double) ulnow / (double) ultotal);
      char note[64];
      snprintf (note, sizeof note, "%zu rows done", up->total);
      cli_progress_update (&up->bar, up->bytes_before + part, note);
   }
   return 0;
}

static const char *
str_of (const cJSON *o, const char *k)
{
   const cJSON *v = cJSON_GetObjectItem (o, k);
   return cJSON_IsString (v) ? v->valuestring : NULL;
}

static size_t
size_of (const cJSON *o, const char *k)
{
   const cJSON *v = cJSON_GetObjectItem (o, k);
   return cJSON_IsNumber (v) && v->valuedouble > 0 ? (size_t) v->valuedouble : 0;
}

static char *
dup_or_null (const char *s)
{
   return s ? strdup (s) : NULL;
}

static void
add_reject (upload_t *up, size_t line, const cJSON *row)
{
   if (up->n_rejects >= up->show_rejects) {
      return;
   }
   if (!up->rejects) {
      up->rejects = calloc (up->show_rejects, sizeof *up->rejects);
      if (!up->rejects) {
         return;
      }
   }
   reject_t *r = &up->rejects[up->n_rejects++];
   r->line = line;
   r->id = dup_or_null (str_of (row, "id"));
   r->status = dup_or_null (str_of (row, "status"));
   r->reason = dup_or_null (str_of (row, "reason"));
   r->error = dup_or_null (str_of (row, "error"));
}

/* Tallies one chunk's final report. prior marks rows a 503'd earlier
 * attempt stored (their "duplicate" now is our own write). */
static void
tally (upload_t *up, const cJSON *report, const cli_chunk_t *chunk, const bool *prior,
       size_t n_prior)
{
   up->classify_pending += size_of (report, "classify_pending");
   /* Past its first thousand rejected rows a report only counts them. */
   size_t not_listed = size_of (report, "rejected_not_listed");
   up->total += not_listed;
   up->rejected += not_listed;
   const cJSON *row;
   cJSON_ArrayForEach (row, cJSON_GetObjectItem (report, "results"))
   {
      size_t index = size_of (row, "index");
      const char *st = str_of (row, "status");
      st = st ? st : "";
      up->total++;
      if (!strcmp (st, "stored") ||
          (!strcmp (st, "duplicate") && index < n_prior && prior[index])) {
         up->stored++;
      } else if (!strcmp (st, "duplicate")) {
         up->duplicates++;
      } else if (!strcmp (st, "updated")) {
         up->updated++;
      } else if (!strcmp (st, "unchanged")) {
         up->unchanged++;
      } else if (!strcmp (st, "valid")) {
         up->valid++;
      } else {
         if (!strcmp (st, "rejected")) {
            up->rejected++;
         } else {
            up->failed++;
         }
         add_reject (up, cli_chunk_file_line (chunk, size_of (row, "line")), row);
      }
   }
}

/* Marks the rows a partial (503) report says were written. */
static bool
mark_prior (const cJSON *report, bool **prior, size_t *n_prior)
{
   const cJSON *results = cJSON_GetObjectItem (report, "results");
   size_t n = (size_t) cJSON_GetArraySize (results);
   if (n > *n_prior) {
      bool *p = realloc (*prior, n * sizeof *p);
      if (!p) {
         return false;
      }
      memset (p + *n_prior, 0, (n - *n_prior) * sizeof *p);
      *prior = p;
      *n_prior = n;
   }
   const cJSON *row;
   cJSON_ArrayForEach (row, results)
   {
      const char *st = str_of (row, "status");
      size_t index = size_of (row, "index");
      if (st && index < n && (!strcmp (st, "stored") || !strcmp (st, "updated"))) {
         (*prior)[index] = true;
      }
   }
   return true;
}

/* Sends one chunk until it gets a final answer. false when the request
 * failed (message printed). */
/* POSTs the chunk; its HTTP status, or -1 (said on stderr) when there was
 * no answer. The answer's body is in up->resp. */
static long
post_chunk (upload_t *up, const char *endpoint, const cli_chunk_t *chunk)
{
   tk_buf_reset (&up->resp);
   up->retry_after = 0;
   curl_easy_setopt (up->curl, CURLOPT_URL, endpoint);
   curl_easy_setopt (up->curl, CURLOPT_POSTFIELDS, chunk->body.data);
   curl_easy_setopt (up->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) chunk->body.len);
   CURLcode cc = curl_easy_perform (up->curl);
   if (cc != CURLE_OK) {
      fprintf (stderr, "\ntriagectl upload: %s: %s\n", endpoint, curl_easy_strerror (cc));
      return -1;
   }
   long status = 0;
   curl_easy_getinfo (up->curl, CURLINFO_RESPONSE_CODE, &status);
   return status;
}

/* The "message" of an answer's error object, or fallback. */
static const char *
message_or (const cJSON *error, const char *fallback)
{
   const char *m = str_of (error, "message");
   return m ? m : fallback;
}

static bool
send_chunk (upload_t *up, const char *endpoint, const cli_chunk_t *chunk)
{
   bool ok = false;
   bool *prior = NULL;
   size_t n_prior = 0;
   cJSON *report = NULL;
   for (unsigned attempt = 0;; attempt++) {
      long status = post_chunk (up, endpoint, chunk);
      if (status < 0) {
         goto done;
      }
      cJSON_Delete (report);
      report = cJSON_ParseWithLength (up->resp.data ? up->resp.data : "", up->resp.len);
      const cJSON *error = report ? cJSON_GetObjectItem (report, "error") : NULL;
      bool has_rows = report && cJSON_IsArray (cJSON_GetObjectItem (report, "results"));
      if (status == 503 && attempt < up->retries) {
         if (has_rows && !mark_prior (report, &prior, &n_prior)) {
            fprintf (stderr, "\ntriagectl upload: out of memory\n");
            goto done;
         }
         long wait = up->retry_after > 0 && up->retry_after < 300 ? up->retry_after : 2;
         fprintf (stderr, "%striagectl upload: ingest is unavailable (%s); retrying in %ld s\n",
                  up->bar.on ? "\n" : "", message_or (error, "503"), wait);
         sleep ((unsigned) wait);
         continue;
      }
      if (!has_rows) {
         fprintf (stderr, "%striagectl upload: HTTP %ld: %s\n", up->bar.on ? "\n" : "", status,
                  message_or (error, up->resp.data ? up->resp.data : "no answer"));
         goto done;
      }
      tally (up, report, chunk, prior, n_prior);
      ok = status < 500;
      if (!ok) {
         fprintf (stderr, "%striagectl upload: HTTP %ld: %s\n", up->bar.on ? "\n" : "", status,
                  message_or (error, "server error"));
      }
      break;
   }
done:
   cJSON_Delete (report);
   free (prior);
   return ok;
}

static void
print_summary (const upload_t *up, FILE *out)
{
   if (up->dry_run) {
      fprintf (out, "dry run: %zu rows: %zu valid, %zu already stored, %zu rejected\n", up->total,
               up->valid, up->duplicates, up->rejected);
   } else {
      fprintf (out, "%zu rows: %zu stored, %zu duplicates", up->total, up->stored,
               up->duplicates);
      if (up->updated || up->unchanged) {
         fprintf (out, ", %zu updated, %zu unchanged", up->updated, up->unchanged);
      }
      fprintf (out, ", %zu rejected", up->rejected);
      if (up->failed) {
         fprintf (out, ", %zu not stored", up->failed);
      }
      fputc ('\n', out);
      if (up->classify_pending) {
         fprintf (out, "  %zu stored row(s) still wait for their classification request to reach "
                       "Kafka; ingest keeps retrying it\n",
                  up->classify_pending);
      }
   }
   for (size_t i = 0; i < up->n_rejects; i++) {
      const reject_t *r = &up->rejects[i];
      bool id = r->id && *r->id;
      fprintf (out, "  line %zu%s%s%s: %s%s%s\n", r->line, id ? " (id " : "", id ? r->id : "",
               id ? ")" : "", r->reason ? r->reason : (r->status ? r->status : "?"),
               r->error ? " - " : "", r->error ? r->error : "");
   }
   size_t bad = up->rejected + up->failed;
   if (bad > up->n_rejects) {
      fprintf (out, "  ... and %zu more (--show-rejects N lists more)\n", bad - up->n_rejects);
   }
}

/* upload's options (cli_options.h), in the order --help lists them. */
static const cli_option_t upload_options[] = {
   {.name = "format", .arg = "F", .kind = CLI_OPT_STRING, CLI_FIELD (upload_t, format),
    .help = "json, ndjson or csv", .def = "from the extension: .json, .ndjson/.jsonl, .csv"},
   {.name = "url", .arg = "URL", .kind = CLI_OPT_STRING, CLI_FIELD (upload_t, url),
    .help = "ingest's address", .env = "TRIAGE_INGEST_URL", .def = DEFAULT_URL},
   {.name = "key", .arg = "KEY", .kind = CLI_OPT_STRING, CLI_FIELD (upload_t, key),
    .help = "API key with the operator role", .env = "TRIAGE_API_KEY"},
   {.name = "dry-run", .kind = CLI_OPT_FLAG, CLI_FIELD (upload_t, dry_run),
    .help = "validate only: report valid, already stored and rejected rows"},
   {.name = "chunk-rows", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (upload_t, chunk_rows),
    .min = 1, .max = 1000000, .help = "rows per request", .def = "5000"},
   {.name = "show-rejects", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (upload_t, show_rejects),
    .min = 0, .max = 1000000, .help = "rejected rows listed in the summary", .def = "20"},
   {.name = "retries", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (upload_t, retries), .min = 0,
    .max = 1000000, .help = "times a chunk is re-sent after a 503", .def = "10"},
   {.name = "quiet", .kind = CLI_OPT_FLAG, CLI_FIELD (upload_t, quiet), .help = "no progress bar"},
   {0},
};

static const cli_command_t upload_command = {
   .cmd = "upload",
   .synopsis = "[options] FILE",
   .description =
      "Sends a file of tickets to triage-ingest (POST /v1/tickets) and prints how\n"
      "many were stored, were already there, or were rejected (with line and reason).\n"
      "\n"
      "Exit status: 0 all rows stored (or valid), 1 some row rejected or a request\n"
      "failed, 2 usage.",
   .opts = upload_options,
};

/* Fills up's options (the environment's, then argv's), *path and *fmt
 * from argv; returns -1 to go on, else the exit status. */
static int
parse_args (int argc, char **argv, upload_t *up, const char **path, tk_upload_format_t *fmt)
{
   int first, rc;
   up->url = getenv ("TRIAGE_INGEST_URL") ? getenv ("TRIAGE_INGEST_URL") : DEFAULT_URL;
   up->key = getenv ("TRIAGE_API_KEY");
   if ((rc = cli_options_parse (&upload_command, up, argc, argv, &first)) >= 0) {
      return rc;
   }
   if (first != argc - 1) {
      fprintf (stderr, "triagectl upload: give one FILE\n\n");
      cli_options_usage (&upload_command, stderr);
      return 2;
   }
   *path = argv[first];
   if (!cli_parse_format (up->format, *path, fmt)) {
      fprintf (stderr, "triagectl upload: give --format json|ndjson|csv for %s\n", *path);
      return 2;
   }
   return -1;
}

/* The ingest URL the chunks go to (NULL when memory runs out). */
static char *
upload_endpoint (const upload_t *up)
{
   char *endpoint = NULL;
   size_t ulen = strlen (up->url);
   while (ulen > 0 && up->url[ulen - 1] == '/') {
      ulen--;
   }
   if (asprintf (&endpoint, "%.*s/v1/tickets%s", (int) ulen, up->url,
                 up->dry_run ? "?dry_run=true" : "") < 0) {
      return NULL;
   }
   return endpoint;
}

/* The easy handle every chunk is sent with: headers (content type, the key
 * in *auth, which the caller frees), callbacks, timeouts. false when
 * libcurl cannot start or memory runs out. */
static bool
curl_setup (upload_t *up, tk_upload_format_t fmt, char **auth)
{
   if (!(up->curl = curl_easy_init ())) {
      fprintf (stderr, "triagectl upload: cannot start libcurl\n");
      return false;
   }
   static const char *const ctypes[] = {"application/json", "application/x-ndjson", "text/csv"};
   char ct[64];
   snprintf (ct, sizeof ct, "Content-Type: %s", ctypes[fmt]);
   up->headers = curl_slist_append (up->headers, ct);
   up->headers = curl_slist_append (up->headers, "Expect:");
   if (up->key && *up->key) {
      if (asprintf (auth, "Authorization: Bearer %s", up->key) < 0) {
         *auth = NULL;
         return false;
      }
      up->headers = curl_slist_append (up->headers, *auth);
   }
   curl_easy_setopt (up->curl, CURLOPT_HTTPHEADER, up->headers);
   curl_easy_setopt (up->curl, CURLOPT_WRITEFUNCTION, on_body);
   curl_easy_setopt (up->curl, CURLOPT_WRITEDATA, up);
   curl_easy_setopt (up->curl, CURLOPT_HEADERFUNCTION, on_header);
   curl_easy_setopt (up->curl, CURLOPT_HEADERDATA, up);
   curl_easy_setopt (up->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
   curl_easy_setopt (up->curl, CURLOPT_XFERINFODATA, up);
   curl_easy_setopt (up->curl, CURLOPT_NOPROGRESS, 0L);
   curl_easy_setopt (up->curl, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
   curl_easy_setopt (up->curl, CURLOPT_NOSIGNAL, 1L);
   return true;
}

/* The progress bar at the bytes sent so far, with the rows done. */
static void
show_progress (upload_t *up, bool finish)
{
   char note[64];
   snprintf (note, sizeof note, "%zu rows done", up->total);
   if (finish) {
      cli_progress_finish (&up->bar, up->bytes_before, note);
   } else {
      cli_progress_update (&up->bar, up->bytes_before, note);
   }
}

static void
free_rejects (upload_t *up)
{
   for (size_t i = 0; i < up->n_rejects; i++) {
      free (up->rejects[i].id);
      free (up->rejects[i].status);
      free (up->rejects[i].reason);
      free (up->rejects[i].error);
   }
   free (up->rejects);
   up->rejects = NULL;
   up->n_rejects = 0;
}

int
cli_cmd_upload (int argc, char **argv)
{
   upload_t up = {.chunk_rows = 5000, .show_rejects = 20, .retries = 10};
   int rc = 1;
   tk_error_t err = {0};
   cli_file_rows_t file = {0};
   cli_chunk_t chunk = {.body = TK_BUF_INIT};
   char *endpoint = NULL, *auth = NULL;
   bool opened = false, failed = false;
   const char *path = NULL;
   tk_upload_format_t fmt;

   up.resp = (tk_buf_t) TK_BUF_INIT;
   if ((rc = parse_args (argc, argv, &up, &path, &fmt)) >= 0) {
      return rc;
   }
   rc = 1;
   if (!cli_file_rows_open (&file, path, fmt, &err)) {
      fprintf (stderr, "triagectl upload: %s\n", err.message);
      goto done;
   }
   opened = true;
   if (!(endpoint = upload_endpoint (&up)) || !curl_setup (&up, fmt, &auth)) {
      goto done;
   }

   cli_progress_init (&up.bar, up.dry_run ? "check " : "upload", file.len, !up.quiet);
   while (cli_file_rows_next (&file, up.chunk_rows, &chunk, &err)) {
      up.bytes_chunk = chunk.end_pos - up.bytes_before;
      if (!send_chunk (&up, endpoint, &chunk)) {
         failed = true;
         break;
      }
      up.bytes_before = chunk.end_pos;
      show_progress (&up, false);
   }
   if (err.domain != TK_ERR_NONE) {
      fprintf (stderr, "triagectl upload: %s\n", err.message);
      failed = true;
   }
   show_progress (&up, true);
   print_summary (&up, stdout);
   rc = failed || up.rejected || up.failed ? 1 : 0;
done:
   free_rejects (&up);
   curl_slist_free_all (up.headers);
   curl_easy_cleanup (up.curl);
   free (auth);
   free (endpoint);
   tk_buf_destroy (&up.resp);
   tk_buf_destroy (&chunk.body);
   if (opened) {
      cli_file_rows_close (&file);
   }
   return rc;
}
