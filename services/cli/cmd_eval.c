/* cmd_eval.c - `triagectl eval`: scores a local model file (any mode)
 * against a labelled file and prints per-field accuracy, macro-F1 (micro-F1
 * for tags), confusion matrices and the expected calibration error with its
 * bootstrap interval, as text or (--json) as one JSON object. */
#include "cli.h"

#include "labelled.h"

#include <getopt.h>
#include <stdlib.h>

static void
usage (FILE *out)
{
   fprintf (out,
            "usage: triagectl eval --model FILE [--encoder DIR] [--json] LABELLED_FILE\n"
            "\n"
            "  --model FILE    a model written by `triagectl train` (nb, static or encoder)\n"
            "  --encoder DIR   the encoder's weights for an encoder-mode model (default\n"
            "                  TRIAGE_ENCODER_PATH, else all-MiniLM-L6-v2 beside the model)\n"
            "  --json          the report as one JSON object\n"
            "  LABELLED_FILE   NDJSON, JSON array, or CSV (.csv) with columns\n"
            "                  id,subject,body,topic_tags,sentiment,priority\n"
            "                  (topic_tags separated by ';')\n");
}

int
cli_cmd_eval (int argc, char **argv)
{
   static const struct option opts[] = {
      {"model", required_argument, NULL, 'm'},
      {"encoder", required_argument, NULL, 'E'},
      {"json", no_argument, NULL, 'j'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
   };
   const char *model_path = NULL, *encoder = getenv ("TRIAGE_ENCODER_PATH");
   bool json = false;
   int rc = 1, c;
   tk_error_t err = {0};
   tk_labelled_set_t *set = NULL;
   tk_model_t *model = NULL;
   cli_metrics_t *metrics = NULL;

   while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
      switch (c) {
      case 'm':
         model_path = optarg;
         break;
      case 'E':
         encoder = optarg;
         break;
      case 'j':
         json = true;
         break;
      case 'h':
         usage (stdout);
         return 0;
      default:
         usage (stderr);
         return 2;
      }
   }
   if (!model_path || optind != argc - 1) {
      usage (stderr);
      return 2;
   }
   if (!(model = tk_model_load_with (model_path, encoder, &err))) {
      fprintf (stderr, "triagectl eval: %s\n", err.message);
      goto done;
   }
   if (!(set = tk_labelled_load (argv[optind], &err))) {
      fprintf (stderr, "triagectl eval: %s\n", err.message);
      goto done;
   }
   size_t n;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   if (!(metrics = cli_metrics_compute (model, ex, n))) {
      fprintf (stderr, "triagectl eval: out of memory\n");
      goto done;
   }
   if (json ? !cli_metrics_print_json (metrics, stdout) : (cli_metrics_print_report (metrics, stdout), false)) {
      fprintf (stderr, "triagectl eval: out of memory\n");
      goto done;
   }
   rc = 0;
done:
   cli_metrics_destroy (metrics);
   tk_labelled_destroy (set);
   tk_model_destroy (model);
   return rc;
}
