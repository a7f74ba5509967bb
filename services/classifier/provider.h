/* provider.h - the classifier back ends behind one interface.
 *
 * A provider classifies one ticket per attempt. Remote providers (openai,
 * gemini) make one HTTP call per attempt on the loop and answer through a
 * callback; the worker owns retries, backoff, rate limits and the circuit
 * breaker, so a provider only knows how to ask once and how to read the
 * answer. The built-in model (`local`) plugs in here too, answering at once.
 */
#ifndef CL_PROVIDER_H
#define CL_PROVIDER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "curl_uv.h"
#include "taxonomy.h"
#include "ticket.h"

/* What one attempt is asked. Strings are borrowed for the start call only. */
typedef struct {
   const char *id;
   const char *subject;        /* already masked for a remote provider */
   const char *body;
   const char *repair_answer;  /* NULL, or the previous answer that failed validation */
   const char *repair_error;   /* why it failed, quoted back to the model */
} cl_prompt_input_t;

/* The outcome of one attempt, passed to the callback; the callee may move
 * c out (then zero it) and take answer (then set it NULL). */
typedef struct {
   bool ok;
   tk_classification_t c;   /* ok: validated, canonical labels */
   tk_confidence_t conf;
   bool retryable;          /* !ok: worth another attempt */
   bool invalid_answer;     /* !ok: the model answered, but not validly */
   const char *reason;      /* !ok: static: "http_429", "http_5xx", "http_4xx",
                               "timeout", "network", "invalid_answer" */
   int64_t retry_after_ms;  /* -1 unless the provider asked (429/503) */
   long http_status;
   char *answer;            /* invalid_answer: the model's text (owned) */
   char error[256];         /* !ok: one sentence */
   double latency_ms;       /* time of the provider call */
   uint64_t cpu_us;         /* CPU time of this call's share of the provider's own
                               work in this process (the built-in model); 0 for
                               remote calls */
} cl_attempt_t;

typedef void (*cl_attempt_cb) (cl_attempt_t *a, void *user_data);

/* Most tickets one batched call may carry (TRIAGE_LLM_BATCH's maximum). */
#define CL_BATCH_MAX 20

/* The outcome of a batched call: a[i] is the attempt of the call's i-th
 * ticket (same contract as cl_attempt_cb for each). When the call failed
 * as a whole, every a[i] carries the same failure. */
typedef void (*cl_batch_cb) (cl_attempt_t *a, size_t n, void *user_data);

typedef struct cl_provider cl_provider_t;
typedef struct cl_call cl_call_t; /* one attempt in flight */

struct cl_provider {
   const char *name;        /* "openai", "gemini", "local" */
   char model_version[160]; /* stored in processing_metadata.model_version */
   bool remote;             /* text leaves the process: mask PII first */

   /* Starts an attempt; cb runs later on the loop thread (never inside this
    * call) unless cancelled. Returns the call, or NULL with err. */
   cl_call_t *(*start) (cl_provider_t *p, const cl_prompt_input_t *in, cl_attempt_cb cb,
                        void *user_data, tk_error_t *err);
   /* Optional (NULL: one ticket per call): asks about n tickets (2 ..
    * CL_BATCH_MAX, no repair) in one call, answers matched back by id; cb
    * runs later on the loop thread, unless cancelled. A ticket whose own
    * answer is missing or invalid fails alone (invalid_answer). Returns the
    * call (cancelled with cancel), or NULL with err. */
   cl_call_t *(*start_batch) (cl_provider_t *p, const cl_prompt_input_t *in, size_t n,
                              cl_batch_cb cb, void *user_data, tk_error_t *err);
   /* Cancels a call; its callback is not called. */
   void (*cancel) (cl_provider_t *p, cl_call_t *call);
   /* Optional (NULL if none): closes the provider's loop handles, then
    * calls closed(user_data). Called once, at shutdown, with no call in
    * flight. */
   void (*close) (cl_provider_t *p, void (*closed) (void *user_data), void *user_data);
   void (*destroy) (cl_provider_t *p);
};

/* A remote provider (TRIAGE_LLM_PROVIDER openai or gemini) from cfg, asking
 * through http (borrowed) with labels from tax (borrowed). NULL with err. */
cl_provider_t *cl_provider_openai_new (const tk_config_t *cfg, const tk_taxonomy_t *tax,
                                       tk_curl_uv_t *http, tk_error_t *err);
cl_provider_t *cl_provider_gemini_new (const tk_config_t *cfg, const tk_taxonomy_t *tax,
                                       tk_curl_uv_t *http, tk_error_t *err);

/* The built-in model (TRIAGE_LLM_PROVIDER=local), loaded from
 * cfg->model_path, or <exe dir>/../share/triage/model.bin when that is empty.
 * Answers on the next loop iteration. NULL with err (naming
 * TRIAGE_MODEL_PATH) if the model cannot be loaded. */
cl_provider_t *cl_provider_local_new (uv_loop_t *loop, const tk_config_t *cfg,
                                      const tk_taxonomy_t *tax, tk_error_t *err);

/* Frees the attempt's owned parts (c, answer). */
void cl_attempt_cleanup (cl_attempt_t *a);

/* ---- prompt pieces shared by the remote providers (prompt.c) ---- */

/* The system instructions: the task, each list with its labels and their
 * descriptions, and the JSON shape to answer with. Caller frees. */
char *cl_prompt_system (const tk_taxonomy_t *tax);

/* The user message for a ticket. Caller frees. */
char *cl_prompt_user (const cl_prompt_input_t *in);

/* The user message for n tickets asked about at once: how to answer
 * (one "answers" entry per ticket, with its id) and the tickets as a JSON
 * array of {"id","subject","body"}. Caller frees. */
char *cl_prompt_batch_user (const cl_prompt_input_t *in, size_t n);

/* The repair message quoting the validation error. Caller frees. */
char *cl_prompt_repair (const cl_prompt_input_t *in);

/* A JSON schema of the answer with the labels as enums: OpenAI's dialect
 * (lower-case types, additionalProperties false) when gemini is false,
 * Gemini's OpenAPI subset otherwise. Caller frees with cJSON_Delete. */
struct cJSON *cl_prompt_schema (const tk_taxonomy_t *tax, bool gemini);

/* The schema of a batch answer: {"answers": [answer + "id"]}, in the same
 * dialects. Caller frees with cJSON_Delete. */
struct cJSON *cl_prompt_batch_schema (const tk_taxonomy_t *tax, bool gemini);

#endif
