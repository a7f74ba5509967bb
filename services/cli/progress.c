/* progress.c - the progress bar of triagectl upload and publish. */
#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30

static uint64_t
now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

double
cli_now_s (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void
cli_progress_init (cli_progress_t *p, const char *what, uint64_t total, bool wanted)
{
   memset (p, 0, sizeof *p);
   p->on = wanted && isatty (STDERR_FILENO);
   p->what = what;
   p->total = total;
   p->last_pct = -1;
}

static void
draw (cli_progress_t *p, uint64_t done, const char *note)
{
   int pct = p->total ? (int) (done * 100 / p->total) : 100;
   if (pct > 100) {
      pct = 100;
   }
   char bar[BAR_WIDTH + 1];
   int filled = pct * BAR_WIDTH / 100;
   for (int i = 0; i < BAR_WIDTH; i++) {
      bar[i] = i < filled ? '#' : '-';
   }
   bar[BAR_WIDTH] = '\0';
   fprintf (stderr, "\r%s [%s] %3d%% %s\033[K", p->what, bar, pct, note ? note : "");
   fflush (stderr);
   p->last_pct = pct;
   p->last_ms = now_ms ();
}

void
cli_progress_update (cli_progress_t *p, uint64_t done, const char *note)
{
   if (!p->on) {
      return;
   }
   int pct = p->total ? (int) (done * 100 / p->total) : 100;
   if (pct == p->last_pct && now_ms () - p->last_ms < 100) {
      return;
   }
   draw (p, done, note);
}

void
cli_progress_finish (cli_progress_t *p, uint64_t done, const char *note)
{
   if (!p->on) {
      return;
   }
   draw (p, done, note);
   fputc ('\n', stderr);
}
