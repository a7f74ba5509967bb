/* error.h - the error record every fallible libtriage call fills.
 *
 * Library code never logs and carries on: a function that can fail returns
 * bool (or 0 / negative errno for loop-level code) and fills a tk_error_t
 * that the caller owns, usually on its stack. Only a service's top level
 * decides whether to log it.
 */
#ifndef TK_ERROR_H
#define TK_ERROR_H

#include <stdarg.h>

/* Where an error came from. */
typedef enum {
   TK_ERR_NONE = 0,
   TK_ERR_CONFIG,  /* a bad configuration value */
   TK_ERR_INVALID, /* bad input: a ticket, a label, a request */
   TK_ERR_MONGO,   /* libmongoc; code is the bson_error_t code */
   TK_ERR_KAFKA,   /* librdkafka; code is the rd_kafka_resp_err_t */
   TK_ERR_HTTP,    /* an HTTP listener or client */
   TK_ERR_IO,      /* a system call; code is errno */
   TK_ERR_NOMEM,
   TK_ERR_NOT_FOUND,
   TK_ERR_DUPLICATE,
   TK_ERR_SQL,         /* libpq (list_sql.h) */
   TK_ERR_UNSUPPORTED, /* a request a backend cannot answer exactly */
   TK_ERR_CONFLICT,    /* the stored document changed in a way that forbids the write */
} tk_error_domain_t;

typedef struct {
   int domain;       /* tk_error_domain_t */
   int code;         /* domain-specific code, 0 if none */
   char field[64];   /* the offending field or variable, "" if none */
   char message[256];/* one sentence, no trailing newline */
} tk_error_t;

/* Fills err (which may be NULL) with a formatted message. */
void tk_error_set (tk_error_t *err, int domain, int code, const char *fmt, ...)
   __attribute__ ((format (printf, 4, 5)));

/* Like tk_error_set, naming the field or variable at fault. */
void tk_error_set_field (tk_error_t *err, int domain, int code, const char *field,
                         const char *fmt, ...)
   __attribute__ ((format (printf, 5, 6)));

/* Resets err to "no error". Accepts NULL. */
void tk_error_clear (tk_error_t *err);

/* A static name for a domain, e.g. "mongo". */
const char *tk_error_domain_name (int domain);

#endif
