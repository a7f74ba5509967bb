/* log.h - structured logging: one JSON object per line on stderr.
 *
 *   {"ts":"2026-11-28T18:30:00.123Z","level":"info","service":"ingest",
 *    "component":"kafka","msg":"partition assigned"}
 *
 * Each line is written with a single write(2), so lines from the loop thread
 * and from uv_queue_work threads never interleave. TK_LOG checks the level
 * before formatting anything. librdkafka's and libmongoc's own log lines are
 * routed here (tk_log_rdkafka_cb, tk_log_route_mongoc), so a service emits
 * one format only.
 */
#ifndef TK_LOG_H
#define TK_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
   TK_LOG_DEBUG = 0,
   TK_LOG_INFO = 1,
   TK_LOG_WARN = 2,
   TK_LOG_ERROR = 3,
   TK_LOG_OFF = 4,
} tk_log_level_t;

/* The current threshold; read by TK_LOG before it formats. */
extern tk_log_level_t tk_log_threshold;

/* Sets the service name printed on every line (copied) and the threshold. */
void tk_log_init (const char *service, tk_log_level_t threshold);

/* Sends lines to fd instead of stderr (tests use a pipe). */
void tk_log_set_fd (int fd);

/* Parses "debug" | "info" | "warn" | "error" | "off"; false if unknown. */
bool tk_log_level_parse (const char *name, tk_log_level_t *out);

/* Writes one line. component may be NULL. Prefer TK_LOG. */
void tk_log_write (tk_log_level_t level, const char *component, const char *fmt, ...)
   __attribute__ ((format (printf, 3, 4)));

#define TK_LOG(level, component, ...)                                   \
   do {                                                                 \
      if ((level) >= tk_log_threshold) {                                \
         tk_log_write ((level), (component), __VA_ARGS__);              \
      }                                                                 \
   } while (0)

#define TK_DEBUG(component, ...) TK_LOG (TK_LOG_DEBUG, component, __VA_ARGS__)
#define TK_INFO(component, ...) TK_LOG (TK_LOG_INFO, component, __VA_ARGS__)
#define TK_WARN(component, ...) TK_LOG (TK_LOG_WARN, component, __VA_ARGS__)
#define TK_ERROR(component, ...) TK_LOG (TK_LOG_ERROR, component, __VA_ARGS__)

/* Routes libmongoc's log handler into this logger. Call once at start-up. */
void tk_log_route_mongoc (void);

/* A librdkafka log_cb: set it with rd_kafka_conf_set_log_cb. The signature
 * matches librdkafka's; rk is unused. */
struct rd_kafka_s;
void tk_log_rdkafka_cb (const struct rd_kafka_s *rk, int level, const char *fac,
                        const char *buf);

/* Appends s to out (capacity cap, used *len) as a JSON string body, without
 * the quotes, escaping quotes, backslashes and control bytes. Truncates
 * safely. Exposed for the unit test and for other JSON-line writers. */
void tk_log_json_escape (char *out, size_t cap, size_t *len, const char *s);

#endif
