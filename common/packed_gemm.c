/* packed_gemm.c - the AVX-512 kernel of packed_gemm.h.
 *
 * A panel holds TK_PACKED_NR = 64 output features of W^T: for each of the k
 * inputs, the 64 weights of those features, four 16-float vectors. The
 * kernel computes a tile of MR = 6 rows by those 64 columns in 24 vector
 * accumulators: at each input it loads the four weight vectors and
 * multiplies them by each row's input, broadcast. The 6 x 64 tile keeps
 * 24 of the 32 vector registers as accumulators and needs 10 loads per 24
 * multiply-adds, so the arithmetic, not the loads, is the limit.
 *
 * The loops: panels outside, tiles of rows inside, so that a panel is read
 * from memory once and from the L2 cache by every other tile; x is read in
 * place, row by row. (Prefetching the next panel under the current one
 * bought nothing measurable: the hardware's prefetchers follow the panels.) */
#include "packed_gemm.h"


#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_AVX512_KERNEL 1
#endif

#define NR TK_PACKED_NR
#define MR 6

bool
tk_packed_supported (void)
{
#ifdef HAVE_AVX512_KERNEL
   __builtin_cpu_init ();
   return __builtin_cpu_supports ("avx512f");
#else
   return false;
#endif
}

size_t
tk_packed_floats (size_t n, size_t k)
{
   return n * k;
}

void
tk_packed_pack (const float *w, size_t n, size_t k, float *dst)
{
   for (size_t p = 0; p < n / NR; p++) {
      float *panel = dst + p * k * NR;
      for (size_t kk = 0; kk < k; kk++) {
         for (size_t j = 0; j < NR; j++) {
            panel[kk * NR + j] = w[(p * NR + j) * k + kk];
         }
      }
   }
}

#ifdef HAVE_AVX512_KERNEL
#define AVX512 __attribute__ ((target ("avx512f")))

/* y[mr][64] = x[mr][k] panel + bias[64], mr <= MR a constant once inlined
 * (the loops over rows and vectors unroll, the accumulators stay in
 * registers). */
AVX512 static inline __attribute__ ((always_inline)) void
tile (const float *x, size_t ldx, const float *panel, size_t k, const float *bias, float *y,
      size_t ldy, int mr)
{
   __m512 acc[MR][4];
#pragma GCC unroll 4
   for (int j = 0; j < 4; j++) {
      __m512 b = _mm512_loadu_ps (bias + 16 * j);
#pragma GCC unroll 6
      for (int i = 0; i < mr; i++) {
         acc[i][j] = b;
      }
   }
   for (size_t kk = 0; kk < k; kk++) {
      const float *w = panel + kk * NR;
      __m512 w0 = _mm512_load_ps (w), w1 = _mm512_load_ps (w + 16);
      __m512 w2 = _mm512_load_ps (w + 32), w3 = _mm512_load_ps (w + 48);
#pragma GCC unroll 6
      for (int i = 0; i < mr; i++) {
         __m512 xi = _mm512_set1_ps (x[(size_t) i * ldx + kk]);
         acc[i][0] = _mm512_fmadd_ps (xi, w0, acc[i][0]);
         acc[i][1] = _mm512_fmadd_ps (xi, w1, acc[i][1]);
         acc[i][2] = _mm512_fmadd_ps (xi, w2, acc[i][2]);
         acc[i][3] = _mm512_fmadd_ps (xi, w3, acc[i][3]);
      }
   }
#pragma GCC unroll 6
   for (int i = 0; i < mr; i++) {
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
         _mm512_storeu_ps (y + (size_t) i * ldy + 16 * j, acc[i][j]);
      }
   }
}

AVX512 static void
packed_linear_avx512 (const float *x, size_t rows, size_t ldx, const float *packed, size_t n,
                      size_t k, const float *bias, float *y, size_t ldy)
{
   for (size_t p = 0; p < n / NR; p++) {
      const float *panel = packed + p * k * NR, *b = bias + p * NR;
      for (size_t r = 0; r < rows; r += MR) {
         const float *xt = x + r * ldx;
         float *yt = y + r * ldy + p * NR;
         switch (rows - r < MR ? rows - r : MR) {
         case 6: tile (xt, ldx, panel, k, b, yt, ldy, 6); break;
         case 5: tile (xt, ldx, panel, k, b, yt, ldy, 5); break;
         case 4: tile (xt, ldx, panel, k, b, yt, ldy, 4); break;
         case 3: tile (xt, ldx, panel, k, b, yt, ldy, 3); break;
         case 2: tile (xt, ldx, panel, k, b, yt, ldy, 2); break;
         default: tile (xt, ldx, panel, k, b, yt, ldy, 1); break;
         }
      }
   }
}
#endif

void
tk_packed_linear (const float *x, size_t rows, size_t ldx, const float *packed, size_t n,
                  size_t k, const float *bias, float *y, size_t ldy)
{
#ifdef HAVE_AVX512_KERNEL
   packed_linear_avx512 (x, rows, ldx, packed, n, k, bias, y, ldy);
#else
   (void) x, (void) rows, (void) ldx, (void) packed, (void) n, (void) k, (void) bias, (void) y;
   (void) ldy;
#endif
}
