/* routes_analytics.c - GET /api/analytics and POST /api/analytics/refresh.
 *
 * For the filters of /api/tickets (query_filter.h, without the paging
 * parameters) the answer holds the priority, sentiment and topic
 * distributions, tickets created and processed per UTC day, histograms of
 * processing time and of each confidence score, the model versions in use
 * and the failure rates.
 *
 * How it is computed: one find over the matching tickets with a projection
 * of the few fields needed, every figure counted here in C in the same pass.
 * FerretDB 1.24 has no $dateToString, computes only the first accumulator of
 * a $group correctly and mishandles $unwind on dotted paths, so pipelines
 * would need a query per figure (and per day); one projected scan is both
 * portable and consistent (every number comes from the same documents). It
 * costs a pass over the matching tickets, which is why the answer is cached
 * for TRIAGE_API_CACHE_TTL per distinct query string, and why the refresh
 * route exists for someone who just changed data and wants it now. */
#include "api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

#define ANALYTICS_CACHE_PREFIX "analytics?"
#define DAY_MS 86400000LL
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

typedef struct {
   uint64_t total, processed, failed, retried_ok;
   label_counts_t priority, sentiment, topic, model;
   day_series_t created, processed_days;
   uint64_t time_bins[N_TIME_BOUNDS + 1];
   uint64_t time_count;
   double time_sum;
   uint64_t conf_bins[3][N_CONF_BINS];
   double conf_sum[3];
   uint64_t conf_count;
} tally_t;

typedef struct {
   tk_query_t q;
   char *cache_key; /* owned */
} analytics_data_t;

static void
analytics_data_free (void *p)
{
   analytics_data_t *d = p;
   if (d) {
      tk_query_cleanup (&d->q);
      free (d->cache_key);
      free (d);
   }
}

/* ---- counting ------------------------------------------------------------ */

static bool
day_add (day_series_t *s, int64_t ms)
{
   int64_t day = ms >= 0 ? ms / DAY_MS : -((-ms + DAY_MS - 1) / DAY_MS);
   size_t lo = 0, hi = s->n;
   while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (s->v[mid].day < day) {
         lo = mid + 1;
      } else {
         hi = mid;
      }
   }
   if (lo < s->n && s->v[lo].day == day) {
      s->v[lo].count++;
      return true;
   }
   if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 64;
      day_count_t *v = realloc (s->v, cap * sizeof *v);
      if (!v) {
         return false;
      }
      s->v = v;
      s->cap = cap;
   }
   memmove (&s->v[lo + 1], &s->v[lo], (s->n - lo) * sizeof *s->v);
   s->v[lo].day = day;
   s->v[lo].count = 1;
   s->n++;
   return true;
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
   free (t->created.v);
   free (t->processed_days.v);
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
static bool
tally_doc (tally_t *t, const bson_t *doc)
{
   int64_t ms;
   double v;
   bson_iter_t it, tags;
   t->total++;
   if (find_date (doc, "created_at", &ms) && !day_add (&t->created, ms)) {
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
   const char *s;
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
   if ((s = find_utf8 (doc, "processing_metadata.model_version")) && !label_add (&t->model, s)) {
      return false;
   }
   if (find_date (doc, "processing_metadata.processed_at", &ms) &&
       !day_add (&t->processed_days, ms)) {
      return false;
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

static cJSON *
tally_json (const tally_t *t)
{
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddNumberToObject (out, "total", (double) t->total);
   cJSON_AddNumberToObject (out, "processed", (double) t->processed);
   cJSON_AddNumberToObject (out, "unprocessed", (double) (t->total - t->processed));
   cJSON_AddNumberToObject (out, "failed", (double) t->failed);

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

   cJSON_AddItemToObject (out, "priority_distribution", labels_json (&t->priority));
   cJSON_AddItemToObject (out, "sentiment_distribution", labels_json (&t->sentiment));
   cJSON_AddItemToObject (out, "topic_distribution", labels_json (&t->topic));
   cJSON_AddItemToObject (out, "model_versions", labels_json (&t->model));
   cJSON_AddItemToObject (out, "created_per_day", days_json (&t->created));
   cJSON_AddItemToObject (out, "processed_per_day", days_json (&t->processed_days));

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
   char iso[TK_TIME_ISO_BUFSIZE];
   if (tk_time_format_iso (tk_time_now_ms (), iso, sizeof iso)) {
      cJSON_AddStringToObject (out, "generated_at", iso);
   }
   return out;
}

/* ---- the routes ------------------------------------------------------------ */

static void
analytics_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   analytics_data_t *d = call->data;
   mongoc_collection_t *coll = mongoc_client_get_collection (client, db, "tickets");
   bson_t *opts = BCON_NEW ("projection", "{", "_id", BCON_INT32 (0), "created_at",
                            BCON_INT32 (1), "processed", BCON_INT32 (1), "processing_attempts",
                            BCON_INT32 (1), "classification", BCON_INT32 (1),
                            "confidence_scores", BCON_INT32 (1), "processing_metadata",
                            BCON_INT32 (1), "}", "batchSize", BCON_INT32 (1000));
   mongoc_cursor_t *cursor = mongoc_collection_find_with_opts (coll, &d->q.filter, opts, NULL);
   tally_t t;
   memset (&t, 0, sizeof t);
   const bson_t *doc;
   bson_error_t e;
   bool oom = false;
   while (!oom && mongoc_cursor_next (cursor, &doc)) {
      oom = !tally_doc (&t, doc);
   }
   if (oom) {
      api_call_fail (call, 500, "internal", NULL, "out of memory");
   } else if (mongoc_cursor_error (cursor, &e)) {
      api_call_fail (call, 503, "unavailable", NULL, "database: %s", e.message);
   } else {
      api_call_ok (call, 200, tally_json (&t));
   }
   tally_cleanup (&t);
   mongoc_cursor_destroy (cursor);
   bson_destroy (opts);
   mongoc_collection_destroy (coll);
}

static void
analytics_done (api_call_t *call)
{
   analytics_data_t *d = call->data;
   char *text = cJSON_PrintUnformatted (call->json);
   if (text) {
      size_t len = strlen (text);
      api_cache_put (call->api, d->cache_key, text, len);
      if ((call->raw_body = malloc (len + 1))) {
         memcpy (call->raw_body, text, len + 1);
         call->raw_len = len;
      }
      cJSON_free (text);
   }
   tk_counter_inc (tk_metric_labels (call->api->cache_hits, "miss"));
   api_call_respond (call);
}

static bool
analytics_fast (api_call_t *call)
{
   analytics_data_t *d = call->data;
   const api_cache_entry_t *e = api_cache_get (call->api, d->cache_key);
   if (!e) {
      return false;
   }
   tk_counter_inc (tk_metric_labels (call->api->cache_hits, "hit"));
   tk_http_respond (call->req, 200, "application/json", e->body, e->len);
   return true;
}

static void
analytics_get (tk_http_request_t *req, void *user_data)
{
   api_t *api = user_data;
   tk_query_param_t *params = NULL;
   size_t n = 0;
   tk_error_t err;
   if (!api_check_request (req, false) || !api_query_params (req, &params, &n)) {
      return;
   }
   analytics_data_t *d = calloc (1, sizeof *d);
   const char *qs = tk_http_request_query_string (req);
   if (!d || !(d->cache_key = malloc (sizeof ANALYTICS_CACHE_PREFIX + strlen (qs)))) {
      free (d);
      api_respond_error (req, 500, "internal", NULL, "out of memory");
      return;
   }
   memcpy (d->cache_key, ANALYTICS_CACHE_PREFIX, sizeof ANALYTICS_CACHE_PREFIX - 1);
   memcpy (d->cache_key + sizeof ANALYTICS_CACHE_PREFIX - 1, qs, strlen (qs) + 1);
   if (!tk_query_build (&d->q, params, n, api->tax, 0, NULL, &err)) {
      free (d->cache_key);
      free (d);
      api_respond_error (req, 400, "invalid", err.field, err.message);
      return;
   }
   api_call_t *call = api_call_new (api, req, "analytics.get", API_ROLE_VIEWER, false,
                                    analytics_work);
   call->data = d;
   call->free_data = analytics_data_free;
   call->done = analytics_done;
   call->fast = analytics_fast;
   api_call_run (call);
}

static void
refresh_work (api_call_t *call, mongoc_client_t *client, const char *db)
{
   (void) client;
   (void) db;
   call->status = 200;
}

static void
refresh_done (api_call_t *call)
{
   size_t dropped = 0;
   for (const api_cache_entry_t *e = call->api->cache; e; e = e->next) {
      dropped++;
   }
   api_cache_clear (call->api);
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddNumberToObject (out, "dropped", (double) dropped);
   api_call_ok (call, 200, out);
   api_call_respond (call);
}

static void
analytics_refresh (tk_http_request_t *req, void *user_data)
{
   if (!api_check_request (req, false)) {
      return;
   }
   if (tk_http_request_query_string (req)[0]) {
      api_respond_error (req, 400, "invalid", NULL, "this route takes no query parameters");
      return;
   }
   api_call_t *call = api_call_new (user_data, req, "analytics.refresh", API_ROLE_OPERATOR, true,
                                    refresh_work);
   call->done = refresh_done;
   api_call_run (call);
}

bool
api_routes_analytics (api_t *api, tk_error_t *err)
{
   return tk_http_route (api->app->http, "GET", "/api/analytics", analytics_get, api, err) &&
          tk_http_route (api->app->http, "POST", "/api/analytics/refresh", analytics_refresh, api,
                         err);
}
