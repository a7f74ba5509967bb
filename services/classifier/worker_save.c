/* worker_save.c - storing a job's outcome, off the loop. A classification
 * and nothing else (the common case) joins the other jobs' in one ordered
 * bulk write through the worker's save queue (store_async.h: while
 * CL_SAVES_RUNNING bulks are on the threadpool, jobs that reach their save
 * wait, and the next bulk takes up to CL_SAVES_BATCH of them). One round trip to the database and one hand-off to a pool thread
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

/* On a pool thread: the jobs' writes as one bulk (their metadata was fixed
 * on the loop, in cl__job_save). */
void
cl__saves_work (tk_store_t *store, void *const *ctxs, size_t n)
{
   if (n > 0) {
      /* Metrics are atomics: observed from this thread. */
      tk_histogram_observe (((job_t *) ctxs[0])->w->metrics.save_batch, (double) n);
   }
   tk_store_classification_write_t *wr = calloc (n, sizeof *wr);
   for (size_t i = 0; i < n; i++) {
      job_t *j = ctxs[i];
      if (!wr) {
         /* Out of memory for the list: each alone. */
         save_work (store, j);
         continue;
      }
      wr[i] = (tk_store_classification_write_t) {
         .id = j->id,
         .c = &j->c,
         .confidence = &j->conf,
         .metadata = &j->save_md,
         .unless_corrected = !j->override_corrections,
      };
   }
   if (wr) {
      tk_store_update_tickets (store, wr, n);
      for (size_t i = 0; i < n; i++) {
         job_t *j = ctxs[i];
         j->op_ok = wr[i].ok;
         j->op_err = wr[i].err;
      }
      free (wr);
   }
}

void
cl__saves_done (int status, void *ctx)
{
   save_done (status, ctx);
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
   if (!j->processed_at) {
      j->processed_at = tk_time_now_ms ();
   }
   j->save_md = cl__job_metadata (j);
   if (tk_store_queue_push (w->saves, j) != 0) {
      j->busy = false;
      cl__job_infra_retry (j, cl__job_save, "queueing the store write", NULL);
   }
}
