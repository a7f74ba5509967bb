/* config.c - the configuration's table access and loading: walking and
 * searching the table of config_table.c, loading a service's settings from
 * its defaults, the environment and its flags, and freeing them.
 *
 * Nothing here knows a particular setting: every step walks the table of
 * config_table.c and writes through the row's offset into tk_config_t.
 * Parsing one value is in config_values.c, setting one from text in
 * config_set.c, describing settings in config_help.c; they share
 * config_internal.h.
 */
#include "config_internal.h"

#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

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

/* Every field from its default for svc: every field holds a valid value
 * even for rows this program does not use. A default that fails is a bug in
 * the table. */
static bool
load_defaults (tk_config_t *cfg, tk_service_t svc, tk_error_t *err)
{
   size_t nvars;
   const tk_config_var_t *vars = tk_config_vars (&nvars);
   for (size_t i = 0; i < nvars; i++) {
      if (!tk_config__set_value (cfg, &vars[i], vars[i].env, tk_config_default_for (&vars[i], svc),
                                 false, err)) {
         return false;
      }
   }
   return true;
}

/* Whether --help or -h is among the options (those before "--"). */
static bool
help_among_options (int argc, char **argv)
{
   for (int i = 1; i < argc; i++) {
      if (strcmp (argv[i], "--") == 0) {
         break;
      }
      if (is_help (argv[i])) {
         return true;
      }
   }
   return false;
}

/* The values svc's rows take from the environment envp (environ when NULL),
 * over the defaults. */
static bool
load_env (tk_config_t *cfg, tk_service_t svc, char **envp, tk_error_t *err)
{
   size_t nvars;
   const tk_config_var_t *vars = tk_config_vars (&nvars);
   for (size_t i = 0; i < nvars; i++) {
      const char *value;
      if (!(vars[i].services & (unsigned) svc)) {
         continue;
      }
      if ((value = env_lookup (envp ? envp : environ, vars[i].env)) &&
          !tk_config__set_value (cfg, &vars[i], vars[i].env, value, false, err)) {
         return false;
      }
   }
   return true;
}

/* The operands, from argv[i] (the first that is not an option, or "--"):
 * triagectl keeps them in cfg->rest_argv (borrowed from argv); a service
 * takes none and refuses the first. */
static bool
load_operands (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, int i, tk_error_t *err)
{
   int first = strcmp (argv[i], "--") == 0 ? i + 1 : i;
   if (!(svc & TK_SVC_CLI)) {
      if (first < argc) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, argv[first],
                             "unexpected argument \"%s\" (see --help)", argv[first]);
         return false;
      }
      return true;
   }
   cfg->rest_argc = argc - first;
   cfg->rest_argv = argv + first;
   return true;
}

/* The option argv[*i] (--flag=value or --flag value), set over the
 * environment's value; *i moves past a value given as the next argument. */
static bool
load_flag (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, int *i, tk_error_t *err)
{
   const char *arg = argv[*i];
   if (arg[1] != '-') {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, arg, "unknown option %s (see --help)", arg);
      return false;
   }
   const char *name = arg + 2;
   const char *eq = strchr (name, '=');
   size_t name_len = eq ? (size_t) (eq - name) : strlen (name);
   const tk_config_var_t *var = find_flag (name, name_len);
   if (!var) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, arg, "unknown option --%.*s (see --help)",
                          (int) name_len, name);
      return false;
   }
   if (!(var->services & (unsigned) svc)) {
      char progname[64];
      snprintf (progname, sizeof progname, (svc & TK_SVC_CLI) ? "triagectl" : "triage-%s",
                tk_service_name (svc));
      tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env,
                          "--%s (%s) is not an option of %s (see --help)", var->flag, var->env,
                          progname);
      return false;
   }
   char who[80];
   snprintf (who, sizeof who, "--%s", var->flag);
   const char *value;
   if (eq) {
      value = eq + 1;
   } else if (*i + 1 < argc) {
      value = argv[++*i];
   } else {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, var->env, "%s: missing value", who);
      return false;
   }
   return tk_config__set_value (cfg, var, who, value, true, err);
}

/* The command line's options, in order, over the environment's values, then
 * its operands. */
static bool
load_args (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, tk_error_t *err)
{
   for (int i = 1; i < argc; i++) {
      const char *arg = argv[i];
      if (strcmp (arg, "--") == 0 || arg[0] != '-' || arg[1] == '\0') {
         return load_operands (cfg, svc, argc, argv, i, err);
      }
      if (!load_flag (cfg, svc, argc, argv, &i, err)) {
         return false;
      }
   }
   return true;
}

bool
tk_config_load (tk_config_t *cfg, tk_service_t svc, int argc, char **argv, char **envp,
                tk_error_t *err)
{
   bool ok = false;

   memset (cfg, 0, sizeof *cfg);
   cfg->service = svc;

   if (!load_defaults (cfg, svc, err)) {
      goto done;
   }
   /* --help anywhere among the options wins over everything else, so a
    * user can always read the help even with a broken environment. */
   if (help_among_options (argc, argv)) {
      cfg->help_requested = true;
      ok = true;
      goto done;
   }
   if (!load_env (cfg, svc, envp, err) || !load_args (cfg, svc, argc, argv, err) ||
       !parse_thresholds (cfg, err)) {
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
         tk_config__kv_list_clear (FIELD (cfg, &vars[i], tk_kv_list_t));
      }
   }
   memset (cfg, 0, sizeof *cfg);
}

