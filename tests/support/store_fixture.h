/* store_fixture.h - a store on a database of its own, for the tests that
 * talk to the MongoDB-protocol server directly. Blocking: tests only. */
#ifndef TK_TEST_STORE_FIXTURE_H
#define TK_TEST_STORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Writes a fresh database name "<prefix>_<pid>_<hex>" into db (cap bytes)
 * and opens a store on it with pool_max clients and the pipeline's indexes
 * created. The caller owns the store (tk_test_store_drop). NULL on failure,
 * after printing why. */
tk_store_t *tk_test_store_open (const char *prefix, char *db, size_t cap, uint32_t pool_max);

/* Drops the store's database and destroys the store; NULL is a no-op.
 * Returns whether the database is gone (true for NULL), printing why not. */
bool tk_test_store_drop (tk_store_t *store);

#endif
