/* utf8.c - strict UTF-8 validation (RFC 3629). */
#include "utf8.h"

#include <stdint.h>

/* Decodes one sequence starting at s[i]. Returns its status and, on
 * success, stores its length in *seq_len. */
static tk_utf8_status_t
utf8_decode_one (const unsigned char *s, size_t len, size_t i, size_t *seq_len)
{
   unsigned char c = s[i];
   size_t need;
   uint32_t cp;
   uint32_t min;

   if (c == 0x00) {
      return TK_UTF8_NUL;
   }
   if (c < 0x80) {
      *seq_len = 1;
      return TK_UTF8_OK;
   }
   if (c >= 0xC2 && c <= 0xDF) {
      need = 1;
      cp = c & 0x1Fu;
      min = 0x80;
   } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2;
      cp = c & 0x0Fu;
      min = 0x800;
   } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3;
      cp = c & 0x07u;
      min = 0x10000;
   } else if (c == 0xC0 || c == 0xC1) {
      /* These leads can only start an overlong two-byte form of ASCII. */
      return TK_UTF8_OVERLONG;
   } else {
      return TK_UTF8_BAD_BYTE;
   }

   for (size_t k = 1; k <= need; k++) {
      if (i + k >= len || (s[i + k] & 0xC0u) != 0x80u) {
         return TK_UTF8_TRUNCATED;
      }
      cp = (cp << 6) | (s[i + k] & 0x3Fu);
   }
   if (cp < min) {
      return TK_UTF8_OVERLONG;
   }
   if (cp >= 0xD800 && cp <= 0xDFFF) {
      return TK_UTF8_SURROGATE;
   }
   if (cp > 0x10FFFF) {
      return TK_UTF8_OUT_OF_RANGE;
   }
   *seq_len = need + 1;
   return TK_UTF8_OK;
}

tk_utf8_status_t
tk_utf8_check (const char *s, size_t len, size_t *bad_offset, size_t *n_code_points)
{
   const unsigned char *u = (const unsigned char *) s;
   size_t count = 0;
   size_t i = 0;

   while (i < len) {
      size_t seq_len = 0;
      tk_utf8_status_t st = utf8_decode_one (u, len, i, &seq_len);
      if (st != TK_UTF8_OK) {
         if (bad_offset) {
            *bad_offset = i;
         }
         return st;
      }
      i += seq_len;
      count++;
   }
   if (n_code_points) {
      *n_code_points = count;
   }
   return TK_UTF8_OK;
}

bool
tk_utf8_valid (const char *s, size_t len, size_t *bad_offset)
{
   return tk_utf8_check (s, len, bad_offset, NULL) == TK_UTF8_OK;
}

const char *
tk_utf8_status_str (tk_utf8_status_t status)
{
   switch (status) {
   case TK_UTF8_OK: return "valid";
   case TK_UTF8_NUL: return "NUL byte";
   case TK_UTF8_BAD_BYTE: return "byte that is never valid in UTF-8";
   case TK_UTF8_TRUNCATED: return "truncated sequence";
   case TK_UTF8_OVERLONG: return "overlong encoding";
   case TK_UTF8_SURROGATE: return "UTF-16 surrogate code point";
   case TK_UTF8_OUT_OF_RANGE: return "code point above U+10FFFF";
   default: return "unknown UTF-8 error";
   }
}

size_t
tk_utf8_prefix_len (const char *s, size_t len, size_t max)
{
   if (len <= max) {
      return len;
   }
   size_t n = max;
   /* Back up over continuation bytes to the start of the cut code point. */
   while (n > 0 && (((unsigned char) s[n]) & 0xC0u) == 0x80u) {
      n--;
   }
   return n;
}
