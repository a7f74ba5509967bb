/* cmd_keys.c - `triagectl keys`: API keys managed directly in the database's
 * `api_keys` collection (common/auth.h describes the documents).
 *
 *   triagectl keys [--mongo-uri URI] [--mongo-db DB] create --role ROLE [--name NAME]
 *   triagectl keys [...] list
 *   triagectl keys [...] rotate KEY_ID
 *   triagectl keys [...] revoke KEY_ID
 *
 * create and rotate print the plain key exactly once, on stdout; only its
 * SHA-256 is stored, so it cannot be shown again. rotate gives a key a new
 * secret under the same id, name and role: the old secret stops working at
 * once (services look keys up by hash on every request). revoke marks the
 * key revoked; a revoked key cannot be rotated back to life. Each change is
 * recorded in `audit_log` with key_id "triagectl". Keys are never written to
 * a log.
 *
 * Exit status: 0 done, 1 failure (database, unknown id), 2 usage.
 */
#include "cli.h"
#include "cli_options.h"

#include "audit_log.h"

#include "auth.h"
#include "key_store.h"
#include "config.h"
#include "store.h"
#include "timeutil.h"

#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage (FILE *out)
{
   fprintf (out,
            "usage: triagectl keys [--mongo-uri URI] [--mongo-db DB] <action>\n"
            "\n"
            "  create --role viewer|operator|admin [--name NAME]\n"
            "                    makes a key and prints it once (only its hash is stored)\n"
            "  list              key ids, names, roles, dates and status (never hashes)\n"
            "  rotate KEY_ID     a new secret for the key, printed once; the old one\n"
            "                    stops working at once\n"
            "  revoke KEY_ID     the key stops working\n");
}

/* A new plain key in key and its hash in hash (tk_auth_new_key); says why
 * on stderr when it fails. */
static bool
new_secret (char key[TK_AUTH_KEY_MAX], char hash[TK_KEY_HASH_HEX])
{
   if (!tk_auth_new_key (key, hash)) {
      fprintf (stderr, "triagectl keys: cannot make a key (no randomness or digest available)\n");
      return false;
   }
   return true;
}

/* Records action on key_id in audit_log; a failure is reported, not fatal
 * (the change itself is done). */
static void
audit (mongoc_client_t *client, const char *db, const char *action, const char *key_id,
       const char *role)
{
   bson_t *detail =
      BCON_NEW ("key_id", BCON_UTF8 (key_id), "role", BCON_UTF8 (role ? role : ""));
   tk_audit_entry_t entry = {
      .service = "triagectl",
      .key_id = "triagectl",
      .role = "admin",
      .method = "CLI",
      .route = "triagectl keys",
      .action = action,
      .status = 200,
      .detail = detail,
   };
   bson_t *doc = tk_audit_record_new (&entry);
   tk_error_t err;
   if (!tk_audit_insert (client, db, doc, &err)) {
      fprintf (stderr, "triagectl keys: warning: the audit record was not written: %s\n",
               err.message);
   }
   bson_destroy (doc);
   bson_destroy (detail);
}

static bool
parse_role (const char *arg, void *field, char *why, size_t cap)
{
   *(tk_role_t *) field = tk_role_parse (arg);
   return *(tk_role_t *) field != TK_ROLE_NONE;
}

/* What `keys create` is told. */
typedef struct {
   tk_role_t role;
   const char *name;
} create_args_t;

/* keys create's options (cli_options.h). */
static const cli_option_t create_options[] = {
   {.name = "role", .short_name = 'r', .arg = "ROLE", .kind = CLI_OPT_CUSTOM,
    CLI_FIELD (create_args_t, role), .parse = parse_role, .must = "viewer, operator or admin",
    .help = "what the key may do: viewer, operator or admin (required)"},
   {.name = "name", .short_name = 'n', .arg = "NAME", .kind = CLI_OPT_STRING,
    CLI_FIELD (create_args_t, name), .help = "a name to tell the key by, at most 127 bytes",
    .def = "none"},
   {0},
};

static const cli_command_t create_command = {
   .cmd = "keys create",
   .synopsis = "--role viewer|operator|admin [--name NAME]",
   .description = "Makes a key and prints it once (only its hash is stored).",
   .opts = create_options,
};

static int
keys_create (mongoc_client_t *client, const char *db, int argc, char **argv)
{
   create_args_t a = {.role = TK_ROLE_NONE, .name = ""};
   int first, rc = cli_options_parse (&create_command, &a, argc, argv, &first);
   if (rc >= 0) {
      return rc;
   }
   if (a.role == TK_ROLE_NONE || first != argc) {
      return cli_options_fail (&create_command, "--role must be viewer, operator or admin");
   }
   tk_role_t role = a.role;
   const char *name = a.name;
   if (strlen (name) > 127) {
      fprintf (stderr, "triagectl keys create: --name is limited to 127 bytes\n");
      return 2;
   }
   char key[TK_AUTH_KEY_MAX], hash[TK_KEY_HASH_HEX], key_id[TK_AUTH_KEY_ID_MAX];
   if (!new_secret (key, hash)) {
      return 1;
   }
   if (!tk_auth_new_key_id (key_id)) {
      fprintf (stderr, "triagectl keys: no randomness available\n");
      return 1;
   }
   const tk_key_record_t k = {
      .key_id = key_id, .name = name, .hash = hash, .created_by = "triagectl", .role = role};
   bson_error_t e;
   if (!tk_key_store_insert (client, db, &k, &e)) {
      fprintf (stderr, "triagectl keys create: %s\n", e.message);
      return 1;
   }
   audit (client, db, "keys.create", key_id, tk_role_name (role));
   printf ("id:   %s\nrole: %s\nname: %s\nkey:  %s\n", key_id, tk_role_name (role), name, key);
   fprintf (stderr, "The key is shown only now; store it safely.\n");
   return 0;
}

static const char *
doc_str (const bson_t *doc, const char *field)
{
   bson_iter_t it;
   return bson_iter_init_find (&it, doc, field) && BSON_ITER_HOLDS_UTF8 (&it)
             ? bson_iter_utf8 (&it, NULL)
             : "";
}

static void
doc_date (const bson_t *doc, const char *field, char out[TK_TIME_ISO_BUFSIZE])
{
   bson_iter_t it;
   out[0] = '\0';
   if (bson_iter_init_find (&it, doc, field) && BSON_ITER_HOLDS_DATE_TIME (&it)) {
      tk_time_format_iso (bson_iter_date_time (&it), out, TK_TIME_ISO_BUFSIZE);
   }
}

static int
keys_list (mongoc_client_t *client, const char *db)
{
   mongoc_cursor_t *cur = tk_key_store_list (client, db);
   const bson_t *doc;
   bson_error_t e;
   int rc = 1;
   printf ("%-22s %-9s %-8s %-25s %s\n", "ID", "ROLE", "STATUS", "CREATED", "NAME");
   while (mongoc_cursor_next (cur, &doc)) {
      bson_iter_t it;
      bool revoked = bson_iter_init_find (&it, doc, "revoked") && bson_iter_as_bool (&it);
      char created[TK_TIME_ISO_BUFSIZE];
      doc_date (doc, "created_at", created);
      printf ("%-22s %-9s %-8s %-25s %s\n", doc_str (doc, "key_id"), doc_str (doc, "role"),
              revoked ? "revoked" : "active", created, doc_str (doc, "name"));
   }
   if (mongoc_cursor_error (cur, &e)) {
      fprintf (stderr, "triagectl keys list: %s\n", e.message);
   } else {
      rc = 0;
   }
   mongoc_cursor_destroy (cur);
   return rc;
}

/* rotate (new hash) or revoke KEY_ID; only keys not revoked are touched. */
static int
keys_change (mongoc_client_t *client, const char *db, const char *action, const char *key_id)
{
   bool rotate = strcmp (action, "rotate") == 0;
   char key[TK_AUTH_KEY_MAX], hash[TK_KEY_HASH_HEX];
   if (rotate && !new_secret (key, hash)) {
      return 1;
   }
   int rc = 1;
   int64_t matched = 0;
   bson_error_t e;
   char role[TK_KEY_ROLE_MAX];
   if (!tk_key_store_change (client, db, key_id, rotate ? hash : NULL, true, role, &matched, &e)) {
      fprintf (stderr, "triagectl keys %s: %s\n", action, e.message);
   } else if (matched == 0) {
      fprintf (stderr, "triagectl keys %s: no active key with id %s\n", action, key_id);
   } else {
      audit (client, db, rotate ? "keys.rotate" : "keys.revoke", key_id, role);
      if (rotate) {
         printf ("id:   %s\nrole: %s\nkey:  %s\n", key_id, role, key);
         fprintf (stderr, "The new key is shown only now; the old one no longer works.\n");
      } else {
         printf ("revoked %s\n", key_id);
      }
      rc = 0;
   }
   return rc;
}

int
cli_cmd_keys (int argc, char **argv)
{
   int rc = 1;
   tk_config_t cfg;
   tk_store_t *store = NULL;
   mongoc_client_t *client = NULL;

   if ((rc = cli_config_open (&cfg, "keys", argc, argv, usage)) >= 0) {
      return rc;
   }
   if (cfg.rest_argc < 1) {
      usage (stderr);
      rc = 2;
      goto done;
   }
   const char *action = cfg.rest_argv[0];
   bool is_create = !strcmp (action, "create"), is_list = !strcmp (action, "list");
   bool is_change = !strcmp (action, "rotate") || !strcmp (action, "revoke");
   if (!is_create && !is_list && !is_change) {
      fprintf (stderr, "triagectl keys: unknown action '%s'\n", action);
      usage (stderr);
      rc = 2;
      goto done;
   }
   if ((is_list && cfg.rest_argc != 1) || (is_change && cfg.rest_argc != 2)) {
      usage (stderr);
      rc = 2;
      goto done;
   }
   if ((rc = cli_store_open (&cfg, "keys", &store)) != 0) {
      goto done;
   }
   client = tk_store_client_pop (store);
   const char *db = tk_store_db_name (store);
   if (is_create) {
      rc = keys_create (client, db, cfg.rest_argc, cfg.rest_argv);
   } else if (is_list) {
      rc = keys_list (client, db);
   } else {
      rc = keys_change (client, db, action, cfg.rest_argv[1]);
   }

done:
   tk_store_client_push (store, client);
   tk_store_destroy (store);
   tk_config_destroy (&cfg);
   return rc;
}
