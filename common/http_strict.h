/* http_strict.h - RFC 9112 message syntax, checked before http-parser sees
 * a byte.
 *
 * Debian's http-parser 2.9.4 is built without HTTP_PARSER_STRICT, and even
 * its strict mode accepts a space before a header's colon, obsolete line
 * folding, bare LF line ends, HTTP/0.9 request lines, and (non-strict) chunk
 * data not followed by CRLF. Two parsers that frame one byte stream
 * differently are how requests are smuggled past a proxy, so http_server.c
 * lets nothing reach http-parser that these scanners have not accepted:
 *
 * - tk_http_head_scan checks a request head line by line as it arrives
 *   (request line, header lines, the empty line) and reports where it ends,
 *   its method token and its body framing;
 * - tk_http_chunk_scan checks a chunked body's framing (size lines, the CRLF
 *   after each chunk's data, trailer lines) and reports where it ends.
 *
 * The server then feeds http-parser exactly the accepted bytes: the head,
 * then the body up to its end. docs/decisions/0010-strict-http-parsing.md
 * says why and how. Pure state machines: no I/O, no allocation.
 */
#ifndef TK_HTTP_STRICT_H
#define TK_HTTP_STRICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
   TK_HTTP_SCAN_MORE = 0, /* valid so far; the head (or body) has not ended */
   TK_HTTP_SCAN_DONE,     /* it ended: see head_len / the returned count */
   TK_HTTP_SCAN_ERROR,    /* refused: status and reason say why */
} tk_http_scan_result_t;

/* --- request heads ------------------------------------------------------ */

typedef struct {
   /* Progress (private). */
   size_t pos;        /* where the next unchecked line starts */
   size_t seen;       /* bytes after pos already searched for the line end */
   unsigned lines;    /* lines checked, the request line included */
   unsigned host_count;
   bool te_seen;

   /* Results, valid once DONE (method and version once the request line
    * is checked: lines > 0). */
   size_t head_len;      /* bytes of the head, its final CRLF included */
   size_t method_off;    /* the method token: head[method_off, +method_len) */
   size_t method_len;
   int http_minor;       /* HTTP/1.<minor> */
   bool chunked;         /* Transfer-Encoding: chunked */
   bool has_length;      /* a Content-Length header */
   uint64_t content_length;

   /* When ERROR: 400 (malformed), 501 (a transfer coding other than
    * chunked) or 505 (an HTTP version other than 1.x), and a static phrase
    * saying what is wrong. */
   int status;
   const char *reason;
} tk_http_head_scan_t;

/* Prepares s for a new head. */
void tk_http_head_scan_init (tk_http_head_scan_t *s);

/* Checks the head at the start of buf (len bytes so far; call again with the
 * same buffer grown by what arrived since; bytes already checked are not
 * looked at again). Empty lines (CRLF) before the request line are skipped,
 * as RFC 9112 2.2 allows. Refused: a bare CR or LF, a control character or
 * NUL, a request line that is not `token SP target SP HTTP/d.d` (HTTP/0.9's
 * `GET /` included), a target outside visible ASCII, a header line that
 * starts with whitespace (obsolete folding) or whose name is not a token
 * followed at once by ':' ("Content-Length : 5"), a Content-Length that is
 * not digits or is repeated, a Transfer-Encoding other than one "chunked"
 * (501), Transfer-Encoding in HTTP/1.0 or together with Content-Length,
 * more than one Host. */
tk_http_scan_result_t tk_http_head_scan (tk_http_head_scan_t *s, const char *buf, size_t len);

/* True when name (len bytes) is a token (RFC 9110 5.6.2): the syntax of a
 * method and of a header field name. */
bool tk_http_is_token (const char *name, size_t len);

/* The value of one hex digit (0-9, a-f, A-F), or -1. */
int tk_http_hex_digit (unsigned char c);

/* --- chunked bodies ------------------------------------------------------- */

typedef struct {
   int state;           /* private */
   uint64_t remaining;  /* data bytes left in the current chunk (private) */
   unsigned digits;     /* (private) */
   size_t line_len;     /* (private) */
   size_t trailer_bytes;/* (private) */
   uint64_t total;      /* data bytes seen so far: the decoded body length */
   const char *reason;  /* when ERROR */
} tk_http_chunk_scan_t;

/* Prepares s for a chunked body starting at the next byte. */
void tk_http_chunk_scan_init (tk_http_chunk_scan_t *s);

/* Checks the next len bytes of a chunked body. Returns MORE (all len bytes
 * belong to the body, which goes on), DONE (*used bytes of buf end the body;
 * the rest belongs to the next request) or ERROR (reason set; the status is
 * 400). *used is set in every case to the bytes accepted. */
tk_http_scan_result_t tk_http_chunk_scan (tk_http_chunk_scan_t *s, const char *buf, size_t len,
                                          size_t *used);

#endif
