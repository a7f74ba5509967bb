/* pg_sessions.c - see pg_sessions.h. */
#include "pg_sessions.h"

#include "test_support.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
tk_test_pg_url (void)
{
   const char *u = getenv ("TRIAGE_TEST_PG_URL");
   return u && *u ? u : "postgresql://triage@127.0.0.1:5433/ferretdb";
}

char *
tk_test_pg_list_sql_env (const char *app_name, char *buf, size_t cap)
{
   const char *url = tk_test_pg_url ();
   if (app_name) {
      snprintf (buf, cap, "TRIAGE_LIST_SQL_URL=%s%capplication_name=%s", url,
                strchr (url, '?') ? '&' : '?', app_name);
   } else {
      snprintf (buf, cap, "TRIAGE_LIST_SQL_URL=%s", url);
   }
   return buf;
}

/* How many idle sessions app_name has, -1 when PostgreSQL refuses. */
static int
idle_sessions (PGconn *c, const char *app_name, bool end)
{
   const char *values[1] = {app_name};
   PGresult *r = PQexecParams (c,
                               end ? "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                     " WHERE application_name = $1 AND state = 'idle'"
                                   : "SELECT count(*) FROM pg_stat_activity"
                                     " WHERE application_name = $1 AND state = 'idle'",
                               1, NULL, values, NULL, NULL, 0);
   int n = PQresultStatus (r) == PGRES_TUPLES_OK ? atoi (PQgetvalue (r, 0, 0)) : -1;
   PQclear (r);
   return n;
}

int
tk_test_pg_close_idle (const char *app_name)
{
   PGconn *c = PQconnectdb (tk_test_pg_url ());
   if (PQstatus (c) != CONNECTION_OK) {
      fail_msg ("PostgreSQL: %s", PQerrorMessage (c));
   }
   int n = idle_sessions (c, app_name, true);
   assert_true (n >= 0);
   for (int i = 0; i < 100 && idle_sessions (c, app_name, false) != 0; i++) {
      usleep (50 * 1000);
   }
   PQfinish (c);
   return n;
}
