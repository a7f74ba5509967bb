/* provider_remote.c - one attempt against a remote LLM over HTTP. */
#include "provider_remote.h"

#include "backoff.h"
#include "llm_parse.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_call {
   cl_remote_t *r;
   cl_http_req_t *req;
   cl_attempt_cb cb;
   void *user_data;
};

void
cl_attempt_cleanup (cl_attempt_t *a)
{
   tk_classification_clear (&a->c);
   free (a->answer);
   a->answer = NULL;
}

static void
fail (cl_attempt_t *a, bool retryable, const char *reason, const char *prefix, const char *detail)
{
   a->ok = false;
   a->retryable = retryable;
   a->reason = reason;
   snprintf (a->error, sizeof a->error, "%s%s", prefix, detail);
}

static void
on_response (const cl_http_result_t *res, void *ud)
{
   cl_call_t *call = ud;
   cl_remote_t *r = call->r;
   cl_attempt_t a;
   memset (&a, 0, sizeof a);
   a.retry_after_ms = -1;
   a.http_status = res->status;
   a.latency_ms = res->total_ms;
   char detail[200];
   if (res->status == 0) {
      fail (&a, true, res->timed_out ? "timeout" : "network", "no response from the LLM: ",
            res->error);
   } else if (res->status < 200 || res->status > 299) {
      /* The provider's own error message helps whoever reads the DLQ. */
      snprintf (detail, sizeof detail, "HTTP %ld: %.150s", res->status, res->body);
      for (char *p = detail; *p; p++) {
         if (*p == '\n' || *p == '\r') {
            *p = ' ';
         }
      }
      if (res->status == 429 || res->status == 503) {
         fail (&a, true, res->status == 429 ? "http_429" : "http_5xx", "", detail);
         int64_t ms;
         if (res->retry_after && tk_retry_after_parse (res->retry_after, tk_time_now_ms (), &ms)) {
            a.retry_after_ms = ms;
         }
      } else if (res->status >= 500 || res->status == 408 || res->status == 409) {
         fail (&a, true, "http_5xx", "", detail);
      } else {
         /* 400, 401, 403, 404 ...: asking again will not help. */
         fail (&a, false, "http_4xx", "", detail);
      }
   } else {
      tk_error_t err;
      char *text = r->dialect->content (res->body, res->body_len, &err);
      if (!text) {
         fail (&a, true, "invalid_answer", "", err.message);
      } else if (!tk_llm_parse_answer (text, strlen (text), r->tax, &a.c, &a.conf, &err)) {
         fail (&a, true, "invalid_answer", "", err.message);
         a.invalid_answer = true;
         a.answer = text;
         text = NULL;
      } else {
         a.ok = true;
      }
      free (text);
   }
   cl_attempt_cb cb = call->cb;
   void *cb_ud = call->user_data;
   free (call);
   cb (&a, cb_ud);
   cl_attempt_cleanup (&a);
}

static cl_call_t *
remote_start (cl_provider_t *p, const cl_prompt_input_t *in, cl_attempt_cb cb, void *ud,
              tk_error_t *err)
{
   cl_remote_t *r = (cl_remote_t *) p;
   tk_buf_t url = TK_BUF_INIT, body = TK_BUF_INIT;
   cl_call_t *call = NULL;
   if (!r->dialect->build (r, in, &url, &body)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot build the request");
      goto done;
   }
   const char *headers[4] = {"Content-Type: application/json", "Accept: application/json",
                             r->auth_header, NULL};
   if (!(call = calloc (1, sizeof *call))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   call->r = r;
   call->cb = cb;
   call->user_data = ud;
   if (!(call->req = cl_http_post (r->http, url.data, headers, body.data, body.len,
                                   r->connect_timeout_ms, r->timeout_ms, on_response, call,
                                   err))) {
      free (call);
      call = NULL;
   }
done:
   tk_buf_destroy (&url);
   tk_buf_destroy (&body);
   return call;
}

static void
remote_cancel (cl_provider_t *p, cl_call_t *call)
{
   (void) p;
   if (call) {
      cl_http_cancel (call->req);
      free (call);
   }
}

static void
remote_destroy (cl_provider_t *p)
{
   cl_remote_t *r = (cl_remote_t *) p;
   if (!r) {
      return;
   }
   free (r->url);
   free (r->model);
   free (r->system);
   cJSON_Delete (r->schema);
   free (r->auth_header);
   free (r);
}

static char *
dup_str (const char *s)
{
   size_t n = strlen (s);
   char *d = malloc (n + 1);
   if (d) {
      memcpy (d, s, n + 1);
   }
   return d;
}

bool
cl_remote_init (cl_remote_t *r, const cl_dialect_t *dialect, const tk_config_t *cfg,
                const tk_taxonomy_t *tax, cl_http_t *http, const char *default_url,
                const char *default_model, const char *auth_prefix, bool gemini_schema,
                tk_error_t *err)
{
   r->base.name = dialect->name;
   r->base.remote = true;
   r->base.start = remote_start;
   r->base.cancel = remote_cancel;
   r->base.destroy = remote_destroy;
   r->dialect = dialect;
   r->tax = tax;
   r->http = http;
   r->connect_timeout_ms = cfg->llm_connect_timeout_ms;
   r->timeout_ms = cfg->llm_timeout_ms;
   const char *url = cfg->llm_url[0] ? cfg->llm_url : default_url;
   const char *model = cfg->llm_model[0] ? cfg->llm_model : default_model;
   if (strncmp (url, "http://", 7) != 0 && strncmp (url, "https://", 8) != 0) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_LLM_URL",
                          "TRIAGE_LLM_URL must start with http:// or https://, not \"%.100s\"",
                          url);
      return false;
   }
   if (!(r->url = dup_str (url)) || !(r->model = dup_str (model)) ||
       !(r->system = cl_prompt_system (tax)) || !(r->schema = cl_prompt_schema (tax, gemini_schema))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   size_t n = strlen (r->url);
   while (n > 0 && r->url[n - 1] == '/') {
      r->url[--n] = '\0';
   }
   if (cfg->llm_api_key[0]) {
      size_t len = strlen (auth_prefix) + strlen (cfg->llm_api_key) + 1;
      if (!(r->auth_header = malloc (len))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         return false;
      }
      snprintf (r->auth_header, len, "%s%s", auth_prefix, cfg->llm_api_key);
   }
   snprintf (r->base.model_version, sizeof r->base.model_version, "%s", model);
   return true;
}
