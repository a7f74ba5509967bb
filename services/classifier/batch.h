/* batch.h - several tickets asked about in one provider call
 * (TRIAGE_LLM_BATCH, TRIAGE_LLM_BATCH_WINDOW).
 *
 * The batcher holds the tickets whose next attempt may share a call. It
 * waits up to the window for TRIAGE_LLM_BATCH of them, takes one request
 * (and the whole batch's tokens) from the rate limit for the call, starts
 * it with the provider's start_batch and hands each ticket its own answer
 * back. A ticket that is alone when the window ends goes back to the owner,
 * which asks about it in an ordinary call.
 *
 * The batcher knows nothing of retries, repairs, fallbacks or commits: what
 * an answer leads to is the owner's (the worker's) business, told through
 * cl_batch_hooks_t. All of it runs on the loop thread.
 *
 * Ownership: the owner embeds a cl_batch_entry_t in each ticket's state and
 * keeps that memory alive while cl_batch_entry_waiting() is true (the
 * batcher lets go of it through the claim hook or cl_batcher_pop) and
 * until it has called cl_batch_entry_detach() on it if it was part of a
 * call still in flight (cl_batch_entry_in_call()).
 */
#ifndef CL_BATCH_H
#define CL_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "circuit.h"
#include "classifier_metrics.h"
#include "provider.h"
#include "rate_limit.h"

typedef struct cl_batcher cl_batcher_t;
typedef struct cl_batch_call cl_batch_call_t;
typedef struct cl_batch_entry cl_batch_entry_t;

/* One ticket's place in the batcher, embedded in the owner's state. */
struct cl_batch_entry {
   /* Set by the owner before cl_batcher_add: what the ticket is asked
    * (no repair). The strings are borrowed and must stay valid while the
    * entry waits or is part of a call. */
   cl_prompt_input_t in;

   /* The batcher's own; the owner only zeroes them (calloc). */
   cl_batch_entry_t *next;
   bool waiting;
   cl_batch_call_t *call;
};

/* How the batcher tells its owner what happens to entries. Each hook gets
 * the user_data given to cl_batcher_new. */
typedef struct {
   /* e leaves the queue. Returns false if its ticket was abandoned
    * meanwhile: the owner has released it and the batcher forgets it. */
   bool (*claim) (cl_batch_entry_t *e, void *user_data);
   /* e is handed back unsent because the circuit opened while it waited:
    * the owner attempts it alone (it parks, or goes as the probe). */
   void (*hand_back) (cl_batch_entry_t *e, void *user_data);
   /* e was the only ticket left for a call: the owner asks about it in an
    * ordinary call. The rate limit is already taken for it. */
   void (*send_alone) (cl_batch_entry_t *e, void *user_data);
   /* e goes out in the batched call about to start: one attempt of its
    * ticket. */
   void (*sending) (cl_batch_entry_t *e, void *user_data);
   /* A batched call came back; called once, before the answers. A call
    * that failed as a whole failed every ticket alike: a says how (the
    * first ticket's attempt). For the circuit breaker. */
   void (*call_done) (const cl_attempt_t *a, void *user_data);
   /* e's own answer (same contract as cl_attempt_cb: the owner may move
    * a->c and a->answer out); ms is the whole call's time. A batched call
    * that could not start fails each of its entries this way, with reason
    * "internal" (retryable). e is no longer part of a call. */
   void (*answered) (cl_batch_entry_t *e, cl_attempt_t *a, int64_t ms, void *user_data);
} cl_batch_hooks_t;

/* Creates a batcher on loop. cfg, provider, rate, circuit and metrics are
 * borrowed and must outlive it; hooks is copied. Batching is on when
 * cfg->llm_batch > 1 and the provider has start_batch
 * (cl_batcher_enabled). NULL with err on failure. */
cl_batcher_t *cl_batcher_new (uv_loop_t *loop, const tk_config_t *cfg, cl_provider_t *provider,
                              cl_rate_limit_t *rate, const cl_circuit_t *circuit,
                              cl_metrics_t *metrics, const cl_batch_hooks_t *hooks,
                              void *user_data, tk_error_t *err);

/* Whether tickets are batched at all. */
bool cl_batcher_enabled (const cl_batcher_t *b);

/* Queues e (borrowed, see the ownership note above) for the next batched
 * call. The call goes out as soon as TRIAGE_LLM_BATCH entries wait, or when
 * the window ends. */
void cl_batcher_add (cl_batcher_t *b, cl_batch_entry_t *e);

/* Whether e waits in the batcher's queue. */
bool cl_batch_entry_waiting (const cl_batch_entry_t *e);

/* Whether e is part of a batched call in flight. */
bool cl_batch_entry_in_call (const cl_batch_entry_t *e);

/* Takes e (its ticket abandoned) out of its call in flight; the call is
 * cancelled once no entry is left waiting for it. No hook is called for e
 * afterwards. */
void cl_batch_entry_detach (cl_batch_entry_t *e);

/* Sends nothing more from now on (the consumer is closing); what waits
 * stays until cl_batcher_pop takes it. */
void cl_batcher_hold (cl_batcher_t *b);

/* Removes and returns the oldest waiting entry, or NULL; no hook is
 * called. For the shutdown, which drops whatever waits. */
cl_batch_entry_t *cl_batcher_pop (cl_batcher_t *b);

/* Closes the batcher's timer, then calls closed(user_data). Called once, at
 * shutdown, with nothing waiting and no call in flight. */
void cl_batcher_close (cl_batcher_t *b, void (*closed) (void *user_data), void *user_data);

/* Frees the batcher after cl_batcher_close has called back. Accepts NULL. */
void cl_batcher_destroy (cl_batcher_t *b);

#endif
