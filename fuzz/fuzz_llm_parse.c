/* fuzz_llm_parse.c - the LLM response parsers: the provider envelopes
 * (OpenAI, Gemini) and the classification answer inside them. */
#include "fuzz_common.h"
#include "llm_parse.h"
#include "taxonomy.h"
#include "ticket.h"

static void
parse_answer (const char *text, size_t len)
{
   tk_classification_t c;
   tk_confidence_t conf;
   tk_error_t err;
   memset (&c, 0, sizeof c);
   memset (&conf, 0, sizeof conf);
   if (tk_llm_parse_answer (text, len, tk_taxonomy_default (), &c, &conf, &err)) {
      fuzz_check (tk_taxonomy_validate_classification (tk_taxonomy_default (), &c, &err));
      fuzz_check (conf.topic >= 0.0 && conf.topic <= 1.0);
      fuzz_check (conf.sentiment >= 0.0 && conf.sentiment <= 1.0);
      fuzz_check (conf.priority >= 0.0 && conf.priority <= 1.0);
   }
   tk_classification_clear (&c);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
   const char *buf = (const char *) data;
   tk_error_t err;

   parse_answer (buf, size);

   char *content = tk_llm_openai_content (buf, size, &err);
   if (content) {
      parse_answer (content, strlen (content));
      free (content);
   }
   content = tk_llm_gemini_content (buf, size, &err);
   if (content) {
      parse_answer (content, strlen (content));
      free (content);
   }
   return 0;
}
