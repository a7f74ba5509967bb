/* ingest_fixture.h - what the ingest integration tests share: a unique
 * database and unique topics per test, triage-ingest started against them
 * (with settings replaced per test), triagectl run as a child process, and
 * counts read straight from the database. Blocking: tests only. */
#ifndef TK_TEST_INGEST_FIXTURE_H
#define TK_TEST_INGEST_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "service_proc.h"
#include "store.h"

#define TK_FX_PARTITIONS 3
#define TK_FX_MAX_ENV 24

typedef struct {
   char db[64];
   char inbound[96], classify[96], dlq[96], group[96];
   char vars[8][256];
   const char *env[TK_FX_MAX_ENV];
   size_t n_env;
   tk_store_t *store;
} tk_ingest_fx_t;

/* A fresh database (indexes created) and topics for one test. false on
 * failure (message printed). */
bool tk_ingest_fx_setup (tk_ingest_fx_t *fx, const char *prefix);

/* Drops the database and deletes the topics. */
void tk_ingest_fx_teardown (tk_ingest_fx_t *fx);

/* Starts triage-ingest with the fixture's settings, each replaced by an
 * entry of extra (NULL-terminated "KEY=VALUE" list, may be NULL) with the
 * same key; waits for /readyz when wait_ready. Fails the test otherwise. */
void tk_ingest_fx_start (tk_ingest_fx_t *fx, tk_test_service_t *svc, const char *const *extra,
                         bool wait_ready);

/* Stops it with SIGTERM and asserts a clean exit. */
void tk_ingest_fx_stop (tk_test_service_t *svc);

/* Tickets in the collection. */
int64_t tk_ingest_fx_count (tk_ingest_fx_t *fx);

/* Polls until the collection holds at least want (or 60 s pass). */
int64_t tk_ingest_fx_wait_count (tk_ingest_fx_t *fx, int64_t want);

/* Runs build/bin/triagectl with argv (NULL-terminated, argv[0] is the
 * subcommand) and extra environment (may be NULL); returns its exit status
 * and its stdout (malloc'd, caller frees) in *out. */
int tk_ingest_fx_triagectl (const char *const *argv, const char *const *env, char **out);

/* Starts triagectl without waiting; returns its pid. Output goes to out_path. */
int tk_ingest_fx_triagectl_spawn (const char *const *argv, const char *const *env,
                                  const char *out_path);

/* Waits for a child started with tk_ingest_fx_triagectl_spawn (up to
 * timeout_ms, then SIGKILL) and returns its exit status (-1 on timeout). */
int tk_ingest_fx_wait_child (int pid, int timeout_ms);

/* The value of one series on svc's /metrics, -1 if absent. */
double tk_ingest_fx_metric (const tk_test_service_t *svc, const char *series);

/* Polls svc's /metrics until series reaches want (60 s at most); returns
 * the last value read (-1 if the series never appeared). */
double tk_ingest_fx_wait_metric (const tk_test_service_t *svc, const char *series, double want);

/* Writes text to a new temporary file; returns its path in buf. */
const char *tk_ingest_fx_write_temp (const char *suffix, const char *text, size_t len, char *buf,
                                     size_t cap);

#endif
