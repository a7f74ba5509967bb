/* buf.c - a small growable byte buffer. */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool
tk_buf_reserve (tk_buf_t *b, size_t extra)
{
   if (extra > SIZE_MAX - b->len - 1) {
      return false;
   }
   size_t need = b->len + extra + 1;
   if (need <= b->cap) {
      return true;
   }
   size_t cap = b->cap ? b->cap : 64;
   while (cap < need) {
      cap = cap > SIZE_MAX / 2 ? need : cap * 2;
   }
   char *p = realloc (b->data, cap);
   if (!p) {
      return false;
   }
   b->data = p;
   b->cap = cap;
   return true;
}

bool
tk_buf_append (tk_buf_t *b, const void *data, size_t len)
{
   if (!tk_buf_reserve (b, len)) {
      return false;
   }
   if (len) {
      memcpy (b->data + b->len, data, len);
   }
   b->len += len;
   b->data[b->len] = '\0';
   return true;
}

bool
tk_buf_append_str (tk_buf_t *b, const char *s)
{
   return tk_buf_append (b, s, strlen (s));
}

bool
tk_buf_appendf (tk_buf_t *b, const char *fmt, ...)
{
   va_list ap;
   va_start (ap, fmt);
   int n = vsnprintf (NULL, 0, fmt, ap);
   va_end (ap);
   if (n < 0 || !tk_buf_reserve (b, (size_t) n)) {
      return false;
   }
   va_start (ap, fmt);
   vsnprintf (b->data + b->len, (size_t) n + 1, fmt, ap);
   va_end (ap);
   b->len += (size_t) n;
   return true;
}

void
tk_buf_consume (tk_buf_t *b, size_t n)
{
   if (n >= b->len) {
      tk_buf_reset (b);
      return;
   }
   memmove (b->data, b->data + n, b->len - n);
   b->len -= n;
   b->data[b->len] = '\0';
}

void
tk_buf_reset (tk_buf_t *b)
{
   b->len = 0;
   if (b->data) {
      b->data[0] = '\0';
   }
}

char *
tk_buf_steal (tk_buf_t *b, size_t *len)
{
   char *p = b->data;
   if (len) {
      *len = b->len;
   }
   b->data = NULL;
   b->len = 0;
   b->cap = 0;
   return p;
}

void
tk_buf_destroy (tk_buf_t *b)
{
   if (!b) {
      return;
   }
   free (b->data);
   b->data = NULL;
   b->len = 0;
   b->cap = 0;
}
