/* Unit tests for common/key_gate.c's tables: per-key rate buckets that
 * made-up keys cannot wipe, and the per-address budget of failed
 * authentications with one report a minute. The clock is passed in. */
#include "test_support.h"

#include "key_gate.h"

#include <stdio.h>

static tk_key_gate_t *
gate_new (int rate, int burst, int failures)
{
   tk_key_gate_options_t o = {
      .rate_per_second = rate, .rate_burst = burst, .failures_per_minute = failures};
   tk_key_gate_t *g = tk_key_gate_new (uv_default_loop (), NULL, NULL, &o);
   assert_non_null (g);
   return g;
}

static void
test_key_buckets_survive_a_full_table (void **state)
{
   (void) state;
   tk_key_gate_t *g = gate_new (1, 5, 30);
   int64_t now = 1000;
   for (int i = 0; i < 5; i++) {
      assert_int_equal (tk_key_gate_take (g, "key_real", now), 0);
   }
   assert_true (tk_key_gate_take (g, "key_real", now) > 0);
   /* Far more keys than the table holds, each spending a token: none may
    * take over the real key's slot, whose bucket is not full. */
   char id[32];
   for (int i = 0; i < 4 * TK_KEY_GATE_KEYS; i++) {
      snprintf (id, sizeof id, "key_%d", i);
      (void) tk_key_gate_take (g, id, now);
   }
   assert_true (tk_key_gate_take (g, "key_real", now) > 0);
   /* Refilled after a second: one token. */
   assert_int_equal (tk_key_gate_take (g, "key_real", now + 1000), 0);
   assert_true (tk_key_gate_take (g, "key_real", now + 1000) > 0);
   tk_key_gate_destroy (g);

   g = gate_new (0, 5, 30); /* no rate limit */
   for (int i = 0; i < 100; i++) {
      assert_int_equal (tk_key_gate_take (g, "key_real", now), 0);
   }
   tk_key_gate_destroy (g);
}

static void
test_failures_per_address (void **state)
{
   (void) state;
   tk_key_gate_t *g = gate_new (0, 1, 3);
   int64_t now = 5000;
   /* Three lookups allowed, the fourth waits. */
   for (int i = 0; i < 3; i++) {
      assert_int_equal (tk_key_gate_failures_wait (g, "198.51.100.1", now), 0);
   }
   assert_true (tk_key_gate_failures_wait (g, "198.51.100.1", now) > 0);
   /* Another address has its own budget. */
   assert_int_equal (tk_key_gate_failures_wait (g, "198.51.100.2", now), 0);
   /* The first failure of a minute is reported, the rest counted. */
   assert_int_equal (tk_key_gate_fail (g, "198.51.100.1", now), 1);
   for (int i = 0; i < 50; i++) {
      assert_int_equal (tk_key_gate_fail (g, "198.51.100.1", now + i * 1000), 0);
   }
   assert_int_equal (tk_key_gate_fail (g, "198.51.100.1", now + 60000), 51);
   /* After 20 s one token has come back (3 a minute). */
   assert_int_equal (tk_key_gate_failures_wait (g, "198.51.100.1", now + 80000), 0);
   tk_key_gate_destroy (g);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_key_buckets_survive_a_full_table),
      cmocka_unit_test (test_failures_per_address),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
