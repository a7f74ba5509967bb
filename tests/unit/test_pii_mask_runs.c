/* PII masking of long runs (regression for a quadratic scan found by
 * fuzzing: each matcher rescanned a run such as "1-1-1-..." or "1.1.1..."
 * from every word start inside it, so a 64 KB ticket body took up to 6 s of
 * CPU in tk_pii_mask). The fix caches where runs end; these tests pin the
 * results on 64 KB runs of every shape involved, which must be the same as
 * on short text. No time is asserted: ctest's timeout is what a return of
 * the quadratic scan would trip (with it, this file took 13 s at -O2;
 * with the fix, 0.04 s). */
#include "test_support.h"

#include "pii_mask.h"

#include <stdlib.h>
#include <string.h>

#define RUN_BYTES (64 * 1024)

/* pattern repeated to RUN_BYTES, then suffix. Caller frees. */
static char *
run_of (const char *pattern, const char *suffix)
{
   size_t pl = strlen (pattern), sl = strlen (suffix);
   char *s = malloc (RUN_BYTES + sl + 1);
   assert_non_null (s);
   for (size_t i = 0; i < RUN_BYTES; i++) {
      s[i] = pattern[i % pl];
   }
   memcpy (s + RUN_BYTES, suffix, sl + 1);
   return s;
}

static char *
mask (const char *s, size_t *n)
{
   char *out = tk_pii_mask (s, strlen (s), n);
   assert_non_null (out);
   return out;
}

static bool
ends_with (const char *s, const char *tail)
{
   size_t a = strlen (s), b = strlen (tail);
   return a >= b && strcmp (s + a - b, tail) == 0;
}

/* A 64 KB e-mail local part ("1.1.1...", "1-1-...", "+1+1...", "a.a...")
 * followed by a domain is one address; without the domain, nothing in the
 * run is an address. */
static void
test_long_local_parts (void **state)
{
   (void) state;
   static const char *const patterns[] = {"1.", "1-", "+1", "a.", "a_b-"};
   for (size_t k = 0; k < sizeof patterns / sizeof patterns[0]; k++) {
      size_t n = 0;
      char *s = run_of (patterns[k], "@example.com");
      char *out = mask (s, &n);
      assert_string_equal (out, "[EMAIL]");
      assert_int_equal (n, 1);
      free (out);
      free (s);

      s = run_of (patterns[k], " end");
      out = mask (s, &n);
      assert_null (strstr (out, "[EMAIL]"));
      assert_true (ends_with (out, " end"));
      free (out);
      free (s);
   }
}

/* Digits with separators: a phone number is the longest prefix of up to
 * 15 digits, so a long run becomes a row of [PHONE]s (each 15 digits)
 * wherever a phone number may start: after a space, not inside an
 * identifier such as "1.1.1" or "1-1-1" (only its start). */
static void
test_long_digit_runs (void **state)
{
   (void) state;
   static const struct {
      const char *pattern;
      size_t phones;
   } runs[] = {{"1.", 1}, {"1-", 1}, {"1 ", RUN_BYTES / 2 / 15}};
   for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
      size_t n = 0;
      char *s = run_of (runs[k].pattern, "");
      char *out = mask (s, &n);
      if (n < runs[k].phones) {
         fail_msg ("\"%s\" run: %zu replacements, want at least %zu", runs[k].pattern, n,
                   runs[k].phones);
      }
      assert_true (strncmp (out, "[PHONE]", 7) == 0);
      assert_null (strstr (out, "[CARD]"));
      assert_true (strlen (out) < RUN_BYTES);
      free (out);
      free (s);
   }
   /* The same shape, short: nine digits is a phone number. */
   size_t n = 0;
   char *out = mask ("1-2-3-4-5-6-7-8-9", &n);
   assert_string_equal (out, "[PHONE]");
   free (out);
}

/* Colon runs: a run of more than eight groups is no IPv6 address, nor is
 * any part of it. */
static void
test_long_colon_runs (void **state)
{
   (void) state;
   size_t n = 0;
   char *s = run_of ("1:", "");
   char *out = mask (s, &n);
   assert_int_equal (n, 0);
   free (out);
   free (s);
   s = run_of ("::", "");
   out = mask (s, &n);
   assert_int_equal (n, 0);
   free (out);
   free (s);
}

/* Long tokens: all digits and dashes is no secret, nor are short mixed
 * segments ("a1-a1-..."); a segment of 20+ mixed letters and digits makes
 * the whole run one. */
static void
test_long_tokens (void **state)
{
   (void) state;
   size_t n = 0;
   char *s = run_of ("12-", " x");
   char *out = mask (s, &n);
   assert_null (strstr (out, "[SECRET]"));
   free (out);
   free (s);
   s = run_of ("a1-", " x");
   out = mask (s, &n);
   assert_string_equal (out, s);
   assert_int_equal (n, 0);
   free (out);
   free (s);
   s = run_of ("a1b2c3d4e5f6g7h8i9j0k-", " x");
   out = mask (s, &n);
   assert_string_equal (out, "[SECRET] x");
   free (out);
   free (s);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_long_local_parts),
      cmocka_unit_test (test_long_digit_runs),
      cmocka_unit_test (test_long_colon_runs),
      cmocka_unit_test (test_long_tokens),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
