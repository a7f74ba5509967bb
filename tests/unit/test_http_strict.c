/* Unit tests for common/http_strict.c: the RFC 9112 checks that stand in
 * front of http-parser. Every case of issue 14's item 9 is here, fed whole
 * and byte by byte (a slow client must get the same verdict). */
#include "test_support.h"

#include "http_strict.h"

#include <string.h>

/* Scans s whole; returns the result, *status the refusal's status. */
static tk_http_scan_result_t
head_whole (const char *s, size_t len, tk_http_head_scan_t *h)
{
   tk_http_head_scan_init (h);
   return tk_http_head_scan (h, s, len);
}

/* Scans s one more byte at a time, as a slow client sends it. */
static tk_http_scan_result_t
head_drip (const char *s, size_t len, tk_http_head_scan_t *h)
{
   tk_http_head_scan_init (h);
   tk_http_scan_result_t r = TK_HTTP_SCAN_MORE;
   for (size_t n = 1; n <= len && r == TK_HTTP_SCAN_MORE; n++) {
      r = tk_http_head_scan (h, s, n);
   }
   return r;
}

#define HEAD(s) s, sizeof s - 1

static void
expect_head (const char *s, size_t len, tk_http_scan_result_t want, int status)
{
   tk_http_head_scan_t h;
   tk_http_scan_result_t r = head_whole (s, len, &h);
   if (r != want || (want == TK_HTTP_SCAN_ERROR && h.status != status)) {
      fail_msg ("%.*s: got %d/%d (%s), want %d/%d", (int) len, s, r, h.status,
                h.reason ? h.reason : "", want, status);
   }
   r = head_drip (s, len, &h);
   if (r != want || (want == TK_HTTP_SCAN_ERROR && h.status != status)) {
      fail_msg ("%.*s byte by byte: got %d/%d, want %d/%d", (int) len, s, r, h.status, want,
                status);
   }
}

static void
test_good_heads (void **state)
{
   (void) state;
   tk_http_head_scan_t h;
   static const char get[] = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Empty:\r\n\r\nNEXT";
   assert_int_equal (head_whole (get, sizeof get - 1, &h), TK_HTTP_SCAN_DONE);
   assert_int_equal (h.head_len, sizeof get - 1 - 4);
   assert_int_equal (h.method_len, 3);
   assert_false (h.has_length);
   assert_false (h.chunked);
   assert_int_equal (h.http_minor, 1);

   static const char post[] = "\r\n\r\nPOST /x HTTP/1.0\r\nContent-Length:  12 \r\n"
                              "X-Obs: caf\xc3\xa9\t tab\r\n\r\n";
   assert_int_equal (head_drip (post, sizeof post - 1, &h), TK_HTTP_SCAN_DONE);
   assert_int_equal (h.head_len, sizeof post - 1);
   assert_true (h.has_length);
   assert_int_equal (h.content_length, 12);
   assert_int_equal (h.method_off, 4);
   assert_int_equal (h.http_minor, 0);

   static const char chunked[] = "PUT /x HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n";
   assert_int_equal (head_whole (chunked, sizeof chunked - 1, &h), TK_HTTP_SCAN_DONE);
   assert_true (h.chunked);

   /* Unfinished: more is needed, nothing refused yet. */
   expect_head (HEAD ("GET / HTTP/1.1\r\nHost: x\r\n"), TK_HTTP_SCAN_MORE, 0);
   expect_head (HEAD ("GET / HTTP/1.1\r"), TK_HTTP_SCAN_MORE, 0);
   /* A token method http-parser does not know is syntax the server judges. */
   expect_head (HEAD ("QUERY /x HTTP/1.1\r\n\r\n"), TK_HTTP_SCAN_DONE, 0);
}

static void
test_item_9_heads_are_refused (void **state)
{
   (void) state;
   /* Space before the colon: http-parser took "Content-Length " as the
    * length header, and a second request hidden in the body was answered. */
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello"), TK_HTTP_SCAN_ERROR,
                400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length\t: 5\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   /* Obsolete line folding. */
   expect_head (HEAD ("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\n Host: x\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   /* Bare LF and bare CR line ends. */
   expect_head (HEAD ("GET / HTTP/1.1\nHost: x\n\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\nHost: x\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   /* HTTP/0.9 and garbage request lines. */
   expect_head (HEAD ("GET /\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GARBAGE\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET  / HTTP/1.1\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1 extra\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / http/1.1\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("\x16\x03\x01\x02\x00 hello\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET /a\x00z HTTP/1.1\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("G(T / HTTP/1.1\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   /* Another major version. */
   expect_head (HEAD ("GET / HTTP/2.0\r\n\r\n"), TK_HTTP_SCAN_ERROR, 505);
   /* Header lines. */
   expect_head (HEAD ("GET / HTTP/1.1\r\nHost x\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\n: x\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\nX: a\x7fz\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
}

static void
test_framing_headers (void **state)
{
   (void) state;
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"), TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"), TK_HTTP_SCAN_ERROR,
                400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length: 1234567890123456789\r\n\r\n"),
                TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
                TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
                TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
                TK_HTTP_SCAN_ERROR, 501);
   expect_head (HEAD ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"),
                TK_HTTP_SCAN_ERROR, 400);
   expect_head (HEAD ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), TK_HTTP_SCAN_ERROR,
                400);
}

/* Scans a chunked body whole and byte by byte; both must agree. */
static tk_http_scan_result_t
chunk_both (const char *s, size_t len, size_t *used, uint64_t *total)
{
   tk_http_chunk_scan_t c;
   tk_http_chunk_scan_init (&c);
   tk_http_scan_result_t whole = tk_http_chunk_scan (&c, s, len, used);
   uint64_t whole_total = c.total;
   tk_http_chunk_scan_init (&c);
   tk_http_scan_result_t r = TK_HTTP_SCAN_MORE;
   size_t at = 0, u = 0;
   while (at < len && r == TK_HTTP_SCAN_MORE) {
      r = tk_http_chunk_scan (&c, s + at, 1, &u);
      at += u;
   }
   assert_int_equal (r, whole);
   if (r == TK_HTTP_SCAN_DONE) {
      assert_int_equal (at, *used);
      assert_int_equal (c.total, whole_total);
   }
   *total = whole_total;
   return whole;
}

static void
test_chunked_bodies (void **state)
{
   (void) state;
   size_t used;
   uint64_t total;
   static const char good[] = "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: v\r\n\r\nGET";
   assert_int_equal (chunk_both (good, sizeof good - 1, &used, &total), TK_HTTP_SCAN_DONE);
   assert_int_equal (used, sizeof good - 1 - 3);
   assert_int_equal (total, 11);
   static const char partial[] = "5\r\nhel";
   assert_int_equal (chunk_both (partial, sizeof partial - 1, &used, &total), TK_HTTP_SCAN_MORE);
   assert_int_equal (total, 3);

   /* Chunk data not followed by CRLF: non-strict http-parser read "XX" as
    * CRLF, so the bytes after it became a second request. */
   static const char *const bad[] = {
      "3\r\nabcXX0\r\n\r\n",      "3\nabc\n0\n\n",          "3\r\nabc\r\n0\r\nX: a\r\n b\r\n\r\n",
      "zz\r\nabc\r\n0\r\n\r\n",   "FFFFFFFFFFFFFFFFFFFF\r\n", "3\r\nabcdef\r\n0\r\n\r\n",
      "3 x\r\nabc\r\n0\r\n\r\n",  "0\r\nX : a\r\n\r\n",       "0\r\n\r\r",
      "-1\r\n",                   "3\r\nabc\r\n0\r\nX: \x01\r\n\r\n",
   };
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      if (chunk_both (bad[i], strlen (bad[i]), &used, &total) != TK_HTTP_SCAN_ERROR) {
         fail_msg ("chunked body #%zu was not refused", i);
      }
   }
}

static void
test_tokens (void **state)
{
   (void) state;
   assert_true (tk_http_is_token ("QUERY", 5));
   assert_true (tk_http_is_token ("M-SEARCH", 8));
   assert_false (tk_http_is_token ("", 0));
   assert_false (tk_http_is_token ("A B", 3));
   assert_false (tk_http_is_token ("A:B", 3));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_good_heads),
      cmocka_unit_test (test_item_9_heads_are_refused),
      cmocka_unit_test (test_framing_headers),
      cmocka_unit_test (test_chunked_bodies),
      cmocka_unit_test (test_tokens),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
