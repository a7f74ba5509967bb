/* blas.h - OpenBLAS's cblas_sgemm, loaded on first use.
 *
 * Debian's libopenblas0 picks its kernels at load time from the CPU model;
 * 0.3.21 does not know recent Xeons (family 6 model 207, for one) and falls
 * back to its Prescott (SSE3) kernels, four times slower than the AVX-512
 * ones the CPU runs (28 against 111 GFLOPS on one core). So the library is
 * not linked but opened with dlopen on first use, after OPENBLAS_CORETYPE is
 * set from the CPU's features when the environment does not set it already:
 * SkylakeX with AVX-512 (F, BW, DQ, VL), Haswell with AVX2 and FMA, else
 * OpenBLAS's own choice. A value already in the environment is left alone.
 * The BLAS runs one thread: callers bring their own (tk_blas_load sets it).
 *
 * tk_blas_load is safe to call from any thread, any number of times (once
 * does the work); it sets the variable with setenv, so call it first from
 * the main thread, before other threads read the environment
 * (tk_encoder_load does).
 */
#ifndef TK_BLAS_H
#define TK_BLAS_H

#include <stdbool.h>

#include "error.h"

/* Loads OpenBLAS. Returns false with err filled if it cannot be opened. */
bool tk_blas_load (tk_error_t *err);

/* OpenBLAS's name for the kernels in use ("SkylakeX", "Haswell", ...), or
 * "not loaded". Static. */
const char *tk_blas_core (void);

/* Row-major C[m][n] = alpha op(A) op(B) + beta C, op transposing when trans_a
 * or trans_b; A is [m][k] (or [k][m]), B is [k][n] (or [n][k]), lda, ldb and
 * ldc their row strides. tk_blas_load must have succeeded. */
void tk_sgemm (bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a,
               int lda, const float *b, int ldb, float beta, float *c, int ldc);

#endif
