/* pii_mask.h - replaces personal data and secrets in text by typed
 * placeholders before the text leaves the process (to a remote LLM).
 *
 * What is masked, and by what:
 *   e-mail addresses                                   [EMAIL]
 *   card numbers: 13-19 digits, spaces or dashes
 *     between groups, passing the Luhn check           [CARD]
 *   IPv4 addresses (four octets 0-255) and IPv6 ones
 *     (eight groups, or a "::" form)                   [IP]
 *   phone numbers: 9-15 digits with spaces, dots,
 *     dashes, parentheses, or 7+ after a leading "+"   [PHONE]
 *   secrets: "Bearer <token>", values of key=value /
 *     key: value pairs whose key names a secret
 *     (password, passwd, pwd, secret, token, api_key,
 *     apikey, api-key, access_key, client_secret,
 *     private_key), well-known key prefixes (sk-, pk_,
 *     ghp_, gho_, xoxb-, xoxp-, AKIA, AIza) and long
 *     mixed letter-and-digit tokens (32+ characters)   [SECRET]
 *
 * The rules err on the side of masking: a nine-digit order number is masked
 * as a phone number, which costs the classifier little, while a leaked card
 * number costs a lot. Text is treated as bytes; multi-byte UTF-8 sequences
 * are copied through unchanged (all patterns are ASCII).
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
