/* key_gate.h - the API key check of the api's and ingest's listeners.
 *
 * Installed as the HTTP server's authenticator (http_server.h), so it runs
 * once a request's head is complete and before any of its body is read, for
 * every route that needs a role. For each such request it decides, in this
 * order:
 *
 * 1. no "Authorization: Bearer" key: 401, at once (on an open route that
 *    asks who is calling, tk_http_access_t.identify, no Authorization
 *    header at all is granted role none);
 * 2. the bootstrap key (TRIAGE_ADMIN_KEY, compared by hash in constant
 *    time): admin, at once;
 * 3. the client address (tk_http_request_remote_addr) has used up its
 *    failed authentications (TRIAGE_AUTH_FAILURES_PER_MINUTE): 429 with
 *    Retry-After, without asking the database;
 * 4. otherwise the key's hash is looked up in api_keys on the threadpool:
 *    unknown or revoked is 401 and counts as one failure of the address;
 *    the database unreachable is 503;
 * 5. a known key below the route's role: 403;
 * 6. the key's own rate (TRIAGE_API_RATE_LIMIT / _BURST, by key id) used
 *    up: 429 with Retry-After;
 * 7. granted: the request goes on with the key's role and id.
 *
 * Rate buckets exist only for keys that authenticated, so made-up tokens
 * cannot create or evict them; both tables are bounded and reuse only an
 * entry that holds no state any more (a full bucket), never a live one.
 * The refused hook is how a service audits failures: it is called at most
 * once a minute per client address for 401 and 429 (with the number of
 * failures since), and for every 403.
 *
 * Loop thread only; the lookup runs on libuv's threadpool through
 * tk_store_async.
 */
#ifndef TK_KEY_GATE_H
#define TK_KEY_GATE_H

#include <stdbool.h>
#include <stdint.h>

#include <uv.h>

#include "auth.h"
#include "http_server.h"
#include "metrics.h"
#include "store.h"

typedef struct tk_key_gate tk_key_gate_t;

typedef struct {
   bool off;                  /* TRIAGE_AUTH=off: every request is admin, "auth-off" */
   const char *admin_key;     /* TRIAGE_ADMIN_KEY; NULL or "" for none */
   int rate_per_second;       /* per key; 0: unlimited */
   int rate_burst;
   int failures_per_minute;   /* per client address; at least 1 */
   const char *metrics_prefix; /* "api_auth": api_auth_total{result} and
                                  api_auth_lookups_total; NULL: not counted */
} tk_key_gate_options_t;

/* Called when a request is refused (see above): status 401, 403 or 429;
 * failures is how many authentication failures the client address had
 * since the last call for it (1 or more; 0 for a 403); key_id and role are
 * the key's for a 403, else "" and TK_ROLE_NONE. req is still unanswered:
 * the hook may read it, must not answer it. */
typedef void (*tk_key_gate_refused_fn) (tk_http_request_t *req, int status, unsigned failures,
                                        const char *key_id, tk_role_t role, void *user_data);

/* A gate looking keys up in store (borrowed; must outlive the gate) from
 * loop. metrics (borrowed, may be NULL) receives the counters when
 * opts->metrics_prefix is set. NULL on out of memory. */
tk_key_gate_t *tk_key_gate_new (uv_loop_t *loop, tk_store_t *store, tk_metrics_t *metrics,
                                const tk_key_gate_options_t *opts);

/* Frees the gate. Lookups still in flight must have finished (the services
 * destroy it after their HTTP server has closed). Accepts NULL. */
void tk_key_gate_destroy (tk_key_gate_t *gate);

/* Installs the refused hook (NULL removes it). */
void tk_key_gate_set_refused_hook (tk_key_gate_t *gate, tk_key_gate_refused_fn fn,
                                   void *user_data);

/* The authenticator (tk_http_authenticate_fn) with the gate as user data:
 * tk_http_server_set_authenticator (server, tk_key_gate_authenticate, gate). */
void tk_key_gate_authenticate (tk_http_request_t *req, void *gate);

/* --- the tables, exposed for unit tests (pure: the clock is passed in) --- */

/* Takes one token of key's bucket (created full at burst tokens, refilled
 * at per_second) in a table of TK_KEY_GATE_KEYS entries. 0 when taken, else
 * the milliseconds until one is there. */
int64_t tk_key_gate_take (tk_key_gate_t *gate, const char *key_id, int64_t now_ms);

/* Whether the client address may try a key lookup now: 0, or the
 * milliseconds until its failure bucket has a token. */
int64_t tk_key_gate_failures_wait (tk_key_gate_t *gate, const char *addr, int64_t now_ms);

/* Counts one failed authentication of addr. Returns how many failures to
 * report to the refused hook now (0: it was reported less than a minute
 * ago; the failures are kept for the next report). */
unsigned tk_key_gate_fail (tk_key_gate_t *gate, const char *addr, int64_t now_ms);

#define TK_KEY_GATE_KEYS 4096   /* rate buckets of authenticated keys */
#define TK_KEY_GATE_ADDRS 8192  /* failure buckets of client addresses */

#endif
