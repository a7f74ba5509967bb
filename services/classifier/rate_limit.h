/* rate_limit.h - client-side limits on LLM requests and tokens per minute,
 * so a fleet of workers stays under the provider's quota (each worker gets
 * its share through its own TRIAGE_LLM_RPM / TRIAGE_LLM_TPM). */
#ifndef CL_RATE_LIMIT_H
#define CL_RATE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token_bucket.h"

typedef struct {
   bool limit_requests, limit_tokens;
   tk_token_bucket_t requests;
   tk_token_bucket_t tokens;
} cl_rate_limit_t;

/* rpm / tpm of 0 mean no limit. Bursts are at most a second's worth. */
void cl_rate_limit_init (cl_rate_limit_t *rl, int rpm, int tpm, int64_t now_ms);

/* Takes one request and `tokens` tokens and returns 0, or takes nothing and
 * returns the milliseconds to wait before asking again. */
int64_t cl_rate_limit_take (cl_rate_limit_t *rl, size_t tokens, int64_t now_ms);

#endif
