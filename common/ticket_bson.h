/* ticket_bson.h - a ticket as a document of the `tickets` collection.
 *
 * The document schema is the one of ARCHITECTURE.md:
 *
 *   {id, subject, body, processed, created_at, updated_at, source?,
 *    classification?, confidence_scores?, processing_metadata?,
 *    processing_attempts?, last_error?}
 *
 * Timestamps (created_at, updated_at, processing_metadata.processed_at) are
 * BSON dates. classification, confidence_scores and processing_metadata are
 * written only for a processed ticket; source, processing_attempts and
 * last_error only when set. Reading ignores fields it does not know (such as
 * _id), so documents written by a newer version still load.
 */
#ifndef TK_TICKET_BSON_H
#define TK_TICKET_BSON_H

#include <stdbool.h>

#include <bson/bson.h>

#include "error.h"
#include "ticket.h"

/* Appends the fields of t to out, which the caller has initialised (usually
 * empty, with bson_init) and still owns. created_at and updated_at are
 * written only when non-zero. Returns false only if the document would
 * exceed BSON's size limit; out is then unusable and must be destroyed. */
bool tk_ticket_to_bson (const tk_ticket_t *t, bson_t *out);

/* Reads a ticket document. On success *out is a new ticket the caller frees
 * with tk_ticket_destroy. A missing or mistyped id, subject or body, or a
 * present field of the wrong type, fails with TK_ERR_INVALID naming the
 * field; *out is then NULL. */
bool tk_ticket_from_bson (const bson_t *doc, tk_ticket_t **out, tk_error_t *err);

/* The sub-documents of a processed ticket, for callers that build update
 * documents ($set) rather than whole tickets. Each appends `key: {...}` to
 * parent and returns false only on BSON overflow. */
bool tk_classification_append_bson (bson_t *parent, const char *key,
                                    const tk_classification_t *c);
bool tk_confidence_append_bson (bson_t *parent, const char *key, const tk_confidence_t *c);
bool tk_processing_metadata_append_bson (bson_t *parent, const char *key,
                                         const tk_processing_metadata_t *m);

#endif
