/* ticket_json.h - tickets to and from JSON, with the validation every
 * entry point (Kafka, HTTP upload, CSV rows, the REST API) shares.
 *
 * The JSON schema is the one in ARCHITECTURE.md. Parsing rules:
 *
 * - Raw ticket: "id", "subject" and "body" are required keys. "id" is a
 *   string (an integer such as 5 is accepted and stored as "5", because many
 *   upstream systems number their tickets); surrounding whitespace is
 *   trimmed; it must then be 1..TK_TICKET_ID_MAX bytes without control
 *   characters. "subject" (<= TK_TICKET_SUBJECT_MAX bytes) and "body"
 *   (<= TK_TICKET_BODY_MAX bytes) are strings that may be empty, but not
 *   both blank. Optional: "created_at" and "updated_at" (ISO-8601 strings,
 *   see tk_time_parse_iso; note 1970-01-01T00:00:00Z reads as 0, "not
 *   set") and "source" (<= TK_TICKET_SOURCE_MAX bytes, no
 *   control characters). An optional field that is null or "" counts as
 *   absent, which suits CSV files with empty cells.
 * - Unknown keys are ignored, so upstream systems may send extra data; a
 *   raw parse also ignores any classification a publisher includes. A known
 *   key that appears twice is an error (parsers disagree on which one wins).
 * - Every string must be valid UTF-8 (tk_utf8_check) without NUL.
 *
 * Errors are TK_ERR_INVALID with err->field set to the field at fault
 * ("body", "classification.priority", "confidence_scores.topic") and a
 * message that starts with that field, written for a person who uploaded a
 * file: "body: exceeds 65536 bytes (got 70000)".
 */
#ifndef TK_TICKET_JSON_H
#define TK_TICKET_JSON_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "taxonomy.h"
#include "ticket.h"

/* Largest JSON text for one ticket. A body at its limit may grow up to six
 * times when every byte is escaped (\u00XX), hence the headroom. */
#define TK_TICKET_JSON_MAX (512 * 1024)
/* Deepest nesting tk_json_parse accepts; a ticket needs 3. */
#define TK_JSON_MAX_DEPTH 32
/* Limits for fields ticket.h does not bound (bytes of UTF-8). */
#define TK_TICKET_LAST_ERROR_MAX 1024
#define TK_TICKET_VERSION_MAX 64 /* model_version, agent_version */

/* Parses len bytes of untrusted JSON text (any JSON value). Before cJSON
 * sees the bytes, checks that they are at most max_len bytes, strict UTF-8
 * without NUL, nested at most TK_JSON_MAX_DEPTH deep (cJSON recurses once
 * per level), and free of the escape \u0000 (which cJSON would turn into a
 * silently truncated string). Trailing data after the value, other than
 * whitespace, is an error. Returns a tree the caller frees with cJSON_Delete,
 * or NULL with err set (TK_ERR_INVALID). */
cJSON *tk_json_parse (const char *buf, size_t len, size_t max_len, tk_error_t *err);

/* Builds a ticket from a raw-ticket JSON object (rules above). The ticket
 * has processed = false. Returns a new ticket the caller frees with
 * tk_ticket_destroy, or NULL with err set. obj is only read. Note that
 * cJSON itself cuts a string short at an escaped \u0000, which cannot be
 * seen here: parse untrusted bytes with tk_json_parse, which rejects it. */
tk_ticket_t *tk_ticket_from_json (const cJSON *obj, tk_error_t *err);

/* Builds a processed ticket (POST /api/processed-tickets, imports): the raw
 * fields plus
 *   "classification": {"topic_tags": [..], "sentiment": "..", "priority": ".."}
 *       required; labels are matched against tax ignoring case and stored in
 *       their canonical spelling, then checked with
 *       tk_taxonomy_validate_classification.
 *   "confidence_scores": {"topic", "sentiment", "priority"} required, each a
 *       number in [0, 1].
 *   "processing_metadata": optional; "processed_at" (ISO-8601),
 *       "model_version", "agent_version" (strings), "processing_time_ms"
 *       (integer >= 0). processed_at is 0 when absent: the caller decides,
 *       typically stamping the time it received the ticket.
 *   "processing_attempts" (integer >= 0) and "last_error" (string), optional.
 *   "processed", if present, must be true.
 * The ticket has processed = true. Returns a new ticket (caller frees) or
 * NULL with err set. tax is borrowed for the call only; NULL means
 * tk_taxonomy_default(). */
tk_ticket_t *tk_ticket_from_processed_json (const cJSON *obj, const tk_taxonomy_t *tax,
                                            tk_error_t *err);

/* tk_json_parse with TK_TICKET_JSON_MAX, then tk_ticket_from_json. */
tk_ticket_t *tk_ticket_parse_json (const char *buf, size_t len, tk_error_t *err);

/* tk_json_parse with TK_TICKET_JSON_MAX, then tk_ticket_from_processed_json. */
tk_ticket_t *tk_ticket_parse_processed_json (const char *buf, size_t len,
                                             const tk_taxonomy_t *tax, tk_error_t *err);

/* Serializes t in the ARCHITECTURE.md schema: id, subject, body, source (if
 * set), processed, created_at / updated_at (if set, ISO-8601 UTC strings);
 * when processed, classification, confidence_scores and processing_metadata;
 * processing_attempts (if > 0) and last_error (if set). Returns a new tree
 * the caller frees with cJSON_Delete, or NULL with err set if t has no id,
 * a timestamp outside years 0001..9999, or memory runs out. */
cJSON *tk_ticket_to_json (const tk_ticket_t *t, tk_error_t *err);

/* tk_ticket_to_json printed without whitespace, e.g. for a Kafka message.
 * Returns a NUL-terminated string the caller frees with cJSON_free, or NULL
 * with err set. */
char *tk_ticket_to_json_string (const tk_ticket_t *t, tk_error_t *err);

#endif
