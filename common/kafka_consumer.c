/* kafka_consumer.c - a Kafka group consumer served by a libuv loop.
 *
 * rd_kafka_poll_set_consumer forwards the main queue (errors, commit
 * results) to the consumer queue, whose io-event pipe a uv_poll watches. Each
 * wakeup drains the pipe and then calls rd_kafka_consumer_poll(rk, 0) at most
 * batch_max times; that call also runs the rebalance, error and commit
 * callbacks, so everything reaches the caller on the loop thread. A 1 s tick
 * polls even when no event arrives: librdkafka expels a member that does not
 * poll within max.poll.interval.ms, which an idle or paused topic would
 * otherwise cause.
 *
 * Closing uses rd_kafka_consumer_close_queue (present since librdkafka 1.9,
 * so in Debian's 2.0.2): the group is left by librdkafka's threads while its
 * final rebalance and commit results arrive on a queue served by the same
 * pipe; once rd_kafka_consumer_closed() says so, the one call that may still
 * block, rd_kafka_destroy, runs on a uv_queue_work thread.
 */
#include "kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONSUMER_DEFAULT_BATCH 64
#define CONSUMER_TICK_MS 1000
#define CONSUMER_CLOSE_TICK_MS 100
#define CONSUMER_CLOSE_EVENTS_PER_WAKEUP 64

typedef enum {
   CONSUMER_OPEN,
   CONSUMER_CLOSING,    /* close requested; starts from the next iteration */
   CONSUMER_LEAVING,    /* rd_kafka_consumer_close_queue in progress */
   CONSUMER_DESTROYING, /* rd_kafka_destroy running, then handles closing */
} consumer_state_t;

/* One pending commit; linked so a close can finish the ones never answered. */
typedef struct consumer_commit_s {
   struct consumer_commit_s *prev, *next;
   tk_kafka_consumer_t *c;
   tk_kafka_commit_cb cb;
   void *opaque;
} consumer_commit_t;

struct tk_kafka_consumer_s {
   uv_loop_t *loop;
   rd_kafka_t *rk;
   rd_kafka_queue_t *cq;     /* consumer queue while open */
   rd_kafka_queue_t *closeq; /* close queue while leaving */
   int fds[2];
   uv_poll_t poll;
   uv_timer_t kick; /* re-drains on the next iteration */
   uv_timer_t tick; /* periodic poll */
   tk_kafka__closer_t closer;

   size_t batch_max;
   rd_kafka_message_t **batch;
   tk_kafka_message_t *views;

   tk_kafka_messages_cb on_messages;
   tk_kafka_rebalance_cb on_rebalance;
   tk_kafka_error_cb on_error;
   void *opaque;

   bool paused;
   consumer_state_t state;
   consumer_commit_t commits; /* sentinel of the pending-commit list */
   tk_kafka_closed_cb on_closed;
   void *closed_opaque;
};

static void consumer_timer_cb (uv_timer_t *t);

static void
consumer_report_error (tk_kafka_consumer_t *c, int code, bool fatal, const char *reason)
{
   if (c->on_error) {
      c->on_error (code, fatal, reason, c->opaque);
   }
}

/* ---- rebalance -------------------------------------------------------- */

static void
consumer_notify_rebalance (tk_kafka_consumer_t *c, tk_kafka_rebalance_t kind,
                           const rd_kafka_topic_partition_list_t *parts)
{
   if (!c->on_rebalance) {
      return;
   }
   size_t n = parts ? (size_t) parts->cnt : 0;
   tk_kafka_partition_t one = {NULL, -1};
   tk_kafka_partition_t *list = n > 1 ? calloc (n, sizeof *list) : &one;
   if (!list) {
      consumer_report_error (c, RD_KAFKA_RESP_ERR__CRIT_SYS_RESOURCE, false,
                             "out of memory listing rebalanced partitions");
      return;
   }
   for (size_t i = 0; i < n; i++) {
      list[i].topic = parts->elems[i].topic;
      list[i].partition = parts->elems[i].partition;
   }
   c->on_rebalance (c, kind, list, n, c->opaque);
   if (list != &one) {
      free (list);
   }
}

static void
consumer_apply_rebalance (tk_kafka_consumer_t *c, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t *parts)
{
   rd_kafka_t *rk = c->rk;
   bool cooperative = strcmp (rd_kafka_rebalance_protocol (rk), "COOPERATIVE") == 0;
   rd_kafka_error_t *e = NULL;
   rd_kafka_resp_err_t r = RD_KAFKA_RESP_ERR_NO_ERROR;

   if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (cooperative) {
         e = rd_kafka_incremental_assign (rk, parts);
      } else {
         r = rd_kafka_assign (rk, parts);
      }
      /* A paused consumer stays paused across rebalances; a running one
       * resumes what it gets, because librdkafka keeps a partition's pause
       * flag across unassign and assign: one paused when it was revoked
       * (and resumed while unassigned, which resumes nothing) would come
       * back paused and never be read again. Found by the fault suite
       * (tests/faults, scenario b). */
      if (parts && parts->cnt > 0) {
         if (c->paused) {
            rd_kafka_pause_partitions (rk, parts);
         } else {
            rd_kafka_resume_partitions (rk, parts);
         }
      }
      consumer_notify_rebalance (c, TK_KAFKA_ASSIGNED, parts);
   } else {
      /* Revoked, or an error: the caller drops in-flight work first. */
      if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
         consumer_report_error (c, err, false, rd_kafka_err2str (err));
      }
      consumer_notify_rebalance (c, TK_KAFKA_REVOKED, parts);
      if (cooperative) {
         e = rd_kafka_incremental_unassign (rk, parts);
      } else {
         r = rd_kafka_assign (rk, NULL);
      }
   }
   if (e) {
      consumer_report_error (c, rd_kafka_error_code (e), false, rd_kafka_error_string (e));
      rd_kafka_error_destroy (e);
   } else if (r) {
      consumer_report_error (c, r, false, rd_kafka_err2str (r));
   }
}

static void
consumer_rebalance_cb (rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
   (void) rk;
   consumer_apply_rebalance (opaque, err, parts);
}

static void
consumer_error_cb (rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
   tk_kafka_consumer_t *c = opaque;
   if (err == RD_KAFKA_RESP_ERR__FATAL) {
      char fatal[512];
      int code = rd_kafka_fatal_error (rk, fatal, sizeof fatal);
      consumer_report_error (c, code, true, fatal);
      return;
   }
   consumer_report_error (c, err, false, reason);
}

/* ---- commits ---------------------------------------------------------- */

static void
consumer_commit_done (consumer_commit_t *req, rd_kafka_resp_err_t err,
                      const rd_kafka_topic_partition_list_t *offsets)
{
   tk_kafka_consumer_t *c = req->c;
   /* A request-level success can still carry a per-partition failure. */
   for (int i = 0; !err && offsets && i < offsets->cnt; i++) {
      err = offsets->elems[i].err;
   }
   req->prev->next = req->next;
   req->next->prev = req->prev;
   if (req->cb) {
      req->cb (c, err, req->opaque);
   }
   free (req);
}

static void
consumer_commit_cb (rd_kafka_t *rk, rd_kafka_resp_err_t err,
                    rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
   (void) rk;
   consumer_commit_done (opaque, err, offsets);
}

bool
tk_kafka_consumer_commit (tk_kafka_consumer_t *c, const char *topic, int32_t partition,
                          int64_t offset_next, tk_kafka_commit_cb cb, void *opaque,
                          tk_error_t *err)
{
   if (c->state != CONSUMER_OPEN) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__STATE, "commit: consumer is closing");
      return false;
   }
   consumer_commit_t *req = calloc (1, sizeof *req);
   if (!req) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory committing an offset");
      return false;
   }
   req->c = c;
   req->cb = cb;
   req->opaque = opaque;
   req->next = c->commits.next;
   req->prev = &c->commits;
   req->next->prev = req;
   c->commits.next = req;

   rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new (1);
   rd_kafka_topic_partition_list_add (list, topic, partition)->offset = offset_next;
   /* Asynchronous: the result is posted on the consumer queue and served by
    * our next rd_kafka_consumer_poll, which calls consumer_commit_cb. */
   rd_kafka_resp_err_t r = rd_kafka_commit_queue (c->rk, list, c->cq, consumer_commit_cb, req);
   rd_kafka_topic_partition_list_destroy (list);
   if (r) {
      req->prev->next = req->next;
      req->next->prev = req->prev;
      free (req);
      tk_error_set (err, TK_ERR_KAFKA, r, "commit %s[%d]@%lld: %s", topic, (int) partition,
                    (long long) offset_next, rd_kafka_err2str (r));
      return false;
   }
   return true;
}

/* ---- pause / resume --------------------------------------------------- */

static bool
consumer_set_paused (tk_kafka_consumer_t *c, bool pause, tk_error_t *err)
{
   if (c->state != CONSUMER_OPEN) {
      tk_error_set (err, TK_ERR_KAFKA, RD_KAFKA_RESP_ERR__STATE, "consumer is closing");
      return false;
   }
   rd_kafka_topic_partition_list_t *parts = NULL;
   rd_kafka_resp_err_t r = rd_kafka_assignment (c->rk, &parts);
   if (!r && parts->cnt > 0) {
      r = pause ? rd_kafka_pause_partitions (c->rk, parts)
                : rd_kafka_resume_partitions (c->rk, parts);
   }
   if (parts) {
      rd_kafka_topic_partition_list_destroy (parts);
   }
   if (r) {
      tk_error_set (err, TK_ERR_KAFKA, r, "%s: %s", pause ? "pause" : "resume",
                    rd_kafka_err2str (r));
      return false;
   }
   /* Also applies to partitions assigned later (see the rebalance code). */
   c->paused = pause;
   return true;
}

bool
tk_kafka_consumer_pause (tk_kafka_consumer_t *c, tk_error_t *err)
{
   return consumer_set_paused (c, true, err);
}

bool
tk_kafka_consumer_resume (tk_kafka_consumer_t *c, tk_error_t *err)
{
   if (!consumer_set_paused (c, false, err)) {
      return false;
   }
   /* Messages fetched after resume wake the pipe; poll once now anyway. */
   uv_timer_start (&c->kick, consumer_timer_cb, 0, 0);
   return true;
}

bool
tk_kafka_consumer_is_paused (const tk_kafka_consumer_t *c)
{
   return c->paused;
}

/* ---- shutdown --------------------------------------------------------- */

static void
consumer_release (void *owner)
{
   tk_kafka_consumer_t *c = owner;
   tk_kafka_closed_cb cb = c->on_closed;
   void *opaque = c->closed_opaque;
   free (c->batch);
   free (c->views);
   free (c);
   if (cb) {
      cb (opaque);
   }
}

static void
consumer_begin_destroy (tk_kafka_consumer_t *c)
{
   c->state = CONSUMER_DESTROYING;
   uv_poll_stop (&c->poll);
   uv_timer_stop (&c->kick);
   uv_timer_stop (&c->tick);
   if (c->closeq) {
      rd_kafka_queue_io_event_enable (c->closeq, -1, NULL, 0);
      rd_kafka_queue_destroy (c->closeq);
      c->closeq = NULL;
   }
   /* Commits the broker never answered end here, each callback once. */
   while (c->commits.next != &c->commits) {
      consumer_commit_done (c->commits.next, RD_KAFKA_RESP_ERR__DESTROY, NULL);
   }
   c->closer = (tk_kafka__closer_t) {
      .rk = c->rk,
      .fds = {c->fds[0], c->fds[1]},
      .handles = {(uv_handle_t *) &c->poll, (uv_handle_t *) &c->kick, (uv_handle_t *) &c->tick},
      .release = consumer_release,
      .owner = c,
   };
   c->rk = NULL;
   tk_kafka__close_rk (&c->closer, c->loop);
}

static void
consumer_begin_leave (tk_kafka_consumer_t *c)
{
   c->state = CONSUMER_LEAVING;
   /* librdkafka requires the consumer-queue reference to be gone before the
    * close, and the io event only on the final destination queue. */
   rd_kafka_queue_io_event_enable (c->cq, -1, NULL, 0);
   rd_kafka_queue_destroy (c->cq);
   c->cq = NULL;
   c->closeq = rd_kafka_queue_new (c->rk);
   rd_kafka_queue_io_event_enable (c->closeq, c->fds[1], "1", 1);
   rd_kafka_error_t *e = rd_kafka_consumer_close_queue (c->rk, c->closeq);
   if (e) {
      consumer_report_error (c, rd_kafka_error_code (e), false, rd_kafka_error_string (e));
      rd_kafka_error_destroy (e);
      consumer_begin_destroy (c);
      return;
   }
   uv_timer_start (&c->tick, consumer_timer_cb, CONSUMER_CLOSE_TICK_MS, CONSUMER_CLOSE_TICK_MS);
   uv_timer_start (&c->kick, consumer_timer_cb, 0, 0);
}

/* Serves the close queue: the final rebalance, commit results, and fetched
 * messages that are no longer delivered. */
static void
consumer_drain_leaving (tk_kafka_consumer_t *c)
{
   int served = 0;
   for (; served < CONSUMER_CLOSE_EVENTS_PER_WAKEUP; served++) {
      rd_kafka_event_t *ev = rd_kafka_queue_poll (c->closeq, 0);
      if (!ev) {
         break;
      }
      switch (rd_kafka_event_type (ev)) {
      case RD_KAFKA_EVENT_REBALANCE:
         consumer_apply_rebalance (c, rd_kafka_event_error (ev),
                                   rd_kafka_event_topic_partition_list (ev));
         break;
      case RD_KAFKA_EVENT_OFFSET_COMMIT: {
         consumer_commit_t *req = rd_kafka_event_opaque (ev);
         if (req) {
            consumer_commit_done (req, rd_kafka_event_error (ev),
                                  rd_kafka_event_topic_partition_list (ev));
         }
         break;
      }
      case RD_KAFKA_EVENT_ERROR:
         consumer_report_error (c, rd_kafka_event_error (ev),
                                rd_kafka_event_error_is_fatal (ev) != 0,
                                rd_kafka_event_error_string (ev));
         break;
      default:
         break; /* messages fetched before the close are dropped */
      }
      rd_kafka_event_destroy (ev);
   }
   if (rd_kafka_consumer_closed (c->rk)) {
      consumer_begin_destroy (c);
   } else if (served == CONSUMER_CLOSE_EVENTS_PER_WAKEUP) {
      uv_timer_start (&c->kick, consumer_timer_cb, 0, 0);
   }
}

void
tk_kafka_consumer_close (tk_kafka_consumer_t *c, tk_kafka_closed_cb on_closed, void *opaque)
{
   if (!c || c->state != CONSUMER_OPEN) {
      return;
   }
   /* Deferred to the next iteration so this is safe inside our callbacks. */
   c->state = CONSUMER_CLOSING;
   c->on_closed = on_closed;
   c->closed_opaque = opaque;
   uv_timer_start (&c->kick, consumer_timer_cb, 0, 0);
}

/* ---- delivery --------------------------------------------------------- */

static void
consumer_drain_open (tk_kafka_consumer_t *c)
{
   size_t n = 0;
   size_t polled = 0;
   /* Bounded: at most batch_max polls per wakeup, errors included. */
   while (polled < c->batch_max && c->state == CONSUMER_OPEN) {
      rd_kafka_message_t *m = rd_kafka_consumer_poll (c->rk, 0);
      if (!m) {
         break;
      }
      polled++;
      if (m->err) {
         if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            char reason[512];
            snprintf (reason, sizeof reason, "%s%s%s",
                      m->rkt ? rd_kafka_topic_name (m->rkt) : "", m->rkt ? ": " : "",
                      rd_kafka_message_errstr (m));
            consumer_report_error (c, m->err, false, reason);
         }
         rd_kafka_message_destroy (m);
         continue;
      }
      c->batch[n++] = m;
   }
   if (n > 0) {
      for (size_t i = 0; i < n; i++) {
         const rd_kafka_message_t *m = c->batch[i];
         tk_kafka_message_t *v = &c->views[i];
         v->topic = rd_kafka_topic_name (m->rkt);
         v->partition = m->partition;
         v->offset = m->offset;
         v->key = m->key;
         v->key_len = m->key_len;
         v->payload = m->payload;
         v->len = m->len;
         v->timestamp_ms = rd_kafka_message_timestamp (m, NULL);
      }
      if (c->state == CONSUMER_OPEN) {
         c->on_messages (c, c->views, n, c->opaque);
      }
      for (size_t i = 0; i < n; i++) {
         rd_kafka_message_destroy (c->batch[i]);
      }
   }
   if (polled == c->batch_max && c->state == CONSUMER_OPEN) {
      /* More may be queued, and the pipe only signals empty -> non-empty. */
      uv_timer_start (&c->kick, consumer_timer_cb, 0, 0);
   }
}

static void
consumer_drain (tk_kafka_consumer_t *c)
{
   char buf[256];
   while (read (c->fds[0], buf, sizeof buf) > 0) {
   }
   switch (c->state) {
   case CONSUMER_OPEN: consumer_drain_open (c); break;
   case CONSUMER_CLOSING: consumer_begin_leave (c); break;
   case CONSUMER_LEAVING: consumer_drain_leaving (c); break;
   case CONSUMER_DESTROYING: break;
   }
}

static void
consumer_poll_cb (uv_poll_t *h, int status, int events)
{
   (void) status;
   (void) events;
   consumer_drain (h->data);
}

static void
consumer_timer_cb (uv_timer_t *t)
{
   consumer_drain (t->data);
}

/* Frees a consumer whose handles were never started: its queue, its client,
 * its pipe and its buffers. Accepts NULL. */
static void
consumer_free_unstarted (tk_kafka_consumer_t *c)
{
   if (!c) {
      return;
   }
   if (c->cq) {
      rd_kafka_queue_io_event_enable (c->cq, -1, NULL, 0);
      rd_kafka_queue_destroy (c->cq);
   }
   if (c->rk) {
      /* Never joined a group (subscribe failed), so this returns quickly. */
      rd_kafka_destroy (c->rk);
   }
   if (c->fds[0] >= 0) {
      close (c->fds[0]);
      close (c->fds[1]);
   }
   free (c->batch);
   free (c->views);
   free (c);
}

/* A consumer with opts' callbacks and its batch buffers, neither connected
 * nor started, or NULL (err filled) when out of memory. Freed with
 * consumer_free_unstarted until it is started. */
static tk_kafka_consumer_t *
consumer_alloc (uv_loop_t *loop, const tk_kafka_consumer_opts_t *opts, tk_error_t *err)
{
   tk_kafka_consumer_t *c = calloc (1, sizeof *c);
   if (c) {
      c->fds[0] = c->fds[1] = -1;
      c->loop = loop;
      c->commits.next = c->commits.prev = &c->commits;
      c->batch_max = opts->batch_max ? opts->batch_max : CONSUMER_DEFAULT_BATCH;
      c->on_messages = opts->on_messages;
      c->on_rebalance = opts->on_rebalance;
      c->on_error = opts->on_error;
      c->opaque = opts->opaque;
      c->batch = calloc (c->batch_max, sizeof *c->batch);
      c->views = calloc (c->batch_max, sizeof *c->views);
   }
   if (!c || !c->batch || !c->views) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory creating a Kafka consumer");
      consumer_free_unstarted (c);
      return NULL;
   }
   return c;
}

/* The configuration of c's client: opts' brokers, group and pass-through
 * settings, offsets stored and committed only when asked, and c's callbacks.
 * The caller owns the result; NULL with err filled. */
static rd_kafka_conf_t *
consumer_conf_new (tk_kafka_consumer_t *c, const tk_kafka_consumer_opts_t *opts, tk_error_t *err)
{
   rd_kafka_conf_t *conf = tk_kafka_conf_new (opts->brokers, NULL, err);
   if (!conf) {
      return NULL;
   }
   if (!tk_kafka_conf_set (conf, "group.id", opts->group_id, err) ||
       !tk_kafka_conf_set (conf, "enable.auto.commit", "false", err) ||
       !tk_kafka_conf_set (conf, "enable.auto.offset.store", "false", err) ||
       !tk_kafka_conf_set (conf, "auto.offset.reset", "earliest", err) ||
       !tk_kafka_conf_apply (conf, opts->passthrough, err)) {
      rd_kafka_conf_destroy (conf);
      return NULL;
   }
   rd_kafka_conf_set_opaque (conf, c);
   rd_kafka_conf_set_rebalance_cb (conf, consumer_rebalance_cb);
   rd_kafka_conf_set_error_cb (conf, consumer_error_cb);
   return conf;
}

/* Opens c's pipe and creates c's client from conf, which it takes in every
 * case, with the consumer queue signalling the pipe. false with err filled;
 * consumer_free_unstarted frees what was made. */
static bool
consumer_connect (tk_kafka_consumer_t *c, rd_kafka_conf_t *conf, tk_error_t *err)
{
   char errstr[512] = "";
   if (pipe2 (c->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      tk_error_set (err, TK_ERR_IO, errno, "pipe2: %s", strerror (errno));
      rd_kafka_conf_destroy (conf);
      return false;
   }
   /* rd_kafka_new takes ownership of conf on success only. */
   if (!(c->rk = rd_kafka_new (RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
      tk_error_set (err, TK_ERR_KAFKA, 0, "rd_kafka_new: %s", errstr);
      rd_kafka_conf_destroy (conf);
      return false;
   }
   rd_kafka_poll_set_consumer (c->rk);
   c->cq = rd_kafka_queue_get_consumer (c->rk);
   rd_kafka_queue_io_event_enable (c->cq, c->fds[1], "1", 1);
   return true;
}

/* Subscribes c's client to opts' topics. Asynchronous: the group join
 * happens on librdkafka's threads. false with err filled. */
static bool
consumer_subscribe (tk_kafka_consumer_t *c, const tk_kafka_consumer_opts_t *opts,
                    tk_error_t *err)
{
   rd_kafka_topic_partition_list_t *topics =
      rd_kafka_topic_partition_list_new ((int) opts->n_topics);
   for (size_t i = 0; i < opts->n_topics; i++) {
      rd_kafka_topic_partition_list_add (topics, opts->topics[i], RD_KAFKA_PARTITION_UA);
   }
   rd_kafka_resp_err_t r = rd_kafka_subscribe (c->rk, topics);
   rd_kafka_topic_partition_list_destroy (topics);
   if (r) {
      tk_error_set (err, TK_ERR_KAFKA, r, "subscribe: %s", rd_kafka_err2str (r));
      return false;
   }
   return true;
}

tk_kafka_consumer_t *
tk_kafka_consumer_new (uv_loop_t *loop, const tk_kafka_consumer_opts_t *opts, tk_error_t *err)
{
   tk_kafka_consumer_t *c = NULL;
   rd_kafka_conf_t *conf = NULL;

   if (!opts->brokers || !opts->group_id || !opts->topics || opts->n_topics == 0 ||
       !opts->on_messages) {
      tk_error_set (err, TK_ERR_INVALID, 0,
                    "a Kafka consumer needs brokers, a group id, topics and on_messages");
      return NULL;
   }
   if (!(c = consumer_alloc (loop, opts, err))) {
      return NULL;
   }
   /* consumer_connect takes conf in every case. */
   if (!(conf = consumer_conf_new (c, opts, err)) || !consumer_connect (c, conf, err) ||
       !consumer_subscribe (c, opts, err)) {
      consumer_free_unstarted (c);
      return NULL;
   }

   uv_poll_init (loop, &c->poll, c->fds[0]);
   uv_timer_init (loop, &c->kick);
   uv_timer_init (loop, &c->tick);
   c->poll.data = c->kick.data = c->tick.data = c;
   uv_poll_start (&c->poll, UV_READABLE, consumer_poll_cb);
   uv_timer_start (&c->tick, consumer_timer_cb, CONSUMER_TICK_MS, CONSUMER_TICK_MS);
   return c;
}

bool
tk_kafka_consumer_watermarks (tk_kafka_consumer_t *c, const char *topic, int32_t partition,
                              int64_t *low, int64_t *high)
{
   if (!c || !c->rk) {
      return false;
   }
   int64_t lo = -1, hi = -1;
   if (rd_kafka_get_watermark_offsets (c->rk, topic, partition, &lo, &hi) !=
          RD_KAFKA_RESP_ERR_NO_ERROR ||
       hi < 0) {
      return false;
   }
   *low = lo;
   *high = hi;
   return true;
}
