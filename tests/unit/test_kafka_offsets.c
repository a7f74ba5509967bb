/* Unit tests for common/kafka_offsets.c, without a broker: commits only
 * past finished work and in offset order, the two commit policies, revoke
 * handing every entry back, the lag. */
#include "test_support.h"

#include "kafka_offsets.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
   tk_offset_entry_t off;
   int released; /* times handed back */
   bool done_when_released;
} msg_t;

typedef struct {
   size_t released;
} owner_t;

static void
on_release (tk_offset_entry_t *e, void *opaque)
{
   owner_t *o = opaque;
   msg_t *m = (msg_t *) e;
   assert_null (e->part);
   assert_null (e->next);
   m->released++;
   m->done_when_released = e->done;
   o->released++;
}

static void
test_commits_past_finished_work_in_order (void **state)
{
   (void) state;
   owner_t o = {0};
   tk_offsets_t t;
   tk_offsets_init (&t, TK_OFFSETS_COMMIT_EACH, 0, on_release, &o);
   tk_offsets_part_t *p = tk_offsets_get (&t, "tickets.classify", 3);
   assert_non_null (p);
   assert_ptr_equal (tk_offsets_get (&t, "tickets.classify", 3), p);
   assert_ptr_equal (tk_offsets_find (&t, "tickets.classify", 3), p);
   assert_null (tk_offsets_find (&t, "tickets.classify", 4));
   assert_null (tk_offsets_find (&t, "other", 3));
   assert_int_equal (p->committed, -1);

   msg_t m[4];
   memset (m, 0, sizeof m);
   for (int i = 0; i < 4; i++) {
      tk_offsets_add (p, &m[i].off, 10 + i);
   }
   /* The first offset read is the group's position. */
   assert_int_equal (p->committed, 10);
   assert_int_equal (p->n, 4);
   int64_t off;
   assert_false (tk_offsets_take_commit (p, &off));

   /* Out of order: nothing to commit until the head is done. */
   assert_int_equal (tk_offsets_done (&t, &m[1].off), TK_OFFSETS_NOTHING);
   assert_int_equal (tk_offsets_done (&t, &m[3].off), TK_OFFSETS_NOTHING);
   assert_int_equal (o.released, 0);
   assert_false (tk_offsets_take_commit (p, &off));

   /* The head: it and the done one behind it are popped, in order. */
   assert_int_equal (tk_offsets_done (&t, &m[0].off), TK_OFFSETS_COMMIT_NOW);
   assert_int_equal (o.released, 2);
   assert_int_equal (m[0].released, 1);
   assert_int_equal (m[1].released, 1);
   assert_int_equal (m[3].released, 0);
   assert_int_equal (p->n, 2);
   assert_true (tk_offsets_take_commit (p, &off));
   assert_int_equal (off, 12);
   assert_false (tk_offsets_take_commit (p, &off)); /* taken once */
   tk_offsets_committed (p, off);
   assert_int_equal (p->committed, 12);

   assert_int_equal (tk_offsets_done (&t, &m[2].off), TK_OFFSETS_COMMIT_NOW);
   assert_true (tk_offsets_take_commit (p, &off));
   assert_int_equal (off, 14);
   assert_int_equal (p->n, 0);
   assert_null (p->head);
   assert_null (p->tail);
   assert_int_equal (o.released, 4);

   /* Emptied, the partition goes on at the next offset. */
   msg_t more = {0};
   tk_offsets_add (p, &more.off, 14);
   assert_int_equal (p->committed, 12); /* known already: not reset */
   assert_int_equal (tk_offsets_done (&t, &more.off), TK_OFFSETS_COMMIT_NOW);
   assert_true (tk_offsets_take_commit (p, &off));
   assert_int_equal (off, 15);
   tk_offsets_revoke_all (&t);
   assert_null (t.parts);
}

static void
test_gathered_policy (void **state)
{
   (void) state;
   owner_t o = {0};
   tk_offsets_t t;
   tk_offsets_init (&t, TK_OFFSETS_COMMIT_GATHERED, 50, on_release, &o);
   assert_int_equal (t.gather_ms, 50);
   tk_offsets_part_t *a = tk_offsets_get (&t, "tickets.inbound", 0);
   tk_offsets_part_t *b = tk_offsets_get (&t, "tickets.inbound", 1);
   assert_true (a && b && a != b);
   msg_t m[3];
   memset (m, 0, sizeof m);
   tk_offsets_add (a, &m[0].off, 0);
   tk_offsets_add (a, &m[1].off, 1);
   tk_offsets_add (b, &m[2].off, 100);
   assert_int_equal (tk_offsets_done (&t, &m[0].off), TK_OFFSETS_COMMIT_LATER);
   assert_int_equal (tk_offsets_done (&t, &m[1].off), TK_OFFSETS_COMMIT_LATER);
   /* One commit for what advanced meanwhile: the latest offset. */
   int64_t off;
   assert_true (tk_offsets_take_commit (a, &off));
   assert_int_equal (off, 2);
   assert_false (tk_offsets_take_commit (b, &off));
   assert_int_equal (tk_offsets_done (&t, &m[2].off), TK_OFFSETS_COMMIT_LATER);
   assert_true (tk_offsets_take_commit (b, &off));
   assert_int_equal (off, 101);
   tk_offsets_revoke_all (&t);
}

static void
test_revoke_hands_everything_back (void **state)
{
   (void) state;
   owner_t o = {0};
   tk_offsets_t t;
   tk_offsets_init (&t, TK_OFFSETS_COMMIT_EACH, 0, on_release, &o);
   tk_offsets_part_t *p = tk_offsets_get (&t, "tickets.classify", 0);
   tk_offsets_part_t *q = tk_offsets_get (&t, "tickets.classify", 1);
   msg_t m[3], other = {0};
   memset (m, 0, sizeof m);
   for (int i = 0; i < 3; i++) {
      tk_offsets_add (p, &m[i].off, 5 + i);
   }
   tk_offsets_add (q, &other.off, 9);
   assert_int_equal (tk_offsets_done (&t, &m[2].off), TK_OFFSETS_NOTHING);

   /* Every entry goes back, done or not; nothing is left to commit. */
   assert_int_equal (tk_offsets_revoke (&t, p), 3);
   assert_int_equal (o.released, 3);
   assert_false (m[0].done_when_released);
   assert_false (m[1].done_when_released);
   assert_true (m[2].done_when_released);
   assert_null (tk_offsets_find (&t, "tickets.classify", 0));
   assert_ptr_equal (tk_offsets_find (&t, "tickets.classify", 1), q); /* the others stay */

   /* Work that finishes after the revoke is released, never committed. */
   assert_int_equal (tk_offsets_done (&t, &m[0].off), TK_OFFSETS_NOTHING);
   assert_int_equal (m[0].released, 2);
   assert_true (m[0].done_when_released);

   /* A partition assigned again starts from the group's position. */
   p = tk_offsets_get (&t, "tickets.classify", 0);
   assert_int_equal (p->committed, -1);
   msg_t again = {0};
   tk_offsets_add (p, &again.off, 5);
   assert_int_equal (p->committed, 5);

   tk_offsets_revoke_all (&t);
   assert_null (t.parts);
   assert_int_equal (other.released, 1);
   assert_int_equal (again.released, 1);
}

static void
test_lag (void **state)
{
   (void) state;
   owner_t o = {0};
   tk_offsets_t t;
   tk_offsets_init (&t, TK_OFFSETS_COMMIT_EACH, 0, on_release, &o);
   tk_offsets_part_t *p = tk_offsets_get (&t, "x", 0);
   assert_int_equal (tk_offsets_lag (p, 100), -1); /* unknown yet */
   msg_t m = {0};
   tk_offsets_add (p, &m.off, 40);
   assert_int_equal (tk_offsets_lag (p, 100), 60);
   tk_offsets_done (&t, &m.off);
   int64_t off;
   assert_true (tk_offsets_take_commit (p, &off));
   tk_offsets_committed (p, off);
   assert_int_equal (tk_offsets_lag (p, 100), 59);
   assert_int_equal (tk_offsets_lag (p, 41), 0);
   assert_int_equal (tk_offsets_lag (p, 10), 0); /* a stale watermark is no lag */
   tk_offsets_revoke_all (&t);
}

static void
test_forget_all_leaves_entries_alone (void **state)
{
   (void) state;
   owner_t o = {0};
   tk_offsets_t t;
   tk_offsets_init (&t, TK_OFFSETS_COMMIT_EACH, 0, on_release, &o);
   msg_t m = {0};
   tk_offsets_add (tk_offsets_get (&t, "x", 0), &m.off, 1);
   tk_offsets_add (tk_offsets_get (&t, "x", 1), &(msg_t){0}.off, 1);
   tk_offsets_forget_all (&t);
   assert_null (t.parts);
   assert_int_equal (o.released, 0); /* the owner frees its records itself */
   assert_int_equal (m.released, 0);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_commits_past_finished_work_in_order),
      cmocka_unit_test (test_gathered_policy),
      cmocka_unit_test (test_revoke_hands_everything_back),
      cmocka_unit_test (test_lag),
      cmocka_unit_test (test_forget_all_leaves_entries_alone),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
