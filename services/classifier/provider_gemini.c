/* provider_gemini.c - Google's generateContent API. */
#include "provider_remote.h"

#include "llm_parse.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

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

static bool
gemini_build (const cl_remote_t *r, const cl_prompt_input_t *in, size_t n, tk_buf_t *url,
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
   cJSON *sys = cJSON_AddObjectToObject (req, "systemInstruction");
   cJSON *sparts = cJSON_AddArrayToObject (sys, "parts");
   cJSON *sp = cJSON_CreateObject ();
   cJSON_AddStringToObject (sp, "text", r->system);
   cJSON_AddItemToArray (sparts, sp);
   cJSON *contents = cJSON_AddArrayToObject (req, "contents");
   add_content (contents, "user", user);
   if (in->repair_answer) {
      add_content (contents, "model", in->repair_answer);
      add_content (contents, "user", repair);
   }
   cJSON *gc = cJSON_AddObjectToObject (req, "generationConfig");
   cJSON_AddNumberToObject (gc, "temperature", 0);
   cJSON_AddStringToObject (gc, "responseMimeType", "application/json");
   cJSON_AddItemToObject (gc, "responseSchema", cJSON_Duplicate (n > 1 ? r->batch_schema : r->schema, true));
   if (!(text = cJSON_PrintUnformatted (req))) {
      goto done;
   }
   /* The key goes in the x-goog-api-key header, not the URL, so it never
    * shows up in logs of URLs. */
   ok = tk_buf_appendf (url, "%s/models/%s:generateContent", r->url, r->model) &&
        tk_buf_append_str (body, text);
done:
   free (user);
   free (repair);
   free (text);
   cJSON_Delete (req);
   return ok;
}

static const cl_dialect_t gemini_dialect = {
   .name = "gemini",
   .build = gemini_build,
   .content = tk_llm_gemini_content,
};

cl_provider_t *
cl_provider_gemini_new (const tk_config_t *cfg, const tk_taxonomy_t *tax, cl_http_t *http,
                        tk_error_t *err)
{
   cl_remote_t *r = calloc (1, sizeof *r);
   if (!r) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return NULL;
   }
   if (!cl_remote_init (r, &gemini_dialect, cfg, tax, http,
                        "https://generativelanguage.googleapis.com/v1beta", "gemini-1.5-flash",
                        "x-goog-api-key: ", true, err)) {
      r->base.destroy (&r->base);
      return NULL;
   }
   return &r->base;
}
