/* fuzz_pii_mask.c - the PII masker. Invariants:
 * - a result always comes back; with nothing masked it is the input itself;
 * and for text without NUL bytes (all ticket text):
 * - valid UTF-8 in gives valid UTF-8 out;
 * - no run of 13 to 19 digits (ASCII or full-width) passing the Luhn check
 *   is left in the result;
 * - masking is idempotent: masking the result again changes nothing and
 *   counts nothing. */
#include "fuzz_common.h"
#include "pii_mask.h"
#include "utf8.h"

#include <stdbool.h>

/* The digit at s[i] (ASCII or full-width U+FF10..U+FF19, EF BC 90..99) and
 * its width, else -1. */
static int
digit_at (const unsigned char *s, size_t len, size_t i, size_t *w)
{
   if (s[i] >= '0' && s[i] <= '9') {
      *w = 1;
      return s[i] - '0';
   }
   if (i + 2 < len && s[i] == 0xEF && s[i + 1] == 0xBC && s[i + 2] >= 0x90 && s[i + 2] <= 0x99) {
      *w = 3;
      return s[i + 2] - 0x90;
   }
   *w = 1;
   return -1;
}

static bool
luhn_ok (const int *d, size_t n)
{
   int sum = 0;
   for (size_t k = 0; k < n; k++) {
      int v = d[n - 1 - k];
      if (k % 2 == 1) {
         v = v * 2 > 9 ? v * 2 - 9 : v * 2;
      }
      sum += v;
   }
   return sum % 10 == 0;
}

/* True if s holds a maximal run of 13..19 digits that passes Luhn. */
static bool
has_card_run (const char *text, size_t len)
{
   const unsigned char *s = (const unsigned char *) text;
   int digits[20];
   size_t n = 0, w = 1;
   for (size_t i = 0; i <= len; i += w) {
      int d = -1;
      w = 1;
      if (i < len) {
         d = digit_at (s, len, i, &w);
      }
      if (d >= 0) {
         if (n < 20) {
            digits[n] = d;
         }
         n++;
         continue;
      }
      if (n >= 13 && n <= 19 && luhn_ok (digits, n)) {
         return true;
      }
      n = 0;
   }
   return false;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   size_t n = 0;
   char *out = tk_pii_mask ((const char *) data, size, &n);
   fuzz_check (out != NULL);
   size_t len = strlen (out);
   if (n == 0) {
      /* Nothing masked: the text comes back unchanged (up to a NUL). */
      fuzz_check (len <= size);
      fuzz_check (memcmp (out, data, len) == 0);
   }
   size_t n2 = 0;
   char *twice = tk_pii_mask (out, len, &n2);
   fuzz_check (twice != NULL);
   if (!memchr (data, '\0', size)) {
      if (tk_utf8_valid ((const char *) data, size, NULL)) {
         fuzz_check (tk_utf8_valid (out, len, NULL));
      }
      fuzz_check (!has_card_run (out, len));
      fuzz_check (strcmp (twice, out) == 0);
      fuzz_check (n2 == 0);
   }
   free (twice);
   free (out);
   return 0;
}
