/* provider_remote.h - what openai and gemini share: one HTTP POST per
 * attempt through curl_uv, the status-code policy, and answer validation.
 * Each wire format is a dialect: how to build the request and where the
 * model's text is in the response. */
#ifndef CL_PROVIDER_REMOTE_H
#define CL_PROVIDER_REMOTE_H

#include "buf.h"
#include "provider.h"

typedef struct cl_remote cl_remote_t;

/* What one request says, for a dialect to lay out in its wire format.
 * Borrowed for the fill call. */
typedef struct {
   const char *user;          /* the user message: one ticket, or a batch */
   const char *repair_answer; /* NULL, or the model's previous answer ... */
   const char *repair;        /* ... and the repair message quoting its error */
   bool batch;                /* several tickets: a batch answer is asked for */
   const struct cJSON *schema; /* the answer's schema (borrowed; duplicate it) */
} cl_remote_request_t;

typedef struct {
   const char *name;
   const char *default_url;   /* when TRIAGE_LLM_URL is empty */
   const char *default_model; /* when TRIAGE_LLM_MODEL is empty */
   const char *auth_prefix;   /* the header the API key is sent in, up to the key */
   bool gemini_schema;        /* the schemas in Gemini's dialect (cl_prompt_schema) */
   /* Fills req (an empty JSON object) with the request for m; the system
    * prompt is r->system. */
   void (*fill) (const cl_remote_t *r, struct cJSON *req, const cl_remote_request_t *m);
   /* Appends the endpoint's URL to url; false if out of memory. */
   bool (*url) (const cl_remote_t *r, tk_buf_t *url);
   /* The model's text inside a 2xx response body; caller frees. */
   char *(*content) (const char *body, size_t len, tk_error_t *err);
} cl_dialect_t;

struct cl_remote {
   cl_provider_t base;
   const cl_dialect_t *dialect;
   const tk_taxonomy_t *tax;
   tk_curl_uv_t *http;
   char *url;      /* base URL, without a trailing slash */
   char *model;
   char *system;   /* the system prompt */
   struct cJSON *schema;
   struct cJSON *batch_schema;
   char *auth_header; /* "Authorization: Bearer ..." or "x-goog-api-key: ..." or NULL */
   int64_t connect_timeout_ms;
   int64_t timeout_ms;
};

/* A remote provider speaking dialect (borrowed, static), configured from
 * cfg, asking through http (borrowed) with labels from tax (borrowed).
 * Freed with its destroy. NULL with err. */
cl_provider_t *cl_remote_new (const cl_dialect_t *dialect, const tk_config_t *cfg,
                              const tk_taxonomy_t *tax, tk_curl_uv_t *http, tk_error_t *err);

#endif
