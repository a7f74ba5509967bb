/* config_internal.h - what the configuration's files share: config.c
 * (table access, loading), config_values.c (parsing and formatting one
 * value), config_set.c (setting one value from text) and config_help.c
 * (--help, Markdown, current values). Not for services; they use config.h.
 */
#ifndef TK_CONFIG_INTERNAL_H
#define TK_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* The field var describes, inside cfg. */
#define FIELD(cfg, var, type) ((type *) (void *) ((char *) (cfg) + (var)->offset))
#define CFIELD(cfg, var, type) ((const type *) (const void *) ((const char *) (cfg) + (var)->offset))

/* ---- config_values.c ---------------------------------------------------- */

/* Write ms / bytes / what var accepts (e.g. "1..65535" or "debug, info,
 * warn, error") into buf, NUL-terminated, truncated to cap. */
void tk_config__format_duration (int64_t ms, char *buf, size_t cap);
void tk_config__format_size (int64_t bytes, char *buf, size_t cap);
void tk_config__format_allowed (const tk_config_var_t *var, char *buf, size_t cap);

/* ---- config_set.c -------------------------------------------------------- */

/* Parses text into var's field. who names the source in messages: the
 * variable name or "--flag". A KVLIST appends one pair if single_pair (a
 * flag), else a comma-separated list. */
bool tk_config__set_value (tk_config_t *cfg, const tk_config_var_t *var, const char *who,
                           const char *text, bool single_pair, tk_error_t *err);

/* Frees the pairs of list and empties it. */
void tk_config__kv_list_clear (tk_kv_list_t *list);

#endif
