/* main.c - triage-api: entry point. */
#include "app.h"
#include "log.h"

#include <stdio.h>

int
main (int argc, char **argv)
{
   tk_app_t app;
   tk_error_t err;
   switch (tk_app_init (&app, TK_SVC_API, argc, argv, &err)) {
   case TK_APP_EXIT: return 0;
   case TK_APP_ERROR:
      fprintf (stderr, "triage-api: %s\n", err.message);
      return 2;
   case TK_APP_OK: break;
   }
   return tk_app_run (&app);
}
