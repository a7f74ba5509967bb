/* Zone offsets (common/timezone.h): IANA names as browsers send them,
 * daylight saving time on both sides of a transition, zones a quarter or
 * half hour off the hour, the lookup cache against fresh lookups, and the
 * names refused. */
#include "test_support.h"

#include "timezone.h"

#include <string.h>

#define HOUR_MS 3600000LL
#define MIN_MS 60000LL
/* 2026-11-01T09:00:00Z: Los Angeles falls back from PDT to PST. */
#define LA_FALL_BACK 1793523600000LL
/* 2026-11-20T08:30:00Z: 00:30 on Nov 20 in Los Angeles. */
#define NOV20_0830Z 1795163400000LL
#define NOV20 20777 /* days since 1970-01-01 */

static tk_zone_t *
open_ok (const char *name)
{
   tk_error_t err;
   tk_zone_t *z = tk_zone_open (name, &err);
   if (!z) {
      fail_msg ("%s: %s", name, err.message);
   }
   assert_string_equal (tk_zone_name (z), name);
   return z;
}

static void
test_los_angeles_both_sides_of_dst (void **state)
{
   (void) state;
   tk_zone_t *z = open_ok ("America/Los_Angeles");
   assert_int_equal (tk_zone_offset_ms (z, LA_FALL_BACK - 1), -7 * HOUR_MS);
   assert_int_equal (tk_zone_offset_ms (z, LA_FALL_BACK), -8 * HOUR_MS);
   assert_int_equal (tk_zone_offset_ms (z, NOV20_0830Z), -8 * HOUR_MS);
   /* July: daylight time again. */
   assert_int_equal (tk_zone_offset_ms (z, NOV20_0830Z - 140 * 24 * HOUR_MS), -7 * HOUR_MS);
   assert_int_equal (tk_zone_day (z, NOV20_0830Z), NOV20);
   assert_int_equal (tk_zone_day (z, NOV20_0830Z - HOUR_MS), NOV20 - 1); /* 23:30 on the 19th */
   tk_zone_close (z);
}

static void
test_quarter_and_half_hour_zones (void **state)
{
   (void) state;
   tk_zone_t *kathmandu = open_ok ("Asia/Kathmandu");
   tk_zone_t *kolkata = open_ok ("Asia/Kolkata");
   assert_int_equal (tk_zone_offset_ms (kathmandu, NOV20_0830Z), 5 * HOUR_MS + 45 * MIN_MS);
   assert_int_equal (tk_zone_offset_ms (kolkata, NOV20_0830Z), 5 * HOUR_MS + 30 * MIN_MS);
   /* Midnight of Nov 20 in Kathmandu is 18:15Z on the 19th. */
   int64_t midnight = (int64_t) NOV20 * TK_DAY_MS - 5 * HOUR_MS - 45 * MIN_MS;
   assert_int_equal (tk_zone_day (kathmandu, midnight), NOV20);
   assert_int_equal (tk_zone_day (kathmandu, midnight - 1), NOV20 - 1);
   tk_zone_close (kathmandu);
   tk_zone_close (kolkata);
}

static void
test_utc_and_no_zone (void **state)
{
   (void) state;
   tk_zone_t *z = open_ok ("UTC");
   assert_int_equal (tk_zone_offset_ms (z, NOV20_0830Z), 0);
   assert_int_equal (tk_zone_day (z, (int64_t) NOV20 * TK_DAY_MS), NOV20);
   tk_zone_close (z);
   assert_int_equal (tk_zone_offset_ms (NULL, NOV20_0830Z), 0);
   assert_int_equal (tk_zone_day (NULL, (int64_t) NOV20 * TK_DAY_MS - 1), NOV20 - 1);
   assert_int_equal (tk_zone_day (NULL, -1), -1); /* before 1970: floor, not truncation */
   tk_zone_close (NULL);
}

/* Walking quarter hours across both 2026 transitions with one zone (its
 * cache in use) answers what a fresh zone answers at each instant. */
static void
test_cache_agrees_with_fresh_lookups (void **state)
{
   (void) state;
   tk_zone_t *walker = open_ok ("Europe/Paris");
   int64_t from = 1774000000000LL; /* 2026-03-20 */
   for (int64_t ms = from; ms < from + 230LL * 24 * HOUR_MS; ms += 15 * MIN_MS) {
      tk_zone_t *fresh = open_ok ("Europe/Paris");
      int64_t want = tk_zone_offset_ms (fresh, ms);
      tk_zone_close (fresh);
      if (tk_zone_offset_ms (walker, ms) != want) {
         fail_msg ("offset at %lld: %lld, fresh %lld", (long long) ms,
                   (long long) tk_zone_offset_ms (walker, ms), (long long) want);
      }
      ms += 6 * HOUR_MS; /* a sample every ~6 h keeps the test short */
   }
   /* And backwards, from after the autumn transition to before the spring one. */
   int64_t summer = tk_zone_offset_ms (walker, from + 100LL * 24 * HOUR_MS);
   assert_int_equal (summer, 2 * HOUR_MS);
   assert_int_equal (tk_zone_offset_ms (walker, from), HOUR_MS);
   tk_zone_close (walker);
}

static void
test_names_refused (void **state)
{
   (void) state;
   static const char *const bad[] = {
      "", "Mars/Olympus_Mons", "GMT+05:00", "../../etc/passwd", "America/Los Angeles",
      "Europe/Paris\n", "0123456789012345678901234567890123456789012345678901234567890123456789",
   };
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      tk_error_t err;
      tk_zone_t *z = tk_zone_open (bad[i], &err);
      if (z) {
         fail_msg ("'%s' was accepted", bad[i]);
      }
      assert_int_equal (err.domain, TK_ERR_INVALID);
      assert_non_null (strstr (err.message, "time zone"));
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_los_angeles_both_sides_of_dst),
      cmocka_unit_test (test_quarter_and_half_hour_zones),
      cmocka_unit_test (test_utc_and_no_zone),
      cmocka_unit_test (test_cache_agrees_with_fresh_lookups),
      cmocka_unit_test (test_names_refused),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
