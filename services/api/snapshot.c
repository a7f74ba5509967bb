/* snapshot.c - the statistics snapshot refreshed in the background (see
 * snapshot.h and docs/decisions/0006-api-statistics-snapshot.md).
 *
 * Everything here runs on the loop except scan_work, which runs on the
 * threadpool and touches only the job (and the atomic cancel flag). One scan
 * at a time: a refresh asked for while one runs is started right after it.
 * Waiting requests sit in two lists: `current` is answered by the scan
 * running now, `next` by the one after it (a request that must see data
 * newer than the running scan: POST /api/analytics/refresh, or any request
 * when TRIAGE_API_CACHE_TTL=0).
 *
 * The api's own ticket writes (api_snapshot_ticket_put / _deleted, called on
 * the loop once a write has succeeded) patch the window of newest tickets
 * being served at once. A scan running meanwhile may have read a document
 * before the write and would reinstate the stale entry when it is installed.
 * So every write patched while a scan runs is also kept, in order, in the
 * journal; scan_done replays the journal onto the scan's window before it
 * installs it, and the journal is emptied when the scan ends. A write whose
 * patch came before the scan started was committed before the scan's find
 * began, so the scan saw it. Replaying is harmless when the scan saw the
 * write already: a put of the same rendering, or a remove of what is not
 * there. When the journal overflows (API_JOURNAL_MAX writes during one
 * scan) or a patch runs out of memory, the scan's window is not installed:
 * the patched window stays (statistics are still replaced), and the next
 * scan tries again.
 *
 * Where a scan reads: with TRIAGE_LIST_SQL_URL (the local stack), from
 * FerretDB's own table in PostgreSQL (tk_tally_scan_sql), which spares
 * FerretDB decoding every document in Go; its one snapshot begins after
 * the scan started, like the find's, so the journal's reasoning holds.
 * When a stored document cannot be read back exactly or PostgreSQL fails,
 * that scan starts again through the collection (tk_tally_scan), as
 * without the setting. */
#include "snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_async.h"
#include "timeutil.h"

typedef enum {
   WAIT_STATS = API_SNAPSHOT_STATS,
   WAIT_ANALYTICS = API_SNAPSHOT_ANALYTICS,
   WAIT_REFRESH,
} wait_kind_t;

typedef struct waiter {
   api_call_t *call;
   wait_kind_t kind;
   char tz[TK_ZONE_NAME_MAX + 1]; /* "": the UTC bodies */
   size_t dropped; /* WAIT_REFRESH: cache entries dropped when asked */
   struct waiter *next;
} waiter_t;

/* One scan's inputs and results, owned by the snapshot while it runs. */
typedef struct {
   bool ok;
   tk_error_t err;
   char *body[2];
   size_t len[2];
   uint64_t total, processed;
   tk_tally_t *tally;    /* kept for the renderings in other zones */
   api_newest_t *newest; /* the newest tickets, when kept */
   struct tk_list_sql *sql; /* read FerretDB's table in SQL first (borrowed); NULL: no */
   bool via_sql;            /* the figures came from SQL */
   bool fell_back;          /* SQL failed (fallback says why): the collection was read */
   tk_error_t fallback;
   uint64_t read_ms; /* how long the read that counted took (not a failed one, not the queue) */
} scan_job_t;

/* One write of the api, to replay onto the window of the scan running when
 * it was patched. */
typedef struct journal_op {
   bool deleted;
   bool placed;
   int64_t ms;
   char *id;   /* owned */
   char *json; /* owned; NULL: renders no valid ticket */
   size_t len;
   struct journal_op *next;
} journal_op_t;

#define API_JOURNAL_MAX 10000

/* The periodic scan waits at least this many times as long as the last
 * read that counted took, up to API_SCAN_SPACED_MAX_MS (decision 0006). */
#define API_SCAN_SPACING 10
#define API_SCAN_SPACED_MAX_MS (5 * 60 * 1000)

/* A ticket id with writes of the api in flight. Two writes of one ticket
 * at once may reach the database in one order and finish (patch) in the
 * other, so the last patch need not be the last state: when writes
 * overlap, the window is dropped instead of patched. */
typedef struct write_flight {
   char *id; /* owned */
   unsigned n;      /* writes in flight */
   bool overlapped; /* two were in flight at once since n was last 0 */
   struct write_flight *next;
} write_flight_t;

/* The bodies of the snapshot rendered in a zone other than UTC (a request
 * with tz), kept until the next snapshot. */
#define API_ZONES_KEPT 8
typedef struct {
   char tz[TK_ZONE_NAME_MAX + 1]; /* "": an empty slot */
   char *body[2];
   size_t len[2];
} zone_bodies_t;

typedef struct api_snapshot {
   api_t *api;
   uv_timer_t timer;
   uint64_t interval_ms; /* 0: nothing is kept, every request waits for a scan */
   bool running;
   bool stopping;
   void *stop_token; /* the shutdown step, finished when no scan runs */
   atomic_bool cancel;
   uint64_t started_ms, last_scan_ms;
   waiter_t *current, *next;
   scan_job_t job;
   /* The snapshot being served. */
   bool have;
   char *body[2];
   size_t len[2];
   tk_tally_t *tally; /* what body[] was rendered from, for other zones */
   zone_bodies_t zones[API_ZONES_KEPT];
   size_t zones_next; /* the slot to fill next */
   api_newest_t *newest; /* NULL: the listing is served by the database */
   /* The writes patched since the running scan started (oldest first). */
   journal_op_t *journal, **journal_tail;
   size_t journal_n;
   bool journal_lost; /* a write could not be kept: the scan's window is stale */
   /* api_snapshot_refresh_soon asked, while a scan ran, for the next one
    * soon_ms after it. */
   bool soon;
   uint64_t soon_ms;
   /* The api's writes in flight, by ticket id (api_snapshot_write_begin). */
   struct write_flight *flights;
   tk_series_t *g_total, *g_processed, *g_unprocessed;
   tk_series_t *scans_ok, *scans_failed;
   tk_series_t *reads_sql, *reads_collection; /* successful scans by what they read */
} api_snapshot_t;

static void refresh_start (api_snapshot_t *s);
static void on_timer (uv_timer_t *timer);
static void on_timer_closed (uv_handle_t *handle);

/* ---- the scan (threadpool) ----------------------------------------------- */

static char *
render (cJSON *json, size_t *len)
{
   char *text = cJSON_PrintUnformatted (json);
   cJSON_Delete (json);
   char *out = NULL;
   if (text) {
      *len = strlen (text);
      if ((out = malloc (*len + 1))) {
         memcpy (out, text, *len + 1);
      }
      cJSON_free (text);
   }
   return out;
}

/* tk_tally_each_fn: every scanned ticket is offered to the newest window. */
static bool
keep_newest (void *newest, const bson_t *doc)
{
   return api_newest_add (newest, doc);
}

/* A new tally and, when kept, a new collector of the newest tickets. */
static tk_tally_t *
scan_begin (scan_job_t *job, int keep)
{
   api_newest_destroy (job->newest);
   job->newest = keep > 0 ? api_newest_new ((size_t) keep) : NULL;
   return tk_tally_new (tk_time_now_ms ());
}

static void
scan_work (tk_store_t *store, void *ctx)
{
   api_snapshot_t *s = ctx;
   scan_job_t *job = &s->job;
   const char *db = tk_store_db_name (store);
   /* The newest tickets are worth collecting only when a snapshot is kept. */
   int keep = s->interval_ms > 0 ? s->api->app->cfg.api_newest_keep : 0;
   tk_tally_t *t = scan_begin (job, keep);
   bool counted = false;
   uint64_t began = uv_hrtime ();
   if (job->sql) {
      counted = tk_tally_scan_sql (t, job->sql, db, job->newest ? keep_newest : NULL,
                                   job->newest, &s->cancel, &job->err);
      job->via_sql = counted;
      if (!counted && !atomic_load (&s->cancel)) {
         /* What was counted is a part: count again from the collection. */
         job->fell_back = true;
         job->fallback = job->err;
         tk_error_clear (&job->err);
         tk_tally_destroy (t);
         t = scan_begin (job, keep);
         began = uv_hrtime ();
      }
   }
   if (!job->via_sql && !atomic_load (&s->cancel)) {
      bson_t filter = BSON_INITIALIZER;
      mongoc_client_t *client = tk_store_client_pop (store);
      counted = tk_tally_scan (t, client, db, &filter, job->newest ? keep_newest : NULL,
                               job->newest, &s->cancel, &job->err);
      tk_store_client_push (store, client);
      bson_destroy (&filter);
   } else if (!counted) {
      tk_error_set (&job->err, TK_ERR_IO, 0, "the scan was cancelled");
   }
   if (counted) {
      job->read_ms = (uv_hrtime () - began) / 1000000;
      job->body[API_SNAPSHOT_STATS] = render (tk_tally_stats_json (t, s->api->tax, NULL),
                                              &job->len[API_SNAPSHOT_STATS]);
      job->body[API_SNAPSHOT_ANALYTICS] = render (tk_tally_analytics_json (t, NULL),
                                                  &job->len[API_SNAPSHOT_ANALYTICS]);
      job->total = tk_tally_total (t);
      job->processed = tk_tally_processed (t);
      job->ok = job->body[0] && job->body[1] && (!job->newest || api_newest_finish (job->newest));
      if (!job->ok) {
         tk_error_set (&job->err, TK_ERR_NOMEM, 0, "out of memory rendering statistics");
      }
   }
   if (job->ok) {
      job->tally = t;
   } else {
      tk_tally_destroy (t);
   }
}

static void
job_cleanup (scan_job_t *job)
{
   free (job->body[0]);
   free (job->body[1]);
   tk_tally_destroy (job->tally);
   api_newest_destroy (job->newest);
   memset (job, 0, sizeof *job);
}

/* ---- the api's own writes (loop) ------------------------------------------ */

static void
journal_clear (api_snapshot_t *s)
{
   while (s->journal) {
      journal_op_t *op = s->journal;
      s->journal = op->next;
      free (op->id);
      free (op->json);
      free (op);
   }
   s->journal_tail = &s->journal;
   s->journal_n = 0;
   s->journal_lost = false;
}

static bool
apply (api_newest_t *n, const journal_op_t *op)
{
   if (op->deleted) {
      api_newest_remove (n, op->id);
      return true;
   }
   return api_newest_put (n, op->placed, op->ms, op->id, op->json, op->len);
}

/* Patches the served window with op and, while a scan that will bring a
 * window runs, keeps op in the journal (taking ownership); else frees it. */
static void
patch (api_snapshot_t *s, journal_op_t *op)
{
   if (s->newest && !apply (s->newest, op)) {
      TK_WARN ("snapshot", "out of memory patching the newest tickets: the listing queries the "
                           "database until the next scan");
      api_newest_destroy (s->newest);
      s->newest = NULL;
   }
   bool scan_brings_window = s->running && s->interval_ms > 0 &&
                             s->api->app->cfg.api_newest_keep > 0;
   if (scan_brings_window && s->journal_n < API_JOURNAL_MAX) {
      *s->journal_tail = op;
      s->journal_tail = &op->next;
      s->journal_n++;
      return;
   }
   if (scan_brings_window) {
      s->journal_lost = true;
   }
   free (op->id);
   free (op->json);
   free (op);
}

/* The window can no longer be patched into the truth: the listing goes to
 * the database until a scan that started afterwards brings a new one. */
static void
drop_window (api_snapshot_t *s)
{
   api_newest_destroy (s->newest);
   s->newest = NULL;
   if (s->running) {
      s->journal_lost = true; /* the running scan may have read before */
   }
}

/* A new journal entry for id, or NULL (the window dropped: out of memory). */
static journal_op_t *
op_new (api_snapshot_t *s, const char *id)
{
   journal_op_t *op = calloc (1, sizeof *op);
   if (op && (!id || (op->id = strdup (id)))) {
      return op;
   }
   free (op);
   drop_window (s);
   return NULL;
}

static write_flight_t **
flight_find (api_snapshot_t *s, const char *id)
{
   write_flight_t **f = &s->flights;
   while (*f && strcmp ((*f)->id, id) != 0) {
      f = &(*f)->next;
   }
   return f;
}

/* Whether a write of id overlapped another of the same ticket. */
static bool
flight_overlapped (api_snapshot_t *s, const char *id)
{
   write_flight_t *f = id ? *flight_find (s, id) : NULL;
   return f && f->overlapped;
}

void
api_snapshot_write_begin (api_t *api, const char *id)
{
   api_snapshot_t *s = api->snapshot;
   if (!s) {
      return;
   }
   write_flight_t **slot = flight_find (s, id), *f = *slot;
   if (!f) {
      f = calloc (1, sizeof *f);
      if (!f || !(f->id = strdup (id))) {
         free (f);
         drop_window (s); /* out of memory: the write cannot be told apart */
         return;
      }
      *slot = f;
   }
   f->overlapped |= f->n > 0;
   f->n++;
}

void
api_snapshot_write_end (api_t *api, const char *id)
{
   api_snapshot_t *s = api->snapshot;
   if (!s) {
      return;
   }
   write_flight_t **slot = flight_find (s, id), *f = *slot;
   if (f && --f->n == 0) {
      *slot = f->next;
      free (f->id);
      free (f);
   }
}

static void
flights_clear (api_snapshot_t *s)
{
   while (s->flights) {
      write_flight_t *f = s->flights;
      s->flights = f->next;
      free (f->id);
      free (f);
   }
}

void
api_snapshot_tickets_changed (api_t *api)
{
   if (api->snapshot) {
      drop_window (api->snapshot);
   }
}

void
api_snapshot_ticket_put (api_t *api, bool placed, int64_t ms, const char *id, char *json,
                         size_t len)
{
   api_snapshot_t *s = api->snapshot;
   if (s && flight_overlapped (s, id)) {
      drop_window (s);
      free (json);
      return;
   }
   journal_op_t *op = s ? op_new (s, id) : NULL;
   if (!op) {
      free (json); /* op_new dropped the window: it cannot be patched */
      return;
   }
   op->placed = placed && id;
   op->ms = ms;
   op->json = json;
   op->len = json ? len : 0;
   patch (s, op);
}

void
api_snapshot_ticket_deleted (api_t *api, const char *id)
{
   api_snapshot_t *s = api->snapshot;
   if (s && flight_overlapped (s, id)) {
      drop_window (s);
      return;
   }
   journal_op_t *op = s ? op_new (s, id) : NULL;
   if (!op) {
      return; /* op_new dropped the window */
   }
   op->deleted = true;
   patch (s, op);
}

/* ---- answering ----------------------------------------------------------- */

static void
respond_body (api_call_t *call, const char *body, size_t len)
{
   tk_http_respond (call->req, 200, "application/json", body, len);
   api_call_free (call);
}

/* Renders body `which` of tally in the zone named tz (valid: the route
 * checked it) into a malloc'd *body; false when out of memory. On the loop:
 * the work is a pass over the days counted (a few thousand), not a scan. */
static bool
render_in_zone (const api_snapshot_t *s, const tk_tally_t *tally, const char *tz, int which,
                char **body, size_t *len)
{
   tk_error_t err;
   tk_zone_t *zone = tk_zone_open (tz, &err);
   if (!zone) {
      return false;
   }
   cJSON *json = which == API_SNAPSHOT_STATS ? tk_tally_stats_json (tally, s->api->tax, zone)
                                             : tk_tally_analytics_json (tally, zone);
   tk_zone_close (zone);
   *body = json ? render (json, len) : NULL;
   return *body != NULL;
}

/* The snapshot's body `which` in zone tz ("": UTC), rendered once per
 * snapshot and zone; NULL when out of memory. */
static const char *
snapshot_body (api_snapshot_t *s, const char *tz, int which, size_t *len)
{
   if (!tz[0] || !s->tally) {
      *len = s->len[which];
      return s->body[which];
   }
   zone_bodies_t *z = NULL;
   for (size_t i = 0; i < API_ZONES_KEPT && !z; i++) {
      if (!strcmp (s->zones[i].tz, tz)) {
         z = &s->zones[i];
      }
   }
   if (!z) {
      z = &s->zones[s->zones_next];
      s->zones_next = (s->zones_next + 1) % API_ZONES_KEPT;
      free (z->body[0]);
      free (z->body[1]);
      memset (z, 0, sizeof *z);
      snprintf (z->tz, sizeof z->tz, "%s", tz);
   }
   if (!z->body[which] && !render_in_zone (s, s->tally, tz, which, &z->body[which], &z->len[which])) {
      return NULL;
   }
   *len = z->len[which];
   return z->body[which];
}

static void
zones_clear (api_snapshot_t *s)
{
   for (size_t i = 0; i < API_ZONES_KEPT; i++) {
      free (s->zones[i].body[0]);
      free (s->zones[i].body[1]);
   }
   memset (s->zones, 0, sizeof s->zones);
   s->zones_next = 0;
}

static void
answer (api_snapshot_t *s, waiter_t *w, const scan_job_t *job)
{
   api_call_t *call = w->call;
   if (!job->ok) {
      api_call_fail (call, 503, "unavailable", NULL, "statistics: %s", job->err.message);
      api_call_respond (call);
      return;
   }
   if (w->kind != WAIT_REFRESH && w->tz[0]) {
      char *body;
      size_t len;
      if (!render_in_zone (s, job->tally, w->tz, w->kind, &body, &len)) {
         api_call_fail (call, 500, "internal", NULL, "out of memory rendering statistics");
         api_call_respond (call);
         return;
      }
      respond_body (call, body, len);
      free (body);
      return;
   }
   if (w->kind != WAIT_REFRESH) {
      respond_body (call, job->body[w->kind], job->len[w->kind]);
      return;
   }
   cJSON *out = cJSON_CreateObject ();
   cJSON_AddBoolToObject (out, "refreshed", true);
   cJSON_AddNumberToObject (out, "dropped", (double) w->dropped);
   cJSON_AddNumberToObject (out, "total", (double) job->total);
   cJSON_AddNumberToObject (out, "scan_ms", (double) s->last_scan_ms);
   api_call_ok (call, 200, out);
   api_call_respond (call);
}

static void
answer_all (api_snapshot_t *s, waiter_t *list, const scan_job_t *job)
{
   while (list) {
      waiter_t *w = list;
      list = w->next;
      answer (s, w, job);
      free (w);
   }
}

/* The scan's outcome in the metrics and the log. */
static void
count_scan (api_snapshot_t *s, const scan_job_t *job)
{
   api_t *api = s->api;
   if (job->fell_back && !s->stopping) {
      TK_WARN ("snapshot", "statistics read from the collection, not from PostgreSQL: %s",
               job->fallback.message);
   }
   if (job->ok) {
      tk_counter_inc (s->scans_ok);
      tk_counter_inc (job->via_sql ? s->reads_sql : s->reads_collection);
      tk_counter_inc (tk_metric_labels (api->cache_hits, "miss"));
      tk_gauge_set (s->g_total, (double) job->total);
      tk_gauge_set (s->g_processed, (double) job->processed);
      tk_gauge_set (s->g_unprocessed, (double) (job->total - job->processed));
      TK_DEBUG ("snapshot", "statistics of %llu tickets counted in %llu ms from the %s",
                (unsigned long long) job->total, (unsigned long long) s->last_scan_ms,
                job->via_sql ? "table in PostgreSQL" : "collection");
   } else {
      tk_counter_inc (s->scans_failed);
      if (!s->stopping) {
         TK_WARN ("snapshot", "statistics scan failed after %llu ms: %s",
                  (unsigned long long) s->last_scan_ms, job->err.message);
      }
   }
}

/* A successful scan becomes the snapshot: its rendered bodies, and its
 * newest tickets once the writes made while it ran are replayed onto them
 * (it may have read them before they were made: see the top of the file). */
static void
keep_scan (api_snapshot_t *s, scan_job_t *job)
{
   for (int i = 0; i < 2; i++) {
      free (s->body[i]);
      s->body[i] = job->body[i];
      s->len[i] = job->len[i];
      job->body[i] = NULL;
   }
   tk_tally_destroy (s->tally);
   s->tally = job->tally;
   job->tally = NULL;
   zones_clear (s);
   bool fresh = !s->journal_lost;
   for (const journal_op_t *op = s->journal; fresh && job->newest && op; op = op->next) {
      fresh = apply (job->newest, op);
   }
   if (fresh) {
      api_newest_destroy (s->newest);
      s->newest = job->newest;
      job->newest = NULL;
   } else {
      TK_WARN ("snapshot", "%zu writes during the scan could not all be replayed onto its "
                           "newest tickets: the patched ones stay until the next scan",
               s->journal_n);
   }
   s->have = true;
}

static void
scan_done (int status, void *ctx)
{
   api_snapshot_t *s = ctx;
   api_t *api = s->api;
   scan_job_t *job = &s->job;
   s->running = false;
   s->last_scan_ms = uv_now (api->app->loop) - s->started_ms;
   if (status != 0 && job->ok) {
      job->ok = false;
   }
   if (status != 0) {
      tk_error_set (&job->err, TK_ERR_IO, status, "the scan was cancelled");
   }
   count_scan (s, job);
   waiter_t *waiting = s->current;
   s->current = NULL;
   answer_all (s, waiting, job);
   if (job->ok && s->interval_ms > 0) {
      keep_scan (s, job);
   }
   journal_clear (s);
   /* The periodic scan catches only what no topic announced (other
    * writers): after a read that counted, it waits ten times as long as
    * that read took (a tenth of the time at most, so that a large
    * collection, a million tickets: ~25 s a scan in SQL, is not read under
    * every request), but not over API_SCAN_SPACED_MAX_MS unless the read
    * itself took longer; after a failure, at least as long as the failed
    * scan took. Announced writes (follow.c) still refresh after at least
    * the last scan's duration. */
   uint64_t spaced = s->last_scan_ms;
   if (job->ok) {
      spaced = job->read_ms * API_SCAN_SPACING;
      uint64_t cap = job->read_ms > API_SCAN_SPACED_MAX_MS ? job->read_ms : API_SCAN_SPACED_MAX_MS;
      spaced = spaced < cap ? spaced : cap;
   }
   job_cleanup (job);
   if (s->stopping) {
      waiting = s->next;
      s->next = NULL;
      job->ok = false;
      tk_error_set (&job->err, TK_ERR_IO, 0, "the service is shutting down");
      answer_all (s, waiting, job);
      uv_close ((uv_handle_t *) &s->timer, on_timer_closed);
      return;
   }
   if (s->next) {
      refresh_start (s);
   } else if (s->interval_ms > 0) {
      uint64_t wait = s->interval_ms > spaced ? s->interval_ms : spaced;
      if (s->soon) {
         uint64_t soon = s->soon_ms > s->last_scan_ms ? s->soon_ms : s->last_scan_ms;
         wait = soon < wait ? soon : wait;
         s->soon = false;
      }
      uv_timer_start (&s->timer, on_timer, wait, 0);
   }
}

static void
on_timer (uv_timer_t *timer)
{
   refresh_start (timer->data);
}

static void
refresh_start (api_snapshot_t *s)
{
   if (s->running || s->stopping) {
      return; /* scan_done starts the next one when `next` is not empty */
   }
   uv_timer_stop (&s->timer);
   s->running = true;
   atomic_store (&s->cancel, false);
   s->started_ms = uv_now (s->api->app->loop);
   s->current = s->next;
   s->next = NULL;
   s->job.sql = s->api->list_sql;
   int rc = tk_store_async (s->api->app->loop, s->api->app->store, scan_work, scan_done, s);
   if (rc != 0) {
      s->running = false;
      scan_job_t failed;
      memset (&failed, 0, sizeof failed);
      tk_error_set (&failed.err, TK_ERR_IO, rc, "cannot queue the scan: %s", uv_strerror (rc));
      waiter_t *waiting = s->current;
      s->current = NULL;
      answer_all (s, waiting, &failed);
      if (s->interval_ms > 0) {
         uv_timer_start (&s->timer, on_timer, s->interval_ms, 0);
      }
   }
}

static void
add_waiter (waiter_t **list, api_call_t *call, wait_kind_t kind, const char *tz, size_t dropped)
{
   waiter_t *w = calloc (1, sizeof *w);
   if (!w) {
      api_call_fail (call, 500, "internal", NULL, "out of memory");
      api_call_respond (call);
      return;
   }
   w->call = call;
   w->kind = kind;
   snprintf (w->tz, sizeof w->tz, "%s", tz);
   w->dropped = dropped;
   w->next = *list;
   *list = w;
}

/* ---- the interface ------------------------------------------------------- */

bool
api_snapshot_start (api_t *api, tk_error_t *err)
{
   api_snapshot_t *s = calloc (1, sizeof *s);
   if (!s) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   s->api = api;
   s->interval_ms = api->app->cfg.api_cache_ttl_ms > 0 ? (uint64_t) api->app->cfg.api_cache_ttl_ms
                                                        : 0;
   atomic_init (&s->cancel, false);
   tk_metrics_t *m = api->app->metrics;
   s->g_total = tk_metric_labels (
      tk_metrics_gauge (m, "api_tickets_total", "Tickets stored, as of the last statistics scan.",
                        NULL));
   s->g_processed = tk_metric_labels (tk_metrics_gauge (
      m, "api_tickets_processed", "Tickets processed, as of the last statistics scan.", NULL));
   s->g_unprocessed = tk_metric_labels (tk_metrics_gauge (
      m, "api_tickets_unprocessed", "Tickets not processed, as of the last statistics scan.",
      NULL));
   tk_metric_t *scans = tk_metrics_counter (m, "api_statistics_scans_total",
                                            "Statistics scans of the tickets collection, by result.",
                                            (const char *[]) {"result", NULL});
   s->scans_ok = tk_metric_labels (scans, "ok");
   s->scans_failed = tk_metric_labels (scans, "error");
   tk_metric_t *reads = tk_metrics_counter (
      m, "api_statistics_reads_total",
      "Successful statistics scans by what they read: sql (FerretDB's table in PostgreSQL, "
      "TRIAGE_LIST_SQL_URL) or collection (a find).",
      (const char *[]) {"via", NULL});
   s->reads_sql = tk_metric_labels (reads, "sql");
   s->reads_collection = tk_metric_labels (reads, "collection");
   int rc = uv_timer_init (api->app->loop, &s->timer);
   if (rc != 0) {
      free (s);
      tk_error_set (err, TK_ERR_IO, rc, "snapshot timer: %s", uv_strerror (rc));
      return false;
   }
   s->timer.data = s;
   s->journal_tail = &s->journal;
   api->snapshot = s;
   if (s->interval_ms > 0) {
      uv_timer_start (&s->timer, on_timer, 0, 0); /* the first scan once the loop runs */
   }
   return true;
}

bool
api_snapshot_serve_now (api_t *api, api_call_t *call, api_snapshot_body_t which, const char *tz)
{
   api_snapshot_t *s = api->snapshot;
   size_t len;
   const char *body = s->have ? snapshot_body (s, tz, which, &len) : NULL;
   if (!body) {
      return false; /* the slow way answers, or says what failed */
   }
   tk_counter_inc (tk_metric_labels (api->cache_hits, "hit"));
   tk_http_respond (call->req, 200, "application/json", body, len);
   return true;
}

void
api_snapshot_serve (api_t *api, api_call_t *call, api_snapshot_body_t which, const char *tz)
{
   api_snapshot_t *s = api->snapshot;
   if (s->have) {
      size_t len;
      const char *body = snapshot_body (s, tz, which, &len);
      if (!body) {
         api_call_fail (call, 500, "internal", NULL, "out of memory rendering statistics");
         api_call_respond (call);
         return;
      }
      tk_counter_inc (tk_metric_labels (api->cache_hits, "hit"));
      respond_body (call, body, len);
      return;
   }
   if (s->stopping) {
      api_call_fail (call, 503, "unavailable", NULL, "the service is shutting down");
      api_call_respond (call);
      return;
   }
   /* Snapshots on: any scan will do, the running one first. Off: only a scan
    * started after this request. */
   if (s->interval_ms > 0 && s->running) {
      add_waiter (&s->current, call, (wait_kind_t) which, tz, 0);
      return;
   }
   add_waiter (&s->next, call, (wait_kind_t) which, tz, 0);
   refresh_start (s);
}

bool
api_snapshot_tickets_page (api_t *api, const tk_query_t *q, char **body, size_t *len,
                           uint32_t *returned)
{
   api_snapshot_t *s = api->snapshot;
   if (!s || !s->newest || !api_newest_page (s->newest, q, body, len, returned)) {
      return false;
   }
   tk_counter_inc (tk_metric_labels (api->cache_hits, "hit"));
   return true;
}

void
api_snapshot_refresh (api_t *api, api_call_t *call)
{
   api_snapshot_t *s = api->snapshot;
   size_t dropped = s->have ? 1 : 0;
   for (const api_cache_entry_t *e = api->cache; e; e = e->next) {
      dropped++;
   }
   api_cache_clear (api);
   if (s->stopping) {
      api_call_fail (call, 503, "unavailable", NULL, "the service is shutting down");
      api_call_respond (call);
      return;
   }
   add_waiter (&s->next, call, WAIT_REFRESH, "", dropped);
   refresh_start (s);
}

void
api_snapshot_refresh_soon (api_t *api, uint64_t delay_ms)
{
   api_snapshot_t *s = api->snapshot;
   if (!s || s->interval_ms == 0 || s->stopping) {
      return;
   }
   if (s->running) {
      s->soon_ms = s->soon && s->soon_ms < delay_ms ? s->soon_ms : delay_ms;
      s->soon = true;
      return;
   }
   /* Not sooner after the last scan's end than it took (none yet: the
    * first scan is due at once anyway). */
   uint64_t now = uv_now (api->app->loop), ended = s->started_ms + s->last_scan_ms;
   uint64_t since = now > ended ? now - ended : 0;
   uint64_t gap = s->last_scan_ms > since ? s->last_scan_ms - since : 0;
   uint64_t wait = delay_ms > gap ? delay_ms : gap;
   if (!uv_is_active ((uv_handle_t *) &s->timer) || uv_timer_get_due_in (&s->timer) > wait) {
      uv_timer_start (&s->timer, on_timer, wait, 0);
   }
}

static void
on_timer_closed (uv_handle_t *handle)
{
   api_snapshot_t *s = handle->data;
   for (int i = 0; i < 2; i++) {
      free (s->body[i]);
   }
   tk_tally_destroy (s->tally);
   zones_clear (s);
   api_newest_destroy (s->newest);
   journal_clear (s);
   flights_clear (s);
   job_cleanup (&s->job);
   void *token = s->stop_token;
   s->api->snapshot = NULL;
   free (s);
   if (token) {
      tk_shutdown_step_done (token);
   }
}

void
api_snapshot_stop (void *user_data, void *token)
{
   api_t *api = user_data;
   api_snapshot_t *s = api->snapshot;
   if (!s) {
      tk_shutdown_step_done (token);
      return;
   }
   s->stopping = true;
   atomic_store (&s->cancel, true);
   uv_timer_stop (&s->timer);
   s->stop_token = token;
   if (!s->running) {
      scan_job_t failed;
      memset (&failed, 0, sizeof failed);
      tk_error_set (&failed.err, TK_ERR_IO, 0, "the service is shutting down");
      waiter_t *waiting = s->next;
      s->next = NULL;
      answer_all (s, waiting, &failed);
      uv_close ((uv_handle_t *) &s->timer, on_timer_closed);
   }
}
