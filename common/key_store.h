/* key_store.h - the `api_keys` collection: the one place that reads and
 * writes it (the key gate's lookups, the api's /api/keys routes,
 * `triagectl keys`).
 *
 * A key is stored as {key_id, name, role, hash, created_at, created_by,
 * revoked} and, once changed, revoked_at or rotated_at; the key itself is
 * never stored, only its SHA-256 (auth.h). No call returns a hash.
 *
 * Threads: every call BLOCKS on the database; worker threads only
 * (tk_store_async), never a loop. The client is borrowed for the call; db is
 * the store's database name.
 */
#ifndef TK_KEY_STORE_H
#define TK_KEY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

#include "auth.h"

/* A new key's record (strings borrowed for the call). */
typedef struct {
   const char *key_id;
   const char *name;       /* may be "" */
   const char *hash;       /* tk_auth_hash_key of the key */
   const char *created_by; /* the creating key's id, or "triagectl" */
   tk_role_t role;
} tk_key_record_t;

/* Inserts k, not revoked, created now. false with e on failure. */
bool tk_key_store_insert (mongoc_client_t *client, const char *db, const tk_key_record_t *k,
                          bson_error_t *e);

/* A cursor over every key without its hash, oldest first. Never NULL;
 * errors surface from the cursor. The caller destroys it. */
mongoc_cursor_t *tk_key_store_list (mongoc_client_t *client, const char *db);

/* Revokes key_id (new_hash NULL) or gives it new_hash (a rotation),
 * stamping revoked_at or rotated_at. only_active leaves a revoked key alone.
 * role (TK_KEY_ROLE_MAX bytes, may be NULL) receives the role of the key
 * changed ("" when none was); *matched (may be NULL) whether one was. false
 * with e when the database failed. */
#define TK_KEY_ROLE_MAX 16
bool tk_key_store_change (mongoc_client_t *client, const char *db, const char *key_id,
                          const char *new_hash, bool only_active, char *role, int64_t *matched,
                          bson_error_t *e);

/* Looks the hash up. true when the database answered: *role is the key's
 * role, or TK_ROLE_NONE for an unknown or revoked key; key_id (cap bytes, may
 * be NULL) receives the key's key_id or "". false with err (TK_ERR_MONGO)
 * when the database could not be asked. */
bool tk_key_store_lookup (mongoc_client_t *client, const char *db, const char *hash,
                          tk_role_t *role, char *key_id, size_t key_id_cap, tk_error_t *err);

/* The name key_id was created with, into name (cap bytes): "" when it has
 * none or is not in the collection (the bootstrap key, TRIAGE_ADMIN_KEY, is
 * not), or when the database could not be asked: a name is only ever shown
 * beside the id, never relied on. */
void tk_key_store_name (mongoc_client_t *client, const char *db, const char *key_id, char *name,
                        size_t cap);

#endif
