/* job_follow.h - a processing job of the api (POST /api/process, POST
 * /api/dlq/replay) followed to its end through GET /api/process/{job}, for
 * `triagectl process` and `triagectl dlq replay`. */
#ifndef TK_CLI_JOB_FOLLOW_H
#define TK_CLI_JOB_FOLLOW_H

#include <cjson/cJSON.h>
#include <stdbool.h>

#include "cli_options.h"

/* The option rows of a command that starts a job, for an argument struct
 * `type` with `bool no_wait, quiet, json` and `double timeout` members
 * (cli_options.h). */
#define CLI_JOB_OPTIONS(type)                                                                      \
   {.name = "no-wait", .kind = CLI_OPT_FLAG, CLI_FIELD (type, no_wait),                            \
    .help = "start the job and exit without following it"},                                       \
      {.name = "timeout", .short_name = 't', .arg = "S", .kind = CLI_OPT_DOUBLE,                   \
       CLI_FIELD (type, timeout), .min = 0, .bounds = CLI_OPT_MIN,                                 \
       .help = "seconds to wait for the job before giving up (exit 1)", .def = "600"},            \
      {.name = "quiet", .short_name = 'q', .kind = CLI_OPT_FLAG, CLI_FIELD (type, quiet),          \
       .help = "no progress bar"},                                                                 \
   {                                                                                               \
      .name = "json", .short_name = 'j', .kind = CLI_OPT_FLAG, CLI_FIELD (type, json),             \
      .help = "print the api's JSON (a job: the final job document)"                               \
   }

typedef struct {
   const char *cmd;      /* "process": messages read "triagectl <cmd>: ..." */
   const char *url, *key; /* the api */
   double timeout_s;     /* give up (exit 1) after this long */
   bool json;            /* the final job document on stdout instead of the summary */
   bool quiet;           /* no progress bar */
} cli_follow_t;

/* Polls the job of started (the POST's answer: job_id, kept_corrected,
 * unknown_ids ...) until its state is done, drawing a progress bar on
 * stderr when it is a terminal and saying on stderr when the job is
 * stalled and why. Then prints the summary line on stdout ("job <id> done:
 * requested N, classified N, failed N, skipped N, kept_corrected N ...")
 * or, with f->json, the final job document. Returns the exit status: 0
 * done with no ticket failed, 1 when some failed, the wait timed out or the
 * api could not be asked. */
int cli_job_follow (const cli_follow_t *f, const cJSON *started);

/* What a job's start answered, when it is not followed (--no-wait):
 * "job <id> started: requested N, ..." or the answer as JSON. */
void cli_job_print_started (const cJSON *started, bool json);

/* Prints doc as indented JSON on stdout. */
void cli_print_json (const cJSON *doc);

/* The number at key of obj, 0 when there is none. */
double cli_json_num (const cJSON *obj, const char *key);

/* The string at key of obj, or NULL. Borrowed from obj. */
const char *cli_json_str (const cJSON *obj, const char *key);

#endif
