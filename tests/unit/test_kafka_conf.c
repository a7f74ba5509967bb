/* Unit tests for common/kafka.c: building a librdkafka conf from brokers and
 * pass-through pairs. No broker needed. */
#include "test_support.h"

#include "kafka.h"

#include <string.h>

static const char *
conf_get (rd_kafka_conf_t *conf, const char *key, char *buf, size_t cap)
{
   size_t len = cap;
   assert_int_equal (rd_kafka_conf_get (conf, key, buf, &len), RD_KAFKA_CONF_OK);
   return buf;
}

static void
test_pairs_applied_in_order (void **state)
{
   (void) state;
   const char *keys[] = {"client.id", "linger.ms", "linger.ms"};
   const char *values[] = {"unit-client", "5", "7"};
   tk_kafka_passthrough_t pt = {keys, values, 3};
   tk_error_t err = {0};
   rd_kafka_conf_t *conf = tk_kafka_conf_new ("10.0.0.1:9092,10.0.0.2:9092", &pt, &err);
   assert_non_null (conf);
   assert_int_equal (err.domain, TK_ERR_NONE);

   char buf[256];
   assert_string_equal (conf_get (conf, "bootstrap.servers", buf, sizeof buf),
                        "10.0.0.1:9092,10.0.0.2:9092");
   assert_string_equal (conf_get (conf, "client.id", buf, sizeof buf), "unit-client");
   /* The later pair wins, as with repeated kcat -X flags. */
   assert_string_equal (conf_get (conf, "linger.ms", buf, sizeof buf), "7");
   rd_kafka_conf_destroy (conf);
}

static void
test_no_pairs (void **state)
{
   (void) state;
   tk_error_t err = {0};
   rd_kafka_conf_t *conf = tk_kafka_conf_new ("127.0.0.1:9092", NULL, &err);
   assert_non_null (conf);
   char buf[64];
   assert_string_equal (conf_get (conf, "bootstrap.servers", buf, sizeof buf), "127.0.0.1:9092");
   rd_kafka_conf_destroy (conf);
}

static void
test_unknown_key_names_the_key (void **state)
{
   (void) state;
   const char *keys[] = {"client.id", "no.such.property"};
   const char *values[] = {"x", "1"};
   tk_kafka_passthrough_t pt = {keys, values, 2};
   tk_error_t err = {0};
   assert_null (tk_kafka_conf_new ("127.0.0.1:9092", &pt, &err));
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   assert_int_equal (err.code, RD_KAFKA_CONF_UNKNOWN);
   assert_string_equal (err.field, "no.such.property");
   assert_non_null (strstr (err.message, "no.such.property"));
}

static void
test_invalid_value_names_the_key (void **state)
{
   (void) state;
   const char *keys[] = {"acks"};
   const char *values[] = {"sometimes"};
   tk_kafka_passthrough_t pt = {keys, values, 1};
   tk_error_t err = {0};
   assert_null (tk_kafka_conf_new (NULL, &pt, &err));
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   assert_int_equal (err.code, RD_KAFKA_CONF_INVALID);
   assert_string_equal (err.field, "acks");
   assert_non_null (strstr (err.message, "acks"));
}

static void
test_apply_overrides_defaults (void **state)
{
   (void) state;
   tk_error_t err = {0};
   rd_kafka_conf_t *conf = tk_kafka_conf_new (NULL, NULL, &err);
   assert_non_null (conf);
   assert_true (tk_kafka_conf_set (conf, "enable.idempotence", "true", &err));
   const char *keys[] = {"enable.idempotence"};
   const char *values[] = {"false"};
   tk_kafka_passthrough_t pt = {keys, values, 1};
   assert_true (tk_kafka_conf_apply (conf, &pt, &err));
   char buf[16];
   assert_string_equal (conf_get (conf, "enable.idempotence", buf, sizeof buf), "false");
   rd_kafka_conf_destroy (conf);
}

static void
test_producer_new_reports_bad_pair (void **state)
{
   (void) state;
   uv_loop_t loop;
   uv_loop_init (&loop);
   const char *keys[] = {"compression.codec"};
   const char *values[] = {"brotli"};
   tk_kafka_passthrough_t pt = {keys, values, 1};
   tk_error_t err = {0};
   assert_null (tk_kafka_producer_new (&loop, "127.0.0.1:9092", &pt, NULL, NULL, &err));
   assert_int_equal (err.domain, TK_ERR_CONFIG);
   assert_string_equal (err.field, "compression.codec");
   tk_test_loop_close (&loop);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_pairs_applied_in_order),
      cmocka_unit_test (test_no_pairs),
      cmocka_unit_test (test_unknown_key_names_the_key),
      cmocka_unit_test (test_invalid_value_names_the_key),
      cmocka_unit_test (test_apply_overrides_defaults),
      cmocka_unit_test (test_producer_new_reports_bad_pair),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
