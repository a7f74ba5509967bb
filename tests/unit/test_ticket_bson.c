/* Unit tests for common/ticket_bson.c: the tickets document schema. */
#include "test_support.h"

#include "ticket_bson.h"

#include <stdlib.h>
#include <string.h>

static tk_ticket_t *
processed_ticket (void)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup ("TICKET-246");
   t->subject = strdup ("Lineage missing");
   t->body = strdup ("Why is lineage \xc3\xa9mpty for my Snowflake tables?");
   t->source = strdup ("upload");
   t->created_at = INT64_C (1757745527513);
   t->updated_at = INT64_C (1757745528000);
   t->processed = true;
   t->classification.topic_tags[0] = strdup ("Connector");
   t->classification.topic_tags[1] = strdup ("Lineage");
   t->classification.n_topic_tags = 2;
   t->classification.sentiment = strdup ("Curious");
   t->classification.priority = strdup ("P1 (Medium)");
   t->confidence.topic = 0.85;
   t->confidence.sentiment = 0.92;
   t->confidence.priority = 0.78;
   t->metadata.processed_at = INT64_C (1757745529000);
   t->metadata.model_version = strdup ("gemini-1.5-flash");
   t->metadata.processing_time_ms = 1500;
   t->metadata.agent_version = strdup ("1.0");
   t->processing_attempts = 2;
   t->last_error = strdup ("LLM timeout");
   return t;
}

static void
test_round_trip_processed (void **state)
{
   (void) state;
   tk_ticket_t *in = processed_ticket ();
   tk_ticket_t *out = NULL;
   tk_error_t err = {0};
   bson_t doc = BSON_INITIALIZER;

   assert_true (tk_ticket_to_bson (in, &doc));
   assert_true (tk_ticket_from_bson (&doc, &out, &err));
   assert_non_null (out);

   assert_string_equal (out->id, in->id);
   assert_string_equal (out->subject, in->subject);
   assert_string_equal (out->body, in->body);
   assert_string_equal (out->source, in->source);
   assert_int_equal (out->created_at, in->created_at);
   assert_int_equal (out->updated_at, in->updated_at);
   assert_true (out->processed);
   assert_int_equal (out->classification.n_topic_tags, 2);
   assert_string_equal (out->classification.topic_tags[0], "Connector");
   assert_string_equal (out->classification.topic_tags[1], "Lineage");
   assert_string_equal (out->classification.sentiment, "Curious");
   assert_string_equal (out->classification.priority, "P1 (Medium)");
   assert_true (out->confidence.topic == in->confidence.topic);
   assert_true (out->confidence.sentiment == in->confidence.sentiment);
   assert_true (out->confidence.priority == in->confidence.priority);
   assert_int_equal (out->metadata.processed_at, in->metadata.processed_at);
   assert_string_equal (out->metadata.model_version, "gemini-1.5-flash");
   assert_int_equal (out->metadata.processing_time_ms, 1500);
   assert_string_equal (out->metadata.agent_version, "1.0");
   assert_int_equal (out->processing_attempts, 2);
   assert_string_equal (out->last_error, "LLM timeout");

   bson_destroy (&doc);
   tk_ticket_destroy (in);
   tk_ticket_destroy (out);
}

/* The document has the schema's field names and BSON types. */
static void
test_document_schema (void **state)
{
   (void) state;
   tk_ticket_t *in = processed_ticket ();
   bson_t doc = BSON_INITIALIZER;
   bson_iter_t it;
   assert_true (tk_ticket_to_bson (in, &doc));

   assert_true (bson_iter_init_find (&it, &doc, "created_at"));
   assert_int_equal (bson_iter_type (&it), BSON_TYPE_DATE_TIME);
   assert_true (bson_iter_init_find (&it, &doc, "updated_at"));
   assert_int_equal (bson_iter_type (&it), BSON_TYPE_DATE_TIME);
   assert_true (bson_iter_init_find (&it, &doc, "processed"));
   assert_int_equal (bson_iter_type (&it), BSON_TYPE_BOOL);
   assert_true (bson_iter_init (&it, &doc));
   bson_iter_t child;
   assert_true (bson_iter_find_descendant (&it, "processing_metadata.processed_at", &child));
   assert_int_equal (bson_iter_type (&child), BSON_TYPE_DATE_TIME);
   assert_true (bson_iter_init (&it, &doc));
   assert_true (bson_iter_find_descendant (&it, "classification.topic_tags", &child));
   assert_int_equal (bson_iter_type (&child), BSON_TYPE_ARRAY);
   assert_true (bson_iter_init (&it, &doc));
   assert_true (bson_iter_find_descendant (&it, "confidence_scores.priority", &child));
   assert_int_equal (bson_iter_type (&child), BSON_TYPE_DOUBLE);

   bson_destroy (&doc);
   tk_ticket_destroy (in);
}

/* A raw ticket has none of the processed parts, nor empty failure fields. */
static void
test_raw_ticket_has_no_optional_parts (void **state)
{
   (void) state;
   tk_ticket_t *in = tk_ticket_new ();
   in->id = strdup ("T-1");
   in->subject = strdup ("s");
   in->body = strdup ("b");
   in->created_at = 1000;
   bson_t doc = BSON_INITIALIZER;
   assert_true (tk_ticket_to_bson (in, &doc));

   static const char *absent[] = {"classification", "confidence_scores", "processing_metadata",
                                  "processing_attempts", "last_error", "source", "updated_at"};
   for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++) {
      assert_false (bson_has_field (&doc, absent[i]));
   }
   assert_true (bson_has_field (&doc, "created_at"));
   /* _id (the ticket id) id subject body processed created_at */
   assert_int_equal (bson_count_keys (&doc), 6);
   bson_iter_t it;
   assert_true (bson_iter_init_find (&it, &doc, "_id"));
   assert_string_equal (bson_iter_utf8 (&it, NULL), "T-1");

   bson_destroy (&doc);
   tk_ticket_destroy (in);
}

/* A stored raw document (with _id, without optional parts) reads back with
 * the optional parts zero/NULL. */
static void
test_read_minimal_document (void **state)
{
   (void) state;
   bson_oid_t oid;
   bson_oid_init (&oid, NULL);
   bson_t *doc = BCON_NEW ("_id", BCON_OID (&oid), "id", "T-9", "subject", "Hi", "body",
                           "text", "processed", BCON_BOOL (false), "created_at",
                           BCON_DATE_TIME (5000), "extra_field", BCON_INT32 (7));
   tk_ticket_t *t = NULL;
   tk_error_t err = {0};
   assert_true (tk_ticket_from_bson (doc, &t, &err));
   assert_string_equal (t->id, "T-9");
   assert_string_equal (t->subject, "Hi");
   assert_string_equal (t->body, "text");
   assert_false (t->processed);
   assert_int_equal (t->created_at, 5000);
   assert_int_equal (t->updated_at, 0);
   assert_null (t->source);
   assert_null (t->last_error);
   assert_int_equal (t->processing_attempts, 0);
   assert_int_equal (t->classification.n_topic_tags, 0);
   assert_null (t->classification.sentiment);
   assert_null (t->classification.priority);
   assert_null (t->metadata.model_version);
   assert_int_equal (t->metadata.processed_at, 0);
   tk_ticket_destroy (t);
   bson_destroy (doc);
}

static void
test_missing_required_field (void **state)
{
   (void) state;
   tk_ticket_t *t = (tk_ticket_t *) 1;
   tk_error_t err = {0};
   bson_t *doc = BCON_NEW ("id", "T-1", "subject", "s");
   assert_false (tk_ticket_from_bson (doc, &t, &err));
   assert_null (t);
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_string_equal (err.field, "body");
   bson_destroy (doc);

   doc = BCON_NEW ("subject", "s", "body", "b");
   assert_false (tk_ticket_from_bson (doc, &t, &err));
   assert_string_equal (err.field, "id");
   bson_destroy (doc);
}

static void
test_wrong_type_names_field (void **state)
{
   (void) state;
   tk_ticket_t *t = NULL;
   tk_error_t err = {0};
   /* created_at as an ISO string instead of a BSON date */
   bson_t *doc = BCON_NEW ("id", "T-1", "subject", "s", "body", "b", "created_at",
                           "2025-09-13T06:38:47.513Z");
   assert_false (tk_ticket_from_bson (doc, &t, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_string_equal (err.field, "created_at");
   bson_destroy (doc);

   doc = BCON_NEW ("id", "T-1", "subject", "s", "body", "b", "classification", "{",
                   "topic_tags", "[", "How-to", BCON_INT32 (3), "]", "}");
   assert_false (tk_ticket_from_bson (doc, &t, &err));
   assert_string_equal (err.field, "classification.topic_tags");
   assert_null (t);
   bson_destroy (doc);
}

static void
test_too_many_tags (void **state)
{
   (void) state;
   bson_t doc = BSON_INITIALIZER, cls, tags;
   BSON_APPEND_UTF8 (&doc, "id", "T-1");
   BSON_APPEND_UTF8 (&doc, "subject", "s");
   BSON_APPEND_UTF8 (&doc, "body", "b");
   BSON_APPEND_DOCUMENT_BEGIN (&doc, "classification", &cls);
   BSON_APPEND_ARRAY_BEGIN (&cls, "topic_tags", &tags);
   for (int i = 0; i <= TK_TICKET_MAX_TAGS; i++) {
      char key[16];
      snprintf (key, sizeof key, "%d", i);
      BSON_APPEND_UTF8 (&tags, key, "How-to");
   }
   bson_append_array_end (&cls, &tags);
   bson_append_document_end (&doc, &cls);

   tk_ticket_t *t = NULL;
   tk_error_t err = {0};
   assert_false (tk_ticket_from_bson (&doc, &t, &err));
   assert_string_equal (err.field, "classification.topic_tags");
   bson_destroy (&doc);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_round_trip_processed),
      cmocka_unit_test (test_document_schema),
      cmocka_unit_test (test_raw_ticket_has_no_optional_parts),
      cmocka_unit_test (test_read_minimal_document),
      cmocka_unit_test (test_missing_required_field),
      cmocka_unit_test (test_wrong_type_names_field),
      cmocka_unit_test (test_too_many_tags),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
