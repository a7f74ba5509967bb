/* Unit tests for services/cli/cli_options.c: flags, strings, unsigned and
 * double ranges with closed and open ends, a custom parser, the exit
 * statuses of unknown options, missing arguments and --help, the generated
 * usage, and positional arguments left in order. */
#include "test_support.h"

#include "cli_options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { COLOUR_RED, COLOUR_BLUE } colour_t;

static bool
parse_colour (const char *arg, void *dest, char *why, size_t cap)
{
   if (strcmp (arg, "red") == 0) {
      *(colour_t *) dest = COLOUR_RED;
   } else if (strcmp (arg, "blue") == 0) {
      *(colour_t *) dest = COLOUR_BLUE;
   } else {
      return false;
   }
   return true;
}

/* -X key=value, repeatable: counts the settings, says why one is bad. */
static bool
parse_setting (const char *arg, void *dest, char *why, size_t cap)
{
   if (!strchr (arg, '=')) {
      snprintf (why, cap, "no '=' in \"%s\"", arg);
      return false;
   }
   ++*(int *) dest;
   return true;
}

typedef struct {
   bool verbose;
   const char *out, *uri;
   unsigned threads;
   unsigned long count;
   double fraction, threshold, lambda;
   colour_t colour;
   int settings;
   bool quiet;
} args_t;

/* The table of a made-up command, one option of each kind and bound. */
static const cli_option_t opts[] = {
   {.name = "verbose", .kind = CLI_OPT_FLAG, CLI_FIELD (args_t, verbose), .help = "say more"},
   {.name = "out", .arg = "FILE", .kind = CLI_OPT_STRING, CLI_FIELD (args_t, out),
    .help = "where to write", .def = "out.bin"},
   {.name = "mongo-uri", .arg = "URI", .kind = CLI_OPT_STRING, CLI_FIELD (args_t, uri),
    .help = "the database", .env = "TRIAGE_MONGO_URI"},
   {.name = "threads", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (args_t, threads), .min = 1,
    .max = 16, .help = "threads"},
   {.name = "count", .arg = "N", .kind = CLI_OPT_UINT, CLI_FIELD (args_t, count), .min = 1,
    .help = "how many"},
   {.name = "fraction", .arg = "F", .kind = CLI_OPT_DOUBLE, CLI_FIELD (args_t, fraction), .min = 0,
    .max = 1, .bounds = CLI_OPT_MIN | CLI_OPT_MAX_OPEN, .help = "a fraction", .def = "0.2"},
   {.name = "threshold", .arg = "P", .kind = CLI_OPT_DOUBLE, CLI_FIELD (args_t, threshold),
    .min = 0, .max = 1, .bounds = CLI_OPT_MIN_OPEN | CLI_OPT_MAX, .help = "a probability"},
   {.name = "lambda", .arg = "L", .kind = CLI_OPT_DOUBLE, CLI_FIELD (args_t, lambda), .min = 0,
    .bounds = CLI_OPT_MIN_OPEN, .help = "strength\nsecond line"},
   {.name = "colour", .arg = "C", .kind = CLI_OPT_CUSTOM, CLI_FIELD (args_t, colour),
    .parse = parse_colour, .must = "red or blue", .help = "the colour", .def = "red"},
   {.short_name = 'X', .arg = "key=value", .kind = CLI_OPT_CUSTOM, CLI_FIELD (args_t, settings),
    .parse = parse_setting, .must = "key=value", .help = "a setting"},
   {.name = "quiet", .short_name = 'q', .kind = CLI_OPT_FLAG, CLI_FIELD (args_t, quiet),
    .help = "no progress"},
   {0},
};

static const cli_command_t cmd = {.cmd = "demo", .synopsis = "[options] FILE...", .opts = opts};

static int
parse (args_t *a, int *first, char **argv)
{
   int argc = 0;
   while (argv[argc]) {
      argc++;
   }
   return cli_options_parse (&cmd, a, argc, argv, first);
}

#define ARGV(...) ((char *[]) {"demo", __VA_ARGS__, NULL})

/* Runs parse with stdout and stderr captured into out/err (each cap bytes). */
static int
parse_captured (args_t *a, int *first, char **argv, char *out, char *err, size_t cap)
{
   FILE *fo = tmpfile (), *fe = tmpfile ();
   assert_non_null (fo);
   assert_non_null (fe);
   fflush (stdout);
   fflush (stderr);
   int so = dup (1), se = dup (2);
   dup2 (fileno (fo), 1);
   dup2 (fileno (fe), 2);
   int rc = parse (a, first, argv);
   fflush (stdout);
   fflush (stderr);
   dup2 (so, 1);
   dup2 (se, 2);
   close (so);
   close (se);
   rewind (fo);
   rewind (fe);
   out[fread (out, 1, cap - 1, fo)] = '\0';
   err[fread (err, 1, cap - 1, fe)] = '\0';
   fclose (fo);
   fclose (fe);
   return rc;
}

static void
test_values_and_positionals (void **state)
{
   (void) state;
   args_t a = {.fraction = 0.2, .colour = COLOUR_RED};
   int first = 0;
   char **argv = ARGV ("one", "--verbose", "--out", "x.bin", "two", "--threads=16", "--count",
                       "18446744073709551615", "--fraction", "0", "--threshold", "1", "--lambda",
                       "1e-4", "--colour", "blue", "three", "--mongo-uri", "mongodb://h/db");
   assert_int_equal (parse (&a, &first, argv), -1);
   assert_true (a.verbose);
   assert_string_equal (a.out, "x.bin");
   assert_string_equal (a.uri, "mongodb://h/db");
   assert_int_equal (a.threads, 16);
   assert_true (a.count == 18446744073709551615UL);
   assert_true (a.fraction == 0);
   assert_true (a.threshold == 1);
   assert_true (a.lambda == 1e-4);
   assert_int_equal (a.colour, COLOUR_BLUE);
   /* The positionals, after the options, in their order. */
   assert_int_equal (first, 19 - 3 + 1);
   assert_string_equal (argv[first], "one");
   assert_string_equal (argv[first + 1], "two");
   assert_string_equal (argv[first + 2], "three");
   assert_null (argv[first + 3]);
}

static void
test_defaults_untouched (void **state)
{
   (void) state;
   args_t a = {.out = "out.bin", .threads = 3, .fraction = 0.2};
   int first = 0;
   char **argv = ARGV ("--", "--verbose");
   assert_int_equal (parse (&a, &first, argv), -1);
   assert_false (a.verbose);
   assert_string_equal (a.out, "out.bin");
   assert_null (a.uri);
   assert_int_equal (a.threads, 3);
   assert_true (a.fraction == 0.2);
   assert_string_equal (argv[first], "--verbose");
}

/* value: a bad argument of opt; message: what stderr must say. */
static void
check_rejected (const char *opt, const char *value, const char *message)
{
   args_t a = {0};
   int first = 0;
   char out[4096], err[4096];
   char *argv[] = {"demo", (char *) opt, (char *) value, NULL};
   assert_int_equal (parse_captured (&a, &first, argv, out, err, sizeof out), 2);
   assert_string_equal (err, message);
   assert_string_equal (out, "");
}

static void
test_ranges (void **state)
{
   (void) state;
   check_rejected ("--threads", "0", "triagectl demo: --threads must be in 1..16\n");
   check_rejected ("--threads", "17", "triagectl demo: --threads must be in 1..16\n");
   check_rejected ("--threads", "-1", "triagectl demo: --threads must be in 1..16\n");
   check_rejected ("--threads", "4x", "triagectl demo: --threads must be in 1..16\n");
   check_rejected ("--threads", "", "triagectl demo: --threads must be in 1..16\n");
   check_rejected ("--count", "0", "triagectl demo: --count must be a positive number\n");
   check_rejected ("--count", "18446744073709551616",
                   "triagectl demo: --count must be a positive number\n");
   /* [0, 1): 0 is in, 1 is out. */
   check_rejected ("--fraction", "1", "triagectl demo: --fraction must be in [0, 1)\n");
   check_rejected ("--fraction", "-0.1", "triagectl demo: --fraction must be in [0, 1)\n");
   check_rejected ("--fraction", "nan", "triagectl demo: --fraction must be in [0, 1)\n");
   check_rejected ("--fraction", "x", "triagectl demo: --fraction must be in [0, 1)\n");
   /* (0, 1]: 0 is out, 1 is in. */
   check_rejected ("--threshold", "0", "triagectl demo: --threshold must be in (0, 1]\n");
   check_rejected ("--threshold", "1.01", "triagectl demo: --threshold must be in (0, 1]\n");
   check_rejected ("--lambda", "0", "triagectl demo: --lambda must be a positive number\n");
   check_rejected ("--colour", "green", "triagectl demo: --colour must be red or blue\n");
   check_rejected ("-X", "a", "triagectl demo: -X must be key=value: no '=' in \"a\"\n");

   args_t a = {0};
   int first = 0;
   assert_int_equal (parse (&a, &first, ARGV ("--fraction", "0.999", "--threshold", "0.001")), -1);
   assert_true (a.fraction == 0.999);
   assert_true (a.threshold == 0.001);
   assert_int_equal (parse (&a, &first, ARGV ("--threads", "1")), -1);
   assert_int_equal (a.threads, 1);
   /* A short option, repeated, with its argument attached or apart. */
   assert_int_equal (parse (&a, &first, ARGV ("-Xa=1", "-X", "b=2")), -1);
   assert_int_equal (a.settings, 2);
   /* An option with both names, by either. */
   assert_int_equal (parse (&a, &first, ARGV ("-q")), -1);
   assert_true (a.quiet);
   a.quiet = false;
   assert_int_equal (parse (&a, &first, ARGV ("--quiet")), -1);
   assert_true (a.quiet);
}

static void
test_usage_errors (void **state)
{
   (void) state;
   args_t a = {0};
   int first = 0;
   char out[4096], err[4096];
   assert_int_equal (parse_captured (&a, &first, ARGV ("--nope"), out, err, sizeof out), 2);
   assert_non_null (strstr (err, "triagectl demo: unknown option --nope\n"));
   assert_non_null (strstr (err, "usage: triagectl demo [options] FILE...\n"));
   assert_int_equal (parse_captured (&a, &first, ARGV ("-x"), out, err, sizeof out), 2);
   assert_non_null (strstr (err, "triagectl demo: unknown option -x\n"));
   /* A missing argument. */
   char *argv[] = {"demo", "--out", NULL};
   assert_int_equal (parse_captured (&a, &first, argv, out, err, sizeof out), 2);
   assert_non_null (strstr (err, "triagectl demo: missing the argument of --out\n"));
   assert_null (a.out);
   /* A flag given a value. */
   assert_int_equal (parse_captured (&a, &first, ARGV ("--verbose=yes"), out, err, sizeof out), 2);
   assert_false (a.verbose);
   assert_string_equal (out, "");
}

static void
test_help (void **state)
{
   (void)state;
   args_t a = { 0 };
   int first = 0;
   char out[4096], err[4096];
   assert_int_equal (
      parse_captured (&a, &first, ARGV ("--verbose", "--help"), out, err, sizeof out), 0);
   assert_string_equal (err, "");
   assert_string_equal (out,
                        "usage: triagectl demo [options] FILE...\n"
                        "\n"
                        "  --verbose        say more\n"
                        "  --out FILE       where to write (default out.bin)\n"
                        "  --mongo-uri URI  the database (default TRIAGE_MONGO_URI)\n"
                        "  --threads N      threads\n"
                        "  --count N        how many\n"
                        "  --fraction F     a fraction (default 0.2)\n"
                        "  --threshold P    a probability\n"
                        "  --lambda L       strength\n"
                        "                   second line\n"
                        "  --colour C       the colour (default red)\n"
                        "  -X key=value     a setting\n"
                        "  -q, --quiet      no progress\n"
                        "  --help           print this help\n");
   assert_int_equal (parse_captured (&a, &first, ARGV ("-h"), out, err, sizeof out), 0);
   assert_non_null (strstr (out, "usage: triagectl demo"));
}

int
main (void)
{
   const struct CMUnitTest tests[] = {
      cmocka_unit_test (test_values_and_positionals),
      cmocka_unit_test (test_defaults_untouched),
      cmocka_unit_test (test_ranges),
      cmocka_unit_test (test_usage_errors),
      cmocka_unit_test (test_help),
   };
   return cmocka_run_group_tests (tests, NULL, NULL);
}
