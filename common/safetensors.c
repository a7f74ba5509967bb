/* safetensors.c - the .safetensors reader described in safetensors.h. */
#include "safetensors.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c reads little-endian tensors in place: a big-endian host needs a copy"
#endif

#define MAX_DIMS 4
#define MAX_HEADER (64u << 20)

typedef struct {
   char *name;
   char dtype[8];
   size_t shape[MAX_DIMS];
   size_t n_dims;
   const unsigned char *data; /* inside the mapping, or copy */
   size_t bytes;
   float *copy; /* owned when the mapped data is misaligned */
} tensor_t;

struct tk_safetensors {
   void *map;
   size_t map_len;
   tensor_t *tensors;
   size_t n;
};

void
tk_safetensors_close (tk_safetensors_t *st)
{
   if (!st) {
      return;
   }
   for (size_t i = 0; i < st->n; i++) {
      free (st->tensors[i].name);
      free (st->tensors[i].copy);
   }
   free (st->tensors);
   if (st->map) {
      munmap (st->map, st->map_len);
   }
   free (st);
}

void
tk_safetensors_release (const tk_safetensors_t *st, const float *data, size_t n_floats)
{
   uintptr_t map = (uintptr_t) st->map, begin = (uintptr_t) data;
   uintptr_t end = begin + n_floats * sizeof *data, page = (uintptr_t) sysconf (_SC_PAGESIZE);
   if (!st->map || begin < map || end > map + st->map_len) {
      return; /* a copy */
   }
   begin = (begin + page - 1) / page * page;
   end = end / page * page;
   if (begin < end) {
      /* Read-only private file pages: dropped, they read back from the file. */
      madvise ((void *) begin, end - begin, MADV_DONTNEED);
   }
}

size_t
tk_safetensors_count (const tk_safetensors_t *st)
{
   return st->n;
}

/* Reads a non-negative integer that fits a size_t exactly. */
static bool
json_size (const cJSON *j, size_t *out)
{
   if (!cJSON_IsNumber (j) || j->valuedouble < 0 || j->valuedouble > 9007199254740992.0 ||
       j->valuedouble != (double) (size_t) j->valuedouble) {
      return false;
   }
   *out = (size_t) j->valuedouble;
   return true;
}

/* Fills t from one header entry; data is the first byte after the header. */
static bool
parse_entry (const cJSON *e, const unsigned char *data, size_t data_len, tensor_t *t)
{
   const cJSON *dtype = cJSON_GetObjectItemCaseSensitive (e, "dtype");
   const cJSON *shape = cJSON_GetObjectItemCaseSensitive (e, "shape");
   const cJSON *offs = cJSON_GetObjectItemCaseSensitive (e, "data_offsets");
   size_t begin, end, elems = 1;
   if (!cJSON_IsString (dtype) || strlen (dtype->valuestring) >= sizeof t->dtype ||
       !cJSON_IsArray (shape) || cJSON_GetArraySize (shape) > MAX_DIMS || !cJSON_IsArray (offs) ||
       cJSON_GetArraySize (offs) != 2 || !json_size (cJSON_GetArrayItem (offs, 0), &begin) ||
       !json_size (cJSON_GetArrayItem (offs, 1), &end) || begin > end || end > data_len) {
      return false;
   }
   strcpy (t->dtype, dtype->valuestring);
   const cJSON *d;
   cJSON_ArrayForEach (d, shape)
   {
      if (!json_size (d, &t->shape[t->n_dims]) ||
          (t->shape[t->n_dims] && elems > SIZE_MAX / t->shape[t->n_dims])) {
         return false;
      }
      elems *= t->shape[t->n_dims++];
   }
   t->data = data + begin;
   t->bytes = end - begin;
   if (strcmp (t->dtype, "F32") == 0) {
      if (elems > SIZE_MAX / 4 || elems * 4 != t->bytes) {
         return false;
      }
      if ((uintptr_t) t->data % _Alignof (float) != 0) {
         if (!(t->copy = malloc (t->bytes + 1))) {
            return false;
         }
         memcpy (t->copy, t->data, t->bytes);
         t->data = (const unsigned char *) t->copy;
      }
   }
   return true;
}

static bool
parse_header (tk_safetensors_t *st, const char *path, tk_error_t *err)
{
   const unsigned char *p = st->map;
   uint64_t hlen = 0;
   for (int i = 7; i >= 0; i--) {
      hlen = hlen << 8 | p[i];
   }
   if (hlen == 0 || hlen > MAX_HEADER || hlen > st->map_len - 8) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: bad safetensors header length",
                          path);
      return false;
   }
   cJSON *root = cJSON_ParseWithLength ((const char *) p + 8, (size_t) hlen);
   bool ok = false;
   if (!cJSON_IsObject (root)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: the safetensors header is not a JSON object", path);
      goto done;
   }
   if (!(st->tensors = calloc ((size_t) cJSON_GetArraySize (root) + 1, sizeof *st->tensors))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading %s", path);
      goto done;
   }
   const unsigned char *data = p + 8 + hlen;
   size_t data_len = st->map_len - 8 - (size_t) hlen;
   const cJSON *e;
   cJSON_ArrayForEach (e, root)
   {
      if (strcmp (e->string, "__metadata__") == 0) {
         continue;
      }
      tensor_t *t = &st->tensors[st->n];
      if (!(t->name = strdup (e->string))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading %s", path);
         goto done;
      }
      st->n++;
      if (!parse_entry (e, data, data_len, t)) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: malformed entry for tensor %.100s",
                             path, e->string);
         goto done;
      }
   }
   ok = true;
done:
   cJSON_Delete (root);
   return ok;
}

tk_safetensors_t *
tk_safetensors_open (const char *path, tk_error_t *err)
{
   tk_safetensors_t *st = calloc (1, sizeof *st);
   int fd = -1;
   struct stat sb;
   if (!st) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   if ((fd = open (path, O_RDONLY | O_CLOEXEC)) < 0 || fstat (fd, &sb) != 0) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot open %s: %s", path,
                          strerror (errno));
      goto fail;
   }
   if (sb.st_size < 16) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s is too short for a safetensors file",
                          path);
      goto fail;
   }
   st->map_len = (size_t) sb.st_size;
   if ((st->map = mmap (NULL, st->map_len, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
      st->map = NULL;
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot map %s: %s", path,
                          strerror (errno));
      goto fail;
   }
   close (fd);
   fd = -1;
   if (!parse_header (st, path, err)) {
      goto fail;
   }
   return st;
fail:
   if (fd >= 0) {
      close (fd);
   }
   tk_safetensors_close (st);
   return NULL;
}

const float *
tk_safetensors_f32 (const tk_safetensors_t *st, const char *name, const size_t *shape,
                    size_t n_dims, tk_error_t *err)
{
   for (size_t i = 0; i < st->n; i++) {
      const tensor_t *t = &st->tensors[i];
      if (strcmp (t->name, name) != 0) {
         continue;
      }
      bool same = strcmp (t->dtype, "F32") == 0 && t->n_dims == n_dims;
      for (size_t d = 0; same && d < n_dims; d++) {
         same = t->shape[d] == shape[d];
      }
      if (!same) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "tensor",
                             "tensor %.100s is %s with %zu dimensions, not the F32 shape expected",
                             name, t->dtype, t->n_dims);
         return NULL;
      }
      return (const float *) (const void *) t->data;
   }
   tk_error_set_field (err, TK_ERR_NOT_FOUND, 0, "tensor", "no tensor called %.100s", name);
   return NULL;
}
