/* Unit tests for tk_auth_admin_key_ok (common/auth.c), the rule a bootstrap
 * admin key must meet (issue 14): length, distinct characters (fewer needed
 * for an all-hex key, as `openssl rand -hex 24` makes), documented
 * placeholders; and that tk_config_load applies it to the api and ingest
 * only. */
#include "test_support.h"

#include "auth.h"
#include "config.h"

#include <stdio.h>
#include <string.h>

static void
test_good_keys_pass (void **state)
{
   (void) state;
   tk_error_t err;
   /* openssl rand -hex 24 style, 14 distinct digits. */
   assert_true (tk_auth_admin_key_ok ("3f9c2a71e0b84d56c3a9f0e1b27d4c86a5e3f9b0c17d2e48", &err));
   assert_true (tk_auth_admin_key_ok ("Zq7mXk2PvR9tLw4nBc8sHy3dGf6jKa1e", &err));
   assert_true (tk_auth_admin_key_ok (TRIAGE_TEST_ADMIN_KEY, &err));
}

static void
test_weak_keys_refused_with_advice (void **state)
{
   (void) state;
   tk_error_t err;
   assert_false (tk_auth_admin_key_ok ("Zq7mXk2PvR9tLw4nBc8sHy3dGf6jKa1", &err));
   assert_string_equal (err.field, "TRIAGE_ADMIN_KEY");
   assert_non_null (strstr (err.message, "openssl rand -hex 24"));
   assert_false (tk_auth_admin_key_ok ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &err));
   assert_non_null (strstr (err.message, "distinct"));
   /* Hex with 11 distinct digits: under the hex rule's 12. */
   assert_false (tk_auth_admin_key_ok ("0123456789a0123456789a0123456789a0123456789a", &err));
   /* Letters and digits with 15 distinct: under 16. */
   assert_false (tk_auth_admin_key_ok ("ghijklmnopqrstughijklmnopqrstughijklmn", &err));
}

static void
test_placeholders_refused (void **state)
{
   (void) state;
   static const char *const known[] = {
      "change-me-to-a-long-random-key", "CHANGEME-0123456789abcdefghijklmnopqrstuvw",
      "example-key-Zq7mXk2PvR9tLw4nBc8sHy3dGf6jKa1e", "my-placeholder-Zq7mXk2PvR9tLw4nBc8sHy3d",
      "test-admin-key-0123456789abcdefghijklmnop"};
   for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
      tk_error_t err;
      if (tk_auth_admin_key_ok (known[i], &err)) {
         fail_msg ("\"%s\" was accepted", known[i]);
      }
      assert_non_null (strstr (err.message, "placeholder"));
   }
}

static void
test_config_applies_it_to_servers_only (void **state)
{
   (void) state;
   char *args[] = {"prog", NULL};
   char *env[] = {"TRIAGE_ADMIN_KEY=change-me-to-a-long-random-key", NULL};
   tk_config_t cfg;
   tk_error_t err = {0};
   assert_false (tk_config_load (&cfg, TK_SVC_API, 1, args, env, &err));
   assert_string_equal (err.field, "TRIAGE_ADMIN_KEY");
   assert_false (tk_config_load (&cfg, TK_SVC_INGEST, 1, args, env, &err));
   /* triagectl only sends a key; the classifier holds none. */
   assert_true (tk_config_load (&cfg, TK_SVC_CLI, 1, args, env, &err));
   tk_config_destroy (&cfg);
   /* No key at all is allowed (keys from api_keys only). */
   char *none[] = {NULL};
   assert_true (tk_config_load (&cfg, TK_SVC_API, 1, args, none, &err));
   tk_config_destroy (&cfg);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_good_keys_pass),
      cmocka_unit_test (test_weak_keys_refused_with_advice),
      cmocka_unit_test (test_placeholders_refused),
      cmocka_unit_test (test_config_applies_it_to_servers_only),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
