/* hash.h - FNV-1a, 64 bits: the one non-cryptographic hash of the project
 * (in-memory tables keyed by strings, ETags of static files); and murmur3's
 * 32-bit finaliser for the model's hashed features, whose values are part
 * of the model file format. Not for
 * anything an attacker must not steer or guess: API keys are hashed with
 * SHA-256 (auth.h). */
#ifndef TK_HASH_H
#define TK_HASH_H

#include <stddef.h>
#include <stdint.h>

/* FNV-1a of the len bytes at data. */
uint64_t tk_hash_fnv1a (const void *data, size_t len);

/* FNV-1a of the NUL-terminated string s (without the NUL). */
uint64_t tk_hash_fnv1a_str (const char *s);

/* murmur3's 32-bit finaliser: spreads every input bit over the output (FNV's
 * low bits are weak on short keys). */
static inline uint32_t
tk_hash_mix32 (uint32_t h)
{
   h ^= h >> 16;
   h *= 0x85ebca6bu;
   h ^= h >> 13;
   h *= 0xc2b2ae35u;
   h ^= h >> 16;
   return h;
}

#endif
