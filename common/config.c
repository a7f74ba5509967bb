/* config.c - loading, validating and describing settings from the table.
 *
 * Nothing here knows a particular setting: every step walks the table of
 * config_table.c and writes through the row's offset into tk_config_t.
 */
#include "config.h"

#include "auth.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

extern char **environ;

#define SEC_MS INT64_C (1000)
#define MIN_MS (SEC_MS * 60)
#define HOUR_MS (MIN_MS * 60)

/* ---------------------------------------------------------------------
 * Parsers
 * ------------------------------------------------------------------- */

bool
tk_config_parse_bool (const char *text, bool *out)
{
   static const char *const yes[] = {"true", "1", "yes", "on"};
   static const char *const no[] = {"false", "0", "no", "off"};
   if (!text) {
      return false;
   }
   for (size_t i = 0; i < 4; i++) {
      if (strcasecmp (text, yes[i]) == 0) {
         *out = true;
         return true;
      }
      if (strcasecmp (text, no[i]) == 0) {
         *out = false;
         return true;
      }
   }
   return false;
}

/* Parses a leading decimal integer (optional sign, no spaces); *end is set
 * past it. False if there are no digits or it overflows. */
static bool
parse_leading_int64 (const char *text, int64_t *out, const char **end)
{
   if (!text || !(isdigit ((unsigned char) text[0]) ||
                  ((text[0] == '-' || text[0] == '+') && isdigit ((unsigned char) text[1])))) {
      return false;
   }
   char *e = NULL;
   errno = 0;
   long long v = strtoll (text, &e, 10);
   if (errno == ERANGE) {
      return false;
   }
   *out = (int64_t) v;
   *end = e;
   return true;
}

bool
tk_config_parse_int64 (const char *text, int64_t *out)
{
   const char *end = NULL;
   int64_t v;
   if (!parse_leading_int64 (text, &v, &end) || *end != '\0') {
      return false;
   }
   *out = v;
   return true;
}

bool
tk_config_parse_double (const char *text, double *out)
{
   if (!text || !*text || isspace ((unsigned char) text[0])) {
      return false;
   }
   char *end = NULL;
   errno = 0;
   double v = strtod (text, &end);
   if (errno == ERANGE || *end != '\0' || !isfinite (v)) {
      return false;
   }
   *out = v;
   return true;
}

typedef struct {
   const char *suffix;
   int64_t scale;
} unit_t;

/* Parses "<integer><unit>" where unit is one of units (matched without
 * regard to case) or empty (scale 1). Rejects negatives and overflow. */
static bool
parse_with_unit (const char *text, const unit_t *units, size_t nunits, int64_t *out)
{
   const char *end = NULL;
   int64_t v;
   if (!parse_leading_int64 (text, &v, &end) || v < 0) {
      return false;
   }
   int64_t scale = 0;
   if (*end == '\0') {
      scale = 1;
   } else {
      for (size_t i = 0; i < nunits; i++) {
         if (strcasecmp (end, units[i].suffix) == 0) {
            scale = units[i].scale;
            break;
         }
      }
   }
   if (scale == 0 || (v > 0 && v > INT64_MAX / scale)) {
      return false;
   }
   *out = v * scale;
   return true;
}

bool
tk_config_parse_duration_ms (const char *text, int64_t *out)
{
   static const unit_t units[] = {
      {"ms", 1}, {"s", SEC_MS}, {"m", MIN_MS}, {"h", HOUR_MS}};
   return parse_with_unit (text, units, sizeof units / sizeof units[0], out);
}

bool
tk_config_parse_size (const char *text, int64_t *out)
{
   static const unit_t units[] = {{"b", 1},
                                  {"kb", INT64_C (1) << 10},
                                  {"mb", INT64_C (1) << 20},
                                  {"gb", INT64_C (1) << 30}};
   return parse_with_unit (text, units, sizeof units / sizeof units[0], out);
}

/* ---------------------------------------------------------------------
 * Formatting values back to text
 * ------------------------------------------------------------------- */

static void
format_duration (int64_t ms, char *buf, size_t cap)
{
   if (ms != 0 && ms % HOUR_MS == 0) {
      snprintf (buf, cap, "%" PRId64 "h", ms / HOUR_MS);
   } else if (ms != 0 && ms % MIN_MS == 0) {
      snprintf (buf, cap, "%" PRId64 "m", ms / MIN_MS);
   } else if (ms != 0 && ms % SEC_MS == 0) {
      snprintf (buf, cap, "%" PRId64 "s", ms / SEC_MS);
   } else {
      snprintf (buf, cap, "%" PRId64 "ms", ms);
   }
}

static void
format_size (int64_t bytes, char *buf, size_t cap)
{
   static const char *const names[] = {"GB", "MB", "KB"};
   static const int shifts[] = {30, 20, 10};
   for (size_t i = 0; i < 3; i++) {
      int64_t unit = INT64_C (1) << shifts[i];
      if (bytes != 0 && bytes % unit == 0) {
         snprintf (buf, cap, "%" PRId64 "%s", bytes / unit, names[i]);
         return;
      }
   }
   snprintf (buf, cap, "%" PRId64 "B", bytes);
}

/* What a row accepts, e.g. "1..65535" or "debug, info, warn, error". */
static void
format_allowed (const tk_config_var_t *var, char *buf, size_t cap)
{
   char lo[32], hi[32];
   buf[0] = '\0';
   switch (var->type) {
   case TK_CFG_INT:
      snprintf (buf, cap, "%" PRId64 "..%" PRId64, var->min, var->max);
      break;
   case TK_CFG_DOUBLE:
      snprintf (buf, cap, "%g..%g", var->dmin, var->dmax);
      break;
   case TK_CFG_DURATION:
      format_duration (var->min, lo, sizeof lo);
      format_duration (var->max, hi, sizeof hi);
      snprintf (buf, cap, "%s..%s", lo, hi);
      break;
   case TK_CFG_SIZE:
      format_size (var->min, lo, sizeof lo);
      format_size (var->max, hi, sizeof hi);
      snprintf (buf, cap, "%s..%s", lo, hi);
      break;
   case TK_CFG_ENUM: {
      size_t used = 0;
      for (size_t i = 0; var->choices[i]; i++) {
         int n = snprintf (buf + used, cap - used, "%s%s", i ? ", " : "", var->choices[i]);
         if (n < 0 || (size_t) n >= cap - used) {
            break;
         }
         used += (size_t) n;
      }
      break;
   }
   case TK_CFG_BOOL:
      snprintf (buf, cap, "true/false, 1/0, yes/no, on/off");
      break;
   case TK_CFG_STRING:
   case TK_CFG_KVLIST:
      break;
   }
}

/* ---------------------------------------------------------------------
 * Table access
 * ------------------------------------------------------------------- */

void
tk_config_foreach_var (void (*cb) (const tk_config_var_t *var, void *ud), void *ud)
{
   size_t n;
   const tk_config_var_t *vars = tk_config_vars (&n);
   for (size_t i = 0; i < n; i++) {
      cb (&vars[i], ud);
   }
}

const tk_config_var_t *
tk_config_find_var (const char *env)
{
   size_t n;
   const tk_config_var_t *vars = tk_config_vars (&n);
   for (size_t i = 0; env && i < n; i++) {
      if (strcmp (vars[i].env, env) == 0) {
         return &vars[i];
      }
   }
   return NULL;
}

static const tk_config_var_t *
find_flag (const char *name, size_t len)
{
   size_t n;
   const tk_config_var_t *vars = tk_config_vars (&n);
   for (size_t i = 0; i < n; i++) {
      if (strlen (vars[i].flag) == len && strncmp (vars[i].flag, name, len) == 0) {
         return &vars[i];
      }
   }
   return NULL;
}

const char *
tk_config_default_for (const tk_config_var_t *var, tk_service_t svc)
{
   for (const tk_config_svc_default_t *d = var->svc_defaults; d && d->services; d++) {
      if (d->services & (unsigned) svc) {
         return d->value;
      }
   }
   return var->def;
}

const char *
tk_service_name (tk_service_t svc)
{
   if (svc & TK_SVC_INGEST) {
      return "ingest";
   }
   if (svc & TK_SVC_CLASSIFIER) {
      return "classifier";
   }
   if (svc & TK_SVC_API) {
      return "api";
   }
   if (svc & TK_SVC_CLI) {
      return "cli";
   }
   return "unknown";
}

#define FIELD(cfg, var, type) ((type *) (void *) ((char *) (cfg) + (var)->offset))
#define CFIELD(cfg, var, type) ((const type *) (const void *) ((const char *) (cfg) + (var)->offset))

/* ---------------------------------------------------------------------
 * Setting one value
 * ------------------------------------------------------------------- */

/* Error for var set from `who` (the variable name or the flag). The text is
 * quoted and shortened; a secret value is never echoed. */
static void
value_error (tk_error_t *err, const tk_config_var_t *var, const char *who, const char *text,
             const char *what)
{
   char shown[80];
   char allowed[160];
   if (var->flags & TK_CFG_SECRET) {
      snprintf (shown, sizeof shown, "(hidden value)");
   } else if (strlen (text) > 60) {
      snprintf (shown, sizeof shown, "\"%.57s...\"", text);
   } else {
      snprintf (shown, sizeof shown, "\"%s\"", text);
   }
   format_allowed (var, allowed, sizeof allowed);
   if (var->type == TK_CFG_ENUM) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: %s %s (one of: %s)", who,
                          shown, what, allowed);
   } else if (allowed[0]) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: %s %s (%s)", who, shown, what,
                          allowed);
   } else {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: %s %s", who, shown, what);
   }
}

static bool
kv_append (tk_kv_list_t *list, const char *key, size_t klen, const char *value, size_t vlen)
{
   if (list->len == list->cap) {
      size_t cap = list->cap ? list->cap * 2 : 8;
      tk_kv_t *items = realloc (list->items, cap * sizeof *items);
      if (!items) {
         return false;
      }
      list->items = items;
      list->cap = cap;
   }
   char *k = strndup (key, klen);
   char *v = strndup (value, vlen);
   if (!k || !v) {
      free (k);
      free (v);
      return false;
   }
   list->items[list->len].key = k;
   list->items[list->len].value = v;
   list->len++;
   return true;
}

static void
kv_list_clear (tk_kv_list_t *list)
{
   for (size_t i = 0; i < list->len; i++) {
      free (list->items[i].key);
      free (list->items[i].value);
   }
   free (list->items);
   memset (list, 0, sizeof *list);
}

/* Appends one "key=value" item of len bytes. */
static bool
kv_append_item (tk_kv_list_t *list, const tk_config_var_t *var, const char *who,
                const char *item, size_t len, tk_error_t *err)
{
   const char *eq = memchr (item, '=', len);
   if (!eq || eq == item) {
      char *copy = strndup (item, len);
      value_error (err, var, who, copy ? copy : "", "is not key=value");
      free (copy);
      return false;
   }
   if (!kv_append (list, item, (size_t) (eq - item), eq + 1, len - (size_t) (eq - item) - 1)) {
      tk_error_set_field (err, TK_ERR_NOMEM, 0, var->env, "%s: out of memory", who);
      return false;
   }
   return true;
}

/* Appends the items of "k=v,k=v" ("\," is a literal comma, "\\" a
 * backslash); empty items are skipped. */
static bool
kv_append_list (tk_kv_list_t *list, const tk_config_var_t *var, const char *who,
                const char *text, tk_error_t *err)
{
   bool ok = false;
   size_t n = strlen (text);
   char *item = malloc (n + 1);
   size_t len = 0;
   if (!item) {
      tk_error_set_field (err, TK_ERR_NOMEM, 0, var->env, "%s: out of memory", who);
      goto done;
   }
   for (size_t i = 0; i <= n; i++) {
      if (text[i] == '\\' && (text[i + 1] == ',' || text[i + 1] == '\\')) {
         item[len++] = text[++i];
      } else if (text[i] == ',' || text[i] == '\0') {
         if (len > 0 && !kv_append_item (list, var, who, item, len, err)) {
            goto done;
         }
         len = 0;
      } else {
         item[len++] = text[i];
      }
   }
   ok = true;
done:
   free (item);
   return ok;
}

/* Parses text into var's field. who names the source in messages: the
 * variable name or "--flag". A KVLIST appends one pair if single_pair (a
 * flag), else a comma-separated list. */
static bool
set_value (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
           bool single_pair, tk_error_t *err)
{
   int64_t i64;
   double d;
   bool b;

   switch (var->type) {
   case TK_CFG_STRING: {
      size_t len = strlen (text);
      if ((int64_t) len < var->min) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: must not be empty", who);
         return false;
      }
      if ((int64_t) len > var->max) {
         value_error (err, var, who, text, "is too long");
         return false;
      }
      char *copy = strdup (text);
      if (!copy) {
         tk_error_set_field (err, TK_ERR_NOMEM, 0, var->env, "%s: out of memory", who);
         return false;
      }
      char **field = FIELD (cfg, var, char *);
      free (*field);
      *field = copy;
      return true;
   }
   case TK_CFG_INT:
      if (!tk_config_parse_int64 (text, &i64)) {
         value_error (err, var, who, text, "is not an integer");
         return false;
      }
      if (i64 < var->min || i64 > var->max) {
         value_error (err, var, who, text, "is out of range");
         return false;
      }
      *FIELD (cfg, var, int) = (int) i64;
      return true;
   case TK_CFG_BOOL:
      if (!tk_config_parse_bool (text, &b)) {
         value_error (err, var, who, text, "is not a boolean");
         return false;
      }
      *FIELD (cfg, var, bool) = b;
      return true;
   case TK_CFG_DOUBLE:
      if (!tk_config_parse_double (text, &d)) {
         value_error (err, var, who, text, "is not a number");
         return false;
      }
      if (d < var->dmin || d > var->dmax) {
         value_error (err, var, who, text, "is out of range");
         return false;
      }
      *FIELD (cfg, var, double) = d;
      return true;
   case TK_CFG_ENUM:
      for (int i = 0; var->choices[i]; i++) {
         if (strcmp (var->choices[i], text) == 0) {
            *FIELD (cfg, var, int) = i;
            return true;
         }
      }
      value_error (err, var, who, text, "is not allowed");
      return false;
   case TK_CFG_DURATION:
   case TK_CFG_SIZE: {
      bool is_duration = var->type == TK_CFG_DURATION;
      bool parsed = is_duration ? tk_config_parse_duration_ms (text, &i64)
                                : tk_config_parse_size (text, &i64);
      if (!parsed) {
         value_error (err, var, who, text,
                      is_duration ? "is not a duration like 500ms, 2s, 1m or 1h"
                                  : "is not a size like 512B, 64KB, 50MB or 1GB");
         return false;
      }
      if (i64 < var->min || i64 > var->max) {
         value_error (err, var, who, text, "is out of range");
         return false;
      }
      *FIELD (cfg, var, int64_t) = i64;
      return true;
   }
   case TK_CFG_KVLIST:
      if (single_pair) {
         return kv_append_item (FIELD (cfg, var, tk_kv_list_t), var, who, text, strlen (text),
                                err);
      }
      return kv_append_list (FIELD (cfg, var, tk_kv_list_t), var, who, text, err);
   }
   tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: unknown type in table", who);
   return false;
}

bool
tk_config_set (tk_config_t *cfg, const char *env, const char *value, tk_error_t *err)
{
   const tk_config_var_t *var = tk_config_find_var (env);
   if (!var) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, env ? env : "", "%s: no such setting",
                          env ? env : "(null)");
      return false;
   }
   return set_value (cfg, var, var->env, value ? value : "", false, err);
}

/* ---------------------------------------------------------------------
 * Loading
 * ------------------------------------------------------------------- */

static const char *
env_lookup (char **envp, const char *name)
{
   size_t n = strlen (name);
   for (char **e = envp; e && *e; e++) {
      if (strncmp (*e, name, n) == 0 && (*e)[n] == '=') {
         return *e + n + 1;
      }
   }
   return NULL;
}

static bool
is_help (const char *arg)
{
   return strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0;
}

/* The per-field thresholds given as text (confidence_threshold.h). */
static bool
parse_thresholds (tk_config_t *cfg, tk_error_t *err)
{
   char why[160];
   if (!tk_threshold_parse (cfg->review_below, &cfg->review_threshold, why, sizeof why)) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_REVIEW_BELOW", "TRIAGE_REVIEW_BELOW: %s",
                          why);
      return false;
   }
   if (!tk_threshold_parse (cfg->cascade_below, &cfg->cascade_threshold, why, sizeof why)) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, "TRIAGE_CASCADE_BELOW",
                          "TRIAGE_CASCADE_BELOW: %s", why);
      return false;
   }
   return true;
}

bool
tk_config_load (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, char **envp,
                tk_error_t *err)
{
   bool ok = false;
   size_t nvars;
   const tk_config_var_t *vars = tk_config_vars (&nvars);
   char progname[64];

   memset (cfg, 0, sizeof *cfg);
   cfg->service = svc;
   snprintf (progname, sizeof progname, (svc & TK_SVC_CLI) ? "triagectl" : "triage-%s",
             tk_service_name (svc));

   /* Defaults first: every field holds a valid value even for rows this
    * program does not use. A default that fails is a bug in the table. */
   for (size_t i = 0; i < nvars; i++) {
      if (!set_value (cfg, &vars[i], vars[i].env, tk_config_default_for (&vars[i], svc), false,
                      err)) {
         goto done;
      }
   }

   /* --help anywhere among the options wins over everything else, so a
    * user can always read the help even with a broken environment. */
   for (int i = 1; i < argc; i++) {
      if (strcmp (argv[i], "--") == 0) {
         break;
      }
      if (is_help (argv[i])) {
         cfg->help_requested = true;
         ok = true;
         goto done;
      }
   }

   for (size_t i = 0; i < nvars; i++) {
      const char *value;
      if (!(vars[i].services & (unsigned) svc)) {
         continue;
      }
      if ((value = env_lookup (envp ? envp : environ, vars[i].env)) &&
          !set_value (cfg, &vars[i], vars[i].env, value, false, err)) {
         goto done;
      }
   }

   for (int i = 1; i < argc; i++) {
      const char *arg = argv[i];
      if (strcmp (arg, "--") == 0 || arg[0] != '-' || arg[1] == '\0') {
         int first = strcmp (arg, "--") == 0 ? i + 1 : i;
         if (!(svc & TK_SVC_CLI)) {
            if (first < argc) {
               tk_error_set_field (err, TK_ERR_CONFIG, 0, argv[first],
                                   "unexpected argument \"%s\" (see --help)", argv[first]);
               goto done;
            }
            break;
         }
         cfg->rest_argc = argc - first;
         cfg->rest_argv = argv + first;
         break;
      }
      if (arg[1] != '-') {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, arg, "unknown option %s (see --help)", arg);
         goto done;
      }
      const char *name = arg + 2;
      const char *eq = strchr (name, '=');
      size_t name_len = eq ? (size_t) (eq - name) : strlen (name);
      const tk_config_var_t *var = find_flag (name, name_len);
      if (!var) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, arg, "unknown option --%.*s (see --help)",
                             (int) name_len, name);
         goto done;
      }
      if (!(var->services & (unsigned) svc)) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env,
                             "--%s (%s) is not an option of %s (see --help)", var->flag,
                             var->env, progname);
         goto done;
      }
      char who[80];
      snprintf (who, sizeof who, "--%s", var->flag);
      const char *value;
      if (eq) {
         value = eq + 1;
      } else if (i + 1 < argc) {
         value = argv[++i];
      } else {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: missing value", who);
         goto done;
      }
      if (!set_value (cfg, var, who, value, true, err)) {
         goto done;
      }
   }

   if (!parse_thresholds (cfg, err)) {
      goto done;
   }
   /* A service holding a weak or well-known admin key would hand out admin
    * rights to anyone who read the docs: refuse to start. triagectl only
    * sends the key as a client, so it is not judged there. */
   if ((svc & (TK_SVC_API | TK_SVC_INGEST)) && cfg->admin_key && cfg->admin_key[0] &&
       !tk_auth_admin_key_ok (cfg->admin_key, err)) {
      goto done;
   }

   ok = true;
done:
   if (!ok) {
      tk_config_destroy (cfg);
   }
   return ok;
}

void
tk_config_destroy (tk_config_t *cfg)
{
   size_t nvars;
   const tk_config_var_t *vars = tk_config_vars (&nvars);
   if (!cfg) {
      return;
   }
   for (size_t i = 0; i < nvars; i++) {
      if (vars[i].type == TK_CFG_STRING) {
         char **field = FIELD (cfg, &vars[i], char *);
         free (*field);
         *field = NULL;
      } else if (vars[i].type == TK_CFG_KVLIST) {
         kv_list_clear (FIELD (cfg, &vars[i], tk_kv_list_t));
      }
   }
   memset (cfg, 0, sizeof *cfg);
}

/* ---------------------------------------------------------------------
 * Describing: --help, Markdown, current values
 * ------------------------------------------------------------------- */

static const char *
type_name (tk_config_type_t type)
{
   switch (type) {
   case TK_CFG_STRING: return "string";
   case TK_CFG_INT: return "integer";
   case TK_CFG_BOOL: return "bool";
   case TK_CFG_DOUBLE: return "number";
   case TK_CFG_ENUM: return "enum";
   case TK_CFG_DURATION: return "duration";
   case TK_CFG_SIZE: return "size";
   case TK_CFG_KVLIST: return "key=value";
   }
   return "?";
}

/* The placeholder after a flag in --help, e.g. "<1..65535>". */
static void
format_placeholder (const tk_config_var_t *var, char *buf, size_t cap)
{
   char allowed[160];
   switch (var->type) {
   case TK_CFG_ENUM:
      format_allowed (var, allowed, sizeof allowed);
      for (char *p = allowed; *p; p++) {
         if (*p == ',') {
            memmove (p, p + 1, strlen (p + 1) + 1); /* ", " -> "|" */
            *p = '|';
         }
      }
      snprintf (buf, cap, "<%s>", allowed);
      break;
   case TK_CFG_INT:
   case TK_CFG_DOUBLE:
      format_allowed (var, allowed, sizeof allowed);
      snprintf (buf, cap, "<%s>", allowed);
      break;
   case TK_CFG_BOOL:
      snprintf (buf, cap, "<true|false>");
      break;
   default:
      snprintf (buf, cap, "<%s>", type_name (var->type));
      break;
   }
}

void
tk_config_print_help (FILE *out, tk_service_t svc, const char *progname)
{
   size_t nvars;
   const tk_config_var_t *vars = tk_config_vars (&nvars);

   fprintf (out, "Usage: %s [options]%s\n\n", progname,
            (svc & TK_SVC_CLI) ? " <command> [arguments]" : "");
   fprintf (out, "Each option can also be set by the environment variable shown with it.\n"
                 "A flag wins over the environment, which wins over the default.\n"
                 "Durations take ms, s, m or h (\"2s\"); sizes take B, KB, MB or GB (\"50MB\").\n\n");
   fprintf (out, "Options:\n");
   for (size_t i = 0; i < nvars; i++) {
      const tk_config_var_t *var = &vars[i];
      char placeholder[192];
      if (!(var->services & (unsigned) svc)) {
         continue;
      }
      format_placeholder (var, placeholder, sizeof placeholder);
      fprintf (out, "  --%s %s\n", var->flag, placeholder);
      fprintf (out, "        %s\n", var->help);
      fprintf (out, "        env %s", var->env);
      if (var->flags & TK_CFG_SECRET) {
         fprintf (out, "; secret, never printed\n");
      } else if (var->type == TK_CFG_KVLIST) {
         fprintf (out, "; repeatable\n");
      } else {
         const char *def = tk_config_default_for (var, svc);
         fprintf (out, "; default %s%s%s\n", *def ? "" : "\"", def, *def ? "" : "\"");
      }
   }
   fprintf (out, "  --help, -h\n        Print this help and exit.\n");
}

/* Writes s for a Markdown table cell: '|' escaped, newlines flattened. */
static void
md_cell (FILE *out, const char *s)
{
   for (; *s; s++) {
      if (*s == '|') {
         fputs ("\\|", out);
      } else if (*s == '\n') {
         fputc (' ', out);
      } else {
         fputc (*s, out);
      }
   }
}

void
tk_config_write_markdown (FILE *out)
{
   size_t nvars;
   const tk_config_var_t *vars = tk_config_vars (&nvars);
   static const tk_service_t svcs[] = {TK_SVC_INGEST, TK_SVC_CLASSIFIER, TK_SVC_API, TK_SVC_CLI};

   fprintf (out, "| Variable | Flag | Type | Default | Used by | Description |\n");
   fprintf (out, "| --- | --- | --- | --- | --- | --- |\n");
   for (size_t i = 0; i < nvars; i++) {
      const tk_config_var_t *var = &vars[i];
      char allowed[160];
      fprintf (out, "| `%s` | `--%s` | %s", var->env, var->flag, type_name (var->type));
      format_allowed (var, allowed, sizeof allowed);
      if (var->type != TK_CFG_BOOL && allowed[0]) {
         fputs (" (", out);
         md_cell (out, allowed);
         fputs (")", out);
      }
      fputs (" | ", out);
      if (var->flags & TK_CFG_SECRET) {
         fputs ("(secret)", out);
      } else if (var->svc_defaults) {
         bool first = true;
         for (const tk_config_svc_default_t *d = var->svc_defaults; d->services; d++) {
            fprintf (out, "%s`%s` (%s)", first ? "" : ", ", d->value,
                     tk_service_name ((tk_service_t) d->services));
            first = false;
         }
      } else if (var->def[0]) {
         fprintf (out, "`%s`", var->def);
      } else {
         fputs ("(empty)", out);
      }
      fputs (" | ", out);
      bool first = true;
      for (size_t s = 0; s < sizeof svcs / sizeof svcs[0]; s++) {
         if (var->services & (unsigned) svcs[s]) {
            fprintf (out, "%s%s", first ? "" : ", ", tk_service_name (svcs[s]));
            first = false;
         }
      }
      fputs (" | ", out);
      md_cell (out, var->help);
      fputs (" |\n", out);
   }
}

bool
tk_config_format_value (const tk_config_t *cfg, const char *env, char *buf, size_t cap)
{
   const tk_config_var_t *var = tk_config_find_var (env);
   int n = 0;
   if (cap == 0) {
      return false;
   }
   buf[0] = '\0';
   if (!var) {
      return false;
   }
   switch (var->type) {
   case TK_CFG_STRING: {
      const char *s = *CFIELD (cfg, var, char *);
      s = s ? s : "";
      n = snprintf (buf, cap, "%s", ((var->flags & TK_CFG_SECRET) && *s) ? "********" : s);
      break;
   }
   case TK_CFG_INT:
      n = snprintf (buf, cap, "%d", *CFIELD (cfg, var, int));
      break;
   case TK_CFG_BOOL:
      n = snprintf (buf, cap, "%s", *CFIELD (cfg, var, bool) ? "true" : "false");
      break;
   case TK_CFG_DOUBLE:
      n = snprintf (buf, cap, "%g", *CFIELD (cfg, var, double));
      break;
   case TK_CFG_ENUM: {
      int v = *CFIELD (cfg, var, int);
      n = snprintf (buf, cap, "%s", var->choices[v]);
      break;
   }
   case TK_CFG_DURATION: {
      char tmp[32];
      format_duration (*CFIELD (cfg, var, int64_t), tmp, sizeof tmp);
      n = snprintf (buf, cap, "%s", tmp);
      break;
   }
   case TK_CFG_SIZE: {
      char tmp[32];
      format_size (*CFIELD (cfg, var, int64_t), tmp, sizeof tmp);
      n = snprintf (buf, cap, "%s", tmp);
      break;
   }
   case TK_CFG_KVLIST: {
      const tk_kv_list_t *list = CFIELD (cfg, var, tk_kv_list_t);
      size_t used = 0;
      for (size_t i = 0; i < list->len; i++) {
         const char *key = list->items[i].key;
         bool hide = strstr (key, "password") || strstr (key, "secret");
         n = snprintf (buf + used, cap - used, "%s%s=%s", i ? "," : "", key,
                       hide ? "********" : list->items[i].value);
         if (n < 0 || (size_t) n >= cap - used) {
            return false;
         }
         used += (size_t) n;
      }
      return true;
   }
   }
   return n >= 0 && (size_t) n < cap;
}
