/* config_values.c - one value as text: parsing booleans, integers,
 * decimals, durations ("30s", "5m") and sizes ("16KiB"), and formatting
 * durations, sizes and a row's accepted values back to text.
 */
#include "config_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

#define SEC_MS INT64_C (1000)
#define MIN_MS (SEC_MS * 60)
#define HOUR_MS (MIN_MS * 60)

/* ---------------------------------------------------------------------
 * Parsers
 * ------------------------------------------------------------------- */

bool
tk_config_parse_bool (const char *text, bool *out)
{
   static const char *const yes[] = {"true", "1", "yes", "on"};
   static const char *const no[] = {"false", "0", "no", "off"};
   if (!text) {
      return false;
   }
   for (size_t i = 0; i < 4; i++) {
      if (strcasecmp (text, yes[i]) == 0) {
         *out = true;
         return true;
      }
      if (strcasecmp (text, no[i]) == 0) {
         *out = false;
         return true;
      }
   }
   return false;
}

/* Parses a leading decimal integer (optional sign, no spaces); *end is set
 * past it. False if there are no digits or it overflows. */
static bool
parse_leading_int64 (const char *text, int64_t *out, const char **end)
{
   if (!text || !(isdigit ((unsigned char) text[0]) ||
                  ((text[0] == '-' || text[0] == '+') && isdigit ((unsigned char) text[1])))) {
      return false;
   }
   char *e = NULL;
   errno = 0;
   long long v = strtoll (text, &e, 10);
   if (errno == ERANGE) {
      return false;
   }
   *out = (int64_t) v;
   *end = e;
   return true;
}

bool
tk_config_parse_int64 (const char *text, int64_t *out)
{
   const char *end = NULL;
   int64_t v;
   if (!parse_leading_int64 (text, &v, &end) || *end != '\0') {
      return false;
   }
   *out = v;
   return true;
}

bool
tk_config_parse_double (const char *text, double *out)
{
   if (!text || !*text || isspace ((unsigned char) text[0])) {
      return false;
   }
   char *end = NULL;
   errno = 0;
   double v = strtod (text, &end);
   if (errno == ERANGE || *end != '\0' || !isfinite (v)) {
      return false;
   }
   *out = v;
   return true;
}

typedef struct {
   const char *suffix;
   int64_t scale;
} unit_t;

/* Parses "<integer><unit>" where unit is one of units (matched without
 * regard to case) or empty (scale 1). Rejects negatives and overflow. */
static bool
parse_with_unit (const char *text, const unit_t *units, size_t nunits, int64_t *out)
{
   const char *end = NULL;
   int64_t v;
   if (!parse_leading_int64 (text, &v, &end) || v < 0) {
      return false;
   }
   int64_t scale = 0;
   if (*end == '\0') {
      scale = 1;
   } else {
      for (size_t i = 0; i < nunits; i++) {
         if (strcasecmp (end, units[i].suffix) == 0) {
            scale = units[i].scale;
            break;
         }
      }
   }
   if (scale == 0 || (v > 0 && v > INT64_MAX / scale)) {
      return false;
   }
   *out = v * scale;
   return true;
}

bool
tk_config_parse_duration_ms (const char *text, int64_t *out)
{
   static const unit_t units[] = {
      {"ms", 1}, {"s", SEC_MS}, {"m", MIN_MS}, {"h", HOUR_MS}};
   return parse_with_unit (text, units, sizeof units / sizeof units[0], out);
}

bool
tk_config_parse_size (const char *text, int64_t *out)
{
   static const unit_t units[] = {{"b", 1},
                                  {"kb", INT64_C (1) << 10},
                                  {"mb", INT64_C (1) << 20},
                                  {"gb", INT64_C (1) << 30}};
   return parse_with_unit (text, units, sizeof units / sizeof units[0], out);
}

/* ---------------------------------------------------------------------
 * Formatting values back to text
 * ------------------------------------------------------------------- */

void
tk_config__format_duration (int64_t ms, char *buf, size_t cap)
{
   if (ms != 0 && ms % HOUR_MS == 0) {
      snprintf (buf, cap, "%" PRId64 "h", ms / HOUR_MS);
   } else if (ms != 0 && ms % MIN_MS == 0) {
      snprintf (buf, cap, "%" PRId64 "m", ms / MIN_MS);
   } else if (ms != 0 && ms % SEC_MS == 0) {
      snprintf (buf, cap, "%" PRId64 "s", ms / SEC_MS);
   } else {
      snprintf (buf, cap, "%" PRId64 "ms", ms);
   }
}

void
tk_config__format_size (int64_t bytes, char *buf, size_t cap)
{
   static const char *const names[] = {"GB", "MB", "KB"};
   static const int shifts[] = {30, 20, 10};
   for (size_t i = 0; i < 3; i++) {
      int64_t unit = INT64_C (1) << shifts[i];
      if (bytes != 0 && bytes % unit == 0) {
         snprintf (buf, cap, "%" PRId64 "%s", bytes / unit, names[i]);
         return;
      }
   }
   snprintf (buf, cap, "%" PRId64 "B", bytes);
}

/* What a row accepts, e.g. "1..65535" or "debug, info, warn, error". */
void
tk_config__format_allowed (const tk_config_var_t *var, char *buf, size_t cap)
{
   char lo[32], hi[32];
   buf[0] = '\0';
   switch (var->type) {
   case TK_CFG_INT:
      snprintf (buf, cap, "%" PRId64 "..%" PRId64, var->min, var->max);
      break;
   case TK_CFG_DOUBLE:
      snprintf (buf, cap, "%g..%g", var->dmin, var->dmax);
      break;
   case TK_CFG_DURATION:
      tk_config__format_duration (var->min, lo, sizeof lo);
      tk_config__format_duration (var->max, hi, sizeof hi);
      snprintf (buf, cap, "%s..%s", lo, hi);
      break;
   case TK_CFG_SIZE:
      tk_config__format_size (var->min, lo, sizeof lo);
      tk_config__format_size (var->max, hi, sizeof hi);
      snprintf (buf, cap, "%s..%s", lo, hi);
      break;
   case TK_CFG_ENUM: {
      size_t used = 0;
      for (size_t i = 0; var->choices[i]; i++) {
         int n = snprintf (buf + used, cap - used, "%s%s", i ? ", " : "", var->choices[i]);
         if (n < 0 || (size_t) n >= cap - used) {
            break;
         }
         used += (size_t) n;
      }
      break;
   }
   case TK_CFG_BOOL:
      snprintf (buf, cap, "true/false, 1/0, yes/no, on/off");
      break;
   case TK_CFG_STRING:
   case TK_CFG_KVLIST:
      break;
   }
}

