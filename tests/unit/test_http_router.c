/* Unit tests for common/http_router.c: patterns, matching, 404/405,
 * percent-decoding and query strings. No sockets. */
#include "test_support.h"

#include "http_router.h"

#include <http_parser.h>
#include <stdlib.h>
#include <string.h>

static void
dummy (tk_http_request_t *req, void *ud)
{
   (void) req;
   (void) ud;
}

static int tag_a, tag_b, tag_c, tag_d;

static tk_http_match_result_t
match (tk_http_router_t *r, int method, const char *path, tk_http_match_t *m)
{
   return tk_http_router_match (r, method, path, strlen (path), m);
}

static const char *
param (const tk_http_match_t *m, const char *name)
{
   for (size_t i = 0; i < m->n_params; i++) {
      if (strcmp (m->params[i].name, name) == 0) {
         return m->params[i].value;
      }
   }
   return NULL;
}

static void
test_params_and_specificity (void **state)
{
   (void) state;
   tk_http_router_t r;
   tk_error_t err;
   tk_http_match_t m;
   tk_http_router_init (&r);
   assert_non_null (tk_http_router_add (&r, "GET", "/api/tickets/{id}", dummy, &tag_a, &err));
   assert_non_null (tk_http_router_add (&r, "GET", "/api/tickets/stats", dummy, &tag_b, &err));
   assert_non_null (
      tk_http_router_add (&r, "PUT", "/api/tickets/{id}/notes/{note}", dummy, &tag_c, &err));
   assert_non_null (tk_http_router_add (&r, "GET", "/static/*", dummy, &tag_d, &err));

   /* The literal route wins although it was registered second. */
   assert_int_equal (match (&r, HTTP_GET, "/api/tickets/stats", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_b);
   assert_int_equal (m.n_params, 0);
   tk_http_match_cleanup (&m);

   assert_int_equal (match (&r, HTTP_GET, "/api/tickets/TICKET-246", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_a);
   assert_string_equal (param (&m, "id"), "TICKET-246");
   tk_http_match_cleanup (&m);

   /* Percent-decoding; an encoded slash stays inside its segment. */
   assert_int_equal (match (&r, HTTP_PUT, "/api/tickets/a%20b/notes/x%2Fy%c3%a9", &m),
                     TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_c);
   assert_string_equal (param (&m, "id"), "a b");
   assert_string_equal (param (&m, "note"), "x/y\xc3\xa9");
   assert_null (param (&m, "nope"));
   tk_http_match_cleanup (&m);

   /* '+' is not a space in a path. */
   assert_int_equal (match (&r, HTTP_GET, "/api/tickets/a+b", &m), TK_HTTP_MATCH_FOUND);
   assert_string_equal (param (&m, "id"), "a+b");
   tk_http_match_cleanup (&m);

   /* Prefix route: the remainder is "*", decoded. */
   assert_int_equal (match (&r, HTTP_GET, "/static/css/site%20a.css", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_d);
   assert_string_equal (param (&m, "*"), "css/site a.css");
   tk_http_match_cleanup (&m);
   assert_int_equal (match (&r, HTTP_GET, "/static", &m), TK_HTTP_MATCH_NOT_FOUND);
   tk_http_match_cleanup (&m);

   /* An empty {id} segment does not match a one-segment pattern's sibling. */
   assert_int_equal (match (&r, HTTP_GET, "/api/tickets", &m), TK_HTTP_MATCH_NOT_FOUND);
   tk_http_match_cleanup (&m);
   assert_int_equal (match (&r, HTTP_GET, "/api/tickets/1/extra", &m), TK_HTTP_MATCH_NOT_FOUND);
   tk_http_match_cleanup (&m);
   tk_http_router_cleanup (&r);
}

static void
test_bad_paths (void **state)
{
   (void) state;
   tk_http_router_t r;
   tk_error_t err;
   tk_http_match_t m;
   tk_http_router_init (&r);
   assert_non_null (tk_http_router_add (&r, "GET", "/a/{x}", dummy, NULL, &err));
   assert_non_null (tk_http_router_add (&r, "GET", "/files/*", dummy, NULL, &err));
   const char *bad[] = {"/a/%00", "/a/%zz", "/a/%4", "/a/%", "/files/x%00y", "noslash", ""};
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      assert_int_equal (match (&r, HTTP_GET, bad[i], &m), TK_HTTP_MATCH_BAD_PATH);
      assert_null (m.route);
      tk_http_match_cleanup (&m);
   }
   /* Not NUL-reliant: only len bytes are looked at. */
   assert_int_equal (tk_http_router_match (&r, HTTP_GET, "/a/bc%00", 5, &m), TK_HTTP_MATCH_FOUND);
   assert_string_equal (param (&m, "x"), "bc");
   tk_http_match_cleanup (&m);
   tk_http_router_cleanup (&r);
}

static void
test_method_not_allowed_lists_allow (void **state)
{
   (void) state;
   tk_http_router_t r;
   tk_error_t err;
   tk_http_match_t m;
   tk_http_router_init (&r);
   assert_non_null (tk_http_router_add (&r, "GET", "/items/{id}", dummy, &tag_a, &err));
   assert_non_null (tk_http_router_add (&r, "DELETE", "/items/{id}", dummy, &tag_b, &err));
   assert_non_null (tk_http_router_add (&r, "POST", "/items", dummy, &tag_c, &err));

   assert_int_equal (match (&r, HTTP_PUT, "/items/7", &m), TK_HTTP_MATCH_BAD_METHOD);
   assert_string_equal (m.allow, "GET, HEAD, DELETE");
   tk_http_match_cleanup (&m);

   /* HEAD is served by the GET route. */
   assert_int_equal (match (&r, HTTP_HEAD, "/items/7", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_a);
   tk_http_match_cleanup (&m);
   assert_int_equal (match (&r, HTTP_DELETE, "/items/7", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_b);
   tk_http_match_cleanup (&m);

   assert_int_equal (match (&r, HTTP_GET, "/items", &m), TK_HTTP_MATCH_BAD_METHOD);
   assert_string_equal (m.allow, "POST");
   tk_http_match_cleanup (&m);
   assert_int_equal (match (&r, HTTP_GET, "/other", &m), TK_HTTP_MATCH_NOT_FOUND);
   tk_http_match_cleanup (&m);

   /* A literal path belongs to its own routes only: /items/upload is
    * POST's, not also the {id} template's (GET /items/upload is 405, and
    * Allow does not list GET). */
   assert_non_null (tk_http_router_add (&r, "POST", "/items/upload", dummy, &tag_d, &err));
   assert_int_equal (match (&r, HTTP_GET, "/items/upload", &m), TK_HTTP_MATCH_BAD_METHOD);
   assert_string_equal (m.allow, "POST");
   tk_http_match_cleanup (&m);
   assert_int_equal (match (&r, HTTP_POST, "/items/upload", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_d);
   tk_http_match_cleanup (&m);
   assert_int_equal (match (&r, HTTP_GET, "/items/uploads", &m), TK_HTTP_MATCH_FOUND);
   assert_ptr_equal (m.route->user_data, &tag_a);
   tk_http_match_cleanup (&m);
   tk_http_router_cleanup (&r);
}

static void
test_invalid_patterns (void **state)
{
   (void) state;
   tk_http_router_t r;
   tk_error_t err;
   tk_http_router_init (&r);
   assert_null (tk_http_router_add (&r, "GET", "no-slash", dummy, NULL, &err));
   assert_int_equal (err.domain, TK_ERR_INVALID);
   assert_null (tk_http_router_add (&r, "FETCH", "/x", dummy, NULL, &err));
   assert_string_equal (err.field, "method");
   assert_null (tk_http_router_add (&r, "GET", "/a/{}", dummy, NULL, &err));
   assert_null (tk_http_router_add (&r, "GET", "/a/{x}/{x}", dummy, NULL, &err));
   assert_null (tk_http_router_add (&r, "GET", "/a b", dummy, NULL, &err));
   assert_null (tk_http_router_add (&r, "GET", "/a/*/b", dummy, NULL, &err));
   assert_non_null (tk_http_router_add (&r, "*", "/any", dummy, NULL, &err));
   assert_null (tk_http_router_add (&r, "*", "/any", dummy, NULL, &err));
   assert_int_equal (err.domain, TK_ERR_DUPLICATE);
   assert_int_equal (r.n, 1);
   tk_http_router_cleanup (&r);
}

static void
test_percent_decode (void **state)
{
   (void) state;
   char out[32];
   assert_int_equal (tk_http_percent_decode ("a%41+b", 6, out, true), 4);
   assert_string_equal (out, "aA b");
   assert_int_equal (tk_http_percent_decode ("a%41+b", 6, out, false), 4);
   assert_string_equal (out, "aA+b");
   assert_int_equal (tk_http_percent_decode ("%00x", 4, out, false), 2);
   assert_int_equal (out[0], '\0');
   assert_int_equal (out[1], 'x');
   assert_int_equal (tk_http_percent_decode ("%g0", 3, out, false), -1);
   assert_int_equal (tk_http_percent_decode ("ab%2", 4, out, false), -1);
}

static void
test_query_parse (void **state)
{
   (void) state;
   tk_http_query_t q;
   const char *s = "tag=SSO&q=hello+world&&tag=API%2FSDK&empty=&flag&x=%26%3D";
   assert_true (tk_http_query_parse (s, strlen (s), &q, NULL));
   assert_int_equal (q.n, 6);
   const char *expect[][2] = {{"tag", "SSO"},      {"q", "hello world"}, {"tag", "API/SDK"},
                              {"empty", ""},       {"flag", ""},         {"x", "&="}};
   for (size_t i = 0; i < 6; i++) {
      assert_string_equal (q.pairs[i].key, expect[i][0]);
      assert_string_equal (q.pairs[i].value, expect[i][1]);
   }
   tk_http_query_cleanup (&q);

   assert_true (tk_http_query_parse ("", 0, &q, NULL));
   assert_int_equal (q.n, 0);
   tk_http_query_cleanup (&q);

   bool nomem = true;
   assert_false (tk_http_query_parse ("a=%zz", 5, &q, &nomem));
   assert_false (nomem);
   assert_null (q.pairs);
   assert_false (tk_http_query_parse ("a=b%00", 6, &q, NULL));
   assert_null (q.pairs);
}

static void
test_buf (void **state)
{
   (void) state;
   tk_buf_t b = TK_BUF_INIT;
   assert_true (tk_buf_append (&b, "abc", 3));
   assert_true (tk_buf_appendf (&b, "-%d-", 42));
   for (int i = 0; i < 100; i++) {
      assert_true (tk_buf_append_str (&b, "0123456789"));
   }
   assert_int_equal (b.len, 7 + 1000);
   assert_int_equal (b.data[b.len], '\0');
   assert_memory_equal (b.data, "abc-42-0123", 11);
   tk_buf_consume (&b, 7);
   assert_int_equal (b.len, 1000);
   assert_memory_equal (b.data, "0123", 4);
   size_t len = 0;
   char *p = tk_buf_steal (&b, &len);
   assert_int_equal (len, 1000);
   assert_null (b.data);
   free (p);
   tk_buf_destroy (&b);
   tk_buf_destroy (NULL);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_params_and_specificity),
      cmocka_unit_test (test_bad_paths),
      cmocka_unit_test (test_method_not_allowed_lists_allow),
      cmocka_unit_test (test_invalid_patterns),
      cmocka_unit_test (test_percent_decode),
      cmocka_unit_test (test_query_parse),
      cmocka_unit_test (test_buf),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
