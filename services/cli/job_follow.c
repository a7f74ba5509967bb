/* job_follow.c - a processing job followed to its end (see job_follow.h). */
#include "job_follow.h"
#include "http_client.h"
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_INTERVAL_US (500 * 1000)

double
cli_json_num (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   return cJSON_IsNumber (v) ? v->valuedouble : 0;
}

const char *
cli_json_str (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   return cJSON_IsString (v) ? v->valuestring : NULL;
}

void
cli_print_json (const cJSON *doc)
{
   char *text = cJSON_Print (doc);
   if (text) {
      puts (text);
   }
   cJSON_free (text);
}

/* ", <key> N" for the counts of the start's answer the job document does
 * not carry: kept_corrected and unknown_ids when the answer has them,
 * publish_failed when some requests could not be sent. */
static void
print_start_counts (const cJSON *started)
{
   static const char *const keys[] = {"kept_corrected", "unknown_ids"};
   for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
      if (cJSON_GetObjectItemCaseSensitive (started, keys[i])) {
         printf (", %s %.0f", keys[i], cli_json_num (started, keys[i]));
      }
   }
   if (cli_json_num (started, "publish_failed") > 0) {
      printf (", publish_failed %.0f", cli_json_num (started, "publish_failed"));
   }
}

void
cli_job_print_started (const cJSON *started, bool json)
{
   if (json) {
      cli_print_json (started);
      return;
   }
   printf ("job %s started: requested %.0f, skipped %.0f", cli_json_str (started, "job_id"),
           cli_json_num (started, "requested"), cli_json_num (started, "skipped"));
   print_start_counts (started);
   putchar ('\n');
}

static void
print_summary (const cJSON *job, const cJSON *started, double waited)
{
   printf ("job %s done: requested %.0f, classified %.0f, failed %.0f, skipped %.0f",
           cli_json_str (job, "job_id"), cli_json_num (job, "requested"),
           cli_json_num (job, "classified"), cli_json_num (job, "failed"),
           cli_json_num (job, "skipped"));
   print_start_counts (started);
   printf (" (%.1f s)\n", waited);
}

/* Says on stderr that the job stalled, once each time it does. */
static void
note_state (const cli_follow_t *f, const cli_progress_t *bar, const cJSON *job, bool *stalled)
{
   const char *state = cli_json_str (job, "state");
   bool now = state && !strcmp (state, "stalled");
   if (now && !*stalled) {
      const char *reason = cli_json_str (job, "reason");
      fprintf (stderr, "%striagectl %s: job %s stalled: %s\n", bar->on ? "\n" : "", f->cmd,
               cli_json_str (job, "job_id"), reason ? reason : "no reason given");
   }
   *stalled = now;
}

/* The job document once it is done (the caller deletes it), or NULL after
 * saying why on stderr (the api's error, or the timeout). */
static cJSON *
wait_done (const cli_follow_t *f, const char *url, cli_progress_t *bar, double t0)
{
   bool stalled = false;
   char err[600], note[96];
   for (;;) {
      cJSON *job = cli_http_get_json (url, f->key, err, sizeof err);
      if (!job) {
         fprintf (stderr, "%striagectl %s: %s\n", bar->on ? "\n" : "", f->cmd, err);
         return NULL;
      }
      const char *state = cli_json_str (job, "state");
      double classified = cli_json_num (job, "classified"), failed = cli_json_num (job, "failed");
      bar->total = (uint64_t) cli_json_num (job, "requested");
      note_state (f, bar, job, &stalled);
      snprintf (note, sizeof note, "classified %.0f, failed %.0f%s", classified, failed,
                stalled ? " (stalled)" : "");
      cli_progress_update (bar, (uint64_t) (classified + failed), note);
      if (state && !strcmp (state, "done")) {
         cli_progress_finish (bar, (uint64_t) (classified + failed), note);
         return job;
      }
      if (cli_now_s () - t0 > f->timeout_s) {
         fprintf (stderr, "%striagectl %s: job %s not done after %.0f s (%s, %.0f pending); it "
                          "goes on without triagectl\n",
                  bar->on ? "\n" : "", f->cmd, cli_json_str (job, "job_id"), f->timeout_s,
                  state ? state : "?", cli_json_num (job, "pending"));
         cJSON_Delete (job);
         return NULL;
      }
      cJSON_Delete (job);
      usleep (POLL_INTERVAL_US);
   }
}

int
cli_job_follow (const cli_follow_t *f, const cJSON *started)
{
   const char *job_id = cli_json_str (started, "job_id");
   tk_buf_t url = TK_BUF_INIT;
   cli_progress_t bar;
   if (!job_id) {
      fprintf (stderr, "triagectl %s: the api's answer names no job\n", f->cmd);
      return 1;
   }
   if (!cli_url_start (&url, f->url, "/api/process") || !cli_url_segment (&url, job_id)) {
      fprintf (stderr, "triagectl %s: out of memory\n", f->cmd);
      tk_buf_destroy (&url);
      return 1;
   }
   double t0 = cli_now_s ();
   cli_progress_init (&bar, f->cmd, (uint64_t) cli_json_num (started, "requested"), !f->quiet);
   cJSON *job = wait_done (f, url.data, &bar, t0);
   tk_buf_destroy (&url);
   if (!job) {
      return 1;
   }
   double failed = cli_json_num (job, "failed");
   if (f->json) {
      cli_print_json (job);
   } else {
      print_summary (job, started, cli_now_s () - t0);
   }
   if (failed > 0) {
      fprintf (stderr, "triagectl %s: %.0f ticket(s) failed; `triagectl dlq list` shows why\n",
               f->cmd, failed);
   }
   cJSON_Delete (job);
   return failed > 0 ? 1 : 0;
}
