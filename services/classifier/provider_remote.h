/* provider_remote.h - what openai and gemini share: one HTTP POST per
 * attempt through llm_http, the status-code policy, and answer validation.
 * Each wire format is a dialect: how to build the request and where the
 * model's text is in the response. */
#ifndef CL_PROVIDER_REMOTE_H
#define CL_PROVIDER_REMOTE_H

#include "buf.h"
#include "provider.h"

typedef struct cl_remote cl_remote_t;

typedef struct {
   const char *name;
   /* Fills url and body (JSON) for one attempt about in[0..n): n == 1 asks
    * about one ticket (with in->repair_* if set), n > 1 is a batch (the
    * batch user message and batch_schema). */
   bool (*build) (const cl_remote_t *r, const cl_prompt_input_t *in, size_t n, tk_buf_t *url,
                  tk_buf_t *body);
   /* The model's text inside a 2xx response body; caller frees. */
   char *(*content) (const char *body, size_t len, tk_error_t *err);
} cl_dialect_t;

struct cl_remote {
   cl_provider_t base;
   const cl_dialect_t *dialect;
   const tk_taxonomy_t *tax;
   cl_http_t *http;
   char *url;      /* base URL, without a trailing slash */
   char *model;
   char *system;   /* the system prompt */
   struct cJSON *schema;
   struct cJSON *batch_schema;
   char *auth_header; /* "Authorization: Bearer ..." or "x-goog-api-key: ..." or NULL */
   int64_t connect_timeout_ms;
   int64_t timeout_ms;
};

/* Fills the shared parts of r (allocated by the caller, zeroed). */
bool cl_remote_init (cl_remote_t *r, const cl_dialect_t *dialect, const tk_config_t *cfg,
                     const tk_taxonomy_t *tax, cl_http_t *http, const char *default_url,
                     const char *default_model, const char *auth_prefix, bool gemini_schema,
                     tk_error_t *err);

#endif
