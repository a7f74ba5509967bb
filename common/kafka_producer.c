/* kafka_producer.c - an idempotent Kafka producer served by a libuv loop.
 *
 * librdkafka's main queue (delivery reports, errors) writes a byte to a pipe
 * when it becomes non-empty; a uv_poll on the pipe drains it with
 * zero-timeout rd_kafka_queue_poll calls (event API), a bounded number of
 * events per wakeup. Closing waits for outstanding deliveries through the
 * same wakeups, purges what is left at the deadline, and runs the one call
 * that may block, rd_kafka_destroy, on a uv_queue_work thread.
 */
#include "kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Events served per wakeup; a delivery-report event carries a batch of
 * messages, so this bounds the work per loop iteration, not the throughput. */
#define PRODUCER_EVENTS_PER_WAKEUP 32

/* How long to wait for purged messages' reports after the close deadline. */
#define PRODUCER_PURGE_GRACE_MS 5000

typedef enum {
   PRODUCER_OPEN,
   PRODUCER_DRAINING,   /* close called: waiting for outstanding deliveries */
   PRODUCER_DESTROYING, /* rd_kafka_destroy running, then handles closing */
} producer_state_t;

typedef struct {
   char *name;
   rd_kafka_topic_t *rkt;
} producer_topic_t;

/* One produced message's callback; freed after it has run. */
typedef struct {
   tk_kafka_delivery_cb cb;
   void *opaque;
} producer_req_t;

struct tk_kafka_producer_s {
   uv_loop_t *loop;
   rd_kafka_t *rk;
   rd_kafka_queue_t *mainq;
   int fds[2]; /* librdkafka writes to fds[1]; the loop watches fds[0] */
   uv_poll_t poll;
   uv_timer_t kick;     /* re-drains on the next iteration */
   uv_timer_t deadline; /* close deadline */
   tk_kafka__closer_t closer;

   producer_topic_t *topics;
   size_t n_topics;

   size_t outstanding;
   tk_kafka_error_cb on_error;
   void *error_opaque;

   bool flush_pending;
   void (*flush_cb) (void *opaque);
   void *flush_opaque;

   producer_state_t state;
   bool purged;
   uint64_t close_deadline_ms;
   tk_kafka_closed_cb on_closed;
   void *closed_opaque;
};

static void producer_drain (tk_kafka_producer_t *p);
static void producer_timer_cb (uv_timer_t *t);

static void
producer_set_kafka_err (tk_error_t *err, rd_kafka_resp_err_t code, const char *what)
{
   tk_error_set (err, TK_ERR_KAFKA, code, "%s: %s", what, rd_kafka_err2str (code));
}

static rd_kafka_topic_t *
producer_topic (tk_kafka_producer_t *p, const char *name, tk_error_t *err)
{
   for (size_t i = 0; i < p->n_topics; i++) {
      if (strcmp (p->topics[i].name, name) == 0) {
         return p->topics[i].rkt;
      }
   }
   producer_topic_t *grown = realloc (p->topics, (p->n_topics + 1) * sizeof *grown);
   if (!grown) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory caching topic \"%s\"", name);
      return NULL;
   }
   p->topics = grown;
   /* rd_kafka_topic_new only registers the name locally; it does not block. */
   rd_kafka_topic_t *rkt = rd_kafka_topic_new (p->rk, name, NULL);
   if (!rkt) {
      producer_set_kafka_err (err, rd_kafka_last_error (), "rd_kafka_topic_new");
      return NULL;
   }
   char *copy = strdup (name);
   if (!copy) {
      rd_kafka_topic_destroy (rkt);
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory caching topic \"%s\"", name);
      return NULL;
   }
   p->topics[p->n_topics].name = copy;
   p->topics[p->n_topics].rkt = rkt;
   p->n_topics++;
   return rkt;
}

/* ---- the close path, shared with kafka_consumer.c (kafka.h) ------------- */

static void
closer_handle_closed (uv_handle_t *h)
{
   tk_kafka__closer_t *cl = h->data;
   if (--cl->open_handles > 0) {
      return;
   }
   close (cl->fds[0]);
   close (cl->fds[1]);
   cl->release (cl->owner); /* frees cl */
}

static void
closer_work (uv_work_t *w)
{
   tk_kafka__closer_t *cl = w->data;
   /* May block while librdkafka's threads wind down: off the loop thread. */
   rd_kafka_destroy (cl->rk);
   cl->rk = NULL;
}

static void
closer_after (uv_work_t *w, int status)
{
   tk_kafka__closer_t *cl = w->data;
   (void) status;
   cl->open_handles = TK_KAFKA__CLOSER_HANDLES;
   for (int i = 0; i < TK_KAFKA__CLOSER_HANDLES; i++) {
      cl->handles[i]->data = cl;
      uv_close (cl->handles[i], closer_handle_closed);
   }
}

void
tk_kafka__close_rk (tk_kafka__closer_t *cl, uv_loop_t *loop)
{
   cl->work.data = cl;
   int rc = uv_queue_work (loop, &cl->work, closer_work, closer_after);
   if (rc != 0) {
      /* No thread pool: destroy here rather than leak the client. */
      closer_work (&cl->work);
      closer_after (&cl->work, rc);
   }
}

/* ---- closing the producer ---------------------------------------------------- */

static void
producer_release (void *owner)
{
   tk_kafka_producer_t *p = owner;
   tk_kafka_closed_cb cb = p->on_closed;
   void *opaque = p->closed_opaque;
   free (p);
   if (cb) {
      cb (opaque);
   }
}

static void
producer_begin_destroy (tk_kafka_producer_t *p)
{
   p->state = PRODUCER_DESTROYING;
   uv_poll_stop (&p->poll);
   uv_timer_stop (&p->kick);
   uv_timer_stop (&p->deadline);
   rd_kafka_queue_io_event_enable (p->mainq, -1, NULL, 0);
   rd_kafka_queue_destroy (p->mainq);
   p->mainq = NULL;
   for (size_t i = 0; i < p->n_topics; i++) {
      rd_kafka_topic_destroy (p->topics[i].rkt);
      free (p->topics[i].name);
   }
   free (p->topics);
   p->topics = NULL;
   p->n_topics = 0;
   p->closer = (tk_kafka__closer_t) {
      .rk = p->rk,
      .fds = {p->fds[0], p->fds[1]},
      .handles = {(uv_handle_t *) &p->poll, (uv_handle_t *) &p->kick,
                  (uv_handle_t *) &p->deadline},
      .release = producer_release,
      .owner = p,
   };
   p->rk = NULL;
   tk_kafka__close_rk (&p->closer, p->loop);
}

/* Runs after each drain: completes a pending flush and moves a close on. */
static void
producer_progress (tk_kafka_producer_t *p)
{
   if (p->flush_pending && p->outstanding == 0) {
      p->flush_pending = false;
      p->flush_cb (p->flush_opaque);
   }
   if (p->state != PRODUCER_DRAINING) {
      return;
   }
   if (p->outstanding == 0) {
      producer_begin_destroy (p);
      return;
   }
   if (uv_now (p->loop) >= p->close_deadline_ms) {
      if (!p->purged) {
         /* Purged messages come back as delivery reports with
          * RD_KAFKA_RESP_ERR__PURGE_QUEUE / _INFLIGHT, so every callback
          * still runs once. */
         p->purged = true;
         rd_kafka_purge (p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
                                   RD_KAFKA_PURGE_F_NON_BLOCKING);
         p->close_deadline_ms = uv_now (p->loop) + PRODUCER_PURGE_GRACE_MS;
         uv_timer_start (&p->deadline, producer_timer_cb, PRODUCER_PURGE_GRACE_MS, 0);
      } else {
         /* Reports that never came back: give up on them rather than hang
          * the shutdown. Their requests are leaked, which is bounded. */
         producer_begin_destroy (p);
      }
   }
}

static void
producer_deliver (tk_kafka_producer_t *p, const rd_kafka_message_t *m)
{
   producer_req_t *req = m->_private;
   if (p->outstanding > 0) {
      p->outstanding--;
   }
   if (!req) {
      return;
   }
   tk_kafka_delivery_t d = {
      .code = m->err,
      /* Not rd_kafka_message_errstr: on a failed delivery it returns the
       * message's own payload, which is not NUL-terminated. */
      .reason = m->err ? rd_kafka_err2str (m->err) : "",
      .topic = m->rkt ? rd_kafka_topic_name (m->rkt) : "",
      .partition = m->partition,
      .offset = m->err ? -1 : m->offset,
   };
   req->cb (p, &d, req->opaque);
   free (req);
}

static void
producer_drain (tk_kafka_producer_t *p)
{
   if (p->state == PRODUCER_DESTROYING) {
      return;
   }
   char buf[256];
   while (read (p->fds[0], buf, sizeof buf) > 0) {
   }
   int served = 0;
   for (; served < PRODUCER_EVENTS_PER_WAKEUP; served++) {
      rd_kafka_event_t *ev = rd_kafka_queue_poll (p->mainq, 0);
      if (!ev) {
         break;
      }
      switch (rd_kafka_event_type (ev)) {
      case RD_KAFKA_EVENT_DR: {
         const rd_kafka_message_t *m;
         while ((m = rd_kafka_event_message_next (ev))) {
            producer_deliver (p, m);
         }
         break;
      }
      case RD_KAFKA_EVENT_ERROR:
         if (p->on_error) {
            p->on_error (rd_kafka_event_error (ev), rd_kafka_event_error_is_fatal (ev) != 0,
                         rd_kafka_event_error_string (ev), p->error_opaque);
         }
         break;
      default:
         break;
      }
      rd_kafka_event_destroy (ev);
   }
   if (served == PRODUCER_EVENTS_PER_WAKEUP) {
      /* More may be queued, and the pipe only signals empty -> non-empty. */
      uv_timer_start (&p->kick, producer_timer_cb, 0, 0);
   }
   producer_progress (p);
}

static void
producer_poll_cb (uv_poll_t *h, int status, int events)
{
   (void) status;
   (void) events;
   producer_drain (h->data);
}

static void
producer_timer_cb (uv_timer_t *t)
{
   producer_drain (t->data);
}

tk_kafka_producer_t *
tk_kafka_producer_new (uv_loop_t *loop, const char *brokers, const tk_kafka_passthrough_t *pt,
                       tk_kafka_error_cb on_error, void *error_opaque, tk_error_t *err)
{
   tk_kafka_producer_t *p = NULL;
   rd_kafka_conf_t *conf = NULL;
   char errstr[512] = "";

   p = calloc (1, sizeof *p);
   if (!p) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory creating a Kafka producer");
      return NULL;
   }
   p->fds[0] = p->fds[1] = -1;
   p->loop = loop;
   p->on_error = on_error;
   p->error_opaque = error_opaque;

   if (!(conf = tk_kafka_conf_new (brokers, NULL, err)) ||
       !tk_kafka_conf_set (conf, "enable.idempotence", "true", err) ||
       !tk_kafka_conf_set (conf, "acks", "all", err) || !tk_kafka_conf_apply (conf, pt, err)) {
      goto fail;
   }
   /* Delivery reports and errors as events on the main queue, polled by us. */
   rd_kafka_conf_set_events (conf, RD_KAFKA_EVENT_DR | RD_KAFKA_EVENT_ERROR);

   if (pipe2 (p->fds, O_NONBLOCK | O_CLOEXEC) != 0) {
      tk_error_set (err, TK_ERR_IO, errno, "pipe2: %s", strerror (errno));
      goto fail;
   }
   /* rd_kafka_new takes ownership of conf on success only. */
   p->rk = rd_kafka_new (RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
   if (!p->rk) {
      tk_error_set (err, TK_ERR_KAFKA, 0, "rd_kafka_new: %s", errstr);
      goto fail;
   }
   conf = NULL;

   p->mainq = rd_kafka_queue_get_main (p->rk);
   rd_kafka_queue_io_event_enable (p->mainq, p->fds[1], "1", 1);

   uv_poll_init (loop, &p->poll, p->fds[0]);
   uv_timer_init (loop, &p->kick);
   uv_timer_init (loop, &p->deadline);
   p->poll.data = p->kick.data = p->deadline.data = p;
   uv_poll_start (&p->poll, UV_READABLE, producer_poll_cb);
   return p;

fail:
   if (conf) {
      rd_kafka_conf_destroy (conf);
   }
   if (p->fds[0] >= 0) {
      close (p->fds[0]);
      close (p->fds[1]);
   }
   free (p);
   return NULL;
}

bool
tk_kafka_produce (tk_kafka_producer_t *p, const char *topic, const void *key, size_t key_len,
                  const void *value, size_t value_len, tk_kafka_delivery_cb cb, void *opaque,
                  tk_error_t *err)
{
   if (p->state != PRODUCER_OPEN) {
      producer_set_kafka_err (err, RD_KAFKA_RESP_ERR__STATE, "producer is closing");
      return false;
   }
   rd_kafka_topic_t *rkt = producer_topic (p, topic, err);
   if (!rkt) {
      return false;
   }
   producer_req_t *req = NULL;
   if (cb) {
      if (!(req = malloc (sizeof *req))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory producing to \"%s\"", topic);
         return false;
      }
      req->cb = cb;
      req->opaque = opaque;
   }
   rd_kafka_vu_t vu[5];
   vu[0].vtype = RD_KAFKA_VTYPE_RKT;
   vu[0].u.rkt = rkt;
   vu[1].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
   vu[1].u.i = RD_KAFKA_MSG_F_COPY;
   vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
   vu[2].u.mem.ptr = (void *) (uintptr_t) value; /* copied (F_COPY), never written */
   vu[2].u.mem.size = value_len;
   vu[3].vtype = RD_KAFKA_VTYPE_KEY;
   vu[3].u.mem.ptr = (void *) (uintptr_t) key;
   vu[3].u.mem.size = key_len;
   vu[4].vtype = RD_KAFKA_VTYPE_OPAQUE;
   vu[4].u.ptr = req;

   rd_kafka_error_t *e = rd_kafka_produceva (p->rk, vu, 5);
   if (e) {
      tk_error_set (err, TK_ERR_KAFKA, rd_kafka_error_code (e), "produce to \"%s\": %s", topic,
                    rd_kafka_error_string (e));
      rd_kafka_error_destroy (e);
      free (req);
      return false;
   }
   p->outstanding++;
   return true;
}

size_t
tk_kafka_producer_outstanding (const tk_kafka_producer_t *p)
{
   return p->outstanding;
}

bool
tk_kafka_producer_flush_async (tk_kafka_producer_t *p, void (*cb) (void *opaque), void *opaque,
                               tk_error_t *err)
{
   if (p->flush_pending) {
      producer_set_kafka_err (err, RD_KAFKA_RESP_ERR__PREV_IN_PROGRESS, "flush");
      return false;
   }
   p->flush_pending = true;
   p->flush_cb = cb;
   p->flush_opaque = opaque;
   /* Checked after the next drain, which the kick makes happen promptly. */
   uv_timer_start (&p->kick, producer_timer_cb, 0, 0);
   return true;
}

void
tk_kafka_producer_close (tk_kafka_producer_t *p, uint64_t timeout_ms,
                         tk_kafka_closed_cb on_closed, void *opaque)
{
   if (!p || p->state != PRODUCER_OPEN) {
      return;
   }
   p->state = PRODUCER_DRAINING;
   p->on_closed = on_closed;
   p->closed_opaque = opaque;
   p->close_deadline_ms = uv_now (p->loop) + timeout_ms;
   uv_timer_start (&p->deadline, producer_timer_cb, timeout_ms, 0);
   uv_timer_start (&p->kick, producer_timer_cb, 0, 0);
}

bool
tk_kafka_producer_check_brokers (tk_kafka_producer_t *p, int timeout_ms, tk_error_t *err)
{
   const struct rd_kafka_metadata *md = NULL;
   rd_kafka_resp_err_t rc = rd_kafka_metadata (p->rk, 0, NULL, &md, timeout_ms);
   if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) {
      tk_error_set (err, TK_ERR_KAFKA, rc, "no Kafka broker answered: %s", rd_kafka_err2str (rc));
      return false;
   }
   bool ok = md->broker_cnt > 0;
   if (!ok) {
      tk_error_set (err, TK_ERR_KAFKA, 0, "the Kafka cluster reported no brokers");
   }
   rd_kafka_metadata_destroy (md);
   return ok;
}
