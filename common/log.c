/* log.c - JSON-lines logger shared by the services. */
#include "log.h"

#include <mongoc/mongoc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

tk_log_level_t tk_log_threshold = TK_LOG_INFO;

static char log_service[32] = "triage";
static int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void
tk_log_init (const char *service, tk_log_level_t threshold)
{
   snprintf (log_service, sizeof log_service, "%s", service ? service : "triage");
   tk_log_threshold = threshold;
}

void
tk_log_set_fd (int fd)
{
   log_fd = fd;
}

bool
tk_log_level_parse (const char *name, tk_log_level_t *out)
{
   for (int i = 0; i <= TK_LOG_OFF; i++) {
      if (name && strcmp (name, level_names[i]) == 0) {
         *out = (tk_log_level_t) i;
         return true;
      }
   }
   return false;
}

void
tk_log_json_escape (char *out, size_t cap, size_t *len, const char *s)
{
   size_t n = *len;
   /* Keep room for the longest escape (\u00XX) and the terminating NUL. */
   for (; s && *s && n + 7 < cap; s++) {
      unsigned char c = (unsigned char) *s;
      switch (c) {
      case '"': out[n++] = '\\'; out[n++] = '"'; break;
      case '\\': out[n++] = '\\'; out[n++] = '\\'; break;
      case '\n': out[n++] = '\\'; out[n++] = 'n'; break;
      case '\r': out[n++] = '\\'; out[n++] = 'r'; break;
      case '\t': out[n++] = '\\'; out[n++] = 't'; break;
      default:
         if (c < 0x20 || c == 0x7f) {
            n += (size_t) snprintf (out + n, cap - n, "\\u%04x", c);
         } else {
            out[n++] = (char) c;
         }
      }
   }
   out[n] = '\0';
   *len = n;
}

static void
log_append (char *out, size_t cap, size_t *len, const char *s)
{
   size_t n = strlen (s);
   if (*len + n + 1 > cap) {
      n = cap - *len - 1;
   }
   memcpy (out + *len, s, n);
   *len += n;
   out[*len] = '\0';
}

static void
log_vwrite (tk_log_level_t level, const char *component, const char *fmt, va_list ap)
{
   char msg[2048];
   vsnprintf (msg, sizeof msg, fmt, ap);

   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   struct tm tm;
   gmtime_r (&ts.tv_sec, &tm);
   char when[40];
   size_t w = strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
   snprintf (when + w, sizeof when - w, ".%03ldZ", ts.tv_nsec / 1000000L);

   /* Room for the worst case: every byte of msg escaped as \u00XX. */
   char line[2048 * 6 + 256];
   size_t len = 0;
   line[0] = '\0';
   log_append (line, sizeof line, &len, "{\"ts\":\"");
   log_append (line, sizeof line, &len, when);
   log_append (line, sizeof line, &len, "\",\"level\":\"");
   log_append (line, sizeof line, &len, level_names[level < TK_LOG_OFF ? level : TK_LOG_ERROR]);
   log_append (line, sizeof line, &len, "\",\"service\":\"");
   tk_log_json_escape (line, sizeof line, &len, log_service);
   if (component) {
      log_append (line, sizeof line, &len, "\",\"component\":\"");
      tk_log_json_escape (line, sizeof line, &len, component);
   }
   log_append (line, sizeof line, &len, "\",\"msg\":\"");
   tk_log_json_escape (line, sizeof line, &len, msg);
   log_append (line, sizeof line, &len, "\"}\n");

   /* One write per line; a short write to a pipe is retried for the rest. */
   size_t off = 0;
   while (off < len) {
      ssize_t r = write (log_fd, line + off, len - off);
      if (r <= 0) {
         break;
      }
      off += (size_t) r;
   }
}

void
tk_log_write (tk_log_level_t level, const char *component, const char *fmt, ...)
{
   if (level < tk_log_threshold || level >= TK_LOG_OFF) {
      return;
   }
   va_list ap;
   va_start (ap, fmt);
   log_vwrite (level, component, fmt, ap);
   va_end (ap);
}

static void
log_mongoc_handler (mongoc_log_level_t mlevel, const char *domain, const char *message,
                    void *user_data)
{
   (void) user_data;
   tk_log_level_t level;
   switch (mlevel) {
   case MONGOC_LOG_LEVEL_ERROR:
   case MONGOC_LOG_LEVEL_CRITICAL: level = TK_LOG_ERROR; break;
   case MONGOC_LOG_LEVEL_WARNING: level = TK_LOG_WARN; break;
   case MONGOC_LOG_LEVEL_MESSAGE:
   case MONGOC_LOG_LEVEL_INFO: level = TK_LOG_INFO; break;
   default: level = TK_LOG_DEBUG; break; /* debug and trace */
   }
   /* FerretDB has no endSessions command; libmongoc warns about it every time
    * a pool is destroyed. It is harmless (docs/decisions/0004), so it is
    * demoted rather than alarming operators at each shutdown. */
   if (level == TK_LOG_WARN && message && strstr (message, "\"endSessions\"")) {
      level = TK_LOG_DEBUG;
   }
   char component[48];
   snprintf (component, sizeof component, "mongoc.%s", domain ? domain : "");
   TK_LOG (level, component, "%s", message);
}

void
tk_log_route_mongoc (void)
{
   mongoc_log_set_handler (log_mongoc_handler, NULL);
}

void
tk_log_rdkafka_cb (const struct rd_kafka_s *rk, int level, const char *fac, const char *buf)
{
   (void) rk;
   /* librdkafka uses syslog levels: 0-3 error, 4 warning, 5-6 info, 7 debug. */
   tk_log_level_t l = level <= 3 ? TK_LOG_ERROR
                    : level == 4 ? TK_LOG_WARN
                    : level <= 6 ? TK_LOG_INFO
                                 : TK_LOG_DEBUG;
   char component[48];
   snprintf (component, sizeof component, "rdkafka.%s", fac ? fac : "");
   TK_LOG (l, component, "%s", buf);
}
