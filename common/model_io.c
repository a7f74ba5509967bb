/* model_io.c - the byte-level helpers of model_io.h. */
#include "model_io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void
tk_put (tk_wbuf_t *b, const void *p, size_t n)
{
   if (b->nomem) {
      return;
   }
   if (b->len + n > b->cap) {
      size_t cap = b->cap ? b->cap : 4096;
      while (cap < b->len + n) {
         cap *= 2;
      }
      unsigned char *grown = realloc (b->data, cap);
      if (!grown) {
         b->nomem = true;
         return;
      }
      b->data = grown;
      b->cap = cap;
   }
   memcpy (b->data + b->len, p, n);
   b->len += n;
}

void
tk_put_u32 (tk_wbuf_t *b, uint32_t v)
{
   unsigned char le[4] = {(unsigned char) v, (unsigned char) (v >> 8), (unsigned char) (v >> 16),
                          (unsigned char) (v >> 24)};
   tk_put (b, le, 4);
}

void
tk_put_f32 (tk_wbuf_t *b, float f)
{
   uint32_t v;
   memcpy (&v, &f, 4);
   tk_put_u32 (b, v);
}

void
tk_put_str (tk_wbuf_t *b, const char *s)
{
   size_t n = strlen (s);
   tk_put_u32 (b, (uint32_t) n);
   tk_put (b, s, n);
}

bool
tk_get_u32 (tk_rbuf_t *r, uint32_t *v)
{
   if (r->left < 4) {
      return false;
   }
   *v = (uint32_t) r->p[0] | (uint32_t) r->p[1] << 8 | (uint32_t) r->p[2] << 16 |
        (uint32_t) r->p[3] << 24;
   r->p += 4;
   r->left -= 4;
   return true;
}

bool
tk_get_f32 (tk_rbuf_t *r, float *f)
{
   uint32_t v;
   if (!tk_get_u32 (r, &v)) {
      return false;
   }
   memcpy (f, &v, 4);
   return isfinite (*f);
}

bool
tk_get_str (tk_rbuf_t *r, size_t max, char **out)
{
   uint32_t n;
   if (!tk_get_u32 (r, &n) || n == 0 || n > max || n > r->left || memchr (r->p, 0, n)) {
      return false;
   }
   if (!(*out = strndup ((const char *) r->p, n))) {
      return false;
   }
   r->p += n;
   r->left -= n;
   return true;
}

bool
tk_get_bytes (tk_rbuf_t *r, size_t n, const unsigned char **p)
{
   if (n > r->left) {
      return false;
   }
   *p = r->p;
   r->p += n;
   r->left -= n;
   return true;
}

uint16_t
tk_f32_to_f16 (float f)
{
   uint32_t x;
   memcpy (&x, &f, 4);
   uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xffu, man = x & 0x7fffffu;
   if (exp == 0xff) { /* inf or nan */
      return (uint16_t) (sign | 0x7c00u | (man ? 0x200u : 0));
   }
   int e = (int) exp - 127 + 15;
   if (e >= 31) {
      return (uint16_t) (sign | 0x7c00u);
   }
   if (e <= 0) { /* subnormal half, or zero */
      if (e < -10) {
         return (uint16_t) sign;
      }
      man |= 0x800000u;
      uint32_t shift = (uint32_t) (14 - e);
      uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
      half += rest > mid || (rest == mid && (half & 1));
      return (uint16_t) (sign | half);
   }
   uint32_t half = (uint32_t) e << 10 | man >> 13, rest = man & 0x1fffu;
   half += rest > 0x1000u || (rest == 0x1000u && (half & 1)); /* may carry into the exponent */
   return (uint16_t) (sign | half);
}

float
tk_f16_to_f32 (uint16_t h)
{
   uint32_t sign = (uint32_t) (h & 0x8000u) << 16, exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
   if (exp == 0) {
      float f = ldexpf ((float) man, -24);
      return sign ? -f : f;
   }
   if (exp == 31) {
      x = sign | 0x7f800000u | man << 13;
   } else {
      x = sign | (exp - 15 + 127) << 23 | man << 13;
   }
   float f;
   memcpy (&f, &x, 4);
   return f;
}

uint32_t
tk_fnv1a32 (const unsigned char *p, size_t n)
{
   uint32_t h = 2166136261u;
   for (size_t i = 0; i < n; i++) {
      h ^= p[i];
      h *= 16777619u;
   }
   return h;
}

unsigned char *
tk_read_whole_file (const char *path, size_t *len, tk_error_t *err)
{
   unsigned char *data = NULL;
   FILE *f = fopen (path, "rb");
   long size;
   if (!f || fseek (f, 0, SEEK_END) != 0 || (size = ftell (f)) < 0 || fseek (f, 0, SEEK_SET) != 0) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot open %s: %s", path,
                          strerror (errno));
      goto done;
   }
   if (!(data = malloc ((size_t) size + 1))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading %s", path);
      goto done;
   }
   if (fread (data, 1, (size_t) size, f) != (size_t) size) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot read %s", path);
      free (data);
      data = NULL;
      goto done;
   }
   data[size] = '\0';
   *len = (size_t) size;
done:
   if (f) {
      fclose (f);
   }
   return data;
}

bool
tk_write_file_atomic (const char *path, const void *data, size_t len, tk_error_t *err)
{
   bool ok = false;
   char *tmp = NULL;
   FILE *f = NULL;
   if (asprintf (&tmp, "%s.tmp.%ld", path, (long) getpid ()) < 0) {
      tmp = NULL;
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   if (!(f = fopen (tmp, "wb"))) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot create %s: %s", tmp,
                          strerror (errno));
      goto done;
   }
   if (fwrite (data, 1, len, f) != len || fflush (f) != 0) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot write %s: %s", tmp,
                          strerror (errno));
      goto done;
   }
   int rc = fclose (f);
   f = NULL;
   if (rc != 0 || rename (tmp, path) != 0) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot write %s: %s", path,
                          strerror (errno));
      goto done;
   }
   ok = true;
done:
   if (f) {
      fclose (f);
   }
   if (!ok && tmp) {
      unlink (tmp);
   }
   free (tmp);
   return ok;
}
