/* kafka_offsets.c - the in-flight offset tracker (kafka_offsets.h). */
#include "kafka_offsets.h"

#include <stdlib.h>
#include <string.h>

void
tk_offsets_init (tk_offsets_t *t, tk_offsets_policy_t policy, uint64_t gather_ms,
                 tk_offsets_release_fn release, void *opaque)
{
   memset (t, 0, sizeof *t);
   t->policy = policy;
   t->gather_ms = gather_ms;
   t->release = release;
   t->opaque = opaque;
}

tk_offsets_part_t *
tk_offsets_find (tk_offsets_t *t, const char *topic, int32_t partition)
{
   for (tk_offsets_part_t *p = t->parts; p; p = p->next) {
      if (p->partition == partition && strcmp (p->topic, topic) == 0) {
         return p;
      }
   }
   return NULL;
}

tk_offsets_part_t *
tk_offsets_get (tk_offsets_t *t, const char *topic, int32_t partition)
{
   tk_offsets_part_t *p = tk_offsets_find (t, topic, partition);
   if (p) {
      return p;
   }
   if (!(p = calloc (1, sizeof *p)) || !(p->topic = strdup (topic))) {
      free (p);
      return NULL;
   }
   p->partition = partition;
   p->commit_to = -1;
   p->committed = -1;
   p->next = t->parts;
   t->parts = p;
   return p;
}

void
tk_offsets_add (tk_offsets_part_t *p, tk_offset_entry_t *e, int64_t offset)
{
   e->part = p;
   e->next = NULL;
   e->offset = offset;
   e->done = false;
   if (p->committed < 0 && !p->head) {
      p->committed = offset;
   }
   if (p->tail) {
      p->tail->next = e;
   } else {
      p->head = e;
   }
   p->tail = e;
   p->n++;
}

tk_offsets_action_t
tk_offsets_done (tk_offsets_t *t, tk_offset_entry_t *e)
{
   tk_offsets_part_t *p = e->part;
   e->done = true;
   if (!p) {
      t->release (e, t->opaque);
      return TK_OFFSETS_NOTHING;
   }
   int64_t last = -1;
   while (p->head && p->head->done) {
      tk_offset_entry_t *h = p->head;
      p->head = h->next;
      p->n--;
      last = h->offset;
      h->next = NULL;
      h->part = NULL;
      t->release (h, t->opaque);
   }
   if (!p->head) {
      p->tail = NULL;
   }
   if (last < 0) {
      return TK_OFFSETS_NOTHING;
   }
   p->commit_to = last + 1;
   return t->policy == TK_OFFSETS_COMMIT_EACH ? TK_OFFSETS_COMMIT_NOW : TK_OFFSETS_COMMIT_LATER;
}

bool
tk_offsets_take_commit (tk_offsets_part_t *p, int64_t *offset)
{
   if (p->commit_to < 0) {
      return false;
   }
   *offset = p->commit_to;
   p->commit_to = -1;
   return true;
}

void
tk_offsets_committed (tk_offsets_part_t *p, int64_t offset)
{
   p->committed = offset;
}

int64_t
tk_offsets_lag (const tk_offsets_part_t *p, int64_t high)
{
   if (p->committed < 0) {
      return -1;
   }
   return high > p->committed ? high - p->committed : 0;
}

size_t
tk_offsets_revoke (tk_offsets_t *t, tk_offsets_part_t *p)
{
   for (tk_offsets_part_t **pp = &t->parts; *pp; pp = &(*pp)->next) {
      if (*pp == p) {
         *pp = p->next;
         break;
      }
   }
   size_t n = 0;
   tk_offset_entry_t *e = p->head;
   p->head = p->tail = NULL;
   while (e) {
      tk_offset_entry_t *next = e->next;
      e->next = NULL;
      e->part = NULL;
      t->release (e, t->opaque);
      e = next;
      n++;
   }
   free (p->topic);
   free (p);
   return n;
}

void
tk_offsets_revoke_all (tk_offsets_t *t)
{
   while (t->parts) {
      tk_offsets_revoke (t, t->parts);
   }
}

void
tk_offsets_forget_all (tk_offsets_t *t)
{
   while (t->parts) {
      tk_offsets_part_t *p = t->parts;
      t->parts = p->next;
      free (p->topic);
      free (p);
   }
}
