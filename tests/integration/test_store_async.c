/* Integration tests for common/store_async.c: store calls through
 * uv_queue_work on a real loop, against the real MongoDB-protocol server. */
#include "store_fixture.h"
#include "test_support.h"

#include "store_async.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WAIT_MS 30000

typedef struct {
   uv_loop_t loop;
   uv_thread_t loop_thread;
   tk_store_t *store;
   char db[96];
} fixture_t;

static int
setup (void **state)
{
   fixture_t *f = calloc (1, sizeof *f);
   if (uv_loop_init (&f->loop) != 0) {
      free (f);
      return -1;
   }
   f->loop_thread = uv_thread_self ();
   /* pool_max 4 = UV_THREADPOOL_SIZE's default, as store_async.h advises */
   f->store = tk_test_store_open ("triage_test", f->db, sizeof f->db, 4);
   if (!f->store) {
      uv_loop_close (&f->loop);
      free (f);
      return -1;
   }
   *state = f;
   return 0;
}

static int
teardown (void **state)
{
   fixture_t *f = *state;
   bool dropped = tk_test_store_drop (f->store);
   free (f);
   return dropped ? 0 : -1;
}

static int64_t
wall_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tk_ticket_t *
make_ticket (const char *id)
{
   tk_ticket_t *t = tk_ticket_new ();
   t->id = strdup (id);
   t->subject = strdup ("subject");
   t->body = strdup ("body");
   return t;
}

/* ---- generic helper ----------------------------------------------------- */

typedef struct {
   fixture_t *f;
   uv_thread_t work_thread;
   bool work_ran;
   bool pinged;
   bool done;
   bool done_on_loop_thread;
   int status;
} generic_ctx_t;

static void
generic_work (tk_store_t *store, void *arg)
{
   generic_ctx_t *c = arg;
   tk_error_t err = {0};
   c->work_thread = uv_thread_self ();
   c->work_ran = true;
   c->pinged = tk_store_ping (store, &err);
}

static void
generic_done (int status, void *arg)
{
   generic_ctx_t *c = arg;
   uv_thread_t self = uv_thread_self ();
   c->done_on_loop_thread = uv_thread_equal (&self, &c->f->loop_thread);
   c->status = status;
   c->done = true;
}

static void
test_generic_runs_work_off_loop_and_done_on_loop (void **state)
{
   fixture_t *f = *state;
   generic_ctx_t c = {.f = f, .status = -1};
   assert_int_equal (tk_store_async (&f->loop, f->store, generic_work, generic_done, &c), 0);
   assert_false (c.done); /* nothing runs before the loop does */
   assert_true (tk_test_run_until (&f->loop, &c.done, WAIT_MS));
   assert_true (c.work_ran);
   assert_true (c.pinged);
   assert_false (uv_thread_equal (&c.work_thread, &f->loop_thread));
   assert_true (c.done_on_loop_thread);
   assert_int_equal (c.status, 0);
   tk_test_loop_close (&f->loop);
}

/* ---- the spec's store calls, each through tk_store_async ----------------
 * What a service does: the blocking call in the work, its result read on
 * the loop. */

typedef enum { OP_INSERT, OP_UPSERT, OP_CLASSIFY, OP_STATS } op_kind_t;

typedef struct {
   fixture_t *f;
   op_kind_t kind;
   tk_ticket_t *const *tickets; /* OP_INSERT, OP_UPSERT */
   size_t n;
   const char *id; /* OP_CLASSIFY */
   const tk_classification_t *cls;
   const tk_confidence_t *conf;
   const tk_processing_metadata_t *meta;
   /* results */
   bool done;
   bool on_loop_thread;
   bool failed;
   int err_domain;
   tk_insert_result_t res;
   tk_processing_stats_t stats;
} op_t;

static void
op_work (tk_store_t *store, void *arg)
{
   op_t *op = arg;
   tk_error_t err = {0};
   bool ok = false;
   switch (op->kind) {
   case OP_INSERT: ok = tk_store_insert_tickets (store, op->tickets, op->n, &op->res, &err); break;
   case OP_UPSERT: ok = tk_store_upsert_tickets (store, op->tickets, op->n, &op->res, &err); break;
   case OP_CLASSIFY:
      ok = tk_store_update_ticket_with_classification (store, op->id, op->cls, op->conf, op->meta,
                                                       &err);
      break;
   case OP_STATS: ok = tk_store_get_processing_stats (store, &op->stats, &err); break;
   }
   op->failed = !ok;
   op->err_domain = ok ? 0 : err.domain;
}

static void
op_done (int status, void *arg)
{
   op_t *op = arg;
   uv_thread_t self = uv_thread_self ();
   op->on_loop_thread = uv_thread_equal (&self, &op->f->loop_thread);
   op->failed = op->failed || status != 0;
   op->done = true;
}

/* Queues op and runs the loop until it is done. */
static void
run_op (op_t *op)
{
   assert_int_equal (tk_store_async (&op->f->loop, op->f->store, op_work, op_done, op), 0);
   assert_true (tk_test_run_until (&op->f->loop, &op->done, WAIT_MS));
   assert_true (op->on_loop_thread);
}

static void
test_insert_classify_stats_through_the_loop (void **state)
{
   fixture_t *f = *state;
   tk_ticket_t *tickets[] = {make_ticket ("A-1"), make_ticket ("A-2"), make_ticket ("A-1")};

   op_t ins = {.f = f, .kind = OP_INSERT, .tickets = tickets, .n = 3};
   run_op (&ins);
   assert_false (ins.failed);
   assert_int_equal (ins.res.n, 3);
   assert_int_equal (ins.res.n_stored, 2);
   assert_int_equal (ins.res.n_duplicate, 1);
   assert_int_equal (ins.res.items[2].outcome, TK_INSERT_DUPLICATE);
   assert_true (tickets[0]->created_at > 0); /* written back on the way */
   tk_insert_result_cleanup (&ins.res);

   tickets[1]->body[0] = 'B'; /* "Body": changed text for the upsert */
   op_t up = {.f = f, .kind = OP_UPSERT, .tickets = tickets, .n = 2};
   run_op (&up);
   assert_false (up.failed);
   assert_int_equal (up.res.items[0].outcome, TK_INSERT_UNCHANGED);
   assert_int_equal (up.res.items[1].outcome, TK_INSERT_CHANGED);
   tk_insert_result_cleanup (&up.res);

   char *tags[] = {"SSO"};
   tk_classification_t cls = {.n_topic_tags = 1, .sentiment = "Angry", .priority = "P0 (High)"};
   cls.topic_tags[0] = tags[0];
   tk_confidence_t conf = {0.9, 0.8, 0.7};
   tk_processing_metadata_t meta = {.processed_at = wall_ms (), .model_version = "m",
                                    .processing_time_ms = 5, .agent_version = "1.0"};
   op_t upd = {.f = f, .kind = OP_CLASSIFY, .id = "A-2", .cls = &cls, .conf = &conf, .meta = &meta};
   run_op (&upd);
   assert_false (upd.failed);

   op_t missing = upd;
   missing.id = "NOPE";
   missing.done = false;
   run_op (&missing);
   assert_true (missing.failed);
   assert_int_equal (missing.err_domain, TK_ERR_NOT_FOUND);

   op_t st = {.f = f, .kind = OP_STATS};
   run_op (&st);
   assert_false (st.failed);
   assert_int_equal (st.stats.total, 2);
   assert_int_equal (st.stats.processed, 1);
   assert_int_equal (st.stats.unprocessed, 1);
   assert_int_equal (st.stats.processed_today, 1);
   assert_int_equal (tk_processing_stats_priority (&st.stats, "P0 (High)"), 1);

   tk_test_loop_close (&f->loop);
   for (size_t i = 0; i < 3; i++) {
      tk_ticket_destroy (tickets[i]);
   }
}

/* More requests than threadpool threads and pooled clients: all complete,
 * each callback once, and the loop closes clean. */
#define N_CONCURRENT 24

static void
test_many_concurrent_requests (void **state)
{
   fixture_t *f = *state;
   tk_ticket_t *tickets[N_CONCURRENT];
   op_t s[N_CONCURRENT];
   for (size_t i = 0; i < N_CONCURRENT; i++) {
      char id[32];
      snprintf (id, sizeof id, "C-%zu", i);
      tickets[i] = make_ticket (id);
      s[i] = (op_t) {.f = f, .kind = OP_INSERT, .tickets = &tickets[i], .n = 1};
      assert_int_equal (tk_store_async (&f->loop, f->store, op_work, op_done, &s[i]), 0);
   }
   bool all_done = false;
   uint64_t deadline = tk_test_now_ms () + WAIT_MS;
   while (!all_done && tk_test_now_ms () < deadline) {
      uv_run (&f->loop, UV_RUN_ONCE);
      all_done = true;
      for (size_t i = 0; i < N_CONCURRENT; i++) {
         all_done = all_done && s[i].done;
      }
   }
   assert_true (all_done);
   for (size_t i = 0; i < N_CONCURRENT; i++) {
      assert_true (s[i].on_loop_thread);
      assert_false (s[i].failed);
      assert_int_equal (s[i].res.n_stored, 1);
      tk_insert_result_cleanup (&s[i].res);
   }
   /* The loop has nothing left: uv_run returns at once with no active work. */
   assert_int_equal (uv_run (&f->loop, UV_RUN_NOWAIT), 0);

   tk_processing_stats_t stats;
   tk_error_t err = {0};
   assert_true (tk_store_get_processing_stats (f->store, &stats, &err));
   assert_int_equal (stats.total, N_CONCURRENT);

   tk_test_loop_close (&f->loop);
   for (size_t i = 0; i < N_CONCURRENT; i++) {
      tk_ticket_destroy (tickets[i]);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown (test_generic_runs_work_off_loop_and_done_on_loop, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_insert_classify_stats_through_the_loop, setup,
                                       teardown),
      cmocka_unit_test_setup_teardown (test_many_concurrent_requests, setup, teardown),
   };
   int failed = cmocka_run_group_tests (tests, NULL, NULL);
   mongoc_cleanup ();
   return failed;
}
