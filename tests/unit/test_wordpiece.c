/* Unit tests for common/wordpiece.c and common/bert_text.c: the ids of the
 * tricky strings of tests/data/encoder/tokenizer_cases.json must be exactly
 * those PyPI `tokenizers` gives with the same tokenizer.json (run in the venv
 * that bootstrap installs under the cache), plus what JSON cannot carry
 * (bytes that are not UTF-8) and a hand-made vocabulary. */
#include "test_support.h"

#include "wordpiece.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA TRIAGE_SOURCE_DIR "/tests/data/encoder"
#define TOKENIZER TRIAGE_ENCODER_DIR "/tokenizer.json"

static tk_wordpiece_t *
load (void)
{
   tk_error_t err = {0};
   tk_wordpiece_t *wp = tk_wordpiece_load (TOKENIZER, &err);
   if (!wp) {
      fail_msg ("%s (run deploy/local/bootstrap)", err.message);
   }
   return wp;
}

/* The reference ids, from the tokenizers venv. */
static cJSON *
reference_ids (void)
{
   char cmd[4096];
   snprintf (cmd, sizeof cmd, "'%s/venv-tokenizers/bin/python' '%s/tokenize_ids.py' '%s' '%s/tokenizer_cases.json'",
             TRIAGE_CACHE_DIR, DATA, TOKENIZER, DATA);
   FILE *p = popen (cmd, "r");
   assert_non_null (p);
   size_t cap = 1 << 20, n = 0;
   char *out = malloc (cap);
   assert_non_null (out);
   while (n < cap - 1 && (n += fread (out + n, 1, cap - 1 - n, p)) > 0 && !feof (p)) {
   }
   out[n] = '\0';
   if (pclose (p) != 0) {
      fail_msg ("%s failed: is the tokenizers venv installed (deploy/local/bootstrap)?", cmd);
   }
   cJSON *ids = cJSON_Parse (out);
   free (out);
   assert_true (cJSON_IsArray (ids));
   return ids;
}

static void
test_ids_match_pypi_tokenizers (void **state)
{
   (void) state;
   tk_wordpiece_t *wp = load ();
   size_t len;
   char *text = tk_test_read_file (DATA "/tokenizer_cases.json", &len);
   cJSON *cases = cJSON_Parse (text), *ref = reference_ids ();
   assert_int_equal (cJSON_GetArraySize (cases), cJSON_GetArraySize (ref));
   assert_true (cJSON_GetArraySize (cases) >= 40);
   for (int i = 0; i < cJSON_GetArraySize (cases); i++) {
      const char *s = cJSON_GetArrayItem (cases, i)->valuestring;
      const cJSON *want = cJSON_GetArrayItem (ref, i);
      tk_token_ids_t got = {0};
      assert_true (tk_wordpiece_encode (wp, s, strlen (s), &got));
      bool same = got.n == (size_t) cJSON_GetArraySize (want);
      for (size_t k = 0; same && k < got.n; k++) {
         same = got.ids[k] == cJSON_GetArrayItem (want, (int) k)->valueint;
      }
      if (!same) {
         char *w = cJSON_PrintUnformatted (want);
         print_error ("case %d \"%s\": tokenizers %s, ours (%zu):", i, s, w, got.n);
         for (size_t k = 0; k < got.n; k++) {
            print_error (" %d", got.ids[k]);
         }
         free (w);
         fail ();
      }
      free (got.ids);
   }
   cJSON_Delete (cases);
   cJSON_Delete (ref);
   free (text);
   tk_wordpiece_destroy (wp);
}

static void
test_bytes_that_are_not_utf8_are_dropped (void **state)
{
   (void) state;
   tk_wordpiece_t *wp = load ();
   tk_token_ids_t a = {0}, b = {0};
   assert_true (tk_wordpiece_encode (wp, "caf\xc3 \xff\xfe" "ok", 10, &a));
   assert_true (tk_wordpiece_encode (wp, "caf ok", 6, &b));
   assert_int_equal (a.n, b.n);
   assert_memory_equal (a.ids, b.ids, a.n * sizeof *a.ids);
   free (a.ids);
   free (b.ids);
   tk_wordpiece_destroy (wp);
}

static void
test_small_vocabulary (void **state)
{
   (void) state;
   static const char *const vocab[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff",
                                       "##able", "runn", "##ing", ",", "aff"};
   tk_error_t err = {0};
   tk_wordpiece_t *wp = tk_wordpiece_new (vocab, sizeof vocab / sizeof *vocab, &err);
   assert_non_null (wp);
   tk_token_ids_t ids = {0};
   assert_true (tk_wordpiece_encode (wp, "Unaffable, RUNNING xyz", 22, &ids));
   int32_t want[] = {4, 5, 6, 9, 7, 8, 1};
   assert_int_equal (ids.n, 7);
   assert_memory_equal (ids.ids, want, sizeof want);
   assert_int_equal (tk_wordpiece_lookup (wp, "##aff", 5), 5);
   assert_int_equal (tk_wordpiece_lookup (wp, "nope", 4), -1);
   free (ids.ids);
   tk_wordpiece_destroy (wp);
   static const char *const dup[] = {"[UNK]", "[CLS]", "[SEP]", "a", "a"};
   assert_null (tk_wordpiece_new (dup, 5, &err));
   static const char *const no_unk[] = {"[CLS]", "[SEP]", "a"};
   assert_null (tk_wordpiece_new (no_unk, 3, &err));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_ids_match_pypi_tokenizers),
      cmocka_unit_test (test_bytes_that_are_not_utf8_are_dropped),
      cmocka_unit_test (test_small_vocabulary),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
