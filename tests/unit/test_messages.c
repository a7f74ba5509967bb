/* Unit tests for common/messages.c: every topic message built byte for byte
 * as the services have always written it (users read these topics), parsed
 * back, malformed inputs refused with a reason, and who owns what. */
#include "test_support.h"

#include "messages.h"
#include "ticket_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2026-01-02T03:04:05.678Z */
#define T0 INT64_C (1767323045678)
#define T0_ISO "2026-01-02T03:04:05.678Z"

/* Asserts that text is exactly want and len its length; frees text. */
static void
assert_bytes (char *text, size_t len, const char *want)
{
   assert_non_null (text);
   assert_string_equal (text, want);
   assert_int_equal (len, strlen (want));
   free (text);
}

static void
assert_error (const tk_error_t *err, const char *field, const char *needle)
{
   assert_int_equal (err->domain, TK_ERR_INVALID);
   assert_string_equal (err->field, field);
   if (!strstr (err->message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err->message, needle);
   }
}

/* ---- tickets.inbound ------------------------------------------------------- */

static void
test_inbound_round_trip (void **state)
{
   (void) state;
   tk_error_t err;
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup ("T-1");
   t->subject = strdup ("Refund \"now\"");
   t->body = strdup ("caf\xc3\xa9 line\nnext");
   t->created_at = T0;
   t->source = strdup ("crm");
   size_t len = 0;
   char *text = tk_msg_inbound_build (t, &len, &err);
   assert_non_null (text);
   assert_string_equal (text, "{\"id\":\"T-1\",\"subject\":\"Refund \\\"now\\\"\","
                              "\"body\":\"caf\xc3\xa9 line\\nnext\","
                              "\"created_at\":\"" T0_ISO "\",\"source\":\"crm\"}");
   assert_int_equal (len, strlen (text));

   const char *reason = "unset";
   tk_ticket_t *back = tk_msg_inbound_parse (text, len, &reason, &err);
   free (text); /* the ticket owns copies, never pointers into the payload */
   assert_non_null (back);
   assert_string_equal (reason, "unset");
   assert_string_equal (back->id, "T-1");
   assert_string_equal (back->subject, t->subject);
   assert_string_equal (back->body, t->body);
   assert_string_equal (back->source, "crm");
   assert_int_equal (back->created_at, T0);
   assert_false (back->processed);
   tk_ticket_destroy (back);

   /* Without the optional fields they are left out. */
   free (t->source);
   t->source = NULL;
   t->created_at = 0;
   text = tk_msg_inbound_build (t, &len, &err);
   assert_bytes (text, len,
                 "{\"id\":\"T-1\",\"subject\":\"Refund \\\"now\\\"\","
                 "\"body\":\"caf\xc3\xa9 line\\nnext\"}");
   tk_ticket_destroy (t);
}

static void
assert_inbound_refused (const char *payload, size_t len, const char *want_reason,
                        const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   const char *reason = NULL;
   tk_ticket_t *t = tk_msg_inbound_parse (payload, len, &reason, &err);
   if (t) {
      tk_ticket_destroy (t);
      fail_msg ("expected %.100s to be refused", payload ? payload : "(null)");
   }
   assert_non_null (reason);
   assert_string_equal (reason, want_reason);
   assert_int_equal (err.domain, TK_ERR_INVALID);
   if (!strstr (err.message, needle)) {
      fail_msg ("message \"%s\" lacks \"%s\"", err.message, needle);
   }
}

static void
test_inbound_refused (void **state)
{
   (void) state;
   assert_inbound_refused (NULL, 0, "malformed", "empty");
   assert_inbound_refused ("", 0, "malformed", "empty");
   assert_inbound_refused ("{\"id\":", 6, "malformed", "");
   assert_inbound_refused ("[1,2]", 5, "not_object", "not a JSON object");
   assert_inbound_refused ("{\"id\":\"a\",\"subject\":\"s\"}", 24, "invalid_field", "body");
   size_t big = TK_TICKET_JSON_MAX + 1;
   char *huge = malloc (big);
   assert_non_null (huge);
   memset (huge, ' ', big);
   assert_inbound_refused (huge, big, "oversized", "exceeds");
   free (huge);
   /* A NUL inside is refused before cJSON could cut the text short. */
   assert_inbound_refused ("{\"id\":\"a\0\"}", 11, "malformed", "NUL");
}

static void
test_inbound_refused_id (void **state)
{
   (void) state;
   char buf[16];
   /* The key first. */
   assert_string_equal (tk_msg_inbound_refused_id ("k-1", 3, "{\"id\":\"j\"}", 10, buf, sizeof buf),
                        "k-1");
   /* A key that is not text, or too long: the JSON's id. */
   assert_string_equal (
      tk_msg_inbound_refused_id ("\xff", 1, "{\"id\":\"j\"}", 10, buf, sizeof buf), "j");
   assert_string_equal (tk_msg_inbound_refused_id ("0123456789abcdefXYZ", 19, "{\"id\":\"j\"}", 10,
                                                   buf, sizeof buf),
                        "j");
   /* Neither. */
   assert_null (tk_msg_inbound_refused_id (NULL, 0, "{\"id\":5}", 8, buf, sizeof buf));
   assert_null (tk_msg_inbound_refused_id (NULL, 0, "not json", 8, buf, sizeof buf));
   assert_null (tk_msg_inbound_refused_id (NULL, 0, NULL, 0, buf, sizeof buf));
}

/* ---- tickets.classify ------------------------------------------------------ */

static void
test_classify_bytes_and_round_trip (void **state)
{
   (void) state;
   tk_error_t err;
   size_t len = 0;
   /* What ingest sends. */
   char *text = tk_msg_classify_build ("T-1", "ingest", T0, NULL, false, &len, &err);
   assert_non_null (text);
   assert_string_equal (text,
                        "{\"id\":\"T-1\",\"reason\":\"ingest\",\"requested_at\":\"" T0_ISO "\"}");
   tk_msg_classify_t req;
   assert_true (tk_msg_classify_parse (text, len, &req, &err));
   free (text);
   assert_string_equal (req.id, "T-1");
   assert_string_equal (req.reason, "ingest");
   assert_false (req.reprocess);
   assert_int_equal (req.requested_at, T0);
   assert_string_equal (req.job_id, "");

   /* What the api sends for a job. */
   text = tk_msg_classify_build ("T-2", "reprocess", T0, "job-7", false, &len, &err);
   assert_non_null (text);
   assert_string_equal (text, "{\"id\":\"T-2\",\"reason\":\"reprocess\",\"requested_at\":\"" T0_ISO
                              "\",\"job_id\":\"job-7\"}");
   assert_true (tk_msg_classify_parse (text, len, &req, &err));
   free (text);
   assert_string_equal (req.id, "T-2");
   assert_true (req.reprocess);
   assert_string_equal (req.job_id, "job-7");
   assert_false (req.override_corrections);

   /* A reprocess that may relabel what a person corrected says so. */
   text = tk_msg_classify_build ("T-4", "reprocess", T0, NULL, true, &len, &err);
   assert_non_null (text);
   assert_string_equal (text, "{\"id\":\"T-4\",\"reason\":\"reprocess\",\"requested_at\":\"" T0_ISO
                              "\",\"override_corrections\":true}");
   assert_true (tk_msg_classify_parse (text, len, &req, &err));
   free (text);
   assert_true (req.override_corrections);

   /* A time that cannot be written is sent as "" and read as 0. */
   text = tk_msg_classify_build ("T-3", "manual", INT64_MAX, NULL, false, &len, &err);
   assert_non_null (text);
   assert_string_equal (text, "{\"id\":\"T-3\",\"reason\":\"manual\",\"requested_at\":\"\"}");
   assert_true (tk_msg_classify_parse (text, len, &req, &err));
   free (text);
   assert_int_equal (req.requested_at, 0);

   tk_error_clear (&err);
   assert_null (tk_msg_classify_build (NULL, "ingest", T0, NULL, false, &len, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
}

static void
test_classify_lenient_fields (void **state)
{
   (void) state;
   tk_error_t err;
   tk_msg_classify_t req;
   /* Only the id is required: an older or newer producer is still served. */
   const char *min = "{\"id\":\"x\"}";
   assert_true (tk_msg_classify_parse (min, strlen (min), &req, &err));
   assert_string_equal (req.id, "x");
   assert_string_equal (req.reason, "");
   assert_false (req.reprocess);
   const char *odd =
      "{\"id\":\"x\",\"reason\":7,\"requested_at\":\"yesterday\",\"job_id\":[],\"extra\":1}";
   assert_true (tk_msg_classify_parse (odd, strlen (odd), &req, &err));
   assert_string_equal (req.reason, "");
   assert_int_equal (req.requested_at, 0);
   assert_string_equal (req.job_id, "");
   /* Only a JSON true overrides corrections. */
   const char *str_true = "{\"id\":\"x\",\"override_corrections\":\"true\"}";
   assert_true (tk_msg_classify_parse (str_true, strlen (str_true), &req, &err));
   assert_false (req.override_corrections);
}

static void
assert_classify_refused (const char *payload, size_t len, const char *field, const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   tk_msg_classify_t req;
   if (tk_msg_classify_parse (payload, len, &req, &err)) {
      fail_msg ("expected %.100s to be refused", payload ? payload : "(null)");
   }
   assert_error (&err, field, needle);
}

static void
test_classify_refused (void **state)
{
   (void) state;
   assert_classify_refused ("", 0, "", "empty");
   assert_classify_refused ("nope", 4, "", "");
   assert_classify_refused ("\"id\"", 4, "", "not a JSON object");
   assert_classify_refused ("{}", 2, "id", "\"id\" must be");
   assert_classify_refused ("{\"id\":\"\"}", 9, "id", "non-empty");
   assert_classify_refused ("{\"id\":5}", 8, "id", "string");
   char long_id[TK_TICKET_ID_MAX + 32];
   int n = snprintf (long_id, sizeof long_id, "{\"id\":\"%0*d\"}", TK_TICKET_ID_MAX + 1, 0);
   assert_classify_refused (long_id, (size_t) n, "id", "at most");
   size_t big = TK_MSG_CLASSIFY_MAX + 1;
   char *huge = malloc (big);
   assert_non_null (huge);
   memset (huge, ' ', big);
   assert_classify_refused (huge, big, "", "larger than");
   free (huge);
}

/* ---- tickets.classified ---------------------------------------------------- */

static void
test_classified_bytes_and_round_trip (void **state)
{
   (void) state;
   tk_error_t err;
   tk_classification_t c = {.topic_tags = {"billing", "refund"},
                            .n_topic_tags = 2,
                            .sentiment = "negative",
                            .priority = "high"};
   tk_confidence_t conf = {0.5, 0.25, 1};
   tk_processing_metadata_t md = {.processed_at = T0,
                                  .model_version = "nb-3",
                                  .processing_time_ms = 42,
                                  .agent_version = "0.1.0"};
   size_t len = 0;
   char *text = tk_msg_classified_build ("T-1", &c, &conf, &md, &len, &err);
   assert_non_null (text);
   assert_string_equal (
      text, "{\"id\":\"T-1\",\"classification\":{\"topic_tags\":[\"billing\",\"refund\"],"
            "\"sentiment\":\"negative\",\"priority\":\"high\"},"
            "\"confidence_scores\":{\"topic\":0.5,\"sentiment\":0.25,\"priority\":1},"
            "\"processing_metadata\":{\"processed_at\":\"" T0_ISO "\",\"model_version\":\"nb-3\","
            "\"processing_time_ms\":42,\"agent_version\":\"0.1.0\"}}");
   assert_int_equal (len, strlen (text));

   tk_msg_classified_t back;
   assert_true (tk_msg_classified_parse (text, len, &back, &err));
   free (text);
   assert_string_equal (back.id, "T-1");
   assert_int_equal (back.c.n_topic_tags, 2);
   assert_string_equal (back.c.topic_tags[0], "billing");
   assert_string_equal (back.c.topic_tags[1], "refund");
   assert_string_equal (back.c.sentiment, "negative");
   assert_string_equal (back.c.priority, "high");
   assert_true (back.conf.topic == 0.5 && back.conf.sentiment == 0.25 && back.conf.priority == 1);
   assert_int_equal (back.md.processed_at, T0);
   assert_string_equal (back.md.model_version, "nb-3");
   assert_int_equal (back.md.processing_time_ms, 42);
   assert_string_equal (back.md.agent_version, "0.1.0");
   tk_msg_classified_clear (&back);
   assert_null (back.id);
   tk_msg_classified_clear (&back); /* twice is harmless */
   tk_msg_classified_clear (NULL);

   /* NULL strings are written as "". */
   tk_classification_t empty = {0};
   tk_processing_metadata_t md0 = {.processed_at = T0};
   text = tk_msg_classified_build ("T-2", &empty, &conf, &md0, &len, &err);
   assert_non_null (text);
   assert_non_null (strstr (text, "{\"topic_tags\":[],\"sentiment\":\"\",\"priority\":\"\"}"));
   assert_non_null (strstr (text, "\"model_version\":\"\""));
   assert_true (tk_msg_classified_parse (text, len, &back, &err));
   free (text);
   tk_msg_classified_clear (&back);
}

static void
assert_classified_refused (const char *payload, const char *field, const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   tk_msg_classified_t out;
   if (tk_msg_classified_parse (payload, strlen (payload), &out, &err)) {
      tk_msg_classified_clear (&out);
      fail_msg ("expected %.100s to be refused", payload);
   }
   assert_null (out.id); /* nothing left to free */
   assert_int_equal (out.c.n_topic_tags, 0);
   assert_error (&err, field, needle);
}

#define CL_HEAD                                                                   \
   "{\"id\":\"T\",\"classification\":{\"topic_tags\":[\"a\"],\"sentiment\":\"s\"," \
   "\"priority\":\"p\"}"
#define CL_CONF ",\"confidence_scores\":{\"topic\":0.5,\"sentiment\":0.5,\"priority\":0.5}"
#define CL_MD                                                                     \
   ",\"processing_metadata\":{\"processed_at\":\"\",\"model_version\":\"m\","          \
   "\"processing_time_ms\":1,\"agent_version\":\"a\"}}"

static void
test_classified_refused (void **state)
{
   (void) state;
   tk_error_t err;
   tk_msg_classified_t out;
   const char *good = CL_HEAD CL_CONF CL_MD;
   assert_true (tk_msg_classified_parse (good, strlen (good), &out, &err));
   tk_msg_classified_clear (&out);

   assert_classified_refused ("{}", "id", "required");
   assert_classified_refused ("{\"id\":\"T\"}", "classification", "required");
   assert_classified_refused ("{\"id\":\"T\",\"classification\":[]}", "classification", "object");
   /* Fails late: the tags and strings taken before are freed. */
   assert_classified_refused (CL_HEAD "}", "confidence_scores", "required");
   assert_classified_refused (
      CL_HEAD ",\"confidence_scores\":{\"topic\":2,\"sentiment\":0,\"priority\":0}" CL_MD,
      "confidence_scores.topic", "[0, 1]");
   assert_classified_refused (CL_HEAD CL_CONF "}", "processing_metadata", "required");
   assert_classified_refused (
      CL_HEAD CL_CONF ",\"processing_metadata\":{\"processed_at\":\"x\",\"model_version\":\"m\","
                      "\"processing_time_ms\":1,\"agent_version\":\"a\"}}",
      "processing_metadata.processed_at", "ISO-8601");
   assert_classified_refused (
      CL_HEAD CL_CONF ",\"processing_metadata\":{\"processed_at\":\"\",\"model_version\":\"m\","
                      "\"processing_time_ms\":-1,\"agent_version\":\"a\"}}",
      "processing_metadata.processing_time_ms", "integer");
   assert_classified_refused (
      "{\"id\":\"T\",\"classification\":{\"topic_tags\":[\"a\",1],\"sentiment\":\"s\","
      "\"priority\":\"p\"}}",
      "classification.topic_tags", "strings");
   assert_classified_refused (
      "{\"id\":\"T\",\"classification\":{\"topic_tags\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\","
      "\"7\",\"8\",\"9\",\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"],"
      "\"sentiment\":\"s\",\"priority\":\"p\"}}",
      "classification.topic_tags", "at most");
}

/* ---- tickets.dlq ----------------------------------------------------------- */

static void
test_dlq_classifier_record (void **state)
{
   (void) state;
   tk_error_t err;
   const char *request = "{\"id\":\"T-1\",\"reason\":\"ingest\",\"requested_at\":\"" T0_ISO "\"}";
   tk_msg_dlq_fields_t f = {.id = "T-1",
                            .error = "openai: HTTP 400",
                            .attempts = 3,
                            .failed_at = T0,
                            .provider = "openai",
                            .message = request,
                            .message_len = strlen (request),
                            .encoding = TK_MSG_DLQ_JSON};
   size_t len = 0;
   char *text = tk_msg_dlq_build (&f, &len, &err);
   assert_non_null (text);
   assert_string_equal (text, "{\"id\":\"T-1\",\"error\":\"openai: HTTP 400\",\"attempts\":3,"
                              "\"failed_at\":\"" T0_ISO "\",\"provider\":\"openai\","
                              "\"message\":{\"id\":\"T-1\",\"reason\":\"ingest\","
                              "\"requested_at\":\"" T0_ISO "\"}}");
   tk_msg_dlq_t back;
   assert_true (tk_msg_dlq_parse (text, len, &back, &err));
   free (text);
   assert_string_equal (back.id, "T-1");
   assert_string_equal (back.error, "openai: HTTP 400");
   assert_int_equal (back.attempts, 3);
   assert_int_equal (back.failed_at, T0);
   assert_string_equal (back.provider, "openai");
   assert_null (back.source_topic);
   assert_int_equal (back.source_partition, -1);
   assert_int_equal (back.encoding, TK_MSG_DLQ_JSON);
   assert_string_equal (back.message, request);
   assert_int_equal (back.message_len, strlen (request));
   tk_msg_dlq_clear (&back);
   assert_null (back.message);
   tk_msg_dlq_clear (NULL);

   /* A request that is not JSON is recorded as null. */
   f.message = "garbage";
   f.message_len = 7;
   text = tk_msg_dlq_build (&f, &len, &err);
   assert_non_null (text);
   assert_non_null (strstr (text, "\"provider\":\"openai\",\"message\":null}"));
   assert_true (tk_msg_dlq_parse (text, len, &back, &err));
   free (text);
   assert_null (back.message);
   tk_msg_dlq_clear (&back);
}

static void
test_dlq_ingest_record (void **state)
{
   (void) state;
   tk_error_t err;
   const char *payload = "{\"id\":\"a\"}";
   tk_msg_dlq_fields_t f = {.id = NULL,
                            .error = "body: is required",
                            .attempts = 1,
                            .failed_at = T0,
                            .source_topic = "tickets.inbound",
                            .source_partition = 2,
                            .source_offset = 12345,
                            .message = payload,
                            .message_len = strlen (payload),
                            .encoding = TK_MSG_DLQ_TEXT};
   size_t len = 0;
   char *text = tk_msg_dlq_build (&f, &len, &err);
   assert_non_null (text);
   assert_string_equal (text, "{\"id\":null,\"error\":\"body: is required\",\"attempts\":1,"
                              "\"failed_at\":\"" T0_ISO "\",\"source_topic\":\"tickets.inbound\","
                              "\"source_partition\":2,\"source_offset\":12345,"
                              "\"message\":\"{\\\"id\\\":\\\"a\\\"}\"}");
   tk_msg_dlq_t back;
   assert_true (tk_msg_dlq_parse (text, len, &back, &err));
   free (text);
   assert_null (back.id);
   assert_null (back.provider);
   assert_string_equal (back.source_topic, "tickets.inbound");
   assert_int_equal (back.source_partition, 2);
   assert_int_equal (back.source_offset, 12345);
   assert_int_equal (back.encoding, TK_MSG_DLQ_TEXT);
   assert_string_equal (back.message, payload);
   tk_msg_dlq_clear (&back);

   /* Bytes that are not text travel as base64, every length of padding. */
   static const char bin[] = {'\xff', '\0', 'a', '\x80', 'b'};
   for (size_t n = 1; n <= sizeof bin; n++) {
      f.id = "k";
      f.message = bin;
      f.message_len = n;
      text = tk_msg_dlq_build (&f, &len, &err);
      assert_non_null (text);
      assert_non_null (strstr (text, "\"message\":null,\"message_base64\":\""));
      if (n == sizeof bin) {
         assert_non_null (strstr (text, "\"message_base64\":\"/wBhgGI=\"}"));
      }
      assert_true (tk_msg_dlq_parse (text, len, &back, &err));
      free (text);
      assert_int_equal (back.message_len, n);
      assert_memory_equal (back.message, bin, n);
      tk_msg_dlq_clear (&back);
   }

   /* No message at all. */
   f.message = NULL;
   f.source_topic = NULL;
   text = tk_msg_dlq_build (&f, &len, &err);
   assert_bytes (text, len,
                 "{\"id\":\"k\",\"error\":\"body: is required\",\"attempts\":1,"
                 "\"failed_at\":\"" T0_ISO "\",\"message\":null}");

   tk_error_clear (&err);
   f.error = NULL;
   assert_null (tk_msg_dlq_build (&f, &len, &err));
   assert_error (&err, "error", "needs an error");
}

static void
assert_dlq_refused (const char *payload, const char *field, const char *needle)
{
   tk_error_t err;
   tk_error_clear (&err);
   tk_msg_dlq_t out;
   if (tk_msg_dlq_parse (payload, strlen (payload), &out, &err)) {
      tk_msg_dlq_clear (&out);
      fail_msg ("expected %.100s to be refused", payload);
   }
   assert_null (out.id);
   assert_null (out.error);
   assert_null (out.message);
   assert_error (&err, field, needle);
}

#define DLQ_HEAD "{\"id\":\"k\",\"error\":\"e\",\"attempts\":1,\"failed_at\":\"\""

static void
test_dlq_refused (void **state)
{
   (void) state;
   assert_dlq_refused ("[]", "", "not a JSON object");
   assert_dlq_refused ("{\"error\":\"e\"}", "id", "required");
   assert_dlq_refused ("{\"id\":1}", "id", "string");
   assert_dlq_refused ("{\"id\":\"k\"}", "error", "required");
   assert_dlq_refused ("{\"id\":\"k\",\"error\":\"e\",\"attempts\":1.5}", "attempts", "integer");
   assert_dlq_refused ("{\"id\":\"k\",\"error\":\"e\",\"attempts\":-1}", "attempts", "integer");
   assert_dlq_refused ("{\"id\":\"k\",\"error\":\"e\",\"attempts\":1,\"failed_at\":\"soon\"}",
                       "failed_at", "ISO-8601");
   assert_dlq_refused (DLQ_HEAD "}", "message", "required");
   assert_dlq_refused (DLQ_HEAD ",\"provider\":3,\"message\":null}", "provider", "string");
   assert_dlq_refused (DLQ_HEAD ",\"source_topic\":\"t\",\"message\":null}", "source_partition",
                       "required");
   assert_dlq_refused (DLQ_HEAD ",\"message\":\"x\",\"message_base64\":\"AA==\"}", "message_base64",
                       "null");
   assert_dlq_refused (DLQ_HEAD ",\"message\":null,\"message_base64\":\"A===\"}", "message_base64",
                       "base64");
   assert_dlq_refused (DLQ_HEAD ",\"message\":null,\"message_base64\":\"AB=C\"}", "message_base64",
                       "base64");
   assert_dlq_refused (DLQ_HEAD ",\"message\":null,\"message_base64\":\"ABC\"}", "message_base64",
                       "base64");
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_inbound_round_trip),
      cmocka_unit_test (test_inbound_refused),
      cmocka_unit_test (test_inbound_refused_id),
      cmocka_unit_test (test_classify_bytes_and_round_trip),
      cmocka_unit_test (test_classify_lenient_fields),
      cmocka_unit_test (test_classify_refused),
      cmocka_unit_test (test_classified_bytes_and_round_trip),
      cmocka_unit_test (test_classified_refused),
      cmocka_unit_test (test_dlq_classifier_record),
      cmocka_unit_test (test_dlq_ingest_record),
      cmocka_unit_test (test_dlq_refused),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
