/* safetensors.h - reading tensors from a .safetensors file.
 *
 * The format: a little-endian u64 N, N bytes of JSON naming every tensor
 * ({"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}},
 * plus an optional "__metadata__" object), then the raw tensor bytes, each at
 * [8 + N + begin, 8 + N + end). The header is parsed with cJSON; the file is
 * mapped read-only, so the tensors are never copied (one mapping serves every
 * thread, and untouched pages cost no memory) unless a tensor's offset is not
 * 4-byte aligned, in which case it is copied once at open.
 *
 * Only F32 tensors are read as data (what all-MiniLM-L6-v2 ships), and only on
 * a little-endian host. A file is immutable once open: any number of threads
 * may call tk_safetensors_f32 at once.
 */
#ifndef TK_SAFETENSORS_H
#define TK_SAFETENSORS_H

#include <stddef.h>

#include "error.h"

typedef struct tk_safetensors tk_safetensors_t;

/* Maps path and parses its header. Returns a new handle (free with
 * tk_safetensors_close) or NULL with err filled: TK_ERR_IO if the file cannot
 * be read, TK_ERR_INVALID if it is not a well-formed safetensors file (a
 * header past the end, offsets outside the data, overlapping sizes). */
tk_safetensors_t *tk_safetensors_open (const char *path, tk_error_t *err);

/* Unmaps the file. Accepts NULL. Every pointer it returned becomes invalid. */
void tk_safetensors_close (tk_safetensors_t *st);

/* The F32 tensor called name, which must have exactly the n_dims dimensions
 * in shape (row-major). Returns its data (borrowed, valid until
 * tk_safetensors_close) or NULL with err filled (TK_ERR_NOT_FOUND if absent,
 * TK_ERR_INVALID for another dtype or shape). */
const float *tk_safetensors_f32 (const tk_safetensors_t *st, const char *name,
                                 const size_t *shape, size_t n_dims, tk_error_t *err);

/* Tells the system that data[0 .. n_floats), a tensor tk_safetensors_f32
 * returned, will not be read for a while (its caller keeps a copy of its
 * own): the mapping's whole pages inside it leave the process's resident
 * set. They stay in the page cache, and reading the tensor again maps them
 * back, unchanged. Does nothing for a tensor copied at open. */
void tk_safetensors_release (const tk_safetensors_t *st, const float *data, size_t n_floats);

/* How many tensors the file holds. */
size_t tk_safetensors_count (const tk_safetensors_t *st);

#endif
