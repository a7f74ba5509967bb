/* http_client.h - triagectl's blocking HTTP calls to the services (libcurl
 * easy interface: a command-line tool may block). */
#ifndef TK_CLI_HTTP_CLIENT_H
#define TK_CLI_HTTP_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* GET url with an optional Bearer key; on a 2xx JSON answer returns the
 * parsed document (free with cJSON_Delete), else NULL with a message in
 * errbuf. */
cJSON *cli_http_get_json (const char *url, const char *key, char *errbuf, size_t errcap);

/* The same for method "GET" or "POST" (with an empty body). */
cJSON *cli_http_json (const char *method, const char *url, const char *key, char *errbuf,
                      size_t errcap);

/* The API key from --key, else $TRIAGE_API_KEY, else $TRIAGE_ADMIN_KEY, else
 * NULL. Borrowed. */
const char *cli_api_key (const char *flag_value);

#endif
