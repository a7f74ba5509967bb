/* triagectl train and eval on a three-way split of the corpus (training,
 * calibration, held-out; by a hash of each id): the eval report's text and
 * JSON forms (a local model's: every ticket answered, topic ECE over every
 * tag), its usage errors, and that the temperatures fitted on the
 * calibration part lower the expected calibration error on the held-out
 * part: decisively for a naive Bayes made over-confident (--evidence 40),
 * and without harm for the static mode's heads. Runs the built binaries; the
 * static mode reads the distilled table the build cached. */
#include "test_support.h"

#include "labelled.h"
#include "model.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORPUS TRIAGE_SOURCE_DIR "/services/classifier/corpus/train.ndjson"
#define ENCODER TRIAGE_BIN_DIR "/../share/triage/all-MiniLM-L6-v2"

static char dir[64];

/* Runs triagectl with args; returns its exit status, output in out. */
static int
run (const char *args, char *out, size_t cap)
{
   char cmd[4096];
   snprintf (cmd, sizeof cmd, "%s/triagectl %s 2>&1", TRIAGE_BIN_DIR, args);
   return tk_test_shell (cmd, out, cap);
}

static void
write_example (FILE *f, const tk_model_example_t *e)
{
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", e->id);
   cJSON_AddStringToObject (o, "subject", e->subject ? e->subject : "");
   cJSON_AddStringToObject (o, "body", e->body ? e->body : "");
   cJSON_AddItemToObject (o, "topic_tags", cJSON_CreateStringArray (e->topic_tags, (int) e->n_topic_tags));
   cJSON_AddStringToObject (o, "sentiment", e->sentiment);
   cJSON_AddStringToObject (o, "priority", e->priority);
   char *line = cJSON_PrintUnformatted (o);
   fprintf (f, "%s\n", line);
   free (line);
   cJSON_Delete (o);
}

static void train (const char *name, const char *mode, const char *extra);

/* train.ndjson, calib.ndjson and held.ndjson in dir (20 % held out, 20 % of
 * the rest for calibration), and four models trained on train.ndjson: naive
 * Bayes made over-confident and the static mode, each without and with
 * temperatures fitted on calib.ndjson. */
static int
setup (void **state)
{
   (void) state;
   tk_error_t err = {0};
   snprintf (dir, sizeof dir, "/tmp/triage-eval-XXXXXX");
   tk_labelled_set_t *set = tk_labelled_load (CORPUS, &err);
   if (!mkdtemp (dir) || !set) {
      return -1;
   }
   char path[3][128];
   FILE *f[3];
   static const char *const names[3] = {"train", "calib", "held"};
   for (int k = 0; k < 3; k++) {
      snprintf (path[k], sizeof path[k], "%s/%s.ndjson", dir, names[k]);
      f[k] = fopen (path[k], "w");
   }
   size_t n;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   for (size_t i = 0; i < n; i++) {
      int k = tk_model_is_holdout (ex[i].id, 1, 0.2) ? 2 : tk_model_is_holdout (ex[i].id, 2, 0.25) ? 1 : 0;
      write_example (f[k], &ex[i]);
   }
   for (int k = 0; k < 3; k++) {
      fclose (f[k]);
   }
   tk_labelled_destroy (set);
   char calib[256];
   snprintf (calib, sizeof calib, "--calibration %s/calib.ndjson", dir);
   train ("nb-raw", "nb", "--evidence 40");
   train ("nb-cal", "nb", strcat (strcpy ((char[320]){0}, calib), " --evidence 40"));
   train ("st-raw", "static", "--with-nb-features");
   train ("st-cal", "static", strcat (strcpy ((char[320]){0}, calib), " --with-nb-features"));
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   char cmd[128];
   snprintf (cmd, sizeof cmd, "rm -rf '%s'", dir);
   return system (cmd) == 0 ? 0 : -1;
}

/* Trains name.bin (mode and extra flags) on train.ndjson. */
static void
train (const char *name, const char *mode, const char *extra)
{
   char args[2048], out[8192];
   snprintf (args, sizeof args,
             "train --mode %s --corpus %s/train.ndjson --out %s/%s.bin --holdout 0 --encoder %s "
             "--cache %s/models --threads 2 %s",
             mode, dir, dir, name, ENCODER, TRIAGE_CACHE_DIR, extra);
   if (run (args, out, sizeof out) != 0) {
      fail_msg ("triagectl %s failed:\n%s", args, out);
   }
}

/* The JSON report of name.bin on held.ndjson. */
static cJSON *
eval_json (const char *name)
{
   char args[1024];
   static char out[1 << 16];
   snprintf (args, sizeof args, "eval --json --model %s/%s.bin %s/held.ndjson", dir, name, dir);
   assert_int_equal (run (args, out, sizeof out), 0);
   cJSON *j = cJSON_Parse (strchr (out, '{'));
   assert_non_null (j);
   return j;
}

static double
num (const cJSON *j, const char *field, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (j, field), key);
   assert_true (cJSON_IsNumber (v));
   return v->valuedouble;
}

static double
ece_sum (const cJSON *j)
{
   return num (j, "sentiment", "ece") + num (j, "priority", "ece") + num (j, "topic", "ece");
}

static void
test_calibration_lowers_ece (void **state)
{
   (void) state;
   cJSON *nr = eval_json ("nb-raw"), *nc = eval_json ("nb-cal");
   cJSON *sr = eval_json ("st-raw"), *sc = eval_json ("st-cal");
   print_message ("ECE sum: nb %.3f -> %.3f, static %.3f -> %.3f\n", ece_sum (nr), ece_sum (nc),
                  ece_sum (sr), ece_sum (sc));
   /* The over-confident model: every field improves, the sum by half. */
   static const char *const fields[3] = {"sentiment", "priority", "topic"};
   for (int f = 0; f < 3; f++) {
      assert_true (num (nc, fields[f], "ece") <= num (nr, fields[f], "ece") + 0.005);
   }
   assert_true (ece_sum (nc) < 0.5 * ece_sum (nr));
   /* The heads, already near calibrated: no field gets worse by more than noise. */
   for (int f = 0; f < 3; f++) {
      assert_true (num (sc, fields[f], "ece") <= num (sr, fields[f], "ece") + 0.02);
   }
   /* Temperatures change confidences, never the choices. */
   assert_true (num (nc, "priority", "accuracy") == num (nr, "priority", "accuracy"));
   assert_true (num (sc, "sentiment", "accuracy") == num (sr, "sentiment", "accuracy"));
   cJSON_Delete (nr);
   cJSON_Delete (nc);
   cJSON_Delete (sr);
   cJSON_Delete (sc);
}

static void
test_report_forms (void **state)
{
   (void) state;
   cJSON *j = eval_json ("st-cal");
   assert_string_equal (cJSON_GetObjectItemCaseSensitive (j, "mode")->valuestring, "static");
   assert_memory_equal (cJSON_GetObjectItemCaseSensitive (j, "model")->valuestring, "local-static-", 13);
   double n = cJSON_GetObjectItemCaseSensitive (j, "examples")->valuedouble;
   assert_true (n > 100);
   static const char *const fields[2] = {"sentiment", "priority"};
   for (int f = 0; f < 2; f++) {
      const cJSON *fld = cJSON_GetObjectItemCaseSensitive (j, fields[f]), *row;
      double total = 0, diag = 0;
      int g = 0;
      cJSON_ArrayForEach (row, cJSON_GetObjectItemCaseSensitive (fld, "confusion"))
      {
         for (int p = 0; p < cJSON_GetArraySize (row); p++) {
            total += cJSON_GetArrayItem (row, p)->valuedouble;
            diag += p == g ? cJSON_GetArrayItem (row, p)->valuedouble : 0;
         }
         g++;
      }
      assert_true (total == n);
      if (fabs (diag / n - num (j, fields[f], "accuracy")) > 1e-12) {
         fail_msg ("%s: diagonal %.0f of %.0f, accuracy %.17g", fields[f], diag, n, num (j, fields[f], "accuracy"));
      }
      assert_true (num (j, fields[f], "ece_low") <= num (j, fields[f], "ece"));
      assert_true (num (j, fields[f], "ece") <= num (j, fields[f], "ece_high"));
   }
   assert_true (num (j, "topic", "micro_f1") > 0.5 && num (j, "topic", "micro_f1") <= 1);
   /* A local model answers every ticket and gives every tag's probability. */
   assert_string_equal (cJSON_GetObjectItemCaseSensitive (j, "provider")->valuestring, "local");
   assert_true (cJSON_GetObjectItemCaseSensitive (j, "answered")->valuedouble == n);
   assert_true (cJSON_GetObjectItemCaseSensitive (j, "failed")->valuedouble == 0);
   assert_string_equal (cJSON_GetObjectItemCaseSensitive (cJSON_GetObjectItemCaseSensitive (j, "topic"), "ece_over")->valuestring,
                        "every_tag");
   cJSON_Delete (j);

   char args[512], out[1 << 15];
   snprintf (args, sizeof args, "eval --model %s/st-cal.bin %s/held.ndjson", dir, dir);
   assert_int_equal (run (args, out, sizeof out), 0);
   assert_non_null (strstr (out, "mode static"));
   assert_non_null (strstr (out, "ECE 95% interval"));
   assert_non_null (strstr (out, "confusion (rows: true label, columns: predicted)"));
   assert_null (strstr (out, "(no answer)"));
   assert_non_null (strstr (out, "topic ECE over every (ticket, tag) pair"));
   assert_int_equal (run ("eval", out, sizeof out), 2);
   assert_int_equal (run ("eval --provider openai --model x.bin /dev/null", out, sizeof out), 2);
   assert_int_equal (run ("eval --provider bogus /dev/null", out, sizeof out), 2);
   assert_int_equal (run ("eval --concurrency 0 --provider openai /dev/null", out, sizeof out), 2);
   snprintf (args, sizeof args, "eval --provider openai --llm-url ftp://x %s/held.ndjson", dir);
   assert_int_equal (run (args, out, sizeof out), 2);
   assert_non_null (strstr (out, "TRIAGE_LLM_URL must start with http:// or https://"));
   assert_int_equal (run ("eval --model /nonexistent.bin /dev/null", out, sizeof out), 1);
   assert_int_equal (run ("train --mode bogus", out, sizeof out), 2);
   assert_int_equal (run ("train --calibration a --calibration-fraction 0.2", out, sizeof out), 2);
}

/* The count after "label: " in out (first occurrence), or -1. */
static long
count_after (const char *out, const char *label)
{
   const char *at = strstr (out, label);
   return at ? strtol (at + strlen (label), NULL, 10) : -1;
}

/* --keep-above splits the tickets by their confidences: the two parts add up
 * to the whole, 0 keeps every ticket, 1 keeps none (no probability is above
 * 1 with a tie-free calibrated model), and a malformed threshold is a usage
 * error. */
static void
test_keep_above_splits (void **state)
{
   (void) state;
   char args[512];
   static char out[1 << 16];
   snprintf (args, sizeof args, "eval --model %s/st-cal.bin --keep-above 0.6 %s/held.ndjson", dir, dir);
   assert_int_equal (run (args, out, sizeof out), 0);
   long kept = count_after (out, "every confidence at or above 0.6: ");
   long total = count_after (out, "model local-static-");
   const char *of = strstr (out, "every confidence at or above 0.6: ");
   assert_non_null (of);
   long n = strtol (strstr (of, " of ") + 4, NULL, 10);
   long rest = count_after (out, "the others (a confidence below, or no answer): ");
   (void) total;
   assert_true (kept > 0 && rest > 0);
   assert_int_equal (kept + rest, n);
   snprintf (args, sizeof args, "eval --model %s/st-cal.bin --keep-above 0 %s/held.ndjson", dir, dir);
   assert_int_equal (run (args, out, sizeof out), 0);
   assert_int_equal (count_after (out, "the others (a confidence below, or no answer): "), 0);
   snprintf (args, sizeof args, "eval --model %s/st-cal.bin --keep-above topic=2 %s/held.ndjson", dir,
             dir);
   assert_int_equal (run (args, out, sizeof out), 2);
   assert_non_null (strstr (out, "--keep-above"));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_calibration_lowers_ece),
      cmocka_unit_test (test_report_forms),
      cmocka_unit_test (test_keep_above_splits),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
