/* kafka_offsets.h - the in-flight offset tracker of a Kafka consumer.
 *
 * A consumer that works on several messages at once may commit a
 * partition's offset only past messages whose work is finished, in offset
 * order: committing past unfinished work would lose it on a crash. The
 * tracker keeps, per partition, the messages read and not yet committed
 * past, in offset order; when one finishes it pops the finished ones at the
 * head and says the offset after them is to be committed; on a revoke it
 * hands every message back to its owner and forgets the partition (the next
 * owner re-reads what was not committed); it knows the last offset
 * committed, hence the lag against a high watermark.
 *
 * Pure state: no I/O, no clock, no broker. The owner does the commits (and,
 * when it gathers them, runs the timer) and owns the entries' memory: an
 * entry is a tk_offset_entry_t embedded in the owner's record (intrusive, so
 * tracking needs no allocation per message). Loop thread only, like the
 * consumer callbacks that drive it.
 *
 * Used by ingest's inbound intake (kafka_intake.c, commits gathered over a
 * few ms) and the classifier's worker (worker.c, a commit at every advance).
 */
#ifndef TK_KAFKA_OFFSETS_H
#define TK_KAFKA_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tk_offsets_part tk_offsets_part_t;

/* One message in flight; embedded in the owner's record. */
typedef struct tk_offset_entry {
   tk_offsets_part_t *part; /* NULL once popped or its partition revoked */
   struct tk_offset_entry *next;
   int64_t offset;
   bool done; /* its work is finished (tk_offsets_done) */
} tk_offset_entry_t;

struct tk_offsets_part {
   char *topic; /* owned */
   int32_t partition;
   tk_offset_entry_t *head, *tail; /* in offset order */
   size_t n;           /* entries tracked */
   int64_t commit_to;  /* the next offset to commit, -1 if nothing new */
   int64_t committed;  /* the last offset committed (or first read), -1 if unknown */
   void *user;         /* the owner's, e.g. its lag gauge; never touched */
   tk_offsets_part_t *next;
};

/* Hands an entry back to its owner: popped after it was done (its offset is
 * now covered by a commit), done after its partition was revoked, or any
 * entry of a revoked partition (then e->done says whether its work had
 * finished). e->part is NULL when it is called; the owner may free e. */
typedef void (*tk_offsets_release_fn) (tk_offset_entry_t *e, void *opaque);

/* When commits go out. */
typedef enum {
   TK_OFFSETS_COMMIT_EACH,     /* at every advance */
   TK_OFFSETS_COMMIT_GATHERED, /* after gather_ms, one per partition for what advanced meanwhile */
} tk_offsets_policy_t;

typedef struct {
   tk_offsets_part_t *parts;
   tk_offsets_policy_t policy;
   uint64_t gather_ms; /* TK_OFFSETS_COMMIT_GATHERED: how long the owner's timer waits */
   tk_offsets_release_fn release;
   void *opaque;
} tk_offsets_t;

/* What tk_offsets_done asks of the owner. */
typedef enum {
   TK_OFFSETS_NOTHING,      /* no new offset to commit */
   TK_OFFSETS_COMMIT_NOW,   /* commit the entry's partition now (tk_offsets_take_commit) */
   TK_OFFSETS_COMMIT_LATER, /* start the gathering timer (gather_ms) if it is not running */
} tk_offsets_action_t;

/* An empty tracker; release (required) gets back every entry the tracker
 * is done with. */
void tk_offsets_init (tk_offsets_t *t, tk_offsets_policy_t policy, uint64_t gather_ms,
                      tk_offsets_release_fn release, void *opaque);

/* The tracked partition, or NULL. */
tk_offsets_part_t *tk_offsets_find (tk_offsets_t *t, const char *topic, int32_t partition);

/* The tracked partition, created (committed -1, user NULL) if new; NULL if
 * out of memory. topic is copied. */
tk_offsets_part_t *tk_offsets_get (tk_offsets_t *t, const char *topic, int32_t partition);

/* Tracks e (not done) at offset, after the entries already in p (Kafka
 * delivers a partition in order). The first offset read into an empty
 * partition whose committed offset is unknown becomes its committed one:
 * the group's position when this member got it. */
void tk_offsets_add (tk_offsets_part_t *p, tk_offset_entry_t *e, int64_t offset);

/* Marks e done. If its partition was revoked (e->part NULL), releases it.
 * Otherwise pops the done entries at the head of the partition, releasing
 * each, and when that moved the partition on, records the offset after them
 * to commit and says when to commit it (the tracker's policy). */
tk_offsets_action_t tk_offsets_done (tk_offsets_t *t, tk_offset_entry_t *e);

/* The offset to commit for p, if one is pending: true with *offset, and
 * the pending one cleared (call tk_offsets_committed once the commit is
 * sent). */
bool tk_offsets_take_commit (tk_offsets_part_t *p, int64_t *offset);

/* Records that a commit of offset was sent for p (the lag counts from it). */
void tk_offsets_committed (tk_offsets_part_t *p, int64_t offset);

/* p's lag against the high watermark high: high - committed, at least 0;
 * -1 if the committed offset is unknown. */
int64_t tk_offsets_lag (const tk_offsets_part_t *p, int64_t high);

/* Forgets p (from t) without committing: every entry still tracked is
 * released (done or not: the owner decides), then p is freed. Returns how
 * many entries were released. */
size_t tk_offsets_revoke (tk_offsets_t *t, tk_offsets_part_t *p);

/* tk_offsets_revoke of every partition (a closed consumer). */
void tk_offsets_revoke_all (tk_offsets_t *t);

/* Frees every partition without handing its entries back (they are not
 * touched): for a teardown after the loop has stopped, when the owner frees
 * its records itself. */
void tk_offsets_forget_all (tk_offsets_t *t);

#endif
