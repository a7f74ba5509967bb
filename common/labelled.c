/* labelled.c - reading labelled ticket files (see labelled.h). */
#include "labelled.h"

#include <cjson/cJSON.h>
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The strings one example owns. */
typedef struct {
   char *id, *subject, *body, *sentiment, *priority;
   char *tags[TK_TICKET_MAX_TAGS];
   size_t n_tags;
} record_t;

struct tk_labelled_set {
   record_t *records;
   tk_model_example_t *examples;
   size_t n, cap;
};

static void
record_clear (record_t *r)
{
   free (r->id);
   free (r->subject);
   free (r->body);
   free (r->sentiment);
   free (r->priority);
   for (size_t i = 0; i < r->n_tags; i++) {
      free (r->tags[i]);
   }
   memset (r, 0, sizeof *r);
}

void
tk_labelled_destroy (tk_labelled_set_t *set)
{
   if (!set) {
      return;
   }
   for (size_t i = 0; i < set->n; i++) {
      record_clear (&set->records[i]);
   }
   free (set->records);
   free (set->examples);
   free (set);
}

const tk_model_example_t *
tk_labelled_examples (const tk_labelled_set_t *set, size_t *n)
{
   *n = set->n;
   return set->examples;
}

/* Adds a tag (copied) to r, ignoring blanks and duplicates. */
static bool
record_add_tag (record_t *r, const char *tag, size_t len)
{
   while (len && (*tag == ' ' || *tag == '\t')) {
      tag++;
      len--;
   }
   while (len && (tag[len - 1] == ' ' || tag[len - 1] == '\t')) {
      len--;
   }
   if (len == 0) {
      return true;
   }
   for (size_t i = 0; i < r->n_tags; i++) {
      if (strlen (r->tags[i]) == len && memcmp (r->tags[i], tag, len) == 0) {
         return true;
      }
   }
   if (r->n_tags == TK_TICKET_MAX_TAGS) {
      return false;
   }
   return (r->tags[r->n_tags++] = strndup (tag, len)) != NULL;
}

/* Checks a filled record and appends it to the set (taking its strings). */
static bool
set_push (tk_labelled_set_t *set, record_t *r, const char *where, tk_error_t *err)
{
   const char *missing = !r->id                    ? "id"
                         : !r->subject && !r->body ? "subject"
                         : !r->sentiment           ? "sentiment"
                         : !r->priority            ? "priority"
                         : r->n_tags == 0          ? "topic_tags"
                                                   : NULL;
   if (missing) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, missing, "%s: missing or empty %s", where,
                          missing);
      return false;
   }
   if (set->n == set->cap) {
      size_t cap = set->cap ? set->cap * 2 : 256;
      record_t *grown = realloc (set->records, cap * sizeof *grown);
      if (!grown) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         return false;
      }
      set->records = grown;
      set->cap = cap;
   }
   set->records[set->n++] = *r;
   memset (r, 0, sizeof *r);
   return true;
}

/* Points the example array at the records (once they stop moving). */
static bool
set_finish (tk_labelled_set_t *set, tk_error_t *err)
{
   if (set->n == 0) {
      tk_error_set (err, TK_ERR_INVALID, 0, "no labelled records");
      return false;
   }
   if (!(set->examples = calloc (set->n, sizeof *set->examples))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   for (size_t i = 0; i < set->n; i++) {
      record_t *r = &set->records[i];
      set->examples[i] = (tk_model_example_t){
         .id = r->id,
         .subject = r->subject ? r->subject : "",
         .body = r->body ? r->body : "",
         .topic_tags = (const char *const *) r->tags,
         .n_topic_tags = r->n_tags,
         .sentiment = r->sentiment,
         .priority = r->priority,
      };
   }
   return true;
}

/* ------------------------------------------------------------------------ */
/* JSON. */

static char *
json_string (const cJSON *obj, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   if (!cJSON_IsString (v) || !v->valuestring[0]) {
      return NULL;
   }
   return strdup (v->valuestring);
}

static bool
push_json (tk_labelled_set_t *set, const cJSON *obj, const char *where, tk_error_t *err)
{
   record_t r = {0};
   bool ok = false;
   if (!cJSON_IsObject (obj)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "%s: not a JSON object", where);
      goto done;
   }
   r.id = json_string (obj, "id");
   r.subject = json_string (obj, "subject");
   r.body = json_string (obj, "body");
   r.sentiment = json_string (obj, "sentiment");
   r.priority = json_string (obj, "priority");
   const cJSON *tags = cJSON_GetObjectItemCaseSensitive (obj, "topic_tags");
   const cJSON *tag;
   cJSON_ArrayForEach (tag, tags)
   {
      if (!cJSON_IsString (tag) || !record_add_tag (&r, tag->valuestring, strlen (tag->valuestring))) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "topic_tags", "%s: bad topic_tags", where);
         goto done;
      }
   }
   ok = set_push (set, &r, where, err);
done:
   record_clear (&r);
   return ok;
}

static bool
load_json_array (tk_labelled_set_t *set, const char *text, const char *path, tk_error_t *err)
{
   cJSON *arr = cJSON_Parse (text);
   bool ok = false;
   if (!cJSON_IsArray (arr)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "%s: not a valid JSON array", path);
      goto done;
   }
   size_t i = 0;
   const cJSON *item;
   cJSON_ArrayForEach (item, arr)
   {
      char where[300];
      snprintf (where, sizeof where, "%s: element %zu", path, i++);
      if (!push_json (set, item, where, err)) {
         goto done;
      }
   }
   ok = true;
done:
   cJSON_Delete (arr);
   return ok;
}

static bool
load_ndjson (tk_labelled_set_t *set, char *text, const char *path, tk_error_t *err)
{
   size_t line_no = 0;
   char *line = text;
   while (line && *line) {
      char *nl = strchr (line, '\n');
      if (nl) {
         *nl = '\0';
      }
      line_no++;
      if (strspn (line, " \t\r") != strlen (line)) {
         char where[300];
         snprintf (where, sizeof where, "%s:%zu", path, line_no);
         cJSON *obj = cJSON_Parse (line);
         if (!obj) {
            tk_error_set (err, TK_ERR_INVALID, 0, "%s: not valid JSON", where);
            return false;
         }
         bool ok = push_json (set, obj, where, err);
         cJSON_Delete (obj);
         if (!ok) {
            return false;
         }
      }
      line = nl ? nl + 1 : NULL;
   }
   return true;
}

/* ------------------------------------------------------------------------ */
/* CSV. */

enum { COL_ID, COL_SUBJECT, COL_BODY, COL_TAGS, COL_SENTIMENT, COL_PRIORITY, NCOLS };
static const char *const col_names[NCOLS] = {"id",        "subject",   "body",
                                             "topic_tags", "sentiment", "priority"};

typedef struct {
   tk_labelled_set_t *set;
   const char *path;
   tk_error_t *err;
   int col_of[64]; /* csv column -> COL_*, or -1 */
   size_t field;   /* column within the current row */
   size_t row;     /* 0 = header */
   record_t rec;
   bool failed;
} csv_ctx_t;

static void
csv_field (void *data, size_t len, void *ctx_)
{
   csv_ctx_t *c = ctx_;
   size_t col = c->field++;
   if (c->failed || col >= 64) {
      return;
   }
   if (c->row == 0) {
      c->col_of[col] = -1;
      for (int k = 0; k < NCOLS; k++) {
         if (len == strlen (col_names[k]) && memcmp (data, col_names[k], len) == 0) {
            c->col_of[col] = k;
         }
      }
      return;
   }
   if (c->col_of[col] < 0 || len == 0) {
      return;
   }
   char *s = NULL;
   switch (c->col_of[col]) {
   case COL_TAGS: {
      const char *p = data, *end = p + len;
      while (p < end) {
         const char *semi = memchr (p, ';', (size_t) (end - p));
         const char *stop = semi ? semi : end;
         if (!record_add_tag (&c->rec, p, (size_t) (stop - p))) {
            c->failed = true;
            tk_error_set_field (c->err, TK_ERR_INVALID, 0, "topic_tags",
                                "%s: row %zu: bad topic_tags", c->path, c->row);
         }
         p = stop + 1;
      }
      return;
   }
   default:
      s = strndup (data, len);
      break;
   }
   char **slot[NCOLS] = {&c->rec.id, &c->rec.subject, &c->rec.body, NULL, &c->rec.sentiment,
                         &c->rec.priority};
   free (*slot[c->col_of[col]]);
   *slot[c->col_of[col]] = s;
}

static void
csv_row (int term, void *ctx_)
{
   csv_ctx_t *c = ctx_;
   size_t fields = c->field;
   c->field = 0;
   if (c->failed) {
      return;
   }
   if (c->row++ == 0) {
      for (int k = 0; k < NCOLS; k++) {
         bool found = false;
         for (size_t col = 0; col < fields && col < 64; col++) {
            found = found || c->col_of[col] == k;
         }
         if (!found) {
            c->failed = true;
            tk_error_set_field (c->err, TK_ERR_INVALID, 0, col_names[k],
                                "%s: the header has no %s column", c->path, col_names[k]);
            return;
         }
      }
      return;
   }
   char where[300];
   snprintf (where, sizeof where, "%s: row %zu", c->path, c->row - 1);
   if (!set_push (c->set, &c->rec, where, c->err)) {
      c->failed = true;
   }
   record_clear (&c->rec);
}

static bool
load_csv (tk_labelled_set_t *set, const char *text, size_t len, const char *path,
          tk_error_t *err)
{
   struct csv_parser p;
   csv_ctx_t c = {.set = set, .path = path, .err = err};
   if (csv_init (&p, CSV_APPEND_NULL) != 0) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot start the CSV parser");
      return false;
   }
   bool ok = csv_parse (&p, text, len, csv_field, csv_row, &c) == len &&
             csv_fini (&p, csv_field, csv_row, &c) == 0;
   if (!ok && !c.failed) {
      tk_error_set (err, TK_ERR_INVALID, 0, "%s: malformed CSV: %s", path,
                    csv_strerror (csv_error (&p)));
   }
   csv_free (&p);
   record_clear (&c.rec);
   return ok && !c.failed;
}

/* ------------------------------------------------------------------------ */

tk_labelled_set_t *
tk_labelled_load (const char *path, tk_error_t *err)
{
   tk_labelled_set_t *set = NULL;
   char *text = NULL;
   bool ok = false;
   FILE *f = fopen (path, "rb");
   if (!f) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot open %s: %s", path,
                          strerror (errno));
      goto done;
   }
   size_t len = 0, cap = 0;
   for (;;) {
      if (len + 1 >= cap) {
         cap = cap ? cap * 2 : 1 << 20;
         char *grown = realloc (text, cap);
         if (!grown) {
            tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading %s", path);
            goto done;
         }
         text = grown;
      }
      size_t got = fread (text + len, 1, cap - len - 1, f);
      len += got;
      if (got == 0) {
         break;
      }
   }
   if (ferror (f)) {
      tk_error_set_field (err, TK_ERR_IO, EIO, "path", "cannot read %s", path);
      goto done;
   }
   text[len] = '\0';
   if (!(set = calloc (1, sizeof *set))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   size_t plen = strlen (path);
   const char *first = text + strspn (text, " \t\r\n");
   if (plen >= 4 && strcasecmp (path + plen - 4, ".csv") == 0) {
      ok = load_csv (set, text, len, path, err);
   } else if (*first == '[') {
      ok = load_json_array (set, text, path, err);
   } else {
      ok = load_ndjson (set, text, path, err);
   }
   ok = ok && set_finish (set, err);
done:
   if (f) {
      fclose (f);
   }
   free (text);
   if (!ok) {
      tk_labelled_destroy (set);
      set = NULL;
   }
   return set;
}
