/* char_ngrams.c - hashed character n-grams of char_ngrams.h. */
#include "char_ngrams.h"

#include "bert_text.h"
#include "hash.h"
#include "model_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORD_MAX 64

/* Every n-gram's bucket, unsorted, with repeats. */
typedef struct {
   uint32_t *v;
   size_t n, cap;
   bool nomem;
} hashes_t;

static uint32_t
ngram_hash (const char *p, size_t n)
{
   return tk_hash_mix32 (tk_fnv1a32 ((const unsigned char *) p, n)) & (TK_NGRAM_BUCKETS - 1);
}

static bool
push (hashes_t *h, uint32_t bucket)
{
   if (h->n == h->cap) {
      size_t cap = h->cap ? h->cap * 2 : 1024;
      uint32_t *v = realloc (h->v, cap * sizeof *v);
      if (!v) {
         h->nomem = true;
         return false;
      }
      h->v = v;
      h->cap = cap;
   }
   h->v[h->n++] = bucket;
   return true;
}

static bool
on_word (const char *word, size_t len, size_t n_chars, void *ctx)
{
   (void) n_chars;
   hashes_t *h = ctx;
   char padded[WORD_MAX + 2];
   len = len > WORD_MAX ? WORD_MAX : len;
   padded[0] = ' ';
   memcpy (padded + 1, word, len);
   padded[len + 1] = ' ';
   size_t plen = len + 2;
   for (size_t n = TK_NGRAM_MIN; n <= TK_NGRAM_MAX; n++) {
      if (plen < n) {
         if (!push (h, ngram_hash (padded, plen))) {
            return false;
         }
         continue;
      }
      for (size_t i = 0; i + n <= plen; i++) {
         if (!push (h, ngram_hash (padded + i, n))) {
            return false;
         }
      }
   }
   return true;
}

_Static_assert (TK_NGRAM_BITS <= 18, "radix_sort sorts 18-bit values");

/* Sorts v[0 .. n) (values below 2^18) with two passes of a 9-bit radix
 * sort through tmp[n]: linear, where qsort was half the cost of a ticket. */
static void
radix_sort (uint32_t *v, uint32_t *tmp, size_t n)
{
   size_t count[512];
   for (int pass = 0; pass < 2; pass++) {
      int shift = 9 * pass;
      uint32_t *from = pass ? tmp : v, *to = pass ? v : tmp;
      memset (count, 0, sizeof count);
      for (size_t i = 0; i < n; i++) {
         count[(from[i] >> shift) & 511]++;
      }
      for (size_t d = 0, at = 0; d < 512; d++) {
         size_t c = count[d];
         count[d] = at;
         at += c;
      }
      for (size_t i = 0; i < n; i++) {
         to[count[(from[i] >> shift) & 511]++] = from[i];
      }
   }
}

static bool
reserve (tk_ngram_counts_t *out, size_t n)
{
   if (n <= out->cap) {
      return true;
   }
   uint32_t *b = realloc (out->bucket, n * sizeof *b);
   if (!b) {
      return false;
   }
   out->bucket = b;
   uint32_t *c = realloc (out->count, n * sizeof *c);
   if (!c) {
      return false;
   }
   out->count = c;
   out->cap = n;
   return true;
}

bool
tk_char_ngrams (const char *subject, const char *body, tk_ngram_counts_t *out)
{
   hashes_t h = {0};
   char *text = NULL;
   out->n = 0;
   if (asprintf (&text, "%s\n%s", subject ? subject : "", body ? body : "") < 0) {
      return false;
   }
   bool ok = tk_bert_words (text, strlen (text), on_word, &h) && !h.nomem;
   free (text);
   ok = ok && reserve (out, h.n + 1);
   if (ok) {
      radix_sort (h.v, out->bucket, h.n); /* out->bucket as scratch, filled below */
      for (size_t i = 0; i < h.n; i++) {
         if (out->n && out->bucket[out->n - 1] == h.v[i]) {
            out->count[out->n - 1]++;
         } else {
            out->bucket[out->n] = h.v[i];
            out->count[out->n++] = 1;
         }
      }
   }
   free (h.v);
   return ok;
}

void
tk_ngram_counts_free (tk_ngram_counts_t *out)
{
   free (out->bucket);
   free (out->count);
   memset (out, 0, sizeof *out);
}
