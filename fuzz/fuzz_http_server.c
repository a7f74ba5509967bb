/* fuzz_http_server.c - the whole HTTP connection parser and dispatcher.
 *
 * One server (http_server.h) listens on an ephemeral loopback port for the
 * whole run, with small limits. Each input is sent as the raw byte stream
 * of one client connection (then the client half-closes) and the loop runs
 * until the server has answered and closed it, or the client read EOF.
 * Request lines, headers, chunked bodies, pipelining, bad bytes anywhere:
 * the server must answer or close without crashing, leaking or hanging
 * (a hang is reported by libFuzzer's -timeout).
 */
#include <signal.h>
#include <uv.h>

#include "fuzz_common.h"
#include "http_server.h"

static uv_loop_t loop;
static tk_http_server_t *server;
static struct sockaddr_in server_addr;

typedef struct {
   uv_tcp_t tcp;
   uv_connect_t connect;
   uv_write_t write;
   uv_shutdown_t shutdown;
   bool closed;
   size_t received;
} client_t;

/* GET/POST/PUT /echo/{x}: answers the body, the parameter and the query. */
static void
echo_handler (tk_http_request_t *req, void *ud)
{
   (void) ud;
   size_t len = 0;
   const char *body = tk_http_request_body (req, &len);
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddNumberToObject (o, "body_len", (double) len);
   cJSON_AddStringToObject (o, "x", tk_http_request_param (req, "x"));
   const char *ct = tk_http_request_header (req, "content-type");
   cJSON_AddStringToObject (o, "content_type", ct ? ct : "");
   size_t cursor = 0;
   const char *key = NULL;
   const char *v;
   cJSON *q = cJSON_AddObjectToObject (o, "query");
   while ((v = tk_http_query_next (req, NULL, &cursor, &key)) != NULL) {
      cJSON_AddStringToObject (q, key, v);
   }
   (void) body;
   tk_http_respond_json (req, 200, o);
}

/* GET /stream: a two-chunk streamed answer. */
static void
stream_written (tk_http_request_t *req, int status, void *ud)
{
   (void) status;
   (void) ud;
   tk_http_stream_end (req);
}

static void
stream_handler (tk_http_request_t *req, void *ud)
{
   (void) ud;
   if (tk_http_stream_begin (req, 200, "text/plain") != 0 ||
       tk_http_stream_write (req, "chunk\n", 6, stream_written, NULL) != 0) {
      tk_http_stream_end (req);
   }
}

static void
setup (void)
{
   tk_error_t err;
   signal (SIGPIPE, SIG_IGN);
   fuzz_check (uv_loop_init (&loop) == 0);
   tk_http_options_t opts = {
      .host = "127.0.0.1",
      .port = 0,
      .max_body_bytes = 64 * 1024,
      .max_header_bytes = 8 * 1024,
      .header_timeout_ms = 1000,
      .idle_timeout_ms = 1000,
      .request_timeout_ms = 1000,
      .max_connections = 64,
   };
   server = tk_http_server_new (&loop, &opts, &err);
   fuzz_check (server != NULL);
   fuzz_check (tk_http_add_health_routes (server, NULL, NULL, &err));
   fuzz_check (tk_http_add_metrics_route (server, NULL, NULL, &err));
   fuzz_check (tk_http_route_with (server, "*", "/echo/{x}",
                                   (tk_http_access_t){.max_body = TK_HTTP_BODY_LARGE},
                                   echo_handler, NULL, &err));
   fuzz_check (tk_http_route (server, "GET", "/stream", stream_handler, NULL, &err));
   fuzz_check (tk_http_route (server, "GET", "/static/*", echo_handler, NULL, &err));
   fuzz_check (tk_http_server_listen (server, &err));
   fuzz_check (uv_ip4_addr ("127.0.0.1", tk_http_server_port (server), &server_addr) == 0);
}

static void
client_closed (uv_handle_t *h)
{
   ((client_t *) h->data)->closed = true;
}

static void
client_close (client_t *c)
{
   if (!uv_is_closing ((uv_handle_t *) &c->tcp)) {
      uv_close ((uv_handle_t *) &c->tcp, client_closed);
   }
}

static void
client_alloc (uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
   static char space[65536];
   (void) h;
   (void) suggested;
   *buf = uv_buf_init (space, sizeof space);
}

static void
client_read (uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
   (void) buf;
   client_t *c = s->data;
   if (nread < 0) {
      client_close (c); /* EOF or reset: the server is done with us */
   } else {
      c->received += (size_t) nread;
   }
}

static void
client_shutdown_done (uv_shutdown_t *sr, int status)
{
   (void) sr;
   (void) status;
}

static void
client_written (uv_write_t *w, int status)
{
   client_t *c = w->data;
   if (status != 0) {
      client_close (c); /* the server closed before reading it all */
      return;
   }
   c->shutdown.data = c;
   if (uv_shutdown (&c->shutdown, (uv_stream_t *) &c->tcp, client_shutdown_done) != 0) {
      client_close (c);
   }
}

typedef struct {
   client_t *c;
   const uint8_t *data;
   size_t size;
} start_t;

static void
client_connected (uv_connect_t *cr, int status)
{
   start_t *st = cr->data;
   client_t *c = st->c;
   fuzz_check (status == 0);
   fuzz_check (uv_read_start ((uv_stream_t *) &c->tcp, client_alloc, client_read) == 0);
   uv_buf_t b = uv_buf_init ((char *) st->data, (unsigned) st->size);
   c->write.data = c;
   if (uv_write (&c->write, (uv_stream_t *) &c->tcp, &b, 1, client_written) != 0) {
      client_close (c);
   }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   if (!server) {
      setup ();
   }
   client_t c;
   memset (&c, 0, sizeof c);
   start_t st = {&c, data, size};
   fuzz_check (uv_tcp_init (&loop, &c.tcp) == 0);
   c.tcp.data = &c;
   c.connect.data = &st;
   fuzz_check (uv_tcp_connect (&c.connect, &c.tcp, (const struct sockaddr *) &server_addr,
                               client_connected) == 0);
   while (!c.closed) {
      uv_run (&loop, UV_RUN_ONCE);
   }
   /* Let the server finish closing its side before the next input. */
   for (int i = 0; i < 64 && tk_http_server_connection_count (server) > 0; i++) {
      uv_run (&loop, UV_RUN_NOWAIT);
   }
   return 0;
}
