/* test_store_queue.c - tk_store_queue (store_async.h): batches form while
 * the running ones are busy, done callbacks come in push order, a callback's
 * push joins a later batch, and a queue destroyed while busy finishes its
 * work first. No database: the batch function only records what it got. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store_async.h"

#define MAX_CTX 16

typedef struct {
   size_t batches[MAX_CTX]; /* sizes, in the order the batches ran */
   size_t n_batches;
   int done[MAX_CTX]; /* ctx numbers, in the order done_fn saw them */
   size_t n_done;
   int status[MAX_CTX];
   tk_store_queue_t *q;
   int push_from_done; /* the ctx number whose done pushes one more, or -1 */
} state_t;

static state_t st;
static int ctx_no[MAX_CTX];

/* max_running is 1 in these tests: one batch at a time touches st. */
static void
batch_fn (tk_store_t *store, void *const *ctxs, size_t n)
{
   (void) store;
   (void) ctxs;
   st.batches[st.n_batches++] = n;
}

static void
done_fn (int status, void *ctx)
{
   int no = *(int *) ctx;
   st.status[st.n_done] = status;
   st.done[st.n_done++] = no;
   if (no == st.push_from_done) {
      assert_int_equal (tk_store_queue_push (st.q, &ctx_no[9]), 0);
   }
}

static void
reset (void)
{
   memset (&st, 0, sizeof st);
   st.push_from_done = -1;
   for (int i = 0; i < MAX_CTX; i++) {
      ctx_no[i] = i;
   }
}

static void
test_batches_form_while_busy (void **state)
{
   (void) state;
   reset ();
   uv_loop_t loop;
   uv_loop_init (&loop);
   st.q = tk_store_queue_new (&loop, NULL, batch_fn, done_fn, 3, 1);
   assert_non_null (st.q);
   /* The first starts alone at once; the other four wait for it, then go
    * as a batch of three (max_batch) and one. */
   for (int i = 0; i < 5; i++) {
      assert_int_equal (tk_store_queue_push (st.q, &ctx_no[i]), 0);
   }
   assert_int_equal (tk_store_queue_last_batch (st.q), 1);
   uv_run (&loop, UV_RUN_DEFAULT);
   assert_int_equal (st.n_batches, 3);
   assert_int_equal (st.batches[0], 1);
   assert_int_equal (st.batches[1], 3);
   assert_int_equal (st.batches[2], 1);
   assert_int_equal (st.n_done, 5);
   for (int i = 0; i < 5; i++) {
      assert_int_equal (st.done[i], i);
      assert_int_equal (st.status[i], 0);
   }
   tk_store_queue_destroy (st.q);
   assert_int_equal (uv_loop_close (&loop), 0);
}

static void
test_push_from_done_joins_later_batch (void **state)
{
   (void) state;
   reset ();
   uv_loop_t loop;
   uv_loop_init (&loop);
   st.q = tk_store_queue_new (&loop, NULL, batch_fn, done_fn, 8, 1);
   st.push_from_done = 0;
   assert_int_equal (tk_store_queue_push (st.q, &ctx_no[0]), 0);
   assert_int_equal (tk_store_queue_push (st.q, &ctx_no[1]), 0);
   uv_run (&loop, UV_RUN_DEFAULT);
   /* [0], then [1] and the 9 that 0's done pushed, together. */
   assert_int_equal (st.n_batches, 2);
   assert_int_equal (st.batches[0], 1);
   assert_int_equal (st.batches[1], 2);
   assert_int_equal (st.n_done, 3);
   assert_int_equal (st.done[0], 0);
   assert_int_equal (st.done[1], 1);
   assert_int_equal (st.done[2], 9);
   tk_store_queue_destroy (st.q);
   assert_int_equal (uv_loop_close (&loop), 0);
}

static void
test_destroy_while_busy_finishes_first (void **state)
{
   (void) state;
   reset ();
   uv_loop_t loop;
   uv_loop_init (&loop);
   st.q = tk_store_queue_new (&loop, NULL, batch_fn, done_fn, 2, 1);
   for (int i = 0; i < 4; i++) {
      assert_int_equal (tk_store_queue_push (st.q, &ctx_no[i]), 0);
   }
   tk_store_queue_destroy (st.q); /* one running, three waiting */
   st.q = NULL;
   uv_run (&loop, UV_RUN_DEFAULT);
   assert_int_equal (st.n_done, 4);
   assert_int_equal (st.n_batches, 3);
   assert_int_equal (uv_loop_close (&loop), 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_batches_form_while_busy),
      cmocka_unit_test (test_push_from_done_joins_later_batch),
      cmocka_unit_test (test_destroy_while_busy_finishes_first),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
