/* key_gate.c - the API key check before a request's body is read (see
 * key_gate.h). */
#include "key_gate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_addr.h"
#include "hash.h"
#include "store_async.h"
#include "token_bucket.h"

#define GATE_PROBES 16               /* slots looked at for one key or address */
#define GATE_REPORT_MS (60 * 1000)   /* one refused-hook call per address per minute */

typedef struct {
   char key_id[TK_AUTH_KEY_ID_MAX]; /* "" = never used */
   tk_token_bucket_t bucket;
} key_slot_t;

typedef struct {
   char addr[TK_CLIENT_ADDR_MAX]; /* "" = never used */
   tk_token_bucket_t bucket;      /* failed authentications */
   int64_t reported_ms;           /* last refused-hook call; 0 never */
   unsigned unreported;           /* failures since */
} addr_slot_t;

struct tk_key_gate {
   uv_loop_t *loop;
   tk_store_t *store;
   bool off;
   bool has_admin_key;
   char admin_hash[TK_KEY_HASH_HEX];
   int rate_per_second;
   int rate_burst;
   int failures_per_minute;
   tk_key_gate_refused_fn refused;
   void *refused_ud;
   tk_metric_t *results; /* {result} */
   tk_series_t *lookups;
   key_slot_t keys[TK_KEY_GATE_KEYS];
   addr_slot_t addrs[TK_KEY_GATE_ADDRS];
};

/* One key lookup on the threadpool. */
typedef struct {
   tk_key_gate_t *gate;
   tk_http_request_t *req;
   char hash[TK_KEY_HASH_HEX];
   char addr[TK_CLIENT_ADDR_MAX];
   tk_role_t role;
   char key_id[TK_AUTH_KEY_ID_MAX];
   bool ok;
   tk_error_t err;
} lookup_t;

tk_key_gate_t *
tk_key_gate_new (uv_loop_t *loop, tk_store_t *store, tk_metrics_t *metrics,
                 const tk_key_gate_options_t *opts)
{
   tk_key_gate_t *g = calloc (1, sizeof *g);
   if (!g) {
      return NULL;
   }
   g->loop = loop;
   g->store = store;
   g->off = opts->off;
   if (opts->admin_key && opts->admin_key[0]) {
      g->has_admin_key =
         tk_auth_hash_key (opts->admin_key, strlen (opts->admin_key), g->admin_hash);
   }
   g->rate_per_second = opts->rate_per_second;
   g->rate_burst = opts->rate_burst > 0 ? opts->rate_burst : 1;
   g->failures_per_minute = opts->failures_per_minute > 0 ? opts->failures_per_minute : 1;
   if (metrics && opts->metrics_prefix) {
      char name[96], help[160];
      snprintf (name, sizeof name, "%s_total", opts->metrics_prefix);
      g->results = tk_metrics_counter (
         metrics, name,
         "Requests to routes that need an API key, by the key check's result (granted, "
         "no_key, unknown_key, forbidden, limited: too many failures from the client "
         "address, rate_limited: the key's own rate, unavailable).",
         (const char *[]) {"result", NULL});
      snprintf (name, sizeof name, "%s_lookups_total", opts->metrics_prefix);
      snprintf (help, sizeof help, "API keys looked up in the database.");
      g->lookups = tk_metric_labels (tk_metrics_counter (metrics, name, help, NULL));
   }
   return g;
}

void
tk_key_gate_destroy (tk_key_gate_t *gate)
{
   free (gate);
}

void
tk_key_gate_set_refused_hook (tk_key_gate_t *gate, tk_key_gate_refused_fn fn, void *user_data)
{
   gate->refused = fn;
   gate->refused_ud = user_data;
}

/* --- tables --------------------------------------------------------------- */

int64_t
tk_key_gate_take (tk_key_gate_t *gate, const char *key_id, int64_t now_ms)
{
   if (gate->rate_per_second <= 0) {
      return 0;
   }
   size_t h = (size_t) tk_hash_fnv1a_str (key_id);
   key_slot_t *free_slot = NULL;
   for (size_t i = 0; i < GATE_PROBES; i++) {
      key_slot_t *s = &gate->keys[(h + i) % TK_KEY_GATE_KEYS];
      if (strcmp (s->key_id, key_id) == 0) {
         return tk_token_bucket_take (&s->bucket, 1, now_ms);
      }
      /* Only an unused slot or a bucket that has refilled (it remembers
       * nothing) is taken over: a key's spent tokens are never forgotten. */
      if (!free_slot && (!s->key_id[0] || tk_token_bucket_is_full (&s->bucket, now_ms))) {
         free_slot = s;
      }
   }
   if (!free_slot) {
      return 0; /* thousands of keys busy at once: this one goes unlimited */
   }
   snprintf (free_slot->key_id, sizeof free_slot->key_id, "%s", key_id);
   tk_token_bucket_init (&free_slot->bucket, (double) gate->rate_per_second * 60.0,
                         (double) gate->rate_burst, now_ms);
   return tk_token_bucket_take (&free_slot->bucket, 1, now_ms);
}

/* The slot of addr, created when create (NULL when there is none, or no
 * room: every candidate still remembers failures). */
static addr_slot_t *
addr_slot (tk_key_gate_t *gate, const char *addr, int64_t now_ms, bool create)
{
   size_t h = (size_t) tk_hash_fnv1a_str (addr);
   addr_slot_t *free_slot = NULL;
   for (size_t i = 0; i < GATE_PROBES; i++) {
      addr_slot_t *s = &gate->addrs[(h + i) % TK_KEY_GATE_ADDRS];
      if (strcmp (s->addr, addr) == 0) {
         return s;
      }
      if (!free_slot && (!s->addr[0] || (tk_token_bucket_is_full (&s->bucket, now_ms) &&
                                         now_ms - s->reported_ms >= GATE_REPORT_MS))) {
         free_slot = s;
      }
   }
   if (!create || !free_slot) {
      return NULL;
   }
   memset (free_slot, 0, sizeof *free_slot);
   snprintf (free_slot->addr, sizeof free_slot->addr, "%s", addr);
   tk_token_bucket_init (&free_slot->bucket, (double) gate->failures_per_minute,
                         (double) gate->failures_per_minute, now_ms);
   return free_slot;
}

int64_t
tk_key_gate_failures_wait (tk_key_gate_t *gate, const char *addr, int64_t now_ms)
{
   addr_slot_t *s = addr_slot (gate, addr, now_ms, true);
   if (!s) {
      /* Thousands of addresses failing at once: an attack from many
       * addresses. A new one waits rather than reach the database. */
      return GATE_REPORT_MS;
   }
   /* A lookup takes a token now and gives it back if the key is good, so
    * lookups in flight at once count too. */
   return tk_token_bucket_take (&s->bucket, 1, now_ms);
}

/* Gives back the token a lookup took (the key was good). */
static void
failures_refund (tk_key_gate_t *gate, const char *addr, int64_t now_ms)
{
   addr_slot_t *s = addr_slot (gate, addr, now_ms, false);
   if (s) {
      tk_token_bucket_put (&s->bucket, 1);
   }
}

unsigned
tk_key_gate_fail (tk_key_gate_t *gate, const char *addr, int64_t now_ms)
{
   addr_slot_t *s = addr_slot (gate, addr, now_ms, true);
   if (!s) {
      return 0;
   }
   s->unreported++;
   if (s->reported_ms != 0 && now_ms - s->reported_ms < GATE_REPORT_MS) {
      return 0;
   }
   unsigned n = s->unreported;
   s->unreported = 0;
   s->reported_ms = now_ms > 0 ? now_ms : 1;
   return n;
}

/* --- the check -------------------------------------------------------------- */

static void
count (tk_key_gate_t *gate, const char *result)
{
   if (gate->results) {
      tk_counter_inc (tk_metric_labels (gate->results, result));
   }
}

/* A failed authentication from addr: the hook (at most once a minute per
 * address), then the answer. */
static void
refuse_failed (tk_key_gate_t *gate, tk_http_request_t *req, const char *addr, int status,
               int64_t wait_ms)
{
   unsigned n = tk_key_gate_fail (gate, addr, (int64_t) uv_now (gate->loop));
   if (n > 0 && gate->refused) {
      gate->refused (req, status, n, "", TK_ROLE_NONE, gate->refused_ud);
   }
   if (status == 429) {
      count (gate, "limited");
      tk_http_add_retry_after (req, wait_ms);
      tk_http_respond_error (req, 429, "rate_limited",
                             "too many requests with unknown API keys from this address", NULL);
   } else {
      count (gate, "unknown_key");
      tk_http_add_header (req, "WWW-Authenticate", "Bearer");
      tk_http_respond_error (req, 401, "unauthorized", "unknown or revoked API key", NULL);
   }
}

/* The key is known: its role against the route's, then its own rate. */
static void
admit_key (tk_key_gate_t *gate, tk_http_request_t *req, tk_role_t role, const char *key_id)
{
   int need = tk_http_request_min_role (req);
   if ((int) role < need) {
      count (gate, "forbidden");
      if (gate->refused) {
         gate->refused (req, 403, 0, key_id, role, gate->refused_ud);
      }
      char msg[128];
      snprintf (msg, sizeof msg, "this route needs the %s role; the key has %s",
                tk_role_name ((tk_role_t) need), tk_role_name (role));
      tk_http_respond_error (req, 403, "forbidden", msg, NULL);
      return;
   }
   int64_t wait = tk_key_gate_take (gate, key_id, (int64_t) uv_now (gate->loop));
   if (wait > 0) {
      count (gate, "rate_limited");
      tk_http_add_retry_after (req, wait);
      tk_http_respond_error (req, 429, "rate_limited",
                             "too many requests for this API key; retry later", NULL);
      return;
   }
   count (gate, "granted");
   tk_http_grant (req, (int) role, key_id);
}

static void
lookup_work (tk_store_t *store, void *ctx)
{
   lookup_t *l = ctx;
   l->ok = tk_auth_lookup_key (store, l->hash, &l->role, l->key_id, sizeof l->key_id, &l->err);
}

static void
lookup_done (int status, void *ctx)
{
   lookup_t *l = ctx;
   tk_key_gate_t *gate = l->gate;
   tk_http_request_t *req = l->req;
   int64_t now = (int64_t) uv_now (gate->loop);
   if (status != 0 || !l->ok) {
      failures_refund (gate, l->addr, now); /* not the client's failure */
      count (gate, "unavailable");
      tk_http_add_retry_after (req, 5000);
      tk_http_respond_error (req, 503, "unavailable",
                             status != 0 ? "the service is stopping"
                                         : "cannot check the API key now (database unreachable)",
                             NULL);
   } else if (l->role == TK_ROLE_NONE) {
      refuse_failed (gate, req, l->addr, 401, 0);
   } else {
      failures_refund (gate, l->addr, now);
      admit_key (gate, req, l->role, l->key_id);
   }
   free (l);
}

void
tk_key_gate_authenticate (tk_http_request_t *req, void *gate_ptr)
{
   tk_key_gate_t *gate = gate_ptr;
   if (gate->off) {
      count (gate, "granted");
      tk_http_grant (req, TK_ROLE_ADMIN, "auth-off");
      return;
   }
   const char *token;
   size_t len;
   if (!tk_auth_bearer_token (tk_http_request_header (req, "Authorization"), &token, &len)) {
      if (tk_http_request_min_role (req) <= 0 &&
          !tk_http_request_header (req, "Authorization")) {
         tk_http_grant (req, TK_ROLE_NONE, ""); /* an open route asking who it is */
         return;
      }
      count (gate, "no_key");
      tk_http_add_header (req, "WWW-Authenticate", "Bearer");
      tk_http_respond_error (req, 401, "unauthorized",
                             "send an API key as \"Authorization: Bearer <key>\"", NULL);
      return;
   }
   lookup_t *l = calloc (1, sizeof *l);
   if (!l) {
      tk_http_respond_error (req, 500, "internal", "out of memory", NULL);
      return;
   }
   l->gate = gate;
   l->req = req;
   snprintf (l->addr, sizeof l->addr, "%s", tk_http_request_remote_addr (req));
   /* A failed digest leaves the hash empty, which matches no key. */
   (void) tk_auth_hash_key (token, len, l->hash);
   if (gate->has_admin_key && tk_auth_hash_equal (l->hash, gate->admin_hash)) {
      free (l);
      admit_key (gate, req, TK_ROLE_ADMIN, "bootstrap");
      return;
   }
   int64_t wait = tk_key_gate_failures_wait (gate, l->addr, (int64_t) uv_now (gate->loop));
   if (wait > 0) {
      refuse_failed (gate, req, l->addr, 429, wait);
      free (l);
      return;
   }
   if (gate->lookups) {
      tk_counter_inc (gate->lookups);
   }
   int rc = tk_store_async (gate->loop, gate->store, lookup_work, lookup_done, l);
   if (rc != 0) {
      failures_refund (gate, l->addr, (int64_t) uv_now (gate->loop));
      count (gate, "unavailable");
      tk_http_respond_error (req, 503, "unavailable", "cannot check the API key now", NULL);
      free (l);
   }
}
