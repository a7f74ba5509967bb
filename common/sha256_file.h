/* sha256_file.h - SHA-256 digests as hex, for pinning files (the encoder's
 * weights) and keying caches (corpus embeddings, the static table). */
#ifndef TK_SHA256_FILE_H
#define TK_SHA256_FILE_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define TK_SHA256_HEX 65 /* 64 hex digits and a NUL */

/* The SHA-256 of the file at path into hex. Returns false with err filled if
 * it cannot be read. */
bool tk_sha256_file (const char *path, char hex[TK_SHA256_HEX], tk_error_t *err);

/* The SHA-256 of data[0 .. len) into hex. */
void tk_sha256_hex (const void *data, size_t len, char hex[TK_SHA256_HEX]);

#endif
