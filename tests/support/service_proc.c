/* service_proc.c - child-process services and a libcurl client for tests. */
#include "service_proc.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TRIAGE_BIN_DIR
#error "TRIAGE_BIN_DIR must be defined by the build"
#endif

extern char **environ;

static void
sleep_ms (int ms)
{
   struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000000L};
   nanosleep (&ts, NULL);
}

/* A port outside the kernel's ephemeral range (32768-60999 here): a port
 * that bind(0) handed out can be taken by any outgoing client socket (Kafka,
 * MongoDB) between our check and the service's bind. Ports are tried from a
 * random start in [20000, 32000) until one binds. */
int
tk_test_free_port (void)
{
   uint32_t r = 0;
   if (getrandom (&r, sizeof r, 0) != (ssize_t) sizeof r) {
      r = (uint32_t) getpid ();
   }
   for (int i = 0; i < 2000; i++) {
      int port = 20000 + (int) ((r + (uint32_t) i * 7u) % 12000u);
      int fd = socket (AF_INET, SOCK_STREAM, 0);
      if (fd < 0) {
         return 0;
      }
      struct sockaddr_in a = {.sin_family = AF_INET,
                              .sin_port = htons ((uint16_t) port),
                              .sin_addr.s_addr = htonl (INADDR_LOOPBACK)};
      int ok = bind (fd, (struct sockaddr *) &a, sizeof a) == 0;
      close (fd);
      if (ok) {
         return port;
      }
   }
   return 0;
}

static size_t
collect_body (char *data, size_t size, size_t nmemb, void *ud)
{
   tk_test_http_response_t *r = ud;
   size_t n = size * nmemb;
   char *grown = realloc (r->body, r->body_len + n + 1);
   if (!grown) {
      return 0;
   }
   r->body = grown;
   memcpy (r->body + r->body_len, data, n);
   r->body_len += n;
   r->body[r->body_len] = '\0';
   return n;
}

bool
tk_test_http (const char *method, const char *url, const char *body, size_t body_len,
              const char *const *headers, tk_test_http_response_t *out)
{
   memset (out, 0, sizeof *out);
   out->body = calloc (1, 1);
   CURL *c = curl_easy_init ();
   if (!c || !out->body) {
      curl_easy_cleanup (c);
      return false;
   }
   struct curl_slist *hl = NULL;
   for (size_t i = 0; headers && headers[i]; i++) {
      hl = curl_slist_append (hl, headers[i]);
   }
   curl_easy_setopt (c, CURLOPT_URL, url);
   curl_easy_setopt (c, CURLOPT_CUSTOMREQUEST, method);
   curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
   curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, 60000L);
   curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, collect_body);
   curl_easy_setopt (c, CURLOPT_WRITEDATA, out);
   if (strcmp (method, "HEAD") == 0) {
      curl_easy_setopt (c, CURLOPT_NOBODY, 1L);
   }
   if (body) {
      curl_easy_setopt (c, CURLOPT_POSTFIELDS, body);
      curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) body_len);
   }
   if (hl) {
      curl_easy_setopt (c, CURLOPT_HTTPHEADER, hl);
   }
   CURLcode rc = curl_easy_perform (c);
   if (rc == CURLE_OK) {
      curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &out->status);
      char *ct = NULL;
      curl_easy_getinfo (c, CURLINFO_CONTENT_TYPE, &ct);
      snprintf (out->content_type, sizeof out->content_type, "%s", ct ? ct : "");
   }
   curl_slist_free_all (hl);
   curl_easy_cleanup (c);
   return rc == CURLE_OK;
}

void
tk_test_http_free (tk_test_http_response_t *r)
{
   free (r->body);
   r->body = NULL;
   r->body_len = 0;
}

static bool
wait_status (const tk_test_service_t *svc, const char *path, long want, int timeout_ms)
{
   char url[256];
   snprintf (url, sizeof url, "%s%s", svc->base_url, path);
   for (int waited = 0; waited <= timeout_ms; waited += 100) {
      if (svc->pid > 0 && waitpid (svc->pid, NULL, WNOHANG) == svc->pid) {
         return false; /* it exited */
      }
      tk_test_http_response_t r;
      bool got = tk_test_http ("GET", url, NULL, 0, NULL, &r);
      long status = r.status;
      tk_test_http_free (&r);
      if (got && status == want) {
         return true;
      }
      sleep_ms (100);
   }
   return false;
}

bool
tk_test_service_start (tk_test_service_t *svc, const char *name, const char *const *env,
                       int timeout_ms)
{
   memset (svc, 0, sizeof *svc);
   snprintf (svc->name, sizeof svc->name, "%s", name);
   svc->port = tk_test_free_port ();
   snprintf (svc->base_url, sizeof svc->base_url, "http://127.0.0.1:%d", svc->port);
   do {
      svc->metrics_port = tk_test_free_port ();
   } while (svc->metrics_port == svc->port);
   snprintf (svc->metrics_url, sizeof svc->metrics_url, "http://127.0.0.1:%d/metrics",
             svc->metrics_port);

   char bin[512];
   snprintf (bin, sizeof bin, "%s/triage-%s", TRIAGE_BIN_DIR, name);
   char logdir[512];
   snprintf (logdir, sizeof logdir, "%s/../tests/logs", TRIAGE_BIN_DIR);
   mkdir (logdir, 0755);
   snprintf (svc->log_path, sizeof svc->log_path, "%s/%s-%ld-%d.log", logdir, name,
             (long) getpid (), svc->port);

   /* environ + env + the port. */
   size_t n_env = 0, n_extra = 0;
   while (environ[n_env]) {
      n_env++;
   }
   while (env && env[n_extra]) {
      n_extra++;
   }
   char **envp = calloc (n_env + n_extra + 3, sizeof *envp);
   char port_var[48], metrics_var[48];
   snprintf (port_var, sizeof port_var, "TRIAGE_HTTP_PORT=%d", svc->port);
   snprintf (metrics_var, sizeof metrics_var, "TRIAGE_METRICS_PORT=%d", svc->metrics_port);
   size_t k = 0;
   for (size_t i = 0; i < n_env; i++) {
      envp[k++] = environ[i];
   }
   bool own_metrics = false; /* env sets TRIAGE_METRICS_PORT itself */
   for (size_t i = 0; i < n_extra; i++) {
      envp[k++] = (char *) env[i];
      if (!strncmp (env[i], "TRIAGE_METRICS_PORT=", 20)) {
         own_metrics = true;
         svc->metrics_port = atoi (env[i] + 20);
         snprintf (svc->metrics_url, sizeof svc->metrics_url, "http://127.0.0.1:%d/metrics",
                   svc->metrics_port);
      }
   }
   if (!own_metrics) {
      envp[k++] = metrics_var;
   }
   envp[k++] = port_var; /* last wins in the service's getenv */
   envp[k] = NULL;

   posix_spawn_file_actions_t fa;
   posix_spawn_file_actions_init (&fa);
   posix_spawn_file_actions_addopen (&fa, STDOUT_FILENO, svc->log_path,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
   posix_spawn_file_actions_adddup2 (&fa, STDOUT_FILENO, STDERR_FILENO);
   char *argv[] = {bin, NULL};
   int rc = posix_spawn (&svc->pid, bin, &fa, NULL, argv, envp);
   posix_spawn_file_actions_destroy (&fa);
   free (envp);
   if (rc != 0) {
      fprintf (stderr, "test: cannot start %s: %s\n", bin, strerror (rc));
      svc->pid = 0;
      return false;
   }
   if (!wait_status (svc, "/healthz", 200, timeout_ms)) {
      fprintf (stderr, "test: triage-%s did not answer /healthz within %d ms\n", name, timeout_ms);
      tk_test_service_dump_log (svc);
      tk_test_service_stop (svc, SIGKILL, 5000);
      return false;
   }
   return true;
}

bool
tk_test_service_wait_ready (const tk_test_service_t *svc, int timeout_ms)
{
   return wait_status (svc, "/readyz", 200, timeout_ms);
}

int
tk_test_service_stop (tk_test_service_t *svc, int sig, int timeout_ms)
{
   if (svc->pid <= 0) {
      return -1;
   }
   kill (svc->pid, sig);
   for (int waited = 0; waited <= timeout_ms; waited += 20) {
      int st = 0;
      pid_t r = waitpid (svc->pid, &st, WNOHANG);
      if (r == svc->pid) {
         svc->pid = 0;
         return WIFEXITED (st) ? WEXITSTATUS (st) : 128 + WTERMSIG (st);
      }
      sleep_ms (20);
   }
   kill (svc->pid, SIGKILL);
   waitpid (svc->pid, NULL, 0);
   svc->pid = 0;
   return -1;
}

void
tk_test_service_dump_log (const tk_test_service_t *svc)
{
   FILE *f = fopen (svc->log_path, "r");
   if (!f) {
      return;
   }
   char line[4096];
   /* Keep the last 40 lines in a ring. */
   static char ring[40][4096];
   size_t n = 0;
   while (fgets (line, sizeof line, f)) {
      snprintf (ring[n % 40], sizeof ring[0], "%s", line);
      n++;
   }
   fclose (f);
   fprintf (stderr, "---- last lines of %s ----\n", svc->log_path);
   for (size_t i = n > 40 ? n - 40 : 0; i < n; i++) {
      fputs (ring[i % 40], stderr);
   }
}
