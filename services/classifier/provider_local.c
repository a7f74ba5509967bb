/* provider_local.c - the built-in model as a provider.
 *
 * The model's own work runs on libuv's thread pool (uv_queue_work), never on
 * the loop thread: the naive-Bayes model takes microseconds, but the
 * sentence-encoder modes take up to tens of milliseconds per ticket. The
 * model is immutable after loading, so any number of pool threads classify
 * with it at once. The answer comes back on the loop thread in the work's
 * after-callback, which keeps the asynchronous contract of provider.h. No
 * text leaves the process, so nothing is masked.
 *
 * A cancelled call may still be running on a pool thread: it is marked, its
 * callback is not called, and its memory is freed by the after-callback.
 * close() waits for every such call before it reports the provider closed. */
#include "provider.h"

#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct cl_local cl_local_t;

struct cl_call {
   uv_work_t req; /* first member: the request pattern of store_async.c */
   cl_local_t *l;
   cl_attempt_t a;
   cl_attempt_cb cb;
   void *user_data;
   char *subject, *body; /* copies: the input is borrowed for start only */
   bool cancelled;
   bool nomem;
   cl_call_t *prev, *next; /* in l's list of calls in flight */
};

struct cl_local {
   cl_provider_t base;
   tk_model_t *model;
   const tk_taxonomy_t *tax;
   uv_loop_t *loop;
   uv_idle_t idle;        /* only closed, so close() reports asynchronously */
   cl_call_t *head;       /* calls in flight */
   size_t n_in_flight;
   bool closing;
   void (*closed) (void *);
   void *closed_ud;
};

static void
unlink_call (cl_local_t *l, cl_call_t *c)
{
   if (c->prev) {
      c->prev->next = c->next;
   } else {
      l->head = c->next;
   }
   if (c->next) {
      c->next->prev = c->prev;
   }
   c->prev = c->next = NULL;
}

static void
call_free (cl_call_t *c)
{
   cl_attempt_cleanup (&c->a);
   free (c->subject);
   free (c->body);
   free (c);
}

static void
idle_closed (uv_handle_t *h)
{
   cl_local_t *l = h->data;
   if (l->closed) {
      l->closed (l->closed_ud);
   }
}

/* On a pool thread: the model only. */
static void
classify_work (uv_work_t *req)
{
   cl_call_t *c = (cl_call_t *) req;
   uint64_t t0 = uv_hrtime ();
   c->nomem = !tk_model_classify (c->l->model, c->subject, c->body, &c->a.c, &c->a.conf);
   c->a.latency_ms = (double) (uv_hrtime () - t0) / 1e6;
}

static void
classify_done (uv_work_t *req, int status)
{
   cl_call_t *c = (cl_call_t *) req;
   cl_local_t *l = c->l;
   unlink_call (l, c);
   l->n_in_flight--;
   if (!c->cancelled && status == 0) {
      tk_error_t err;
      if (c->nomem) {
         c->a.reason = "internal";
         c->a.retryable = true;
         snprintf (c->a.error, sizeof c->a.error, "out of memory in the built-in model");
      } else if (!tk_taxonomy_validate_classification (l->tax, &c->a.c, &err)) {
         /* A model trained on other labels than the configured taxonomy. */
         tk_classification_clear (&c->a.c);
         c->a.reason = "invalid_answer";
         snprintf (c->a.error, sizeof c->a.error, "built-in model: %.200s", err.message);
      } else {
         c->a.ok = true;
      }
      c->cb (&c->a, c->user_data);
   }
   call_free (c);
   if (l->closing && l->n_in_flight == 0 && !uv_is_closing ((uv_handle_t *) &l->idle)) {
      uv_close ((uv_handle_t *) &l->idle, idle_closed);
   }
}

static cl_call_t *
local_start (cl_provider_t *p, const cl_prompt_input_t *in, cl_attempt_cb cb, void *ud,
             tk_error_t *err)
{
   cl_local_t *l = (cl_local_t *) p;
   cl_call_t *c = calloc (1, sizeof *c);
   if (c) {
      c->subject = strdup (in->subject ? in->subject : "");
      c->body = strdup (in->body ? in->body : "");
   }
   if (!c || !c->subject || !c->body) {
      if (c) {
         call_free (c);
      }
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   c->l = l;
   c->cb = cb;
   c->user_data = ud;
   c->a.retry_after_ms = -1;
   int rc = uv_queue_work (l->loop, &c->req, classify_work, classify_done);
   if (rc != 0) {
      call_free (c);
      tk_error_set (err, TK_ERR_IO, rc, "cannot queue the built-in model's work: %s",
                    uv_strerror (rc));
      return NULL;
   }
   c->next = l->head;
   if (l->head) {
      l->head->prev = c;
   }
   l->head = c;
   l->n_in_flight++;
   return c;
}

static void
local_cancel (cl_provider_t *p, cl_call_t *c)
{
   (void) p;
   if (c) {
      /* Freed by classify_done, which may still be pending. */
      c->cancelled = true;
      uv_cancel ((uv_req_t *) &c->req);
   }
}

static void
local_close (cl_provider_t *p, void (*closed) (void *), void *ud)
{
   cl_local_t *l = (cl_local_t *) p;
   for (cl_call_t *c = l->head; c; c = c->next) {
      local_cancel (p, c);
   }
   l->closed = closed;
   l->closed_ud = ud;
   l->closing = true;
   if (l->n_in_flight == 0) {
      uv_close ((uv_handle_t *) &l->idle, idle_closed);
   }
}

static void
local_destroy (cl_provider_t *p)
{
   cl_local_t *l = (cl_local_t *) p;
   if (l) {
      tk_model_destroy (l->model);
      free (l);
   }
}

cl_provider_t *
cl_provider_local_new (uv_loop_t *loop, const tk_config_t *cfg, const tk_taxonomy_t *tax,
                       tk_error_t *err)
{
   char path[PATH_MAX + 64];
   if (cfg->model_path[0]) {
      snprintf (path, sizeof path, "%s", cfg->model_path);
   } else {
      char exe[PATH_MAX];
      size_t n = sizeof exe;
      if (uv_exepath (exe, &n) != 0) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_MODEL_PATH",
                             "cannot find the executable's directory; set TRIAGE_MODEL_PATH");
         return NULL;
      }
      char *slash = strrchr (exe, '/');
      if (slash) {
         *slash = '\0';
      }
      snprintf (path, sizeof path, "%s/../share/triage/model.bin", exe);
   }
   tk_error_t lerr;
   tk_model_t *model = tk_model_load_with (path, cfg->encoder_path, &lerr);
   if (!model) {
      tk_error_set_field (err, TK_ERR_CONFIG, lerr.code, "TRIAGE_MODEL_PATH",
                          "TRIAGE_MODEL_PATH: cannot load the built-in model: %s", lerr.message);
      return NULL;
   }
   cl_local_t *l = calloc (1, sizeof *l);
   if (!l) {
      tk_model_destroy (model);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   l->model = model;
   l->tax = tax;
   l->loop = loop;
   l->base.name = "local";
   l->base.remote = false;
   l->base.start = local_start;
   l->base.cancel = local_cancel;
   l->base.close = local_close;
   l->base.destroy = local_destroy;
   snprintf (l->base.model_version, sizeof l->base.model_version, "%s", tk_model_version (model));
   uv_idle_init (loop, &l->idle);
   l->idle.data = l;
   return &l->base;
}
