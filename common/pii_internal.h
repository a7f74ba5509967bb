/* pii_internal.h - what pii_mask.c (the scan) and its detectors share:
 * pii_chars.c (code points, word and digit boundaries), pii_email.c,
 * pii_secrets.c (keys, tokens, credentials, private keys) and pii_numbers.c
 * (IBANs, IP addresses, card and phone numbers). Not for services; they use
 * pii_mask.h.
 *
 * A matcher gets the text and a position i where a match may start, and
 * returns how many bytes from i it replaces, 0 for no match. Those with a
 * keep argument leave *keep bytes from i in clear (a key's name, an auth
 * scheme) and replace the rest of the match.
 */
#ifndef TK_PII_INTERNAL_H
#define TK_PII_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- ASCII classes ---------------------------------------------------- */

static inline bool
a_alpha (int32_t c)
{
   return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool
a_digit (int32_t c)
{
   return c >= '0' && c <= '9';
}

static inline bool
a_alnum (int32_t c)
{
   return a_alpha (c) || a_digit (c);
}

static inline bool
a_xdigit (int32_t c)
{
   return a_digit (c) || ((c | 32) >= 'a' && (c | 32) <= 'f');
}

static inline bool
is_token_byte (char c)
{
   return a_alnum (c) || c == '_' || c == '-';
}

/* ---- pii_chars.c ------------------------------------------------------ */

int32_t tk_pii__cp_at (span_t t, size_t i, size_t *w);
bool tk_pii__is_intl_letter (int32_t cp);
bool tk_pii__is_word_cp (int32_t cp);
bool tk_pii__is_word_at (span_t t, size_t i);
bool tk_pii__is_digit_cp (int32_t cp);
int tk_pii__digit_at (span_t t, size_t i, size_t *w);
int32_t tk_pii__cp_before (span_t t, size_t i, const scan_t *sc);
char tk_pii__card_sep_at (span_t t, size_t i, size_t *w);
bool tk_pii__starts_with_placeholder (const char *s, size_t n);
bool tk_pii__has_long_digit_run (const char *s, size_t n);

/* ---- pii_email.c ------------------------------------------------------ */

size_t tk_pii__match_email (span_t t, size_t i, scan_t *sc);

/* ---- pii_secrets.c ---------------------------------------------------- */

size_t tk_pii__match_secret_kv (span_t t, size_t i, size_t *keep, scan_t *sc);
size_t tk_pii__match_auth_scheme (span_t t, size_t i, size_t *keep);
size_t tk_pii__match_authorization (span_t t, size_t i, size_t *keep);
size_t tk_pii__match_jwt (span_t t, size_t i);
size_t tk_pii__match_private_key (span_t t, size_t i);
size_t tk_pii__match_key_token (span_t t, size_t i, scan_t *sc, bool prefixed_only);

/* ---- pii_numbers.c ---------------------------------------------------- */

size_t tk_pii__match_iban (span_t t, size_t i);
size_t tk_pii__match_ipv4 (span_t t, size_t i, const scan_t *sc);
size_t tk_pii__match_ipv6 (span_t t, size_t i, const scan_t *sc);
size_t tk_pii__match_card (span_t t, size_t i);
bool tk_pii__phone_start_ok (span_t t, size_t i, const scan_t *sc);
size_t tk_pii__match_phone (span_t t, size_t i);

#endif
