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
 *
 * --mode picks the model (model.h): nb, static or encoder; the last two need
 * the encoder's weights (--encoder, default TRIAGE_ENCODER_PATH or the folder
 * beside the binary's share/triage/model.bin) and keep what is slow to redo
 * (the distilled table, the encoder's vectors of a corpus) under --cache.
 * The temperatures are fitted on --calibration FILE, or on
 * --calibration-fraction of the training part (a second hash split, seed + 1)
 * until a calibration set is written; with neither they stay 1.
 */
#include "cli.h"

#include "config.h"
#include "labelled.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define DEFAULT_CORPUS "services/classifier/corpus/train.ndjson"
#define DEFAULT_OUT "model.bin"

static void
usage (FILE *out)
{
   fprintf (out,
            "usage: triagectl train [--mode M] [--corpus FILE] [--out FILE] [--holdout F] [--seed N]\n"
            "                       [--calibration FILE | --calibration-fraction F] [tuning]\n"
            "\n"
            "  --mode M       nb (naive Bayes over hashed words), static (heads over the\n"
            "                 static table distilled from the encoder) or encoder (heads\n"
            "                 over the full sentence encoder) (default nb)\n"
            "  --corpus FILE  labelled NDJSON, JSON array or CSV (default %s)\n"
            "  --out FILE     where to write the model (default %s)\n"
            "  --calibration FILE\n"
            "                 labelled tickets the temperatures are fitted on (never\n"
            "                 trained on)\n"
            "  --calibration-fraction F\n"
            "                 without --calibration: keep this fraction of the training\n"
            "                 part for the temperatures instead (default 0: none)\n"
            "  --encoder DIR  the encoder's weights (default TRIAGE_ENCODER_PATH, else\n"
            "                 <exe dir>/../share/triage/all-MiniLM-L6-v2)\n"
            "  --cache DIR    keeps the distilled table and the corpus's vectors between\n"
            "                 runs, keyed by the weights and the texts (default none)\n"
            "  --threads N    threads that encode the corpus (default: the CPUs)\n"
            "  --with-nb-features\n"
            "                 static, encoder: the heads also see naive Bayes's logits\n"
            "                 (hashed words and pairs), cross-fitted\n"
            "  --with-lexical-features\n"
            "                 static, encoder: the heads also see the lexical model's\n"
            "                 logits (TF-IDF character 2..5-grams), cross-fitted\n"
            "  --lexical-lambda L\n"
            "                 the lexical model's L2 strength (default 1e-4)\n"
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

/* Everything the command line says. */
typedef struct {
   const char *corpus, *out, *calibration, *encoder, *cache;
   double holdout, calibration_fraction;
   unsigned seed;
   tk_model_train_options_t options;
   bool with_corrections;
   unsigned long weight;
   const char *mongo_uri, *mongo_db, *taxonomy;
} train_args_t;

static bool
parse_fraction (const char *s, double *out)
{
   char *end;
   *out = strtod (s, &end);
   return !*end && end != s && *out >= 0 && *out < 1;
}

/* Fills a from argv; returns 0, or the exit status (help, bad usage). */
static int
parse_args (int argc, char **argv, train_args_t *a)
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
      {"mode", required_argument, NULL, 'm'},
      {"calibration", required_argument, NULL, 'k'},
      {"calibration-fraction", required_argument, NULL, 'K'},
      {"encoder", required_argument, NULL, 'E'},
      {"cache", required_argument, NULL, 'X'},
      {"threads", required_argument, NULL, 'j'},
      {"with-nb-features", no_argument, NULL, 'N'},
      {"with-lexical-features", no_argument, NULL, 'L'},
      {"lexical-lambda", required_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
   };
   const char *bad = NULL;
   char *end;
   int c;
   while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1 && !bad) {
      switch (c) {
      case 'c': a->corpus = optarg; break;
      case 'o': a->out = optarg; break;
      case 'k': a->calibration = optarg; break;
      case 'E': a->encoder = optarg; break;
      case 'X': a->cache = optarg; break;
      case 'U': a->mongo_uri = optarg; break;
      case 'D': a->mongo_db = optarg; break;
      case 'T': a->taxonomy = optarg; break;
      case 'C': a->with_corrections = true; break;
      case 'N': a->options.nb_features = true; break;
      case 'L': a->options.lexical_features = true; break;
      case 'l':
         a->options.lexical_lambda = strtod (optarg, &end);
         bad = *end || end == optarg || !(a->options.lexical_lambda > 0)
                  ? "--lexical-lambda must be a positive number"
                  : NULL;
         break;
      case 'H':
         bad = parse_fraction (optarg, &a->holdout) ? NULL : "--holdout must be in [0, 1)";
         break;
      case 'K':
         bad = parse_fraction (optarg, &a->calibration_fraction)
                  ? NULL
                  : "--calibration-fraction must be in [0, 1)";
         break;
      case 'm':
         bad = tk_model_mode_parse (optarg, &a->options.mode) ? NULL
                                                             : "--mode must be nb, static or encoder";
         break;
      case 's':
         a->seed = (unsigned) strtoul (optarg, &end, 10);
         bad = *end || end == optarg ? "--seed must be a number" : NULL;
         break;
      case 'j':
         a->options.threads = (unsigned) strtoul (optarg, &end, 10);
         bad = *end || end == optarg || a->options.threads == 0 || a->options.threads > 16
                  ? "--threads must be in 1..16"
                  : NULL;
         break;
      case 'a':
         a->options.alpha = strtod (optarg, &end);
         bad = *end || end == optarg || !(a->options.alpha > 0) ? "--alpha must be a positive number" : NULL;
         break;
      case 't':
         a->options.topic_threshold = strtod (optarg, &end);
         bad = *end || end == optarg || !(a->options.topic_threshold > 0 && a->options.topic_threshold < 1)
                  ? "--topic-threshold must be in (0, 1)"
                  : NULL;
         break;
      case 'e':
         a->options.evidence = strtoul (optarg, &end, 10);
         bad = *end || end == optarg || a->options.evidence == 0 ? "--evidence must be a positive number" : NULL;
         break;
      case 'w':
         a->weight = strtoul (optarg, &end, 10);
         bad = *end || end == optarg || a->weight == 0 || a->weight > 1000
                  ? "--correction-weight must be in 1..1000"
                  : NULL;
         break;
      case 'h':
         usage (stdout);
         return 0;
      default:
         usage (stderr);
         return 2;
      }
   }
   if (bad) {
      fprintf (stderr, "triagectl train: %s\n", bad);
      return 2;
   }
   if (optind != argc) {
      usage (stderr);
      return 2;
   }
   if (!a->with_corrections && (a->mongo_uri || a->mongo_db || a->taxonomy || a->weight != 1)) {
      fprintf (stderr, "triagectl train: --mongo-uri, --mongo-db, --taxonomy and "
                       "--correction-weight need --with-corrections\n");
      return 2;
   }
   if (a->calibration && a->calibration_fraction > 0) {
      fprintf (stderr, "triagectl train: --calibration and --calibration-fraction exclude each other\n");
      return 2;
   }
   return -1;
}

/* The encoder's folder: --encoder, TRIAGE_ENCODER_PATH, or beside the
 * binary's share/triage. */
static void
default_encoder_dir (const train_args_t *a, char *out, size_t cap)
{
   const char *env = getenv ("TRIAGE_ENCODER_PATH");
   char exe[PATH_MAX];
   size_t n = sizeof exe;
   if (a->encoder) {
      snprintf (out, cap, "%s", a->encoder);
   } else if (env && *env) {
      snprintf (out, cap, "%s", env);
   } else if (uv_exepath (exe, &n) == 0) {
      char *slash = strrchr (exe, '/');
      if (slash) {
         *slash = '\0';
      }
      snprintf (out, cap, "%s/../share/triage/%s", exe, TK_MODEL_ENCODER_DIRNAME);
   } else {
      snprintf (out, cap, "share/triage/%s", TK_MODEL_ENCODER_DIRNAME);
   }
}

/* Reads the corrections of the database (--with-corrections). Returns the
 * exit status on failure, -1 on success. */
static int
load_corrections (const train_args_t *a, char **argv, tk_config_t *cfg, tk_taxonomy_t **tax,
                  cli_corrections_t **corrections)
{
   tk_error_t err = {0};
   /* The settings come from the environment (argv holds train's own flags),
    * then from train's flags. */
   char *no_args[] = {argv[0], NULL};
   if (!tk_config_load (cfg, TK_SVC_CLI, 1, no_args, NULL, &err) ||
       (a->mongo_uri && !tk_config_set (cfg, "TRIAGE_MONGO_URI", a->mongo_uri, &err)) ||
       (a->mongo_db && !tk_config_set (cfg, "TRIAGE_MONGO_DB", a->mongo_db, &err)) ||
       (a->taxonomy && !tk_config_set (cfg, "TRIAGE_TAXONOMY", a->taxonomy, &err))) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      return 2;
   }
   *tax = cfg->taxonomy && *cfg->taxonomy ? tk_taxonomy_load_file (cfg->taxonomy, &err)
                                          : tk_taxonomy_default ();
   if (!*tax) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      return 2;
   }
   if (!(*corrections = cli_corrections_load (cfg->mongo_uri, cfg->mongo_db, *tax, &err))) {
      fprintf (stderr,
               "triagectl train: cannot read the corrections (database %s): %s\n"
               "triagectl train: no model written\n",
               cfg->mongo_db && *cfg->mongo_db ? cfg->mongo_db : "of TRIAGE_MONGO_URI", err.message);
      return 1;
   }
   return -1;
}

/* The three parts of the corpus plus corrections. */
typedef struct {
   tk_model_example_t *train, *test, *calib;
   size_t n_train, n_test, n_calib, n_replaced;
} split_t;

static bool
split_corpus (const train_args_t *a, const tk_model_example_t *ex, size_t n,
              const tk_model_example_t *corr, size_t n_corr, split_t *s)
{
   s->train = calloc (n + n_corr * a->weight + 1, sizeof *s->train);
   s->test = calloc (n + 1, sizeof *s->test);
   s->calib = calloc (n + 1, sizeof *s->calib);
   if (!s->train || !s->test || !s->calib) {
      return false;
   }
   for (size_t i = 0; i < n; i++) {
      if (n_corr && bsearch (&ex[i], corr, n_corr, sizeof *corr, example_id_cmp)) {
         s->n_replaced++;
      } else if (tk_model_is_holdout (ex[i].id, a->seed, a->holdout)) {
         s->test[s->n_test++] = ex[i];
      } else if (tk_model_is_holdout (ex[i].id, a->seed + 1, a->calibration_fraction)) {
         s->calib[s->n_calib++] = ex[i];
      } else {
         s->train[s->n_train++] = ex[i];
      }
   }
   for (size_t i = 0; i < n_corr; i++) {
      for (unsigned long k = 0; k < a->weight; k++) {
         s->train[s->n_train++] = corr[i];
      }
   }
   return true;
}

static void
print_result (const train_args_t *a, const tk_model_t *model, const split_t *s, size_t n,
              size_t n_corr, const char *calib_from)
{
   printf ("trained %s (mode %s) on %zu of %zu tickets from %s\nwrote %s\n",
           tk_model_version (model), tk_model_mode_name (tk_model_mode (model)),
           s->n_train - n_corr * a->weight, n, a->corpus, a->out);
   if (tk_model_mode (model) != TK_MODEL_NB) {
      printf ("L2 lambda by cross-validation (sentiment, priority, topic) %g %g %g\n",
              tk_model_lambda (model, TK_MODEL_SENTIMENT), tk_model_lambda (model, TK_MODEL_PRIORITY),
              tk_model_lambda (model, TK_MODEL_TOPIC));
   }
   if (calib_from) {
      printf ("temperatures (sentiment, priority, topic) %.3f %.3f %.3f from %s\n",
              tk_model_temperature (model, TK_MODEL_SENTIMENT),
              tk_model_temperature (model, TK_MODEL_PRIORITY),
              tk_model_temperature (model, TK_MODEL_TOPIC), calib_from);
   }
}

int
cli_cmd_train (int argc, char **argv)
{
   train_args_t a = {.corpus = DEFAULT_CORPUS, .out = DEFAULT_OUT, .holdout = 0.2, .seed = 1,
                     .weight = 1};
   int rc = parse_args (argc, argv, &a);
   tk_error_t err = {0};
   tk_labelled_set_t *set = NULL, *calib_set = NULL;
   tk_model_t *model = NULL;
   cli_metrics_t *metrics = NULL;
   tk_config_t cfg = {0};
   tk_taxonomy_t *tax = NULL;
   cli_corrections_t *corrections = NULL;
   const tk_model_example_t *corr = NULL;
   split_t s = {0};
   size_t n_corr = 0, n = 0;
   char encoder_dir[PATH_MAX + 64], calib_from[PATH_MAX + 64] = "";
   if (rc >= 0) {
      return rc;
   }
   rc = 1;
   if (!(set = tk_labelled_load (a.corpus, &err)) ||
       (a.calibration && !(calib_set = tk_labelled_load (a.calibration, &err)))) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      goto done;
   }
   if (a.with_corrections) {
      int crc = load_corrections (&a, argv, &cfg, &tax, &corrections);
      if (crc >= 0) {
         rc = crc;
         goto done;
      }
      corr = cli_corrections_examples (corrections, &n_corr);
   }
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   if (!split_corpus (&a, ex, n, corr, n_corr, &s)) {
      fprintf (stderr, "triagectl train: out of memory\n");
      goto done;
   }
   default_encoder_dir (&a, encoder_dir, sizeof encoder_dir);
   a.options.encoder_dir = encoder_dir;
   a.options.cache_dir = a.cache;
   a.options.threads = a.options.threads ? a.options.threads : (unsigned) sysconf (_SC_NPROCESSORS_ONLN);
   if (calib_set) {
      a.options.calibration = tk_labelled_examples (calib_set, &a.options.n_calibration);
      snprintf (calib_from, sizeof calib_from, "%s (%zu tickets)", a.calibration, a.options.n_calibration);
   } else if (s.n_calib) {
      a.options.calibration = s.calib;
      a.options.n_calibration = s.n_calib;
      snprintf (calib_from, sizeof calib_from, "%zu tickets of the corpus kept out of training", s.n_calib);
   }
   if (!(model = tk_model_train (s.train, s.n_train, &a.options, &err)) ||
       !tk_model_save (model, a.out, &err)) {
      fprintf (stderr, "triagectl train: %s\n", err.message);
      if (a.options.mode != TK_MODEL_NB && err.domain == TK_ERR_IO) {
         fprintf (stderr, "triagectl train: the %s mode needs the encoder's weights in %s "
                          "(deploy/local/bootstrap fetches them; or give --encoder DIR)\n",
                  tk_model_mode_name (a.options.mode), encoder_dir);
      }
      goto done;
   }
   if (a.with_corrections) {
      printf ("folded in %zu corrections from database %s (%zu replaced corpus tickets; "
              "weight %lu each)\n",
              n_corr, cfg.mongo_db && *cfg.mongo_db ? cfg.mongo_db : "of TRIAGE_MONGO_URI",
              s.n_replaced, a.weight);
   }
   print_result (&a, model, &s, n, n_corr, *calib_from ? calib_from : NULL);
   if (s.n_test) {
      if (!(metrics = cli_metrics_compute (model, s.test, s.n_test))) {
         fprintf (stderr, "triagectl train: out of memory\n");
         goto done;
      }
      cli_metrics_print_summary (metrics, stdout);
   }
   rc = 0;
done:
   cli_metrics_destroy (metrics);
   tk_model_destroy (model);
   free (s.train);
   free (s.test);
   free (s.calib);
   tk_labelled_destroy (set);
   tk_labelled_destroy (calib_set);
   cli_corrections_destroy (corrections);
   tk_taxonomy_destroy (tax);
   tk_config_destroy (&cfg);
   return rc;
}
