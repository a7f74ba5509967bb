/* fuzz_pii_mask.c - the PII masker. Invariants: a result always comes
 * back; with nothing masked it is the input itself; masking the result
 * again terminates cleanly. */
#include "fuzz_common.h"
#include "pii_mask.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   size_t n = 0;
   char *out = tk_pii_mask ((const char *) data, size, &n);
   fuzz_check (out != NULL);
   if (n == 0) {
      /* Nothing masked: the text comes back unchanged (up to a NUL). */
      size_t len = strlen (out);
      fuzz_check (len <= size);
      fuzz_check (memcmp (out, data, len) == 0);
   }
   /* Masking the masked text must not crash and must terminate. */
   size_t n2 = 0;
   char *twice = tk_pii_mask (out, strlen (out), &n2);
   fuzz_check (twice != NULL);
   free (twice);
   free (out);
   return 0;
}
