/* tcp_proxy.h - a tiny TCP proxy a test can cut and restore, to take a
 * server away from a service without stopping the shared server.
 *
 * A thread with poll() forwards bytes between connections accepted on a
 * loopback port and new connections to target. tk_tcp_proxy_cut closes
 * every connection and refuses new ones (accepted, then closed at once, as
 * a dead server would look) until tk_tcp_proxy_restore. Tests only. */
#ifndef TK_TEST_TCP_PROXY_H
#define TK_TEST_TCP_PROXY_H

#include <stdbool.h>

typedef struct tk_tcp_proxy tk_tcp_proxy_t;

/* Listens on 127.0.0.1 on a free port, forwarding to target_host:target_port.
 * NULL on failure. */
tk_tcp_proxy_t *tk_tcp_proxy_new (const char *target_host, int target_port);

/* The port it listens on. */
int tk_tcp_proxy_port (const tk_tcp_proxy_t *p);

/* Closes every forwarded connection and refuses new ones; returns once the
 * proxy thread has done so. */
void tk_tcp_proxy_cut (tk_tcp_proxy_t *p);

/* Forwards new connections again. */
void tk_tcp_proxy_restore (tk_tcp_proxy_t *p);

/* Stops the thread and closes everything. Accepts NULL. */
void tk_tcp_proxy_destroy (tk_tcp_proxy_t *p);

#endif
