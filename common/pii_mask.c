/* pii_mask.c - typed placeholders for personal data and secrets.
 *
 * One left-to-right scan. At each token start the matchers are tried from
 * the most specific (a secret's key=value) to the least (a long token); the
 * first that matches consumes its bytes and emits a placeholder, otherwise
 * one byte is copied. Matchers only look at ASCII, so UTF-8 passes through.
 */
#include "pii_mask.h"

#include "buf.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
   const char *s;
   size_t len;
} span_t;

/* What one scan has learnt about runs of characters, so that no run is
 * rescanned from every word start inside it. Every matcher is tried at each
 * word start, and in a long run such as "1-1-1-..." or "1.1.1.1..." (a
 * 64 KB ticket body of it took seconds) each start would otherwise scan to
 * the run's end again: quadratic. Each bound below is the end of a run whose
 * outcome is the same for any start inside it. */
typedef struct {
   size_t tok_end;         /* end of the token run (is_token_char) scanned last */
   size_t unmixed_before;  /* the token run up to here lacks a letter or a digit */
   size_t no_email_before; /* an e-mail local part up to here has no valid "@domain" */
} scan_cache_t;

static bool
is_alnum (char c)
{
   return isalnum ((unsigned char) c) != 0;
}

static bool
is_word (char c)
{
   return is_alnum (c) || c == '_';
}

static bool
is_email_local (char c)
{
   return is_alnum (c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-';
}

static bool
is_token_char (char c)
{
   return is_alnum (c) || c == '_' || c == '-';
}

/* ---- e-mail ------------------------------------------------------------- */

/* Whether an e-mail matches depends only on where its local part ends, so
 * a failure rules out every start up to that end (cache->no_email_before). */
static size_t
match_email (span_t t, size_t i, scan_cache_t *cache)
{
   if (i < cache->no_email_before) {
      return 0;
   }
   size_t j = i;
   while (j < t.len && is_email_local (t.s[j])) {
      j++;
   }
   cache->no_email_before = j;
   if (j == i || j >= t.len || t.s[j] != '@') {
      return 0;
   }
   size_t dom = ++j;
   size_t last_dot = 0;
   while (j < t.len && (is_alnum (t.s[j]) || t.s[j] == '-' || t.s[j] == '.')) {
      if (t.s[j] == '.') {
         last_dot = j;
      }
      j++;
   }
   /* A trailing dot ends the sentence, not the domain. */
   while (j > dom && t.s[j - 1] == '.') {
      j--;
   }
   if (last_dot >= j) {
      last_dot = 0;
      for (size_t k = dom; k < j; k++) {
         if (t.s[k] == '.') {
            last_dot = k;
         }
      }
   }
   if (last_dot <= dom || j - last_dot - 1 < 2) {
      return 0;
   }
   for (size_t k = last_dot + 1; k < j; k++) {
      if (!isalpha ((unsigned char) t.s[k])) {
         return 0;
      }
   }
   return j - i;
}

/* ---- secrets ------------------------------------------------------------ */

static const char *const secret_keys[] = {
   "client_secret", "private_key", "access_key", "api_key", "api-key", "apikey",
   "password", "passwd", "secret", "token", "pwd", NULL};

static const char *const key_prefixes[] = {"sk-", "pk_", "sk_", "ghp_", "gho_", "xoxb-",
                                           "xoxp-", "AKIA", "AIza", NULL};

/* Length of the token run starting at i; a start inside the run scanned
 * last shares its end. */
static size_t
token_len (span_t t, size_t i, scan_cache_t *cache)
{
   if (cache->tok_end > i) {
      return cache->tok_end - i;
   }
   size_t j = i;
   while (j < t.len && is_token_char (t.s[j])) {
      j++;
   }
   cache->tok_end = j;
   return j - i;
}

/* key=value / key: value with a secret-sounding key. Returns the length of
 * the whole match and sets *keep to the length of "key=" kept in clear. */
static size_t
match_secret_kv (span_t t, size_t i, size_t *keep, scan_cache_t *cache)
{
   /* The key is a whole word ending in a secret's name: "password",
    * "db_password", "X-Api-Key". */
   size_t wl = token_len (t, i, cache);
   for (size_t k = 0; secret_keys[k]; k++) {
      size_t kl = strlen (secret_keys[k]);
      if (wl < kl || strncasecmp (t.s + i + wl - kl, secret_keys[k], kl) != 0) {
         continue;
      }
      if (wl > kl && t.s[i + wl - kl - 1] != '_' && t.s[i + wl - kl - 1] != '-') {
         continue;
      }
      kl = wl;
      size_t j = i + kl;
      while (j < t.len && t.s[j] == ' ') {
         j++;
      }
      if (j >= t.len || (t.s[j] != '=' && t.s[j] != ':')) {
         continue;
      }
      j++;
      while (j < t.len && t.s[j] == ' ') {
         j++;
      }
      *keep = j - i;
      char quote = 0;
      if (j < t.len && (t.s[j] == '"' || t.s[j] == '\'')) {
         quote = t.s[j++];
      }
      size_t v = j;
      while (j < t.len && (quote ? t.s[j] != quote : !isspace ((unsigned char) t.s[j]))) {
         j++;
      }
      /* Sentence punctuation after an unquoted value is not part of it. */
      while (!quote && j > v && strchr (".,;)", t.s[j - 1])) {
         j--;
      }
      if (j == v) {
         continue;
      }
      if (quote && j < t.len) {
         j++;
      }
      return j - i;
   }
   return 0;
}

static size_t
match_bearer (span_t t, size_t i, size_t *keep)
{
   static const char word[] = "bearer ";
   size_t wl = sizeof word - 1;
   if (i + wl >= t.len || strncasecmp (t.s + i, word, wl) != 0) {
      return 0;
   }
   size_t j = i + wl;
   size_t v = j;
   while (j < t.len && (is_token_char (t.s[j]) || t.s[j] == '.' || t.s[j] == '=' ||
                        t.s[j] == '/' || t.s[j] == '+' || t.s[j] == '~')) {
      j++;
   }
   if (j - v < 8) {
      return 0;
   }
   *keep = wl;
   return j - i;
}

static size_t
match_key_token (span_t t, size_t i, scan_cache_t *cache)
{
   size_t n = token_len (t, i, cache);
   for (size_t k = 0; key_prefixes[k]; k++) {
      size_t pl = strlen (key_prefixes[k]);
      if (n >= pl + 16 && strncmp (t.s + i, key_prefixes[k], pl) == 0) {
         return n;
      }
   }
   /* A run without both a letter and a digit has no suffix with both. */
   if (n >= 32 && i >= cache->unmixed_before) {
      bool alpha = false, digit = false;
      for (size_t k = i; k < i + n && !(alpha && digit); k++) {
         alpha |= isalpha ((unsigned char) t.s[k]) != 0;
         digit |= isdigit ((unsigned char) t.s[k]) != 0;
      }
      if (alpha && digit) {
         return n;
      }
      cache->unmixed_before = i + n;
   }
   return 0;
}

/* ---- IP addresses ------------------------------------------------------- */

static size_t
match_ipv4 (span_t t, size_t i)
{
   if (i > 0 && t.s[i - 1] == '.') {
      return 0; /* the tail of a longer dotted number */
   }
   size_t j = i;
   for (int octet = 0; octet < 4; octet++) {
      if (octet > 0) {
         if (j >= t.len || t.s[j] != '.') {
            return 0;
         }
         j++;
      }
      size_t d = j;
      int value = 0;
      while (j < t.len && isdigit ((unsigned char) t.s[j]) && j - d < 3) {
         value = value * 10 + (t.s[j] - '0');
         j++;
      }
      if (j == d || value > 255) {
         return 0;
      }
   }
   if (j < t.len && (isdigit ((unsigned char) t.s[j]) || (t.s[j] == '.' && j + 1 < t.len &&
                                                           isdigit ((unsigned char) t.s[j + 1])))) {
      return 0;
   }
   return j - i;
}

static size_t
match_ipv6 (span_t t, size_t i)
{
   size_t j = i;
   int colons = 0, groups = 0, hexlen = 0;
   bool double_colon = false;
   while (j < t.len && (isxdigit ((unsigned char) t.s[j]) || t.s[j] == ':')) {
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
   if (j < t.len && is_word (t.s[j])) {
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

/* ---- card and phone numbers --------------------------------------------- */

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

/* Digits separated by single spaces or dashes; returns the bytes used. */
static size_t
match_card (span_t t, size_t i)
{
   char digits[20];
   size_t nd = 0;
   size_t j = i, end = i;
   while (j < t.len) {
      if (isdigit ((unsigned char) t.s[j])) {
         if (nd == 19) {
            return 0;
         }
         digits[nd++] = t.s[j++];
         end = j;
      } else if ((t.s[j] == ' ' || t.s[j] == '-') && j + 1 < t.len &&
                 isdigit ((unsigned char) t.s[j + 1]) && j > i) {
         j++;
      } else {
         break;
      }
   }
   if (end < t.len && is_word (t.s[end])) {
      return 0;
   }
   if (nd < 13 || !luhn_ok (digits, nd)) {
      return 0;
   }
   return end - i;
}

static size_t
match_phone (span_t t, size_t i)
{
   size_t j = i;
   bool plus = false;
   if (t.s[j] == '+') {
      plus = true;
      j++;
   }
   size_t nd = 0, end = j;
   int open = 0;
   while (j < t.len) {
      char c = t.s[j];
      if (isdigit ((unsigned char) c)) {
         if (++nd > 15) {
            return 0; /* too long for a phone number whatever follows */
         }
         j++;
         end = j;
      } else if (c == '(' && open == 0) {
         open = 1;
         j++;
      } else if (c == ')' && open == 1) {
         open = 2;
         j++;
      } else if ((c == ' ' || c == '-' || c == '.') && j + 1 < t.len &&
                 (isdigit ((unsigned char) t.s[j + 1]) || t.s[j + 1] == '(')) {
         j++;
      } else {
         break;
      }
   }
   if (end < t.len && is_word (t.s[end])) {
      return 0;
   }
   if (nd > 15 || nd < (plus ? 7u : 9u)) {
      return 0;
   }
   return end - i;
}

/* ---- the scan ----------------------------------------------------------- */

char *
tk_pii_mask (const char *text, size_t len, size_t *n_masked)
{
   tk_buf_t out = TK_BUF_INIT;
   span_t t = {text, len};
   size_t count = 0;
   size_t i = 0;
   scan_cache_t cache = {0, 0, 0};
   if (!tk_buf_reserve (&out, len + 16)) {
      return NULL;
   }
   while (i < len) {
      char c = text[i];
      bool start = i == 0 || !is_word (text[i - 1]);
      size_t m = 0, keep = 0;
      const char *ph = NULL;
      if (start && c != '.' && c != '-') {
         if ((m = match_secret_kv (t, i, &keep, &cache)) || (m = match_bearer (t, i, &keep))) {
            ph = "[SECRET]";
         } else if ((m = match_email (t, i, &cache))) {
            ph = "[EMAIL]";
         } else if ((m = match_key_token (t, i, &cache))) {
            ph = "[SECRET]";
         } else if ((m = match_ipv4 (t, i))) {
            ph = "[IP]";
         } else if ((m = match_ipv6 (t, i))) {
            ph = "[IP]";
         } else if (isdigit ((unsigned char) c) && (m = match_card (t, i))) {
            ph = "[CARD]";
         } else if ((isdigit ((unsigned char) c) || c == '+' || c == '(') &&
                    (m = match_phone (t, i))) {
            ph = "[PHONE]";
         }
      }
      bool ok;
      if (ph) {
         ok = tk_buf_append (&out, text + i, keep) && tk_buf_append_str (&out, ph);
         i += m;
         count++;
      } else if (start && is_word (c)) {
         /* Copy the rest of this word at once: every matcher starts at a
          * word start, and an e-mail starting here was tried already. */
         size_t j = i;
         while (j < len && is_word (text[j])) {
            j++;
         }
         ok = tk_buf_append (&out, text + i, j - i);
         i = j;
      } else {
         ok = tk_buf_append (&out, text + i, 1);
         i++;
      }
      if (!ok) {
         tk_buf_destroy (&out);
         return NULL;
      }
   }
   if (n_masked) {
      *n_masked = count;
   }
   if (out.len == 0) {
      /* Nothing was stored, so there may be no terminating NUL yet. */
      tk_buf_destroy (&out);
      return calloc (1, 1);
   }
   size_t outlen;
   return tk_buf_steal (&out, &outlen);
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
