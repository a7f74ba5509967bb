/* http_router.h - route table, path matching, percent-decoding and query
 * parsing for http_server.c. Internal to libtriage (services use
 * http_server.h); exposed as a header so the unit test can drive it without
 * sockets.
 */
#ifndef TK_HTTP_ROUTER_H
#define TK_HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "error.h"
#include "http_server.h"

typedef struct {
   char *text; /* literal text, or the parameter name */
   bool param;
} tk_http_seg_t;

typedef struct {
   char *method;    /* as registered: "GET", or "*" */
   int method_id;   /* enum http_method, -1 for any */
   char *pattern;   /* as registered */
   tk_http_seg_t *segs;
   size_t n_segs;   /* segments before the "*" of a prefix route */
   size_t n_params;
   size_t n_literals;
   bool prefix;     /* the pattern ends in a "*" segment */
   tk_http_handler_t handler;
   void *user_data;
   tk_http_access_t access; /* set by tk_http_route_with; {0, 0} by default */
   tk_http_route_stats_t stats;
} tk_http_route_t;

typedef struct {
   tk_http_route_t **routes;
   size_t n, cap;
} tk_http_router_t;

typedef struct {
   const char *name; /* borrowed from the route */
   char *value;      /* decoded, NUL-terminated; in the match's block */
} tk_http_param_t;

typedef enum {
   TK_HTTP_MATCH_FOUND = 0,
   TK_HTTP_MATCH_NOT_FOUND,  /* 404 */
   TK_HTTP_MATCH_BAD_METHOD, /* 405, allow lists the methods */
   TK_HTTP_MATCH_BAD_PATH,   /* 400: bad percent-encoding or a NUL */
   TK_HTTP_MATCH_NOMEM,
} tk_http_match_result_t;

typedef struct {
   const tk_http_route_t *route; /* borrowed from the router */
   tk_http_param_t *params;      /* one malloc block with the values */
   size_t n_params;
   char allow[192];              /* "GET, HEAD, POST" for BAD_METHOD */
} tk_http_match_t;

typedef struct {
   char *key;
   char *value;
} tk_http_query_pair_t;

typedef struct {
   tk_http_query_pair_t *pairs; /* one malloc block with the strings */
   size_t n;
} tk_http_query_t;

/* The enum http_method value for a name ("GET"), -1 if unknown. */
int tk_http_method_from_name (const char *name);

/* Initialises an empty router. */
void tk_http_router_init (tk_http_router_t *r);

/* Frees every route. Accepts NULL. */
void tk_http_router_cleanup (tk_http_router_t *r);

/* Adds a route (see tk_http_route). Returns the route (owned by the router)
 * or NULL with err filled. */
tk_http_route_t *tk_http_router_add (tk_http_router_t *r, const char *method, const char *pattern,
                                     tk_http_handler_t handler, void *user_data, tk_error_t *err);

/* Matches a raw path (not NUL-reliant, without the query) for method (enum
 * http_method). On FOUND, m holds the route and decoded parameters; release
 * with tk_http_match_cleanup in every case. */
tk_http_match_result_t tk_http_router_match (const tk_http_router_t *r, int method,
                                             const char *path, size_t len, tk_http_match_t *m);

/* Frees what a match holds. Accepts NULL. */
void tk_http_match_cleanup (tk_http_match_t *m);

/* Percent-decodes len bytes of in into out (room for len + 1 bytes), with
 * '+' as a space when plus_as_space. NUL-terminates out. Returns the decoded
 * length, or -1 for a malformed escape. */
ssize_t tk_http_percent_decode (const char *in, size_t len, char *out, bool plus_as_space);

/* Parses a query string ("a=1&b=x+y&a=2") into decoded pairs, in order,
 * repeated keys kept. Empty pieces ("&&") are skipped; "k" means value "".
 * false for a malformed escape or a decoded NUL (q is then empty) or out of
 * memory (*nomem set if nomem is non-NULL). */
bool tk_http_query_parse (const char *s, size_t len, tk_http_query_t *q, bool *nomem);

/* Frees a parsed query. Accepts NULL. */
void tk_http_query_cleanup (tk_http_query_t *q);

#endif
