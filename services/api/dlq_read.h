/* dlq_read.h - the dead-letter topic read back for GET /api/dlq
 * (routes_dlq.c): the newest messages of every partition, or the one
 * message at a partition and offset.
 *
 * BLOCKING: each call makes its own librdkafka consumer (it joins no
 * group: the partitions are assigned by hand and nothing is committed, so
 * reading never moves anybody's offsets), reads, and destroys it before returning. Call
 * it on a threadpool thread (api_call_run's work), never on the loop.
 * Memory stays bounded by the caller: every message is handed to a
 * callback as it arrives and forgotten when it returns.
 */
#ifndef API_DLQ_READ_H
#define API_DLQ_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "kafka.h"

/* Where to read and for how long; everything borrowed for the call. */
typedef struct {
   const char *brokers;
   const tk_kafka_passthrough_t *pt; /* TRIAGE_KAFKA_CONFIG; may be NULL */
   const char *topic;
   int timeout_ms; /* for the whole read */
} api_dlq_source_t;

/* One message, borrowed for the duration of the callback: payload is not
 * NUL-terminated and may be NULL with len 0. */
typedef struct {
   int32_t partition;
   int64_t offset;
   int64_t timestamp_ms; /* the broker's timestamp, -1 if none */
   const char *payload;
   size_t len;
} api_dlq_message_t;

typedef void (*api_dlq_message_cb) (const api_dlq_message_t *m, void *ctx);

/* What the topic holds: its partitions and the messages still retained
 * (the sum of high - low watermarks). */
typedef struct {
   int partitions;     /* 0 when the topic does not exist */
   int64_t retained;
} api_dlq_extent_t;

/* Calls cb with the last per_partition messages of every partition of the
 * topic (oldest to newest within a partition), as they stand when the call
 * starts; fills *extent. A topic that does not exist has no messages (true,
 * extent->partitions 0). false with err (TK_ERR_KAFKA) when the brokers do
 * not answer within the timeout. */
bool api_dlq_read_tail (const api_dlq_source_t *src, size_t per_partition, api_dlq_message_cb cb,
                        void *ctx, api_dlq_extent_t *extent, tk_error_t *err);

/* Calls cb once with the message at partition:offset. false with err:
 * TK_ERR_NOT_FOUND when the topic has no such message (never written,
 * already deleted by retention, or a transaction marker), TK_ERR_KAFKA when
 * the brokers do not answer within the timeout. */
bool api_dlq_read_one (const api_dlq_source_t *src, int32_t partition, int64_t offset,
                       api_dlq_message_cb cb, void *ctx, tk_error_t *err);

#endif
