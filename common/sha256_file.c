/* sha256_file.c - SHA-256 digests as hex, with OpenSSL's EVP interface. */
#include "sha256_file.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
to_hex (const unsigned char *d, char hex[TK_SHA256_HEX])
{
   static const char digits[] = "0123456789abcdef";
   for (int i = 0; i < 32; i++) {
      hex[2 * i] = digits[d[i] >> 4];
      hex[2 * i + 1] = digits[d[i] & 15];
   }
   hex[64] = '\0';
}

void
tk_sha256_hex (const void *data, size_t len, char hex[TK_SHA256_HEX])
{
   unsigned char d[32];
   unsigned int n = 0;
   EVP_Digest (data, len, d, &n, EVP_sha256 (), NULL);
   to_hex (d, hex);
}

bool
tk_sha256_file (const char *path, char hex[TK_SHA256_HEX], tk_error_t *err)
{
   bool ok = false;
   FILE *f = fopen (path, "rb");
   EVP_MD_CTX *md = EVP_MD_CTX_new ();
   unsigned char *buf = malloc (1 << 20), d[32];
   unsigned int n = 0;
   if (!f) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot open %s: %s", path, strerror (errno));
      goto done;
   }
   if (!md || !buf || !EVP_DigestInit_ex (md, EVP_sha256 (), NULL)) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory hashing %s", path);
      goto done;
   }
   size_t got;
   while ((got = fread (buf, 1, 1 << 20, f)) > 0) {
      EVP_DigestUpdate (md, buf, got);
   }
   if (ferror (f) || !EVP_DigestFinal_ex (md, d, &n)) {
      tk_error_set_field (err, TK_ERR_IO, errno, "path", "cannot read %s", path);
      goto done;
   }
   to_hex (d, hex);
   ok = true;
done:
   if (f) {
      fclose (f);
   }
   EVP_MD_CTX_free (md);
   free (buf);
   return ok;
}
