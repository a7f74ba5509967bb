/* cli_run.h - triagectl run as a child process by the integration tests of
 * its commands, its stdout and stderr kept apart. Blocking: tests only. */
#ifndef TK_TEST_CLI_RUN_H
#define TK_TEST_CLI_RUN_H

#include <stddef.h>

/* Runs "build/bin/triagectl <args>" with /bin/sh (args is a shell
 * fragment: the caller quotes what needs it). Its stdout goes into
 * out[out_cap] and its stderr into err[err_cap], each NUL-terminated and
 * cut to fit. Returns its exit status, -1 when it did not exit normally. */
int tk_test_triagectl (const char *args, char *out, size_t out_cap, char *err, size_t err_cap);

/* tk_test_triagectl of "<cmd> -u <api_url> -k <key> <args>": a command that
 * talks to the api at api_url with key. */
int tk_test_triagectl_api (const char *cmd, const char *api_url, const char *key,
                           const char *args, char *out, size_t out_cap, char *err,
                           size_t err_cap);

#endif
