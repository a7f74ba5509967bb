/* pii_numbers.c - the detectors of numbers and addresses: IBANs ("[IBAN]",
 * mod-97 checked), IPv4 and IPv6 addresses ("[IP]"), card numbers ("[CARD]",
 * Luhn checked) and phone numbers ("[PHONE]").
 */
#include "pii_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- IBAN ----------------------------------------------------------------- */

/* ISO 13616: the four first characters moved to the end, letters as
 * 10..35, the number mod 97 is 1. */
static bool
iban_ok (const char *c, size_t n)
{
   unsigned r = 0;
   for (size_t k = 0; k < n; k++) {
      char ch = c[(k + 4) % n];
      if (a_digit (ch)) {
         r = (r * 10 + (unsigned) (ch - '0')) % 97;
      } else {
         r = (r * 100 + (unsigned) ((ch | 32) - 'a' + 10)) % 97;
      }
   }
   return r == 1;
}

/* Two letters, two check digits, then 11 to 30 letters and digits, written
 * whole or in groups of four separated by single spaces; the checksum must
 * hold. The longest prefix of groups that is valid wins. */
size_t
tk_pii__match_iban (span_t t, size_t i)
{
   if (i + 15 > t.len || !a_alpha (t.s[i]) || !a_alpha (t.s[i + 1]) || !a_digit (t.s[i + 2]) ||
       !a_digit (t.s[i + 3])) {
      return 0;
   }
   char c[34];
   size_t n = 0, j = i, best = 0;
   for (;;) {
      while (j < t.len && a_alnum (t.s[j])) {
         if (n == sizeof c) {
            return best;
         }
         c[n++] = t.s[j++];
      }
      if (n >= 15 && !tk_pii__is_word_at (t, j) && iban_ok (c, n)) {
         best = j - i;
      }
      if (n % 4 != 0 || j + 1 >= t.len || t.s[j] != ' ' || !a_alnum (t.s[j + 1])) {
         return best;
      }
      j++;
   }
}

/* ---- IP addresses --------------------------------------------------------- */

size_t
tk_pii__match_ipv4 (span_t t, size_t i, const scan_t *sc)
{
   if (tk_pii__cp_before (t, i, sc) == '.') {
      return 0; /* the tail of a longer dotted number */
   }
   size_t j = i, w;
   for (int octet = 0; octet < 4; octet++) {
      if (octet > 0) {
         if (j >= t.len || t.s[j] != '.') {
            return 0;
         }
         j++;
      }
      size_t d = j;
      int value = 0;
      while (j < t.len && a_digit (t.s[j]) && j - d < 3) {
         value = value * 10 + (t.s[j] - '0');
         j++;
      }
      if (j == d || value > 255) {
         return 0;
      }
   }
   if (tk_pii__digit_at (t, j, &w) >= 0 ||
       (j < t.len && t.s[j] == '.' && tk_pii__digit_at (t, j + 1, &w) >= 0)) {
      return 0;
   }
   return j - i;
}

size_t
tk_pii__match_ipv6 (span_t t, size_t i, const scan_t *sc)
{
   if (tk_pii__cp_before (t, i, sc) == ':') {
      return 0; /* inside a longer run of colons and hex digits */
   }
   size_t j = i;
   int colons = 0, groups = 0, hexlen = 0;
   bool double_colon = false;
   while (j < t.len && (a_xdigit (t.s[j]) || t.s[j] == ':')) {
      if (t.s[j] == ':') {
         if (j + 1 < t.len && t.s[j + 1] == ':') {
            if (double_colon) {
               return 0;
            }
            double_colon = true;
         }
         /* Past 8 colons no address can match (at most 7, plus a trailing
          * one): stop rather than scan a long "1:1:1:..." run from every
          * start. */
         if (++colons > 8) {
            return 0;
         }
         hexlen = 0;
      } else {
         if (hexlen == 0) {
            groups++;
         }
         if (++hexlen > 4) {
            return 0;
         }
      }
      j++;
   }
   if (tk_pii__is_word_at (t, j)) {
      return 0;
   }
   /* A trailing single colon ends a sentence ("host 10::1: down"). */
   if (j > i && t.s[j - 1] == ':' && !(j > i + 1 && t.s[j - 2] == ':')) {
      j--;
      colons--;
   }
   if ((colons == 7 && groups == 8 && !double_colon) ||
       (double_colon && groups >= 2 && colons >= 2 && colons <= 7)) {
      return j - i;
   }
   return 0;
}

/* ---- card and phone numbers ----------------------------------------------- */

static bool
luhn_ok (const char *digits, size_t n)
{
   int sum = 0;
   for (size_t k = 0; k < n; k++) {
      int d = digits[n - 1 - k] - '0';
      if (k % 2 == 1) {
         d *= 2;
         if (d > 9) {
            d -= 9;
         }
      }
      sum += d;
   }
   return sum % 10 == 0;
}

/* 13 to 19 digits passing the Luhn check, whole or in groups separated by
 * one kind of separator (space, dash, dot, slash or underscore), starting
 * where a run of digits starts. Letters may touch either end ("CC4111...",
 * "...1111x"). The longest such prefix ending with a group wins, so a card
 * followed by more digits ("4111 1111 1111 1111 2222") is still masked. */
size_t
tk_pii__match_card (span_t t, size_t i)
{
   char digits[19];
   size_t nd = 0, j = i, best = 0, w;
   char sep = 0;
   for (;;) {
      int d;
      while ((d = tk_pii__digit_at (t, j, &w)) >= 0) {
         if (nd == sizeof digits) {
            return best;
         }
         digits[nd++] = (char) ('0' + d);
         j += w;
      }
      if (nd >= 13 && luhn_ok (digits, nd)) {
         best = j - i;
      }
      size_t sw;
      char s = tk_pii__card_sep_at (t, j, &sw);
      if (!s || (sep && s != sep) || tk_pii__digit_at (t, j + sw, &w) < 0) {
         return best;
      }
      sep = s;
      j += sw;
   }
}

/* Phone numbers start at a word start that does not continue an
 * identifier: "TICKET-20250913-0001" and "v1.123456789" hold none. */
bool
tk_pii__phone_start_ok (span_t t, size_t i, const scan_t *sc)
{
   int32_t p = tk_pii__cp_before (t, i, sc);
   if (p == '-' || p == '_' || p == '.' || p == '/') {
      return !tk_pii__is_word_cp (tk_pii__cp_before (t, i - 1, sc));
   }
   return true;
}

/* Digits joined by single spaces, dashes, dots or one pair of parentheses,
 * perhaps after a '+': the longest such prefix of 9 to 15 digits (7 to 15
 * after a '+') that ends a group. Taking the longest prefix rather than
 * refusing a run that goes on past 15 digits keeps the outcome the same
 * when part of that run is masked by something else (see the top). */
size_t
tk_pii__match_phone (span_t t, size_t i)
{
   size_t j = i, w;
   size_t min = 9;
   if (t.s[j] == '+') {
      min = 7;
      j++;
   } else if (tk_pii__cp_at (t, j, &w) == 0xFF0B) { /* full-width plus */
      min = 7;
      j += w;
   }
   size_t nd = 0, best = 0;
   int open = 0;
   while (j < t.len) {
      char c = t.s[j];
      size_t sw;
      if (tk_pii__digit_at (t, j, &w) >= 0) {
         if (++nd > 15) {
            return best;
         }
         j += w;
         if (nd >= min && tk_pii__digit_at (t, j, &w) < 0 && !tk_pii__is_word_at (t, j)) {
            best = j - i;
         }
      } else if (c == '(' && open == 0) {
         open = 1;
         j++;
      } else if (c == ')' && open == 1) {
         open = 2;
         j++;
      } else {
         char s = tk_pii__card_sep_at (t, j, &sw);
         if ((s == ' ' || s == '-' || s == '.') &&
             (tk_pii__digit_at (t, j + sw, &w) >= 0 || (j + sw < t.len && t.s[j + sw] == '('))) {
            j += sw;
         } else {
            break;
         }
      }
   }
   return best;
}

