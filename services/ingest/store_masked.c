/* store_masked.c - TRIAGE_STORE_MASKED: a ticket's subject and body are
 * masked (common/pii_mask.h, the masker the classifier applies before a
 * remote provider sees the text) before the ticket goes to the batcher, on
 * both intake paths, so the original never reaches MongoDB. */
#include "ingest.h"

#include "pii_mask.h"

bool
ingest_mask_ticket (tk_ticket_t *t, size_t *n_masked)
{
   size_t n = 0;
   if (!tk_pii_mask_replace (&t->subject, &n) || !tk_pii_mask_replace (&t->body, &n)) {
      return false;
   }
   if (n_masked) {
      *n_masked += n;
   }
   return true;
}
