/* api_filters.h - the ticket filters of the api (common/query_filter.h:
 * status, priority, sentiment, topic, q, dates, ...) as triagectl options,
 * shared by the commands that pass them on: `process --mode reprocess`
 * (POST /api/process's "filter" object) and `export` (the query string of
 * GET /api/tickets/export.*). The api checks them: an unknown key or label
 * comes back as its 400 with the reason. */
#ifndef TK_CLI_API_FILTERS_H
#define TK_CLI_API_FILTERS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "cli_options.h"

#define CLI_FILTER_EXTRA_MAX 64

/* --filter key=value, repeatable; the strings are borrowed from argv. */
typedef struct {
   const char *items[CLI_FILTER_EXTRA_MAX];
   size_t n;
} cli_filter_list_t;

typedef struct {
   const char *status, *priority, *sentiment, *topic, *q, *created_from, *created_to;
   cli_filter_list_t extra;
} cli_filters_t;

/* CLI_OPT_CUSTOM parser of --filter: appends a "key=value" argument. */
bool cli_filter_parse (const char *arg, void *field, char *why, size_t cap);

/* The option rows of a command whose argument struct `type` has a
 * cli_filters_t `member` (cli_options.h). */
#define CLI_FILTER_OPTIONS(type, member)                                                           \
   {.name = "status", .arg = "S", .kind = CLI_OPT_STRING, CLI_FIELD (type, member.status),         \
    .help = "processed, unprocessed, failed (comma-separated: any of them)"},                      \
      {.name = "priority", .arg = "P", .kind = CLI_OPT_STRING, CLI_FIELD (type, member.priority),  \
       .help = "priority labels, comma-separated"},                                                \
      {.name = "sentiment", .arg = "S", .kind = CLI_OPT_STRING,                                    \
       CLI_FIELD (type, member.sentiment), .help = "sentiment labels, comma-separated"},           \
      {.name = "topic", .arg = "T", .kind = CLI_OPT_STRING, CLI_FIELD (type, member.topic),        \
       .help = "topic tags, comma-separated"},                                                     \
      {.name = "q", .arg = "TEXT", .kind = CLI_OPT_STRING, CLI_FIELD (type, member.q),             \
       .help = "text searched in id, subject, body and labels"},                                   \
      {.name = "created-from", .arg = "ISO", .kind = CLI_OPT_STRING,                               \
       CLI_FIELD (type, member.created_from), .help = "created at or after (ISO-8601)"},           \
      {.name = "created-to", .arg = "ISO", .kind = CLI_OPT_STRING,                                 \
       CLI_FIELD (type, member.created_to), .help = "created before (ISO-8601)"},                  \
   {                                                                                               \
      .name = "filter", .arg = "KEY=VALUE", .kind = CLI_OPT_CUSTOM,                                \
      CLI_FIELD (type, member.extra), .parse = cli_filter_parse, .must = "KEY=VALUE",              \
      .help = "any other filter of the api (processed_from, confidence_below,\n"                   \
              "needs_review, ...); repeatable"                                                     \
   }

/* Whether any filter was given. */
bool cli_filters_any (const cli_filters_t *f);

/* The filters as an object of strings (a key given twice: an array of
 * them), for POST /api/process. NULL when memory runs out. */
cJSON *cli_filters_json (const cli_filters_t *f);

/* Appends every filter to url as a query parameter (cli_url_param). false
 * when memory runs out. */
bool cli_filters_query (const cli_filters_t *f, tk_buf_t *url);

#endif
