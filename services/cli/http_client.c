/* http_client.c - blocking JSON requests for triagectl. */
#include "http_client.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

cJSON *
cli_http_get_json (const char *url, const char *key, char *errbuf, size_t errcap)
{
   return cli_http_json ("GET", url, key, errbuf, errcap);
}

cJSON *
cli_http_json (const char *method, const char *url, const char *key, char *errbuf,
               size_t errcap)
{
   cJSON *doc = NULL;
   body_t body = {0};
   struct curl_slist *headers = NULL;
   char auth[512];
   CURL *c = curl_easy_init ();
   if (!c) {
      snprintf (errbuf, errcap, "cannot initialise libcurl");
      goto done;
   }
   if (key && *key) {
      snprintf (auth, sizeof auth, "Authorization: Bearer %s", key);
      headers = curl_slist_append (headers, auth);
   }
   headers = curl_slist_append (headers, "Accept: application/json");
   curl_easy_setopt (c, CURLOPT_URL, url);
   if (strcmp (method, "POST") == 0) {
      curl_easy_setopt (c, CURLOPT_POSTFIELDS, "");
      curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE, 0L);
   }
   curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);
   curl_easy_setopt (c, CURLOPT_TIMEOUT, 120L);
   curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
   curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, collect);
   curl_easy_setopt (c, CURLOPT_WRITEDATA, &body);
   CURLcode rc = curl_easy_perform (c);
   if (rc != CURLE_OK) {
      snprintf (errbuf, errcap, "%s: %s", url, curl_easy_strerror (rc));
      goto done;
   }
   long status = 0;
   curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
   if (status < 200 || status > 299) {
      snprintf (errbuf, errcap, "%s: HTTP %ld %.200s", url, status, body.data ? body.data : "");
      goto done;
   }
   if (!body.data || !(doc = cJSON_Parse (body.data))) {
      snprintf (errbuf, errcap, "%s: the answer is not JSON", url);
   }
done:
   free (body.data);
   curl_slist_free_all (headers);
   curl_easy_cleanup (c);
   return doc;
}

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
