/* bert_text.c - the normaliser and pre-tokeniser of bert_text.h. */
#include "bert_text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

typedef struct {
   char *buf; /* the word being built */
   size_t len, cap, n_chars;
   tk_bert_word_fn fn;
   void *ctx;
   bool failed;
} words_t;

/* The Unicode White_Space property (what Rust's char::is_whitespace tests). */
static bool
is_space (int32_t c)
{
   return c == ' ' || (c >= 0x09 && c <= 0x0d) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
          (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
          c == 0x205f || c == 0x3000;
}

static bool
is_other (int32_t c)
{
   switch (utf8proc_category (c)) {
   case UTF8PROC_CATEGORY_CC:
   case UTF8PROC_CATEGORY_CF:
   case UTF8PROC_CATEGORY_CN:
   case UTF8PROC_CATEGORY_CO:
   case UTF8PROC_CATEGORY_CS:
      return true;
   default:
      return false;
   }
}

static bool
is_punct (int32_t c)
{
   if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
       (c >= 123 && c <= 126)) {
      return true;
   }
   if (c < 0x80) {
      return false;
   }
   switch (utf8proc_category (c)) {
   case UTF8PROC_CATEGORY_PC:
   case UTF8PROC_CATEGORY_PD:
   case UTF8PROC_CATEGORY_PE:
   case UTF8PROC_CATEGORY_PF:
   case UTF8PROC_CATEGORY_PI:
   case UTF8PROC_CATEGORY_PO:
   case UTF8PROC_CATEGORY_PS:
      return true;
   default:
      return false;
   }
}

/* The CJK blocks BERT puts spaces around (Korean and Japanese kana are not
 * among them). */
static bool
is_cjk (int32_t c)
{
   return (c >= 0x4e00 && c <= 0x9fff) || (c >= 0x3400 && c <= 0x4dbf) ||
          (c >= 0x20000 && c <= 0x2a6df) || (c >= 0x2a700 && c <= 0x2b73f) ||
          (c >= 0x2b740 && c <= 0x2b81f) || (c >= 0x2b820 && c <= 0x2ceaf) ||
          (c >= 0xf900 && c <= 0xfaff) || (c >= 0x2f800 && c <= 0x2fa1f);
}

static void
end_word (words_t *w)
{
   if (w->len && !w->failed) {
      w->failed = !w->fn (w->buf, w->len, w->n_chars, w->ctx);
   }
   w->len = w->n_chars = 0;
}

static void
add_char (words_t *w, int32_t c)
{
   if (w->len + 4 > w->cap) {
      size_t cap = w->cap ? w->cap * 2 : 64;
      char *grown = realloc (w->buf, cap);
      if (!grown) {
         w->failed = true;
         return;
      }
      w->buf = grown;
      w->cap = cap;
   }
   if (c < 0x80) {
      w->buf[w->len++] = (char) c;
   } else {
      w->len += (size_t) utf8proc_encode_char (c, (utf8proc_uint8_t *) w->buf + w->len);
   }
   w->n_chars++;
}

/* Steps 4 and 5 for one character of the cleaned, decomposed text. */
static void
split (words_t *w, int32_t c)
{
   if (is_space (c)) {
      end_word (w);
   } else if (is_punct (c)) {
      end_word (w);
      add_char (w, c);
      end_word (w);
   } else {
      add_char (w, c);
   }
}

/* Steps 3 to 5: decomposes, drops non-spacing marks, lower-cases, splits. */
static void
decompose (words_t *w, int32_t c)
{
   utf8proc_int32_t parts[32];
   int last_boundclass = 0;
   utf8proc_ssize_t n = utf8proc_decompose_char (c, parts, 32, UTF8PROC_DECOMPOSE, &last_boundclass);
   if (n < 0 || n > 32) {
      parts[0] = c;
      n = 1;
   }
   for (utf8proc_ssize_t i = 0; i < n; i++) {
      if (utf8proc_category (parts[i]) != UTF8PROC_CATEGORY_MN) {
         split (w, utf8proc_tolower (parts[i]));
      }
   }
}

/* Steps 1 to 5 for an ASCII character, nearly every byte of a ticket,
 * without the Unicode tables: no ASCII character decomposes, and the
 * controls but tab, LF and CR are category Cc, so dropped. */
static void
ascii_char (words_t *w, int32_t a)
{
   if (a == ' ' || a == '\t' || a == '\n' || a == '\r') {
      end_word (w);
   } else if (a >= 0x20 && a != 0x7f) {
      split (w, a >= 'A' && a <= 'Z' ? a + ('a' - 'A') : a);
   }
}

bool
tk_bert_words (const char *text, size_t len, tk_bert_word_fn fn, void *ctx)
{
   words_t w = {.fn = fn, .ctx = ctx};
   const utf8proc_uint8_t *p = (const utf8proc_uint8_t *) text;
   size_t i = 0;
   while (i < len && !w.failed) {
      if (p[i] < 0x80) {
         ascii_char (&w, p[i++]);
         continue;
      }
      utf8proc_int32_t c;
      utf8proc_ssize_t n = utf8proc_iterate (p + i, (utf8proc_ssize_t) (len - i), &c);
      if (n <= 0) {
         i++; /* not UTF-8: U+FFFD, which cleaning drops */
         continue;
      }
      i += (size_t) n;
      if (c == 0 || c == 0xfffd || (c != '\t' && c != '\n' && c != '\r' && is_other (c))) {
         continue;
      }
      if (is_space (c)) {
         end_word (&w);
      } else if (is_cjk (c)) {
         end_word (&w);
         decompose (&w, c);
         end_word (&w);
      } else {
         decompose (&w, c);
      }
   }
   end_word (&w);
   free (w.buf);
   return !w.failed;
}
