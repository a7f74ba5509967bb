/* auth.c - API keys: SHA-256 hashes, constant-time comparison, Bearer
 * parsing, and the role of a key (looked up through key_store.h). */
#include "auth.h"

#include "key_store.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mongoc/mongoc.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

const char *
tk_role_name (tk_role_t role)
{
   switch (role) {
   case TK_ROLE_VIEWER: return "viewer";
   case TK_ROLE_OPERATOR: return "operator";
   case TK_ROLE_ADMIN: return "admin";
   default: return "none";
   }
}

tk_role_t
tk_role_parse (const char *name)
{
   if (!name) {
      return TK_ROLE_NONE;
   }
   if (!strcmp (name, "viewer")) {
      return TK_ROLE_VIEWER;
   }
   if (!strcmp (name, "operator")) {
      return TK_ROLE_OPERATOR;
   }
   if (!strcmp (name, "admin")) {
      return TK_ROLE_ADMIN;
   }
   return TK_ROLE_NONE;
}

bool
tk_auth_hash_key (const char *key, size_t len, char out[TK_KEY_HASH_HEX])
{
   static const char hex[] = "0123456789abcdef";
   unsigned char md[EVP_MAX_MD_SIZE];
   unsigned int md_len = 0;
   if (!EVP_Digest (key, len, md, &md_len, EVP_sha256 (), NULL) || md_len != 32) {
      out[0] = '\0';
      return false;
   }
   for (unsigned i = 0; i < 32; i++) {
      out[2 * i] = hex[md[i] >> 4];
      out[2 * i + 1] = hex[md[i] & 0xf];
   }
   out[64] = '\0';
   return true;
}

bool
tk_auth_hash_equal (const char *a, const char *b)
{
   /* Both are 64 hex digits when valid; the length check reveals only
    * whether a hash is malformed, never anything about a key. */
   if (!a || !b || strlen (a) != TK_KEY_HASH_HEX - 1 || strlen (b) != TK_KEY_HASH_HEX - 1) {
      return false;
   }
   return CRYPTO_memcmp (a, b, TK_KEY_HASH_HEX - 1) == 0;
}

bool
tk_auth_bearer_token (const char *header, const char **token, size_t *len)
{
   if (!header || strncasecmp (header, "Bearer ", 7) != 0) {
      return false;
   }
   const char *t = header + 7;
   while (*t == ' ') {
      t++;
   }
   size_t n = strlen (t);
   while (n > 0 && t[n - 1] == ' ') {
      n--;
   }
   if (n == 0 || n > TK_AUTH_TOKEN_MAX) {
      return false;
   }
   *token = t;
   *len = n;
   return true;
}

bool
tk_auth_random_hex (char *out, size_t nbytes)
{
   static const char hex[] = "0123456789abcdef";
   unsigned char raw[64];
   if (nbytes > sizeof raw || RAND_bytes (raw, (int) nbytes) != 1) {
      return false;
   }
   for (size_t i = 0; i < nbytes; i++) {
      out[2 * i] = hex[raw[i] >> 4];
      out[2 * i + 1] = hex[raw[i] & 0xf];
   }
   out[2 * nbytes] = '\0';
   return true;
}

bool
tk_auth_new_key (char key[TK_AUTH_KEY_MAX], char hash[TK_KEY_HASH_HEX])
{
   char secret[2 * 32 + 1];
   if (!tk_auth_random_hex (secret, 32)) {
      return false;
   }
   snprintf (key, TK_AUTH_KEY_MAX, "tk_%s", secret);
   return tk_auth_hash_key (key, strlen (key), hash);
}

bool
tk_auth_new_key_id (char key_id[TK_AUTH_KEY_ID_MAX])
{
   char id_hex[2 * 8 + 1];
   if (!tk_auth_random_hex (id_hex, 8)) {
      return false;
   }
   snprintf (key_id, TK_AUTH_KEY_ID_MAX, "key_%s", id_hex);
   return true;
}

bool
tk_auth_lookup_key (tk_store_t *store, const char *hash, tk_role_t *role, char *key_id,
                    size_t key_id_cap, tk_error_t *err)
{
   mongoc_client_t *client = tk_store_client_pop (store);
   bool ok =
      tk_key_store_lookup (client, tk_store_db_name (store), hash, role, key_id, key_id_cap, err);
   tk_store_client_push (store, client);
   return ok;
}

/* Keys that documentation, examples or an old committed .env showed: known
 * to everyone, so never accepted, whatever their length. Compared
 * case-insensitively; a key that contains one of the markers is refused
 * too. */
static const char *const placeholder_markers[] = {
   "change-me", "changeme", "change_me", "replace-me", "replaceme", "your-key",
   "your_key", "placeholder", "example", "secret-key", "admin-key",
};

static bool
contains_ci (const char *hay, const char *needle)
{
   size_t n = strlen (needle);
   for (; *hay; hay++) {
      if (strncasecmp (hay, needle, n) == 0) {
         return true;
      }
   }
   return false;
}

bool
tk_auth_admin_key_ok (const char *key, tk_error_t *err)
{
   static const char how[] = "make one with: openssl rand -hex 24";
   size_t len = strlen (key);
   bool seen[256] = {false};
   size_t distinct = 0;
   bool all_hex = true;
   for (const unsigned char *p = (const unsigned char *) key; *p; p++) {
      if (!seen[*p]) {
         seen[*p] = true;
         distinct++;
      }
      all_hex = all_hex && isxdigit (*p);
   }
   size_t need = all_hex ? 12 : 16;
   for (size_t i = 0; i < sizeof placeholder_markers / sizeof *placeholder_markers; i++) {
      if (contains_ci (key, placeholder_markers[i])) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_ADMIN_KEY",
                             "TRIAGE_ADMIN_KEY is a documented placeholder (it contains \"%s\"); %s",
                             placeholder_markers[i], how);
         return false;
      }
   }
   if (len < TK_AUTH_ADMIN_KEY_MIN) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_ADMIN_KEY",
                          "TRIAGE_ADMIN_KEY is %zu characters long, fewer than %d; %s", len,
                          TK_AUTH_ADMIN_KEY_MIN, how);
      return false;
   }
   if (distinct < need) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_ADMIN_KEY",
                          "TRIAGE_ADMIN_KEY has %zu distinct characters, fewer than %zu; %s",
                          distinct, need, how);
      return false;
   }
   return true;
}
