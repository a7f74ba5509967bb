/* outcome_json.c - the classified and DLQ records. */
#include "outcome_json.h"

#include "timeutil.h"

#include <cjson/cJSON.h>

char *
cl_outcome_classified_json (const char *id, const tk_classification_t *cl,
                            const tk_confidence_t *conf, const tk_processing_metadata_t *meta)
{
   char ts[40];
   tk_time_format_iso (meta->processed_at, ts, sizeof ts);
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON *c = cJSON_AddObjectToObject (o, "classification");
   cJSON *tags = cJSON_AddArrayToObject (c, "topic_tags");
   for (size_t i = 0; i < cl->n_topic_tags; i++) {
      cJSON_AddItemToArray (tags, cJSON_CreateString (cl->topic_tags[i]));
   }
   cJSON_AddStringToObject (c, "sentiment", cl->sentiment ? cl->sentiment : "");
   cJSON_AddStringToObject (c, "priority", cl->priority ? cl->priority : "");
   cJSON *cs = cJSON_AddObjectToObject (o, "confidence_scores");
   cJSON_AddNumberToObject (cs, "topic", conf->topic);
   cJSON_AddNumberToObject (cs, "sentiment", conf->sentiment);
   cJSON_AddNumberToObject (cs, "priority", conf->priority);
   cJSON *md = cJSON_AddObjectToObject (o, "processing_metadata");
   cJSON_AddStringToObject (md, "processed_at", ts);
   cJSON_AddStringToObject (md, "model_version", meta->model_version ? meta->model_version : "");
   cJSON_AddNumberToObject (md, "processing_time_ms", (double) meta->processing_time_ms);
   cJSON_AddStringToObject (md, "agent_version", meta->agent_version ? meta->agent_version : "");
   char *text = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return text;
}

char *
cl_outcome_dlq_json (const char *id, const char *error, unsigned attempts, const char *provider,
                     const char *request, size_t request_len)
{
   char ts[40];
   tk_time_format_iso (tk_time_now_ms (), ts, sizeof ts);
   cJSON *o = cJSON_CreateObject ();
   cJSON_AddStringToObject (o, "id", id);
   cJSON_AddStringToObject (o, "error", error);
   cJSON_AddNumberToObject (o, "attempts", attempts);
   cJSON_AddStringToObject (o, "failed_at", ts);
   cJSON_AddStringToObject (o, "provider", provider);
   cJSON *req = request ? cJSON_ParseWithLength (request, request_len) : NULL;
   if (req) {
      cJSON_AddItemToObject (o, "message", req);
   } else {
      cJSON_AddNullToObject (o, "message");
   }
   char *text = cJSON_PrintUnformatted (o);
   cJSON_Delete (o);
   return text;
}
