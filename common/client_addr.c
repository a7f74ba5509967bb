/* client_addr.c - trusted proxies and the client address of a request (see
 * client_addr.h). */
#include "client_addr.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Parses len bytes of address text (IPv6 may be in brackets) into family and
 * a 16-byte buffer; an IPv4-mapped IPv6 address becomes IPv4. */
static bool
parse_ip (const char *s, size_t len, int *family, unsigned char addr[16])
{
   char text[64];
   if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
      s++;
      len -= 2;
   }
   if (len == 0 || len >= sizeof text) {
      return false;
   }
   memcpy (text, s, len);
   text[len] = '\0';
   memset (addr, 0, 16);
   if (inet_pton (AF_INET, text, addr) == 1) {
      *family = AF_INET;
      return true;
   }
   if (inet_pton (AF_INET6, text, addr) != 1) {
      return false;
   }
   static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
   if (memcmp (addr, mapped, sizeof mapped) == 0) {
      memmove (addr, addr + 12, 4);
      memset (addr + 4, 0, 12);
      *family = AF_INET;
      return true;
   }
   *family = AF_INET6;
   return true;
}

bool
tk_client_addr_normalize (const char *ip, size_t len, char out[TK_CLIENT_ADDR_MAX])
{
   int family;
   unsigned char addr[16];
   out[0] = '\0';
   if (!ip || !parse_ip (ip, len, &family, addr) ||
       !inet_ntop (family, addr, out, TK_CLIENT_ADDR_MAX)) {
      out[0] = '\0';
      return false;
   }
   return true;
}

void
tk_cidr_list_cleanup (tk_cidr_list_t *list)
{
   if (!list) {
      return;
   }
   free (list->items);
   list->items = NULL;
   list->n = 0;
}

static bool
is_separator (char c)
{
   return c == ',' || c == ' ' || c == '\t';
}

/* Reads the prefix length of an address/prefix block: dl (1 to 3) digits at
 * d, at most max_bits; a mapped_v6 block counts it over the IPv6 bits, so it
 * must be at least 96. false for anything else. */
static bool
cidr_prefix_parse (const char *d, size_t dl, bool mapped_v6, unsigned max_bits, unsigned *prefix)
{
   unsigned v = 0;
   bool ok = dl > 0 && dl <= 3;
   for (size_t i = 0; ok && i < dl; i++) {
      ok = d[i] >= '0' && d[i] <= '9';
      v = v * 10u + (unsigned) (d[i] - '0');
   }
   if (ok && mapped_v6) {
      ok = v >= 96;
      v -= 96;
   }
   ok = ok && v <= max_bits;
   *prefix = v;
   return ok;
}

/* Parses one item of the list, len bytes at start: an IP address or an
 * address/prefix (CIDR) block, into c. false when it is neither. */
static bool
cidr_parse (const char *start, size_t len, tk_cidr_t *c)
{
   const char *slash = memchr (start, '/', len);
   size_t ip_len = slash ? (size_t) (slash - start) : len;
   bool ok = parse_ip (start, ip_len, &c->family, c->addr);
   unsigned max_bits = c->family == AF_INET ? 32u : 128u;
   c->prefix = max_bits;
   if (ok && slash) {
      /* An IPv4-mapped block ("::ffff:10.0.0.0/104") counts its prefix
       * over the IPv6 bits. */
      bool mapped_v6 = c->family == AF_INET && memchr (start, ':', ip_len);
      ok = cidr_prefix_parse (slash + 1, len - ip_len - 1, mapped_v6, max_bits, &c->prefix);
   }
   return ok;
}

bool
tk_cidr_list_parse (const char *text, tk_cidr_list_t *out, tk_error_t *err)
{
   size_t cap = 0;
   memset (out, 0, sizeof *out);
   if (!text) {
      return true;
   }
   for (const char *p = text; *p; p++) {
      cap += is_separator (*p);
   }
   cap++;
   if (!(out->items = calloc (cap, sizeof *out->items))) {
      tk_error_set (err, TK_ERR_NOMEM, 0, "out of memory reading the trusted proxies");
      return false;
   }
   const char *p = text;
   while (*p) {
      while (*p && is_separator (*p)) {
         p++;
      }
      const char *start = p;
      while (*p && !is_separator (*p)) {
         p++;
      }
      size_t len = (size_t) (p - start);
      if (len == 0) {
         continue;
      }
      if (!cidr_parse (start, len, &out->items[out->n])) {
         tk_error_set (err, TK_ERR_CONFIG, 0,
                       "\"%.*s\" is not an IP address or an address/prefix (CIDR) block",
                       (int) (len > 80 ? 80 : len), start);
         tk_cidr_list_cleanup (out);
         return false;
      }
      out->n++;
   }
   return true;
}

static bool
cidr_matches (const tk_cidr_t *c, int family, const unsigned char addr[16])
{
   if (c->family != family) {
      return false;
   }
   unsigned full = c->prefix / 8u, rest = c->prefix % 8u;
   if (memcmp (c->addr, addr, full) != 0) {
      return false;
   }
   if (rest == 0) {
      return true;
   }
   unsigned char mask = (unsigned char) (0xffu << (8u - rest));
   return (c->addr[full] & mask) == (addr[full] & mask);
}

static bool
list_contains (const tk_cidr_list_t *list, const char *ip, size_t len)
{
   int family;
   unsigned char addr[16];
   if (!list || list->n == 0 || !parse_ip (ip, len, &family, addr)) {
      return false;
   }
   for (size_t i = 0; i < list->n; i++) {
      if (cidr_matches (&list->items[i], family, addr)) {
         return true;
      }
   }
   return false;
}

bool
tk_cidr_list_contains (const tk_cidr_list_t *list, const char *ip)
{
   return ip && list_contains (list, ip, strlen (ip));
}

void
tk_client_addr_resolve (const tk_cidr_list_t *trusted, const char *peer, const char *xff,
                        char out[TK_CLIENT_ADDR_MAX])
{
   if (!tk_client_addr_normalize (peer, strlen (peer), out)) {
      snprintf (out, TK_CLIENT_ADDR_MAX, "%s", peer); /* kept as given: "?" */
      return;
   }
   if (!xff || !list_contains (trusted, out, strlen (out))) {
      return;
   }
   /* From the right: each entry was appended by the hop that received the
    * request from it; out holds the nearest hop believed so far. */
   const char *end = xff + strlen (xff);
   while (end > xff) {
      const char *start = end;
      while (start > xff && start[-1] != ',') {
         start--;
      }
      const char *s = start, *e = end;
      while (s < e && (*s == ' ' || *s == '\t')) {
         s++;
      }
      while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
         e--;
      }
      end = start > xff ? start - 1 : xff;
      if (s == e) {
         continue; /* "a, , b": an empty element, as RFC 9110 lists allow */
      }
      char addr[TK_CLIENT_ADDR_MAX];
      if (!tk_client_addr_normalize (s, (size_t) (e - s), addr)) {
         return; /* out: the trusted hop that passed the malformed entry on */
      }
      memcpy (out, addr, sizeof addr);
      if (!list_contains (trusted, addr, strlen (addr))) {
         return;
      }
   }
}
