/* worker.h - the classifier's consumer: classification requests in, stored
 * results and published outcomes out.
 *
 * One worker consumes the classify topic as a member of the consumer group
 * and keeps up to TRIAGE_CLASSIFIER_CONCURRENCY tickets in flight on the
 * loop. Per ticket: fetch it (off the loop), skip it if already processed
 * (unless the reason is "reprocess"), drop it if missing, classify it with
 * retries, update it in place, publish the result on the classified topic
 * (or, after the last attempt, record the failure and publish to the DLQ).
 * Offsets are committed per partition in order, up to the last message whose
 * outcome is durable. On rebalance, work for revoked partitions is dropped
 * without committing; the new owner redoes it (the update is idempotent).
 */
#ifndef CL_WORKER_H
#define CL_WORKER_H

#include "app.h"
#include "curl_uv.h"
#include "provider.h"

typedef struct cl_worker cl_worker_t;

/* Creates the worker (and its consumer) for app; provider, fallback (NULL
 * for none) and http are borrowed and must outlive it. Registers its
 * shutdown step with app, which closes http, provider and fallback.
 * NULL with err on failure.
 *
 * Batching (TRIAGE_LLM_BATCH > 1, providers with start_batch): a ticket's
 * attempt waits up to TRIAGE_LLM_BATCH_WINDOW for others and goes out with
 * them in one call (one request, and the whole batch's tokens, for the rate
 * limit; one outcome for the circuit breaker). A ticket whose own answer
 * was missing or invalid is asked about alone from then on (repair and
 * retries as usual); the others are stored. A call that failed as a whole
 * fails each ticket's attempt, and their retries may batch again. Each
 * ticket's processing_time_ms is the batch call's time. The gathering and
 * the batched call live in batch.h; the worker decides what each answer
 * leads to.
 *
 * local: the built-in model beside a remote provider (NULL with the local
 * provider, or when neither the fallback nor the cascade is on); the worker
 * closes it at shutdown, the caller destroys it.
 *
 * Cascade (TRIAGE_CASCADE=on): the built-in model answers first, on the
 * ticket's own text; an answer with every confidence at or above
 * TRIAGE_CASCADE_BELOW is stored with the built-in model's model_version,
 * any other ticket goes on to the remote provider as without a cascade.
 * Counted in classifier_cascade_total{answered_by="local"|"llm"}.
 *
 * needs_review: every stored classification whose confidence in any field
 * is under TRIAGE_REVIEW_BELOW is stored with needs_review=true.
 *
 * Fallback (TRIAGE_FALLBACK_PROVIDER=local): a ticket the remote provider
 * failed for the last time (attempts used up, a 4xx, invalid answers after
 * the repair) is classified by the local model instead of going to the DLQ: stored
 * processed with processing_metadata.model_version "fallback:<its
 * model_version>", after processing_attempts and last_error recorded the
 * remote failure (as for the DLQ). Counted in
 * classifier_fallbacks_total{reason} (the remote failure's reason). While
 * the circuit is open tickets keep waiting for the provider, as without a
 * fallback: an outage is not a ticket's last failure. */
cl_worker_t *cl_worker_new (tk_app_t *app, cl_provider_t *provider, cl_provider_t *local,
                            tk_curl_uv_t *http, tk_error_t *err);

/* Frees the worker after the loop has stopped (its shutdown step has run).
 * Accepts NULL. */
void cl_worker_destroy (cl_worker_t *w);

#endif
