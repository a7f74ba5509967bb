/* fuzz_common.h - small helpers shared by the libFuzzer targets.
 *
 * Every target defines LLVMFuzzerTestOneInput and aborts (via fuzz_check)
 * when one of its invariants breaks, so libFuzzer records the input as a
 * crash just as it does for a sanitizer report.
 */
#ifndef TK_FUZZ_COMMON_H
#define TK_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define fuzz_check(cond)                                                              \
   do {                                                                               \
      if (!(cond)) {                                                                  \
         fprintf (stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
         abort ();                                                                    \
      }                                                                               \
   } while (0)

/* A NUL-terminated heap copy of the input (caller frees); the library
 * functions under test take (ptr, len) but some helpers want a C string. */
static inline char *
fuzz_strndup (const uint8_t *data, size_t size)
{
   char *s = malloc (size + 1);
   if (!s) {
      abort ();
   }
   if (size) {
      memcpy (s, data, size);
   }
   s[size] = '\0';
   return s;
}

#endif
