/* kafka.h - Kafka producer, consumer and admin calls driven by a libuv loop.
 *
 * Nothing here blocks the loop thread (except the admin calls, which say so).
 * Each rd_kafka_t's queue is told to write one byte to a non-blocking pipe
 * whenever it becomes non-empty (rd_kafka_queue_io_event_enable); a uv_poll
 * watches the pipe, and each wakeup drains the pipe and then the queue with
 * zero-timeout polls, at most a bounded number of events per wakeup so the
 * loop stays fair (the rest are served on the next loop iteration). Delivery
 * reports, messages, rebalances and commit results therefore reach the
 * caller's callbacks on the loop thread only.
 *
 * Settings: brokers plus an ordered list of librdkafka key=value pairs passed
 * straight to rd_kafka_conf_set (kcat's -X), so every librdkafka property is
 * reachable. Defaults this module sets (each one overridable by a pair):
 *   producer: enable.idempotence=true, acks=all
 *   consumer: enable.auto.commit=false, enable.auto.offset.store=false,
 *             auto.offset.reset=earliest
 * The consumer uses librdkafka's default eager assignors (range,roundrobin):
 * cooperative-sticky is accepted too (the rebalance code handles both
 * protocols), but the eager protocol is the one librdkafka 2.0.2 handles
 * without known incremental-rebalance bugs, so it stays the default.
 */
#ifndef TK_KAFKA_H
#define TK_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "error.h"

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */
/* ------------------------------------------------------------------------ */

/* An ordered list of librdkafka properties, applied in order after this
 * module's defaults (so a later pair wins). Borrowed: nothing here is kept
 * after the call that receives it returns. */
typedef struct {
   const char *const *keys;
   const char *const *values;
   size_t n;
} tk_kafka_passthrough_t;

/* Builds a librdkafka configuration: bootstrap.servers=brokers (if brokers is
 * not NULL), librdkafka logs routed to tk_log_rdkafka_cb, then every pair of
 * pt (which may be NULL) in order. On failure returns NULL and fills err
 * (domain TK_ERR_CONFIG, field = the offending key, code = the
 * rd_kafka_conf_res_t, message = librdkafka's errstr).
 * Returns a conf the caller owns: rd_kafka_new() takes ownership of it on
 * success, otherwise free it with rd_kafka_conf_destroy(). */
rd_kafka_conf_t *tk_kafka_conf_new (const char *brokers, const tk_kafka_passthrough_t *pt,
                                    tk_error_t *err);

/* Applies one property to conf, filling err as tk_kafka_conf_new does. */
bool tk_kafka_conf_set (rd_kafka_conf_t *conf, const char *key, const char *value,
                        tk_error_t *err);

/* Applies every pair of pt (may be NULL) to conf in order, stopping at the
 * first bad one (err as above). Used to put caller settings over defaults. */
bool tk_kafka_conf_apply (rd_kafka_conf_t *conf, const tk_kafka_passthrough_t *pt,
                          tk_error_t *err);

/* Called with librdkafka's non-fatal and fatal client errors (a broker went
 * away, a topic is unknown ...), on the loop thread. librdkafka retries the
 * non-fatal ones by itself; fatal is true when the client is unusable and
 * must be closed. reason is borrowed for the duration of the call. */
typedef void (*tk_kafka_error_cb) (int code, bool fatal, const char *reason, void *opaque);

/* Called once a close has finished and every handle is freed. */
typedef void (*tk_kafka_closed_cb) (void *opaque);

/* ------------------------------------------------------------------------ */
/* Producer                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct tk_kafka_producer_s tk_kafka_producer_t;

/* The outcome of one produced message, borrowed for the duration of the
 * delivery callback. code is 0 on success, else an rd_kafka_resp_err_t (for
 * example RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, or RD_KAFKA_RESP_ERR__PURGE_QUEUE
 * when the producer was closed before the message could be delivered). */
typedef struct {
   int code;
   const char *reason; /* "" on success */
   const char *topic;
   int32_t partition;  /* -1 if unknown */
   int64_t offset;     /* -1 if unknown */
} tk_kafka_delivery_t;

typedef void (*tk_kafka_delivery_cb) (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d,
                                      void *opaque);

/* Creates a producer on loop. brokers and pt are borrowed. on_error may be
 * NULL. Returns NULL and fills err on failure. Close it with
 * tk_kafka_producer_close (never free it directly). */
tk_kafka_producer_t *tk_kafka_producer_new (uv_loop_t *loop, const char *brokers,
                                            const tk_kafka_passthrough_t *pt,
                                            tk_kafka_error_cb on_error, void *error_opaque,
                                            tk_error_t *err);

/* Enqueues one message (key may be NULL); librdkafka copies key and value.
 * The partition is chosen by hashing the key. On success cb (which may be
 * NULL) is called exactly once on the loop thread with opaque, when the
 * broker has acknowledged the message or it has failed for good, and at the
 * latest before the close callback. On failure returns false, fills err
 * (TK_ERR_KAFKA; code RD_KAFKA_RESP_ERR__QUEUE_FULL when librdkafka's local
 * queue is full, in which case the caller should retry after some delivery
 * reports have come back, or RD_KAFKA_RESP_ERR__STATE once close has begun)
 * and cb is never called. */
bool tk_kafka_produce (tk_kafka_producer_t *p, const char *topic, const void *key,
                       size_t key_len, const void *value, size_t value_len,
                       tk_kafka_delivery_cb cb, void *opaque, tk_error_t *err);

/* Asks the cluster for its broker list (a metadata request) with the
 * producer's connections: true if a broker answered within timeout_ms.
 * BLOCKING, but thread-safe: call it from a uv_queue_work thread (readiness
 * checks do), never on the loop thread. */
bool tk_kafka_producer_check_brokers (tk_kafka_producer_t *p, int timeout_ms, tk_error_t *err);

/* Messages produced whose delivery callback has not run yet. */
size_t tk_kafka_producer_outstanding (const tk_kafka_producer_t *p);

/* Calls cb(opaque) on the loop thread once every message produced so far has
 * its delivery callback called (at once, from the next loop iteration, if
 * there is none). One flush may be pending at a time; false with
 * RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS otherwise. */
bool tk_kafka_producer_flush_async (tk_kafka_producer_t *p, void (*cb) (void *opaque),
                                    void *opaque, tk_error_t *err);

/* Stops accepting messages, waits (without blocking the loop) up to
 * timeout_ms for outstanding deliveries, then purges whatever is left (their
 * callbacks run with RD_KAFKA_RESP_ERR__PURGE_QUEUE / _INFLIGHT), destroys the
 * librdkafka handle on a uv_queue_work thread (rd_kafka_destroy may block),
 * closes the uv handles and frees p, and finally calls on_closed(opaque)
 * (on_closed may be NULL). p must not be used after this call. Accepts
 * NULL. */
void tk_kafka_producer_close (tk_kafka_producer_t *p, uint64_t timeout_ms,
                              tk_kafka_closed_cb on_closed, void *opaque);

/* ------------------------------------------------------------------------ */
/* Consumer                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct tk_kafka_consumer_s tk_kafka_consumer_t;

/* A consumed message, borrowed: valid only during the callback that receives
 * it. key and payload are not NUL-terminated and may be NULL. */
typedef struct {
   const char *topic;
   int32_t partition;
   int64_t offset;
   const void *key;
   size_t key_len;
   const void *payload;
   size_t len;
   int64_t timestamp_ms; /* -1 if the broker gave none */
} tk_kafka_message_t;

typedef struct {
   const char *topic;
   int32_t partition;
} tk_kafka_partition_t;

typedef enum {
   TK_KAFKA_ASSIGNED = 1,
   TK_KAFKA_REVOKED = 2,
} tk_kafka_rebalance_t;

/* A batch of 1..batch_max messages, in offset order within each partition.
 * Offsets are not committed: call tk_kafka_consumer_commit once the work a
 * message caused is durable. */
typedef void (*tk_kafka_messages_cb) (tk_kafka_consumer_t *c, const tk_kafka_message_t *msgs,
                                      size_t n, void *opaque);

/* Partitions assigned to or revoked from this member (borrowed list). On
 * REVOKED, drop in-flight work for those partitions: their commits will fail
 * and another member will re-consume from the last committed offset.
 * REVOKED is reported before librdkafka gives the partitions up, ASSIGNED
 * once they are assigned (and paused, if the consumer is paused). */
typedef void (*tk_kafka_rebalance_cb) (tk_kafka_consumer_t *c, tk_kafka_rebalance_t kind,
                                       const tk_kafka_partition_t *parts, size_t n,
                                       void *opaque);

/* The outcome of one tk_kafka_consumer_commit: code 0 on success, else an
 * rd_kafka_resp_err_t (RD_KAFKA_RESP_ERR__DESTROY if the consumer closed
 * before the broker answered). */
typedef void (*tk_kafka_commit_cb) (tk_kafka_consumer_t *c, int code, void *opaque);

typedef struct {
   const char *brokers;                   /* required */
   const char *group_id;                  /* required */
   const char *const *topics;             /* required, n_topics >= 1 */
   size_t n_topics;
   const tk_kafka_passthrough_t *passthrough; /* may be NULL */
   size_t batch_max;                      /* messages per callback; 0 means 64 */
   tk_kafka_messages_cb on_messages;      /* required */
   tk_kafka_rebalance_cb on_rebalance;    /* may be NULL */
   tk_kafka_error_cb on_error;            /* may be NULL */
   void *opaque;                          /* passed to the three callbacks */
} tk_kafka_consumer_opts_t;

/* Creates a group consumer on loop and subscribes it to opts->topics. opts
 * and everything it points to are borrowed (copied as needed). Returns NULL
 * and fills err on failure. Close it with tk_kafka_consumer_close. */
tk_kafka_consumer_t *tk_kafka_consumer_new (uv_loop_t *loop, const tk_kafka_consumer_opts_t *opts,
                                            tk_error_t *err);

/* Commits offset_next (the offset of the next message to read, i.e. the last
 * processed offset + 1) for topic/partition, asynchronously. cb (may be NULL)
 * runs once on the loop thread with the result, at the latest before the
 * close callback. Returns false and fills err (cb is then never called) if
 * the commit could not be sent, including RD_KAFKA_RESP_ERR__STATE once
 * tk_kafka_consumer_close has been called. */
bool tk_kafka_consumer_commit (tk_kafka_consumer_t *c, const char *topic, int32_t partition,
                               int64_t offset_next, tk_kafka_commit_cb cb, void *opaque,
                               tk_error_t *err);

/* Pauses fetching on every assigned partition, including ones assigned later,
 * until tk_kafka_consumer_resume. Messages already fetched for them are
 * discarded by librdkafka and fetched again after resume, so nothing is lost.
 * The consumer keeps serving the group (it stays a member while paused). */
bool tk_kafka_consumer_pause (tk_kafka_consumer_t *c, tk_error_t *err);
bool tk_kafka_consumer_resume (tk_kafka_consumer_t *c, tk_error_t *err);
bool tk_kafka_consumer_is_paused (const tk_kafka_consumer_t *c);

/* librdkafka's last known low and high watermarks of topic[partition], read
 * from its cache without a broker round trip (rd_kafka_get_watermark_offsets:
 * the high mark moves with each fetch, so it is as fresh as the last fetch).
 * false when librdkafka knows none yet. Loop thread. */
bool tk_kafka_consumer_watermarks (tk_kafka_consumer_t *c, const char *topic, int32_t partition,
                                   int64_t *low, int64_t *high);

/* Leaves the group cleanly without blocking the loop
 * (rd_kafka_consumer_close_queue, its rebalance served on the loop: the
 * rebalance callback sees the final REVOKED), stops delivering messages,
 * destroys the librdkafka handle on a uv_queue_work thread, closes the uv
 * handles, frees c, then calls on_closed(opaque) (may be NULL). Safe to call
 * from inside the consumer's own callbacks. c must not be used afterwards.
 * Accepts NULL. */
void tk_kafka_consumer_close (tk_kafka_consumer_t *c, tk_kafka_closed_cb on_closed, void *opaque);

/* ------------------------------------------------------------------------ */
/* Admin (blocking: for tools, tests and start-up, never on a running loop)  */
/* ------------------------------------------------------------------------ */

/* Creates the named topics, blocking up to timeout_ms. A topic that already
 * exists counts as success, so this is idempotent. replication of -1 uses
 * the broker default. */
bool tk_kafka_create_topics (const char *brokers, const tk_kafka_passthrough_t *pt,
                             const char *const *names, size_t n, int partitions,
                             int replication, int timeout_ms, tk_error_t *err);

/* Deletes the named topics, blocking up to timeout_ms. A topic that does not
 * exist counts as success. */
bool tk_kafka_delete_topics (const char *brokers, const tk_kafka_passthrough_t *pt,
                             const char *const *names, size_t n, int timeout_ms,
                             tk_error_t *err);

/* ------------------------------------------------------------------------ */
/* Internal: the close path the producer and the consumer share             */
/* (implemented in kafka_producer.c; not for callers outside common/kafka*)  */
/* ------------------------------------------------------------------------ */

#define TK_KAFKA__CLOSER_HANDLES 3

/* The last steps of closing a client whose librdkafka queue wakes the loop
 * through a pipe: rd_kafka_destroy (which may block while librdkafka's
 * threads wind down) on a uv_queue_work thread, then the client's loop
 * handles closed, then the pipe closed, then release(owner), which frees the
 * client (and this struct inside it) and calls its closed callback. The
 * owner embeds it, stops its handles and releases its queues and topics
 * first, fills every field but work and open_handles, and calls
 * tk_kafka__close_rk once. Loop thread only. */
typedef struct {
   rd_kafka_t *rk;                                  /* taken */
   int fds[2];                                      /* the wake-up pipe, taken */
   uv_handle_t *handles[TK_KAFKA__CLOSER_HANDLES]; /* stopped; their data is reused */
   void (*release) (void *owner);
   void *owner;
   uv_work_t work;
   int open_handles;
} tk_kafka__closer_t;

void tk_kafka__close_rk (tk_kafka__closer_t *cl, uv_loop_t *loop);

#endif
