/* ingest_fixture.c - see ingest_fixture.h. */
#include "ingest_fixture.h"

#include "kafka.h"
#include "test_support.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

bool
tk_ingest_fx_setup (tk_ingest_fx_t *fx, const char *prefix)
{
   tk_error_t err;
   char base[64];
   memset (fx, 0, sizeof *fx);
   tk_test_unique_name (prefix, fx->db, sizeof fx->db);
   tk_test_unique_name (prefix, base, sizeof base);
   snprintf (fx->inbound, sizeof fx->inbound, "%s.inbound", base);
   snprintf (fx->classify, sizeof fx->classify, "%s.classify", base);
   snprintf (fx->dlq, sizeof fx->dlq, "%s.dlq", base);
   snprintf (fx->group, sizeof fx->group, "%s.group", base);
   snprintf (fx->vars[0], sizeof fx->vars[0], "TRIAGE_MONGO_DB=%s", fx->db);
   snprintf (fx->vars[1], sizeof fx->vars[1], "TRIAGE_TOPIC_INBOUND=%s", fx->inbound);
   snprintf (fx->vars[2], sizeof fx->vars[2], "TRIAGE_TOPIC_CLASSIFY=%s", fx->classify);
   snprintf (fx->vars[3], sizeof fx->vars[3], "TRIAGE_TOPIC_DLQ=%s", fx->dlq);
   snprintf (fx->vars[4], sizeof fx->vars[4], "TRIAGE_KAFKA_GROUP=%s", fx->group);
   snprintf (fx->vars[5], sizeof fx->vars[5], "TRIAGE_KAFKA_BROKERS=%s", tk_test_kafka_brokers ());
   snprintf (fx->vars[6], sizeof fx->vars[6], "TRIAGE_MONGO_URI=%s", tk_test_mongo_uri ());
   for (int i = 0; i < 7; i++) {
      fx->env[fx->n_env++] = fx->vars[i];
   }
   fx->env[fx->n_env++] = "TRIAGE_AUTH=off";
   fx->env[fx->n_env++] = "TRIAGE_KAFKA_CONFIG=session.timeout.ms=6000,heartbeat.interval.ms=1000";
   fx->env[fx->n_env] = NULL;

   const char *topics[] = {fx->inbound, fx->classify, fx->dlq};
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, topics, 3, TK_FX_PARTITIONS, 1,
                                30000, &err)) {
      fprintf (stderr, "create topics: %s\n", err.message);
      return false;
   }
   if (!(fx->store = tk_store_new (tk_test_mongo_uri (), fx->db, 2, &err)) ||
       !tk_store_ensure_indexes (fx->store, &err)) {
      fprintf (stderr, "store: %s\n", err.message);
      return false;
   }
   return true;
}

void
tk_ingest_fx_teardown (tk_ingest_fx_t *fx)
{
   tk_error_t err;
   if (fx->store) {
      tk_store_drop_database (fx->store, &err);
   }
   tk_store_destroy (fx->store);
   fx->store = NULL;
   const char *topics[] = {fx->inbound, fx->classify, fx->dlq};
   if (fx->inbound[0]) {
      tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, topics, 3, 30000, &err);
   }
}

void
tk_ingest_fx_start (tk_ingest_fx_t *fx, tk_test_service_t *svc, const char *const *extra,
                    bool wait_ready)
{
   const char *env[TK_FX_MAX_ENV * 2];
   size_t n = 0;
   for (size_t i = 0; fx->env[i]; i++) {
      size_t klen = strcspn (fx->env[i], "=") + 1;
      bool replaced = false;
      for (size_t j = 0; extra && extra[j]; j++) {
         replaced = replaced || strncmp (fx->env[i], extra[j], klen) == 0;
      }
      if (!replaced) {
         env[n++] = fx->env[i];
      }
   }
   for (size_t j = 0; extra && extra[j]; j++) {
      env[n++] = extra[j];
   }
   env[n] = NULL;
   assert_true (tk_test_service_start (svc, "ingest", env, 20000));
   if (wait_ready && !tk_test_service_wait_ready (svc, 30000)) {
      tk_test_service_dump_log (svc);
      fail_msg ("triage-ingest never became ready");
   }
}

void
tk_ingest_fx_stop (tk_test_service_t *svc)
{
   int rc = tk_test_service_stop (svc, SIGTERM, 20000);
   if (rc != 0) {
      tk_test_service_dump_log (svc);
   }
   assert_int_equal (rc, 0);
}

int64_t
tk_ingest_fx_count (tk_ingest_fx_t *fx)
{
   tk_processing_stats_t st;
   tk_error_t err;
   assert_true (tk_store_get_processing_stats (fx->store, &st, &err));
   return st.total;
}

int64_t
tk_ingest_fx_wait_count (tk_ingest_fx_t *fx, int64_t want)
{
   int64_t n = 0;
   for (int i = 0; i < 600; i++) {
      if ((n = tk_ingest_fx_count (fx)) >= want) {
         return n;
      }
      usleep (100 * 1000);
   }
   return n;
}

int
tk_ingest_fx_triagectl_spawn (const char *const *argv, const char *const *env,
                              const char *out_path)
{
   char bin[512];
   snprintf (bin, sizeof bin, "%s/triagectl", TRIAGE_BIN_DIR);
   size_t n_env = 0, n_extra = 0, n_arg = 0;
   while (environ[n_env]) {
      n_env++;
   }
   while (env && env[n_extra]) {
      n_extra++;
   }
   while (argv[n_arg]) {
      n_arg++;
   }
   char **envp = calloc (n_env + n_extra + 1, sizeof *envp);
   char **args = calloc (n_arg + 2, sizeof *args);
   assert_non_null (envp);
   assert_non_null (args);
   size_t k = 0;
   for (size_t i = 0; i < n_extra; i++) {
      envp[k++] = (char *) env[i]; /* first: getenv finds these */
   }
   for (size_t i = 0; i < n_env; i++) {
      envp[k++] = environ[i];
   }
   args[0] = bin;
   for (size_t i = 0; i < n_arg; i++) {
      args[i + 1] = (char *) argv[i];
   }
   posix_spawn_file_actions_t fa;
   posix_spawn_file_actions_init (&fa);
   posix_spawn_file_actions_addopen (&fa, STDOUT_FILENO, out_path, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
   pid_t pid = 0;
   int rc = posix_spawn (&pid, bin, &fa, NULL, args, envp);
   posix_spawn_file_actions_destroy (&fa);
   free (envp);
   free (args);
   assert_int_equal (rc, 0);
   return (int) pid;
}

int
tk_ingest_fx_wait_child (int pid, int timeout_ms)
{
   int status = 0;
   for (int waited = 0; waited < timeout_ms; waited += 20) {
      pid_t r = waitpid ((pid_t) pid, &status, WNOHANG);
      if (r == (pid_t) pid) {
         return WIFEXITED (status) ? WEXITSTATUS (status) : 128 + WTERMSIG (status);
      }
      usleep (20 * 1000);
   }
   kill ((pid_t) pid, SIGKILL);
   waitpid ((pid_t) pid, &status, 0);
   return -1;
}

int
tk_ingest_fx_triagectl (const char *const *argv, const char *const *env, char **out)
{
   char path[128];
   snprintf (path, sizeof path, "/tmp/triagectl-test-%ld-%d.out", (long) getpid (), rand ());
   int pid = tk_ingest_fx_triagectl_spawn (argv, env, path);
   int rc = tk_ingest_fx_wait_child (pid, 240000);
   size_t len;
   char *buf = tk_test_read_file (path, &len);
   unlink (path);
   /* The start of the output only: a long report would push a failing
    * check's message out of a CI log's excerpt. */
   size_t shown = len > 1500 ? 1500 : len;
   fprintf (stderr, "  triagectl %s -> %d\n%.*s%s", argv[0], rc, (int) shown, buf,
            shown < len ? "\n  [... the rest of the output not shown]\n" : "");
   *out = buf;
   return rc;
}

double
tk_ingest_fx_metric (const tk_test_service_t *svc, const char *series)
{
   char url[256];
   snprintf (url, sizeof url, "%s", svc->metrics_url);
   tk_test_http_response_t r;
   if (!tk_test_http ("GET", url, NULL, 0, NULL, &r)) {
      return -1;
   }
   double v = -1;
   char *save = NULL;
   for (char *line = strtok_r (r.body, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
      size_t n = strlen (series);
      if (strncmp (line, series, n) == 0 && line[n] == ' ') {
         v = strtod (line + n + 1, NULL);
      }
   }
   tk_test_http_free (&r);
   return v;
}

double
tk_ingest_fx_wait_metric (const tk_test_service_t *svc, const char *series, double want)
{
   double v = -1;
   uint64_t deadline = tk_test_now_ms () + 60000;
   while (tk_test_now_ms () < deadline) {
      if ((v = tk_ingest_fx_metric (svc, series)) >= want) {
         return v;
      }
      usleep (100 * 1000);
   }
   return v;
}

const char *
tk_ingest_fx_write_temp (const char *suffix, const char *text, size_t len, char *buf, size_t cap)
{
   char tmpl[128];
   snprintf (tmpl, sizeof tmpl, "/tmp/triage-test-XXXXXX%s", suffix);
   int fd = mkstemps (tmpl, (int) strlen (suffix));
   assert_true (fd >= 0);
   assert_int_equal (write (fd, text, len), (ssize_t) len);
   close (fd);
   snprintf (buf, cap, "%s", tmpl);
   return buf;
}
