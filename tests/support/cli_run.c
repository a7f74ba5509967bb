/* cli_run.c - see cli_run.h. */
#include "cli_run.h"

#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int
tk_test_triagectl (const char *args, char *out, size_t out_cap, char *err, size_t err_cap)
{
   char err_path[96];
   snprintf (err_path, sizeof err_path, "/tmp/triage-test-triagectl-%d.err", (int) getpid ());
   size_t cap = strlen (args) + strlen (TRIAGE_BIN_DIR) + sizeof err_path + 32;
   char *cmd = malloc (cap);
   assert_non_null (cmd);
   snprintf (cmd, cap, "%s/triagectl %s 2>%s", TRIAGE_BIN_DIR, args, err_path);
   int status = tk_test_shell (cmd, out, out_cap);
   free (cmd);
   size_t len = 0;
   char *text = tk_test_read_file (err_path, &len);
   snprintf (err, err_cap, "%s", text);
   free (text);
   unlink (err_path);
   return status;
}

int
tk_test_triagectl_api (const char *cmd, const char *api_url, const char *key, const char *args,
                       char *out, size_t out_cap, char *err, size_t err_cap)
{
   size_t cap = strlen (cmd) + strlen (api_url) + strlen (key) + strlen (args) + 16;
   char *line = malloc (cap);
   assert_non_null (line);
   snprintf (line, cap, "%s -u %s -k %s %s", cmd, api_url, key, args);
   int status = tk_test_triagectl (line, out, out_cap, err, err_cap);
   free (line);
   return status;
}
