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
 * Adaptive batching: start() appends the call to a FIFO of pending calls.
 * While fewer than max_works batch works run, one is started that takes up
 * to LOCAL_BATCH_MAX pending calls and classifies them with one
 * tk_model_classify_many; its after-callback (loop thread) answers each of
 * them, then starts the next work if calls are pending. At low load a call
 * is taken at once, alone (no added latency); under load the calls that
 * arrive while the works run wait together and form the next batches, which
 * the encoder mode runs in one ragged forward pass (common/encoder.h: the
 * weights are packed once per pass, not once per ticket). Each call's
 * latency_ms is the time of its batch's work.
 *
 * max_works is uv_available_parallelism() capped at LOCAL_WORKS_MAX (3):
 * the work is all CPU, so a work per core keeps every core busy and more
 * would only share the cores and shrink the batches; the cap keeps one of
 * libuv's default four pool threads free for the blocking store calls of
 * store_async.h, which share the pool.
 *
 * Cancelling: a pending call (not yet taken by a work) is unlinked and freed
 * at once, its callback never called. A call inside a running work is only
 * marked; the work's after-callback frees it without calling its callback
 * (a work whose every call is cancelled is also uv_cancel'ed, which stops it
 * if it has not started). close() cancels every call and reports the
 * provider closed once no work is left running. */
#include "provider.h"

#include "model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The most calls one work classifies at once. */
#define LOCAL_BATCH_MAX 16
/* The most batch works running at once (and at most the cores). */
#define LOCAL_WORKS_MAX 3

typedef struct cl_local cl_local_t;
typedef struct local_work local_work_t;

struct cl_call {
   cl_local_t *l;
   local_work_t *work; /* the work that took it; NULL while pending */
   cl_attempt_t a;
   cl_attempt_cb cb;
   void *user_data;
   char *subject, *body; /* copies: the input is borrowed for start only */
   bool cancelled;
   cl_call_t *prev, *next; /* in l's list of pending calls */
};

/* One batch on the thread pool; the pool thread touches only the model,
 * subjects, bodies, c, conf, nomem and latency_ms. */
struct local_work {
   uv_work_t req; /* first member: the request pattern of store_async.c */
   cl_local_t *l;
   size_t n, n_live; /* calls taken; of them, not cancelled */
   cl_call_t *calls[LOCAL_BATCH_MAX];
   const char *subjects[LOCAL_BATCH_MAX], *bodies[LOCAL_BATCH_MAX];
   tk_classification_t c[LOCAL_BATCH_MAX];
   tk_confidence_t conf[LOCAL_BATCH_MAX];
   bool nomem;
   double latency_ms;
   uint64_t cpu_us; /* the pool thread's CPU time for the batch */
   local_work_t *prev, *next; /* in l's list of running works */
};

struct cl_local {
   cl_provider_t base;
   tk_model_t *model;
   const tk_taxonomy_t *tax;
   uv_loop_t *loop;
   uv_idle_t idle;         /* only closed, so close() reports asynchronously */
   cl_call_t *head, *tail; /* pending calls, oldest first */
   local_work_t *works;    /* batch works queued or running */
   size_t n_running;
   size_t max_works;
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
   } else {
      l->tail = c->prev;
   }
   c->prev = c->next = NULL;
}

static void
unlink_work (cl_local_t *l, local_work_t *w)
{
   if (w->prev) {
      w->prev->next = w->next;
   } else {
      l->works = w->next;
   }
   if (w->next) {
      w->next->prev = w->prev;
   }
   l->n_running--;
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
   local_work_t *w = (local_work_t *) req;
   uint64_t t0 = uv_hrtime ();
   struct timespec c0, c1;
   bool timed = clock_gettime (CLOCK_THREAD_CPUTIME_ID, &c0) == 0;
   w->nomem = !tk_model_classify_many (w->l->model, w->subjects, w->bodies, w->n, w->c, w->conf);
   w->latency_ms = (double) (uv_hrtime () - t0) / 1e6;
   if (timed && clock_gettime (CLOCK_THREAD_CPUTIME_ID, &c1) == 0) {
      int64_t ns = (int64_t) (c1.tv_sec - c0.tv_sec) * 1000000000 + (c1.tv_nsec - c0.tv_nsec);
      w->cpu_us = ns > 0 ? (uint64_t) ns / 1000 : 0;
   }
}

/* The answer of the i-th call of a finished work, into its attempt. */
static void
answer (cl_local_t *l, local_work_t *w, size_t i, int status)
{
   cl_attempt_t *a = &w->calls[i]->a;
   tk_error_t err;
   a->latency_ms = w->latency_ms;
   a->cpu_us = w->cpu_us / w->n;
   if (status != 0 || w->nomem) {
      a->reason = "internal";
      a->retryable = true;
      snprintf (a->error, sizeof a->error, "%s in the built-in model",
                status != 0 ? uv_strerror (status) : "out of memory");
   } else if (!tk_taxonomy_validate_classification (l->tax, &w->c[i], &err)) {
      /* A model trained on other labels than the configured taxonomy. */
      a->reason = "invalid_answer";
      snprintf (a->error, sizeof a->error, "built-in model: %.200s", err.message);
   } else {
      a->c = w->c[i]; /* moved */
      memset (&w->c[i], 0, sizeof w->c[i]);
      a->conf = w->conf[i];
      a->ok = true;
   }
}

static int start_works (cl_local_t *l);

static void
classify_done (uv_work_t *req, int status)
{
   local_work_t *w = (local_work_t *) req;
   cl_local_t *l = w->l;
   /* w stays listed while its calls are answered: a callback that closes
    * the provider then cancels the calls of w not yet answered. */
   for (size_t i = 0; i < w->n; i++) {
      cl_call_t *c = w->calls[i];
      if (!c->cancelled) {
         answer (l, w, i, status);
         c->cb (&c->a, c->user_data);
      }
      tk_classification_clear (&w->c[i]);
      call_free (c);
      w->calls[i] = NULL;
   }
   unlink_work (l, w);
   free (w);
   if (start_works (l) != 0 && l->n_running == 0) {
      /* No work left to start them later: answer them now (out of memory). */
      while (l->head) {
         cl_call_t *c = l->head;
         unlink_call (l, c);
         c->a.reason = "internal";
         c->a.retryable = true;
         snprintf (c->a.error, sizeof c->a.error, "out of memory in the built-in model");
         c->cb (&c->a, c->user_data);
         call_free (c);
      }
   }
   if (l->closing && l->n_running == 0 && !uv_is_closing ((uv_handle_t *) &l->idle)) {
      uv_close ((uv_handle_t *) &l->idle, idle_closed);
   }
}

/* Starts batch works while calls are pending and fewer than max_works run.
 * Returns 0, or a libuv error if a work cannot be queued (never with a
 * valid loop: uv_queue_work fails only without a work callback); its calls
 * are then back at the head of the pending list, in order. */
static int
start_works (cl_local_t *l)
{
   while (l->head && l->n_running < l->max_works && !l->closing) {
      local_work_t *w = calloc (1, sizeof *w);
      if (!w) {
         return UV_ENOMEM; /* the calls stay pending until a work finishes */
      }
      w->l = l;
      while (l->head && w->n < LOCAL_BATCH_MAX) {
         cl_call_t *c = l->head;
         unlink_call (l, c);
         c->work = w;
         w->calls[w->n] = c;
         w->subjects[w->n] = c->subject;
         w->bodies[w->n] = c->body;
         w->n++;
      }
      w->n_live = w->n;
      int rc = uv_queue_work (l->loop, &w->req, classify_work, classify_done);
      if (rc != 0) {
         for (size_t i = w->n; i-- > 0;) { /* back to the head, in order */
            cl_call_t *c = w->calls[i];
            c->work = NULL;
            c->next = l->head;
            if (l->head) {
               l->head->prev = c;
            } else {
               l->tail = c;
            }
            l->head = c;
         }
         free (w);
         return rc;
      }
      w->next = l->works;
      if (l->works) {
         l->works->prev = w;
      }
      l->works = w;
      l->n_running++;
   }
   return 0;
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
   c->prev = l->tail;
   if (l->tail) {
      l->tail->next = c;
   } else {
      l->head = c;
   }
   l->tail = c;
   int rc = start_works (l);
   if (rc != 0 && !c->work) {
      unlink_call (l, c);
      call_free (c);
      tk_error_set (err, TK_ERR_IO, rc, "cannot queue the built-in model's work: %s",
                    uv_strerror (rc));
      return NULL;
   }
   return c;
}

static void
local_cancel (cl_provider_t *p, cl_call_t *c)
{
   cl_local_t *l = (cl_local_t *) p;
   if (!c || c->cancelled) {
      return;
   }
   c->cancelled = true;
   if (!c->work) { /* still pending: nothing else points to it */
      unlink_call (l, c);
      call_free (c);
   } else if (--c->work->n_live == 0) {
      /* Freed by classify_done, which runs even if this succeeds. */
      uv_cancel ((uv_req_t *) &c->work->req);
   }
}
static void
local_close (cl_provider_t *p, void (*closed) (void *), void *ud)
{
   cl_local_t *l = (cl_local_t *) p;
   while (l->head) {
      local_cancel (p, l->head);
   }
   for (local_work_t *w = l->works; w; w = w->next) {
      for (size_t i = 0; i < w->n; i++) {
         local_cancel (p, w->calls[i]); /* NULL once answered */
      }
   }
   l->closed = closed;
   l->closed_ud = ud;
   l->closing = true;
   if (l->n_running == 0) {
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
   unsigned cores = uv_available_parallelism ();
   l->max_works = cores < LOCAL_WORKS_MAX ? cores : LOCAL_WORKS_MAX;
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
