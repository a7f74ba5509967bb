/* dlq_read.c - the dead-letter topic read back with a short-lived
 * librdkafka consumer (see dlq_read.h). Blocking; threadpool only. */
#include "dlq_read.h"

#include <stdlib.h>
#include <uv.h>

/* More partitions than this is not a DLQ topic anyone made on purpose. */
#define DLQ_MAX_PARTITIONS 4096

/* The range [start, end) of each partition still to read; done once the
 * last offset before end (or the partition's end) has been seen. */
typedef struct {
   int64_t start, end;
   bool done;
} range_t;

typedef struct {
   rd_kafka_t *rk;
   range_t *ranges;
   int partitions;
   int64_t deadline_ms;
} reader_t;

/* libuv's monotonic clock (thread-safe, no loop needed), in ms. */
static int64_t
now_ms (void)
{
   return (int64_t) (uv_hrtime () / 1000000);
}

static int
left_ms (const reader_t *r)
{
   int64_t left = r->deadline_ms - now_ms ();
   return left > 0 ? (int) left : 0;
}

/* A consumer that never joins its group: partitions are assigned by hand
 * and no offset is ever committed. librdkafka 2.0 still wants a group.id
 * for an assignment, so it gets one of its own that nobody subscribes to.
 * Settings of TRIAGE_KAFKA_CONFIG go over these defaults, as for every
 * other client. */
static bool
reader_open (reader_t *r, const api_dlq_source_t *src, tk_error_t *err)
{
   char errstr[512];
   rd_kafka_conf_t *conf = tk_kafka_conf_new (src->brokers, NULL, err);
   if (!conf) {
      return false;
   }
   if (!tk_kafka_conf_set (conf, "group.id", "triage-api-dlq-reader", err) ||
       !tk_kafka_conf_set (conf, "enable.auto.commit", "false", err) ||
       !tk_kafka_conf_set (conf, "enable.auto.offset.store", "false", err) ||
       !tk_kafka_conf_set (conf, "enable.partition.eof", "true", err) ||
       !tk_kafka_conf_apply (conf, src->pt, err)) {
      rd_kafka_conf_destroy (conf);
      return false;
   }
   /* rd_kafka_new takes ownership of conf on success only. */
   if (!(r->rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
      rd_kafka_conf_destroy (conf);
      tk_error_set (err, TK_ERR_KAFKA, 0, "rd_kafka_new: %s", errstr);
      return false;
   }
   r->deadline_ms = now_ms () + src->timeout_ms;
   return true;
}

static void
reader_close (reader_t *r)
{
   if (r->rk) {
      rd_kafka_consumer_close (r->rk);
      rd_kafka_destroy (r->rk);
   }
   free (r->ranges);
}

/* The topic's partition count into r->partitions (0 when the topic does
 * not exist) and r->ranges allocated for them. */
static bool
read_partitions (reader_t *r, const char *topic, tk_error_t *err)
{
   rd_kafka_topic_t *rkt = rd_kafka_topic_new (r->rk, topic, NULL);
   const struct rd_kafka_metadata *md = NULL;
   rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata (r->rk, 0, rkt, &md, left_ms (r))
                               : rd_kafka_last_error ();
   bool ok = e == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1;
   if (!ok) {
      tk_error_set (err, TK_ERR_KAFKA, e, "metadata of topic %s: %s", topic, rd_kafka_err2str (e));
   } else if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      r->partitions = 0;
   } else if (md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      e = md->topics[0].err;
      tk_error_set (err, TK_ERR_KAFKA, e, "topic %s: %s", topic, rd_kafka_err2str (e));
      ok = false;
   } else {
      r->partitions = md->topics[0].partition_cnt;
      if (r->partitions > DLQ_MAX_PARTITIONS) {
         r->partitions = DLQ_MAX_PARTITIONS;
      }
   }
   if (ok && r->partitions > 0 &&
       !(r->ranges = calloc ((size_t) r->partitions, sizeof *r->ranges))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      ok = false;
   }
   if (md) {
      rd_kafka_metadata_destroy (md);
   }
   if (rkt) {
      rd_kafka_topic_destroy (rkt);
   }
   return ok;
}

static bool
watermarks (reader_t *r, const char *topic, int32_t p, int64_t *low, int64_t *high,
            tk_error_t *err)
{
   rd_kafka_resp_err_t e =
      rd_kafka_query_watermark_offsets (r->rk, topic, p, low, high, left_ms (r));
   if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      tk_error_set (err, TK_ERR_KAFKA, e, "offsets of %s [%d]: %s", topic, (int) p,
                    rd_kafka_err2str (e));
      return false;
   }
   return true;
}

/* Marks partition p read up to offset (the last message seen, or its end
 * when offset is -1); returns how many partitions that finished (0 or 1). */
static int
advance (reader_t *r, int32_t p, int64_t offset)
{
   if (p < 0 || p >= r->partitions || r->ranges[p].done) {
      return 0;
   }
   if (offset < 0 || offset >= r->ranges[p].end - 1) {
      r->ranges[p].done = true;
      return 1;
   }
   return 0;
}

/* Assigns every partition with start < end at its start and hands each
 * message of [start, end) to cb until all are read. Compacted topics and
 * transaction markers leave holes: a partition also ends at its end of
 * partition event. */
static bool
read_ranges (reader_t *r, const char *topic, api_dlq_message_cb cb, void *ctx, tk_error_t *err)
{
   int pending = 0;
   rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new (r->partitions);
   for (int32_t p = 0; p < r->partitions; p++) {
      if (r->ranges[p].start < r->ranges[p].end) {
         rd_kafka_topic_partition_list_add (parts, topic, p)->offset = r->ranges[p].start;
         pending++;
      } else {
         r->ranges[p].done = true;
      }
   }
   rd_kafka_resp_err_t e = pending ? rd_kafka_assign (r->rk, parts) : RD_KAFKA_RESP_ERR_NO_ERROR;
   rd_kafka_topic_partition_list_destroy (parts);
   while (e == RD_KAFKA_RESP_ERR_NO_ERROR && pending > 0 && left_ms (r) > 0) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (r->rk, left_ms (r) < 100 ? left_ms (r) : 100);
      if (!m) {
         continue;
      }
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
         pending -= advance (r, m->partition, -1);
      } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR && m->partition >= 0 &&
                 m->partition < r->partitions && !r->ranges[m->partition].done &&
                 m->offset < r->ranges[m->partition].end) {
         const api_dlq_message_t dm = {.partition = m->partition,
                                       .offset = m->offset,
                                       .timestamp_ms = rd_kafka_message_timestamp (m, NULL),
                                       .payload = m->payload,
                                       .len = m->len};
         cb (&dm, ctx);
         pending -= advance (r, m->partition, m->offset);
      }
      /* Other errors (a broker going away) are retried by librdkafka
       * until the deadline. */
      rd_kafka_message_destroy (m);
   }
   if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      tk_error_set (err, TK_ERR_KAFKA, e, "assign %s: %s", topic, rd_kafka_err2str (e));
      return false;
   }
   if (pending > 0) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__TIMED_OUT,
                    "%s: %d partition(s) not read to their end in time", topic, pending);
      return false;
   }
   return true;
}

bool
api_dlq_read_tail (const api_dlq_source_t *src, size_t per_partition, api_dlq_message_cb cb,
                   void *ctx, api_dlq_extent_t *extent, tk_error_t *err)
{
   reader_t r = {0};
   bool ok = reader_open (&r, src, err) && read_partitions (&r, src->topic, err);
   extent->partitions = ok ? r.partitions : 0;
   extent->retained = 0;
   for (int32_t p = 0; ok && p < r.partitions; p++) {
      int64_t low, high;
      ok = watermarks (&r, src->topic, p, &low, &high, err);
      if (ok) {
         extent->retained += high - low;
         int64_t from = high - (int64_t) per_partition;
         r.ranges[p].start = from > low ? from : low;
         r.ranges[p].end = high;
      }
   }
   ok = ok && read_ranges (&r, src->topic, cb, ctx, err);
   reader_close (&r);
   return ok;
}

/* The callback of api_dlq_read_one: remembers that the message came. */
typedef struct {
   api_dlq_message_cb cb;
   void *ctx;
   int64_t offset;
   bool found;
} one_t;

static void
one_message (const api_dlq_message_t *m, void *ctx)
{
   one_t *o = ctx;
   if (m->offset == o->offset && !o->found) {
      o->found = true;
      o->cb (m, o->ctx);
   }
}

bool
api_dlq_read_one (const api_dlq_source_t *src, int32_t partition, int64_t offset,
                  api_dlq_message_cb cb, void *ctx, tk_error_t *err)
{
   reader_t r = {0};
   one_t one = {.cb = cb, .ctx = ctx, .offset = offset};
   int64_t low = 0, high = 0;
   bool ok = reader_open (&r, src, err) && read_partitions (&r, src->topic, err);
   bool exists = ok && partition >= 0 && partition < r.partitions;
   ok = ok && (!exists || watermarks (&r, src->topic, partition, &low, &high, err));
   if (ok && exists && offset >= low && offset < high) {
      r.ranges[partition].start = offset;
      r.ranges[partition].end = offset + 1;
      ok = read_ranges (&r, src->topic, one_message, &one, err);
   }
   if (ok && !one.found) {
      tk_error_set (err, TK_ERR_NOT_FOUND, 0,
                    "no message at %d:%lld of %s (never written, or deleted by retention)",
                    (int) partition, (long long) offset, src->topic);
      ok = false;
   }
   reader_close (&r);
   return ok;
}
