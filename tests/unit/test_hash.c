/* Unit tests for common/hash.c: FNV-1a 64 against the published test
 * vectors, and the string form equal to the byte form. */
#include "test_support.h"

#include "hash.h"

#include <string.h>

static void
test_fnv1a_vectors (void **state)
{
   (void) state;
   assert_true (tk_hash_fnv1a ("", 0) == UINT64_C (0xcbf29ce484222325));
   assert_true (tk_hash_fnv1a ("a", 1) == UINT64_C (0xaf63dc4c8601ec8c));
   assert_true (tk_hash_fnv1a ("foobar", 6) == UINT64_C (0x85944171f73967e8));
}

static void
test_string_form_equals_byte_form (void **state)
{
   (void) state;
   const char *s = "job_f25d55390b40b003729b8a84";
   assert_true (tk_hash_fnv1a_str (s) == tk_hash_fnv1a (s, strlen (s)));
   assert_true (tk_hash_fnv1a_str ("") == tk_hash_fnv1a ("", 0));
   /* Bytes above 0x7f are hashed unsigned. */
   assert_true (tk_hash_fnv1a_str ("\xc3\xa9") == tk_hash_fnv1a ("\xc3\xa9", 2));
   assert_true (tk_hash_fnv1a_str ("ab") != tk_hash_fnv1a_str ("ba"));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_fnv1a_vectors),
      cmocka_unit_test (test_string_form_equals_byte_form),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
