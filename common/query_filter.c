/* query_filter.c - URL parameters to a MongoDB filter (see query_filter.h).
 *
 * Only operators both MongoDB and FerretDB 1.24 run are produced: $and,
 * $or, $in, $gte, $lt, $gt, $exists and $regex with $options "i". User text
 * reaches the filter in two ways only: as a canonical taxonomy label (looked
 * up, so never the user's bytes) and as the escaped body of a $regex string.
 */
#include "query_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"
#include "utf8.h"

#define F_PROCESSED_AT "processing_metadata.processed_at"
#define F_CORRECTED_AT "processing_metadata.corrected_at"

/* The date parameters, named by TK_QUERY_T_*. */
static const char *const time_keys[TK_QUERY_N_TIMES] = {
   "created_from", "created_to", "processed_from", "processed_to", "stored_from", "stored_to"};

char *
tk_regex_escape (const char *s)
{
   size_t len = strlen (s);
   char *out = bson_malloc (2 * len + 1);
   size_t j = 0;
   for (size_t i = 0; i < len; i++) {
      if (strchr ("\\^$.|?*+()[]{}-/#", s[i]) && s[i] != '\0') {
         out[j++] = '\\';
      }
      out[j++] = s[i];
   }
   out[j] = '\0';
   return out;
}

bool
tk_query_invalid (tk_error_t *err, const char *field, const char *msg, const char *value)
{
   char shown[80];
   size_t n = tk_utf8_prefix_len (value, strlen (value), 60);
   snprintf (shown, sizeof shown, "%.*s%s", (int) n, value, value[n] ? "..." : "");
   tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: %s (got \"%s\")", field, msg, shown);
   return false;
}

/* Calls add(item) for every comma-separated item of value, trimmed. */
static bool
add_labels (tk_query_labels_t *set, const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind,
            const char *field, const char *value, tk_error_t *err)
{
   const char *p = value;
   for (;;) {
      const char *comma = strchr (p, ',');
      size_t len = comma ? (size_t) (comma - p) : strlen (p);
      char item[TK_LABEL_MAX + 8];
      if (len >= sizeof item) {
         return tk_query_invalid (err, field, "not a label of the taxonomy", value);
      }
      memcpy (item, p, len);
      item[len] = '\0';
      const char *canon = tk_taxonomy_canonical (tax, kind, item, NULL);
      if (!canon) {
         return tk_query_invalid (err, field, "not a label of the taxonomy", item);
      }
      bool seen = false;
      for (size_t i = 0; i < set->n; i++) {
         seen = seen || set->labels[i] == canon;
      }
      if (!seen) {
         if (set->n == TK_QUERY_MAX_VALUES) {
            return tk_query_invalid (err, field, "too many values", value);
         }
         set->labels[set->n++] = canon;
      }
      if (!comma) {
         return true;
      }
      p = comma + 1;
   }
}

static bool
add_status (tk_query_where_t *pp, const char *value, tk_error_t *err)
{
   const char *p = value;
   for (;;) {
      const char *comma = strchr (p, ',');
      size_t len = comma ? (size_t) (comma - p) : strlen (p);
      if (len == 9 && !strncmp (p, "processed", 9)) {
         pp->st_processed = true;
      } else if (len == 11 && !strncmp (p, "unprocessed", 11)) {
         pp->st_unprocessed = true;
      } else if (len == 6 && !strncmp (p, "failed", 6)) {
         pp->st_failed = true;
      } else {
         return tk_query_invalid (err, "status", "must be processed, unprocessed or failed", value);
      }
      if (!comma) {
         return true;
      }
      p = comma + 1;
   }
}


static bool
parse_limit (const char *value, uint32_t *out, tk_error_t *err)
{
   char *end = NULL;
   if (!*value || strlen (value) > 7 || value[0] < '0' || value[0] > '9') {
      return tk_query_invalid (err, "limit", "must be an integer from 1 to 1000", value);
   }
   long v = strtol (value, &end, 10);
   if (*end || v < 1 || v > TK_QUERY_MAX_LIMIT) {
      return tk_query_invalid (err, "limit", "must be an integer from 1 to 1000", value);
   }
   *out = (uint32_t) v;
   return true;
}

static bool
key_in (const char *key, const char *const *list)
{
   for (size_t i = 0; list && list[i]; i++) {
      if (!strcmp (key, list[i])) {
         return true;
      }
   }
   return false;
}

/* Opens the next clause of and, {"<*idx>": clause}, and counts it. */
static void
clause_begin (bson_t *and, uint32_t *idx, bson_t *clause)
{
   char key[16];
   const char *k;
   bson_uint32_to_string ((*idx)++, &k, key, sizeof key);
   bson_append_document_begin (and, k, -1, clause);
}

static void
append_label_clause (bson_t *and, uint32_t *idx, const char *field, const tk_query_labels_t *set)
{
   if (set->n == 0) {
      return;
   }
   bson_t clause, cond, arr;
   clause_begin (and, idx, &clause);
   bson_append_document_begin (&clause, field, -1, &cond);
   bson_append_array_begin (&cond, "$in", -1, &arr);
   char key[16];
   const char *k;
   for (size_t i = 0; i < set->n; i++) {
      bson_uint32_to_string ((uint32_t) i, &k, key, sizeof key);
      bson_append_utf8 (&arr, k, -1, set->labels[i], -1);
   }
   bson_append_array_end (&cond, &arr);
   bson_append_document_end (&clause, &cond);
   bson_append_document_end (and, &clause);
}

static void
append_range_clause (bson_t *and, uint32_t *idx, const char *field, bool has_from, int64_t from,
                     bool has_to, int64_t to)
{
   if (!has_from && !has_to) {
      return;
   }
   bson_t clause, cond;
   clause_begin (and, idx, &clause);
   bson_append_document_begin (&clause, field, -1, &cond);
   if (has_from) {
      bson_append_date_time (&cond, "$gte", -1, from);
   }
   if (has_to) {
      bson_append_date_time (&cond, "$lt", -1, to);
   }
   bson_append_document_end (&clause, &cond);
   bson_append_document_end (and, &clause);
}

/* {$or: [alts[0], ..., alts[n - 1]]} as the next clause of and. */
static void
append_or_clause (bson_t *and, uint32_t *idx, const bson_t *alts, uint32_t n)
{
   bson_t clause, or;
   clause_begin (and, idx, &clause);
   bson_append_array_begin (&clause, "$or", -1, &or);
   char key[16];
   const char *k;
   for (uint32_t j = 0; j < n; j++) {
      bson_uint32_to_string (j, &k, key, sizeof key);
      bson_append_document (&or, k, -1, &alts[j]);
   }
   bson_append_array_end (&clause, &or);
   bson_append_document_end (and, &clause);
}

/* {$or: [{fields[0]: cond}, ..., {fields[n - 1]: cond}]} as the next clause
 * of and: cond holds for any of the fields (n at most 8). */
static void
append_any_field_clause (bson_t *and, uint32_t *idx, const char *const *fields, uint32_t n,
                         const bson_t *cond)
{
   bson_t alts[8];
   for (uint32_t j = 0; j < n; j++) {
      bson_init (&alts[j]);
      bson_append_document (&alts[j], fields[j], -1, cond);
   }
   append_or_clause (and, idx, alts, n);
   for (uint32_t j = 0; j < n; j++) {
      bson_destroy (&alts[j]);
   }
}

/* The status clause: an $or of the statuses asked for (failed is an
 * unprocessed ticket with attempts behind it). */
static void
append_status_clause (bson_t *and, uint32_t *idx, const tk_query_where_t *pp)
{
   bson_t alts[3];
   uint32_t n = 0;
   if (pp->st_processed) {
      bson_init (&alts[n]);
      bson_append_bool (&alts[n++], "processed", -1, true);
   }
   if (pp->st_unprocessed) {
      bson_init (&alts[n]);
      bson_append_bool (&alts[n++], "processed", -1, false);
   }
   if (pp->st_failed) {
      bson_t cond;
      bson_init (&alts[n]);
      bson_append_bool (&alts[n], "processed", -1, false);
      bson_append_document_begin (&alts[n], "processing_attempts", -1, &cond);
      bson_append_int32 (&cond, "$gt", -1, 0);
      bson_append_document_end (&alts[n++], &cond);
   }
   if (n > 0) {
      append_or_clause (and, idx, alts, n);
   }
   for (uint32_t j = 0; j < n; j++) {
      bson_destroy (&alts[j]);
   }
}

/* The confidence clause: any of the three scores below pp->conf_below. */
static void
append_conf_clause (bson_t *and, uint32_t *idx, const tk_query_where_t *pp)
{
   static const char *const conf_fields[3] = {
      "confidence_scores.topic", "confidence_scores.sentiment", "confidence_scores.priority"};
   if (!pp->has_conf) {
      return;
   }
   bson_t cond = BSON_INITIALIZER;
   bson_append_double (&cond, "$lt", -1, pp->conf_below);
   append_any_field_clause (and, idx, conf_fields, 3, &cond);
   bson_destroy (&cond);
}

/* The needs_review clause. needs_review=false also lists tickets stored
 * before the flag existed (and unprocessed ones): they were never flagged. */
static void
append_review_clause (bson_t *and, uint32_t *idx, const tk_query_where_t *pp)
{
   if (pp->needs_review < 0) {
      return;
   }
   bson_t clause, cond;
   clause_begin (and, idx, &clause);
   if (pp->needs_review) {
      bson_append_bool (&clause, "needs_review", -1, true);
   } else {
      bson_append_document_begin (&clause, "needs_review", -1, &cond);
      bson_append_bool (&cond, "$ne", -1, true);
      bson_append_document_end (&clause, &cond);
   }
   bson_append_document_end (and, &clause);
}

/* The corrected clause: whether a person has corrected the labels (any
 * corrected_at present, as the classifier reads it). */
static void
append_corrected_clause (bson_t *and, uint32_t *idx, const tk_query_where_t *pp)
{
   if (pp->corrected < 0) {
      return;
   }
   bson_t clause, cond;
   clause_begin (and, idx, &clause);
   bson_append_document_begin (&clause, F_CORRECTED_AT, -1, &cond);
   bson_append_bool (&cond, "$exists", -1, pp->corrected == 1);
   bson_append_document_end (&clause, &cond);
   bson_append_document_end (and, &clause);
}

/* The text clause: pp->text, escaped, as a case-blind $regex over the id,
 * subject, body and labels. */
static void
append_text_clause (bson_t *and, uint32_t *idx, const tk_query_where_t *pp)
{
   static const char *const text_fields[6] = {
      "id", "subject", "body", "classification.topic_tags", "classification.sentiment",
      "classification.priority"};
   if (!pp->text[0]) {
      return;
   }
   char *re = tk_regex_escape (pp->text);
   bson_t cond = BSON_INITIALIZER;
   bson_append_utf8 (&cond, "$regex", -1, re, -1);
   bson_append_utf8 (&cond, "$options", -1, "i", -1);
   append_any_field_clause (and, idx, text_fields, 6, &cond);
   bson_destroy (&cond);
   bson_free (re);
}

static void
build_filter (const tk_query_where_t *pp, bson_t *out)
{
   static const char *const label_fields[3] = {
      "classification.topic_tags", "classification.sentiment", "classification.priority"};
   bson_init (out);
   bson_t and;
   uint32_t idx = 0;
   bson_append_array_begin (out, "$and", -1, &and);

   append_status_clause (&and, &idx, pp);
   for (int kind = 0; kind < 3; kind++) {
      append_label_clause (&and, &idx, label_fields[kind], &pp->kinds[kind]);
   }
   /* One range per field: the time keys come in (from, to) pairs. */
   static const char *const range_fields[TK_QUERY_N_TIMES / 2] = {"created_at", F_PROCESSED_AT,
                                                                  "stored_at"};
   for (int r = 0; r < TK_QUERY_N_TIMES / 2; r++) {
      append_range_clause (&and, &idx, range_fields[r], pp->has_time[2 * r], pp->time[2 * r],
                           pp->has_time[2 * r + 1], pp->time[2 * r + 1]);
   }
   append_conf_clause (&and, &idx, pp);
   append_review_clause (&and, &idx, pp);
   append_corrected_clause (&and, &idx, pp);
   append_text_clause (&and, &idx, pp);
   bson_append_array_end (out, &and);
   if (idx == 0) {
      /* FerretDB and MongoDB both refuse an empty $and. */
      bson_reinit (out);
   }
}

/* What tk_query_build has read so far of the parameters. */
typedef struct {
   tk_query_t *q;
   const tk_taxonomy_t *tax;
   tk_query_where_t pp;
   unsigned given; /* bit t: params_table[t] was read */
   tk_query_sort_t cursor_sort; /* the sort order the cursor was made for */
} build_t;

/* status=processed,unprocessed,failed */
static bool
param_status (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   (void) key;
   return add_status (&b->pp, value, err);
}

/* topic=, sentiment= and priority=: labels of the taxonomy. */
static bool
param_labels (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   tk_taxonomy_kind_t kind = key[0] == 't'   ? TK_TAXONOMY_TOPIC
                             : key[0] == 's' ? TK_TAXONOMY_SENTIMENT
                                             : TK_TAXONOMY_PRIORITY;
   return add_labels (&b->pp.kinds[kind], b->tax, kind, key, value, err);
}

/* created_from=, created_to=, processed_from=, processed_to=, stored_from=,
 * stored_to= (once each): an ISO-8601 date or time. */
static bool
param_time (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   int i = 0;
   while (i < TK_QUERY_N_TIMES - 1 && strcmp (key, time_keys[i])) {
      i++; /* params_table sends only these keys */
   }
   if (!tk_time_parse_iso (value, strlen (value), &b->pp.time[i])) {
      return tk_query_invalid (err, key, "not an ISO-8601 date or time", value);
   }
   b->pp.has_time[i] = true;
   return true;
}

/* confidence_below=: one number from 0 to 1. */
static bool
param_confidence_below (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   char *end = NULL;
   double v = *value ? strtod (value, &end) : -1;
   if (b->pp.has_conf || !end || *end || !(v >= 0.0 && v <= 1.0)) {
      return tk_query_invalid (err, key, "must be one number from 0 to 1", value);
   }
   b->pp.has_conf = true;
   b->pp.conf_below = v;
   return true;
}

/* needs_review=true or false, once. */
static bool
param_needs_review (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   if (b->pp.needs_review >= 0 || (strcmp (value, "true") && strcmp (value, "false"))) {
      return tk_query_invalid (err, key, "must be true or false, once", value);
   }
   b->pp.needs_review = !strcmp (value, "true");
   return true;
}

/* corrected=true or false, once. */
static bool
param_corrected (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   if (b->pp.corrected >= 0 || (strcmp (value, "true") && strcmp (value, "false"))) {
      return tk_query_invalid (err, key, "must be true or false, once", value);
   }
   b->pp.corrected = !strcmp (value, "true");
   return true;
}

/* q= (once): the text to look for (borrowed from the params); empty means
 * none. */
static bool
param_text (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   /* Characters, as a person counts them (the value is valid UTF-8 here:
    * read_param checked), not bytes. */
   size_t chars = 0;
   for (const unsigned char *p = (const unsigned char *) value; *p; p++) {
      chars += (*p & 0xC0) != 0x80;
   }
   if (chars > TK_QUERY_TEXT_MAX) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, key,
                          "search text is limited to %d characters (this one has %zu)",
                          TK_QUERY_TEXT_MAX, chars);
      return false;
   }
   if (*value) {
      memcpy (b->pp.text, value, strlen (value) + 1);
   }
   return true;
}

/* sort= (once: see params_table). */
static bool
param_sort (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   (void) key;
   return tk_query_parse_sort (value, &b->q->sort, err);
}

/* limit= (once). */
static bool
param_limit (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   (void) key;
   return parse_limit (value, &b->q->limit, err);
}

/* cursor= (once). */
static bool
param_cursor (build_t *b, const char *key, const char *value, tk_error_t *err)
{
   (void) key;
   return tk_query_parse_cursor (b->q, value, &b->cursor_sort, err);
}

/* The parameters tk_query_build knows: a key whose allow bit the caller did
 * not give is treated as any other unknown key; a key marked once is
 * refused the second time it is given (read_param keeps the count). */
static const struct {
   const char *key;
   unsigned allow; /* the TK_QUERY_ALLOW_* bit the key needs, 0 for none */
   bool once;
   bool (*parse) (build_t *b, const char *key, const char *value, tk_error_t *err);
} params_table[] = {
   {"status", 0, false, param_status},
   {"topic", 0, false, param_labels},
   {"sentiment", 0, false, param_labels},
   {"priority", 0, false, param_labels},
   {"created_from", 0, true, param_time},
   {"created_to", 0, true, param_time},
   {"processed_from", 0, true, param_time},
   {"processed_to", 0, true, param_time},
   {"stored_from", 0, true, param_time},
   {"stored_to", 0, true, param_time},
   {"confidence_below", 0, false, param_confidence_below},
   {"needs_review", 0, false, param_needs_review},
   {"corrected", 0, false, param_corrected},
   {"q", 0, true, param_text},
   {"sort", TK_QUERY_ALLOW_SORT, true, param_sort},
   {"limit", TK_QUERY_ALLOW_LIMIT, true, param_limit},
   {"cursor", TK_QUERY_ALLOW_CURSOR, true, param_cursor},
};

_Static_assert (sizeof params_table / sizeof params_table[0] <= 32, "build_t.given has 32 bits");

/* Reads one parameter into b: a key of params_table that allow permits, or
 * one of extra_keys (which the caller reads itself). */
static bool
read_param (build_t *b, const tk_query_param_t *param, unsigned allow,
            const char *const *extra_keys, tk_error_t *err)
{
   const char *key = param->key, *value = param->value;
   if (!tk_utf8_valid (value, strlen (value), NULL)) {
      return tk_query_invalid (err, key, "not valid UTF-8", "");
   }
   for (size_t t = 0; t < sizeof params_table / sizeof params_table[0]; t++) {
      if (!strcmp (key, params_table[t].key) &&
          (!params_table[t].allow || (allow & params_table[t].allow))) {
         if (params_table[t].once && (b->given & (1u << t))) {
            return tk_query_invalid (err, key, "given twice", value);
         }
         b->given |= 1u << t;
         return params_table[t].parse (b, key, value, err);
      }
   }
   if (!key_in (key, extra_keys)) {
      return tk_query_invalid (err, key, "unknown parameter", key);
   }
   return true;
}

bool
tk_query_build (tk_query_t *q, const tk_query_param_t *params, size_t n,
                const tk_taxonomy_t *tax, unsigned allow, const char *const *extra_keys,
                tk_error_t *err)
{
   build_t b;
   memset (&b, 0, sizeof b);
   b.q = q;
   b.tax = tax;
   b.pp.needs_review = -1;
   b.pp.corrected = -1;
   b.cursor_sort = TK_SORT_CREATED_DESC;
   memset (q, 0, sizeof *q);
   q->sort = TK_SORT_CREATED_DESC;
   q->limit = TK_QUERY_DEFAULT_LIMIT;

   for (size_t i = 0; i < n; i++) {
      if (!read_param (&b, &params[i], allow, extra_keys, err)) {
         return false;
      }
   }
   if (q->has_cursor && b.cursor_sort != q->sort) {
      return tk_query_invalid (err, "cursor", "was made for another sort order", "");
   }
   build_filter (&b.pp, &q->filter);
   q->where = b.pp;
   return true;
}

void
tk_query_cleanup (tk_query_t *q)
{
   if (q) {
      /* A zeroed q (never built, or its build failed) holds no document:
       * an initialised bson_t is at least 5 bytes long. */
      if (q->filter.len) {
         bson_destroy (&q->filter);
      }
      memset (q, 0, sizeof *q);
   }
}
