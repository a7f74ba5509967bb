/* config_table.c - the one table every triage setting comes from.
 *
 * A setting is one row here plus one field in tk_config_t (config.h). The
 * row macros fill the type, the offset of the field and the bounds; parsing,
 * validation, --help and the Markdown reference follow from the row. A
 * default is text, parsed by the same code as user input, so a default that
 * does not validate fails the unit tests at once.
 */
#include "config.h"

#include <stddef.h>

/* Service masks, short enough to keep a row on one line. */
#define IN TK_SVC_INGEST
#define CL TK_SVC_CLASSIFIER
#define AP TK_SVC_API
#define CLI TK_SVC_CLI
#define ALL TK_SVC_ALL
#define SRV TK_SVC_SERVERS

#define OFF(field) offsetof (tk_config_t, field)

#define STR(env, flag, field, def, minlen, svc, help)                                  \
   { env, flag, TK_CFG_STRING, OFF (field), def, NULL, minlen, 65536, 0, 0, NULL, svc, 0, help }
#define SECRET(env, flag, field, svc, help)                                            \
   { env, flag, TK_CFG_STRING, OFF (field), "", NULL, 0, 65536, 0, 0, NULL, svc, TK_CFG_SECRET, help }
#define INT(env, flag, field, def, lo, hi, svc, help)                                  \
   { env, flag, TK_CFG_INT, OFF (field), def, NULL, lo, hi, 0, 0, NULL, svc, 0, help }
#define BOOL(env, flag, field, def, svc, help)                                         \
   { env, flag, TK_CFG_BOOL, OFF (field), def, NULL, 0, 1, 0, 0, NULL, svc, 0, help }
#define DOUBLE(env, flag, field, def, lo, hi, svc, help)                               \
   { env, flag, TK_CFG_DOUBLE, OFF (field), def, NULL, 0, 0, lo, hi, NULL, svc, 0, help }
#define ENUM(env, flag, field, def, choices, svc, help)                                \
   { env, flag, TK_CFG_ENUM, OFF (field), def, NULL, 0, 0, 0, 0, choices, svc, 0, help }
#define DURATION(env, flag, field, def, lo, hi, svc, help)                             \
   { env, flag, TK_CFG_DURATION, OFF (field), def, NULL, lo, hi, 0, 0, NULL, svc, 0, help }
#define SIZE(env, flag, field, def, lo, hi, svc, help)                                 \
   { env, flag, TK_CFG_SIZE, OFF (field), def, NULL, lo, hi, 0, 0, NULL, svc, 0, help }
#define KVLIST(env, flag, field, svc, help)                                            \
   { env, flag, TK_CFG_KVLIST, OFF (field), "", NULL, 0, 0, 0, 0, NULL, svc, 0, help }
/* A row whose default differs per program: a STR or INT row plus the list. */
#define PER_SVC(row_type, env, flag, field, def, lo, hi, svc, defaults, help)          \
   { env, flag, row_type, OFF (field), def, defaults, lo, hi, 0, 0, NULL, svc, 0, help }

#define KB (INT64_C (1024))
#define MB (KB * 1024)
#define GB (MB * 1024)
#define SEC (INT64_C (1000))
#define MIN (SEC * 60)
#define HOUR (MIN * 60)

static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const llm_providers[] = {"local", "openai", "gemini", NULL};
static const char *const on_off[] = {"off", "on", NULL};

static const tk_config_svc_default_t http_ports[] = {
   {TK_SVC_API, "8080"}, {TK_SVC_INGEST, "8081"}, {TK_SVC_CLASSIFIER, "8082"}, {0, NULL}};
static const tk_config_svc_default_t metrics_ports[] = {
   {TK_SVC_API, "9180"}, {TK_SVC_INGEST, "9181"}, {TK_SVC_CLASSIFIER, "9182"}, {0, NULL}};
static const tk_config_svc_default_t kafka_groups[] = {
   {TK_SVC_INGEST, "triage-ingest"},
   {TK_SVC_CLASSIFIER, "triage-classifier"},
   {TK_SVC_API, "triage-api"},
   {TK_SVC_CLI, "triage-cli"},
   {0, NULL}};

/* clang-format off */
static const tk_config_var_t vars[] = {
   STR ("TRIAGE_MONGO_URI", "mongo-uri", mongo_uri, "mongodb://127.0.0.1:27017/triage", 1, ALL, "MongoDB connection string; driver options (pool, TLS, timeouts) go in the URI."),
   STR ("TRIAGE_MONGO_DB", "mongo-db", mongo_db, "", 0, ALL, "Database name. Empty: the database named in TRIAGE_MONGO_URI (mongodb://host/support uses support), else triage; set, it wins over the URI's."),
   INT ("TRIAGE_MONGO_POOL_SIZE", "mongo-pool-size", mongo_pool_size, "16", 1, 256, ALL, "Most MongoDB connections open at once."),
   STR ("TRIAGE_KAFKA_BROKERS", "kafka-brokers", kafka_brokers, "127.0.0.1:9092", 1, ALL, "Kafka bootstrap servers, host:port[,host:port...]."),
   KVLIST ("TRIAGE_KAFKA_CONFIG", "kafka", kafka_config, ALL, "librdkafka setting key=value, passed through as is; the flag repeats, the variable is a comma-separated list."),
   PER_SVC (TK_CFG_STRING, "TRIAGE_KAFKA_GROUP", "kafka-group", kafka_group, "triage", 1, 65536, IN | CL, kafka_groups, "Kafka consumer group id."),
   STR ("TRIAGE_TOPIC_INBOUND", "topic-inbound", topic_inbound, "tickets.inbound", 1, IN | CLI, "Topic of raw tickets from upstream publishers."),
   STR ("TRIAGE_TOPIC_CLASSIFY", "topic-classify", topic_classify, "tickets.classify", 1, ALL, "Topic of classification requests."),
   STR ("TRIAGE_TOPIC_CLASSIFIED", "topic-classified", topic_classified, "tickets.classified", 1, CL | AP | CLI, "Topic of classification results."),
   STR ("TRIAGE_TOPIC_DLQ", "topic-dlq", topic_dlq, "tickets.dlq", 1, IN | CL | AP | CLI, "Dead-letter topic for tickets that failed every retry (and, at ingest, for invalid inbound messages); the api lists it (GET /api/dlq)."),
   INT ("TRIAGE_PARTITIONS", "partitions", partitions, "6", 1, 1000, ALL, "Partitions of each topic created at start-up."),
   STR ("TRIAGE_HTTP_HOST", "http-host", http_host, "127.0.0.1", 1, SRV, "Address the HTTP listener binds."),
   PER_SVC (TK_CFG_INT, "TRIAGE_HTTP_PORT", "http-port", http_port, "8080", 0, 65535, SRV, http_ports, "Port the HTTP listener binds (0: any free port, for tests)."),
   SIZE ("TRIAGE_HTTP_MAX_BODY", "http-max-body", http_max_body, "50MB", 1, 4 * GB, SRV, "Largest request body of an upload route (ingest's POST /v1/tickets, the api's POST /api/tickets/upload), read only once an operator or admin key has been checked."),
   SIZE ("TRIAGE_HTTP_MAX_JSON_BODY", "http-max-json-body", http_max_json_body, "1MB", 1 * KB, 1 * GB, SRV, "Largest request body of the other routes that take one (JSON); a larger one is refused with 413 before it is read."),
   SIZE ("TRIAGE_HTTP_MAX_HEADER", "http-max-header", http_max_header, "16KB", 1 * KB, 1 * MB, SRV, "Largest request head (request line and headers) accepted."),
   DURATION ("TRIAGE_HTTP_HEADER_TIMEOUT", "http-header-timeout", http_header_timeout_ms, "10s", 1, HOUR, SRV, "Longest time a request's head (request line and headers) may take to arrive, from the connection's opening or the request's first byte; an idle new connection is closed after it."),
   DURATION ("TRIAGE_HTTP_IDLE_TIMEOUT", "http-idle-timeout", http_idle_timeout_ms, "60s", 1, 24 * HOUR, SRV, "How long an idle keep-alive connection stays open."),
   DURATION ("TRIAGE_HTTP_REQUEST_TIMEOUT", "http-request-timeout", http_request_timeout_ms, "30s", 1, 24 * HOUR, SRV, "Longest time a client may take to send a request's body once its head is accepted (slow clients are cut off)."),
   INT ("TRIAGE_HTTP_MAX_CONNECTIONS", "http-max-connections", http_max_connections, "1024", 1, 1000000, SRV, "Most HTTP connections open at once."),
   INT ("TRIAGE_HTTP_MAX_CLIENT_CONNECTIONS", "http-max-client-connections", http_max_client_connections, "256", 1, 1000000, SRV, "Most HTTP connections one client address may hold open at once (more are answered 503 and closed), so one client cannot take every connection."),
   STR ("TRIAGE_TRUSTED_PROXIES", "trusted-proxies", trusted_proxies, "", 0, SRV, "Reverse proxies whose X-Forwarded-For header names the client, as addresses or CIDR blocks separated by commas (e.g. 10.0.0.0/8,192.0.2.7); the client is then the right-most address there that is not a trusted proxy. Empty: the TCP peer is the client and X-Forwarded-For is ignored."),
   STR ("TRIAGE_METRICS_HOST", "metrics-host", metrics_host, "127.0.0.1", 1, SRV, "Address of the listener serving GET /metrics (Prometheus text, no key needed); keep it off public networks."),
   PER_SVC (TK_CFG_INT, "TRIAGE_METRICS_PORT", "metrics-port", metrics_port, "9180", 0, 65535, SRV, metrics_ports, "Port of the /metrics listener (0: no metrics listener). The main listener does not serve /metrics."),
   ENUM ("TRIAGE_AUTH", "auth", auth, "on", on_off, IN | AP, "Require an API key on HTTP requests."),
   SECRET ("TRIAGE_ADMIN_KEY", "admin-key", admin_key, IN | AP | CLI, "Administrator API key."),
   INT ("TRIAGE_AUTH_FAILURES_PER_MINUTE", "auth-failures-per-minute", auth_failures_per_minute, "30", 1, 1000000, IN | AP, "Requests with an unknown or revoked key one client address may make a minute (a burst of as many, then refilled evenly); past it, its requests that need a key lookup are answered 429 without asking the database, and at most one audit record a minute is written for it."),
   ENUM ("TRIAGE_LOG_LEVEL", "log-level", log_level, "info", log_levels, ALL, "Lowest level of log lines written."),
   DURATION ("TRIAGE_SHUTDOWN_TIMEOUT", "shutdown-timeout", shutdown_timeout_ms, "10s", 0, HOUR, SRV, "How long a stopping service waits for work in flight."),
   STR ("TRIAGE_TAXONOMY", "taxonomy", taxonomy, "", 0, CL | AP | CLI, "Taxonomy JSON file; empty for the built-in taxonomy."),
   ENUM ("TRIAGE_LLM_PROVIDER", "llm-provider", llm_provider, "local", llm_providers, CL | CLI, "Classifier back end."),
   INT ("TRIAGE_CLASSIFIER_CONCURRENCY", "classifier-concurrency", classifier_concurrency, "32", 1, 1024, CL, "Most tickets being classified at once."),
   INT ("TRIAGE_CLASSIFIER_PREFETCH", "classifier-prefetch", classifier_prefetch, "512", 1, 100000, CL, "Classification requests read ahead of those in flight; consumption pauses beyond it and resumes at half (a resume costs librdkafka 0.5-1 s)."),
   BOOL ("TRIAGE_AUTO_CLASSIFY", "auto-classify", auto_classify, "true", IN, "Request classification of every ticket ingested."),
   INT ("TRIAGE_INGEST_BATCH_SIZE", "ingest-batch-size", ingest_batch_size, "500", 1, 10000, IN, "Most tickets written to MongoDB in one batch."),
   DURATION ("TRIAGE_INGEST_LINGER", "ingest-linger", ingest_linger_ms, "20ms", 0, MIN, IN, "How long ingest waits to fill a batch."),
   BOOL ("TRIAGE_STORE_MASKED", "store-masked", store_masked, "false", IN | AP, "Replace e-mails, phone and card numbers, IP addresses and secrets in a ticket's subject and body by typed placeholders before it is stored (the original text never reaches the database)."),

   /* ---- ingest's own rows ---- */
   ENUM ("TRIAGE_ON_DUPLICATE", "on-duplicate", on_duplicate, "skip", ((const char *const[]) {"skip", "update", NULL}), IN, "What a re-sent ticket id does: skip (report a duplicate) or update (replace a changed subject/body)."),
   INT ("TRIAGE_INGEST_MAX_PENDING", "ingest-max-pending", ingest_max_pending, "20000", 1, 1000000, IN, "Tickets waiting for MongoDB beyond which ingest pauses its Kafka consumer (it resumes at half)."),
   DURATION ("TRIAGE_INGEST_RETRY_AFTER", "ingest-retry-after", ingest_retry_after_ms, "5s", 1 * SEC, HOUR, IN, "Retry-After given to uploads while MongoDB is unreachable; also how often ingest probes it."),
   BOOL ("TRIAGE_INGEST_CONSUME", "ingest-consume", ingest_consume, "true", IN, "Consume the inbound topic (false: HTTP uploads only)."),

   /* ---- end of ingest's rows ---- */

   /* ---- classifier's own rows ---- */
   STR ("TRIAGE_LLM_URL", "llm-url", llm_url, "", 0, CL | CLI, "Base URL of the LLM API (openai: up to /v1, gemini: up to /v1beta); empty for the provider's public endpoint."),
   STR ("TRIAGE_LLM_MODEL", "llm-model", llm_model, "", 0, CL | CLI, "Model name sent to the LLM; empty for the provider's default (gpt-4o-mini, gemini-1.5-flash)."),
   SECRET ("TRIAGE_LLM_API_KEY", "llm-api-key", llm_api_key, CL | CLI, "API key of the LLM provider."),
   DURATION ("TRIAGE_LLM_CONNECT_TIMEOUT", "llm-connect-timeout", llm_connect_timeout_ms, "5s", 1, 10 * MIN, CL | CLI, "Longest time to connect to the LLM."),
   DURATION ("TRIAGE_LLM_TIMEOUT", "llm-timeout", llm_timeout_ms, "60s", 1, HOUR, CL | CLI, "Longest time one LLM call may take in total."),
   DURATION ("TRIAGE_RETRY_BASE", "retry-base", retry_base_ms, "500ms", 1, HOUR, CL | CLI, "Backoff before the second attempt; doubles each attempt, with full jitter."),
   DURATION ("TRIAGE_RETRY_CAP", "retry-cap", retry_cap_ms, "30s", 1, 24 * HOUR, CL | CLI, "Longest backoff between attempts (a Retry-After header may ask for longer)."),
   INT ("TRIAGE_RETRY_MAX_ATTEMPTS", "retry-max-attempts", retry_max_attempts, "5", 1, 100, CL | CLI, "Attempts per ticket before it goes to the dead-letter topic (for triagectl eval, before it counts as never answered)."),
   INT ("TRIAGE_LLM_RPM", "llm-rpm", llm_rpm, "0", 0, 10000000, CL, "Most LLM requests per minute from this worker (token bucket); 0 for no limit."),
   INT ("TRIAGE_LLM_TPM", "llm-tpm", llm_tpm, "0", 0, 1000000000, CL, "Most LLM tokens (estimated) per minute from this worker; 0 for no limit."),
   INT ("TRIAGE_CIRCUIT_THRESHOLD", "circuit-threshold", circuit_threshold, "10", 1, 100000, CL, "Consecutive failed LLM calls that open the circuit (consumption pauses)."),
   DURATION ("TRIAGE_CIRCUIT_PROBE_INTERVAL", "circuit-probe-interval", circuit_probe_interval_ms, "5s", 1, HOUR, CL, "How often an open circuit lets one ticket through to probe the provider."),
   STR ("TRIAGE_MODEL_PATH", "model-path", model_path, "", 0, CL | CLI, "Built-in model file; empty for <exe dir>/../share/triage/model.bin."),
   STR ("TRIAGE_REVIEW_BELOW", "review-below", review_below, "0.5", 1, CL | AP, "A classification whose confidence in any field is under this is stored with needs_review=true (the api lists them with needs_review=true): one number in [0, 1] for every field, or field=number pairs, e.g. priority=0.7,sentiment=0.6,topic=0.5 (a field left out is never flagged)."),
   ENUM ("TRIAGE_CASCADE", "cascade", cascade, "off", on_off, CL, "With a remote provider (openai, gemini): on asks the built-in model first and sends only the tickets it is unsure of (any field under TRIAGE_CASCADE_BELOW) to the LLM; model_version says which answered. Off: every ticket goes to the LLM."),
   STR ("TRIAGE_CASCADE_BELOW", "cascade-below", cascade_below, "0.6", 1, CL, "The cascade's threshold, in TRIAGE_REVIEW_BELOW's form: a built-in answer with every field at or above it is kept, any other ticket goes to the LLM."),
   STR ("TRIAGE_ENCODER_PATH", "encoder-path", encoder_path, "", 0, CL | CLI, "Folder of the sentence encoder's weights (model.safetensors, tokenizer.json) that a built-in model in encoder mode needs; empty for all-MiniLM-L6-v2 beside the model file (the build links the weights bootstrap fetched there)."),
   ENUM ("TRIAGE_FALLBACK_PROVIDER", "fallback-provider", fallback_provider, "none", ((const char *const[]) {"none", "local", NULL}), CL, "What classifies a ticket the remote LLM failed for the last time (attempts used up, a 4xx, invalid answers): none (the ticket goes to the dead-letter topic) or local (the built-in model; model_version says fallback:<model>)."),
   INT ("TRIAGE_LLM_BATCH", "llm-batch", llm_batch, "1", 1, 20, CL, "Tickets asked about in one remote LLM request (answers matched back by id); 1 sends each ticket alone."),
   DURATION ("TRIAGE_LLM_BATCH_WINDOW", "llm-batch-window", llm_batch_window_ms, "20ms", 0, 10 * SEC, CL, "Longest wait for more ready tickets to fill a batch (TRIAGE_LLM_BATCH above 1); a full batch never waits."),

   /* ---- end of classifier's rows ---- */

   /* ---- api's own rows ---- */
   DURATION ("TRIAGE_API_CACHE_TTL", "api-cache-ttl", api_cache_ttl_ms, "5s", 0, HOUR, AP, "How long processing statistics and analytics are served from cache (0: never cached); at least ten times as long as the last statistics scan took, up to 5 minutes, so that a large collection is not read most of the time (the topics' announced writes still refresh sooner: TRIAGE_API_FOLLOW_REFRESH)."),
   STR ("TRIAGE_LIST_SQL_URL", "list-sql-url", list_sql_url, "", 0, AP | CL, "PostgreSQL under FerretDB (libpq URI) whose side tables answer filtered lists and search by index (deploy/local/postgres/ticket-list-tables.sql, docs/decisions/0017), from whose tables the classifier reads a batch of tickets in one statement (docs/decisions/0022), and the api its statistics (docs/decisions/0006); set by the local stack. Empty: every list and read goes to the collection (MongoDB serves them from its own indexes)."),
   INT ("TRIAGE_API_NEWEST_KEEP", "api-newest-keep", api_newest_keep, "1000", 0, 100000, AP, "Newest tickets kept rendered in the statistics snapshot, so GET /api/tickets without filters (newest first) is answered without a query while its page lies among them; the api's own writes to tickets show there at once, those of ingest and the classifier once read back (TRIAGE_API_FOLLOW), other changes up to one TRIAGE_API_CACHE_TTL (or ten scans, up to 5 minutes) later (0: every listing queries the database)."),
   ENUM ("TRIAGE_API_FOLLOW", "api-follow", api_follow, "on", on_off, AP, "Follow TRIAGE_TOPIC_CLASSIFY and TRIAGE_TOPIC_CLASSIFIED (a consumer group of its own per process, from the end of the topics, nothing committed) and read back each ticket they name, so tickets stored by ingest and classified by the classifier show in the kept newest tickets within a second or so instead of at the next refresh. Kafka being down does not stop the api."),
   DURATION ("TRIAGE_API_FOLLOW_REFRESH", "api-follow-refresh", api_follow_refresh_ms, "1s", 0, HOUR, AP, "With TRIAGE_API_FOLLOW=on, the statistics are refreshed this long after the topics announce other services' writes (coalesced: one scan for any number of writes; never sooner after a scan ends than that scan took) (0: only at the timed refresh, TRIAGE_API_CACHE_TTL)."),
   DURATION ("TRIAGE_JOB_STALL_AFTER", "job-stall-after", job_stall_after_ms, "60s", 1 * SEC, 3600 * SEC, AP, "A processing job with tickets pending and none classified or failed for this long is reported stalled (and running again once one is)."),
   INT ("TRIAGE_API_PROCESS_MAX", "api-process-max", api_process_max, "100000", 1, 1000000, AP, "Most tickets one processing request may send for classification."),
   INT ("TRIAGE_API_RATE_LIMIT", "api-rate-limit", api_rate_limit, "0", 0, 1000000, IN | AP, "Requests per second allowed per API key on each service, counted once the key is known to be valid (0: unlimited)."),
   INT ("TRIAGE_API_RATE_BURST", "api-rate-burst", api_rate_burst, "200", 1, 1000000, IN | AP, "Requests an API key may send at once above its rate."),
   STR ("TRIAGE_WEB_ROOT", "web-root", web_root, "", 0, AP, "Directory of the built dashboard served at / and /static/; empty for <exe dir>/../share/triage/web."),
   STR ("TRIAGE_INGEST_URL", "ingest-url", ingest_url, "http://127.0.0.1:8081", 1, AP, "Base URL of triage-ingest, where POST /api/tickets/upload forwards uploads."),
   DURATION ("TRIAGE_API_UPLOAD_TIMEOUT", "api-upload-timeout", api_upload_timeout_ms, "5m", 1, HOUR, AP, "Longest time a forwarded upload may take at ingest."),
   STR ("TRIAGE_API_OPENAPI", "api-openapi", api_openapi, "", 0, AP, "OpenAPI document served at /api/openapi.json; empty for <exe dir>/../share/triage/openapi.json, else the source tree's services/api/openapi.json."),
   INT ("TRIAGE_RETENTION_DAYS", "retention-days", retention_days, "0", 0, 36500, AP, "Tickets created more than this many days ago are purged or anonymised by a scheduled job (0: kept for ever)."),
   ENUM ("TRIAGE_RETENTION_MODE", "retention-mode", retention_mode, "purge", ((const char *const[]) {"purge", "anonymise", NULL}), AP, "What retention does to an old ticket: purge deletes it; anonymise replaces subject and body by their PII-masked form and keeps the labels."),
   DURATION ("TRIAGE_RETENTION_INTERVAL", "retention-interval", retention_interval_ms, "1h", SEC, 7 * 24 * HOUR, AP, "How often the retention job runs (and once 2 s after start)."),

   /* ---- end of api's rows ---- */
};
/* clang-format on */

const tk_config_var_t *
tk_config_vars (size_t *count)
{
   *count = sizeof vars / sizeof vars[0];
   return vars;
}
