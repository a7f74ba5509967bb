/* llm_parse.h - reading an LLM's classification answer.
 *
 * The providers ask the model for one JSON object:
 *
 *   {"topic_tags": ["Connector", "How-to"], "sentiment": "Curious",
 *    "priority": "P1 (Medium)",
 *    "confidence": {"topic": 0.85, "sentiment": 0.92, "priority": 0.78}}
 *
 * These functions take the provider's HTTP response apart and validate the
 * answer against the taxonomy. Everything that fails is reported with a
 * message fit to quote back to the model in a repair request. Pure: no I/O.
 */
#ifndef TK_LLM_PARSE_H
#define TK_LLM_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "taxonomy.h"
#include "ticket.h"

/* Largest provider response body accepted. */
#define TK_LLM_RESPONSE_MAX (4 * 1024 * 1024)

/* Parses and validates an answer (len bytes; a ```json fence around it is
 * tolerated). Labels are matched ignoring case and surrounding spaces and
 * stored in their canonical spelling; a repeated topic tag is kept once.
 * Confidences are clamped to 0..1. On success fills c (which must be zeroed
 * or cleared; the caller frees it with tk_classification_clear) and conf.
 * On failure returns false with err (TK_ERR_INVALID; field names the part at
 * fault, e.g. "sentiment") and leaves c cleared. Failures: not JSON, not an
 * object, a missing or mistyped field, a label outside the taxonomy, no
 * topic tag or more than TK_TICKET_MAX_TAGS. */
bool tk_llm_parse_answer (const char *text, size_t len, const tk_taxonomy_t *tax,
                          tk_classification_t *c, tk_confidence_t *conf, tk_error_t *err);

/* ---- several tickets in one answer (TRIAGE_LLM_BATCH) ----
 *
 * A batch answer is one object with an entry per ticket, matched by id:
 *
 *   {"answers": [{"id": "T-1", "topic_tags": [...], "sentiment": "...",
 *                 "priority": "...", "confidence": {...}}, ...]}
 */

/* One ticket's share of a batch answer. */
typedef struct {
   bool ok;               /* c and conf are valid */
   tk_classification_t c; /* ok: owned, canonical labels */
   tk_confidence_t conf;
   tk_error_t err;        /* !ok: why, fit to quote back to the model */
   char *answer;          /* !ok and the ticket had an entry: that entry as
                             JSON text (owned), for a repair request */
} tk_llm_batch_item_t;

/* Parses a batch answer for the n tickets ids (borrowed) into items[0..n)
 * (overwritten; free with tk_llm_batch_items_cleanup). Returns false with
 * err only when the answer as a whole is unusable (not JSON, no "answers"
 * array; ```json fences are tolerated): then every ticket failed alike.
 * Otherwise each item is validated on its own, as tk_llm_parse_answer
 * does: an entry that is missing, invalid, or given more than once (which
 * one is meant cannot be told) fails that ticket only. Entries whose id is
 * not a string or was not asked about are ignored. */
bool tk_llm_parse_batch_answer (const char *text, size_t len, const tk_taxonomy_t *tax,
                                const char *const *ids, size_t n, tk_llm_batch_item_t *items,
                                tk_error_t *err);

/* Frees what items[0..n) own. Accepts NULL. */
void tk_llm_batch_items_cleanup (tk_llm_batch_item_t *items, size_t n);

/* The assistant's text of an OpenAI chat completion response body
 * (choices[0].message.content). Returns a new string the caller frees with
 * free(), or NULL with err (TK_ERR_INVALID) if the body is not such a
 * response (or the model refused: message.refusal). */
char *tk_llm_openai_content (const char *body, size_t len, tk_error_t *err);

/* The model's text of a Gemini generateContent response body (the parts of
 * candidates[0].content, concatenated). NULL with err as above, also when
 * the prompt was blocked (promptFeedback.blockReason). */
char *tk_llm_gemini_content (const char *body, size_t len, tk_error_t *err);

#endif
