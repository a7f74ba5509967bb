/* replay_main.c - a main() for the fuzz targets in builds without
 * libFuzzer: feeds every file named on the command line (or found in a
 * directory named there) to LLVMFuzzerTestOneInput once. This is how the
 * normal and ASan builds replay tests/regress/<target>/ (inputs that once
 * crashed) and the seed corpus as ordinary tests. Exits 1 if a path cannot
 * be read; a broken invariant aborts, as under libFuzzer.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"

static int
replay_file (const char *path, size_t *count)
{
   FILE *f = fopen (path, "rb");
   if (!f) {
      fprintf (stderr, "replay: cannot open %s: %s\n", path, strerror (errno));
      return 1;
   }
   size_t cap = 4096, len = 0;
   uint8_t *data = malloc (cap);
   size_t n;
   while (data && (n = fread (data + len, 1, cap - len, f)) > 0) {
      len += n;
      if (len == cap) {
         uint8_t *bigger = realloc (data, cap * 2);
         if (!bigger) {
            free (data);
            data = NULL;
            break;
         }
         data = bigger;
         cap *= 2;
      }
   }
   fclose (f);
   if (!data) {
      fprintf (stderr, "replay: out of memory reading %s\n", path);
      return 1;
   }
   /* An exact-size copy, so an over-read past the input is caught. */
   uint8_t *exact = malloc (len ? len : 1);
   if (!exact) {
      free (data);
      return 1;
   }
   memcpy (exact, data, len);
   free (data);
   LLVMFuzzerTestOneInput (exact, len);
   free (exact);
   (*count)++;
   return 0;
}

static int
replay_path (const char *path, size_t *count)
{
   struct stat st;
   if (stat (path, &st) != 0) {
      fprintf (stderr, "replay: %s: %s\n", path, strerror (errno));
      return 1;
   }
   if (!S_ISDIR (st.st_mode)) {
      return replay_file (path, count);
   }
   DIR *d = opendir (path);
   if (!d) {
      fprintf (stderr, "replay: cannot list %s: %s\n", path, strerror (errno));
      return 1;
   }
   int rc = 0;
   struct dirent *e;
   while ((e = readdir (d)) != NULL) {
      if (e->d_name[0] == '.') {
         continue; /* ., .. and hidden files such as .gitkeep */
      }
      size_t need = strlen (path) + strlen (e->d_name) + 2;
      char *child = malloc (need);
      if (!child) {
         rc = 1;
         break;
      }
      snprintf (child, need, "%s/%s", path, e->d_name);
      rc |= replay_path (child, count);
      free (child);
   }
   closedir (d);
   return rc;
}

int
main (int argc, char **argv)
{
   int rc = 0;
   size_t count = 0;
   for (int i = 1; i < argc; i++) {
      rc |= replay_path (argv[i], &count);
   }
   printf ("replay: %zu inputs ran without a crash or broken invariant\n", count);
   return rc;
}
