/* ticket.h - the ticket model shared by every service.
 *
 * A ticket as stored in the `tickets` collection (see ARCHITECTURE.md):
 * raw fields from the source, then the classification the classifier adds.
 * Strings are owned by the ticket (malloc'd, NUL-terminated, valid UTF-8)
 * and freed by tk_ticket_destroy. Times are milliseconds since the Unix
 * epoch, UTC; 0 means "not set".
 *
 * Parsing and validation from JSON live in ticket_json.c, conversion to and
 * from BSON in ticket_bson.c.
 */
#ifndef TK_TICKET_H
#define TK_TICKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Limits enforced by the parser (bytes of UTF-8). */
#define TK_TICKET_ID_MAX 128
#define TK_TICKET_SUBJECT_MAX 1024
#define TK_TICKET_BODY_MAX (64 * 1024)
#define TK_TICKET_SOURCE_MAX 64
#define TK_TICKET_MAX_TAGS 16
#define TK_LABEL_MAX 64

typedef struct {
   char *topic_tags[TK_TICKET_MAX_TAGS]; /* owned; n_topic_tags used */
   size_t n_topic_tags;
   char *sentiment; /* owned */
   char *priority;  /* owned */
} tk_classification_t;

typedef struct {
   double topic;
   double sentiment;
   double priority;
} tk_confidence_t;

typedef struct {
   int64_t processed_at;        /* ms since epoch */
   char *model_version;         /* owned */
   int64_t processing_time_ms;
   char *agent_version;         /* owned */
   /* A confidence under TRIAGE_REVIEW_BELOW when it was classified: a
    * person should look. Stored top-level as `needs_review` (a plain
    * top-level value, so the backend can filter on it), not inside
    * processing_metadata. */
   bool needs_review;
   /* When a person last corrected its labels (the api's PUT,
    * processing_metadata.corrected_at); 0 = never. Read from the store,
    * never written by tk_processing_metadata_append_bson: a new
    * classification replaces a correction only where a reprocess says
    * override_corrections. */
   int64_t corrected_at;
} tk_processing_metadata_t;

typedef struct tk_ticket {
   char *id;      /* owned, required */
   char *subject; /* owned, required */
   char *body;    /* owned, required */
   char *source;  /* owned, optional (NULL): "kafka", "upload", "api", ... */
   int64_t created_at; /* ms since epoch; 0 = not given */
   int64_t updated_at; /* ms since epoch; 0 = not set */

   bool processed;
   tk_classification_t classification; /* meaningful when processed */
   tk_confidence_t confidence;
   tk_processing_metadata_t metadata;

   int32_t processing_attempts; /* failure bookkeeping; 0 if none */
   char *last_error;            /* owned, optional */
} tk_ticket_t;

/* A zeroed ticket; never NULL (aborts on out-of-memory). Free with
 * tk_ticket_destroy. */
tk_ticket_t *tk_ticket_new (void);

/* Frees t and everything it owns. Accepts NULL. */
void tk_ticket_destroy (tk_ticket_t *t);

/* Frees the strings a classification owns and zeroes it. */
void tk_classification_clear (tk_classification_t *c);

#endif
