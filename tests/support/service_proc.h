/* service_proc.h - integration tests start the real service binaries as
 * child processes and talk to them over HTTP with libcurl. */
#ifndef TK_TEST_SERVICE_PROC_H
#define TK_TEST_SERVICE_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct {
   pid_t pid;
   int port;            /* the HTTP port it listens on */
   char name[32];       /* "ingest", "classifier", "api" */
   char log_path[1024];  /* its stderr/stdout, kept for a failing test */
   char base_url[64];   /* "http://127.0.0.1:<port>" */
   int metrics_port;    /* its /metrics listener (TRIAGE_METRICS_PORT) */
   char metrics_url[64]; /* "http://127.0.0.1:<metrics_port>/metrics" */
} tk_test_service_t;

/* A TCP port that was free a moment ago on 127.0.0.1. */
int tk_test_free_port (void);

/* Starts build/bin/triage-<name> with the current environment plus env (a
 * NULL-terminated list of "KEY=VALUE", may be NULL), TRIAGE_HTTP_PORT set
 * to a free port and TRIAGE_METRICS_PORT to another (env may override it),
 * then waits up to timeout_ms for GET /healthz to answer 200.
 * Returns false (and kills the child) if it does not. Output goes to
 * build/tests/logs/<name>-<pid>.log. */
bool tk_test_service_start (tk_test_service_t *svc, const char *name, const char *const *env,
                            int timeout_ms);

/* Waits up to timeout_ms for GET /readyz to answer 200. */
bool tk_test_service_wait_ready (const tk_test_service_t *svc, int timeout_ms);

/* Sends sig, waits up to timeout_ms for the exit; returns the exit status as
 * from waitpid's WEXITSTATUS, 128+signal if killed by one, -1 on timeout (the
 * child is then SIGKILLed). */
int tk_test_service_stop (tk_test_service_t *svc, int sig, int timeout_ms);

/* Prints the last lines of the service's log to stderr (for a failing test). */
void tk_test_service_dump_log (const tk_test_service_t *svc);

typedef struct {
   long status;          /* HTTP status, 0 if the request failed */
   char *body;           /* NUL-terminated, malloc'd; free with tk_test_http_free */
   size_t body_len;
   char content_type[128];
} tk_test_http_response_t;

/* One HTTP request with libcurl (blocking: tests only). method "GET",
 * "POST" ...; body may be NULL; headers is a NULL-terminated list of
 * "Name: value" or NULL. Returns false if no response was received. */
bool tk_test_http (const char *method, const char *url, const char *body, size_t body_len,
                   const char *const *headers, tk_test_http_response_t *out);

void tk_test_http_free (tk_test_http_response_t *r);

#endif
