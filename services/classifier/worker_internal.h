/* worker_internal.h - the classifier worker's state, shared by its files
 * (not part of worker.h's contract).
 *
 * Files, by concern:
 *   worker.c          lifetime and wiring (worker.h); job memory, timers,
 *                     infrastructure retries, the job lists
 *   worker_consume.c  requests in, pause/resume, rebalance, ordered commits
 *                     (kafka_offsets.h), consumer lag
 *   worker_job.c      one ticket from fetch to publish: fetch, cascade,
 *                     masking, publish
 *   worker_save.c     storing the outcome: classifications in bulk writes,
 *                     failure records alone
 *   worker_attempt.c  the provider's attempts: rate limit, retries, repair,
 *                     circuit breaker, fallback, batches (batch.h)
 *   worker_shutdown.c the shutdown step and the ordered close of the handles
 *
 * Threads: everything runs on the loop thread, except the store work
 * functions of worker_job.c and worker_save.c (fetch_work, cl__fetches_work,
 * save_work, cl__saves_work), which run on the libuv threadpool (store_async.h). While one runs, the job is busy and
 * only that function touches the job's ticket, op_ok and op_err; the loop
 * reads them in the matching done callback.
 *
 * Ownership: the worker owns every job_t from on_messages until it is
 * freed in job_freed, after its timer has closed. A job is referred to by
 * its partition's offset list (off, until the tracker releases it), by at
 * most one of the worker's lists (the start queue or the parked list;
 * in_list), by the batcher (batch, see batch.h), by a provider call in
 * flight (call) and by a store call or produce in flight (busy).
 * cl__job_release frees it only once none of these holds it. The worker
 * borrows app, provider, local and http (worker.h); it owns the consumer,
 * the batcher and its three timers.
 */
#ifndef CL_WORKER_INTERNAL_H
#define CL_WORKER_INTERNAL_H

#include "worker.h"

#include "batch.h"
#include "circuit.h"
#include "classifier_metrics.h"
#include "kafka_offsets.h"
#include "list_sql.h"
#include "rate_limit.h"
#include "store_async.h"
#include "ticket_json.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COMPONENT "worker"

/* What a job's ticket comes to, decided once before it is saved (or, for
 * JOB_REPUBLISH, published). It picks the save (record the failure, the
 * result, or both), the model_version stored, the topic and the
 * classifier_tickets_total label. Tickets dropped before that (a bad
 * request, a missing or deleted ticket) are finished without one. */
typedef enum {
   JOB_PENDING,    /* not decided yet */
   JOB_CLASSIFIED, /* the provider's answer: stored, published ("classified") */
   JOB_KEPT_LOCAL, /* the cascade kept the built-in model's sure answer ("classified") */
   JOB_FALLBACK,   /* the remote provider gave up; the fallback's answer, stored with
                      the remote failure recorded first ("fallback") */
   JOB_FAILED,     /* the failure is recorded, the request goes to the DLQ ("dlq") */
   JOB_REPUBLISH,  /* already processed: the stored result published again ("skipped") */
} job_outcome_t;

/* The step a job is at (its outcome is job_outcome_t). */
typedef enum {
   J_QUEUED,   /* waiting for a free slot */
   J_FETCH,    /* reading the ticket */
   J_WAIT,     /* backoff, rate limit or open circuit */
   J_LLM,      /* provider call in flight */
   J_SAVE,     /* writing the result or the failure */
   J_PUBLISH,  /* producing the result or the DLQ record */
   J_DONE,     /* outcome durable; waiting for its turn to be committed */
} job_state_t;

typedef struct job job_t;

struct job {
   cl_worker_t *w;
   tk_offset_entry_t off; /* in its partition's in-flight list; part NULL once abandoned */
   job_t *wnext; /* in the worker's start queue or parked list */
   bool in_list; /* on the start queue or the parked list */
   job_state_t state;
   bool abandoned;
   bool busy;     /* a store call or a produce is in flight */
   bool counted;  /* counted in w->n_active */
   uv_timer_t timer;
   void (*after_timer) (job_t *j);
   cl_call_t *call;
   cl_provider_t *call_provider; /* whose call `call` is */
   cl_batch_entry_t batch;       /* its place in the batcher (batch.h) */
   uint64_t call_started;

   char id[TK_TICKET_ID_MAX + 1];
   bool reprocess;
   bool override_corrections; /* the request may relabel a corrected ticket */
   char *request; /* the classify message, for the DLQ record */
   size_t request_len;

   tk_ticket_t *ticket;
   char *subject, *body; /* what the provider sees (masked if remote) */
   unsigned attempts;
   unsigned infra_attempts;
   bool repaired;
   bool probe;    /* this attempt went out while the circuit was open */
   char *repair_answer;
   char repair_error[256];
   char last_error[256];
   job_outcome_t outcome;
   /* The booleans left are independent of the outcome and of each other:
    * in_list, abandoned, busy and counted say who still refers to the job;
    * reprocess and override_corrections come with the request; repaired, probe and solo shape the
    * next attempt; failure_recorded is how far a JOB_FALLBACK save got (a
    * retried save does not record the failure twice); op_ok is a store
    * call's result. */
   bool solo;   /* its own answer in a batch was bad: asked alone from now on */
   const char *fallback_reason; /* static; the remote provider gave up for this reason */
   bool failure_recorded; /* JOB_FALLBACK: the remote failure is stored */

   tk_classification_t c;
   tk_confidence_t conf;
   tk_processing_metadata_t save_md; /* what its bulk write stores (worker_save.c) */
   int64_t processing_ms;
   int64_t processed_at; /* set by the first save; the published result says the same */

   /* Written on the threadpool, read in the done callback. */
   bool read_by_sql; /* the ticket came from the batch's SQL statement */
   bool op_ok;
   tk_error_t op_err;
};

struct cl_worker {
   tk_app_t *app;
   const tk_config_t *cfg;
   cl_provider_t *provider;
   cl_provider_t *local;    /* the built-in model beside a remote provider, or NULL */
   cl_provider_t *fallback; /* local when TRIAGE_FALLBACK_PROVIDER=local; NULL: failures go to the DLQ */
   char fallback_version[TK_TICKET_VERSION_MAX + 1]; /* "fallback:<model_version>" */
   cl_provider_t *cascade; /* TRIAGE_CASCADE=on: the built-in model asked first; else NULL */
   tk_curl_uv_t *http;
   tk_kafka_consumer_t *consumer;
   cl_metrics_t metrics;
   cl_rate_limit_t rate;
   cl_circuit_t circuit;
   uv_timer_t probe_timer;
   uv_timer_t drain_timer; /* bounds the shutdown's wait for in-flight work */
   uv_timer_t lag_timer;   /* refreshes the consumer-lag gauges */
   size_t pending_commits; /* commits sent whose result has not come back */

   tk_offsets_t offsets; /* the jobs in flight per partition; committed at every advance */

   job_t *queue_head, *queue_tail; /* J_QUEUED jobs */
   job_t *parked_head, *parked_tail; /* waiting for the circuit */
   cl_batcher_t *batcher; /* TRIAGE_LLM_BATCH */
   tk_store_queue_t *fetches; /* ticket reads, in batches (worker_job.c) */
   tk_list_sql_t *sql;        /* TRIAGE_LIST_SQL_URL: a batch's tickets in one statement; or NULL */
   tk_store_queue_t *saves;   /* classification writes, in bulk writes (worker_save.c) */
   size_t n_queued;
   size_t n_active;
   size_t n_jobs; /* every job allocated, until its memory is freed */
   uint64_t rnd;

   bool stopping;   /* shutdown: take no new work, finish what has started */
   bool closing;    /* the consumer is being closed: what is left is dropped */
   bool consumer_closed;
   void *shutdown_token;
};

#define JOB_OF_OFF(o) ((job_t *) ((char *) (o) - offsetof (job_t, off)))
#define JOB_OF_ENTRY(e) ((job_t *) ((char *) (e) - offsetof (job_t, batch)))

/* ---- worker.c: shared helpers and job memory ---- */

double cl__rnd01 (cl_worker_t *w);
/* A NUL-terminated copy of s[0..n); caller frees; NULL if out of memory. */
char *cl__dup_n (const char *s, size_t n);
void cl__list_push (job_t **head, job_t **tail, job_t *j);
job_t *cl__list_pop (job_t **head, job_t **tail);
void cl__job_drop_payload (job_t *j);
/* Frees an abandoned or committed job once nothing refers to it any more. */
void cl__job_release (job_t *j);
void cl__job_uncount (job_t *j);
/* True (and j released) if j was abandoned while its async step ran. */
bool cl__job_gone (job_t *j);
/* Runs fn(j) after ms, j waiting (J_WAIT) meanwhile. */
void cl__job_later (job_t *j, uint64_t ms, void (*fn) (job_t *j));
/* Runs fn(j) again after a backoff: the store and the producer are retried
 * until they succeed or the partition is revoked. */
void cl__job_infra_retry (job_t *j, void (*fn) (job_t *j), const char *what,
                          const tk_error_t *err);

/* ---- worker_consume.c ---- */

/* The worker's consumer of the classify topic, its callbacks wired to
 * this file; NULL with err. */
tk_kafka_consumer_t *cl__worker_consumer_new (cl_worker_t *w, tk_error_t *err);
void cl__job_released (tk_offset_entry_t *off, void *opaque);
/* j's outcome is durable (or it needs none): commit in order, start queued work. */
void cl__job_finish (job_t *j);
void cl__on_lag_timer (uv_timer_t *t);
/* Drops every job of p without committing: the next owner redoes them. */
void cl__part_abandon (cl_worker_t *w, tk_offsets_part_t *p);
void cl__worker_update_pause (cl_worker_t *w);

/* ---- worker_job.c ---- */

/* Counts j in flight and reads its ticket (off the loop). */
void cl__job_start (job_t *j);
/* The fetch queue's batch and done functions (store_async.h): one read per
 * ticket (a $in read is a full scan on FerretDB), one pool hand-off per batch. */
void cl__fetches_work (tk_store_t *store, void *const *ctxs, size_t n);
void cl__fetches_done (int status, void *ctx);
#define CL_FETCHES_BATCH 32
#define CL_FETCHES_RUNNING 2
/* Asks p about the ticket's own text (the built-in model runs in this
 * process: nothing to mask), setting the job's call state; false with err
 * filled if the call could not start. */
bool cl__job_call_unmasked (job_t *j, cl_provider_t *p, cl_attempt_cb cb, tk_error_t *err);
void cl__job_publish (job_t *j);
/* What is stored with j's new result (strings borrowed from the worker). */
tk_processing_metadata_t cl__job_metadata (const job_t *j);

/* ---- worker_save.c ---- */

/* Stores j's outcome, then publishes it: a classification joins the next
 * bulk write, a failure record goes alone. */
void cl__job_save (job_t *j);
/* The same, alone (one store call for this job). */
void cl__job_save_alone (job_t *j);
/* The save queue's batch and done functions (store_async.h). */
void cl__saves_work (tk_store_t *store, void *const *ctxs, size_t n);
void cl__saves_done (int status, void *ctx);
/* The most writes in one bulk, and the most bulks on the threadpool at once
 * (with CL_FETCHES_RUNNING, at most libuv's 4 pool threads). */
#define CL_SAVES_BATCH 32
#define CL_SAVES_RUNNING 2

/* ---- worker_attempt.c ---- */

/* j's next provider attempt, through the circuit, the batcher and the rate limit. */
void cl__job_attempt (job_t *j);
extern const cl_batch_hooks_t cl__batch_hooks;

/* ---- worker_shutdown.c ---- */

void cl__worker_shutdown (void *user_data, void *token);
void cl__worker_maybe_finished (cl_worker_t *w);
void cl__worker_maybe_drained (cl_worker_t *w);

#endif
