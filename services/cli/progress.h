/* progress.h - a one-line progress bar on stderr for triagectl, drawn only
 * when stderr is a terminal (otherwise every call is a no-op). */
#ifndef TK_CLI_PROGRESS_H
#define TK_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
   bool on;          /* stderr is a terminal and the caller wants a bar */
   const char *what; /* static: "upload", "publish" */
   uint64_t total;   /* units of work (bytes, rows) */
   uint64_t last_ms; /* last draw */
   int last_pct;
} cli_progress_t;

/* Seconds on a monotonic clock, for the commands' own timing (waits,
 * timeouts). */
double cli_now_s (void);

/* Starts a bar for total units; wanted false (e.g. --quiet) keeps it off. */
void cli_progress_init (cli_progress_t *p, const char *what, uint64_t total, bool wanted);

/* Redraws with done units finished and a short note (may be NULL), at most
 * ten times a second unless the percentage changed. */
void cli_progress_update (cli_progress_t *p, uint64_t done, const char *note);

/* Draws the final state and ends the line. */
void cli_progress_finish (cli_progress_t *p, uint64_t done, const char *note);

#endif
