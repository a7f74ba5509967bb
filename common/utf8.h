/* utf8.h - strict UTF-8 validation for text that enters triage.
 *
 * Every string a ticket carries must be valid UTF-8 without NUL bytes: it is
 * stored in MongoDB (BSON strings must be UTF-8), printed into JSON and shown
 * in a browser. cJSON does not check its input, so the JSON parsers call
 * these first. "Strict" follows RFC 3629: no overlong forms, no UTF-16
 * surrogates (U+D800..U+DFFF), nothing above U+10FFFF, no truncated
 * sequences. NUL is reported on its own because it is valid UTF-8 but not a
 * valid character inside a C string field.
 */
#ifndef TK_UTF8_H
#define TK_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The outcome of tk_utf8_check. TK_UTF8_OK is 0. */
typedef enum {
   TK_UTF8_OK = 0,
   TK_UTF8_NUL,           /* a 0x00 byte */
   TK_UTF8_BAD_BYTE,      /* a byte that cannot start a sequence (0x80..0xC1, 0xF5..0xFF) */
   TK_UTF8_TRUNCATED,     /* a sequence cut short by the end or by a non-continuation byte */
   TK_UTF8_OVERLONG,      /* a code point encoded in more bytes than it needs */
   TK_UTF8_SURROGATE,     /* U+D800..U+DFFF */
   TK_UTF8_OUT_OF_RANGE,  /* above U+10FFFF */
} tk_utf8_status_t;

/* Checks the len bytes at s (NUL termination not needed; a NUL inside the
 * range is an error). On failure, *bad_offset (if not NULL) is the byte
 * offset of the sequence at fault. On success, *n_code_points (if not NULL)
 * is the number of code points. */
tk_utf8_status_t tk_utf8_check (const char *s, size_t len, size_t *bad_offset,
                                size_t *n_code_points);

/* True if the len bytes at s are strict UTF-8 with no NUL. On false,
 * *bad_offset (if not NULL) is the offset of the first bad sequence. */
bool tk_utf8_valid (const char *s, size_t len, size_t *bad_offset);

/* A static, lower-case phrase for a status, e.g. "overlong encoding", for
 * error messages. */
const char *tk_utf8_status_str (tk_utf8_status_t status);

/* The length of the longest prefix of the valid UTF-8 string s (len bytes)
 * that is at most max bytes and does not split a code point. Used to quote
 * a user's value in an error message without producing broken UTF-8. */
size_t tk_utf8_prefix_len (const char *s, size_t len, size_t max);

#endif
