/* test_support.h - helpers shared by triage's cmocka tests. */
#ifndef TK_TEST_SUPPORT_H
#define TK_TEST_SUPPORT_H

#include <setjmp.h> /* cmocka needs these before its header */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

/* Writes "<prefix>_<pid>_<random hex>" into buf: a database or topic name no
 * other test run shares. Returns buf. */
char *tk_test_unique_name (const char *prefix, char *buf, size_t cap);

/* The MongoDB-protocol server for integration tests: $TRIAGE_TEST_MONGO_URI,
 * else mongodb://127.0.0.1:27017 (the local stack). Static string. */
const char *tk_test_mongo_uri (void);

/* The Kafka bootstrap servers: $TRIAGE_TEST_KAFKA_BROKERS, else
 * 127.0.0.1:9092. Static string. */
const char *tk_test_kafka_brokers (void);

/* Runs loop until *done is true or timeout_ms passes. Returns *done. */
bool tk_test_run_until (uv_loop_t *loop, const bool *done, uint64_t timeout_ms);

/* Closes every handle still open on loop, runs it until they have called
 * back, and asserts that uv_loop_close succeeds (nothing left behind). */
void tk_test_loop_close (uv_loop_t *loop);

/* Milliseconds on a monotonic clock. */
uint64_t tk_test_now_ms (void);

/* The resident memory (VmRSS) of process pid in kB, -1 if its status has
 * none; fails the test when /proc/<pid>/status cannot be opened. */
long tk_test_rss_kb (pid_t pid);

/* The whole of the file at path, NUL-terminated (malloc'd: the caller
 * frees), its length in *len; fails the test when it cannot be read in
 * full. */
char *tk_test_read_file (const char *path, size_t *len);

/* Runs cmd with /bin/sh (add "2>&1" to it for stderr too), reads up to
 * cap - 1 bytes of its output into out (NUL-terminated) and returns its exit
 * status, -1 when it did not exit normally. */
int tk_test_shell (const char *cmd, char *out, size_t cap);


#endif
