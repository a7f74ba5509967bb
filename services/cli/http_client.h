/* http_client.h - triagectl's blocking HTTP calls to the services (libcurl
 * easy interface: a command-line tool may block), and what every command
 * that talks to the api shares: its address, its key, its options, its
 * error messages, a URL's query string.
 *
 * Error texts put in errbuf read "<url>: HTTP <status>: <the api's
 * error.message>" (or the start of the body when it is no api error), or
 * "<url>: <libcurl's reason>" when no answer came. */
#ifndef TK_CLI_HTTP_CLIENT_H
#define TK_CLI_HTTP_CLIENT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "buf.h"
#include "cli_options.h"

#define CLI_API_URL_DEFAULT "http://127.0.0.1:8080"

/* The two option rows every api command has, for a command whose argument
 * struct `type` has `const char *url, *key` members: --api-url/-u and
 * --key/-k (cli_options.h). */
#define CLI_API_OPTIONS(type)                                                                      \
   {.name = "api-url", .short_name = 'u', .arg = "URL", .kind = CLI_OPT_STRING,                    \
    CLI_FIELD (type, url), .help = "the api's address", .env = "TRIAGE_API_URL",                   \
    .def = CLI_API_URL_DEFAULT},                                                                   \
   {                                                                                               \
      .name = "key", .short_name = 'k', .arg = "KEY", .kind = CLI_OPT_STRING,                      \
      CLI_FIELD (type, key), .help = "API key", .def = "$TRIAGE_API_KEY, else $TRIAGE_ADMIN_KEY"   \
   }

/* GET url with an optional Bearer key; on a 2xx JSON answer returns the
 * parsed document (free with cJSON_Delete), else NULL with a message in
 * errbuf. */
cJSON *cli_http_get_json (const char *url, const char *key, char *errbuf, size_t errcap);

/* The same for method "GET" or "POST" (with an empty body). */
cJSON *cli_http_json (const char *method, const char *url, const char *key, char *errbuf,
                      size_t errcap);

/* method ("GET", "POST") url with the key and, when body is not NULL, body
 * as application/json. A 2xx JSON answer is returned (free with
 * cJSON_Delete; a 2xx without a body is an empty object); otherwise NULL
 * with errbuf filled and *status (if not NULL) the HTTP status, 0 when no
 * answer came. */
cJSON *cli_http_send (const char *method, const char *url, const char *key, const cJSON *body,
                      long *status, char *errbuf, size_t errcap);

/* GET url and write the body to out as it arrives, never holding more than
 * libcurl's buffer. true on a 2xx answer written in full, with *bytes (if
 * not NULL) how many; false with errbuf filled (nothing written to out)
 * when the answer is not 2xx, no answer came, or out refused a write.
 * last_line (may be NULL) gets the body's last line, without its line end,
 * cut to its capacity: a streamed answer's closing error line. */
bool cli_http_download (const char *url, const char *key, FILE *out, uint64_t *bytes,
                        char *last_line, size_t last_cap, char *errbuf, size_t errcap);

/* The API key from --key, else $TRIAGE_API_KEY, else $TRIAGE_ADMIN_KEY, else
 * NULL. Borrowed. */
const char *cli_api_key (const char *flag_value);

/* The api's address from --api-url, else $TRIAGE_API_URL, else
 * CLI_API_URL_DEFAULT. Borrowed. */
const char *cli_api_url (const char *flag_value);

/* Appends base (trailing '/' dropped) and path to url, e.g. "/api/dlq".
 * false when memory runs out. */
bool cli_url_start (tk_buf_t *url, const char *base, const char *path);

/* Appends "/" and s, percent-encoded, to url (a path segment). false when
 * memory runs out. */
bool cli_url_segment (tk_buf_t *url, const char *s);

/* Appends "?key=value" (or "&key=value" after the first) to url, both
 * percent-encoded. false when memory runs out. */
bool cli_url_param (tk_buf_t *url, const char *key, const char *value);

#endif
