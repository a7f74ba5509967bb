/* Unit tests for common/timeutil.c: ISO-8601 parsing and formatting. */
#include "test_support.h"

#include "timeutil.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* 2025-09-13T06:38:47.513Z, computed independently with `date -u -d`. */
#define T_REF INT64_C (1757745527513)

static int64_t
parse_ok (const char *s)
{
   int64_t ms = -1;
   if (!tk_time_parse_iso (s, strlen (s), &ms)) {
      fail_msg ("expected \"%s\" to parse", s);
   }
   return ms;
}

static void
parse_bad (const char *s)
{
   int64_t ms = 12345;
   if (tk_time_parse_iso (s, strlen (s), &ms)) {
      fail_msg ("expected \"%s\" to be rejected, got %lld", s, (long long) ms);
   }
   assert_int_equal (ms, 12345); /* output untouched on failure */
}

static void
test_parse_utc_forms (void **state)
{
   (void) state;
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.513Z"), T_REF);
   assert_int_equal (parse_ok ("2025-09-13T06:38:47Z"), T_REF - 513);
   assert_int_equal (parse_ok ("2025-09-13t06:38:47.513z"), T_REF);
   assert_int_equal (parse_ok ("2025-09-13 06:38:47.513Z"), T_REF);
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.513"), T_REF); /* no zone: UTC */
   assert_int_equal (parse_ok ("1970-01-01T00:00:00Z"), 0);
   assert_int_equal (parse_ok ("1969-12-31T23:59:59.999Z"), -1);
}

static void
test_parse_fraction_any_length (void **state)
{
   (void) state;
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.5Z"), T_REF - 13);
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.51Z"), T_REF - 3);
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.513999999Z"), T_REF); /* truncated */
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.5130000000000000000001Z"), T_REF);
}

static void
test_parse_offsets (void **state)
{
   (void) state;
   /* 08:38:47.513 at +02:00 is 06:38:47.513 UTC. */
   assert_int_equal (parse_ok ("2025-09-13T08:38:47.513+02:00"), T_REF);
   assert_int_equal (parse_ok ("2025-09-13T08:38:47.513+0200"), T_REF);
   /* 01:08:47.513 at -05:30 is 06:38:47.513 UTC. */
   assert_int_equal (parse_ok ("2025-09-13T01:08:47.513-0530"), T_REF);
   assert_int_equal (parse_ok ("2025-09-13T01:08:47.513-05:30"), T_REF);
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.513+00:00"), T_REF);
   /* An offset can move the date across midnight and a year boundary. */
   assert_int_equal (parse_ok ("2025-01-01T01:00:00+02:00"), parse_ok ("2024-12-31T23:00:00Z"));
}

static void
test_parse_plain_date (void **state)
{
   (void) state;
   assert_int_equal (parse_ok ("2025-09-13"), T_REF - (6 * 3600 + 38 * 60 + 47) * 1000 - 513);
   assert_int_equal (parse_ok ("2024-02-29"), INT64_C (1709164800000));
   assert_int_equal (parse_ok ("2000-02-29"), INT64_C (951782400000));
   assert_int_equal (parse_ok ("0001-01-01"), INT64_C (-62135596800000));
   assert_int_equal (parse_ok ("9999-12-31T23:59:59.999Z"), INT64_C (253402300799999));
}

static void
test_parse_rejects_garbage_and_ranges (void **state)
{
   (void) state;
   const char *bad[] = {
      "", "yesterday", "2025", "2025-09", "2025-9-13", "25-09-13", "2025/09/13",
      "2025-13-01", "2025-00-10", "2025-09-00", "2025-09-31", "2025-02-29", "1900-02-29",
      "2100-02-29", "2025-04-31", "0000-01-01", "2025-09-13T24:00:00Z", "2025-09-13T06:60:00Z",
      "2025-09-13T06:38:60Z", "2025-09-13T06:38Z", "2025-09-13T06:38:47.Z",
      "2025-09-13T06:38:47+2", "2025-09-13T06:38:47+24:00", "2025-09-13T06:38:47+02:60",
      "2025-09-13T06:38:47ZZ", "2025-09-13T06:38:47Z ", " 2025-09-13", "2025-09-13T",
      "2025-09-13X06:38:47Z", "2025-09-13+02:00", "+2025-09-13", "2025-09-13T06:38:47.5x",
      "2025-09-13T6:38:47Z", "2025-09-13T06:38:47,5Z",
   };
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      parse_bad (bad[i]);
   }
   int64_t ms;
   /* The length argument bounds the parse: no NUL is needed or trusted. */
   assert_true (tk_time_parse_iso ("2025-09-13garbage", 10, &ms));
   assert_false (tk_time_parse_iso ("2025-09-13", 9, &ms));
   assert_false (tk_time_parse_iso (NULL, 0, &ms));
}

static void
test_format (void **state)
{
   (void) state;
   char buf[TK_TIME_ISO_BUFSIZE];
   assert_true (tk_time_format_iso (T_REF, buf, sizeof buf));
   assert_string_equal (buf, "2025-09-13T06:38:47.513Z");
   assert_true (tk_time_format_iso (0, buf, sizeof buf));
   assert_string_equal (buf, "1970-01-01T00:00:00.000Z");
   assert_true (tk_time_format_iso (-1, buf, sizeof buf));
   assert_string_equal (buf, "1969-12-31T23:59:59.999Z");
   assert_true (tk_time_format_iso (INT64_C (951782400000), buf, sizeof buf));
   assert_string_equal (buf, "2000-02-29T00:00:00.000Z");
   assert_true (tk_time_format_iso (INT64_C (253402300799999), buf, sizeof buf));
   assert_string_equal (buf, "9999-12-31T23:59:59.999Z");
   assert_true (tk_time_format_iso (INT64_C (-62135596800000), buf, sizeof buf));
   assert_string_equal (buf, "0001-01-01T00:00:00.000Z");

   assert_false (tk_time_format_iso (INT64_C (253402300800000), buf, sizeof buf)); /* 10000 */
   assert_string_equal (buf, "");
   assert_false (tk_time_format_iso (INT64_C (-62135596800001), buf, sizeof buf));
   assert_false (tk_time_format_iso (T_REF, buf, TK_TIME_ISO_BUFSIZE - 1));
}

/* Every day from 1600 to 2400 (leap rules of all three kinds) formats the
 * same as gmtime_r and parses back to the same instant. */
static void
test_format_matches_gmtime_and_round_trips (void **state)
{
   (void) state;
   char buf[TK_TIME_ISO_BUFSIZE], want[80];
   int64_t from = tk_time_days_from_civil (1600, 1, 1);
   int64_t to = tk_time_days_from_civil (2400, 12, 31);
   for (int64_t day = from; day <= to; day++) {
      /* A different time of day for each date exercises the split. */
      int64_t ms = day * 86400000 + (day * 7919 % 86400) * 1000 + (day & 1023) % 1000;
      time_t secs = (time_t) (ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
      struct tm tm;
      assert_non_null (gmtime_r (&secs, &tm));
      snprintf (want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                (int) (((ms % 1000) + 1000) % 1000));
      assert_true (tk_time_format_iso (ms, buf, sizeof buf));
      assert_string_equal (buf, want);
      int64_t back = 0;
      assert_true (tk_time_parse_iso (buf, strlen (buf), &back));
      assert_int_equal (back, ms);
   }
}

static void
test_now_is_current (void **state)
{
   (void) state;
   int64_t now = tk_time_now_ms ();
   int64_t secs = (int64_t) time (NULL);
   assert_true (now / 1000 >= secs - 1 && now / 1000 <= secs + 1);
}

static void
test_independent_of_tz (void **state)
{
   (void) state;
   setenv ("TZ", "America/St_Johns", 1); /* UTC-03:30, with DST */
   tzset ();
   assert_int_equal (parse_ok ("2025-09-13T06:38:47.513Z"), T_REF);
   char buf[TK_TIME_ISO_BUFSIZE];
   assert_true (tk_time_format_iso (T_REF, buf, sizeof buf));
   assert_string_equal (buf, "2025-09-13T06:38:47.513Z");
   unsetenv ("TZ");
   tzset ();
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_parse_utc_forms),
      cmocka_unit_test (test_parse_fraction_any_length),
      cmocka_unit_test (test_parse_offsets),
      cmocka_unit_test (test_parse_plain_date),
      cmocka_unit_test (test_parse_rejects_garbage_and_ranges),
      cmocka_unit_test (test_format),
      cmocka_unit_test (test_format_matches_gmtime_and_round_trips),
      cmocka_unit_test (test_now_is_current),
      cmocka_unit_test (test_independent_of_tz),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
