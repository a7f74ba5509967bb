/* model_io.h - the byte-level pieces of the model file (model.h): a growable
 * write buffer, a bounds-checked reader, little-endian integers, IEEE-754
 * binary32 floats and binary16 halves, length-prefixed strings, and the
 * whole-file read and atomic write. Internal to the model's files. */
#ifndef TK_MODEL_IO_H
#define TK_MODEL_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct {
   unsigned char *data;
   size_t len, cap;
   bool nomem;
} tk_wbuf_t;

typedef struct {
   const unsigned char *p;
   size_t left;
} tk_rbuf_t;

void tk_put (tk_wbuf_t *b, const void *p, size_t n);
void tk_put_u32 (tk_wbuf_t *b, uint32_t v);
void tk_put_f32 (tk_wbuf_t *b, float f);
void tk_put_str (tk_wbuf_t *b, const char *s);

bool tk_get_u32 (tk_rbuf_t *r, uint32_t *v);
/* Fails on a non-finite value. */
bool tk_get_f32 (tk_rbuf_t *r, float *f);
/* A string of 1 .. max bytes without NUL, into a new allocation. */
bool tk_get_str (tk_rbuf_t *r, size_t max, char **out);
/* Borrows n bytes: *p points into the buffer. */
bool tk_get_bytes (tk_rbuf_t *r, size_t n, const unsigned char **p);

/* IEEE-754 binary16 conversions (round to nearest even; overflow to inf). */
uint16_t tk_f32_to_f16 (float f);
float tk_f16_to_f32 (uint16_t h);

uint32_t tk_fnv1a32 (const unsigned char *p, size_t n);

/* Reads a whole file into a new allocation (free it), with a NUL after
 * its last byte so text can be read as a string; *len its size. NULL with
 * err when it cannot be opened or read, or memory runs out. */
unsigned char *tk_read_whole_file (const char *path, size_t *len, tk_error_t *err);

/* Writes data[0 .. len) to path through a temporary file renamed into place. */
bool tk_write_file_atomic (const char *path, const void *data, size_t len, tk_error_t *err);

#endif
