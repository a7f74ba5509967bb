/* http_router.c - route table, path matching, percent-decoding and query
 * parsing. No sockets here: http_server.c feeds it parsed request paths. */
#include "http_router.h"
#include "http_strict.h"

#include <http_parser.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int
tk_http_method_from_name (const char *name)
{
#define TK_METHOD_CASE(num, id, str)     \
   if (strcmp (name, #str) == 0) {       \
      return num;                        \
   }
   HTTP_METHOD_MAP (TK_METHOD_CASE)
#undef TK_METHOD_CASE
   if (strcmp (name, "M-SEARCH") == 0) {
      return HTTP_MSEARCH;
   }
   return -1;
}

ssize_t
tk_http_percent_decode (const char *in, size_t len, char *out, bool plus_as_space)
{
   size_t o = 0;
   for (size_t i = 0; i < len; i++) {
      char c = in[i];
      if (c == '%') {
         if (i + 2 >= len) { /* fewer than two characters follow */
            out[0] = '\0';
            return -1;
         }
         int hi = tk_http_hex_digit ((unsigned char) in[i + 1]);
         int lo = tk_http_hex_digit ((unsigned char) in[i + 2]);
         if (hi < 0 || lo < 0) {
            out[0] = '\0';
            return -1;
         }
         out[o++] = (char) (hi * 16 + lo);
         i += 2;
      } else if (c == '+' && plus_as_space) {
         out[o++] = ' ';
      } else {
         out[o++] = c;
      }
   }
   out[o] = '\0';
   return (ssize_t) o;
}

void
tk_http_router_init (tk_http_router_t *r)
{
   memset (r, 0, sizeof *r);
}

static void
route_destroy (tk_http_route_t *rt)
{
   if (!rt) {
      return;
   }
   for (size_t i = 0; i < rt->n_segs; i++) {
      free (rt->segs[i].text);
   }
   free (rt->segs);
   free (rt->method);
   free (rt->pattern);
   free (rt);
}

void
tk_http_router_cleanup (tk_http_router_t *r)
{
   if (!r) {
      return;
   }
   for (size_t i = 0; i < r->n; i++) {
      route_destroy (r->routes[i]);
   }
   free (r->routes);
   memset (r, 0, sizeof *r);
}

/* A literal segment may hold only characters that need no escaping, so that
 * comparing it with a decoded path segment is exact. A parameter name is an
 * identifier. */
static bool
segment_valid (const char *s, size_t len, bool param)
{
   if (param && len == 0) {
      return false;
   }
   for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char) s[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || (!param && strchr ("-.~:@!$&'()+,;=", c) && c != '\0');
      if (!ok) {
         return false;
      }
   }
   return true;
}

/* The enum http_method of a route's method name into *id, -1 for "*"; false
 * (err filled) for an unknown name. */
static bool
route_method_id (const char *method, int *id, tk_error_t *err)
{
   *id = strcmp (method, "*") == 0 ? -1 : tk_http_method_from_name (method);
   if (*id < 0 && strcmp (method, "*") != 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "method", "unknown HTTP method \"%s\"", method);
      return false;
   }
   return true;
}

/* A route with copies of method and pattern and no segments yet, or NULL
 * (err filled) when out of memory. The caller frees it with route_destroy. */
static tk_http_route_t *
route_new (const char *method, int method_id, const char *pattern, tk_http_handler_t handler,
           void *user_data, tk_error_t *err)
{
   tk_http_route_t *rt = calloc (1, sizeof *rt);
   if (!rt || !(rt->method = strdup (method)) || !(rt->pattern = strdup (pattern))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory adding a route");
      route_destroy (rt);
      return NULL;
   }
   rt->method_id = method_id;
   rt->handler = handler;
   rt->user_data = user_data;
   rt->stats.route = rt->pattern;
   rt->stats.method = rt->method;
   return rt;
}

/* Appends the pattern piece s (n bytes, "name" or "{param}") to rt's
 * segments, which have room for it. false (err filled) for an invalid piece,
 * a repeated parameter or out of memory; the segment may then be half made,
 * and route_destroy frees it. */
static bool
route_add_segment (tk_http_route_t *rt, const char *pattern, const char *s, size_t n,
                   tk_error_t *err)
{
   bool param = n >= 2 && s[0] == '{' && s[n - 1] == '}';
   const char *text = param ? s + 1 : s;
   size_t tlen = param ? n - 2 : n;
   if (!segment_valid (text, tlen, param)) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "pattern",
                          "route pattern \"%s\" has an invalid segment", pattern);
      return false;
   }
   tk_http_seg_t *seg = &rt->segs[rt->n_segs++];
   seg->param = param;
   if (!(seg->text = strndup (text, tlen))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory adding a route");
      return false;
   }
   if (!param) {
      rt->n_literals++;
      return true;
   }
   for (size_t i = 0; i + 1 < rt->n_segs; i++) {
      if (rt->segs[i].param && strcmp (rt->segs[i].text, seg->text) == 0) {
         tk_error_set_field (err, TK_ERR_INVALID, 0, "pattern",
                             "route pattern \"%s\" repeats {%s}", pattern, seg->text);
         return false;
      }
   }
   rt->n_params++;
   return true;
}

/* Splits rt's pattern (which starts with '/') into rt's segments and marks
 * a prefix route (one whose last segment is "*"). false with err filled;
 * route_destroy frees what was made. */
static bool
route_split (tk_http_route_t *rt, const char *pattern, tk_error_t *err)
{
   size_t plen = strlen (pattern);
   const char *end = pattern + plen;
   if (plen >= 2 && strcmp (end - 2, "/*") == 0) {
      rt->prefix = true;
      end -= 1; /* keep the slash: "/static/" has the segment "static" */
   }
   /* Split what follows the leading '/' at each '/'. */
   size_t cap = 1;
   for (const char *p = pattern + 1; p < end; p++) {
      cap += *p == '/';
   }
   if (!(rt->segs = calloc (cap, sizeof *rt->segs))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory adding a route");
      return false;
   }
   const char *s = pattern + 1;
   while (s <= end) {
      const char *e = memchr (s, '/', (size_t) (end - s));
      if (!e) {
         e = end;
      }
      if (rt->prefix && e == end) {
         break; /* the empty piece after the prefix's final slash */
      }
      if (!route_add_segment (rt, pattern, s, (size_t) (e - s), err)) {
         return false;
      }
      s = e + 1;
   }
   return true;
}

/* Whether r already has a route for method and pattern. */
static bool
router_has (const tk_http_router_t *r, const char *method, const char *pattern)
{
   for (size_t i = 0; i < r->n; i++) {
      if (strcmp (r->routes[i]->pattern, pattern) == 0 &&
          strcmp (r->routes[i]->method, method) == 0) {
         return true;
      }
   }
   return false;
}

/* Appends rt to r, which then owns it; false (err filled, rt still the
 * caller's) when out of memory. */
static bool
router_append (tk_http_router_t *r, tk_http_route_t *rt, tk_error_t *err)
{
   if (r->n == r->cap) {
      size_t ncap = r->cap ? r->cap * 2 : 16;
      tk_http_route_t **p = realloc (r->routes, ncap * sizeof *p);
      if (!p) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory adding a route");
         return false;
      }
      r->routes = p;
      r->cap = ncap;
   }
   r->routes[r->n++] = rt;
   return true;
}

tk_http_route_t *
tk_http_router_add (tk_http_router_t *r, const char *method, const char *pattern,
                    tk_http_handler_t handler, void *user_data, tk_error_t *err)
{
   tk_http_route_t *rt = NULL;
   tk_http_route_t *ret = NULL;
   int method_id = -1;

   if (!method || !pattern || !handler) {
      tk_error_set (err, TK_ERR_INVALID, 0, "route needs a method, a pattern and a handler");
      goto done;
   }
   if (!route_method_id (method, &method_id, err)) {
      goto done;
   }
   if (pattern[0] != '/') {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "pattern",
                          "route pattern \"%s\" does not start with '/'", pattern);
      goto done;
   }
   if (!(rt = route_new (method, method_id, pattern, handler, user_data, err)) ||
       !route_split (rt, pattern, err)) {
      goto done;
   }
   if (router_has (r, method, pattern)) {
      tk_error_set_field (err, TK_ERR_DUPLICATE, 0, "pattern", "route %s %s registered twice",
                          method, pattern);
      goto done;
   }
   if (!router_append (r, rt, err)) {
      goto done;
   }
   ret = rt;
   rt = NULL;
done:
   route_destroy (rt);
   return ret;
}

void
tk_http_match_cleanup (tk_http_match_t *m)
{
   if (!m) {
      return;
   }
   free (m->params);
   m->params = NULL;
   m->n_params = 0;
   m->route = NULL;
}

static bool
method_matches (const tk_http_route_t *rt, int method)
{
   return rt->method_id < 0 || rt->method_id == method ||
          (method == HTTP_HEAD && rt->method_id == HTTP_GET);
}

/* Does rt match the decoded segments? */
static bool
path_matches (const tk_http_route_t *rt, char **segs, size_t n)
{
   if (rt->prefix ? n <= rt->n_segs : n != rt->n_segs) {
      return false;
   }
   for (size_t i = 0; i < rt->n_segs; i++) {
      if (!rt->segs[i].param && strcmp (rt->segs[i].text, segs[i]) != 0) {
         return false;
      }
   }
   return true;
}

/* Higher is more specific: exact before prefix, then more literals, then a
 * longer prefix. */
static size_t
route_rank (const tk_http_route_t *rt)
{
   return (rt->prefix ? 0 : (size_t) 1 << 20) + rt->n_literals * 1024 + rt->n_segs;
}

static void
allow_add (char *allow, size_t cap, const char *method)
{
   size_t ml = strlen (method);
   /* skip duplicates: compare whole comma-separated items */
   for (const char *p = allow; *p;) {
      const char *e = strstr (p, ", ");
      size_t il = e ? (size_t) (e - p) : strlen (p);
      if (il == ml && strncmp (p, method, ml) == 0) {
         return;
      }
      if (!e) {
         break;
      }
      p = e + 2;
   }
   size_t len = strlen (allow);
   if (len + ml + 3 > cap) {
      return;
   }
   if (len) {
      memcpy (allow + len, ", ", 2);
      len += 2;
   }
   memcpy (allow + len, method, ml + 1);
}

/* A raw path split at each '/' with each segment percent-decoded on its own,
 * so an encoded %2F stays inside its segment. Owns block and segs. */
typedef struct {
   char *block;  /* the decoded segments, each NUL-terminated, one after another */
   char **segs;  /* nseg pointers into block */
   size_t nseg;
   size_t used;  /* bytes of block the segments take */
} decoded_path_t;

/* Frees what a decoded path holds. */
static void
decoded_path_cleanup (decoded_path_t *dp)
{
   free (dp->segs);
   free (dp->block);
}

/* Decodes path (len bytes, starting with '/') into dp, which the caller
 * cleans up in every case. TK_HTTP_MATCH_FOUND when every segment decoded,
 * BAD_PATH for a bad escape or a decoded NUL, or NOMEM. */
static tk_http_match_result_t
decoded_path_init (decoded_path_t *dp, const char *path, size_t len)
{
   memset (dp, 0, sizeof *dp);
   dp->nseg = 1;
   for (size_t i = 1; i < len; i++) {
      dp->nseg += path[i] == '/';
   }
   if (!(dp->block = malloc (len + dp->nseg + 1)) ||
       !(dp->segs = calloc (dp->nseg, sizeof *dp->segs))) {
      return TK_HTTP_MATCH_NOMEM;
   }
   size_t k = 0;
   const char *s = path + 1, *end = path + len;
   while (k < dp->nseg) {
      const char *e = memchr (s, '/', (size_t) (end - s));
      if (!e) {
         e = end;
      }
      char *out = dp->block + dp->used;
      ssize_t dl = tk_http_percent_decode (s, (size_t) (e - s), out, false);
      if (dl < 0 || memchr (out, '\0', (size_t) dl)) {
         return TK_HTTP_MATCH_BAD_PATH;
      }
      dp->segs[k++] = out;
      dp->used += (size_t) dl + 1;
      s = e + 1;
   }
   return TK_HTTP_MATCH_FOUND;
}

/* The route of r for method and the decoded path, or NULL. Only the most
 * specific template that has the path counts, whatever its methods: a
 * literal path (/api/tickets/upload) belongs to its own routes, not also to
 * a template with a parameter there (/api/tickets/{id}), so its Allow lists
 * its own methods only, as the OpenAPI description does. Sets *path_known
 * when some route has the path, and adds the methods of the routes of that
 * template with another method to m->allow. */
static const tk_http_route_t *
router_best (const tk_http_router_t *r, int method, const decoded_path_t *dp,
             tk_http_match_t *m, bool *path_known)
{
   size_t top = 0;
   for (size_t i = 0; i < r->n; i++) {
      if (path_matches (r->routes[i], dp->segs, dp->nseg)) {
         *path_known = true;
         size_t rank = route_rank (r->routes[i]);
         top = rank > top ? rank : top;
      }
   }
   const tk_http_route_t *best = NULL;
   for (size_t i = 0; i < r->n; i++) {
      const tk_http_route_t *rt = r->routes[i];
      if (!path_matches (rt, dp->segs, dp->nseg) || route_rank (rt) < top) {
         continue;
      }
      if (!method_matches (rt, method)) {
         allow_add (m->allow, sizeof m->allow, rt->method);
         if (rt->method_id == HTTP_GET) {
            allow_add (m->allow, sizeof m->allow, "HEAD");
         }
         continue;
      }
      if (!best || route_rank (rt) > route_rank (best)) {
         best = rt;
      }
   }
   return best;
}

/* The raw remainder of path (ending at end) after the segments of the
 * prefix route rt and their slashes; its length in *rest_len. */
static const char *
prefix_rest (const tk_http_route_t *rt, const char *path, const char *end, size_t *rest_len)
{
   const char *p = path;
   for (size_t i = 0; i <= rt->n_segs; i++) {
      p = memchr (p, '/', (size_t) (end - p)) + 1;
   }
   *rest_len = (size_t) (end - p);
   return p;
}

/* Copies best's parameters, and a prefix route's decoded remainder as "*",
 * into one block m owns, and sets m->route. FOUND, NOMEM, or BAD_PATH for a
 * remainder that does not decode (m then cleaned up). */
static tk_http_match_result_t
match_fill (tk_http_match_t *m, const tk_http_route_t *best, const decoded_path_t *dp,
            const char *path, size_t len)
{
   size_t np = best->n_params + (best->prefix ? 1 : 0);
   const char *rest = NULL;
   size_t rest_len = 0;
   if (best->prefix) {
      rest = prefix_rest (best, path, path + len, &rest_len);
   }
   size_t need = np * sizeof (tk_http_param_t) + dp->used + rest_len + 1;
   if (!(m->params = malloc (need ? need : 1))) {
      return TK_HTTP_MATCH_NOMEM;
   }
   char *store = (char *) (m->params + np);
   for (size_t i = 0; i < best->n_segs; i++) {
      if (best->segs[i].param) {
         size_t sl = strlen (dp->segs[i]);
         memcpy (store, dp->segs[i], sl + 1);
         m->params[m->n_params].name = best->segs[i].text;
         m->params[m->n_params++].value = store;
         store += sl + 1;
      }
   }
   if (best->prefix) {
      ssize_t dl = tk_http_percent_decode (rest, rest_len, store, false);
      if (dl < 0 || memchr (store, '\0', (size_t) dl)) {
         tk_http_match_cleanup (m);
         return TK_HTTP_MATCH_BAD_PATH;
      }
      m->params[m->n_params].name = "*";
      m->params[m->n_params++].value = store;
   }
   m->route = best;
   return TK_HTTP_MATCH_FOUND;
}

tk_http_match_result_t
tk_http_router_match (const tk_http_router_t *r, int method, const char *path, size_t len,
                      tk_http_match_t *m)
{
   tk_http_match_result_t res = TK_HTTP_MATCH_NOT_FOUND;
   decoded_path_t dp = {0};
   bool path_known = false;

   memset (m, 0, sizeof *m);
   if (len == 0 || path[0] != '/') {
      res = TK_HTTP_MATCH_BAD_PATH;
      goto done;
   }
   if ((res = decoded_path_init (&dp, path, len)) != TK_HTTP_MATCH_FOUND) {
      goto done;
   }
   const tk_http_route_t *best = router_best (r, method, &dp, m, &path_known);
   if (!best) {
      res = path_known ? TK_HTTP_MATCH_BAD_METHOD : TK_HTTP_MATCH_NOT_FOUND;
      goto done;
   }
   res = match_fill (m, best, &dp, path, len);
done:
   decoded_path_cleanup (&dp);
   return res;
}

void
tk_http_query_cleanup (tk_http_query_t *q)
{
   if (!q) {
      return;
   }
   free (q->pairs);
   q->pairs = NULL;
   q->n = 0;
}

bool
tk_http_query_parse (const char *s, size_t len, tk_http_query_t *q, bool *nomem)
{
   bool ok = false;
   size_t npairs = 1;
   memset (q, 0, sizeof *q);
   if (nomem) {
      *nomem = false;
   }
   for (size_t i = 0; i < len; i++) {
      npairs += s[i] == '&';
   }
   /* Decoded text is never longer than the input; each pair adds two NULs. */
   size_t need = npairs * sizeof (tk_http_query_pair_t) + len + 2 * npairs + 1;
   if (!(q->pairs = malloc (need))) {
      if (nomem) {
         *nomem = true;
      }
      goto done;
   }
   char *store = (char *) (q->pairs + npairs);
   const char *p = s, *end = s + len;
   while (p < end) {
      const char *amp = memchr (p, '&', (size_t) (end - p));
      if (!amp) {
         amp = end;
      }
      if (amp > p) {
         const char *eq = memchr (p, '=', (size_t) (amp - p));
         const char *kend = eq ? eq : amp;
         const char *vbeg = eq ? eq + 1 : amp;
         tk_http_query_pair_t *pair = &q->pairs[q->n];
         ssize_t kl = tk_http_percent_decode (p, (size_t) (kend - p), store, true);
         if (kl < 0 || memchr (store, '\0', (size_t) kl)) {
            goto done;
         }
         pair->key = store;
         store += kl + 1;
         ssize_t vl = tk_http_percent_decode (vbeg, (size_t) (amp - vbeg), store, true);
         if (vl < 0 || memchr (store, '\0', (size_t) vl)) {
            goto done;
         }
         pair->value = store;
         store += vl + 1;
         q->n++;
      }
      p = amp + 1;
   }
   ok = true;
done:
   if (!ok) {
      tk_http_query_cleanup (q);
   }
   return ok;
}
