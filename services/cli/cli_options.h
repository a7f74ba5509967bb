/* cli_options.h - triagectl's subcommands' options, from one table.
 *
 * A command describes each option once (name, argument, kind, range, the
 * field of the command's argument struct the value goes to, help text,
 * default as printed), in a static const table, and cli_options_parse does
 * the rest: getopt_long built from the table, range checks with one error
 * wording ("triagectl <cmd>: --<name> must be <what the range says>", exit
 * status 2), and --help printed from the same table, so parsing, checking
 * and the help text cannot drift apart.
 *
 * Defaults are the values the command puts in its struct before
 * calling cli_options_parse; the table's `def` is only how --help shows
 * them. Settings of the config table (common/config_table.c, e.g.
 * --mongo-uri / TRIAGE_MONGO_URI) are left NULL when not given, and the
 * command applies them over tk_config_load's values as before; `env` names
 * the variable in the help text.
 *
 * Not thread-safe: getopt_long's state is global. The CLI parses once, on
 * its only thread.
 */
#ifndef CLI_OPTIONS_H
#define CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h> /* offsetof */
#include <stdio.h>

typedef enum {
   CLI_OPT_FLAG,   /* no argument; the field is a bool, set to true */
   CLI_OPT_STRING, /* the field is a const char *, set to the argument (borrowed from argv) */
   CLI_OPT_UINT,   /* the field is an unsigned integer of 4 or 8 bytes (unsigned, unsigned
                    * long, size_t), decimal, within [min, max] */
   CLI_OPT_DOUBLE, /* the field is a double within min..max, ends as `bounds` says */
   CLI_OPT_CUSTOM, /* parse (arg, field) decides; `must` says what it accepts */
} cli_opt_kind_t;

/* Which ends of a double's range hold (CLI_OPT_DOUBLE; an unsigned range is
 * always inclusive, [min, max]). Without CLI_OPT_MIN/CLI_OPT_MAX that end is
 * unbounded. */
enum {
   CLI_OPT_MIN = 1,      /* value >= min */
   CLI_OPT_MIN_OPEN = 2, /* value > min */
   CLI_OPT_MAX = 4,      /* value <= max */
   CLI_OPT_MAX_OPEN = 8, /* value < max */
};

typedef struct {
   const char *name; /* long name without "--"; NULL for a short option only */
   char short_name;  /* 'X' for -X, or 0 */
   const char *arg;  /* the argument's name in the help (FILE, N); NULL for a flag */
   cli_opt_kind_t kind;
   /* Where the value goes in the command's argument struct: set both with
    * CLI_FIELD (type, member). */
   size_t offset, size;
   /* CLI_OPT_UINT: inclusive range; max 0 means the type's largest.
    * CLI_OPT_DOUBLE: the range, its ends as `bounds` says. */
   double min, max;
   unsigned bounds;
   /* CLI_OPT_CUSTOM: stores the value of arg in the field; called once per
    * occurrence. Returns false if arg is not acceptable, and may then say
    * why in why[cap]: the error reads "--<name> must be <must>[: <why>]". */
   bool (*parse) (const char *arg, void *field, char *why, size_t cap);
   const char *must;
   const char *help; /* may hold '\n' for more lines; each is indented */
   const char *def;  /* the default as --help prints it; NULL prints none */
   const char *env;  /* the TRIAGE_* variable the default comes from, for --help; or NULL */
} cli_option_t;

typedef struct {
   const char *cmd;          /* "train": errors say "triagectl train: ..." */
   const char *synopsis;     /* printed after "usage: triagectl <cmd> " */
   const char *description;  /* a paragraph after the synopsis, or NULL */
   const cli_option_t *opts; /* the table, ended by a row of zeros ({0}) */
   /* Stop at the first positional argument (keys: the action's own options
    * follow it); otherwise options and positionals may be mixed. */
   bool stop_at_positional;
} cli_command_t;

/* The place of member in struct type, for a table row: CLI_FIELD
 * (train_args_t, options.threads). */
#define CLI_FIELD(type, member)                                                                    \
   .offset = offsetof (type, member), .size = sizeof (((type *)0)->member)

/* Parses argv (argv[0] the subcommand's name) against c's table, storing
 * each option given in its field of args (the struct the table's offsets
 * are of; borrowed for the call). On success returns -1 with
 * *first_positional set: argv[*first_positional .. argc) are the positional
 * arguments, in their order (argv may have been permuted to put them last).
 * Otherwise returns the exit status after printing: 0 for --help (usage on
 * stdout); 2 for an unknown option or a missing argument (the reason, then
 * the usage, on stderr) or a value out of range (one line on stderr:
 * "triagectl <cmd>: --<name> must be ..."); 1 if memory runs out.
 * Cross-option rules are the command's to check afterwards. */
int cli_options_parse (const cli_command_t *c, void *args, int argc, char **argv,
                       int *first_positional);

/* Prints the usage generated from c: "usage: triagectl <cmd> <synopsis>",
 * the description, then one entry per option (its names and argument, its
 * help, its default) and --help. */
void cli_options_usage (const cli_command_t *c, FILE *out);

/* "triagectl <cmd>: <message>" on stderr, then returns 2: the usage errors
 * of cross-option rules, worded like the parser's. */
int cli_options_fail (const cli_command_t *c, const char *fmt, ...)
   __attribute__ ((format (printf, 2, 3)));

#endif
