/* Unit tests for common/log.c: JSON-line format, escaping, level threshold. */
#include "test_support.h"

#include "log.h"

#include <cjson/cJSON.h>
#include <string.h>
#include <unistd.h>

static char *
read_pipe (int fd)
{
   static char buf[65536];
   ssize_t n = read (fd, buf, sizeof buf - 1);
   buf[n > 0 ? n : 0] = '\0';
   return buf;
}

static void
test_line_is_json_with_fields (void **state)
{
   (void) state;
   int fds[2];
   assert_int_equal (pipe (fds), 0);
   tk_log_init ("unit", TK_LOG_DEBUG);
   tk_log_set_fd (fds[1]);
   TK_WARN ("store", "quote \" backslash \\ newline \n tab \t bell \a done %d", 42);
   tk_log_set_fd (STDERR_FILENO);
   close (fds[1]);

   char *line = read_pipe (fds[0]);
   close (fds[0]);
   size_t n = strlen (line);
   assert_true (n > 0);
   assert_int_equal (line[n - 1], '\n');
   assert_ptr_equal (strchr (line, '\n'), line + n - 1); /* exactly one line */

   cJSON *j = cJSON_Parse (line);
   assert_non_null (j);
   assert_string_equal (cJSON_GetObjectItem (j, "level")->valuestring, "warn");
   assert_string_equal (cJSON_GetObjectItem (j, "service")->valuestring, "unit");
   assert_string_equal (cJSON_GetObjectItem (j, "component")->valuestring, "store");
   assert_string_equal (cJSON_GetObjectItem (j, "msg")->valuestring,
                        "quote \" backslash \\ newline \n tab \t bell \a done 42");
   assert_non_null (strstr (cJSON_GetObjectItem (j, "ts")->valuestring, "Z"));
   cJSON_Delete (j);
}

static void
test_threshold_drops_lower_levels (void **state)
{
   (void) state;
   int fds[2];
   assert_int_equal (pipe (fds), 0);
   tk_log_init ("unit", TK_LOG_WARN);
   tk_log_set_fd (fds[1]);
   TK_INFO (NULL, "dropped");
   TK_DEBUG (NULL, "dropped too");
   TK_ERROR (NULL, "kept");
   tk_log_set_fd (STDERR_FILENO);
   close (fds[1]);
   char *out = read_pipe (fds[0]);
   close (fds[0]);
   assert_null (strstr (out, "dropped"));
   assert_non_null (strstr (out, "\"msg\":\"kept\""));
   assert_null (strstr (out, "component")); /* NULL component is omitted */
}

static void
test_level_parse (void **state)
{
   (void) state;
   tk_log_level_t l;
   assert_true (tk_log_level_parse ("debug", &l));
   assert_int_equal (l, TK_LOG_DEBUG);
   assert_true (tk_log_level_parse ("error", &l));
   assert_int_equal (l, TK_LOG_ERROR);
   assert_false (tk_log_level_parse ("loud", &l));
   assert_false (tk_log_level_parse (NULL, &l));
}

static void
test_rdkafka_levels_map (void **state)
{
   (void) state;
   int fds[2];
   assert_int_equal (pipe (fds), 0);
   tk_log_init ("unit", TK_LOG_WARN);
   tk_log_set_fd (fds[1]);
   tk_log_rdkafka_cb (NULL, 7, "FETCH", "debug noise");
   tk_log_rdkafka_cb (NULL, 3, "FAIL", "broker down");
   tk_log_set_fd (STDERR_FILENO);
   close (fds[1]);
   char *out = read_pipe (fds[0]);
   close (fds[0]);
   assert_null (strstr (out, "debug noise"));
   assert_non_null (strstr (out, "\"component\":\"rdkafka.FAIL\""));
   assert_non_null (strstr (out, "\"level\":\"error\""));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_line_is_json_with_fields),
      cmocka_unit_test (test_threshold_drops_lower_levels),
      cmocka_unit_test (test_level_parse),
      cmocka_unit_test (test_rdkafka_levels_map),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
