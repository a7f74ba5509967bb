/* messages.h - every Kafka topic message, built and parsed in one place.
 *
 * The topics and their messages are those of ARCHITECTURE.md's topic table:
 *
 *   tickets.inbound     a raw ticket {"id","subject","body","created_at"?,"source"?}
 *   tickets.classify    {"id","reason","requested_at","job_id"?,"override_corrections"?}
 *   tickets.classified  {"id","classification","confidence_scores","processing_metadata"}
 *   tickets.dlq         {"id","error","attempts","failed_at",...,"message"}
 *
 * Users point their own systems at these topics, so the bytes each builder
 * writes (field names, their order, their encoding) are a contract: change
 * them only with the topic table and a note for those users.
 *
 * Pure functions, no I/O, no logging; safe on any thread. Every builder
 * returns NUL-terminated JSON text without whitespace that the caller frees
 * with free(), its length in *len (if len is not NULL), or NULL with err set
 * (TK_ERR_NOMEM, or TK_ERR_INVALID for an argument the message cannot
 * carry). Every parser takes untrusted bytes (payload, len), never keeps a
 * pointer into them, and either fills its output or returns false with err
 * set (TK_ERR_INVALID, err->field naming the field at fault when there is
 * one) and leaves nothing to free.
 */
#ifndef TK_MESSAGES_H
#define TK_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "ticket.h"

/* Largest classify request a parser reads (one holds an id and a few short
 * strings). */
#define TK_MSG_CLASSIFY_MAX (64 * 1024)
/* Largest classified result a parser reads. */
#define TK_MSG_CLASSIFIED_MAX (64 * 1024)
/* Largest DLQ record a parser reads: a refused inbound message of up to
 * TK_TICKET_JSON_MAX bytes, escaped again as a JSON string. */
#define TK_MSG_DLQ_MAX (8 * 1024 * 1024)
/* Longest job_id a classify request carries (the api's job ids are 47). */
#define TK_MSG_JOB_ID_MAX 63

/* ---- tickets.inbound ------------------------------------------------------ */

/* {"id","subject","body"} then "created_at" (ISO-8601, when set and
 * printable) and "source" (when set), for t (borrowed). This is what
 * `triagectl publish` sends; upstream publishers may send more (unknown keys
 * are ignored by the parser). */
char *tk_msg_inbound_build (const tk_ticket_t *t, size_t *len, tk_error_t *err);

/* Parses an inbound message with ticket_json.h's raw-ticket rules. Returns a
 * new ticket (caller frees with tk_ticket_destroy; processed = false,
 * source as given or NULL), or NULL with err set and *reason (if reason is
 * not NULL) a static metric label: "malformed" (empty or not JSON),
 * "oversized" (over TK_TICKET_JSON_MAX bytes), "not_object" or
 * "invalid_field". payload may be NULL when len is 0. */
tk_ticket_t *tk_msg_inbound_parse (const char *payload, size_t len, const char **reason,
                                   tk_error_t *err);

/* The id a refused inbound message goes by in its DLQ record: its key if
 * that is valid UTF-8 without NUL and shorter than cap, else the "id"
 * string of its JSON if there is one shorter than cap. Written into buf;
 * returns buf, or NULL if the message has neither. key and payload may be
 * NULL with a length of 0. */
const char *tk_msg_inbound_refused_id (const char *key, size_t key_len, const char *payload,
                                       size_t len, char *buf, size_t cap);

/* ---- tickets.classify ----------------------------------------------------- */

/* {"id","reason","requested_at"}, "job_id" when job_id is not NULL and
 * "override_corrections": true when override_corrections is set (a
 * reprocess that may relabel a ticket a person corrected; without it such
 * a ticket keeps the person's labels). reason is "ingest", "manual" or
 * "reprocess" (any other non-empty string is written as given);
 * requested_at is ms since the epoch, written as ISO-8601 ("" if it cannot
 * be). id and reason are required (TK_ERR_INVALID if NULL). Everything
 * borrowed for the call. */
char *tk_msg_classify_build (const char *id, const char *reason, int64_t requested_at,
                             const char *job_id, bool override_corrections, size_t *len,
                             tk_error_t *err);

/* A parsed classify request; fixed buffers, nothing to free. */
typedef struct {
   char id[TK_TICKET_ID_MAX + 1];
   char reason[16];   /* as sent; "" if absent, not a string or longer */
   bool reprocess;    /* reason is "reprocess": classify even if processed */
   int64_t requested_at; /* ms since the epoch; 0 if absent or unreadable */
   char job_id[TK_MSG_JOB_ID_MAX + 1]; /* "" if absent or longer */
   bool override_corrections; /* "override_corrections" is true */
} tk_msg_classify_t;

/* Reads a classify request: JSON (tk_json_parse, at most
 * TK_MSG_CLASSIFY_MAX bytes), an object whose "id" is a non-empty string of
 * at most TK_TICKET_ID_MAX bytes. The other fields are optional and read
 * leniently (an older or newer producer's request is still served). */
bool tk_msg_classify_parse (const char *payload, size_t len, tk_msg_classify_t *out,
                            tk_error_t *err);

/* ---- tickets.classified --------------------------------------------------- */

/* {"id","classification":{"topic_tags","sentiment","priority"},
 *  "confidence_scores":{"topic","sentiment","priority"},
 *  "processing_metadata":{"processed_at","model_version","processing_time_ms",
 *  "agent_version"}} for ticket id. Everything borrowed; a NULL string in c
 * or md is written as "", a processed_at that cannot be printed as "". */
char *tk_msg_classified_build (const char *id, const tk_classification_t *c,
                               const tk_confidence_t *conf, const tk_processing_metadata_t *md,
                               size_t *len, tk_error_t *err);

/* A parsed classified result. Owns its strings: free with
 * tk_msg_classified_clear. */
typedef struct {
   char *id;
   tk_classification_t c;
   tk_confidence_t conf;
   tk_processing_metadata_t md; /* needs_review is not on the wire: false */
} tk_msg_classified_t;

/* Reads a classified result: every field above required, strings valid
 * UTF-8, at most TK_TICKET_MAX_TAGS tags, confidences numbers in [0, 1],
 * processing_time_ms an integer >= 0, processed_at ISO-8601 or "" (0). The
 * labels are not checked against a taxonomy (the consumer's business).
 * *out is overwritten (clear it first if it holds anything). */
bool tk_msg_classified_parse (const char *payload, size_t len, tk_msg_classified_t *out,
                              tk_error_t *err);

/* Frees what out owns and zeroes it. Accepts NULL. */
void tk_msg_classified_clear (tk_msg_classified_t *out);

/* ---- tickets.dlq ---------------------------------------------------------- */

/* How a DLQ record carries the original message. */
typedef enum {
   /* As a JSON string when the bytes are valid UTF-8 without NUL; else
    * "message": null and "message_base64" with the bytes (ingest: a refused
    * inbound message may be anything). */
   TK_MSG_DLQ_TEXT,
   /* Embedded as the JSON value it is; null if it is not JSON (the
    * classifier: its classify request, which parsed as JSON). */
   TK_MSG_DLQ_JSON,
} tk_msg_dlq_encoding_t;

/* What a DLQ record says; everything borrowed for the build. */
typedef struct {
   const char *id;    /* NULL: "id": null (the refused message had none) */
   const char *error; /* required */
   unsigned attempts;
   int64_t failed_at; /* ms since the epoch */
   const char *provider;     /* the classifier's provider; NULL: omitted */
   const char *source_topic; /* where the message was read; NULL: omitted with the next two */
   int32_t source_partition;
   int64_t source_offset;
   const char *message; /* the original message; NULL: "message": null */
   size_t message_len;
   tk_msg_dlq_encoding_t encoding;
} tk_msg_dlq_fields_t;

/* {"id","error","attempts","failed_at"} then "provider" (if set),
 * "source_topic","source_partition","source_offset" (if source_topic is
 * set), then "message" (and "message_base64") as f->encoding says. */
char *tk_msg_dlq_build (const tk_msg_dlq_fields_t *f, size_t *len, tk_error_t *err);

/* A parsed DLQ record. Owns its strings: free with tk_msg_dlq_clear. */
typedef struct {
   char *id;       /* NULL if null */
   char *error;
   unsigned attempts;
   int64_t failed_at; /* 0 if "" */
   char *provider;     /* NULL if absent */
   char *source_topic; /* NULL if absent */
   int32_t source_partition; /* -1 if absent */
   int64_t source_offset;    /* -1 if absent */
   /* The original message's bytes (NUL-terminated; may hold NUL if it came
    * base64-encoded): a string as it was, base64 decoded, an embedded JSON
    * value printed without whitespace. NULL if the record's message is
    * null. */
   char *message;
   size_t message_len;
   tk_msg_dlq_encoding_t encoding; /* TK_MSG_DLQ_JSON if embedded, else TEXT */
} tk_msg_dlq_t;

/* Reads a DLQ record: "id" a string or null, "error" a string, "attempts" an
 * integer >= 0, "failed_at" ISO-8601 or "" (required); the rest optional but
 * checked when present. *out is overwritten. */
bool tk_msg_dlq_parse (const char *payload, size_t len, tk_msg_dlq_t *out, tk_error_t *err);

/* Frees what out owns and zeroes it. Accepts NULL. */
void tk_msg_dlq_clear (tk_msg_dlq_t *out);

#endif
