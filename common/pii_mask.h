/* pii_mask.h - replaces personal data and secrets in text by typed
 * placeholders before the text is stored (TRIAGE_STORE_MASKED) or leaves
 * the process (to a remote LLM).
 *
 * What is masked, and by what:
 *   e-mail addresses, letters of any script allowed,
 *     the domain dotted ("jörg@exämple.de") or a single
 *     host name of 3+ characters ("root@localhost");
 *     not "pkg@1.2.3", "react@latest", "img@sha256"      [EMAIL]
 *   card numbers: 13-19 digits passing the Luhn check,
 *     whole or in groups joined by one kind of space,
 *     dash, dot, slash or underscore, even when letters
 *     touch them ("CC4111...", "card_4111_1111_...",
 *     "4111...1111x"); ASCII or full-width digits        [CARD]
 *   IBANs: country, check digits and 11-30 characters,
 *     whole or in groups of four, the mod-97 check
 *     passing                                            [IBAN]
 *   IPv4 addresses (four octets 0-255) and IPv6 ones
 *     (eight groups, or a "::" form)                     [IP]
 *   phone numbers: 9-15 digits (7-15 after a "+") joined
 *     by spaces, dots, dashes or parentheses, not part
 *     of an identifier ("TICKET-20250913-0001")          [PHONE]
 *   secrets: the values of key=value / key: value pairs
 *     whose key names a secret (password, passwd, pwd,
 *     passphrase, secret, token, api_key, apikey,
 *     api-key, access_key, secret_key, client_secret,
 *     private_key; the key may be quoted, as in JSON),
 *     "Authorization: <scheme> <credential>", "Bearer
 *     <credential>", "Basic <credential>", JSON Web
 *     Tokens, PEM private key blocks, tokens with a
 *     well-known prefix (sk-, sk_live_, ghp_, gho_, ghu_,
 *     ghs_, ghr_, github_pat_, glpat-, xox?-, AKIA, ASIA,
 *     AIza, npm_, hf_ ...) and tokens with a segment of
 *     20+ letters and digits mixed (hex digests, keys)   [SECRET]
 *
 * The rules err on the side of masking: a nine-digit order number is masked
 * as a phone number, which costs the classifier little, while a leaked card
 * number costs a lot. Ticket ids, dates, times, version numbers and table
 * names are left alone. Text is UTF-8: valid UTF-8 in gives valid UTF-8 out,
 * and masking the result again changes nothing.
 */
#ifndef TK_PII_MASK_H
#define TK_PII_MASK_H

#include <stdbool.h>
#include <stddef.h>

/* Returns a new NUL-terminated masked copy of the len bytes at text, which
 * the caller frees with free(); NULL only when out of memory. If n_masked is
 * not NULL it receives the number of replacements made. */
char *tk_pii_mask (const char *text, size_t len, size_t *n_masked);

/* Masks the NUL-terminated malloc'd string *text in place of itself: on
 * success *text is replaced by its masked copy (the old string is freed) and
 * n_masked, if not NULL, is increased by the replacements made. A NULL *text
 * is left alone. Returns false only when out of memory, with *text unchanged. */
bool tk_pii_mask_replace (char **text, size_t *n_masked);

#endif
