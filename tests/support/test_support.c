/* test_support.c - helpers shared by triage's cmocka tests. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char *
tk_test_unique_name (const char *prefix, char *buf, size_t cap)
{
   uint32_t r = 0;
   if (getrandom (&r, sizeof r, 0) != (ssize_t) sizeof r) {
      r = (uint32_t) time (NULL);
   }
   snprintf (buf, cap, "%s_%ld_%08x", prefix, (long) getpid (), r);
   return buf;
}

const char *
tk_test_mongo_uri (void)
{
   const char *v = getenv ("TRIAGE_TEST_MONGO_URI");
   return v && *v ? v : "mongodb://127.0.0.1:27017";
}

const char *
tk_test_kafka_brokers (void)
{
   const char *v = getenv ("TRIAGE_TEST_KAFKA_BROKERS");
   return v && *v ? v : "127.0.0.1:9092";
}

uint64_t
tk_test_now_ms (void)
{
   struct timespec ts;
   clock_gettime (CLOCK_MONOTONIC, &ts);
   return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

static void
run_until_timer_cb (uv_timer_t *t)
{
   (void) t; /* only wakes the loop so the flag is checked */
}

bool
tk_test_run_until (uv_loop_t *loop, const bool *done, uint64_t timeout_ms)
{
   uv_timer_t tick;
   uv_timer_init (loop, &tick);
   uv_timer_start (&tick, run_until_timer_cb, 10, 10);
   uint64_t deadline = tk_test_now_ms () + timeout_ms;
   while (!*done && tk_test_now_ms () < deadline) {
      uv_run (loop, UV_RUN_ONCE);
   }
   uv_close ((uv_handle_t *) &tick, NULL);
   uv_run (loop, UV_RUN_NOWAIT);
   return *done;
}

static void
close_walk_cb (uv_handle_t *h, void *arg)
{
   (void) arg;
   if (!uv_is_closing (h)) {
      fprintf (stderr, "test: handle of type %s left open; closing it\n",
               uv_handle_type_name (uv_handle_get_type (h)));
      uv_close (h, NULL);
   }
}

void
tk_test_loop_close (uv_loop_t *loop)
{
   uv_run (loop, UV_RUN_NOWAIT);
   int open_handles = 0;
   uv_walk (loop, close_walk_cb, &open_handles);
   uv_run (loop, UV_RUN_DEFAULT);
   assert_int_equal (uv_loop_close (loop), 0);
}

long
tk_test_rss_kb (pid_t pid)
{
   char path[64], line[256];
   snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
   FILE *f = fopen (path, "r");
   assert_non_null (f);
   long kb = -1;
   while (fgets (line, sizeof line, f)) {
      if (sscanf (line, "VmRSS: %ld kB", &kb) == 1) {
         break;
      }
   }
   fclose (f);
   return kb;
}

char *
tk_test_read_file (const char *path, size_t *len)
{
   FILE *f = fopen (path, "rb");
   assert_non_null (f);
   fseek (f, 0, SEEK_END);
   long n = ftell (f);
   fseek (f, 0, SEEK_SET);
   char *buf = malloc ((size_t) n + 1);
   assert_non_null (buf);
   assert_int_equal (fread (buf, 1, (size_t) n, f), (size_t) n);
   buf[n] = '\0';
   fclose (f);
   *len = (size_t) n;
   return buf;
}


int
tk_test_shell (const char *cmd, char *out, size_t cap)
{
   FILE *p = popen (cmd, "r");
   assert_non_null (p);
   size_t n = fread (out, 1, cap - 1, p);
   out[n] = '\0';
   int st = pclose (p);
   return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}
