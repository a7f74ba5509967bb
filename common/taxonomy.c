/* taxonomy.c - the built-in taxonomy, loading one from JSON, and lookups. */
#include "taxonomy.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticket_json.h"
#include "utf8.h"

typedef struct {
   const char *label;
   const char *description; /* never NULL; "" when absent */
} taxonomy_entry_t;

struct tk_taxonomy {
   const taxonomy_entry_t *entries[3];
   size_t count[3];
   bool is_static; /* the built-in default: never freed */
};

#define N_KINDS 3

/* The descriptions are the labelling guide's (the one convention every
 * labelled set, the built-in model and the LLM prompt follow: a support
 * lead at a data-catalog company; docs/labelling.md). */
static const taxonomy_entry_t default_topics[] = {
   {"How-to", "Asks how to do something in the product."},
   {"Product", "A feature, behaviour, UI or limit of the product itself."},
   {"Connector", "Connecting, crawling or syncing a source or tool (warehouses, databases, BI tools, dbt, orchestrators, agents, credentials and permissions of a source)."},
   {"Lineage", "Upstream/downstream lineage, its capture, gaps or export."},
   {"API/SDK", "Programmatic access: REST, SDKs, webhooks, automation."},
   {"SSO", "Sign-in, SAML/OIDC, identity providers, group or role sync from them."},
   {"Glossary", "Business glossary, terms, their import and linking."},
   {"Best practices", "How a team should organise, govern or roll out."},
   {"Sensitive data", "PII, classification, masking, access policies, compliance."},
};

static const taxonomy_entry_t default_sentiments[] = {
   {"Frustrated", "Worn down: something keeps failing, is confusing, blocks the author or their team, or a deadline presses (\"still\", \"again\", \"nothing works\", \"this is a hard requirement\")."},
   {"Curious", "Asks how, why or whether; explores; wants to understand or learn."},
   {"Angry", "Hostile or blaming, threatens to escalate or leave, shouting."},
   {"Neutral", "Factual report or request with no emotional voice."},
};

static const taxonomy_entry_t default_priorities[] = {
   {"P0 (High)", "Work is blocked or at risk now: a production source, pipeline or login that fails and a team is waiting on it; data that is wrong, missing or lost in something people rely on; a security or compliance exposure; a hard deadline close at hand (an audit, a launch, an executive review); the author says blocked, critical, urgent, outage, \"cannot\"."},
   {"P1 (Medium)", "A real business need that is not blocking today: a question asked for ongoing work (\"we need to\", \"our team wants to\", \"we are rolling out\"), configuration and integration help, a partial failure with a workaround, a request that a group of people is waiting for without a deadline. Most \"how do I\" questions asked for real work land here."},
   {"P2 (Low)", "Curiosity and learning, nice-to-have, feedback, ideas, a single person exploring a feature with nothing riding on it."},
};

static tk_taxonomy_t default_taxonomy = {
   .entries = {default_topics, default_sentiments, default_priorities},
   .count = {sizeof default_topics / sizeof default_topics[0],
             sizeof default_sentiments / sizeof default_sentiments[0],
             sizeof default_priorities / sizeof default_priorities[0]},
   .is_static = true,
};

static const char *const kind_names[N_KINDS] = {"topic_tags", "sentiment", "priority"};
static const char *const kind_nouns[N_KINDS] = {"topic tag", "sentiment", "priority"};

tk_taxonomy_t *
tk_taxonomy_default (void)
{
   return &default_taxonomy;
}

const char *
tk_taxonomy_kind_name (tk_taxonomy_kind_t kind)
{
   return (unsigned) kind < N_KINDS ? kind_names[kind] : "unknown";
}

void
tk_taxonomy_destroy (tk_taxonomy_t *tax)
{
   if (!tax || tax->is_static) {
      return;
   }
   for (int k = 0; k < N_KINDS; k++) {
      for (size_t i = 0; tax->entries[k] && i < tax->count[k]; i++) {
         free ((void *) tax->entries[k][i].label);
         free ((void *) tax->entries[k][i].description);
      }
      free ((void *) tax->entries[k]);
   }
   free (tax);
}

/* ---- lookups ---- */

static bool
kind_ok (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   return tax && (unsigned) kind < N_KINDS;
}

size_t
tk_taxonomy_count (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind)
{
   return kind_ok (tax, kind) ? tax->count[kind] : 0;
}

const char *
tk_taxonomy_label (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, size_t i)
{
   if (!kind_ok (tax, kind) || i >= tax->count[kind]) {
      return NULL;
   }
   return tax->entries[kind][i].label;
}

const char *
tk_taxonomy_description (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, size_t i)
{
   if (!kind_ok (tax, kind) || i >= tax->count[kind]) {
      return NULL;
   }
   return tax->entries[kind][i].description;
}

int
tk_taxonomy_index (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, const char *label)
{
   if (!kind_ok (tax, kind) || !label) {
      return -1;
   }
   for (size_t i = 0; i < tax->count[kind]; i++) {
      if (strcmp (tax->entries[kind][i].label, label) == 0) {
         return (int) i;
      }
   }
   return -1;
}

static char
ascii_lower (char c)
{
   return c >= 'A' && c <= 'Z' ? (char) (c - 'A' + 'a') : c;
}

static bool
ascii_space (char c)
{
   return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Compares a (n bytes) with the NUL-terminated b ignoring ASCII case. The
 * locale-dependent strcasecmp is avoided on purpose. */
static bool
ascii_case_equal_n (const char *a, size_t n, const char *b)
{
   size_t i = 0;
   for (; i < n; i++) {
      if (b[i] == '\0' || ascii_lower (a[i]) != ascii_lower (b[i])) {
         return false;
      }
   }
   return b[i] == '\0';
}

const char *
tk_taxonomy_canonical (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, const char *label,
                       int *index)
{
   if (index) {
      *index = -1;
   }
   if (!kind_ok (tax, kind) || !label) {
      return NULL;
   }
   size_t len = strlen (label);
   while (len > 0 && ascii_space (label[len - 1])) {
      len--;
   }
   while (len > 0 && ascii_space (*label)) {
      label++;
      len--;
   }
   for (size_t i = 0; i < tax->count[kind]; i++) {
      if (ascii_case_equal_n (label, len, tax->entries[kind][i].label)) {
         if (index) {
            *index = (int) i;
         }
         return tax->entries[kind][i].label;
      }
   }
   return NULL;
}

bool
tk_taxonomy_has_topic (const tk_taxonomy_t *tax, const char *label)
{
   return tk_taxonomy_index (tax, TK_TAXONOMY_TOPIC, label) >= 0;
}

bool
tk_taxonomy_has_sentiment (const tk_taxonomy_t *tax, const char *label)
{
   return tk_taxonomy_index (tax, TK_TAXONOMY_SENTIMENT, label) >= 0;
}

bool
tk_taxonomy_has_priority (const tk_taxonomy_t *tax, const char *label)
{
   return tk_taxonomy_index (tax, TK_TAXONOMY_PRIORITY, label) >= 0;
}

/* ---- validating a classification ---- */

/* Writes a user's value into buf for an error message: at most 64 bytes,
 * never splitting a code point, and not echoed at all if it is not UTF-8. */
static const char *
quote_value (const char *v, char *buf, size_t cap)
{
   size_t len = strlen (v);
   if (!tk_utf8_valid (v, len, NULL)) {
      snprintf (buf, cap, "(not valid UTF-8)");
      return buf;
   }
   size_t n = tk_utf8_prefix_len (v, len, 64);
   snprintf (buf, cap, "\"%.*s%s\"", (int) n, v, n < len ? "..." : "");
   return buf;
}

/* "A, B, C" into buf, stopping with ", ..." before it would overflow. */
static const char *
list_labels (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, char *buf, size_t cap)
{
   size_t used = 0;
   buf[0] = '\0';
   for (size_t i = 0; i < tax->count[kind]; i++) {
      const char *l = tax->entries[kind][i].label;
      size_t need = strlen (l) + (i ? 2 : 0);
      if (used + need + 6 >= cap) {
         snprintf (buf + used, cap - used, "%s...", i ? ", " : "");
         break;
      }
      used += (size_t) snprintf (buf + used, cap - used, "%s%s", i ? ", " : "", l);
   }
   return buf;
}

static bool
check_label (const tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, const char *value,
             const char *field, tk_error_t *err)
{
   char qbuf[96], lbuf[128];
   if (!value) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: required, one of %s", field,
                          list_labels (tax, kind, lbuf, sizeof lbuf));
      return false;
   }
   if (tk_taxonomy_index (tax, kind, value) < 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, field, "%s: %s is not a known %s; expected one of %s",
                          field, quote_value (value, qbuf, sizeof qbuf), kind_nouns[kind],
                          list_labels (tax, kind, lbuf, sizeof lbuf));
      return false;
   }
   return true;
}

bool
tk_taxonomy_validate_classification (const tk_taxonomy_t *tax, const tk_classification_t *c,
                                     tk_error_t *err)
{
   static const char *tags_field = "classification.topic_tags";
   char qbuf[96];

   if (!tax || !c) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, "classification", "classification: missing");
      return false;
   }
   if (c->n_topic_tags == 0) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, tags_field,
                          "%s: at least one topic tag is required", tags_field);
      return false;
   }
   if (c->n_topic_tags > TK_TICKET_MAX_TAGS) {
      tk_error_set_field (err, TK_ERR_INVALID, 0, tags_field,
                          "%s: at most %d topic tags are allowed, got %zu", tags_field,
                          TK_TICKET_MAX_TAGS, c->n_topic_tags);
      return false;
   }
   for (size_t i = 0; i < c->n_topic_tags; i++) {
      if (!check_label (tax, TK_TAXONOMY_TOPIC, c->topic_tags[i], tags_field, err)) {
         return false;
      }
      for (size_t j = 0; j < i; j++) {
         if (strcmp (c->topic_tags[j], c->topic_tags[i]) == 0) {
            tk_error_set_field (err, TK_ERR_INVALID, 0, tags_field, "%s: %s is listed twice",
                                tags_field, quote_value (c->topic_tags[i], qbuf, sizeof qbuf));
            return false;
         }
      }
   }
   return check_label (tax, TK_TAXONOMY_SENTIMENT, c->sentiment, "classification.sentiment",
                       err) &&
          check_label (tax, TK_TAXONOMY_PRIORITY, c->priority, "classification.priority", err);
}

/* ---- loading ---- */

/* Checks one label (is_label) or description from a taxonomy file; where
 * names the entry, e.g. "sentiment[2]", in messages. */
static bool
check_text (const char *s, size_t max, bool is_label, const char *origin, const char *where,
            tk_error_t *err)
{
   size_t len = strlen (s);
   const char *what = is_label ? "label" : "description";

   if (is_label && len == 0) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, where, "%s: %s: label is empty", origin, where);
      return false;
   }
   if (len > max) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, where, "%s: %s: %s exceeds %zu bytes", origin,
                          where, what, max);
      return false;
   }
   for (size_t i = 0; i < len; i++) {
      unsigned char ch = (unsigned char) s[i];
      if (ch < 0x20 || ch == 0x7F) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, where,
                             "%s: %s: %s contains a control character at byte %zu", origin, where,
                             what, i);
         return false;
      }
   }
   if (is_label && (s[0] == ' ' || s[len - 1] == ' ')) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, where,
                          "%s: %s: label \"%s\" has leading or trailing spaces", origin, where, s);
      return false;
   }
   return true;
}

/* The number of entries of list name (arr), which must be an array of 1 to
 * TK_TAXONOMY_MAX_LABELS entries; 0 with err set when it is not. */
static int
list_size (const cJSON *arr, const char *name, const char *origin, tk_error_t *err)
{
   if (!cJSON_IsArray (arr)) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, name, "%s: %s: must be an array of labels",
                          origin, name);
      return 0;
   }
   int n = cJSON_GetArraySize (arr);
   if (n == 0) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, name, "%s: %s: the list is empty", origin, name);
      return 0;
   }
   if (n > TK_TAXONOMY_MAX_LABELS) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, name, "%s: %s: more than %d labels", origin,
                          name, TK_TAXONOMY_MAX_LABELS);
      return 0;
   }
   return n;
}

/* The label and description of an entry given as {"label", "description"}
 * (where names it in messages). *label and *desc are borrowed from item;
 * *desc is left as it is when the description is missing or null. */
static bool
read_entry_object (const cJSON *item, const char *origin, const char *where, const char **label,
                   const char **desc, tk_error_t *err)
{
   const cJSON *f = NULL;
   bool seen_label = false, seen_desc = false;
   cJSON_ArrayForEach (f, item)
   {
      bool is_label = strcmp (f->string, "label") == 0;
      bool is_desc = strcmp (f->string, "description") == 0;
      if (!is_label && !is_desc) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, where,
                             "%s: %s: unknown key \"%.64s\" (expected label, description)",
                             origin, where, f->string);
         return false;
      }
      if ((is_label && seen_label) || (is_desc && seen_desc)) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, where, "%s: %s: \"%s\" appears twice",
                             origin, where, f->string);
         return false;
      }
      if (is_label && cJSON_IsString (f)) {
         *label = f->valuestring;
      } else if (is_desc && cJSON_IsString (f)) {
         *desc = f->valuestring;
      } else if (!(is_desc && cJSON_IsNull (f))) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, where, "%s: %s: \"%s\" must be a string",
                             origin, where, f->string);
         return false;
      }
      seen_label |= is_label;
      seen_desc |= is_desc;
   }
   if (!*label) {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, where, "%s: %s: \"label\" is missing", origin,
                          where);
      return false;
   }
   return true;
}

/* The label and description of one entry (a label string or an object),
 * checked; both are borrowed from item, the description "" when there is
 * none. */
static bool
read_entry (const cJSON *item, const char *origin, const char *where, const char **label,
            const char **desc, tk_error_t *err)
{
   *label = NULL;
   *desc = "";
   if (cJSON_IsString (item)) {
      *label = item->valuestring;
   } else if (cJSON_IsObject (item)) {
      if (!read_entry_object (item, origin, where, label, desc, err)) {
         return false;
      }
   } else {
      tk_error_set_field (err, TK_ERR_CONFIG, 0, where,
                          "%s: %s: must be a label string or {\"label\", \"description\"}",
                          origin, where);
      return false;
   }
   return check_text (*label, TK_LABEL_MAX, true, origin, where, err) &&
          check_text (*desc, TK_TAXONOMY_DESCRIPTION_MAX, false, origin, where, err);
}

/* Refuses label when one of the first i entries of list name already has it
 * (ASCII case ignored). */
static bool
check_unique (const taxonomy_entry_t *entries, size_t i, const char *label, const char *name,
              const char *origin, const char *where, tk_error_t *err)
{
   for (size_t j = 0; j < i; j++) {
      if (ascii_case_equal_n (label, strlen (label), entries[j].label)) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, where,
                             "%s: %s: duplicate label \"%s\" (same as %s[%zu])", origin, where,
                             label, name, j);
         return false;
      }
   }
   return true;
}

/* Parses one list (kind) of the file into tax. */
static bool
load_list (tk_taxonomy_t *tax, tk_taxonomy_kind_t kind, const cJSON *arr, const char *origin,
           tk_error_t *err)
{
   const char *name = kind_names[kind];
   char where[64];
   taxonomy_entry_t *entries = NULL;
   int n;

   if (!(n = list_size (arr, name, origin, err))) {
      return false;
   }
   entries = calloc ((size_t) n, sizeof *entries);
   if (!entries) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "%s: out of memory", origin);
      return false;
   }
   /* Owned by tax from here on, so tk_taxonomy_destroy frees what was
    * filled in so far if a later entry fails. */
   tax->entries[kind] = entries;

   const cJSON *item = NULL;
   size_t i = 0;
   cJSON_ArrayForEach (item, arr)
   {
      const char *label;
      const char *desc;
      snprintf (where, sizeof where, "%s[%zu]", name, i);

      if (!read_entry (item, origin, where, &label, &desc, err) ||
          !check_unique (entries, i, label, name, origin, where, err)) {
         return false;
      }
      entries[i].label = strdup (label);
      entries[i].description = strdup (desc);
      tax->count[kind] = i + 1;
      if (!entries[i].label || !entries[i].description) {
         tk_error_set (err, TK_ERR_NOMEM, 0, "%s: out of memory", origin);
         return false;
      }
      i++;
   }
   return true;
}

/* Sorts the members of the file's object (root) into lists, by kind:
 * lists[k] is borrowed from root, NULL when the file lacks it. An unknown
 * or repeated key is refused. */
static bool
find_lists (const cJSON *root, const cJSON *lists[N_KINDS], const char *origin, tk_error_t *err)
{
   const cJSON *f = NULL;
   cJSON_ArrayForEach (f, root)
   {
      int k = 0;
      while (k < N_KINDS && strcmp (f->string, kind_names[k]) != 0) {
         k++;
      }
      if (k == N_KINDS) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, "",
                             "%s: unknown key \"%.64s\" (expected topic_tags, sentiment, priority)",
                             origin, f->string);
         return false;
      }
      if (lists[k]) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, kind_names[k], "%s: %s: appears twice",
                             origin, kind_names[k]);
         return false;
      }
      lists[k] = f;
   }
   return true;
}

tk_taxonomy_t *
tk_taxonomy_load_json (const char *buf, size_t len, const char *origin, tk_error_t *err)
{
   tk_taxonomy_t *tax = NULL;
   cJSON *root = NULL;
   const cJSON *lists[N_KINDS] = {NULL, NULL, NULL};
   tk_error_t perr;
   bool ok = false;

   if (!origin) {
      origin = "taxonomy";
   }
   if (len > TK_TAXONOMY_FILE_MAX) {
      tk_error_set (err, TK_ERR_CONFIG, 0, "%s: larger than %d bytes", origin,
                    TK_TAXONOMY_FILE_MAX);
      goto done;
   }
   if (!(root = tk_json_parse (buf, len, TK_TAXONOMY_FILE_MAX, &perr))) {
      tk_error_set (err, TK_ERR_CONFIG, 0, "%s: %s", origin, perr.message);
      goto done;
   }
   if (!cJSON_IsObject (root)) {
      tk_error_set (err, TK_ERR_CONFIG, 0,
                    "%s: expected a JSON object with topic_tags, sentiment and priority", origin);
      goto done;
   }
   if (!find_lists (root, lists, origin, err)) {
      goto done;
   }

   tax = calloc (1, sizeof *tax);
   if (!tax) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "%s: out of memory", origin);
      goto done;
   }
   for (int k = 0; k < N_KINDS; k++) {
      if (!lists[k]) {
         tk_error_set_field (err, TK_ERR_CONFIG, 0, kind_names[k], "%s: %s: missing", origin,
                             kind_names[k]);
         goto done;
      }
      if (!load_list (tax, (tk_taxonomy_kind_t) k, lists[k], origin, err)) {
         goto done;
      }
   }
   ok = true;

done:
   cJSON_Delete (root);
   if (!ok) {
      tk_taxonomy_destroy (tax);
      return NULL;
   }
   return tax;
}

tk_taxonomy_t *
tk_taxonomy_load_file (const char *path, tk_error_t *err)
{
   FILE *fp = NULL;
   char *buf = NULL;
   size_t len = 0;
   tk_taxonomy_t *tax = NULL;

   if (!(fp = fopen (path, "rb"))) {
      tk_error_set (err, TK_ERR_IO, errno, "%s: cannot open: %s", path, strerror (errno));
      goto done;
   }
   /* Read one byte past the limit so an oversized file is detected without
    * trusting its reported size. */
   if (!(buf = malloc (TK_TAXONOMY_FILE_MAX + 1))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "%s: out of memory", path);
      goto done;
   }
   len = fread (buf, 1, TK_TAXONOMY_FILE_MAX + 1, fp);
   if (ferror (fp)) {
      tk_error_set (err, TK_ERR_IO, errno, "%s: read failed: %s", path, strerror (errno));
      goto done;
   }
   tax = tk_taxonomy_load_json (buf, len, path, err);

done:
   if (fp) {
      fclose (fp);
   }
   free (buf);
   return tax;
}
