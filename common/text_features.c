/* text_features.c - tokenising and hashing ticket text (see text_features.h). */
#include "text_features.h"

#include "hash.h"

#include <string.h>

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u
/* Distinguishes the subject feature space from the body one. */
#define SUBJECT_SALT 0x9e3779b9u

static inline bool
is_word_byte (unsigned char c)
{
   return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c >= 0x80;
}

bool
tk_text_next_word (const char *text, size_t len, size_t *pos, tk_word_t *word)
{
   size_t i = *pos;
   while (i < len && !is_word_byte ((unsigned char) text[i])) {
      i++;
   }
   if (i >= len) {
      *pos = len;
      return false;
   }
   size_t start = i;
   while (i < len && is_word_byte ((unsigned char) text[i])) {
      i++;
   }
   word->base = text + start;
   word->len = i - start;
   *pos = i;
   return true;
}

uint32_t
tk_text_hash_word (const char *s, size_t len)
{
   uint32_t h = FNV_OFFSET;
   for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char) s[i];
      if (c >= 'A' && c <= 'Z') {
         c = (unsigned char) (c + ('a' - 'A'));
      }
      h ^= c;
      h *= FNV_PRIME;
   }
   return h;
}

uint32_t
tk_text_hash_pair (uint32_t a, uint32_t b)
{
   /* Asymmetric, so (a, b) and (b, a) differ. */
   return tk_hash_mix32 (a * 31u + 0x7f4a7c15u) ^ b;
}

uint32_t
tk_text_bucket (uint32_t hash, bool subject)
{
   return tk_hash_mix32 (subject ? hash ^ SUBJECT_SALT : hash) & (TK_FEATURE_BUCKETS - 1);
}

/* Visits the unigrams and pairs of one text in one feature space. */
static size_t
visit_text (const char *text, bool subject, tk_feature_fn fn, void *ctx)
{
   if (!text) {
      return 0;
   }
   size_t len = strlen (text);
   size_t pos = 0;
   size_t n = 0;
   uint32_t prev = 0;
   bool have_prev = false;
   tk_word_t w;
   while (tk_text_next_word (text, len, &pos, &w)) {
      uint32_t h = tk_text_hash_word (w.base, w.len);
      fn (tk_text_bucket (h, subject), ctx);
      n++;
      if (have_prev) {
         fn (tk_text_bucket (tk_text_hash_pair (prev, h), subject), ctx);
         n++;
      }
      prev = h;
      have_prev = true;
   }
   return n;
}

size_t
tk_text_features_each (const char *subject, const char *body, tk_feature_fn fn, void *ctx)
{
   size_t n = visit_text (subject, true, fn, ctx);
   n += visit_text (subject, false, fn, ctx);
   n += visit_text (body, false, fn, ctx);
   return n;
}

typedef struct {
   uint32_t *out;
   size_t cap;
   size_t n;
} collect_t;

static void
collect (uint32_t bucket, void *ctx)
{
   collect_t *c = ctx;
   if (c->n < c->cap) {
      c->out[c->n] = bucket;
   }
   c->n++;
}

size_t
tk_text_features (const char *subject, const char *body, uint32_t *out, size_t cap)
{
   collect_t c = {out, cap, 0};
   tk_text_features_each (subject, body, collect, &c);
   return c.n;
}
