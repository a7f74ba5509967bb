/* pg_sessions.h - the local stack's PostgreSQL as a test sees it: the
 * server's URL, and the sessions a service opened there. */
#ifndef TK_TEST_PG_SESSIONS_H
#define TK_TEST_PG_SESSIONS_H

#include <stddef.h>

/* TRIAGE_TEST_PG_URL, or the local stack's PostgreSQL. */
const char *tk_test_pg_url (void);

/* Writes "TRIAGE_LIST_SQL_URL=<tk_test_pg_url>" into buf, with
 * application_name=app_name in the URL when app_name is not NULL (the
 * service's sessions can then be found in pg_stat_activity). Returns buf. */
char *tk_test_pg_list_sql_env (const char *app_name, char *buf, size_t cap);

/* Ends the idle sessions named app_name (a service's, named by
 * application_name in its URL), as a restart of the server or an idle
 * timeout would, and waits until they are gone; returns how many there
 * were. Fails the test when PostgreSQL cannot be reached. */
int tk_test_pg_close_idle (const char *app_name);

#endif
