/* store_open.c - the database connection of the commands that talk to
 * MongoDB directly (check, keys); see cli.h. */
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
