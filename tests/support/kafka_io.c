/* kafka_io.c - see kafka_io.h. */
#include "kafka_io.h"

#include "kafka.h"
#include "test_support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#define READ_DEADLINE_MS 60000

bool
tk_test_topics_create (tk_test_topics_t *t, const char *prefix, int partitions)
{
   static const char *const kinds[4][2] = {{"inbound", "TRIAGE_TOPIC_INBOUND"},
                                           {"classify", "TRIAGE_TOPIC_CLASSIFY"},
                                           {"classified", "TRIAGE_TOPIC_CLASSIFIED"},
                                           {"dlq", "TRIAGE_TOPIC_DLQ"}};
   const char *names[4];
   for (int k = 0; k < 4; k++) {
      char name_prefix[64];
      snprintf (name_prefix, sizeof name_prefix, "%s.%s", prefix, kinds[k][0]);
      tk_test_unique_name (name_prefix, t->names[k], sizeof t->names[k]);
      snprintf (t->env[k], sizeof t->env[k], "%s=%s", kinds[k][1], t->names[k]);
      names[k] = t->names[k];
   }
   tk_error_t err;
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 4, partitions, -1, 20000,
                                &err)) {
      fprintf (stderr, "create topics: %s\n", err.message);
      return false;
   }
   return true;
}

void
tk_test_topics_delete (const tk_test_topics_t *t)
{
   tk_error_t err;
   const char *names[] = {t->names[0], t->names[1], t->names[2], t->names[3]};
   tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 4, 20000, &err);
}

rd_kafka_t *
tk_test_kafka_producer_new (void)
{
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (), errstr, sizeof errstr);
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
   assert_non_null (rk);
   return rk;
}

void
tk_test_kafka_produce (rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                       const void *value, size_t len)
{
   rd_kafka_resp_err_t e;
   for (;;) {
      e = rd_kafka_producev (rk, RD_KAFKA_V_TOPIC (topic), RD_KAFKA_V_KEY ((void *) key, key_len),
                             RD_KAFKA_V_VALUE ((void *) value, len),
                             RD_KAFKA_V_MSGFLAGS (RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
         break;
      }
      rd_kafka_poll (rk, 50);
   }
   assert_int_equal (e, RD_KAFKA_RESP_ERR_NO_ERROR);
}

void
tk_test_kafka_producer_finish (rd_kafka_t *rk)
{
   assert_int_equal (rd_kafka_flush (rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
   rd_kafka_destroy (rk);
}

/* Reads topic from the beginning into a JSON array until want messages
 * have arrived (want >= 0) or, with want < 0, until the end of every
 * partition; at most READ_DEADLINE_MS either way. */
static cJSON *
read_topic (const char *topic, int partitions, int want)
{
   bool to_end = want < 0;
   char errstr[256];
   rd_kafka_conf_t *conf = rd_kafka_conf_new ();
   rd_kafka_conf_set (conf, "bootstrap.servers", tk_test_kafka_brokers (), errstr, sizeof errstr);
   rd_kafka_conf_set (conf, "group.id", "unused", errstr, sizeof errstr);
   if (to_end) {
      rd_kafka_conf_set (conf, "enable.partition.eof", "true", errstr, sizeof errstr);
   }
   rd_kafka_t *rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
   assert_non_null (rk);
   rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new (partitions);
   for (int p = 0; p < partitions; p++) {
      rd_kafka_topic_partition_list_add (parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
   }
   assert_int_equal (rd_kafka_assign (rk, parts), 0);
   rd_kafka_topic_partition_list_destroy (parts);
   cJSON *out = cJSON_CreateArray ();
   bool *eof = calloc ((size_t) partitions, sizeof *eof);
   assert_non_null (eof);
   int n_eof = 0;
   uint64_t deadline = tk_test_now_ms () + READ_DEADLINE_MS;
   while ((to_end ? n_eof < partitions : cJSON_GetArraySize (out) < want) &&
          tk_test_now_ms () < deadline) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (rk, 200);
      if (!m) {
         continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
         if (m->partition >= 0 && m->partition < partitions && !eof[m->partition]) {
            eof[m->partition] = true;
            n_eof++;
         }
      } else if (!m->err) {
         cJSON *j = cJSON_ParseWithLength (m->payload, m->len);
         assert_non_null (j);
         cJSON_AddItemToArray (out, j);
      }
      rd_kafka_message_destroy (m);
   }
   free (eof);
   if (to_end) {
      assert_int_equal (n_eof, partitions);
   }
   rd_kafka_consumer_close (rk);
   rd_kafka_destroy (rk);
   return out;
}

cJSON *
tk_test_kafka_read_to_end (const char *topic, int partitions)
{
   return read_topic (topic, partitions, -1);
}

cJSON *
tk_test_kafka_read_until (const char *topic, int partitions, int want)
{
   return read_topic (topic, partitions, want);
}
