/* Unit tests for common/auth.c: key hashes, constant-time comparison,
 * Bearer headers, role names and new keys. (The api_keys lookup talks to MongoDB and
 * is covered by the ingest integration test.) */
#include "test_support.h"

#include "auth.h"

#include <string.h>

static void
test_hash_is_sha256_hex (void **state)
{
   (void) state;
   char h[TK_KEY_HASH_HEX];
   /* FIPS 180-2 test vector. */
   assert_true (tk_auth_hash_key ("abc", 3, h));
   assert_string_equal (h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
   assert_true (tk_auth_hash_key ("", 0, h));
   assert_string_equal (h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
   /* Only len bytes count, so a key need not be NUL-terminated. */
   assert_true (tk_auth_hash_key ("abcdef", 3, h));
   assert_string_equal (h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_hash_equal (void **state)
{
   (void) state;
   char a[TK_KEY_HASH_HEX], b[TK_KEY_HASH_HEX], c[TK_KEY_HASH_HEX];
   tk_auth_hash_key ("secret-key", 10, a);
   tk_auth_hash_key ("secret-key", 10, b);
   tk_auth_hash_key ("secret-kez", 10, c);
   assert_true (tk_auth_hash_equal (a, b));
   assert_false (tk_auth_hash_equal (a, c));
   /* Empty or malformed hashes never match, not even each other. */
   assert_false (tk_auth_hash_equal ("", ""));
   assert_false (tk_auth_hash_equal (a, NULL));
   assert_false (tk_auth_hash_equal ("abc", "abc"));
}

static void
test_bearer_token (void **state)
{
   (void) state;
   const char *t = NULL;
   size_t n = 0;
   assert_true (tk_auth_bearer_token ("Bearer abc123", &t, &n));
   assert_int_equal (n, 6);
   assert_memory_equal (t, "abc123", 6);
   assert_true (tk_auth_bearer_token ("bearer   spaced  ", &t, &n));
   assert_int_equal (n, 6);
   assert_memory_equal (t, "spaced", 6);
   assert_false (tk_auth_bearer_token (NULL, &t, &n));
   assert_false (tk_auth_bearer_token ("Basic dXNlcjpwYXNz", &t, &n));
   assert_false (tk_auth_bearer_token ("Bearer ", &t, &n));
   assert_false (tk_auth_bearer_token ("Bearer", &t, &n));
   char big[TK_AUTH_TOKEN_MAX + 16];
   memcpy (big, "Bearer ", 7);
   memset (big + 7, 'k', TK_AUTH_TOKEN_MAX + 1);
   big[7 + TK_AUTH_TOKEN_MAX + 1] = '\0';
   assert_false (tk_auth_bearer_token (big, &t, &n));
   big[7 + TK_AUTH_TOKEN_MAX] = '\0';
   assert_true (tk_auth_bearer_token (big, &t, &n));
   assert_int_equal (n, TK_AUTH_TOKEN_MAX);
}

static void
test_roles (void **state)
{
   (void) state;
   assert_int_equal (tk_role_parse ("viewer"), TK_ROLE_VIEWER);
   assert_int_equal (tk_role_parse ("operator"), TK_ROLE_OPERATOR);
   assert_int_equal (tk_role_parse ("admin"), TK_ROLE_ADMIN);
   assert_int_equal (tk_role_parse ("Admin"), TK_ROLE_NONE);
   assert_int_equal (tk_role_parse (NULL), TK_ROLE_NONE);
   assert_string_equal (tk_role_name (TK_ROLE_OPERATOR), "operator");
   assert_string_equal (tk_role_name (TK_ROLE_NONE), "none");
   assert_true (TK_ROLE_ADMIN > TK_ROLE_OPERATOR && TK_ROLE_OPERATOR > TK_ROLE_VIEWER);
}

static bool
all_lower_hex (const char *s, size_t n)
{
   for (size_t i = 0; i < n; i++) {
      if (!strchr ("0123456789abcdef", s[i]) || !s[i]) {
         return false;
      }
   }
   return true;
}

static void
test_random_hex (void **state)
{
   (void) state;
   char a[2 * 64 + 1], b[2 * 64 + 1];
   assert_true (tk_auth_random_hex (a, 64));
   assert_int_equal (strlen (a), 128);
   assert_true (all_lower_hex (a, 128));
   assert_true (tk_auth_random_hex (b, 64));
   /* 512 random bits: two draws alike would mean no randomness at all. */
   assert_string_not_equal (a, b);
   assert_true (tk_auth_random_hex (a, 3));
   assert_int_equal (strlen (a), 6);
   assert_false (tk_auth_random_hex (a, 65));
}

static void
test_new_key (void **state)
{
   (void) state;
   char key[TK_AUTH_KEY_MAX], hash[TK_KEY_HASH_HEX], again[TK_KEY_HASH_HEX];
   assert_true (tk_auth_new_key (key, hash));
   assert_int_equal (strlen (key), 3 + 64);
   assert_memory_equal (key, "tk_", 3);
   assert_true (all_lower_hex (key + 3, 64));
   /* The hash is the one a service computes from the Bearer token. */
   assert_true (tk_auth_hash_key (key, strlen (key), again));
   assert_true (tk_auth_hash_equal (hash, again));

   char id[TK_AUTH_KEY_ID_MAX];
   assert_true (tk_auth_new_key_id (id));
   assert_int_equal (strlen (id), 4 + 16);
   assert_memory_equal (id, "key_", 4);
   assert_true (all_lower_hex (id + 4, 16));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_hash_is_sha256_hex),
      cmocka_unit_test (test_hash_equal),
      cmocka_unit_test (test_bearer_token),
      cmocka_unit_test (test_roles),
      cmocka_unit_test (test_random_hex),
      cmocka_unit_test (test_new_key),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
