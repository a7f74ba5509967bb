/* confidence_threshold.c - per-field confidence thresholds (see
 * confidence_threshold.h). */
#include "confidence_threshold.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads one number in [0, 1] from [p, end). */
static bool
parse_unit (const char *p, const char *end, double *out)
{
   char buf[32];
   size_t n = (size_t) (end - p);
   if (n == 0 || n >= sizeof buf) {
      return false;
   }
   memcpy (buf, p, n);
   buf[n] = '\0';
   char *stop;
   errno = 0;
   double v = strtod (buf, &stop);
   if (errno || *stop || !isfinite (v) || v < 0.0 || v > 1.0) {
      return false;
   }
   *out = v;
   return true;
}

static double *
field_of (tk_threshold_t *t, const char *name, size_t len)
{
   if (len == 5 && !strncmp (name, "topic", 5)) {
      return &t->topic;
   }
   if (len == 9 && !strncmp (name, "sentiment", 9)) {
      return &t->sentiment;
   }
   if (len == 8 && !strncmp (name, "priority", 8)) {
      return &t->priority;
   }
   return NULL;
}

bool
tk_threshold_parse (const char *text, tk_threshold_t *out, char *why, size_t cap)
{
   memset (out, 0, sizeof *out);
   if (!text || !*text) {
      snprintf (why, cap, "is empty; give a number in [0, 1] or field=number pairs");
      return false;
   }
   if (!strchr (text, '=')) {
      double v;
      if (!parse_unit (text, text + strlen (text), &v)) {
         snprintf (why, cap, "\"%.40s\" is not a number in [0, 1]", text);
         return false;
      }
      out->topic = out->sentiment = out->priority = v;
      return true;
   }
   for (const char *p = text; *p;) {
      const char *comma = strchr (p, ',');
      const char *end = comma ? comma : p + strlen (p);
      const char *eq = memchr (p, '=', (size_t) (end - p));
      double *field = eq ? field_of (out, p, (size_t) (eq - p)) : NULL;
      if (!field) {
         snprintf (why, cap, "\"%.*s\" is not topic=, sentiment= or priority=",
                   (int) (end - p > 40 ? 40 : end - p), p);
         memset (out, 0, sizeof *out);
         return false;
      }
      if (!parse_unit (eq + 1, end, field)) {
         snprintf (why, cap, "\"%.*s\" is not a number in [0, 1]",
                   (int) (end - eq - 1 > 40 ? 40 : end - eq - 1), eq + 1);
         memset (out, 0, sizeof *out);
         return false;
      }
      if (comma && !comma[1]) {
         snprintf (why, cap, "ends with a comma");
         memset (out, 0, sizeof *out);
         return false;
      }
      p = comma ? comma + 1 : end;
   }
   return true;
}

bool
tk_threshold_any_below (const tk_confidence_t *conf, const tk_threshold_t *t)
{
   return conf->topic < t->topic || conf->sentiment < t->sentiment ||
          conf->priority < t->priority;
}
