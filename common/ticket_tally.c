/* ticket_tally.c - the figures of a set of tickets counted in one projected
 * scan (see ticket_tally.h): the store's processing statistics, and the
 * api's GET /api/analytics and GET /api/processing-stats, are all
 * renderings of a tally.
 * (why one scan counted in C: ticket_tally.h). */
#include "ticket_tally.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ferretdb_doc.h"
#include "list_sql.h"
#include "store_query.h"
#include "timeutil.h"

#define DAY_MS TK_DAY_MS
/* Every day is counted by quarter hour too: every zone's offset from UTC is
 * a whole number of quarter hours (since the 1970s), so a day of any zone is
 * a run of whole UTC quarter hours, and the series can be rendered in the
 * zone a request names without scanning again. */
#define QUARTER_MS 900000LL
#define QUARTERS_PER_DAY 96
/* Above this many days between the first and the last ticket, the series
 * lists only the days that have tickets instead of filling gaps with 0. */
#define MAX_FILLED_DAYS 3660

/* Upper bounds (ms) of the processing-time histogram; the last bin is +Inf. */
static const int64_t time_bounds_ms[] = {100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};
#define N_TIME_BOUNDS (sizeof time_bounds_ms / sizeof time_bounds_ms[0])
#define N_CONF_BINS 10

typedef struct {
   int64_t day; /* floor(ms / DAY_MS) */
   uint64_t count;
   uint32_t *quarters; /* QUARTERS_PER_DAY counts by UTC quarter hour; NULL in a rendering */
} day_count_t;

/* Days with counts, sorted by day. */
typedef struct {
   day_count_t *v;
   size_t n, cap;
} day_series_t;

typedef struct {
   char *label;
   uint64_t count;
} label_count_t;

/* Label counts in first-seen order (a handful of labels: a list is enough). */
typedef struct {
   label_count_t *v;
   size_t n, cap;
} label_counts_t;

struct tk_tally {
   uint64_t total, processed, failed, retried_ok;
   int64_t now_ms; /* when the scan began: decides "today" */

   label_counts_t priority, sentiment, topic, model;
   day_series_t created, processed_days;
   uint64_t time_bins[N_TIME_BOUNDS + 1];
   uint64_t time_count;
   double time_sum;
   uint64_t conf_bins[3][N_CONF_BINS];
   double conf_sum[3];
   uint64_t conf_count;
};
typedef struct tk_tally tally_t;

/* ---- counting ------------------------------------------------------------ */

static int64_t
floor_div (int64_t a, int64_t b)
{
   return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* The entry of day in s, added with count 0 where missing; NULL when out of
 * memory. */
static day_count_t *
series_at (day_series_t *s, int64_t day)
{
   size_t lo = 0, hi = s->n;
   /* Scans and renderings mostly go forward in time: try the end first. */
   if (s->n && s->v[s->n - 1].day < day) {
      lo = s->n;
   }
   while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (s->v[mid].day < day) {
         lo = mid + 1;
      } else {
         hi = mid;
      }
   }
   if (lo < s->n && s->v[lo].day == day) {
      return &s->v[lo];
   }
   if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 64;
      day_count_t *v = realloc (s->v, cap * sizeof *v);
      if (!v) {
         return NULL;
      }
      s->v = v;
      s->cap = cap;
   }
   memmove (&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof *s->v);
   s->v[lo] = (day_count_t) {.day = day};
   s->n++;
   return &s->v[lo];
}

static bool
day_add (day_series_t *s, int64_t ms)
{
   int64_t day = floor_div (ms, DAY_MS);
   day_count_t *d = series_at (s, day);
   if (!d || (!d->quarters && !(d->quarters = calloc (QUARTERS_PER_DAY, sizeof *d->quarters)))) {
      return false;
   }
   d->count++;
   d->quarters[(ms - day * DAY_MS) / QUARTER_MS]++;
   return true;
}

static void
series_free (day_series_t *s)
{
   for (size_t i = 0; i < s->n; i++) {
      free (s->v[i].quarters);
   }
   free (s->v);
}

/* s counted by the days of zone (NULL: UTC) into *out (empty; caller frees
 * with series_free). false when out of memory. */
static bool
series_in_zone (const day_series_t *s, tk_zone_t *zone, day_series_t *out)
{
   for (size_t i = 0; i < s->n; i++) {
      const day_count_t *d = &s->v[i];
      if (!zone) {
         day_count_t *o = series_at (out, d->day);
         if (!o) {
            return false;
         }
         o->count += d->count;
         continue;
      }
      for (int q = 0; q < QUARTERS_PER_DAY; q++) {
         if (d->quarters[q]) {
            day_count_t *o = series_at (out, tk_zone_day (zone, d->day * DAY_MS + q * QUARTER_MS));
            if (!o) {
               return false;
            }
            o->count += d->quarters[q];
         }
      }
   }
   return true;
}

/* The count of s on the day of the zone (NULL: UTC) that holds now_ms, and
 * after it (a clock set wrong may date tickets ahead). */
static uint64_t
count_since_today (const day_series_t *s, tk_zone_t *zone, int64_t now_ms)
{
   int64_t today = tk_zone_day (zone, now_ms);
   uint64_t n = 0;
   for (size_t i = s->n; i-- > 0;) {
      const day_count_t *d = &s->v[i];
      if (d->day < today - 1) {
         break; /* a zone is less than a day from UTC */
      }
      for (int q = 0; q < QUARTERS_PER_DAY; q++) {
         if (d->quarters[q] && tk_zone_day (zone, d->day * DAY_MS + q * QUARTER_MS) >= today) {
            n += d->quarters[q];
         }
      }
   }
   return n;
}

static bool
label_add (label_counts_t *c, const char *label)
{
   for (size_t i = 0; i < c->n; i++) {
      if (!strcmp (c->v[i].label, label)) {
         c->v[i].count++;
         return true;
      }
   }
   if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 16;
      label_count_t *v = realloc (c->v, cap * sizeof *v);
      if (!v) {
         return false;
      }
      c->v = v;
      c->cap = cap;
   }
   if (!(c->v[c->n].label = strdup (label))) {
      return false;
   }
   c->v[c->n++].count = 1;
   return true;
}

static void
label_counts_free (label_counts_t *c)
{
   for (size_t i = 0; i < c->n; i++) {
      free (c->v[i].label);
   }
   free (c->v);
}

static void
tally_cleanup (tally_t *t)
{

   label_counts_free (&t->priority);
   label_counts_free (&t->sentiment);
   label_counts_free (&t->topic);
   label_counts_free (&t->model);
   series_free (&t->created);
   series_free (&t->processed_days);
}

static bool
find_number (const bson_t *doc, const char *path, double *out)
{
   bson_iter_t it;
   if (!bson_iter_init (&it, doc) || !bson_iter_find_descendant (&it, path, &it)) {
      return false;
   }
   switch (bson_iter_type (&it)) {
   case BSON_TYPE_DOUBLE: *out = bson_iter_double (&it); return true;
   case BSON_TYPE_INT32: *out = bson_iter_int32 (&it); return true;
   case BSON_TYPE_INT64: *out = (double) bson_iter_int64 (&it); return true;
   default: return false;
   }
}

static bool
find_date (const bson_t *doc, const char *path, int64_t *out)
{
   bson_iter_t it;
   if (bson_iter_init (&it, doc) && bson_iter_find_descendant (&it, path, &it) &&
       BSON_ITER_HOLDS_DATE_TIME (&it)) {
      *out = bson_iter_date_time (&it);
      return true;
   }
   return false;
}

static const char *
find_utf8 (const bson_t *doc, const char *path)
{
   bson_iter_t it;
   if (bson_iter_init (&it, doc) && bson_iter_find_descendant (&it, path, &it) &&
       BSON_ITER_HOLDS_UTF8 (&it)) {
      return bson_iter_utf8 (&it, NULL);
   }
   return NULL;
}

static bool
find_bool (const bson_t *doc, const char *key)
{
   bson_iter_t it;
   return bson_iter_init_find (&it, doc, key) && BSON_ITER_HOLDS_BOOL (&it) &&
          bson_iter_bool (&it);
}

static size_t
conf_bin (double v)
{
   if (!(v > 0)) {
      return 0;
   }
   size_t b = (size_t) (v * N_CONF_BINS);
   return b >= N_CONF_BINS ? N_CONF_BINS - 1 : b;
}

/* Counts one ticket document. false on out of memory. */
/* A processed ticket's labels and the model that gave them. */
static bool
tally_labels (tally_t *t, const bson_t *doc)
{
   const char *s;
   bson_iter_t it, tags;
   if ((s = find_utf8 (doc, "classification.priority")) && !label_add (&t->priority, s)) {
      return false;
   }
   if ((s = find_utf8 (doc, "classification.sentiment")) && !label_add (&t->sentiment, s)) {
      return false;
   }
   if (bson_iter_init (&it, doc) &&
       bson_iter_find_descendant (&it, "classification.topic_tags", &it) &&
       BSON_ITER_HOLDS_ARRAY (&it) && bson_iter_recurse (&it, &tags)) {
      while (bson_iter_next (&tags)) {
         if (BSON_ITER_HOLDS_UTF8 (&tags) && !label_add (&t->topic, bson_iter_utf8 (&tags, NULL))) {
            return false;
         }
      }
   }
   return !(s = find_utf8 (doc, "processing_metadata.model_version")) || label_add (&t->model, s);
}

/* A processed ticket's day, processing time and confidence scores. */
static bool
tally_processing (tally_t *t, const bson_t *doc)
{
   int64_t ms;
   double v;
   if (find_date (doc, "processing_metadata.processed_at", &ms)) {
      if (!day_add (&t->processed_days, ms)) {
         return false;
      }
   }
   if (find_number (doc, "processing_metadata.processing_time_ms", &v)) {
      size_t b = 0;
      while (b < N_TIME_BOUNDS && v > (double) time_bounds_ms[b]) {
         b++;
      }
      t->time_bins[b]++;
      t->time_count++;
      t->time_sum += v;
   }
   static const char *conf_paths[3] = {"confidence_scores.topic", "confidence_scores.sentiment",
                                       "confidence_scores.priority"};
   bool any = false;
   for (int f = 0; f < 3; f++) {
      if (find_number (doc, conf_paths[f], &v)) {
         t->conf_bins[f][conf_bin (v)]++;
         t->conf_sum[f] += v;
         any = true;
      }
   }
   if (any) {
      t->conf_count++;
   }
   return true;
}

static bool
tally_doc (tally_t *t, const bson_t *doc)
{
   int64_t ms;
   t->total++;
   bool has_created = find_date (doc, "created_at", &ms);
   if (has_created && !day_add (&t->created, ms)) {
      return false;
   }
   bool processed = find_bool (doc, "processed");
   double attempts = 0;
   find_number (doc, "processing_attempts", &attempts);
   if (!processed) {
      if (attempts > 0) {
         t->failed++;
      }
      return true;
   }
   t->processed++;
   if (attempts > 0) {
      t->retried_ok++;
   }
   return tally_labels (t, doc) && tally_processing (t, doc);
}

bool
tk_tally_add (tk_tally_t *t, const bson_t *doc)
{
   return tally_doc (t, doc);
}

/* ---- rendering ------------------------------------------------------------ */

static cJSON *
labels_json (const label_counts_t *c)
{
   cJSON *o = cJSON_CreateObject ();
   for (size_t i = 0; i < c->n; i++) {
      cJSON_AddNumberToObject (o, c->v[i].label, (double) c->v[i].count);
   }
   return o;
}

static void
add_day (cJSON *arr, int64_t day, uint64_t count)
{
   char iso[TK_TIME_ISO_BUFSIZE];
   cJSON *o = cJSON_CreateObject ();
   if (tk_time_format_iso (day * DAY_MS, iso, sizeof iso)) {
      iso[10] = '\0'; /* YYYY-MM-DD */
   } else {
      snprintf (iso, sizeof iso, "?");
   }
   cJSON_AddStringToObject (o, "date", iso);
   cJSON_AddNumberToObject (o, "count", (double) count);
   cJSON_AddItemToArray (arr, o);
}

static cJSON *
days_json (const day_series_t *s)
{
   cJSON *arr = cJSON_CreateArray ();
   if (s->n == 0) {
      return arr;
   }
   int64_t first = s->v[0].day, last = s->v[s->n - 1].day;
   if (last - first >= MAX_FILLED_DAYS) {
      for (size_t i = 0; i < s->n; i++) {
         add_day (arr, s->v[i].day, s->v[i].count);
      }
      return arr;
   }
   size_t i = 0;
   for (int64_t d = first; d <= last; d++) {
      uint64_t c = 0;
      if (i < s->n && s->v[i].day == d) {
         c = s->v[i++].count;
      }
      add_day (arr, d, c);
   }
   return arr;
}

/* The per-day series of s in the days of zone (NULL: UTC); NULL when out of
 * memory. */
static cJSON *
zone_days_json (const day_series_t *s, tk_zone_t *zone)
{
   day_series_t local = {0};
   cJSON *arr = series_in_zone (s, zone, &local) ? days_json (&local) : NULL;
   series_free (&local);
   return arr;
}

/* "time_zone": the zone the days are counted in. */
static void
add_zone (cJSON *out, const tk_zone_t *zone)
{
   cJSON_AddStringToObject (out, "time_zone", zone ? tk_zone_name (zone) : "UTC");
}

/* "error_rates": failed tickets, of all and of those attempted. */
static void
add_error_rates (cJSON *out, const tk_tally_t *t)
{
   cJSON *rates = cJSON_AddObjectToObject (out, "error_rates");
   uint64_t attempted = t->processed + t->failed;
   cJSON_AddNumberToObject (rates, "failed", (double) t->failed);
   cJSON_AddNumberToObject (rates, "retried_then_processed", (double) t->retried_ok);
   if (t->total) {
      cJSON_AddNumberToObject (rates, "failed_of_total", (double) t->failed / (double) t->total);
   } else {
      cJSON_AddNullToObject (rates, "failed_of_total");
   }
   if (attempted) {
      cJSON_AddNumberToObject (rates, "failed_of_attempted",
                               (double) t->failed / (double) attempted);
   } else {
      cJSON_AddNullToObject (rates, "failed_of_attempted");
   }
}

/* "processing_time_ms": the count, the average and the histogram. */
static void
add_processing_times (cJSON *out, const tk_tally_t *t)
{
   cJSON *pt = cJSON_AddObjectToObject (out, "processing_time_ms");
   cJSON_AddNumberToObject (pt, "count", (double) t->time_count);
   if (t->time_count) {
      cJSON_AddNumberToObject (pt, "average", t->time_sum / (double) t->time_count);
   } else {
      cJSON_AddNullToObject (pt, "average");
   }
   cJSON *bins = cJSON_AddArrayToObject (pt, "buckets");
   for (size_t b = 0; b <= N_TIME_BOUNDS; b++) {
      cJSON *o = cJSON_CreateObject ();
      if (b < N_TIME_BOUNDS) {
         cJSON_AddNumberToObject (o, "le", (double) time_bounds_ms[b]);
      } else {
         cJSON_AddNullToObject (o, "le");
      }
      cJSON_AddNumberToObject (o, "count", (double) t->time_bins[b]);
      cJSON_AddItemToArray (bins, o);
   }
}

/* "confidence": per field, the average and the histogram. */
static void
add_confidence (cJSON *out, const tk_tally_t *t)
{
   static const char *fields[3] = {"topic", "sentiment", "priority"};
   cJSON *conf = cJSON_AddObjectToObject (out, "confidence");
   for (int f = 0; f < 3; f++) {
      cJSON *fo = cJSON_AddObjectToObject (conf, fields[f]);
      if (t->conf_count) {
         cJSON_AddNumberToObject (fo, "average", t->conf_sum[f] / (double) t->conf_count);
      } else {
         cJSON_AddNullToObject (fo, "average");
      }
      cJSON *fb = cJSON_AddArrayToObject (fo, "buckets");
      for (int b = 0; b < N_CONF_BINS; b++) {
         cJSON *o = cJSON_CreateObject ();
         cJSON_AddNumberToObject (o, "from", (double) b / N_CONF_BINS);
         cJSON_AddNumberToObject (o, "to", (double) (b + 1) / N_CONF_BINS);
         cJSON_AddNumberToObject (o, "count", (double) t->conf_bins[f][b]);
         cJSON_AddItemToArray (fb, o);
      }
   }
}

cJSON *
tk_tally_analytics_json (const tk_tally_t *t, tk_zone_t *zone)
{
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddNumberToObject (out, "total", (double) t->total);
   cJSON_AddNumberToObject (out, "processed", (double) t->processed);
   cJSON_AddNumberToObject (out, "unprocessed", (double) (t->total - t->processed));
   cJSON_AddNumberToObject (out, "failed", (double) t->failed);

   add_error_rates (out, t);

   cJSON_AddItemToObject (out, "priority_distribution", labels_json (&t->priority));
   cJSON_AddItemToObject (out, "sentiment_distribution", labels_json (&t->sentiment));
   cJSON_AddItemToObject (out, "topic_distribution", labels_json (&t->topic));
   cJSON_AddItemToObject (out, "model_versions", labels_json (&t->model));
   cJSON *created = zone_days_json (&t->created, zone);
   cJSON *processed = zone_days_json (&t->processed_days, zone);
   if (!created || !processed) {
      cJSON_Delete (created);
      cJSON_Delete (processed);
      cJSON_Delete (out);
      return NULL;
   }
   add_zone (out, zone);
   cJSON_AddItemToObject (out, "created_per_day", created);
   cJSON_AddItemToObject (out, "processed_per_day", processed);

   add_processing_times (out, t);
   add_confidence (out, t);
   char iso[TK_TIME_ISO_BUFSIZE];
   if (tk_time_format_iso (tk_time_now_ms (), iso, sizeof iso)) {
      cJSON_AddStringToObject (out, "generated_at", iso);
   }
   return out;
}


/* ---- processing statistics ----------------------------------------------- */

static void
add_average (cJSON *obj, const char *key, double sum, uint64_t n)
{
   if (n) {
      cJSON_AddNumberToObject (obj, key, sum / (double) n);
   } else {
      cJSON_AddNullToObject (obj, key);
   }
}

/* The counts of c by label: every label of kind in tax first, in the
 * taxonomy's order, 0 when no ticket has it, then the labels stored that the
 * taxonomy does not know. Without tax, the labels stored only. */
static cJSON *
labels_json_all (const label_counts_t *c, const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   if (!tax) {
      return labels_json (c);
   }
   cJSON *o = cJSON_CreateObject ();
   for (size_t i = 0; i < tk_taxonomy_count (tax, kind); i++) {
      cJSON_AddNumberToObject (o, tk_taxonomy_label (tax, kind, i), 0);
   }
   for (size_t i = 0; i < c->n; i++) {
      cJSON *have = cJSON_GetObjectItemCaseSensitive (o, c->v[i].label);
      if (have) {
         cJSON_SetNumberValue (have, (double) c->v[i].count);
      } else {
         cJSON_AddNumberToObject (o, c->v[i].label, (double) c->v[i].count);
      }
   }
   return o;
}

cJSON *
tk_tally_stats_json (const tk_tally_t *t, const tk_taxonomy_t *tax, tk_zone_t *zone)
{
   cJSON *out = cJSON_CreateObject ();
   /* The spec's names (get_processing_stats), and no other: no client was
    * written against the short ones this once answered (issue 16). */
   cJSON_AddNumberToObject (out, "total_tickets", (double) t->total);
   cJSON_AddNumberToObject (out, "total_processed", (double) t->processed);
   cJSON_AddNumberToObject (out, "total_unprocessed", (double) (t->total - t->processed));
   cJSON_AddNumberToObject (out, "processed_today",
                            (double) count_since_today (&t->processed_days, zone, t->now_ms));
   add_zone (out, zone);
   cJSON_AddItemToObject (out, "priority_distribution",
                          labels_json_all (&t->priority, tax, TK_TAXONOMY_PRIORITY));
   cJSON_AddItemToObject (out, "sentiment_distribution",
                          labels_json_all (&t->sentiment, tax, TK_TAXONOMY_SENTIMENT));
   cJSON_AddItemToObject (out, "topic_distribution",
                          labels_json_all (&t->topic, tax, TK_TAXONOMY_TOPIC));
   add_average (out, "average_processing_time_ms", t->time_sum, t->time_count);
   if (t->conf_count) {
      cJSON *conf = cJSON_AddObjectToObject (out, "average_confidence");
      add_average (conf, "topic", t->conf_sum[0], t->conf_count);
      add_average (conf, "sentiment", t->conf_sum[1], t->conf_count);
      add_average (conf, "priority", t->conf_sum[2], t->conf_count);
   } else {
      cJSON_AddNullToObject (out, "average_confidence");
   }
   cJSON_AddNumberToObject (out, "failed", (double) t->failed);
   char iso[TK_TIME_ISO_BUFSIZE];
   if (tk_time_format_iso (tk_time_now_ms (), iso, sizeof iso)) {
      cJSON_AddStringToObject (out, "generated_at", iso);
   }
   return out;
}

/* ---- the tally ------------------------------------------------------------ */

static int
priority_cmp (const void *a, const void *b)
{
   return strcmp (((const tk_priority_count_t *) a)->label, ((const tk_priority_count_t *) b)->label);
}

tk_tally_t *
tk_tally_new (int64_t now_ms)
{
   tk_tally_t *t = calloc (1, sizeof *t);
   if (!t) {
      abort ();
   }
   t->now_ms = now_ms;
   return t;
}

void
tk_tally_destroy (tk_tally_t *t)
{
   if (t) {
      tally_cleanup (t);
      free (t);
   }
}

uint64_t
tk_tally_total (const tk_tally_t *t)
{
   return t->total;
}

uint64_t
tk_tally_processed (const tk_tally_t *t)
{
   return t->processed;
}

bool
tk_tally_scan (tk_tally_t *t, mongoc_client_t *client, const char *db, const bson_t *filter,
               tk_tally_each_fn each, void *ud, const atomic_bool *cancel, tk_error_t *err)
{
   bool ok = false;
   /* Offering whole documents needs them unprojected (the api's listing
    * shows every field); counting alone needs only these. */
   bson_t *projection = each ? NULL
                             : BCON_NEW ("_id", BCON_INT32 (0), "created_at", BCON_INT32 (1),
                                         "processed", BCON_INT32 (1), "processing_attempts",
                                         BCON_INT32 (1), "classification", BCON_INT32 (1),
                                         "confidence_scores", BCON_INT32 (1),
                                         "processing_metadata", BCON_INT32 (1));
   const tk_ticket_query_t q = {.filter = filter, .projection = projection, .batch_size = 1000};
   mongoc_cursor_t *cursor = tk_store_tickets_find (client, db, &q);
   const bson_t *doc;
   bson_error_t e;
   while (mongoc_cursor_next (cursor, &doc)) {
      if (cancel && atomic_load (cancel)) {
         tk_error_set (err, TK_ERR_IO, 0, "the scan was cancelled");
         goto done;
      }
      if (!tally_doc (t, doc) || (each && !each (ud, doc))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory counting tickets");
         goto done;
      }
   }
   if (mongoc_cursor_error (cursor, &e)) {
      tk_error_set (err, TK_ERR_MONGO, (int) e.code, "%s", e.message);
      goto done;
   }
   ok = true;
done:
   mongoc_cursor_destroy (cursor);
   bson_destroy (projection);
   return ok;
}

/* The state of tk_tally_scan_sql's walk. */
typedef struct {
   tk_tally_t *t;
   tk_tally_each_fn each;
   void *ud;
   const atomic_bool *cancel;
} sql_scan_t;

/* tk_list_sql_doc_fn: one stored document, read back and counted. */
static bool
sql_scan_doc (void *ud, const char *json, size_t len, tk_error_t *err)
{
   sql_scan_t *sc = ud;
   if (sc->cancel && atomic_load (sc->cancel)) {
      tk_error_set (err, TK_ERR_IO, 0, "the scan was cancelled");
      return false;
   }
   bson_t doc = BSON_INITIALIZER;
   bool ok = tk_ferretdb_doc_to_bson (json, len, &doc, err);
   if (ok && (!tally_doc (sc->t, &doc) || (sc->each && !sc->each (sc->ud, &doc)))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory counting tickets");
      ok = false;
   }
   bson_destroy (&doc);
   return ok;
}

bool
tk_tally_scan_sql (tk_tally_t *t, struct tk_list_sql *sql, const char *db, tk_tally_each_fn each,
                   void *ud, const atomic_bool *cancel, tk_error_t *err)
{
   sql_scan_t sc = {.t = t, .each = each, .ud = ud, .cancel = cancel};
   return tk_list_sql_each_document (sql, db, sql_scan_doc, &sc, err);
}

void
tk_tally_processing_stats (const tk_tally_t *t, tk_processing_stats_t *out)
{
   memset (out, 0, sizeof *out);
   out->total = (int64_t) t->total;
   out->processed = (int64_t) t->processed;
   out->unprocessed = (int64_t) (t->total - t->processed);
   out->processed_today = (int64_t) count_since_today (&t->processed_days, NULL, t->now_ms);
   for (size_t i = 0; i < t->priority.n; i++) {
      const label_count_t *c = &t->priority.v[i];
      if (strlen (c->label) > TK_LABEL_MAX || out->n_priorities == TK_STATS_MAX_PRIORITIES) {
         out->priority_other += (int64_t) c->count;
         continue;
      }
      tk_priority_count_t *p = &out->priorities[out->n_priorities++];
      snprintf (p->label, sizeof p->label, "%s", c->label);
      p->count = (int64_t) c->count;
   }
   qsort (out->priorities, out->n_priorities, sizeof out->priorities[0], priority_cmp);
   int64_t labelled = out->priority_other;
   for (size_t i = 0; i < out->n_priorities; i++) {
      labelled += out->priorities[i].count;
   }
   out->priority_other += out->processed - labelled; /* processed with no priority */
}
