/* fuzz_utf8.c - the UTF-8 checker and prefix cutter. Invariants: check and
 * valid agree, a bad offset lies inside the input, a prefix of a valid
 * string is valid and no longer than asked. */
#include "fuzz_common.h"
#include "utf8.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   const char *s = (const char *) data;
   size_t bad = (size_t) -1, n_cp = 0, bad2 = (size_t) -1;
   tk_utf8_status_t st = tk_utf8_check (s, size, &bad, &n_cp);
   bool ok = tk_utf8_valid (s, size, &bad2);
   fuzz_check (ok == (st == TK_UTF8_OK));
   fuzz_check (tk_utf8_status_str (st) != NULL);
   if (!ok) {
      fuzz_check (bad < size);
      fuzz_check (bad == bad2);
      /* Everything before the bad sequence is valid. */
      fuzz_check (tk_utf8_valid (s, bad, NULL));
   } else {
      fuzz_check (n_cp <= size);
      for (size_t max = 0; max <= size && max < 16; max++) {
         size_t p = tk_utf8_prefix_len (s, size, max);
         fuzz_check (p <= max);
         fuzz_check (tk_utf8_valid (s, p, NULL));
      }
      size_t p = tk_utf8_prefix_len (s, size, size / 2);
      fuzz_check (p <= size / 2);
      fuzz_check (tk_utf8_valid (s, p, NULL));
   }
   return 0;
}
