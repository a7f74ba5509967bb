/* wordpiece.c - the WordPiece tokeniser of wordpiece.h: a vocabulary in an
 * open-addressing hash table, and the greedy longest-match split. */
#include "wordpiece.h"

#include "bert_text.h"
#include "model_io.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WORD_CHARS 100
#define MAX_PIECE_BYTES 256

struct tk_wordpiece {
   char **pieces; /* [n], by id */
   size_t n;
   int32_t *slots; /* [n_slots]: id or -1 */
   size_t n_slots; /* a power of two, at least 2n */
   int32_t cls, sep, unk;
};

/* The special tokens that are matched in raw text before normalisation. */
static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
#define N_SPECIALS (sizeof specials / sizeof specials[0])

static uint32_t
hash_bytes (const char *s, size_t len)
{
   uint32_t h = 2166136261u;
   for (size_t i = 0; i < len; i++) {
      h ^= (unsigned char) s[i];
      h *= 16777619u;
   }
   h ^= h >> 15;
   h *= 0x2c1b3c6du;
   h ^= h >> 12;
   return h;
}

int32_t
tk_wordpiece_lookup (const tk_wordpiece_t *wp, const char *s, size_t len)
{
   size_t mask = wp->n_slots - 1;
   for (size_t i = hash_bytes (s, len) & mask;; i = (i + 1) & mask) {
      int32_t id = wp->slots[i];
      if (id < 0) {
         return -1;
      }
      const char *p = wp->pieces[id];
      if (strncmp (p, s, len) == 0 && p[len] == '\0') {
         return id;
      }
   }
}

void
tk_wordpiece_destroy (tk_wordpiece_t *wp)
{
   if (!wp) {
      return;
   }
   for (size_t i = 0; i < wp->n; i++) {
      free (wp->pieces[i]);
   }
   free (wp->pieces);
   free (wp->slots);
   free (wp);
}

tk_wordpiece_t *
tk_wordpiece_new (const char *const *tokens, size_t n, tk_error_t *err)
{
   tk_wordpiece_t *wp = calloc (1, sizeof *wp);
   if (!wp || n == 0 || n > INT32_MAX / 4) {
      tk_error_set (err, wp ? TK_ERR_INVALID : TK_ERR_NOMEM, 0,
                    wp ? "a vocabulary of %zu pieces" : "out of memory", n);
      free (wp);
      return NULL;
   }
   for (wp->n_slots = 1; wp->n_slots < 2 * n; wp->n_slots *= 2) {
   }
   wp->pieces = calloc (n, sizeof *wp->pieces);
   wp->slots = malloc (wp->n_slots * sizeof *wp->slots);
   if (!wp->pieces || !wp->slots) {
      goto nomem;
   }
   memset (wp->slots, 0xff, wp->n_slots * sizeof *wp->slots);
   for (size_t id = 0; id < n; id++, wp->n++) {
      size_t len = strlen (tokens[id]);
      if (len == 0 || len > MAX_PIECE_BYTES || tk_wordpiece_lookup (wp, tokens[id], len) >= 0) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "vocab", "piece %zu (%.40s) is empty, too long or a duplicate", id, tokens[id]);
         tk_wordpiece_destroy (wp);
         return NULL;
      }
      if (!(wp->pieces[id] = strdup (tokens[id]))) {
         goto nomem;
      }
      size_t mask = wp->n_slots - 1, i = hash_bytes (tokens[id], len) & mask;
      while (wp->slots[i] >= 0) {
         i = (i + 1) & mask;
      }
      wp->slots[i] = (int32_t) id;
   }
   wp->cls = tk_wordpiece_lookup (wp, "[CLS]", 5);
   wp->sep = tk_wordpiece_lookup (wp, "[SEP]", 5);
   wp->unk = tk_wordpiece_lookup (wp, "[UNK]", 5);
   if (wp->cls < 0 || wp->sep < 0 || wp->unk < 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "vocab", "the vocabulary lacks [CLS], [SEP] or [UNK]");
      tk_wordpiece_destroy (wp);
      return NULL;
   }
   return wp;
nomem:
   tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory building the vocabulary");
   tk_wordpiece_destroy (wp);
   return NULL;
}

/* Checks what the reader assumes of the file: a WordPiece model with "##" and
 * at most 100 characters a word, after a BERT normaliser that lower-cases. */
static bool
check_declared (const cJSON *root)
{
   const cJSON *model = cJSON_GetObjectItemCaseSensitive (root, "model");
   const cJSON *norm = cJSON_GetObjectItemCaseSensitive (root, "normalizer");
   const cJSON *type = cJSON_GetObjectItemCaseSensitive (model, "type");
   const cJSON *prefix = cJSON_GetObjectItemCaseSensitive (model, "continuing_subword_prefix");
   const cJSON *max = cJSON_GetObjectItemCaseSensitive (model, "max_input_chars_per_word");
   const cJSON *ntype = cJSON_GetObjectItemCaseSensitive (norm, "type");
   const cJSON *lower = cJSON_GetObjectItemCaseSensitive (norm, "lowercase");
   return cJSON_IsString (type) && strcmp (type->valuestring, "WordPiece") == 0 &&
          cJSON_IsString (prefix) && strcmp (prefix->valuestring, "##") == 0 &&
          cJSON_IsNumber (max) && max->valuedouble == MAX_WORD_CHARS && cJSON_IsString (ntype) &&
          strcmp (ntype->valuestring, "BertNormalizer") == 0 && cJSON_IsTrue (lower);
}

tk_wordpiece_t *
tk_wordpiece_load (const char *path, tk_error_t *err)
{
   tk_wordpiece_t *wp = NULL;
   const char **tokens = NULL;
   cJSON *root = NULL;
   size_t text_len;
   char *text = (char *) tk_read_whole_file (path, &text_len, err);
   if (!text) {
      return NULL;
   }
   root = cJSON_ParseWithLength (text, text_len);
   const cJSON *vocab = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (root, "model"), "vocab");
   size_t n = cJSON_IsObject (vocab) ? (size_t) cJSON_GetArraySize (vocab) : 0;
   if (!root || n == 0 || !check_declared (root)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "path",
                          "%s is not a tokenizer.json of a lower-casing BERT WordPiece model", path);
      goto done;
   }
   if (!(tokens = calloc (n, sizeof *tokens))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading %s", path);
      goto done;
   }
   const cJSON *e;
   cJSON_ArrayForEach (e, vocab)
   {
      double id = cJSON_IsNumber (e) ? e->valuedouble : -1;
      if (id < 0 || id >= (double) n || id != (double) (size_t) id || tokens[(size_t) id]) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "path", "%s: the vocabulary's ids are not 0 .. %zu", path, n - 1);
         goto done;
      }
      tokens[(size_t) id] = e->string;
   }
   wp = tk_wordpiece_new (tokens, n, err);
done:
   free (tokens);
   cJSON_Delete (root);
   free (text);
   return wp;
}

size_t
tk_wordpiece_size (const tk_wordpiece_t *wp)
{
   return wp->n;
}

const char *
tk_wordpiece_piece (const tk_wordpiece_t *wp, int32_t id)
{
   return wp->pieces[id];
}

int32_t
tk_wordpiece_cls (const tk_wordpiece_t *wp)
{
   return wp->cls;
}

int32_t
tk_wordpiece_sep (const tk_wordpiece_t *wp)
{
   return wp->sep;
}

int32_t
tk_wordpiece_unk (const tk_wordpiece_t *wp)
{
   return wp->unk;
}

bool
tk_token_ids_push (tk_token_ids_t *out, int32_t id)
{
   if (out->n == out->cap) {
      size_t cap = out->cap ? out->cap * 2 : 64;
      int32_t *grown = realloc (out->ids, cap * sizeof *grown);
      if (!grown) {
         return false;
      }
      out->ids = grown;
      out->cap = cap;
   }
   out->ids[out->n++] = id;
   return true;
}

typedef struct {
   const tk_wordpiece_t *wp;
   tk_token_ids_t *out;
   char piece[2 + 4 * MAX_WORD_CHARS + 1];
} split_ctx_t;

/* Step 3 of wordpiece.h for one word. */
static bool
split_word (const char *word, size_t len, size_t n_chars, void *ctx)
{
   split_ctx_t *s = ctx;
   size_t first = s->out->n;
   if (n_chars > MAX_WORD_CHARS) {
      return tk_token_ids_push (s->out, s->wp->unk);
   }
   for (size_t start = 0; start < len;) {
      size_t pre = start > 0 ? 2 : 0, end = len;
      int32_t id = -1;
      memcpy (s->piece, "##", 2);
      while (end > start) {
         memcpy (s->piece + pre, word + start, end - start);
         if ((id = tk_wordpiece_lookup (s->wp, s->piece, pre + end - start)) >= 0) {
            break;
         }
         do { /* back to the previous character boundary */
            end--;
         } while (end > start && ((unsigned char) word[end] & 0xc0) == 0x80);
      }
      if (id < 0) {
         s->out->n = first;
         return tk_token_ids_push (s->out, s->wp->unk);
      }
      if (!tk_token_ids_push (s->out, id)) {
         return false;
      }
      start = end;
   }
   return true;
}

/* The special token that starts text[0 .. len), if any: its length and id. */
static size_t
special_at (const tk_wordpiece_t *wp, const char *text, size_t len, int32_t *id)
{
   for (size_t k = 0; k < N_SPECIALS; k++) {
      size_t n = strlen (specials[k]);
      if (n <= len && memcmp (text, specials[k], n) == 0 &&
          (*id = tk_wordpiece_lookup (wp, specials[k], n)) >= 0) {
         return n;
      }
   }
   return 0;
}

bool
tk_wordpiece_encode (const tk_wordpiece_t *wp, const char *text, size_t len, tk_token_ids_t *out)
{
   split_ctx_t s = {.wp = wp, .out = out};
   size_t from = 0;
   for (size_t i = 0; i < len; i++) {
      int32_t id;
      size_t n = text[i] == '[' ? special_at (wp, text + i, len - i, &id) : 0;
      if (n == 0) {
         continue;
      }
      if (!tk_bert_words (text + from, i - from, split_word, &s) || !tk_token_ids_push (out, id)) {
         return false;
      }
      i += n - 1;
      from = i + 1;
   }
   return tk_bert_words (text + from, len - from, split_word, &s);
}
