/* Unit tests for common/text_features.c: words, pairs, feature spaces, and
 * hash values pinned so a trained model keeps meaning the same thing. */
#include "test_support.h"

#include "text_features.h"

#include <string.h>

/* Splits text into words, joined with '|' into out. Returns the word count. */
static size_t
words_of (const char *text, char *out, size_t cap)
{
   size_t pos = 0, n = 0, len = strlen (text);
   tk_word_t w;
   out[0] = '\0';
   while (tk_text_next_word (text, len, &pos, &w)) {
      if (n++) {
         strncat (out, "|", cap - strlen (out) - 1);
      }
      strncat (out, w.base, w.len < cap - strlen (out) - 1 ? w.len : cap - strlen (out) - 1);
   }
   return n;
}

static void
test_words_split_on_punctuation (void **state)
{
   (void) state;
   char buf[256];
   assert_int_equal (words_of ("Hello, WORLD! foo_bar 42x (v4.13.1)", buf, sizeof buf), 8);
   assert_string_equal (buf, "Hello|WORLD|foo|bar|42x|v4|13|1");
   assert_int_equal (words_of ("  'ERROR 390144 (08004)': JWT\ttoken\n", buf, sizeof buf), 5);
   assert_string_equal (buf, "ERROR|390144|08004|JWT|token");
}

static void
test_words_keep_utf8 (void **state)
{
   (void) state;
   char buf[256];
   assert_int_equal (words_of ("Jürgen's café — naïve 数据目录!", buf, sizeof buf), 6);
   /* The em dash is non-ASCII, so it forms a word of its own. */
   assert_string_equal (buf, "Jürgen|s|café|—|naïve|数据目录");
}

static void
test_empty_text (void **state)
{
   (void) state;
   char buf[16];
   uint32_t f[8];
   assert_int_equal (words_of ("", buf, sizeof buf), 0);
   assert_int_equal (words_of (" ,.;!? \n\t", buf, sizeof buf), 0);
   assert_int_equal (tk_text_features ("", "", f, 8), 0);
   assert_int_equal (tk_text_features (NULL, NULL, f, 8), 0);
   assert_int_equal (tk_text_features (NULL, "...", f, 8), 0);
}

static void
test_hash_ignores_ascii_case (void **state)
{
   (void) state;
   assert_int_equal (tk_text_hash_word ("SnowFlake", 9), tk_text_hash_word ("snowflake", 9));
   assert_int_not_equal (tk_text_hash_word ("snowflake", 9), tk_text_hash_word ("snowflak", 8));
   /* Non-ASCII bytes are hashed as they are. */
   assert_int_not_equal (tk_text_hash_word ("café", 5), tk_text_hash_word ("cafe", 4));
}

static void
test_unigrams_and_pairs (void **state)
{
   (void) state;
   uint32_t f[16];
   uint32_t a = tk_text_hash_word ("a", 1), b = tk_text_hash_word ("b", 1),
            c = tk_text_hash_word ("c", 1);
   assert_int_equal (tk_text_features (NULL, "A b, C", f, 16), 5);
   assert_int_equal (f[0], tk_text_bucket (a, false));
   assert_int_equal (f[1], tk_text_bucket (b, false));
   assert_int_equal (f[2], tk_text_bucket (tk_text_hash_pair (a, b), false));
   assert_int_equal (f[3], tk_text_bucket (c, false));
   assert_int_equal (f[4], tk_text_bucket (tk_text_hash_pair (b, c), false));
   /* Pairs are ordered. */
   assert_int_not_equal (tk_text_hash_pair (a, b), tk_text_hash_pair (b, a));
   for (int i = 0; i < 5; i++) {
      assert_true (f[i] < TK_FEATURE_BUCKETS);
   }
}

static void
test_subject_space_is_distinct (void **state)
{
   (void) state;
   uint32_t s[8], b[8];
   /* A subject word counts once in the subject space and once as a body word. */
   assert_int_equal (tk_text_features ("Okta", NULL, s, 8), 2);
   assert_int_equal (tk_text_features (NULL, "Okta", b, 8), 1);
   assert_int_not_equal (s[0], s[1]);
   assert_int_equal (s[1], b[0]);
   /* No pair spans subject and body. */
   assert_int_equal (tk_text_features ("x", "y", s, 8), 3);
}

static void
test_count_beyond_capacity (void **state)
{
   (void) state;
   uint32_t f[2] = {0, 0};
   assert_int_equal (tk_text_features (NULL, "one two three", f, 2), 5);
   assert_int_equal (f[0], tk_text_bucket (tk_text_hash_word ("one", 3), false));
}

/* These values are part of the model file format: if this test fails, every
 * trained model means something else now. */
static void
test_hashes_are_pinned (void **state)
{
   (void) state;
   assert_int_equal (tk_text_hash_word ("", 0), 0x811c9dc5u); /* FNV-1a test vectors */
   assert_int_equal (tk_text_hash_word ("a", 1), 0xe40c292cu);
   assert_int_equal (tk_text_hash_word ("foobar", 6), 0xbf9cf968u);
   static const uint32_t expected[] = {232627, 181702, 43229,  189790, 234457,
                                       186828, 248301, 208822, 162152};
   uint32_t f[16];
   assert_int_equal (tk_text_features ("Okta SSO", "Snowflake connector", f, 16), 9);
   for (size_t i = 0; i < 9; i++) {
      assert_int_equal (f[i], expected[i]);
   }
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_words_split_on_punctuation),
      cmocka_unit_test (test_words_keep_utf8),
      cmocka_unit_test (test_empty_text),
      cmocka_unit_test (test_hash_ignores_ascii_case),
      cmocka_unit_test (test_unigrams_and_pairs),
      cmocka_unit_test (test_subject_space_is_distinct),
      cmocka_unit_test (test_count_beyond_capacity),
      cmocka_unit_test (test_hashes_are_pinned),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
