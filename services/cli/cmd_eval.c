/* cmd_eval.c - `triagectl eval`: classifies every ticket of a labelled file
 * with a local model file (any mode) or a remote LLM provider, and prints
 * per-field accuracy, macro-F1 (micro-F1 for tags), confusion matrices and
 * the expected calibration error with its bootstrap interval, as text or
 * (--json) as one JSON object. The predictions come from predict_local.c or
 * predict_remote.c, the scores from metrics.c. */
#include "cli.h"
#include "cli_options.h"

#include "confidence_threshold.h"
#include "labelled.h"

#include <stdlib.h>

#define MAX_CONCURRENCY 256

typedef struct {
   const char *provider; /* NULL: local with --model, else TRIAGE_LLM_PROVIDER */
   const char *model_path, *encoder;
   const char *llm_url, *llm_model, *llm_api_key, *taxonomy;
   unsigned concurrency;
   bool json, quiet;
   const char *keep_above; /* NULL, or a threshold (confidence_threshold.h) */
   const char *labelled;
} eval_args_t;

/* What the report borrows its labels from, and the report's figures: freed
 * after printing. */
typedef struct {
   tk_model_t *model;     /* local */
   tk_taxonomy_t *loaded; /* remote, from a file (else the built-in one) */
   cli_metrics_t *metrics;
   cli_source_t src;
   cli_prediction_t *pred; /* n of them, kept for --keep-above */
   size_t n;
} eval_result_t;

/* eval's options (cli_options.h), in the order --help lists them. */
static const cli_option_t eval_options[] = {
   {.name = "provider", .arg = "P", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, provider),
    .help = "who classifies: local (a model file; the default with --model),\n"
            "openai or gemini, asked exactly as the classifier service asks\n"
            "them (same prompt, parsing and validation)", .env = "TRIAGE_LLM_PROVIDER"},
   {.name = "model", .arg = "FILE", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, model_path),
    .help = "a model written by `triagectl train` (nb, static or encoder)"},
   {.name = "encoder", .arg = "DIR", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, encoder),
    .help = "the encoder's weights for an encoder-mode model", .env = "TRIAGE_ENCODER_PATH",
    .def = "all-MiniLM-L6-v2 beside the model"},
   {.name = "llm-url", .arg = "URL", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, llm_url),
    .help = "the LLM's base URL", .env = "TRIAGE_LLM_URL", .def = "the provider's"},
   {.name = "llm-model", .arg = "M", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, llm_model),
    .help = "the LLM's model", .env = "TRIAGE_LLM_MODEL", .def = "the provider's"},
   {.name = "llm-api-key", .arg = "K", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, llm_api_key),
    .help = "its API key", .env = "TRIAGE_LLM_API_KEY"},
   {.name = "taxonomy", .arg = "FILE", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, taxonomy),
    .help = "the labels asked for and scored over", .env = "TRIAGE_TAXONOMY",
    .def = "the built-in taxonomy"},
   {.name = "concurrency", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (eval_args_t, concurrency),
    .min = 1, .max = MAX_CONCURRENCY,
    .help = "most tickets asked about at once; retries follow\n"
            "TRIAGE_RETRY_BASE, _CAP and _MAX_ATTEMPTS and Retry-After", .def = "4"},
   {.name = "quiet", .kind = CLI_OPT_FLAG, CLI_FIELD (eval_args_t, quiet),
    .help = "no progress on stderr"},
   {.name = "keep-above", .arg = "T", .kind = CLI_OPT_STRING, CLI_FIELD (eval_args_t, keep_above),
    .help = "also score apart the tickets whose every confidence is at or\n"
            "above T and the others (T as TRIAGE_CASCADE_BELOW and\n"
            "TRIAGE_REVIEW_BELOW take it: 0.6, or priority=0.7,topic=0.5): what\n"
            "the cascade keeps from the LLM, what needs no review (text only)"},
   {.name = "json", .kind = CLI_OPT_FLAG, CLI_FIELD (eval_args_t, json),
    .help = "the report as one JSON object"},
   {0},
};

static const cli_command_t eval_command = {
   .cmd = "eval",
   .synopsis =
      "[--provider local] --model FILE [--encoder DIR] [--json] LABELLED_FILE\n"
      "       triagectl eval --provider openai|gemini [--llm-url URL] [--llm-model M]\n"
      "                      [--llm-api-key K] [--taxonomy FILE] [--concurrency N] [--quiet]\n"
      "                      [--json] LABELLED_FILE",
   .description =
      "LABELLED_FILE is NDJSON, a JSON array, or CSV (.csv) with columns\n"
      "id,subject,body,topic_tags,sentiment,priority (topic_tags separated by ';').\n"
      "\n"
      "A ticket a remote provider never answered (a 4xx, or every retry failed) is counted:\n"
      "wrong in every field, a miss of each of its tags, left out of mean confidence and ECE.\n"
      "Topic ECE: a local model gives every tag's probability, so it is over every (ticket,\n"
      "tag) pair; a remote provider states one topic confidence, so it is over the tags it\n"
      "chose, each right when the ticket is labelled with it, at that confidence.",
   .opts = eval_options,
};

/* Parses argv into a; returns -1 to go on, else the exit status. */
static int
parse_args (int argc, char **argv, eval_args_t *a)
{
   int first, rc = cli_options_parse (&eval_command, a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   if (first != argc - 1) {
      fprintf (stderr, "triagectl eval: give one LABELLED_FILE\n\n");
      cli_options_usage (&eval_command, stderr);
      return 2;
   }
   a->labelled = argv[first];
   return -1;
}

/* The settings eval reads: the environment's, then the flags. */
static bool
eval_config (const eval_args_t *a, tk_config_t *cfg, tk_error_t *err)
{
   char *no_args[] = {"triagectl", NULL};
   return tk_config_load (cfg, TK_SVC_CLI, 1, no_args, NULL, err) &&
          (!a->provider || tk_config_set (cfg, "TRIAGE_LLM_PROVIDER", a->provider, err)) &&
          (!a->llm_url || tk_config_set (cfg, "TRIAGE_LLM_URL", a->llm_url, err)) &&
          (!a->llm_model || tk_config_set (cfg, "TRIAGE_LLM_MODEL", a->llm_model, err)) &&
          (!a->llm_api_key || tk_config_set (cfg, "TRIAGE_LLM_API_KEY", a->llm_api_key, err)) &&
          (!a->taxonomy || tk_config_set (cfg, "TRIAGE_TAXONOMY", a->taxonomy, err));
}

/* Classifies ex with the remote provider of cfg. Returns the exit status on
 * failure, -1 on success (r->metrics set). */
static int
eval_remote (const eval_args_t *a, const tk_config_t *cfg, const tk_model_example_t *ex, size_t n,
             eval_result_t *r)
{
   int rc = 1;
   tk_error_t err = {0};
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   cli_source_t *src = &r->src;
   cli_prediction_t *pred = r->pred = calloc (n + 1, sizeof *pred);
   r->n = n;
   if (cfg->taxonomy[0] && !(tax = r->loaded = tk_taxonomy_load_file (cfg->taxonomy, &err))) {
      fprintf (stderr, "triagectl eval: %s\n", err.message);
      goto done;
   }
   cli_remote_options_t o = {.cfg = cfg, .tax = tax, .concurrency = a->concurrency,
                             .progress = !a->quiet};
   if (!pred || !cli_predict_remote (&o, ex, n, pred, src, &err)) {
      fprintf (stderr, "triagectl eval: %s\n", pred ? err.message : "out of memory");
      rc = err.domain == TK_ERR_CONFIG ? 2 : 1;
      goto done;
   }
   if (!(r->metrics = cli_metrics_score (src, ex, pred, n))) {
      fprintf (stderr, "triagectl eval: out of memory\n");
      goto done;
   }
   rc = -1;
done:
   return rc;
}

/* Classifies ex with the model file. Returns the exit status on failure,
 * -1 on success (r->model and r->metrics set). */
static int
eval_local (const eval_args_t *a, const char *model_path, const tk_model_example_t *ex, size_t n,
            eval_result_t *r)
{
   tk_error_t err = {0};
   const char *encoder = a->encoder ? a->encoder : getenv ("TRIAGE_ENCODER_PATH");
   if (!(r->model = tk_model_load_with (model_path, encoder, &err))) {
      fprintf (stderr, "triagectl eval: %s\n", err.message);
      return 1;
   }
   r->n = n;
   if (!(r->pred = calloc (n + 1, sizeof *r->pred)) ||
       !cli_predict_local (r->model, ex, n, r->pred, &r->src) ||
       !(r->metrics = cli_metrics_score (&r->src, ex, r->pred, n))) {
      fprintf (stderr, "triagectl eval: out of memory\n");
      return 1;
   }
   return -1;
}

/* --keep-above: the tickets answered with every confidence at or above t,
 * scored apart from the others (unanswered ones count with the others).
 * Returns false when memory runs out. */
static bool
print_split (const eval_result_t *r, const tk_model_example_t *ex, const tk_threshold_t *t,
             const char *spec, FILE *out)
{
   bool ok = false;
   tk_model_example_t *kex = calloc (r->n + 1, sizeof *kex), *rex = calloc (r->n + 1, sizeof *rex);
   cli_prediction_t *kp = calloc (r->n + 1, sizeof *kp), *rp = calloc (r->n + 1, sizeof *rp);
   cli_metrics_t *km = NULL, *rm = NULL;
   size_t k = 0, rest = 0;
   if (!kex || !rex || !kp || !rp) {
      goto done;
   }
   /* Shallow copies: the strings stay r->pred's, freed once by it. */
   for (size_t i = 0; i < r->n; i++) {
      bool keep = r->pred[i].answered && !tk_threshold_any_below (&r->pred[i].conf, t);
      if (keep) {
         kex[k] = ex[i];
         kp[k++] = r->pred[i];
      } else {
         rex[rest] = ex[i];
         rp[rest++] = r->pred[i];
      }
   }
   fprintf (out, "\nevery confidence at or above %s: %zu of %zu tickets (%.1f %%)\n", spec, k, r->n,
            r->n ? 100.0 * (double) k / (double) r->n : 0.0);
   if (k && !(km = cli_metrics_score (&r->src, kex, kp, k))) {
      goto done;
   }
   if (km) {
      cli_metrics_print_summary (km, out);
   }
   fprintf (out, "the others (a confidence below, or no answer): %zu tickets\n", rest);
   if (rest && !(rm = cli_metrics_score (&r->src, rex, rp, rest))) {
      goto done;
   }
   if (rm) {
      cli_metrics_print_summary (rm, out);
   }
   ok = true;
done:
   cli_metrics_destroy (km);
   cli_metrics_destroy (rm);
   free (kex);
   free (rex);
   free (kp);
   free (rp);
   return ok;
}

/* Whether the flags fit the provider; says why not on stderr. */
static bool
args_fit (const eval_args_t *a, const tk_config_t *cfg)
{
   if (cfg->llm_provider != TK_LLM_LOCAL && (a->model_path || a->encoder)) {
      fprintf (stderr, "triagectl eval: --model and --encoder are for the local provider\n");
      return false;
   }
   if (cfg->llm_provider == TK_LLM_LOCAL && !a->model_path && !cfg->model_path[0]) {
      fprintf (stderr, "triagectl eval: the local provider needs --model FILE (or "
                       "TRIAGE_MODEL_PATH); see triagectl eval --help\n");
      return false;
   }
   return true;
}

/* Classifies and scores the labelled file. Returns the exit status on
 * failure, -1 on success (r->metrics set). */
static int
eval_run (const eval_args_t *a, const tk_config_t *cfg, const tk_labelled_set_t *set,
          eval_result_t *r)
{
   size_t n;
   const tk_model_example_t *ex = tk_labelled_examples (set, &n);
   if (cfg->llm_provider != TK_LLM_LOCAL) {
      return eval_remote (a, cfg, ex, n, r);
   }
   return eval_local (a, a->model_path ? a->model_path : cfg->model_path, ex, n, r);
}

/* Prints the scores (and with --keep-above the kept and flagged parts).
 * Returns the exit status: 1 when memory runs out or nothing was answered
 * (the provider is unusable: wrong URL, key or model), else 0. */
static int
report (const eval_args_t *a, const eval_result_t *r, const tk_labelled_set_t *set,
        const tk_threshold_t *keep)
{
   if (a->json ? !cli_metrics_print_json (r->metrics, stdout)
               : (cli_metrics_print_report (r->metrics, stdout), false)) {
      fprintf (stderr, "triagectl eval: out of memory\n");
      return 1;
   }
   if (keep && !a->json &&
       !print_split (r, tk_labelled_examples (set, &(size_t) {0}), keep, a->keep_above, stdout)) {
      fprintf (stderr, "triagectl eval: out of memory\n");
      return 1;
   }
   if (cli_metrics_count (r->metrics) && !cli_metrics_answered (r->metrics)) {
      fprintf (stderr, "triagectl eval: no ticket was answered\n");
      return 1;
   }
   return 0;
}

int
cli_cmd_eval (int argc, char **argv)
{
   eval_args_t a = {.concurrency = 4};
   int rc = parse_args (argc, argv, &a);
   tk_error_t err = {0};
   tk_config_t cfg = {0};
   tk_labelled_set_t *set = NULL;
   eval_result_t r = {0};
   if (rc >= 0) {
      return rc;
   }
   if (!a.provider && a.model_path) {
      a.provider = "local";
   }
   rc = 2;
   if (!eval_config (&a, &cfg, &err)) {
      fprintf (stderr, "triagectl eval: %s\n", err.message);
      goto done;
   }
   if (!args_fit (&a, &cfg)) {
      goto done;
   }
   rc = 1;
   if (!(set = tk_labelled_load (a.labelled, &err))) {
      fprintf (stderr, "triagectl eval: %s\n", err.message);
      goto done;
   }
   tk_threshold_t keep;
   char why[128];
   if (a.keep_above && !tk_threshold_parse (a.keep_above, &keep, why, sizeof why)) {
      fprintf (stderr, "triagectl eval: --keep-above %s\n", why);
      rc = 2;
      goto done;
   }
   if ((rc = eval_run (&a, &cfg, set, &r)) >= 0) {
      goto done;
   }
   rc = report (&a, &r, set, a.keep_above ? &keep : NULL);
done:
   cli_metrics_destroy (r.metrics);
   cli_predictions_clear (r.pred, r.n);
   free (r.pred);
   tk_model_destroy (r.model);
   tk_taxonomy_destroy (r.loaded);
   tk_labelled_destroy (set);
   tk_config_destroy (&cfg);
   return rc;
}
