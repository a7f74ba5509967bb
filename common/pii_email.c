/* pii_email.c - the e-mail address detector ("[EMAIL]"): a local part, "@",
 * and a domain with a dot, not a version tag like "pkg@latest".
 */
#include "pii_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- e-mail --------------------------------------------------------------- */

static bool
email_local_at (span_t t, size_t j, size_t *w)
{
   int32_t cp = tk_pii__cp_at (t, j, w);
   if (cp < 0) {
      return false;
   }
   if (cp < 0x80) {
      return a_alnum (cp) || cp == '.' || cp == '_' || cp == '%' || cp == '+' || cp == '-';
   }
   return tk_pii__is_intl_letter (cp);
}

static bool
domain_at (span_t t, size_t j, size_t *w)
{
   int32_t cp = tk_pii__cp_at (t, j, w);
   return cp >= 0 && (cp < 0x80 ? a_alnum (cp) || cp == '-' || cp == '.' : tk_pii__is_intl_letter (cp));
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
size_t
tk_pii__match_email (span_t t, size_t i, scan_t *sc)
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
      int32_t cp = tk_pii__cp_at (t, k, &w);
      chars++;
      letters += cp < 0x80 ? a_alpha (cp) : tk_pii__is_intl_letter (cp);
   }
   if (dotted) {
      bool idn = j - last > 4 && strncasecmp (t.s + last, "xn--", 4) == 0;
      if (!idn && (chars < 2 || letters != chars)) {
         return 0;
      }
   } else {
      int32_t first = tk_pii__cp_at (t, dom, &w);
      if (chars < 3 || !(first < 0x80 ? a_alpha (first) : tk_pii__is_intl_letter (first)) ||
          is_version_tag (t.s + dom, j - dom)) {
         return 0;
      }
   }
   return j - i;
}

