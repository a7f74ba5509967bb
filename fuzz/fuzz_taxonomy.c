/* fuzz_taxonomy.c - the taxonomy loader. Invariant: a loaded taxonomy
 * finds each of its own labels, exactly and canonically. */
#include "fuzz_common.h"
#include "taxonomy.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   tk_error_t err;
   tk_taxonomy_t *tax = tk_taxonomy_load_json ((const char *) data, size, "fuzz", &err);
   if (!tax) {
      return 0;
   }
   for (int k = TK_TAXONOMY_TOPIC; k <= TK_TAXONOMY_PRIORITY; k++) {
      size_t n = tk_taxonomy_count (tax, (tk_taxonomy_kind_t) k);
      fuzz_check (n > 0);
      for (size_t i = 0; i < n; i++) {
         const char *label = tk_taxonomy_label (tax, (tk_taxonomy_kind_t) k, i);
         fuzz_check (label != NULL);
         fuzz_check (tk_taxonomy_description (tax, (tk_taxonomy_kind_t) k, i) != NULL);
         fuzz_check (tk_taxonomy_index (tax, (tk_taxonomy_kind_t) k, label) >= 0);
         int idx = -1;
         fuzz_check (tk_taxonomy_canonical (tax, (tk_taxonomy_kind_t) k, label, &idx) != NULL);
      }
      fuzz_check (tk_taxonomy_label (tax, (tk_taxonomy_kind_t) k, n) == NULL);
   }
   tk_taxonomy_destroy (tax);
   return 0;
}
