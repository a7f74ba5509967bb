/* ticket_bson.c - tk_ticket_t to and from the `tickets` document schema. */
#include "ticket_bson.h"

#include <stdlib.h>
#include <string.h>

static bool
append_utf8 (bson_t *doc, const char *key, const char *value)
{
   return BSON_APPEND_UTF8 (doc, key, value);
}

bool
tk_classification_append_bson (bson_t *parent, const char *key, const tk_classification_t *c)
{
   bson_t child, tags;
   bool ok = BSON_APPEND_DOCUMENT_BEGIN (parent, key, &child);
   if (!ok) {
      return false;
   }
   ok = BSON_APPEND_ARRAY_BEGIN (&child, "topic_tags", &tags);
   for (size_t i = 0; ok && i < c->n_topic_tags; i++) {
      const char *idx;
      char buf[16];
      bson_uint32_to_string ((uint32_t) i, &idx, buf, sizeof buf);
      ok = bson_append_utf8 (&tags, idx, -1, c->topic_tags[i], -1);
   }
   ok = bson_append_array_end (&child, &tags) && ok;
   if (ok && c->sentiment) {
      ok = append_utf8 (&child, "sentiment", c->sentiment);
   }
   if (ok && c->priority) {
      ok = append_utf8 (&child, "priority", c->priority);
   }
   return bson_append_document_end (parent, &child) && ok;
}

bool
tk_confidence_append_bson (bson_t *parent, const char *key, const tk_confidence_t *c)
{
   bson_t child;
   if (!BSON_APPEND_DOCUMENT_BEGIN (parent, key, &child)) {
      return false;
   }
   bool ok = BSON_APPEND_DOUBLE (&child, "topic", c->topic) &&
             BSON_APPEND_DOUBLE (&child, "sentiment", c->sentiment) &&
             BSON_APPEND_DOUBLE (&child, "priority", c->priority);
   return bson_append_document_end (parent, &child) && ok;
}

bool
tk_processing_metadata_append_bson (bson_t *parent, const char *key,
                                    const tk_processing_metadata_t *m)
{
   bson_t child;
   if (!BSON_APPEND_DOCUMENT_BEGIN (parent, key, &child)) {
      return false;
   }
   bool ok = BSON_APPEND_DATE_TIME (&child, "processed_at", m->processed_at);
   if (ok && m->model_version) {
      ok = append_utf8 (&child, "model_version", m->model_version);
   }
   ok = ok && BSON_APPEND_INT64 (&child, "processing_time_ms", m->processing_time_ms);
   if (ok && m->agent_version) {
      ok = append_utf8 (&child, "agent_version", m->agent_version);
   }
   return bson_append_document_end (parent, &child) && ok;
}

bool
tk_ticket_to_bson (const tk_ticket_t *t, bson_t *out)
{
   /* The ticket id is also the document's _id: lookups by id use the _id
    * index on MongoDB, and FerretDB filters them in SQL instead of decoding
    * every document (docs/decisions/0005, 0007). */
   bool ok = append_utf8 (out, "_id", t->id) && append_utf8 (out, "id", t->id) &&
             append_utf8 (out, "subject", t->subject) &&
             append_utf8 (out, "body", t->body) &&
             BSON_APPEND_BOOL (out, "processed", t->processed);
   if (ok && t->source) {
      ok = append_utf8 (out, "source", t->source);
   }
   if (ok && t->created_at) {
      ok = BSON_APPEND_DATE_TIME (out, "created_at", t->created_at);
   }
   if (ok && t->updated_at) {
      ok = BSON_APPEND_DATE_TIME (out, "updated_at", t->updated_at);
   }
   if (ok && t->processed) {
      ok = tk_classification_append_bson (out, "classification", &t->classification) &&
           tk_confidence_append_bson (out, "confidence_scores", &t->confidence) &&
           tk_processing_metadata_append_bson (out, "processing_metadata", &t->metadata) &&
           BSON_APPEND_BOOL (out, "needs_review", t->metadata.needs_review);
   }
   if (ok && t->processing_attempts) {
      ok = BSON_APPEND_INT32 (out, "processing_attempts", t->processing_attempts);
   }
   if (ok && t->last_error) {
      ok = append_utf8 (out, "last_error", t->last_error);
   }
   return ok;
}

/* ------------------------------------------------------------------------ */
/* Reading. Each helper fails with TK_ERR_INVALID naming the dotted field.  */

static bool
bad_type (tk_error_t *err, const char *field, const char *want)
{
   tk_error_set_field (err, TK_ERR_INVALID, 0, field, "ticket document: %s must be %s",
                       field, want);
   return false;
}

static bool
read_string (const bson_iter_t *it, const char *field, char **dst, tk_error_t *err)
{
   if (!BSON_ITER_HOLDS_UTF8 (it)) {
      return bad_type (err, field, "a string");
   }
   uint32_t len = 0;
   const char *s = bson_iter_utf8 (it, &len);
   free (*dst); /* a repeated key keeps the last value */
   *dst = strndup (s, len);
   if (!*dst) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   return true;
}

static bool
read_date (const bson_iter_t *it, const char *field, int64_t *dst, tk_error_t *err)
{
   if (!BSON_ITER_HOLDS_DATE_TIME (it)) {
      return bad_type (err, field, "a date");
   }
   *dst = bson_iter_date_time (it);
   return true;
}

static bool
read_number (const bson_iter_t *it, const char *field, double *dst, tk_error_t *err)
{
   if (!BSON_ITER_HOLDS_NUMBER (it)) {
      return bad_type (err, field, "a number");
   }
   *dst = bson_iter_as_double (it);
   return true;
}

static bool
read_int64 (const bson_iter_t *it, const char *field, int64_t *dst, tk_error_t *err)
{
   if (!BSON_ITER_HOLDS_NUMBER (it)) {
      return bad_type (err, field, "a number");
   }
   *dst = bson_iter_as_int64 (it);
   return true;
}

static bool
read_classification (const bson_iter_t *parent, tk_classification_t *c, tk_error_t *err)
{
   bson_iter_t it, tags;
   if (!BSON_ITER_HOLDS_DOCUMENT (parent) || !bson_iter_recurse (parent, &it)) {
      return bad_type (err, "classification", "a document");
   }
   while (bson_iter_next (&it)) {
      const char *key = bson_iter_key (&it);
      if (!strcmp (key, "topic_tags")) {
         if (!BSON_ITER_HOLDS_ARRAY (&it) || !bson_iter_recurse (&it, &tags)) {
            return bad_type (err, "classification.topic_tags", "an array");
         }
         for (size_t i = 0; i < c->n_topic_tags; i++) { /* a repeated key */
            free (c->topic_tags[i]);
            c->topic_tags[i] = NULL;
         }
         c->n_topic_tags = 0;
         while (bson_iter_next (&tags)) {
            if (c->n_topic_tags == TK_TICKET_MAX_TAGS) {
               tk_error_set_field (err, TK_ERR_INVALID, 0, "classification.topic_tags",
                                   "ticket document: more than %d topic tags",
                                   TK_TICKET_MAX_TAGS);
               return false;
            }
            char *tag = NULL;
            if (!read_string (&tags, "classification.topic_tags", &tag, err)) {
               return false;
            }
            c->topic_tags[c->n_topic_tags++] = tag;
         }
      } else if (!strcmp (key, "sentiment")) {
         if (!read_string (&it, "classification.sentiment", &c->sentiment, err)) {
            return false;
         }
      } else if (!strcmp (key, "priority")) {
         if (!read_string (&it, "classification.priority", &c->priority, err)) {
            return false;
         }
      }
   }
   return true;
}

static bool
read_confidence (const bson_iter_t *parent, tk_confidence_t *c, tk_error_t *err)
{
   bson_iter_t it;
   if (!BSON_ITER_HOLDS_DOCUMENT (parent) || !bson_iter_recurse (parent, &it)) {
      return bad_type (err, "confidence_scores", "a document");
   }
   while (bson_iter_next (&it)) {
      const char *key = bson_iter_key (&it);
      bool ok = true;
      if (!strcmp (key, "topic")) {
         ok = read_number (&it, "confidence_scores.topic", &c->topic, err);
      } else if (!strcmp (key, "sentiment")) {
         ok = read_number (&it, "confidence_scores.sentiment", &c->sentiment, err);
      } else if (!strcmp (key, "priority")) {
         ok = read_number (&it, "confidence_scores.priority", &c->priority, err);
      }
      if (!ok) {
         return false;
      }
   }
   return true;
}

static bool
read_metadata (const bson_iter_t *parent, tk_processing_metadata_t *m, tk_error_t *err)
{
   bson_iter_t it;
   if (!BSON_ITER_HOLDS_DOCUMENT (parent) || !bson_iter_recurse (parent, &it)) {
      return bad_type (err, "processing_metadata", "a document");
   }
   while (bson_iter_next (&it)) {
      const char *key = bson_iter_key (&it);
      bool ok = true;
      if (!strcmp (key, "processed_at")) {
         ok = read_date (&it, "processing_metadata.processed_at", &m->processed_at, err);
      } else if (!strcmp (key, "model_version")) {
         ok = read_string (&it, "processing_metadata.model_version", &m->model_version, err);
      } else if (!strcmp (key, "processing_time_ms")) {
         ok = read_int64 (&it, "processing_metadata.processing_time_ms",
                          &m->processing_time_ms, err);
      } else if (!strcmp (key, "agent_version")) {
         ok = read_string (&it, "processing_metadata.agent_version", &m->agent_version, err);
      } else if (!strcmp (key, "corrected_at")) {
         /* Present at all, it marks a correction (the api writes a date;
          * another writer may not), as the store's $exists condition
          * (tk_store_update_ticket_unless_corrected) sees it. */
         m->corrected_at = BSON_ITER_HOLDS_DATE_TIME (&it) ? bson_iter_date_time (&it) : 1;
      }
      if (!ok) {
         return false;
      }
   }
   return true;
}

static bool
read_field (const bson_iter_t *it, tk_ticket_t *t, tk_error_t *err)
{
   const char *key = bson_iter_key (it);
   if (!strcmp (key, "id")) {
      return read_string (it, "id", &t->id, err);
   } else if (!strcmp (key, "subject")) {
      return read_string (it, "subject", &t->subject, err);
   } else if (!strcmp (key, "body")) {
      return read_string (it, "body", &t->body, err);
   } else if (!strcmp (key, "source")) {
      return read_string (it, "source", &t->source, err);
   } else if (!strcmp (key, "last_error")) {
      return read_string (it, "last_error", &t->last_error, err);
   } else if (!strcmp (key, "created_at")) {
      return read_date (it, "created_at", &t->created_at, err);
   } else if (!strcmp (key, "updated_at")) {
      return read_date (it, "updated_at", &t->updated_at, err);
   } else if (!strcmp (key, "processed")) {
      if (!BSON_ITER_HOLDS_BOOL (it)) {
         return bad_type (err, "processed", "a boolean");
      }
      t->processed = bson_iter_bool (it);
   } else if (!strcmp (key, "processing_attempts")) {
      int64_t n = 0;
      if (!read_int64 (it, "processing_attempts", &n, err)) {
         return false;
      }
      if (n < 0 || n > INT32_MAX) {
         return bad_type (err, "processing_attempts", "a non-negative 32-bit count");
      }
      t->processing_attempts = (int32_t) n;
   } else if (!strcmp (key, "classification")) {
      return read_classification (it, &t->classification, err);
   } else if (!strcmp (key, "confidence_scores")) {
      return read_confidence (it, &t->confidence, err);
   } else if (!strcmp (key, "processing_metadata")) {
      return read_metadata (it, &t->metadata, err);
   } else if (!strcmp (key, "needs_review")) {
      if (!BSON_ITER_HOLDS_BOOL (it)) {
         return bad_type (err, "needs_review", "a boolean");
      }
      t->metadata.needs_review = bson_iter_bool (it);
   }
   return true; /* _id and anything unknown */
}

bool
tk_ticket_from_bson (const bson_t *doc, tk_ticket_t **out, tk_error_t *err)
{
   bool ok = false;
   tk_ticket_t *t = tk_ticket_new ();
   bson_iter_t it;

   *out = NULL;
   if (!bson_iter_init (&it, doc)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "ticket document: corrupt BSON");
      goto done;
   }
   while (bson_iter_next (&it)) {
      if (!read_field (&it, t, err)) {
         goto done;
      }
   }
   if (!t->id) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "id", "ticket document: missing id");
      goto done;
   }
   if (!t->subject || !t->body) {
      const char *field = t->subject ? "body" : "subject";
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "ticket document %s: missing %s", t->id, field);
      goto done;
   }
   *out = t;
   t = NULL;
   ok = true;
done:
   tk_ticket_destroy (t);
   return ok;
}
