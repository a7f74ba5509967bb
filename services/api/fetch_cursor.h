/* fetch_cursor.h - where each API key's "since last fetch" stands: one
 * record per key in the `fetch_cursors` collection (fetch_cursor.c is the
 * only file that touches it), read and written by POST /api/fetch
 * (routes_fetch.c) on a threadpool thread.
 *
 * A record is {_id: key_id, key_id, stored_at, at, seq, seen}:
 *   stored_at  the newest stored_at of the tickets handed out to the key
 *              (absent until one was);
 *   at         when the key last fetched;
 *   seq        its version, raised by every write: a write applies only
 *              over the version it read, so two fetches of one key at once
 *              cannot move the cursor back or both hand out the same
 *              tickets unnoticed (the loser reads again);
 *   seen       [{i: id, s: stored_at}]: the tickets handed out whose
 *              stored_at lies within the settle window before stored_at.
 *
 * Why `seen`: stored_at is the writer's clock when its insert began, and a
 * ticket becomes visible when the insert ends; one bulk gives all its
 * tickets the same stored_at, and two writers may interleave. A cursor of
 * one instant would lose a ticket stored at the same millisecond as the
 * newest handed out (or a little before it) that became visible just
 * after the fetch. So the next fetch asks again from stored_at minus the
 * window and leaves out the ids it has seen.
 */
#ifndef API_FETCH_CURSOR_H
#define API_FETCH_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mongoc/mongoc.h>

typedef struct {
   char *id; /* owned */
   int64_t stored_at;
} api_fetch_seen_t;

/* A key's cursor as read (and then advanced) by one fetch. Zero it before
 * the first use; api_fetch_cursor_cleanup frees what it holds. */
typedef struct {
   bool exists;    /* a record is stored for the key */
   int64_t seq;    /* the version read */
   bool has_stored_at;
   int64_t stored_at; /* ms */
   api_fetch_seen_t *seen;
   size_t n_seen, n_read, cap_seen; /* the first n_read came with the record, sorted by id */
} api_fetch_cursor_t;

/* Frees what c holds and zeroes it. Accepts NULL. */
void api_fetch_cursor_cleanup (api_fetch_cursor_t *c);

/* Reads key_id's record into c (zeroed first; exists false when there is
 * none). false with e when the database fails. */
bool api_fetch_cursor_read (mongoc_client_t *client, const char *db, const char *key_id,
                            api_fetch_cursor_t *c, bson_error_t *e);

/* Whether the record listed id as handed out. */
bool api_fetch_cursor_seen (const api_fetch_cursor_t *c, const char *id);

/* Notes a ticket handed out (id copied): the cursor moves to its stored_at
 * when that is newer. false when out of memory. */
bool api_fetch_cursor_add (api_fetch_cursor_t *c, const char *id, int64_t stored_at);

typedef enum {
   API_FETCH_CURSOR_WRITTEN,
   API_FETCH_CURSOR_CONFLICT, /* another fetch wrote since c was read */
   API_FETCH_CURSOR_FAILED,   /* e says why */
} api_fetch_cursor_write_t;

/* Writes c for key_id with at = now, keeping in seen only the tickets
 * stored within window_ms before the cursor (the newest max of them). */
api_fetch_cursor_write_t api_fetch_cursor_write (mongoc_client_t *client, const char *db,
                                                 const char *key_id, api_fetch_cursor_t *c,
                                                 int64_t now, int64_t window_ms, size_t max,
                                                 bson_error_t *e);

#endif
