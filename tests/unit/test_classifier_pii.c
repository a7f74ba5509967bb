/* PII masking of text sent to remote LLMs (common/pii_mask). */
#include "test_support.h"

#include "pii_mask.h"

#include <stdlib.h>
#include <string.h>

static void
check (const char *in, const char *want)
{
   size_t n = 0;
   char *out = tk_pii_mask (in, strlen (in), &n);
   assert_non_null (out);
   assert_string_equal (out, want);
   free (out);
}

static void
test_emails (void **state)
{
   (void) state;
   check ("mail jane.doe+x@example.co.uk now", "mail [EMAIL] now");
   check ("(bob@corp.io).", "([EMAIL]).");
   /* A host name without a dot is a domain too; "a@b" is too short to be. */
   check ("not an email: a@b, but user@localhost is", "not an email: a@b, but [EMAIL] is");
}

static void
test_cards_need_luhn (void **state)
{
   (void) state;
   check ("card 4111 1111 1111 1111 ok", "card [CARD] ok");
   check ("card 4111-1111-1111-1111", "card [CARD]");
   /* Fails the Luhn check: not a card, but long enough to be a phone. */
   check ("ref 4111111111111112", "ref 4111111111111112");
}

static void
test_phones_and_ips (void **state)
{
   (void) state;
   check ("call +1 415 555 0134 today", "call [PHONE] today");
   check ("call (415) 555-0134", "call [PHONE]");
   check ("on 2024-01-15 at 10:30", "on 2024-01-15 at 10:30");
   check ("from 192.168.10.42, via 10.0.0.1", "from [IP], via [IP]");
   check ("version 1.2.3.4.5 and 300.1.1.1", "version 1.2.3.4.5 and 300.1.1.1");
   check ("v6 2001:db8::8a2e:370:7334 x", "v6 [IP] x");
}

static void
test_secrets (void **state)
{
   (void) state;
   check ("password=hunter2 next", "password=[SECRET] next");
   check ("DB_PASSWORD: \"s3 cret\" x", "DB_PASSWORD: [SECRET] x");
   check ("Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer [SECRET]");
   check ("key sk-abcdefghijklmnopqrstuvwx end", "key [SECRET] end");
   check ("AKIAABCDEFGHIJKLMNOP", "[SECRET]");
   check ("plain words stay, and café too", "plain words stay, and café too");
}

static void
test_counts_and_empty (void **state)
{
   (void) state;
   size_t n = 99;
   char *out = tk_pii_mask ("", 0, &n);
   assert_string_equal (out, "");
   assert_int_equal (n, 0);
   free (out);
   out = tk_pii_mask ("a@b.com c@d.org", 15, &n);
   assert_int_equal (n, 2);
   free (out);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_emails),       cmocka_unit_test (test_cards_need_luhn),
      cmocka_unit_test (test_phones_and_ips), cmocka_unit_test (test_secrets),
      cmocka_unit_test (test_counts_and_empty),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
