/* provider_openai.c - any OpenAI-compatible /v1/chat/completions endpoint
 * (OpenAI, vLLM, llama.cpp server, Ollama, LM Studio). */
#include "provider_remote.h"

#include "llm_parse.h"

#include <cjson/cJSON.h>

static void
add_message (cJSON *messages, const char *role, const char *content)
{
   cJSON *m = cJSON_CreateObject ();
   cJSON_AddStringToObject (m, "role", role);
   cJSON_AddStringToObject (m, "content", content);
   cJSON_AddItemToArray (messages, m);
}

static void
openai_fill (const cl_remote_t *r, cJSON *req, const cl_remote_request_t *m)
{
   cJSON_AddStringToObject (req, "model", r->model);
   cJSON_AddNumberToObject (req, "temperature", 0);
   cJSON *messages = cJSON_AddArrayToObject (req, "messages");
   add_message (messages, "system", r->system);
   add_message (messages, "user", m->user);
   if (m->repair_answer) {
      add_message (messages, "assistant", m->repair_answer);
      add_message (messages, "user", m->repair);
   }
   cJSON *rf = cJSON_AddObjectToObject (req, "response_format");
   cJSON_AddStringToObject (rf, "type", "json_schema");
   cJSON *js = cJSON_AddObjectToObject (rf, "json_schema");
   cJSON_AddStringToObject (js, "name", m->batch ? "ticket_classifications" : "ticket_classification");
   cJSON_AddTrueToObject (js, "strict");
   cJSON_AddItemToObject (js, "schema", cJSON_Duplicate (m->schema, true));
}

static bool
openai_url (const cl_remote_t *r, tk_buf_t *url)
{
   return tk_buf_appendf (url, "%s/chat/completions", r->url);
}

static const cl_dialect_t openai_dialect = {
   .name = "openai",
   .default_url = "https://api.openai.com/v1",
   .default_model = "gpt-4o-mini",
   .auth_prefix = "Authorization: Bearer ",
   .gemini_schema = false,
   .fill = openai_fill,
   .url = openai_url,
   .content = tk_llm_openai_content,
};

cl_provider_t *
cl_provider_openai_new (const tk_config_t *cfg, const tk_taxonomy_t *tax, tk_curl_uv_t *http,
                        tk_error_t *err)
{
   return cl_remote_new (&openai_dialect, cfg, tax, http, err);
}
