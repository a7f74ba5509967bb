/* pii_mask.c - typed placeholders for personal data and secrets: the scan
 * that tries the detectors and writes the placeholders. The detectors are in
 * pii_email.c, pii_secrets.c and pii_numbers.c, the character level in
 * pii_chars.c; they share pii_internal.h.
 *
 * One left-to-right scan over code points. At each word start the matchers
 * are tried from the most specific (a secret's key=value) to the least (a
 * phone number); the first that matches consumes its bytes and emits a
 * placeholder. Card numbers are also tried wherever a run of digits begins
 * inside a word ("CC4111...", "card_4111_..."): a card joined to letters is
 * still a card, and the Luhn check keeps that precise. Otherwise the text is
 * copied, a word at a time.
 *
 * Letters beyond ASCII count as word characters (an e-mail address may hold
 * them), and full-width digits (U+FF10..U+FF19) as digits. Matches begin
 * and end on code point boundaries, so valid UTF-8 in is valid UTF-8 out.
 *
 * The result is a fixed point: masking it again changes nothing. A
 * placeholder ends in ']', so a second scan sees a non-word character right
 * before whatever followed a replacement; the first scan looks at that
 * position the same way (scan_t.boundary). Every other decision depends
 * only on the text from the position onwards.
 *
 * Linear time: a matcher tried at every start inside a long run would scan
 * to the run's end from each of them (a 64 KB "1-1-1-..." ticket body took
 * seconds once), so either its work is bounded (cards and phones stop after
 * 19 digits) or the outcome for the run is cached (scan_t).
 */
#include "pii_mask.h"
#include "pii_internal.h"

#include "buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- the scan ------------------------------------------------------------- */

/* The first matcher that takes the text at i, or 0. start: i is a word
 * start; run_start: a run of digits starts at i. */
static size_t
match_at (span_t t, size_t i, bool start, bool run_start, scan_t *sc, size_t *keep,
          const char **ph)
{
   size_t m = 0, w;
   char c = t.s[i];
   *keep = 0;
   if (start) {
      if ((m = tk_pii__match_private_key (t, i))) {
         *ph = "[SECRET]";
         return m;
      }
   }
   if (start && c != '.' && c != '-') {
      if ((m = tk_pii__match_secret_kv (t, i, keep, sc)) || (m = tk_pii__match_authorization (t, i, keep)) ||
          (m = tk_pii__match_auth_scheme (t, i, keep))) {
         *ph = "[SECRET]";
         return m;
      }
      if ((m = tk_pii__match_email (t, i, sc))) {
         *ph = "[EMAIL]";
         return m;
      }
      if ((m = tk_pii__match_jwt (t, i)) || (m = tk_pii__match_key_token (t, i, sc, true))) {
         *ph = "[SECRET]";
         return m;
      }
      if ((m = tk_pii__match_iban (t, i))) {
         *ph = "[IBAN]";
         return m;
      }
      if ((m = tk_pii__match_key_token (t, i, sc, false))) {
         *ph = "[SECRET]";
         return m;
      }
      if ((m = tk_pii__match_ipv4 (t, i, sc)) || (m = tk_pii__match_ipv6 (t, i, sc))) {
         *ph = "[IP]";
         return m;
      }
   }
   if (run_start && (m = tk_pii__match_card (t, i))) {
      *ph = "[CARD]";
      return m;
   }
   if (start && (tk_pii__digit_at (t, i, &w) >= 0 || c == '+' || c == '(' || tk_pii__cp_at (t, i, &w) == 0xFF0B) &&
       tk_pii__phone_start_ok (t, i, sc) && (m = tk_pii__match_phone (t, i))) {
      *ph = "[PHONE]";
      return m;
   }
   return 0;
}

/* One scan: the masked copy of text into out, the replacements made into
 * *count. false on out of memory. */
static bool
mask_once (const char *text, size_t len, tk_buf_t *out, size_t *count)
{
   span_t t = {text, len};
   size_t i = 0;
   scan_t sc = {SIZE_MAX, 0, 0, 0};
   *count = 0;
   tk_buf_reset (out);
   if (!tk_buf_reserve (out, len + 16)) {
      return false;
   }
   while (i < len) {
      size_t w;
      int32_t prev = tk_pii__cp_before (t, i, &sc);
      bool start = !tk_pii__is_word_cp (prev);
      bool run_start = tk_pii__digit_at (t, i, &w) >= 0 && !tk_pii__is_digit_cp (prev);
      size_t keep = 0;
      const char *ph = NULL;
      size_t m = (start || run_start) ? match_at (t, i, start, run_start, &sc, &keep, &ph) : 0;
      bool ok;
      if (m) {
         ok = tk_buf_append (out, text + i, keep) && tk_buf_append_str (out, ph);
         i += m;
         sc.boundary = i;
         (*count)++;
      } else {
         /* Copy up to the next place a matcher could start: the end of
          * this word, or a run of digits beginning inside it. */
         size_t j = i;
         int32_t cp = tk_pii__cp_at (t, j, &w);
         j += w;
         if (tk_pii__is_word_cp (cp)) {
            bool digit = tk_pii__is_digit_cp (cp);
            while (j < len) {
               int32_t next = tk_pii__cp_at (t, j, &w);
               if (!tk_pii__is_word_cp (next) || (tk_pii__is_digit_cp (next) && !digit)) {
                  break;
               }
               digit = tk_pii__is_digit_cp (next);
               j += w;
            }
         }
         ok = tk_buf_append (out, text + i, j - i);
         i = j;
      }
      if (!ok) {
         return false;
      }
   }
   return true;
}

/* Scans until nothing changes. One scan masks everything it finds, but a
 * matcher that looked past a place masked later in the same scan may
 * decide otherwise once that place is a placeholder (an address whose
 * domain ran into a card number: "x@corp.4111111111111111"); the next scan
 * settles it. Real text settles in one or two scans; MASK_SCANS bounds the
 * work on contrived input. */
#define MASK_SCANS 8

char *
tk_pii_mask (const char *text, size_t len, size_t *n_masked)
{
   tk_buf_t a = TK_BUF_INIT, b = TK_BUF_INIT;
   size_t total = 0, n = 0;
   char *result = NULL;
   if (!mask_once (text, len, &a, &n)) {
      goto done;
   }
   total = n;
   for (int scan = 1; n > 0 && scan < MASK_SCANS; scan++) {
      if (!mask_once (a.data, a.len, &b, &n)) {
         goto done;
      }
      total += n;
      tk_buf_t swap = a;
      a = b;
      b = swap;
   }
   if (n_masked) {
      *n_masked = total;
   }
   if (a.len == 0) {
      /* Nothing was stored, so there may be no terminating NUL yet. */
      result = calloc (1, 1);
   } else {
      size_t outlen;
      result = tk_buf_steal (&a, &outlen);
   }
done:
   tk_buf_destroy (&a);
   tk_buf_destroy (&b);
   return result;
}

bool
tk_pii_mask_replace (char **text, size_t *n_masked)
{
   if (!*text) {
      return true;
   }
   size_t n = 0;
   char *masked = tk_pii_mask (*text, strlen (*text), &n);
   if (!masked) {
      return false;
   }
   free (*text);
   *text = masked;
   if (n_masked) {
      *n_masked += n;
   }
   return true;
}
