/* fuzz_llm_batch_parse.c - batch answers (TRIAGE_LLM_BATCH): the first
 * byte picks how many tickets were asked about (ids T-1..T-8), the rest is
 * the model's text. Every entry taken must validate against the taxonomy;
 * a failed ticket owns nothing but its repair text. */
#include "fuzz_common.h"
#include "llm_parse.h"
#include "taxonomy.h"
#include "ticket.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   static const char *const ids[] = {"T-1", "T-2", "T-3", "T-4", "T-5", "T-6", "T-7", "T-8"};
   if (size < 1) {
      return 0;
   }
   size_t n = (size_t) (data[0] % 8) + 1;
   tk_llm_batch_item_t items[8];
   tk_error_t err;
   if (tk_llm_parse_batch_answer ((const char *) data + 1, size - 1, tk_taxonomy_default (), ids,
                                  n, items, &err)) {
      for (size_t i = 0; i < n; i++) {
         if (items[i].ok) {
            fuzz_check (tk_taxonomy_validate_classification (tk_taxonomy_default (), &items[i].c,
                                                             &err));
            fuzz_check (items[i].conf.topic >= 0.0 && items[i].conf.topic <= 1.0);
            fuzz_check (items[i].answer == NULL);
         } else {
            fuzz_check (items[i].c.sentiment == NULL && items[i].c.n_topic_tags == 0);
         }
      }
      tk_llm_batch_items_cleanup (items, n);
   } else {
      for (size_t i = 0; i < n; i++) {
         fuzz_check (!items[i].ok && items[i].answer == NULL);
      }
   }
   return 0;
}
