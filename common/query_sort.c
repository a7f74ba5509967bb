/* query_sort.c - the sort orders of the ticket listings, their keyset
 * cursors and the MongoDB filter and sort of a page (see query_filter.h).
 *
 * A date sort (created_at, processed_at) pages on (date, id); a label or
 * confidence sort on (value, created_at, id), all three in the sort's
 * direction. A sort lists only the tickets that have its field (as
 * processed_at always did): sorted by priority, P0 tickets come first, not
 * the unclassified ones MongoDB would put before them; the side tables
 * (list_sql.c) do the same.
 *
 * Cursor text, letters, digits, '.', '-' and lowercase hex only (nothing a
 * URL must escape):
 *   date sorts       <code><ms>.<hex id>
 *   label, number    <code><hex value>.<ms>.<hex id>
 * where the code letter names the sort (a cursor of another sort is
 * refused) and a number is written "%.17g" (it reads back exactly).
 */
#include "query_filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   const char *name;  /* sort= value without the '-' */
   const char *field; /* the document's field */
   tk_query_sort_key_t key;
   char codes[2]; /* cursor code: [0] descending, [1] ascending */
} sort_def_t;

/* By pairs of tk_query_sort_t: descending, then ascending. */
static const sort_def_t sorts[TK_SORT_N / 2] = {
   {"created_at", "created_at", TK_SORT_KEY_DATE, {'c', 'C'}},
   {"processed_at", "processing_metadata.processed_at", TK_SORT_KEY_DATE, {'p', 'P'}},
   {"priority", "classification.priority", TK_SORT_KEY_LABEL, {'r', 'R'}},
   {"sentiment", "classification.sentiment", TK_SORT_KEY_LABEL, {'s', 'S'}},
   {"confidence_topic", "confidence_scores.topic", TK_SORT_KEY_NUMBER, {'t', 'T'}},
   {"confidence_sentiment", "confidence_scores.sentiment", TK_SORT_KEY_NUMBER, {'e', 'E'}},
   {"confidence_priority", "confidence_scores.priority", TK_SORT_KEY_NUMBER, {'i', 'I'}},
};

static const sort_def_t *
def_of (tk_query_sort_t sort)
{
   return &sorts[(unsigned) sort / 2 % (TK_SORT_N / 2)];
}

const char *
tk_query_sort_field (const tk_query_t *q)
{
   return def_of (q->sort)->field;
}

tk_query_sort_key_t
tk_query_sort_key (const tk_query_t *q)
{
   return def_of (q->sort)->key;
}

bool
tk_query_sort_desc (const tk_query_t *q)
{
   return q->sort % 2 == 0;
}

bool
tk_query_parse_sort (const char *value, tk_query_sort_t *out, tk_error_t *err)
{
   bool desc = value[0] == '-';
   for (size_t i = 0; i < TK_SORT_N / 2; i++) {
      if (!strcmp (value + desc, sorts[i].name)) {
         *out = (tk_query_sort_t) (2 * i + (desc ? 0 : 1));
         return true;
      }
   }
   return tk_query_invalid (err, "sort",
                            "must be created_at, processed_at, priority, sentiment, "
                            "confidence_topic, confidence_sentiment or confidence_priority, "
                            "each optionally preceded by - (descending)",
                            value);
}

/* ---- cursors -------------------------------------------------------------- */

static int
hexval (char c)
{
   if (c >= '0' && c <= '9') {
      return c - '0';
   }
   if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
   }
   return -1;
}

/* Decodes the hex of [p, end) into out (cap bytes, NUL-terminated); false
 * when it is not hex of bytes other than NUL or does not fit. */
static bool
unhex (const char *p, const char *end, char *out, size_t cap)
{
   size_t len = (size_t) (end - p);
   if (len % 2 || len / 2 >= cap) {
      return false;
   }
   for (size_t i = 0; i < len / 2; i++) {
      int hi = hexval (p[2 * i]), lo = hexval (p[2 * i + 1]);
      if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
         return false;
      }
      out[i] = (char) (hi * 16 + lo);
   }
   out[len / 2] = '\0';
   return true;
}

/* Appends the hex of s to buf at *n; false when it does not fit. */
static bool
put_hex (char *buf, size_t cap, size_t *n, const char *s)
{
   size_t len = strlen (s);
   if (*n + 2 * len + 1 > cap) {
      return false;
   }
   for (size_t i = 0; i < len; i++) {
      snprintf (buf + *n + 2 * i, 3, "%02x", (unsigned char) s[i]);
   }
   *n += 2 * len;
   buf[*n] = '\0';
   return true;
}

/* "<ms>.<hex id>" from p into q; false when malformed. */
static bool
parse_ms_id (tk_query_t *q, const char *p)
{
   const char *dot = strchr (p, '.');
   if (!dot || dot == p || dot - p > 19) {
      return false;
   }
   int64_t ms = 0;
   for (const char *c = p; c < dot; c++) {
      if (*c < '0' || *c > '9' || ms > (INT64_MAX - (*c - '0')) / 10) {
         return false; /* a digit, and no key past int64 */
      }
      ms = ms * 10 + (*c - '0');
   }
   const char *hex = dot + 1;
   if (!*hex || !unhex (hex, hex + strlen (hex), q->cursor_id, sizeof q->cursor_id)) {
      return false;
   }
   q->cursor_ms = ms;
   return true;
}

/* The key part of a label or number cursor (hex, up to the '.') into q;
 * false when malformed. */
static bool
parse_key (tk_query_t *q, tk_query_sort_key_t key, const char *p, const char **rest)
{
   const char *dot = strchr (p, '.');
   if (!dot) {
      return false;
   }
   *rest = dot + 1;
   if (!unhex (p, dot, q->cursor_key, sizeof q->cursor_key)) {
      return false;
   }
   if (key == TK_SORT_KEY_NUMBER) {
      char *end = NULL;
      strtod (q->cursor_key, &end);
      return q->cursor_key[0] && end && !*end;
   }
   return true;
}

bool
tk_query_parse_cursor (tk_query_t *q, const char *value, tk_query_sort_t *cursor_sort,
                       tk_error_t *err)
{
   int found = -1;
   for (int s = 0; value[0] && s < TK_SORT_N; s++) {
      if (value[0] == def_of ((tk_query_sort_t) s)->codes[s % 2]) {
         found = s;
      }
   }
   const char *rest = value + 1;
   bool ok = found >= 0 && strlen (value) <= TK_QUERY_CURSOR_MAX;
   if (ok && def_of ((tk_query_sort_t) found)->key != TK_SORT_KEY_DATE) {
      ok = parse_key (q, def_of ((tk_query_sort_t) found)->key, rest, &rest);
   }
   if (!ok || !parse_ms_id (q, rest)) {
      return tk_query_invalid (err, "cursor", "not a cursor from a previous page", value);
   }
   *cursor_sort = (tk_query_sort_t) found;
   q->has_cursor = true;
   return true;
}

/* The cursor of (key, ms, id) in q's sort; key NULL for a date sort. */
static bool
encode (const tk_query_t *q, const char *key, int64_t ms, const char *id, char *buf, size_t cap)
{
   size_t n = 0;
   if (cap < 24 || ms < 0) {
      return false;
   }
   buf[n++] = def_of (q->sort)->codes[q->sort % 2];
   buf[n] = '\0';
   if (def_of (q->sort)->key != TK_SORT_KEY_DATE) {
      if (!key || !put_hex (buf, cap, &n, key) || n + 2 > cap) {
         return false;
      }
      buf[n++] = '.';
   }
   int w = snprintf (buf + n, cap - n, "%lld.", (long long) ms);
   if (w < 0 || (size_t) w >= cap - n) {
      return false;
   }
   n += (size_t) w;
   return put_hex (buf, cap, &n, id);
}

bool
tk_query_cursor_encode (const tk_query_t *q, int64_t ms, const char *id, char *buf, size_t cap)
{
   return def_of (q->sort)->key == TK_SORT_KEY_DATE && encode (q, NULL, ms, id, buf, cap);
}

/* The sort value of doc as cursor text into key (cap bytes); false when
 * it is missing or of another type. */
static bool
key_of (const tk_query_t *q, const bson_t *doc, char *key, size_t cap)
{
   bson_iter_t it;
   if (!bson_iter_init (&it, doc) ||
       !bson_iter_find_descendant (&it, tk_query_sort_field (q), &it)) {
      return false;
   }
   if (def_of (q->sort)->key == TK_SORT_KEY_LABEL) {
      uint32_t len = 0;
      const char *s = BSON_ITER_HOLDS_UTF8 (&it) ? bson_iter_utf8 (&it, &len) : NULL;
      return s && len < cap && strlen (s) == len && snprintf (key, cap, "%s", s) >= 0;
   }
   if (!BSON_ITER_HOLDS_NUMBER (&it)) {
      return false;
   }
   snprintf (key, cap, "%.17g", bson_iter_as_double (&it));
   return true;
}

bool
tk_query_cursor_of (const tk_query_t *q, const bson_t *doc, char *buf, size_t cap)
{
   bson_iter_t it;
   const char *date = def_of (q->sort)->key == TK_SORT_KEY_DATE ? tk_query_sort_field (q)
                                                                : "created_at";
   if (!bson_iter_init_find (&it, doc, "id") || !BSON_ITER_HOLDS_UTF8 (&it)) {
      return false;
   }
   const char *id = bson_iter_utf8 (&it, NULL);
   if (!bson_iter_init (&it, doc) || !bson_iter_find_descendant (&it, date, &it) ||
       !BSON_ITER_HOLDS_DATE_TIME (&it)) {
      return false;
   }
   int64_t ms = bson_iter_date_time (&it);
   if (def_of (q->sort)->key == TK_SORT_KEY_DATE) {
      return encode (q, NULL, ms, id, buf, cap);
   }
   char key[TK_QUERY_CURSOR_KEY_MAX + 1];
   return key_of (q, doc, key, sizeof key) && encode (q, key, ms, id, buf, cap);
}

/* ---- the page's filter and sort --------------------------------------------- */

/* Appends the cursor's key value to doc as field: the label, or the
 * number. */
static void
append_key (bson_t *doc, const char *field, const tk_query_t *q)
{
   if (def_of (q->sort)->key == TK_SORT_KEY_NUMBER) {
      bson_append_double (doc, field, -1, strtod (q->cursor_key, NULL));
   } else {
      bson_append_utf8 (doc, field, -1, q->cursor_key, -1);
   }
}

/* Appends {field: {op: value-of-the-cursor}} or {field: {op: ms}} as
 * alternative number *i of or. */
static void
begin_alt (bson_t *or, uint32_t *i, bson_t *alt)
{
   char key[16];
   const char *k;
   bson_uint32_to_string ((*i)++, &k, key, sizeof key);
   bson_append_document_begin (or, k, -1, alt);
}

/* The alternatives "after the cursor" of a date sort: field op ms, or
 * field = ms and id op id. */
static void
append_date_after (bson_t *or, uint32_t *i, const char *field, const char *op,
                   const tk_query_t *q, const bson_t *key_eq)
{
   bson_t alt, cond;
   begin_alt (or, i, &alt);
   if (key_eq) {
      bson_concat (&alt, key_eq);
   }
   bson_append_document_begin (&alt, field, -1, &cond);
   bson_append_date_time (&cond, op, -1, q->cursor_ms);
   bson_append_document_end (&alt, &cond);
   bson_append_document_end (or, &alt);
   begin_alt (or, i, &alt);
   if (key_eq) {
      bson_concat (&alt, key_eq);
   }
   bson_append_date_time (&alt, field, -1, q->cursor_ms);
   bson_append_document_begin (&alt, "id", -1, &cond);
   bson_append_utf8 (&cond, op, -1, q->cursor_id, -1);
   bson_append_document_end (&alt, &cond);
   bson_append_document_end (or, &alt);
}

/* The alternatives "after the cursor" of a label or number sort on field:
 * a key past the cursor's, or the same key and (created_at, id) past the
 * cursor's. */
static void
append_key_after (bson_t *or, uint32_t *i, const char *field, const tk_query_t *q)
{
   const char *op = tk_query_sort_desc (q) ? "$lt" : "$gt";
   bson_t alt, cond;
   begin_alt (or, i, &alt);
   bson_append_document_begin (&alt, field, -1, &cond);
   append_key (&cond, op, q);
   bson_append_document_end (&alt, &cond);
   bson_append_document_end (or, &alt);
   bson_t eq = BSON_INITIALIZER;
   append_key (&eq, field, q);
   append_date_after (or, i, "created_at", op, q, &eq);
   bson_destroy (&eq);
}

/* Appends to and, as element *idx, that the sort's field is there: a date
 * (processed_at: unprocessed tickets have none), a string (a label) or a
 * number (a confidence). */
static void
append_has_field (bson_t *and, uint32_t *idx, const tk_query_t *q)
{
   static const char *const type_of[] = {"date", "string", "number"};
   bson_t clause, cond;
   begin_alt (and, idx, &clause);
   bson_append_document_begin (&clause, tk_query_sort_field (q), -1, &cond);
   bson_append_utf8 (&cond, "$type", -1, type_of[tk_query_sort_key (q)], -1);
   bson_append_document_end (&clause, &cond);
   bson_append_document_end (and, &clause);
}

void
tk_query_page_filter (const tk_query_t *q, bson_t *out)
{
   /* Every ticket has a created_at; the other fields may be missing. */
   bool only_with_field = q->sort != TK_SORT_CREATED_ASC && q->sort != TK_SORT_CREATED_DESC;
   const char *field = tk_query_sort_field (q);
   if (!q->has_cursor && !only_with_field) {
      bson_copy_to (&q->filter, out);
      return;
   }
   bson_init (out);
   bson_t and, clause, or;
   bson_append_array_begin (out, "$and", -1, &and);
   uint32_t idx = 0;
   if (!bson_empty (&q->filter)) {
      begin_alt (&and, &idx, &clause);
      bson_concat (&clause, &q->filter);
      bson_append_document_end (&and, &clause);
   }
   if (only_with_field) {
      append_has_field (&and, &idx, q);
   }
   if (q->has_cursor) {
      uint32_t n = 0;
      begin_alt (&and, &idx, &clause);
      bson_append_array_begin (&clause, "$or", -1, &or);
      if (tk_query_sort_key (q) == TK_SORT_KEY_DATE) {
         append_date_after (&or, &n, field, tk_query_sort_desc (q) ? "$lt" : "$gt", q, NULL);
      } else {
         append_key_after (&or, &n, field, q);
      }
      bson_append_array_end (&clause, &or);
      bson_append_document_end (&and, &clause);
   }
   bson_append_array_end (out, &and);
}

void
tk_query_sort_doc (const tk_query_t *q, bson_t *out)
{
   int dir = tk_query_sort_desc (q) ? -1 : 1;
   bson_init (out);
   bson_append_int32 (out, tk_query_sort_field (q), -1, dir);
   if (tk_query_sort_key (q) != TK_SORT_KEY_DATE) {
      bson_append_int32 (out, "created_at", -1, dir);
   }
   bson_append_int32 (out, "id", -1, dir);
}
