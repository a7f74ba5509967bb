/* Unit tests for the lexical model: common/char_ngrams.c (which n-grams a
 * word gives, normalisation, counts), common/sparse_lr.c (both losses learn
 * separable problems, only the chosen rows count) and common/lexical.c
 * (typos of a trained word still decide, cross-fitted logits come from
 * models that did not see the ticket, a save and load changes nothing, a
 * damaged section is refused). */
#include "test_support.h"

#include "char_ngrams.h"
#include "lexical.h"
#include "model_io.h"
#include "sparse_lr.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t
total (const tk_ngram_counts_t *c)
{
   size_t t = 0;
   for (size_t i = 0; i < c->n; i++) {
      t += c->count[i];
   }
   return t;
}

static void
test_ngrams_of_a_word (void **state)
{
   (void) state;
   tk_ngram_counts_t c = {0};
   /* " dbt ": 4 bigrams, 3 trigrams, 2 four-grams, 1 five-gram. */
   assert_true (tk_char_ngrams (NULL, "dbt", &c));
   assert_int_equal (total (&c), 10);
   assert_int_equal (c.n, 10);
   for (size_t i = 1; i < c.n; i++) {
      assert_true (c.bucket[i - 1] < c.bucket[i]);
   }
   /* "a" is " a ": 2 bigrams, and the padded word once for each longer n. */
   assert_true (tk_char_ngrams ("", "a", &c));
   assert_int_equal (total (&c), 2 + 3);
   tk_ngram_counts_free (&c);
}

static void
test_ngrams_normalised_and_counted (void **state)
{
   (void) state;
   tk_ngram_counts_t a = {0}, b = {0};
   assert_true (tk_char_ngrams ("CAFÉ", "Dbt", &a));
   assert_true (tk_char_ngrams ("café", "dbt", &b));
   assert_int_equal (a.n, b.n);
   assert_memory_equal (a.bucket, b.bucket, a.n * sizeof *a.bucket);
   assert_memory_equal (a.count, b.count, a.n * sizeof *a.count);
   /* Twice the word, twice each count; punctuation is a word of its own. */
   assert_true (tk_char_ngrams (NULL, "dbt dbt", &a));
   assert_true (tk_char_ngrams (NULL, "dbt", &b));
   assert_int_equal (a.n, b.n);
   for (size_t i = 0; i < a.n; i++) {
      assert_int_equal (a.count[i], 2 * b.count[i]);
   }
   assert_true (tk_char_ngrams (NULL, "dbt!", &a));
   assert_int_equal (total (&a), 10 + 2 + 3);
   assert_true (tk_char_ngrams (NULL, NULL, &a));
   assert_int_equal (a.n, 0); /* the newline between them is white space */
   tk_ngram_counts_free (&a);
   tk_ngram_counts_free (&b);
}

/* Six rows over 4 columns: column c alone marks class c % 3. */
static const size_t start[] = {0, 1, 2, 3, 4, 6, 8};
static const uint32_t col[] = {0, 1, 2, 0, 1, 3, 2, 3};
static const float val[] = {1, 1, 1, 1, 0.6f, 0.8f, 0.6f, 0.8f};

static void
test_softmax_learns_separable_rows (void **state)
{
   (void) state;
   tk_csr_t X = {start, col, val, 6, 4};
   const uint32_t label[] = {0, 1, 2, 0, 1, 2};
   tk_lr_problem_t p = {TK_LR_SOFTMAX, 3, label, NULL, 1e-4, 2000};
   float w[4 * 5], bias[3];
   assert_true (tk_sparse_lr_fit (&X, NULL, 0, &p, w, 5, bias));
   for (size_t r = 0; r < 6; r++) {
      double z[3] = {bias[0], bias[1], bias[2]};
      for (size_t e = start[r]; e < start[r + 1]; e++) {
         for (int c = 0; c < 3; c++) {
            z[c] += val[e] * w[col[e] * 5 + c];
         }
      }
      int best = z[0] > z[1] ? (z[0] > z[2] ? 0 : 2) : (z[1] > z[2] ? 1 : 2);
      assert_int_equal (best, (int) label[r]);
   }
}

static void
test_logistic_uses_only_chosen_rows (void **state)
{
   (void) state;
   tk_csr_t X = {start, col, val, 6, 4};
   /* Label 0: rows with column 0 or 3; label 1: column 1. */
   const unsigned char target[] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0};
   tk_lr_problem_t p = {TK_LR_LOGISTIC, 2, NULL, target, 1e-4, 2000};
   float w[4 * 2], bias[2];
   assert_true (tk_sparse_lr_fit (&X, NULL, 0, &p, w, 2, bias));
   assert_true (w[0 * 2 + 0] > 1 && w[1 * 2 + 1] > 1);
   assert_true (w[2 * 2 + 0] < 0 && w[2 * 2 + 1] < 0);
   /* Rows 0 and 1 only: column 2 and 3 were never seen, so weigh nothing. */
   const size_t rows[] = {0, 1};
   w[2 * 2] = w[3 * 2] = 7;
   assert_true (tk_sparse_lr_fit (&X, rows, 2, &p, w, 2, bias));
   assert_true (w[2 * 2] == 0 && w[3 * 2] == 0);
   assert_true (w[0 * 2 + 0] > 0.5);
}

/* A tiny support desk: tickets about the warehouse connector are sentiment
 * 0, priority 1, tag 0; about dashboards sentiment 1, priority 0, tag 1. */
static const char *const texts[][2] = {
   {"Snowflake sync", "the snowflake connector fails again"},
   {"snowflake creds", "snowflake warehouse login rejected"},
   {"warehouse", "our snowflake warehouse crawl stopped"},
   {"snowflake", "snowflake schema missing after sync"},
   {"dashboard", "tableau dashboard lineage looks great"},
   {"tableau", "love the tableau dashboard previews"},
   {"lineage", "tableau lineage graph is lovely"},
   {"preview", "dashboard preview for tableau works"},
};

static tk_lexical_t *
train_tiny (double *crossfit, unsigned *fold_of)
{
   static tk_model_example_t ex[8];
   static uint32_t l0[8], l1[8];
   static unsigned char tags[8 * 2];
   for (size_t i = 0; i < 8; i++) {
      ex[i].subject = texts[i][0];
      ex[i].body = texts[i][1];
      l0[i] = i < 4 ? 0 : 1;
      l1[i] = i < 4 ? 1 : 0;
      tags[i * 2] = i < 4;
      tags[i * 2 + 1] = i >= 4;
      fold_of[i] = (unsigned) (i % 2);
   }
   tk_lexical_data_t d = {ex, 8, {l0, l1}, tags, {2, 2, 2}, 1e-3, 2};
   tk_error_t err;
   return tk_lexical_train (&d, 2, fold_of, crossfit, &err);
}

static void
test_lexical_typos_still_decide (void **state)
{
   (void) state;
   double z[6], cross[8 * 6];
   unsigned fold_of[8];
   tk_lexical_t *lex = train_tiny (cross, fold_of);
   assert_non_null (lex);
   assert_true (tk_lexical_logits (lex, "snowflak", "the snowfalke conector", z));
   assert_true (z[0] > z[1] && z[3] > z[2] && z[4] > 0 && z[5] < 0);
   assert_true (tk_lexical_logits (lex, "tablaeu", "dashbord", z));
   assert_true (z[1] > z[0] && z[2] > z[3] && z[4] < 0 && z[5] > 0);
   /* Cross-fitted logits are those of a model that had not seen the ticket:
    * less sure of it than the model trained on everything. */
   for (size_t i = 0; i < 8; i++) {
      assert_true (tk_lexical_logits (lex, texts[i][0], texts[i][1], z));
      double full = fabs (z[0] - z[1]), cf = fabs (cross[i * 6] - cross[i * 6 + 1]);
      assert_true (cf < full);
      assert_true ((cross[i * 6] > cross[i * 6 + 1]) == (i < 4));
   }
   tk_lexical_destroy (lex);
}

static void
test_lexical_round_trip (void **state)
{
   (void) state;
   unsigned fold_of[8];
   tk_lexical_t *lex = train_tiny (NULL, fold_of);
   tk_wbuf_t b = {0};
   tk_lexical_write (lex, &b);
   assert_false (b.nomem);
   const size_t n_labels[3] = {2, 2, 2};
   tk_rbuf_t r = {b.data, b.len};
   tk_lexical_t *back = tk_lexical_read (&r, n_labels);
   assert_non_null (back);
   assert_int_equal (r.left, 0);
   double z1[6], z2[6];
   assert_true (tk_lexical_logits (lex, "snowflake", "tableau dashbaord", z1));
   assert_true (tk_lexical_logits (back, "snowflake", "tableau dashbaord", z2));
   assert_memory_equal (z1, z2, sizeof z1);
   tk_lexical_destroy (back);
   /* Truncated, other label counts, or buckets out of order: refused. */
   tk_rbuf_t shorter = {b.data, b.len - 3};
   assert_null (tk_lexical_read (&shorter, n_labels));
   const size_t other[3] = {3, 2, 2};
   tk_rbuf_t r2 = {b.data, b.len};
   assert_null (tk_lexical_read (&r2, other));
   unsigned char *bad = malloc (b.len);
   memcpy (bad, b.data, b.len);
   size_t first_row = 4 + 6 * 4 + 4, row_len = 4 + 4 + 6 * 4;
   memcpy (bad + first_row + row_len, bad + first_row, 4); /* row 2's bucket = row 1's */
   tk_rbuf_t r3 = {bad, b.len};
   assert_null (tk_lexical_read (&r3, n_labels));
   free (bad);
   free (b.data);
   tk_lexical_destroy (lex);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_ngrams_of_a_word),
      cmocka_unit_test (test_ngrams_normalised_and_counted),
      cmocka_unit_test (test_softmax_learns_separable_rows),
      cmocka_unit_test (test_logistic_uses_only_chosen_rows),
      cmocka_unit_test (test_lexical_typos_still_decide),
      cmocka_unit_test (test_lexical_round_trip),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
