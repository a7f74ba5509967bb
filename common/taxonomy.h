/* taxonomy.h - the labels a ticket may be classified with.
 *
 * Three lists: topic tags (a ticket gets one or more), sentiment (exactly
 * one) and priority (exactly one). Each label has an optional one-line
 * description that the LLM prompt quotes. The built-in default is the one in
 * ARCHITECTURE.md; $TRIAGE_TAXONOMY names a JSON file that replaces it:
 *
 *   {"topic_tags": ["How-to", {"label": "SSO", "description": "..."}, ...],
 *    "sentiment":  [...],
 *    "priority":   [...]}
 *
 * All three lists are required and non-empty; an entry is a label string or
 * an object with "label" and optional "description". Labels are unique
 * within a list ignoring ASCII case (so the case-insensitive lookup below is
 * never ambiguous), at most TK_LABEL_MAX bytes of UTF-8, without control
 * characters or surrounding spaces. Unknown keys are rejected, so a typo such
 * as "topics" is reported rather than silently ignored.
 *
 * A taxonomy is immutable once built, so one may be shared by every thread.
 * Labels are indexed 0..count-1 in file order; the built-in model relies on
 * that order being stable.
 */
#ifndef TK_TAXONOMY_H
#define TK_TAXONOMY_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "ticket.h"

/* Upper bounds a taxonomy file must respect. */
#define TK_TAXONOMY_MAX_LABELS 64        /* per list */
#define TK_TAXONOMY_DESCRIPTION_MAX 512  /* bytes of UTF-8 */
#define TK_TAXONOMY_FILE_MAX (1024 * 1024)

typedef struct tk_taxonomy tk_taxonomy_t;

/* The three lists. */
typedef enum {
   TK_TAXONOMY_TOPIC = 0,
   TK_TAXONOMY_SENTIMENT = 1,
   TK_TAXONOMY_PRIORITY = 2,
} tk_taxonomy_kind_t;

/* The built-in taxonomy. Static: never NULL, never freed (passing it to
 * tk_taxonomy_destroy does nothing), safe to share between threads. */
tk_taxonomy_t *tk_taxonomy_default (void);

/* Loads a taxonomy from the JSON file at path. Returns a new taxonomy that
 * the caller frees with tk_taxonomy_destroy, or NULL with err set: domain
 * TK_ERR_IO (code errno) if the file cannot be read, TK_ERR_CONFIG if its
 * content is invalid; err->field names the list or entry at fault, e.g.
 * "sentiment[2]", and the message starts with the path. */
tk_taxonomy_t *tk_taxonomy_load_file (const char *path, tk_error_t *err);

/* Like tk_taxonomy_load_file, from len bytes of JSON in memory. origin
 * (e.g. a file name) prefixes error messages; NULL means "taxonomy". */
tk_taxonomy_t *tk_taxonomy_load_json (const char *buf, size_t len, const char *origin,
                                      tk_error_t *err);

/* Frees a taxonomy from tk_taxonomy_load_*. Accepts NULL and ignores the
 * default. Labels borrowed from it become invalid. */
void tk_taxonomy_destroy (tk_taxonomy_t *tax);

/* The JSON key of a list: "topic_tags", "sentiment" or "priority". */
const char *tk_taxonomy_kind_name (tk_taxonomy_kind_t kind);

/* Number of labels in a list. */
size_t tk_taxonomy_count (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind);

/* Label i of a list, or NULL if i is out of range. Borrowed from tax. */
const char *tk_taxonomy_label (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, size_t i);

/* The description of label i, "" if it has none, NULL if i is out of range.
 * Borrowed from tax. */
const char *tk_taxonomy_description (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind,
                                     size_t i);

/* Index of the label that equals label exactly (byte for byte), or -1. */
int tk_taxonomy_index (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, const char *label);

/* Canonicalizing lookup for LLM output and uploaded files: ignores ASCII
 * case and surrounding ASCII whitespace ("  p1 (medium)" finds
 * "P1 (Medium)"). Returns the canonical label, borrowed from tax, or NULL.
 * If index is not NULL it receives the label's index (-1 when not found). */
const char *tk_taxonomy_canonical (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind,
                                   const char *label, int *index);

/* Exact-match membership tests. NULL label is never a member. */
bool tk_taxonomy_has_topic (const tk_taxonomy_t *tax, const char *label);
bool tk_taxonomy_has_sentiment (const tk_taxonomy_t *tax, const char *label);
bool tk_taxonomy_has_priority (const tk_taxonomy_t *tax, const char *label);

/* Checks that c can be stored: 1..TK_TICKET_MAX_TAGS topic tags, each in the
 * taxonomy (exact match) and none repeated; a sentiment and a priority from
 * the taxonomy. On false, err (domain TK_ERR_INVALID) names the field, e.g.
 * "classification.priority", and the bad value. */
bool tk_taxonomy_validate_classification (const tk_taxonomy_t *tax,
                                          const tk_classification_t *c, tk_error_t *err);

#endif
