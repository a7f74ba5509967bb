/* http_strict.c - RFC 9112 syntax of request heads and chunked bodies (see
 * http_strict.h). */
#include "http_strict.h"

#include <string.h>
#include <strings.h>

#define TK_CHUNK_LINE_MAX 4096u  /* a chunk-size line with its extensions */
#define TK_TRAILERS_MAX 8192u    /* the whole trailer section */
#define TK_CHUNK_DIGITS_MAX 15u  /* 60 bits: no overflow, far over any limit */

static bool
is_tchar (unsigned char c)
{
   return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* HTAB, SP, visible ASCII and obs-text: what a field value may hold. */
static bool
is_value_char (unsigned char c)
{
   return c == '\t' || c == ' ' || (c >= 0x21 && c != 0x7f);
}

bool
tk_http_is_token (const char *name, size_t len)
{
   if (len == 0) {
      return false;
   }
   for (size_t i = 0; i < len; i++) {
      if (!is_tchar ((unsigned char) name[i])) {
         return false;
      }
   }
   return true;
}

/* --- heads ------------------------------------------------------------------- */

void
tk_http_head_scan_init (tk_http_head_scan_t *s)
{
   memset (s, 0, sizeof *s);
}

static tk_http_scan_result_t
refuse (tk_http_head_scan_t *s, int status, const char *reason)
{
   s->status = status;
   s->reason = reason;
   return TK_HTTP_SCAN_ERROR;
}

/* method SP request-target SP HTTP-version */
static tk_http_scan_result_t
check_request_line (tk_http_head_scan_t *s, const char *line, size_t len, size_t off)
{
   const unsigned char *p = (const unsigned char *) line;
   size_t i = 0;
   while (i < len && is_tchar (p[i])) {
      i++;
   }
   if (i == 0 || i == len || p[i] != ' ') {
      return refuse (s, 400, "the request line is not \"method target HTTP/1.1\"");
   }
   s->method_off = off;
   s->method_len = i;
   size_t t = ++i;
   while (i < len && p[i] >= 0x21 && p[i] <= 0x7e) {
      i++;
   }
   if (i == t) {
      return refuse (s, 400, "the request line has no target");
   }
   if (i == len) {
      return refuse (s, 400, "HTTP/0.9 requests (no version) are not served");
   }
   if (p[i] != ' ') {
      return refuse (s, 400, "the request target holds a character that must be percent-encoded");
   }
   i++;
   const char *v = line + i;
   size_t vl = len - i;
   if (vl != 8 || memcmp (v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
       v[7] < '0' || v[7] > '9') {
      return refuse (s, 400, "the request line does not end in an HTTP version");
   }
   if (v[5] != '1') {
      return refuse (s, 505, "only HTTP/1.x is served here");
   }
   s->http_minor = v[7] - '0';
   return TK_HTTP_SCAN_MORE;
}

static bool
name_is (const char *name, size_t len, const char *want)
{
   return strlen (want) == len && strncasecmp (name, want, len) == 0;
}

/* field-name ":" OWS field-value OWS */
static tk_http_scan_result_t
check_header_line (tk_http_head_scan_t *s, const char *line, size_t len)
{
   const unsigned char *p = (const unsigned char *) line;
   if (p[0] == ' ' || p[0] == '\t') {
      return refuse (s, 400, "obsolete line folding (a header line starting with whitespace)");
   }
   size_t i = 0;
   while (i < len && is_tchar (p[i])) {
      i++;
   }
   if (i == len || p[i] != ':') {
      return refuse (s, 400,
                     i == len ? "a header line without a colon"
                              : "whitespace or an invalid character in a header name");
   }
   if (i == 0) {
      return refuse (s, 400, "a header line without a name");
   }
   size_t name_len = i++;
   for (size_t k = i; k < len; k++) {
      if (!is_value_char (p[k])) {
         return refuse (s, 400, "a control character in a header value");
      }
   }
   while (i < len && (p[i] == ' ' || p[i] == '\t')) {
      i++;
   }
   size_t end = len;
   while (end > i && (p[end - 1] == ' ' || p[end - 1] == '\t')) {
      end--;
   }
   const char *value = line + i;
   size_t vlen = end - i;

   if (name_is (line, name_len, "Content-Length")) {
      if (s->has_length) {
         return refuse (s, 400, "more than one Content-Length");
      }
      if (vlen == 0 || vlen > 18) {
         return refuse (s, 400, "Content-Length is not a number of bytes");
      }
      uint64_t n = 0;
      for (size_t k = 0; k < vlen; k++) {
         if (value[k] < '0' || value[k] > '9') {
            return refuse (s, 400, "Content-Length is not a number of bytes");
         }
         n = n * 10u + (uint64_t) (value[k] - '0');
      }
      s->has_length = true;
      s->content_length = n;
   } else if (name_is (line, name_len, "Transfer-Encoding")) {
      if (s->te_seen) {
         return refuse (s, 400, "more than one Transfer-Encoding");
      }
      s->te_seen = true;
      if (vlen != 7 || strncasecmp (value, "chunked", 7) != 0) {
         return refuse (s, 501, "only the chunked transfer coding is implemented");
      }
      s->chunked = true;
   } else if (name_is (line, name_len, "Host")) {
      if (++s->host_count > 1) {
         return refuse (s, 400, "more than one Host");
      }
   }
   return TK_HTTP_SCAN_MORE;
}

tk_http_scan_result_t
tk_http_head_scan (tk_http_head_scan_t *s, const char *buf, size_t len)
{
   while (s->pos < len) {
      /* Find the end of the line that starts at s->pos, from where the last
       * call stopped looking (a slow client costs one look per byte). */
      size_t i = s->pos + s->seen;
      size_t end = 0;
      bool found = false;
      for (; i < len; i++) {
         if (buf[i] == '\n') {
            return refuse (s, 400, "a line ends in a bare LF (lines end in CRLF)");
         }
         if (buf[i] == '\r') {
            if (i + 1 == len) {
               break; /* is LF next? */
            }
            if (buf[i + 1] != '\n') {
               return refuse (s, 400, "a bare CR");
            }
            end = i;
            found = true;
            break;
         }
      }
      if (!found) {
         s->seen = i - s->pos;
         return TK_HTTP_SCAN_MORE;
      }
      const char *line = buf + s->pos;
      size_t line_len = end - s->pos;
      size_t next = end + 2;
      tk_http_scan_result_t r = TK_HTTP_SCAN_MORE;
      if (s->lines == 0) {
         if (line_len > 0) {
            r = check_request_line (s, line, line_len, s->pos);
            s->lines++;
         }
      } else if (line_len == 0) {
         s->head_len = next;
         if (s->chunked && s->has_length) {
            return refuse (s, 400, "both Transfer-Encoding and Content-Length");
         }
         if (s->te_seen && s->http_minor == 0) {
            return refuse (s, 400, "Transfer-Encoding in an HTTP/1.0 request");
         }
         return TK_HTTP_SCAN_DONE;
      } else {
         r = check_header_line (s, line, line_len);
         s->lines++;
      }
      if (r == TK_HTTP_SCAN_ERROR) {
         return r;
      }
      s->pos = next;
      s->seen = 0;
   }
   return TK_HTTP_SCAN_MORE;
}

/* --- chunked bodies ------------------------------------------------------------ */

enum {
   C_SIZE_FIRST = 0,
   C_SIZE,
   C_SIZE_BWS,
   C_EXT,
   C_SIZE_LF,
   C_DATA,
   C_DATA_CR,
   C_DATA_LF,
   C_TRAILER_START,
   C_TRAILER_NAME,
   C_TRAILER_VALUE,
   C_TRAILER_LF,
   C_FINAL_LF,
};

void
tk_http_chunk_scan_init (tk_http_chunk_scan_t *s)
{
   memset (s, 0, sizeof *s);
   s->state = C_SIZE_FIRST;
}

int
tk_http_hex_digit (unsigned char c)
{
   if (c >= '0' && c <= '9') {
      return c - '0';
   }
   if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
   }
   if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
   }
   return -1;
}

static tk_http_scan_result_t
chunk_refuse (tk_http_chunk_scan_t *s, const char *reason, size_t at, size_t *used)
{
   s->reason = reason;
   *used = at;
   return TK_HTTP_SCAN_ERROR;
}

tk_http_scan_result_t
tk_http_chunk_scan (tk_http_chunk_scan_t *s, const char *buf, size_t len, size_t *used)
{
   const unsigned char *p = (const unsigned char *) buf;
   size_t i = 0;
   while (i < len) {
      unsigned char c = p[i];
      int h;
      switch (s->state) {
      case C_SIZE_FIRST:
         if ((h = tk_http_hex_digit (c)) < 0) {
            return chunk_refuse (s, "a chunk size is not hexadecimal", i, used);
         }
         s->remaining = (uint64_t) h;
         s->digits = 1;
         s->line_len = 1;
         s->state = C_SIZE;
         break;
      case C_SIZE:
         if ((h = tk_http_hex_digit (c)) >= 0) {
            if (++s->digits > TK_CHUNK_DIGITS_MAX) {
               return chunk_refuse (s, "a chunk size is too large", i, used);
            }
            s->remaining = s->remaining * 16u + (uint64_t) h;
         } else if (c == ';') {
            s->state = C_EXT;
         } else if (c == ' ' || c == '\t') {
            s->state = C_SIZE_BWS;
         } else if (c == '\r') {
            s->state = C_SIZE_LF;
         } else {
            return chunk_refuse (s, "a chunk size line is malformed", i, used);
         }
         break;
      case C_SIZE_BWS:
         if (c == ';') {
            s->state = C_EXT;
         } else if (c != ' ' && c != '\t') {
            return chunk_refuse (s, "a chunk size line is malformed", i, used);
         }
         break;
      case C_EXT:
         if (c == '\r') {
            s->state = C_SIZE_LF;
         } else if (!is_value_char (c)) {
            return chunk_refuse (s, "a control character in a chunk extension", i, used);
         }
         break;
      case C_SIZE_LF:
         if (c != '\n') {
            return chunk_refuse (s, "a chunk size line does not end in CRLF", i, used);
         }
         s->state = s->remaining ? C_DATA : C_TRAILER_START;
         break;
      case C_DATA: {
         uint64_t take = len - i < s->remaining ? len - i : s->remaining;
         s->remaining -= take;
         s->total += take;
         i += (size_t) take;
         if (s->remaining == 0) {
            s->state = C_DATA_CR;
         }
         continue;
      }
      case C_DATA_CR:
         if (c != '\r') {
            return chunk_refuse (s, "chunk data is not followed by CRLF", i, used);
         }
         s->state = C_DATA_LF;
         break;
      case C_DATA_LF:
         if (c != '\n') {
            return chunk_refuse (s, "chunk data is not followed by CRLF", i, used);
         }
         s->state = C_SIZE_FIRST;
         break;
      case C_TRAILER_START:
         if (c == '\r') {
            s->state = C_FINAL_LF;
         } else if (is_tchar (c)) {
            s->state = C_TRAILER_NAME;
         } else {
            return chunk_refuse (s, "a malformed trailer line", i, used);
         }
         break;
      case C_TRAILER_NAME:
         if (c == ':') {
            s->state = C_TRAILER_VALUE;
         } else if (!is_tchar (c)) {
            return chunk_refuse (s, "whitespace or an invalid character in a trailer name", i,
                                 used);
         }
         break;
      case C_TRAILER_VALUE:
         if (c == '\r') {
            s->state = C_TRAILER_LF;
         } else if (!is_value_char (c)) {
            return chunk_refuse (s, "a control character in a trailer value", i, used);
         }
         break;
      case C_TRAILER_LF:
         if (c != '\n') {
            return chunk_refuse (s, "a trailer line does not end in CRLF", i, used);
         }
         s->state = C_TRAILER_START;
         break;
      case C_FINAL_LF:
         if (c != '\n') {
            return chunk_refuse (s, "a chunked body does not end in CRLF", i, used);
         }
         *used = i + 1;
         return TK_HTTP_SCAN_DONE;
      }
      if (s->state == C_SIZE || s->state == C_SIZE_BWS || s->state == C_EXT) {
         if (++s->line_len > TK_CHUNK_LINE_MAX) {
            return chunk_refuse (s, "a chunk size line is too long", i, used);
         }
      } else if (s->state >= C_TRAILER_START && s->state <= C_FINAL_LF) {
         if (++s->trailer_bytes > TK_TRAILERS_MAX) {
            return chunk_refuse (s, "the trailers are too large", i, used);
         }
      }
      i++;
   }
   *used = len;
   return TK_HTTP_SCAN_MORE;
}
