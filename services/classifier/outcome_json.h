/* outcome_json.h - the records the classifier publishes: a ticket's result
 * on the classified topic and a failure on the DLQ (the message formats of
 * ARCHITECTURE.md's topic table). Pure functions, no I/O. */
#ifndef CL_OUTCOME_JSON_H
#define CL_OUTCOME_JSON_H

#include <stddef.h>

#include "ticket.h"

/* {"id","classification","confidence_scores","processing_metadata"} for
 * ticket id (everything borrowed; a NULL string in c or md is written as
 * ""). Returns the JSON text, which the caller frees; NULL if out of
 * memory. */
char *cl_outcome_classified_json (const char *id, const tk_classification_t *c,
                                  const tk_confidence_t *conf,
                                  const tk_processing_metadata_t *md);

/* {"id","error","attempts","failed_at" (now),"provider","message"} for
 * ticket id, whose classify request was request[0..request_len) (embedded
 * as JSON; null if request is NULL or not JSON). Everything borrowed.
 * Returns the JSON text, which the caller frees; NULL if out of memory. */
char *cl_outcome_dlq_json (const char *id, const char *error, unsigned attempts,
                           const char *provider, const char *request, size_t request_len);

#endif
