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
#include "provider.h"

typedef struct cl_worker cl_worker_t;

/* Creates the worker (and its consumer) for app; provider and http are
 * borrowed and must outlive it. Registers its shutdown step with app.
 * NULL with err on failure. */
cl_worker_t *cl_worker_new (tk_app_t *app, cl_provider_t *provider, cl_http_t *http,
                            tk_error_t *err);

/* Frees the worker after the loop has stopped (its shutdown step has run).
 * Accepts NULL. */
void cl_worker_destroy (cl_worker_t *w);

#endif
