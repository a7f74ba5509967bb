/* config_set.c - setting one value from text: validating it against its
 * row (type, bounds, choices), storing it through the row's offset, and
 * the key=value lists; errors never echo a secret.
 */
#include "config_internal.h"

#include <stdlib.h>
#include <string.h>

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
   tk_config__format_allowed (var, allowed, sizeof allowed);
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

void
tk_config__kv_list_clear (tk_kv_list_t *list)
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

/* A TK_CFG_STRING: a copy of text (within the row's length bounds)
 * replaces the field's string, which is freed. */
static bool
set_string (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
            tk_error_t *err)
{
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

/* A TK_CFG_INT within the row's bounds. */
static bool
set_int (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
         tk_error_t *err)
{
   int64_t i64;
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
}

/* A TK_CFG_BOOL. */
static bool
set_bool (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
          tk_error_t *err)
{
   bool b;
   if (!tk_config_parse_bool (text, &b)) {
      value_error (err, var, who, text, "is not a boolean");
      return false;
   }
   *FIELD (cfg, var, bool) = b;
   return true;
}

/* A TK_CFG_DOUBLE within the row's bounds. */
static bool
set_double (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
            tk_error_t *err)
{
   double d;
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
}

/* A TK_CFG_ENUM: the field holds the index of text among the row's choices. */
static bool
set_enum (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
          tk_error_t *err)
{
   for (int i = 0; var->choices[i]; i++) {
      if (strcmp (var->choices[i], text) == 0) {
         *FIELD (cfg, var, int) = i;
         return true;
      }
   }
   value_error (err, var, who, text, "is not allowed");
   return false;
}

/* A TK_CFG_DURATION (in milliseconds) or TK_CFG_SIZE (in bytes) within the
 * row's bounds. */
static bool
set_quantity (tk_config_t *cfg, const tk_config_var_t *var, const char *who, const char *text,
              tk_error_t *err)
{
   int64_t i64;
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

/* Parses text into var's field. who names the source in messages: the
 * variable name or "--flag". A KVLIST appends one pair if single_pair (a
 * flag), else a comma-separated list. */
bool
tk_config__set_value (tk_config_t *cfg, const tk_config_var_t *var, const char *who,
                      const char *text, bool single_pair, tk_error_t *err)
{
   switch (var->type) {
   case TK_CFG_STRING:
      return set_string (cfg, var, who, text, err);
   case TK_CFG_INT:
      return set_int (cfg, var, who, text, err);
   case TK_CFG_BOOL:
      return set_bool (cfg, var, who, text, err);
   case TK_CFG_DOUBLE:
      return set_double (cfg, var, who, text, err);
   case TK_CFG_ENUM:
      return set_enum (cfg, var, who, text, err);
   case TK_CFG_DURATION:
   case TK_CFG_SIZE:
      return set_quantity (cfg, var, who, text, err);
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
   return tk_config__set_value (cfg, var, var->env, value ? value : "", false, err);
}

