/* store_open.c - the start shared by the commands that talk to MongoDB
 * directly (check, keys, tickets): their options and their database
 * connection; see cli.h. */
#include "cli.h"

int
cli_store_open (const tk_config_t *cfg, const char *cmd, tk_store_t **store)
{
   tk_error_t err;
   *store = tk_store_new (cfg->mongo_uri, cfg->mongo_db && *cfg->mongo_db ? cfg->mongo_db : NULL,
                          2, &err);
   if (!*store) {
      fprintf (stderr, "triagectl %s: %s\n", cmd, err.message);
      return 2;
   }
   if (!tk_store_ping (*store, &err)) {
      fprintf (stderr, "triagectl %s: %s\n", cmd, err.message);
      return 1;
   }
   return 0;
}

int
cli_config_open (tk_config_t *cfg, const char *cmd, int argc, char **argv,
                 void (*usage) (FILE *out))
{
   tk_error_t err;
   if (!tk_config_load (cfg, TK_SVC_CLI, argc, argv, NULL, &err)) {
      fprintf (stderr, "triagectl %s: %s\n", cmd, err.message);
      tk_config_destroy (cfg);
      return 2;
   }
   if (cfg->help_requested) {
      usage (stdout);
      tk_config_destroy (cfg);
      return 0;
   }
   return -1;
}
