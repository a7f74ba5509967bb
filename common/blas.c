/* blas.c - OpenBLAS opened with dlopen after its kernel choice (blas.h). */
#include "blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* CBLAS's enum values, as every CBLAS defines them. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn) (int order, int ta, int tb, int m, int n, int k, float alpha,
                          const float *a, int lda, const float *b, int ldb, float beta, float *c,
                          int ldc);

static pthread_once_t once = PTHREAD_ONCE_INIT;
static sgemm_fn sgemm;
static char *(*corename) (void);
static char load_error[200];

static void
choose_core (void)
{
   const char *set = getenv ("OPENBLAS_CORETYPE");
   if (set && *set) {
      return;
   }
   __builtin_cpu_init ();
   if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw") &&
       __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl")) {
      setenv ("OPENBLAS_CORETYPE", "SkylakeX", 0);
   } else if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma")) {
      setenv ("OPENBLAS_CORETYPE", "Haswell", 0);
   }
}

static void
load_once (void)
{
   choose_core ();
   void *lib = dlopen ("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
   if (!lib) {
      const char *why = dlerror ();
      snprintf (load_error, sizeof load_error, "cannot open OpenBLAS (libopenblas.so.0): %s",
                why ? why : "unknown error");
      return;
   }
   void (*threads) (int) = (void (*) (int)) dlsym (lib, "openblas_set_num_threads");
   corename = (char *(*) (void)) dlsym (lib, "openblas_get_corename");
   sgemm = (sgemm_fn) dlsym (lib, "cblas_sgemm");
   if (!sgemm || !threads) {
      snprintf (load_error, sizeof load_error, "libopenblas.so.0 lacks cblas_sgemm");
      sgemm = NULL;
      return;
   }
   threads (1);
}

bool
tk_blas_load (tk_error_t *err)
{
   pthread_once (&once, load_once);
   if (!sgemm) {
      tk_error_set (err, TK_ERR_IO, 0, "%s", load_error);
      return false;
   }
   return true;
}

const char *
tk_blas_core (void)
{
   return sgemm && corename ? corename () : "not loaded";
}

void
tk_sgemm (bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float *a, int lda,
          const float *b, int ldb, float beta, float *c, int ldc)
{
   sgemm (ROW_MAJOR, trans_a ? TRANS : NO_TRANS, trans_b ? TRANS : NO_TRANS, m, n, k, alpha, a,
          lda, b, ldb, beta, c, ldc);
}
