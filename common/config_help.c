/* config_help.c - describing the settings: --help for a service, the
 * Markdown reference, and a setting's current value as text (secrets
 * redacted).
 */
#include "config_internal.h"

#include <stdio.h>
#include <string.h>

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
      tk_config__format_allowed (var, allowed, sizeof allowed);
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
      tk_config__format_allowed (var, allowed, sizeof allowed);
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
      tk_config__format_allowed (var, allowed, sizeof allowed);
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

/* list as "k=v,k=v" into buf (cap > 0), a password's or secret's value
 * redacted; false when it does not fit. */
static bool
format_kv_list (const tk_kv_list_t *list, char *buf, size_t cap)
{
   size_t used = 0;
   for (size_t i = 0; i < list->len; i++) {
      const char *key = list->items[i].key;
      bool hide = strstr (key, "password") || strstr (key, "secret");
      int n = snprintf (buf + used, cap - used, "%s%s=%s", i ? "," : "", key,
                        hide ? "********" : list->items[i].value);
      if (n < 0 || (size_t) n >= cap - used) {
         return false;
      }
      used += (size_t) n;
   }
   return true;
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
      tk_config__format_duration (*CFIELD (cfg, var, int64_t), tmp, sizeof tmp);
      n = snprintf (buf, cap, "%s", tmp);
      break;
   }
   case TK_CFG_SIZE: {
      char tmp[32];
      tk_config__format_size (*CFIELD (cfg, var, int64_t), tmp, sizeof tmp);
      n = snprintf (buf, cap, "%s", tmp);
      break;
   }
   case TK_CFG_KVLIST:
      return format_kv_list (CFIELD (cfg, var, tk_kv_list_t), buf, cap);
   }
   return n >= 0 && (size_t) n < cap;
}
