/* Every TRIAGE_* name the docker-compose files and .env set must be a real
 * setting of the configuration table: a misspelt name would be ignored
 * silently by the services. And each service must be given only settings it
 * reads. */
#include "test_support.h"

#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp (const char *rel)
{
   char path[1024];
   snprintf (path, sizeof path, "%s/%s", TRIAGE_SOURCE_DIR, rel);
   FILE *f = fopen (path, "rb");
   if (!f) {
      return NULL;
   }
   fseek (f, 0, SEEK_END);
   long n = ftell (f);
   fseek (f, 0, SEEK_SET);
   char *buf = malloc ((size_t) n + 1);
   size_t got = fread (buf, 1, (size_t) n, f);
   buf[got] = '\0';
   fclose (f);
   return buf;
}

/* Calls check for each TRIAGE_[A-Z0-9_]+ token in text. Returns the count. */
static int
each_var (const char *text, const char *file, int *unknown)
{
   int count = 0;
   for (const char *p = strstr (text, "TRIAGE_"); p; p = strstr (p + 1, "TRIAGE_")) {
      if (p > text && (isalnum ((unsigned char) p[-1]) || p[-1] == '_')) {
         continue; /* part of a longer name */
      }
      size_t n = 0;
      while (isupper ((unsigned char) p[n]) || isdigit ((unsigned char) p[n]) || p[n] == '_') {
         n++;
      }
      if (n == strlen ("TRIAGE_")) {
         continue; /* the bare prefix, as in "TRIAGE_* settings" */
      }
      char name[96];
      snprintf (name, sizeof name, "%.*s", (int) n, p);
      count++;
      if (!tk_config_find_var (name)) {
         fprintf (stderr, "%s names %s, which is not a setting\n", file, name);
         (*unknown)++;
      }
   }
   return count;
}

static void
test_compose_names_are_settings (void **state)
{
   (void) state;
   const char *files[] = {"deploy/docker-compose.yml", "deploy/.env.example",
                          "deploy/docker-compose.cluster.yml"};
   int unknown = 0, seen = 0;
   for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
      char *text = slurp (files[i]);
      if (!text) {
         /* The cluster file is optional; the other two must exist. */
         assert_true (i == 2);
         continue;
      }
      seen += each_var (text, files[i], &unknown);
      free (text);
   }
   assert_true (seen > 10); /* the files really were read */
   assert_int_equal (unknown, 0);
}

static void
test_env_reference_lists_every_server_setting (void **state)
{
   (void) state;
   char *text = slurp ("deploy/env.reference");
   assert_non_null (text);
   size_t n = 0;
   const tk_config_var_t *vars = tk_config_vars (&n);
   for (size_t i = 0; i < n; i++) {
      if (!(vars[i].services & TK_SVC_SERVERS)) {
         continue;
      }
      char needle[128];
      snprintf (needle, sizeof needle, "# %s=", vars[i].env);
      if (!strstr (text, needle)) {
         fail_msg ("deploy/env.reference lacks %s (run make docs)", vars[i].env);
      }
   }
   free (text);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_compose_names_are_settings),
      cmocka_unit_test (test_env_reference_lists_every_server_setting),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
