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
   tk_curl_uv_req_t *req;
   cl_attempt_cb cb;        /* one ticket */
   cl_batch_cb batch_cb;    /* a batch */
   void *user_data;
   size_t n;                /* tickets asked about */
   char *ids[CL_BATCH_MAX]; /* a batch's ids (owned), to match the answers */
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
call_free (cl_call_t *call)
{
   for (size_t i = 0; i < call->n; i++) {
      free (call->ids[i]);
   }
   free (call);
}

/* The status-code policy: fills a for a response that is not a 2xx (or no
 * response at all); false for a 2xx, whose answer the caller reads. */
static bool
http_failure (const tk_curl_uv_result_t *res, cl_attempt_t *a)
{
   char detail[200];
   if (res->status == 0) {
      fail (a, true, res->timed_out ? "timeout" : "network", "no response from the LLM: ",
            res->error);
      return true;
   }
   if (res->status >= 200 && res->status <= 299) {
      return false;
   }
   /* The provider's own error message helps whoever reads the DLQ. */
   snprintf (detail, sizeof detail, "HTTP %ld: %.150s", res->status, res->body);
   for (char *p = detail; *p; p++) {
      if (*p == '\n' || *p == '\r') {
         *p = ' ';
      }
   }
   if (res->status == 429 || res->status == 503) {
      fail (a, true, res->status == 429 ? "http_429" : "http_5xx", "", detail);
      int64_t ms;
      if (res->retry_after && tk_retry_after_parse (res->retry_after, tk_time_now_ms (), &ms)) {
         a->retry_after_ms = ms;
      }
   } else if (res->status >= 500 || res->status == 408 || res->status == 409) {
      fail (a, true, "http_5xx", "", detail);
   } else {
      /* 400, 401, 403, 404 ...: asking again will not help. */
      fail (a, false, "http_4xx", "", detail);
   }
   return true;
}

/* One ticket's answer (the model's text, taken). */
static void
read_single (cl_remote_t *r, char *text, cl_attempt_t *a)
{
   tk_error_t err;
   if (!tk_llm_parse_answer (text, strlen (text), r->tax, &a->c, &a->conf, &err)) {
      fail (a, true, "invalid_answer", "", err.message);
      a->invalid_answer = true;
      a->answer = text;
      return;
   }
   a->ok = true;
   free (text);
}

/* A batch's answer (the model's text, borrowed) into a[0..call->n). */
static void
read_batch (cl_call_t *call, const char *text, cl_attempt_t *a)
{
   tk_llm_batch_item_t items[CL_BATCH_MAX];
   tk_error_t err;
   if (!tk_llm_parse_batch_answer (text, strlen (text), call->r->tax,
                                   (const char *const *) call->ids, call->n, items, &err)) {
      /* Unusable as a whole: every ticket failed alike, and a repair is
       * asked per ticket, alone. */
      for (size_t i = 0; i < call->n; i++) {
         fail (&a[i], true, "invalid_answer", "", err.message);
         a[i].invalid_answer = true;
      }
      return;
   }
   for (size_t i = 0; i < call->n; i++) {
      if (items[i].ok) {
         a[i].ok = true;
         a[i].c = items[i].c;
         memset (&items[i].c, 0, sizeof items[i].c);
         a[i].conf = items[i].conf;
      } else {
         fail (&a[i], true, "invalid_answer", "", items[i].err.message);
         a[i].invalid_answer = true;
         a[i].answer = items[i].answer; /* NULL when the entry was missing */
         items[i].answer = NULL;
      }
   }
   tk_llm_batch_items_cleanup (items, call->n);
}

static void
on_response (tk_curl_uv_result_t *res, void *ud)
{
   cl_call_t *call = ud;
   cl_remote_t *r = call->r;
   size_t n = call->n ? call->n : 1;
   cl_attempt_t a[CL_BATCH_MAX];
   memset (a, 0, n * sizeof a[0]);
   for (size_t i = 0; i < n; i++) {
      a[i].retry_after_ms = -1;
      a[i].http_status = res->status;
      a[i].latency_ms = res->total_ms;
   }
   if (http_failure (res, &a[0])) {
      for (size_t i = 1; i < n; i++) {
         a[i] = a[0];
      }
   } else {
      tk_error_t err;
      char *text = r->dialect->content (res->body, res->body_len, &err);
      if (!text) {
         for (size_t i = 0; i < n; i++) {
            fail (&a[i], true, "invalid_answer", "", err.message);
         }
      } else if (call->n) {
         read_batch (call, text, a);
         free (text);
      } else {
         read_single (r, text, &a[0]);
      }
   }
   cl_attempt_cb cb = call->cb;
   cl_batch_cb batch_cb = call->batch_cb;
   void *cb_ud = call->user_data;
   call_free (call);
   if (batch_cb) {
      batch_cb (a, n, cb_ud);
   } else {
      cb (&a[0], cb_ud);
   }
   for (size_t i = 0; i < n; i++) {
      cl_attempt_cleanup (&a[i]);
   }
}

/* Fills url and body (JSON) for one attempt about in[0..n): n == 1 asks
 * about one ticket (with in->repair_* if set), n > 1 is a batch (the batch
 * user message and batch_schema). The dialect lays the request out. */
static bool
remote_build (const cl_remote_t *r, const cl_prompt_input_t *in, size_t n, tk_buf_t *url,
              tk_buf_t *body)
{
   bool ok = false;
   char *user = n > 1 ? cl_prompt_batch_user (in, n) : cl_prompt_user (in);
   char *repair = in->repair_answer ? cl_prompt_repair (in) : NULL;
   char *text = NULL;
   cJSON *req = cJSON_CreateObject ();
   if (!user || (in->repair_answer && !repair) || !req) {
      goto done;
   }
   cl_remote_request_t m = {
      .user = user,
      .repair_answer = in->repair_answer,
      .repair = repair,
      .batch = n > 1,
      .schema = n > 1 ? r->batch_schema : r->schema,
   };
   r->dialect->fill (r, req, &m);
   if (!(text = cJSON_PrintUnformatted (req))) {
      goto done;
   }
   ok = r->dialect->url (r, url) && tk_buf_append_str (body, text);
done:
   free (user);
   free (repair);
   free (text);
   cJSON_Delete (req);
   return ok;
}

/* Starts the HTTP call for in[0..n); call is filled but for req. */
static cl_call_t *
remote_post (cl_remote_t *r, cl_call_t *call, const cl_prompt_input_t *in, size_t n,
             tk_error_t *err)
{
   tk_buf_t url = TK_BUF_INIT, body = TK_BUF_INIT;
   if (!remote_build (r, in, n, &url, &body)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot build the request");
      call_free (call);
      call = NULL;
      goto done;
   }
   const char *headers[4] = {"Content-Type: application/json", "Accept: application/json",
                             r->auth_header, NULL};
   tk_curl_uv_post_t post = {
      .url = url.data,
      .headers = headers,
      .body = body.data,
      .body_len = body.len,
      .connect_timeout_ms = r->connect_timeout_ms,
      .timeout_ms = r->timeout_ms,
      .response_max = TK_LLM_RESPONSE_MAX,
      .decompress = true,
   };
   if (!(call->req = tk_curl_uv_post (r->http, &post, on_response, call, err))) {
      call_free (call);
      call = NULL;
   }
done:
   tk_buf_destroy (&url);
   tk_buf_destroy (&body);
   return call;
}

static cl_call_t *
remote_start (cl_provider_t *p, const cl_prompt_input_t *in, cl_attempt_cb cb, void *ud,
              tk_error_t *err)
{
   cl_remote_t *r = (cl_remote_t *) p;
   cl_call_t *call = calloc (1, sizeof *call);
   if (!call) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   call->r = r;
   call->cb = cb;
   call->user_data = ud;
   return remote_post (r, call, in, 1, err);
}

static cl_call_t *
remote_start_batch (cl_provider_t *p, const cl_prompt_input_t *in, size_t n, cl_batch_cb cb,
                    void *ud, tk_error_t *err)
{
   cl_remote_t *r = (cl_remote_t *) p;
   if (n < 2 || n > CL_BATCH_MAX) {
      tk_error_set (err, TK_ERR_INVALID, 0, "a batch has 2 to %d tickets, not %zu", CL_BATCH_MAX,
                    n);
      return NULL;
   }
   cl_call_t *call = calloc (1, sizeof *call);
   if (!call) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   call->r = r;
   call->batch_cb = cb;
   call->user_data = ud;
   for (size_t i = 0; i < n; i++) {
      if (!(call->ids[call->n] = strdup (in[i].id))) {
         call_free (call);
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         return NULL;
      }
      call->n++;
   }
   return remote_post (r, call, in, n, err);
}

static void
remote_cancel (cl_provider_t *p, cl_call_t *call)
{
   (void) p;
   if (call) {
      tk_curl_uv_cancel (call->req);
      call_free (call);
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
   cJSON_Delete (r->batch_schema);
   free (r->auth_header);
   free (r);
}

/* Fills r (zeroed) for dialect; false with err. */
static bool
remote_init (cl_remote_t *r, const cl_dialect_t *dialect, const tk_config_t *cfg,
             const tk_taxonomy_t *tax, tk_curl_uv_t *http, tk_error_t *err)
{
   const char *default_url = dialect->default_url;
   const char *default_model = dialect->default_model;
   const char *auth_prefix = dialect->auth_prefix;
   bool gemini_schema = dialect->gemini_schema;
   r->base.name = dialect->name;
   r->base.remote = true;
   r->base.start = remote_start;
   r->base.start_batch = remote_start_batch;
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
   if (!(r->url = strdup (url)) || !(r->model = strdup (model)) ||
       !(r->system = cl_prompt_system (tax)) || !(r->schema = cl_prompt_schema (tax, gemini_schema)) ||
       !(r->batch_schema = cl_prompt_batch_schema (tax, gemini_schema))) {
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

cl_provider_t *
cl_remote_new (const cl_dialect_t *dialect, const tk_config_t *cfg, const tk_taxonomy_t *tax,
               tk_curl_uv_t *http, tk_error_t *err)
{
   cl_remote_t *r = calloc (1, sizeof *r);
   if (!r) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   if (!remote_init (r, dialect, cfg, tax, http, err)) {
      remote_destroy (&r->base);
      return NULL;
   }
   return &r->base;
}
