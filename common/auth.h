/* auth.h - API keys: hashing, constant-time comparison, Bearer headers and
 * the role a key holds.
 *
 * Keys are never stored: only their SHA-256 (lower-case hex) is, in the
 * `api_keys` collection as {key_id, name, role, hash, created_at, revoked}.
 * The bootstrap key (TRIAGE_ADMIN_KEY) is hashed once at start-up and
 * compared with tk_auth_hash_equal, so the admin path needs no database
 * round trip; any other key is found by its hash, which tells a timing
 * observer nothing about the key itself.
 *
 * Everything here is pure and may run on any thread, except
 * tk_auth_lookup_key, which queries MongoDB and BLOCKS: call it from a
 * threadpool thread (tk_store_async), never on a loop.
 */
#ifndef TK_AUTH_H
#define TK_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include <mongoc/mongoc.h>

#include "error.h"
#include "store.h"

/* Roles, ordered: a route names the least role it allows. */
typedef enum {
   TK_ROLE_NONE = 0,
   TK_ROLE_VIEWER = 1,   /* read */
   TK_ROLE_OPERATOR = 2, /* + upload, process, replay, export */
   TK_ROLE_ADMIN = 3,    /* + delete, correct, keys, audit */
} tk_role_t;

#define TK_KEY_HASH_HEX 65    /* SHA-256 in hex plus NUL */
#define TK_AUTH_TOKEN_MAX 512 /* longer Bearer tokens are refused unhashed */
#define TK_AUTH_KEY_ID_MAX 48
#define TK_AUTH_KEY_MAX 80 /* a plain key "tk_<64 hex>" plus NUL, with room */

/* A static name: "viewer", "operator", "admin", or "none". */
const char *tk_role_name (tk_role_t role);

/* The role named name, TK_ROLE_NONE for NULL or an unknown name. */
tk_role_t tk_role_parse (const char *name);

/* Writes the SHA-256 of len bytes of key, as 64 lower-case hex digits and a
 * NUL, into out. false (out set to "") only if the digest fails. */
bool tk_auth_hash_key (const char *key, size_t len, char out[TK_KEY_HASH_HEX]);

/* Compares two hashes of tk_auth_hash_key in constant time (CRYPTO_memcmp).
 * false if either is empty. */
bool tk_auth_hash_equal (const char *a, const char *b);

/* Finds the token of an "Authorization: Bearer <token>" header value (the
 * scheme case-insensitive, spaces after it skipped). false when header is
 * NULL, another scheme, empty or longer than TK_AUTH_TOKEN_MAX. *token is
 * borrowed from header. */
bool tk_auth_bearer_token (const char *header, const char **token, size_t *len);

/* Writes 2 * nbytes random lower-case hex digits and a NUL into out, from
 * the OS CSPRNG. false when nbytes exceeds 64 or no randomness is
 * available. */
bool tk_auth_random_hex (char *out, size_t nbytes);

/* Makes a new plain key "tk_<64 hex>" (32 random bytes) in key and its
 * tk_auth_hash_key in hash. false when no randomness is available or the
 * digest fails. The plain key is never stored: show it once. */
bool tk_auth_new_key (char key[TK_AUTH_KEY_MAX], char hash[TK_KEY_HASH_HEX]);

/* Makes a new key id "key_<16 hex>" (8 random bytes). false when no
 * randomness is available. */
bool tk_auth_new_key_id (char key_id[TK_AUTH_KEY_ID_MAX]);

/* The rules a bootstrap admin key (TRIAGE_ADMIN_KEY) must meet: at least
 * TK_AUTH_ADMIN_KEY_MIN characters; at least 16 distinct characters, or 12
 * when the key is all hex digits (a 48-digit `openssl rand -hex 24` key has
 * all 16 digits only about half of the time, but 12 or more in all but
 * about 1 in 10^5); and none of the placeholders the docs or the old
 * deploy/.env ever showed. false with err naming TRIAGE_ADMIN_KEY and
 * saying how to make a good key. */
#define TK_AUTH_ADMIN_KEY_MIN 32
bool tk_auth_admin_key_ok (const char *key, tk_error_t *err);

/* BLOCKING. Looks the hash up in db's `api_keys` collection. Returns true
 * when the database answered: *role is the key's role, or TK_ROLE_NONE for
 * an unknown or revoked key; key_id (cap bytes, may be NULL) receives the
 * key's key_id or "". false with err (TK_ERR_MONGO) when the database could
 * not be asked. */
bool tk_auth_lookup_key (tk_store_t *store, const char *hash, tk_role_t *role, char *key_id,
                         size_t key_id_cap, tk_error_t *err);

#endif
