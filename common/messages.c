/* messages.c - the topic messages: builders and parsers (messages.h). */
#include "messages.h"

#include "ticket_json.h"
#include "timeutil.h"
#include "utf8.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Integers above this lose precision as a JSON (double) number. */
#define JSON_MAX_SAFE_INT 9007199254740992.0

static const char b64_alphabet[] =
   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* ---- shared helpers --------------------------------------------------------- */

/* Prints o without whitespace and deletes it (o may be NULL: out of memory
 * while building). The text comes from cJSON's allocator, which triage
 * leaves at malloc, so the caller frees it with free(). */
static char *
print_and_delete (cJSON *o, bool built, size_t *len, tk_error_t *err)
{
   char *text = built ? cJSON_PrintUnformatted (o) : NULL;
   cJSON_Delete (o);
   if (!text) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory building a message");
      return NULL;
   }
   if (len) {
      *len = strlen (text);
   }
   return text;
}

static bool
add_time (cJSON *o, const char *key, int64_t ms)
{
   char ts[TK_TIME_ISO_BUFSIZE + 8];
   if (!tk_time_format_iso (ms, ts, sizeof ts)) {
      ts[0] = '\0';
   }
   return cJSON_AddStringToObject (o, key, ts) != NULL;
}

static char *
dup_n (const char *s, size_t n)
{
   char *d = malloc (n + 1);
   if (d) {
      if (n) {
         memcpy (d, s, n);
      }
      d[n] = '\0';
   }
   return d;
}

/* Parses payload as a JSON object of at most max bytes. */
static cJSON *
parse_object (const char *payload, size_t len, size_t max, tk_error_t *err)
{
   cJSON *o = tk_json_parse (payload, len, max, err);
   if (o && !cJSON_IsObject (o)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "not a JSON object");
      cJSON_Delete (o);
      return NULL;
   }
   return o;
}

/* obj[key] as a string (tk_json_parse has checked its UTF-8); NULL with err
 * naming field if it is absent or not a string. */
static const char *
need_string (const cJSON *obj, const char *key, const char *field, tk_error_t *err)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   if (!cJSON_IsString (v)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: %s", field,
                          v ? "must be a string" : "is required");
      return NULL;
   }
   return v->valuestring;
}

static bool
take_string (const cJSON *obj, const char *key, const char *field, char **out, tk_error_t *err)
{
   const char *s = need_string (obj, key, field, err);
   if (!s) {
      return false;
   }
   if (!(*out = strdup (s))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   return true;
}

/* An ISO-8601 time, or "" for 0. */
static bool
take_time (const cJSON *obj, const char *key, const char *field, int64_t *out, tk_error_t *err)
{
   const char *s = need_string (obj, key, field, err);
   if (!s) {
      return false;
   }
   *out = 0;
   if (s[0] && !tk_time_parse_iso (s, strlen (s), out)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: not an ISO-8601 time", field);
      return false;
   }
   return true;
}

static bool
take_int (const cJSON *obj, const char *key, const char *field, double min, double max,
          int64_t *out, tk_error_t *err)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   if (!cJSON_IsNumber (v)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: %s", field,
                          v ? "must be a number" : "is required");
      return false;
   }
   double d = v->valuedouble;
   if (!isfinite (d) || d != floor (d) || d < min || d > max) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must be an integer in %.0f..%.0f",
                          field, min, max);
      return false;
   }
   *out = (int64_t) d;
   return true;
}

/* ---- tickets.inbound ---------------------------------------------------------- */

char *
tk_msg_inbound_build (const tk_ticket_t *t, size_t *len, tk_error_t *err)
{
   char when[TK_TIME_ISO_BUFSIZE + 8];
   cJSON *o = cJSON_CreateObject ();
   bool ok = o && cJSON_AddStringToObject (o, "id", t->id) &&
             cJSON_AddStringToObject (o, "subject", t->subject) &&
             cJSON_AddStringToObject (o, "body", t->body);
   if (ok && t->created_at && tk_time_format_iso (t->created_at, when, sizeof when)) {
      ok = cJSON_AddStringToObject (o, "created_at", when) != NULL;
   }
   if (ok && t->source) {
      ok = cJSON_AddStringToObject (o, "source", t->source) != NULL;
   }
   return print_and_delete (o, ok, len, err);
}

tk_ticket_t *
tk_msg_inbound_parse (const char *payload, size_t len, const char **reason, tk_error_t *err)
{
   const char *why = "invalid_field";
   tk_ticket_t *t = NULL;
   cJSON *obj = NULL;
   if (!payload || len == 0) {
      tk_error_set (err, TK_ERR_INVALID, 0, "empty message");
      why = "malformed";
   } else if (len > TK_TICKET_JSON_MAX) {
      tk_error_set (err, TK_ERR_INVALID, 0, "message exceeds %d bytes (got %zu)",
                    TK_TICKET_JSON_MAX, len);
      why = "oversized";
   } else if (!(obj = tk_json_parse (payload, len, TK_TICKET_JSON_MAX, err))) {
      why = "malformed";
   } else if (!cJSON_IsObject (obj)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "message is not a JSON object");
      why = "not_object";
   } else {
      t = tk_ticket_from_json (obj, err);
   }
   cJSON_Delete (obj);
   if (!t && reason) {
      *reason = why;
   }
   return t;
}

const char *
tk_msg_inbound_refused_id (const char *key, size_t key_len, const char *payload, size_t len,
                           char *buf, size_t cap)
{
   if (key && key_len && key_len < cap && tk_utf8_valid (key, key_len, NULL) &&
       !memchr (key, '\0', key_len)) {
      memcpy (buf, key, key_len);
      buf[key_len] = '\0';
      return buf;
   }
   tk_error_t err;
   cJSON *obj = payload ? tk_json_parse (payload, len, TK_TICKET_JSON_MAX, &err) : NULL;
   const cJSON *id = obj ? cJSON_GetObjectItemCaseSensitive (obj, "id") : NULL;
   const char *out = NULL;
   if (cJSON_IsString (id) && strlen (id->valuestring) < cap) {
      snprintf (buf, cap, "%s", id->valuestring);
      out = buf;
   }
   cJSON_Delete (obj);
   return out;
}

/* ---- tickets.classify --------------------------------------------------------- */

char *
tk_msg_classify_build (const char *id, const char *reason, int64_t requested_at,
                       const char *job_id, bool override_corrections, size_t *len,
                       tk_error_t *err)
{
   if (!id || !reason) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, id ? "reason" : "id",
                          "a classify request needs an id and a reason");
      return NULL;
   }
   cJSON *o = cJSON_CreateObject ();
   bool ok = o && cJSON_AddStringToObject (o, "id", id) &&
             cJSON_AddStringToObject (o, "reason", reason) &&
             add_time (o, "requested_at", requested_at) &&
             (!job_id || cJSON_AddStringToObject (o, "job_id", job_id)) &&
             (!override_corrections || cJSON_AddTrueToObject (o, "override_corrections"));
   return print_and_delete (o, ok, len, err);
}

/* Copies obj[key] into buf if it is a string that fits; "" otherwise. */
static void
copy_optional (const cJSON *obj, const char *key, char *buf, size_t cap)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   buf[0] = '\0';
   if (cJSON_IsString (v) && strlen (v->valuestring) < cap) {
      memcpy (buf, v->valuestring, strlen (v->valuestring) + 1);
   }
}

bool
tk_msg_classify_parse (const char *payload, size_t len, tk_msg_classify_t *out, tk_error_t *err)
{
   memset (out, 0, sizeof *out);
   cJSON *o = parse_object (payload, len, TK_MSG_CLASSIFY_MAX, err);
   if (!o) {
      return false;
   }
   const cJSON *id = cJSON_GetObjectItemCaseSensitive (o, "id");
   if (!cJSON_IsString (id) || !id->valuestring[0] ||
       strlen (id->valuestring) > TK_TICKET_ID_MAX) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "id",
                          "\"id\" must be a non-empty string of at most %d bytes",
                          TK_TICKET_ID_MAX);
      cJSON_Delete (o);
      return false;
   }
   snprintf (out->id, sizeof out->id, "%s", id->valuestring);
   copy_optional (o, "reason", out->reason, sizeof out->reason);
   out->reprocess = strcmp (out->reason, "reprocess") == 0;
   copy_optional (o, "job_id", out->job_id, sizeof out->job_id);
   out->override_corrections =
      cJSON_IsTrue (cJSON_GetObjectItemCaseSensitive (o, "override_corrections"));
   const cJSON *at = cJSON_GetObjectItemCaseSensitive (o, "requested_at");
   if (cJSON_IsString (at) &&
       !tk_time_parse_iso (at->valuestring, strlen (at->valuestring), &out->requested_at)) {
      out->requested_at = 0;
   }
   cJSON_Delete (o);
   return true;
}

/* ---- tickets.classified ------------------------------------------------------- */

char *
tk_msg_classified_build (const char *id, const tk_classification_t *cl,
                         const tk_confidence_t *conf, const tk_processing_metadata_t *md,
                         size_t *len, tk_error_t *err)
{
   cJSON *o = cJSON_CreateObject ();
   cJSON *c = NULL, *tags = NULL, *cs = NULL, *m = NULL;
   bool ok = o && cJSON_AddStringToObject (o, "id", id) &&
             (c = cJSON_AddObjectToObject (o, "classification")) &&
             (tags = cJSON_AddArrayToObject (c, "topic_tags"));
   for (size_t i = 0; ok && i < cl->n_topic_tags; i++) {
      cJSON *s = cJSON_CreateString (cl->topic_tags[i] ? cl->topic_tags[i] : "");
      ok = s && cJSON_AddItemToArray (tags, s);
      if (!ok) {
         cJSON_Delete (s);
      }
   }
   ok = ok && cJSON_AddStringToObject (c, "sentiment", cl->sentiment ? cl->sentiment : "") &&
        cJSON_AddStringToObject (c, "priority", cl->priority ? cl->priority : "") &&
        (cs = cJSON_AddObjectToObject (o, "confidence_scores")) &&
        cJSON_AddNumberToObject (cs, "topic", conf->topic) &&
        cJSON_AddNumberToObject (cs, "sentiment", conf->sentiment) &&
        cJSON_AddNumberToObject (cs, "priority", conf->priority) &&
        (m = cJSON_AddObjectToObject (o, "processing_metadata")) &&
        add_time (m, "processed_at", md->processed_at) &&
        cJSON_AddStringToObject (m, "model_version", md->model_version ? md->model_version : "") &&
        cJSON_AddNumberToObject (m, "processing_time_ms", (double) md->processing_time_ms) &&
        cJSON_AddStringToObject (m, "agent_version", md->agent_version ? md->agent_version : "");
   return print_and_delete (o, ok, len, err);
}

static bool
take_confidence (const cJSON *cs, const char *key, const char *field, double *out,
                 tk_error_t *err)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (cs, key);
   if (!cJSON_IsNumber (v) || !(v->valuedouble >= 0.0 && v->valuedouble <= 1.0)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must be a number in [0, 1]", field);
      return false;
   }
   *out = v->valuedouble;
   return true;
}

static const cJSON *
need_object (const cJSON *obj, const char *key, tk_error_t *err)
{
   const cJSON *v = cJSON_GetObjectItemCaseSensitive (obj, key);
   if (!cJSON_IsObject (v)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, key, "%s: %s", key,
                          v ? "must be an object" : "is required");
      return NULL;
   }
   return v;
}

static bool
take_tags (const cJSON *c, tk_classification_t *out, tk_error_t *err)
{
   const char *field = "classification.topic_tags";
   const cJSON *tags = cJSON_GetObjectItemCaseSensitive (c, "topic_tags");
   if (!cJSON_IsArray (tags) || cJSON_GetArraySize (tags) > TK_TICKET_MAX_TAGS) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field,
                          "%s: must be an array of at most %d strings", field, TK_TICKET_MAX_TAGS);
      return false;
   }
   const cJSON *t;
   cJSON_ArrayForEach (t, tags)
   {
      if (!cJSON_IsString (t)) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: must hold strings", field);
         return false;
      }
      if (!(out->topic_tags[out->n_topic_tags] = strdup (t->valuestring))) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
         return false;
      }
      out->n_topic_tags++;
   }
   return true;
}

bool
tk_msg_classified_parse (const char *payload, size_t len, tk_msg_classified_t *out,
                         tk_error_t *err)
{
   memset (out, 0, sizeof *out);
   cJSON *o = parse_object (payload, len, TK_MSG_CLASSIFIED_MAX, err);
   const cJSON *c = NULL, *cs = NULL, *md = NULL;
   int64_t ms = 0;
   bool ok = o && take_string (o, "id", "id", &out->id, err) &&
             (c = need_object (o, "classification", err)) && take_tags (c, &out->c, err) &&
             take_string (c, "sentiment", "classification.sentiment", &out->c.sentiment, err) &&
             take_string (c, "priority", "classification.priority", &out->c.priority, err) &&
             (cs = need_object (o, "confidence_scores", err)) &&
             take_confidence (cs, "topic", "confidence_scores.topic", &out->conf.topic, err) &&
             take_confidence (cs, "sentiment", "confidence_scores.sentiment",
                              &out->conf.sentiment, err) &&
             take_confidence (cs, "priority", "confidence_scores.priority", &out->conf.priority,
                              err) &&
             (md = need_object (o, "processing_metadata", err)) &&
             take_time (md, "processed_at", "processing_metadata.processed_at",
                        &out->md.processed_at, err) &&
             take_string (md, "model_version", "processing_metadata.model_version",
                          &out->md.model_version, err) &&
             take_int (md, "processing_time_ms", "processing_metadata.processing_time_ms", 0,
                       JSON_MAX_SAFE_INT, &ms, err) &&
             take_string (md, "agent_version", "processing_metadata.agent_version",
                          &out->md.agent_version, err);
   out->md.processing_time_ms = ms;
   cJSON_Delete (o);
   if (!ok) {
      tk_msg_classified_clear (out);
   }
   return ok;
}

void
tk_msg_classified_clear (tk_msg_classified_t *out)
{
   if (!out) {
      return;
   }
   free (out->id);
   tk_classification_clear (&out->c);
   free (out->md.model_version);
   free (out->md.agent_version);
   memset (out, 0, sizeof *out);
}

/* ---- tickets.dlq -------------------------------------------------------------- */

static char *
base64_encode (const char *data, size_t n)
{
   const unsigned char *s = (const unsigned char *) data;
   char *text = malloc ((n + 2) / 3 * 4 + 1);
   size_t o = 0;
   if (!text) {
      return NULL;
   }
   for (size_t i = 0; i < n; i += 3) {
      uint32_t v = (uint32_t) s[i] << 16 | (i + 1 < n ? (uint32_t) s[i + 1] << 8 : 0) |
                   (i + 2 < n ? s[i + 2] : 0);
      text[o++] = b64_alphabet[v >> 18 & 63];
      text[o++] = b64_alphabet[v >> 12 & 63];
      text[o++] = i + 1 < n ? b64_alphabet[v >> 6 & 63] : '=';
      text[o++] = i + 2 < n ? b64_alphabet[v & 63] : '=';
   }
   text[o] = '\0';
   return text;
}

/* Decodes padded base64; NULL if s is not that (or out of memory). */
static char *
base64_decode (const char *s, size_t *out_len)
{
   size_t n = strlen (s);
   if (n % 4 != 0) {
      return NULL;
   }
   char *out = malloc (n / 4 * 3 + 1);
   size_t o = 0;
   if (!out) {
      return NULL;
   }
   for (size_t i = 0; i < n; i += 4) {
      uint32_t v = 0;
      int pad = 0;
      for (int k = 0; k < 4; k++) {
         const char *p = s[i + k] ? strchr (b64_alphabet, s[i + k]) : NULL;
         bool last = i + 4 == n;
         if (s[i + k] == '=' && last && k >= 2 && (k == 3 || s[i + 3] == '=')) {
            pad++;
            v <<= 6;
         } else if (p && pad == 0) {
            v = v << 6 | (uint32_t) (p - b64_alphabet);
         } else {
            free (out);
            return NULL;
         }
      }
      out[o++] = (char) (v >> 16 & 0xff);
      if (pad < 2) {
         out[o++] = (char) (v >> 8 & 0xff);
      }
      if (pad < 1) {
         out[o++] = (char) (v & 0xff);
      }
   }
   out[o] = '\0';
   *out_len = o;
   return out;
}

/* "message" (and "message_base64") as f->encoding says. */
static bool
add_dlq_message (cJSON *o, const tk_msg_dlq_fields_t *f)
{
   if (!f->message) {
      return cJSON_AddNullToObject (o, "message") != NULL;
   }
   if (f->encoding == TK_MSG_DLQ_JSON) {
      cJSON *req = cJSON_ParseWithLength (f->message, f->message_len);
      if (!req) {
         return cJSON_AddNullToObject (o, "message") != NULL;
      }
      if (!cJSON_AddItemToObject (o, "message", req)) {
         cJSON_Delete (req);
         return false;
      }
      return true;
   }
   bool as_text = tk_utf8_valid (f->message, f->message_len, NULL) &&
                  !memchr (f->message, '\0', f->message_len);
   char *text = as_text ? dup_n (f->message, f->message_len)
                        : base64_encode (f->message, f->message_len);
   bool ok = text && (as_text ? cJSON_AddStringToObject (o, "message", text) != NULL
                              : cJSON_AddNullToObject (o, "message") &&
                                   cJSON_AddStringToObject (o, "message_base64", text));
   free (text);
   return ok;
}

char *
tk_msg_dlq_build (const tk_msg_dlq_fields_t *f, size_t *len, tk_error_t *err)
{
   if (!f->error) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "error", "a DLQ record needs an error");
      return NULL;
   }
   cJSON *o = cJSON_CreateObject ();
   bool ok = o &&
             (f->id ? cJSON_AddStringToObject (o, "id", f->id) != NULL
                    : cJSON_AddNullToObject (o, "id") != NULL) &&
             cJSON_AddStringToObject (o, "error", f->error) &&
             cJSON_AddNumberToObject (o, "attempts", (double) f->attempts) &&
             add_time (o, "failed_at", f->failed_at) &&
             (!f->provider || cJSON_AddStringToObject (o, "provider", f->provider));
   if (ok && f->source_topic) {
      ok = cJSON_AddStringToObject (o, "source_topic", f->source_topic) &&
           cJSON_AddNumberToObject (o, "source_partition", f->source_partition) &&
           cJSON_AddNumberToObject (o, "source_offset", (double) f->source_offset);
   }
   ok = ok && add_dlq_message (o, f);
   return print_and_delete (o, ok, len, err);
}

static bool
take_optional_string (const cJSON *o, const char *key, char **out, tk_error_t *err)
{
   if (!cJSON_GetObjectItemCaseSensitive (o, key)) {
      return true;
   }
   return take_string (o, key, key, out, err);
}

static bool
take_dlq_source (const cJSON *o, tk_msg_dlq_t *out, tk_error_t *err)
{
   int64_t partition = -1, offset = -1;
   if (!take_optional_string (o, "source_topic", &out->source_topic, err)) {
      return false;
   }
   if (out->source_topic &&
       (!take_int (o, "source_partition", "source_partition", -1, INT32_MAX, &partition, err) ||
        !take_int (o, "source_offset", "source_offset", -1, JSON_MAX_SAFE_INT, &offset, err))) {
      return false;
   }
   out->source_partition = (int32_t) partition;
   out->source_offset = offset;
   return true;
}

static bool
take_dlq_message (const cJSON *o, tk_msg_dlq_t *out, tk_error_t *err)
{
   const cJSON *m = cJSON_GetObjectItemCaseSensitive (o, "message");
   const cJSON *b64 = cJSON_GetObjectItemCaseSensitive (o, "message_base64");
   out->encoding = TK_MSG_DLQ_TEXT;
   if (!m) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "message", "message: is required");
      return false;
   }
   if (b64 && !(cJSON_IsNull (m) && cJSON_IsString (b64))) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "message_base64",
                          "message_base64: a string, beside \"message\": null");
      return false;
   }
   if (b64) {
      if (!(out->message = base64_decode (b64->valuestring, &out->message_len))) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "message_base64",
                             "message_base64: not padded base64");
         return false;
      }
      return true;
   }
   if (cJSON_IsNull (m)) {
      return true;
   }
   if (cJSON_IsString (m)) {
      out->message = strdup (m->valuestring);
   } else {
      out->encoding = TK_MSG_DLQ_JSON;
      out->message = cJSON_PrintUnformatted (m);
   }
   if (!out->message) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory");
      return false;
   }
   out->message_len = strlen (out->message);
   return true;
}

bool
tk_msg_dlq_parse (const char *payload, size_t len, tk_msg_dlq_t *out, tk_error_t *err)
{
   memset (out, 0, sizeof *out);
   out->source_partition = -1;
   out->source_offset = -1;
   cJSON *o = parse_object (payload, len, TK_MSG_DLQ_MAX, err);
   int64_t attempts = 0;
   bool ok = o != NULL;
   if (ok) {
      const cJSON *id = cJSON_GetObjectItemCaseSensitive (o, "id");
      if (!cJSON_IsNull (id)) {
         ok = take_string (o, "id", "id", &out->id, err);
      }
   }
   ok = ok && take_string (o, "error", "error", &out->error, err) &&
        take_int (o, "attempts", "attempts", 0, UINT32_MAX, &attempts, err) &&
        take_time (o, "failed_at", "failed_at", &out->failed_at, err) &&
        take_optional_string (o, "provider", &out->provider, err) &&
        take_dlq_source (o, out, err) && take_dlq_message (o, out, err);
   out->attempts = (unsigned) attempts;
   cJSON_Delete (o);
   if (!ok) {
      tk_msg_dlq_clear (out);
   }
   return ok;
}

void
tk_msg_dlq_clear (tk_msg_dlq_t *out)
{
   if (!out) {
      return;
   }
   free (out->id);
   free (out->error);
   free (out->provider);
   free (out->source_topic);
   free (out->message);
   memset (out, 0, sizeof *out);
   out->source_partition = -1;
   out->source_offset = -1;
}
