/* http_request.c - the request accessors handlers use (method, path,
 * query, route parameters, headers, body, client and principal). They only
 * read what http_intake.c and the authenticator stored. See http_server.c for
 * how the HTTP server's files divide the work.
 */
#include "http_internal.h"

#include <string.h>
#include <strings.h>

const char *
tk_http_request_method (const tk_http_request_t *req)
{
   return http_method_str ((enum http_method) req->method);
}

const char *
tk_http_request_path (const tk_http_request_t *req)
{
   return req->path ? req->path : "";
}

const char *
tk_http_request_query_string (const tk_http_request_t *req)
{
   return req->path_len < req->url.len ? req->url.data + req->path_len + 1 : "";
}

const char *
tk_http_request_route (const tk_http_request_t *req)
{
   return req->match.route ? req->match.route->pattern : NULL;
}

const char *
tk_http_request_param (const tk_http_request_t *req, const char *name)
{
   for (size_t i = 0; i < req->match.n_params; i++) {
      if (strcmp (req->match.params[i].name, name) == 0) {
         return req->match.params[i].value;
      }
   }
   return NULL;
}

const char *
tk_http_query_next (const tk_http_request_t *req, const char *key, size_t *cursor,
                    const char **key_out)
{
   while (*cursor < req->query.n) {
      const tk_http_query_pair_t *p = &req->query.pairs[(*cursor)++];
      if (!key || strcmp (p->key, key) == 0) {
         if (key_out) {
            *key_out = p->key;
         }
         return p->value;
      }
   }
   return NULL;
}

const char *
tk_http_query_get (const tk_http_request_t *req, const char *key)
{
   size_t cursor = 0;
   return tk_http_query_next (req, key, &cursor, NULL);
}

const char *
tk_http_request_header (const tk_http_request_t *req, const char *name)
{
   const char *p = req->headers.data;
   const char *end = p ? p + req->headers.len : NULL;
   while (p && p < end) {
      const char *value = p + strlen (p) + 1;
      if (strcasecmp (p, name) == 0) {
         return value;
      }
      p = value + strlen (value) + 1;
   }
   return NULL;
}

const char *
tk_http_request_body (const tk_http_request_t *req, size_t *len)
{
   if (len) {
      *len = req->body.len;
   }
   return req->body.data ? req->body.data : "";
}

const char *
tk_http_request_remote_addr (const tk_http_request_t *req)
{
   return req->client;
}

const char *
tk_http_request_peer_addr (const tk_http_request_t *req)
{
   return req->peer;
}

int
tk_http_request_min_role (const tk_http_request_t *req)
{
   return req->match.route ? req->match.route->access.min_role : 0;
}

int
tk_http_request_role (const tk_http_request_t *req)
{
   return req->role;
}

const char *
tk_http_request_principal (const tk_http_request_t *req)
{
   return req->principal;
}

bool
tk_http_request_is_gone (const tk_http_request_t *req)
{
   return req->conn == NULL;
}

uv_loop_t *
tk_http_request_loop (const tk_http_request_t *req)
{
   return req->server->loop;
}
