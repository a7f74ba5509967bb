/* cmd_train.c - `triagectl train`: trains the local model from a labelled
 * corpus, keeping a deterministic held-out part to report honest figures. */
#include "cli.h"

#include "labelled.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CORPUS "services/classifier/corpus/labelled.ndjson"
#define DEFAULT_OUT "model.bin"

static void
usage (FILE *out)
{
   fprintf (out,
            "usage: triagectl train [--corpus FILE] [--out FILE] [--holdout F] [--seed N] [tuning]\n"
            "\n"
            "  --corpus FILE  labelled NDJSON, JSON array or CSV (default %s)\n"
            "  --out FILE     where to write the model (default %s)\n"
            "  --holdout F    fraction of tickets kept out of training and used to\n"
            "                 report accuracy, chosen by a hash of seed and id;\n"
            "                 0 trains on everything (default 0.2)\n"
            "  --seed N       seed of the split (default 1)\n"
            "  --alpha A      Laplace smoothing (default 0.1)\n"
            "  --topic-threshold P\n"
            "                 probability from which a topic tag is chosen\n"
            "                 (default 0.5; the best tag is always chosen)\n"
            "  --evidence N   a ticket counts as at most N features' worth of\n"
            "                 evidence, which keeps probabilities honest (default 5)\n",
            DEFAULT_CORPUS, DEFAULT_OUT);
}

int
cli_cmd_train (int argc, char **argv)
{
   static const struct option opts[] = {
      {"corpus", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
      {"holdout", required_argument, NULL, 'H'}, {"seed", required_argument, NULL, 's'},
      {"alpha", required_argument, NULL, 'a'},  {"topic-threshold", required_argument, NULL, 't'},
      {"evidence", required_argument, NULL, 'e'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
   };
   const char *corpus = DEFAULT_CORPUS, *out = DEFAULT_OUT;
   double holdout = 0.2;
   unsigned seed = 1;
   tk_model_train_options_t options = {0};
   int rc = 1, c;
   char *end;
   tk_error_t err = {0};
   tk_labelled_set_t *set = NULL;
   tk_model_example_t *train = NULL, *test = NULL;
   tk_model_t *model = NULL;
   cli_metrics_t *metrics = NULL;

   while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
      switch (c) {
      case 'c':
         corpus = optarg;
         break;
      case 'o':
         out = optarg;
         break;
      case 'H':
         holdout = strtod (optarg, &end);
         if (*end || end == optarg || !(holdout >= 0 && holdout < 1)) {
            fprintf (stderr, "triagectl train: --holdout must be in [0, 1)\n");
            return 2;
         }
         break;
      case 's':
         seed = (unsigned) strtoul (optarg, &end, 10);
         if (*end || end == optarg) {
            fprintf (stderr, "triagectl train: --seed must be a number\n");
            return 2;
         }
         break;
      case 'a':
         options.alpha = strtod (optarg, &end);
         if (*end || end == optarg || !(options.alpha > 0)) {
            fprintf (stderr, "triagectl train: --alpha must be a positive number\n");
            return 2;
         }
         break;
      case 't':
         options.topic_threshold = strtod (optarg, &end);
         if (*end || end == optarg || !(options.topic_threshold > 0 && options.topic_threshold < 1)) {
            fprintf (stderr, "triagectl train: --topic-threshold must be in (0, 1)\n");
            return 2;
         }
         break;
      case 'e':
         options.evidence = strtoul (optarg, &end, 10);
         if (*end || end == optarg || options.evidence == 0) {
            fprintf (stderr, "triagectl train: --evidence must be a positive number\n");
            return 2;
         }
         break;
      case 'h':
         usage (stdout);
         return 0;
      default:
         usage (stderr);
         return 2;
      }
   }
   if (optind != argc) {
      usage (stderr);
      return 2;
   }

   if (!(set = tk_labelled_load (corpus, &err))) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      goto done;
   }
   size_t n, n_train = 0, n_test = 0;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   train = calloc (n, sizeof *train);
   test = calloc (n, sizeof *test);
   if (!train || !test) {
      fprintf (stderr, "triagectl train: out of memory\n");
      goto done;
   }
   for (size_t i = 0; i < n; i++) {
      if (tk_model_is_holdout (ex[i].id, seed, holdout)) {
         test[n_test++] = ex[i];
      } else {
         train[n_train++] = ex[i];
      }
   }
   if (!(model = tk_model_train (train, n_train, &options, &err))) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      goto done;
   }
   if (!tk_model_save (model, out, &err)) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      goto done;
   }
   printf ("trained %s on %zu of %zu tickets from %s\nwrote %s\n", tk_model_version (model),
           n_train, n, corpus, out);
   if (n_test) {
      if (!(metrics = cli_metrics_compute (model, test, n_test))) {
         fprintf (stderr, "triagectl train: out of memory\n");
         goto done;
      }
      cli_metrics_print_summary (metrics, stdout);
   }
   rc = 0;
done:
   cli_metrics_destroy (metrics);
   tk_model_destroy (model);
   free (train);
   free (test);
   tk_labelled_destroy (set);
   return rc;
}
