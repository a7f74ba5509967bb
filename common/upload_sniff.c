/* upload_sniff.c - telling a binary file from the text formats an upload
 * takes (tk_upload_sniff_binary, upload_parse.h), by its first bytes.
 *
 * A PNG sent as application/json used to be answered with a JSON parse
 * error about line 1; the person who picked the wrong file learns more from
 * "this is a PNG image". The signatures are those of the files people pick
 * by mistake beside a CSV (images, PDFs, office documents, archives); any
 * other binary file is caught by the NUL bytes in its first 8 KB, which no
 * CSV, JSON or NDJSON in UTF-8 holds but for a stray one in a bad row (a
 * UTF-16 text, as some spreadsheets save, is full of them: named as such
 * when it starts with a byte order mark).
 */
#include "upload_parse.h"

#include <string.h>

/* NUL bytes are counted in this much of the start; binary when they are
 * at least one byte in SNIFF_NUL_SHARE. */
#define SNIFF_WINDOW 8192
#define SNIFF_NUL_SHARE 16

static const struct {
   const char *magic;
   size_t len;
   const char *what;
} signatures[] = {
   {"\x89PNG\r\n\x1a\n", 8, "a PNG image"},
   {"\xff\xd8\xff", 3, "a JPEG image"},
   {"GIF87a", 6, "a GIF image"},
   {"GIF89a", 6, "a GIF image"},
   {"%PDF-", 5, "a PDF document"},
   {"PK\x03\x04", 4, "a ZIP archive (an .xlsx or .docx file is one)"},
   {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "an old Office document (.xls, .doc)"},
   {"\x1f\x8b", 2, "a gzip archive"},
   {"7z\xbc\xaf\x27\x1c", 6, "a 7-Zip archive"},
   {"\177ELF", 4, "a program (ELF)"},
   {"\xff\xfe", 2, "UTF-16 text (save it as UTF-8)"},
   {"\xfe\xff", 2, "UTF-16 text (save it as UTF-8)"},
};

bool
tk_upload_sniff_binary (const char *body, size_t len, const char **what)
{
   for (size_t i = 0; i < sizeof signatures / sizeof signatures[0]; i++) {
      if (len >= signatures[i].len &&
          memcmp (body, signatures[i].magic, signatures[i].len) == 0) {
         *what = signatures[i].what;
         return true;
      }
   }
   /* A stray NUL in a text row is that row's fault (refused on its own,
    * the others stored); binary data and UTF-16 text are full of them. */
   size_t window = len < SNIFF_WINDOW ? len : SNIFF_WINDOW, nuls = 0;
   for (const char *p = body; (p = memchr (p, '\0', window - (size_t) (p - body))); p++) {
      nuls++;
   }
   if (window > 0 && nuls * SNIFF_NUL_SHARE >= window) {
      *what = "binary data (NUL bytes throughout)";
      return true;
   }
   return false;
}
