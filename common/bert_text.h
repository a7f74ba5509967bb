/* bert_text.h - BERT's text normaliser and pre-tokeniser, as tokenizer.json
 * of all-MiniLM-L6-v2 declares them (BertNormalizer with clean_text,
 * handle_chinese_chars, lowercase and so strip_accents; BertPreTokenizer).
 *
 * Each character of the text, in order:
 *  1. clean: U+0000, U+FFFD and every "other" character (general category Cc,
 *     Cf, Cn, Co, Cs) except tab, LF and CR are dropped; white space (the
 *     Unicode White_Space property) becomes a space;
 *  2. CJK ideographs (the blocks BERT lists) get a space on either side;
 *  3. accents: the canonical decomposition (NFD) of the character, without
 *     its non-spacing marks (category Mn), so "é" is "e";
 *  4. lower case (Unicode simple mapping);
 *  5. words: white space separates words and is dropped; each punctuation
 *     character (ASCII punctuation, or category Pc Pd Pe Pf Pi Po Ps) is a
 *     word of its own.
 * The Unicode tables are libutf8proc's. Bytes that are not UTF-8 count as
 * U+FFFD, so they are dropped.
 *
 * Nothing here keeps state: any thread may call it at any time.
 */
#ifndef TK_BERT_TEXT_H
#define TK_BERT_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Called once per word, in order: word[0 .. len) is its normalised UTF-8
 * (borrowed, valid during the call only), n_chars its length in characters.
 * Returns false to stop. */
typedef bool (*tk_bert_word_fn) (const char *word, size_t len, size_t n_chars, void *ctx);

/* Normalises and splits text[0 .. len) into words, calling fn for each.
 * Returns false if memory ran out or fn stopped. */
bool tk_bert_words (const char *text, size_t len, tk_bert_word_fn fn, void *ctx);

#endif
