/* Unit tests for common/error.c. */
#include "test_support.h"

#include "error.h"
#include "utf8.h"

#include <string.h>

static void
test_set_and_clear (void **state)
{
   (void) state;
   tk_error_t err;
   tk_error_set_field (&err, TK_ERR_INVALID, 7, "body", "body: exceeds %d bytes", 10);
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_int_equal (err.code, 7);
   assert_string_equal (err.field, "body");
   assert_string_equal (err.message, "body: exceeds 10 bytes");
   assert_string_equal (tk_error_domain_name (err.domain), "invalid");
   tk_error_clear (&err);
   assert_int_equal (err.domain, TK_ERR_NONE);
   assert_string_equal (err.message, "");
   tk_error_set (NULL, TK_ERR_IO, 1, "ignored"); /* NULL is allowed */
}

static void
test_truncation_keeps_utf8_whole (void **state)
{
   (void) state;
   /* 300 bytes of "é" (2 bytes each) at every alignment: the stored message
    * must always be valid UTF-8. */
   char text[400];
   for (int shift = 0; shift < 4; shift++) {
      size_t n = 0;
      for (int i = 0; i < shift; i++) {
         text[n++] = 'a';
      }
      while (n + 3 < sizeof text - 1) {
         memcpy (text + n, "\xe2\x82\xac", 3); /* the euro sign, 3 bytes */
         n += 3;
      }
      text[n] = '\0';
      tk_error_t err;
      tk_error_set (&err, TK_ERR_INVALID, 0, "%s", text);
      size_t len = strlen (err.message);
      assert_true (len >= sizeof err.message - 4);
      assert_true (tk_utf8_valid (err.message, len, NULL));
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_set_and_clear),
      cmocka_unit_test (test_truncation_keeps_utf8_whole),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
