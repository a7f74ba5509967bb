/* timeutil.c - ms timestamps and their ISO-8601 text form. */
#include "timeutil.h"

#include <stdio.h>
#include <time.h>

#define MS_PER_DAY INT64_C (86400000)

/* Days in a 400-year Gregorian cycle, a 100-year, 4-year and 1-year span
 * starting just after a cycle boundary. */
#define DAYS_400Y 146097
#define DAYS_100Y 36524
#define DAYS_4Y 1461
#define DAYS_1Y 365

/* Cumulative days before each month in a common year. */
static const int days_before_month[12] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};

static bool
is_leap (int y)
{
   return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
days_in_month (int y, int m)
{
   static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
   return m == 2 && is_leap (y) ? 29 : dim[m - 1];
}

/* Days from 0001-01-01 to y-01-01 (y >= 1). */
static int64_t
days_before_year (int64_t y)
{
   int64_t p = y - 1;
   return p * 365 + p / 4 - p / 100 + p / 400;
}

int64_t
tk_time_days_from_civil (int y, int m, int d)
{
   int64_t days = days_before_year (y) - days_before_year (1970);
   days += days_before_month[m - 1];
   if (m > 2 && is_leap (y)) {
      days++;
   }
   return days + (d - 1);
}

/* The inverse: splits days since 1970-01-01 into a civil date. Returns false
 * if the year would fall outside 0001..9999. */
static bool
civil_from_days (int64_t days, int *y, int *m, int *d)
{
   int64_t n = days + days_before_year (1970); /* days since 0001-01-01 */
   if (n < 0 || n >= days_before_year (10000)) {
      return false;
   }
   int64_t year = 1 + 400 * (n / DAYS_400Y);
   n %= DAYS_400Y;
   /* The last day of a 400-year cycle is day 366 of a leap year, which the
    * 100-year and 1-year divisions below would otherwise push one span too
    * far; hence the clamps to 3. */
   int64_t c = n / DAYS_100Y;
   if (c == 4) {
      c = 3;
   }
   year += 100 * c;
   n -= c * DAYS_100Y;
   year += 4 * (n / DAYS_4Y);
   n %= DAYS_4Y;
   int64_t k = n / DAYS_1Y;
   if (k == 4) {
      k = 3;
   }
   year += k;
   n -= k * DAYS_1Y; /* day of year, 0-based */

   int month = 12;
   while (month > 1) {
      int before = days_before_month[month - 1] + (month > 2 && is_leap ((int) year) ? 1 : 0);
      if (n >= before) {
         n -= before;
         break;
      }
      month--;
   }
   *y = (int) year;
   *m = month;
   *d = (int) n + 1;
   return true;
}

int64_t
tk_time_now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_REALTIME, &ts);
   return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads exactly n ASCII digits at s[*i] into *out and advances *i. */
static bool
read_digits (const char *s, size_t len, size_t *i, int n, int *out)
{
   int v = 0;
   if (*i + (size_t) n > len) {
      return false;
   }
   for (int k = 0; k < n; k++) {
      char c = s[*i + (size_t) k];
      if (c < '0' || c > '9') {
         return false;
      }
      v = v * 10 + (c - '0');
   }
   *i += (size_t) n;
   *out = v;
   return true;
}

static bool
expect (const char *s, size_t len, size_t *i, char c)
{
   if (*i < len && s[*i] == c) {
      (*i)++;
      return true;
   }
   return false;
}

/* ".fff" after the seconds, if there: milliseconds into *ms (further
 * digits are read and dropped). false for a '.' with no digits. */
static bool
read_fraction (const char *s, size_t len, size_t *i, int *ms)
{
   if (!expect (s, len, i, '.')) {
      return true;
   }
   size_t start = *i;
   int scale = 100;
   while (*i < len && s[*i] >= '0' && s[*i] <= '9') {
      *ms += (s[*i] - '0') * scale;
      scale /= 10;
      (*i)++;
   }
   return *i != start; /* "47." with no digits is refused */
}

/* "Z", "+hh:mm", "-hhmm" or nothing: the offset from UTC in minutes. */
static bool
read_offset (const char *s, size_t len, size_t *i, int64_t *offset_min)
{
   if (*i < len && (s[*i] == 'Z' || s[*i] == 'z')) {
      (*i)++;
      return true;
   }
   if (*i >= len || (s[*i] != '+' && s[*i] != '-')) {
      return true;
   }
   int sign = s[*i] == '-' ? -1 : 1;
   int oh, om;
   (*i)++;
   if (!read_digits (s, len, i, 2, &oh)) {
      return false;
   }
   expect (s, len, i, ':'); /* optional: +0530 and +05:30 */
   if (!read_digits (s, len, i, 2, &om) || oh > 23 || om > 59) {
      return false;
   }
   *offset_min = sign * (oh * 60 + om);
   return true;
}

/* The time part after the date: a 'T' (or 't' or a space), hh:mm:ss, an
 * optional fraction and an optional offset. */
static bool
read_time (const char *s, size_t len, size_t *i, int *h, int *mi, int *sec, int *ms,
           int64_t *offset_min)
{
   if (s[*i] != 'T' && s[*i] != 't' && s[*i] != ' ') {
      return false;
   }
   (*i)++;
   if (!read_digits (s, len, i, 2, h) || !expect (s, len, i, ':') ||
       !read_digits (s, len, i, 2, mi) || !expect (s, len, i, ':') ||
       !read_digits (s, len, i, 2, sec)) {
      return false;
   }
   if (*h > 23 || *mi > 59 || *sec > 59) {
      return false;
   }
   return read_fraction (s, len, i, ms) && read_offset (s, len, i, offset_min);
}

bool
tk_time_parse_iso (const char *s, size_t len, int64_t *out_ms)
{
   size_t i = 0;
   int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0;
   int64_t offset_min = 0;

   if (!s) {
      return false;
   }
   if (!read_digits (s, len, &i, 4, &y) || !expect (s, len, &i, '-') ||
       !read_digits (s, len, &i, 2, &mo) || !expect (s, len, &i, '-') ||
       !read_digits (s, len, &i, 2, &d)) {
      return false;
   }
   if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > days_in_month (y, mo)) {
      return false;
   }

   if (i < len && !read_time (s, len, &i, &h, &mi, &sec, &ms, &offset_min)) {
      return false;
   }
   if (i != len) {
      return false;
   }

   int64_t days = tk_time_days_from_civil (y, mo, d);
   int64_t t = days * MS_PER_DAY + ((int64_t) h * 3600 + mi * 60 + sec) * 1000 + ms;
   /* Local time = UTC + offset, so UTC = local - offset. */
   t -= offset_min * 60000;
   /* The offset can carry a time at the edge of the range out of it
    * ("9999-12-31T23:00:00-02:00" is in year 10000 UTC); such a time could
    * be stored but never formatted again, so it is refused here. */
   if (t < tk_time_days_from_civil (1, 1, 1) * MS_PER_DAY ||
       t >= tk_time_days_from_civil (10000, 1, 1) * MS_PER_DAY) {
      return false;
   }
   *out_ms = t;
   return true;
}

bool
tk_time_format_iso (int64_t ms, char *buf, size_t cap)
{
   int y, mo, d;
   int64_t days, rem;

   if (cap > 0) {
      buf[0] = '\0';
   }
   if (cap < TK_TIME_ISO_BUFSIZE) {
      return false;
   }
   /* Floor division, so times before 1970 land on the right day. */
   days = ms / MS_PER_DAY;
   rem = ms % MS_PER_DAY;
   if (rem < 0) {
      rem += MS_PER_DAY;
      days--;
   }
   if (!civil_from_days (days, &y, &mo, &d)) {
      return false;
   }
   int h = (int) (rem / 3600000);
   int mi = (int) (rem / 60000 % 60);
   int s = (int) (rem / 1000 % 60);
   int frac = (int) (rem % 1000);
   snprintf (buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo, d, h, mi, s, frac);
   return true;
}
