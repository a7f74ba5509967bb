/* confidence_threshold.h - a confidence threshold per field (topic,
 * sentiment, priority), as TRIAGE_REVIEW_BELOW and TRIAGE_CASCADE_BELOW set
 * them, and the test "is any field under its threshold".
 *
 * Text form: one number in [0, 1] for every field ("0.6"), or a
 * comma-separated list of field=number pairs ("priority=0.7,topic=0.5");
 * a field a list leaves out gets 0, which nothing is below. Pure; no
 * allocation.
 */
#ifndef TK_CONFIDENCE_THRESHOLD_H
#define TK_CONFIDENCE_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include "ticket.h"

typedef struct {
   double topic;
   double sentiment;
   double priority;
} tk_threshold_t;

/* Parses text into *out. false with why (cap bytes) saying what is wrong;
 * *out is then all zero. */
bool tk_threshold_parse (const char *text, tk_threshold_t *out, char *why, size_t cap);

/* Whether any of conf's three scores is strictly below its threshold. */
bool tk_threshold_any_below (const tk_confidence_t *conf, const tk_threshold_t *t);

#endif
