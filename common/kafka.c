/* kafka.c - building librdkafka configurations from brokers and kcat-style
 * key=value pairs. The producer, consumer and admin calls live in
 * kafka_producer.c, kafka_consumer.c and kafka_admin.c. */
#include "kafka.h"

#include "log.h"

bool
tk_kafka_conf_set (rd_kafka_conf_t *conf, const char *key, const char *value, tk_error_t *err)
{
   char errstr[512] = "";
   if (!key || !*key) {
      tk_error_set_field (err, TK_ERR_CONFIG, RD_KAFKA_CONF_INVALID, "",
                         "empty Kafka property name");
      return false;
   }
   rd_kafka_conf_res_t res = rd_kafka_conf_set (conf, key, value ? value : "", errstr,
                                                sizeof errstr);
   if (res != RD_KAFKA_CONF_OK) {
      tk_error_set_field (err, TK_ERR_CONFIG, res, key, "Kafka property \"%s\": %s", key,
                          errstr[0] ? errstr : "rejected");
      return false;
   }
   return true;
}

bool
tk_kafka_conf_apply (rd_kafka_conf_t *conf, const tk_kafka_passthrough_t *pt, tk_error_t *err)
{
   for (size_t i = 0; pt && i < pt->n; i++) {
      if (!tk_kafka_conf_set (conf, pt->keys[i], pt->values[i], err)) {
         return false;
      }
   }
   return true;
}

rd_kafka_conf_t *
tk_kafka_conf_new (const char *brokers, const tk_kafka_passthrough_t *pt, tk_error_t *err)
{
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   rd_kafka_conf_t *ret = NULL;

   rd_kafka_conf_set_log_cb (conf, tk_log_rdkafka_cb);
   if (brokers && !tk_kafka_conf_set (conf, "bootstrap.servers", brokers, err)) {
      goto done;
   }
   if (!tk_kafka_conf_apply (conf, pt, err)) {
      goto done;
   }
   ret = conf;
   conf = NULL;
done:
   if (conf) {
      rd_kafka_conf_destroy (conf);
   }
   return ret;
}
