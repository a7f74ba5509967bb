/* kafka_io.h - Kafka for tests: the services' four topics under unique
 * names, plain librdkafka clients to produce to a topic and to read a topic
 * back from its beginning. Blocking, with deadlines; every failure
 * fails the calling test. Test code only. */
#ifndef TK_TEST_KAFKA_IO_H
#define TK_TEST_KAFKA_IO_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>
#include <librdkafka/rdkafka.h>

/* The four topics a service stack uses, uniquely named, with the settings
 * that point the services at them. Index with the TK_TEST_TOPIC_* values. */
enum { TK_TEST_TOPIC_INBOUND, TK_TEST_TOPIC_CLASSIFY, TK_TEST_TOPIC_CLASSIFIED, TK_TEST_TOPIC_DLQ };

typedef struct {
   char names[4][96]; /* "<prefix>.inbound_<pid>_<random>", ... */
   char env[4][512];  /* "TRIAGE_TOPIC_INBOUND=<name>", ... */
} tk_test_topics_t;

/* Names the four topics after prefix and creates them with partitions
 * each. false (message printed) when the broker refuses. */
bool tk_test_topics_create (tk_test_topics_t *t, const char *prefix, int partitions);

/* Deletes the four topics (best effort). */
void tk_test_topics_delete (const tk_test_topics_t *t);

/* A producer on the test brokers with librdkafka's defaults. Finish it with
 * tk_test_kafka_producer_finish. */
rd_kafka_t *tk_test_kafka_producer_new (void);

/* Produces one message (key and value copied; key may be NULL) to topic,
 * waiting while the local queue is full; asserts it was queued. */
void tk_test_kafka_produce (rd_kafka_t *rk, const char *topic, const void *key, size_t key_len,
                            const void *value, size_t len);

/* Flushes rk (asserts the broker acknowledged every message within 30 s)
 * and destroys it. */
void tk_test_kafka_producer_finish (rd_kafka_t *rk);

/* Every message of topic's partitions [0, partitions), read from the
 * beginning to the end of each partition, parsed as JSON into a new array
 * (the caller deletes it). Asserts that every message is JSON and that the
 * end of every partition was reached within 60 s: call it once nothing
 * writes to topic any more, so the end is final. */
cJSON *tk_test_kafka_read_to_end (const char *topic, int partitions);

/* Messages of topic's partitions [0, partitions), read from the beginning
 * until want have arrived or 60 s pass, parsed as JSON into a new array
 * (the caller deletes it; it may hold fewer than want). Asserts that every
 * message is JSON. */
cJSON *tk_test_kafka_read_until (const char *topic, int partitions, int want);

#endif
