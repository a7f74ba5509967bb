/* Integration tests for common/kafka*.c against the real Kafka broker of the
 * local stack: delivery reports on the loop thread, group consumption in
 * order, re-consumption from the committed offset after a restart, pause and
 * resume, and a loop that keeps ticking throughout. Each test creates its own
 * uniquely named topic and group, and deletes the topic at the end. */
#include "test_support.h"

#include "kafka.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PARTITIONS 3
#define MAX_MSGS 64
#define DEADLINE_MS 60000
/* A blocking poll on the loop thread would show up as a long gap between
 * 10 ms ticks; 500 ms leaves room for a slow, shared CI machine. */
#define MAX_TICK_GAP_MS 500

typedef struct {
   uv_loop_t loop;
   uv_thread_t loop_thread;
   char topic[96];
   char group[96];
   uv_timer_t ticker;
   uint64_t last_tick_ms;
   uint64_t max_gap_ms;
} fixture_t;

/* ---- fixture ---------------------------------------------------------- */

static void
ticker_cb (uv_timer_t *t)
{
   fixture_t *fx = t->data;
   uint64_t now = tk_test_now_ms ();
   if (now - fx->last_tick_ms > fx->max_gap_ms) {
      fx->max_gap_ms = now - fx->last_tick_ms;
   }
   fx->last_tick_ms = now;
}

/* Runs the loop until *done, measuring tick gaps only while it runs. */
static bool
run_until (fixture_t *fx, const bool *done, uint64_t timeout_ms)
{
   fx->last_tick_ms = tk_test_now_ms ();
   uv_timer_start (&fx->ticker, ticker_cb, 10, 10);
   bool ok = tk_test_run_until (&fx->loop, done, timeout_ms);
   uv_timer_stop (&fx->ticker);
   return ok;
}

static int
setup (void **state)
{
   fixture_t *fx = calloc (1, sizeof *fx);
   assert_non_null (fx);
   tk_test_unique_name ("tk_test_kafka", fx->topic, sizeof fx->topic);
   tk_test_unique_name ("tk_test_group", fx->group, sizeof fx->group);
   const char *names[] = {fx->topic};
   tk_error_t err = {0};
   if (!tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 1, PARTITIONS, 1, 30000,
                                &err)) {
      fail_msg ("create topic %s: %s", fx->topic, err.message);
   }
   /* Idempotent: creating it again is success. */
   assert_true (tk_kafka_create_topics (tk_test_kafka_brokers (), NULL, names, 1, PARTITIONS, 1,
                                        30000, &err));
   assert_int_equal (uv_loop_init (&fx->loop), 0);
   fx->loop_thread = uv_thread_self ();
   uv_timer_init (&fx->loop, &fx->ticker);
   fx->ticker.data = fx;
   *state = fx;
   return 0;
}

static int
teardown (void **state)
{
   fixture_t *fx = *state;
   uv_close ((uv_handle_t *) &fx->ticker, NULL);
   tk_test_loop_close (&fx->loop);
   const char *names[] = {fx->topic};
   tk_error_t err = {0};
   if (!tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 30000, &err)) {
      fail_msg ("delete topic %s: %s", fx->topic, err.message);
   }
   /* Idempotent too: deleting a topic that is gone is success. */
   assert_true (tk_kafka_delete_topics (tk_test_kafka_brokers (), NULL, names, 1, 30000, &err));
   free (fx);
   return 0;
}

static int
group_teardown (void **state)
{
   (void) state;
   /* Every rd_kafka_t was destroyed: librdkafka's threads are all gone. */
   assert_int_equal (rd_kafka_wait_destroyed (10000), 0);
   return 0;
}

/* ---- producing -------------------------------------------------------- */

typedef struct {
   fixture_t *fx;
   int delivered;
   int failed;
   int off_loop; /* callbacks seen on another thread */
   int32_t partition[MAX_MSGS];
   int64_t offset[MAX_MSGS];
   bool closed;
   bool flushed;
} produced_t;

typedef struct {
   produced_t *pr;
   int index;
} delivery_ctx_t;

static void
delivery_cb (tk_kafka_producer_t *p, const tk_kafka_delivery_t *d, void *opaque)
{
   (void) p;
   delivery_ctx_t *ctx = opaque;
   produced_t *pr = ctx->pr;
   uv_thread_t self = uv_thread_self ();
   if (!uv_thread_equal (&self, &pr->fx->loop_thread)) {
      pr->off_loop++;
   }
   if (d->code == 0) {
      pr->delivered++;
      pr->partition[ctx->index] = d->partition;
      pr->offset[ctx->index] = d->offset;
      assert_string_equal (d->topic, pr->fx->topic);
   } else {
      pr->failed++;
      print_error ("delivery of message %d failed: %s\n", ctx->index, d->reason);
   }
   free (ctx);
}

static void
set_true_cb (void *opaque)
{
   *(bool *) opaque = true;
}

/* Produces messages first..first+n-1 (key "k%03d", value "v%03d") and waits
 * for every delivery report, then closes the producer. */
static void
produce_range (fixture_t *fx, produced_t *pr, int first, int n)
{
   tk_error_t err = {0};
   memset (pr, 0, sizeof *pr);
   pr->fx = fx;
   tk_kafka_producer_t *p =
      tk_kafka_producer_new (&fx->loop, tk_test_kafka_brokers (), NULL, NULL, NULL, &err);
   assert_non_null (p);
   for (int i = first; i < first + n; i++) {
      char key[16], value[16];
      snprintf (key, sizeof key, "k%03d", i);
      snprintf (value, sizeof value, "v%03d", i);
      delivery_ctx_t *ctx = malloc (sizeof *ctx);
      ctx->pr = pr;
      ctx->index = i;
      if (!tk_kafka_produce (p, fx->topic, key, strlen (key), value, strlen (value), delivery_cb,
                             ctx, &err)) {
         fail_msg ("produce %d: %s", i, err.message);
      }
   }
   assert_int_equal (tk_kafka_producer_outstanding (p), (size_t) n);
   assert_true (tk_kafka_producer_flush_async (p, set_true_cb, &pr->flushed, &err));
   assert_true (run_until (fx, &pr->flushed, DEADLINE_MS));
   assert_int_equal (pr->delivered, n);
   assert_int_equal (pr->failed, 0);
   assert_int_equal (pr->off_loop, 0);
   assert_int_equal (tk_kafka_producer_outstanding (p), 0);

   tk_kafka_producer_close (p, 10000, set_true_cb, &pr->closed);
   assert_true (run_until (fx, &pr->closed, DEADLINE_MS));
   assert_true (fx->max_gap_ms < MAX_TICK_GAP_MS);
}

/* ---- consuming -------------------------------------------------------- */

typedef struct {
   fixture_t *fx;
   tk_kafka_consumer_t *c;
   int received;
   int expect;         /* done when received reaches this */
   bool done;
   int off_loop;
   int bad_payload;
   int out_of_order;   /* per partition: offsets and key numbers must grow */
   int index[MAX_MSGS * 2];
   int32_t partition[MAX_MSGS * 2];
   int64_t offset[MAX_MSGS * 2];
   int64_t last_offset[PARTITIONS];
   int last_key[PARTITIONS];
   int64_t first_offset[PARTITIONS];
   int assigned;
   int revoked;
   int commits_ok;
   int commits_failed;
   bool closed;
} consumed_t;

static void
on_messages (tk_kafka_consumer_t *c, const tk_kafka_message_t *msgs, size_t n, void *opaque)
{
   (void) c;
   consumed_t *cs = opaque;
   uv_thread_t self = uv_thread_self ();
   if (!uv_thread_equal (&self, &cs->fx->loop_thread)) {
      cs->off_loop++;
   }
   for (size_t i = 0; i < n; i++) {
      const tk_kafka_message_t *m = &msgs[i];
      assert_string_equal (m->topic, cs->fx->topic);
      assert_in_range (m->partition, 0, PARTITIONS - 1);
      assert_int_equal (m->key_len, 4);
      assert_int_equal (m->len, 4);
      int k = atoi ((const char *) m->key + 1);
      char want[8];
      snprintf (want, sizeof want, "v%03d", k);
      if (memcmp (m->payload, want, 4) != 0) {
         cs->bad_payload++;
      }
      int p = m->partition;
      if (cs->last_offset[p] >= 0 && (m->offset <= cs->last_offset[p] || k <= cs->last_key[p])) {
         cs->out_of_order++;
      }
      if (cs->first_offset[p] < 0) {
         cs->first_offset[p] = m->offset;
      }
      cs->last_offset[p] = m->offset;
      cs->last_key[p] = k;
      if (cs->received < MAX_MSGS * 2) {
         cs->index[cs->received] = k;
         cs->partition[cs->received] = m->partition;
         cs->offset[cs->received] = m->offset;
      }
      cs->received++;
   }
   if (cs->received >= cs->expect) {
      cs->done = true;
   }
}

static void
on_rebalance (tk_kafka_consumer_t *c, tk_kafka_rebalance_t kind, const tk_kafka_partition_t *parts,
              size_t n, void *opaque)
{
   (void) c;
   consumed_t *cs = opaque;
   for (size_t i = 0; i < n; i++) {
      assert_string_equal (parts[i].topic, cs->fx->topic);
   }
   if (kind == TK_KAFKA_ASSIGNED) {
      cs->assigned += (int) n;
   } else {
      cs->revoked += (int) n;
   }
}

static void
on_error (int code, bool fatal, const char *reason, void *opaque)
{
   (void) opaque;
   print_message ("kafka error %d%s: %s\n", code, fatal ? " (fatal)" : "", reason);
}

static void
consumer_start_with (fixture_t *fx, consumed_t *cs, int expect, const tk_kafka_passthrough_t *pt)
{
   memset (cs, 0, sizeof *cs);
   cs->fx = fx;
   cs->expect = expect;
   for (int p = 0; p < PARTITIONS; p++) {
      cs->last_offset[p] = cs->first_offset[p] = -1;
   }
   const char *topics[] = {fx->topic};
   tk_kafka_consumer_opts_t opts = {
      .brokers = tk_test_kafka_brokers (),
      .group_id = fx->group,
      .topics = topics,
      .n_topics = 1,
      .passthrough = pt,
      .batch_max = 7, /* small, so batches split and the kick path runs */
      .on_messages = on_messages,
      .on_rebalance = on_rebalance,
      .on_error = on_error,
      .opaque = cs,
   };
   tk_error_t err = {0};
   cs->c = tk_kafka_consumer_new (&fx->loop, &opts, &err);
   if (!cs->c) {
      fail_msg ("consumer: %s", err.message);
   }
}

static void
consumer_start (fixture_t *fx, consumed_t *cs, int expect)
{
   consumer_start_with (fx, cs, expect, NULL);
}

static void
consumer_stop (fixture_t *fx, consumed_t *cs)
{
   tk_kafka_consumer_close (cs->c, set_true_cb, &cs->closed);
   cs->c = NULL;
   assert_true (run_until (fx, &cs->closed, DEADLINE_MS));
   /* Leaving the group revoked everything it had been assigned. */
   assert_int_equal (cs->revoked, cs->assigned);
}

static void
commit_cb (tk_kafka_consumer_t *c, int code, void *opaque)
{
   (void) c;
   consumed_t *cs = opaque;
   if (code == 0) {
      cs->commits_ok++;
   } else {
      cs->commits_failed++;
      print_error ("commit failed: %s\n", rd_kafka_err2str (code));
   }
}

/* ---- tests ------------------------------------------------------------ */

static void
test_produce_and_consume_in_order (void **state)
{
   fixture_t *fx = *state;
   const int n = 60;
   produced_t pr;
   produce_range (fx, &pr, 0, n);

   /* Every key got a partition and a distinct offset within it. */
   for (int i = 0; i < n; i++) {
      assert_in_range (pr.partition[i], 0, PARTITIONS - 1);
      for (int j = 0; j < i; j++) {
         assert_false (pr.partition[i] == pr.partition[j] && pr.offset[i] == pr.offset[j]);
      }
   }

   consumed_t cs;
   consumer_start (fx, &cs, n);
   fx->max_gap_ms = 0;
   assert_true (run_until (fx, &cs.done, DEADLINE_MS));
   assert_int_equal (cs.received, n);
   assert_int_equal (cs.off_loop, 0);
   assert_int_equal (cs.bad_payload, 0);
   assert_int_equal (cs.out_of_order, 0);
   assert_int_equal (cs.assigned, PARTITIONS);
   /* Each message arrived where its delivery report said it was written. */
   for (int i = 0; i < n; i++) {
      int k = cs.index[i];
      assert_int_equal (cs.partition[i], pr.partition[k]);
      assert_int_equal (cs.offset[i], pr.offset[k]);
   }
   assert_true (fx->max_gap_ms < MAX_TICK_GAP_MS);
   print_message ("longest loop gap while consuming: %llu ms\n",
                  (unsigned long long) fx->max_gap_ms);

   /* A commit still in flight when the close starts gets exactly one
    * answer, before the close callback. */
   tk_error_t err = {0};
   assert_true (tk_kafka_consumer_commit (cs.c, fx->topic, cs.partition[n - 1],
                                          cs.offset[n - 1] + 1, commit_cb, &cs, &err));
   consumer_stop (fx, &cs);
   assert_int_equal (cs.commits_ok + cs.commits_failed, 1);
   assert_true (fx->max_gap_ms < MAX_TICK_GAP_MS);
}

static void
test_reconsume_after_restart_from_committed_offset (void **state)
{
   fixture_t *fx = *state;
   const int n = 30;
   produced_t pr;
   produce_range (fx, &pr, 0, n);

   /* First member: read everything, commit half of each partition. */
   consumed_t a;
   consumer_start (fx, &a, n);
   assert_true (run_until (fx, &a.done, DEADLINE_MS));
   assert_int_equal (a.received, n);

   int64_t committed[PARTITIONS];
   int expect_again = 0;
   int commits = 0;
   for (int p = 0; p < PARTITIONS; p++) {
      int in_p = 0;
      int64_t offsets[MAX_MSGS];
      for (int i = 0; i < n; i++) {
         if (a.partition[i] == p) {
            offsets[in_p++] = a.offset[i];
         }
      }
      committed[p] = -1;
      if (in_p == 0) {
         continue;
      }
      int keep = in_p / 2; /* processed: the first `keep` messages */
      committed[p] = keep > 0 ? offsets[keep - 1] + 1 : offsets[0];
      expect_again += in_p - keep;
      tk_error_t err = {0};
      if (!tk_kafka_consumer_commit (a.c, fx->topic, p, committed[p], commit_cb, &a, &err)) {
         fail_msg ("commit: %s", err.message);
      }
      commits++;
   }
   assert_true (expect_again > 0);
   bool all_committed = false;
   uint64_t deadline = tk_test_now_ms () + DEADLINE_MS;
   while (!all_committed && tk_test_now_ms () < deadline) {
      bool never = false;
      run_until (fx, &never, 20);
      all_committed = a.commits_ok + a.commits_failed == commits;
   }
   assert_int_equal (a.commits_ok, commits);
   consumer_stop (fx, &a);

   /* A new member of the same group resumes exactly at the committed
    * offsets: it re-reads the uncommitted messages and nothing before. */
   consumed_t b;
   consumer_start (fx, &b, expect_again);
   fx->max_gap_ms = 0;
   assert_true (run_until (fx, &b.done, DEADLINE_MS));
   assert_int_equal (b.received, expect_again);
   assert_int_equal (b.out_of_order, 0);
   assert_int_equal (b.bad_payload, 0);
   for (int p = 0; p < PARTITIONS; p++) {
      if (committed[p] >= 0) {
         assert_int_equal (b.first_offset[p], committed[p]);
         assert_int_equal (b.last_offset[p], a.last_offset[p]);
      }
   }
   assert_true (fx->max_gap_ms < MAX_TICK_GAP_MS);
   consumer_stop (fx, &b);
}

static void
test_pause_stops_delivery_resume_restarts (void **state)
{
   fixture_t *fx = *state;
   produced_t pr;
   produce_range (fx, &pr, 0, 10);

   consumed_t cs;
   consumer_start (fx, &cs, 10);
   assert_true (run_until (fx, &cs.done, DEADLINE_MS));
   assert_int_equal (cs.received, 10);

   tk_error_t err = {0};
   assert_true (tk_kafka_consumer_pause (cs.c, &err));
   assert_true (tk_kafka_consumer_is_paused (cs.c));
   produce_range (fx, &pr, 10, 10); /* acknowledged by the broker */

   /* While paused nothing arrives, though the messages are there to fetch
    * (an unpaused consumer gets them within fetch.wait.max.ms, 500 ms). */
   cs.done = false;
   cs.expect = 20;
   bool never = false;
   fx->max_gap_ms = 0;
   run_until (fx, &never, 2500);
   assert_int_equal (cs.received, 10);
   assert_true (fx->max_gap_ms < MAX_TICK_GAP_MS);

   assert_true (tk_kafka_consumer_resume (cs.c, &err));
   assert_false (tk_kafka_consumer_is_paused (cs.c));
   assert_true (run_until (fx, &cs.done, DEADLINE_MS));
   assert_int_equal (cs.received, 20);
   assert_int_equal (cs.out_of_order, 0);
   for (int i = 10; i < 20; i++) {
      assert_in_range (cs.index[i], 10, 19);
   }
   consumer_stop (fx, &cs);
}

static void
test_close_while_producing_reports_every_message (void **state)
{
   fixture_t *fx = *state;
   produced_t pr = {.fx = fx};
   tk_error_t err = {0};
   tk_kafka_producer_t *p =
      tk_kafka_producer_new (&fx->loop, tk_test_kafka_brokers (), NULL, NULL, NULL, &err);
   assert_non_null (p);
   for (int i = 0; i < 20; i++) {
      delivery_ctx_t *ctx = malloc (sizeof *ctx);
      ctx->pr = &pr;
      ctx->index = i;
      assert_true (tk_kafka_produce (p, fx->topic, "k", 1, "v", 1, delivery_cb, ctx, &err));
   }
   /* Closing straight away still reports each message exactly once. */
   tk_kafka_producer_close (p, 10000, set_true_cb, &pr.closed);
   assert_true (run_until (fx, &pr.closed, DEADLINE_MS));
   assert_int_equal (pr.delivered + pr.failed, 20);
   assert_int_equal (pr.off_loop, 0);
}

static void
test_cooperative_sticky_consume_and_leave (void **state)
{
   fixture_t *fx = *state;
   produced_t pr;
   produce_range (fx, &pr, 0, 12);
   const char *keys[] = {"partition.assignment.strategy"};
   const char *values[] = {"cooperative-sticky"};
   tk_kafka_passthrough_t pt = {keys, values, 1};
   consumed_t cs;
   consumer_start_with (fx, &cs, 12, &pt);
   assert_true (run_until (fx, &cs.done, DEADLINE_MS));
   assert_int_equal (cs.received, 12);
   assert_int_equal (cs.out_of_order, 0);
   assert_int_equal (cs.assigned, PARTITIONS);
   consumer_stop (fx, &cs);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_produce_and_consume_in_order, setup, teardown),
      cmocka_unit_test_setup_teardown (test_reconsume_after_restart_from_committed_offset, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_pause_stops_delivery_resume_restarts, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_close_while_producing_reports_every_message, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_cooperative_sticky_consume_and_leave, setup,
                                       teardown),
   };
   return cmocka_run_group_tests (tests, NULL, group_teardown);
}
