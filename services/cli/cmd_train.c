/* cmd_train.c - `triagectl train`: trains the local model from a labelled
 * corpus, keeping a deterministic held-out part to report honest figures.
 *
 * With --with-corrections it also reads every ticket corrected by hand (the
 * api's PUT /api/processed-tickets/{id}; see corrections.c) from the
 * database of TRIAGE_MONGO_URI / TRIAGE_MONGO_DB (or --mongo-uri/--mongo-db)
 * and trains on them too:
 *  - a correction replaces the corpus ticket with the same id, wherever the
 *    split had put it (the person's labels win, and a corrected ticket is
 *    never held out: it is the team's own data, not a test of the corpus);
 *  - each correction counts as --correction-weight tickets (default 1, the
 *    weight of one corpus ticket): it is added that many times, multiplying
 *    its word counts and its share of the priors;
 *  - the corrections come after the corpus in the training data, in id
 *    order, so the model_version (a hash of the training data) changes with
 *    them and is the same for the same corrections.
 * If the database cannot be read nothing is written and the exit status is 1.
 */
#include "cli.h"

#include "config.h"
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
            "                 evidence, which keeps probabilities honest (default 5)\n"
            "  --with-corrections\n"
            "                 also train on every classification corrected by hand in\n"
            "                 the database (TRIAGE_MONGO_URI, TRIAGE_MONGO_DB); a\n"
            "                 correction replaces the corpus ticket of the same id and\n"
            "                 is never held out\n"
            "  --correction-weight N\n"
            "                 each correction counts as N tickets (default 1)\n"
            "  --mongo-uri URI, --mongo-db DB, --taxonomy FILE\n"
            "                 override TRIAGE_MONGO_URI, TRIAGE_MONGO_DB and\n"
            "                 TRIAGE_TAXONOMY (corrected labels must be in the taxonomy)\n",
            DEFAULT_CORPUS, DEFAULT_OUT);
}

static int
example_id_cmp (const void *a, const void *b)
{
   return strcmp (((const tk_model_example_t *) a)->id, ((const tk_model_example_t *) b)->id);
}

int
cli_cmd_train (int argc, char **argv)
{
   static const struct option opts[] = {
      {"corpus", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
      {"holdout", required_argument, NULL, 'H'}, {"seed", required_argument, NULL, 's'},
      {"alpha", required_argument, NULL, 'a'},  {"topic-threshold", required_argument, NULL, 't'},
      {"evidence", required_argument, NULL, 'e'},
      {"with-corrections", no_argument, NULL, 'C'},
      {"correction-weight", required_argument, NULL, 'w'},
      {"mongo-uri", required_argument, NULL, 'U'},
      {"mongo-db", required_argument, NULL, 'D'},
      {"taxonomy", required_argument, NULL, 'T'},
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
   bool with_corrections = false;
   unsigned long weight = 1;
   const char *mongo_uri = NULL, *mongo_db = NULL, *taxonomy = NULL;
   tk_config_t cfg = {0};
   tk_taxonomy_t *tax = NULL;
   cli_corrections_t *corrections = NULL;
   const tk_model_example_t *corr = NULL;
   size_t n_corr = 0, n_replaced = 0;

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
      case 'C':
         with_corrections = true;
         break;
      case 'w':
         weight = strtoul (optarg, &end, 10);
         if (*end || end == optarg || weight == 0 || weight > 1000) {
            fprintf (stderr, "triagectl train: --correction-weight must be in 1..1000\n");
            return 2;
         }
         break;
      case 'U':
         mongo_uri = optarg;
         break;
      case 'D':
         mongo_db = optarg;
         break;
      case 'T':
         taxonomy = optarg;
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
   if (!with_corrections && (mongo_uri || mongo_db || taxonomy || weight != 1)) {
      fprintf (stderr, "triagectl train: --mongo-uri, --mongo-db, --taxonomy and "
                       "--correction-weight need --with-corrections\n");
      return 2;
   }

   if (!(set = tk_labelled_load (corpus, &err))) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      goto done;
   }
   if (with_corrections) {
      /* The settings come from the environment (argv holds train's own
       * flags), then from train's flags. */
      char *no_args[] = {argv[0], NULL};
      if (!tk_config_load (&cfg, TK_SVC_CLI, 1, no_args, NULL, &err) ||
          (mongo_uri && !tk_config_set (&cfg, "TRIAGE_MONGO_URI", mongo_uri, &err)) ||
          (mongo_db && !tk_config_set (&cfg, "TRIAGE_MONGO_DB", mongo_db, &err)) ||
          (taxonomy && !tk_config_set (&cfg, "TRIAGE_TAXONOMY", taxonomy, &err))) {
         fprintf (stderr, "triagectl train: %s\n", err.message);
         rc = 2;
         goto done;
      }
      tax = cfg.taxonomy && *cfg.taxonomy ? tk_taxonomy_load_file (cfg.taxonomy, &err)
                                          : tk_taxonomy_default ();
      if (!tax) {
         fprintf (stderr, "triagectl train: %s\n", err.message);
         rc = 2;
         goto done;
      }
      if (!(corrections = cli_corrections_load (cfg.mongo_uri, cfg.mongo_db, tax, &err))) {
         fprintf (stderr,
                  "triagectl train: cannot read the corrections (database %s): %s\n"
                  "triagectl train: no model written\n",
                  cfg.mongo_db && *cfg.mongo_db ? cfg.mongo_db : "of TRIAGE_MONGO_URI",
                  err.message);
         goto done;
      }
      corr = cli_corrections_examples (corrections, &n_corr);
   }
   size_t n, n_train = 0, n_test = 0;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   train = calloc (n + n_corr * weight + 1, sizeof *train);
   test = calloc (n ? n : 1, sizeof *test);
   if (!train || !test) {
      fprintf (stderr, "triagectl train: out of memory\n");
      goto done;
   }
   for (size_t i = 0; i < n; i++) {
      if (n_corr && bsearch (&ex[i], corr, n_corr, sizeof *corr, example_id_cmp)) {
         n_replaced++;
      } else if (tk_model_is_holdout (ex[i].id, seed, holdout)) {
         test[n_test++] = ex[i];
      } else {
         train[n_train++] = ex[i];
      }
   }
   for (size_t i = 0; i < n_corr; i++) {
      for (unsigned long k = 0; k < weight; k++) {
         train[n_train++] = corr[i];
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
   if (with_corrections) {
      printf ("folded in %zu corrections from database %s (%zu replaced corpus tickets; "
              "weight %lu each)\n",
              n_corr, cfg.mongo_db && *cfg.mongo_db ? cfg.mongo_db : "of TRIAGE_MONGO_URI",
              n_replaced, weight);
   }
   printf ("trained %s on %zu of %zu tickets from %s\nwrote %s\n", tk_model_version (model),
           n_train - n_corr * weight, n, corpus, out);
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
   cli_corrections_destroy (corrections);
   tk_taxonomy_destroy (tax);
   tk_config_destroy (&cfg);
   return rc;
}
