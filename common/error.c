/* error.c - filling tk_error_t records. */
#include "error.h"

#include <stdio.h>
#include <string.h>

static void
error_vset (tk_error_t *err, int domain, int code, const char *field, const char *fmt,
            va_list ap)
{
   err->domain = domain;
   err->code = code;
   snprintf (err->field, sizeof err->field, "%s", field ? field : "");
   int n = vsnprintf (err->message, sizeof err->message, fmt, ap);
   if (n >= (int) sizeof err->message) {
      /* Truncated: never leave half a UTF-8 character at the end, since the
       * message goes into JSON responses. Back up over continuation bytes
       * and drop the lead byte whose sequence was cut. */
      size_t end = sizeof err->message - 1;
      size_t i = end;
      while (i > 0 && ((unsigned char) err->message[i - 1] & 0xC0) == 0x80) {
         i--;
      }
      if (i > 0 && ((unsigned char) err->message[i - 1] & 0x80)) {
         unsigned char lead = (unsigned char) err->message[i - 1];
         size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
         if (end - (i - 1) < need) {
            err->message[i - 1] = '\0';
         }
      }
   }
}

void
tk_error_set (tk_error_t *err, int domain, int code, const char *fmt, ...)
{
   if (!err) {
      return;
   }
   va_list ap;
   va_start (ap, fmt);
   error_vset (err, domain, code, NULL, fmt, ap);
   va_end (ap);
}

void
tk_error_set_field (tk_error_t *err, int domain, int code, const char *field,
                    const char *fmt, ...)
{
   if (!err) {
      return;
   }
   va_list ap;
   va_start (ap, fmt);
   error_vset (err, domain, code, field, fmt, ap);
   va_end (ap);
}

void
tk_error_clear (tk_error_t *err)
{
   if (err) {
      memset (err, 0, sizeof *err);
   }
}

const char *
tk_error_domain_name (int domain)
{
   switch (domain) {
   case TK_ERR_NONE: return "none";
   case TK_ERR_CONFIG: return "config";
   case TK_ERR_INVALID: return "invalid";
   case TK_ERR_MONGO: return "mongo";
   case TK_ERR_KAFKA: return "kafka";
   case TK_ERR_HTTP: return "http";
   case TK_ERR_IO: return "io";
   case TK_ERR_NOMEM: return "nomem";
   case TK_ERR_NOT_FOUND: return "not_found";
   case TK_ERR_DUPLICATE: return "duplicate";
   case TK_ERR_SQL: return "sql";
   case TK_ERR_UNSUPPORTED: return "unsupported";
   case TK_ERR_CONFLICT: return "conflict";
   default: return "unknown";
   }
}
