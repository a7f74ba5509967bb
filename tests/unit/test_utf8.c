/* Unit tests for common/utf8.c: strict UTF-8 per RFC 3629. */
#include "test_support.h"

#include "utf8.h"

#include <string.h>

/* Checks len bytes and returns the status, with the offset in *off. */
static tk_utf8_status_t
check (const char *s, size_t len, size_t *off)
{
   *off = (size_t) -1;
   return tk_utf8_check (s, len, off, NULL);
}

static void
test_valid_text_counts_code_points (void **state)
{
   (void) state;
   size_t n = 0, off = 7;
   /* ASCII, 2-byte é, 3-byte €, 4-byte 😀: 4 code points, 10 bytes. */
   const char *s = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80";
   assert_int_equal (tk_utf8_check (s, strlen (s), &off, &n), TK_UTF8_OK);
   assert_int_equal (n, 4);
   assert_int_equal (off, 7); /* untouched on success */
   assert_true (tk_utf8_valid ("", 0, NULL));
   /* Boundaries: U+007F, U+0080, U+07FF, U+0800, U+FFFF, U+10000, U+10FFFF,
    * and the code points either side of the surrogate block. */
   const char *edges = "\x7F\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBF\xF0\x90\x80\x80"
                       "\xF4\x8F\xBF\xBF\xED\x9F\xBF\xEE\x80\x80";
   assert_int_equal (tk_utf8_check (edges, strlen (edges), NULL, &n), TK_UTF8_OK);
   assert_int_equal (n, 9);
}

static void
test_overlong_rejected (void **state)
{
   (void) state;
   size_t off;
   assert_int_equal (check ("\xC0\xAF", 2, &off), TK_UTF8_OVERLONG); /* '/' in 2 bytes */
   assert_int_equal (off, 0);
   assert_int_equal (check ("ab\xC1\xBF", 4, &off), TK_UTF8_OVERLONG);
   assert_int_equal (off, 2);
   assert_int_equal (check ("\xE0\x80\xAF", 3, &off), TK_UTF8_OVERLONG); /* 3-byte '/' */
   assert_int_equal (check ("\xE0\x9F\xBF", 3, &off), TK_UTF8_OVERLONG); /* U+07FF in 3 */
   assert_int_equal (check ("\xF0\x8F\xBF\xBF", 4, &off), TK_UTF8_OVERLONG); /* U+FFFF in 4 */
   assert_int_equal (check ("\xC0\x80", 2, &off), TK_UTF8_OVERLONG); /* "modified UTF-8" NUL */
}

static void
test_surrogates_rejected (void **state)
{
   (void) state;
   size_t off;
   assert_int_equal (check ("x\xED\xA0\x80", 4, &off), TK_UTF8_SURROGATE); /* U+D800 */
   assert_int_equal (off, 1);
   assert_int_equal (check ("\xED\xBF\xBF", 3, &off), TK_UTF8_SURROGATE); /* U+DFFF */
   /* A CESU-8 encoded pair is two surrogates, not one supplementary char. */
   assert_int_equal (check ("\xED\xA0\xBD\xED\xB8\x80", 6, &off), TK_UTF8_SURROGATE);
}

static void
test_above_max_and_bad_bytes_rejected (void **state)
{
   (void) state;
   size_t off;
   assert_int_equal (check ("\xF4\x90\x80\x80", 4, &off), TK_UTF8_OUT_OF_RANGE); /* U+110000 */
   assert_int_equal (check ("\xF5\x80\x80\x80", 4, &off), TK_UTF8_BAD_BYTE);
   assert_int_equal (check ("\xFF", 1, &off), TK_UTF8_BAD_BYTE);
   assert_int_equal (check ("ok\x80", 3, &off), TK_UTF8_BAD_BYTE); /* lone continuation */
   assert_int_equal (off, 2);
}

static void
test_truncated_rejected (void **state)
{
   (void) state;
   size_t off;
   assert_int_equal (check ("abc\xE2\x82", 5, &off), TK_UTF8_TRUNCATED); /* cut by end */
   assert_int_equal (off, 3);
   assert_int_equal (check ("\xF0\x9F\x98", 3, &off), TK_UTF8_TRUNCATED);
   assert_int_equal (check ("\xC3", 1, &off), TK_UTF8_TRUNCATED);
   assert_int_equal (check ("\xE2\x82z", 3, &off), TK_UTF8_TRUNCATED); /* cut by ASCII */
   /* The len argument is honoured: a valid string cut mid-character fails. */
   assert_int_equal (check ("\xC3\xA9", 1, &off), TK_UTF8_TRUNCATED);
}

static void
test_nul_rejected_with_offset (void **state)
{
   (void) state;
   size_t off;
   assert_int_equal (check ("ab\0cd", 5, &off), TK_UTF8_NUL);
   assert_int_equal (off, 2);
   assert_false (tk_utf8_valid ("\0", 1, NULL));
   assert_string_equal (tk_utf8_status_str (TK_UTF8_NUL), "NUL byte");
   assert_string_equal (tk_utf8_status_str (TK_UTF8_OVERLONG), "overlong encoding");
}

static void
test_prefix_len_keeps_code_points_whole (void **state)
{
   (void) state;
   const char *s = "ab\xE2\x82\xAC" "cd"; /* a b € c d: 7 bytes */
   assert_int_equal (tk_utf8_prefix_len (s, 7, 10), 7);
   assert_int_equal (tk_utf8_prefix_len (s, 7, 5), 5);
   assert_int_equal (tk_utf8_prefix_len (s, 7, 4), 2); /* would split the euro sign */
   assert_int_equal (tk_utf8_prefix_len (s, 7, 3), 2);
   assert_int_equal (tk_utf8_prefix_len (s, 7, 2), 2);
   assert_int_equal (tk_utf8_prefix_len (s, 7, 0), 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_valid_text_counts_code_points),
      cmocka_unit_test (test_overlong_rejected),
      cmocka_unit_test (test_surrogates_rejected),
      cmocka_unit_test (test_above_max_and_bad_bytes_rejected),
      cmocka_unit_test (test_truncated_rejected),
      cmocka_unit_test (test_nul_rejected_with_offset),
      cmocka_unit_test (test_prefix_len_keeps_code_points_whole),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
