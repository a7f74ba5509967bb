/* The one statistics implementation (common/ticket_tally.h): ticket
 * documents built here are counted with tk_tally_add, as a scan counts what
 * it reads, and every rendering is checked: the api's GET /api/analytics
 * (tk_tally_analytics_json) and GET /api/processing-stats
 * (tk_tally_stats_json), and the store's processing statistics
 * (tk_tally_processing_stats). */
#include "test_support.h"

#include "ticket_tally.h"

#include <math.h>
#include <string.h>

#define DAY_MS 86400000LL
/* 2024-10-04T00:00:00Z, and noon of that day as "now". */
#define DAY0 (20000 * DAY_MS)
#define NOW (DAY0 + DAY_MS / 2)

/* ---- documents ------------------------------------------------------------ */

static void
add (tk_tally_t *t, bson_t *doc)
{
   assert_non_null (doc);
   assert_true (tk_tally_add (t, doc));
   bson_destroy (doc);
}

/* A processed ticket as the classifier stores it. */
static bson_t *
processed_doc (int64_t created, int64_t processed_at, const char *priority,
               const char *sentiment, const char *tag1, const char *tag2, const char *model,
               double time_ms, double conf_topic, double conf_sentiment, double conf_priority)
{
   bson_t *doc = BCON_NEW ("id", "T", "created_at", BCON_DATE_TIME (created), "processed",
                           BCON_BOOL (true), "processing_attempts", BCON_INT32 (0),
                           "classification", "{", "priority", BCON_UTF8 (priority), "sentiment",
                           BCON_UTF8 (sentiment), "topic_tags", "[", BCON_UTF8 (tag1), "]", "}",
                           "confidence_scores", "{", "topic", BCON_DOUBLE (conf_topic),
                           "sentiment", BCON_DOUBLE (conf_sentiment), "priority",
                           BCON_DOUBLE (conf_priority), "}", "processing_metadata", "{",
                           "model_version", BCON_UTF8 (model), "processed_at",
                           BCON_DATE_TIME (processed_at), "processing_time_ms",
                           BCON_DOUBLE (time_ms), "}");
   if (tag2) {
      /* A second tag: rebuild topic_tags with both. */
      bson_t *two = BCON_NEW ("id", "T", "created_at", BCON_DATE_TIME (created), "processed",
                              BCON_BOOL (true), "processing_attempts", BCON_INT32 (0),
                              "classification", "{", "priority", BCON_UTF8 (priority),
                              "sentiment", BCON_UTF8 (sentiment), "topic_tags", "[",
                              BCON_UTF8 (tag1), BCON_UTF8 (tag2), "]", "}", "confidence_scores",
                              "{", "topic", BCON_DOUBLE (conf_topic), "sentiment",
                              BCON_DOUBLE (conf_sentiment), "priority",
                              BCON_DOUBLE (conf_priority), "}", "processing_metadata", "{",
                              "model_version", BCON_UTF8 (model), "processed_at",
                              BCON_DATE_TIME (processed_at), "processing_time_ms",
                              BCON_DOUBLE (time_ms), "}");
      bson_destroy (doc);
      doc = two;
   }
   return doc;
}

/* ---- reading the JSON ----------------------------------------------------- */

static const cJSON *
get (const cJSON *o, const char *key)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (o, key);
   if (!v) {
      fail_msg ("no member \"%s\"", key);
   }
   return v;
}

static double
num (const cJSON *o, const char *key)
{
   const cJSON *v = get (o, key);
   assert_true (cJSON_IsNumber (v));
   return v->valuedouble;
}

static void
assert_null_member (const cJSON *o, const char *key)
{
   assert_true (cJSON_IsNull (get (o, key)));
}

static void
assert_near (double got, double want)
{
   if (fabs (got - want) > 1e-9) {
      fail_msg ("%.12g != %.12g", got, want);
   }
}

/* The count of bucket i of arr (objects with "count"). */
static double
bucket (const cJSON *arr, int i)
{
   const cJSON *b = cJSON_GetArrayItem (arr, i);
   assert_non_null (b);
   return num (b, "count");
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_empty (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   assert_int_equal (tk_tally_total (t), 0);
   assert_int_equal (tk_tally_processed (t), 0);
   cJSON *a = tk_tally_analytics_json (t, NULL);
   assert_near (num (a, "total"), 0);
   assert_near (num (a, "unprocessed"), 0);
   const cJSON *rates = get (a, "error_rates");
   assert_null_member (rates, "failed_of_total"); /* no division by zero */
   assert_null_member (rates, "failed_of_attempted");
   assert_int_equal (cJSON_GetArraySize (get (a, "priority_distribution")), 0);
   assert_int_equal (cJSON_GetArraySize (get (a, "created_per_day")), 0);
   assert_null_member (get (a, "processing_time_ms"), "average");
   assert_int_equal (cJSON_GetArraySize (get (get (a, "processing_time_ms"), "buckets")), 10);
   assert_null_member (get (get (a, "confidence"), "topic"), "average");
   assert_non_null (cJSON_GetObjectItem (a, "generated_at"));
   cJSON_Delete (a);
   cJSON *s = tk_tally_stats_json (t, NULL, NULL);
   assert_near (num (s, "processed_today"), 0);
   assert_null_member (s, "average_processing_time_ms");
   assert_null_member (s, "average_confidence");
   cJSON_Delete (s);
   tk_tally_destroy (t);
   tk_tally_destroy (NULL);
}

/* total / processed / unprocessed / failed: failed is unprocessed with at
 * least one attempt; a processed ticket with attempts counts as retried. */
static void
test_counts_and_error_rates (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", NULL, "m1", 50, .9, .8, .7));
   /* processed after two failed attempts (int64 and double counts both read) */
   bson_t *retried = processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", NULL, "m1", 50, .9,
                                    .8, .7);
   bson_t *copy = bson_new ();
   bson_copy_to_excluding_noinit (retried, copy, "processing_attempts", NULL);
   BSON_APPEND_INT64 (copy, "processing_attempts", 2);
   bson_destroy (retried);
   add (t, copy);
   /* never attempted */
   add (t, BCON_NEW ("id", "U1", "created_at", BCON_DATE_TIME (DAY0), "processed",
                     BCON_BOOL (false)));
   /* failed: unprocessed with attempts */
   add (t, BCON_NEW ("id", "F1", "created_at", BCON_DATE_TIME (DAY0), "processed",
                     BCON_BOOL (false), "processing_attempts", BCON_DOUBLE (3)));
   add (t, BCON_NEW ("id", "F2", "processing_attempts", BCON_INT32 (1)));
   /* "processed" that is not the boolean true is not processed */
   add (t, BCON_NEW ("id", "S", "processed", BCON_UTF8 ("true"), "classification", "{",
                     "priority", BCON_UTF8 ("P0 (Critical)"), "}"));

   assert_int_equal (tk_tally_total (t), 6);
   assert_int_equal (tk_tally_processed (t), 2);
   cJSON *a = tk_tally_analytics_json (t, NULL);
   assert_near (num (a, "total"), 6);
   assert_near (num (a, "processed"), 2);
   assert_near (num (a, "unprocessed"), 4);
   assert_near (num (a, "failed"), 2);
   const cJSON *rates = get (a, "error_rates");
   assert_near (num (rates, "failed"), 2);
   assert_near (num (rates, "retried_then_processed"), 1);
   assert_near (num (rates, "failed_of_total"), 2.0 / 6.0);
   assert_near (num (rates, "failed_of_attempted"), 2.0 / 4.0);
   /* Labels of unprocessed tickets are not counted. */
   const cJSON *prio = get (a, "priority_distribution");
   assert_null (cJSON_GetObjectItem (prio, "P0 (Critical)"));
   assert_near (num (prio, "P1 (High)"), 2);
   cJSON_Delete (a);
   cJSON *s = tk_tally_stats_json (t, NULL, NULL);
   assert_near (num (s, "total_tickets"), 6);
   assert_near (num (s, "total_processed"), 2);
   assert_near (num (s, "total_unprocessed"), 4);
   assert_near (num (s, "failed"), 2);
   cJSON_Delete (s);
   tk_tally_destroy (t);
}

static void
test_label_distributions (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", "Billing", "m1", 50, .9, .8,
                          .7));
   add (t, processed_doc (DAY0, DAY0, "P2 (Low)", "Angry", "SSO", NULL, "m2", 50, .9, .8, .7));
   add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Neutral", "Billing", NULL, "m1", 50, .9, .8,
                          .7));
   for (int r = 0; r < 2; r++) {
      cJSON *o = r ? tk_tally_stats_json (t, NULL, NULL) : tk_tally_analytics_json (t, NULL);
      const cJSON *prio = get (o, "priority_distribution");
      assert_int_equal (cJSON_GetArraySize (prio), 2);
      assert_near (num (prio, "P1 (High)"), 2);
      assert_near (num (prio, "P2 (Low)"), 1);
      const cJSON *sent = get (o, "sentiment_distribution");
      assert_near (num (sent, "Angry"), 2);
      assert_near (num (sent, "Neutral"), 1);
      /* Every tag of a ticket counts. */
      const cJSON *topic = get (o, "topic_distribution");
      assert_int_equal (cJSON_GetArraySize (topic), 2);
      assert_near (num (topic, "SSO"), 2);
      assert_near (num (topic, "Billing"), 2);
      if (!r) {
         const cJSON *models = get (o, "model_versions");
         assert_near (num (models, "m1"), 2);
         assert_near (num (models, "m2"), 1);
      }
      cJSON_Delete (o);
   }
   tk_tally_destroy (t);
}

/* "processed today" counts from UTC midnight of now_ms. */
static void
test_processed_today (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0, DAY0 - 1, "P1 (High)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, processed_doc (DAY0, NOW, "P1 (High)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   cJSON *s = tk_tally_stats_json (t, NULL, NULL);
   assert_near (num (s, "processed_today"), 2);
   cJSON_Delete (s);
   tk_tally_destroy (t);
}

/* Around the Los Angeles midnight of Nov 20 2026 (08:00Z), "now" 12:00Z:
 * counted in UTC days and in the days of three zones. */
#define Z_NOW 1795176000000LL     /* 2026-11-20T12:00Z */
#define Z_0730 1795159800000LL    /* 2026-11-20T07:30Z: Nov 19 23:30 in LA */
#define Z_0830 1795163400000LL    /* 2026-11-20T08:30Z: Nov 20 00:30 in LA */
#define Z_19_2300 1795129200000LL /* 2026-11-19T23:00Z: Nov 19 15:00 in LA */
#define Z_19_1810 1795111800000LL /* 2026-11-19T18:10Z: Nov 19 23:55 in Kathmandu */
#define Z_19_1820 1795112400000LL /* 2026-11-19T18:20Z: Nov 20 00:05 in Kathmandu */

static tk_zone_t *
zone (const char *name)
{
   tk_error_t err;
   tk_zone_t *z = tk_zone_open (name, &err);
   assert_non_null (z);
   return z;
}

/* The count of date in a per-day series (0 when it is not listed). */
static double
day_count (const cJSON *series, const char *date)
{
   const cJSON *d;
   cJSON_ArrayForEach (d, series)
   {
      if (!strcmp (cJSON_GetStringValue (get (d, "date")), date)) {
         return num (d, "count");
      }
   }
   return 0;
}

static void
test_days_of_a_zone (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (Z_NOW);
   static const int64_t at[] = {Z_0730, Z_0830, Z_19_2300, Z_19_1810, Z_19_1820};
   for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
      add (t, processed_doc (at[i], at[i], "P1 (High)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   }
   static const struct {
      const char *tz;
      double today, nov19, nov20;
   } want[] = {
      {NULL, 2, 3, 2},                  /* UTC: 07:30Z and 08:30Z are today */
      {"America/Los_Angeles", 1, 4, 1}, /* only 00:30 local is today */
      {"Asia/Kathmandu", 4, 1, 4},      /* from 18:15Z on the 19th */
   };
   for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
      tk_zone_t *z = want[i].tz ? zone (want[i].tz) : NULL;
      cJSON *s = tk_tally_stats_json (t, NULL, z);
      cJSON *a = tk_tally_analytics_json (t, z);
      assert_non_null (a);
      assert_near (num (s, "processed_today"), want[i].today);
      assert_string_equal (cJSON_GetStringValue (get (s, "time_zone")), want[i].tz ? want[i].tz : "UTC");
      assert_string_equal (cJSON_GetStringValue (get (a, "time_zone")), want[i].tz ? want[i].tz : "UTC");
      for (int k = 0; k < 2; k++) {
         const cJSON *series = get (a, k ? "processed_per_day" : "created_per_day");
         assert_near (day_count (series, "2026-11-19"), want[i].nov19);
         assert_near (day_count (series, "2026-11-20"), want[i].nov20);
      }
      cJSON_Delete (s);
      cJSON_Delete (a);
      tk_zone_close (z);
   }
   tk_processing_stats_t ps;
   tk_tally_processing_stats (t, &ps);
   assert_int_equal (ps.processed_today, 2); /* the store's statistics stay in UTC */
   tk_tally_destroy (t);
}

/* Nov 1 2026 lasts 25 hours in Los Angeles: 00:30 PDT (07:30Z) and 23:30
 * PST (07:30Z the next day) are the same local day. */
static void
test_a_25_hour_day (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (Z_NOW);
   add (t, BCON_NEW ("id", "A", "created_at", BCON_DATE_TIME (1793518200000LL), "processed",
                     BCON_BOOL (false)));
   add (t, BCON_NEW ("id", "B", "created_at", BCON_DATE_TIME (1793604600000LL), "processed",
                     BCON_BOOL (false)));
   tk_zone_t *z = zone ("America/Los_Angeles");
   cJSON *a = tk_tally_analytics_json (t, z);
   const cJSON *created = get (a, "created_per_day");
   assert_int_equal (cJSON_GetArraySize (created), 1);
   assert_near (day_count (created, "2026-11-01"), 2);
   cJSON_Delete (a);
   a = tk_tally_analytics_json (t, NULL); /* UTC: two days */
   assert_near (day_count (get (a, "created_per_day"), "2026-11-01"), 1);
   assert_near (day_count (get (a, "created_per_day"), "2026-11-02"), 1);
   cJSON_Delete (a);
   tk_zone_close (z);
   tk_tally_destroy (t);
}

/* GET /api/processing-stats: the spec's names, and with a taxonomy every
 * label in each distribution, 0 when no ticket has it, the taxonomy's first
 * and in its order, then a stored label it does not know. */
static void
test_stats_json_spec_names_and_every_label (void **state)
{
   (void) state;
   const tk_taxonomy_t *tax = tk_taxonomy_default ();
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0, NOW, "P2 (Low)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, processed_doc (DAY0, NOW, "P9 (Custom)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, BCON_NEW ("id", "U", "created_at", BCON_DATE_TIME (DAY0), "processed",
                     BCON_BOOL (false)));
   cJSON *s = tk_tally_stats_json (t, tax, NULL);
   assert_near (num (s, "total_tickets"), 3);
   assert_near (num (s, "total_processed"), 2);
   assert_near (num (s, "total_unprocessed"), 1);
   assert_near (num (s, "processed_today"), 2);
   /* the spec's names only: no alias */
   assert_null (cJSON_GetObjectItem (s, "total"));
   assert_null (cJSON_GetObjectItem (s, "processed"));
   assert_null (cJSON_GetObjectItem (s, "unprocessed"));
   const cJSON *prio = get (s, "priority_distribution");
   size_t n = tk_taxonomy_count (tax, TK_TAXONOMY_PRIORITY);
   assert_int_equal (cJSON_GetArraySize (prio), (int) n + 1);
   for (size_t i = 0; i < n; i++) {
      const char *label = tk_taxonomy_label (tax, TK_TAXONOMY_PRIORITY, i);
      assert_string_equal (cJSON_GetArrayItem (prio, (int) i)->string, label);
      assert_near (num (prio, label), strcmp (label, "P2 (Low)") ? 0 : 1);
   }
   assert_string_equal (cJSON_GetArrayItem (prio, (int) n)->string, "P9 (Custom)");
   const cJSON *topic = get (s, "topic_distribution");
   assert_int_equal (cJSON_GetArraySize (topic),
                     (int) tk_taxonomy_count (tax, TK_TAXONOMY_TOPIC));
   assert_near (num (topic, "SSO"), 2);
   assert_near (num (get (s, "sentiment_distribution"), "Neutral"), 0);
   cJSON_Delete (s);
   tk_tally_destroy (t);
}

/* The store's statistics from the same tally: counts, "processed today",
 * priorities sorted by label, a processed ticket without a priority in
 * priority_other. */
static void
test_processing_stats (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0, DAY0 - 1, "P2 (Low)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, processed_doc (DAY0, NOW, "P0 (High)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, processed_doc (DAY0, NOW, "P2 (Low)", "Angry", "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, BCON_NEW ("id", "U", "created_at", BCON_DATE_TIME (DAY0), "processed",
                     BCON_BOOL (false)));
   add (t, BCON_NEW ("id", "N", "created_at", BCON_DATE_TIME (DAY0), "processed", BCON_BOOL (true),
                     "classification", "{", "sentiment", BCON_UTF8 ("Angry"), "}"));
   tk_processing_stats_t st;
   tk_tally_processing_stats (t, &st);
   assert_int_equal (st.total, 5);
   assert_int_equal (st.processed, 4);
   assert_int_equal (st.unprocessed, 1);
   assert_int_equal (st.processed_today, 2);
   assert_int_equal (st.n_priorities, 2);
   assert_string_equal (st.priorities[0].label, "P0 (High)");
   assert_int_equal (st.priorities[0].count, 1);
   assert_string_equal (st.priorities[1].label, "P2 (Low)");
   assert_int_equal (st.priorities[1].count, 2);
   assert_int_equal (tk_processing_stats_priority (&st, "P2 (Low)"), 2);
   assert_int_equal (tk_processing_stats_priority (&st, "P1 (Medium)"), 0);
   assert_int_equal (st.priority_other, 1);
   tk_tally_destroy (t);
}

/* Tickets per day, the days between filled with 0, dates as YYYY-MM-DD. */
static void
test_per_day_series (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0 + 3 * DAY_MS + 5, DAY0 + 3 * DAY_MS + 7, "P1 (High)", "Angry",
                          "SSO", NULL, "m", 1, .5, .5, .5));
   add (t, processed_doc (DAY0 + 10, DAY0 + 3 * DAY_MS, "P1 (High)", "Angry", "SSO", NULL, "m",
                          1, .5, .5, .5));
   add (t, BCON_NEW ("id", "U", "created_at", BCON_DATE_TIME (DAY0 + DAY_MS - 1), "processed",
                     BCON_BOOL (false)));
   cJSON *a = tk_tally_analytics_json (t, NULL);
   const cJSON *created = get (a, "created_per_day");
   static const char *const dates[] = {"2024-10-04", "2024-10-05", "2024-10-06", "2024-10-07"};
   static const double counts[] = {2, 0, 0, 1};
   assert_int_equal (cJSON_GetArraySize (created), 4);
   for (int i = 0; i < 4; i++) {
      const cJSON *d = cJSON_GetArrayItem (created, i);
      assert_string_equal (cJSON_GetStringValue (get (d, "date")), dates[i]);
      assert_near (num (d, "count"), counts[i]);
   }
   const cJSON *processed = get (a, "processed_per_day");
   assert_int_equal (cJSON_GetArraySize (processed), 1);
   assert_string_equal (cJSON_GetStringValue (get (cJSON_GetArrayItem (processed, 0), "date")),
                        "2024-10-07");
   assert_near (num (cJSON_GetArrayItem (processed, 0), "count"), 2);
   cJSON_Delete (a);
   tk_tally_destroy (t);
}

/* Processing time: bins by upper bound (inclusive), the last +Inf, and the
 * average in both renderings. */
static void
test_processing_time (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   static const double times[] = {100, 101, 70000, 30};
   for (int i = 0; i < 4; i++) {
      add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", NULL, "m", times[i], .5, .5,
                             .5));
   }
   cJSON *a = tk_tally_analytics_json (t, NULL);
   const cJSON *pt = get (a, "processing_time_ms");
   assert_near (num (pt, "count"), 4);
   assert_near (num (pt, "average"), (100 + 101 + 70000 + 30) / 4.0);
   const cJSON *bins = get (pt, "buckets");
   assert_int_equal (cJSON_GetArraySize (bins), 10);
   assert_near (num (cJSON_GetArrayItem (bins, 0), "le"), 100);
   assert_near (bucket (bins, 0), 2); /* 30 and 100 */
   assert_near (bucket (bins, 1), 1); /* 101 */
   assert_null_member (cJSON_GetArrayItem (bins, 9), "le");
   assert_near (bucket (bins, 9), 1); /* 70000 */
   double sum = 0;
   for (int i = 0; i < 10; i++) {
      sum += bucket (bins, i);
   }
   assert_near (sum, 4);
   cJSON_Delete (a);
   cJSON *s = tk_tally_stats_json (t, NULL, NULL);
   assert_near (num (s, "average_processing_time_ms"), (100 + 101 + 70000 + 30) / 4.0);
   cJSON_Delete (s);
   tk_tally_destroy (t);
}

/* Confidence: per field a tenth-wide histogram (1.0 in the last bin) and
 * the average. */
static void
test_confidence (void **state)
{
   (void) state;
   tk_tally_t *t = tk_tally_new (NOW);
   add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", NULL, "m", 1, 1.0, 0.0, 0.55));
   add (t, processed_doc (DAY0, DAY0, "P1 (High)", "Angry", "SSO", NULL, "m", 1, 0.95, 0.2, 0.45));
   cJSON *a = tk_tally_analytics_json (t, NULL);
   const cJSON *conf = get (a, "confidence");
   const cJSON *topic = get (conf, "topic");
   assert_near (num (topic, "average"), 0.975);
   assert_near (bucket (get (topic, "buckets"), 9), 2);
   const cJSON *sent = get (conf, "sentiment");
   assert_near (num (sent, "average"), 0.1);
   assert_near (bucket (get (sent, "buckets"), 0), 1);
   assert_near (bucket (get (sent, "buckets"), 2), 1);
   const cJSON *prio = get (conf, "priority");
   assert_near (bucket (get (prio, "buckets"), 5), 1);
   assert_near (bucket (get (prio, "buckets"), 4), 1);
   const cJSON *b0 = cJSON_GetArrayItem (get (prio, "buckets"), 4);
   assert_near (num (b0, "from"), 0.4);
   assert_near (num (b0, "to"), 0.5);
   cJSON_Delete (a);
   cJSON *s = tk_tally_stats_json (t, NULL, NULL);
   const cJSON *avg = get (s, "average_confidence");
   assert_near (num (avg, "topic"), 0.975);
   assert_near (num (avg, "sentiment"), 0.1);
   assert_near (num (avg, "priority"), 0.5);
   cJSON_Delete (s);
   tk_tally_destroy (t);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_empty),
      cmocka_unit_test (test_counts_and_error_rates),
      cmocka_unit_test (test_label_distributions),
      cmocka_unit_test (test_processed_today),
      cmocka_unit_test (test_processing_stats),
      cmocka_unit_test (test_stats_json_spec_names_and_every_label),
      cmocka_unit_test (test_per_day_series),
      cmocka_unit_test (test_processing_time),
      cmocka_unit_test (test_confidence),
      cmocka_unit_test (test_days_of_a_zone),
      cmocka_unit_test (test_a_25_hour_day),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
