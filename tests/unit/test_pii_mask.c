/* PII masking (common/pii_mask): every form a security review found
 * unmasked, and a list of ordinary text that must come through untouched
 * (ticket ids, dates, versions, table names). Each case is also masked a
 * second time, which must change nothing. The same forms seed the fuzz
 * target (fuzz/corpus/pii_mask/). */
#include "test_support.h"

#include "pii_mask.h"
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
   const char *in;
   const char *want;
} case_t;

static void
check_cases (const case_t *cases, size_t n)
{
   for (size_t k = 0; k < n; k++) {
      size_t count = 0, again_count = 0;
      char *out = tk_pii_mask (cases[k].in, strlen (cases[k].in), &count);
      assert_non_null (out);
      if (strcmp (out, cases[k].want) != 0) {
         fail_msg ("masking \"%s\":\n  got  \"%s\"\n  want \"%s\"", cases[k].in, out,
                   cases[k].want);
      }
      if (strcmp (cases[k].in, cases[k].want) == 0 && count != 0) {
         fail_msg ("\"%s\": unchanged but %zu replacements counted", cases[k].in, count);
      }
      assert_true (tk_utf8_valid (out, strlen (out), NULL));
      char *again = tk_pii_mask (out, strlen (out), &again_count);
      assert_non_null (again);
      if (strcmp (again, out) != 0 || again_count != 0) {
         fail_msg ("masking \"%s\" again changed it: \"%s\"", out, again);
      }
      free (again);
      free (out);
   }
}

#define CHECK(cases) check_cases (cases, sizeof cases / sizeof cases[0])

/* Card numbers touching letters or underscores, or grouped with slashes or
 * dots, or in full-width digits. */
static void
test_cards (void **state)
{
   (void) state;
   static const case_t cases[] = {
      {"CC4111111111111111", "CC[CARD]"},
      {"card_4111_1111_1111_1111", "card_[CARD]"},
      {"4111111111111111x", "[CARD]x"},
      {"my card:4111111111111111,exp 12/27", "my card:[CARD],exp 12/27"},
      {"4111/1111/1111/1111", "[CARD]"},
      {"4111.1111.1111.1111", "[CARD]"},
      {"card 4111 1111 1111 1111 ok", "card [CARD] ok"},
      {"card 4111-1111-1111-1111", "card [CARD]"},
      {"amex 3782 822463 10005.", "amex [CARD]."},
      {"4111 1111 1111 1111 2222", "[CARD] 2222"},
      {"\xef\xbc\x94\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91"
       "\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91"
       "\xef\xbc\x91\xef\xbc\x91",
       "[CARD]"}, /* ４１１１１１１１１１１１１１１１ */
      {"\xe3\x82\xab\xe3\x83\xbc\xe3\x83\x89\xef\xbc\x94\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91"
       "\xe3\x80\x80\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xe3\x80\x80\xef\xbc\x91"
       "\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91\xe3\x80\x80\xef\xbc\x91\xef\xbc\x91\xef\xbc\x91"
       "\xef\xbc\x91\xe3\x81\xa7\xe3\x81\x99",
       "\xe3\x82\xab\xe3\x83\xbc\xe3\x83\x89[CARD]\xe3\x81\xa7\xe3\x81\x99"}, /* カード４１１１　... です */
      /* Fails the Luhn check: no card, and too long for a phone. */
      {"ref 4111111111111112", "ref 4111111111111112"},
   };
   CHECK (cases);
}

static void
test_emails (void **state)
{
   (void) state;
   static const case_t cases[] = {
      {"mail jane.doe+x@example.co.uk now", "mail [EMAIL] now"},
      {"(bob@corp.io).", "([EMAIL])."},
      {"j\xc3\xb6rg.m\xc3\xbcller@ex\xc3\xa4mple.de", "[EMAIL]"}, /* jörg.müller@exämple.de */
      {"\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\xb9\xbf\xe5\x91\x8a ok",
       "[EMAIL] ok"}, /* 用户@例子.广告 */
      {"write to root@localhost.", "write to [EMAIL]."},
      {"admin@intranet or ops@build01", "[EMAIL] or [EMAIL]"},
      {"user@xn--80ak6aa92e.com", "[EMAIL]"},
      {"x@corp.4111111111111111", "[EMAIL].[CARD]"},
      /* Not addresses: package and image references, handles. */
      {"npm i lodash@4.17.21 react@latest node@18", "npm i lodash@4.17.21 react@latest node@18"},
      {"image@sha256:0a1b then @john and a@b", "image@sha256:0a1b then @john and a@b"},
   };
   CHECK (cases);
}

static void
test_ibans (void **state)
{
   (void) state;
   static const case_t cases[] = {
      {"IBAN DE89 3704 0044 0532 0130 00 please", "IBAN [IBAN] please"},
      {"GB82WEST12345698765432", "[IBAN]"},
      {"iban: fr1420041010050500013m02606.", "iban: [IBAN]."},
      {"NL91ABNA0417164300", "[IBAN]"},
   };
   CHECK (cases);
   /* A wrong check digit: not an IBAN (whatever else the digits are). */
   static const char *const wrong[] = {"DE89 3704 0044 0532 0130 01", "NL91ABNA0417164301"};
   for (size_t k = 0; k < sizeof wrong / sizeof wrong[0]; k++) {
      char *out = tk_pii_mask (wrong[k], strlen (wrong[k]), NULL);
      assert_non_null (out);
      assert_null (strstr (out, "[IBAN]"));
      free (out);
   }
}

static void
test_secrets (void **state)
{
   (void) state;
   static const case_t cases[] = {
      {"Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic [SECRET]"},
      {"Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer [SECRET]"},
      {"{\"Authorization\": \"Bearer abc123def456\"}", "{\"Authorization\": \"Bearer [SECRET]\"}"},
      {"authorization=Token 9f8e7d6c5b4a", "authorization=Token [SECRET]"},
      {"sent Basic YWxhZGRpbjpvcGVuc2VzYW1l to it", "sent Basic [SECRET] to it"},
      {"password=hunter2 next", "password=[SECRET] next"},
      {"pwd: hunter2", "pwd: [SECRET]"},
      {"secret=s3cr3t, thanks", "secret=[SECRET], thanks"},
      {"{\"password\": \"hunter2\"}", "{\"password\": [SECRET]}"},
      {"DB_PASSWORD: \"s3 cret\" x", "DB_PASSWORD: [SECRET] x"},
      {"aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
       "aws_secret_access_key = [SECRET]"},
      {"key sk-abcdefghijklmnopqrstuvwx end", "key [SECRET] end"},
      {"sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8t", "[SECRET]"},
      {"ghp_16C7e42F292c6912E7710c838347Ae178B4a", "[SECRET]"},
      {"github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "[SECRET]"},
      {"slack xoxb-1234567890-0987654321-AbCdEfGhIjKl ok", "slack [SECRET] ok"},
      {"xoxp-2222222222-3333333333-abcdefghijkl", "[SECRET]"},
      {"AKIAIOSFODNN7EXAMPLE", "[SECRET]"},
      {"sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[SECRET]"},
      {"glpat-Zx9y8W7v6U5t4S3r2Q1p", "[SECRET]"},
      {"AIzaSyD-abcdefghijklmnopqrstuvwxyz012345", "[SECRET]"},
      {"jwt eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
       "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c!",
       "jwt [SECRET]!"},
      {"digest 3f786850e387550fdab836ed7e6dc881de23001b", "digest [SECRET]"},
      {"key:\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE "
       "KEY-----\nthanks",
       "key:\n[SECRET]\nthanks"},
   };
   CHECK (cases);
}

static void
test_phones_and_ips (void **state)
{
   (void) state;
   static const case_t cases[] = {
      {"call +1 415 555 0134 today", "call [PHONE] today"},
      {"call (415) 555-0134", "call [PHONE]"},
      {"\xe9\x9b\xbb\xe8\xa9\xb1 \xef\xbc\x90\xef\xbc\x99\xef\xbc\x90\xef\xbc\x8d\xef\xbc\x91"
       "\xef\xbc\x92\xef\xbc\x93\xef\xbc\x94\xef\xbc\x8d\xef\xbc\x95\xef\xbc\x96\xef\xbc\x97"
       "\xef\xbc\x98",
       "\xe9\x9b\xbb\xe8\xa9\xb1 [PHONE]"}, /* 電話 ０９０－１２３４－５６７８ */
      {"from 192.168.10.42, via 10.0.0.1", "from [IP], via [IP]"},
      {"v6 2001:db8::8a2e:370:7334 x", "v6 [IP] x"},
   };
   CHECK (cases);
}

/* What must survive: ids, dates, times, versions, table and column names,
 * identifiers, amounts, prose about authentication. */
static void
test_false_positives (void **state)
{
   (void) state;
   static const char *const keep[] = {
      "TICKET-246 and T-1, JIRA-12345, INC0012345, CASE-00123456789",
      "TICKET-20250913-0001 was reopened",
      "on 2025-09-13, 2025-09-13T06:38:47.513Z, 13/09/2025, 13.09.2025, 2025/09/13 at 10:30",
      "on 2024-01-15 at 10:30",
      "Sep 13, 2025 10:30:15 UTC+02:00",
      "v2.14.0, 1.2.3, 10.4.12-beta, Python 3.11.4, version 1.2.3.4.5 and 300.1.1.1",
      "SELECT * FROM analytics.fct_orders JOIN raw.stripe_charges_2024",
      "db.schema.orders_20240913 and raw_stripe_charges_2024_backfill_v2",
      "pk_customer_orders_2024 references dim_customer_v2",
      "request 550e8400-e29b-41d4-a716-446655440000 failed",
      "$1,234.56, -12.5%, port 8080, HTTP 503, error 0x80070005, 42 rows",
      "order 12345678 shipped",
      "basic authentication fails; Bearer tokens expire after 3600 s",
      "the authorization header is missing",
      "plain words stay, and caf\xc3\xa9 too, \xe4\xb8\xad\xe6\x96\x87\xe4\xb9\x9f\xe6\x98\xaf",
   };
   for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
      case_t c = {keep[k], keep[k]};
      check_cases (&c, 1);
   }
}

/* No Luhn-valid run of 13 to 19 digits survives, whatever touches it. */
static void
test_no_card_survives (void **state)
{
   (void) state;
   static const char *const around[] = {"", "x", "_", "-", ".", "/", "CC", "id=", "\xc3\xa9"};
   char in[128];
   for (size_t a = 0; a < sizeof around / sizeof around[0]; a++) {
      for (size_t b = 0; b < sizeof around / sizeof around[0]; b++) {
         snprintf (in, sizeof in, "%s4012888888881881%s", around[a], around[b]);
         char *out = tk_pii_mask (in, strlen (in), NULL);
         assert_non_null (out);
         if (strstr (out, "4012888888881881")) {
            fail_msg ("\"%s\" kept its card number: \"%s\"", in, out);
         }
         free (out);
      }
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_cards),
      cmocka_unit_test (test_emails),
      cmocka_unit_test (test_ibans),
      cmocka_unit_test (test_secrets),
      cmocka_unit_test (test_phones_and_ips),
      cmocka_unit_test (test_false_positives),
      cmocka_unit_test (test_no_card_survives),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
