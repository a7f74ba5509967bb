/* provider_openai.c - any OpenAI-compatible /v1/chat/completions endpoint
 * (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio). */
#include "provider_remote.h"

#include "llm_parse.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

static void
add_message (cJSON *messages, const char *role, const char *content)
{
   cJSON *m = cJSON_CreateObject ();
   cJSON_AddStringToObject (m, "role", role);
   cJSON_AddStringToObject (m, "content", content);
   cJSON_AddItemToArray (messages, m);
}

static bool
openai_build (const cl_remote_t *r, const cl_prompt_input_t *in, size_t n, tk_buf_t *url,
             tk_buf_t *body)
{
   bool ok = false;
   char *user = n > 1 ? cl_prompt_batch_user (in, n) : cl_prompt_user (in);
   char *repair = in->repair_answer ? cl_prompt_repair (in) : NULL;
   char *text = NULL;
   cJSON *req = cJSON_CreateObject ();
   if (!user || (in->repair_answer && !repair) || !req) {
      goto done;
   }
   cJSON_AddStringToObject (req, "model", r->model);
   cJSON_AddNumberToObject (req, "temperature", 0);
   cJSON *messages = cJSON_AddArrayToObject (req, "messages");
   add_message (messages, "system", r->system);
   add_message (messages, "user", user);
   if (in->repair_answer) {
      add_message (messages, "assistant", in->repair_answer);
      add_message (messages, "user", repair);
   }
   cJSON *rf = cJSON_AddObjectToObject (req, "response_format");
   cJSON_AddStringToObject (rf, "type", "json_schema");
   cJSON *js = cJSON_AddObjectToObject (rf, "json_schema");
   cJSON_AddStringToObject (js, "name", n > 1 ? "ticket_classifications" : "ticket_classification");
   cJSON_AddTrueToObject (js, "strict");
   cJSON_AddItemToObject (js, "schema", cJSON_Duplicate (n > 1 ? r->batch_schema : r->schema, true));
   if (!(text = cJSON_PrintUnformatted (req))) {
      goto done;
   }
   ok = tk_buf_appendf (url, "%s/chat/completions", r->url) && tk_buf_append_str (body, text);
done:
   free (user);
   free (repair);
   free (text);
   cJSON_Delete (req);
   return ok;
}

static const cl_dialect_t openai_dialect = {
   .name = "openai",
   .build = openai_build,
   .content = tk_llm_openai_content,
};

cl_provider_t *
cl_provider_openai_new (const tk_config_t *cfg, const tk_taxonomy_t *tax, cl_http_t *http,
                        tk_error_t *err)
{
   cl_remote_t *r = calloc (1, sizeof *r);
   if (!r) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   if (!cl_remote_init (r, &openai_dialect, cfg, tax, http, "https://api.openai.com/v1",
                        "gpt-4o-mini", "Authorization: Bearer ", false, err)) {
      r->base.destroy (&r->base);
      return NULL;
   }
   return &r->base;
}
