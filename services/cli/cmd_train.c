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
#include "cli_options.h"

#include "config.h"
#include "labelled.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define DEFAULT_CORPUS "services/classifier/corpus/train.ndjson"
#define DEFAULT_OUT "model.bin"

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
parse_mode (const char *arg, void *dest, char *why, size_t cap)
{
   return tk_model_mode_parse (arg, dest);
}

/* train's options (cli_options.h): a row per option, in the order --help
 * lists them. */
static const cli_option_t train_options[] = {
   {.name = "mode", .arg = "M", .kind = CLI_OPT_CUSTOM, CLI_FIELD (train_args_t, options.mode),
    .parse = parse_mode, .must = "nb, static or encoder", .def = "nb",
    .help = "nb (naive Bayes over hashed words), static (heads over the\n"
            "static table distilled from the encoder) or encoder (heads\n"
            "over the full sentence encoder)"},
   {.name = "corpus", .arg = "FILE", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, corpus),
    .help = "labelled NDJSON, JSON array or CSV", .def = DEFAULT_CORPUS},
   {.name = "out", .arg = "FILE", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, out),
    .help = "where to write the model", .def = DEFAULT_OUT},
   {.name = "calibration", .arg = "FILE", .kind = CLI_OPT_STRING,
    CLI_FIELD (train_args_t, calibration),
    .help = "labelled tickets the temperatures are fitted on (never\ntrained on)"},
   {.name = "calibration-fraction", .arg = "F", .kind = CLI_OPT_DOUBLE,
    CLI_FIELD (train_args_t, calibration_fraction), .min = 0, .max = 1,
    .bounds = CLI_OPT_MIN | CLI_OPT_MAX_OPEN,
    .help = "without --calibration: keep this fraction of the training\n"
            "part for the temperatures instead", .def = "0: none"},
   {.name = "encoder", .arg = "DIR", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, encoder),
    .help = "the encoder's weights", .env = "TRIAGE_ENCODER_PATH",
    .def = "<exe dir>/../share/triage/" TK_MODEL_ENCODER_DIRNAME},
   {.name = "cache", .arg = "DIR", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, cache),
    .help = "keeps the distilled table and the corpus's vectors between\n"
            "runs, keyed by the weights and the texts", .def = "none"},
   {.name = "threads", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (train_args_t, options.threads),
    .min = 1, .max = 16, .help = "threads that encode the corpus", .def = "the CPUs"},
   {.name = "with-nb-features", .kind = CLI_OPT_FLAG, CLI_FIELD (train_args_t, options.nb_features),
    .help = "static, encoder: the heads also see naive Bayes's logits\n"
            "(hashed words and pairs), cross-fitted"},
   {.name = "with-lexical-features", .kind = CLI_OPT_FLAG,
    CLI_FIELD (train_args_t, options.lexical_features),
    .help = "static, encoder: the heads also see the lexical model's\n"
            "logits (TF-IDF character 2..5-grams), cross-fitted"},
   {.name = "lexical-lambda", .arg = "L", .kind = CLI_OPT_DOUBLE,
    CLI_FIELD (train_args_t, options.lexical_lambda), .min = 0, .bounds = CLI_OPT_MIN_OPEN,
    .help = "the lexical model's L2 strength", .def = "1e-4"},
   {.name = "holdout", .arg = "F", .kind = CLI_OPT_DOUBLE, CLI_FIELD (train_args_t, holdout),
    .min = 0, .max = 1, .bounds = CLI_OPT_MIN | CLI_OPT_MAX_OPEN,
    .help = "fraction of tickets kept out of training and used to\n"
            "report accuracy, chosen by a hash of seed and id;\n"
            "0 trains on everything", .def = "0.2"},
   {.name = "seed", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (train_args_t, seed),
    .help = "seed of the split", .def = "1"},
   {.name = "alpha", .arg = "A", .kind = CLI_OPT_DOUBLE, CLI_FIELD (train_args_t, options.alpha),
    .min = 0, .bounds = CLI_OPT_MIN_OPEN, .help = "Laplace smoothing", .def = "0.1"},
   {.name = "topic-threshold", .arg = "P", .kind = CLI_OPT_DOUBLE,
    CLI_FIELD (train_args_t, options.topic_threshold), .min = 0, .max = 1,
    .bounds = CLI_OPT_MIN_OPEN | CLI_OPT_MAX_OPEN,
    .help = "probability from which a topic tag is chosen\n(the best tag is always chosen)",
    .def = "0.5"},
   {.name = "evidence", .arg = "N", .kind = CLI_OPT_UINT,
    CLI_FIELD (train_args_t, options.evidence), .min = 1,
    .help = "a ticket counts as at most N features' worth of\n"
            "evidence, which keeps probabilities honest", .def = "5"},
   {.name = "with-corrections", .kind = CLI_OPT_FLAG, CLI_FIELD (train_args_t, with_corrections),
    .help = "also train on every classification corrected by hand in\n"
            "the database (TRIAGE_MONGO_URI, TRIAGE_MONGO_DB); a\n"
            "correction replaces the corpus ticket of the same id and\n"
            "is never held out"},
   {.name = "correction-weight", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (train_args_t, weight),
    .min = 1, .max = 1000, .help = "each correction counts as N tickets", .def = "1"},
   {.name = "mongo-uri", .arg = "URI", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, mongo_uri),
    .help = "with --with-corrections: the database", .env = "TRIAGE_MONGO_URI"},
   {.name = "mongo-db", .arg = "DB", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, mongo_db),
    .help = "with --with-corrections: its name", .env = "TRIAGE_MONGO_DB"},
   {.name = "taxonomy", .arg = "FILE", .kind = CLI_OPT_STRING, CLI_FIELD (train_args_t, taxonomy),
    .help = "with --with-corrections: corrected labels must be in it", .env = "TRIAGE_TAXONOMY"},
   {0},
};

static const cli_command_t train_command = {
   .cmd = "train",
   .synopsis = "[--mode M] [--corpus FILE] [--out FILE] [--holdout F] [--seed N]\n"
               "                       [--calibration FILE | --calibration-fraction F] [tuning]",
   .opts = train_options,
};

/* Fills a from argv; returns 0, or the exit status (help, bad usage). */
static int
parse_args (int argc, char **argv, train_args_t *a)
{
   int first, rc = cli_options_parse (&train_command, a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   if (first != argc) {
      cli_options_fail (&train_command, "unexpected argument '%s'", argv[first]);
      cli_options_usage (&train_command, stderr);
      return 2;
   }
   if (!a->with_corrections && (a->mongo_uri || a->mongo_db || a->taxonomy || a->weight != 1)) {
      return cli_options_fail (&train_command,
                               "--mongo-uri, --mongo-db, --taxonomy and "
                               "--correction-weight need --with-corrections");
   }
   if (a->calibration && a->calibration_fraction > 0) {
      return cli_options_fail (&train_command,
                               "--calibration and --calibration-fraction exclude each other");
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

/* The training options: the encoder's folder (into encoder_dir), the cache,
 * the threads, and the calibration set (the --calibration file, else the
 * part of the corpus split off for it), described in calib_from. */
static void
set_options (train_args_t *a, tk_labelled_set_t *calib_set, const split_t *s, char *encoder_dir,
             size_t dir_cap, char *calib_from, size_t from_cap)
{
   default_encoder_dir (a, encoder_dir, dir_cap);
   a->options.encoder_dir = encoder_dir;
   a->options.cache_dir = a->cache;
   if (!a->options.threads) {
      a->options.threads = (unsigned) sysconf (_SC_NPROCESSORS_ONLN);
   }
   if (calib_set) {
      a->options.calibration = tk_labelled_examples (calib_set, &a->options.n_calibration);
      snprintf (calib_from, from_cap, "%s (%zu tickets)", a->calibration,
                a->options.n_calibration);
   } else if (s->n_calib) {
      a->options.calibration = s->calib;
      a->options.n_calibration = s->n_calib;
      snprintf (calib_from, from_cap, "%zu tickets of the corpus kept out of training",
                s->n_calib);
   }
}

/* Trains on the split's training part and writes the model to a->out; NULL
 * (said on stderr, with where the encoder's weights are looked for) when
 * either fails. */
static tk_model_t *
train_and_save (const train_args_t *a, const split_t *s, const char *encoder_dir)
{
   tk_error_t err = {0};
   tk_model_t *model = tk_model_train (s->train, s->n_train, &a->options, &err);
   if (model && tk_model_save (model, a->out, &err)) {
      return model;
   }
   fprintf (stderr, "triagectl train: %s\n", err.message);
   if (a->options.mode != TK_MODEL_NB && err.domain == TK_ERR_IO) {
      fprintf (stderr,
               "triagectl train: the %s mode needs the encoder's weights in %s "
               "(deploy/local/bootstrap fetches them; or give --encoder DIR)\n",
               tk_model_mode_name (a->options.mode), encoder_dir);
   }
   tk_model_destroy (model);
   return NULL;
}

/* Says what was trained: the corrections folded in, the result, and the
 * scores on the held-out part. false when memory runs out. */
static bool
report (const train_args_t *a, const tk_model_t *model, const split_t *s, size_t n, size_t n_corr,
        const tk_config_t *cfg, const char *calib_from)
{
   if (a->with_corrections) {
      printf ("folded in %zu corrections from database %s (%zu replaced corpus tickets; "
              "weight %lu each)\n",
              n_corr, cfg->mongo_db && *cfg->mongo_db ? cfg->mongo_db : "of TRIAGE_MONGO_URI",
              s->n_replaced, a->weight);
   }
   print_result (a, model, s, n, n_corr, *calib_from ? calib_from : NULL);
   if (s->n_test) {
      cli_metrics_t *metrics = cli_metrics_compute (model, s->test, s->n_test);
      if (!metrics) {
         fprintf (stderr, "triagectl train: out of memory\n");
         return false;
      }
      cli_metrics_print_summary (metrics, stdout);
      cli_metrics_destroy (metrics);
   }
   return true;
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
   set_options (&a, calib_set, &s, encoder_dir, sizeof encoder_dir, calib_from,
                sizeof calib_from);
   if (!(model = train_and_save (&a, &s, encoder_dir))) {
      goto done;
   }
   if (!report (&a, model, &s, n, n_corr, &cfg, calib_from)) {
      goto done;
   }
   rc = 0;
done:
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
