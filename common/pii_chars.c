/* pii_chars.c - the character level of PII masking: code points (UTF-8,
 * with -1 for broken sequences), word characters (ASCII and letters beyond
 * it), digits (ASCII and full-width), the code point before a position as
 * the scan sees it, card separators, and the placeholders already written.
 */
#include "pii_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- characters ----------------------------------------------------------- */
/* The code point at i and its width in *w; -1 (width 1) for a byte that
 * starts no valid sequence. */
int32_t
tk_pii__cp_at (span_t t, size_t i, size_t *w)
{
   const unsigned char *s = (const unsigned char *) t.s + i;
   size_t left = t.len - i;
   unsigned char c = s[0];
   int n;
   int32_t cp;
   *w = 1;
   if (c < 0x80) {
      return c;
   }
   if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
   } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
   } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
   } else {
      return -1;
   }
   if (left < (size_t) n + 1) {
      return -1;
   }
   for (int k = 1; k <= n; k++) {
      if ((s[k] & 0xC0) != 0x80) {
         return -1;
      }
      cp = cp << 6 | (s[k] & 0x3F);
   }
   if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
       (cp >= 0xD800 && cp <= 0xDFFF)) {
      return -1;
   }
   *w = (size_t) n + 1;
   return cp;
}

/* Whether a code point beyond ASCII is part of a word: letters and digits
 * of every script count, punctuation, spaces, symbols and emoji do not. A
 * range list rather than the locale's tables: a service runs in the C
 * locale, where iswalpha knows nothing beyond ASCII. */
bool
tk_pii__is_intl_letter (int32_t cp)
{
   static const struct {
      int32_t lo, hi;
   } not_letters[] = {
      {0x0080, 0x00BF}, /* Latin-1 controls, punctuation and symbols */
      {0x00D7, 0x00D7}, {0x00F7, 0x00F7},  /* × ÷ */
      {0x2000, 0x2BFF}, /* general punctuation .. arrows, maths, box drawing */
      {0x2E00, 0x2E7F}, /* supplemental punctuation */
      {0x3000, 0x303F}, /* CJK symbols and punctuation */
      {0xD800, 0xF8FF}, /* surrogates, private use */
      {0xFE00, 0xFE0F}, /* variation selectors */
      {0xFE30, 0xFE6F}, /* CJK compatibility and small forms */
      {0xFEFF, 0xFEFF}, /* byte order mark */
      {0xFF00, 0xFF0F}, /* full-width ! " # ... / */
      {0xFF1A, 0xFF20}, /* full-width : ; < = > ? @ */
      {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65}, /* full-width brackets and more */
      {0xFFF0, 0xFFFF}, /* specials */
      {0x1F000, 0x1FAFF}, /* emoji and pictographs */
      {0xE0000, 0x10FFFF}, /* tags, private use */
   };
   if (cp < 0x80) {
      return false;
   }
   for (size_t k = 0; k < sizeof not_letters / sizeof not_letters[0]; k++) {
      if (cp >= not_letters[k].lo && cp <= not_letters[k].hi) {
         return false;
      }
   }
   return true;
}

bool
tk_pii__is_word_cp (int32_t cp)
{
   return cp >= 0 && (cp < 0x80 ? a_alnum (cp) || cp == '_' : tk_pii__is_intl_letter (cp));
}

bool
tk_pii__is_word_at (span_t t, size_t i)
{
   size_t w;
   return i < t.len && tk_pii__is_word_cp (tk_pii__cp_at (t, i, &w));
}

bool
tk_pii__is_digit_cp (int32_t cp)
{
   return a_digit (cp) || (cp >= 0xFF10 && cp <= 0xFF19);
}

/* The digit at i (ASCII or full-width) and its width, else -1. */
int
tk_pii__digit_at (span_t t, size_t i, size_t *w)
{
   if (i >= t.len) {
      return -1;
   }
   int32_t cp = tk_pii__cp_at (t, i, w);
   if (a_digit (cp)) {
      return cp - '0';
   }
   if (cp >= 0xFF10 && cp <= 0xFF19) {
      return cp - 0xFF10;
   }
   return -1;
}

/* The code point that ends right before i, as the scan sees it: ']' right
 * after a replacement (the end of its placeholder), ' ' at the start, -1
 * for broken UTF-8. */
int32_t
tk_pii__cp_before (span_t t, size_t i, const scan_t *sc)
{
   if (i == sc->boundary) {
      return ']';
   }
   if (i == 0) {
      return ' ';
   }
   if ((unsigned char) t.s[i - 1] < 0x80) {
      return (unsigned char) t.s[i - 1];
   }
   for (size_t k = 2; k <= 4 && k <= i; k++) {
      unsigned char b = (unsigned char) t.s[i - k];
      if ((b & 0xC0) != 0x80) {
         size_t w;
         int32_t cp = tk_pii__cp_at (t, i - k, &w);
         return w == k ? cp : -1;
      }
   }
   return -1;
}

/* A separator between the digit groups of a card number, mapped to its
 * ASCII form so that a number is written with one kind only; 0 if none. */
char
tk_pii__card_sep_at (span_t t, size_t i, size_t *w)
{
   if (i >= t.len) {
      return 0;
   }
   int32_t cp = tk_pii__cp_at (t, i, w);
   switch (cp) {
   case ' ': case '-': case '.': case '/': case '_': return (char) cp;
   case 0x00A0: case 0x3000: return ' ';          /* no-break, ideographic space */
   case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0xFF0D: return '-';
   case 0xFF0E: return '.';
   case 0xFF0F: return '/';
   default: return 0;
   }
}

/* Whether the n bytes at s begin with one of the placeholders this file
 * writes: a value masked already is not masked again (a quoted value loses
 * its quotes, so "[SECRET]}" is what a second scan sees of {"pwd": "x"}). */
bool
tk_pii__starts_with_placeholder (const char *s, size_t n)
{
   static const char *const names[] = {"[SECRET]", "[EMAIL]", "[CARD]", "[IBAN]",
                                       "[PHONE]",  "[IP]",    NULL};
   for (size_t k = 0; names[k]; k++) {
      size_t l = strlen (names[k]);
      if (n >= l && memcmp (s, names[k], l) == 0) {
         return true;
      }
   }
   return false;
}

/* Whether the n bytes at s hold 13 or more ASCII digits in a row: text a
 * matcher would keep in clear (a key's name, an auth scheme) must not hide
 * a card number. */
bool
tk_pii__has_long_digit_run (const char *s, size_t n)
{
   size_t run = 0;
   for (size_t k = 0; k < n; k++) {
      run = a_digit (s[k]) ? run + 1 : 0;
      if (run >= 13) {
         return true;
      }
   }
   return false;
}

