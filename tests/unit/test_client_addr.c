/* Unit tests for common/client_addr.c: trusted proxy lists and the client
 * address X-Forwarded-For yields, only from a trusted peer. */
#include "test_support.h"

#include "client_addr.h"

#include <string.h>

static tk_cidr_list_t
parse (const char *text)
{
   tk_cidr_list_t l;
   tk_error_t err;
   if (!tk_cidr_list_parse (text, &l, &err)) {
      fail_msg ("%s: %s", text, err.message);
   }
   return l;
}

static void
test_lists (void **state)
{
   (void) state;
   tk_cidr_list_t l = parse ("10.0.0.0/8, 192.0.2.7,fd00::/8  ::ffff:172.16.0.0/108");
   assert_int_equal (l.n, 4);
   assert_true (tk_cidr_list_contains (&l, "10.1.2.3"));
   assert_false (tk_cidr_list_contains (&l, "11.0.0.1"));
   assert_true (tk_cidr_list_contains (&l, "192.0.2.7"));
   assert_false (tk_cidr_list_contains (&l, "192.0.2.8"));
   assert_true (tk_cidr_list_contains (&l, "fd12::1"));
   assert_true (tk_cidr_list_contains (&l, "[fd12::1]"));
   assert_false (tk_cidr_list_contains (&l, "fe80::1"));
   /* IPv4-mapped addresses are IPv4 on both sides. */
   assert_true (tk_cidr_list_contains (&l, "::ffff:10.9.9.9"));
   assert_true (tk_cidr_list_contains (&l, "172.16.200.1"));
   assert_false (tk_cidr_list_contains (&l, "172.32.0.1"));
   assert_false (tk_cidr_list_contains (&l, "not-an-ip"));
   tk_cidr_list_cleanup (&l);

   l = parse ("");
   assert_int_equal (l.n, 0);
   assert_false (tk_cidr_list_contains (&l, "127.0.0.1"));
   tk_cidr_list_cleanup (&l);
   l = parse ("0.0.0.0/0");
   assert_true (tk_cidr_list_contains (&l, "203.0.113.1"));
   assert_false (tk_cidr_list_contains (&l, "::1"));
   tk_cidr_list_cleanup (&l);

   /* Tabs separate like commas and spaces: the list is sized for them too
    * (a tab-separated list once wrote past its array; ASan saw it). */
   l = parse ("10.0.0.1\t10.0.0.2\t10.0.0.3\t\t10.0.0.4");
   assert_int_equal (l.n, 4);
   assert_true (tk_cidr_list_contains (&l, "10.0.0.4"));
   assert_false (tk_cidr_list_contains (&l, "10.0.0.5"));
   tk_cidr_list_cleanup (&l);

   static const char *const bad[] = {"10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0/8",
                                     "example.com", "10.0.0.0/8x", "::ffff:1.2.3.4/95"};
   for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      tk_error_t err;
      assert_false (tk_cidr_list_parse (bad[i], &l, &err));
      assert_int_equal (err.domain, TK_ERR_CONFIG);
      assert_int_equal (l.n, 0);
   }
}

static const char *
resolve (const tk_cidr_list_t *trusted, const char *peer, const char *xff)
{
   static char out[TK_CLIENT_ADDR_MAX];
   tk_client_addr_resolve (trusted, peer, xff, out);
   return out;
}

static void
test_forwarded_for (void **state)
{
   (void) state;
   tk_cidr_list_t t = parse ("127.0.0.1,10.0.0.0/8");
   /* An untrusted peer: its header is ignored, whatever it says. */
   assert_string_equal (resolve (&t, "203.0.113.5", "198.51.100.1"), "203.0.113.5");
   /* A trusted peer: the right-most address that is not a trusted proxy. */
   assert_string_equal (resolve (&t, "127.0.0.1", "198.51.100.1"), "198.51.100.1");
   assert_string_equal (resolve (&t, "127.0.0.1", "1.1.1.1, 198.51.100.1, 10.0.0.2"),
                        "198.51.100.1");
   /* Two header lines are one list ("a" then "b" joined by a comma). */
   assert_string_equal (resolve (&t, "10.0.0.9", "198.51.100.1,10.0.0.3"), "198.51.100.1");
   /* Every hop trusted: the left-most. No header: the peer. */
   assert_string_equal (resolve (&t, "127.0.0.1", "10.0.0.1, 10.0.0.2"), "10.0.0.1");
   assert_string_equal (resolve (&t, "127.0.0.1", NULL), "127.0.0.1");
   assert_string_equal (resolve (&t, "127.0.0.1", ""), "127.0.0.1");
   /* A malformed entry stops the walk at the trusted hop that passed it on. */
   assert_string_equal (resolve (&t, "127.0.0.1", "198.51.100.1, garbage"), "127.0.0.1");
   assert_string_equal (resolve (&t, "127.0.0.1", "garbage, 10.0.0.4"), "10.0.0.4");
   /* Canonical forms: brackets dropped, mapped IPv4 as IPv4, empty elements
    * skipped. */
   assert_string_equal (resolve (&t, "127.0.0.1", " , [2001:DB8::1] ,"), "2001:db8::1");
   assert_string_equal (resolve (&t, "::ffff:127.0.0.1", "::ffff:198.51.100.2"),
                        "198.51.100.2");
   tk_cidr_list_cleanup (&t);
   /* Nothing trusted: always the peer. */
   t = parse ("");
   assert_string_equal (resolve (&t, "127.0.0.1", "198.51.100.1"), "127.0.0.1");
   tk_cidr_list_cleanup (&t);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_lists),
      cmocka_unit_test (test_forwarded_for),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
