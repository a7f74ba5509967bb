/* fuzz_http_router.c - route matching, percent-decoding and query parsing
 * (http_router.h) without sockets. The first byte picks the method; the
 * rest is a request target "path?query". Invariants: a decoded string is
 * never longer than its source, a found route's parameters are all set. */
#include <http_parser.h>

#include "fuzz_common.h"
#include "http_router.h"

static tk_http_router_t router;
static bool router_ready;

static void
noop_handler (tk_http_request_t *req, void *ud)
{
   (void) req;
   (void) ud;
}

static void
setup (void)
{
   static const char *const routes[][2] = {
      {"GET", "/healthz"},
      {"GET", "/api/tickets"},
      {"GET", "/api/tickets/{id}"},
      {"POST", "/api/tickets/{id}/process"},
      {"PUT", "/api/processed-tickets/{id}"},
      {"DELETE", "/api/processed-tickets/{id}"},
      {"*", "/api/keys/{name}/{action}"},
      {"GET", "/static/*"},
   };
   tk_error_t err;
   tk_http_router_init (&router);
   for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
      fuzz_check (tk_http_router_add (&router, routes[i][0], routes[i][1], noop_handler, NULL,
                                      &err) != NULL);
   }
   router_ready = true;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   static const int methods[] = {HTTP_GET, HTTP_POST, HTTP_PUT, HTTP_DELETE, HTTP_HEAD,
                                 HTTP_PATCH, HTTP_OPTIONS};
   if (!router_ready) {
      setup ();
   }
   if (size < 1) {
      return 0;
   }
   int method = methods[data[0] % (sizeof methods / sizeof methods[0])];
   const char *target = (const char *) data + 1;
   size_t len = size - 1;
   const char *qmark = memchr (target, '?', len);
   size_t path_len = qmark ? (size_t) (qmark - target) : len;

   tk_http_match_t m;
   memset (&m, 0, sizeof m);
   tk_http_match_result_t r = tk_http_router_match (&router, method, target, path_len, &m);
   if (r == TK_HTTP_MATCH_FOUND) {
      fuzz_check (m.route != NULL);
      for (size_t i = 0; i < m.n_params; i++) {
         fuzz_check (m.params[i].name != NULL && m.params[i].value != NULL);
         fuzz_check (strlen (m.params[i].value) <= path_len);
      }
   } else if (r == TK_HTTP_MATCH_BAD_METHOD) {
      fuzz_check (m.allow[0] != '\0');
   }
   tk_http_match_cleanup (&m);

   /* A copy with no bytes after it, so ASan sees any over-read. */
   char *copy = malloc (len ? len : 1);
   fuzz_check (copy != NULL);
   memcpy (copy, target, len);
   char *out = malloc (len + 1);
   fuzz_check (out != NULL);
   ssize_t n = tk_http_percent_decode (copy, len, out, true);
   fuzz_check (n < 0 || (size_t) n <= len);
   free (out);

   if (qmark) {
      size_t qoff = path_len + 1;
      tk_http_query_t q;
      memset (&q, 0, sizeof q);
      bool nomem = false;
      if (tk_http_query_parse (copy + qoff, len - qoff, &q, &nomem)) {
         for (size_t i = 0; i < q.n; i++) {
            fuzz_check (q.pairs[i].key != NULL && q.pairs[i].value != NULL);
            fuzz_check (strlen (q.pairs[i].key) + strlen (q.pairs[i].value) <= len - qoff);
         }
      } else {
         fuzz_check (q.n == 0);
      }
      tk_http_query_cleanup (&q);
   }
   free (copy);
   return 0;
}
