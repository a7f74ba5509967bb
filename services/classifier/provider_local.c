/* provider_local.c - the built-in model as a provider.
 *
 * Classifying with the model takes microseconds of CPU, so it runs on the
 * loop thread; the answer is delivered from a uv_idle callback on the next
 * loop iteration so callers see the same asynchronous contract as with a
 * remote provider. No text leaves the process, so nothing is masked. */
#include "provider.h"

#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cl_call {
   cl_attempt_t a;
   cl_attempt_cb cb;
   void *user_data;
   cl_call_t *prev, *next;
};

typedef struct {
   cl_provider_t base;
   tk_model_t *model;
   const tk_taxonomy_t *tax;
   uv_idle_t idle;
   cl_call_t *head, *tail; /* answered, waiting for delivery */
   void (*closed) (void *);
   void *closed_ud;
} cl_local_t;

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
   } else {
      l->tail = c->prev;
   }
   c->prev = c->next = NULL;
}

static void
on_idle (uv_idle_t *h)
{
   cl_local_t *l = h->data;
   /* Deliver only what is queued now; answers queued by the callbacks wait
    * for the next iteration. */
   cl_call_t *last = l->tail;
   while (l->head) {
      cl_call_t *c = l->head;
      unlink_call (l, c);
      bool was_last = c == last;
      c->cb (&c->a, c->user_data);
      cl_attempt_cleanup (&c->a);
      free (c);
      if (was_last) {
         break;
      }
   }
   if (!l->head) {
      uv_idle_stop (&l->idle);
   }
}

static cl_call_t *
local_start (cl_provider_t *p, const cl_prompt_input_t *in, cl_attempt_cb cb, void *ud,
             tk_error_t *err)
{
   cl_local_t *l = (cl_local_t *) p;
   cl_call_t *c = calloc (1, sizeof *c);
   if (!c) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   c->cb = cb;
   c->user_data = ud;
   c->a.retry_after_ms = -1;
   uint64_t t0 = uv_hrtime ();
   if (!tk_model_classify (l->model, in->subject, in->body, &c->a.c, &c->a.conf)) {
      c->a.reason = "internal";
      c->a.retryable = true;
      snprintf (c->a.error, sizeof c->a.error, "out of memory in the built-in model");
   } else if (!tk_taxonomy_validate_classification (l->tax, &c->a.c, err)) {
      /* A model trained on other labels than the configured taxonomy. */
      tk_classification_clear (&c->a.c);
      c->a.reason = "invalid_answer";
      snprintf (c->a.error, sizeof c->a.error, "built-in model: %.200s", err->message);
   } else {
      c->a.ok = true;
   }
   c->a.latency_ms = (double) (uv_hrtime () - t0) / 1e6;
   c->prev = l->tail;
   if (l->tail) {
      l->tail->next = c;
   } else {
      l->head = c;
   }
   l->tail = c;
   uv_idle_start (&l->idle, on_idle);
   return c;
}

static void
local_cancel (cl_provider_t *p, cl_call_t *c)
{
   if (c) {
      unlink_call ((cl_local_t *) p, c);
      cl_attempt_cleanup (&c->a);
      free (c);
   }
}

static void
idle_closed (uv_handle_t *h)
{
   cl_local_t *l = h->data;
   if (l->closed) {
      l->closed (l->closed_ud);
   }
}

static void
local_close (cl_provider_t *p, void (*closed) (void *), void *ud)
{
   cl_local_t *l = (cl_local_t *) p;
   while (l->head) {
      local_cancel (p, l->head);
   }
   l->closed = closed;
   l->closed_ud = ud;
   uv_close ((uv_handle_t *) &l->idle, idle_closed);
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
   tk_model_t *model = tk_model_load (path, &lerr);
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
