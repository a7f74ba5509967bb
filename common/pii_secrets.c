/* pii_secrets.c - the secret detectors ("[SECRET]"): key=value pairs with a
 * secret's name, Authorization headers and auth schemes, JWTs, PEM private
 * keys, and API tokens (well-known prefixes, or random-looking runs).
 */
#include "pii_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
size_t
tk_pii__match_secret_kv (span_t t, size_t i, size_t *keep, scan_t *sc)
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
      if (tk_pii__has_long_digit_run (t.s + i, wl)) {
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
      if (vend == v || tk_pii__starts_with_placeholder (t.s + v, vend - v)) {
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
size_t
tk_pii__match_auth_scheme (span_t t, size_t i, size_t *keep)
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
size_t
tk_pii__match_authorization (span_t t, size_t i, size_t *keep)
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
          tk_pii__has_long_digit_run (t.s + j, n1)) {
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
size_t
tk_pii__match_jwt (span_t t, size_t i)
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
size_t
tk_pii__match_private_key (span_t t, size_t i)
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

size_t
tk_pii__match_key_token (span_t t, size_t i, scan_t *sc, bool prefixed_only)
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

