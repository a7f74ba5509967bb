/* predict_remote.c - predictions of a remote LLM for triagectl eval, asked
 * through the classifier's own providers (services/classifier, linked as
 * triage_classifier_core) on a libuv loop of our own.
 *
 * A few slots each work on one ticket at a time, from its first attempt to
 * its answer or its last failure (backoff waits included), so at most
 * `concurrency` requests are ever in flight. What happens after a failed
 * attempt follows the classifier's worker (worker.c): one repair of an
 * invalid answer, then retries of whatever the provider calls retryable
 * (429, 5xx, timeouts, network errors, invalid answers) with full-jitter
 * backoff and never sooner than a Retry-After, up to TRIAGE_RETRY_MAX_ATTEMPTS
 * attempts; a 4xx is final at once. There is no rate limiter, circuit
 * breaker or batching here: an evaluation asks each ticket alone.
 */
#include "cli.h"

#include "backoff.h"
#include "curl_uv.h"
#include "pii_mask.h"
#include "progress.h"
#include "provider.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

/* Plain progress lines when stderr is not a terminal, this often. */
#define PROGRESS_LINE_MS 10000

typedef struct run run_t;

/* One ticket being worked on. */
typedef struct {
   uv_timer_t timer; /* backoff; data = the slot */
   run_t *run;
   size_t ticket;           /* index into ex and pred */
   char *subject, *body;    /* masked, as the provider sees them (owned) */
   char *repair_answer;     /* the invalid answer to repair (owned), or NULL */
   char repair_error[256];
   bool repaired;
   cl_call_t *call;
} slot_t;

struct run {
   uv_loop_t loop;
   const cli_remote_options_t *o;
   const tk_model_example_t *ex;
   cli_prediction_t *pred;
   size_t n, next, done, failed, requests;
   tk_curl_uv_t *http;
   cl_provider_t *provider;
   slot_t *slots;
   unsigned n_slots;
   uint64_t rnd;
   uint64_t started_ns;
   double seconds;
   cli_progress_t bar;
   uv_timer_t tick; /* plain progress lines */
};

static void slot_next (slot_t *s);
static void slot_attempt (slot_t *s);

static double
rnd01 (run_t *r)
{
   /* xorshift64*, as the worker's: jitter needs spread, not secrecy. */
   r->rnd ^= r->rnd >> 12;
   r->rnd ^= r->rnd << 25;
   r->rnd ^= r->rnd >> 27;
   return (double) ((r->rnd * UINT64_C (2685821657736338717)) >> 11) / 9007199254740992.0;
}

static void
progress_line (const run_t *r)
{
   fprintf (stderr, "triagectl eval: %zu of %zu tickets done, %zu never answered, %zu requests\n",
            r->done, r->n, r->failed, r->requests);
}

static void
on_tick (uv_timer_t *t)
{
   progress_line (t->data);
}

static void run_close (run_t *r);

static void
on_all_done (uv_timer_t *t)
{
   run_close (t->data);
}

static void
update_progress (run_t *r)
{
   char note[96];
   snprintf (note, sizeof note, "%zu/%zu, %zu never answered", r->done, r->n, r->failed);
   if (r->done == r->n) {
      cli_progress_finish (&r->bar, r->done, note);
   } else {
      cli_progress_update (&r->bar, r->done, note);
   }
}

/* Every ticket is done: close the handles, so that uv_run returns. */
static void
run_close (run_t *r)
{
   for (unsigned i = 0; i < r->n_slots; i++) {
      uv_close ((uv_handle_t *) &r->slots[i].timer, NULL);
   }
   uv_close ((uv_handle_t *) &r->tick, NULL);
   tk_curl_uv_close (r->http, NULL, NULL);
   r->http = NULL;
}

/* The slot's ticket is answered or has failed for good. */
static void
slot_done (slot_t *s)
{
   run_t *r = s->run;
   free (s->subject);
   free (s->body);
   free (s->repair_answer);
   s->subject = s->body = s->repair_answer = NULL;
   r->done++;
   update_progress (r);
   if (r->done == r->n) {
      /* Not from inside the provider's callback, which the HTTP client is
       * still running: on the next turn of the loop. */
      r->seconds = (double) (uv_hrtime () - r->started_ns) / 1e9;
      uv_timer_start (&r->tick, on_all_done, 0, 0);
      return;
   }
   slot_next (s);
}

static void
on_backoff (uv_timer_t *t)
{
   slot_attempt (t->data);
}

/* An attempt failed: again after a backoff, or never. */
static void
slot_failed (slot_t *s, const char *reason, const char *error, bool retryable,
             int64_t retry_after_ms)
{
   run_t *r = s->run;
   cli_prediction_t *p = &r->pred[s->ticket];
   if (!retryable || p->attempts >= (unsigned) r->o->cfg->retry_max_attempts) {
      p->failure = reason;
      r->failed++;
      fprintf (stderr, "%striagectl eval: ticket %s never answered (%u attempt(s)): %s\n",
               r->bar.on ? "\r\033[K" : "", r->ex[s->ticket].id, p->attempts, error);
      slot_done (s);
      return;
   }
   int64_t ms = tk_backoff_full_jitter (r->o->cfg->retry_base_ms, r->o->cfg->retry_cap_ms,
                                        p->attempts, rnd01 (r));
   if (retry_after_ms > ms) {
      ms = retry_after_ms; /* the provider said when: never sooner */
   }
   /* The loop's clock was read before this iteration's callbacks ran, and
    * the answer may have been read by curl since: a timer counted from it
    * would send the retry sooner than the provider asked. */
   uv_update_time (&r->loop);
   uv_timer_start (&s->timer, on_backoff, (uint64_t) ms, 0);
}

static void
on_attempt (cl_attempt_t *a, void *ud)
{
   slot_t *s = ud;
   run_t *r = s->run;
   cli_prediction_t *p = &r->pred[s->ticket];
   s->call = NULL;
   if (a->ok) {
      p->answered = true;
      p->c = a->c;
      memset (&a->c, 0, sizeof a->c);
      p->conf = a->conf;
      slot_done (s);
      return;
   }
   if (a->invalid_answer && !s->repaired && a->answer &&
       p->attempts < (unsigned) r->o->cfg->retry_max_attempts) {
      /* One repair, as the worker asks: the model sees its answer and what
       * was wrong with it. */
      s->repaired = true;
      s->repair_answer = a->answer;
      a->answer = NULL;
      snprintf (s->repair_error, sizeof s->repair_error, "%s", a->error);
      slot_attempt (s);
      return;
   }
   slot_failed (s, a->reason, a->error, a->retryable, a->retry_after_ms);
}

static void
slot_attempt (slot_t *s)
{
   run_t *r = s->run;
   const tk_model_example_t *e = &r->ex[s->ticket];
   cl_prompt_input_t in = {
      .id = e->id,
      .subject = s->subject,
      .body = s->body,
      .repair_answer = s->repair_answer,
      .repair_error = s->repair_answer ? s->repair_error : NULL,
   };
   r->pred[s->ticket].attempts++;
   r->requests++;
   tk_error_t err;
   s->call = r->provider->start (r->provider, &in, on_attempt, s, &err);
   free (s->repair_answer);
   s->repair_answer = NULL;
   if (!s->call) {
      r->requests--; /* nothing left */
      slot_failed (s, "internal", err.message, true, -1);
   }
}

/* Takes the next ticket, if any: its text masked as the classifier masks
 * what leaves the process, then its first attempt. */
static void
slot_next (slot_t *s)
{
   run_t *r = s->run;
   if (r->next >= r->n) {
      return;
   }
   s->ticket = r->next++;
   s->repaired = false;
   const tk_model_example_t *e = &r->ex[s->ticket];
   const char *subject = e->subject ? e->subject : "", *body = e->body ? e->body : "";
   s->subject = tk_pii_mask (subject, strlen (subject), NULL);
   s->body = tk_pii_mask (body, strlen (body), NULL);
   if (!s->subject || !s->body) {
      slot_failed (s, "internal", "out of memory masking the ticket", false, -1);
      return;
   }
   slot_attempt (s);
}

static cl_provider_t *
make_provider (const cli_remote_options_t *o, tk_curl_uv_t *http, tk_error_t *err)
{
   switch (o->cfg->llm_provider) {
   case TK_LLM_OPENAI: return cl_provider_openai_new (o->cfg, o->tax, http, err);
   case TK_LLM_GEMINI: return cl_provider_gemini_new (o->cfg, o->tax, http, err);
   default:
      tk_error_set (err, TK_ERR_CONFIG, 0, "not a remote provider: %d", o->cfg->llm_provider);
      return NULL;
   }
}

/* The labels a remote provider answers with: the taxonomy's. False with
 * err if a list is longer than the scoring handles. */
static bool
taxonomy_labels (const tk_taxonomy_t *tax, cli_source_t *src, tk_error_t *err)
{
   static const tk_taxonomy_kind_t kinds[3] = {TK_TAXONOMY_SENTIMENT, TK_TAXONOMY_PRIORITY,
                                               TK_TAXONOMY_TOPIC};
   for (int f = 0; f < 3; f++) {
      size_t n = tk_taxonomy_count (tax, kinds[f]);
      if (n > TK_MODEL_MAX_LABELS) {
         tk_error_set (err, TK_ERR_CONFIG, 0, "the taxonomy's %s list has %zu labels; eval scores "
                       "at most %d", tk_taxonomy_kind_name (kinds[f]), n, TK_MODEL_MAX_LABELS);
         return false;
      }
      src->n_labels[f] = n;
      for (size_t l = 0; l < n; l++) {
         src->labels[f][l] = tk_taxonomy_label (tax, kinds[f], l);
      }
   }
   return true;
}

/* Starts the slots and runs the loop until every ticket is done. */
static void
run_all (run_t *r)
{
   r->started_ns = uv_hrtime ();
   r->rnd = r->started_ns | 1;
   cli_progress_init (&r->bar, "eval", r->n, r->o->progress);
   uv_timer_init (&r->loop, &r->tick);
   r->tick.data = r;
   if (r->o->progress && !r->bar.on) {
      uv_timer_start (&r->tick, on_tick, PROGRESS_LINE_MS, PROGRESS_LINE_MS);
   }
   for (unsigned i = 0; i < r->n_slots; i++) {
      slot_t *s = &r->slots[i];
      s->run = r;
      uv_timer_init (&r->loop, &s->timer);
      s->timer.data = s;
   }
   if (r->n == 0) {
      run_close (r);
   }
   for (unsigned i = 0; i < r->n_slots && r->next < r->n; i++) {
      slot_next (&r->slots[i]);
   }
   uv_run (&r->loop, UV_RUN_DEFAULT);
}

bool
cli_predict_remote (const cli_remote_options_t *o, const tk_model_example_t *ex, size_t n,
                    cli_prediction_t *pred, cli_source_t *src, tk_error_t *err)
{
   bool ok = false;
   run_t r = {.o = o, .ex = ex, .pred = pred, .n = n};
   memset (src, 0, sizeof *src);
   memset (pred, 0, n * sizeof *pred);
   r.n_slots = o->concurrency < n ? o->concurrency : (unsigned) (n ? n : 1);
   if (!taxonomy_labels (o->tax, src, err)) {
      return false;
   }
   if (!(r.slots = calloc (r.n_slots, sizeof *r.slots))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   uv_loop_init (&r.loop);
   if (!(r.http = tk_curl_uv_new (&r.loop, err)) || !(r.provider = make_provider (o, r.http, err))) {
      tk_curl_uv_close (r.http, NULL, NULL);
      uv_run (&r.loop, UV_RUN_DEFAULT);
      goto done;
   }
   run_all (&r);
   snprintf (src->provider, sizeof src->provider, "%s", r.provider->name);
   snprintf (src->model, sizeof src->model, "%s", r.provider->model_version);
   snprintf (src->mode, sizeof src->mode, "remote");
   src->seconds = r.seconds;
   src->requests = r.requests;
   src->concurrency = r.n_slots;
   ok = true;
done:
   if (r.provider) {
      r.provider->destroy (r.provider);
   }
   if (uv_loop_close (&r.loop) != 0) {
      fprintf (stderr, "triagectl eval: a loop handle was left open\n");
   }
   free (r.slots);
   return ok;
}
