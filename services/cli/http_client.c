/* http_client.c - blocking requests to the services for triagectl (see
 * http_client.h). */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An error answer is kept up to this many bytes, for its message. */
#define ERROR_BODY_MAX (64 * 1024)

typedef struct {
   char *data;
   size_t len;
} body_t;

static size_t
collect (char *ptr, size_t size, size_t nmemb, void *ud)
{
   body_t *b = ud;
   size_t n = size * nmemb;
   char *grown = realloc (b->data, b->len + n + 1);
   if (!grown) {
      return 0;
   }
   b->data = grown;
   memcpy (b->data + b->len, ptr, n);
   b->len += n;
   b->data[b->len] = '\0';
   return n;
}

/* "<url>: HTTP <status>: <message>": the api's {"error":{"message"}} when
 * body is one, else the start of body. */
static void
status_error (const char *url, long status, const char *body, size_t len, char *errbuf,
              size_t errcap)
{
   cJSON *doc = body ? cJSON_ParseWithLength (body, len) : NULL;
   const cJSON *msg = cJSON_GetObjectItemCaseSensitive (
      cJSON_GetObjectItemCaseSensitive (doc, "error"), "message");
   if (cJSON_IsString (msg)) {
      snprintf (errbuf, errcap, "%s: HTTP %ld: %s", url, status, msg->valuestring);
   } else {
      snprintf (errbuf, errcap, "%s: HTTP %ld: %.200s", url, status, body ? body : "");
   }
   cJSON_Delete (doc);
}

/* A handle for url with the key and JSON accepted; *headers is the
 * caller's to free. NULL when libcurl cannot start. */
static CURL *
easy_new (const char *url, const char *key, struct curl_slist **headers)
{
   CURL *c = curl_easy_init ();
   if (!c) {
      return NULL;
   }
   if (key && *key) {
      char auth[512];
      snprintf (auth, sizeof auth, "Authorization: Bearer %s", key);
      *headers = curl_slist_append (*headers, auth);
   }
   curl_easy_setopt (c, CURLOPT_URL, url);
   curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
   curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
   return c;
}

cJSON *
cli_http_get_json (const char *url, const char *key, char *errbuf, size_t errcap)
{
   return cli_http_send ("GET", url, key, NULL, NULL, errbuf, errcap);
}

cJSON *
cli_http_json (const char *method, const char *url, const char *key, char *errbuf,
               size_t errcap)
{
   return cli_http_send (method, url, key, NULL, NULL, errbuf, errcap);
}

cJSON *
cli_http_send (const char *method, const char *url, const char *key, const cJSON *body,
               long *status_out, char *errbuf, size_t errcap)
{
   cJSON *doc = NULL;
   body_t answer = {0};
   struct curl_slist *headers = NULL;
   char *text = body ? cJSON_PrintUnformatted (body) : NULL;
   long status = 0;
   CURL *c = easy_new (url, key, &headers);
   if (!c || (body && !text)) {
      snprintf (errbuf, errcap, "%s", c ? "out of memory" : "cannot initialise libcurl");
      goto done;
   }
   headers = curl_slist_append (headers, "Accept: application/json");
   if (text) {
      headers = curl_slist_append (headers, "Content-Type: application/json");
   }
   if (strcmp (method, "POST") == 0) {
      curl_easy_setopt (c, CURLOPT_POSTFIELDS, text ? text : "");
      curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE, (long) (text ? strlen (text) : 0));
   }
   curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);
   curl_easy_setopt (c, CURLOPT_TIMEOUT, 120L);
   curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, collect);
   curl_easy_setopt (c, CURLOPT_WRITEDATA, &answer);
   CURLcode rc = curl_easy_perform (c);
   if (rc != CURLE_OK) {
      snprintf (errbuf, errcap, "%s: %s", url, curl_easy_strerror (rc));
      goto done;
   }
   curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
   if (status < 200 || status > 299) {
      status_error (url, status, answer.data, answer.len, errbuf, errcap);
   } else if (!answer.len) {
      doc = cJSON_CreateObject ();
   } else if (!(doc = cJSON_ParseWithLength (answer.data, answer.len))) {
      snprintf (errbuf, errcap, "%s: the answer is not JSON", url);
   }
done:
   if (status_out) {
      *status_out = status;
   }
   cJSON_free (text);
   free (answer.data);
   curl_slist_free_all (headers);
   curl_easy_cleanup (c);
   return doc;
}

/* ---- streamed downloads --------------------------------------------------------- */

typedef struct {
   CURL *curl;
   FILE *out;
   long status;    /* known from the first body byte on */
   uint64_t bytes; /* written to out */
   bool write_failed;
   body_t error;   /* a non-2xx answer's body, up to ERROR_BODY_MAX */
   char *last;     /* the last line so far (caller's buffer) */
   size_t last_cap, last_len;
   bool line_ended; /* the last byte was a line end: a new line starts */
} download_t;

/* Keeps the last line of what was written (for a closing error line). */
static void
track_last_line (download_t *d, const char *p, size_t n)
{
   for (size_t i = 0; d->last && i < n; i++) {
      if (p[i] == '\n' || p[i] == '\r') {
         d->line_ended = true;
         continue;
      }
      if (d->line_ended) {
         d->last_len = 0;
         d->line_ended = false;
      }
      if (d->last_len + 1 < d->last_cap) {
         d->last[d->last_len++] = p[i];
         d->last[d->last_len] = '\0';
      }
   }
}

static size_t
download_write (char *ptr, size_t size, size_t nmemb, void *ud)
{
   download_t *d = ud;
   size_t n = size * nmemb;
   if (d->status == 0) {
      curl_easy_getinfo (d->curl, CURLINFO_RESPONSE_CODE, &d->status);
   }
   if (d->status < 200 || d->status > 299) {
      size_t keep = d->error.len + n > ERROR_BODY_MAX ? ERROR_BODY_MAX - d->error.len : n;
      return keep == 0 || collect (ptr, 1, keep, &d->error) == keep ? n : 0;
   }
   if (fwrite (ptr, 1, n, d->out) != n) {
      d->write_failed = true;
      return 0;
   }
   d->bytes += n;
   track_last_line (d, ptr, n);
   return n;
}

bool
cli_http_download (const char *url, const char *key, FILE *out, uint64_t *bytes, char *last_line,
                   size_t last_cap, char *errbuf, size_t errcap)
{
   struct curl_slist *headers = NULL;
   download_t d = {.out = out, .last = last_cap ? last_line : NULL, .last_cap = last_cap};
   bool ok = false;
   if (d.last) {
      d.last[0] = '\0';
   }
   if (!(d.curl = easy_new (url, key, &headers))) {
      snprintf (errbuf, errcap, "cannot initialise libcurl");
      return false;
   }
   curl_easy_setopt (d.curl, CURLOPT_HTTPHEADER, headers);
   curl_easy_setopt (d.curl, CURLOPT_WRITEFUNCTION, download_write);
   curl_easy_setopt (d.curl, CURLOPT_WRITEDATA, &d);
   CURLcode rc = curl_easy_perform (d.curl);
   curl_easy_getinfo (d.curl, CURLINFO_RESPONSE_CODE, &d.status);
   if (d.write_failed) {
      snprintf (errbuf, errcap, "%s: writing the output failed", url);
   } else if (rc != CURLE_OK) {
      snprintf (errbuf, errcap, "%s: %s", url, curl_easy_strerror (rc));
   } else if (d.status < 200 || d.status > 299) {
      status_error (url, d.status, d.error.data, d.error.len, errbuf, errcap);
   } else {
      ok = true;
   }
   if (bytes) {
      *bytes = d.bytes;
   }
   free (d.error.data);
   curl_slist_free_all (headers);
   curl_easy_cleanup (d.curl);
   return ok;
}

/* ---- settings and URLs ------------------------------------------------------------ */

const char *
cli_api_key (const char *flag_value)
{
   if (flag_value && *flag_value) {
      return flag_value;
   }
   const char *k = getenv ("TRIAGE_API_KEY");
   if (k && *k) {
      return k;
   }
   k = getenv ("TRIAGE_ADMIN_KEY");
   return k && *k ? k : NULL;
}

const char *
cli_api_url (const char *flag_value)
{
   if (flag_value && *flag_value) {
      return flag_value;
   }
   const char *u = getenv ("TRIAGE_API_URL");
   return u && *u ? u : CLI_API_URL_DEFAULT;
}

bool
cli_url_start (tk_buf_t *url, const char *base, const char *path)
{
   size_t len = strlen (base);
   while (len > 0 && base[len - 1] == '/') {
      len--;
   }
   return tk_buf_append (url, base, len) && tk_buf_append_str (url, path);
}

bool
cli_url_segment (tk_buf_t *url, const char *s)
{
   char *e = curl_easy_escape (NULL, s, 0);
   bool ok = e && tk_buf_appendf (url, "/%s", e);
   curl_free (e);
   return ok;
}

bool
cli_url_param (tk_buf_t *url, const char *key, const char *value)
{
   char *k = curl_easy_escape (NULL, key, 0);
   char *v = curl_easy_escape (NULL, value, 0);
   bool first = !url->data || !memchr (url->data, '?', url->len);
   bool ok = k && v && tk_buf_appendf (url, "%c%s=%s", first ? '?' : '&', k, v);
   curl_free (k);
   curl_free (v);
   return ok;
}
