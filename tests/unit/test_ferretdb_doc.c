/* ferretdb_doc.c: FerretDB 1.x's stored JSON back to the BSON FerretDB
 * answers with. The inputs are documents as FerretDB 1.24 stored them on
 * the local stack (read with psql from a collection's table): a ticket
 * written by the services and a probe with every type the reader takes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ferretdb_doc.h"

/* out as canonical extended JSON, compared with want. */
static void
assert_bson_json (const char *stored, const char *want)
{
   bson_t out = BSON_INITIALIZER;
   tk_error_t err;
   if (!tk_ferretdb_doc_to_bson (stored, strlen (stored), &out, &err)) {
      fail_msg ("refused: %s", err.message);
   }
   char *json = bson_as_canonical_extended_json (&out, NULL);
   assert_string_equal (json, want);
   bson_free (json);
   bson_destroy (&out);
}

static void
assert_refused (const char *stored, int domain)
{
   bson_t out = BSON_INITIALIZER;
   tk_error_t err;
   tk_error_clear (&err);
   assert_false (tk_ferretdb_doc_to_bson (stored, strlen (stored), &out, &err));
   assert_int_equal (err.domain, domain);
   bson_destroy (&out);
}

/* A classified ticket: keys in the stored order ("$k"), not the JSON's
 * (jsonb sorts them), dates as dates, the confidence as doubles, the
 * processing time as a long. */
static void
test_ticket (void **state)
{
   (void) state;
   const char *stored =
      "{\"$s\": {\"p\": {\"id\": {\"t\": \"string\"}, \"_id\": {\"t\": \"string\"}, "
      "\"processed\": {\"t\": \"bool\"}, \"created_at\": {\"t\": \"date\"}, "
      "\"classification\": {\"t\": \"object\", \"$s\": {\"p\": {\"priority\": {\"t\": \"string\"}, "
      "\"topic_tags\": {\"i\": [{\"t\": \"string\"}, {\"t\": \"string\"}], \"t\": \"array\"}}, "
      "\"$k\": [\"topic_tags\", \"priority\"]}}, \"confidence_scores\": {\"t\": \"object\", \"$s\": "
      "{\"p\": {\"topic\": {\"t\": \"double\"}}, \"$k\": [\"topic\"]}}, \"processing_metadata\": "
      "{\"t\": \"object\", \"$s\": {\"p\": {\"processing_time_ms\": {\"t\": \"long\"}}, \"$k\": "
      "[\"processing_time_ms\"]}}}, \"$k\": [\"_id\", \"id\", \"processed\", \"created_at\", "
      "\"classification\", \"confidence_scores\", \"processing_metadata\"]}, "
      "\"id\": \"T-1\", \"_id\": \"T-1\", \"processed\": true, \"created_at\": 1795597154178, "
      "\"classification\": {\"priority\": \"P1 (Medium)\", \"topic_tags\": [\"SSO\", \"Lineage\"]}, "
      "\"confidence_scores\": {\"topic\": 0.9445170829590015}, "
      "\"processing_metadata\": {\"processing_time_ms\": 1}}";
   assert_bson_json (
      stored,
      "{ \"_id\" : \"T-1\", \"id\" : \"T-1\", \"processed\" : true, \"created_at\" : { \"$date\" : "
      "{ \"$numberLong\" : \"1795597154178\" } }, \"classification\" : { \"topic_tags\" : [ "
      "\"SSO\", \"Lineage\" ], \"priority\" : \"P1 (Medium)\" }, \"confidence_scores\" : { "
      "\"topic\" : { \"$numberDouble\" : \"0.94451708295900149714\" } }, \"processing_metadata\" : { "
      "\"processing_time_ms\" : { \"$numberLong\" : \"1\" } } }");
}

/* Every type the reader takes, as FerretDB stored a probe document. */
static void
test_every_type (void **state)
{
   (void) state;
   const char *stored =
      "{\"d\": 1.5, \"i\": 5, \"l\": 123, \"n\": null, \"o\": \"6b110d465ef4d673c4024511\", "
      "\"$s\": {\"p\": {\"d\": {\"t\": \"double\"}, \"i\": {\"t\": \"int\"}, \"l\": {\"t\": \"long\"}, "
      "\"n\": {\"t\": \"null\"}, \"o\": {\"t\": \"objectId\"}, \"dt\": {\"t\": \"date\"}, \"_id\": "
      "{\"t\": \"string\"}, \"arr\": {\"i\": [{\"t\": \"object\", \"$s\": {\"p\": {\"x\": {\"t\": "
      "\"int\"}, \"y\": {\"t\": \"string\"}}, \"$k\": [\"x\", \"y\"]}}, {\"t\": \"string\"}], \"t\": "
      "\"array\"}, \"dint\": {\"t\": \"double\"}, \"earr\": {\"i\": [], \"t\": \"array\"}, \"empty\": "
      "{\"t\": \"object\", \"$s\": {}}, \"nested\": {\"t\": \"object\", \"$s\": {\"p\": {\"deep\": {\"t\": "
      "\"object\", \"$s\": {\"p\": {\"k\": {\"t\": \"bool\"}}, \"$k\": [\"k\"]}}}, \"$k\": "
      "[\"deep\"]}}}, \"$k\": [\"_id\", \"n\", \"i\", \"l\", \"d\", \"dint\", \"o\", \"arr\", "
      "\"nested\", \"empty\", \"earr\", \"dt\"]}, \"dt\": 1795597154178, \"_id\": \"a\", \"arr\": "
      "[{\"x\": 1, \"y\": \"q\"}, \"str\"], \"dint\": 3, \"earr\": [], \"empty\": {}, \"nested\": "
      "{\"deep\": {\"k\": true}}}";
   assert_bson_json (
      stored,
      "{ \"_id\" : \"a\", \"n\" : null, \"i\" : { \"$numberInt\" : \"5\" }, \"l\" : { "
      "\"$numberLong\" : \"123\" }, \"d\" : { \"$numberDouble\" : \"1.5\" }, \"dint\" : { "
      "\"$numberDouble\" : \"3.0\" }, \"o\" : { \"$oid\" : \"6b110d465ef4d673c4024511\" }, \"arr\" "
      ": [ { \"x\" : { \"$numberInt\" : \"1\" }, \"y\" : \"q\" }, \"str\" ], \"nested\" : { "
      "\"deep\" : { \"k\" : true } }, \"empty\" : {  }, \"earr\" : [  ], \"dt\" : { \"$date\" : { "
      "\"$numberLong\" : \"1795597154178\" } } }");
}

/* What it cannot reproduce exactly is refused (the caller asks FerretDB):
 * another type, an integer beyond 2^53, a value the type map does not
 * list, a listed key without a value, a type that does not match. */
static void
test_refused (void **state)
{
   (void) state;
   assert_refused ("{\"$s\": {\"p\": {\"b\": {\"t\": \"binData\", \"s\": 0}}, \"$k\": [\"b\"]}, "
                   "\"b\": \"AAE=\"}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"l\": {\"t\": \"long\"}}, \"$k\": [\"l\"]}, "
                   "\"l\": 9223372036854775807}",
                   TK_ERR_UNSUPPORTED);
   /* 2^53 + 1, as FerretDB stores it: the parsed double is 2^53. */
   assert_refused ("{\"$s\": {\"p\": {\"l\": {\"t\": \"long\"}}, \"$k\": [\"l\"]}, "
                   "\"l\": 9007199254740993}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"l\": {\"t\": \"date\"}}, \"$k\": [\"l\"]}, "
                   "\"l\": -9007199254740993}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"a\": {\"t\": \"string\"}}, \"$k\": [\"a\"]}, "
                   "\"a\": \"x\", \"b\": 1}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"a\": {\"t\": \"string\"}}, \"$k\": [\"a\"]}}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"a\": {\"t\": \"string\"}}, \"$k\": [\"a\"]}, \"a\": 1}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"d\": {\"t\": \"double\"}}, \"$k\": [\"d\"]}, "
                   "\"d\": \"Infinity\"}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"$s\": {\"p\": {\"a\": {\"t\": \"array\", \"i\": []}}, \"$k\": [\"a\"]}, "
                   "\"a\": [1]}",
                   TK_ERR_UNSUPPORTED);
   assert_refused ("{\"a\": 1}", TK_ERR_INVALID);
   assert_refused ("not json", TK_ERR_INVALID);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_ticket),
      cmocka_unit_test (test_every_type),
      cmocka_unit_test (test_refused),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
