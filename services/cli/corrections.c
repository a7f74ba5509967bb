/* corrections.c - the classifications people corrected by hand (the api's
 * PUT /api/processed-tickets/{id}), read back from the tickets collection as
 * labelled examples for `triagectl train --with-corrections`.
 *
 * A corrected ticket carries processing_metadata.corrected_at and a
 * `corrections` array, one entry {by, at, previous?, classification, note?}
 * per PUT, oldest first. The label taken is the classification of the last
 * entry: what a person said last, even if the ticket was reprocessed by a
 * model since. A ticket with corrected_at but no readable entry (written by
 * hand, or by an older api) falls back to its current classification.
 * Tickets are read in id order, so the same corrections give the same
 * training data, and so the same model_version, on every run. */
#include "cli.h"

#include "store.h"
#include "store_query.h"
#include "taxonomy.h"

#include <mongoc/mongoc.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   char *id, *subject, *body;
   tk_classification_t labels;
} correction_t;

struct cli_corrections {
   correction_t *items;
   tk_model_example_t *examples;
   size_t n, cap;
};

void
cli_corrections_destroy (cli_corrections_t *c)
{
   if (!c) {
      return;
   }
   for (size_t i = 0; i < c->n; i++) {
      free (c->items[i].id);
      free (c->items[i].subject);
      free (c->items[i].body);
      tk_classification_clear (&c->items[i].labels);
   }
   free (c->items);
   free (c->examples);
   free (c);
}

const tk_model_example_t *
cli_corrections_examples (const cli_corrections_t *c, size_t *n)
{
   *n = c->n;
   return c->examples;
}

static char *
utf8_field (const bson_t *doc, const char *key)
{
   bson_iter_t it;
   if (bson_iter_init_find (&it, doc, key) && BSON_ITER_HOLDS_UTF8 (&it)) {
      return strdup (bson_iter_utf8 (&it, NULL));
   }
   return NULL;
}

/* Reads {topic_tags: [..], sentiment, priority} at *it into out (cleared
 * first). Returns false, with out cleared, if any part is missing or of the
 * wrong type. */
static bool
read_classification (bson_iter_t *it, tk_classification_t *out)
{
   bson_iter_t c, tags;
   tk_classification_clear (out);
   if (!BSON_ITER_HOLDS_DOCUMENT (it) || !bson_iter_recurse (it, &c)) {
      return false;
   }
   while (bson_iter_next (&c)) {
      const char *key = bson_iter_key (&c);
      if (!strcmp (key, "topic_tags") && BSON_ITER_HOLDS_ARRAY (&c) &&
          bson_iter_recurse (&c, &tags)) {
         while (bson_iter_next (&tags)) {
            if (!BSON_ITER_HOLDS_UTF8 (&tags) || out->n_topic_tags == TK_TICKET_MAX_TAGS) {
               goto fail;
            }
            if (!(out->topic_tags[out->n_topic_tags] = strdup (bson_iter_utf8 (&tags, NULL)))) {
               goto fail;
            }
            out->n_topic_tags++;
         }
      } else if (!strcmp (key, "sentiment") && BSON_ITER_HOLDS_UTF8 (&c) && !out->sentiment) {
         out->sentiment = strdup (bson_iter_utf8 (&c, NULL));
      } else if (!strcmp (key, "priority") && BSON_ITER_HOLDS_UTF8 (&c) && !out->priority) {
         out->priority = strdup (bson_iter_utf8 (&c, NULL));
      }
   }
   if (out->n_topic_tags && out->sentiment && out->priority) {
      return true;
   }
fail:
   tk_classification_clear (out);
   return false;
}

/* The labels a person gave doc last (see the top of the file). */
static bool
corrected_labels (const bson_t *doc, tk_classification_t *out)
{
   bson_iter_t it, arr, last;
   bool have_last = false;
   if (bson_iter_init_find (&it, doc, "corrections") && BSON_ITER_HOLDS_ARRAY (&it) &&
       bson_iter_recurse (&it, &arr)) {
      while (bson_iter_next (&arr)) {
         last = arr;
         have_last = true;
      }
   }
   bson_iter_t entry;
   if (have_last && BSON_ITER_HOLDS_DOCUMENT (&last) && bson_iter_recurse (&last, &entry) &&
       bson_iter_find (&entry, "classification") && read_classification (&entry, out)) {
      return true;
   }
   return bson_iter_init_find (&it, doc, "classification") && read_classification (&it, out);
}

static int
example_cmp (const void *a, const void *b)
{
   return strcmp (((const tk_model_example_t *) a)->id, ((const tk_model_example_t *) b)->id);
}

static bool
add (cli_corrections_t *c, const bson_t *doc, const tk_taxonomy_t *tax, tk_error_t *err)
{
   if (c->n == c->cap) {
      size_t cap = c->cap ? 2 * c->cap : 64;
      correction_t *items = realloc (c->items, cap * sizeof *items);
      if (!items) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         return false;
      }
      c->items = items;
      c->cap = cap;
   }
   correction_t *x = &c->items[c->n];
   memset (x, 0, sizeof *x);
   c->n++; /* counted now so that destroy frees a half-read item */
   x->id = utf8_field (doc, "id");
   x->subject = utf8_field (doc, "subject");
   x->body = utf8_field (doc, "body");
   if (!x->id) {
      tk_error_set (err, TK_ERR_INVALID, 0, "a corrected ticket has no string id");
      return false;
   }
   if (!x->subject && !x->body) {
      tk_error_set (err, TK_ERR_INVALID, 0, "corrected ticket %s has neither subject nor body",
                    x->id);
      return false;
   }
   if (!corrected_labels (doc, &x->labels)) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "corrected ticket %s: neither its last correction nor its classification "
                    "has topic_tags, sentiment and priority",
                    x->id);
      return false;
   }
   tk_error_t verr;
   if (!tk_taxonomy_validate_classification (tax, &x->labels, &verr)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "corrected ticket %s: %s", x->id, verr.message);
      return false;
   }
   return true;
}

/* c's corrections as training examples, sorted by id. The server sorted
 * already; sorting again by bytes makes the order (and so the
 * model_version) independent of the server's collation, and lets the
 * caller bsearch by id. false when memory runs out. */
static bool
make_examples (cli_corrections_t *c)
{
   if (c->n && !(c->examples = calloc (c->n, sizeof *c->examples))) {
      return false;
   }
   for (size_t i = 0; i < c->n; i++) {
      const correction_t *x = &c->items[i];
      c->examples[i] = (tk_model_example_t) {
         .id = x->id,
         .subject = x->subject,
         .body = x->body,
         .topic_tags = (const char *const *) x->labels.topic_tags,
         .n_topic_tags = x->labels.n_topic_tags,
         .sentiment = x->labels.sentiment,
         .priority = x->labels.priority,
      };
   }
   if (c->n) {
      qsort (c->examples, c->n, sizeof *c->examples, example_cmp);
   }
   return true;
}

cli_corrections_t *
cli_corrections_load (const char *uri, const char *db, const tk_taxonomy_t *tax, tk_error_t *err)
{
   cli_corrections_t *c = calloc (1, sizeof *c), *ret = NULL;
   tk_store_t *store = NULL;
   mongoc_client_t *client = NULL;
   mongoc_cursor_t *cur = NULL;
   bson_t *filter = NULL, *sort = NULL, *projection = NULL;
   const bson_t *doc;
   bson_error_t e;

   if (!c) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   if (!(store = tk_store_new (uri, db && *db ? db : NULL, 1, err)) ||
       !tk_store_ping (store, err)) {
      goto done;
   }
   client = tk_store_client_pop (store);
   filter = BCON_NEW ("processing_metadata.corrected_at", "{", "$exists", BCON_BOOL (true), "}");
   sort = BCON_NEW ("id", BCON_INT32 (1));
   projection = BCON_NEW ("id", BCON_INT32 (1), "subject", BCON_INT32 (1), "body", BCON_INT32 (1),
                          "classification", BCON_INT32 (1), "corrections", BCON_INT32 (1));
   cur = tk_store_tickets_find (client, tk_store_db_name (store),
                                &(tk_ticket_query_t) {
                                   .filter = filter, .sort = sort, .projection = projection});
   while (mongoc_cursor_next (cur, &doc)) {
      if (!add (c, doc, tax, err)) {
         goto done;
      }
   }
   if (mongoc_cursor_error (cur, &e)) {
      tk_error_set (err, TK_ERR_MONGO, e.code, "reading corrected tickets from %s: %s",
                    tk_store_db_name (store), e.message);
      goto done;
   }
   if (!make_examples (c)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      goto done;
   }
   ret = c;
   c = NULL;
done:
   mongoc_cursor_destroy (cur);
   bson_destroy (projection);
   bson_destroy (sort);
   bson_destroy (filter);
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   cli_corrections_destroy (c);
   return ret;
}
