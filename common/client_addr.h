/* client_addr.h - who an HTTP request comes from: the peer's address, or,
 * only when the peer is a proxy the operator trusts (TRIAGE_TRUSTED_PROXIES),
 * the address that proxy reports in X-Forwarded-For.
 *
 * Every per-client decision of the services (the connection cap, the limit
 * on failed authentications, the audit record) uses the one address
 * tk_client_addr_resolve returns, so a client cannot pick its own identity:
 * an X-Forwarded-For header from an untrusted peer is ignored, and from a
 * trusted one only the right-most address that is not itself a trusted
 * proxy counts (entries further left were written by the client).
 *
 * Addresses are text in canonical form (inet_ntop), without a port; an
 * IPv4-mapped IPv6 address ("::ffff:192.0.2.1") is written as IPv4. Pure:
 * no I/O, any thread.
 */
#ifndef TK_CLIENT_ADDR_H
#define TK_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Room for any canonical address text and its NUL. */
#define TK_CLIENT_ADDR_MAX 46

typedef struct {
   int family;              /* AF_INET or AF_INET6 */
   unsigned char addr[16];  /* network order; 4 bytes used for AF_INET */
   unsigned prefix;         /* bits that must match */
} tk_cidr_t;

/* A list of trusted addresses and blocks; empty trusts no one. */
typedef struct {
   tk_cidr_t *items;
   size_t n;
} tk_cidr_list_t;

/* Parses "10.0.0.0/8, 192.0.2.7, fd00::/8" (commas and/or spaces between
 * entries; an address without a prefix is a single host) into out, which the
 * caller releases with tk_cidr_list_cleanup. An empty or blank text gives an
 * empty list. false with err (TK_ERR_CONFIG, naming the bad entry) for
 * anything that is not an address or a prefix too long for its family; out
 * is then empty. */
bool tk_cidr_list_parse (const char *text, tk_cidr_list_t *out, tk_error_t *err);

/* Frees what the list holds and empties it. Accepts NULL. */
void tk_cidr_list_cleanup (tk_cidr_list_t *list);

/* True when the address text ip (IPv4 or IPv6, optionally in brackets) lies
 * in one of the list's blocks. false for an empty list or text that is not
 * an address. */
bool tk_cidr_list_contains (const tk_cidr_list_t *list, const char *ip);

/* Writes the canonical text of the address ip (IPv4, IPv6, or IPv6 in
 * brackets) into out (TK_CLIENT_ADDR_MAX bytes). false, out set to "", when
 * ip is not an address. */
bool tk_client_addr_normalize (const char *ip, size_t len, char out[TK_CLIENT_ADDR_MAX]);

/* The client a request speaks for, into out (TK_CLIENT_ADDR_MAX bytes):
 * peer (the TCP peer's canonical address) unless peer is in trusted; then,
 * walking xff (the X-Forwarded-For values in order, joined by commas; NULL
 * or "" when there are none) from the right, the first address that is not
 * in trusted. When every address there is trusted, the left-most one; when
 * an entry is not an address, the trusted hop to its right (nothing beyond
 * a malformed entry can be believed). */
void tk_client_addr_resolve (const tk_cidr_list_t *trusted, const char *peer, const char *xff,
                             char out[TK_CLIENT_ADDR_MAX]);

#endif
