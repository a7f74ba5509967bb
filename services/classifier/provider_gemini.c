/* provider_gemini.c - Google's generateContent API. */
#include "provider_remote.h"

#include "llm_parse.h"

#include <cjson/cJSON.h>

static void
add_content (cJSON *contents, const char *role, const char *text)
{
   cJSON *c = cJSON_CreateObject ();
   cJSON_AddStringToObject (c, "role", role);
   cJSON *parts = cJSON_AddArrayToObject (c, "parts");
   cJSON *p = cJSON_CreateObject ();
   cJSON_AddStringToObject (p, "text", text);
   cJSON_AddItemToArray (parts, p);
   cJSON_AddItemToArray (contents, c);
}

static void
gemini_fill (const cl_remote_t *r, cJSON *req, const cl_remote_request_t *m)
{
   cJSON *sys = cJSON_AddObjectToObject (req, "systemInstruction");
   cJSON *sparts = cJSON_AddArrayToObject (sys, "parts");
   cJSON *sp = cJSON_CreateObject ();
   cJSON_AddStringToObject (sp, "text", r->system);
   cJSON_AddItemToArray (sparts, sp);
   cJSON *contents = cJSON_AddArrayToObject (req, "contents");
   add_content (contents, "user", m->user);
   if (m->repair_answer) {
      add_content (contents, "model", m->repair_answer);
      add_content (contents, "user", m->repair);
   }
   cJSON *gc = cJSON_AddObjectToObject (req, "generationConfig");
   cJSON_AddNumberToObject (gc, "temperature", 0);
   cJSON_AddStringToObject (gc, "responseMimeType", "application/json");
   cJSON_AddItemToObject (gc, "responseSchema", cJSON_Duplicate (m->schema, true));
}

/* The key goes in the x-goog-api-key header, not the URL, so it never shows
 * up in logs of URLs. */
static bool
gemini_url (const cl_remote_t *r, tk_buf_t *url)
{
   return tk_buf_appendf (url, "%s/models/%s:generateContent", r->url, r->model);
}

static const cl_dialect_t gemini_dialect = {
   .name = "gemini",
   .default_url = "https://generativelanguage.googleapis.com/v1beta",
   .default_model = "gemini-1.5-flash",
   .auth_prefix = "x-goog-api-key: ",
   .gemini_schema = true,
   .fill = gemini_fill,
   .url = gemini_url,
   .content = tk_llm_gemini_content,
};

cl_provider_t *
cl_provider_gemini_new (const tk_config_t *cfg, const tk_taxonomy_t *tax, tk_curl_uv_t *http,
                        tk_error_t *err)
{
   return cl_remote_new (&gemini_dialect, cfg, tax, http, err);
}
