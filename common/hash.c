/* hash.c - FNV-1a, 64 bits (offset basis and prime from the FNV
 * specification, draft-eastlake-fnv). */
#include "hash.h"

#define FNV_OFFSET_BASIS UINT64_C (14695981039346656037)
#define FNV_PRIME UINT64_C (1099511628211)

uint64_t
tk_hash_fnv1a (const void *data, size_t len)
{
   const unsigned char *p = data;
   uint64_t h = FNV_OFFSET_BASIS;
   for (size_t i = 0; i < len; i++) {
      h = (h ^ p[i]) * FNV_PRIME;
   }
   return h;
}

uint64_t
tk_hash_fnv1a_str (const char *s)
{
   uint64_t h = FNV_OFFSET_BASIS;
   for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
      h = (h ^ *p) * FNV_PRIME;
   }
   return h;
}
