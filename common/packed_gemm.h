/* packed_gemm.h - linear layers, y = x W^T + b, with W packed once.
 *
 * OpenBLAS packs both operands of every product into its own layout. For
 * the sentence encoder (encoder.h) a ticket is a matrix of ~100-250 rows
 * against weight matrices of 384 x 384 to 1,536 x 384: packing the weights
 * anew for every product was 15-19 % of a ticket's time, and the 42 MB of
 * layer weights come from memory for each ticket. Here a weight matrix is
 * packed once, when the model loads, into panels of TK_PACKED_NR output
 * features, each [k][TK_PACKED_NR] (the order the kernel reads it in), and
 * the product reads x where it lies: nothing is packed per call.
 *
 * The kernel needs AVX-512F, which tk_packed_supported reports; without it
 * the caller keeps the unpacked weights and uses tk_sgemm. Its results
 * differ from OpenBLAS's only by float rounding (each sum runs over k in
 * order, with fused multiply-adds, starting from the bias).
 *
 * Threads: the packed weights are read only, so any number of threads may
 * run products with them at once.
 */
#ifndef TK_PACKED_GEMM_H
#define TK_PACKED_GEMM_H

#include <stdbool.h>
#include <stddef.h>

/* Output features per panel: n must be a multiple of it. */
#define TK_PACKED_NR 64
/* The alignment tk_packed_pack's dst needs, in bytes. */
#define TK_PACKED_ALIGN 64

/* Whether this CPU runs the kernel (AVX-512F). */
bool tk_packed_supported (void);

/* The floats a packed n x k matrix takes (n a multiple of TK_PACKED_NR). */
size_t tk_packed_floats (size_t n, size_t k);

/* Packs w, PyTorch's [n][k] weight of a linear layer (n a multiple of
 * TK_PACKED_NR), into dst[tk_packed_floats (n, k)], TK_PACKED_ALIGN-aligned.
 * Matrices packed one after the other with the same k make the packing of
 * their concatenation along n (query, key and value into one product). */
void tk_packed_pack (const float *w, size_t n, size_t k, float *dst);

/* y[rows][n] (row stride ldy) = x[rows][k] (row stride ldx) W^T + bias[n],
 * W packed by tk_packed_pack. Needs tk_packed_supported (does nothing
 * otherwise). */
void tk_packed_linear (const float *x, size_t rows, size_t ldx, const float *packed, size_t n,
                       size_t k, const float *bias, float *y, size_t ldy);

#endif
