/* Unit tests for common/config.c and config_table.c: defaults, precedence,
 * every value type, error messages naming the variable, --help and the
 * pass-through list. Environments are explicit arrays, never setenv. */
#include "test_support.h"

#include "config.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *no_env[] = {NULL};

#define ARGV(...) ((char *[]){"prog", __VA_ARGS__, NULL})

/* Loads svc with argv (may be NULL) and env; asserts success. */
static void
load_ok (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, char **env)
{
   tk_error_t err = {0};
   char *no_args[] = {"prog", NULL};
   bool ok = tk_config_load (cfg, svc, argv ? argc : 1, argv ? argv : no_args, env, &err);
   if (!ok) {
      fail_msg ("load failed: %s", err.message);
   }
}

/* Loads expecting failure; returns the error. The config must hold nothing
 * afterwards (the leak checker checks the rest). */
static tk_error_t
load_fail (tk_service_t svc, int argc, char **argv, char **env)
{
   tk_error_t err = {0};
   tk_config_t cfg;
   char *no_args[] = {"prog", NULL};
   assert_false (tk_config_load (&cfg, svc, argv ? argc : 1, argv ? argv : no_args, env, &err));
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   assert_null (cfg.mongo_uri);
   assert_null (cfg.kafka_config.items);
   return err;
}

static tk_error_t
env_fail (tk_service_t svc, const char *assignment)
{
   char *env[] = {(char *) assignment, NULL};
   return load_fail (svc, 0, NULL, env);
}

/* Returns the --help text of svc. Caller frees. (Not inlined: GCC 12 takes
 * the memstream buffer for a dangling pointer to a local when it is.) */
static __attribute__ ((noinline)) char *
capture_help (tk_service_t svc, const char *progname)
{
   char *text = NULL;
   size_t len = 0;
   FILE *f = open_memstream (&text, &len);
   assert_non_null (f);
   tk_config_print_help (f, svc, progname);
   fclose (f);
   return text;
}

static void
test_defaults_per_service (void **state)
{
   (void) state;
   tk_config_t cfg;

   load_ok (&cfg, TK_SVC_API, 0, NULL, no_env);
   assert_string_equal (cfg.mongo_uri, "mongodb://127.0.0.1:27017/triage");
   assert_string_equal (cfg.mongo_db, ""); /* the URI's database decides */
   assert_int_equal (cfg.mongo_pool_size, 16);
   assert_string_equal (cfg.kafka_brokers, "127.0.0.1:9092");
   assert_int_equal (cfg.kafka_config.len, 0);
   assert_string_equal (cfg.topic_inbound, "tickets.inbound");
   assert_string_equal (cfg.topic_classify, "tickets.classify");
   assert_string_equal (cfg.topic_classified, "tickets.classified");
   assert_string_equal (cfg.topic_dlq, "tickets.dlq");
   assert_string_equal (cfg.http_host, "127.0.0.1");
   assert_int_equal (cfg.http_port, 8080);
   assert_int_equal (cfg.http_max_body, 50 * 1024 * 1024);
   assert_int_equal (cfg.http_max_header, 16 * 1024);
   assert_int_equal (cfg.http_idle_timeout_ms, 60000);
   assert_int_equal (cfg.http_request_timeout_ms, 30000);
   assert_int_equal (cfg.http_max_connections, 1024);
   assert_int_equal (cfg.log_level, TK_LOG_INFO);
   assert_string_equal (cfg.taxonomy, "");
   assert_int_equal (cfg.shutdown_timeout_ms, 10000);
   assert_true (cfg.auto_classify);
   assert_int_equal (cfg.llm_provider, TK_LLM_LOCAL);
   assert_int_equal (cfg.classifier_concurrency, 32);
   assert_int_equal (cfg.auth, TK_AUTH_ON);
   assert_string_equal (cfg.admin_key, "");
   assert_int_equal (cfg.partitions, 6);
   assert_int_equal (cfg.ingest_batch_size, 500);
   assert_int_equal (cfg.ingest_linger_ms, 20);
   assert_int_equal (cfg.service, TK_SVC_API);
   assert_false (cfg.help_requested);
   tk_config_destroy (&cfg);

   load_ok (&cfg, TK_SVC_INGEST, 0, NULL, no_env);
   assert_int_equal (cfg.http_port, 8081);
   assert_string_equal (cfg.kafka_group, "triage-ingest");
   tk_config_destroy (&cfg);

   load_ok (&cfg, TK_SVC_CLASSIFIER, 0, NULL, no_env);
   assert_int_equal (cfg.http_port, 8082);
   assert_string_equal (cfg.kafka_group, "triage-classifier");
   tk_config_destroy (&cfg);
}

static void
check_row (const tk_config_var_t *var, void *ud)
{
   size_t *count = ud;
   (*count)++;
   assert_int_equal (strncmp (var->env, "TRIAGE_", 7), 0);
   assert_true (var->flag[0] != '\0' && var->flag[0] != '-');
   assert_true (strlen (var->help) > 10);
   assert_true (var->services != 0 && (var->services & ~(unsigned) TK_SVC_ALL) == 0);
   assert_ptr_equal (tk_config_find_var (var->env), var);
   /* Flags and variables are unique. */
   size_t n;
   const tk_config_var_t *vars = tk_config_vars (&n);
   for (size_t i = 0; i < n; i++) {
      if (&vars[i] != var) {
         assert_string_not_equal (vars[i].env, var->env);
         assert_string_not_equal (vars[i].flag, var->flag);
      }
   }
}

static void
test_table_rows_are_well_formed (void **state)
{
   (void) state;
   size_t count = 0, n;
   tk_config_vars (&n);
   tk_config_foreach_var (check_row, &count);
   assert_int_equal (count, n);
   assert_true (n >= 28);
   /* Every default of every row validates for every program. */
   static const tk_service_t svcs[] = {TK_SVC_INGEST, TK_SVC_CLASSIFIER, TK_SVC_API,
                                       TK_SVC_CLI};
   for (size_t i = 0; i < 4; i++) {
      tk_config_t cfg;
      load_ok (&cfg, svcs[i], 0, NULL, no_env);
      tk_config_destroy (&cfg);
   }
}

static void
test_env_overrides_defaults (void **state)
{
   (void) state;
   tk_config_t cfg;
   char *env[] = {"PATH=/bin",
                  "TRIAGE_MONGO_URI=mongodb://db.example:27018/?appname=x",
                  "TRIAGE_HTTP_PORT=9000",
                  "TRIAGE_HTTP_IDLE_TIMEOUT=2s",
                  "TRIAGE_HTTP_MAX_BODY=64KB",
                  "TRIAGE_LOG_LEVEL=debug",
                  "TRIAGE_AUTH=off",
                  "TRIAGE_TAXONOMY=/etc/triage/taxonomy.json",
                  "TRIAGE_HTTP_PORTX=1", /* a longer name is not a match */
                  NULL};
   load_ok (&cfg, TK_SVC_API, 0, NULL, env);
   assert_string_equal (cfg.mongo_uri, "mongodb://db.example:27018/?appname=x");
   assert_int_equal (cfg.http_port, 9000);
   assert_int_equal (cfg.http_idle_timeout_ms, 2000);
   assert_int_equal (cfg.http_max_body, 65536);
   assert_int_equal (cfg.log_level, TK_LOG_DEBUG);
   assert_int_equal (cfg.auth, TK_AUTH_OFF);
   assert_string_equal (cfg.taxonomy, "/etc/triage/taxonomy.json");
   tk_config_destroy (&cfg);
}

static void
test_env_of_other_services_is_ignored (void **state)
{
   (void) state;
   /* One environment is shared by every service (docker-compose); a value
    * only ingest reads must not stop the api, even if it is garbage. */
   tk_config_t cfg;
   char *env[] = {"TRIAGE_INGEST_BATCH_SIZE=lots", "TRIAGE_CLASSIFIER_CONCURRENCY=7", NULL};
   load_ok (&cfg, TK_SVC_API, 0, NULL, env);
   assert_int_equal (cfg.ingest_batch_size, 500);
   assert_int_equal (cfg.classifier_concurrency, 32);
   tk_config_destroy (&cfg);

   load_ok (&cfg, TK_SVC_CLASSIFIER, 0, NULL, env + 1);
   assert_int_equal (cfg.classifier_concurrency, 7);
   tk_config_destroy (&cfg);
}

static void
test_flag_overrides_env (void **state)
{
   (void) state;
   tk_config_t cfg;
   char *env[] = {"TRIAGE_HTTP_PORT=9000", "TRIAGE_MONGO_DB=fromenv",
                  "TRIAGE_AUTO_CLASSIFY=true", "TRIAGE_INGEST_LINGER=1s", NULL};
   char **argv = ARGV ("--http-port", "9100", "--mongo-db=fromflag", "--auto-classify=no",
                       "--ingest-linger", "500ms", "--mongo-uri=mongodb://h/?a=b=c");
   load_ok (&cfg, TK_SVC_INGEST, 8, argv, env);
   assert_int_equal (cfg.http_port, 9100);
   assert_string_equal (cfg.mongo_db, "fromflag");
   assert_false (cfg.auto_classify);
   assert_int_equal (cfg.ingest_linger_ms, 500);
   /* Only the first '=' splits flag from value. */
   assert_string_equal (cfg.mongo_uri, "mongodb://h/?a=b=c");
   assert_int_equal (cfg.rest_argc, 0);
   tk_config_destroy (&cfg);

   /* The later of two flags wins. */
   char **argv2 = ARGV ("--http-port=1", "--http-port=2");
   load_ok (&cfg, TK_SVC_API, 3, argv2, no_env);
   assert_int_equal (cfg.http_port, 2);
   tk_config_destroy (&cfg);
}

static void
test_parse_duration (void **state)
{
   (void) state;
   static const struct {
      const char *text;
      int64_t ms;
   } good[] = {{"500ms", 500}, {"2s", 2000},     {"1m", 60000}, {"1h", 3600000},
               {"250", 250},   {"0ms", 0},       {"10S", 10000}, {"90s", 90000}};
   static const char *const bad[] = {"", "s", "1.5s", "-1s", "2d", " 2s", "2s ", "2 s",
                                     "abc", "9223372036854775807h", "99999999999999999999"};
   int64_t v;
   for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
      v = -1;
      assert_true (tk_config_parse_duration_ms (good[i].text, &v));
      assert_int_equal (v, good[i].ms);
   }
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      if (tk_config_parse_duration_ms (bad[i], &v)) {
         fail_msg ("accepted duration \"%s\"", bad[i]);
      }
   }
}

static void
test_parse_size (void **state)
{
   (void) state;
   static const struct {
      const char *text;
      int64_t bytes;
   } good[] = {{"50MB", 50 * 1024 * 1024}, {"64KB", 65536},  {"64kb", 65536},
               {"1GB", 1073741824},        {"512B", 512},    {"100", 100},
               {"0", 0}};
   static const char *const bad[] = {"", "MB", "1TB", "-1KB", "1.5MB", "64 KB", "64K",
                                     "9223372036854775807GB"};
   int64_t v;
   for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
      v = -1;
      assert_true (tk_config_parse_size (good[i].text, &v));
      assert_int_equal (v, good[i].bytes);
   }
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      if (tk_config_parse_size (bad[i], &v)) {
         fail_msg ("accepted size \"%s\"", bad[i]);
      }
   }
}

static void
test_parse_bool_int_double (void **state)
{
   (void) state;
   static const char *const yes[] = {"true", "TRUE", "1", "yes", "Yes", "on"};
   static const char *const no[] = {"false", "False", "0", "no", "off", "OFF"};
   bool b;
   for (size_t i = 0; i < 6; i++) {
      b = false;
      assert_true (tk_config_parse_bool (yes[i], &b));
      assert_true (b);
      b = true;
      assert_true (tk_config_parse_bool (no[i], &b));
      assert_false (b);
   }
   assert_false (tk_config_parse_bool ("maybe", &b));
   assert_false (tk_config_parse_bool ("", &b));
   assert_false (tk_config_parse_bool ("2", &b));
   assert_false (tk_config_parse_bool (NULL, &b));

   int64_t i64;
   assert_true (tk_config_parse_int64 ("-42", &i64));
   assert_int_equal (i64, -42);
   assert_false (tk_config_parse_int64 ("42x", &i64));
   assert_false (tk_config_parse_int64 ("0x10", &i64));
   assert_false (tk_config_parse_int64 (" 1", &i64));
   assert_false (tk_config_parse_int64 ("", &i64));

   double d;
   assert_true (tk_config_parse_double ("0.25", &d));
   assert_true (d == 0.25);
   assert_true (tk_config_parse_double ("-1e3", &d));
   assert_true (d == -1000.0);
   assert_false (tk_config_parse_double ("1.5.2", &d));
   assert_false (tk_config_parse_double ("inf", &d));
   assert_false (tk_config_parse_double ("nan", &d));
   assert_false (tk_config_parse_double ("", &d));
}

static void
test_bool_and_enum_settings (void **state)
{
   (void) state;
   tk_config_t cfg;
   char *env[] = {"TRIAGE_AUTO_CLASSIFY=off", "TRIAGE_LLM_PROVIDER=gemini",
                  "TRIAGE_LOG_LEVEL=error", NULL};
   load_ok (&cfg, TK_SVC_INGEST | TK_SVC_CLASSIFIER, 0, NULL, env);
   assert_false (cfg.auto_classify);
   assert_int_equal (cfg.llm_provider, TK_LLM_GEMINI);
   assert_int_equal (cfg.log_level, TK_LOG_ERROR);
   tk_config_destroy (&cfg);

   tk_error_t err = env_fail (TK_SVC_API, "TRIAGE_LOG_LEVEL=DEBUG");
   assert_string_equal (err.field, "TRIAGE_LOG_LEVEL");
   assert_string_equal (err.message,
                        "TRIAGE_LOG_LEVEL: \"DEBUG\" is not allowed (one of: debug, info, warn, error)");

   err = env_fail (TK_SVC_CLASSIFIER, "TRIAGE_LLM_PROVIDER=claude");
   assert_string_equal (err.message,
                        "TRIAGE_LLM_PROVIDER: \"claude\" is not allowed (one of: local, openai, gemini)");

   err = env_fail (TK_SVC_INGEST, "TRIAGE_AUTO_CLASSIFY=maybe");
   assert_string_equal (err.field, "TRIAGE_AUTO_CLASSIFY");
   assert_string_equal (err.message, "TRIAGE_AUTO_CLASSIFY: \"maybe\" is not a boolean "
                                     "(true/false, 1/0, yes/no, on/off)");
}

static void
test_bad_values_name_the_variable (void **state)
{
   (void) state;
   tk_error_t err;

   err = env_fail (TK_SVC_API, "TRIAGE_HTTP_PORT=abc");
   assert_string_equal (err.field, "TRIAGE_HTTP_PORT");
   assert_string_equal (err.message, "TRIAGE_HTTP_PORT: \"abc\" is not an integer (0..65535)");

   err = env_fail (TK_SVC_API, "TRIAGE_HTTP_PORT=70000");
   assert_string_equal (err.message, "TRIAGE_HTTP_PORT: \"70000\" is out of range (0..65535)");

   err = env_fail (TK_SVC_API, "TRIAGE_HTTP_PORT=-1");
   assert_string_equal (err.message, "TRIAGE_HTTP_PORT: \"-1\" is out of range (0..65535)");

   err = env_fail (TK_SVC_API, "TRIAGE_HTTP_PORT=99999999999999999999");
   assert_string_equal (err.field, "TRIAGE_HTTP_PORT");
   assert_non_null (strstr (err.message, "is not an integer"));

   err = env_fail (TK_SVC_CLASSIFIER, "TRIAGE_CLASSIFIER_CONCURRENCY=2000");
   assert_string_equal (err.message,
                        "TRIAGE_CLASSIFIER_CONCURRENCY: \"2000\" is out of range (1..1024)");

   err = env_fail (TK_SVC_API, "TRIAGE_HTTP_IDLE_TIMEOUT=soon");
   assert_string_equal (err.field, "TRIAGE_HTTP_IDLE_TIMEOUT");
   assert_string_equal (err.message, "TRIAGE_HTTP_IDLE_TIMEOUT: \"soon\" is not a duration "
                                     "like 500ms, 2s, 1m or 1h (1ms..24h)");

   err = env_fail (TK_SVC_API, "TRIAGE_HTTP_IDLE_TIMEOUT=25h");
   assert_string_equal (err.message,
                        "TRIAGE_HTTP_IDLE_TIMEOUT: \"25h\" is out of range (1ms..24h)");

   err = env_fail (TK_SVC_INGEST, "TRIAGE_HTTP_MAX_BODY=5TB");
   assert_string_equal (err.field, "TRIAGE_HTTP_MAX_BODY");
   assert_string_equal (err.message, "TRIAGE_HTTP_MAX_BODY: \"5TB\" is not a size "
                                     "like 512B, 64KB, 50MB or 1GB (1B..4GB)");

   err = env_fail (TK_SVC_INGEST, "TRIAGE_HTTP_MAX_HEADER=100B");
   assert_string_equal (err.message,
                        "TRIAGE_HTTP_MAX_HEADER: \"100B\" is out of range (1KB..1MB)");

   err = env_fail (TK_SVC_API, "TRIAGE_MONGO_URI=");
   assert_string_equal (err.field, "TRIAGE_MONGO_URI");
   assert_string_equal (err.message, "TRIAGE_MONGO_URI: must not be empty");

   /* From a flag, the message names the flag the user typed; the field is
    * still the variable. */
   char **argv = ARGV ("--http-port=99999");
   err = load_fail (TK_SVC_API, 2, argv, no_env);
   assert_string_equal (err.field, "TRIAGE_HTTP_PORT");
   assert_string_equal (err.message, "--http-port: \"99999\" is out of range (0..65535)");

   /* A long value is shortened in the message. */
   char long_env[300] = "TRIAGE_PARTITIONS=";
   memset (long_env + strlen (long_env), '7', 200);
   err = env_fail (TK_SVC_API, long_env);
   assert_string_equal (err.field, "TRIAGE_PARTITIONS");
   assert_non_null (strstr (err.message, "...\" is not an integer (1..1000)"));
}

static void
test_unknown_and_misplaced_arguments (void **state)
{
   (void) state;
   tk_error_t err;

   char **a1 = ARGV ("--mongo-uri", "mongodb://x", "--nope=1");
   err = load_fail (TK_SVC_API, 4, a1, no_env);
   assert_string_equal (err.field, "--nope=1");
   assert_string_equal (err.message, "unknown option --nope (see --help)");

   char **a2 = ARGV ("-x");
   err = load_fail (TK_SVC_API, 2, a2, no_env);
   assert_string_equal (err.message, "unknown option -x (see --help)");

   /* A flag that exists, but for another program. */
   char **a3 = ARGV ("--ingest-batch-size", "10");
   err = load_fail (TK_SVC_API, 3, a3, no_env);
   assert_string_equal (err.field, "TRIAGE_INGEST_BATCH_SIZE");
   assert_string_equal (err.message, "--ingest-batch-size (TRIAGE_INGEST_BATCH_SIZE) is not "
                                     "an option of triage-api (see --help)");

   char **a4 = ARGV ("--http-port");
   err = load_fail (TK_SVC_API, 2, a4, no_env);
   assert_string_equal (err.field, "TRIAGE_HTTP_PORT");
   assert_string_equal (err.message, "--http-port: missing value");

   char **a5 = ARGV ("--http-port", "1", "extra");
   err = load_fail (TK_SVC_API, 4, a5, no_env);
   assert_string_equal (err.message, "unexpected argument \"extra\" (see --help)");

   /* The command-line client keeps what follows its options. */
   tk_config_t cfg;
   char **a6 = ARGV ("--mongo-db", "x", "upload", "--limit", "5");
   load_ok (&cfg, TK_SVC_CLI, 6, a6, no_env);
   assert_string_equal (cfg.mongo_db, "x");
   assert_int_equal (cfg.rest_argc, 3);
   assert_string_equal (cfg.rest_argv[0], "upload");
   assert_string_equal (cfg.rest_argv[1], "--limit");
   tk_config_destroy (&cfg);

   char **a7 = ARGV ("--", "--not-an-option");
   load_ok (&cfg, TK_SVC_CLI, 3, a7, no_env);
   assert_int_equal (cfg.rest_argc, 1);
   assert_string_equal (cfg.rest_argv[0], "--not-an-option");
   tk_config_destroy (&cfg);
}

static void
test_help_requested (void **state)
{
   (void) state;
   tk_config_t cfg;
   /* --help works even when the environment holds a bad value. */
   char *env[] = {"TRIAGE_HTTP_PORT=abc", NULL};
   char **argv = ARGV ("--http-port=1", "--help");
   load_ok (&cfg, TK_SVC_API, 3, argv, env);
   assert_true (cfg.help_requested);
   assert_int_equal (cfg.http_port, 8080);
   tk_config_destroy (&cfg);

   char **argv2 = ARGV ("-h");
   load_ok (&cfg, TK_SVC_INGEST, 2, argv2, no_env);
   assert_true (cfg.help_requested);
   tk_config_destroy (&cfg);
}

typedef struct {
   tk_service_t svc;
   const char *help;
} help_check_t;

/* A row appears in a program's help if and only if the program uses it. */
static void
check_row_in_help (const tk_config_var_t *var, void *ud)
{
   const help_check_t *hc = ud;
   char flag[96];
   snprintf (flag, sizeof flag, "  --%s <", var->flag);
   bool used = (var->services & (unsigned) hc->svc) != 0;
   bool shown = strstr (hc->help, flag) != NULL;
   if (used != shown) {
      fail_msg ("%s: used by %s = %d but in help = %d", var->env, tk_service_name (hc->svc),
                used, shown);
   }
   if (used) {
      assert_non_null (strstr (hc->help, var->env));
      assert_non_null (strstr (hc->help, var->help));
   }
}

static void
test_help_lists_only_the_services_rows (void **state)
{
   (void) state;
   static const tk_service_t svcs[] = {TK_SVC_INGEST, TK_SVC_CLASSIFIER, TK_SVC_API,
                                       TK_SVC_CLI};
   for (size_t i = 0; i < 4; i++) {
      char *help = capture_help (svcs[i], "triage-x");
      help_check_t hc = {svcs[i], help};
      tk_config_foreach_var (check_row_in_help, &hc);
      free (help);
   }

   char *help = capture_help (TK_SVC_INGEST, "triage-ingest");
   assert_int_equal (strncmp (help, "Usage: triage-ingest [options]\n", 31), 0);
   assert_non_null (strstr (help, "  --http-port <0..65535>\n"
                                  "        Port the HTTP listener binds (0: any free port, for tests).\n"
                                  "        env TRIAGE_HTTP_PORT; default 8081\n"));
   assert_non_null (strstr (help, "  --log-level <debug|info|warn|error>\n"));
   assert_non_null (strstr (help, "env TRIAGE_HTTP_MAX_BODY; default 50MB\n"));
   assert_non_null (strstr (help, "env TRIAGE_KAFKA_GROUP; default triage-ingest\n"));
   assert_non_null (strstr (help, "env TRIAGE_KAFKA_CONFIG; repeatable\n"));
   assert_null (strstr (help, "--classifier-concurrency"));
   free (help);

   help = capture_help (TK_SVC_CLASSIFIER, "triage-classifier");
   assert_non_null (strstr (help, "env TRIAGE_HTTP_PORT; default 8082\n"));
   assert_null (strstr (help, "--ingest-batch-size"));
   assert_null (strstr (help, "TRIAGE_ADMIN_KEY"));
   free (help);
}

static void
test_help_never_shows_secrets (void **state)
{
   (void) state;
   char *help = capture_help (TK_SVC_API, "triage-api");
   const char *row = strstr (help, "--admin-key <string>\n");
   assert_non_null (row);
   const char *env_line = strstr (row, "env TRIAGE_ADMIN_KEY");
   assert_non_null (env_line);
   const char *eol = strchr (env_line, '\n');
   assert_non_null (eol);
   assert_int_equal (strncmp (env_line, "env TRIAGE_ADMIN_KEY; secret, never printed\n",
                              (size_t) (eol - env_line + 1)),
                     0);
   free (help);

   /* A loaded secret is masked when values are formatted for logs. */
   tk_config_t cfg;
   char *env[] = {"TRIAGE_ADMIN_KEY=Zq7mXk2PvR9tLw4nBc8sHy3dGf6jKa1e", NULL};
   load_ok (&cfg, TK_SVC_API, 0, NULL, env);
   assert_string_equal (cfg.admin_key, "Zq7mXk2PvR9tLw4nBc8sHy3dGf6jKa1e");
   char buf[64];
   assert_true (tk_config_format_value (&cfg, "TRIAGE_ADMIN_KEY", buf, sizeof buf));
   assert_string_equal (buf, "********");
   tk_config_destroy (&cfg);

   /* The markdown reference never holds a default for a secret either. */
   char *md = NULL;
   size_t len = 0;
   FILE *f = open_memstream (&md, &len);
   tk_config_write_markdown (f);
   fclose (f);
   const char *md_row = strstr (md, "| `TRIAGE_ADMIN_KEY` |");
   assert_non_null (md_row);
   assert_non_null (strstr (md_row, "| (secret) |"));
   free (md);
}

static void
test_format_value (void **state)
{
   (void) state;
   tk_config_t cfg;
   char *env[] = {"TRIAGE_HTTP_REQUEST_TIMEOUT=1500", "TRIAGE_HTTP_MAX_BODY=1048576",
                  "TRIAGE_KAFKA_CONFIG=acks=all,sasl.password=hunter2", NULL};
   char buf[128];
   load_ok (&cfg, TK_SVC_INGEST, 0, NULL, env);
   assert_true (tk_config_format_value (&cfg, "TRIAGE_HTTP_REQUEST_TIMEOUT", buf, sizeof buf));
   assert_string_equal (buf, "1500ms");
   assert_true (tk_config_format_value (&cfg, "TRIAGE_HTTP_IDLE_TIMEOUT", buf, sizeof buf));
   assert_string_equal (buf, "1m");
   assert_true (tk_config_format_value (&cfg, "TRIAGE_HTTP_MAX_BODY", buf, sizeof buf));
   assert_string_equal (buf, "1MB");
   assert_true (tk_config_format_value (&cfg, "TRIAGE_AUTH", buf, sizeof buf));
   assert_string_equal (buf, "on");
   assert_true (tk_config_format_value (&cfg, "TRIAGE_AUTO_CLASSIFY", buf, sizeof buf));
   assert_string_equal (buf, "true");
   assert_true (tk_config_format_value (&cfg, "TRIAGE_KAFKA_CONFIG", buf, sizeof buf));
   assert_string_equal (buf, "acks=all,sasl.password=********");
   assert_false (tk_config_format_value (&cfg, "TRIAGE_NOPE", buf, sizeof buf));
   assert_false (tk_config_format_value (&cfg, "TRIAGE_MONGO_URI", buf, 8));
   tk_config_destroy (&cfg);
}

static void
test_kafka_pass_through (void **state)
{
   (void) state;
   tk_config_t cfg;
   char *env[] = {"TRIAGE_KAFKA_CONFIG=acks=all,,linger.ms=5,sasl.jaas.config=a\\,b=c", NULL};
   char **argv = ARGV ("--kafka", "client.id=ingest-1", "--kafka=acks=1",
                       "--kafka", "bootstrap.servers=a:1,b:2");
   load_ok (&cfg, TK_SVC_INGEST, 6, argv, env);
   static const char *const want[][2] = {
      {"acks", "all"},         {"linger.ms", "5"}, {"sasl.jaas.config", "a,b=c"},
      {"client.id", "ingest-1"}, {"acks", "1"},    {"bootstrap.servers", "a:1,b:2"}};
   assert_int_equal (cfg.kafka_config.len, 6);
   for (size_t i = 0; i < 6; i++) {
      assert_string_equal (cfg.kafka_config.items[i].key, want[i][0]);
      assert_string_equal (cfg.kafka_config.items[i].value, want[i][1]);
   }
   tk_config_destroy (&cfg);

   tk_error_t err = env_fail (TK_SVC_API, "TRIAGE_KAFKA_CONFIG=acks=all,oops");
   assert_string_equal (err.field, "TRIAGE_KAFKA_CONFIG");
   assert_string_equal (err.message, "TRIAGE_KAFKA_CONFIG: \"oops\" is not key=value");

   char **bad = ARGV ("--kafka", "=x");
   err = load_fail (TK_SVC_API, 3, bad, no_env);
   assert_string_equal (err.message, "--kafka: \"=x\" is not key=value");

   /* An empty value is allowed: librdkafka decides what it means. */
   char **empty = ARGV ("--kafka=ssl.ca.location=");
   load_ok (&cfg, TK_SVC_API, 2, empty, no_env);
   assert_int_equal (cfg.kafka_config.len, 1);
   assert_string_equal (cfg.kafka_config.items[0].value, "");
   tk_config_destroy (&cfg);
}

static void
test_set_and_destroy (void **state)
{
   (void) state;
   tk_config_t cfg;
   tk_error_t err = {0};
   load_ok (&cfg, TK_SVC_API, 0, NULL, no_env);
   assert_true (tk_config_set (&cfg, "TRIAGE_MONGO_DB", "other", &err));
   assert_true (tk_config_set (&cfg, "TRIAGE_MONGO_DB", "third", &err)); /* old one freed */
   assert_string_equal (cfg.mongo_db, "third");
   assert_false (tk_config_set (&cfg, "TRIAGE_PARTITIONS", "0", &err));
   assert_string_equal (err.field, "TRIAGE_PARTITIONS");
   assert_int_equal (cfg.partitions, 6); /* unchanged after a failure */
   assert_false (tk_config_set (&cfg, "TRIAGE_NOPE", "1", &err));
   assert_string_equal (err.message, "TRIAGE_NOPE: no such setting");
   tk_config_destroy (&cfg);
   assert_null (cfg.mongo_db);
   tk_config_destroy (&cfg); /* twice is harmless */
   tk_config_destroy (NULL);
}

static void
test_markdown_lists_every_variable (void **state)
{
   (void) state;
   char *md = NULL;
   size_t len = 0;
   FILE *f = open_memstream (&md, &len);
   tk_config_write_markdown (f);
   fclose (f);
   assert_int_equal (strncmp (md, "| Variable | Flag | Type | Default | Used by | Description |\n"
                                  "| --- | --- | --- | --- | --- | --- |\n",
                              98),
                     0);
   size_t n;
   const tk_config_var_t *vars = tk_config_vars (&n);
   size_t lines = 0;
   for (const char *p = md; *p; p++) {
      lines += *p == '\n';
   }
   assert_int_equal (lines, n + 2);
   for (size_t i = 0; i < n; i++) {
      char cell[96];
      snprintf (cell, sizeof cell, "| `%s` | `--%s` |", vars[i].env, vars[i].flag);
      assert_non_null (strstr (md, cell));
   }
   assert_non_null (strstr (md, "| `TRIAGE_HTTP_PORT` | `--http-port` | integer (0..65535) | "
                                "`8080` (api), `8081` (ingest), `8082` (classifier) | "
                                "ingest, classifier, api | Port the HTTP listener binds (0: any free port, for tests). |\n"));
   free (md);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_defaults_per_service),
      cmocka_unit_test (test_table_rows_are_well_formed),
      cmocka_unit_test (test_env_overrides_defaults),
      cmocka_unit_test (test_env_of_other_services_is_ignored),
      cmocka_unit_test (test_flag_overrides_env),
      cmocka_unit_test (test_parse_duration),
      cmocka_unit_test (test_parse_size),
      cmocka_unit_test (test_parse_bool_int_double),
      cmocka_unit_test (test_bool_and_enum_settings),
      cmocka_unit_test (test_bad_values_name_the_variable),
      cmocka_unit_test (test_unknown_and_misplaced_arguments),
      cmocka_unit_test (test_help_requested),
      cmocka_unit_test (test_help_lists_only_the_services_rows),
      cmocka_unit_test (test_help_never_shows_secrets),
      cmocka_unit_test (test_format_value),
      cmocka_unit_test (test_kafka_pass_through),
      cmocka_unit_test (test_set_and_destroy),
      cmocka_unit_test (test_markdown_lists_every_variable),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
