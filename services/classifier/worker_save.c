/* worker_save.c - storing a job's outcome, off the loop. A classification
 * and nothing else (the common case) joins the other jobs' in one ordered
 * bulk write: while SAVE_RUNNING_MAX bulks are on the threadpool, jobs that
 * reach their save wait, and the next bulk takes up to SAVE_BATCH_MAX of
 * them. One round trip to the database and one hand-off to a pool thread
 * per bulk instead of per ticket; at low load a save starts at once, alone.
 * tk_store_update_tickets keeps each ticket's outcome exact (a correction
 * that wins, a deleted ticket), so save_done treats both paths alike. A
 * failure record (JOB_FAILED, or the remote failure of a JOB_FALLBACK) is
 * written alone, as before. */
#include "worker_internal.h"

#include "log.h"
#include "store_async.h"
#include "timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most saves in one bulk write, and the most bulks on the pool at once. */
#define SAVE_BATCH_MAX 32
#define SAVE_RUNNING_MAX 2

/* One bulk on the threadpool; the pool thread touches only wr and the
 * jobs' op_ok and op_err (the jobs are busy meanwhile). */
typedef struct {
   uv_work_t req; /* first member: the request pattern of store_async.c */
   cl_worker_t *w;
   size_t n;
   job_t *jobs[SAVE_BATCH_MAX];
   tk_processing_metadata_t md[SAVE_BATCH_MAX];
   tk_store_classification_write_t wr[SAVE_BATCH_MAX];
} save_bulk_t;

/* ---- one job alone: a failure record, then its result if any ------------- */

static void
save_work (tk_store_t *store, void *ctx)
{
   job_t *j = ctx;
   bool failed = j->outcome == JOB_FAILED;
   if (failed || (j->outcome == JOB_FALLBACK && !j->failure_recorded)) {
      /* A fallback result still records what the remote provider did. */
      char text[400];
      snprintf (text, sizeof text, "after %u attempt(s): %s", j->attempts, j->last_error);
      j->op_ok = tk_store_record_failure (store, j->id, text, &j->op_err);
      if (failed || !j->op_ok) {
         return;
      }
      j->failure_recorded = true;
   }
   if (!j->processed_at) {
      j->processed_at = tk_time_now_ms ();
   }
   tk_processing_metadata_t md = cl__job_metadata (j);
   if (j->override_corrections) {
      j->op_ok = tk_store_update_ticket_with_classification (store, j->id, &j->c, &j->conf, &md,
                                                             &j->op_err);
   } else {
      /* A correction stored while it was being classified wins. */
      j->op_ok = tk_store_update_ticket_unless_corrected (store, j->id, &j->c, &j->conf, &md,
                                                          &j->op_err);
   }
}

static void
save_done (int status, void *ctx)
{
   job_t *j = ctx;
   j->busy = false;
   if (cl__job_gone (j)) {
      return;
   }
   if (status != 0 || !j->op_ok) {
      if (status == 0 && j->op_err.domain == TK_ERR_CONFLICT && j->outcome != JOB_FAILED) {
         /* Corrected by a person meanwhile: their labels stay. Read
          * again, it is skipped and its stored (corrected) result is what
          * the classified topic hears of. */
         TK_INFO (COMPONENT, "ticket %s was corrected by a person while being classified; kept",
                  j->id);
         /* This answer goes (read again, the ticket may also have lost
          * its correction meanwhile and be classified afresh). */
         tk_classification_clear (&j->c);
         free (j->subject);
         free (j->body);
         j->subject = j->body = NULL;
         j->processed_at = 0;
         cl__job_start (j);
         return;
      }
      if (status == 0 && j->op_err.domain == TK_ERR_NOT_FOUND) {
         TK_WARN (COMPONENT, "ticket %s was deleted while being classified; dropped", j->id);
         if (j->outcome != JOB_FAILED) {
            cl__job_finish (j);
            return;
         }
         /* A failure still goes to the DLQ. */
      } else {
         cl__job_infra_retry (j, cl__job_save, "storing the outcome", status == 0 ? &j->op_err : NULL);
         return;
      }
   }
   j->infra_attempts = 0;
   cl__job_publish (j);
}

void
cl__job_save_alone (job_t *j)
{
   j->state = J_SAVE;
   j->busy = true;
   if (tk_store_async (j->w->app->loop, j->w->app->store, save_work, save_done, j) != 0) {
      j->busy = false;
      cl__job_infra_retry (j, cl__job_save, "queueing the store write", NULL);
   }
}

/* ---- many jobs in one bulk write ------------------------------------------ */

static void saves_start (cl_worker_t *w);

/* The oldest waiting save, off the list; NULL when none waits. */
static job_t *
save_pop (cl_worker_t *w)
{
   job_t *j = w->saves_head;
   if (j) {
      w->saves_head = j->save_next;
      if (!w->saves_head) {
         w->saves_tail = NULL;
      }
      j->save_next = NULL;
   }
   return j;
}

static void
bulk_work (uv_work_t *req)
{
   save_bulk_t *b = (save_bulk_t *) req;
   tk_store_update_tickets (b->w->app->store, b->wr, b->n);
   for (size_t i = 0; i < b->n; i++) {
      b->jobs[i]->op_ok = b->wr[i].ok;
      b->jobs[i]->op_err = b->wr[i].err;
   }
}

static void
bulk_done (uv_work_t *req, int status)
{
   save_bulk_t *b = (save_bulk_t *) req;
   cl_worker_t *w = b->w;
   w->saves_running--;
   for (size_t i = 0; i < b->n; i++) {
      save_done (status, b->jobs[i]);
   }
   free (b);
   saves_start (w);
}

/* Puts j's write into b (on the loop: its metadata is fixed here). */
static void
bulk_add (save_bulk_t *b, job_t *j)
{
   size_t i = b->n++;
   if (!j->processed_at) {
      j->processed_at = tk_time_now_ms ();
   }
   b->jobs[i] = j;
   b->md[i] = cl__job_metadata (j);
   b->wr[i] = (tk_store_classification_write_t) {
      .id = j->id,
      .c = &j->c,
      .confidence = &j->conf,
      .metadata = &b->md[i],
      .unless_corrected = !j->override_corrections,
   };
}

/* Starts bulks of the waiting saves while fewer than SAVE_RUNNING_MAX run. */
static void
saves_start (cl_worker_t *w)
{
   while (w->saves_head && w->saves_running < SAVE_RUNNING_MAX) {
      save_bulk_t *b = calloc (1, sizeof *b);
      if (!b) {
         /* Out of memory: the waiting saves go alone, each with its own retry. */
         job_t *j;
         while ((j = save_pop (w))) {
            j->busy = false;
            cl__job_infra_retry (j, cl__job_save_alone, "queueing the store write", NULL);
         }
         return;
      }
      b->w = w;
      job_t *j;
      while (b->n < SAVE_BATCH_MAX && (j = save_pop (w))) {
         bulk_add (b, j);
      }
      tk_histogram_observe (w->metrics.save_batch, (double) b->n);
      w->saves_running++;
      if (uv_queue_work (w->app->loop, &b->req, bulk_work, bulk_done) != 0) {
         w->saves_running--;
         for (size_t i = 0; i < b->n; i++) {
            b->jobs[i]->busy = false;
            cl__job_infra_retry (b->jobs[i], cl__job_save_alone, "queueing the store write", NULL);
         }
         free (b);
         return;
      }
   }
}

void
cl__job_save (job_t *j)
{
   cl_worker_t *w = j->w;
   if (j->outcome == JOB_FAILED || (j->outcome == JOB_FALLBACK && !j->failure_recorded)) {
      cl__job_save_alone (j);
      return;
   }
   j->state = J_SAVE;
   j->busy = true;
   j->save_next = NULL;
   if (w->saves_tail) {
      w->saves_tail->save_next = j;
   } else {
      w->saves_head = j;
   }
   w->saves_tail = j;
   saves_start (w);
}
