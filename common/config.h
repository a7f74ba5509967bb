/* config.h - every setting of every triage program, from one table.
 *
 * One declarative table (config_table.c) lists each setting once: its
 * environment variable (TRIAGE_*), its command-line flag, its type, its
 * default (as text, parsed by the same code as user input), bounds, help
 * text, the programs that use it, and the field of tk_config_t it fills.
 * Parsing, validation, defaults, --help and the Markdown reference are all
 * generated from that table, so they cannot drift apart. Adding a setting is
 * one row in the table plus one field in tk_config_t.
 *
 * Precedence: table default < per-service default < environment < flag.
 * Flags take a value, as `--flag value` or `--flag=value` (bools too:
 * `--auto-classify=false`). `--help` / `-h` sets help_requested.
 *
 * Value syntax:
 *   bool      true/false, 1/0, yes/no, on/off (any case)
 *   int       decimal integer
 *   double    decimal number (strtod syntax, finite)
 *   enum      one of the row's choices, exact spelling
 *   duration  integer with unit ms, s, m or h ("500ms", "2s", "1m");
 *             a bare integer means milliseconds
 *   size      integer with unit B, KB, MB or GB (1024-based, any case;
 *             "64KB", "50MB"); a bare integer means bytes
 *   kv list   "key=value,key=value"; a comma inside a value is written "\,"
 *
 * librdkafka settings pass straight through, kcat-style: the repeatable flag
 * `--kafka key=value` and TRIAGE_KAFKA_CONFIG="key=value,..." build one
 * ordered list (environment entries first, then flags), which the Kafka
 * module hands to rd_kafka_conf_set in order, so later entries win. MongoDB
 * options pass through the connection string itself.
 */
#ifndef TK_CONFIG_H
#define TK_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "confidence_threshold.h"
#include "error.h"

/* The programs. A table row's `services` is a mask of these. */
typedef enum {
   TK_SVC_INGEST = 1,
   TK_SVC_CLASSIFIER = 2,
   TK_SVC_API = 4,
   TK_SVC_CLI = 8,
} tk_service_t;

#define TK_SVC_ALL (TK_SVC_INGEST | TK_SVC_CLASSIFIER | TK_SVC_API | TK_SVC_CLI)
#define TK_SVC_SERVERS (TK_SVC_INGEST | TK_SVC_CLASSIFIER | TK_SVC_API)

/* Values of the enum settings; each is the index of the choice in its row. */
typedef enum {
   TK_LLM_LOCAL = 0,
   TK_LLM_OPENAI = 1,
   TK_LLM_GEMINI = 2,
} tk_llm_provider_t;

typedef enum {
   TK_AUTH_OFF = 0,
   TK_AUTH_ON = 1,
} tk_auth_mode_t;

/* TRIAGE_LOG_LEVEL's choices are debug, info, warn, error in that order, so
 * the stored index equals the matching tk_log_level_t of log.h. */

/* One pass-through setting. Both strings are owned by the list. */
typedef struct {
   char *key;
   char *value;
} tk_kv_t;

/* An ordered list of pass-through settings, owned by the config. */
typedef struct {
   tk_kv_t *items;
   size_t len;
   size_t cap;
} tk_kv_list_t;

/* Every setting as a typed field. Strings are owned (malloc'd) and freed by
 * tk_config_destroy; they are never NULL after a successful load. Durations
 * are milliseconds, sizes are bytes. Enums are stored as int (the index of
 * the choice, see the enums above). */
typedef struct {
   /* MongoDB */
   char *mongo_uri;
   char *mongo_db;
   int mongo_pool_size;

   /* Kafka */
   char *kafka_brokers;
   tk_kv_list_t kafka_config;
   char *kafka_group;
   char *topic_inbound;
   char *topic_classify;
   char *topic_classified;
   char *topic_dlq;
   int partitions;

   /* HTTP listener */
   char *http_host;
   int http_port;
   int64_t http_max_body;       /* upload routes */
   int64_t http_max_json_body;  /* every other route that takes a body */
   int64_t http_max_header;
   int64_t http_header_timeout_ms;
   int64_t http_idle_timeout_ms;
   int64_t http_request_timeout_ms;
   int http_max_connections;
   int http_max_client_connections;
   char *trusted_proxies;       /* addresses / CIDR blocks, "" = none */
   char *metrics_host;
   int metrics_port;            /* 0: no metrics listener */
   int auth;        /* tk_auth_mode_t */
   char *admin_key; /* secret */
   int auth_failures_per_minute; /* per client address, before 429 */

   /* Process */
   int log_level; /* tk_log_level_t */
   int64_t shutdown_timeout_ms;

   /* Classification */
   char *taxonomy; /* path to a JSON file; "" = the built-in taxonomy */
   int llm_provider; /* tk_llm_provider_t */
   int classifier_concurrency;
   int classifier_prefetch;
   bool auto_classify;

   /* Ingest */
   int ingest_batch_size;
   int64_t ingest_linger_ms;
   bool store_masked; /* TRIAGE_STORE_MASKED: PII masked before a ticket is stored */

   /* ---- ingest's own settings ---- */
   int on_duplicate;              /* TRIAGE_ON_DUPLICATE: 0 skip, 1 update */
   int ingest_max_pending;
   int64_t ingest_retry_after_ms;
   bool ingest_consume;

   /* ---- end of ingest's settings ---- */

   /* ---- classifier's own settings ---- */
   char *llm_url;
   char *llm_model;
   char *llm_api_key; /* secret */
   int64_t llm_connect_timeout_ms;
   int64_t llm_timeout_ms;
   int64_t retry_base_ms;
   int64_t retry_cap_ms;
   int retry_max_attempts;
   int llm_rpm;
   int llm_tpm;
   int circuit_threshold;
   int64_t circuit_probe_interval_ms;
   char *model_path;
   char *encoder_path;
   int fallback_provider;        /* TRIAGE_FALLBACK_PROVIDER: 0 none, 1 local */
   char *review_below;           /* TRIAGE_REVIEW_BELOW, as given */
   tk_threshold_t review_threshold; /* ... parsed at load */
   int cascade;                  /* TRIAGE_CASCADE: 0 off, 1 on */
   char *cascade_below;          /* TRIAGE_CASCADE_BELOW, as given */
   tk_threshold_t cascade_threshold; /* ... parsed at load */
   int llm_batch;                /* tickets per remote LLM request */
   int64_t llm_batch_window_ms;  /* longest wait to fill a batch */

   /* ---- end of classifier's settings ---- */

   /* ---- api's own settings ---- */
   int64_t api_cache_ttl_ms;   /* stats and analytics cache lifetime */
   int api_newest_keep;        /* newest tickets kept in the snapshot; 0 = none */
   int api_follow;             /* TRIAGE_API_FOLLOW: 0 off, 1 on */
   int64_t api_follow_refresh_ms; /* statistics refresh after followed writes; 0 = none */
   char *list_sql_url;         /* PostgreSQL of the list side tables; "" = none */
   int api_process_max;        /* most tickets one processing job requests */
   int64_t job_stall_after_ms; /* a job without progress this long is stalled */
   int api_rate_limit;         /* requests per second per key (api and ingest); 0 = unlimited */
   int api_rate_burst;         /* bucket size of the rate limit */
   char *web_root;             /* the dashboard's files; "" = <exe>/../share/triage/web */
   char *ingest_url;           /* where uploads are forwarded */
   int64_t api_upload_timeout_ms;
   char *api_openapi;          /* path of openapi.json; "" = found beside the binary */
   int retention_days;           /* tickets older than this are purged/anonymised; 0 = off */
   int retention_mode;           /* 0 purge, 1 anonymise */
   int64_t retention_interval_ms; /* how often the retention job runs */

   /* ---- end of api's settings ---- */

   /* Filled by tk_config_load, not by the table. */
   tk_service_t service;  /* the program the config was loaded for */
   bool help_requested;   /* --help or -h was given; nothing else was parsed */
   int rest_argc;         /* TK_SVC_CLI only: arguments from the first */
   char **rest_argv;      /* non-flag one (or after "--"), borrowed from argv */
} tk_config_t;

/* Value types of the table. */
typedef enum {
   TK_CFG_STRING,
   TK_CFG_INT,
   TK_CFG_BOOL,
   TK_CFG_DOUBLE,
   TK_CFG_ENUM,
   TK_CFG_DURATION,
   TK_CFG_SIZE,
   TK_CFG_KVLIST,
} tk_config_type_t;

/* Row flags. */
#define TK_CFG_SECRET 1u /* never printed: not in help, markdown or dumps */

/* A default that applies only to some programs (e.g. each service's port). */
typedef struct {
   unsigned services; /* mask of tk_service_t; 0 ends the list */
   const char *value;
} tk_config_svc_default_t;

/* One row of the table. Read-only; see config_table.c. */
typedef struct {
   const char *env;  /* "TRIAGE_HTTP_PORT" */
   const char *flag; /* "http-port", used as --http-port */
   tk_config_type_t type;
   size_t offset; /* offsetof (tk_config_t, field) */
   const char *def; /* default as text; parsed like user input */
   const tk_config_svc_default_t *svc_defaults; /* NULL or ended by {0} */
   int64_t min, max;     /* INT, DURATION (ms), SIZE (bytes); STRING: length */
   double dmin, dmax;    /* DOUBLE */
   const char *const *choices; /* ENUM: NULL-terminated */
   unsigned services;    /* mask of tk_service_t */
   unsigned flags;       /* TK_CFG_SECRET */
   const char *help;     /* one sentence */
} tk_config_var_t;

/* The table itself: *count rows, static storage. */
const tk_config_var_t *tk_config_vars (size_t *count);

/* Calls cb for every row of the table, in table order. */
void tk_config_foreach_var (void (*cb) (const tk_config_var_t *var, void *ud), void *ud);

/* Finds a row by environment variable name; NULL if none. */
const tk_config_var_t *tk_config_find_var (const char *env);

/* The default text of a row for one program (the per-service default if one
 * matches svc, else the row's default). Static string. */
const char *tk_config_default_for (const tk_config_var_t *var, tk_service_t svc);

/* Loads the configuration of program svc: table defaults, then the
 * environment, then argv[1..argc-1]. envp is a NULL-terminated "NAME=value"
 * array; NULL means the process environment (environ). Rows that svc does not
 * use get their defaults and ignore the environment; their flags are unknown
 * to svc. A positional argument is an error except for TK_SVC_CLI, where it
 * and everything after it land in rest_argc/rest_argv.
 *
 * cfg is overwritten (do not pass a loaded config without destroying it).
 * On success returns true; check cfg->help_requested. On failure returns
 * false, fills err (domain TK_ERR_CONFIG, field = the variable's name, or the
 * offending argument for an unknown flag) and leaves cfg holding nothing to
 * free. */
bool tk_config_load (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, char **envp,
                     tk_error_t *err);

/* Sets one setting by environment variable name from text, with the same
 * parsing and validation as tk_config_load (a KVLIST value is appended). For
 * tests and for programs that take settings from elsewhere. */
bool tk_config_set (tk_config_t *cfg, const char *env, const char *value, tk_error_t *err);

/* Frees the strings and lists cfg owns and zeroes it, so destroying twice is
 * harmless. Accepts NULL, and a config whose load failed. A config that was
 * never loaded must be zeroed first. */
void tk_config_destroy (tk_config_t *cfg);

/* Writes the --help text for program svc: usage, then for each row svc uses
 * its flag, value type, environment variable, default and help. Defaults of
 * secret rows are never printed. */
void tk_config_print_help (FILE *out, tk_service_t svc, const char *progname);

/* Writes a Markdown reference table of every row (for docs generation). */
void tk_config_write_markdown (FILE *out);

/* Formats the current value of a row into buf (e.g. "2s", "50MB", "on",
 * "acks=all,linger.ms=5"); a secret row that is set, and a pass-through
 * value whose key contains "password" or "secret", print as "********".
 * Returns false if env names no row or buf is too small (buf is then
 * truncated but NUL-terminated). For start-up logs. */
bool tk_config_format_value (const tk_config_t *cfg, const char *env, char *buf, size_t cap);

/* Parsers behind the table, exported for other modules' own options.
 * Each returns false on garbage, overflow or trailing characters. */
bool tk_config_parse_bool (const char *text, bool *out);
bool tk_config_parse_int64 (const char *text, int64_t *out);
bool tk_config_parse_double (const char *text, double *out);
bool tk_config_parse_duration_ms (const char *text, int64_t *out);
bool tk_config_parse_size (const char *text, int64_t *out);

/* A static name for a service: "ingest", "classifier", "api", "cli". For a
 * mask of several, the lowest. */
const char *tk_service_name (tk_service_t svc);

#endif
