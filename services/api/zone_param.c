/* zone_param.c - the `tz` query parameter of GET /api/analytics and
 * GET /api/processing-stats: the IANA zone whose days "processed today" and
 * the per-day series count in (common/timezone.h). */
#include "api.h"

#include <stdio.h>
#include <string.h>

#include "timezone.h"

bool
api_zone_param (tk_http_request_t *req, const tk_query_param_t *params, size_t n, char *tz,
                size_t cap)
{
   tz[0] = '\0';
   bool seen = false;
   for (size_t i = 0; i < n; i++) {
      if (strcmp (params[i].key, "tz") != 0) {
         continue;
      }
      if (seen) {
         api_respond_error (req, 400, "invalid", "tz", "tz: given twice");
         return false;
      }
      seen = true;
      tk_error_t err;
      tk_zone_t *z = tk_zone_open (params[i].value, &err);
      if (!z) {
         char msg[sizeof err.message + 8];
         snprintf (msg, sizeof msg, "tz: %s", err.message);
         api_respond_error (req, err.domain == TK_ERR_NOMEM ? 500 : 400,
                            err.domain == TK_ERR_NOMEM ? "internal" : "invalid", "tz", msg);
         return false;
      }
      tk_zone_close (z);
      /* UTC is what the answers without the parameter count in already. */
      if (strcmp (params[i].value, "UTC") != 0) {
         snprintf (tz, cap, "%s", params[i].value);
      }
   }
   return true;
}
