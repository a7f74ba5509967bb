/* labelled.h - sets of labelled tickets, for training and evaluating the
 * local model (triagectl train / eval, the model tests).
 *
 * Three file formats, told apart by content, not name:
 *  - NDJSON: one {"id","subject","body","topic_tags":[...],"sentiment",
 *    "priority"} object per line (blank lines skipped);
 *  - a JSON array of such objects (first non-blank byte is '[');
 *  - CSV (RFC 4180, read with libcsv) with a header row naming at least
 *    id,subject,body,topic_tags,sentiment,priority in any order, topic_tags
 *    separated by ';' (chosen when the path ends in ".csv").
 */
#ifndef TK_LABELLED_H
#define TK_LABELLED_H

#include <stddef.h>

#include "error.h"
#include "model.h"

typedef struct tk_labelled_set tk_labelled_set_t;

/* Reads a labelled file. Every record needs an id, a subject or body, a
 * sentiment, a priority and at least one topic tag. Returns a new set (free
 * with tk_labelled_destroy) or NULL with err filled, naming the line or
 * record at fault. */
tk_labelled_set_t *tk_labelled_load (const char *path, tk_error_t *err);

/* Frees the set. Accepts NULL. */
void tk_labelled_destroy (tk_labelled_set_t *set);

/* The examples: borrowed, valid as long as the set. Stores the count in *n. */
const tk_model_example_t *tk_labelled_examples (const tk_labelled_set_t *set, size_t *n);

#endif
