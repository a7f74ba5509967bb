/* pii_mask.c - typed placeholders for personal data and secrets.
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

#include "buf.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
   const char *s;
   size_t len;
} span_t;

/* What one scan has learnt: where the last replacement ended, and the ends
 * of runs whose outcome is the same for any start inside them. */
typedef struct {
   size_t boundary;         /* end of the last replacement; SIZE_MAX: none yet */
   size_t tok_end;          /* end of the token run (is_token_byte) scanned last */
   size_t no_secret_before; /* no segment of the token run up to here looks random */
   size_t no_email_before;  /* an e-mail local part up to here has no valid "@domain" */
} scan_t;

/* ---- characters ----------------------------------------------------------- */

static bool
a_alpha (int32_t c)
{
   return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
a_digit (int32_t c)
{
   return c >= '0' && c <= '9';
}

static bool
a_alnum (int32_t c)
{
   return a_alpha (c) || a_digit (c);
}

static bool
a_xdigit (int32_t c)
{
   return a_digit (c) || ((c | 32) >= 'a' && (c | 32) <= 'f');
}

static bool
is_token_byte (char c)
{
   return a_alnum (c) || c == '_' || c == '-';
}

/* The code point at i and its width in *w; -1 (width 1) for a byte that
 * starts no valid sequence. */
static int32_t
cp_at (span_t t, size_t i, size_t *w)
{
   const unsigned char *s = (const unsigned char *) t.s + i;
   size_t left = t.len - i;
   unsigned char c = s[0];
   int n;
   int32_t cp;
   *w = 1;
   if (c < 0x80) {
      return c;
   }
   if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
   } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
   } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
   } else {
      return -1;
   }
   if (left < (size_t) n + 1) {
      return -1;
   }
   for (int k = 1; k <= n; k++) {
      if ((s[k] & 0xC0) != 0x80) {
         return -1;
      }
      cp = cp << 6 | (s[k] & 0x3F);
   }
   if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
       (cp >= 0xD800 && cp <= 0xDFFF)) {
      return -1;
   }
   *w = (size_t) n + 1;
   return cp;
}

/* Whether a code point beyond ASCII is part of a word: letters and digits
 * of every script count, punctuation, spaces, symbols and emoji do not. A
 * range list rather than the locale's tables: a service runs in the C
 * locale, where iswalpha knows nothing beyond ASCII. */
static bool
is_intl_letter (int32_t cp)
{
   static const struct {
      int32_t lo, hi;
   } not_letters[] = {
      {0x0080, 0x00BF}, /* Latin-1 controls, punctuation and symbols */
      {0x00D7, 0x00D7}, {0x00F7, 0x00F7},  /* × ÷ */
      {0x2000, 0x2BFF}, /* general punctuation .. arrows, maths, box drawing */
      {0x2E00, 0x2E7F}, /* supplemental punctuation */
      {0x3000, 0x303F}, /* CJK symbols and punctuation */
      {0xD800, 0xF8FF}, /* surrogates, private use */
      {0xFE00, 0xFE0F}, /* variation selectors */
      {0xFE30, 0xFE6F}, /* CJK compatibility and small forms */
      {0xFEFF, 0xFEFF}, /* byte order mark */
      {0xFF00, 0xFF0F}, /* full-width ! " # ... / */
      {0xFF1A, 0xFF20}, /* full-width : ; < = > ? @ */
      {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65}, /* full-width brackets and more */
      {0xFFF0, 0xFFFF}, /* specials */
      {0x1F000, 0x1FAFF}, /* emoji and pictographs */
      {0xE0000, 0x10FFFF}, /* tags, private use */
   };
   if (cp < 0x80) {
      return false;
   }
   for (size_t k = 0; k < sizeof not_letters / sizeof not_letters[0]; k++) {
      if (cp >= not_letters[k].lo && cp <= not_letters[k].hi) {
         return false;
      }
   }
   return true;
}

static bool
is_word_cp (int32_t cp)
{
   return cp >= 0 && (cp < 0x80 ? a_alnum (cp) || cp == '_' : is_intl_letter (cp));
}

static bool
is_word_at (span_t t, size_t i)
{
   size_t w;
   return i < t.len && is_word_cp (cp_at (t, i, &w));
}

static bool
is_digit_cp (int32_t cp)
{
   return a_digit (cp) || (cp >= 0xFF10 && cp <= 0xFF19);
}

/* The digit at i (ASCII or full-width) and its width, else -1. */
static int
digit_at (span_t t, size_t i, size_t *w)
{
   if (i >= t.len) {
      return -1;
   }
   int32_t cp = cp_at (t, i, w);
   if (a_digit (cp)) {
      return cp - '0';
   }
   if (cp >= 0xFF10 && cp <= 0xFF19) {
      return cp - 0xFF10;
   }
   return -1;
}

/* The code point that ends right before i, as the scan sees it: ']' right
 * after a replacement (the end of its placeholder), ' ' at the start, -1
 * for broken UTF-8. */
static int32_t
cp_before (span_t t, size_t i, const scan_t *sc)
{
   if (i == sc->boundary) {
      return ']';
   }
   if (i == 0) {
      return ' ';
   }
   if ((unsigned char) t.s[i - 1] < 0x80) {
      return (unsigned char) t.s[i - 1];
   }
   for (size_t k = 2; k <= 4 && k <= i; k++) {
      unsigned char b = (unsigned char) t.s[i - k];
      if ((b & 0xC0) != 0x80) {
         size_t w;
         int32_t cp = cp_at (t, i - k, &w);
         return w == k ? cp : -1;
      }
   }
   return -1;
}

/* A separator between the digit groups of a card number, mapped to its
 * ASCII form so that a number is written with one kind only; 0 if none. */
static char
card_sep_at (span_t t, size_t i, size_t *w)
{
   if (i >= t.len) {
      return 0;
   }
   int32_t cp = cp_at (t, i, w);
   switch (cp) {
   case ' ': case '-': case '.': case '/': case '_': return (char) cp;
   case 0x00A0: case 0x3000: return ' ';          /* no-break, ideographic space */
   case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0xFF0D: return '-';
   case 0xFF0E: return '.';
   case 0xFF0F: return '/';
   default: return 0;
   }
}

/* Whether the n bytes at s begin with one of the placeholders this file
 * writes: a value masked already is not masked again (a quoted value loses
 * its quotes, so "[SECRET]}" is what a second scan sees of {"pwd": "x"}). */
static bool
starts_with_placeholder (const char *s, size_t n)
{
   static const char *const names[] = {"[SECRET]", "[EMAIL]", "[CARD]", "[IBAN]",
                                       "[PHONE]",  "[IP]",    NULL};
   for (size_t k = 0; names[k]; k++) {
      size_t l = strlen (names[k]);
      if (n >= l && memcmp (s, names[k], l) == 0) {
         return true;
      }
   }
   return false;
}

/* Whether the n bytes at s hold 13 or more ASCII digits in a row: text a
 * matcher would keep in clear (a key's name, an auth scheme) must not hide
 * a card number. */
static bool
has_long_digit_run (const char *s, size_t n)
{
   size_t run = 0;
   for (size_t k = 0; k < n; k++) {
      run = a_digit (s[k]) ? run + 1 : 0;
      if (run >= 13) {
         return true;
      }
   }
   return false;
}

/* ---- e-mail --------------------------------------------------------------- */

static bool
email_local_at (span_t t, size_t j, size_t *w)
{
   int32_t cp = cp_at (t, j, w);
   if (cp < 0) {
      return false;
   }
   if (cp < 0x80) {
      return a_alnum (cp) || cp == '.' || cp == '_' || cp == '%' || cp == '+' || cp == '-';
   }
   return is_intl_letter (cp);
}

static bool
domain_at (span_t t, size_t j, size_t *w)
{
   int32_t cp = cp_at (t, j, w);
   return cp >= 0 && (cp < 0x80 ? a_alnum (cp) || cp == '-' || cp == '.' : is_intl_letter (cp));
}

/* "react@latest", "image@sha256:...", "pkg@v2": a package or image
 * reference, not a mailbox on a host without a dot. */
static bool
is_version_tag (const char *s, size_t n)
{
   static const char *const tags[] = {"latest", "next",   "beta",    "alpha",        "canary",
                                      "stable", "main",   "master",  "head",         "dev",
                                      "edge",   "nightly", "lts",    "experimental", "preview",
                                      "sha1",   "sha256", "sha384",  "sha512",       NULL};
   if (n >= 2 && (s[0] == 'v' || s[0] == 'V') && a_digit (s[1])) {
      return true;
   }
   for (size_t k = 0; tags[k]; k++) {
      if (strlen (tags[k]) == n && strncasecmp (s, tags[k], n) == 0) {
         return true;
      }
   }
   return false;
}

/* local@domain. The domain has dotted labels ending in a top-level label
 * of two or more letters (any script) or an IDN "xn--" one, or is a single
 * label of three or more characters starting with a letter ("root@localhost",
 * "admin@intranet"). Whether an e-mail matches depends only on where its
 * local part ends, so a failure rules out every start up to that end. */
static size_t
match_email (span_t t, size_t i, scan_t *sc)
{
   if (i < sc->no_email_before) {
      return 0;
   }
   size_t j = i, w;
   while (j < t.len && email_local_at (t, j, &w)) {
      j += w;
   }
   sc->no_email_before = j;
   if (j == i || j >= t.len || t.s[j] != '@') {
      return 0;
   }
   size_t dom = ++j;
   while (j < t.len && domain_at (t, j, &w)) {
      j += w;
   }
   /* A trailing dot ends the sentence, not the domain. */
   while (j > dom && t.s[j - 1] == '.') {
      j--;
   }
   if (j == dom) {
      return 0;
   }
   size_t last = dom;
   bool dotted = false;
   for (size_t k = dom; k < j; k++) {
      if (t.s[k] == '.') {
         if (k == last) {
            return 0; /* an empty label: "a@.com", "a@b..com" */
         }
         last = k + 1;
         dotted = true;
      }
   }
   size_t letters = 0, chars = 0;
   for (size_t k = last; k < j; k += w) {
      int32_t cp = cp_at (t, k, &w);
      chars++;
      letters += cp < 0x80 ? a_alpha (cp) : is_intl_letter (cp);
   }
   if (dotted) {
      bool idn = j - last > 4 && strncasecmp (t.s + last, "xn--", 4) == 0;
      if (!idn && (chars < 2 || letters != chars)) {
         return 0;
      }
   } else {
      int32_t first = cp_at (t, dom, &w);
      if (chars < 3 || !(first < 0x80 ? a_alpha (first) : is_intl_letter (first)) ||
          is_version_tag (t.s + dom, j - dom)) {
         return 0;
      }
   }
   return j - i;
}

/* ---- secrets -------------------------------------------------------------- */

typedef struct {
   const char *s;
   size_t len;
} word_t;

#define WORD(lit) {lit, sizeof lit - 1}

static const word_t secret_keys[] = {
   WORD ("client_secret"), WORD ("private_key"), WORD ("secret_key"), WORD ("access_key"),
   WORD ("api_key"),       WORD ("api-key"),     WORD ("apikey"),     WORD ("passphrase"),
   WORD ("password"),      WORD ("passwd"),      WORD ("secret"),     WORD ("token"),
   WORD ("pwd"),           {NULL, 0}};

/* Prefixes of the API tokens of well-known services; the token must go on
 * for 16 more characters at least. Slack's "xox?-" is matched apart. */
static const word_t key_prefixes[] = {
   WORD ("sk-"),      WORD ("sk_live_"), WORD ("sk_test_"), WORD ("pk_live_"),
   WORD ("pk_test_"), WORD ("rk_live_"), WORD ("rk_test_"), WORD ("ghp_"),
   WORD ("gho_"),     WORD ("ghu_"),     WORD ("ghs_"),     WORD ("ghr_"),
   WORD ("github_pat_"), WORD ("glpat-"), WORD ("AKIA"),   WORD ("ASIA"),
   WORD ("AIza"),     WORD ("npm_"),     WORD ("hf_"),      {NULL, 0}};

/* Length of the token run starting at i; a start inside the run scanned
 * last shares its end. */
static size_t
token_len (span_t t, size_t i, scan_t *sc)
{
   if (sc->tok_end > i) {
      return sc->tok_end - i;
   }
   size_t j = i;
   while (j < t.len && is_token_byte (t.s[j])) {
      j++;
   }
   sc->tok_end = j;
   return j - i;
}

/* key=value / key: value with a secret-sounding key, the key perhaps
 * quoted as in JSON ("password": "..."). Returns the length of the whole
 * match and sets *keep to the length of the part kept in clear. */
static size_t
match_secret_kv (span_t t, size_t i, size_t *keep, scan_t *sc)
{
   /* The key is a whole word ending in a secret's name: "password",
    * "db_password", "X-Api-Key". What follows it is checked first: most
    * words are followed by no '=' or ':' at all. */
   size_t wl = token_len (t, i, sc);
   size_t j = i + wl;
   if (wl < 3) {
      return 0;
   }
   if (j < t.len && (t.s[j] == '"' || t.s[j] == '\'')) {
      j++;
   }
   while (j < t.len && t.s[j] == ' ') {
      j++;
   }
   if (j >= t.len || (t.s[j] != '=' && t.s[j] != ':')) {
      return 0;
   }
   for (size_t k = 0; secret_keys[k].s; k++) {
      size_t kl = secret_keys[k].len;
      if (wl < kl || strncasecmp (t.s + i + wl - kl, secret_keys[k].s, kl) != 0) {
         continue;
      }
      if (wl > kl && t.s[i + wl - kl - 1] != '_' && t.s[i + wl - kl - 1] != '-') {
         continue;
      }
      if (has_long_digit_run (t.s + i, wl)) {
         return 0;
      }
      j++;
      while (j < t.len && t.s[j] == ' ') {
         j++;
      }
      size_t kept = j - i;
      char quote = 0;
      if (j < t.len && (t.s[j] == '"' || t.s[j] == '\'')) {
         quote = t.s[j++];
      }
      size_t v = j;
      while (j < t.len && (quote ? t.s[j] != quote
                                 : !(t.s[j] == ' ' || (t.s[j] >= '\t' && t.s[j] <= '\r')))) {
         j++;
      }
      size_t vend = j;
      /* Sentence punctuation after an unquoted value is not part of it. */
      while (!quote && vend > v && strchr (".,;)", t.s[vend - 1])) {
         vend--;
      }
      if (vend == v || starts_with_placeholder (t.s + v, vend - v)) {
         return 0;
      }
      *keep = kept;
      if (quote) {
         return (j < t.len ? j + 1 : j) - i;
      }
      return vend - i;
   }
   return 0;
}

static bool
is_cred_byte (char c)
{
   return is_token_byte (c) || c == '.' || c == '=' || c == '/' || c == '+' || c == '~';
}

/* Whether n bytes at s look like a credential rather than a word: 8 or
 * more, '=' only as trailing base64 padding, and a digit, a symbol or a
 * capital letter past the first ("Basic authentication" is prose,
 * "Basic dXNlcjpwYXNz" is not). */
static bool
looks_like_credential (const char *s, size_t n)
{
   if (n < 8) {
      return false;
   }
   size_t pad = n;
   while (pad > 0 && s[pad - 1] == '=') {
      pad--;
   }
   bool varied = false;
   for (size_t k = 0; k < pad; k++) {
      if (s[k] == '=') {
         return false;
      }
      varied |= a_digit (s[k]) || strchr ("._-~+/", s[k]) || (k > 0 && s[k] >= 'A' && s[k] <= 'Z');
   }
   return varied || pad < n;
}

static size_t
cred_len (span_t t, size_t j)
{
   size_t k = j;
   while (k < t.len && is_cred_byte (t.s[k])) {
      k++;
   }
   return k - j;
}

/* "Bearer <credential>", "Basic <credential>" anywhere. */
static size_t
match_auth_scheme (span_t t, size_t i, size_t *keep)
{
   static const word_t schemes[] = {WORD ("bearer "), WORD ("basic "), {NULL, 0}};
   if ((t.s[i] | 32) != 'b') {
      return 0;
   }
   for (size_t k = 0; schemes[k].s; k++) {
      size_t wl = schemes[k].len;
      if (i + wl >= t.len || strncasecmp (t.s + i, schemes[k].s, wl) != 0) {
         continue;
      }
      size_t n = cred_len (t, i + wl);
      if (!looks_like_credential (t.s + i + wl, n)) {
         return 0;
      }
      *keep = wl;
      return wl + n;
   }
   return 0;
}

/* "Authorization: <scheme> <credential>" or "Authorization: <credential>"
 * (a header quoted in a ticket, perhaps as JSON). Any scheme is kept in
 * clear; the credential is masked when it looks like one, or always after a
 * scheme known to carry one. */
static size_t
match_authorization (span_t t, size_t i, size_t *keep)
{
   static const char word[] = "authorization";
   static const char *const known[] = {"basic", "bearer", "token", "digest", "apikey",
                                       "negotiate", "ntlm", NULL};
   size_t j = i + sizeof word - 1;
   if ((t.s[i] | 32) != 'a' || j >= t.len || strncasecmp (t.s + i, word, sizeof word - 1) != 0) {
      return 0;
   }
   if (t.s[j] == '"' || t.s[j] == '\'') {
      j++;
   }
   while (j < t.len && t.s[j] == ' ') {
      j++;
   }
   if (j >= t.len || (t.s[j] != ':' && t.s[j] != '=')) {
      return 0;
   }
   j++;
   while (j < t.len && (t.s[j] == ' ' || t.s[j] == '"' || t.s[j] == '\'')) {
      j++;
   }
   size_t n1 = cred_len (t, j);
   if (n1 == 0) {
      return 0;
   }
   size_t j2 = j + n1;
   if (j2 + 1 < t.len && t.s[j2] == ' ' && (t.s[j2 + 1] == '[' || cred_len (t, j2 + 1) > 0)) {
      /* scheme, space, credential */
      size_t n2 = cred_len (t, j2 + 1);
      bool scheme_known = false;
      for (size_t k = 0; known[k]; k++) {
         scheme_known |= strlen (known[k]) == n1 && strncasecmp (t.s + j, known[k], n1) == 0;
      }
      if (n2 == 0 || !(scheme_known || looks_like_credential (t.s + j2 + 1, n2)) ||
          has_long_digit_run (t.s + j, n1)) {
         return 0;
      }
      *keep = j2 + 1 - i;
      return j2 + 1 + n2 - i;
   }
   if (!looks_like_credential (t.s + j, n1)) {
      return 0;
   }
   *keep = j - i;
   return j2 - i;
}

/* A JSON Web Token: "eyJ" and two or three base64url segments. */
static size_t
match_jwt (span_t t, size_t i)
{
   if (i + 3 >= t.len || strncmp (t.s + i, "eyJ", 3) != 0) {
      return 0;
   }
   size_t j = i, seg = 0;
   for (;;) {
      size_t s0 = j;
      while (j < t.len && (a_alnum (t.s[j]) || t.s[j] == '_' || t.s[j] == '-')) {
         j++;
      }
      if (j - s0 < (seg == 0 ? 10u : 2u)) {
         return seg >= 2 ? s0 - 1 - i : 0; /* drop a dot with nothing after it */
      }
      seg++;
      if (seg == 3 || j >= t.len || t.s[j] != '.') {
         return seg >= 2 ? j - i : 0;
      }
      j++;
   }
}

/* A PEM private key block, from "-----BEGIN ... PRIVATE KEY-----" to the
 * end of its END line (or of the text, when it has none). */
static size_t
match_private_key (span_t t, size_t i)
{
   static const char begin[] = "-----BEGIN ";
   static const char label[] = "PRIVATE KEY-----";
   size_t bl = sizeof begin - 1, ll = sizeof label - 1;
   if (i + bl > t.len || memcmp (t.s + i, begin, bl) != 0) {
      return 0;
   }
   size_t j = i + bl, lim = t.len - i - bl > 64 ? i + bl + 64 : t.len;
   while (j + ll <= lim && t.s[j] != '\n' && memcmp (t.s + j, label, ll) != 0) {
      j++;
   }
   if (j + ll > lim || t.s[j] == '\n') {
      return 0;
   }
   j += ll;
   const char *end = memmem (t.s + j, t.len - j, "-----END ", 9);
   if (!end) {
      return t.len - i;
   }
   j = (size_t) (end - t.s) + 9;
   size_t stop = t.len - j > 64 ? j + 64 : t.len;
   const char *close = memmem (t.s + j, stop - j, "-----", 5);
   return (close ? (size_t) (close - t.s) + 5 : j) - i;
}

/* A token that looks generated: some segment of it (between '-' and '_')
 * is 20 or more letters and digits with both kinds ("3f786850e387...",
 * "tk_<64 hex>"), which names and words ("raw_stripe_charges_2024") and
 * UUIDs never are. The whole token is consumed. */
static bool
random_segment (const char *s, size_t n)
{
   size_t seg = 0;
   bool alpha = false, digit = false;
   for (size_t k = 0; k <= n; k++) {
      if (k == n || s[k] == '_' || s[k] == '-') {
         if (seg >= 20 && alpha && digit) {
            return true;
         }
         seg = 0;
         alpha = digit = false;
      } else {
         seg++;
         alpha |= a_alpha (s[k]);
         digit |= a_digit (s[k]);
      }
   }
   return false;
}

static size_t
match_key_token (span_t t, size_t i, scan_t *sc, bool prefixed_only)
{
   size_t n = token_len (t, i, sc);
   if (n < 3 + 16) {
      return 0; /* shorter than the shortest prefix and its 16 characters */
   }
   if (prefixed_only) {
      for (size_t k = 0; key_prefixes[k].s; k++) {
         size_t pl = key_prefixes[k].len;
         if (t.s[i] == key_prefixes[k].s[0] && n >= pl + 16 &&
             strncmp (t.s + i, key_prefixes[k].s, pl) == 0) {
            return n;
         }
      }
      if (n >= 5 + 16 && strncmp (t.s + i, "xox", 3) == 0 && a_alpha (t.s[i + 3]) &&
          t.s[i + 4] == '-') {
         return n;
      }
      return 0;
   }
   /* A run with no random-looking segment has no suffix with one (a start
    * inside the run follows a '-', so its segments are the run's own). */
   if (n >= 20 && i >= sc->no_secret_before) {
      if (random_segment (t.s + i, n)) {
         return n;
      }
      sc->no_secret_before = i + n;
   }
   return 0;
}

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
static size_t
match_iban (span_t t, size_t i)
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
      if (n >= 15 && !is_word_at (t, j) && iban_ok (c, n)) {
         best = j - i;
      }
      if (n % 4 != 0 || j + 1 >= t.len || t.s[j] != ' ' || !a_alnum (t.s[j + 1])) {
         return best;
      }
      j++;
   }
}

/* ---- IP addresses --------------------------------------------------------- */

static size_t
match_ipv4 (span_t t, size_t i, const scan_t *sc)
{
   if (cp_before (t, i, sc) == '.') {
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
   if (digit_at (t, j, &w) >= 0 ||
       (j < t.len && t.s[j] == '.' && digit_at (t, j + 1, &w) >= 0)) {
      return 0;
   }
   return j - i;
}

static size_t
match_ipv6 (span_t t, size_t i, const scan_t *sc)
{
   if (cp_before (t, i, sc) == ':') {
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
   if (is_word_at (t, j)) {
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
static size_t
match_card (span_t t, size_t i)
{
   char digits[19];
   size_t nd = 0, j = i, best = 0, w;
   char sep = 0;
   for (;;) {
      int d;
      while ((d = digit_at (t, j, &w)) >= 0) {
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
      char s = card_sep_at (t, j, &sw);
      if (!s || (sep && s != sep) || digit_at (t, j + sw, &w) < 0) {
         return best;
      }
      sep = s;
      j += sw;
   }
}

/* Phone numbers start at a word start that does not continue an
 * identifier: "TICKET-20250913-0001" and "v1.123456789" hold none. */
static bool
phone_start_ok (span_t t, size_t i, const scan_t *sc)
{
   int32_t p = cp_before (t, i, sc);
   if (p == '-' || p == '_' || p == '.' || p == '/') {
      return !is_word_cp (cp_before (t, i - 1, sc));
   }
   return true;
}

/* Digits joined by single spaces, dashes, dots or one pair of parentheses,
 * perhaps after a '+': the longest such prefix of 9 to 15 digits (7 to 15
 * after a '+') that ends a group. Taking the longest prefix rather than
 * refusing a run that goes on past 15 digits keeps the outcome the same
 * when part of that run is masked by something else (see the top). */
static size_t
match_phone (span_t t, size_t i)
{
   size_t j = i, w;
   size_t min = 9;
   if (t.s[j] == '+') {
      min = 7;
      j++;
   } else if (cp_at (t, j, &w) == 0xFF0B) { /* full-width plus */
      min = 7;
      j += w;
   }
   size_t nd = 0, best = 0;
   int open = 0;
   while (j < t.len) {
      char c = t.s[j];
      size_t sw;
      if (digit_at (t, j, &w) >= 0) {
         if (++nd > 15) {
            return best;
         }
         j += w;
         if (nd >= min && digit_at (t, j, &w) < 0 && !is_word_at (t, j)) {
            best = j - i;
         }
      } else if (c == '(' && open == 0) {
         open = 1;
         j++;
      } else if (c == ')' && open == 1) {
         open = 2;
         j++;
      } else {
         char s = card_sep_at (t, j, &sw);
         if ((s == ' ' || s == '-' || s == '.') &&
             (digit_at (t, j + sw, &w) >= 0 || (j + sw < t.len && t.s[j + sw] == '('))) {
            j += sw;
         } else {
            break;
         }
      }
   }
   return best;
}

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
      if ((m = match_private_key (t, i))) {
         *ph = "[SECRET]";
         return m;
      }
   }
   if (start && c != '.' && c != '-') {
      if ((m = match_secret_kv (t, i, keep, sc)) || (m = match_authorization (t, i, keep)) ||
          (m = match_auth_scheme (t, i, keep))) {
         *ph = "[SECRET]";
         return m;
      }
      if ((m = match_email (t, i, sc))) {
         *ph = "[EMAIL]";
         return m;
      }
      if ((m = match_jwt (t, i)) || (m = match_key_token (t, i, sc, true))) {
         *ph = "[SECRET]";
         return m;
      }
      if ((m = match_iban (t, i))) {
         *ph = "[IBAN]";
         return m;
      }
      if ((m = match_key_token (t, i, sc, false))) {
         *ph = "[SECRET]";
         return m;
      }
      if ((m = match_ipv4 (t, i, sc)) || (m = match_ipv6 (t, i, sc))) {
         *ph = "[IP]";
         return m;
      }
   }
   if (run_start && (m = match_card (t, i))) {
      *ph = "[CARD]";
      return m;
   }
   if (start && (digit_at (t, i, &w) >= 0 || c == '+' || c == '(' || cp_at (t, i, &w) == 0xFF0B) &&
       phone_start_ok (t, i, sc) && (m = match_phone (t, i))) {
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
      int32_t prev = cp_before (t, i, &sc);
      bool start = !is_word_cp (prev);
      bool run_start = digit_at (t, i, &w) >= 0 && !is_digit_cp (prev);
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
         int32_t cp = cp_at (t, j, &w);
         j += w;
         if (is_word_cp (cp)) {
            bool digit = is_digit_cp (cp);
            while (j < len) {
               int32_t next = cp_at (t, j, &w);
               if (!is_word_cp (next) || (is_digit_cp (next) && !digit)) {
                  break;
               }
               digit = is_digit_cp (next);
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
