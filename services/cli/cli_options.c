/* cli_options.c - triagectl's table-driven option parser and usage printer
 * (see cli_options.h). */
#include "cli_options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Column where the help text starts, and the widest line it aims for. */
#define HELP_COL 19
#define WIDTH 79
/* getopt_long's value for the i-th row: above every char. */
#define OPT_BASE 0x100

/* "--name", "-n, --name", or "-X" for a short option only. */
static void
option_name (const cli_option_t *o, char *buf, size_t cap)
{
   if (o->name && o->short_name) {
      snprintf (buf, cap, "-%c, --%s", o->short_name, o->name);
   } else if (o->name) {
      snprintf (buf, cap, "--%s", o->name);
   } else {
      snprintf (buf, cap, "-%c", o->short_name);
   }
}

static size_t
count_options (const cli_option_t *opts)
{
   size_t n = 0;
   while (opts[n].name || opts[n].short_name) {
      n++;
   }
   return n;
}

/* What the range of o says, after "must be ": "in 1..16", "in [0, 1)",
 * "a positive number". */
static void
describe_range (const cli_option_t *o, char *buf, size_t cap)
{
   if (o->kind == CLI_OPT_CUSTOM) {
      snprintf (buf, cap, "%s", o->must ? o->must : "valid");
   } else if (o->kind == CLI_OPT_UINT) {
      if (o->max > 0) {
         snprintf (buf, cap, "in %.0f..%.0f", o->min, o->max);
      } else if (o->min == 0) {
         snprintf (buf, cap, "a number");
      } else if (o->min == 1) {
         snprintf (buf, cap, "a positive number");
      } else {
         snprintf (buf, cap, "a number of at least %.0f", o->min);
      }
   } else {
      bool lo = o->bounds & (CLI_OPT_MIN | CLI_OPT_MIN_OPEN);
      bool hi = o->bounds & (CLI_OPT_MAX | CLI_OPT_MAX_OPEN);
      if (lo && hi) {
         snprintf (buf, cap, "in %c%g, %g%c", o->bounds & CLI_OPT_MIN_OPEN ? '(' : '[', o->min,
                   o->max, o->bounds & CLI_OPT_MAX_OPEN ? ')' : ']');
      } else if (lo && o->min == 0 && (o->bounds & CLI_OPT_MIN_OPEN)) {
         snprintf (buf, cap, "a positive number");
      } else if (lo) {
         snprintf (buf, cap, "a number %s %g", o->bounds & CLI_OPT_MIN_OPEN ? ">" : ">=", o->min);
      } else if (hi) {
         snprintf (buf, cap, "a number %s %g", o->bounds & CLI_OPT_MAX_OPEN ? "<" : "<=", o->max);
      } else {
         snprintf (buf, cap, "a number");
      }
   }
}

static bool
parse_uint (const cli_option_t *o, void *field, const char *arg)
{
   unsigned long long type_max = o->size == sizeof (uint32_t) ? UINT32_MAX : UINT64_MAX;
   unsigned long long max = o->max > 0 ? (unsigned long long) o->max : type_max;
   char *end;
   /* strtoull would take "-1" as its largest value, and skip spaces. */
   if (*arg < '0' || *arg > '9') {
      return false;
   }
   errno = 0;
   unsigned long long v = strtoull (arg, &end, 10);
   if (*end || errno == ERANGE || v < (unsigned long long) o->min || v > max) {
      return false;
   }
   /* By size, through memcpy: dest may be an unsigned, unsigned long or
    * size_t. */
   if (o->size == sizeof (uint32_t)) {
      uint32_t v32 = (uint32_t) v;
      memcpy (field, &v32, sizeof v32);
   } else {
      uint64_t v64 = v;
      memcpy (field, &v64, sizeof v64);
   }
   return true;
}

static bool
parse_double (const cli_option_t *o, void *field, const char *arg)
{
   char *end;
   double v = strtod (arg, &end);
   /* Written so that NaN fails every bound. */
   if (*end || end == arg || !(v == v) ||
       ((o->bounds & CLI_OPT_MIN) && !(v >= o->min)) ||
       ((o->bounds & CLI_OPT_MIN_OPEN) && !(v > o->min)) ||
       ((o->bounds & CLI_OPT_MAX) && !(v <= o->max)) ||
       ((o->bounds & CLI_OPT_MAX_OPEN) && !(v < o->max))) {
      return false;
   }
   memcpy (field, &v, sizeof v);
   return true;
}

/* Stores arg (NULL for a flag) as o says; false if it is not acceptable,
 * with why[cap] perhaps saying why (custom parsers). */
static bool
store (const cli_option_t *o, void *args, const char *arg, char *why, size_t cap)
{
   void *field = (char *) args + o->offset;
   switch (o->kind) {
   case CLI_OPT_FLAG: *(bool *) field = true; return true;
   case CLI_OPT_STRING: *(const char **) field = arg; return true;
   case CLI_OPT_UINT: return parse_uint (o, field, arg);
   case CLI_OPT_DOUBLE: return parse_double (o, field, arg);
   case CLI_OPT_CUSTOM: return o->parse (arg, field, why, cap);
   }
   return false;
}

/* Prints text, continuing lines (after '\n') at HELP_COL. */
static void
print_help_text (FILE *out, const char *text)
{
   for (const char *p = text; *p; p++) {
      fputc (*p, out);
      if (*p == '\n') {
         fprintf (out, "%*s", HELP_COL, "");
      }
   }
}

/* The default of o as --help says it, or "" when there is none. */
static void
describe_default (const cli_option_t *o, char *buf, size_t cap)
{
   if (o->env && o->def) {
      snprintf (buf, cap, "(default %s, else %s)", o->env, o->def);
   } else if (o->env) {
      snprintf (buf, cap, "(default %s)", o->env);
   } else if (o->def) {
      snprintf (buf, cap, "(default %s)", o->def);
   } else {
      *buf = '\0';
   }
}

static void
print_option (FILE *out, const cli_option_t *o)
{
   char def[256];
   char name[64];
   option_name (o, name, sizeof name);
   int col = fprintf (out, "  %s%s%s", name, o->arg ? " " : "", o->arg ? o->arg : "");
   if (col + 2 > HELP_COL) {
      fprintf (out, "\n%*s", HELP_COL, "");
   } else {
      fprintf (out, "%*s", HELP_COL - col, "");
   }
   const char *help = o->help ? o->help : "";
   print_help_text (out, help);
   describe_default (o, def, sizeof def);
   if (*def) {
      const char *last = strrchr (help, '\n');
      size_t width = HELP_COL + strlen (last ? last + 1 : help);
      if (!*help) {
         fputs (def, out);
      } else if (width + 1 + strlen (def) > WIDTH) {
         fprintf (out, "\n%*s%s", HELP_COL, "", def);
      } else {
         fprintf (out, " %s", def);
      }
   }
   fputc ('\n', out);
}

void
cli_options_usage (const cli_command_t *c, FILE *out)
{
   fprintf (out, "usage: triagectl %s %s\n", c->cmd, c->synopsis ? c->synopsis : "[options]");
   if (c->description) {
      fprintf (out, "\n%s\n", c->description);
   }
   fputc ('\n', out);
   for (size_t i = 0; c->opts[i].name || c->opts[i].short_name; i++) {
      print_option (out, &c->opts[i]);
   }
   fprintf (out, "  --help           print this help\n");
}

int
cli_options_fail (const cli_command_t *c, const char *fmt, ...)
{
   va_list ap;
   fprintf (stderr, "triagectl %s: ", c->cmd);
   va_start (ap, fmt);
   vfprintf (stderr, fmt, ap);
   va_end (ap);
   fputc ('\n', stderr);
   return 2;
}

/* An unknown option or one without its argument: says which, then the
 * usage, on stderr. */
static int
usage_error (const cli_command_t *c, const char *what, const char *arg)
{
   fprintf (stderr, "triagectl %s: %s %s\n\n", c->cmd, what, arg);
   cli_options_usage (c, stderr);
   return 2;
}

/* The option of getopt_long's answer ch: a long option's row number
 * (above every char), or a short option's letter. */
static const cli_option_t *
find_option (const cli_option_t *opts, size_t n, int ch)
{
   if (ch >= OPT_BASE) {
      return &opts[ch - OPT_BASE];
   }
   for (size_t i = 0; i < n; i++) {
      if (opts[i].short_name == ch) {
         return &opts[i];
      }
   }
   return NULL;
}

/* getopt's short option string: '+' (stop at a positional) perhaps, ':'
 * (report a missing argument as ':'), "h", then each short option. */
static void
short_options (const cli_command_t *c, size_t n, char *buf, size_t cap)
{
   size_t k = (size_t) snprintf (buf, cap, "%s:h", c->stop_at_positional ? "+" : "");
   for (size_t i = 0; i < n && k + 3 < cap; i++) {
      if (c->opts[i].short_name) {
         buf[k++] = c->opts[i].short_name;
         if (c->opts[i].arg) {
            buf[k++] = ':';
         }
      }
   }
   buf[k] = '\0';
}

int
cli_options_parse (const cli_command_t *c, void *args, int argc, char **argv,
                   int *first_positional)
{
   size_t n = count_options (c->opts), n_long = 0;
   struct option *longs = calloc (n + 2, sizeof *longs);
   char shorts[64];
   int rc = -1, ch;
   if (!longs) {
      fprintf (stderr, "triagectl %s: out of memory\n", c->cmd);
      return 1;
   }
   for (size_t i = 0; i < n; i++) {
      if (c->opts[i].name) {
         longs[n_long++] = (struct option) {c->opts[i].name,
                                            c->opts[i].arg ? required_argument : no_argument, NULL,
                                            OPT_BASE + (int) i};
      }
   }
   longs[n_long] = (struct option) {"help", no_argument, NULL, 'h'};
   short_options (c, n, shorts, sizeof shorts);
   /* 0 makes glibc start afresh (a command may parse twice: keys). Errors
    * are printed here, not by getopt. */
   optind = 0;
   opterr = 0;
   while (rc < 0 && (ch = getopt_long (argc, argv, shorts, longs, NULL)) != -1) {
      const cli_option_t *o = find_option (c->opts, n, ch);
      char why[512] = "", what[256], name[64];
      if (ch == 'h') {
         cli_options_usage (c, stdout);
         rc = 0;
      } else if (ch == ':') {
         rc = usage_error (c, "missing the argument of", argv[optind - 1]);
      } else if (!o) {
         rc = usage_error (c, "unknown option", optopt ? (char[]) {'-', (char) optopt, '\0'}
                                                       : argv[optind - 1]);
      } else if (!store (o, args, optarg, why, sizeof why)) {
         describe_range (o, what, sizeof what);
         /* The long name alone, as the user most likely wrote it. */
         option_name (&(cli_option_t) {.name = o->name, .short_name = o->name ? 0 : o->short_name},
                      name, sizeof name);
         rc = cli_options_fail (c, "%s must be %s%s%s", name, what, *why ? ": " : "", why);
      }
   }
   *first_positional = optind;
   free (longs);
   return rc;
}
