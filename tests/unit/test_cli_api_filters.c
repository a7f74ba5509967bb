/* Unit tests for services/cli/api_filters.c and the URL helpers of
 * http_client.c: the filter options parsed from a command line, the
 * "filter" object of POST /api/process (a key given twice becomes an
 * array), the query string of an export (every key and value
 * percent-encoded), and --filter's refusals. */
#include "test_support.h"

#include "api_filters.h"
#include "http_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
   cli_filters_t filters;
} args_t;

static const cli_option_t options[] = {
   CLI_FILTER_OPTIONS (args_t, filters),
   {0},
};

static const cli_command_t command = {.cmd = "t", .opts = options};

/* Parses argv (NULL-terminated, argv[0] the command) into a; the parser's
 * answer (-1: go on). */
static int
parse (args_t *a, char **argv)
{
   int argc = 0, first;
   while (argv[argc]) {
      argc++;
   }
   memset (a, 0, sizeof *a);
   return cli_options_parse (&command, a, argc, argv, &first);
}

static void
test_json_object (void **state)
{
   (void) state;
   args_t a;
   char *argv[] = {"t", "--priority", "P0 (High),P1 (Medium)", "--q", "okta",
                   "--filter", "needs_review=true", "--filter", "topic=SSO",
                   "--filter", "topic=API/SDK", NULL};
   assert_int_equal (parse (&a, argv), -1);
   assert_true (cli_filters_any (&a.filters));
   cJSON *obj = cli_filters_json (&a.filters);
   char *text = cJSON_PrintUnformatted (obj);
   assert_string_equal (text, "{\"priority\":\"P0 (High),P1 (Medium)\",\"q\":\"okta\","
                              "\"needs_review\":\"true\",\"topic\":[\"SSO\",\"API/SDK\"]}");
   cJSON_free (text);
   cJSON_Delete (obj);
}

static void
test_query_string (void **state)
{
   (void) state;
   args_t a;
   char *argv[] = {"t", "--status", "processed", "--priority", "P0 (High)",
                   "--filter", "q=a&b=c", NULL};
   assert_int_equal (parse (&a, argv), -1);
   tk_buf_t url = TK_BUF_INIT;
   assert_true (cli_url_start (&url, "http://h:1//", "/api/tickets/export.csv"));
   assert_true (cli_filters_query (&a.filters, &url));
   assert_string_equal (url.data, "http://h:1/api/tickets/export.csv?status=processed"
                                  "&priority=P0%20%28High%29&q=a%26b%3Dc");
   assert_true (cli_url_segment (&url, "0:5"));
   tk_buf_destroy (&url);
}

static void
test_none_and_refusals (void **state)
{
   (void) state;
   args_t a;
   char *none[] = {"t", NULL};
   assert_int_equal (parse (&a, none), -1);
   assert_false (cli_filters_any (&a.filters));
   cJSON *obj = cli_filters_json (&a.filters);
   assert_int_equal (cJSON_GetArraySize (obj), 0);
   cJSON_Delete (obj);
   char *no_key[] = {"t", "--filter", "=x", NULL};
   assert_int_equal (parse (&a, no_key), 2);
   char *no_eq[] = {"t", "--filter", "colour", NULL};
   assert_int_equal (parse (&a, no_eq), 2);
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_json_object),
      cmocka_unit_test (test_query_string),
      cmocka_unit_test (test_none_and_refusals),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
