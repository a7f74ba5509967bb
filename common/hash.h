/* hash.h - FNV-1a, 64 bits: the one non-cryptographic hash of the project
 * (in-memory tables keyed by strings, ETags of static files). Not for
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

#endif
