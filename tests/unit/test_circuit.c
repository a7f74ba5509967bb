/* The classifier's circuit breaker (services/classifier/circuit.h): closed
 * until `threshold` consecutive failures, then open, attempts refused; one
 * probe at a time when the worker's probe timer says so (the cool-down is
 * that timer: the circuit itself has no clock); a success closes it, a
 * failed probe leaves it open until the next probe. */
#include "test_support.h"

#include "circuit.h"

/* Records `n` failures, checking that none of them is a transition. */
static void
fail_quietly (cl_circuit_t *c, unsigned n)
{
   for (unsigned i = 0; i < n; i++) {
      assert_int_equal (cl_circuit_record (c, false), 0);
   }
}

/* Opens a closed circuit of threshold 3. */
static void
open_circuit (cl_circuit_t *c)
{
   cl_circuit_init (c, 3);
   fail_quietly (c, 2);
   assert_int_equal (cl_circuit_record (c, false), 1);
   assert_true (cl_circuit_is_open (c));
}

static void
test_closed_lets_everything_through (void **state)
{
   (void) state;
   cl_circuit_t c;
   cl_circuit_init (&c, 3);
   assert_false (cl_circuit_is_open (&c));
   for (int i = 0; i < 100; i++) {
      assert_true (cl_circuit_allows (&c));
   }
   assert_int_equal (cl_circuit_record (&c, true), 0); /* closed stays closed: no transition */
   assert_false (cl_circuit_is_open (&c));
}

static void
test_opens_after_threshold_consecutive_failures (void **state)
{
   (void) state;
   cl_circuit_t c;
   cl_circuit_init (&c, 3);
   fail_quietly (&c, 2);
   assert_false (cl_circuit_is_open (&c));
   assert_true (cl_circuit_allows (&c));
   assert_int_equal (cl_circuit_record (&c, false), 1); /* just opened */
   assert_true (cl_circuit_is_open (&c));
   /* Open: nothing goes until a probe is allowed. */
   for (int i = 0; i < 10; i++) {
      assert_false (cl_circuit_allows (&c));
   }
   /* Calls that were in flight when it opened fail too: it is already open,
    * so they are no transition, and they grant no probe. */
   fail_quietly (&c, 5);
   assert_false (cl_circuit_allows (&c));
}

static void
test_success_resets_the_count (void **state)
{
   (void) state;
   cl_circuit_t c;
   cl_circuit_init (&c, 3);
   fail_quietly (&c, 2);
   assert_int_equal (cl_circuit_record (&c, true), 0);
   fail_quietly (&c, 2); /* 2 + 2 failures, but not 3 in a row */
   assert_false (cl_circuit_is_open (&c));
   assert_int_equal (cl_circuit_record (&c, false), 1);
}

static void
test_threshold_zero_means_one (void **state)
{
   (void) state;
   cl_circuit_t c;
   cl_circuit_init (&c, 0);
   assert_int_equal (cl_circuit_record (&c, false), 1);
   assert_true (cl_circuit_is_open (&c));
}

/* The probe timer found nothing parked: the next attempt, and only that
 * one, goes as the probe. */
static void
test_allow_probe_lets_exactly_one_through (void **state)
{
   (void) state;
   cl_circuit_t c;
   open_circuit (&c);
   cl_circuit_allow_probe (&c);
   assert_true (cl_circuit_is_open (&c)); /* half-open is still open */
   assert_true (cl_circuit_allows (&c));
   assert_false (cl_circuit_allows (&c)); /* one probe at a time */
   assert_false (cl_circuit_allows (&c));
   /* Another tick of the timer while the probe is in flight lets no
    * second probe go. */
   cl_circuit_allow_probe (&c);
   assert_false (cl_circuit_allows (&c));
}

/* The probe timer picked a parked attempt, which then asks
 * cl_circuit_allows: that attempt goes, no other. */
static void
test_probe_started_lets_the_picked_attempt_through (void **state)
{
   (void) state;
   cl_circuit_t c;
   open_circuit (&c);
   cl_circuit_probe_started (&c);
   assert_true (cl_circuit_allows (&c));
   assert_false (cl_circuit_allows (&c));
}

static void
test_probe_success_closes (void **state)
{
   (void) state;
   cl_circuit_t c;
   open_circuit (&c);
   cl_circuit_allow_probe (&c);
   assert_true (cl_circuit_allows (&c));
   assert_int_equal (cl_circuit_record (&c, true), -1); /* just closed */
   assert_false (cl_circuit_is_open (&c));
   for (int i = 0; i < 10; i++) {
      assert_true (cl_circuit_allows (&c));
   }
   /* Closed again from scratch: threshold failures in a row to reopen. */
   fail_quietly (&c, 2);
   assert_false (cl_circuit_is_open (&c));
   assert_int_equal (cl_circuit_record (&c, false), 1);
}

static void
test_probe_failure_stays_open_until_next_probe (void **state)
{
   (void) state;
   cl_circuit_t c;
   open_circuit (&c);
   cl_circuit_allow_probe (&c);
   assert_true (cl_circuit_allows (&c));
   assert_int_equal (cl_circuit_record (&c, false), 0); /* still open: no transition */
   assert_true (cl_circuit_is_open (&c));
   assert_false (cl_circuit_allows (&c)); /* the failure itself grants nothing */
   /* The next cool-down: one probe again, through the parked path this time. */
   cl_circuit_probe_started (&c);
   assert_true (cl_circuit_allows (&c));
   assert_false (cl_circuit_allows (&c));
   assert_int_equal (cl_circuit_record (&c, true), -1);
   assert_false (cl_circuit_is_open (&c));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_closed_lets_everything_through),
      cmocka_unit_test (test_opens_after_threshold_consecutive_failures),
      cmocka_unit_test (test_success_resets_the_count),
      cmocka_unit_test (test_threshold_zero_means_one),
      cmocka_unit_test (test_allow_probe_lets_exactly_one_through),
      cmocka_unit_test (test_probe_started_lets_the_picked_attempt_through),
      cmocka_unit_test (test_probe_success_closes),
      cmocka_unit_test (test_probe_failure_stays_open_until_next_probe),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
