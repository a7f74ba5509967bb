/* routes_static.c - the dashboard's files: GET / (index.html) and
 * GET /static/<path> from TRIAGE_WEB_ROOT (default <exe dir>/../share/triage/web).
 *
 * Every file under the web root is read once at start-up, before the loop
 * runs, into an in-memory table (the built dashboard is a few hundred KB;
 * the table is bounded by STATIC_MAX_FILE and STATIC_MAX_TOTAL), so serving
 * never touches the disk on the loop thread. A rebuilt dashboard is picked
 * up by restarting the api.
 *
 * A request names a file by its path relative to the root and is answered
 * only from the table, so nothing outside it can ever be read; on top of
 * that, a path with a ".." or "." segment, a backslash, an absolute path or
 * a NUL (raw or percent-encoded) is refused with 400 before the lookup.
 *
 * Caching: every file has a strong ETag (a 64-bit FNV-1a of its bytes);
 * If-None-Match gets 304. index.html is sent with "no-cache" (always
 * revalidated, so a new build shows at once); other files may be reused
 * for five minutes and are then revalidated. All responses carry
 * X-Content-Type-Options: nosniff; index.html also a Content-Security-Policy
 * allowing only the page's own scripts.
 */
#include "api.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define STATIC_MAX_FILE (8u * 1024 * 1024)
#define STATIC_MAX_TOTAL (32u * 1024 * 1024)
#define STATIC_MAX_DEPTH 6
#define STATIC_MAX_REL 512

typedef struct static_file {
   char *rel;  /* path under the root, "/"-separated, no leading slash */
   char *data; /* the file's bytes */
   size_t len;
   const char *type; /* static string */
   char etag[24];    /* "\"<16 hex>\"" */
   struct static_file *next;
} static_file_t;

typedef struct {
   char root[PATH_MAX + 32];
   static_file_t *files;
   size_t total;
   bool has_index;
} static_site_t;

static static_site_t site; /* one per process, freed by the shutdown step */

static const struct {
   const char *ext;
   const char *type;
} content_types[] = {
   {".html", "text/html; charset=utf-8"},
   {".js", "text/javascript; charset=utf-8"},
   {".mjs", "text/javascript; charset=utf-8"},
   {".css", "text/css; charset=utf-8"},
   {".json", "application/json"},
   {".map", "application/json"},
   {".svg", "image/svg+xml"},
   {".png", "image/png"},
   {".ico", "image/x-icon"},
   {".woff2", "font/woff2"},
   {".txt", "text/plain; charset=utf-8"},
   {NULL, NULL},
};

static const char *
type_of (const char *name)
{
   const char *dot = strrchr (name, '.');
   for (size_t i = 0; dot && content_types[i].ext; i++) {
      if (!strcmp (dot, content_types[i].ext)) {
         return content_types[i].type;
      }
   }
   return "application/octet-stream";
}

static void
files_free (static_file_t *f)
{
   while (f) {
      static_file_t *next = f->next;
      free (f->rel);
      free (f->data);
      free (f);
      f = next;
   }
}

/* Reads one regular file into the table. false only when a limit is
 * exceeded or on out of memory (err says which). */
static bool
load_file (const char *path, const char *rel, tk_error_t *err)
{
   bool ok = false;
   FILE *fp = NULL;
   static_file_t *f = NULL;
   struct stat st;
   if (stat (path, &st) != 0 || !S_ISREG (st.st_mode)) {
      return true; /* vanished or special: skip */
   }
   if ((size_t) st.st_size > STATIC_MAX_FILE || site.total + (size_t) st.st_size > STATIC_MAX_TOTAL) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_WEB_ROOT",
                          "TRIAGE_WEB_ROOT: %s is too large to serve (limits: %u bytes a file, "
                          "%u in all)",
                          path, STATIC_MAX_FILE, STATIC_MAX_TOTAL);
      return false;
   }
   if (!(f = calloc (1, sizeof *f)) || !(f->rel = strdup (rel)) ||
       !(f->data = malloc ((size_t) st.st_size + 1))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory loading the dashboard");
      goto done;
   }
   if (!(fp = fopen (path, "rb"))) {
      ok = true; /* unreadable: skip, as if absent */
      goto done;
   }
   f->len = fread (f->data, 1, (size_t) st.st_size, fp);
   uint64_t h = tk_hash_fnv1a (f->data, f->len);
   snprintf (f->etag, sizeof f->etag, "\"%016llx\"", (unsigned long long) h);
   f->type = type_of (rel);
   f->next = site.files;
   site.files = f;
   site.total += f->len;
   if (!strcmp (rel, "index.html")) {
      site.has_index = true;
   }
   f = NULL;
   ok = true;
done:
   if (fp) {
      fclose (fp);
   }
   files_free (f);
   return ok;
}

static bool
load_dir (const char *dir, const char *rel, int depth, tk_error_t *err)
{
   bool ok = true;
   DIR *d = opendir (dir);
   if (!d) {
      return true; /* a missing root is reported by the caller */
   }
   struct dirent *de;
   while (ok && (de = readdir (d))) {
      if (de->d_name[0] == '.') {
         continue; /* ., .., hidden files */
      }
      char path[PATH_MAX + 300], sub[STATIC_MAX_REL];
      int pl = snprintf (path, sizeof path, "%s/%s", dir, de->d_name);
      int rl = snprintf (sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", de->d_name);
      if (pl < 0 || (size_t) pl >= sizeof path || rl < 0 || (size_t) rl >= sizeof sub) {
         continue; /* a name too long to be asked for */
      }
      struct stat st;
      if (stat (path, &st) != 0) {
         continue;
      }
      if (S_ISDIR (st.st_mode)) {
         if (depth < STATIC_MAX_DEPTH) {
            ok = load_dir (path, sub, depth + 1, err);
         }
      } else {
         ok = load_file (path, sub, err);
      }
   }
   closedir (d);
   return ok;
}

static const static_file_t *
find_file (const char *rel)
{
   for (const static_file_t *f = site.files; f; f = f->next) {
      if (!strcmp (f->rel, rel)) {
         return f;
      }
   }
   return NULL;
}

/* A relative path a client may ask for: no empty, "." or ".." segment, no
 * backslash, not absolute. */
static bool
rel_path_ok (const char *rel)
{
   if (!rel[0] || rel[0] == '/' || strchr (rel, '\\') || strlen (rel) >= STATIC_MAX_REL) {
      return false;
   }
   const char *s = rel;
   while (*s) {
      const char *e = strchr (s, '/');
      size_t n = e ? (size_t) (e - s) : strlen (s);
      if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
         return false;
      }
      s += n + (e ? 1 : 0);
   }
   return true;
}

static void
send_file (tk_http_request_t *req, const static_file_t *f, bool is_index)
{
   tk_http_add_header (req, "ETag", f->etag);
   tk_http_add_header (req, "X-Content-Type-Options", "nosniff");
   if (is_index) {
      tk_http_add_header (req, "Cache-Control", "no-cache");
      tk_http_add_header (req, "Content-Security-Policy",
                          "default-src 'self'; script-src 'self'; style-src 'self' "
                          "'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
                          "object-src 'none'; base-uri 'none'; frame-ancestors 'none'");
      tk_http_add_header (req, "Referrer-Policy", "no-referrer");
   } else {
      tk_http_add_header (req, "Cache-Control", "public, max-age=300, must-revalidate");
   }
   const char *inm = tk_http_request_header (req, "If-None-Match");
   if (inm && (strstr (inm, f->etag) || !strcmp (inm, "*"))) {
      tk_http_respond (req, 304, NULL, NULL, 0);
      return;
   }
   tk_http_respond (req, 200, f->type, f->data, f->len);
}

static void
not_built (tk_http_request_t *req)
{
   char msg[PATH_MAX + 200];
   snprintf (msg, sizeof msg,
             "the dashboard is not installed: %s has no index.html (build it, or set "
             "TRIAGE_WEB_ROOT)",
             site.root);
   api_respond_error (req, 503, "unavailable", NULL, msg);
}

static void
index_get (tk_http_request_t *req, void *user_data)
{
   (void) user_data;
   const static_file_t *f = find_file ("index.html");
   if (api_request_has_nul (req)) {
      api_respond_error (req, 400, "invalid", NULL, "the path holds a NUL byte");
   } else if (!f) {
      not_built (req);
   } else {
      send_file (req, f, true);
   }
}

static void
static_get (tk_http_request_t *req, void *user_data)
{
   (void) user_data;
   const char *rel = tk_http_request_param (req, "*");
   if (api_request_has_nul (req) || !rel || !rel_path_ok (rel)) {
      api_respond_error (req, 400, "invalid", "path",
                         "a static path is a relative name without '.', '..' or empty "
                         "segments, backslashes or NUL bytes");
      return;
   }
   const static_file_t *f = find_file (rel);
   if (!f) {
      if (!site.has_index) {
         not_built (req);
      } else {
         api_respond_error (req, 404, "not_found", "path", "no such file in the dashboard");
      }
      return;
   }
   send_file (req, f, !strcmp (rel, "index.html"));
}

static void
static_stop_step (void *user_data, void *token)
{
   (void) user_data;
   files_free (site.files);
   site.files = NULL;
   site.total = 0;
   site.has_index = false;
   tk_shutdown_step_done (token);
}

bool
api_routes_static (api_t *api, tk_error_t *err)
{
   const char *cfg_root = api->app->cfg.web_root;
   if (cfg_root && cfg_root[0]) {
      snprintf (site.root, sizeof site.root, "%s", cfg_root);
   } else {
      char exe[PATH_MAX];
      size_t n = sizeof exe;
      if (uv_exepath (exe, &n) != 0) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_WEB_ROOT",
                             "cannot find the executable's directory; set TRIAGE_WEB_ROOT");
         return false;
      }
      char *slash = strrchr (exe, '/');
      if (slash) {
         *slash = '\0';
      }
      snprintf (site.root, sizeof site.root, "%s/../share/triage/web", exe);
   }
   if (!load_dir (site.root, "", 0, err)) {
      files_free (site.files);
      site.files = NULL;
      return false;
   }
   if (site.has_index) {
      TK_INFO ("web", "dashboard served from %s (%zu bytes cached)", site.root, site.total);
   } else {
      TK_WARN ("web", "no dashboard at %s (no index.html): / answers 503; the API works", site.root);
   }
   tk_http_server_t *h = api->app->http;
   if (!tk_http_route (h, "GET", "/", index_get, api, err) ||
       !tk_http_route (h, "GET", "/static/*", static_get, api, err)) {
      return false;
   }
   if (!tk_app_add_shutdown_step (api->app, "web", static_stop_step, NULL)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "cannot add the dashboard's shutdown step");
      return false;
   }
   return true;
}
