/* shutdown.h - graceful shutdown on SIGINT / SIGTERM.
 *
 * A service registers its shutdown steps in the order they must run — stop
 * accepting connections, finish in-flight work, flush the Kafka producer,
 * close the consumer, close the store — and the shutdown runs them one after
 * another when a signal arrives (or tk_shutdown_begin is called). Each step
 * is asynchronous: it receives a completion token and calls
 * tk_shutdown_step_done(token) when it has finished, from the loop thread.
 * A deadline bounds the whole sequence; a second signal abandons it.
 *
 * All functions must be called on the loop thread.
 */
#ifndef TK_SHUTDOWN_H
#define TK_SHUTDOWN_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct tk_shutdown tk_shutdown_t;

/* Runs one step. Call tk_shutdown_step_done(token) when it is finished;
 * calling it before returning is fine. */
typedef void (*tk_shutdown_step_fn) (void *user_data, void *token);

/* Called once when every step has finished (timed_out false) or the deadline
 * or a second signal cut the sequence short (timed_out true). After it
 * returns, the shutdown object has closed its handles; destroy it from the
 * loop once uv_run returns. */
typedef void (*tk_shutdown_complete_fn) (bool timed_out, void *user_data);

/* Installs SIGINT and SIGTERM handlers on loop, and ignores SIGPIPE (a peer
 * closing a socket must not kill the service). timeout_ms bounds the whole
 * sequence. Returns NULL if the handles cannot be initialised. Free with
 * tk_shutdown_destroy after the loop has stopped. */
tk_shutdown_t *tk_shutdown_new (uv_loop_t *loop, uint64_t timeout_ms,
                                tk_shutdown_complete_fn on_complete, void *user_data);

/* Appends a step; name is borrowed (a string literal) and used in logs.
 * Returns false if too many steps are registered. */
bool tk_shutdown_add_step (tk_shutdown_t *sd, const char *name, tk_shutdown_step_fn fn,
                           void *user_data);

/* Starts the sequence as if a signal had arrived. Idempotent. */
void tk_shutdown_begin (tk_shutdown_t *sd, const char *reason);

/* Marks the current step finished and starts the next one. */
void tk_shutdown_step_done (void *token);

/* True once the sequence has begun (services stop taking new work). */
bool tk_shutdown_in_progress (const tk_shutdown_t *sd);

/* Frees sd. Its handles must have been closed (they are, once on_complete
 * has run and the loop has turned once more). Accepts NULL. */
void tk_shutdown_destroy (tk_shutdown_t *sd);

#endif
