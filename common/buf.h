/* buf.h - a small growable byte buffer.
 *
 * The bytes are always followed by a NUL (not counted in len) once anything
 * has been stored, so a buffer holding text can be handed to string
 * functions, while binary contents stay usable through data + len.
 */
#ifndef TK_BUF_H
#define TK_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct {
   char *data; /* NULL until the first append; owned by the buffer */
   size_t len; /* bytes stored, not counting the trailing NUL */
   size_t cap; /* bytes allocated */
} tk_buf_t;

/* An empty buffer; no allocation. */
#define TK_BUF_INIT {NULL, 0, 0}

/* Makes sure len + extra bytes (plus the NUL) fit. false on overflow or
 * out of memory; the buffer is unchanged then. */
bool tk_buf_reserve (tk_buf_t *b, size_t extra);

/* Appends len bytes (data may be NULL when len is 0). false on out of memory. */
bool tk_buf_append (tk_buf_t *b, const void *data, size_t len);

/* Appends a NUL-terminated string. */
bool tk_buf_append_str (tk_buf_t *b, const char *s);

/* Appends printf-style formatted text. */
bool tk_buf_appendf (tk_buf_t *b, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/* Drops the first n bytes (n <= len), keeping the rest. */
void tk_buf_consume (tk_buf_t *b, size_t n);

/* Empties the buffer, keeping its allocation. */
void tk_buf_reset (tk_buf_t *b);

/* Hands the storage to the caller (free() it; NULL if nothing was stored)
 * and leaves the buffer empty. *len receives the length if len is non-NULL. */
char *tk_buf_steal (tk_buf_t *b, size_t *len);

/* Frees the storage and leaves the buffer empty. Accepts NULL. */
void tk_buf_destroy (tk_buf_t *b);

#endif
