/* ferretdb_doc.c - FerretDB 1.x's stored JSON back to BSON (see
 * ferretdb_doc.h). The format was read from the documents FerretDB 1.24
 * writes (its type map "$s", "p", "$k", "t", "i"), written with the project's
 * own fields and with probes of every type listed below. */
#include "ferretdb_doc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* Integers JSON carries exactly through a double: |n| < 2^53. 2^53 itself
 * is refused too: 2^53 + 1, stored exactly by FerretDB, parses to the same
 * double, so the two cannot be told apart once parsed. */
#define EXACT_INT_MAX 9007199254740992.0
/* Nesting deeper than this is refused (a ticket has three levels). */
#define DEPTH_MAX 32

static bool append_value (bson_t *out, const char *key, const cJSON *type, const cJSON *v,
                          int depth, tk_error_t *err);

static bool
unsupported (tk_error_t *err, const char *key, const char *why)
{
   tk_error_set_field (err, TK_ERR_UNSUPPORTED, 0, key, "field \"%s\": %s", key, why);
   return false;
}

/* An integral number within the exact range, into *out. */
static bool
exact_int (const cJSON *v, int64_t *out)
{
   if (!cJSON_IsNumber (v) || fabs (v->valuedouble) >= EXACT_INT_MAX ||
       v->valuedouble != floor (v->valuedouble)) {
      return false;
   }
   *out = (int64_t) v->valuedouble;
   return true;
}

static bool
append_oid (bson_t *out, const char *key, const cJSON *v, tk_error_t *err)
{
   if (!cJSON_IsString (v) || !bson_oid_is_valid (v->valuestring, strlen (v->valuestring)) ||
       strlen (v->valuestring) != 24) {
      return unsupported (err, key, "an objectId that is not 24 hex digits");
   }
   bson_oid_t oid;
   bson_oid_init_from_string (&oid, v->valuestring);
   return bson_append_oid (out, key, -1, &oid);
}

/* The fields of object v, typed by schema s ({"p": {...}, "$k": [...]}),
 * appended to out. */
static bool
append_fields (bson_t *out, const cJSON *s, const cJSON *v, int depth, tk_error_t *err)
{
   if (depth > DEPTH_MAX) {
      return unsupported (err, "", "nested too deeply");
   }
   if (!cJSON_IsObject (s) || !cJSON_IsObject (v)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "a document without its type map");
      return false;
   }
   const cJSON *props = cJSON_GetObjectItemCaseSensitive (s, "p");
   const cJSON *keys = cJSON_GetObjectItemCaseSensitive (s, "$k");
   if (!keys && !props) {
      return true; /* {} */
   }
   if (!cJSON_IsArray (keys) || !cJSON_IsObject (props)) {
      tk_error_set (err, TK_ERR_INVALID, 0, "a type map without its keys");
      return false;
   }
   const cJSON *k;
   int n = 0;
   cJSON_ArrayForEach (k, keys)
   {
      if (!cJSON_IsString (k)) {
         tk_error_set (err, TK_ERR_INVALID, 0, "a key that is not a string");
         return false;
      }
      const cJSON *type = cJSON_GetObjectItemCaseSensitive (props, k->valuestring);
      const cJSON *value = cJSON_GetObjectItemCaseSensitive (v, k->valuestring);
      if (!type || !value) {
         return unsupported (err, k->valuestring, "listed without a type or a value");
      }
      if (!append_value (out, k->valuestring, type, value, depth, err)) {
         return false;
      }
      n++;
   }
   /* Every value is one of the listed keys ("$s" aside). */
   if (cJSON_GetArraySize (v) != n + (cJSON_GetObjectItemCaseSensitive (v, "$s") ? 1 : 0)) {
      return unsupported (err, "", "values that the type map does not list");
   }
   return true;
}

static bool
append_array (bson_t *out, const char *key, const cJSON *type, const cJSON *v, int depth,
              tk_error_t *err)
{
   const cJSON *items = cJSON_GetObjectItemCaseSensitive (type, "i");
   if (!cJSON_IsArray (v) || !cJSON_IsArray (items) ||
       cJSON_GetArraySize (items) != cJSON_GetArraySize (v)) {
      return unsupported (err, key, "an array whose item types do not match it");
   }
   bson_t child;
   if (!bson_append_array_begin (out, key, -1, &child)) {
      return unsupported (err, key, "too large");
   }
   const cJSON *item = v->child, *item_type = items->child;
   bool ok = true;
   for (uint32_t i = 0; ok && item; i++, item = item->next, item_type = item_type->next) {
      char buf[16];
      const char *ikey;
      bson_uint32_to_string (i, &ikey, buf, sizeof buf);
      ok = append_value (&child, ikey, item_type, item, depth + 1, err);
   }
   return bson_append_array_end (out, &child) && ok;
}

/* A value of a type without parts: string, bool, null, double, int. *done
 * is false when name is none of them. */
static bool
append_plain (bson_t *out, const char *key, const char *name, const cJSON *v, bool *done,
              tk_error_t *err)
{
   int64_t n;
   *done = true;
   if (!strcmp (name, "string")) {
      return cJSON_IsString (v) ? bson_append_utf8 (out, key, -1, v->valuestring, -1) ||
                                     unsupported (err, key, "too large")
                                : unsupported (err, key, "a string that is not one");
   }
   if (!strcmp (name, "bool")) {
      return cJSON_IsBool (v) ? bson_append_bool (out, key, -1, cJSON_IsTrue (v))
                              : unsupported (err, key, "a bool that is not one");
   }
   if (!strcmp (name, "null")) {
      return cJSON_IsNull (v) ? bson_append_null (out, key, -1)
                              : unsupported (err, key, "a null that is not one");
   }
   if (!strcmp (name, "double")) {
      return cJSON_IsNumber (v) ? bson_append_double (out, key, -1, v->valuedouble)
                                : unsupported (err, key, "a double not written as a number");
   }
   if (!strcmp (name, "int")) {
      if (!exact_int (v, &n) || n < INT32_MIN || n > INT32_MAX) {
         return unsupported (err, key, "an int out of range");
      }
      return bson_append_int32 (out, key, -1, (int32_t) n);
   }
   *done = false;
   return false;
}

static bool
append_value (bson_t *out, const char *key, const cJSON *type, const cJSON *v, int depth,
              tk_error_t *err)
{
   const cJSON *t = cJSON_GetObjectItemCaseSensitive (type, "t");
   if (!cJSON_IsString (t)) {
      return unsupported (err, key, "no type");
   }
   const char *name = t->valuestring;
   bool plain;
   bool ok = append_plain (out, key, name, v, &plain, err);
   if (plain) {
      return ok;
   }
   int64_t n;
   if (!strcmp (name, "long") || !strcmp (name, "date")) {
      if (!exact_int (v, &n)) {
         return unsupported (err, key, "an integer JSON cannot carry exactly");
      }
      return name[0] == 'l' ? bson_append_int64 (out, key, -1, n)
                            : bson_append_date_time (out, key, -1, n);
   }
   if (!strcmp (name, "objectId")) {
      return append_oid (out, key, v, err);
   }
   if (!strcmp (name, "object")) {
      bson_t child;
      if (!bson_append_document_begin (out, key, -1, &child)) {
         return unsupported (err, key, "too large");
      }
      ok = append_fields (&child, cJSON_GetObjectItemCaseSensitive (type, "$s"), v, depth + 1,
                          err);
      return bson_append_document_end (out, &child) && ok;
   }
   if (!strcmp (name, "array")) {
      return append_array (out, key, type, v, depth, err);
   }
   return unsupported (err, key, "a type this reader does not reproduce");
}

bool
tk_ferretdb_doc_to_bson (const char *json, size_t len, bson_t *out, tk_error_t *err)
{
   cJSON *doc = cJSON_ParseWithLength (json, len);
   if (!doc) {
      tk_error_set (err, TK_ERR_INVALID, 0, "not JSON");
      return false;
   }
   bool ok = append_fields (out, cJSON_GetObjectItemCaseSensitive (doc, "$s"), doc, 0, err);
   cJSON_Delete (doc);
   return ok;
}
