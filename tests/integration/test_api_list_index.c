/* GET /api/tickets answered from the side tables on the local stack's
 * PostgreSQL (common/list_sql.h, deploy/local/postgres/ticket-list-tables.sql,
 * docs/decisions/0017), on the real stack: 10,000 tickets written straight
 * into the collection (not through the services, in bulk, as a migration
 * or a restore would), two triage-api children on the same database, one
 * with TRIAGE_LIST_SQL_URL (the index path: it asks for the side tables of
 * its database at start, and they are filled from what is there) and one
 * without (every list reads the collection: FerretDB's own filtering and
 * sorting). Every
 * dashboard filter, sort and search, and the next page of each sort, must be the same
 * bytes from both; writes made afterwards by another writer (updates,
 * deletes, inserts) must show at once; a document of another shape must
 * send the index path back to the collection until it is gone. stored_at
 * and corrected (columns added to the side tables later) are compared the
 * same way, counted against the seed itself, and filled again by the
 * upgrade path of older side tables. Which one answered is read from the
 * X-Triage-Source response header. */
#include "test_support.h"

#include "api_fixture.h"
#include "pg_sessions.h"
#include "timeutil.h"

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define N_SEED 10000

static tk_api_fx_t fx;                          /* fx.svc: the index path */
static tk_test_service_t *const indexed = &fx.svc;
static tk_test_service_t plain;                 /* no TRIAGE_LIST_SQL_URL: the collection */
static int64_t base_ms;
static char app_name[64]; /* the indexed api's PostgreSQL connections */

static const char *const topics[] = {"SSO",     "API/SDK", "Glossary",       "Lineage",
                                     "Connector", "Product", "How-to", "Best practices",
                                     "Sensitive data"};
static const char *const sentiments[] = {"Angry", "Frustrated", "Curious", "Neutral"};
static const char *const priorities[] = {"P0 (High)", "P1 (Medium)", "P2 (Low)"};

static tk_api_fx_resp_t
get (const tk_test_service_t *s, const char *path)
{
   return tk_api_fx_request (s, "GET", path, ADMIN_KEY, NULL, 0, NULL);
}

/* Which path answered: the X-Triage-Source header. Good until the next call. */
static const char *
source (const tk_api_fx_resp_t *r)
{
   static char buf[32];
   return tk_api_fx_header (r, "X-Triage-Source", buf, sizeof buf);
}

/* Ticket i as the services store it: every third unprocessed (one in
 * five of those with failed attempts), the rest classified; created_at
 * ties every 97 tickets (the id breaks them), processed_at ties too;
 * stored_at up to 10 hours after created_at, on whole minutes (so that a
 * bound given in whole hours meets tickets stored exactly then), in
 * another order; one classified ticket in 13 corrected by a person
 * (processing_metadata.corrected_at), and one in 131 with a corrected_at
 * of null (present: corrected for $exists). The
 * text mixes case, LIKE's own metacharacters, and the two non-ASCII
 * letters whose case folding is ASCII (U+017F, U+212A). */
static void
ticket_doc (int i, const char *prefix, bson_t *doc)
{
   char id[32], subject[128], body[512];
   snprintf (id, sizeof id, "%s-%05d", prefix, i);
   static const char *const subjects[] = {
      "Refund for the annual plan",  "SSO login loops",         "dbt lineage graph is empty",
      "Glossary terms vanished",     "Snowflake connector slow", "Okta SCIM sync fails",
      "100%_off coupon not applied", "Looker dashboards stale",  "API token rotation"};
   static const char *const bodies[] = {
      "Hi team,\nwe were charged twice; please REFUND the second charge.\nThanks, Ana",
      "After the upgrade the login page loops back to Okta. Regards",
      "the lineage view shows nothing for our dbt models since monday",
      "Hello, several glossary terms are gone. Could you restore them?",
      "Syncing Snowflake takes 3 hours now (was 10 min)",
      "SCIM provisioning returns 409 for every user \xc5\xbf" "ince friday",
      "The code 100%_off says invalid. a_b and 50% are literal here.",
      "The \xe2\x84\xaa" "elvin dashboards in Looker show last week's numbers",
      "How do we rotate the API token without downtime?"};
   int k = i % 9;
   snprintf (subject, sizeof subject, "%s #%d", subjects[k], i % 13);
   snprintf (body, sizeof body, "%s\n-- ticket %d", bodies[(i / 9) % 9], i);
   int64_t created = base_ms + (int64_t) (i - i % 97 % 3) * 60000;
   int64_t stored = created + (int64_t) ((i * 37) % 600) * 60000;
   bson_init (doc);
   BSON_APPEND_UTF8 (doc, "_id", id);
   BSON_APPEND_UTF8 (doc, "id", id);
   BSON_APPEND_UTF8 (doc, "subject", subject);
   BSON_APPEND_UTF8 (doc, "body", body);
   bool processed = i % 3 != 0;
   BSON_APPEND_BOOL (doc, "processed", processed);
   BSON_APPEND_UTF8 (doc, "source", "migration");
   BSON_APPEND_DATE_TIME (doc, "created_at", created);
   BSON_APPEND_DATE_TIME (doc, "updated_at", created + 1000);
   BSON_APPEND_DATE_TIME (doc, "stored_at", stored);
   if (processed) {
      bson_t c, tags, conf, meta;
      BSON_APPEND_DOCUMENT_BEGIN (doc, "classification", &c);
      BSON_APPEND_UTF8 (&c, "priority", priorities[i % 3 == 1 ? (i / 3) % 3 : (i / 7) % 3]);
      BSON_APPEND_UTF8 (&c, "sentiment", sentiments[(i / 5) % 4]);
      BSON_APPEND_ARRAY_BEGIN (&c, "topic_tags", &tags);
      BSON_APPEND_UTF8 (&tags, "0", topics[(i / 2) % 9]);
      if (i % 4 == 0) {
         BSON_APPEND_UTF8 (&tags, "1", topics[(i / 4) % 9]);
      }
      bson_append_array_end (&c, &tags);
      bson_append_document_end (doc, &c);
      BSON_APPEND_DOCUMENT_BEGIN (doc, "confidence_scores", &conf);
      BSON_APPEND_DOUBLE (&conf, "topic", 0.3 + (i % 70) / 100.0);
      BSON_APPEND_DOUBLE (&conf, "sentiment", 0.45 + (i % 50) / 100.0);
      BSON_APPEND_DOUBLE (&conf, "priority", i % 11 == 0 ? 0.5 : 0.6 + (i % 40) / 100.0);
      bson_append_document_end (doc, &conf);
      BSON_APPEND_BOOL (doc, "needs_review", i % 11 == 0);
      BSON_APPEND_DOCUMENT_BEGIN (doc, "processing_metadata", &meta);
      BSON_APPEND_DATE_TIME (&meta, "processed_at", base_ms + 86400000 + (int64_t) (i / 2) * 1000);
      BSON_APPEND_UTF8 (&meta, "model_version", "m-1");
      BSON_APPEND_INT64 (&meta, "processing_time_ms", 10 + i % 50);
      BSON_APPEND_UTF8 (&meta, "agent_version", "0.1.0");
      if (i % 13 == 2) {
         BSON_APPEND_DATE_TIME (&meta, "corrected_at", base_ms + 2 * 86400000 + (int64_t) i * 1000);
      } else if (i % 131 == 7) {
         BSON_APPEND_NULL (&meta, "corrected_at");
      }
      bson_append_document_end (doc, &meta);
   } else if (i % 5 == 0) {
      BSON_APPEND_INT32 (doc, "processing_attempts", 3);
      BSON_APPEND_UTF8 (doc, "last_error", "HTTP 503");
   }
}

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_list_index", NULL, ADMIN_KEY)) {
      return -1;
   }
   tk_time_parse_iso ("2025-06-01T00:00:00Z", 20, &base_ms);
   tk_api_fx_insert_range (&fx, ticket_doc, "LI", 0, N_SEED);
   char url[512];
   /* Its connections named, to be found in pg_stat_activity. */
   snprintf (app_name, sizeof app_name, "triage_test_list_index_%d", (int) getpid ());
   tk_test_pg_list_sql_env (app_name, url, sizeof url);
   /* No timed statistics scan (after the first): a scan holds one of the
    * api's PostgreSQL connections while it runs, which
    * test_closed_connections_are_replaced would then not find idle. */
   const char *env_index[] = {"TRIAGE_API_NEWEST_KEEP=0", "TRIAGE_API_CACHE_TTL=1h", url, NULL};
   const char *env_plain[] = {"TRIAGE_API_NEWEST_KEEP=0", NULL};
   if (!tk_api_fx_start (&fx, indexed, "api", env_index) ||
       !tk_api_fx_start (&fx, &plain, "api", env_plain)) {
      return -1;
   }
   /* The indexed api asks for the side tables at its start (made and
    * filled from the 10,000 tickets then): lists read the collection
    * until they are ready. */
   for (int i = 0; i < 120; i++) {
      tk_api_fx_resp_t r = get (indexed, "/api/tickets?limit=1");
      bool ready = r.status == 200 && !strcmp (source (&r), "index");
      tk_api_fx_resp_free (&r);
      if (ready) {
         return 0;
      }
      usleep (500 * 1000);
   }
   fprintf (stderr, "the indexed api never answered from the side tables\n");
   return -1;
}

static int
teardown (void **state)
{
   (void) state;
   int rc_plain = tk_api_fx_stop (&plain);
   int rc = tk_api_fx_teardown (&fx);
   return rc == 0 && rc_plain == 0 ? 0 : -1;
}

/* Follows query's pages (at most max_pages) on both services: each must be
 * the same bytes, the indexed one answered by `want` (the header). Returns
 * how many tickets the pages held. */
static int
compare (const char *query, int max_pages, const char *want)
{
   char path[1024], next[600] = "";
   int pages = 0, tickets = 0;
   do {
      snprintf (path, sizeof path, "/api/tickets?%s%s%s", query, next[0] ? "&cursor=" : "", next);
      tk_api_fx_resp_t a = get (indexed, path);
      tk_api_fx_resp_t b = get (&plain, path);
      assert_int_equal (a.status, 200);
      assert_int_equal (b.status, 200);
      assert_string_equal (source (&b), "database");
      if (strcmp (source (&a), want) != 0) {
         fail_msg ("%s: answered by %s, not %s", path, source (&a), want);
      }
      if (strcmp (a.body, b.body) != 0) {
         fprintf (stderr, "%s differs:\n%.2000s\n---\n%.2000s\n", path, a.body, b.body);
      }
      assert_string_equal (a.body, b.body);
      cJSON *j = cJSON_Parse (a.body);
      assert_non_null (j);
      tickets += cJSON_GetArraySize (cJSON_GetObjectItem (j, "items"));
      const char *cur = tk_api_fx_str (j, "next_cursor");
      snprintf (next, sizeof next, "%s", cur ? cur : "");
      cJSON_Delete (j);
      tk_api_fx_resp_free (&a);
      tk_api_fx_resp_free (&b);
   } while (next[0] && ++pages < max_pages);
   return tickets;
}

/* The dashboard's filters, sorts and searches (and mixes of them); the
 * cursors of each sort are followed once. */
static const struct {
   const char *query;
   int pages; /* compared: each page of the collection path costs 1-2 s at 10k */
} queries[] = {
   {"limit=50", 1},
   {"status=processed&priority=P0%20(High)", 1},
   {"priority=P1%20(Medium)&sentiment=Frustrated", 1},
   {"topic=SSO", 1},
   {"topic=Glossary,Lineage&sentiment=Angry", 2},
   {"status=unprocessed&sort=created_at", 2},
   {"status=processed&sort=-processed_at", 2},
   {"sort=processed_at&limit=200", 2},
   {"confidence_below=0.5", 1},
   {"confidence_below=0.31&needs_review=false", 1},
   {"needs_review=true", 1},
   {"status=failed", 1},
   {"status=processed,failed&topic=Connector&limit=7", 1},
   {"created_from=2025-06-02T00:00:00Z&created_to=2025-06-03T00:00:00Z", 1},
   {"processed_from=2025-06-02T01:00:00Z&sort=processed_at", 1},
   {"q=refund", 2},
   {"q=REFUND&status=processed", 1},
   {"q=p1%20(", 1},            /* a label: P1 (Medium) */
   {"q=angr&topic=SSO", 1},   /* part of a label, with a filter */
   {"q=100%25_off", 1},       /* LIKE's metacharacters, literally */
   {"q=a_b", 1},
   {"q=kelvin", 1},           /* matches U+212A Kelvin sign + "elvin", case-blind */
   {"q=since", 1},            /* U+017F long s + "ince" */
   {"q=LI-0999", 1},          /* the id */
   {"q=zzzq", 1},
   /* The three ways a search is read (list_sql.c, "search"), each one
    * counted below: a text found among the newest tickets (refund, above);
    * one too rare there but held by few tickets (111), from the trigram
    * index, sorted; and a walk on, where a label matches (Angry, last of
    * the descending sentiment order: the first 1,000 tickets of the order
    * hold none), through to the end where nothing matches. */
   {"q=ticket%2012", 2},
   {"q=angr&sort=-sentiment&limit=20", 2},
   {"q=angr&status=unprocessed", 1},
   {"limit=1000&sort=created_at", 1},
   /* the label and confidence sorts: an hour of tickets (a third without
    * labels: not listed) in pages of 15, across the boundaries (P0, P1...) */
   {"sort=priority&created_from=2025-06-02T00:00:00Z&created_to=2025-06-02T01:00:00Z&limit=15", 3},
   {"sort=-priority&created_from=2025-06-02T00:00:00Z&created_to=2025-06-02T01:00:00Z&limit=15", 2},
   {"sort=sentiment&q=refund&limit=40", 2},
   {"sort=-sentiment&status=processed&limit=7", 1},
   {"sort=confidence_topic&created_from=2025-06-03T00:00:00Z&created_to=2025-06-03T01:00:00Z&limit=25", 2},
   {"sort=-confidence_priority&needs_review=true&limit=25", 1},
   {"sort=-confidence_sentiment&limit=30", 1},
   /* corrected (processing_metadata.corrected_at $exists) and stored_at
    * (stored_from inclusive, stored_to exclusive), alone and mixed */
   {"corrected=true", 1},
   {"corrected=false", 1},
   {"corrected=true&status=processed&sort=-processed_at&limit=20", 1},
   {"corrected=false&priority=P0%20(High)&sort=-confidence_priority&limit=25", 2},
   {"corrected=true&q=refund&sort=sentiment&limit=10", 1},
   {"stored_from=2025-06-07T00:00:00Z", 1},
   {"stored_to=2025-06-01T03:00:00Z&sort=created_at&limit=30", 1},
   {"stored_from=2025-06-02T00:00:00Z&stored_to=2025-06-02T02:00:00Z&sort=created_at&limit=40", 2},
   {"stored_from=2025-06-02T00:00:00Z&stored_to=2025-06-02T02:00:00Z&status=processed&topic=SSO,Lineage"
    "&sort=-priority&limit=5", 1},
   {"stored_from=2025-06-03T00:00:00Z&stored_to=2025-06-04T00:00:00Z&corrected=false"
    "&created_to=2025-06-03T12:00:00Z&sort=-processed_at&limit=50", 1},
   {"stored_from=2025-06-03T00:00:00Z&corrected=true&needs_review=false&confidence_below=0.6", 1},
};

/* The value of one series of the indexed api's metrics, e.g.
 * triage_api_list_documents_total{read="page"}; 0 when it is not there. */
static double
metric (const char *name, const char *label, const char *value)
{
   char series[128];
   snprintf (series, sizeof series, "%s{%s=\"%s\"}", name, label, value);
   double v = tk_api_fx_metric (indexed, series);
   return v < 0 ? 0 : v;
}

/* triage_api_list_documents_total{read="<read>"} of the indexed api. */
static double
documents_read (const char *read)
{
   return metric ("triage_api_list_documents_total", "read", read);
}

/* triage_api_search_pages_total{plan="<plan>"} of the indexed api. */
static double
search_pages (const char *plan)
{
   return metric ("triage_api_search_pages_total", "plan", plan);
}

static void
test_every_filter_equals_the_collection (void **state)
{
   (void) state;
   static const char *const plans[] = {"newest", "matches", "walk"};
   double plans_before[3];
   for (int i = 0; i < 3; i++) {
      plans_before[i] = search_pages (plans[i]);
   }
   double page_before = documents_read ("page"), coll_before = documents_read ("collection");
   int shown = 0;
   for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
      int n = compare (queries[i].query, queries[i].pages, "index");
      shown += n;
      fprintf (stderr, "# %-55s %d ticket(s) in %d page(s)\n", queries[i].query, n,
               queries[i].pages);
   }
   /* Every document came with its page, read back from FerretDB's table
    * (ferretdb_doc.h), none by a lookup in the collection: the bytes
    * compared above are that reader's. (A page also reads the first
    * document of the next one.) */
   assert_true (documents_read ("page") - page_before >= shown);
   assert_true (documents_read ("collection") == coll_before);
   /* Each way of reading a search answered some of the pages compared. */
   for (int i = 0; i < 3; i++) {
      double n = search_pages (plans[i]) - plans_before[i];
      fprintf (stderr, "# search pages read by plan %s: %.0f\n", plans[i], n);
      if (n < 1) {
         fail_msg ("no search page was read by plan %s", plans[i]);
      }
   }
}

/* Walks every page of query on the index path alone (limit 1000), calling
 * check(item, ctx) on each ticket; returns how many there were. */
static int
walk_index (const char *query, void (*check) (const cJSON *item, void *ctx), void *ctx)
{
   char path[1024], next[600] = "";
   int total = 0;
   do {
      snprintf (path, sizeof path, "/api/tickets?%s&limit=1000%s%s", query,
                next[0] ? "&cursor=" : "", next);
      tk_api_fx_resp_t a = get (indexed, path);
      assert_int_equal (a.status, 200);
      if (strcmp (source (&a), "index") != 0) {
         fail_msg ("%s: answered by %s, not index", path, source (&a));
      }
      cJSON *j = cJSON_Parse (a.body);
      assert_non_null (j);
      const cJSON *t;
      cJSON_ArrayForEach (t, cJSON_GetObjectItem (j, "items"))
      {
         check (t, ctx);
         total++;
      }
      const char *cur = tk_api_fx_str (j, "next_cursor");
      snprintf (next, sizeof next, "%s", cur ? cur : "");
      cJSON_Delete (j);
      tk_api_fx_resp_free (&a);
   } while (next[0]);
   return total;
}

/* The seed's own arithmetic (ticket_doc), not FerretDB's: */
static int64_t
seed_stored_at (int i)
{
   int64_t created = base_ms + (int64_t) (i - i % 97 % 3) * 60000;
   return created + (int64_t) ((i * 37) % 600) * 60000;
}

static bool
seed_corrected (int i)
{
   return i % 3 != 0 && (i % 13 == 2 || i % 131 == 7);
}

typedef struct {
   int64_t from, to; /* [from, to) */
   int at_from;      /* tickets stored exactly at from */
} stored_window_t;

static void
check_stored (const cJSON *item, void *ctx)
{
   stored_window_t *w = ctx;
   const char *v = tk_api_fx_str (item, "stored_at");
   int64_t ms = 0;
   if (!v || !tk_time_parse_iso (v, strlen (v), &ms) || ms < w->from || ms >= w->to) {
      fail_msg ("%s: stored_at %s outside the window", tk_api_fx_str (item, "id"), v ? v : "none");
   }
   w->at_from += ms == w->from;
}

static void
check_corrected (const cJSON *item, void *ctx)
{
   bool want = *(const bool *) ctx;
   const char *id = tk_api_fx_str (item, "id");
   if (seed_corrected (atoi (id + 3)) != want) {
      fail_msg ("%s listed by corrected=%s", id, want ? "true" : "false");
   }
}

/* stored_from is inclusive and stored_to exclusive, and corrected=true is
 * "processing_metadata.corrected_at present" (a null too), counted against
 * the seed itself rather than against FerretDB's answer: the comparisons
 * above would pass if both paths were wrong the same way. */
static void
test_stored_and_corrected_as_defined (void **state)
{
   (void) state;
   stored_window_t w = {0};
   assert_true (tk_time_parse_iso ("2025-06-02T00:00:00Z", 20, &w.from));
   assert_true (tk_time_parse_iso ("2025-06-02T02:00:00Z", 20, &w.to));
   int want = 0, want_at_to = 0;
   for (int i = 0; i < N_SEED; i++) {
      int64_t ms = seed_stored_at (i);
      want += ms >= w.from && ms < w.to;
      want_at_to += ms == w.to;
   }
   int got = walk_index ("stored_from=2025-06-02T00:00:00Z&stored_to=2025-06-02T02:00:00Z",
                         check_stored, &w);
   assert_int_equal (got, want);
   assert_true (w.at_from > 0 && want_at_to > 0); /* both bounds were met by some ticket */

   int want_corrected = 0;
   for (int i = 0; i < N_SEED; i++) {
      want_corrected += seed_corrected (i);
   }
   bool yes = true, no = false;
   assert_int_equal (walk_index ("corrected=true", check_corrected, &yes), want_corrected);
   assert_int_equal (walk_index ("corrected=false", check_corrected, &no),
                     N_SEED - want_corrected);
}

/* Side tables made before stored_at and corrected were columns: applying
 * ticket-list-tables.sql again (stack-up), or the api's start
 * (triage_list_enable), adds them and fills them from the documents. Here
 * the columns are dropped, and put back by triage_list_enable, in one
 * transaction (no write falls between); the answers must still be the
 * collection's. */
static void
test_older_side_tables_are_upgraded (void **state)
{
   (void) state;
   PGconn *c = PQconnectdb (tk_test_pg_url ());
   assert_int_equal (PQstatus (c), CONNECTION_OK);
   char *schema = PQescapeIdentifier (c, fx.db_name, strlen (fx.db_name));
   assert_non_null (schema);
   char sql[512];
   snprintf (sql, sizeof sql,
             "BEGIN; ALTER TABLE %s.triage_ticket_list DROP COLUMN stored_at, DROP COLUMN corrected",
             schema);
   PGresult *r = PQexec (c, sql);
   assert_int_equal (PQresultStatus (r), PGRES_COMMAND_OK);
   PQclear (r);
   const char *values[1] = {fx.db_name};
   r = PQexecParams (c, "SELECT public.triage_list_enable($1)", 1, NULL, values, NULL, NULL, 0);
   if (PQresultStatus (r) != PGRES_TUPLES_OK) {
      fail_msg ("triage_list_enable: %s", PQresultErrorMessage (r));
   }
   assert_string_equal (PQgetvalue (r, 0, 0), "ready");
   PQclear (r);
   r = PQexec (c, "COMMIT");
   assert_int_equal (PQresultStatus (r), PGRES_COMMAND_OK);
   PQclear (r);
   snprintf (sql, sizeof sql,
             "SELECT count(stored_at), count(*) FILTER (WHERE corrected), bool_and(exact)"
             " FROM %s.triage_ticket_list",
             schema);
   r = PQexec (c, sql);
   assert_int_equal (PQresultStatus (r), PGRES_TUPLES_OK);
   fprintf (stderr, "# upgraded: %s with stored_at, %s corrected, all exact: %s\n",
            PQgetvalue (r, 0, 0), PQgetvalue (r, 0, 1), PQgetvalue (r, 0, 2));
   assert_int_equal (atoi (PQgetvalue (r, 0, 0)), N_SEED);
   assert_string_equal (PQgetvalue (r, 0, 2), "t");
   PQclear (r);
   PQfreemem (schema);
   PQfinish (c);
   compare ("corrected=true&limit=100", 1, "index");
   compare ("stored_from=2025-06-02T00:00:00Z&stored_to=2025-06-02T02:00:00Z&corrected=false"
            "&sort=created_at&limit=200",
            1, "index");
}

/* The whole listing walked on the index path alone (the pages above were
 * compared with the collection's): every ticket exactly once, newest
 * first, ties by id descending. */
static void
test_walk_lists_every_ticket_once (void **state)
{
   (void) state;
   static bool seen[N_SEED];
   char path[700], next[600] = "", last_id[64] = "";
   double last_ms = 1e300;
   int total = 0;
   do {
      snprintf (path, sizeof path, "/api/tickets?limit=1000%s%s", next[0] ? "&cursor=" : "", next);
      tk_api_fx_resp_t a = get (indexed, path);
      assert_int_equal (a.status, 200);
      assert_string_equal (source (&a), "index");
      cJSON *j = cJSON_Parse (a.body);
      const cJSON *t;
      cJSON_ArrayForEach (t, cJSON_GetObjectItem (j, "items"))
      {
         const char *id = tk_api_fx_str (t, "id");
         int64_t ms = 0;
         const char *created = tk_api_fx_str (t, "created_at");
         assert_true (tk_time_parse_iso (created, strlen (created), &ms));
         assert_true ((double) ms < last_ms || ((double) ms == last_ms && strcmp (id, last_id) < 0));
         last_ms = (double) ms;
         snprintf (last_id, sizeof last_id, "%s", id);
         int k = atoi (id + 3);
         assert_true (k >= 0 && k < N_SEED && !seen[k]);
         seen[k] = true;
         total++;
      }
      const char *cur = tk_api_fx_str (j, "next_cursor");
      snprintf (next, sizeof next, "%s", cur ? cur : "");
      cJSON_Delete (j);
      tk_api_fx_resp_free (&a);
   } while (next[0]);
   assert_int_equal (total, N_SEED);
}

/* Runs sql on c (several statements when there is no parameter),
 * failing the test when PostgreSQL refuses it. */
static PGresult *
pg_ok (PGconn *c, const char *sql, int n, const char *const *values)
{
   PGresult *r = n ? PQexecParams (c, sql, n, NULL, values, NULL, NULL, 0) : PQexec (c, sql);
   if (PQresultStatus (r) != PGRES_COMMAND_OK && PQresultStatus (r) != PGRES_TUPLES_OK) {
      fail_msg ("%s: %s", sql, PQresultErrorMessage (r));
   }
   return r;
}

/* How many rows of the text table have created_at and id equal to the
 * list table's (the order a search reads the text table alone in). */
static int
text_rows_in_order (PGconn *c, const char *schema)
{
   char sql[512];
   snprintf (sql, sizeof sql,
             "SELECT count(*) FROM %s.triage_ticket_text x JOIN %s.triage_ticket_list l"
             " ON l.key = x.key WHERE x.created_at = l.created_at AND x.id = l.id",
             schema, schema);
   PGresult *r = pg_ok (c, sql, 0, NULL);
   int n = atoi (PQgetvalue (r, 0, 0));
   PQclear (r);
   return n;
}

/* A text table of the first version (key and text only) is made again
 * from the documents when the api asks for its side tables; and rows an
 * older trigger left without their order (created_at NULL) are mended by
 * the next install. Searches read it alone again, equal to the
 * collection. */
static void
test_older_text_table_is_made_again (void **state)
{
   (void) state;
   PGconn *c = PQconnectdb (tk_test_pg_url ());
   assert_int_equal (PQstatus (c), CONNECTION_OK);
   char *schema = PQescapeIdentifier (c, fx.db_name, strlen (fx.db_name));
   assert_non_null (schema);
   const char *values[1] = {fx.db_name};
   char sql[512];

   snprintf (sql, sizeof sql,
             "BEGIN; ALTER TABLE %s.triage_ticket_text DROP COLUMN created_at, DROP COLUMN id",
             schema);
   PQclear (pg_ok (c, sql, 0, NULL));
   PGresult *r = pg_ok (c, "SELECT public.triage_list_enable($1)", 1, values);
   assert_string_equal (PQgetvalue (r, 0, 0), "ready");
   PQclear (r);
   PQclear (pg_ok (c, "COMMIT", 0, NULL));
   int made = text_rows_in_order (c, schema);
   fprintf (stderr, "# text table made again: %d row(s) in order\n", made);
   assert_int_equal (made, N_SEED);

   snprintf (sql, sizeof sql,
             "UPDATE %s.triage_ticket_text SET created_at = NULL WHERE key LIKE '%%5'", schema);
   PQclear (pg_ok (c, sql, 0, NULL));
   assert_true (text_rows_in_order (c, schema) < N_SEED);
   PQclear (pg_ok (c,
                   "SELECT public.triage_list_install(c.oid::regclass) FROM pg_class c"
                   " JOIN pg_namespace n ON n.oid = c.relnamespace"
                   " WHERE n.nspname = $1 AND public.triage_is_tickets_table(c.oid::regclass)",
                   1, values));
   int mended = text_rows_in_order (c, schema);
   fprintf (stderr, "# after an install: %d row(s) in order\n", mended);
   assert_int_equal (mended, N_SEED);
   PQfreemem (schema);
   PQfinish (c);

   double alone = search_pages ("matches");
   compare ("q=ticket%2012", 2, "index");
   compare ("q=refund&sort=created_at", 2, "index");
   assert_true (search_pages ("matches") > alone);
}

/* Sorted by priority, ascending: P0, P1, P2 (bytewise, as MongoDB
 * compares strings), within a priority by created_at, then id, ascending;
 * only the tickets that have a priority (two in three here); descending
 * the exact reverse. */
static void
test_priority_sort_order (void **state)
{
   (void) state;
   static const char *const base =
      "/api/tickets?created_from=2025-06-02T00:00:00Z&created_to=2025-06-02T02:00:00Z&limit=11";
   char asc[128][16], path[800], next[600];
   int n = 0;
   for (int desc = 0; desc < 2; desc++) {
      char prev_p[32] = "", prev_id[16] = "";
      int64_t prev_ms = 0;
      int k = 0;
      next[0] = '\0';
      do {
         snprintf (path, sizeof path, "%s&sort=%spriority%s%s", base, desc ? "-" : "",
                   next[0] ? "&cursor=" : "", next);
         tk_api_fx_resp_t a = get (indexed, path);
         assert_int_equal (a.status, 200);
         cJSON *j = cJSON_Parse (a.body);
         const cJSON *t;
         cJSON_ArrayForEach (t, cJSON_GetObjectItem (j, "items"))
         {
            const cJSON *c = cJSON_GetObjectItem (t, "classification");
            const char *p = c ? tk_api_fx_str (c, "priority") : NULL;
            const char *id = tk_api_fx_str (t, "id");
            if (!p) {
               fail_msg ("%s: %s has no priority", path, id);
            }
            int64_t ms = 0;
            const char *created = tk_api_fx_str (t, "created_at");
            assert_true (tk_time_parse_iso (created, strlen (created), &ms));
            if (k > 0) {
               int cp = strcmp (prev_p, p ? p : "");
               int order = cp ? cp : prev_ms != ms ? (prev_ms < ms ? -1 : 1) : strcmp (prev_id, id);
               if (desc ? order <= 0 : order >= 0) {
                  fail_msg ("%s: %s (%s) after %s (%s)", path, id, p ? p : "none", prev_id, prev_p);
               }
            }
            if (!desc) {
               assert_true (n < 128);
               snprintf (asc[n++], sizeof asc[0], "%s", id);
            } else {
               assert_string_equal (id, asc[n - 1 - k]);
            }
            snprintf (prev_p, sizeof prev_p, "%s", p ? p : "");
            snprintf (prev_id, sizeof prev_id, "%s", id);
            prev_ms = ms;
            k++;
         }
         const char *cur = tk_api_fx_str (j, "next_cursor");
         snprintf (next, sizeof next, "%s", cur ? cur : "");
         cJSON_Delete (j);
         tk_api_fx_resp_free (&a);
      } while (next[0]);
      assert_int_equal (k, n);
   }
   assert_true (n > 60 && n < 100); /* about 80: two hours, a ticket a minute, 2/3 classified */
}

/* The server closes the connections the api keeps idle between pages (a
 * restart, an idle timeout): the next pages are still read from the side
 * tables, on new connections, not from the collection (minutes a page at
 * a million tickets). */
static void
test_closed_connections_are_replaced (void **state)
{
   (void) state;
   for (int i = 0; i < 3; i++) {
      /* A page first: its connection goes back to the pool, idle. */
      tk_api_fx_resp_t r = get (indexed, "/api/tickets?needs_review=true&limit=1");
      assert_int_equal (r.status, 200);
      tk_api_fx_resp_free (&r);
      assert_true (tk_test_pg_close_idle (app_name) > 0);
      compare (i == 0 ? "status=processed&priority=P0%20(High)" : i == 1 ? "q=refund" : "topic=SSO",
               1, "index");
   }
}

/* A search the SQL cannot match exactly (non-ASCII) reads the collection. */
static void
test_non_ascii_search_reads_the_collection (void **state)
{
   (void) state;
   compare ("q=%C3%A9t%C3%A9", 1, "database");
}

/* Another writer updates, deletes and inserts: the next pages show it. */
static void
test_other_writers_are_seen_at_once (void **state)
{
   (void) state;
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_error_t e;
   /* Classify an unprocessed ticket as P0 and Angry, with a new subject,
    * and a person's correction. */
   bson_t *sel = BCON_NEW ("_id", BCON_UTF8 ("LI-00003"));
   bson_t *upd = BCON_NEW ("$set", "{", "processed", BCON_BOOL (true), "subject",
                           BCON_UTF8 ("Quarantined REFUND request"), "classification", "{",
                           "priority", BCON_UTF8 ("P0 (High)"), "sentiment", BCON_UTF8 ("Angry"),
                           "topic_tags", "[", BCON_UTF8 ("SSO"), "]", "}",
                           "processing_metadata.processed_at", BCON_DATE_TIME (base_ms + 9 * 86400000LL),
                           "processing_metadata.corrected_at", BCON_DATE_TIME (base_ms + 9 * 86400000LL),
                           "}");
   assert_true (mongoc_collection_update_one (coll, sel, upd, NULL, NULL, &e));
   bson_destroy (sel);
   bson_destroy (upd);
   sel = BCON_NEW ("_id", BCON_UTF8 ("LI-09999"));
   assert_true (mongoc_collection_delete_one (coll, sel, NULL, NULL, &e));
   bson_destroy (sel);
   tk_api_fx_collection_release (&fx, coll);
   tk_api_fx_insert_range (&fx, ticket_doc, "NEW", 0, 5);

   const char *const after[] = {"status=processed&priority=P0%20(High)&topic=SSO",
                                "q=quarantined", "sort=-processed_at&limit=5", "limit=20",
                                "q=new-0000", "corrected=true&status=processed&priority=P0%20(High)",
                                "stored_to=2025-06-01T03:00:00Z&sort=created_at"};
   for (size_t i = 0; i < sizeof after / sizeof after[0]; i++) {
      compare (after[i], 1, "index"); /* the cursors were followed above */
   }
   tk_api_fx_resp_t r = get (indexed, "/api/tickets?q=quarantined");
   assert_non_null (strstr (r.body, "\"LI-00003\""));
   tk_api_fx_resp_free (&r);
   r = get (indexed, "/api/tickets?q=LI-09999");
   assert_non_null (strstr (r.body, "\"count\":0"));
   tk_api_fx_resp_free (&r);
}

/* A document of another shape (created_at a string): its MongoDB
 * semantics are not the side tables', so the collection answers until it
 * is gone. */
static void
test_another_shape_reads_the_collection (void **state)
{
   (void) state;
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_error_t e;
   bson_t *odd = BCON_NEW ("_id", BCON_UTF8 ("ODD-1"), "id", BCON_UTF8 ("ODD-1"), "subject",
                           BCON_UTF8 ("odd"), "body", BCON_UTF8 ("a refund"), "processed",
                           BCON_BOOL (false), "created_at", BCON_UTF8 ("2025-06-02"));
   assert_true (mongoc_collection_insert_one (coll, odd, NULL, NULL, &e));
   tk_api_fx_collection_release (&fx, coll);
   compare ("q=refund&limit=20", 1, "database");
   compare ("status=unprocessed&limit=20", 1, "database");
   coll = tk_api_fx_collection (&fx, "tickets");
   bson_t *sel = BCON_NEW ("_id", BCON_UTF8 ("ODD-1"));
   assert_true (mongoc_collection_delete_one (coll, sel, NULL, NULL, &e));
   bson_destroy (sel);
   bson_destroy (odd);
   tk_api_fx_collection_release (&fx, coll);
   compare ("q=refund&limit=20", 1, "index");

   /* The same for a stored_at that is not a date: MongoDB's range on a
    * date would not match it, nor an array of dates the same way. */
   coll = tk_api_fx_collection (&fx, "tickets");
   odd = BCON_NEW ("_id", BCON_UTF8 ("ODD-2"), "id", BCON_UTF8 ("ODD-2"), "subject",
                   BCON_UTF8 ("odd"), "body", BCON_UTF8 ("a refund"), "processed",
                   BCON_BOOL (false), "created_at", BCON_DATE_TIME (base_ms), "stored_at",
                   BCON_UTF8 ("2025-06-02"));
   assert_true (mongoc_collection_insert_one (coll, odd, NULL, NULL, &e));
   tk_api_fx_collection_release (&fx, coll);
   compare ("stored_from=2025-06-01T00:00:00Z&limit=20", 1, "database");
   coll = tk_api_fx_collection (&fx, "tickets");
   sel = BCON_NEW ("_id", BCON_UTF8 ("ODD-2"));
   assert_true (mongoc_collection_delete_one (coll, sel, NULL, NULL, &e));
   bson_destroy (sel);
   bson_destroy (odd);
   tk_api_fx_collection_release (&fx, coll);
   compare ("stored_from=2025-06-01T00:00:00Z&limit=20", 1, "index");

   /* A created_at stored as a number, then set to the date of the same
    * milliseconds (the repair an operator would make): FerretDB stores
    * both as the same JSON number, only its type map differs, and the
    * text table's order must follow the type (NULL while a number). The
    * oldest ticket of all: a stale NULL would put it first. */
   coll = tk_api_fx_collection (&fx, "tickets");
   const int64_t old_ms = base_ms - 86400000;
   odd = BCON_NEW ("_id", BCON_UTF8 ("ODD-3"), "id", BCON_UTF8 ("ODD-3"), "subject",
                   BCON_UTF8 ("odd"), "body", BCON_UTF8 ("a refund"), "processed",
                   BCON_BOOL (false), "created_at", BCON_INT64 (old_ms));
   assert_true (mongoc_collection_insert_one (coll, odd, NULL, NULL, &e));
   tk_api_fx_collection_release (&fx, coll);
   compare ("q=refund&limit=20", 1, "database");
   coll = tk_api_fx_collection (&fx, "tickets");
   sel = BCON_NEW ("_id", BCON_UTF8 ("ODD-3"));
   bson_t *fix = BCON_NEW ("$set", "{", "created_at", BCON_DATE_TIME (old_ms), "}");
   assert_true (mongoc_collection_update_one (coll, sel, fix, NULL, NULL, &e));
   tk_api_fx_collection_release (&fx, coll);
   compare ("q=refund&limit=20", 1, "index");
   compare ("q=refund&sort=created_at&limit=20", 1, "index");
   coll = tk_api_fx_collection (&fx, "tickets");
   assert_true (mongoc_collection_delete_one (coll, sel, NULL, NULL, &e));
   bson_destroy (fix);
   bson_destroy (sel);
   bson_destroy (odd);
   tk_api_fx_collection_release (&fx, coll);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_every_filter_equals_the_collection),
      cmocka_unit_test (test_walk_lists_every_ticket_once),
      cmocka_unit_test (test_stored_and_corrected_as_defined),
      cmocka_unit_test (test_older_side_tables_are_upgraded),
      cmocka_unit_test (test_older_text_table_is_made_again),
      cmocka_unit_test (test_priority_sort_order),
      cmocka_unit_test (test_closed_connections_are_replaced),
      cmocka_unit_test (test_non_ascii_search_reads_the_collection),
      cmocka_unit_test (test_other_writers_are_seen_at_once),
      cmocka_unit_test (test_another_shape_reads_the_collection),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
