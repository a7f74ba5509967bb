/* fake_llm.c - a fake LLM server for the classifier's integration tests.
 *
 * Speaks OpenAI's POST /v1/chat/completions and Gemini's
 * POST /v1beta/models/<model>:generateContent over real HTTP and answers
 * with a valid classification, unless the request text carries a directive
 * (tests put it in a ticket's body):
 *
 *   [[fake ACTION times=N retry_after=S delay=MS <anything else>]]
 *
 * ACTION is one of 429, 500, 503, 400, 401, hang, garbage (a 200 whose body
 * is not JSON), truncated (a 200 whose JSON is cut short), badlabel (an
 * answer with a sentiment outside the taxonomy), missing (an answer without
 * a priority). The first `times` requests carrying the same directive text
 * get the fault (times=0: every one), later ones a valid answer; so a test
 * scripts each ticket independently of the order requests arrive in.
 * retry_after adds a Retry-After header; delay answers that many ms late
 * (hang waits an hour). TRIAGE_FAKE_LATENCY_MS delays every answer.
 *
 * Batches: a user message holding "Tickets:" and a JSON array of
 * {"id","subject","body"} (the classifier's TRIAGE_LLM_BATCH prompt) is
 * answered {"answers":[...]} with one entry per id. Each ticket's body is
 * read for its own directive: badlabel and missing spoil that ticket's
 * entry only, omit leaves it out, dupe answers it twice, wrongtype gives it
 * a number for a sentiment; any other fault (429, 500, garbage, hang...)
 * is the whole response's.
 *
 * GET /_fake/received returns {"count":N,"requests":[{"path","auth","body",
 * "at_ms","ids"}]}: every request received (at_ms: arrival on a monotonic
 * clock, in milliseconds; ids: the ticket ids it asked about), so tests can
 * check what left the classifier and when.
 * POST /_fake/down makes every LLM request fail with 503 (no Retry-After)
 * until POST /_fake/up: the provider is down for a while.
 * Listens on 127.0.0.1:$TRIAGE_HTTP_PORT; serves /healthz. SIGTERM exits.
 */
#include "http_server.h"

#include <cjson/cJSON.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_DIRECTIVES 4096

typedef struct {
   char *text;
   unsigned seen;
} directive_t;

static directive_t directives[MAX_DIRECTIVES];
static size_t n_directives;
static cJSON *received;
static uint64_t latency_ms;
static bool down;

typedef struct {
   uv_timer_t timer;
   tk_http_request_t *req;
   int status;
   char *body;
   char retry_after[32];
} pending_t;

static void
pending_closed (uv_handle_t *h)
{
   pending_t *p = h->data;
   free (p->body);
   free (p);
}

static void
send_pending (pending_t *p)
{
   if (p->retry_after[0]) {
      tk_http_add_header (p->req, "Retry-After", p->retry_after);
   }
   tk_http_respond (p->req, p->status, "application/json", p->body, strlen (p->body));
}

static void
on_delay (uv_timer_t *t)
{
   pending_t *p = t->data;
   send_pending (p);
   uv_close ((uv_handle_t *) &p->timer, pending_closed);
}

/* Finds the directive in body; returns its action ("" for none). */
static const char *
directive (const char *body, unsigned *times_out, char *retry_after, size_t ra_cap,
           uint64_t *delay_ms, unsigned *seen_before)
{
   const char *start = strstr (body, "[[fake ");
   const char *end = start ? strstr (start, "]]") : NULL;
   if (!start || !end) {
      return "";
   }
   size_t len = (size_t) (end - start);
   directive_t *d = NULL;
   for (size_t i = 0; i < n_directives; i++) {
      if (strlen (directives[i].text) == len && strncmp (directives[i].text, start, len) == 0) {
         d = &directives[i];
      }
   }
   if (!d && n_directives < MAX_DIRECTIVES) {
      d = &directives[n_directives++];
      d->text = strndup (start, len);
   }
   if (!d) {
      return "";
   }
   *seen_before = d->seen++;
   static char action[32];
   action[0] = '\0';
   *times_out = 1;
   char *copy = strndup (start + 7, len - 7);
   char *save = NULL;
   for (char *tok = strtok_r (copy, " ", &save); tok; tok = strtok_r (NULL, " ", &save)) {
      if (strncmp (tok, "times=", 6) == 0) {
         *times_out = (unsigned) atoi (tok + 6);
      } else if (strncmp (tok, "retry_after=", 12) == 0) {
         snprintf (retry_after, ra_cap, "%s", tok + 12);
      } else if (strncmp (tok, "delay=", 6) == 0) {
         *delay_ms = (uint64_t) atoll (tok + 6);
      } else if (!action[0] && strchr (tok, '=') == NULL) {
         snprintf (action, sizeof action, "%s", tok);
      }
   }
   free (copy);
   return action;
}

static char *
wrap (bool gemini, const char *content)
{
   cJSON *o = cJSON_CreateObject ();
   if (gemini) {
      cJSON *cands = cJSON_AddArrayToObject (o, "candidates");
      cJSON *c = cJSON_CreateObject ();
      cJSON *ct = cJSON_AddObjectToObject (c, "content");
      cJSON_AddStringToObject (ct, "role", "model");
      cJSON *parts = cJSON_AddArrayToObject (ct, "parts");
      cJSON *p = cJSON_CreateObject ();
      cJSON_AddStringToObject (p, "text", content);
      cJSON_AddItemToArray (parts, p);
      cJSON_AddStringToObject (c, "finishReason", "STOP");
      cJSON_AddItemToArray (cands, c);
   } else {
      cJSON_AddStringToObject (o, "id", "chatcmpl-fake");
      cJSON_AddStringToObject (o, "object", "chat.completion");
      cJSON_AddStringToObject (o, "model", "fake-model");
      cJSON *choices = cJSON_AddArrayToObject (o, "choices");
      cJSON *c = cJSON_CreateObject ();
      cJSON_AddNumberToObject (c, "index", 0);
      cJSON *m = cJSON_AddObjectToObject (c, "message");
      cJSON_AddStringToObject (m, "role", "assistant");
      cJSON_AddStringToObject (m, "content", content);
      cJSON_AddStringToObject (c, "finish_reason", "stop");
      cJSON_AddItemToArray (choices, c);
   }
   char *s = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return s;
}

static const char good[] =
   "{\"topic_tags\":[\"Connector\",\"how-to\"],\"sentiment\":\"Curious\",\"priority\":"
   "\"P1 (Medium)\",\"confidence\":{\"topic\":0.85,\"sentiment\":0.92,\"priority\":1.3}}";
static const char badlabel[] =
   "{\"topic_tags\":[\"Connector\"],\"sentiment\":\"Ecstatic\",\"priority\":\"P1 (Medium)\","
   "\"confidence\":{\"topic\":0.5,\"sentiment\":0.5,\"priority\":0.5}}";
static const char wrongtype[] =
   "{\"topic_tags\":[\"Connector\"],\"sentiment\":7,\"priority\":\"P1 (Medium)\","
   "\"confidence\":{\"topic\":0.5,\"sentiment\":0.5,\"priority\":0.5}}";
static const char missing[] =
   "{\"topic_tags\":[\"Connector\"],\"sentiment\":\"Curious\","
   "\"confidence\":{\"topic\":0.5,\"sentiment\":0.5,\"priority\":0.5}}";

/* The first user message's text in a request body (borrowed from req). */
static const char *
user_text (const cJSON *req, bool gemini)
{
   const cJSON *list = cJSON_GetObjectItemCaseSensitive (req, gemini ? "contents" : "messages");
   const cJSON *m;
   cJSON_ArrayForEach (m, list)
   {
      const cJSON *role = cJSON_GetObjectItemCaseSensitive (m, "role");
      if (!cJSON_IsString (role) || strcmp (role->valuestring, "user") != 0) {
         continue;
      }
      const cJSON *t = gemini ? cJSON_GetObjectItemCaseSensitive (
                                   cJSON_GetArrayItem (cJSON_GetObjectItemCaseSensitive (m, "parts"), 0),
                                   "text")
                              : cJSON_GetObjectItemCaseSensitive (m, "content");
      return cJSON_IsString (t) ? t->valuestring : NULL;
   }
   return NULL;
}

/* The tickets of a batch prompt (caller frees), or NULL if not a batch. */
static cJSON *
batch_tickets (const char *user)
{
   const char *at = user ? strstr (user, "\n\nTickets:\n") : NULL;
   cJSON *arr = at ? cJSON_Parse (at + 10) : NULL;
   if (arr && !cJSON_IsArray (arr)) {
      cJSON_Delete (arr);
      arr = NULL;
   }
   return arr;
}

/* The answer to a batch: one entry per ticket, as each one's directive
 * says. *whole gets a fault that spoils the whole response, if any. */
static char *
batch_answer (const cJSON *tickets, char *whole, size_t whole_cap, char *retry_after,
              size_t ra_cap, uint64_t *delay)
{
   cJSON *o = cJSON_CreateObject ();
   cJSON *answers = cJSON_AddArrayToObject (o, "answers");
   const cJSON *t;
   cJSON_ArrayForEach (t, tickets)
   {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive (t, "id");
      const cJSON *body = cJSON_GetObjectItemCaseSensitive (t, "body");
      unsigned times = 1, seen = 0;
      char ra[32] = "";
      uint64_t d = *delay;
      const char *action = directive (cJSON_IsString (body) ? body->valuestring : "", &times, ra,
                                      sizeof ra, &d, &seen);
      bool fault = action[0] && (times == 0 || seen < times);
      const char *answer = good;
      if (fault && strcmp (action, "badlabel") == 0) {
         answer = badlabel;
      } else if (fault && strcmp (action, "missing") == 0) {
         answer = missing;
      } else if (fault && strcmp (action, "omit") == 0) {
         continue;
      } else if (fault && strcmp (action, "wrongtype") == 0) {
         answer = wrongtype;
      } else if (fault && strcmp (action, "dupe") != 0) {
         if (!whole[0]) {
            snprintf (whole, whole_cap, "%s", action);
            snprintf (retry_after, ra_cap, "%s", ra);
            *delay = d;
         }
      }
      int copies = fault && strcmp (action, "dupe") == 0 ? 2 : 1;
      for (int k = 0; k < copies; k++) {
         cJSON *a = cJSON_Parse (answer);
         cJSON_AddStringToObject (a, "id", cJSON_IsString (id) ? id->valuestring : "");
         cJSON_AddItemToArray (answers, a);
      }
   }
   char *text = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return text;
}

static void
on_llm (tk_http_request_t *req, void *ud)
{
   bool gemini = ud != NULL;
   size_t len;
   const char *body = tk_http_request_body (req, &len);
   cJSON *rec = cJSON_CreateObject ();
   cJSON_AddStringToObject (rec, "path", tk_http_request_path (req));
   const char *auth = tk_http_request_header (req, gemini ? "x-goog-api-key" : "Authorization");
   cJSON_AddStringToObject (rec, "auth", auth ? auth : "");
   cJSON_AddStringToObject (rec, "body", body);
   cJSON_AddNumberToObject (rec, "at_ms", (double) (uv_hrtime () / 1000000u));
   cJSON_AddItemToArray (received, rec);
   cJSON *parsed = cJSON_Parse (body);
   const char *user = user_text (parsed, gemini);
   cJSON *tickets = batch_tickets (user);
   cJSON *ids = cJSON_AddArrayToObject (rec, "ids");
   if (tickets) {
      const cJSON *t;
      cJSON_ArrayForEach (t, tickets)
      {
         const cJSON *id = cJSON_GetObjectItemCaseSensitive (t, "id");
         cJSON_AddItemToArray (ids, cJSON_CreateString (cJSON_IsString (id) ? id->valuestring : ""));
      }
   } else if (user && strncmp (user, "Ticket ", 7) == 0) {
      const char *nl = strchr (user + 7, '\n');
      char *id = strndup (user + 7, nl ? (size_t) (nl - user - 7) : strlen (user + 7));
      cJSON_AddItemToArray (ids, cJSON_CreateString (id));
      free (id);
   }

   pending_t *p = calloc (1, sizeof *p);
   p->req = req;
   p->status = 200;
   unsigned times = 1, seen = 0;
   uint64_t delay = latency_ms;
   const char *action = "";
   bool fault = false;
   char *batch_text = NULL;
   char whole[32] = "";
   if (tickets) {
      batch_text = batch_answer (tickets, whole, sizeof whole, p->retry_after,
                                 sizeof p->retry_after, &delay);
      action = whole;
      fault = whole[0] != '\0';
   } else {
      action = directive (body, &times, p->retry_after, sizeof p->retry_after, &delay, &seen);
      fault = action[0] && (times == 0 || seen < times);
   }
   cJSON_Delete (tickets);
   cJSON_Delete (parsed);
   if (down) {
      p->status = 503;
      p->retry_after[0] = '\0';
      p->body = strdup ("{\"error\":{\"message\":\"the fake is down\",\"type\":\"fake\"}}");
      delay = 0;
   } else if (!fault) {
      p->retry_after[0] = '\0';
      p->body = wrap (gemini, batch_text ? batch_text : good);
   } else if (atoi (action) >= 400) {
      p->status = atoi (action);
      p->body = strdup ("{\"error\":{\"message\":\"scripted fault\",\"type\":\"fake\"}}");
   } else if (strcmp (action, "hang") == 0) {
      delay = 3600 * 1000;
      p->body = wrap (gemini, good);
   } else if (strcmp (action, "garbage") == 0) {
      p->body = strdup ("<html><body>Bad gateway</body></html>");
   } else if (strcmp (action, "truncated") == 0) {
      char *full = wrap (gemini, good);
      full[strlen (full) / 2] = '\0';
      p->body = full;
   } else if (strcmp (action, "badlabel") == 0) {
      p->body = wrap (gemini, badlabel);
   } else if (strcmp (action, "missing") == 0) {
      p->body = wrap (gemini, missing);
   } else {
      p->body = wrap (gemini, good);
   }
   if (p->status < 400 || (p->status != 429 && p->status != 503)) {
      if (p->status == 200) {
         p->retry_after[0] = '\0';
      }
   }
   free (batch_text);
   if (delay == 0) {
      send_pending (p);
      free (p->body);
      free (p);
      return;
   }
   uv_timer_init (tk_http_request_loop (req), &p->timer);
   p->timer.data = p;
   uv_timer_start (&p->timer, on_delay, delay, 0);
}

static void
on_received (tk_http_request_t *req, void *ud)
{
   (void) ud;
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddNumberToObject (o, "count", cJSON_GetArraySize (received));
   cJSON_AddItemToObject (o, "requests", cJSON_Duplicate (received, true));
   tk_http_respond_json (req, 200, o);
}

static void
on_down (tk_http_request_t *req, void *ud)
{
   down = ud != NULL;
   tk_http_respond (req, 200, "application/json", "{}", 2);
}

static void
on_signal (uv_signal_t *s, int sig)
{
   (void) s;
   (void) sig;
   /* Hanging requests are never answered: just go. */
   _exit (0);
}

int
main (void)
{
   const char *port = getenv ("TRIAGE_HTTP_PORT");
   const char *lat = getenv ("TRIAGE_FAKE_LATENCY_MS");
   latency_ms = lat ? (uint64_t) atoll (lat) : 0;
   uv_loop_t *loop = uv_default_loop ();
   tk_error_t err;
   /* Every client of the fake is a local test, from one address. */
   tk_http_options_t opts = {.host = "127.0.0.1", .port = port ? atoi (port) : 0,
                             .idle_timeout_ms = 120000, .max_connections = 100000,
                             .max_client_connections = 100000};
   tk_http_server_t *srv = tk_http_server_new (loop, &opts, &err);
   received = cJSON_CreateArray ();
   const tk_http_access_t json = {.max_body = TK_HTTP_BODY_LARGE};
   if (!srv || !tk_http_add_health_routes (srv, NULL, NULL, &err) ||
       !tk_http_route_with (srv, "POST", "/v1/chat/completions", json, on_llm, NULL, &err) ||
       !tk_http_route_with (srv, "POST", "/v1beta/models/*", json, on_llm, (void *) 1, &err) ||
       !tk_http_route (srv, "GET", "/_fake/received", on_received, NULL, &err) ||
       !tk_http_route_with (srv, "POST", "/_fake/down", json, on_down, (void *) 1, &err) ||
       !tk_http_route_with (srv, "POST", "/_fake/up", json, on_down, NULL, &err) ||
       !tk_http_server_listen (srv, &err)) {
      fprintf (stderr, "fake-llm: %s\n", err.message);
      return 2;
   }
   signal (SIGPIPE, SIG_IGN);
   uv_signal_t sigterm, sigint;
   uv_signal_init (loop, &sigterm);
   uv_signal_start (&sigterm, on_signal, SIGTERM);
   uv_signal_init (loop, &sigint);
   uv_signal_start (&sigint, on_signal, SIGINT);
   fprintf (stderr, "fake-llm listening on %d\n", tk_http_server_port (srv));
   return uv_run (loop, UV_RUN_DEFAULT);
}
