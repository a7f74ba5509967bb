/* cli.h - triagectl's subcommands and the helpers they share.
 *
 * Adding a subcommand: write cmd_<name>.c with an `int cli_cmd_<name> (int
 * argc, char **argv)` (argv[0] is the subcommand name, so getopt works as in
 * a main), declare it here, and add one line to the table in main.c.
 * A command returns the process exit status: 0 success, 1 failure, 2 usage.
 */
#ifndef TK_CLI_H
#define TK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "model.h"
#include "predict.h"
#include "store.h"
#include "taxonomy.h"

int cli_cmd_train (int argc, char **argv);
int cli_cmd_eval (int argc, char **argv);
int cli_cmd_upload (int argc, char **argv);
int cli_cmd_publish (int argc, char **argv);
int cli_cmd_stats (int argc, char **argv);
int cli_cmd_config (int argc, char **argv);
int cli_cmd_check (int argc, char **argv);
int cli_cmd_keys (int argc, char **argv);
int cli_cmd_tickets (int argc, char **argv);
int cli_cmd_process (int argc, char **argv);
int cli_cmd_export (int argc, char **argv);
int cli_cmd_dlq (int argc, char **argv);

/* Scores of a source's predictions against labelled examples (scores.c). */
typedef struct cli_metrics cli_metrics_t;

/* Scores pred[i] against ex[i] for i in 0..n, over src's labels. src is
 * copied (its labels stay borrowed); ex and pred may be freed afterwards. A
 * ticket never answered counts as wrong in every field (a miss for each of
 * its tags) and has no confidence: it is left out of the mean confidence
 * and the ECE. Returns NULL when memory runs out. Free with
 * cli_metrics_destroy. */
cli_metrics_t *cli_metrics_score (const cli_source_t *src, const tk_model_example_t *ex,
                                  const cli_prediction_t *pred, size_t n);

/* Classifies every example with model (cli_predict_local) and scores it.
 * Returns NULL when memory runs out. Free with cli_metrics_destroy. */
cli_metrics_t *cli_metrics_compute (const tk_model_t *model, const tk_model_example_t *ex,
                                    size_t n);
void cli_metrics_destroy (cli_metrics_t *m);

/* Fraction of examples whose label (sentiment, priority) or whole tag set
 * (topic) is right. */
double cli_metrics_accuracy (const cli_metrics_t *m, tk_model_field_t field);

/* Macro-averaged F1 over the field's labels. */
double cli_metrics_macro_f1 (const cli_metrics_t *m, tk_model_field_t field);

/* The one-paragraph summary triagectl train prints (scores_report.c). */
void cli_metrics_print_summary (const cli_metrics_t *m, FILE *out);

/* The full report of triagectl eval: per-field accuracy, macro-F1, ECE with
 * its interval, per-tag precision/recall/F1 with micro and macro averages,
 * confusion matrices, and the tickets never answered (scores_report.c). */
void cli_metrics_print_report (const cli_metrics_t *m, FILE *out);

/* The same as one JSON object (see metrics_json.c). Returns false if memory
 * runs out. */
bool cli_metrics_print_json (const cli_metrics_t *m, FILE *out);

/* Examples scored, those answered, who classified them (borrowed, valid as
 * long as m), classifications a second, a field's mean stated confidence
 * (over the answered tickets). */
size_t cli_metrics_count (const cli_metrics_t *m);
size_t cli_metrics_answered (const cli_metrics_t *m);
const cli_source_t *cli_metrics_source (const cli_metrics_t *m);
double cli_metrics_tickets_per_s (const cli_metrics_t *m);
double cli_metrics_mean_confidence (const cli_metrics_t *m, tk_model_field_t field);

/* Whether topic ECE is over every (ticket, tag) pair (the source gave every
 * tag's probability) rather than over the chosen tags only. */
bool cli_metrics_topic_ece_all_tags (const cli_metrics_t *m);

/* The i-th reason tickets went unanswered and how many: false past the
 * last. Reasons are static strings. */
bool cli_metrics_failure (const cli_metrics_t *m, size_t i, const char **reason, size_t *count);

/* True positives, false positives and false negatives of one label. */
void cli_metrics_label_counts (const cli_metrics_t *m, tk_model_field_t field, size_t label,
                               size_t *tp, size_t *fp, size_t *fn);

/* How many examples of gold label `gold` got `pred` (sentiment, priority;
 * gold TK_MODEL_MAX_LABELS counts gold labels the source does not know,
 * pred TK_MODEL_MAX_LABELS the tickets never answered). */
size_t cli_metrics_confusion (const cli_metrics_t *m, tk_model_field_t field, size_t gold,
                              size_t pred);

/* Micro-averaged F1 over every (ticket, tag) pair. */
double cli_metrics_topic_micro_f1 (const cli_metrics_t *m);

/* Gold tags the source does not know (each counted as a miss). */
size_t cli_metrics_unknown_tags (const cli_metrics_t *m);

/* Expected calibration error of a field with its 95 % bootstrap interval. */
typedef struct {
   double ece, low, high;
} cli_ece_t;

/* The calibration error of a field (see ece.c). */
cli_ece_t cli_metrics_ece (const cli_metrics_t *m, tk_model_field_t field);

/* ECE of the decisions of n_tickets tickets: ticket t's decisions are
 * start[t] .. start[t + 1] - 1 (start has n_tickets + 1 entries), conf[i]
 * the confidence of decision i, right[i] whether it was right (ece.c). */
void cli_ece (const double *conf, const unsigned char *right, const size_t *start,
              size_t n_tickets, cli_ece_t *out);

/* Classifications corrected by hand (see corrections.c), as training
 * examples. */
typedef struct cli_corrections cli_corrections_t;

/* Reads every corrected ticket of database db (NULL or "" takes it from uri)
 * in id order; each correction's labels must be in tax. Blocks (the CLI has
 * no loop). Returns a new set (free with cli_corrections_destroy) or NULL
 * with err filled: the server cannot be reached, or a corrected ticket cannot
 * be read (named by id). */
cli_corrections_t *cli_corrections_load (const char *uri, const char *db, const tk_taxonomy_t *tax,
                                         tk_error_t *err);
void cli_corrections_destroy (cli_corrections_t *c);

/* The examples, sorted by id: borrowed, valid as long as c. Stores the count
 * in *n. */
const tk_model_example_t *cli_corrections_examples (const cli_corrections_t *c, size_t *n);

/* Opens the database of cfg (TRIAGE_MONGO_URI; TRIAGE_MONGO_DB, or the
 * URI's database when it is empty) with a pool of two clients and checks
 * that it answers. Blocks. Returns 0 with *store set (the caller destroys
 * it), else the exit status after saying why on stderr as "triagectl
 * <cmd>: ...": 2 when the settings are unusable, 1 when the server does not
 * answer (*store is then set too, to be destroyed by the caller). */
int cli_store_open (const tk_config_t *cfg, const char *cmd, tk_store_t **store);

/* The start of a database command: loads *cfg from argv (the CLI's options
 * and environment) and answers --help by calling usage (stdout). Returns -1
 * when the command should go on (the caller destroys *cfg), else the exit
 * status with *cfg already destroyed: 2 after saying why the options are
 * unusable on stderr as "triagectl <cmd>: ...", 0 after the help. */
int cli_config_open (tk_config_t *cfg, const char *cmd, int argc, char **argv,
                     void (*usage) (FILE *out));

#endif
